package zarr

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// TestVoxelUnits checks voxel sizes from OME axes units and scales, in nm,
// and that unusable ones give an unknown size and a note.
func TestVoxelUnits(t *testing.T) {
	cases := []struct {
		name  string
		axes  string
		scale string
		want  []float64 // z, y, x in nm; nil: unknown
		note  string
	}{
		{"nanometer", `"nanometer", "nanometer", "nanometer"`, "[40, 4, 4]", []float64{40, 4, 4}, ""},
		{"mixed", `"micrometer", "nanometer", "nanometer"`, "[0.05, 4, 4]", []float64{50, 4, 4}, ""},
		{"angstrom", `"angstrom", "angstrom", "angstrom"`, "[300, 10, 10]", []float64{30, 1, 1}, ""},
		{"millimeter", `"millimeter", "millimeter", "millimeter"`, "[0.001, 0.0005, 0.0005]", []float64{1000, 500, 500}, ""},
		{"abbreviations", `"µm", "um", "nm"`, "[1, 0.01, 10]", []float64{1000, 10, 10}, ""},
		{"no unit", `"", "nanometer", "nanometer"`, "[40, 4, 4]", nil, "no unit along z"},
		{"unknown unit", `"parsec", "parsec", "parsec"`, "[40, 4, 4]", nil, `unit "parsec" along z`},
		{"negative", `"nanometer", "nanometer", "nanometer"`, "[40, -4, 4]", nil, "not a positive size"},
		{"zero", `"nanometer", "nanometer", "nanometer"`, "[0, 4, 4]", nil, "not a positive size"},
		{"overflow", `"meter", "meter", "meter"`, "[1e300, 1, 1]", nil, "not a usable size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a.zarr")
			units := strings.Split(c.axes, ", ")
			axes := `[{"name": "z", "type": "space", "unit": ` + units[0] + `}, {"name": "y", "type": "space", "unit": ` + units[1] + `}, {"name": "x", "type": "space", "unit": ` + units[2] + `}]`
			writeTree(t, dir, omeGroup(ome(axes, `[{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": `+c.scale+`}]}]`)))
			im, err := Open(dir, Options{Cache: NewCache(1 << 20)})
			if err != nil {
				t.Fatal(err)
			}
			checkVoxel(t, 0, im.Meta().Voxel, c.want)
			if c.want != nil && im.Meta().Voxel.Source != "OME-Zarr multiscales" {
				t.Errorf("voxel source %q", im.Meta().Voxel.Source)
			}
			notes := strings.Join(im.Notes(), "\n")
			if c.note == "" && notes != "" || !strings.Contains(notes, c.note) {
				t.Errorf("notes %q, want %q", notes, c.note)
			}
		})
	}
}

// layoutCase is an array or group written by a test, opened with opts.
type layoutCase struct {
	name     string
	build    func(t *testing.T, dir string) // dir is the container, "a.zarr"
	open     string                         // path inside the container; "" for itself
	opts     Options
	names    []string // level names
	shapes   []volume.Shape
	voxels   [][]float64 // per level; nil entries: unknown
	channels int
	times    int
	notes    []string // substrings, one per note
	// read, when set, is the (t, c) slab of data read by level 0.
	read func(t *testing.T, im *Image)
}

// TestOpenLayouts checks hierarchies beyond a plain array: bioformats2raw
// containers, multiscales outside "ome" in v3, N5 multiscales with
// "transform", t and c axes, dimension names, a level opened directly.
func TestOpenLayouts(t *testing.T) {
	d5 := []int{2, 3, 2, 3, 4}
	data5 := pattern(prod(d5))
	cases := []layoutCase{
		{
			name: "bioformats2raw",
			build: func(t *testing.T, dir string) {
				writeTree(t, dir, map[string]string{".zgroup": `{"zarr_format": 2}`, ".zattrs": `{"bioformats2raw.layout": 3}`})
				tree := omeGroup(ome(goodAxes, `[{"path": "0", "coordinateTransformations": `+scale1+`}, {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [40, 8, 8]}]}]`))
				writeTree(t, filepath.Join(dir, "0"), tree)
			},
			names:  []string{"a.zarr/0/0", "a.zarr/0/1"},
			shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}, {Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{{40, 4, 4}, {40, 8, 8}}, channels: 1, times: 1,
			notes: []string{"bioformats2raw container: image 0 is shown"},
		},
		{
			name: "v3 group with multiscales outside ome",
			build: func(t *testing.T, dir string) {
				writeJSON(t, filepath.Join(dir, "zarr.json"), map[string]any{"zarr_format": 3, "node_type": "group", "attributes": map[string]any{
					"multiscales": json.RawMessage(ome(goodAxes, `[{"path": "s0", "coordinateTransformations": `+scale1+`}]`)),
				}})
				writeV3(t, filepath.Join(dir, "s0"), tShape, tChunk, nil, pattern(prod(tShape)))
			},
			names: []string{"a.zarr/s0"}, shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{{40, 4, 4}}, channels: 1, times: 1,
		},
		{
			name: "v3 level opened directly",
			build: func(t *testing.T, dir string) {
				writeJSON(t, filepath.Join(dir, "zarr.json"), map[string]any{"zarr_format": 3, "node_type": "group", "attributes": map[string]any{
					"ome": map[string]any{"version": "0.5", "multiscales": json.RawMessage(ome(goodAxes, `[{"path": "s0", "coordinateTransformations": `+scale1+`}]`))},
				}})
				writeV3(t, filepath.Join(dir, "s0"), tShape, tChunk, nil, pattern(prod(tShape)))
			},
			open:  "s0",
			names: []string{"a.zarr/s0"}, shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{{40, 4, 4}}, channels: 1, times: 1,
		},
		{
			name: "n5 multiscales with transform",
			build: func(t *testing.T, dir string) {
				writeJSON(t, filepath.Join(dir, "attributes.json"), map[string]any{"n5": "2.5.1", "multiscales": []any{map[string]any{
					"datasets": []any{
						map[string]any{"path": "s0", "transform": map[string]any{"axes": []string{"z", "y", "x"}, "scale": []float64{40, 4, 4}, "units": []string{"nm", "nm", "nm"}}},
						map[string]any{"path": "s1", "transform": map[string]any{"axes": []string{"x", "y", "z"}, "scale": []float64{8, 8, 40}, "units": []string{"nm", "nm", "nm"}, "ordering": "F"}},
					},
				}}})
				writeN5(t, filepath.Join(dir, "s0"), tShape, tChunk, pattern(prod(tShape)))
				writeN5(t, filepath.Join(dir, "s1"), []int{4, 3, 4}, tChunk, pattern(48))
			},
			names:  []string{"a.zarr/s0", "a.zarr/s1"},
			shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}, {Z: 4, Y: 3, X: 4}},
			voxels: [][]float64{{40, 4, 4}, {40, 8, 8}}, channels: 1, times: 1,
		},
		{
			name: "t and c axes",
			build: func(t *testing.T, dir string) {
				axes := `[{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}, {"name": "z", "type": "space", "unit": "nanometer"}, {"name": "y", "type": "space", "unit": "nanometer"}, {"name": "x", "type": "space", "unit": "nanometer"}]`
				writeTree(t, dir, map[string]string{".zgroup": `{"zarr_format": 2}`, ".zattrs": `{"multiscales": ` + ome(axes, `[{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 30, 3, 3]}]}]`) + `}`})
				writeV2(t, filepath.Join(dir, "0"), d5, []int{1, 2, 2, 2, 3}, data5, "zstd")
			},
			opts:  Options{Time: 1, Channel: 2},
			names: []string{"a.zarr/0"}, shapes: []volume.Shape{{Z: 2, Y: 3, X: 4}},
			voxels: [][]float64{{30, 3, 3}}, channels: 3, times: 2,
			read: func(t *testing.T, im *Image) {
				for _, tc := range [][2]int{{1, 2}, {0, 0}, {1, 0}, {0, 1}} {
					var v *volume.Volume
					var err error
					if tc == [2]int{1, 2} {
						v, err = im.Read(context.Background(), volume.Whole(im.Meta().Shape))
					} else {
						v, err = im.Level(0).ReadTC(context.Background(), tc[0], tc[1], volume.Whole(im.Meta().Shape))
					}
					if err != nil {
						t.Fatal(err)
					}
					slab := prod(d5[2:])
					off := (tc[0]*d5[1] + tc[1]) * slab
					want := data5[off : off+slab]
					if !reflect.DeepEqual(v.Data(), want) {
						t.Errorf("t=%d c=%d: %v, want %v", tc[0], tc[1], v.Data(), want)
					}
				}
			},
		},
		{
			name: "dimension names",
			build: func(t *testing.T, dir string) {
				writeV3(t, dir, []int{3, 4, 6, 8}, []int{1, 2, 3, 4}, nil, pattern(3*4*6*8))
				setDimensionNames(t, dir, `["c", "z", "y", "x"]`)
			},
			opts:  Options{Channel: 2},
			names: []string{"a.zarr"}, shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{nil}, channels: 3, times: 1,
		},
		{
			name: "unknown dimension names",
			build: func(t *testing.T, dir string) {
				writeV3(t, dir, tShape, tChunk, nil, pattern(prod(tShape)))
				setDimensionNames(t, dir, `["depth", "row", "col"]`)
			},
			names: []string{"a.zarr"}, shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{nil}, channels: 1, times: 1,
			notes: []string{`dimension names ["depth" "row" "col"] are not t, c, z, y, x: read as z,y,x`},
		},
		{
			name: "plain 4-D is c, z, y, x",
			build: func(t *testing.T, dir string) {
				writeV2(t, dir, []int{2, 4, 6, 8}, []int{1, 2, 3, 4}, pattern(384), "")
			},
			opts:  Options{Channel: 1},
			names: []string{"a.zarr"}, shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{nil}, channels: 2, times: 1,
		},
		{
			name: "2-D is one slice",
			build: func(t *testing.T, dir string) {
				writeTree(t, dir, map[string]string{".zgroup": `{"zarr_format": 2}`, ".zattrs": `{"multiscales": ` +
					ome(`[{"name": "y", "unit": "nanometer"}, {"name": "x", "unit": "nanometer"}]`, `[{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [4, 6]}]}]`) + `}`})
				writeV2(t, filepath.Join(dir, "0"), []int{6, 8}, []int{4, 4}, pattern(48), "zstd")
			},
			names: []string{"a.zarr/0"}, shapes: []volume.Shape{{Z: 1, Y: 6, X: 8}},
			voxels: [][]float64{{5, 4, 6}}, channels: 1, times: 1,
		},
		{
			name: "n5 groups without attributes",
			build: func(t *testing.T, dir string) {
				writeJSON(t, filepath.Join(dir, "attributes.json"), map[string]any{"n5": "2.5.1"})
				writeN5(t, filepath.Join(dir, "g", "h", "s0"), tShape, tChunk, pattern(prod(tShape)))
			},
			open:  "g/h/s0",
			names: []string{"a.zarr/g/h/s0"}, shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{nil}, channels: 1, times: 1,
		},
		{
			name: "int32 note",
			build: func(t *testing.T, dir string) {
				writeTree(t, dir, map[string]string{".zarray": zarray("dtype", `"<i4"`)})
			},
			names: []string{"a.zarr"}, shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{nil}, channels: 1, times: 1,
			notes: []string{"int32 voxels are read as float32: exact up to 2^24"},
		},
		{
			name: "two multiscales",
			build: func(t *testing.T, dir string) {
				ms := `[{"axes": ` + goodAxes + `, "datasets": [{"path": "0"}]}, {"axes": ` + goodAxes + `, "datasets": [{"path": "1"}]}]`
				writeTree(t, dir, omeGroup(ms))
			},
			names: []string{"a.zarr/0"}, shapes: []volume.Shape{{Z: 4, Y: 6, X: 8}},
			voxels: [][]float64{nil}, channels: 1, times: 1,
			notes: []string{"2 multiscale images in the group: the first is shown"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a.zarr")
			c.build(t, dir)
			o := c.opts
			o.Cache = NewCache(1 << 20)
			im, err := Open(filepath.Join(dir, c.open), o)
			if err != nil {
				t.Fatal(err)
			}
			if im.Channels() != c.channels || im.Times() != c.times {
				t.Errorf("%d channels, %d times, want %d, %d", im.Channels(), im.Times(), c.channels, c.times)
			}
			levels := im.Levels()
			if len(levels) != len(c.names) {
				t.Fatalf("%d levels, want %d", len(levels), len(c.names))
			}
			for i, l := range levels {
				m := l.Meta()
				if m.Name != c.names[i] || m.Shape != c.shapes[i] {
					t.Errorf("level %d: %s %v, want %s %v", i, m.Name, m.Shape, c.names[i], c.shapes[i])
				}
				checkVoxel(t, i, m.Voxel, c.voxels[i])
				if _, err := l.Read(context.Background(), volume.Whole(m.Shape)); err != nil {
					t.Errorf("level %d: %v", i, err)
				}
			}
			notes := im.Notes()
			if len(notes) != len(c.notes) {
				t.Fatalf("notes %q, want %q", notes, c.notes)
			}
			for i, n := range c.notes {
				if !strings.Contains(notes[i], n) {
					t.Errorf("note %q, want %q", notes[i], n)
				}
			}
			if c.read != nil {
				c.read(t, im)
			}
		})
	}
}

// setDimensionNames adds dimension_names to a zarr.json.
func setDimensionNames(t *testing.T, dir, names string) {
	t.Helper()
	p := filepath.Join(dir, "zarr.json")
	var m map[string]json.RawMessage
	if err := json.Unmarshal(readFile(t, p), &m); err != nil {
		t.Fatal(err)
	}
	m["dimension_names"] = json.RawMessage(names)
	writeJSON(t, p, m)
}

// TestOpenOptionErrors checks channels and time points that do not exist.
func TestOpenOptionErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.zarr")
	writeV2(t, dir, []int{2, 3, 4, 6, 8}, []int{1, 1, 2, 3, 4}, pattern(2*3*4*6*8), "")
	cases := []struct {
		opts Options
		want string
	}{
		{Options{Channel: 3}, "channel 3 does not exist: the image has 3"},
		{Options{Channel: -1}, "channel -1 does not exist"},
		{Options{Time: 2}, "time point 2 does not exist: the image has 2"},
	}
	for _, c := range cases {
		_, err := Open(dir, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opts, err, c.want)
		}
	}
}

// TestDefaultCache checks that Images opened without a cache share one.
func TestDefaultCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.zarr")
	writeV2(t, dir, tShape, tChunk, pattern(prod(tShape)), "zstd")
	a, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Level(0).cache != defaultCache() || b.Level(0).cache != defaultCache() {
		t.Fatal("Images without Options.Cache do not use the default cache")
	}
	if _, err := a.Read(context.Background(), volume.Whole(a.Meta().Shape)); err != nil {
		t.Fatal(err)
	}
	n := defaultCache().Loads()
	if _, err := b.Read(context.Background(), volume.Whole(b.Meta().Shape)); err != nil {
		t.Fatal(err)
	}
	if defaultCache().Loads() != n {
		t.Error("the second Image decoded chunks again")
	}
}

// TestHalfFloat checks the float16 conversion on special values.
func TestHalfFloat(t *testing.T) {
	cases := []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, math.Ldexp(1, -24)},
		{0x03ff, math.Ldexp(1023, -24)}, {0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)}, {0x3555, 0.333251953125},
	}
	for _, c := range cases {
		if got := float64(halfToFloat32(c.bits)); got != c.want {
			t.Errorf("%#04x: %v, want %v", c.bits, got, c.want)
		}
	}
	if !math.IsNaN(float64(halfToFloat32(0x7e00))) {
		t.Error("0x7e00 is not NaN")
	}
}
