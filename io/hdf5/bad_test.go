package hdf5

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// fixtureBytes returns the bytes of the fixture called name's file, the
// dataset and the object header of the dataset.
func fixtureBytes(t *testing.T, name string) ([]byte, fixture, *object) {
	t.Helper()
	dir, fx := fixtureNamed(t, name)
	b, err := os.ReadFile(filepath.Join(dir, fx.File))
	if err != nil {
		t.Fatal(err)
	}
	f, err := openFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := f.resolve(fx.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.readObject(addr)
	if err != nil {
		t.Fatal(err)
	}
	return b, fx, o
}

// openBytes opens dataset name of the file b, with a cache of its own.
func openBytes(b []byte, name string) (*Dataset, error) {
	d, err := openReader(bytes.NewReader(b), int64(len(b)), "bad.h5", name)
	if err != nil {
		return nil, err
	}
	d.cache = newCache(1 << 20)
	return d, nil
}

// readAll opens dataset name of b and reads all of it.
func readAll(b []byte, name string) error {
	d, err := openBytes(b, name)
	if err != nil {
		return err
	}
	_, err = d.Read(context.Background(), volume.Whole(d.Meta().Shape))
	return err
}

// wantError checks that err is an *Error containing every one of parts.
func wantError(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error %v, want an *Error", what, err)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q, want one containing %q", what, err, p)
		}
	}
}

// TestTruncated opens and reads files cut short at many lengths: every
// attempt must fail with an error or succeed, never panic, and a read that
// succeeds must give h5py's values.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"partial_latest_seven", "userblock", "pick_single", "latest_dense_links", "cremi_raw", "v108"} {
		t.Run(name, func(t *testing.T) {
			b, fx, _ := fixtureBytes(t, name)
			dir, _ := fixtures(t)
			expect := readFloats(t, filepath.Join(dir, fx.Expect))
			step := max(1, len(b)/150)
			for n := 0; n < len(b); n += step {
				cut := b[:n]
				d, err := openBytes(cut, fx.Dataset)
				if err != nil {
					wantError(t, "open", err)
					continue
				}
				v, err := d.Read(context.Background(), volume.Whole(d.Meta().Shape))
				if err != nil {
					wantError(t, "read", err)
					continue
				}
				if diff := sameValues(v, expect); diff != "" {
					t.Fatalf("cut at %d of %d bytes: read without error, but %s", n, len(b), diff)
				}
			}
			// Shortened after opening.
			d, err := openBytes(b, fx.Dataset)
			if err != nil {
				t.Fatal(err)
			}
			d.ds.f.r = bytes.NewReader(b[:len(b)/2])
			if _, err := d.Read(context.Background(), volume.Whole(d.Meta().Shape)); err != nil {
				wantError(t, "read shortened", err)
			}
		})
	}
}

// TestCorruptChunk checks that a chunk whose compressed bytes are damaged
// gives an error naming the chunk and the filter that failed.
func TestCorruptChunk(t *testing.T) {
	for _, c := range []struct {
		fixture string
		chunk   []uint64
		want    []string
	}{
		{"gzip1", []uint64{1, 0, 0}, []string{"chunk (1,0,0)", "deflate", "bad.h5:/gzip1"}},
		{"latest_fixed", []uint64{2, 1, 2}, []string{"chunk (2,1,2)", "deflate"}},
		{"fletcher32", []uint64{1, 2, 0}, []string{"chunk (1,2,0)", "fletcher32: checksum"}},
		{"lzf", []uint64{0, 1, 1}, []string{"chunk (0,1,1)", "lzf"}},
		{"plugin_zstd", []uint64{2, 0, 0}, []string{"chunk (2,0,0)", "zstd"}},
		{"plugin_blosc", []uint64{2, 0, 0}, []string{"chunk (2,0,0)", "blosc"}}, // in its header: Blosc has no checksum
	} {
		t.Run(c.fixture, func(t *testing.T) {
			b, fx, _ := fixtureBytes(t, c.fixture)
			d, err := openBytes(b, fx.Dataset)
			if err != nil {
				t.Fatal(err)
			}
			loc, ok, err := d.ds.index.lookup(c.chunk)
			if err != nil || !ok {
				t.Fatalf("chunk %v: %v %v", c.chunk, ok, err)
			}
			bad := bytes.Clone(b)
			at := d.ds.f.base + loc.addr + loc.size/2
			if c.fixture == "plugin_blosc" {
				at = d.ds.f.base + loc.addr + 4
			}
			for i := range min(16, loc.size/4) {
				bad[at+i] ^= 0x5a
			}
			err = readAll(bad, fx.Dataset)
			wantError(t, "read", err, c.want...)
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
			// A box that does not touch the chunk reads.
			d, err = openBytes(bad, fx.Dataset)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Read(context.Background(), box(0, 1, 0, 1, 0, 1)); err != nil {
				t.Errorf("first voxel: %v", err)
			}
		})
	}
}

// patchMessage returns a copy of b with the data of the first message of
// type typ of header o changed by patch.
func patchMessage(t *testing.T, b []byte, base uint64, o *object, typ uint16, patch func(data []byte)) []byte {
	t.Helper()
	m := o.find(typ)
	if m == nil {
		t.Fatalf("no message of type %d", typ)
	}
	out := bytes.Clone(b)
	patch(out[base+m.addr : base+m.addr+uint64(len(m.data))])
	return out
}

// TestLyingHeaders changes the sizes and addresses in headers: each file
// must fail to open or read with an error saying what is wrong, or read
// as the header says when that is consistent.
func TestLyingHeaders(t *testing.T) {
	dims := func(i int, v uint64) func([]byte) {
		return func(d []byte) { binary.LittleEndian.PutUint64(d[8+8*i:], v) } // version 1 dataspace
	}
	cases := []struct {
		fixture string
		typ     uint16
		patch   func([]byte)
		want    []string // "" for no error
	}{
		{"contiguous", msgDataspace, dims(2, 47000), []string{"needs 161304000 bytes", "contiguous storage holds"}},
		{"contiguous", msgDataspace, dims(0, 1<<40), []string{"needs", "bytes"}},
		{"contiguous", msgDataspace, dims(1, 0), []string{"no elements"}},
		{"contiguous", msgDataspace, dims(0, 1<<62), []string{"too large to address"}},
		{"gzip1", msgDataspace, dims(0, 1<<62), []string{"too large to address"}},
		{"contiguous", msgLayout, func(d []byte) { binary.LittleEndian.PutUint64(d[2:], 1<<50) }, []string{"past the end"}},
		{"gzip1", msgLayout, func(d []byte) { binary.LittleEndian.PutUint32(d[11:], 1<<31) }, []string{"chunks of", "more than"}},
		{"gzip1", msgLayout, func(d []byte) { binary.LittleEndian.PutUint32(d[11:], 0) }, []string{"chunk dimensions"}},
		{"gzip1", msgLayout, func(d []byte) { binary.LittleEndian.PutUint64(d[3:], 1<<40) }, []string{"past the end"}},
		{"gzip1", msgDatatype, func(d []byte) { d[0] = 0x16 }, []string{"compound elements"}},
		{"gzip1", msgDatatype, func(d []byte) { d[4] = 3 }, []string{"3-byte integer"}},
		{"gzip1", msgFilters, func(d []byte) { d[8] = 4 }, []string{"szip (id 4) filter", "not supported"}},
		{"gzip1", msgFilters, func(d []byte) { d[1] = 200 }, []string{"200 filters"}},
		{"plain", msgLayout, func(d []byte) { d[0] = 9 }, []string{"layout message version 9"}},
		{"latest_fixed", msgLayout, func(d []byte) { d[0] = 9 }, []string{"checksum"}},
	}
	for _, c := range cases {
		b, fx, o := fixtureBytes(t, c.fixture)
		base := uint64(0)
		bad := patchMessage(t, b, base, o, c.typ, c.patch)
		err := readAll(bad, fx.Dataset)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.fixture, err)
			}
			continue
		}
		wantError(t, c.fixture, err, c.want...)
	}

	// A chunked dataset whose dataspace says more than was written reads
	// the rest as the fill value.
	b, fx, o := fixtureBytes(t, "gzip1")
	bad := patchMessage(t, b, 0, o, msgDataspace, dims(0, 1<<30))
	d, err := openBytes(bad, fx.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Read(context.Background(), box(1<<29, 1<<29+2, 0, 3, 0, 3))
	if err != nil || v.Shape() != (volume.Shape{Z: 2, Y: 3, X: 3}) || v.At(1, 2, 2) != 0 {
		t.Errorf("read past the chunks written: %v %v", v, err)
	}
}

// TestLyingChunkIndex changes the chunk sizes and addresses a v1 B-tree
// gives.
func TestLyingChunkIndex(t *testing.T) {
	b, fx, _ := fixtureBytes(t, "gzip1")
	d, err := openBytes(b, fx.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	root := d.ds.lay.addr
	nd, err := d.ds.f.btree1Node(root, 1, 8+8*4)
	if err != nil {
		t.Fatal(err)
	}
	if nd.level != 0 {
		t.Fatalf("chunk B-tree root at level %d", nd.level)
	}
	// Keys follow the 24-byte node header; the first key's chunk size.
	key0 := d.ds.f.base + root + 24
	for _, c := range []struct {
		name  string
		patch func([]byte)
		want  string
	}{
		{"huge chunk size", func(x []byte) { binary.LittleEndian.PutUint32(x[key0:], 0xfffffff0) }, "past the end"},
		{"zero chunk size", func(x []byte) { binary.LittleEndian.PutUint32(x[key0:], 0) }, "chunk (0,0,0)"},
		{"chunk address past the end", func(x []byte) { binary.LittleEndian.PutUint64(x[key0+40:], 1<<40) }, "past the end"},
		{"filter mask skips deflate", func(x []byte) { binary.LittleEndian.PutUint32(x[key0+4:], 1) }, "unfiltered chunk stored in"},
		{"entries beyond the node", func(x []byte) { binary.LittleEndian.PutUint16(x[d.ds.f.base+root+6:], 60000) }, "B-tree node"},
		{"not a B-tree node", func(x []byte) { x[d.ds.f.base+root] = 'X' }, "no TREE signature"},
		{"node of the wrong type", func(x []byte) { x[d.ds.f.base+root+4] = 0 }, "node type 0"},
	} {
		bad := bytes.Clone(b)
		c.patch(bad)
		wantError(t, c.name, readAll(bad, fx.Dataset), c.want)
	}
}

// TestCycles makes structures of the file refer to themselves: a group
// B-tree node that is its own child and an object header that continues
// in itself. Opening must fail instead of looping. (Cycles of hard and
// soft links are in the fixtures: TestList and TestFixtures.)
func TestCycles(t *testing.T) {
	// The root group of basic.h5 is a symbol table whose B-tree is one
	// leaf: make it an internal node whose first child is itself.
	dir, _ := fixtures(t)
	b, err := os.ReadFile(filepath.Join(dir, "basic.h5"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := openFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.readObject(f.root)
	if err != nil {
		t.Fatal(err)
	}
	stab := o.find(msgSymbolTable)
	bt := binary.LittleEndian.Uint64(stab.data)
	bad := bytes.Clone(b)
	bad[bt+5] = 1                                                    // level
	binary.LittleEndian.PutUint64(bad[bt+24+uint64(f.lenSize):], bt) // child 0
	wantError(t, "group B-tree loop", readAll(bad, "/gzip1"), "loop")
	if _, err := openFileList(bad); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("List of a group B-tree loop: %v", err)
	}

	// An object header whose continuation points back at its first chunk.
	b, fx, o := fixtureBytes(t, "continued_header")
	if o.find(msgContinuation) == nil {
		t.Fatal("the header has no continuation")
	}
	bad = patchMessage(t, b, 0, o, msgContinuation, func(d []byte) {
		binary.LittleEndian.PutUint64(d, o.addr+16)
	})
	wantError(t, "continuation loop", readAll(bad, fx.Dataset), "continuation chunks loop")
}

// openFileList lists the datasets of the file b.
func openFileList(b []byte) ([]DatasetInfo, error) {
	f, err := openFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	return f.list()
}
