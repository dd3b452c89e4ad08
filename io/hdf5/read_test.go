package hdf5

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/niiv/niiv/volume"
)

// countingReader counts the reads and bytes that go through it.
type countingReader struct {
	r            io.ReaderAt
	calls, bytes atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.calls.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

// openFixture opens the dataset of the fixture called name over a counting
// reader of the file's bytes, with a cache of its own.
func openFixture(t testing.TB, name string) (*Dataset, *countingReader, fixture, []float64) {
	t.Helper()
	dir, fx := fixtureNamed(t, name)
	b, err := os.ReadFile(filepath.Join(dir, fx.File))
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: bytes.NewReader(b)}
	d, err := openReader(cr, int64(len(b)), fx.File, fx.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	d.cache = newCache(1 << 30)
	return d, cr, fx, readFloats(t, filepath.Join(dir, fx.Expect))
}

// TestReadOnlyNeededChunks checks that a region read reads and decodes only
// the chunks it overlaps, each once, and that a second read of the same
// region is served from the cache.
func TestReadOnlyNeededChunks(t *testing.T) {
	cases := []struct {
		fixture string
		box     volume.Box
		chunks  int64
	}{
		// 13×33×47 in 4×16×16 chunks (4×3×3 chunks).
		{"gzip1", box(0, 1, 0, 1, 0, 1), 1},
		{"gzip1", box(3, 5, 15, 17, 15, 17), 8},
		{"gzip1", box(5, 6, 0, 33, 0, 47), 9},
		{"gzip1", box(0, 13, 0, 33, 0, 47), 36},
		{"latest_fixed", box(12, 13, 32, 33, 46, 47), 1},
		{"latest_btree2", box(0, 2, 0, 4, 0, 8), 1},
		{"latest_ext", box(0, 13, 20, 21, 20, 21), 7},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %v", c.fixture, c.box), func(t *testing.T) {
			d, _, _, expect := openFixture(t, c.fixture)
			for i := range 2 {
				v, err := d.Read(context.Background(), c.box)
				if err != nil {
					t.Fatal(err)
				}
				if diff := sameValues(v, sliceBox(expect, d.Meta().Shape, c.box)); diff != "" {
					t.Fatal(diff)
				}
				if got := d.cache.Loads(); got != c.chunks {
					t.Errorf("read %d: %d chunks loaded, want %d", i+1, got, c.chunks)
				}
			}
		})
	}
}

// TestContiguousReads checks that a contiguous dataset is read by rows, or
// by planes when the box spans whole rows, and only the box's bytes.
func TestContiguousReads(t *testing.T) {
	d, cr, _, expect := openFixture(t, "contiguous") // 13×33×47 float64
	cases := []struct {
		box   volume.Box
		calls int64
	}{
		{box(0, 13, 0, 33, 0, 47), 13},
		{box(2, 4, 5, 9, 0, 47), 2},
		{box(2, 4, 5, 9, 3, 7), 8},
		{box(6, 7, 16, 17, 20, 21), 1},
	}
	for _, c := range cases {
		cr.calls.Store(0)
		cr.bytes.Store(0)
		v, err := d.Read(context.Background(), c.box)
		if err != nil {
			t.Fatal(err)
		}
		if diff := sameValues(v, sliceBox(expect, d.Meta().Shape, c.box)); diff != "" {
			t.Errorf("%v: %s", c.box, diff)
		}
		if n, want := cr.bytes.Load(), int64(c.box.Shape().Len()*8); cr.calls.Load() != c.calls || n != want {
			t.Errorf("%v: %d reads of %d bytes, want %d of %d", c.box, cr.calls.Load(), n, c.calls, want)
		}
	}
}

// TestConcurrentReads reads random regions from many goroutines at once,
// sharing one small cache, and checks every value.
func TestConcurrentReads(t *testing.T) {
	for _, name := range []string{"shuffle_gzip", "latest_btree2", "contiguous"} {
		t.Run(name, func(t *testing.T) {
			d, _, _, expect := openFixture(t, name)
			d.cache = newCache(64 << 10) // a few chunks: loads and evictions race
			s := d.Meta().Shape
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 1))
					for range 30 {
						z0, y0, x0 := r.IntN(s.Z), r.IntN(s.Y), r.IntN(s.X)
						b := box(z0, z0+1+r.IntN(s.Z-z0), y0, y0+1+r.IntN(s.Y-y0), x0, x0+1+r.IntN(s.X-x0))
						v, err := d.Read(context.Background(), b)
						if err == nil {
							if diff := sameValues(v, sliceBox(expect, s, b)); diff != "" {
								err = fmt.Errorf("%v: %s", b, diff)
							}
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestReadErrors checks the boxes Read refuses and its cancellation.
func TestReadErrors(t *testing.T) {
	d, _, _, _ := openFixture(t, "gzip9")
	ctx := context.Background()
	for _, b := range []volume.Box{box(0, 14, 0, 1, 0, 1), box(-1, 1, 0, 1, 0, 1), box(2, 2, 0, 1, 0, 1), box(0, 1, 0, 34, 0, 1)} {
		if _, err := d.Read(ctx, b); err == nil || !strings.Contains(err.Error(), "outside the volume") {
			t.Errorf("%v: error %v", b, err)
		}
	}
	defer func(n int64) { MaxReadBytes = n }(MaxReadBytes)
	MaxReadBytes = 1000
	if _, err := d.Read(ctx, volume.Whole(d.Meta().Shape)); err == nil || !strings.Contains(err.Error(), "MaxReadBytes") {
		t.Errorf("error %v, want MaxReadBytes", err)
	}
	MaxReadBytes = 1 << 30
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Read(cctx, volume.Whole(d.Meta().Shape)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
}

// TestList checks List on files of nested groups, links, a cycle between
// groups and datasets that cannot be read, and Open's choice of dataset
// when none is named.
func TestList(t *testing.T) {
	dir, _ := fixtures(t)
	cases := []struct {
		file string
		want []string // String of each DatasetInfo, then its problem
	}{
		{"sample_A.hdf", []string{
			"/volumes/labels/neuron_ids (uint64 12×40×40)", "",
			"/volumes/raw (uint8 12×40×40)", "",
		}},
		{"single.h5", []string{
			"/a/b/vol (uint8 5×6×7)", "",
			"/a/plane (uint8 6×7)", "",
		}},
		{"ilastik.h5", []string{
			"/channels (uint8 2×4×5×6)", "dimensions beyond three are 1",
			"/exported_data (float32 1×6×20×25)", "",
			"/t5 (uint16 1×1×5×7×9)", "",
			"/tyxc (uint16 1×7×9×1)", "",
			"/zyxc (uint8 6×20×25×1)", "",
		}},
	}
	for _, c := range cases {
		infos, err := List(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		var got []string
		for _, in := range infos {
			got = append(got, in.String())
			p := in.Problem
			if c.want != nil && len(got) < len(c.want) && p != "" && strings.Contains(p, c.want[len(got)]) {
				p = c.want[len(got)]
			}
			got = append(got, p)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s:\n got %q\nwant %q", c.file, got, c.want)
		}
	}
	infos, err := List(filepath.Join(dir, "more.h5"))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, in := range infos {
		types[in.Name] = in.Type
		if (in.Problem == "") != (in.DType != 0) {
			t.Errorf("%s: problem %q with type %v", in.Name, in.Problem, in.DType)
		}
	}
	if types["/compound"] != "compound" || types["/committed"] != "int16 big-endian" || types["/vector"] != "int64" {
		t.Errorf("types %v", types)
	}

	// No name: the file's only volume, else an error listing them.
	_, err = Open(filepath.Join(dir, "sample_A.hdf"), "")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "/volumes/raw (uint8 12×40×40)") || !strings.Contains(err.Error(), "/volumes/labels/neuron_ids") {
		t.Errorf("Open with no name of a file of two volumes: %v", err)
	}
	_, err = Open(filepath.Join(dir, "basic.h5"), "")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "5 datasets can be read as volumes; name one: /contiguous (float64 13×33×47);") {
		t.Errorf("Open with no name of a file of five volumes: %v", err)
	}
}

// TestOpenErrors checks the errors of files that are not HDF5, and the
// kinds of the errors of the failing fixtures.
func TestOpenErrors(t *testing.T) {
	dir, all := fixtures(t)
	kinds := map[string]error{"scaleoffset": ErrUnsupported, "compound": ErrUnsupported, "rank1": ErrUnsupported,
		"rank4_channels": ErrUnsupported, "missing": ErrNotFound, "group": ErrNotFound, "softlink_loop": ErrFormat}
	for _, fx := range all {
		if fx.Error == "" {
			continue
		}
		_, err := Open(filepath.Join(dir, fx.File), fx.Dataset)
		var e *Error
		if !errors.As(err, &e) || e.Op != "open" || e.Dataset != fx.Dataset || !errors.Is(err, kinds[fx.Name]) {
			t.Errorf("%s: error %#v (%v), want an *Error of kind %v", fx.Name, err, err, kinds[fx.Name])
		}
	}
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path, want string
		kind       error
	}{
		{write("empty.h5", nil), "too short", ErrFormat},
		{write("text.h5", bytes.Repeat([]byte("not hdf5 "), 200)), "no HDF5 signature", ErrFormat},
		{write("sig.h5", []byte(Signature+"\x07")), "superblock", nil},
		{filepath.Join(tmp, "absent.h5"), "no such file", nil},
		{tmp, "is a directory", nil},
	} {
		_, err := Open(c.path, "/x")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "hdf5: open "+c.path) || c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%s: error %v, want %q", filepath.Base(c.path), err, c.want)
		}
		if _, err := List(c.path); err == nil {
			t.Errorf("List %s: no error", filepath.Base(c.path))
		}
	}
}

// TestSniff checks the signature test.
func TestSniff(t *testing.T) {
	for _, c := range []struct {
		head string
		want bool
	}{
		{Signature, true}, {Signature + "\x00\x00", true}, {Signature[:7], false}, {"", false}, {"\x89HDF\r\n\x1a\x0a"[:4] + "xxxx", false},
	} {
		if got := Sniff([]byte(c.head)); got != c.want {
			t.Errorf("Sniff(%q) = %v", c.head, got)
		}
	}
}

// TestExtArrayPaged checks that the paged extensible array fixture makes
// lookups go through a super block whose data blocks are paged.
func TestExtArrayPaged(t *testing.T) {
	d, _, _, expect := openFixture(t, "ext_paged")
	x, ok := d.ds.index.(*earrayIndex)
	if !ok {
		t.Fatalf("index %T", d.ds.index)
	}
	rel := uint64(131100) - x.idxN
	s := log2(rel/x.dblkMin + 1)
	if s < x.iblkN || x.sblk[s].dblkN <= x.pageN {
		t.Fatalf("element 131100 is in super block %d with %d-element data blocks (pages of %d)", s, x.sblk[s].dblkN, x.pageN)
	}
	b := box(131000, 133200, 0, 1, 0, 1)
	v, err := d.Read(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := sameValues(v, sliceBox(expect, d.Meta().Shape, b)); diff != "" {
		t.Error(diff)
	}
}

// TestNotes checks the note of integer types read as floating point.
func TestNotes(t *testing.T) {
	for name, want := range map[string]string{
		"le_u4": "uint32 values are read as float32, exact up to 2^24",
		"be_i8": "int64 values are read as float64, exact up to 2^53",
	} {
		d, _, _, _ := openFixture(t, name)
		if n := d.Notes(); len(n) != 1 || !strings.HasPrefix(n[0], want) {
			t.Errorf("%s: notes %q, want %q", name, n, want)
		}
	}
}

// TestWideGroup checks that the group of 600 links in latest.h5 is stored
// as the fixture means it to be (a v2 B-tree of more than one level over a
// fractal heap with indirect blocks) and that List finds each dataset once
// however many links lead to it.
func TestWideGroup(t *testing.T) {
	dir, _ := fixtures(t)
	b, err := os.ReadFile(filepath.Join(dir, "latest.h5"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := openFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := f.resolve("/wide")
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.readObject(addr)
	if err != nil {
		t.Fatal(err)
	}
	li := o.find(msgLinkInfo)
	if li == nil {
		t.Fatal("no link info message")
	}
	d := f.dec(li.data, "link info")
	d.skip(2)
	if li.data[1]&1 != 0 {
		d.skip(8)
	}
	heap, err := f.fractalHeap(d.addr())
	if err != nil {
		t.Fatal(err)
	}
	bt, err := f.btree2(d.addr())
	if err != nil {
		t.Fatal(err)
	}
	if heap.rootRows == 0 || bt.depth == 0 {
		t.Errorf("heap root rows %d, B-tree depth %d: the fixture does not reach indirect blocks and internal nodes", heap.rootRows, bt.depth)
	}
	ls, err := f.links(o)
	if err != nil || len(ls) != 600 {
		t.Fatalf("%d links, %v", len(ls), err)
	}
	infos, err := f.list()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range infos {
		if strings.HasPrefix(in.Name, "/wide/") || in.Name == "/fixed" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the dataset linked 301 times listed %d times", n)
	}
}
