package reconstruct

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/niiv/niiv/volume"
)

// Niiv is the niiv method with one model: it encodes axial planes (xz, yz)
// once, keeps them in a Cache, and decodes any region at any size. XY
// planes (at any fractional z) are decoded from the xz planes of the rows
// they cross. It is safe for concurrent use.
type Niiv struct {
	model   *Model
	cache   *Cache
	threads int
}

// NewNiiv returns the niiv method for model m, caching encoded planes in c
// (a private cache of CacheBudget bytes when nil). The caller keeps
// ownership of m and closes it after the last Render.
func NewNiiv(m *Model, c *Cache) *Niiv {
	if c == nil {
		c = NewCache(CacheBudget())
	}
	return &Niiv{model: m, cache: c, threads: m.Threads}
}

// FactorRange returns the anisotropy factors the model was trained for
// (Model.FactorRange).
func (n *Niiv) FactorRange() (lo, hi int) { return n.model.FactorRange() }

// Name returns "niiv-" and the model name ("niiv-lite"), with "-int8" when
// the model decodes in int8.
func (n *Niiv) Name() string {
	if n.model.Decoder == "native-int8" {
		return "niiv-" + n.model.Name + "-int8"
	}
	return "niiv-" + n.model.Name
}

// Model returns the method's model.
func (n *Niiv) Model() *Model { return n.model }

// Cache returns the method's latent cache.
func (n *Niiv) Cache() *Cache { return n.cache }

// NormRange returns the intensities that the model's normalisation maps to
// 0 and 1 for vol (percentiles of the whole volume, as in the model card,
// computed like numpy.percentile: exactly for integer volumes, to 1/65536 of
// the value range for floating-point ones).
func (n *Niiv) NormRange(vol *volume.Volume) (lo, hi float64) {
	lo, hi = percentile(vol, n.model.lowP), percentile(vol, n.model.hiP)
	if !(hi > lo) {
		hi = lo + 1
	}
	return lo, hi
}

// percentile returns numpy.percentile(vol, p) (linear interpolation between
// order statistics), exactly for integer volumes whose values span at most
// 2^16 levels, else volume.Stats.Percentile.
func percentile(vol *volume.Volume, p float64) float64 {
	st := vol.Stats()
	span := st.Max - st.Min
	if vol.DType().IsFloat() || span >= 1<<16 || span < 1 {
		return st.Percentile(p)
	}
	counts := st.Histogram(int(span) + 1) // one bin per integer value
	var total int64
	for _, c := range counts {
		total += c
	}
	pos := p / 100 * float64(total-1)
	i0 := int64(math.Floor(pos))
	frac := pos - float64(i0)
	// value of the k-th smallest voxel (0-based)
	at := func(k int64) float64 {
		var acc int64
		for b, c := range counts {
			acc += c
			if acc > k {
				return st.Min + float64(b)
			}
		}
		return st.Max
	}
	v0 := at(i0)
	if frac == 0 {
		return v0
	}
	return v0 + frac*(at(i0+1)-v0)
}

// encBatch is the number of planes encoded per encoder run; accelBatch
// per accelerator run in a whole-volume pass (fewer waits for the device;
// an accelerator splits what exceeds its buffers).
const (
	encBatch   = 8
	accelBatch = 32
)

// rect is an inclusive rectangle of plane pixels: rows [r0, r1], columns
// [c0, c1].
type rect struct{ r0, r1, c0, c1 int }

// planes returns the encoded planes (vol, axis, idx[i]), from the cache
// when useCache is set. worker selects the single-threaded encoder, for
// callers that run one worker per CPU. need, when not nil, is the part of
// each plane the caller will sample: with the native decoder or an
// accelerator only that part, grown by the encoder's receptive field, is
// encoded (exactly: the latents there do not depend on the pixels left
// out).
func (n *Niiv) planes(ctx context.Context, vol *volume.Volume, axis volume.Axis, idx []int, useCache, worker bool, need *rect) ([]*plane, error) {
	rows, cols := planeSize(vol.Shape(), axis)
	crop := rect{0, rows - 1, 0, cols - 1}
	rf := n.model.receptiveField()
	if need != nil && rf > 0 && (n.model.mlp != nil || n.model.accel != nil) {
		// A margin beyond the need lets small scrolls and pans reuse the
		// cached rectangle.
		const mr, mc = 2, 16
		crop = rect{max(0, need.r0-rf-mr), min(rows-1, need.r1+rf+mr), max(0, need.c0-rf-mc), min(cols-1, need.c1+rf+mc)}
	}
	out := make([]*plane, len(idx))
	var missing []int // positions in idx
	for i, k := range idx {
		if useCache {
			if p, ok := n.cache.get(cacheKey{vol, axis, k, n.model}); ok && (need == nil && p.h == rows && p.w == cols ||
				need != nil && p.contains(need.r0, need.r1, need.c0, need.c1, rf)) {
				out[i] = p
				continue
			}
		}
		missing = append(missing, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	lo, hi := n.NormRange(vol)
	scale := float32(1 / (hi - lo))
	h, w := crop.r1-crop.r0+1, crop.c1-crop.c0+1
	hw := h * w
	buf := make([]float32, encBatch*hw)
	for b0 := 0; b0 < len(missing); b0 += encBatch {
		b := min(encBatch, len(missing)-b0)
		for j := 0; j < b; j++ {
			// Only the rectangle the encoder needs: of a lazy volume, only
			// its chunks are read.
			dst := buf[j*hw : (j+1)*hw]
			if _, err := vol.PlaneRect(ctx, axis, idx[missing[b0+j]], crop.r0, crop.r1+1, crop.c0, crop.c1+1, dst); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("reconstruct: %w", err)
			}
			for i, v := range dst {
				dst[i] = (v - float32(lo)) * scale
			}
		}
		encode := n.model.Encode
		if worker {
			encode = n.model.encodeWorker
		}
		lat, err := encode(ctx, buf[:b*hw], b, h, w)
		if err != nil {
			return nil, err
		}
		f := len(lat) / (b * hw)
		for j := 0; j < b; j++ {
			low := slices.Clone(buf[j*hw : (j+1)*hw])
			p := n.model.planeFromLatent(lat[j*f*hw:(j+1)*f*hw:(j+1)*f*hw], low, h, w)
			p.r0, p.c0, p.fh, p.fw = crop.r0, crop.c0, rows, cols
			i := missing[b0+j]
			out[i] = p
			if useCache {
				n.cache.put(cacheKey{vol, axis, idx[i], n.model}, p)
			}
		}
	}
	return out, nil
}

// cropAbove is the size of a plane (low-resolution pixels) above which an
// xz or yz view encodes only the part it shows, grown by half the view on
// every side so that pans reuse it, rather than the whole plane (a 64 ×
// 4096 plane; the 16 × 128 planes of a 128³ volume pooled ×8 are encoded
// whole, once for every zoom and pan).
var cropAbove = 1 << 18

// viewNeed returns the part of a rows × cols plane that an xz or yz view
// sampling the grid rc × cc should encode: nil (the whole plane) unless
// the plane exceeds cropAbove and the part, grown by half the view on
// every side, is under half of it.
func viewNeed(rc, cc []float64, rows, cols int) *rect {
	if rows*cols <= cropAbove || len(rc) == 0 || len(cc) == 0 {
		return nil
	}
	span := func(cs []float64, n int) (int, int) {
		a, b := gridTaps(cs[0], n, true), gridTaps(cs[len(cs)-1], n, true)
		lo, hi := min(a.i0, b.i0), max(a.i1, b.i1)
		g := (hi - lo + 1) / 2
		return max(0, lo-g), min(n-1, hi+g)
	}
	r0, r1 := span(rc, rows)
	c0, c1 := span(cc, cols)
	if 2*(r1-r0+1)*(c1-c0+1) > rows*cols {
		return nil
	}
	return &rect{r0, r1, c0, c1}
}

// Prefetch encodes the planes (vol, axis, indices) that are not cached yet
// into the cache, one single-threaded encoder per CPU, so that later
// Renders of them (or, for XZ planes, of xy planes at any z) only decode.
// Planes larger than cropAbove are left out: views of them encode only
// what they show. Axis is XZ or YZ. It returns ctx.Err() when cancelled.
func (n *Niiv) Prefetch(ctx context.Context, vol *volume.Volume, axis volume.Axis, indices []int) error {
	if axis != volume.XZ && axis != volume.YZ {
		return fmt.Errorf("reconstruct: prefetch: axis %v is not axial (xz or yz)", axis)
	}
	for _, k := range indices {
		if k < 0 || k >= vol.Count(axis) {
			return fmt.Errorf("reconstruct: prefetch: %v plane %d outside [0,%d)", axis, k, vol.Count(axis))
		}
	}
	if rows, cols := planeSize(vol.Shape(), axis); rows*cols > cropAbove {
		return nil
	}
	return n.parallel(len(indices), func(i int) error {
		_, err := n.planes(ctx, vol, axis, indices[i:i+1], true, true, nil)
		return err
	})
}

// decode decodes plane p on the grid rows × cols (model coordinates) into
// out, normalised, holding the model.
func (n *Niiv) decode(ctx context.Context, p *plane, rows, cols []float64, out []float32, threads int) error {
	return n.model.use(ctx, func(ctx context.Context) error {
		return n.decodeHeld(ctx, p, rows, cols, out, threads)
	})
}

func (n *Niiv) decodeHeld(ctx context.Context, p *plane, rows, cols []float64, out []float32, threads int) error {
	if a := n.model.accel; a != nil {
		err := a.DecodeGrid(ctx, p.latent, p.low, p.h, p.w, p.crop(), rows, cols, out)
		if !errors.Is(err, ErrDeviceLimit) {
			return err
		}
		// Too large for the device: the CPU decodes this one.
		noteFallback(ctx)
		p = n.model.cpuPlane(p)
	}
	if n.model.mlp != nil {
		return n.model.mlp.decodeGrid(ctx, p, rows, cols, out, threads)
	}
	// ONNX Runtime decoder: in chunks of rows.
	W := len(cols)
	chunk := max(1, (1<<16)/W)
	for r0 := 0; r0 < len(rows); r0 += chunk {
		r1 := min(len(rows), r0+chunk)
		coords := make([]float32, 0, 2*(r1-r0)*W)
		for _, r := range rows[r0:r1] {
			for _, c := range cols {
				coords = append(coords, float32(r), float32(c))
			}
		}
		v, err := n.model.decodeONNX(ctx, p.latent, p.low, p.h, p.w, coords)
		if err != nil {
			return err
		}
		copy(out[r0*W:], v)
	}
	return nil
}

func denormalise(pix []float32, lo, hi float64) {
	s, o := float32(hi-lo), float32(lo)
	for i, v := range pix {
		pix[i] = v*s + o
	}
}

// Render implements Method.
func (n *Niiv) Render(ctx context.Context, req Request) (*volume.Image, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	out := volume.NewImage(req.W, req.H)
	if req.Axis == volume.XY {
		if err := n.renderXY(ctx, req, out.Pix); err != nil {
			return nil, err
		}
	} else {
		rows, cols := planeSize(req.Vol.Shape(), req.Axis)
		rc := gridCoords(req.R0, req.R1, req.H, rows)
		cc := gridCoords(req.C0, req.C1, req.W, cols)
		ps, err := n.planes(ctx, req.Vol, req.Axis, []int{req.plane()}, true, false, viewNeed(rc, cc, rows, cols))
		if err != nil {
			return nil, err
		}
		if err := n.decode(ctx, ps[0], rc, cc, out.Pix, n.threads); err != nil {
			return nil, err
		}
	}
	lo, hi := n.NormRange(req.Vol)
	denormalise(out.Pix, lo, hi)
	return out, nil
}

// renderXY decodes an xy plane at fractional z: each output row is the row
// at z of the xz plane of its y (linearly blended between the two nearest
// xz planes when zoomed in).
func (n *Niiv) renderXY(ctx context.Context, req Request, out []float32) error {
	s := req.Vol.Shape()
	zoomIn := float64(req.H) >= req.R1-req.R0
	type rowTaps struct {
		y0, y1 int
		t      float32
	}
	rt := make([]rowTaps, req.H)
	var need []int
	for i := range rt {
		sy := pixelCentre(req.R0, req.R1, i, req.H)
		if zoomIn {
			u := min(max(sy-0.5, 0), float64(s.Y-1))
			y0 := int(math.Floor(u))
			rt[i] = rowTaps{y0, min(y0+1, s.Y-1), float32(u - float64(y0))}
		} else {
			y := min(max(int(math.Floor(sy)), 0), s.Y-1)
			rt[i] = rowTaps{y, y, 0}
		}
		need = append(need, rt[i].y0)
		if rt[i].t != 0 {
			need = append(need, rt[i].y1)
		}
	}
	slices.Sort(need)
	need = slices.Compact(need)
	cz := []float64{2*(req.Index+0.5)/float64(s.Z) - 1}
	cc := gridCoords(req.C0, req.C1, req.W, s.X)
	// The part of each xz plane the row needs: two z rows, the visible x.
	tz := gridTaps(cz[0], s.Z, true)
	nr := rect{r0: tz.i0, r1: tz.i1, c0: s.X, c1: -1}
	for _, c := range cc {
		t := gridTaps(c, s.X, true)
		nr.c0, nr.c1 = min(nr.c0, t.i0), max(nr.c1, t.i1)
	}
	rowsOut := make([]float32, len(need)*req.W)
	var err error
	if b, ok := n.model.accel.(GridBatcher); ok {
		// All the planes' rows in one pass on the device.
		err = n.decodeBatch(ctx, b, req.Vol, need, &nr, cz, cc, rowsOut)
	} else {
		// One worker per CPU, each encoding (single-threaded) and decoding
		// its own planes: no thread-pool barriers.
		err = n.parallel(len(need), func(k int) error {
			ps, err := n.planes(ctx, req.Vol, volume.XZ, need[k:k+1], true, true, &nr)
			if err != nil {
				return err
			}
			return n.decode(ctx, ps[0], cz, cc, rowsOut[k*req.W:(k+1)*req.W], 1)
		})
	}
	if err != nil {
		return err
	}
	pos := make(map[int]int, len(need))
	for k, y := range need {
		pos[y] = k
	}
	for i, t := range rt {
		dst := out[i*req.W : (i+1)*req.W]
		r0 := rowsOut[pos[t.y0]*req.W:]
		if t.t == 0 {
			copy(dst, r0[:req.W])
			continue
		}
		r1 := rowsOut[pos[t.y1]*req.W:]
		for j := range dst {
			dst[j] = (1-t.t)*r0[j] + t.t*r1[j]
		}
	}
	return nil
}

// parallel runs fn(0…n−1) on one worker per thread and returns the first
// error.
func (n *Niiv) parallel(count int, fn func(k int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Bool
	errs := make([]error, max(1, min(n.threads, count)))
	for w := range errs {
		wg.Go(func() {
			for !failed.Load() {
				k := int(next.Add(1) - 1)
				if k >= count {
					return
				}
				if err := fn(k); err != nil {
					errs[w] = err
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// renderAxial decodes whole axial planes idx of (vol, axis) at h output
// rows (full width) without using the cache, calling emit with each plane
// in the volume's units (from several goroutines, in no particular order;
// img is reused after emit returns). It is the whole-volume path: one
// worker per CPU encodes (single-threaded) and decodes its own planes, so
// encoding and decoding overlap and no thread waits at a barrier.
func (n *Niiv) renderAxial(ctx context.Context, vol *volume.Volume, axis volume.Axis, idx []int, h int, emit func(index int, img []float32)) error {
	_, cols := planeSize(vol.Shape(), axis)
	return n.renderAxialCols(ctx, vol, axis, idx, 0, cols, h, emit)
}

// renderAxialCols is renderAxial over columns [c0, c1) of each plane (the
// images emitted are h × (c1−c0)): the same pixels as the whole planes'
// (exactly: only the columns' part of each plane, grown by the encoder's
// receptive field, is encoded).
func (n *Niiv) renderAxialCols(ctx context.Context, vol *volume.Volume, axis volume.Axis, idx []int, c0, c1, h int, emit func(index int, img []float32)) error {
	rows, width := planeSize(vol.Shape(), axis)
	rc := gridCoords(0, float64(rows), h, rows)
	cc := gridCoords(float64(c0), float64(c1), c1-c0, width)
	cols := c1 - c0
	var need *rect
	if c0 > 0 || c1 < width {
		need = &rect{0, rows - 1, c0, c1 - 1}
	}
	lo, hi := n.NormRange(vol)
	if !n.model.parallelEncoders() {
		// One multi-threaded (or GPU) encoder: batches in turn.
		img := make([]float32, h*cols)
		batch := encBatch
		if n.model.accel != nil {
			batch = accelBatch
		}
		for b0 := 0; b0 < len(idx); b0 += batch {
			b1 := min(len(idx), b0+batch)
			ps, err := n.planes(ctx, vol, axis, idx[b0:b1], false, false, need)
			if err != nil {
				return err
			}
			if b, ok := n.model.accel.(GridBatcher); ok {
				// The batch's planes decoded in one call on the device.
				eps := make([]EncodedPlane, len(ps))
				for j, p := range ps {
					eps[j] = EncodedPlane{p.latent, p.low}
				}
				all := make([]float32, len(ps)*h*cols)
				err := n.model.use(ctx, func(ctx context.Context) error {
					return b.DecodeGrids(ctx, eps, ps[0].h, ps[0].w, ps[0].crop(), rc, cc, all)
				})
				if errors.Is(err, ErrDeviceLimit) {
					// Too large for the device in one pass: plane by plane
					// (each on the CPU if need be).
					for j, p := range ps {
						if err = n.decode(ctx, p, rc, cc, all[j*h*cols:(j+1)*h*cols], n.threads); err != nil {
							break
						}
					}
				}
				if err != nil {
					return err
				}
				for j := range ps {
					img := all[j*h*cols : (j+1)*h*cols]
					denormalise(img, lo, hi)
					emit(idx[b0+j], img)
				}
				continue
			}
			for j, p := range ps {
				if err := n.decode(ctx, p, rc, cc, img, n.threads); err != nil {
					return err
				}
				denormalise(img, lo, hi)
				emit(idx[b0+j], img)
			}
		}
		return nil
	}
	const batch = 2
	imgs := make(chan []float32, n.threads)
	for range n.threads {
		imgs <- make([]float32, h*cols)
	}
	return n.parallel((len(idx)+batch-1)/batch, func(k int) error {
		b0, b1 := k*batch, min(len(idx), (k+1)*batch)
		ps, err := n.planes(ctx, vol, axis, idx[b0:b1], false, true, need)
		if err != nil {
			return err
		}
		img := <-imgs
		defer func() { imgs <- img }()
		for j, p := range ps {
			if err := n.decode(ctx, p, rc, cc, img, 1); err != nil {
				return err
			}
			denormalise(img, lo, hi)
			emit(idx[b0+j], img)
		}
		return nil
	})
}
