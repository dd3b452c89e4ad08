package volio

// TIFF stacks read region by region: tiffSource walks the directory chain
// once, keeps where every page's strips or tiles lie, and decodes on each
// Read only the pages, strips and tiles that the region covers, so that a
// stack far larger than memory opens at once.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/niiv/niiv/internal/lru"
	"github.com/niiv/niiv/volume"
)

// tiffSource is a TIFF stack read on demand: a volume.Source over one open
// file. Its Meta is what readTIFF gives for the same file (with the file's
// base name as Name), and Read returns the same voxels as readTIFF, decoding
// only what the box needs. Uncompressed strips and tiles are read in part
// (only the rows and columns of the box); compressed ones are decoded whole
// and kept in a byte-bounded cache shared by all sources, or, when too
// large for it, decoded only down to the rows the box needs. It is safe
// for concurrent use.
type tiffSource struct {
	path string
	f    io.Closer
	st   *tiffStack // st.t reads from the open file
	meta volume.Meta

	// tables holds each page's strip or tile table once read (one entry
	// for an ImageJ contiguous stack, whose pages share page 0's);
	// tableN counts their entries, bounded by tiffTableBudget.
	tables []atomic.Pointer[tiffChunks]
	tableN atomic.Int64

	id      uint64 // this source's part of the cache keys
	cache   *tiffCache
	workers sync.Pool // *tiffWorker

	// chunks counts the strips and tiles read or decoded (cache hits
	// excluded).
	chunks atomic.Int64
}

// tiffChunks is where a page's strips or tiles lie: their file offsets and
// byte counts (counts is nil when the file has none).
type tiffChunks struct{ offs, counts []uint64 }

// tiffWorker holds one Read's decoder and buffers.
type tiffWorker struct {
	d   tiffDecoder
	raw []byte
}

// tiffTableBudget bounds the strip and tile offsets a tiffSource keeps (16
// bytes each, with their byte counts): the tables of a stack with more are
// read at open up to the bound and, past it, again by each Read that needs
// them.
var tiffTableBudget int64 = 1 << 21

// tiffRawMerge is how many unneeded bytes between two rows of an
// uncompressed strip or tile a read spans rather than making two reads.
const tiffRawMerge = 16 << 10

// tiffRawSpan bounds the bytes of one read of uncompressed data.
const tiffRawSpan = 1 << 20

// tiffSourceIDs numbers the sources for the cache keys.
var tiffSourceIDs atomic.Uint64

// tiffDecodedCache is the cache of decoded strips and tiles that all TIFF
// sources share, of ChunkCacheBytes.
var tiffDecodedCache = sync.OnceValue(func() *tiffCache { return newTIFFCache(ChunkCacheBytes) })

// openTIFFSource opens a TIFF stack for reading by region. It reads the
// header and every directory (in few system calls, never the pixel data)
// and checks, as readTIFF does, that all pages agree in size and type and
// that every strip and tile lies inside the file. Close the source when
// done.
func openTIFFSource(path string) (*tiffSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &Error{"read", path, err}
	}
	s, err := newTIFFSource(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// newTIFFSource parses the TIFF of size bytes read through r; path names it
// in errors and in Meta. The caller closes r.
func newTIFFSource(r io.ReaderAt, size int64, path string) (*tiffSource, error) {
	return newTIFFSourceOf(r, size, path, false)
}

// newTIFFSourceOf is newTIFFSource; with all, every page of a hyperstack
// is kept (parseTIFFPages) and the source's z runs over all of them.
func newTIFFSourceOf(r io.ReaderAt, size int64, path string, all bool) (*tiffSource, error) {
	s := &tiffSource{path: path, id: tiffSourceIDs.Add(1), cache: tiffDecodedCache()}
	// Read the tables as the walk passes each directory, while its bytes
	// are in the window reader. A broken table fails the open only if its
	// page is kept (an ImageJ time series keeps its first time point).
	var tables []*tiffChunks
	var errs []error
	var n int64
	onPage := func(t *tiffReader, z int, p *tiffPage) error {
		var tab *tiffChunks
		var err error
		if n+int64(p.chunks()) <= tiffTableBudget {
			if tab, err = loadTIFFChunks(t, p, z); err == nil {
				n += int64(len(tab.offs))
			}
		}
		tables, errs = append(tables, tab), append(errs, err)
		return nil
	}
	w := &windowReader{r: r}
	st, err := parseTIFFPages(w, size, false, false, all, onPage)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	st.t.r = r
	s.st = st
	if st.contiguous {
		tables = tables[:1]
	}
	if st.kept != nil {
		// The kept pages are not the first ones: take their tables.
		kt, ke := make([]*tiffChunks, len(st.kept)), make([]error, len(st.kept))
		for i, p := range st.kept {
			kt[i], ke[i] = tables[p], errs[p]
		}
		tables, errs = kt, ke
	}
	tables = tables[:len(st.pages)]
	for _, err := range errs[:len(tables)] {
		if err != nil {
			return nil, &Error{"read", path, err}
		}
	}
	s.tables = make([]atomic.Pointer[tiffChunks], len(tables))
	for i, tab := range tables {
		if tab != nil {
			s.tables[i].Store(tab)
			s.tableN.Add(int64(len(tab.offs)))
		}
	}
	s.meta = volume.Meta{Name: filepath.Base(path), Shape: st.shape, DType: st.dtype, Voxel: st.voxel}
	s.workers.New = func() any { return &tiffWorker{d: tiffDecoder{t: st.t, br: bufio.NewReaderSize(nil, 64<<10)}} }
	return s, nil
}

// loadTIFFChunks reads the strip or tile table of page p (plane z) and
// checks that each strip or tile lies inside the file.
func loadTIFFChunks(t *tiffReader, p *tiffPage, z int) (*tiffChunks, error) {
	offs, counts, err := t.chunkTable(p, z)
	if err != nil {
		return nil, err
	}
	for c := range offs {
		if _, _, err := t.span(p, z, c, offs, counts, 0); err != nil {
			return nil, err
		}
	}
	return &tiffChunks{offs, counts}, nil
}

// Meta returns the stack's name (the file's base name), shape, element
// type and voxel size.
func (s *tiffSource) Meta() volume.Meta { return s.meta }

// Detail describes the file's layout as Info.Detail does for a TIFF.
func (s *tiffSource) Detail() string { return s.st.detail }

// Close closes the file and drops the source's cached strips and tiles.
func (s *tiffSource) Close() error {
	s.cache.drop(s.id)
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// Read returns the voxels of b, decoding only pages b.Z0..b.Z1-1 and, in
// each, the strips or tiles that rows b.Y0..b.Y1-1 (and, for tiles,
// columns b.X0..b.X1-1) cover. Compressed strips and tiles small enough
// for the cache are decoded whole and kept; larger ones are decoded down
// to the box's last row for each Read. It checks ctx between pages (and
// between rows of strips or tiles within a page).
func (s *tiffSource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !b.In(s.meta.Shape) {
		return nil, &Error{"read", s.path, fmt.Errorf("box %v outside the %v stack", b, s.meta.Shape)}
	}
	bs := b.Shape()
	if err := checkAlloc(bs, s.meta.DType); err != nil {
		return nil, &Error{"read", s.path, fmt.Errorf("box %v: %w", b, err)}
	}
	out := makeData(s.meta.DType, bs.Len())
	w := s.workers.Get().(*tiffWorker)
	defer s.workers.Put(w)
	read := s.cache.newRead()
	for z := b.Z0; z < b.Z1; z++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.readPage(ctx, w, z, b, out, (z-b.Z0)*bs.Y*bs.X, read); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &Error{"read", s.path, err}
		}
	}
	v, err := volume.New(bs, out, s.meta.Voxel)
	if err != nil {
		return nil, &Error{"read", s.path, err}
	}
	v.Name = s.meta.Name
	return v, nil
}

// page returns page z's directory, the shift of its data offsets (ImageJ
// contiguous stacks) and its strip or tile table.
func (s *tiffSource) page(z int) (*tiffPage, int64, *tiffChunks, error) {
	i, shift := z, int64(0)
	if s.st.contiguous {
		i, shift = 0, int64(z)*s.st.pageBytes
	}
	p := &s.st.pages[i]
	if tab := s.tables[i].Load(); tab != nil {
		return p, shift, tab, nil
	}
	tab, err := loadTIFFChunks(s.st.t, p, i)
	if err != nil {
		return nil, 0, nil, err
	}
	n := int64(len(tab.offs))
	if s.tableN.Add(n) <= tiffTableBudget {
		s.tables[i].Store(tab)
	} else {
		s.tableN.Add(-n)
	}
	return p, shift, tab, nil
}

// readPage writes the part of page z inside b into out, from element base
// (the box's rows of bs.X values each). It also checks ctx between rows of
// strips or tiles, for pages that take long to decode.
func (s *tiffSource) readPage(ctx context.Context, w *tiffWorker, z int, b volume.Box, out any, base int, read uint64) error {
	p, shift, tab, err := s.page(z)
	if err != nil {
		return err
	}
	bw := b.X1 - b.X0
	var cy0, cy1, cx0, cx1, across int // chunk rows and columns covered
	if p.tiled() {
		across = ceilDiv(p.width, p.tileW)
		cy0, cy1 = b.Y0/p.tileH, (b.Y1-1)/p.tileH
		cx0, cx1 = b.X0/p.tileW, (b.X1-1)/p.tileW
	} else {
		across = 1
		cy0, cy1 = b.Y0/p.rowsPerStrip, (b.Y1-1)/p.rowsPerStrip
	}
	for cy := cy0; cy <= cy1; cy++ {
		if cy > cy0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		for cx := cx0; cx <= cx1; cx++ {
			c := cy*across + cx
			y0, x0, rows, cols := p.chunkGeom(c)
			ya, yb := max(b.Y0, y0), min(b.Y1, y0+rows)
			xa, xb := max(b.X0, x0), min(b.X1, x0+cols)
			off, count, err := s.st.t.span(p, z, c, tab.offs, tab.counts, shift)
			if err != nil {
				return err
			}
			at := base + (ya-b.Y0)*bw + (xa - b.X0)
			if p.compression == compNone {
				if err := s.readRaw(w, p, z, c, off, ya-y0, yb-y0, xa-x0, xb-x0, out, at, bw); err != nil {
					return err
				}
				continue
			}
			size := int64(rows) * int64(cols) * int64(s.meta.DType.Size())
			if !s.cache.fits(size) {
				// Too large to keep: decode down to the box's last row
				// straight into out.
				s.chunks.Add(1)
				if err := w.d.chunkPart(z, p, c, off, count, ya-y0, yb-y0, xa-x0, xb-x0, out, at, bw); err != nil {
					return err
				}
				continue
			}
			vals, err := s.cache.get(tiffChunkKey{s.id, z, c}, read, func() (any, int64, error) {
				s.chunks.Add(1)
				vals := makeData(s.meta.DType, rows*cols)
				if err := w.d.chunk(z, p, c, off, count, vals, 0, cols); err != nil {
					return nil, 0, err
				}
				return vals, size, nil
			})
			if err != nil {
				return err
			}
			copyRect(out, at, bw, vals, (ya-y0)*cols+(xa-x0), cols, yb-ya, xb-xa)
		}
	}
	return nil
}

// readRaw reads rows r0..r1-1 and columns c0..c1-1 (relative to the chunk)
// of uncompressed strip or tile c of page p, whose data begins at off, and
// converts them into out from element at, rows stride apart. Rows close
// together are fetched in one read.
func (s *tiffSource) readRaw(w *tiffWorker, p *tiffPage, z, c int, off int64, r0, r1, c0, c1 int, out any, at, stride int) error {
	s.chunks.Add(1)
	B := p.bps / 8
	rowBytes := int64(p.rowBytes())
	seg := int64(c1-c0) * int64(B)
	step := 1 // rows per read
	if rowBytes-seg <= tiffRawMerge {
		step = int(max(1, tiffRawSpan/rowBytes))
	}
	for r := r0; r < r1; r += step {
		n := min(step, r1-r)
		start := off + int64(r)*rowBytes + int64(c0)*int64(B)
		span := int64(n-1)*rowBytes + seg
		if int64(cap(w.raw)) < span {
			w.raw = make([]byte, span)
		}
		buf := w.raw[:span]
		if k, err := s.st.t.r.ReadAt(buf, start); k < len(buf) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("page %d: %s %d: read %d bytes at offset %d: %w", z, p.chunkKind(), c, span, start, err)
		}
		for i := 0; i < n; i++ {
			putRow(out, at+(r-r0+i)*stride, buf[int64(i)*rowBytes:], c1-c0, p, s.st.t.order)
		}
	}
	return nil
}

// copyRect copies rows×cols elements from src (from element sa, rows ss
// apart) to dst (from da, rows ds apart); both hold the same element type.
func copyRect(dst any, da, ds int, src any, sa, ss, rows, cols int) {
	switch d := dst.(type) {
	case []uint8:
		copyRows(d, da, ds, src.([]uint8), sa, ss, rows, cols)
	case []uint16:
		copyRows(d, da, ds, src.([]uint16), sa, ss, rows, cols)
	case []int16:
		copyRows(d, da, ds, src.([]int16), sa, ss, rows, cols)
	case []float32:
		copyRows(d, da, ds, src.([]float32), sa, ss, rows, cols)
	case []float64:
		copyRows(d, da, ds, src.([]float64), sa, ss, rows, cols)
	}
}

func copyRows[T any](dst []T, da, ds int, src []T, sa, ss, rows, cols int) {
	for r := 0; r < rows; r++ {
		copy(dst[da+r*ds:da+r*ds+cols], src[sa+r*ss:])
	}
}

// windowReader serves the small reads of a directory walk from a few
// windows of the file read whole, so that a directory, its out-of-line
// values and the strip table after it usually cost one system call.
// It is not safe for concurrent use.
type windowReader struct {
	r     io.ReaderAt
	wins  [4]readWindow
	next  int
	reads int // ReadAt calls on r
}

type readWindow struct {
	off int64
	b   []byte
}

// windowBytes is the size of one window; reads of more than half of it go
// to the file directly.
const windowBytes = 8 << 10

// ReadAt implements io.ReaderAt.
func (w *windowReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	end := off + int64(len(p))
	for i := range w.wins {
		win := &w.wins[i]
		if off >= win.off && end <= win.off+int64(len(win.b)) {
			return copy(p, win.b[off-win.off:]), nil
		}
	}
	w.reads++
	if len(p) > windowBytes/2 {
		return w.r.ReadAt(p, off)
	}
	win := &w.wins[w.next]
	w.next = (w.next + 1) % len(w.wins)
	if win.b == nil {
		win.b = make([]byte, windowBytes)
	}
	n, err := w.r.ReadAt(win.b[:windowBytes], off)
	if err != nil && err != io.EOF {
		win.b = win.b[:0]
		return 0, err
	}
	win.off, win.b = off, win.b[:n]
	k := copy(p, win.b)
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

// tiffChunkKey names one decoded strip or tile: source, page, chunk.
type tiffChunkKey struct {
	src  uint64
	z, c int
}

// tiffCache keeps decoded strips and tiles, least recently used first out,
// within a byte budget. A Read never evicts what it has itself used: when
// the strips a Read needs exceed the budget, those that fit are kept and
// the rest decoded again next time, rather than each pushing out the one
// the next Read needs first (an xz view scrolled through y reads the same
// strips of every page over and over). Readers asking for a chunk that is
// being decoded wait for it. It is safe for concurrent use.
type tiffCache struct {
	c     *lru.Cache[tiffChunkKey, any]
	reads atomic.Uint64
}

// newTIFFCache returns a cache of at most maxBytes.
func newTIFFCache(maxBytes int64) *tiffCache {
	return &tiffCache{c: lru.New[tiffChunkKey, any](maxBytes)}
}

// fits reports whether a decoded strip or tile of size bytes is worth
// keeping: at most an eighth of the budget, so that the cache holds the
// strips of several pages. Larger ones are decoded for each Read, only as
// far as it needs.
func (c *tiffCache) fits(size int64) bool { return size <= c.c.Max()/8 }

// newRead numbers a Read, for get.
func (c *tiffCache) newRead() uint64 { return c.reads.Add(1) }

// get returns the value under key for Read number read, calling load to
// produce it when missing. Failed loads are not kept.
func (c *tiffCache) get(key tiffChunkKey, read uint64, load func() (any, int64, error)) (any, error) {
	return c.c.Get(key, read, load)
}

// drop forgets the entries of source src.
func (c *tiffCache) drop(src uint64) {
	c.c.Drop(func(k tiffChunkKey) bool { return k.src == src })
}

// bytes returns the memory the cached entries hold.
func (c *tiffCache) bytes() int64 { return c.c.Bytes() }
