package reconstruct

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// plane is one encoded low-resolution slice, as the latent cache keeps it.
type plane struct {
	h, w int
	// r0, c0 place the encoded rectangle in a plane of fh×fw pixels: a
	// plane may be encoded only around the rows and columns a request
	// needs (see Niiv.planes). Full planes have r0 = c0 = 0, fh×fw = h×w.
	r0, c0, fh, fw int
	low            []float32 // normalised input [h][w]
	// latT is the latent grid pixel-major, [h·w][F], for the native
	// decoder, which projects the part a request needs through layer 1 as
	// it decodes; latent [F][h][w] is kept instead when decoding through
	// ONNX Runtime or an accelerator.
	latT   []float32
	latent []float32
}

// crop places p in its whole plane.
func (p *plane) crop() Crop { return Crop{R0: p.r0, C0: p.c0, Rows: p.fh, Cols: p.fw} }

func (p *plane) bytes() int64 { return 4 * int64(len(p.low)+len(p.latT)+len(p.latent)) }

// planeFromLatent prepares an encoded plane for the model's decoder.
func (m *Model) planeFromLatent(latent, low []float32, h, w int) *plane {
	return m.planeFor(latent, low, h, w, m.accel == nil)
}

// cpuPlane returns p prepared for the CPU decoder (p itself when it is):
// for a plane an accelerator could not decode.
func (m *Model) cpuPlane(p *plane) *plane {
	if p.latT != nil || m.mlp == nil {
		return p
	}
	q := m.planeFor(p.latent, p.low, p.h, p.w, true)
	q.r0, q.c0, q.fh, q.fw = p.r0, p.c0, p.fh, p.fw
	return q
}

// planeFor prepares an encoded plane for the CPU decoder (native: latent
// pixel-major; ONNX: as it is) when cpu is set, else for the accelerator.
func (m *Model) planeFor(latent, low []float32, h, w int, cpu bool) *plane {
	p := &plane{h: h, w: w, fh: h, fw: w, low: low}
	if m.mlp != nil && cpu {
		f := len(latent) / (h * w)
		p.latT = make([]float32, h*w*f)
		for c := 0; c < f; c++ {
			for i, v := range latent[c*h*w : (c+1)*h*w] {
				p.latT[i*f+c] = v
			}
		}
	} else {
		p.latent = latent
	}
	return p
}

// taps are the two source indices and weights of GridSample's bilinear
// interpolation (align_corners=False) along one axis.
type taps struct {
	i0, i1 int
	w0, w1 float32
}

// gridTaps returns the taps of coordinate c ∈ [−1, 1] over n pixels, with
// border (clamp) or zeros padding.
func gridTaps(c float64, n int, border bool) taps {
	x := ((c+1)*float64(n) - 1) / 2
	if border {
		x = min(max(x, 0), float64(n-1))
	}
	f := math.Floor(x)
	t := x - f
	i0 := int(f)
	tp := taps{i0: i0, i1: i0 + 1, w0: float32(1 - t), w1: float32(t)}
	if tp.i0 < 0 || tp.i0 >= n {
		tp.w0 = 0
	}
	if tp.i1 < 0 || tp.i1 >= n {
		tp.w1 = 0
	}
	tp.i0 = min(max(tp.i0, 0), n-1)
	tp.i1 = min(max(tp.i1, 0), n-1)
	return tp
}

// rowTaps and colTaps return the taps of a model coordinate (over the full
// plane) as indices into the encoded rectangle.
func (p *plane) rowTaps(c float64, border bool) taps {
	t := gridTaps(c, p.fh, border)
	t.i0, t.i1 = t.i0-p.r0, t.i1-p.r0
	return t
}

func (p *plane) colTaps(c float64, border bool) taps {
	t := gridTaps(c, p.fw, border)
	t.i0, t.i1 = t.i0-p.c0, t.i1-p.c0
	return t
}

// contains reports whether the latents of rows [r0, r1] and columns [c0,
// c1] of the plane are exact in p: inside the encoded rectangle and at least
// rf (the encoder's receptive field) from its edges, except at the plane's
// own edges.
func (p *plane) contains(r0, r1, c0, c1, rf int) bool {
	er0, er1, ec0, ec1 := p.r0, p.r0+p.h-1, p.c0, p.c0+p.w-1
	if er0 > 0 {
		er0 += rf
	}
	if er1 < p.fh-1 {
		er1 -= rf
	}
	if ec0 > 0 {
		ec0 += rf
	}
	if ec1 < p.fw-1 {
		ec1 -= rf
	}
	return r0 >= er0 && r1 <= er1 && c0 >= ec0 && c1 <= ec1
}

// sampleLow bilinearly samples the normalised input at row taps ty and
// column taps tx.
func (p *plane) sampleLow(ty, tx taps) float32 {
	l := p.low
	return ty.w0*(tx.w0*l[ty.i0*p.w+tx.i0]+tx.w1*l[ty.i0*p.w+tx.i1]) +
		ty.w1*(tx.w0*l[ty.i1*p.w+tx.i0]+tx.w1*l[ty.i1*p.w+tx.i1])
}

// head applies the decoder's output head to the MLP output y and the
// sampled input v.
func (m *mlp) head1(v, y float32) float32 {
	switch m.head {
	case headResidual:
		return v + y
	case headSigmoid:
		return float32(1 / (1 + math.Exp(-float64(y))))
	}
	return y
}

// tileRows is the number of points decoded per MLP batch: a multiple of
// 6 (the kernel's row block), small enough that a batch of activations
// stays in the L2 cache.
const tileRows = 96

// scratch is a worker's buffers.
type scratch struct {
	a, s1, s2 []float32
	y, v      []float32
	row       []float32
	pe        []float32
	q         []uint8   // int8 path: quantised activations
	rs        []float32 // int8 path: their per-row scales
}

// run runs layers 2… on the first n (a multiple of 6) rows of s.a into s.y.
func (m *mlp) run(s *scratch, n int) {
	if m.int8 && int8Kernels {
		m.forwardInt8(s.a, n, s.s1, s.s2, s.q, s.rs, s.y)
		return
	}
	m.forward(s.a, n, s.s1, s.s2, s.y)
}

func (m *mlp) newScratch(rowW int) *scratch {
	mw := m.maxWidth()
	return &scratch{
		a: make([]float32, tileRows*m.dp), s1: make([]float32, tileRows*mw), s2: make([]float32, tileRows*mw),
		y: make([]float32, tileRows), v: make([]float32, tileRows),
		row: make([]float32, rowW*m.dp), pe: make([]float32, m.dp),
		q: make([]uint8, tileRows*mw), rs: make([]float32, tileRows),
	}
}

// decodePoints decodes arbitrary coordinates [q][2] (row, col in [−1, 1])
// of plane p; the result is normalised.
func (m *mlp) decodePoints(p *plane, coords []float32) []float32 {
	q := len(coords) / 2
	out := make([]float32, q)
	s := m.newScratch(1)
	peC := make([]float32, m.dp)
	proj := m.project(p, 0, p.h-1, 0, p.w-1)
	for t0 := 0; t0 < q; t0 += tileRows {
		n := min(tileRows, q-t0)
		for i := 0; i < n; i++ {
			cr, cc := float64(coords[2*(t0+i)]), float64(coords[2*(t0+i)+1])
			ty, tx := p.rowTaps(cr, m.border), p.colTaps(cc, m.border)
			m.peTerm(cr, 0, s.pe)
			m.peTerm(cc, 4, peC)
			a := s.a[i*m.dp : (i+1)*m.dp]
			corner := func(iy, ix int) []float32 { return proj.at(iy, ix) }
			c00, c01, c10, c11 := corner(ty.i0, tx.i0), corner(ty.i0, tx.i1), corner(ty.i1, tx.i0), corner(ty.i1, tx.i1)
			w00, w01, w10, w11 := ty.w0*tx.w0, ty.w0*tx.w1, ty.w1*tx.w0, ty.w1*tx.w1
			for d := range a {
				v := w00*c00[d] + w01*c01[d] + w10*c10[d] + w11*c11[d] + s.pe[d] + peC[d] + m.b1[d]
				a[d] = max(v, 0)
			}
			s.v[i] = p.sampleLow(ty, tx)
		}
		np := roundUp(n, 6)
		clear(s.a[n*m.dp : np*m.dp])
		m.run(s, np)
		for i := 0; i < n; i++ {
			out[t0+i] = m.head1(s.v[i], s.y[i])
		}
	}
	return out
}

// gridCoords returns the model coordinates ([−1, 1]) of n pixel centres
// over the continuous interval [a0, a1) of an axis of size voxels.
func gridCoords(a0, a1 float64, n, size int) []float64 {
	c := make([]float64, n)
	for i := range c {
		c[i] = 2*pixelCentre(a0, a1, i, n)/float64(size) - 1
	}
	return c
}

// decodeGrid decodes plane p on the regular grid rows × cols (model
// coordinates) into out [len(rows)][len(cols)], normalised, with up to
// threads workers over rows.
func (m *mlp) decodeGrid(ctx context.Context, p *plane, rows, cols []float64, out []float32, threads int) error {
	W := len(cols)
	// Column terms, shared by all rows.
	tx := make([]taps, W)
	pcol := make([]float32, W*m.dp)
	xmin, xmax := p.w, -1
	for j, c := range cols {
		tx[j] = p.colTaps(c, m.border)
		m.peTerm(c, 4, pcol[j*m.dp:(j+1)*m.dp])
		xmin, xmax = min(xmin, tx[j].i0), max(xmax, tx[j].i1)
	}
	nx := xmax - xmin + 1
	ymin, ymax := p.h, -1
	for _, r := range rows {
		ty := p.rowTaps(r, m.border)
		ymin, ymax = min(ymin, ty.i0), max(ymax, ty.i1)
	}
	proj := m.project(p, ymin, ymax, xmin, xmax)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var cancelled atomic.Bool
	threads = max(1, min(threads, len(rows)))
	for w := 0; w < threads; w++ {
		wg.Go(func() {
			s := m.newScratch(nx)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rows) || cancelled.Load() {
					return
				}
				if ctx.Err() != nil {
					cancelled.Store(true)
					return
				}
				m.decodeRow(p, proj, rows[i], tx, pcol, xmin, nx, out[i*W:(i+1)*W], s)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// decodeRow decodes one output row at model row coordinate r.
func (m *mlp) decodeRow(p *plane, proj *projection, r float64, tx []taps, pcol []float32, xmin, nx int, out []float32, s *scratch) {
	dp := m.dp
	ty := p.rowTaps(r, m.border)
	// Row term: positional encoding of r plus bias, folded into the
	// vertically blended projections of the columns this row needs.
	m.peTerm(r, 0, s.pe)
	for d := range s.pe {
		s.pe[d] += m.b1[d]
	}
	for x := 0; x < nx; x++ {
		blend(s.row[x*dp:(x+1)*dp], proj.at(ty.i0, xmin+x), proj.at(ty.i1, xmin+x), s.pe, ty.w0, ty.w1, false)
	}
	W := len(tx)
	for j0 := 0; j0 < W; j0 += tileRows {
		n := min(tileRows, W-j0)
		for i := 0; i < n; i++ {
			t := tx[j0+i]
			blend(s.a[i*dp:(i+1)*dp], s.row[(t.i0-xmin)*dp:(t.i0-xmin+1)*dp], s.row[(t.i1-xmin)*dp:(t.i1-xmin+1)*dp],
				pcol[(j0+i)*dp:(j0+i+1)*dp], t.w0, t.w1, true)
			s.v[i] = p.sampleLow(ty, t)
		}
		np := roundUp(n, 6)
		m.run(s, np)
		for i := 0; i < n; i++ {
			out[j0+i] = m.head1(s.v[i], s.y[i])
		}
	}
}

// defaultThreads is the number of decoder workers when not configured.
func defaultThreads() int { return runtime.GOMAXPROCS(0) }
