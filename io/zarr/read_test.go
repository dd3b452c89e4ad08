package zarr

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/niiv/niiv/volume"
)

var (
	tShape = []int{4, 6, 8}
	tChunk = []int{2, 3, 4}
)

// TestCorruptChunks damages chunks of good arrays: Read still returns the
// volume, with the fill value (0) in the bad chunks and the right voxels
// elsewhere, and a *ChunkErrors naming exactly the bad chunks.
func TestCorruptChunks(t *testing.T) {
	data := pattern(prod(tShape))
	cases := []struct {
		name   string
		write  func(t *testing.T, dir string)
		damage func(t *testing.T, dir string)
		keys   []string
		bad    [][]int // grid positions of the bad chunks (inner chunks when sharded)
		chunk  []int   // the grid's chunk shape
		errSub string
	}{
		{
			name:   "v2 garbage zstd",
			write:  func(t *testing.T, d string) { writeV2(t, d, tShape, tChunk, data, "zstd") },
			damage: func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "0.1.1"), []byte("not zstd at all")) },
			keys:   []string{"0.1.1"}, bad: [][]int{{0, 1, 1}}, chunk: tChunk, errSub: "zstd",
		},
		{
			name:   "v2 truncated zstd",
			write:  func(t *testing.T, d string) { writeV2(t, d, tShape, tChunk, data, "zstd") },
			damage: func(t *testing.T, d string) { truncate(t, filepath.Join(d, "1.0.0"), 0.5) },
			keys:   []string{"1.0.0"}, bad: [][]int{{1, 0, 0}}, chunk: tChunk, errSub: "zstd",
		},
		{
			name:  "v2 zstd of the wrong size",
			write: func(t *testing.T, d string) { writeV2(t, d, tShape, tChunk, data, "zstd") },
			damage: func(t *testing.T, d string) {
				writeV2(t, filepath.Join(filepath.Dir(d), "small"), []int{1, 1, 4}, []int{1, 1, 4}, data[:4], "zstd")
				writeFile(t, filepath.Join(d, "1.1.0"), readFile(t, filepath.Join(filepath.Dir(d), "small", "0.0.0")))
			},
			keys: []string{"1.1.0"}, bad: [][]int{{1, 1, 0}}, chunk: tChunk, errSub: "want 48",
		},
		{
			name:   "v2 raw chunk too long",
			write:  func(t *testing.T, d string) { writeV2(t, d, tShape, tChunk, data, "") },
			damage: func(t *testing.T, d string) { appendFile(t, filepath.Join(d, "0.0.1"), []byte{1, 2}) },
			keys:   []string{"0.0.1"}, bad: [][]int{{0, 0, 1}}, chunk: tChunk, errSub: "holds 50 bytes, want 48",
		},
		{
			name:  "v2 chunk is a folder",
			write: func(t *testing.T, d string) { writeV2(t, d, tShape, tChunk, data, "") },
			damage: func(t *testing.T, d string) {
				os.Remove(filepath.Join(d, "1.1.1"))
				os.Mkdir(filepath.Join(d, "1.1.1"), 0o755)
			},
			keys: []string{"1.1.1"}, bad: [][]int{{1, 1, 1}}, chunk: tChunk, errSub: "directory",
		},
		{
			name:   "v3 crc32c mismatch",
			write:  func(t *testing.T, d string) { writeV3(t, d, tShape, tChunk, nil, data) },
			damage: func(t *testing.T, d string) { flipByte(t, filepath.Join(d, "c", "0", "1", "0"), 5) },
			keys:   []string{"c/0/1/0"}, bad: [][]int{{0, 1, 0}}, chunk: tChunk, errSub: "crc32c mismatch",
		},
		{
			name:   "v3 chunk shorter than its checksum",
			write:  func(t *testing.T, d string) { writeV3(t, d, tShape, tChunk, nil, data) },
			damage: func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "c", "1", "1", "1"), []byte{1, 2}) },
			keys:   []string{"c/1/1/1"}, bad: [][]int{{1, 1, 1}}, chunk: tChunk, errSub: "too short",
		},
		{
			name:   "v3 truncated shard index",
			write:  func(t *testing.T, d string) { writeV3(t, d, tShape, []int{2, 6, 8}, tChunk, data) },
			damage: func(t *testing.T, d string) { truncateTo(t, filepath.Join(d, "c", "1", "0", "0"), 30) },
			keys:   []string{"c/1/0/0[0,0,0]", "c/1/0/0[0,0,1]", "c/1/0/0[0,1,0]", "c/1/0/0[0,1,1]"},
			bad:    [][]int{{1, 0, 0}, {1, 0, 1}, {1, 1, 0}, {1, 1, 1}}, chunk: tChunk, errSub: "truncated",
		},
		{
			name:   "v3 shard index checksum",
			write:  func(t *testing.T, d string) { writeV3(t, d, tShape, []int{2, 6, 8}, tChunk, data) },
			damage: func(t *testing.T, d string) { flipByte(t, filepath.Join(d, "c", "0", "0", "0"), -10) },
			keys:   []string{"c/0/0/0[0,0,0]", "c/0/0/0[0,0,1]", "c/0/0/0[0,1,0]", "c/0/0/0[0,1,1]"},
			bad:    [][]int{{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}}, chunk: tChunk, errSub: "shard index: crc32c",
		},
		{
			name:   "v3 shard index past the end",
			write:  func(t *testing.T, d string) { writeV3(t, d, tShape, []int{2, 6, 8}, tChunk, data) },
			damage: func(t *testing.T, d string) { setShardEntry(t, filepath.Join(d, "c", "1", "0", "0"), 4, 2, 1<<40, 10) },
			keys:   []string{"c/1/0/0[0,1,0]"}, bad: [][]int{{1, 1, 0}}, chunk: tChunk, errSub: "runs past the end",
		},
		{
			name:   "v3 inner chunk corrupt",
			write:  func(t *testing.T, d string) { writeV3(t, d, tShape, []int{2, 6, 8}, tChunk, data) },
			damage: func(t *testing.T, d string) { flipByte(t, filepath.Join(d, "c", "0", "0", "0"), 3) },
			keys:   []string{"c/0/0/0[0,0,0]"}, bad: [][]int{{0, 0, 0}}, chunk: tChunk, errSub: "crc32c mismatch",
		},
		{
			name:  "n5 header rank",
			write: func(t *testing.T, d string) { writeN5(t, d, tShape, tChunk, data) },
			damage: func(t *testing.T, d string) {
				p := filepath.Join(d, "0", "1", "0")
				b := readFile(t, p)
				binary.BigEndian.PutUint16(b[2:], 2)
				writeFile(t, p, b)
			},
			keys: []string{"0/1/0"}, bad: [][]int{{0, 1, 0}}, chunk: tChunk, errSub: "block header has 2 dimensions, the dataset 3",
		},
		{
			name:  "n5 header larger than the block size",
			write: func(t *testing.T, d string) { writeN5(t, d, tShape, tChunk, data) },
			damage: func(t *testing.T, d string) {
				p := filepath.Join(d, "1", "0", "1")
				b := readFile(t, p)
				binary.BigEndian.PutUint32(b[4:], 5) // x extent 5 > 4
				writeFile(t, p, b)
			},
			keys: []string{"1/0/1"}, bad: [][]int{{1, 0, 1}}, chunk: tChunk, errSub: "block header says [5 3 2]",
		},
		{
			name:   "n5 truncated data",
			write:  func(t *testing.T, d string) { writeN5(t, d, tShape, tChunk, data) },
			damage: func(t *testing.T, d string) { truncate(t, filepath.Join(d, "1", "1", "1"), 0.7) },
			keys:   []string{"1/1/1"}, bad: [][]int{{1, 1, 1}}, chunk: tChunk, errSub: "its header says 48",
		},
		{
			name:   "n5 unknown mode",
			write:  func(t *testing.T, d string) { writeN5(t, d, tShape, tChunk, data) },
			damage: func(t *testing.T, d string) { flipByte(t, filepath.Join(d, "0", "0", "1"), 0) },
			keys:   []string{"0/0/1"}, bad: [][]int{{1, 0, 0}}, chunk: tChunk, errSub: "unknown mode",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a")
			c.write(t, dir)
			c.damage(t, dir)
			im, err := Open(dir, Options{Cache: NewCache(1 << 20)})
			if err != nil {
				t.Fatal(err)
			}
			s := im.Meta().Shape
			for _, b := range []volume.Box{volume.Whole(s), {Z0: 1, Z1: 4, Y0: 2, Y1: 6, X0: 3, X1: 8}} {
				v, err := im.Read(context.Background(), b)
				var ce *ChunkErrors
				if !errors.As(err, &ce) {
					t.Fatalf("Read(%v): error %v, want *ChunkErrors", b, err)
				}
				if v == nil {
					t.Fatalf("Read(%v): no volume with the chunk errors", b)
				}
				if ce.Array != "a" || ce.Fill != 0 {
					t.Errorf("ChunkErrors names %q with fill %g, want a with 0", ce.Array, ce.Fill)
				}
				if b == volume.Whole(s) && !reflect.DeepEqual(ce.Keys(), c.keys) {
					t.Errorf("bad chunks %q, want %q", ce.Keys(), c.keys)
				}
				if b == volume.Whole(s) {
					t.Log(err)
				}
				if !strings.Contains(err.Error(), c.errSub) || !strings.Contains(err.Error(), "zarr: a: ") {
					t.Errorf("error %q does not name the array and say %q", err, c.errSub)
				}
				checkDamaged(t, v, b, data, c.bad, c.chunk)
			}
		})
	}
}

// checkDamaged checks that box b of the volume holds 0 in the bad chunks
// and the pattern elsewhere.
func checkDamaged(t *testing.T, v *volume.Volume, b volume.Box, data []uint16, bad [][]int, chunk []int) {
	t.Helper()
	for z := b.Z0; z < b.Z1; z++ {
		for y := b.Y0; y < b.Y1; y++ {
			for x := b.X0; x < b.X1; x++ {
				want := float64(data[(z*tShape[1]+y)*tShape[2]+x])
				for _, c := range bad {
					if z/chunk[0] == c[0] && y/chunk[1] == c[1] && x/chunk[2] == c[2] {
						want = 0
					}
				}
				if got := v.At(z-b.Z0, y-b.Y0, x-b.X0); got != want {
					t.Fatalf("voxel (%d, %d, %d) = %v, want %v", z, y, x, got, want)
				}
			}
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func truncate(t *testing.T, p string, frac float64) {
	t.Helper()
	b := readFile(t, p)
	writeFile(t, p, b[:int(float64(len(b))*frac)])
}

func truncateTo(t *testing.T, p string, n int) {
	t.Helper()
	writeFile(t, p, readFile(t, p)[:n])
}

func appendFile(t *testing.T, p string, extra []byte) {
	t.Helper()
	writeFile(t, p, append(readFile(t, p), extra...))
}

// flipByte inverts byte i of a file (from the end when negative).
func flipByte(t *testing.T, p string, i int) {
	t.Helper()
	b := readFile(t, p)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0xff
	writeFile(t, p, b)
}

// setShardEntry rewrites entry j of the index (bytes, crc32c, at the end)
// of a shard of n inner chunks, keeping its checksum valid.
func setShardEntry(t *testing.T, p string, n, j int, off, size uint64) {
	t.Helper()
	b := readFile(t, p)
	idx := b[len(b)-16*n-4:]
	binary.LittleEndian.PutUint64(idx[16*j:], off)
	binary.LittleEndian.PutUint64(idx[16*j+8:], size)
	binary.LittleEndian.PutUint32(idx[16*n:], crc32.Checksum(idx[:16*n], crc32c))
	writeFile(t, p, b)
}

// TestMissingChunksAreFill checks that chunks, shards and inner chunks not
// stored read as the fill value without error.
func TestMissingChunksAreFill(t *testing.T) {
	data := pattern(prod(tShape))
	cases := []struct {
		name   string
		write  func(t *testing.T, d string)
		remove []string
		bad    [][]int
	}{
		{"v2", func(t *testing.T, d string) { writeV2(t, d, tShape, tChunk, data, "zstd") }, []string{"0.1.0", "1.1.1"}, [][]int{{0, 1, 0}, {1, 1, 1}}},
		{"v3", func(t *testing.T, d string) { writeV3(t, d, tShape, tChunk, nil, data) }, []string{"c/1/0/1"}, [][]int{{1, 0, 1}}},
		{"v3 shard", func(t *testing.T, d string) { writeV3(t, d, tShape, []int{2, 6, 8}, tChunk, data) }, []string{"c/0/0/0"}, [][]int{{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}}},
		{"n5", func(t *testing.T, d string) { writeN5(t, d, tShape, tChunk, data) }, []string{"1/1/0"}, [][]int{{0, 1, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a")
			c.write(t, dir)
			for _, k := range c.remove {
				if err := os.Remove(filepath.Join(dir, filepath.FromSlash(k))); err != nil {
					t.Fatal(err)
				}
			}
			im, err := Open(dir, Options{Cache: NewCache(1 << 20)})
			if err != nil {
				t.Fatal(err)
			}
			b := volume.Whole(im.Meta().Shape)
			v, err := im.Read(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			checkDamaged(t, v, b, data, c.bad, tChunk)
		})
	}
}

// TestEmptyShardEntries checks that inner chunks whose index entry is
// 2^64-1 twice read as the fill value.
func TestEmptyShardEntries(t *testing.T) {
	data := pattern(prod(tShape))
	dir := filepath.Join(t.TempDir(), "a")
	writeV3(t, dir, tShape, []int{2, 6, 8}, tChunk, data)
	setShardEntry(t, filepath.Join(dir, "c", "1", "0", "0"), 4, 3, emptyEntry, emptyEntry)
	im, err := Open(dir, Options{Cache: NewCache(1 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	b := volume.Whole(im.Meta().Shape)
	v, err := im.Read(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	checkDamaged(t, v, b, data, [][]int{{1, 1, 1}}, tChunk)
}

// TestCache checks the byte budget, least-recently-used eviction and that
// values too large for the budget, nil values and errors are not kept.
func TestCache(t *testing.T) {
	type step struct {
		key  string
		size int64
		err  bool
		nil  bool
		// loaded says whether the step must call its loader.
		loaded bool
	}
	cases := []struct {
		name  string
		max   int64
		steps []step
		bytes int64
		len   int
	}{
		{"hit", 100, []step{{key: "a", size: 10, loaded: true}, {key: "a", size: 10}}, 10, 1},
		{"evicts oldest", 25, []step{{key: "a", size: 10, loaded: true}, {key: "b", size: 10, loaded: true}, {key: "c", size: 10, loaded: true}, {key: "a", size: 10, loaded: true}}, 20, 2},
		{"use refreshes", 25, []step{{key: "a", size: 10, loaded: true}, {key: "b", size: 10, loaded: true}, {key: "a", size: 10}, {key: "c", size: 10, loaded: true}, {key: "a", size: 10}, {key: "b", size: 10, loaded: true}}, 20, 2},
		{"too large", 25, []step{{key: "a", size: 30, loaded: true}, {key: "a", size: 30, loaded: true}}, 0, 0},
		{"errors not kept", 100, []step{{key: "a", err: true, loaded: true}, {key: "a", err: true, loaded: true}}, 0, 0},
		{"nil not kept", 100, []step{{key: "a", nil: true, loaded: true}, {key: "a", nil: true, loaded: true}}, 0, 0},
		{"zero budget", 0, []step{{key: "a", size: 1, loaded: true}, {key: "a", size: 1, loaded: true}}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := NewCache(c.max)
			for i, s := range c.steps {
				called := false
				v, err := cache.get(s.key, func() (any, int64, error) {
					called = true
					switch {
					case s.err:
						return nil, 0, errors.New("bad")
					case s.nil:
						return nil, 0, nil
					}
					return s.key, s.size, nil
				})
				if called != s.loaded {
					t.Errorf("step %d (%s): loaded %v, want %v", i, s.key, called, s.loaded)
				}
				if s.err != (err != nil) || !s.err && !s.nil && v != s.key {
					t.Errorf("step %d (%s): %v, %v", i, s.key, v, err)
				}
			}
			if cache.Bytes() != c.bytes || cache.Len() != c.len {
				t.Errorf("holds %d entries, %d bytes, want %d, %d", cache.Len(), cache.Bytes(), c.len, c.bytes)
			}
		})
	}
}

// TestCacheSingleFlight checks that concurrent readers of one key load it
// once, and that a panicking load is an error for all of them.
func TestCacheSingleFlight(t *testing.T) {
	for _, panics := range []bool{false, true} {
		cache := NewCache(1 << 20)
		var mu sync.Mutex
		loads := 0
		var wg sync.WaitGroup
		errs := make([]error, 16)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = cache.get("k", func() (any, int64, error) {
					mu.Lock()
					loads++
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
					if panics {
						panic("boom")
					}
					return "v", 1, nil
				})
			}()
		}
		wg.Wait()
		if loads != 1 {
			t.Errorf("panics %v: %d loads, want 1", panics, loads)
		}
		for _, err := range errs {
			if panics != (err != nil) {
				t.Errorf("panics %v: error %v", panics, err)
			}
		}
	}
}

// TestReadUsesCache checks that each chunk is decoded once: by repeated
// and concurrent reads, and by another Image of the same array sharing the
// cache.
func TestReadUsesCache(t *testing.T) {
	data := pattern(prod(tShape))
	dir := filepath.Join(t.TempDir(), "a")
	writeV3(t, dir, tShape, []int{2, 6, 8}, tChunk, data)
	cache := NewCache(1 << 20)
	im, err := Open(dir, Options{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	whole := volume.Whole(im.Meta().Shape)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := im.Read(context.Background(), whole); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// 8 inner chunks and 2 shard indexes.
	if n := cache.Loads(); n != 10 {
		t.Errorf("concurrent reads: %d loads, want 10", n)
	}
	im2, err := Open(dir, Options{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im2.Read(context.Background(), volume.Box{Z0: 1, Z1: 3, Y0: 0, Y1: 6, X0: 2, X1: 7}); err != nil {
		t.Fatal(err)
	}
	if n := cache.Loads(); n != 10 {
		t.Errorf("second image: %d loads, want 10", n)
	}
	other := NewCache(1 << 20)
	im3, err := Open(dir, Options{Cache: other})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im3.Read(context.Background(), volume.Box{Z0: 0, Z1: 1, Y0: 0, Y1: 1, X0: 0, X1: 1}); err != nil {
		t.Fatal(err)
	}
	if n := other.Loads(); n != 2 {
		t.Errorf("own cache: %d loads, want 2 (an index and a chunk)", n)
	}
}

// TestReadErrors checks reads that must fail: outside the volume, after
// Close, with a cancelled context, at a channel or time point that does
// not exist.
func TestReadErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	writeV2(t, dir, tShape, tChunk, pattern(prod(tShape)), "zstd")
	im, err := Open(dir, Options{Cache: NewCache(1 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ok := volume.Box{Z0: 0, Z1: 1, Y0: 0, Y1: 1, X0: 0, X1: 1}
	cases := []struct {
		name string
		read func() (*volume.Volume, error)
		want string
		is   error
	}{
		{"outside", func() (*volume.Volume, error) {
			return im.Read(context.Background(), volume.Box{Z0: 0, Z1: 5, Y0: 0, Y1: 1, X0: 0, X1: 1})
		}, "is not inside", nil},
		{"empty", func() (*volume.Volume, error) {
			return im.Read(context.Background(), volume.Box{Z0: 1, Z1: 1, Y0: 0, Y1: 1, X0: 0, X1: 1})
		}, "is not inside", nil},
		{"cancelled", func() (*volume.Volume, error) { return im.Read(cancelled, ok) }, "", context.Canceled},
		{"channel", func() (*volume.Volume, error) { return im.Level(0).ReadTC(context.Background(), 0, 1, ok) }, "channel 1", nil},
		{"closed", func() (*volume.Volume, error) {
			im.Close()
			return im.Read(context.Background(), ok)
		}, "zarr: read a: image is closed", ErrClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := c.read()
			if err == nil || v != nil {
				t.Fatalf("got %v, %v", v, err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestReadCancelledDuringRead cancels a read of many chunks while it runs.
func TestReadCancelledDuringRead(t *testing.T) {
	shape := []int{64, 64, 64}
	dir := filepath.Join(t.TempDir(), "a")
	writeV2(t, dir, shape, []int{4, 4, 4}, pattern(prod(shape)), "zstd")
	im, err := Open(dir, Options{Cache: NewCache(1 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(time.Millisecond)
		cancel()
	}()
	v, err := im.Read(ctx, volume.Whole(im.Meta().Shape))
	if err == nil {
		t.Skip("skipping: the read finished before it was cancelled")
	}
	if v != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, %v, want context.Canceled", v, err)
	}
}

// TestChunkErrorsMessage checks the message of many bad chunks.
func TestChunkErrorsMessage(t *testing.T) {
	e := &ChunkErrors{Array: "a.zarr/0", Fill: 0, Chunks: []ChunkError{
		{"0.0.1", errors.New("x")}, {"0.0.2", errors.New("y")}, {"0.0.3", errors.New("z")}, {"0.0.4", context.Canceled},
	}}
	want := "zarr: a.zarr/0: 4 chunks could not be read (shown as the fill value 0): chunk 0.0.1: x, chunk 0.0.2: y, chunk 0.0.3: z; and 1 more"
	if e.Error() != want {
		t.Errorf("got %q\nwant %q", e.Error(), want)
	}
	if !errors.Is(e, context.Canceled) {
		t.Error("errors.Is does not see the chunks' errors")
	}
}
