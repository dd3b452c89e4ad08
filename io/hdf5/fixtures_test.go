package hdf5

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/io/codec"
	"github.com/niiv/niiv/volume"
)

// ---- fixtures written by h5py -----------------------------------------------

// h5pyPython returns the Python to run h5py with: $PYTHON when set, else
// Debian's /usr/bin/python3 (python3-h5py). It skips the test when that
// Python cannot import h5py and numpy.
func h5pyPython(t testing.TB) string { return reftest.Python(t, "h5py", "numpy") }

// fixture is one case of the manifest fixtures.py writes.
type fixture struct {
	Name, File, Dataset string
	Expect              string
	Shape               [3]int
	DType               string
	Voxel               []float64 // z, y, x in nm; nil when unknown
	Notes               bool
	Index               string // the chunk index the file must use; "" for any
	SB                  *int   // the superblock version the file must have
	Dims                []uint64
	Error               string // the error Open must give, for failing cases
}

var (
	fixOnce     sync.Once
	fixDir      string
	fixManifest []fixture
	fixErr      error
)

// TestMain removes the h5py fixtures after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

// fixtures writes the h5py fixtures once per test binary (one Python call)
// and returns their folder and manifest.
func fixtures(t testing.TB) (string, []fixture) {
	t.Helper()
	py := h5pyPython(t)
	fixOnce.Do(func() {
		fixDir, fixErr = os.MkdirTemp("", "hdf5-fixtures-")
		if fixErr != nil {
			return
		}
		if fixErr = writeCodecChunks(filepath.Join(fixDir, "codec")); fixErr != nil {
			return
		}
		out, err := exec.Command(py, filepath.Join("testdata", "fixtures.py"), fixDir).CombinedOutput()
		if err != nil {
			fixErr = fmt.Errorf("fixtures.py: %v\n%s", err, out)
			return
		}
		b, err := os.ReadFile(filepath.Join(fixDir, "manifest.json"))
		if err != nil {
			fixErr = err
			return
		}
		fixErr = json.Unmarshal(b, &fixManifest)
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fixDir, fixManifest
}

// writeCodecChunks writes what fixtures.py needs for datasets compressed
// with hdf5plugin's Blosc and zstd filters, which h5py cannot write without
// hdf5plugin: a 6×20×24 uint16 array (data.bin, little-endian) and its
// chunks 0 and 2 of 2×20×24, compressed by package codec
// (blosc_K.bin, zstd_K.bin).
func writeCodecChunks(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	const n = 2 * 20 * 24
	data := make([]byte, 3*n*2)
	for i := range 3 * n {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(i*i%65521+i/7))
	}
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), data, 0o644); err != nil {
		return err
	}
	for _, k := range []int{0, 2} {
		chunk := data[k*n*2 : (k+1)*n*2]
		bl, err := codec.BloscEncode(chunk, codec.BloscOptions{Compressor: "zstd", Level: 5, Shuffle: 1, TypeSize: 2})
		if err != nil {
			return err
		}
		zs, err := codec.ZstdEncode(chunk, 3)
		if err != nil {
			return err
		}
		for name, b := range map[string][]byte{"blosc": bl, "zstd": zs} {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s_%d.bin", name, k)), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// fixtureNamed returns the case called name.
func fixtureNamed(t testing.TB, name string) (string, fixture) {
	t.Helper()
	dir, all := fixtures(t)
	for _, fx := range all {
		if fx.Name == name {
			return dir, fx
		}
	}
	t.Fatalf("no fixture %q", name)
	return "", fixture{}
}

// readFloats reads a file of little-endian float64.
func readFloats(t testing.TB, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := make([]float64, len(b)/8)
	for i := range f {
		f[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return f
}

// sliceBox returns box b of the C-order array a of shape s.
func sliceBox(a []float64, s volume.Shape, b volume.Box) []float64 {
	var out []float64
	for z := b.Z0; z < b.Z1; z++ {
		for y := b.Y0; y < b.Y1; y++ {
			i := (z*s.Y+y)*s.X + b.X0
			out = append(out, a[i:i+b.X1-b.X0]...)
		}
	}
	return out
}

// sameValues reports the first voxel of v that differs from want (same
// bits, or both NaN), or "".
func sameValues(v *volume.Volume, want []float64) string {
	s := v.Shape()
	if s.Len() != len(want) {
		return fmt.Sprintf("%d voxels, want %d", s.Len(), len(want))
	}
	i := 0
	for z := range s.Z {
		for y := range s.Y {
			for x := range s.X {
				got, w := v.At(z, y, x), want[i]
				if math.Float64bits(got) != math.Float64bits(w) && !(math.IsNaN(got) && math.IsNaN(w)) {
					return fmt.Sprintf("voxel (%d, %d, %d) is %v, want %v", z, y, x, got, w)
				}
				i++
			}
		}
	}
	return ""
}

// box returns the box [z0,z1)×[y0,y1)×[x0,x1).
func box(z0, z1, y0, y1, x0, x1 int) volume.Box {
	return volume.Box{Z0: z0, Z1: z1, Y0: y0, Y1: y1, X0: x0, X1: x1}
}

// shapeBoxes returns boxes of every kind inside s: corners, the interior,
// one voxel, rows, columns, xy, xz and yz planes, and everything.
func shapeBoxes(s volume.Shape) map[string]volume.Box {
	h := func(n int) int { return n / 2 }
	q := func(n int) int { return n / 3 }
	return map[string]volume.Box{
		"whole":          volume.Whole(s),
		"first voxel":    box(0, 1, 0, 1, 0, 1),
		"last voxel":     box(s.Z-1, s.Z, s.Y-1, s.Y, s.X-1, s.X),
		"middle voxel":   box(h(s.Z), h(s.Z)+1, h(s.Y), h(s.Y)+1, h(s.X), h(s.X)+1),
		"corner":         box(0, max(1, q(s.Z)), 0, max(1, q(s.Y)), 0, max(1, q(s.X))),
		"far corner":     box(s.Z-max(1, q(s.Z)), s.Z, s.Y-max(1, q(s.Y)), s.Y, s.X-max(1, q(s.X)), s.X),
		"interior":       box(q(s.Z), max(q(s.Z)+1, s.Z-q(s.Z)), q(s.Y), max(q(s.Y)+1, s.Y-q(s.Y)), q(s.X), max(q(s.X)+1, s.X-q(s.X))),
		"xy plane":       box(h(s.Z), h(s.Z)+1, 0, s.Y, 0, s.X),
		"xz plane":       box(0, s.Z, h(s.Y), h(s.Y)+1, 0, s.X),
		"yz plane":       box(0, s.Z, 0, s.Y, h(s.X), h(s.X)+1),
		"row":            box(h(s.Z), h(s.Z)+1, h(s.Y), h(s.Y)+1, 0, s.X),
		"part of a row":  box(h(s.Z), h(s.Z)+1, h(s.Y), h(s.Y)+1, q(s.X), max(q(s.X)+1, s.X-q(s.X))),
		"z column":       box(0, s.Z, h(s.Y), h(s.Y)+1, h(s.X), h(s.X)+1),
		"whole rows":     box(0, max(1, h(s.Z)), q(s.Y), max(q(s.Y)+1, s.Y-q(s.Y)), 0, s.X),
		"all but border": box(0, s.Z, min(1, s.Y-1), max(min(1, s.Y-1)+1, s.Y-1), min(1, s.X-1), max(min(1, s.X-1)+1, s.X-1)),
	}
}

// TestFixtures opens every dataset h5py wrote (each element type and byte
// order, each layout and chunk index, filters, fill values, superblocks 0,
// 2 and 3, user blocks, attributes, links) and checks the metadata, every
// value of the whole dataset and of regions of every kind against h5py's,
// and that the failing cases fail with the error expected.
func TestFixtures(t *testing.T) {
	dir, all := fixtures(t)
	ctx := context.Background()
	for _, fx := range all {
		t.Run(fx.Name, func(t *testing.T) {
			path := filepath.Join(dir, fx.File)
			d, err := Open(path, fx.Dataset)
			if fx.Error != "" {
				if err == nil {
					d.Close()
					t.Fatalf("opened; want an error containing %q", fx.Error)
				}
				if !strings.Contains(err.Error(), fx.Error) || !strings.Contains(err.Error(), fx.File) {
					t.Fatalf("error %q, want one naming the file and containing %q", err, fx.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			m := d.Meta()
			want := volume.Shape{Z: fx.Shape[0], Y: fx.Shape[1], X: fx.Shape[2]}
			name := fx.File + ":/" + strings.TrimPrefix(fx.Dataset, "/")
			if fx.Dataset == "" {
				name = m.Name // the one picked
			}
			if m.Shape != want || m.DType.String() != fx.DType || m.Name != name {
				t.Errorf("meta %q %v %v, want %q %v %s", m.Name, m.Shape, m.DType, name, want, fx.DType)
			}
			if fx.Voxel == nil {
				if m.Voxel != volume.Unknown() {
					t.Errorf("voxel %v, want unknown", m.Voxel)
				}
			} else if vx := m.Voxel; !vx.Known || vx.Unit != "nm" || !near(vx.Z, fx.Voxel[0]) || !near(vx.Y, fx.Voxel[1]) || !near(vx.X, fx.Voxel[2]) {
				t.Errorf("voxel %v, want %v nm", vx, fx.Voxel)
			}
			if got := len(d.Notes()) > 0; got != fx.Notes {
				t.Errorf("notes %q, want some: %v", d.Notes(), fx.Notes)
			}
			if fx.Index != "" {
				if got := indexName(d); got != fx.Index {
					t.Errorf("chunk index %q, want %q", got, fx.Index)
				}
			}
			if fx.SB != nil && d.ds.f.sbVer != *fx.SB {
				t.Errorf("superblock version %d, want %d", d.ds.f.sbVer, *fx.SB)
			}
			if fx.Dims != nil && fmt.Sprint(d.ds.dims) != fmt.Sprint(fx.Dims) {
				t.Errorf("dims %v, want %v", d.ds.dims, fx.Dims)
			}
			expect := readFloats(t, filepath.Join(dir, fx.Expect))
			for bname, b := range shapeBoxes(m.Shape) {
				v, err := d.Read(ctx, b)
				if err != nil {
					t.Fatalf("%s %v: %v", bname, b, err)
				}
				if v.Shape() != b.Shape() || v.DType() != m.DType || v.Voxel != m.Voxel || v.Name != m.Name {
					t.Errorf("%s %v: read %v %v %v %q", bname, b, v.Shape(), v.DType(), v.Voxel, v.Name)
				}
				if diff := sameValues(v, sliceBox(expect, m.Shape, b)); diff != "" {
					t.Errorf("%s %v: %s", bname, b, diff)
				}
			}
		})
	}
}

// indexName names the chunk index of d, "" for other layouts.
func indexName(d *Dataset) string {
	if d.ds.lay.class != 2 {
		return ""
	}
	return indexNames[d.ds.lay.index]
}

// near compares voxel sizes to float32 precision.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(math.Abs(a), math.Abs(b)) }

var _ = errors.Is
