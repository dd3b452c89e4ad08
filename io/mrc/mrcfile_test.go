package mrc

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/niiv/niiv/internal/atomicfile/faulttest"
	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/volume"
)

// ---- fixtures written by mrcfile --------------------------------------------

// mrcfilePython returns the Python to run the reference implementation
// with: $PYTHON when set, else Debian's /usr/bin/python3 (python3-mrcfile).
// It skips the test when that Python cannot import mrcfile and numpy.
func mrcfilePython(t testing.TB) string { return reftest.Python(t, "mrcfile", "numpy") }

// fixture is one entry of the manifest fixtures.py writes.
type fixture struct {
	Name, File   string
	Mode         int
	Big          bool
	NSymBT       int
	ExtType      string `json:"exttyp"`
	ISPG         int
	Labels       []string
	Voxel        [3]float64 // z, y, x in Å, as mrcfile reads it
	Known        bool
	MrcfileDType string `json:"mrcfile_dtype"`
	DType        string
	Shape        [3]int
	Boxes        [][6]int
}

// regionBoxes are the boxes, inside 9×33×47, whose NumPy slices
// fixtures.py writes for the "regions" fixtures.
var regionBoxes = [][6]int{
	{0, 2, 0, 3, 0, 4},     // corner
	{7, 9, 30, 33, 43, 47}, // far corner
	{3, 6, 10, 20, 5, 30},  // interior
	{4, 5, 17, 18, 0, 47},  // one whole row
	{4, 5, 17, 18, 9, 10},  // one voxel
	{2, 5, 0, 33, 0, 47},   // whole planes
	{1, 3, 5, 9, 0, 47},    // whole rows of part of the planes
	{0, 9, 12, 13, 0, 47},  // an xz plane
	{0, 9, 0, 33, 20, 21},  // a yz plane
	{0, 9, 0, 33, 0, 47},   // everything
	{8, 9, 32, 33, 46, 47}, // the last voxel
	{0, 9, 1, 32, 1, 46},   // all but the border
	{5, 6, 0, 33, 0, 46},   // one plane but the last column
	{6, 7, 0, 1, 0, 1},     // one voxel at a plane's start
	{0, 1, 32, 33, 0, 47},  // the first plane's last row
	{2, 8, 30, 33, 40, 47}, // a corner block
	{0, 9, 16, 17, 23, 24}, // a z column
}

var (
	fixOnce     sync.Once
	fixDir      string
	fixManifest []fixture
	fixErr      error
)

// TestMain writes a volume for TestWriteKilled when the test binary is
// re-executed as its child ("write PATH"), and removes the mrcfile
// fixtures after the tests.
func TestMain(m *testing.M) {
	if faulttest.Child() {
		if err := Write(os.Args[2], killedVolume()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

// fixtures writes the mrcfile fixtures once per test binary (one Python
// call) and returns their folder and manifest.
func fixtures(t *testing.T) (string, []fixture) {
	t.Helper()
	py := mrcfilePython(t)
	fixOnce.Do(func() {
		fixDir, fixErr = os.MkdirTemp("", "mrc-fixtures-")
		if fixErr != nil {
			return
		}
		boxes, _ := json.Marshal(regionBoxes)
		out, err := exec.Command(py, filepath.Join("testdata", "fixtures.py"), fixDir, string(boxes)).CombinedOutput()
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

// readFloats reads a file of little-endian float64.
func readFloats(t *testing.T, path string) []float64 {
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

// nearlyEqual compares voxel sizes to float32 precision.
func nearlyEqual(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(math.Abs(a), math.Abs(b)) }

// TestOpenMrcfileFixtures opens every file mrcfile wrote (each mode, both
// byte orders, missing and wrong machine stamps, an extended header,
// stacks, signed and unsigned bytes, transposed axes) and checks the
// metadata and all values against what mrcfile reads.
func TestOpenMrcfileFixtures(t *testing.T) {
	dir, fixtures := fixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.Name, func(t *testing.T) {
			path := filepath.Join(dir, fx.File)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, h := f.Meta(), f.Header()
			want := volume.Shape{Z: fx.Shape[0], Y: fx.Shape[1], X: fx.Shape[2]}
			if m.Name != fx.File || m.Shape != want || m.DType.String() != fx.DType {
				t.Errorf("meta %q %v %v, want %q %v %s", m.Name, m.Shape, m.DType, fx.File, want, fx.DType)
			}
			if h.Mode != fx.Mode || h.BigEndian != fx.Big || h.NSymBT != fx.NSymBT || h.ExtType != fx.ExtType || h.ISPG != fx.ISPG {
				t.Errorf("header mode %d big %v nsymbt %d exttyp %q ispg %d, want %d %v %d %q %d",
					h.Mode, h.BigEndian, h.NSymBT, h.ExtType, h.ISPG, fx.Mode, fx.Big, fx.NSymBT, fx.ExtType, fx.ISPG)
			}
			if fx.Labels != nil && strings.Join(h.Labels, "|") != strings.Join(fx.Labels, "|") {
				t.Errorf("labels %q, want %q", h.Labels, fx.Labels)
			}
			vx := m.Voxel
			if vx.Known != fx.Known {
				t.Errorf("voxel %v known=%v, want known=%v (mrcfile: %v Å)", vx, vx.Known, fx.Known, fx.Voxel)
			}
			if fx.Known && (vx.Unit != "nm" || !nearlyEqual(vx.Z, fx.Voxel[0]/10) || !nearlyEqual(vx.Y, fx.Voxel[1]/10) || !nearlyEqual(vx.X, fx.Voxel[2]/10)) {
				t.Errorf("voxel %v, want %v Å in nm", vx, fx.Voxel)
			}
			if !fx.Known && vx != volume.Unknown() {
				t.Errorf("voxel %v, want volume.Unknown()", vx)
			}
			v, err := f.Read(context.Background(), volume.Whole(m.Shape))
			if err != nil {
				t.Fatal(err)
			}
			if v.Name != fx.File || v.DType() != m.DType || v.Voxel != m.Voxel {
				t.Errorf("read volume %q %v %v, want %q %v %v", v.Name, v.DType(), v.Voxel, fx.File, m.DType, m.Voxel)
			}
			if d := sameValues(v, readFloats(t, filepath.Join(dir, fx.Name+".expect"))); d != "" {
				t.Error(d)
			}
		})
	}
}

// box returns the box [z0,z1)×[y0,y1)×[x0,x1).
func box(z0, z1, y0, y1, x0, x1 int) volume.Box {
	return volume.Box{Z0: z0, Z1: z1, Y0: y0, Y1: y1, X0: x0, X1: x1}
}

// shapeBoxes returns boxes of every kind inside s: corners, interior,
// single rows, voxels and columns, xy, xz and yz planes, whole planes,
// whole rows of part of a plane, and everything.
func shapeBoxes(s volume.Shape) []volume.Box {
	h := func(n int) int { return n / 2 }
	return []volume.Box{
		box(0, 1, 0, 1, 0, 1),
		box(s.Z-1, s.Z, s.Y-1, s.Y, s.X-1, s.X),
		box(0, min(2, s.Z), 0, min(3, s.Y), 0, min(4, s.X)),
		box(h(s.Z), s.Z, h(s.Y), s.Y, h(s.X), s.X),
		box(s.Z/3, max(s.Z/3+1, 2*s.Z/3), s.Y/3, max(s.Y/3+1, 2*s.Y/3), s.X/3, max(s.X/3+1, 2*s.X/3)),
		box(h(s.Z), h(s.Z)+1, h(s.Y), h(s.Y)+1, 0, s.X),
		box(h(s.Z), h(s.Z)+1, 0, s.Y, 0, s.X),
		box(0, s.Z, h(s.Y), h(s.Y)+1, 0, s.X),
		box(0, s.Z, 0, s.Y, h(s.X), h(s.X)+1),
		box(0, s.Z, h(s.Y), h(s.Y)+1, h(s.X), h(s.X)+1),
		box(0, s.Z, 0, max(1, h(s.Y)), 0, s.X),
		volume.Whole(s),
	}
}

// TestReadRegions reads boxes of every kind from every fixture and compares
// them with slices of the volume mrcfile reads, and, for the fixtures
// fixtures.py slices itself, with NumPy's slices.
func TestReadRegions(t *testing.T) {
	dir, fixtures := fixtures(t)
	ctx := context.Background()
	for _, fx := range fixtures {
		t.Run(fx.Name, func(t *testing.T) {
			f, err := Open(filepath.Join(dir, fx.File))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s := f.Meta().Shape
			all := readFloats(t, filepath.Join(dir, fx.Name+".expect"))
			for _, b := range shapeBoxes(s) {
				v, err := f.Read(ctx, b)
				if err != nil {
					t.Fatalf("box %v: %v", b, err)
				}
				if v.Shape() != b.Shape() {
					t.Fatalf("box %v: shape %v", b, v.Shape())
				}
				if d := sameValues(v, sliceBox(all, s, b)); d != "" {
					t.Errorf("box %v: %s", b, d)
				}
			}
			for k, bb := range fx.Boxes {
				b := box(bb[0], bb[1], bb[2], bb[3], bb[4], bb[5])
				v, err := f.Read(ctx, b)
				if err != nil {
					t.Fatalf("box %v: %v", b, err)
				}
				want := readFloats(t, filepath.Join(dir, fmt.Sprintf("%s.box.%d.expect", fx.Name, k)))
				if d := sameValues(v, want); d != "" {
					t.Errorf("box %v against NumPy's slice: %s", b, d)
				}
			}
		})
	}
}

// TestWriteReadByMrcfile writes volumes of every element type and several
// voxel sizes and checks what mrcfile reads: mode, dtype family, values,
// voxel size and header statistics; mrcfile.validate must accept the
// file. niiv must read its own file back with the same values.
func TestWriteReadByMrcfile(t *testing.T) {
	py := mrcfilePython(t)
	dir := t.TempDir()
	s := volume.Shape{Z: 5, Y: 7, X: 11}
	nm := func(z, y, x float64, unit string) volume.Voxel {
		return volume.Voxel{Z: z, Y: y, X: x, Unit: unit, Known: true}
	}
	cases := []struct {
		name      string
		dt        volume.DType
		vox       volume.Voxel
		mode      int
		dtype     string       // mrcfile's
		readDType volume.DType // niiv's, reading its file back
		voxelÅ    [3]float64   // z, y, x; zero when unset
	}{
		{"uint8", volume.Uint8, nm(4, 0.4, 0.4, "nm"), 6, "uint16", volume.Uint16, [3]float64{40, 4, 4}},
		{"uint16", volume.Uint16, nm(0.05, 0.004, 0.004, "µm"), 6, "uint16", volume.Uint16, [3]float64{500, 40, 40}},
		{"int16", volume.Int16, nm(3.3, 0.42, 0.42, "nm"), 1, "int16", volume.Int16, [3]float64{33, 4.2, 4.2}},
		{"float32", volume.Float32, nm(50, 8, 6, "Å"), 2, "float32", volume.Float32, [3]float64{50, 8, 6}},
		{"float64", volume.Float64, nm(1, 1, 1, "nm"), 2, "float32", volume.Float32, [3]float64{10, 10, 10}},
		{"unknown voxel", volume.Int16, volume.Unknown(), 1, "int16", volume.Int16, [3]float64{}},
		{"pixels", volume.Float32, nm(8, 1, 1, "px"), 2, "float32", volume.Float32, [3]float64{}},
	}
	var paths []string
	vols := map[string]*volume.Volume{}
	for i, c := range cases {
		v := testVolume(t, c.dt, s, c.vox, int64(i))
		p := filepath.Join(dir, fmt.Sprintf("w%d.mrc", i))
		if err := Write(p, v); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		paths = append(paths, p)
		vols[p] = v
	}
	out, err := exec.Command(py, append([]string{filepath.Join("testdata", "readback.py")}, paths...)...).Output()
	if err != nil {
		t.Fatalf("readback.py: %v\n%s", err, out)
	}
	var res []struct {
		Valid                  bool
		Report                 string
		Mode                   int
		DType                  string
		Shape                  []int
		Big                    bool
		ISPG, NVersion         int
		Voxel                  [3]float64
		DMin, DMax, DMean, RMS float64
		Min, Max, Mean, Std    *float64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, p, v := res[i], paths[i], vols[paths[i]]
			if !r.Valid {
				t.Errorf("mrcfile.validate: %s", r.Report)
			}
			if r.Mode != c.mode || r.DType != c.dtype || fmt.Sprint(r.Shape) != fmt.Sprint([]int{s.Z, s.Y, s.X}) || r.Big || r.ISPG != 1 || r.NVersion != 20141 {
				t.Errorf("mrcfile reads mode %d %s %v big=%v ispg %d nversion %d, want mode %d %s %v", r.Mode, r.DType, r.Shape, r.Big, r.ISPG, r.NVersion, c.mode, c.dtype, s)
			}
			// float64 is stored as float32: compare with the rounded values.
			want := make([]float64, 0, s.Len())
			for z := range s.Z {
				for y := range s.Y {
					for x := range s.X {
						f := v.At(z, y, x)
						if c.dt == volume.Float64 {
							f = float64(float32(f))
						}
						want = append(want, f)
					}
				}
			}
			got := readFloats(t, p+".mrcfile")
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("mrcfile reads value %d as %v, want %v", j, got[j], want[j])
				}
			}
			for k := range 3 {
				if !nearlyEqual(r.Voxel[k], c.voxelÅ[k]) {
					t.Errorf("mrcfile voxel size %v Å (z, y, x), want %v", r.Voxel, c.voxelÅ)
					break
				}
			}
			if r.Min == nil || float32(r.DMin) != float32(*r.Min) || float32(r.DMax) != float32(*r.Max) ||
				math.Abs(r.DMean-*r.Mean) > 1e-5*math.Abs(*r.Mean)+1e-6 || math.Abs(r.RMS-*r.Std) > 1e-5**r.Std+1e-6 {
				t.Errorf("header statistics min %v max %v mean %v rms %v; NumPy %v %v %v %v", r.DMin, r.DMax, r.DMean, r.RMS, *r.Min, *r.Max, *r.Mean, *r.Std)
			}
			// And niiv reads its own file back.
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m := f.Meta()
			if m.DType != c.readDType || m.Shape != s {
				t.Errorf("niiv reads %v %v, want %v %v", m.DType, m.Shape, c.readDType, s)
			}
			if (c.voxelÅ != [3]float64{}) != m.Voxel.Known {
				t.Errorf("niiv reads voxel %v", m.Voxel)
			} else if m.Voxel.Known && (!nearlyEqual(m.Voxel.Z*10, c.voxelÅ[0]) || !nearlyEqual(m.Voxel.Y*10, c.voxelÅ[1]) || !nearlyEqual(m.Voxel.X*10, c.voxelÅ[2])) {
				t.Errorf("niiv reads voxel %v, want %v Å", m.Voxel, c.voxelÅ)
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

// testVolume returns a volume of type dt whose values span the type's
// range (negative ones for int16 and floats, above 255 for uint16).
func testVolume(t testing.TB, dt volume.DType, s volume.Shape, vox volume.Voxel, seed int64) *volume.Volume {
	t.Helper()
	v, err := makeVolume(dt, s, vox, seed)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// makeVolume is testVolume for callers without a testing.TB.
func makeVolume(dt volume.DType, s volume.Shape, vox volume.Voxel, seed int64) (*volume.Volume, error) {
	n := s.Len()
	var data any
	val := func(i int) float64 { return float64((int64(i)*2654435761 + seed*97) % 65536) }
	switch dt {
	case volume.Uint8:
		d := make([]uint8, n)
		for i := range d {
			d[i] = uint8(val(i))
		}
		d[0], d[n-1] = 0, 255
		data = d
	case volume.Uint16:
		d := make([]uint16, n)
		for i := range d {
			d[i] = uint16(val(i))
		}
		d[n-1] = 65535
		data = d
	case volume.Int16:
		d := make([]int16, n)
		for i := range d {
			d[i] = int16(val(i) - 32768)
		}
		d[0], d[n-1] = -32768, 32767
		data = d
	case volume.Float32:
		d := make([]float32, n)
		for i := range d {
			d[i] = float32((val(i) - 30000) / 7.3)
		}
		data = d
	case volume.Float64:
		d := make([]float64, n)
		for i := range d {
			d[i] = (val(i) - 30000) / 7.3e5
		}
		data = d
	}
	return volume.New(s, data, vox)
}
