package omezarr

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/volume"
)

// python returns the interpreter with the reference zarr library, or skips.
func python(t *testing.T) string { return reftest.Python(t, "zarr", "numpy") }

func randomVolume(t *testing.T, s volume.Shape, dt volume.DType, vox volume.Voxel) *volume.Volume {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(s.Len()), uint64(dt)))
	f := make([]float64, s.Len())
	for i := range f {
		switch dt {
		case volume.Int16:
			f[i] = float64(r.IntN(4000) - 2000)
		case volume.Float32, volume.Float64:
			f[i] = r.NormFloat64()
		default:
			f[i] = float64(r.IntN(250))
		}
	}
	v, err := convert(s, dt, f)
	if err != nil {
		t.Fatal(err)
	}
	v.Voxel = vox
	return v
}

// check is run by the reference zarr library on each image: level 0 equals
// the .npy written beside it, every further level is the mean of its
// blocks (NumPy's own), and the multiscales metadata says what napari and
// neuroglancer need.
const check = `
import json, sys, numpy as np, zarr
path, want_path, zs, ys, xs, unit = sys.argv[1:7]
want = np.load(want_path)
g = zarr.open_group(path, mode="r")
ms = g.attrs["multiscales"][0]
assert ms["version"] == "0.4", ms
assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"], ms["axes"]
assert all(a["type"] == "space" for a in ms["axes"])
if unit:
    assert all(a["unit"] == unit for a in ms["axes"]), ms["axes"]
prev, prev_scale = None, None
for i, ds in enumerate(ms["datasets"]):
    a = g[ds["path"]]
    scale = ds["coordinateTransformations"][0]["scale"]
    assert ds["coordinateTransformations"][0]["type"] == "scale"
    data = a[:]
    assert data.dtype == want.dtype, (data.dtype, want.dtype)
    if i == 0:
        assert scale == [float(zs), float(ys), float(xs)], scale
        assert a.chunks is not None
        assert np.array_equal(data, want), "level 0 differs"
    else:
        f = [round(s / p) for s, p in zip(scale, prev_scale)]
        src = prev.astype(np.float64)
        n = [-(-a // k) for a, k in zip(src.shape, f)]
        p = np.pad(src, [(0, m * k - a) for a, k, m in zip(src.shape, f, n)], constant_values=np.nan)
        out = np.nanmean(p.reshape(n[0], f[0], n[1], f[1], n[2], f[2]), axis=(1, 3, 5))
        if np.issubdtype(want.dtype, np.integer):
            out = np.floor(out + 0.5)
        assert data.shape == out.shape, (i, data.shape, out.shape)
        assert np.allclose(data.astype(np.float64), out, atol=1e-5 if not np.issubdtype(want.dtype, np.integer) else 0.5), "level %d differs" % i
    prev, prev_scale = data, scale
print(len(ms["datasets"]), [list(g[d["path"]].shape) for d in ms["datasets"]])
`

func TestWriteReadByZarr(t *testing.T) {
	py := python(t)
	nm := volume.Voxel{Z: 40, Y: 4, X: 4, Unit: "nm", Known: true}
	iso := volume.Voxel{Z: 1, Y: 1, X: 1, Unit: "µm", Known: true}
	tests := []struct {
		name   string
		shape  volume.Shape
		dtype  volume.DType
		voxel  volume.Voxel
		opt    Options
		unit   string
		levels string // what the script prints
	}{
		{"uint8 anisotropic, edge chunks", volume.Shape{Z: 13, Y: 70, X: 90}, volume.Uint8, nm,
			Options{Chunk: volume.Shape{Z: 8, Y: 32, X: 32}, Levels: 3}, "nanometer", "3 [[13, 70, 90], [13, 35, 45], [13, 18, 23]]"},
		{"uint16 isotropic gzip", volume.Shape{Z: 20, Y: 20, X: 21}, volume.Uint16, iso,
			Options{Chunk: volume.Shape{Z: 16, Y: 16, X: 16}, Levels: 2, Compressor: "gzip"}, "micrometer", "2 [[20, 20, 21], [10, 10, 11]]"},
		{"int16 raw, one chunk, a name in Greek", volume.Shape{Z: 5, Y: 9, X: 7}, volume.Int16, nm,
			Options{Levels: 1, Compressor: "none", Name: "µCT σ=2 𝛼"}, "nanometer", "1 [[5, 9, 7]]"},
		{"float32 default levels, blosc-zstd", volume.Shape{Z: 6, Y: 300, X: 40}, volume.Float32, volume.Unknown(),
			Options{Chunk: volume.Shape{Z: 4, Y: 64, X: 64}, Compressor: "blosc-zstd"}, "", "2 [[6, 300, 40], [3, 150, 20]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			v := randomVolume(t, tc.shape, tc.dtype, tc.voxel)
			out := filepath.Join(dir, "out.zarr")
			var calls, total int
			tc.opt.Progress = func(d, n int) { calls, total = calls+1, n }
			if err := Write(context.Background(), out, v, tc.opt); err != nil {
				t.Fatal(err)
			}
			if calls != total || total == 0 {
				t.Errorf("progress: %d calls, total %d", calls, total)
			}
			want := filepath.Join(dir, "want.npy")
			if err := os.WriteFile(want, npyBytes(v), 0o644); err != nil {
				t.Fatal(err)
			}
			vs := v.Voxel
			if !vs.Known {
				vs = volume.Voxel{Z: 1, Y: 1, X: 1}
			}
			cmd := exec.Command(py, "-c", check, out, want, ftoa(vs.Z), ftoa(vs.Y), ftoa(vs.X), tc.unit)
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("zarr reading niiv's image: %v\n%s", err, b)
			}
			if got := strings.TrimSpace(string(b)); got != tc.levels {
				t.Errorf("levels %s, want %s", got, tc.levels)
			}
			if ms, _ := filepath.Glob(out + ".*"); len(ms) != 0 {
				t.Errorf("left behind: %v", ms)
			}
		})
	}
}

// TestWriteReplacesAndCancels: an existing image is replaced only once the
// new one is complete; a cancelled write leaves the old one and nothing
// else; a path that is not an image is not replaced.
func TestWriteReplacesAndCancels(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a.zarr")
	v1 := randomVolume(t, volume.Shape{Z: 4, Y: 16, X: 16}, volume.Uint8, volume.Unknown())
	if err := Write(context.Background(), out, v1, Options{Levels: 1}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(out, "0", ".zarray"))
	v2 := randomVolume(t, volume.Shape{Z: 8, Y: 64, X: 64}, volume.Uint16, volume.Unknown())
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Write(ctx, out, v2, Options{Chunk: volume.Shape{Z: 2, Y: 8, X: 8}, Threads: 1, Progress: func(d, _ int) {
		if n++; n == 5 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(out, "0", ".zarray"))
	if string(after) != string(before) {
		t.Error("a cancelled write changed the existing image")
	}
	if ms, _ := filepath.Glob(out + ".*"); len(ms) != 0 {
		t.Errorf("left behind: %v", ms)
	}
	if err := Write(context.Background(), out, v2, Options{Levels: 1}); err != nil {
		t.Fatal(err)
	}
	after, _ = os.ReadFile(filepath.Join(out, "0", ".zarray"))
	if !strings.Contains(string(after), "<u2") {
		t.Errorf("the image was not replaced: %s", after)
	}
	file := filepath.Join(dir, "notes.zarr")
	os.WriteFile(file, []byte("mine"), 0o644)
	if err := Write(context.Background(), file, v1, Options{}); err == nil || !strings.Contains(err.Error(), "not a Zarr image") {
		t.Errorf("writing over a file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "mine" {
		t.Error("the file was changed")
	}
}

func ftoa(f float64) string { return strings.TrimRight(strings.TrimRight(strconvF(f), "0"), ".") }
