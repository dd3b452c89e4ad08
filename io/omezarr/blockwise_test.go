package omezarr

import (
	"bytes"
	"context"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/niiv/niiv/volume"
)

// writeBlocks writes v into the blockwise image at path as a cluster job
// would: workers processes, each calling CreateBlockwise, write the blocks
// in a shuffled order, and each block's checksum must be BlockSum's.
func writeBlocks(t *testing.T, path string, v *volume.Volume, o Options, workers int, skip map[int]bool) *Blockwise {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		made  []*Blockwise
		order = make(chan int)
	)
	record := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	for range workers {
		wg.Go(func() {
			b, err := CreateBlockwise(path, v.Meta(), o)
			if err != nil {
				record(err)
				for range order { // let the others finish
				}
				return
			}
			mu.Lock()
			made = append(made, b)
			mu.Unlock()
			for i := range order {
				blk, err := v.Read(context.Background(), b.Box(i))
				if err != nil {
					record(err)
					continue
				}
				sum, err := b.WriteBlock(i, blk)
				if err != nil {
					record(err)
					continue
				}
				if got, ok, err := b.BlockSum(i); err != nil || !ok || got != sum {
					t.Errorf("block %d: BlockSum %q, %v, %v; WriteBlock said %q", i, got, ok, err, sum)
				}
			}
		})
	}
	// The number of blocks, from a Blockwise of this test's own.
	b, err := CreateBlockwise(path, v.Meta(), o)
	if err != nil {
		close(order)
		wg.Wait()
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(b.Blocks()) {
		if !skip[i] {
			order <- i
		}
	}
	close(order)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, m := range made {
		if m.Blocks() != b.Blocks() || m.Chunk() != b.Chunk() || m.Meta() != b.Meta() {
			t.Errorf("the writers disagree: %d blocks of %v, %v; want %d of %v, %v", m.Blocks(), m.Chunk(), m.Meta(), b.Blocks(), b.Chunk(), b.Meta())
		}
	}
	return b
}

// files returns every file under dir by its path relative to dir.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		out[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree reports the differences between the files under got and want.
func sameTree(t *testing.T, got, want string) {
	t.Helper()
	g, w := files(t, got), files(t, want)
	var names []string
	for n := range w {
		names = append(names, n)
	}
	sort.Strings(names)
	bad := 0
	for _, n := range names {
		gb, ok := g[n]
		switch {
		case !ok:
			t.Errorf("%s: missing", n)
			bad++
		case !bytes.Equal(gb, w[n]):
			t.Errorf("%s: %d bytes differ from Write's %d", n, len(gb), len(w[n]))
			if strings.HasPrefix(filepath.Base(n), ".") {
				t.Logf("got:\n%s\nwant:\n%s", gb, w[n])
			}
			bad++
		}
		if bad > 5 {
			t.Fatal("too many differences")
		}
	}
	for n := range g {
		if _, ok := w[n]; !ok {
			t.Errorf("%s: not in Write's image", n)
		}
	}
	if len(w) < 5 {
		t.Errorf("Write's image has only %d files", len(w))
	}
}

// TestBlockwiseEqualsWrite: an image written block by block, in a shuffled
// order, by several writers (each creating it), then finished, is byte for
// byte, in every chunk and metadata file, the image Write makes of the
// same volume; so it is after a second Finish, and despite temporary files
// left by killed writers.
func TestBlockwiseEqualsWrite(t *testing.T) {
	nm := volume.Voxel{Z: 40, Y: 4, X: 4, Unit: "nm", Known: true}
	iso := volume.Voxel{Z: 1, Y: 1, X: 1, Unit: "µm", Known: true}
	tests := []struct {
		name    string
		shape   volume.Shape
		dtype   volume.DType
		voxel   volume.Voxel
		opt     Options
		levels  int
		workers int
	}{
		{"uint16 anisotropic zstd", volume.Shape{Z: 9, Y: 40, X: 50}, volume.Uint16, nm,
			Options{Chunk: volume.Shape{Z: 4, Y: 16, X: 16}, Levels: 3}, 3, 4},
		{"uint8 isotropic gzip", volume.Shape{Z: 9, Y: 40, X: 50}, volume.Uint8, iso,
			Options{Chunk: volume.Shape{Z: 3, Y: 8, X: 32}, Levels: 3, Compressor: "gzip", Level: 2}, 3, 3},
		{"float32 blosc-zstd, default levels, no voxel size", volume.Shape{Z: 9, Y: 40, X: 50}, volume.Float32, volume.Unknown(),
			Options{Chunk: volume.Shape{Z: 5, Y: 32, X: 32}, Compressor: "blosc-zstd", Name: "σ stack"}, 1, 2},
		{"int16 raw, one block", volume.Shape{Z: 9, Y: 40, X: 50}, volume.Int16, nm,
			Options{Levels: 2, Compressor: "none"}, 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			v := randomVolume(t, tc.shape, tc.dtype, tc.voxel)
			want := filepath.Join(dir, "want", "img.zarr")
			got := filepath.Join(dir, "got", "img.zarr")
			os.Mkdir(filepath.Dir(want), 0o755)
			os.Mkdir(filepath.Dir(got), 0o755)
			if err := Write(context.Background(), want, v, tc.opt); err != nil {
				t.Fatal(err)
			}
			b := writeBlocks(t, got, v, tc.opt, tc.workers, nil)
			if b.Levels() != tc.levels {
				t.Errorf("%d levels, want %d", b.Levels(), tc.levels)
			}
			// Leftovers of killed writers: a chunk's and a metadata file's.
			leftovers := []string{filepath.Join(got, "0", "0", "0", "0"+tempMark+"77-00000000deadbeef"), filepath.Join(got, ".zattrs"+tempMark+"78-1")}
			for _, f := range leftovers {
				if err := os.WriteFile(f, []byte("partial"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// --finish runs in another process: it opens the image.
			ob, err := OpenBlockwise(got)
			if err != nil {
				t.Fatal(err)
			}
			if ob.Meta().Shape != tc.shape || ob.Meta().DType != tc.dtype || ob.Chunk() != b.Chunk() || ob.Blocks() != b.Blocks() || ob.Levels() != tc.levels {
				t.Errorf("opened: %v, chunk %v, %d blocks, %d levels; want %v %v, chunk %v, %d blocks, %d levels",
					ob.Meta(), ob.Chunk(), ob.Blocks(), ob.Levels(), tc.shape, tc.dtype, b.Chunk(), b.Blocks(), tc.levels)
			}
			calls, last, total := 0, 0, -1
			progress := func(d, n int) {
				if d != last+1 || total >= 0 && n != total {
					t.Errorf("progress %d/%d after %d/%d", d, n, last, total)
				}
				calls, last, total = calls+1, d, n
			}
			if err := ob.Finish(context.Background(), progress); err != nil {
				t.Fatal(err)
			}
			if tc.levels > 1 && (calls == 0 || last != total) {
				t.Errorf("progress: %d calls, last %d of %d", calls, last, total)
			}
			sameTree(t, got, want)
			if t.Failed() {
				return
			}
			if err := b.Finish(context.Background(), nil); err != nil {
				t.Fatalf("second Finish: %v", err)
			}
			sameTree(t, got, want)
			// A late writer opens the finished image.
			if _, err := CreateBlockwise(got, v.Meta(), tc.opt); err != nil {
				t.Errorf("CreateBlockwise on the finished image: %v", err)
			}
		})
	}
}

// TestBlockwiseReadable: before Finish the image reads as level 0 alone,
// leftover temporary files ignored, by niiv's reader and by the reference
// zarr library (when installed); after it, with its pyramid.
func TestBlockwiseReadable(t *testing.T) {
	dir := t.TempDir()
	vox := volume.Voxel{Z: 40, Y: 4, X: 4, Unit: "nm", Known: true}
	v := randomVolume(t, volume.Shape{Z: 9, Y: 40, X: 50}, volume.Uint16, vox)
	path := filepath.Join(dir, "img.zarr")
	o := Options{Chunk: volume.Shape{Z: 4, Y: 16, X: 16}, Levels: 3}
	b := writeBlocks(t, path, v, o, 3, nil)
	for _, f := range []string{filepath.Join("0", "1", "1", "1"+tempMark+"5-6"), filepath.Join("0", "2", "2", "3"+tempMark+"5-7")} {
		if err := os.WriteFile(filepath.Join(path, f), []byte("partial chunk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantNpy := filepath.Join(dir, "want.npy")
	if err := os.WriteFile(wantNpy, npyBytes(v), 0o644); err != nil {
		t.Fatal(err)
	}
	levels, voxels := expectLevels(t, v, 3)
	tests := []struct {
		name   string
		finish bool
		levels int
		py     string // what the zarr check prints
	}{
		{"unfinished", false, 1, "1 [[9, 40, 50]]"},
		{"finished", true, 3, "3 [[9, 40, 50], [9, 20, 25], [9, 10, 13]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.finish {
				if err := b.Finish(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
			}
			checkByNiiv(t, v3Image{path: path, levels: levels[:tc.levels], voxels: voxels[:tc.levels]})
			py := python(t)
			out, err := exec.Command(py, "-c", check, path, wantNpy, "40", "4", "4", "nanometer").CombinedOutput()
			if err != nil {
				t.Fatalf("zarr reading the blockwise image: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.py {
				t.Errorf("zarr: %s, want %s", got, tc.py)
			}
		})
	}
}

// TestBlockwiseErrors: what CreateBlockwise, OpenBlockwise, WriteBlock and
// Finish refuse, and that their errors say why.
func TestBlockwiseErrors(t *testing.T) {
	dir := t.TempDir()
	vox := volume.Voxel{Z: 40, Y: 4, X: 4, Unit: "nm", Known: true}
	meta := volume.Meta{Shape: volume.Shape{Z: 9, Y: 40, X: 50}, DType: volume.Uint16, Voxel: vox}
	o := Options{Chunk: volume.Shape{Z: 4, Y: 16, X: 16}, Levels: 3}
	path := filepath.Join(dir, "img.zarr")
	b, err := CreateBlockwise(path, meta, o)
	if err != nil {
		t.Fatal(err)
	}
	if b.Blocks() != 3*3*4 {
		t.Fatalf("%d blocks, want 36", b.Blocks())
	}
	with := func(f func(m *volume.Meta, o *Options)) (volume.Meta, Options) {
		m, oo := meta, o
		f(&m, &oo)
		return m, oo
	}
	file := filepath.Join(dir, "notes.zarr")
	os.WriteFile(file, []byte("mine"), 0o644)
	other := filepath.Join(dir, "other.zarr")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "data.tif"), []byte("mine"), 0o644)
	v3 := filepath.Join(dir, "v3.zarr")
	if err := Write(context.Background(), v3, randomVolume(t, volume.Shape{Z: 2, Y: 8, X: 8}, volume.Uint8, vox), Options{Version: "0.5"}); err != nil {
		t.Fatal(err)
	}
	creates := []struct {
		name string
		path string
		f    func(m *volume.Meta, o *Options)
		want []string // in the error
	}{
		{"other shape", path, func(m *volume.Meta, o *Options) { m.Shape.X = 60 }, []string{path, "shape 9×40×50 (z,y,x), want 9×40×60 (z,y,x)"}},
		{"other type", path, func(m *volume.Meta, o *Options) { m.DType = volume.Uint8 }, []string{path, "type uint16, want uint8"}},
		{"other chunk", path, func(m *volume.Meta, o *Options) { o.Chunk.Z = 8 }, []string{path, "chunk 4×16×16 (z,y,x), want 8×16×16 (z,y,x)"}},
		{"other compressor", path, func(m *volume.Meta, o *Options) { o.Compressor = "gzip" }, []string{path, "compressor zstd level 3, want gzip level 5"}},
		{"other level", path, func(m *volume.Meta, o *Options) { o.Level = 9 }, []string{path, "compressor zstd level 3, want zstd level 9"}},
		{"other voxel size", path, func(m *volume.Meta, o *Options) { m.Voxel.Z = 50 }, []string{path, "voxel size 40×4×4 nanometer, want 50×4×4 nanometer"}},
		{"other unit", path, func(m *volume.Meta, o *Options) { m.Voxel.Unit = "µm" }, []string{path, "want 40×4×4 micrometer"}},
		{"other levels", path, func(m *volume.Meta, o *Options) { o.Levels = 2 }, []string{path, "levels 3, want 2"}},
		{"two differences", path, func(m *volume.Meta, o *Options) { m.Shape.Z, m.DType = 10, volume.Float32 }, []string{"shape 9×40×50 (z,y,x), want 10×40×50 (z,y,x); type uint16, want float32"}},
		{"version 0.5", filepath.Join(dir, "new.zarr"), func(m *volume.Meta, o *Options) { o.Version = "0.5" }, []string{"OME-Zarr 0.5", "0.4"}},
		{"sharded", filepath.Join(dir, "new.zarr"), func(m *volume.Meta, o *Options) { o.Shard = volume.Shape{Z: 8, Y: 32, X: 32} }, []string{"shard", "no shards"}},
		{"a file", file, func(*volume.Meta, *Options) {}, []string{file, "not a folder"}},
		{"a folder of other files", other, func(*volume.Meta, *Options) {}, []string{other, "not an OME-Zarr image", "data.tif"}},
		{"a Zarr v3 image", v3, func(*volume.Meta, *Options) {}, []string{v3, "Zarr v3"}},
		{"a Zarr array", filepath.Join(path, "0"), func(*volume.Meta, *Options) {}, []string{"is a Zarr array"}},
		{"no parent folder", filepath.Join(dir, "none", "a.zarr"), func(*volume.Meta, *Options) {}, []string{"does not exist"}},
	}
	for _, tc := range creates {
		t.Run("create "+tc.name, func(t *testing.T) {
			m, oo := with(tc.f)
			_, err := CreateBlockwise(tc.path, m, oo)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "new.zarr")); err == nil {
		t.Error("a refused CreateBlockwise made a folder")
	}
	if b, _ := os.ReadFile(file); string(b) != "mine" {
		t.Error("the file was changed")
	}
	if ents, _ := os.ReadDir(other); len(ents) != 1 {
		t.Errorf("the folder was written into: %d entries", len(ents))
	}

	opens := []struct {
		name string
		path string
		want string
	}{
		{"a file", file, "not a folder"},
		{"a folder of other files", other, "no .zgroup"},
		{"a Zarr v3 image", v3, "Zarr v3"},
		{"nothing", filepath.Join(dir, "none.zarr"), "no such file"},
	}
	for _, tc := range opens {
		t.Run("open "+tc.name, func(t *testing.T) {
			_, err := OpenBlockwise(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %v, want one naming %s and saying %q", err, tc.path, tc.want)
			}
		})
	}

	good, _ := volume.New(b.Box(5).Shape(), make([]uint16, b.Box(5).Shape().Len()), vox)
	edge := b.Box(b.Blocks() - 1).Shape() // 1×8×2: cut by the far edges
	if edge != (volume.Shape{Z: 1, Y: 8, X: 2}) {
		t.Errorf("last block %v, want 1×8×2", edge)
	}
	whole, _ := volume.New(volume.Shape{Z: 4, Y: 16, X: 16}, make([]uint16, 4*16*16), vox)
	f32, _ := volume.New(b.Box(5).Shape(), make([]float32, b.Box(5).Shape().Len()), vox)
	writes := []struct {
		name string
		i    int
		v    *volume.Volume
		want string
	}{
		{"index -1", -1, good, "block -1: the image has blocks 0 to 35"},
		{"index past the end", 36, good, "block 36: the image has blocks 0 to 35"},
		{"a full chunk for an edge block", b.Blocks() - 1, whole, "got 4×16×16 (z,y,x) uint16, want 1×8×2 (z,y,x) uint16"},
		{"wrong type", 5, f32, "got 4×16×16 (z,y,x) float32, want 4×16×16 (z,y,x) uint16"},
		{"nil", 5, nil, "no volume"},
	}
	for _, tc := range writes {
		t.Run("write "+tc.name, func(t *testing.T) {
			_, err := b.WriteBlock(tc.i, tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, ok, err := b.BlockSum(5); ok || err != nil {
		t.Errorf("BlockSum of an unwritten block: %v, %v", ok, err)
	}
	if _, _, err := b.BlockSum(36); err == nil {
		t.Error("BlockSum(36): no error")
	}

	// Finish with blocks missing: all but 0, 5, 6, 35 written, and one
	// leftover temporary file in place of block 5's.
	v := randomVolume(t, meta.Shape, meta.DType, vox)
	for i := range b.Blocks() {
		if i == 0 || i == 5 || i == 6 || i == 35 {
			continue
		}
		blk, _ := v.Read(context.Background(), b.Box(i))
		if _, err := b.WriteBlock(i, blk); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(path, "0", "0", "1", "1"+tempMark+"1-2")
	os.WriteFile(tmp, []byte("partial"), 0o644)
	err = b.Finish(context.Background(), nil)
	want := "4 of 36 level-0 blocks are missing: 0 (chunk 0/0/0/0, 0:4,0:16,0:16), 5 (chunk 0/0/1/1, 0:4,16:32,16:32), 6 (chunk 0/0/1/2, 0:4,16:32,32:48), 35 (chunk 0/2/2/3, 8:9,32:40,48:50)"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Errorf("Finish: %v\nwant an error naming %s and saying %q", err, path, want)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Error("a failed Finish removed a writer's temporary file")
	}
	if _, err := os.Stat(filepath.Join(path, "1")); err == nil {
		t.Error("a failed Finish made level 1")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Finish(ctx, nil); err != context.Canceled {
		t.Errorf("cancelled Finish: %v", err)
	}
}

// TestBlockwiseMissingMany: the missing blocks are counted, the first few
// named.
func TestBlockwiseMissingMany(t *testing.T) {
	path := filepath.Join(t.TempDir(), "img.zarr")
	b, err := CreateBlockwise(path, volume.Meta{Shape: volume.Shape{Z: 9, Y: 40, X: 50}, DType: volume.Uint8, Voxel: volume.Unknown()},
		Options{Chunk: volume.Shape{Z: 1, Y: 8, X: 8}, Levels: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Finish(context.Background(), nil)
	if want := "315 of 315 level-0 blocks are missing: 0 (chunk 0/0/0/0, 0:1,0:8,0:8), 1 (chunk 0/0/0/1, 0:1,0:8,8:16), 2 (chunk 0/0/0/2, 0:1,0:8,16:24), 3 (chunk 0/0/0/3, 0:1,0:8,24:32), 4 (chunk 0/0/0/4, 0:1,0:8,32:40) and 310 more"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Finish: %v\nwant %q", err, want)
	}
}
