package omezarr

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/niiv/niiv/io/zarr"
	"github.com/niiv/niiv/volume"
)

// zarrita returns node and the node_modules folder holding zarrita (as
// scripts/setup.sh test installs it: $XDG_CACHE_HOME/niiv/node, else
// ~/.cache/niiv/node), or skips the test.
func zarrita(t *testing.T) (node, modules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("skipping the zarrita check: node is not installed")
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("skipping the zarrita check: no cache folder: %v", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	modules = filepath.Join(cache, "niiv", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "zarrita", "package.json")); err != nil {
		t.Skipf("skipping the zarrita check: zarrita is not in %s (scripts/setup.sh test installs it)", modules)
	}
	return node, modules
}

// v3Image is one image written by TestWriteV3.
type v3Image struct {
	name   string
	path   string
	levels []*volume.Volume // expected voxels of each level
	voxels [][3]float64     // expected voxel size (nm) of each level
	opt    Options
	ok     bool // written and read back by niiv
}

// expectLevels returns the voxels of every level of v as Write computes
// them (the 0.4 tests check that arithmetic against NumPy's).
func expectLevels(t *testing.T, v *volume.Volume, n int) ([]*volume.Volume, [][3]float64) {
	t.Helper()
	specs := pyramid(v.Meta(), n)
	vols := []*volume.Volume{v}
	var vox [][3]float64
	for i, l := range specs {
		vox = append(vox, l.voxel)
		if i == 0 {
			continue
		}
		p := vols[i-1]
		d, err := downsample(context.Background(), p, volume.Whole(l.shape), l.fz, l.fy, l.fx)
		if err != nil {
			t.Fatal(err)
		}
		vols = append(vols, d)
	}
	return vols, vox
}

// TestWriteV3 writes OME-Zarr 0.5 in every element type, with every
// compressor, sharded and not, of a volume with edge chunks (and edge
// shards) and one chunk of zeros, and reads each back with niiv's reader
// (voxels, voxel sizes, levels) and then with zarrita.
func TestWriteV3(t *testing.T) {
	shape := volume.Shape{Z: 7, Y: 21, X: 19}
	vox := volume.Voxel{Z: 8, Y: 4, X: 4, Unit: "nm", Known: true}
	chunk := volume.Shape{Z: 4, Y: 8, X: 8}
	shard := volume.Shape{Z: 8, Y: 16, X: 16}
	dir := t.TempDir()
	var images []v3Image
	for _, dt := range []volume.DType{volume.Uint8, volume.Uint16, volume.Int16, volume.Float32, volume.Float64} {
		v := zeroChunk(t, randomVolume(t, shape, dt, vox), chunk)
		levels, voxels := expectLevels(t, v, 3)
		for _, comp := range []string{"zstd", "gzip", "blosc-zstd", "none"} {
			for _, sh := range []volume.Shape{{}, shard} {
				name := fmt.Sprintf("%v_%s", dt, comp)
				if sh != (volume.Shape{}) {
					name += "_sharded"
				}
				images = append(images, v3Image{name: name, path: filepath.Join(dir, name+".zarr"), levels: levels, voxels: voxels,
					opt: Options{Version: "0.5", Chunk: chunk, Shard: sh, Compressor: comp, Levels: 3, Threads: 2}})
			}
		}
	}
	for k := range images {
		im := &images[k]
		t.Run(im.name, func(t *testing.T) {
			var calls, total int
			im.opt.Progress = func(d, n int) {
				if d != calls+1 {
					t.Errorf("progress %d after %d", d, calls)
				}
				calls, total = d, n
			}
			if err := Write(context.Background(), im.path, im.levels[0], im.opt); err != nil {
				t.Fatal(err)
			}
			if calls != total || total == 0 {
				t.Errorf("progress: %d calls, total %d", calls, total)
			}
			if ms, _ := filepath.Glob(im.path + ".*"); len(ms) != 0 {
				t.Errorf("left behind: %v", ms)
			}
			checkLayout(t, *im)
			checkByNiiv(t, *im)
			im.ok = !t.Failed()
		})
	}
	t.Run("zarrita", func(t *testing.T) {
		node, modules := zarrita(t)
		out := t.TempDir()
		args := []string{filepath.Join("testdata", "read_zarrita.mjs"), modules, out}
		var read []v3Image
		for _, im := range images {
			if im.ok {
				read, args = append(read, im), append(args, im.path)
			}
		}
		if len(read) == 0 {
			t.Skip("skipping: no image was written and read back by niiv")
		}
		var stderr bytes.Buffer
		cmd := exec.Command(node, args...)
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("zarrita reading niiv's images: %v\n%s", err, stderr.Bytes())
		}
		sc := bufio.NewScanner(bytes.NewReader(stdout))
		sc.Buffer(nil, 1<<20)
		for i, im := range read {
			if !sc.Scan() {
				t.Fatalf("zarrita printed %d lines for %d images", i, len(read))
			}
			t.Run(im.name, func(t *testing.T) { checkByZarrita(t, im, sc.Bytes(), filepath.Join(out, fmt.Sprint(i))) })
		}
	})
}

// zeroChunk returns v with the voxels of chunk (0, 0, 0) set to 0: a
// sharded image leaves it out of its shard.
func zeroChunk(t *testing.T, v *volume.Volume, c volume.Shape) *volume.Volume {
	t.Helper()
	s := v.Shape()
	f := make([]float64, s.Len())
	for z := range s.Z {
		for y := range s.Y {
			for x := range s.X {
				if z >= c.Z || y >= c.Y || x >= c.X {
					f[(z*s.Y+y)*s.X+x] = v.At(z, y, x)
				}
			}
		}
	}
	w, err := convert(s, v.DType(), f)
	if err != nil {
		t.Fatal(err)
	}
	w.Voxel = v.Voxel
	return w
}

// checkLayout checks the files: the group's zarr.json, each level's, and
// in sharded images the index of the first shard, whose first inner chunk
// (all zeros) is not stored.
func checkLayout(t *testing.T, im v3Image) {
	t.Helper()
	var g struct {
		ZarrFormat int    `json:"zarr_format"`
		NodeType   string `json:"node_type"`
		Attributes struct {
			OME struct {
				Version     string
				Multiscales []map[string]json.RawMessage
			} `json:"ome"`
		} `json:"attributes"`
	}
	readJSON(t, filepath.Join(im.path, "zarr.json"), &g)
	if g.ZarrFormat != 3 || g.NodeType != "group" || g.Attributes.OME.Version != "0.5" || len(g.Attributes.OME.Multiscales) != 1 {
		t.Fatalf("group zarr.json: %+v", g)
	}
	if _, ok := g.Attributes.OME.Multiscales[0]["version"]; ok {
		t.Error("the multiscale has a version of its own (OME-Zarr 0.5 keeps it only under ome)")
	}
	for _, f := range []string{".zgroup", ".zattrs", "0/.zarray"} {
		if _, err := os.Stat(filepath.Join(im.path, f)); err == nil {
			t.Errorf("Zarr v2 file %s written", f)
		}
	}
	for i, want := range im.levels {
		var a zarr.NodeV3
		readJSON(t, filepath.Join(im.path, fmt.Sprint(i), "zarr.json"), &a)
		s := want.Shape()
		if a.ZarrFormat != 3 || a.NodeType != "array" || !reflect.DeepEqual(a.Shape, []int{s.Z, s.Y, s.X}) || a.DataType != dataTypeV3(want.DType()) {
			t.Errorf("level %d zarr.json: %+v", i, a)
		}
		if a.ChunkKeyEncoding == nil || a.ChunkKeyEncoding.Name != "default" || string(a.FillValue) != "0" {
			t.Errorf("level %d: chunk_key_encoding %+v, fill_value %s", i, a.ChunkKeyEncoding, a.FillValue)
		}
		c := chunkOf(im.opt.Chunk, s)
		grid, inner := c, c
		if im.opt.Shard != (volume.Shape{}) {
			grid = shardOf(im.opt.Shard, c, s)
			if len(a.Codecs) != 1 || a.Codecs[0].Name != "sharding_indexed" {
				t.Fatalf("level %d: codecs %+v", i, a.Codecs)
			}
			var sc zarr.ShardingCodec
			if err := json.Unmarshal(a.Codecs[0].Configuration, &sc); err != nil {
				t.Fatal(err)
			}
			if sc.IndexLocation != "end" || len(sc.IndexCodecs) != 2 || sc.IndexCodecs[1].Name != "crc32c" {
				t.Errorf("level %d: sharding %+v", i, sc)
			}
			inner = volume.Shape{Z: sc.ChunkShape[0], Y: sc.ChunkShape[1], X: sc.ChunkShape[2]}
		}
		var rg zarr.RegularGrid
		if a.ChunkGrid == nil || a.ChunkGrid.Name != "regular" || json.Unmarshal(a.ChunkGrid.Configuration, &rg) != nil ||
			!reflect.DeepEqual(rg.ChunkShape, []int{grid.Z, grid.Y, grid.X}) || inner != c {
			t.Errorf("level %d: chunk grid %+v, inner chunks %v; want %v of %v", i, a.ChunkGrid, inner, grid, c)
		}
	}
	if im.opt.Shard == (volume.Shape{}) {
		if _, err := os.Stat(filepath.Join(im.path, "0", "c", "0", "0", "0")); err != nil {
			t.Error(err)
		}
		return
	}
	per := [3]int{2, 2, 2} // shard 8×16×16 of chunks 4×8×8
	for _, c := range []struct {
		shard  string
		empty  []int // inner chunks not stored
		stored []int
	}{
		{"0/c/0/0/0", []int{0}, []int{1, 2, 3, 4, 5, 6, 7}},
		// y 16…32 and x 16…32 of 21×19: inner chunks at y or x ≥ 24 are
		// past the edge.
		{"0/c/0/1/1", []int{1, 2, 3, 5, 6, 7}, []int{0, 4}},
	} {
		data, err := os.ReadFile(filepath.Join(im.path, filepath.FromSlash(c.shard)))
		if err != nil {
			t.Fatal(err)
		}
		n := per[0] * per[1] * per[2]
		idx := data[len(data)-16*n-4:]
		for _, j := range c.empty {
			if off, nb := binary.LittleEndian.Uint64(idx[16*j:]), binary.LittleEndian.Uint64(idx[16*j+8:]); off != math.MaxUint64 || nb != math.MaxUint64 {
				t.Errorf("shard %s: inner chunk %d at %d, %d bytes; want it empty", c.shard, j, off, nb)
			}
		}
		for _, j := range c.stored {
			if off, nb := binary.LittleEndian.Uint64(idx[16*j:]), binary.LittleEndian.Uint64(idx[16*j+8:]); off == math.MaxUint64 || off+nb > uint64(len(data)-16*n-4) {
				t.Errorf("shard %s: inner chunk %d at %d, %d bytes", c.shard, j, off, nb)
			}
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkByNiiv reads the image with the repository's reader.
func checkByNiiv(t *testing.T, im v3Image) {
	t.Helper()
	img, err := zarr.Open(im.path, zarr.Options{Cache: zarr.NewCache(8 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if n := len(img.Notes()); n != 0 {
		t.Errorf("notes: %q", img.Notes())
	}
	levels := img.Levels()
	if len(levels) != len(im.levels) {
		t.Fatalf("%d levels, want %d", len(levels), len(im.levels))
	}
	for i, want := range im.levels {
		m := levels[i].Meta()
		if m.Shape != want.Shape() || m.DType != want.DType() {
			t.Fatalf("level %d: %v %v, want %v %v", i, m.Shape, m.DType, want.Shape(), want.DType())
		}
		vx := im.voxels[i]
		if !m.Voxel.Known || m.Voxel.Unit != "nm" || m.Voxel.Z != vx[0] || m.Voxel.Y != vx[1] || m.Voxel.X != vx[2] {
			t.Errorf("level %d: voxel %v, want %v nm", i, m.Voxel, vx)
		}
		got, err := levels[i].Read(context.Background(), volume.Whole(m.Shape))
		if err != nil {
			t.Fatalf("level %d: %v", i, err)
		}
		if err := sameVoxels(got, want, nil); err != nil {
			t.Errorf("level %d: %v", i, err)
		}
	}
}

// sameVoxels compares a volume, or the float64 values f when v is nil,
// with want.
func sameVoxels(v, want *volume.Volume, f []float64) error {
	s := want.Shape()
	if v != nil && v.Shape() != s {
		return fmt.Errorf("shape %v, want %v", v.Shape(), s)
	}
	if v == nil && len(f) != s.Len() {
		return fmt.Errorf("%d voxels, want %d", len(f), s.Len())
	}
	for z := range s.Z {
		for y := range s.Y {
			for x := range s.X {
				var g float64
				if v != nil {
					g = v.At(z, y, x)
				} else {
					g = f[(z*s.Y+y)*s.X+x]
				}
				if w := want.At(z, y, x); g != w {
					return fmt.Errorf("voxel (%d, %d, %d) is %v, want %v", z, y, x, g, w)
				}
			}
		}
	}
	return nil
}

// checkByZarrita checks what zarrita read of one image: its line of
// metadata and the voxels of each level in dir.
func checkByZarrita(t *testing.T, im v3Image, line []byte, dir string) {
	var got struct {
		Attrs struct {
			OME struct {
				Version     string
				Multiscales []struct {
					Version  *string
					Name     string
					Axes     []struct{ Name, Type, Unit string }
					Datasets []struct {
						Path                      string
						CoordinateTransformations []struct {
							Type  string
							Scale []float64
						}
					}
				}
			} `json:"ome"`
		}
		Levels []struct {
			Path   string
			Shape  []int
			DType  string
			Chunks []int
			Dims   []string
		}
	}
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	ome := got.Attrs.OME
	if ome.Version != "0.5" || len(ome.Multiscales) != 1 {
		t.Fatalf("ome: %+v", ome)
	}
	ms := ome.Multiscales[0]
	if ms.Version != nil || ms.Name != im.name || len(ms.Axes) != 3 || len(ms.Datasets) != len(im.levels) || len(got.Levels) != len(im.levels) {
		t.Fatalf("multiscale: %+v, levels %+v", ms, got.Levels)
	}
	for k, a := range ms.Axes {
		if a.Name != "zyx"[k:k+1] || a.Type != "space" || a.Unit != "nanometer" {
			t.Errorf("axis %d: %+v", k, a)
		}
	}
	for i, want := range im.levels {
		s := want.Shape()
		l, ds := got.Levels[i], ms.Datasets[i]
		if ds.Path != fmt.Sprint(i) || len(ds.CoordinateTransformations) != 1 || ds.CoordinateTransformations[0].Type != "scale" ||
			!reflect.DeepEqual(ds.CoordinateTransformations[0].Scale, im.voxels[i][:]) {
			t.Errorf("dataset %d: %+v, want scale %v", i, ds, im.voxels[i])
		}
		c := chunkOf(im.opt.Chunk, s)
		if !reflect.DeepEqual(l.Shape, []int{s.Z, s.Y, s.X}) || l.DType != dataTypeV3(want.DType()) ||
			!reflect.DeepEqual(l.Chunks, []int{c.Z, c.Y, c.X}) ||
			!reflect.DeepEqual(l.Dims, []string{"z", "y", "x"}) {
			t.Errorf("level %d: %+v, want shape %v, %s, chunks %v", i, l, s, dataTypeV3(want.DType()), c)
		}
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.f64", i)))
		if err != nil {
			t.Fatal(err)
		}
		f := make([]float64, len(data)/8)
		for j := range f {
			f[j] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*j:]))
		}
		if err := sameVoxels(nil, want, f); err != nil {
			t.Errorf("level %d: %v", i, err)
		}
	}
}

// TestWriteV3Options: bad versions and shards are clear errors, before
// anything is written.
func TestWriteV3Options(t *testing.T) {
	v := randomVolume(t, volume.Shape{Z: 4, Y: 16, X: 16}, volume.Uint8, volume.Unknown())
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"shard not a multiple of the chunk", Options{Version: "0.5", Chunk: volume.Shape{Z: 4, Y: 8, X: 8}, Shard: volume.Shape{Z: 4, Y: 12, X: 8}},
			"shard 4×12×8 (z,y,x) is not a multiple of the chunk 4×8×8 (z,y,x) along every axis"},
		{"shard not a multiple of the default chunk", Options{Version: "0.5", Shard: volume.Shape{Z: 64, Y: 256, X: 256}},
			"is not a multiple of the chunk 128×128×128"},
		{"shard with a zero axis", Options{Version: "0.5", Chunk: volume.Shape{Z: 4, Y: 8, X: 8}, Shard: volume.Shape{Y: 16, X: 16}},
			"is not a multiple of the chunk"},
		{"shard in 0.4", Options{Chunk: volume.Shape{Z: 4, Y: 8, X: 8}, Shard: volume.Shape{Z: 4, Y: 16, X: 16}},
			"sharding needs OME-Zarr 0.5"},
		{"too many chunks per shard", Options{Version: "0.5", Chunk: volume.Shape{Z: 1, Y: 1, X: 1}, Shard: volume.Shape{Z: 128, Y: 128, X: 128}},
			"at most 2^20"},
		{"unknown version", Options{Version: "0.6"}, `OME-Zarr version "0.6"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "a.zarr")
			err := Write(context.Background(), out, v, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

// TestWriteV3Cancel: a cancelled sharded write leaves nothing behind.
func TestWriteV3Cancel(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a.zarr")
	v := randomVolume(t, volume.Shape{Z: 8, Y: 64, X: 64}, volume.Uint16, volume.Unknown())
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Write(ctx, out, v, Options{Version: "0.5", Chunk: volume.Shape{Z: 2, Y: 8, X: 8}, Shard: volume.Shape{Z: 4, Y: 32, X: 32}, Threads: 1,
		Progress: func(int, int) {
			if n++; n == 5 {
				cancel()
			}
		}})
	if err != context.Canceled {
		t.Fatalf("cancelled write: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
