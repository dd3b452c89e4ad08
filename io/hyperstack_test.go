package volio

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/niiv/niiv/io/omezarr"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// hyperValue is the voxel every fixture holds at (t, c, z, y, x), so that a
// voxel read from the wrong place is caught.
func hyperValue(t, c, z, y, x int) float64 {
	return float64(t*10000 + c*1000 + z*100 + y*10 + x)
}

// hyperScript writes, with tifffile, one file per case: sys.argv[1] is the
// folder; each case is name, writer (imagej or ome), axes and sizes.
const hyperScript = `
import sys, os, tifffile, numpy as np
d = sys.argv[1]
cases = [
    ("ij_tzcyx", "imagej", "TZCYX"), ("ij_zcyx", "imagej", "ZCYX"),
    ("ij_tzyx", "imagej", "TZYX"), ("ij_tcyx", "imagej", "TCYX"), ("ij_cyx", "imagej", "CYX"),
    ("ome_tczyx", "ome", "TCZYX"), ("ome_czyx", "ome", "CZYX"), ("ome_zcyx", "ome", "ZCYX"),
    ("ome_tzcyx", "ome", "TZCYX"), ("ome_ctzyx", "ome", "CTZYX"),
    ("ome_tzyx", "ome", "TZYX"), ("ome_ztyx", "ome", "ZTYX"),
]
size = dict(T=2, C=3, Z=4, Y=5, X=6)
mult = dict(T=10000, C=1000, Z=100, Y=10, X=1)
for name, kind, axes in cases:
    shape = [size[a] for a in axes]
    a = np.zeros(shape, np.uint16)
    for i, ax in enumerate(axes):
        r = [1] * len(axes); r[i] = shape[i]
        a += (np.arange(shape[i]) * mult[ax]).astype(np.uint16).reshape(r)
    p = os.path.join(d, name + ".tif")
    if kind == "imagej":
        md = {"axes": axes}
        if "C" in axes:
            luts = []
            for col in [(0, 1, 0), (1, 0, 1), (0, 1, 1)]:
                l = np.zeros((3, 256), np.uint8)
                for k in range(3):
                    l[k] = np.arange(256) * col[k]
                luts.append(l)
            md["LUTs"] = luts
            md["Ranges"] = (0.0, 10.0, 1.0, 20.0, 2.0, 30.0)
        tifffile.imwrite(p, a, imagej=True, resolution=(10, 10), metadata=dict(md, spacing=0.3, unit="um"))
    else:
        md = {"axes": axes, "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1, "PhysicalSizeZ": 0.3}
        if "C" in axes:
            md["Channel"] = {"Name": ["DAPI", "GFP", "RFP"]}
        tifffile.imwrite(p, a, ome=True, photometric="minisblack", metadata=md)
`

func TestOpenHyperstackTifffile(t *testing.T) {
	py := tifffilePython(t)
	dir := t.TempDir()
	if out, err := exec.Command(py, "-c", hyperScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("tifffile: %v\n%s", err, out)
	}
	cases := []struct {
		name  string
		t, c  int
		names []string
	}{
		{"ij_tzcyx", 2, 3, nil}, {"ij_zcyx", 1, 3, nil}, {"ij_tzyx", 2, 1, nil},
		{"ij_tcyx", 2, 3, nil}, {"ij_cyx", 1, 3, nil},
		{"ome_tczyx", 2, 3, []string{"DAPI", "GFP", "RFP"}}, {"ome_czyx", 1, 3, []string{"DAPI", "GFP", "RFP"}},
		{"ome_zcyx", 1, 3, []string{"DAPI", "GFP", "RFP"}}, {"ome_tzcyx", 2, 3, []string{"DAPI", "GFP", "RFP"}},
		{"ome_ctzyx", 2, 3, []string{"DAPI", "GFP", "RFP"}},
		{"ome_tzyx", 2, 1, nil}, {"ome_ztyx", 2, 1, nil},
	}
	for _, c := range cases {
		for _, lazy := range []Lazy{LazyNever, LazyAlways} {
			t.Run(c.name+map[Lazy]string{LazyNever: "/memory", LazyAlways: "/lazy"}[lazy], func(t *testing.T) {
				path := filepath.Join(dir, c.name+".tif")
				h, err := OpenHyperstack(path, Options{Lazy: lazy})
				if err != nil {
					t.Fatal(err)
				}
				if h.Times() != c.t || h.Channels() != c.c {
					t.Fatalf("%d time points × %d channels, want %d × %d", h.Times(), h.Channels(), c.t, c.c)
				}
				nz := 4
				if strings.Contains(c.name, "cyx") && !strings.Contains(c.name, "z") {
					nz = 1
				}
				if s := h.Shape(); s != (volume.Shape{Z: nz, Y: 5, X: 6}) {
					t.Fatalf("shape %v", s)
				}
				if vx := h.Voxel(); nz > 1 && (!vx.Known || vx.Z != 0.3 || vx.X != 0.1) {
					t.Errorf("voxel %v, want 0.3 × 0.1 × 0.1 µm", vx)
				}
				for ti := range c.t {
					for ci := range c.c {
						v := h.At(ti, ci)
						if v.Lazy() != (lazy == LazyAlways) {
							t.Fatalf("lazy = %v", v.Lazy())
						}
						for z := range nz {
							for y := range 5 {
								for x := range 6 {
									if got, want := v.At(z, y, x), hyperValue(ti, ci, z, y, x); got != want {
										t.Fatalf("(t %d, c %d, z %d, y %d, x %d) = %v, want %v", ti, ci, z, y, x, got, want)
									}
								}
							}
						}
					}
				}
				for i, n := range c.names {
					if got := h.Channel(i).Name; got != n {
						t.Errorf("channel %d name %q, want %q", i, got, n)
					}
				}
				if strings.HasPrefix(c.name, "ij_") && c.c == 3 {
					want := []volume.Color{volume.Green, volume.Magenta, volume.Cyan}
					for i := range 3 {
						ch := h.Channel(i)
						if !ch.ColorKnown || ch.Color != want[i] {
							t.Errorf("channel %d colour %v (known %v), want %v from the LUT", i, ch.Color, ch.ColorKnown, want[i])
						}
						if !ch.HasRange || ch.Min != float64(i) || ch.Max != float64(10*(i+1)) {
							t.Errorf("channel %d range %v..%v (%v), want %d..%d", i, ch.Min, ch.Max, ch.HasRange, i, 10*(i+1))
						}
					}
				}
			})
		}
	}
}

// TestOpenTimeSeriesFirst checks that the one-volume readers read the
// first time point of a single-channel time series (ImageJ or OME-TIFF, z
// or time varying fastest), never its pages as z.
func TestOpenTimeSeriesFirst(t *testing.T) {
	py := tifffilePython(t)
	dir := t.TempDir()
	if out, err := exec.Command(py, "-c", hyperScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("tifffile: %v\n%s", err, out)
	}
	for _, name := range []string{"ij_tzyx", "ome_tzyx", "ome_ztyx"} {
		for _, lazy := range []Lazy{LazyNever, LazyAlways} {
			path := filepath.Join(dir, name+".tif")
			v, err := OpenWith(path, Options{Lazy: lazy})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if v.Shape() != (volume.Shape{Z: 4, Y: 5, X: 6}) {
				t.Fatalf("%s: shape %v, want the first time point's 4×5×6", name, v.Shape())
			}
			for z := range 4 {
				if got, want := v.At(z, 4, 5), hyperValue(0, 0, z, 4, 5); got != want {
					t.Errorf("%s (lazy %v): (z %d, y 4, x 5) = %v, want %v", name, lazy == LazyAlways, z, got, want)
				}
			}
			info, err := Inspect(path)
			if err != nil || info.Shape.Z != 4 || info.Times != 2 || !strings.Contains(info.Detail, "time point 1 of 2") {
				t.Errorf("%s: inspect %+v, %v", name, info, err)
			}
		}
	}
}

func TestOpenHyperstackSingle(t *testing.T) {
	dir := t.TempDir()
	v, _ := volume.New(volume.Shape{Z: 2, Y: 3, X: 4}, make([]uint8, 24), volume.Unknown())
	path := filepath.Join(dir, "one.tif")
	if err := WriteTIFF(path, v); err != nil {
		t.Fatal(err)
	}
	h, err := OpenHyperstack(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Times() != 1 || h.Channels() != 1 || h.Shape() != v.Shape() || h.Channel(0).Color != volume.White {
		t.Fatalf("got %v, colour %v", h, h.Channel(0).Color)
	}
}

func TestOpenHyperstackNPYAxes(t *testing.T) {
	dir := t.TempDir()
	// A (c=2, z=3, t=2, y=4, x=5) array: an unusual order on purpose.
	dims := []int{2, 3, 2, 4, 5}
	n := 2 * 3 * 2 * 4 * 5
	data := make([]float32, n)
	i := 0
	for c := range 2 {
		for z := range 3 {
			for tt := range 2 {
				for y := range 4 {
					for x := range 5 {
						data[i] = float32(hyperValue(tt, c, z, y, x))
						i++
					}
				}
			}
		}
	}
	path := filepath.Join(dir, "a.npy")
	writeRawNPY(t, path, "<f4", dims, data)
	npz := filepath.Join(dir, "a.npz")
	if err := os.WriteFile(npz, npzBytes(t, deflated("stack.npy", rawNPY("<f4", dims, data))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{path, npz} {
		h, err := OpenHyperstack(path, Options{Axes: "CZTYX"})
		if err != nil {
			t.Fatal(err)
		}
		checkNPYHyper(t, h)
	}
}

// checkNPYHyper checks the hyperstack TestOpenHyperstackNPYAxes reads.
func checkNPYHyper(t *testing.T, h *volume.Hyperstack) {
	t.Helper()
	if h.Times() != 2 || h.Channels() != 2 || h.Shape() != (volume.Shape{Z: 3, Y: 4, X: 5}) {
		t.Fatalf("got %v", h)
	}
	for tt := range 2 {
		for c := range 2 {
			for z := range 3 {
				for y := range 4 {
					for x := range 5 {
						if got, want := h.At(tt, c).At(z, y, x), hyperValue(tt, c, z, y, x); got != want {
							t.Fatalf("(t %d, c %d, z %d, y %d, x %d) = %v, want %v", tt, c, z, y, x, got, want)
						}
					}
				}
			}
		}
	}
}

func TestOpenHyperstackBadInput(t *testing.T) {
	dir := t.TempDir()
	npy4 := filepath.Join(dir, "four.npy")
	writeRawNPY(t, npy4, "<f4", []int{2, 3, 4, 5}, make([]float32, 120))
	tif := filepath.Join(dir, "one.tif")
	v, _ := volume.New(volume.Shape{Z: 2, Y: 3, X: 4}, make([]uint8, 24), volume.Unknown())
	if err := WriteTIFF(tif, v); err != nil {
		t.Fatal(err)
	}
	// An ImageJ description whose channels × slices disagree with images=.
	lying := filepath.Join(dir, "lying.tif")
	writeHyperTIFFDesc(t, lying, "ImageJ=1.11a\nimages=6\nchannels=4\nslices=2\nhyperstack=true\n", 6)
	short := filepath.Join(dir, "short.tif")
	writeHyperTIFFDesc(t, short, "ImageJ=1.11a\nimages=8\nchannels=4\nslices=2\nhyperstack=true\n", 6)
	order := filepath.Join(dir, "order.tif")
	writeHyperTIFFDesc(t, order, "ImageJ=1.11a\nimages=6\nchannels=3\nslices=2\norder=xyqzt\n", 6)
	cases := []struct {
		name, path string
		o          Options
		want       string
	}{
		{"4-D npy without axes", npy4, Options{}, "--axes czyx"},
		{"unknown axis letter", npy4, Options{Axes: "qzyx"}, `unknown axis letter 'q'`},
		{"axes count", npy4, Options{Axes: "zyx"}, "name 3 dimensions, the array has 4"},
		{"axis twice", npy4, Options{Axes: "zzyx"}, "named twice"},
		{"no z", npy4, Options{Axes: "tcyx"}, "z, y and x are required"},
		{"axes on TIFF", tif, Options{Axes: "czyx"}, "names its own axes"},
		{"images disagree", lying, Options{}, "channel count disagrees"},
		{"pages missing", short, Options{}, "channel count disagrees"},
		{"unknown order", order, Options{}, `order="xyqzt"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenHyperstack(c.path, c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) {
				t.Fatalf("err = %v, want one naming the file and containing %q", err, c.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%T is not a *volio.Error", err)
			}
		})
	}
}

// writeHyperTIFFDesc writes pages 2×3 uint8 pages with the ImageJ
// description desc.
func writeHyperTIFFDesc(t *testing.T, path, desc string, pages int) {
	t.Helper()
	v, _ := volume.New(volume.Shape{Z: pages, Y: 2, X: 3}, make([]uint8, pages*6), volume.Unknown())
	l := layoutFor(v)
	l.desc = desc
	var b strings.Builder
	if err := writeTIFFPages(&b, &l, pagesOf(v), false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeRawNPY writes a little-endian float32 .npy of the given dimensions.
func writeRawNPY(t *testing.T, path, descr string, dims []int, data []float32) {
	t.Helper()
	if err := os.WriteFile(path, rawNPY(descr, dims, data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rawNPY returns the bytes of a little-endian float32 .npy.
func rawNPY(descr string, dims []int, data []float32) []byte {
	b := make([]byte, 0, 4*len(data))
	for _, f := range data {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	shape := make([]string, len(dims))
	for i, d := range dims {
		shape[i] = strconv.Itoa(d)
	}
	return npyBytes(descr, false, "("+strings.Join(shape, ", ")+")", b)
}

// testHyper returns a T×C hyperstack of uint16 volumes holding
// hyperValue, with named, coloured channels.
func testHyper(t *testing.T, nt, nc int) *volume.Hyperstack { return testHyperT(t, nt, nc) }

// testHyperT is testHyper for tests and fuzzers.
func testHyperT(t testing.TB, nt, nc int) *volume.Hyperstack {
	t.Helper()
	s := volume.Shape{Z: 4, Y: 5, X: 6}
	vox := volume.Voxel{Z: 0.3, Y: 0.1, X: 0.1, Unit: "µm", Known: true}
	vols := make([][]*volume.Volume, nt)
	for ti := range nt {
		vols[ti] = make([]*volume.Volume, nc)
		for c := range nc {
			d := make([]uint16, s.Len())
			i := 0
			for z := range s.Z {
				for y := range s.Y {
					for x := range s.X {
						d[i] = uint16(hyperValue(ti, c, z, y, x))
						i++
					}
				}
			}
			v, err := volume.New(s, d, vox)
			if err != nil {
				t.Fatal(err)
			}
			vols[ti][c] = v
		}
	}
	cols := []volume.Color{{R: 0, G: 255, B: 0}, {R: 255, G: 0, B: 255}, {R: 255, G: 128, B: 0}}
	chs := make([]volume.Channel, nc)
	for c := range chs {
		chs[c] = volume.Channel{Name: []string{"DAPI", "GFP", "RFP"}[c%3], Color: cols[c%3], ColorKnown: true, Min: float64(c), Max: float64(1000 * (c + 1)), HasRange: true}
	}
	h, err := volume.NewHyperstack("test", vols, chs)
	if err != nil {
		t.Fatal(err)
	}
	h.TimeStep, h.TimeUnit = 30, "s"
	return h
}

// checkHyper compares every voxel and the channel colours of got and want.
// names and ranges say whether the format keeps channel names and display
// ranges.
func checkHyper(t *testing.T, got, want *volume.Hyperstack, names, ranges bool) {
	t.Helper()
	if got.Times() != want.Times() || got.Channels() != want.Channels() || got.Shape() != want.Shape() {
		t.Fatalf("got %v, want %v", got, want)
	}
	s := want.Shape()
	for ti := range want.Times() {
		for c := range want.Channels() {
			for z := range s.Z {
				for y := range s.Y {
					for x := range s.X {
						if g, w := got.At(ti, c).At(z, y, x), want.At(ti, c).At(z, y, x); g != w {
							t.Fatalf("(t %d, c %d, z %d, y %d, x %d) = %v, want %v", ti, c, z, y, x, g, w)
						}
					}
				}
			}
		}
	}
	for c := range want.Channels() {
		g, w := got.Channel(c), want.Channel(c)
		if g.Color != w.Color || !g.ColorKnown || ranges && (g.Min != w.Min || g.Max != w.Max || !g.HasRange) {
			t.Errorf("channel %d: %+v, want %+v", c, g, w)
		}
		if names && g.Name != w.Name {
			t.Errorf("channel %d name %q, want %q", c, g.Name, w.Name)
		}
	}
}

func TestHyperstackRoundTrip(t *testing.T) {
	for _, c := range []struct {
		ext    string
		nt, nc int
		ver    string
		shard  volume.Shape
	}{{".tif", 3, 2, "", volume.Shape{}}, {".tif", 1, 3, "", volume.Shape{}}, {".tif", 2, 1, "", volume.Shape{}},
		{".ome.tif", 3, 2, "", volume.Shape{}}, {".ome.tif", 1, 3, "", volume.Shape{}},
		{".zarr", 3, 2, "", volume.Shape{}}, {".zarr", 1, 3, "", volume.Shape{}},
		{".zarr", 2, 2, "0.5", volume.Shape{}}, {".zarr", 2, 3, "0.5", volume.Shape{Z: 4, Y: 6, X: 8}}} {
		t.Run(fmt.Sprintf("%s%s/t%d_c%d", c.ext, c.ver, c.nt, c.nc), func(t *testing.T) {
			h := testHyper(t, c.nt, c.nc)
			path := filepath.Join(t.TempDir(), "h"+c.ext)
			o := omezarr.Options{Chunk: volume.Shape{Z: 2, Y: 3, X: 4}, Version: c.ver, Shard: c.shard}
			if err := SaveHyperstack(context.Background(), path, h, o); err != nil {
				t.Fatal(err)
			}
			for _, lazy := range []Lazy{LazyNever, LazyAlways} {
				got, err := OpenHyperstack(path, Options{Lazy: lazy})
				if err != nil {
					t.Fatal(err)
				}
				checkHyper(t, got, h, true, c.ext != ".ome.tif")
				vx := got.Voxel()
				if vx.Unit == "nm" { // the OME-Zarr reader gives nm
					vx.Z, vx.X, vx.Unit = vx.Z/1000, vx.X/1000, "µm"
				}
				if !vx.Known || math.Abs(vx.Z-0.3) > 1e-9 || math.Abs(vx.X-0.1) > 1e-9 || vx.Unit != "µm" {
					t.Errorf("voxel %v", vx)
				}
				if c.nt > 1 && (got.TimeStep != 30 || got.TimeUnit != "s") {
					t.Errorf("time step %v %s, want 30 s", got.TimeStep, got.TimeUnit)
				}
			}
		})
	}
}

// TestHyperstackReference reads niiv's hyperstack TIFF with tifffile and
// its OME-Zarr with zarr-python: axes, voxels and channel colours.
func TestHyperstackReference(t *testing.T) {
	py := tifffilePython(t)
	dir := t.TempDir()
	h := testHyper(t, 2, 3)
	tif, zp, ome := filepath.Join(dir, "h.tif"), filepath.Join(dir, "h.zarr"), filepath.Join(dir, "h.ome.tif")
	for _, p := range []string{tif, zp, ome} {
		if err := SaveHyperstack(context.Background(), p, h, omezarr.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	const script = `
import sys, json, tifffile, numpy as np
out = {}
with tifffile.TiffFile(sys.argv[1]) as tf:
    s = tf.series[0]
    a = s.asarray()
    md = tf.imagej_metadata
    out["tif"] = dict(axes=s.axes, shape=list(a.shape), v=int(a[1, 3, 2, 4, 5]),
        colors=[[int(l[k][255]) for k in range(3)] for l in md["LUTs"]], ranges=list(md["Ranges"]),
        mode=md.get("mode"), labels=list(md.get("Labels", []))[:4])
with tifffile.TiffFile(sys.argv[3]) as tf:
    s = tf.series[0]
    a = s.asarray()
    import re
    out["ome"] = dict(is_ome=tf.is_ome, axes=s.axes, shape=list(a.shape), v=int(a[1, 3, 2, 4, 5]),
        names=re.findall(r'Channel ID="[^"]*" Name="([^"]*)"', tf.ome_metadata))
try:
    import zarr
except ImportError:
    zarr = None
if zarr is not None:
    g = zarr.open_group(sys.argv[2], mode="r")
    a = g["0"][:]
    at = g.attrs.asdict()
    out["zarr"] = dict(shape=list(a.shape), v=int(a[1, 2, 3, 4, 5]),
        axes=[x["name"] for x in at["multiscales"][0]["axes"]],
        colors=[c["color"] for c in at["omero"]["channels"]], labels=[c["label"] for c in at["omero"]["channels"]])
print(json.dumps(out))
`
	out, err := exec.Command(py, "-c", script, tif, zp, ome).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var got struct {
		Tif struct {
			Axes   string
			Shape  []int
			V      int
			Colors [][3]int
			Ranges []float64
			Mode   string
			Labels []string
		}
		OME struct {
			IsOME bool `json:"is_ome"`
			Axes  string
			Shape []int
			V     int
			Names []string
		}
		Zarr *struct {
			Shape  []int
			V      int
			Axes   []string
			Colors []string
			Labels []string
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Tif.Axes != "TZCYX" || fmt.Sprint(got.Tif.Shape) != "[2 4 3 5 6]" || got.Tif.V != int(hyperValue(1, 2, 3, 4, 5)) {
		t.Errorf("tifffile reads %+v", got.Tif)
	}
	if fmt.Sprint(got.Tif.Colors) != "[[0 255 0] [255 0 255] [255 128 0]]" || fmt.Sprint(got.Tif.Ranges) != "[0 1000 1 2000 2 3000]" || got.Tif.Mode != "composite" {
		t.Errorf("tifffile reads LUT colours %v, ranges %v, mode %q", got.Tif.Colors, got.Tif.Ranges, got.Tif.Mode)
	}
	if fmt.Sprint(got.Tif.Labels) != "[DAPI GFP RFP DAPI]" {
		t.Errorf("tifffile reads slice labels %q, want the channel names", got.Tif.Labels)
	}
	if o := got.OME; !o.IsOME || o.Axes != "TZCYX" || fmt.Sprint(o.Shape) != "[2 4 3 5 6]" || o.V != int(hyperValue(1, 2, 3, 4, 5)) || fmt.Sprint(o.Names) != "[DAPI GFP RFP]" {
		t.Errorf("tifffile reads the OME-TIFF as %+v", o)
	}
	if got.Zarr == nil {
		t.Log("no zarr module: OME-Zarr not checked against zarr-python")
		return
	}
	z := got.Zarr
	if fmt.Sprint(z.Shape) != "[2 3 4 5 6]" || z.V != int(hyperValue(1, 2, 3, 4, 5)) || fmt.Sprint(z.Axes) != "[t c z y x]" {
		t.Errorf("zarr-python reads %+v", z)
	}
	if fmt.Sprint(z.Colors) != "[00FF00 FF00FF FF8000]" || fmt.Sprint(z.Labels) != "[DAPI GFP RFP]" {
		t.Errorf("zarr-python reads omero colours %v, labels %v", z.Colors, z.Labels)
	}
}

// TestImageJMetadataMalformed checks that broken ImageJ display metadata
// (lookup tables, ranges, labels) is ignored, never fails the read.
func TestImageJMetadataMalformed(t *testing.T) {
	le := binary.LittleEndian
	good := func() []byte {
		b := le.AppendUint32(nil, ijMagic)
		b = le.AppendUint32(le.AppendUint32(b, ijLUTs), 2)
		return b
	}
	cases := map[string]struct {
		counts []uint32
		data   []byte
	}{
		"wrong magic":         {[]uint32{12}, append(le.AppendUint32(nil, 0x12345678), make([]byte, 8)...)},
		"counts past data":    {[]uint32{12, 768, 768}, good()},
		"header past data":    {[]uint32{1 << 20}, good()},
		"short lookup tables": {[]uint32{12, 10, 10}, append(good(), make([]byte, 20)...)},
		"too many entries":    {[]uint32{12, 768}, append(good(), make([]byte, 768)...)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.tif")
			v, _ := volume.New(volume.Shape{Z: 4, Y: 2, X: 3}, make([]uint8, 24), volume.Unknown())
			l := layoutFor(v)
			l.desc = "ImageJ=1.11a\nimages=4\nchannels=2\nslices=2\nhyperstack=true\n"
			var cb []byte
			for _, n := range c.counts {
				cb = le.AppendUint32(cb, n)
			}
			l.extra = []tiffTag{{tagIJMetaCounts, tLong, uint64(len(c.counts)), cb}, {tagIJMeta, tByte, uint64(len(c.data)), c.data}}
			if err := writeTIFFFile(path, &l, pagesOf(v)); err != nil {
				t.Fatal(err)
			}
			h, err := OpenHyperstack(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if h.Channels() != 2 || h.Channel(0).ColorKnown || h.Channel(1).Color != volume.Magenta {
				t.Errorf("got %v, channel 0 %+v, channel 1 %+v", h, h.Channel(0), h.Channel(1))
			}
		})
	}
}

// FuzzTIFFHyperstack feeds arbitrary bytes to OpenHyperstack through a
// file: it must never panic or allocate past MaxBytes, and reading into
// memory and lazily must give the same hyperstack.
//
//	go test ./io -run '^$' -fuzz FuzzTIFFHyperstack -fuzztime 60s
func FuzzTIFFHyperstack(f *testing.F) {
	old := MaxBytes
	MaxBytes = 16 << 20
	f.Cleanup(func() { MaxBytes = old })
	dir := f.TempDir()
	// Seeds: niiv's ImageJ hyperstack and OME-TIFF writers, and fixtures.
	h := testHyperT(f, 2, 2)
	for _, name := range []string{"h.tif", "h.ome.tif"} {
		p := filepath.Join(dir, name)
		if err := SaveHyperstack(context.Background(), p, h, omezarr.Options{}); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, fx := range []fixture{
		{w: 6, h: 4, z: 6, desc: "ImageJ=1.11a\nimages=6\nchannels=3\nslices=2\nhyperstack=true\norder=xyzct\n"},
		{w: 6, h: 4, z: 4, bps: 16, desc: `<OME><Image><Pixels DimensionOrder="XYTCZ" SizeZ="1" SizeC="2" SizeT="2"><Channel Name="a" Color="-16776961"/><Channel/></Pixels></Image></OME>`},
	} {
		f.Add(fx.build())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.tif")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mem, merr := OpenHyperstack(p, Options{Lazy: LazyNever})
		lazy, lerr := OpenHyperstack(p, Options{Lazy: LazyAlways})
		if merr != nil || lerr != nil {
			return
		}
		if mem.Times() != lazy.Times() || mem.Channels() != lazy.Channels() || mem.Shape() != lazy.Shape() {
			t.Fatalf("in memory %v, lazily %v", mem, lazy)
		}
		if mem.Bytes() > MaxBytes {
			t.Fatalf("read %d bytes, limit %d", mem.Bytes(), MaxBytes)
		}
		s := mem.Shape()
		tt, c := mem.Times()-1, mem.Channels()-1
		if a, b := mem.At(tt, c).At(s.Z-1, s.Y-1, s.X-1), lazy.At(tt, c).At(s.Z-1, s.Y-1, s.X-1); a != b && !(a != a && b != b) {
			t.Fatalf("last voxel %v in memory, %v lazily", a, b)
		}
	})
}
