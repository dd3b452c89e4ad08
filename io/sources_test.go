package volio

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/io/mrc"
	"github.com/niiv/niiv/volume"
)

// TestOpenMRC opens an MRC file whole and lazily: the same voxels, voxel
// size and name either way, and Inspect reads only the header.
func TestOpenMRC(t *testing.T) {
	s := volume.Shape{Z: 4, Y: 6, X: 10}
	d := make([]int16, s.Len())
	for i := range d {
		d[i] = int16(i*37%2000 - 1000)
	}
	want, err := volume.New(s, d, volume.Voxel{Z: 40, Y: 5, X: 5, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tomo.rec") // not .mrc: recognised by content
	if err := mrc.Write(path, want); err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != MRC || info.Shape != s || info.DType != volume.Int16 {
		t.Errorf("Inspect: %+v", info)
	}
	for _, tc := range []struct {
		lazy Lazy
		want bool // a lazy volume
	}{{LazyAuto, false}, {LazyNever, false}, {LazyAlways, true}} {
		v, err := OpenWith(path, Options{Lazy: tc.lazy})
		if err != nil {
			t.Fatal(err)
		}
		if v.Lazy() != tc.want || v.Name != "tomo.rec" || v.Shape() != s || v.DType() != volume.Int16 {
			t.Errorf("lazy=%v: lazy %v, name %q, %v %v", tc.lazy, v.Lazy(), v.Name, v.Shape(), v.DType())
		}
		if v.Voxel.Z != 40 || v.Voxel.X != 5 || !v.Voxel.Known {
			t.Errorf("lazy=%v: voxel %v", tc.lazy, v.Voxel)
		}
		for _, axis := range []volume.Axis{volume.XY, volume.XZ, volume.YZ} {
			p, err := v.Plane(axis, 2)
			if err != nil {
				t.Fatal(err)
			}
			q, _ := want.Plane(axis, 2)
			a, b := p.Float32(nil), q.Float32(nil)
			for i := range b {
				if a[i] != b[i] {
					t.Fatalf("lazy=%v %v plane: value %d is %v, want %v", tc.lazy, axis, i, a[i], b[i])
				}
			}
		}
	}
}

// TestZarrRoundTrip saves a volume as OME-Zarr and opens it again, whole
// and lazily: the same voxels and voxel size, and lazily a pyramid.
func TestZarrRoundTrip(t *testing.T) {
	s := volume.Shape{Z: 6, Y: 600, X: 300}
	d := make([]uint16, s.Len())
	for i := range d {
		d[i] = uint16(i * 13)
	}
	want, err := volume.New(s, d, volume.Voxel{Z: 40, Y: 5, X: 5, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stack.zarr")
	if err := CheckSave(path); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != Zarr || info.Shape != s || !strings.Contains(info.Detail, "3 pyramid level(s)") {
		t.Errorf("Inspect: %+v", info)
	}
	for _, lazy := range []Lazy{LazyNever, LazyAlways} {
		v, err := OpenWith(path, Options{Lazy: lazy})
		if err != nil {
			t.Fatal(err)
		}
		if v.Lazy() != (lazy == LazyAlways) || v.Shape() != s || v.DType() != volume.Uint16 ||
			v.Voxel.Z != 40 || v.Voxel.X != 5 || v.Voxel.Unit != "nm" || !v.Voxel.Known {
			t.Errorf("lazy=%v: lazy %v, %v %v, voxel %v", lazy, v.Lazy(), v.Shape(), v.DType(), v.Voxel)
		}
		if lazy == LazyAlways && len(v.Levels()) != 3 {
			t.Errorf("%d levels, want 3", len(v.Levels()))
		}
		for _, axis := range []volume.Axis{volume.XY, volume.XZ, volume.YZ} {
			p, err := v.Plane(axis, 5)
			if err != nil {
				t.Fatal(err)
			}
			q, _ := want.Plane(axis, 5)
			a, b := p.Float32(nil), q.Float32(nil)
			for i := range b {
				if a[i] != b[i] {
					t.Fatalf("lazy=%v %v plane: value %d is %v, want %v", lazy, axis, i, a[i], b[i])
				}
			}
		}
	}
}

// TestZarrCorruptChunk: a corrupt chunk of a lazily opened Zarr image reads
// as the fill value in a view (volume.WithDamage), which is told the chunk
// and the error; elsewhere the read fails naming it.
func TestZarrCorruptChunk(t *testing.T) {
	s := volume.Shape{Z: 4, Y: 300, X: 300}
	d := make([]uint8, s.Len())
	for i := range d {
		d[i] = uint8(1 + i%200)
	}
	want, _ := volume.New(s, d, volume.Voxel{})
	path := filepath.Join(t.TempDir(), "c.zarr")
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	chunk := filepath.Join(path, "0", "0", "0", "0")
	if err := os.WriteFile(chunk, []byte("not zstd at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := OpenWith(path, Options{Lazy: LazyAlways})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.PlaneCtx(context.Background(), volume.XY, 1); err == nil || !strings.Contains(err.Error(), "chunk 0/0/0") {
		t.Fatalf("corrupt chunk read without a view: %v", err)
	}
	var got []error
	p, err := v.PlaneCtx(volume.WithDamage(context.Background(), func(err error) { got = append(got, err) }), volume.XY, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0].Error(), "chunk 0/0/0") {
		t.Errorf("reported %v, want chunk 0/0/0", got)
	}
	f := p.Float32(nil)
	if f[0] != 0 || f[299] == 0 || f[299*300+299] == 0 {
		t.Errorf("voxels %v %v %v: want the bad chunk 0 and the others read", f[0], f[299], f[299*300+299])
	}
}
