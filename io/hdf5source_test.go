package volio

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/volume"
)

// h5py writes HDF5 files for the tests: $PYTHON, else Debian's python3
// (python3-h5py, installed by the test setup). The test is skipped when
// that Python has no h5py.
func h5py(t *testing.T, script string, args ...string) {
	t.Helper()
	py := reftest.Python(t, "h5py", "numpy")
	out, err := exec.Command(py, append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("h5py: %v\n%s", err, out)
	}
}

// TestOpenHDF5 opens datasets of HDF5 files written by h5py through volio:
// by name ("file.h5:/group/dataset"), whole and lazily, with the voxel size
// from CREMI's resolution attribute; a file with several volumes asks which.
func TestOpenHDF5(t *testing.T) {
	dir := t.TempDir()
	two := filepath.Join(dir, "two.h5")
	one := filepath.Join(dir, "sample_A.hdf")   // CREMI's extension
	ublock := filepath.Join(dir, "ublock.data") // a user block, no extension
	h5py(t, `
import sys, h5py, numpy as np
raw = (np.arange(5*33*21, dtype=np.int64) * 37 % 251).astype(np.uint8).reshape(5, 33, 21)
with h5py.File(sys.argv[1], "w") as f:
    d = f.create_dataset("volumes/raw", data=raw, chunks=(2, 16, 8), compression="gzip")
    d.attrs["resolution"] = np.array([40.0, 4.0, 4.0])
    f.create_dataset("volumes/labels", data=raw.astype(np.uint64) * 1000)
with h5py.File(sys.argv[2], "w") as f:
    d = f.create_dataset("volumes/raw", data=raw, chunks=(1, 33, 21))
    d.attrs["resolution"] = np.array([40.0, 4.0, 4.0])
with h5py.File(sys.argv[3], "w", userblock_size=512) as f:
    f.create_dataset("raw", data=raw)
`, two, one, ublock)
	s := volume.Shape{Z: 5, Y: 33, X: 21}
	d := make([]uint8, s.Len())
	for i := range d {
		d[i] = uint8(i * 37 % 251)
	}
	want, _ := volume.New(s, d, volume.Voxel{})

	for _, path := range []string{two, one, ublock} {
		if fm, err := Detect(path); err != nil || fm != HDF5 {
			t.Errorf("Detect(%s) = %v, %v", path, fm, err)
		}
	}
	if _, err := Open(two); err == nil || !strings.Contains(err.Error(), "/volumes/raw") || !strings.Contains(err.Error(), "/volumes/labels") {
		t.Errorf("a file of two volumes opened without a dataset: %v (want the datasets listed)", err)
	}
	info, err := Inspect(two + ":/volumes/raw")
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != HDF5 || info.Shape != s || info.DType != volume.Uint8 || !strings.Contains(info.Detail, "dataset /volumes/raw") {
		t.Errorf("Inspect: %+v", info)
	}
	for _, tc := range []struct {
		path string
		lazy Lazy
		nm   float64 // z voxel size; 0 for unknown
	}{
		{two + ":/volumes/raw", LazyNever, 40},
		{two + ":volumes/raw", LazyAlways, 40},
		{one, LazyAuto, 40},
		{one, LazyAlways, 40},
		{ublock, LazyAlways, 0},
	} {
		v, err := OpenWith(tc.path, Options{Lazy: tc.lazy})
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if v.Lazy() != (tc.lazy == LazyAlways) || v.Shape() != s || v.DType() != volume.Uint8 {
			t.Errorf("%s lazy=%v: lazy %v, %v %v", tc.path, tc.lazy, v.Lazy(), v.Shape(), v.DType())
		}
		if tc.nm != 0 && (v.Voxel.Z != tc.nm || v.Voxel.X != 4 || !v.Voxel.Known) || tc.nm == 0 && v.Voxel.Known {
			t.Errorf("%s: voxel %v", tc.path, v.Voxel)
		}
		for _, axis := range []volume.Axis{volume.XY, volume.XZ, volume.YZ} {
			p, err := v.Plane(axis, 3)
			if err != nil {
				t.Fatal(err)
			}
			q, _ := want.Plane(axis, 3)
			a, b := p.Float32(nil), q.Float32(nil)
			for i := range b {
				if a[i] != b[i] {
					t.Fatalf("%s lazy=%v %v plane: value %d is %v, want %v", tc.path, tc.lazy, axis, i, a[i], b[i])
				}
			}
		}
	}

	// Errors name the file and the problem.
	tif := filepath.Join(dir, "a.tif")
	if err := WriteTIFF(tif, want); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{two + ":/volumes/nope", "nope"},
		{tif + ":raw", "a :NAME suffix picks"},
	} {
		_, err := Open(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Base(strings.SplitN(tc.path, ":", 2)[0])) {
			t.Errorf("Open(%s): %v, want an error naming the file and %q", tc.path, err, tc.want)
		}
	}
	var e *Error
	if _, err := Open(filepath.Join(dir, "missing.h5")); err == nil || errors.As(err, &e) && e.Path == "" {
		t.Errorf("a missing file: %v", err)
	}
}

// TestOpenTIFFLazy opens a TIFF stack region by region through OpenWith:
// the voxels readTIFF gives, without reading the stack into memory.
func TestOpenTIFFLazy(t *testing.T) {
	s := volume.Shape{Z: 7, Y: 40, X: 30}
	d := make([]uint16, s.Len())
	for i := range d {
		d[i] = uint16(i * 29)
	}
	want, _ := volume.New(s, d, volume.Voxel{Z: 300, Y: 100, X: 100, Unit: "nm", Known: true})
	path := filepath.Join(t.TempDir(), "stack.tif")
	if err := WriteTIFF(path, want); err != nil {
		t.Fatal(err)
	}
	for _, lazy := range []Lazy{LazyAuto, LazyNever, LazyAlways} {
		v, err := OpenWith(path, Options{Lazy: lazy})
		if err != nil {
			t.Fatal(err)
		}
		if v.Lazy() != (lazy == LazyAlways) || v.Shape() != s || v.DType() != volume.Uint16 || v.Voxel.Z != 300 || v.Voxel.X != 100 {
			t.Errorf("lazy=%v: lazy %v, %v %v, voxel %v", lazy, v.Lazy(), v.Shape(), v.DType(), v.Voxel)
		}
		for _, axis := range []volume.Axis{volume.XY, volume.XZ, volume.YZ} {
			p, err := v.Plane(axis, 4)
			if err != nil {
				t.Fatal(err)
			}
			q, _ := want.Plane(axis, 4)
			a, b := p.Float32(nil), q.Float32(nil)
			for i := range b {
				if a[i] != b[i] {
					t.Fatalf("lazy=%v %v plane: value %d is %v, want %v", lazy, axis, i, a[i], b[i])
				}
			}
		}
	}
}
