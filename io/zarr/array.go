package zarr

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/niiv/niiv/volume"
)

// maxChunkBytes is the largest decoded chunk (or shard index) a reader
// allocates: metadata asking for more is refused when the array is opened.
const maxChunkBytes = 2 << 30

// remoteWorkers is the least number of chunks read at once over HTTP.
const remoteWorkers = 16

// maxElems bounds the element count of a whole array, so that products of
// its extents cannot overflow.
const maxElems = 1 << 62

// chunk is a decoded chunk: its elements as the volume type, C order.
type chunk struct {
	shape []int
	data  any // []uint8, []uint16, []int16, []float32 or []float64
}

// bytes returns the memory a decoded chunk holds, for the cache.
func (c *chunk) bytes() int64 {
	n := int64(elemLen(c.data))
	switch c.data.(type) {
	case []uint16, []int16:
		n *= 2
	case []float32:
		n *= 4
	case []float64:
		n *= 8
	}
	return n + 64 + 8*int64(len(c.shape))
}

// chunkStore finds and decodes the chunks of one array.
type chunkStore interface {
	// key returns the key of the chunk at grid position idx, relative to
	// the array's folder.
	key(idx []int) string
	// load reads and decodes the chunk at idx. It returns nil and no error
	// for a chunk that is not stored (the fill value). id prefixes the
	// cache keys of anything else it caches (shard indexes).
	load(c *Cache, id string, idx []int) (*chunk, error)
}

// array is one N-dimensional array of a Zarr or N5 hierarchy, C order.
type array struct {
	dir   string // folder of the array
	id    string // cache key prefix: the folder and its metadata's identity
	shape []int
	chunk []int // the unit of reading and caching: an inner chunk when sharded
	elem  elemType
	fill  float64 // fill value as the volume type holds it
	store chunkStore
	// names are the dimension names the metadata gives (Zarr v3
	// dimension_names), nil when it gives none.
	names []string
}

// checkShape validates an array's shape and chunk shape from its metadata.
func checkShape(shape, chunks []int, e elemType) error {
	return checkShapeNamed(shape, chunks, e, "shape", "chunks")
}

// checkShapeNamed is checkShape with the metadata's names of the two keys.
func checkShapeNamed(shape, chunks []int, e elemType, shapeKey, chunksKey string) error {
	if len(shape) == 0 {
		return fmt.Errorf("%s [] is a scalar, not an image", shapeKey)
	}
	if len(chunks) != len(shape) {
		return fmt.Errorf("%s %v has %d dimensions, %s %v has %d", chunksKey, intsString(chunks), len(chunks), shapeKey, intsString(shape), len(shape))
	}
	if len(shape) > 32 {
		return fmt.Errorf("%s has %d dimensions", shapeKey, len(shape))
	}
	total := 1.0
	for i, s := range shape {
		if s < 0 {
			return fmt.Errorf("%s %v has a negative extent", shapeKey, intsString(shape))
		}
		if s == 0 {
			return fmt.Errorf("%s %v has an empty axis %d", shapeKey, intsString(shape), i)
		}
		total *= float64(s)
	}
	if total > maxElems {
		return fmt.Errorf("%s %v is absurd (%g elements)", shapeKey, intsString(shape), total)
	}
	cb := float64(e.size)
	for _, c := range chunks {
		if c <= 0 {
			return fmt.Errorf("%s %v has a zero or negative extent", chunksKey, intsString(chunks))
		}
		cb *= float64(c)
	}
	if cb > maxChunkBytes {
		return fmt.Errorf("%s %v of %s needs %.3g GiB per chunk, more than the %d GiB limit", chunksKey, intsString(chunks), e.typeName(), cb/(1<<30), maxChunkBytes>>30)
	}
	return nil
}

// intsString formats ints as JSON does: [64 64] → "[64 64]".
func intsString(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// prod multiplies extents; callers have bounded them.
func prod(v []int) int {
	n := 1
	for _, x := range v {
		n *= x
	}
	return n
}

// read assembles the region [lo, hi) of the array as a C-order slice of the
// volume type, decoding each overlapping chunk once through cache. Chunks
// that fail to decode are left at the fill value and listed.
func (a *array) read(ctx context.Context, cache *Cache, lo, hi []int) (any, []ChunkError, error) {
	n := len(a.shape)
	ext := make([]int, n)
	first := make([]int, n)
	count := make([]int, n)
	total := 1
	for i := range n {
		ext[i] = hi[i] - lo[i]
		first[i] = lo[i] / a.chunk[i]
		count[i] = (hi[i]-1)/a.chunk[i] - first[i] + 1
		total *= count[i]
	}
	out := newFilled(a.elem.out(), prod(ext), a.fill)

	workers := runtime.GOMAXPROCS(0)
	if IsURL(a.dir) {
		workers = max(workers, remoteWorkers) // waiting on the network, not the cores
	}
	workers = min(workers, total)
	var (
		next    atomic.Int64
		mu      sync.Mutex
		errs    []ChunkError
		wg      sync.WaitGroup
		stopped atomic.Bool
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx := make([]int, n)
			origin := make([]int, n)
			for {
				k := int(next.Add(1) - 1)
				if k >= total || stopped.Load() {
					return
				}
				if ctx.Err() != nil {
					stopped.Store(true)
					return
				}
				for i := n - 1; i >= 0; i-- {
					idx[i] = first[i] + k%count[i]
					k /= count[i]
					origin[i] = idx[i] * a.chunk[i]
				}
				c, err := a.getChunk(cache, idx)
				if err != nil {
					mu.Lock()
					errs = append(errs, ChunkError{Key: a.store.key(idx), Err: err})
					mu.Unlock()
					continue
				}
				if c != nil {
					copyChunk(out, lo, ext, c, origin)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(errs, func(a, b ChunkError) int { return strings.Compare(a.Key, b.Key) })
	return out, errs, nil
}

// getChunk returns the decoded chunk at idx from the cache, loading it once
// however many readers ask at the same time; nil for a missing chunk.
func (a *array) getChunk(cache *Cache, idx []int) (*chunk, error) {
	key := a.id + "\x00" + a.store.key(idx)
	v, err := cache.get(key, func() (any, int64, error) {
		c, err := a.store.load(cache, a.id, idx)
		if err != nil || c == nil {
			return nil, 0, err
		}
		if want := prod(c.shape); elemLen(c.data) != want {
			return nil, 0, fmt.Errorf("decoded %d elements, want %d", elemLen(c.data), want)
		}
		return c, c.bytes(), nil
	})
	if err != nil || v == nil {
		return nil, err
	}
	return v.(*chunk), nil
}

// newFilled allocates n elements of dt set to fill.
func newFilled(dt volume.DType, n int, fill float64) any {
	switch dt {
	case volume.Uint8:
		return filled(make([]uint8, n), uint8(fill))
	case volume.Uint16:
		return filled(make([]uint16, n), uint16(fill))
	case volume.Int16:
		return filled(make([]int16, n), int16(fill))
	case volume.Float32:
		return filled(make([]float32, n), float32(fill))
	}
	return filled(make([]float64, n), fill)
}

func filled[T comparable](s []T, v T) []T {
	var zero T
	if v != zero || v != v { // v != v: NaN
		for i := range s {
			s[i] = v
		}
	}
	return s
}

// copyChunk copies the part of chunk c (at origin) inside the region
// [lo, lo+ext) into dst, the region's C-order slice.
func copyChunk(dst any, lo, ext []int, c *chunk, origin []int) {
	switch d := dst.(type) {
	case []uint8:
		copyRegion(d, lo, ext, c.data.([]uint8), origin, c.shape)
	case []uint16:
		copyRegion(d, lo, ext, c.data.([]uint16), origin, c.shape)
	case []int16:
		copyRegion(d, lo, ext, c.data.([]int16), origin, c.shape)
	case []float32:
		copyRegion(d, lo, ext, c.data.([]float32), origin, c.shape)
	case []float64:
		copyRegion(d, lo, ext, c.data.([]float64), origin, c.shape)
	}
}

// copyRegion copies the intersection of the destination region
// [dlo, dlo+dext) and the source block [slo, slo+sext), both C order.
func copyRegion[T any](dst []T, dlo, dext []int, src []T, slo, sext []int) {
	n := len(dlo)
	a := make([]int, n) // intersection start, absolute
	b := make([]int, n) // intersection end
	for i := range n {
		a[i] = max(dlo[i], slo[i])
		b[i] = min(dlo[i]+dext[i], slo[i]+sext[i])
		if a[i] >= b[i] {
			return
		}
	}
	dstr := cStrides(dext)
	sstr := cStrides(sext)
	doff, soff := 0, 0
	for i := range n {
		doff += (a[i] - dlo[i]) * dstr[i]
		soff += (a[i] - slo[i]) * sstr[i]
	}
	run := b[n-1] - a[n-1]
	pos := make([]int, n) // odometer over all but the last axis, relative to a
	for {
		copy(dst[doff:doff+run], src[soff:soff+run])
		d := n - 2
		for ; d >= 0; d-- {
			pos[d]++
			doff += dstr[d]
			soff += sstr[d]
			if pos[d] < b[d]-a[d] {
				break
			}
			doff -= dstr[d] * pos[d]
			soff -= sstr[d] * pos[d]
			pos[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// cStrides returns the element strides of a C-order array of shape s.
func cStrides(s []int) []int {
	st := make([]int, len(s))
	m := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = m
		m *= s[i]
	}
	return st
}

// permuteAny reorders a decoded chunk stored as the C-order array of shape
// stored, whose axis i is axis perm[i] of the array, into the array's C
// order. It returns the data unchanged for the identity permutation.
func permuteAny(data any, stored, perm []int) any {
	if isIdentity(perm) {
		return data
	}
	switch d := data.(type) {
	case []uint8:
		return permute(d, stored, perm)
	case []uint16:
		return permute(d, stored, perm)
	case []int16:
		return permute(d, stored, perm)
	case []float32:
		return permute(d, stored, perm)
	case []float64:
		return permute(d, stored, perm)
	}
	return data
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if i != p {
			return false
		}
	}
	return true
}

// permute is permuteAny for one element type; len(src) is prod(stored).
func permute[T any](src []T, stored, perm []int) []T {
	n := len(stored)
	shape := make([]int, n)
	for i, p := range perm {
		shape[p] = stored[i]
	}
	ostr := cStrides(shape)
	step := make([]int, n)
	for i, p := range perm {
		step[i] = ostr[p]
	}
	dst := make([]T, len(src))
	if len(src) == 0 {
		return dst
	}
	pos := make([]int, n)
	off, i := 0, 0
	last, s := n-1, step[n-1]
	for {
		for k := range stored[last] {
			dst[off+k*s] = src[i]
			i++
		}
		d := last - 1
		for ; d >= 0; d-- {
			pos[d]++
			off += step[d]
			if pos[d] < stored[d] {
				break
			}
			off -= step[d] * pos[d]
			pos[d] = 0
		}
		if d < 0 {
			return dst
		}
	}
}

// reversed returns the axes in reverse order (Fortran order, N5's order).
func reversed(v []int) []int {
	r := make([]int, len(v))
	for i, x := range v {
		r[len(v)-1-i] = x
	}
	return r
}

// reversePerm is the permutation of a Fortran-order chunk of rank n.
func reversePerm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = n - 1 - i
	}
	return p
}

// joinInts formats chunk coordinates joined by sep.
func joinInts(idx []int, sep string) string {
	var b strings.Builder
	for i, x := range idx {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

// finite reports whether f is neither NaN nor infinite.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
