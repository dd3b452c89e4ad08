package zarr

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
	"strconv"
	"strings"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/volume"
)

// referencePython returns the interpreter with numpy, zarr 2 and numcodecs
// ($PYTHON, else Debian's /usr/bin/python3), skipping the test without one.
func referencePython(t testing.TB) string { return reftest.Python(t, "zarr", "numcodecs", "numpy") }

// fixtureCase is one entry of a manifest.json written by the fixture
// scripts: an array or group and the expected voxels of each level.
type fixtureCase struct {
	Name     string
	Path     string
	DType    string
	Fill     string
	Channels int
	Times    int
	Channel  int
	Time     int
	Blosc    bool
	Notes    int
	Levels   []struct {
		Expect string
		Shape  []int
		Name   string
		Voxel  []float64
	}
}

type manifest struct {
	Cases   []fixtureCase
	Skipped []string
}

// runFixtures runs a fixture script (argv) that writes into dir and reads
// back its manifest.
func runFixtures(t *testing.T, dir string, argv ...string) manifest {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	for _, s := range m.Skipped {
		t.Logf("not tested: %s", s)
	}
	return m
}

// TestReferenceV2N5 reads arrays written by zarr-python 2 and numcodecs
// (every compressor, dtype, order, separator, fill value; N5 through
// N5Store and N5FSStore; N5 as N5's own libraries write it; OME-Zarr 0.4
// groups) and compares several boxes of every level with NumPy's voxels,
// and the metadata with what the script wrote.
func TestReferenceV2N5(t *testing.T) {
	py := referencePython(t)
	dir := t.TempDir()
	argv := []string{py, filepath.Join("testdata", "fixtures.py"), dir}
	if bloscDecode != nil {
		argv = append(argv, "blosc")
	} else {
		t.Log("Blosc cases skipped: package codec has no Blosc decoder yet")
	}
	m := runFixtures(t, dir, argv...)
	if len(m.Cases) < 50 {
		t.Fatalf("only %d fixture cases", len(m.Cases))
	}
	cache := NewCache(32 << 20)
	for _, c := range m.Cases {
		t.Run(c.Name, func(t *testing.T) { checkFixture(t, dir, c, cache) })
	}
}

// checkFixture opens one case and compares metadata and voxels.
func checkFixture(t *testing.T, dir string, c fixtureCase, cache *Cache) {
	t.Helper()
	if c.Blosc && bloscDecode == nil {
		t.Skip("skipping: package codec has no Blosc decoder yet")
	}
	im, err := Open(filepath.Join(dir, filepath.FromSlash(c.Path)), Options{Cache: cache, Channel: c.Channel, Time: c.Time})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if im.Channels() != max(c.Channels, 1) || im.Times() != max(c.Times, 1) {
		t.Errorf("Channels, Times = %d, %d, want %d, %d", im.Channels(), im.Times(), c.Channels, c.Times)
	}
	if len(im.Notes()) != c.Notes {
		t.Errorf("notes %q, want %d", im.Notes(), c.Notes)
	}
	levels := im.Levels()
	if len(levels) != len(c.Levels) {
		t.Fatalf("%d levels, want %d", len(levels), len(c.Levels))
	}
	if im.Meta() != levels[0].Meta() {
		t.Errorf("Image.Meta %+v differs from level 0's %+v", im.Meta(), levels[0].Meta())
	}
	fill, err := strconv.ParseFloat(c.Fill, 64)
	if err != nil {
		t.Fatalf("manifest fill %q: %v", c.Fill, err)
	}
	for i, want := range c.Levels {
		src := levels[i]
		meta := src.Meta()
		shape := volume.Shape{Z: want.Shape[0], Y: want.Shape[1], X: want.Shape[2]}
		if meta.Shape != shape || meta.DType.String() != c.DType {
			t.Errorf("level %d: %v %v, want %v %s", i, meta.Shape, meta.DType, shape, c.DType)
			continue
		}
		if meta.Name != want.Name {
			t.Errorf("level %d: name %q, want %q", i, meta.Name, want.Name)
		}
		checkVoxel(t, i, meta.Voxel, want.Voxel)
		if got := im.Level(i).arr.fill; i == 0 && !sameValue(got, fill, meta.DType) {
			t.Errorf("fill value %g, want %g", got, fill)
		}
		exp := readF64(t, filepath.Join(dir, want.Expect), shape.Len())
		for _, b := range testBoxes(shape) {
			v, err := src.Read(context.Background(), b)
			if err != nil {
				t.Fatalf("level %d: Read(%v): %v", i, b, err)
			}
			if err := compareBox(v, exp, shape, b); err != nil {
				t.Fatalf("level %d: Read(%v): %v", i, b, err)
			}
		}
	}
}

// checkVoxel compares a voxel size with the expected z, y, x in nm (nil:
// unknown).
func checkVoxel(t *testing.T, level int, got volume.Voxel, want []float64) {
	t.Helper()
	if want == nil {
		if got.Known {
			t.Errorf("level %d: voxel %v, want unknown", level, got)
		}
		return
	}
	if !got.Known || got.Unit != "nm" {
		t.Errorf("level %d: voxel %v, want %v nm", level, got, want)
		return
	}
	for k, g := range []float64{got.Z, got.Y, got.X} {
		if math.Abs(g-want[k]) > 1e-9*want[k] {
			t.Errorf("level %d: voxel %v, want %v nm", level, got, want)
			return
		}
	}
}

// testBoxes returns the boxes read of a volume: the whole, an interior
// block, one crossing chunk edges, a plane, a column and single voxels.
func testBoxes(s volume.Shape) []volume.Box {
	in := func(n int) (int, int) { return n / 4, max(n/4+1, n-n/4) }
	cross := func(n int) (int, int) {
		if n >= 3 {
			return 1, n - 1
		}
		return 0, n
	}
	var b []volume.Box
	b = append(b, volume.Whole(s))
	z0, z1 := in(s.Z)
	y0, y1 := in(s.Y)
	x0, x1 := in(s.X)
	b = append(b, volume.Box{Z0: z0, Z1: z1, Y0: y0, Y1: y1, X0: x0, X1: x1})
	z0, z1 = cross(s.Z)
	y0, y1 = cross(s.Y)
	x0, x1 = cross(s.X)
	b = append(b, volume.Box{Z0: z0, Z1: z1, Y0: y0, Y1: y1, X0: x0, X1: x1})
	b = append(b, volume.Box{Z0: s.Z / 2, Z1: s.Z/2 + 1, Y0: 0, Y1: s.Y, X0: 0, X1: s.X})
	b = append(b, volume.Box{Z0: 0, Z1: s.Z, Y0: s.Y / 3, Y1: s.Y/3 + 1, X0: s.X / 3, X1: s.X/3 + 1})
	b = append(b, volume.Box{Z0: s.Z - 1, Z1: s.Z, Y0: s.Y - 1, Y1: s.Y, X0: s.X - 1, X1: s.X})
	b = append(b, volume.Box{Z0: 0, Z1: 1, Y0: s.Y / 2, Y1: s.Y/2 + 1, X0: 0, X1: 1})
	return b
}

// readF64 reads n little-endian float64 values.
func readF64(t *testing.T, path string, n int) []float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 8*n {
		t.Fatalf("%s: %d bytes, want %d", path, len(data), 8*n)
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return v
}

// sameValue compares a voxel with its expected value at the precision of
// the volume type; NaN equals NaN.
func sameValue(got, want float64, dt volume.DType) bool {
	if dt == volume.Float32 {
		want = float64(float32(want))
	}
	return got == want || math.IsNaN(got) && math.IsNaN(want)
}

// compareBox checks that v holds box b of exp, the expected volume of
// shape s.
func compareBox(v *volume.Volume, exp []float64, s volume.Shape, b volume.Box) error {
	if v == nil {
		return errors.New("no volume")
	}
	if v.Shape() != b.Shape() {
		return fmt.Errorf("shape %v, want %v", v.Shape(), b.Shape())
	}
	for z := b.Z0; z < b.Z1; z++ {
		for y := b.Y0; y < b.Y1; y++ {
			for x := b.X0; x < b.X1; x++ {
				got := v.At(z-b.Z0, y-b.Y0, x-b.X0)
				want := exp[(z*s.Y+y)*s.X+x]
				if !sameValue(got, want, v.DType()) {
					return fmt.Errorf("voxel (%d, %d, %d) is %v, want %v", z, y, x, got, want)
				}
			}
		}
	}
	return nil
}

// zarritaPackages are the npm packages the v3 fixture script needs.
var zarritaPackages = []string{"zarrita@0.7.5", "@zarrita/storage@0.2.0"}

// zarritaModules returns a node_modules folder with zarrita, installing it
// once into the user's cache ($XDG_CACHE_HOME/niiv/node, else
// ~/.cache/niiv/node); it skips the test without node and npm.
func zarritaModules(t *testing.T) (node, modules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("skipping: node is not installed (it writes the Zarr v3 fixtures with zarrita)")
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("skipping: no cache folder for zarrita: %v", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	prefix := filepath.Join(cache, "niiv", "node")
	modules = filepath.Join(prefix, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "zarrita", "package.json")); err == nil {
		return node, modules
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("skipping: npm is not installed (it installs zarrita, which writes the Zarr v3 fixtures)")
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		t.Skipf("skipping: %v", err)
	}
	args := append([]string{"install", "--prefix", prefix, "--no-audit", "--no-fund"}, zarritaPackages...)
	if out, err := exec.Command(npm, args...).CombinedOutput(); err != nil {
		t.Skipf("skipping: npm %s failed: %v\n%s", strings.Join(args, " "), err, out)
	}
	return node, modules
}

// TestReferenceV3 reads Zarr v3 arrays written with zarrita (codecs bytes
// in both byte orders, transpose, zstd, gzip, blosc, crc32c; sharding with
// the index at the end and the start, empty inner chunks and a missing
// shard; both chunk key encodings; NaN and other fill values; an OME-Zarr
// 0.5 group) and compares several boxes of every level with the voxels
// written, and the metadata with what the script wrote.
func TestReferenceV3(t *testing.T) {
	node, modules := zarritaModules(t)
	dir := t.TempDir()
	argv := []string{node, filepath.Join("testdata", "fixtures_v3.mjs"), modules, dir}
	if bloscDecode != nil {
		argv = append(argv, "blosc")
	} else {
		t.Log("Blosc cases skipped: package codec has no Blosc decoder yet")
	}
	m := runFixtures(t, dir, argv...)
	if len(m.Cases) < 12 {
		t.Fatalf("only %d fixture cases", len(m.Cases))
	}
	cache := NewCache(32 << 20)
	for _, c := range m.Cases {
		t.Run(c.Name, func(t *testing.T) { checkFixture(t, dir, c, cache) })
	}
}
