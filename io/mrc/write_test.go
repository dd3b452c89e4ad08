package mrc

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/niiv/niiv/internal/atomicfile/faulttest"
	"github.com/niiv/niiv/volume"
)

// TestWriteRoundTrip writes every element type and reads the file back:
// header fields, statistics, voxel size and values.
func TestWriteRoundTrip(t *testing.T) {
	s := volume.Shape{Z: 3, Y: 5, X: 7}
	vox := volume.Voxel{Z: 50, Y: 4.2, X: 4.2, Unit: "nm", Known: true}
	cases := []struct {
		dt   volume.DType
		mode int
		back volume.DType
	}{
		{volume.Uint8, 6, volume.Uint16},
		{volume.Uint16, 6, volume.Uint16},
		{volume.Int16, 1, volume.Int16},
		{volume.Float32, 2, volume.Float32},
		{volume.Float64, 2, volume.Float32},
	}
	for _, c := range cases {
		t.Run(c.dt.String(), func(t *testing.T) {
			v := testVolume(t, c.dt, s, vox, 3)
			p := filepath.Join(t.TempDir(), "rt.mrc")
			if err := Write(p, v); err != nil {
				t.Fatal(err)
			}
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, m := f.Header(), f.Meta()
			if h.Mode != c.mode || h.BigEndian || h.Map != "MAP " || h.MachSt != [4]byte{0x44, 0x44} || h.NVersion != 20141 ||
				h.ISPG != 1 || h.NSymBT != 0 || h.MX != 7 || h.MY != 5 || h.MZ != 3 || h.CellB != [3]float32{90, 90, 90} ||
				h.MapC != 1 || h.MapR != 2 || h.MapS != 3 || h.NLabl != 1 || len(h.Labels) != 1 || h.Labels[0] != "niiv" {
				t.Errorf("header %+v", h)
			}
			if h.CellA != [3]float32{42 * 7, 42 * 5, 500 * 3} {
				t.Errorf("cell %v Å", h.CellA)
			}
			if m.DType != c.back || m.Shape != s || m.Voxel.Z != 50 || m.Voxel.Y != 4.2 || m.Voxel.X != 4.2 || !m.Voxel.Known {
				t.Errorf("meta %+v", m)
			}
			var want []float64
			lo, hi, sum, sum2 := math.Inf(1), math.Inf(-1), 0.0, 0.0
			for z := range s.Z {
				for y := range s.Y {
					for x := range s.X {
						f := v.At(z, y, x)
						if c.dt == volume.Float64 {
							f = float64(float32(f))
						}
						want = append(want, f)
						lo, hi, sum = min(lo, f), max(hi, f), sum+f
					}
				}
			}
			mean := sum / float64(len(want))
			for _, f := range want {
				sum2 += (f - mean) * (f - mean)
			}
			std := math.Sqrt(sum2 / float64(len(want)))
			if h.DMin != float32(lo) || h.DMax != float32(hi) || math.Abs(float64(h.DMean)-mean) > 1e-6*math.Abs(mean)+1e-9 ||
				math.Abs(float64(h.RMS)-std) > 1e-6*std {
				t.Errorf("statistics %v %v %v %v, want %v %v %v %v", h.DMin, h.DMax, h.DMean, h.RMS, lo, hi, mean, std)
			}
			back, err := f.Read(context.Background(), volume.Whole(s))
			if err != nil {
				t.Fatal(err)
			}
			if d := sameValues(back, want); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestWriteVoxelUnits checks the cell written for voxel sizes in every
// length unit, and the unset cell for unknown sizes and units.
func TestWriteVoxelUnits(t *testing.T) {
	s := volume.Shape{Z: 2, Y: 3, X: 4}
	vx := func(z, y, x float64, unit string, known bool) volume.Voxel {
		return volume.Voxel{Z: z, Y: y, X: x, Unit: unit, Known: known}
	}
	cases := []struct {
		name string
		vox  volume.Voxel
		cell [3]float32 // x, y, z in Å
	}{
		{"nm", vx(40, 4, 4, "nm", true), [3]float32{160, 120, 800}},
		{"µm", vx(0.05, 0.01, 0.02, "µm", true), [3]float32{800, 300, 1000}},
		{"μm (Greek mu)", vx(1, 1, 1, "μm", true), [3]float32{40000, 30000, 20000}},
		{"um", vx(1, 1, 1, "um", true), [3]float32{40000, 30000, 20000}},
		{"Å", vx(3, 2, 1, "Å", true), [3]float32{4, 6, 6}},
		{"mm", vx(1e-3, 1e-3, 1e-3, "mm", true), [3]float32{40000, 30000, 20000}},
		{"unknown", volume.Unknown(), [3]float32{}},
		{"known in pixels", vx(8, 1, 1, "px", true), [3]float32{}},
		{"no unit", vx(8, 1, 1, "", true), [3]float32{}},
		{"not known", vx(8, 4, 4, "nm", false), [3]float32{}},
		{"zero", vx(0, 4, 4, "nm", true), [3]float32{}},
		{"NaN", vx(math.NaN(), 4, 4, "nm", true), [3]float32{}},
		{"beyond float32", vx(1e38, 4, 4, "nm", true), [3]float32{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cell(c.vox, s)
			for i := range 3 {
				if !nearlyEqual(float64(got[i]), float64(c.cell[i])) {
					t.Errorf("cell %v Å, want %v", got, c.cell)
					break
				}
			}
		})
	}
}

// TestWriteStatistics checks DMIN, DMAX, DMEAN and RMS with NaN and
// infinite values, which are left out, and without any finite value,
// which gives mrcfile's "unknown" values.
func TestWriteStatistics(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name string
		data []float32
		want [4]float32 // min, max, mean, rms
	}{
		{"plain", []float32{1, 2, 3, 4, 5, 6}, [4]float32{1, 6, 3.5, float32(math.Sqrt(35.0 / 12))}},
		{"constant", []float32{7, 7, 7, 7, 7, 7}, [4]float32{7, 7, 7, 0}},
		{"NaN and Inf left out", []float32{nan, 2, inf, 4, -inf, 6}, [4]float32{2, 6, 4, float32(math.Sqrt(8.0 / 3))}},
		{"no finite value", []float32{nan, nan, inf, nan, nan, nan}, [4]float32{0, -1, -2, -1}},
		{"large offset", []float32{1e6 + 1, 1e6 + 2, 1e6 + 3, 1e6 + 1, 1e6 + 2, 1e6 + 3}, [4]float32{1e6 + 1, 1e6 + 3, 1e6 + 2, float32(math.Sqrt(2.0 / 3))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := volume.New(volume.Shape{Z: 1, Y: 2, X: 3}, c.data, volume.Unknown())
			if err != nil {
				t.Fatal(err)
			}
			st, err := stats(v, planeReader(v))
			if err != nil {
				t.Fatal(err)
			}
			got := [4]float32{st.min, st.max, st.mean, st.rms}
			for i := range got {
				if math.Abs(float64(got[i]-c.want[i])) > 1e-6*math.Abs(float64(c.want[i])) {
					t.Errorf("statistics %v, want %v", got, c.want)
					break
				}
			}
		})
	}
}

// TestWriteErrors checks failed writes: an error naming the file, nothing
// left behind, and a file already there unchanged.
func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.mrc")
	if err := os.WriteFile(old, []byte("previous contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	huge, _ := volume.New(volume.Shape{Z: 1, Y: 2, X: 2}, []float64{1, 2, 1e39, 4}, volume.Unknown())
	small := testVolume(t, volume.Int16, volume.Shape{Z: 2, Y: 2, X: 2}, volume.Unknown(), 0)
	cases := []struct {
		name string
		path string
		v    *volume.Volume
		want string
	}{
		{"no volume", filepath.Join(dir, "nil.mrc"), nil, "no volume"},
		{"float64 beyond float32", filepath.Join(dir, "huge.mrc"), huge, "voxel (z=0, y=1, x=0) is 1e+39, beyond float32's range"},
		{"replacing a file", old, huge, "beyond float32's range"},
		{"missing folder", filepath.Join(dir, "none", "x.mrc"), small, "none"},
		{"a folder", dir, small, "is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Write(c.path, c.v)
			if err == nil || !strings.HasPrefix(err.Error(), "mrc: write "+c.path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want \"mrc: write %s: …%s…\"", err, c.path, c.want)
			}
		})
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "old.mrc" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %q, want only old.mrc", names)
	}
	if b, _ := os.ReadFile(old); !bytes.Equal(b, []byte("previous contents")) {
		t.Errorf("old.mrc changed to %q", b)
	}
}

// killedVolume is the 4 MiB volume TestWriteKilled's child writes.
func killedVolume() *volume.Volume {
	v, err := makeVolume(volume.Float32, volume.Shape{Z: 16, Y: 256, X: 256}, volume.Unknown(), 5)
	if err != nil {
		panic(err)
	}
	return v
}

// TestWriteKilled kills a Write (this test binary, re-executed) with
// SIGKILL after 1 MiB of its output, over an older file: the old file is
// left byte-identical beside a hidden temporary file, which the next
// Write removes.
func TestWriteKilled(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.mrc")
	if err := Write(path, testVolume(t, volume.Int16, volume.Shape{Z: 2, Y: 3, X: 4}, volume.Unknown(), 0)); err != nil {
		t.Fatal(err)
	}
	unchanged := faulttest.Unchanged(t, path)
	faulttest.KillMidWrite(t, faulttest.Command(t, 1<<20, "write", path), time.Minute)
	unchanged()
	left := faulttest.Entries(t, dir)
	if len(left) != 2 || !strings.HasPrefix(left[0], ".k.mrc.tmp-") || left[1] != "k.mrc" {
		t.Fatalf("after the kill the folder holds %v, want a hidden temporary file and k.mrc", left)
	}
	if err := Write(path, killedVolume()); err != nil {
		t.Fatal(err)
	}
	if got := faulttest.Entries(t, dir); !slices.Equal(got, []string{"k.mrc"}) {
		t.Errorf("after the next write the folder holds %v, want only k.mrc", got)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m := f.Meta(); m.Shape != (volume.Shape{Z: 16, Y: 256, X: 256}) || m.DType != volume.Float32 {
		t.Errorf("the new file reads as %v %v", m.Shape, m.DType)
	}
}

// TestWriteNoSpace writes a volume too large for its disk over an older
// one: the error names the file and the lack of space, and the old file
// is left byte-identical, with nothing beside it.
func TestWriteNoSpace(t *testing.T) {
	dir := faulttest.Tmpfs(t, 64<<10)
	path := filepath.Join(dir, "out.mrc")
	if err := Write(path, testVolume(t, volume.Float32, volume.Shape{Z: 1, Y: 16, X: 16}, volume.Unknown(), 0)); err != nil {
		t.Fatal(err)
	}
	unchanged := faulttest.Unchanged(t, path)
	err := Write(path, testVolume(t, volume.Float32, volume.Shape{Z: 16, Y: 64, X: 64}, volume.Unknown(), 0)) // 256 KiB
	if !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "mrc: write "+path+": no space left on device") {
		t.Fatalf("got %v, want a no-space error for %s", err, path)
	}
	faulttest.OneLine(t, err.Error())
	unchanged()
	if got := faulttest.Entries(t, dir); !slices.Equal(got, []string{"out.mrc"}) {
		t.Errorf("the failed write left %v, want only out.mrc", got)
	}
}
