package hdf5

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/niiv/niiv/internal/sysmem"
	"github.com/niiv/niiv/volume"
)

// MaxReadBytes is the most memory one Read allocates for its result; a
// larger box is refused. It defaults to 3/4 of physical memory (8 GiB when
// that cannot be read) and may be set lower by callers and tests.
var MaxReadBytes = sysmem.MaxAlloc()

// Read reads the voxels of b: for a chunked dataset, only the chunks that
// overlap b, each decoded once (several at a time) and kept in the shared
// cache; for a contiguous one, only the rows of b. Chunks never written
// read as the fill value. ctx is checked between chunks and between
// planes; when it is cancelled, Read returns its error.
func (d *Dataset) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds := d.ds
	fail := func(err error) (*volume.Volume, error) {
		return nil, &Error{Op: "read", Path: d.path, Dataset: ds.name, Err: err}
	}
	if !b.In(ds.shape) {
		return fail(fmt.Errorf("box %v is empty or outside the volume %v", b, ds.shape))
	}
	if n := int64(b.Shape().Len()) * int64(ds.out.Size()); n > MaxReadBytes {
		return fail(fmt.Errorf("box %v needs %s of memory, more than the %s allowed (MaxReadBytes)", b, humanBytes(n), humanBytes(MaxReadBytes)))
	}
	out := ds.filled(b.Shape().Len())
	var err error
	switch ds.lay.class {
	case 0:
		err = ds.readFlat(ctx, out, b, ds.lay.compact, 0)
	case 1:
		if ds.lay.addr != undef {
			err = ds.readFlat(ctx, out, b, nil, ds.lay.addr)
		}
	case 2:
		err = d.readChunks(ctx, out, b)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return fail(err)
	}
	v, err := volume.New(b.Shape(), out, ds.voxel)
	if err != nil {
		return fail(err)
	}
	v.Name = d.meta.Name
	return v, nil
}

// filled returns n elements of the output type set to the fill value.
func (ds *dataset) filled(n int) any {
	out := makeData(ds.out, n)
	if ds.fill != nil {
		fill := ds.convert(ds.fill)
		switch o := out.(type) {
		case []uint8:
			fillWith(o, fill.([]uint8)[0])
		case []uint16:
			fillWith(o, fill.([]uint16)[0])
		case []int16:
			fillWith(o, fill.([]int16)[0])
		case []float32:
			fillWith(o, fill.([]float32)[0])
		case []float64:
			fillWith(o, fill.([]float64)[0])
		}
	}
	return out
}

func fillWith[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

// makeData allocates n elements of type dt.
func makeData(dt volume.DType, n int) any {
	switch dt {
	case volume.Uint8:
		return make([]uint8, n)
	case volume.Uint16:
		return make([]uint16, n)
	case volume.Int16:
		return make([]int16, n)
	case volume.Float32:
		return make([]float32, n)
	}
	return make([]float64, n)
}

// readFlat reads box b of a contiguous dataset, from mem (compact data)
// or from the file at address addr, one run of whole rows per plane when
// the box spans whole rows, else one run per row.
func (ds *dataset) readFlat(ctx context.Context, out any, b volume.Box, mem []byte, addr uint64) error {
	s := ds.shape
	es := uint64(ds.dt.size)
	wholeRows := b.X0 == 0 && b.X1 == s.X
	var buf []byte
	i := 0
	run := func(z, y, n int) error {
		off := ((uint64(z)*uint64(s.Y)+uint64(y))*uint64(s.X) + uint64(b.X0)) * es
		nb := uint64(n) * es
		var raw []byte
		if mem != nil {
			raw = mem[off : off+nb]
		} else {
			if uint64(cap(buf)) < nb {
				buf = make([]byte, nb)
			}
			raw = buf[:nb]
			if err := ds.f.readInto(raw, addr+off, fmt.Sprintf("plane %d row %d", z, y)); err != nil {
				return err
			}
		}
		ds.convertInto(out, i, raw)
		i += n
		return nil
	}
	for z := b.Z0; z < b.Z1; z++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if wholeRows {
			if err := run(z, b.Y0, (b.Y1-b.Y0)*s.X); err != nil {
				return err
			}
			continue
		}
		for y := b.Y0; y < b.Y1; y++ {
			if err := run(z, y, b.X1-b.X0); err != nil {
				return err
			}
		}
	}
	return nil
}

// chunk is a decoded chunk in the output type, C order over the chunk's
// full dimensions.
type chunk struct{ data any }

// readChunks reads box b of a chunked dataset into out.
func (d *Dataset) readChunks(ctx context.Context, out any, b volume.Box) error {
	ds := d.ds
	rank := len(ds.dims)
	lo := [3]int{b.Z0, b.Y0, b.X0}
	hi := [3]int{b.Z1, b.Y1, b.X1}
	// The range of chunks along each file dimension.
	first := make([]uint64, rank)
	count := make([]uint64, rank)
	total := 1
	for i := range rank {
		count[i] = 1
	}
	for k, a := range ds.axes {
		if a < 0 {
			continue
		}
		c := ds.lay.chunk[a]
		first[a] = uint64(lo[k]) / c
		count[a] = uint64(hi[k]-1)/c - first[a] + 1
	}
	for _, n := range count {
		total *= int(n)
	}
	cache := d.cache
	workers := min(runtime.GOMAXPROCS(0), total)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		firstEr error
		stopped atomic.Bool
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make([]uint64, rank)
			for {
				k := next.Add(1) - 1
				if k >= int64(total) || stopped.Load() {
					return
				}
				if ctx.Err() != nil {
					stopped.Store(true)
					return
				}
				for i := rank - 1; i >= 0; i-- {
					c[i] = first[i] + uint64(k)%count[i]
					k /= int64(count[i])
				}
				ch, err := d.chunk(cache, c)
				if err == nil && ch != nil {
					ds.copyChunk(out, lo, hi, ch, c)
				}
				if err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = fmt.Errorf("chunk %s: %w", coords(c), err)
					}
					mu.Unlock()
					stopped.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstEr
}

// coords formats chunk coordinates as "(1,0,0)".
func coords(c []uint64) string {
	s := make([]string, len(c))
	for i, v := range c {
		s[i] = fmt.Sprint(v)
	}
	return "(" + strings.Join(s, ",") + ")"
}

// chunk returns the decoded chunk at scaled coordinates c, through the
// cache; nil when the chunk was never written.
func (d *Dataset) chunk(cache *chunkCache, c []uint64) (*chunk, error) {
	ds := d.ds
	key := chunkKey{d.id, linear(c, ds.chunkDown())}
	v, err := cache.Get(key, 0, func() (any, int64, error) {
		loc, ok, err := ds.index.lookup(c)
		if err != nil || !ok {
			return nil, 0, err
		}
		data, err := ds.decode(loc, c)
		if err != nil {
			return nil, 0, err
		}
		return &chunk{data}, int64(ds.cbytes / ds.dt.size * ds.out.Size()), nil
	})
	if err != nil || v == nil {
		return nil, err
	}
	return v.(*chunk), nil
}

// chunkDown returns the strides of the grid of chunks.
func (ds *dataset) chunkDown() []uint64 {
	out := make([]uint64, len(ds.chunkN))
	n := uint64(1)
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = n
		n *= ds.chunkN[i]
	}
	return out
}

// decode reads and decodes the chunk stored at loc (scaled coordinates c).
func (ds *dataset) decode(loc chunkLoc, c []uint64) (any, error) {
	f := ds.f
	n := ds.cbytes
	mask := loc.mask
	if ds.lay.flags&layoutDontFilterEdges != 0 && ds.edge(c) {
		mask = math.MaxUint32
	}
	filtered := false
	for k := range ds.filters {
		if mask&(1<<k) == 0 {
			filtered = true
		}
	}
	if !filtered && loc.size != uint64(n) {
		return nil, corrupt("unfiltered chunk stored in %d bytes, want %d", loc.size, n)
	}
	if loc.size == 0 || !f.inFile(loc.addr, loc.size) {
		return nil, corrupt("%d bytes at address %d run past the end of the %d-byte file", loc.size, loc.addr, f.size)
	}
	if loc.size > uint64(maxChunkBytes)+1<<20 {
		return nil, corrupt("chunk stored in %d bytes, more than its %d decoded bytes can need", loc.size, n)
	}
	raw := make([]byte, loc.size)
	if err := f.readInto(raw, loc.addr, fmt.Sprintf("%d bytes at address %d", loc.size, loc.addr)); err != nil {
		return nil, err
	}
	if filtered {
		var err error
		if raw, err = unfilter(ds.filters, ds.dt.size, raw, mask, n); err != nil {
			return nil, err
		}
	}
	return ds.convert(raw), nil
}

// edge reports whether the chunk at c extends past the dataset.
func (ds *dataset) edge(c []uint64) bool {
	for i, v := range c {
		if (v+1)*ds.lay.chunk[i] > ds.dims[i] {
			return true
		}
	}
	return false
}

// copyChunk copies the part of chunk ch (scaled coordinates c) inside
// [lo, hi) into out, the box's C-order slice.
func (ds *dataset) copyChunk(out any, lo, hi [3]int, ch *chunk, c []uint64) {
	rank := len(ds.dims)
	stride := make([]int, rank)
	n := 1
	for i := rank - 1; i >= 0; i-- {
		stride[i] = n
		n *= int(ds.lay.chunk[i])
	}
	// The intersection, its origin in the chunk, and the strides along z,
	// y and x.
	var a, e, st [3]int
	origin := 0
	for k, ax := range ds.axes {
		if ax < 0 {
			a[k], e[k] = lo[k], hi[k]
			continue
		}
		c0 := int(c[ax]) * int(ds.lay.chunk[ax])
		a[k] = max(lo[k], c0)
		e[k] = min(hi[k], c0+int(ds.lay.chunk[ax]))
		st[k] = stride[ax]
		origin += (a[k] - c0) * stride[ax]
	}
	bs := [3]int{hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]}
	switch o := out.(type) {
	case []uint8:
		copyBlock(o, ch.data.([]uint8), a, e, lo, bs, st, origin)
	case []uint16:
		copyBlock(o, ch.data.([]uint16), a, e, lo, bs, st, origin)
	case []int16:
		copyBlock(o, ch.data.([]int16), a, e, lo, bs, st, origin)
	case []float32:
		copyBlock(o, ch.data.([]float32), a, e, lo, bs, st, origin)
	case []float64:
		copyBlock(o, ch.data.([]float64), a, e, lo, bs, st, origin)
	}
}

// copyBlock copies [a, e) from src (element a at origin, strides st) into
// dst, the C-order box of extent bs at lo.
func copyBlock[T any](dst, src []T, a, e, lo, bs, st [3]int, origin int) {
	nx := e[2] - a[2]
	for z := a[0]; z < e[0]; z++ {
		for y := a[1]; y < e[1]; y++ {
			s := origin + (z-a[0])*st[0] + (y-a[1])*st[1]
			d := ((z-lo[0])*bs[1]+(y-lo[1]))*bs[2] + a[2] - lo[2]
			copy(dst[d:d+nx], src[s:s+nx])
		}
	}
}

// convert converts raw elements in the file's form to the output type;
// uint8 elements are returned as they are.
func (ds *dataset) convert(raw []byte) any {
	if ds.out == volume.Uint8 {
		return raw
	}
	out := makeData(ds.out, len(raw)/ds.dt.size)
	ds.convertInto(out, 0, raw)
	return out
}

// convertInto converts raw elements into out from element i on.
func (ds *dataset) convertInto(out any, i int, raw []byte) {
	t := ds.dt
	var bo binary.ByteOrder = binary.LittleEndian
	if t.big {
		bo = binary.BigEndian
	}
	n := len(raw) / t.size
	switch o := out.(type) {
	case []uint8:
		copy(o[i:i+n], raw)
	case []int16:
		o = o[i : i+n]
		if t.size == 1 {
			for j, c := range raw {
				o[j] = int16(int8(c))
			}
			return
		}
		for j := range o {
			o[j] = int16(bo.Uint16(raw[2*j:]))
		}
	case []uint16:
		o = o[i : i+n]
		for j := range o {
			o[j] = bo.Uint16(raw[2*j:])
		}
	case []float32:
		o = o[i : i+n]
		switch {
		case t.class == 1 && t.size == 2:
			for j := range o {
				o[j] = halfToFloat(bo.Uint16(raw[2*j:]))
			}
		case t.class == 1:
			for j := range o {
				o[j] = math.Float32frombits(bo.Uint32(raw[4*j:]))
			}
		case t.signed:
			for j := range o {
				o[j] = float32(int32(bo.Uint32(raw[4*j:])))
			}
		default:
			for j := range o {
				o[j] = float32(bo.Uint32(raw[4*j:]))
			}
		}
	case []float64:
		o = o[i : i+n]
		switch {
		case t.class == 1:
			for j := range o {
				o[j] = math.Float64frombits(bo.Uint64(raw[8*j:]))
			}
		case t.signed:
			for j := range o {
				o[j] = float64(int64(bo.Uint64(raw[8*j:])))
			}
		default:
			for j := range o {
				o[j] = float64(bo.Uint64(raw[8*j:]))
			}
		}
	}
}
