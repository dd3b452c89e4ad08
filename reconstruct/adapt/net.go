package adapt

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/niiv/niiv/reconstruct"
)

// net is the decoder MLP being trained. Its parameters live in one flat
// vector theta in ONNX layout (layer i: W [in][out] row-major, then B
// [out]); gradients and Adam's moments share that layout.
//
// Layer 0 acts on [latent (F), v, pe (8)]. As in the native decoder, its
// latent and v rows commute with bilinear sampling, so they are applied
// to each low-resolution pixel once per example (the projection P) and P
// is sampled; in the backward pass the gradient with respect to P is
// gathered per pixel and multiplied by the pixels' inputs once. The
// positional encoding part is a row term plus a column term.
type net struct {
	feats  int
	head   string
	border bool
	layers []layerShape
	dp     []int // output widths padded to reconstruct.DenseCols
	theta  []float32
}

type layerShape struct{ in, out, offW, offB int }

// newNet copies the weights of d.
func newNet(d *reconstruct.DecoderMLP) (*net, error) {
	switch d.Head {
	case "residual", "sigmoid", "plain":
	default:
		return nil, fmt.Errorf("decoder head %q not supported", d.Head)
	}
	if len(d.Layers) < 2 || d.Layers[0].In != d.Feats+9 || d.Layers[len(d.Layers)-1].Out != 1 {
		return nil, fmt.Errorf("decoder MLP is not F+9 → … → 1")
	}
	n := &net{feats: d.Feats, head: d.Head, border: d.Border}
	off := 0
	for i, l := range d.Layers {
		if i > 0 && l.In != d.Layers[i-1].Out {
			return nil, fmt.Errorf("decoder layer %d takes %d inputs after %d outputs", i, l.In, d.Layers[i-1].Out)
		}
		n.layers = append(n.layers, layerShape{in: l.In, out: l.Out, offW: off, offB: off + l.In*l.Out})
		off += l.In*l.Out + l.Out
		n.dp = append(n.dp, roundUp(l.Out, reconstruct.DenseCols))
	}
	n.theta = make([]float32, 0, off)
	for _, l := range d.Layers {
		n.theta = append(n.theta, l.W...)
		n.theta = append(n.theta, l.B...)
	}
	return n, nil
}

// decoder returns a copy of template with n's current weights.
func (n *net) decoder(template *reconstruct.DecoderMLP) *reconstruct.DecoderMLP {
	d := template.Clone()
	for i := range n.layers {
		copy(d.Layers[i].W, n.w(i))
		copy(d.Layers[i].B, n.b(i))
	}
	return d
}

func (n *net) w(i int) []float32 {
	l := n.layers[i]
	return n.theta[l.offW : l.offW+l.in*l.out]
}

func (n *net) b(i int) []float32 {
	l := n.layers[i]
	return n.theta[l.offB : l.offB+l.out]
}

func roundUp(v, m int) int { return (v + m - 1) / m * m }

// tile is the number of points pushed through the MLP together.
const tile = 384

// example is one encoded low-resolution input: the inputs of layer 0's
// projection per pixel, and the target image.
type example struct {
	h, w, hwPad int
	ax          []float32 // [hwPad][F+1]: latent channels, then the low-res value
	axT         []float32 // [roundUp(F+1, 6)][hwPad]: its transpose
	low         []float32 // [h][w]
	target      []float32 // [rows][cols] of the geometry, nil for predictions
}

// newExample builds an example from a latent grid [F][h][w] and its
// normalised input [h][w].
func newExample(latent, low []float32, feats, h, w int, target []float32) *example {
	hw := h * w
	e := &example{h: h, w: w, hwPad: roundUp(hw, reconstruct.DenseRows), low: low, target: target}
	k := feats + 1
	e.ax = make([]float32, e.hwPad*k)
	e.axT = make([]float32, roundUp(k, reconstruct.DenseRows)*e.hwPad)
	for f := 0; f < feats; f++ {
		src := latent[f*hw : (f+1)*hw]
		copy(e.axT[f*e.hwPad:], src)
		for i, v := range src {
			e.ax[i*k+f] = v
		}
	}
	copy(e.axT[feats*e.hwPad:], low)
	for i, v := range low {
		e.ax[i*k+feats] = v
	}
	return e
}

// newExampleCL builds an example from a channels-last latent grid
// [h·w][ld] (the encoder trainer's layout) and its input [h][w].
func newExampleCL(latent []float32, ld int, low []float32, feats, h, w int, target []float32) *example {
	hw := h * w
	e := &example{h: h, w: w, hwPad: roundUp(hw, reconstruct.DenseRows), low: low, target: target}
	k := feats + 1
	e.ax = make([]float32, e.hwPad*k)
	e.axT = make([]float32, roundUp(k, reconstruct.DenseRows)*e.hwPad)
	for i := 0; i < hw; i++ {
		row := latent[i*ld : i*ld+feats]
		copy(e.ax[i*k:], row)
		e.ax[i*k+feats] = low[i]
		for f, v := range row {
			e.axT[f*e.hwPad+i] = v
		}
	}
	copy(e.axT[feats*e.hwPad:], low)
	return e
}

// tap is GridSample's interpolation along one axis.
type tap struct {
	i0, i1 int
	w0, w1 float32
}

// geometry is a set of query coordinates: a table of row coordinates and
// one of column coordinates (model coordinates in [−1, 1]) over an h×w
// low-resolution grid; a point picks one of each.
type geometry struct {
	h, w       int
	rows, cols []float32
	rowTaps    []tap
	colTaps    []tap
	peR, peC   [][4]float32
}

func newGeometry(rows, cols []float32, h, w int, border bool) *geometry {
	g := &geometry{h: h, w: w, rows: rows, cols: cols}
	var pe [4]float64
	for _, c := range rows {
		i0, i1, w0, w1 := reconstruct.BilinearTaps(float64(c), h, border)
		g.rowTaps = append(g.rowTaps, tap{i0, i1, w0, w1})
		reconstruct.PositionalEncoding(float64(c), pe[:])
		g.peR = append(g.peR, [4]float32{float32(pe[0]), float32(pe[1]), float32(pe[2]), float32(pe[3])})
	}
	for _, c := range cols {
		i0, i1, w0, w1 := reconstruct.BilinearTaps(float64(c), w, border)
		g.colTaps = append(g.colTaps, tap{i0, i1, w0, w1})
		reconstruct.PositionalEncoding(float64(c), pe[:])
		g.peC = append(g.peC, [4]float32{float32(pe[0]), float32(pe[1]), float32(pe[2]), float32(pe[3])})
	}
	return g
}

// pixelCentres returns the model coordinates of n pixel centres.
func pixelCentres(n int) []float32 {
	c := make([]float32, n)
	for i := range c {
		c[i] = float32((2*float64(i)+1)/float64(n) - 1)
	}
	return c
}

// point is a query: a row and a column of the geometry, and its target.
type point struct {
	r, c int32
	t    float32
}

// packed holds the weights prepared for one step: packed matrices, and
// the positional-encoding terms of layer 0 for a geometry.
type packed struct {
	proj    reconstruct.Dense   // layer 0, latent and v rows
	projT   reconstruct.Dense   // its transpose, for the latent's gradient
	fwd     []reconstruct.Dense // layers 1…: forward (index i)
	bwd     []reconstruct.Dense // layers 1…L−2: transposed, for δ·Wᵀ
	wout    []float32           // last layer's weights, padded
	rowTerm []float32           // [len(geo.rows)][dp0]: b0 + pe(row)·W0
	colTerm []float32           // [len(geo.cols)][dp0]: pe(col)·W0
}

func (n *net) pack(geo *geometry, pk *packed) *packed {
	if pk == nil {
		pk = &packed{}
	}
	L := len(n.layers)
	f, d0, dp0 := n.feats, n.layers[0].out, n.dp[0]
	w0 := n.w(0)
	pk.proj.Pack(w0[:(f+1)*d0], f+1, d0, nil, f+1)
	pk.projT.PackTransposed(w0[:(f+1)*d0], f+1, d0, dp0)
	if len(pk.fwd) != L {
		pk.fwd = make([]reconstruct.Dense, L)
		pk.bwd = make([]reconstruct.Dense, L)
	}
	for i := 1; i < L; i++ {
		l := n.layers[i]
		pk.fwd[i].Pack(n.w(i), l.in, l.out, n.b(i), n.dp[i-1])
		if i < L-1 {
			pk.bwd[i].PackTransposed(n.w(i), l.in, l.out, n.dp[i])
		}
	}
	pk.wout = make([]float32, n.dp[L-2])
	copy(pk.wout, n.w(L-1))
	pe := func(dst []float32, vals [4]float32, row0 int) {
		for k := 0; k < 4; k++ {
			wr := w0[(f+1+row0+k)*d0 : (f+2+row0+k)*d0]
			for d, wv := range wr {
				dst[d] += vals[k] * wv
			}
		}
	}
	pk.rowTerm = slices.Grow(pk.rowTerm[:0], len(geo.rows)*dp0)[:len(geo.rows)*dp0]
	clear(pk.rowTerm)
	for r := range geo.rows {
		dst := pk.rowTerm[r*dp0 : (r+1)*dp0]
		copy(dst, n.b(0))
		pe(dst, geo.peR[r], 0)
	}
	pk.colTerm = slices.Grow(pk.colTerm[:0], len(geo.cols)*dp0)[:len(geo.cols)*dp0]
	clear(pk.colTerm)
	for c := range geo.cols {
		pe(pk.colTerm[c*dp0:(c+1)*dp0], geo.peC[c], 4)
	}
	return pk
}

// work is one worker's scratch memory.
type work struct {
	p, dp  []float32   // [hwPad][dp0]: projection and its gradient
	acts   [][]float32 // acts[i] [tile][dp[i]] for i < L−1
	y      []float32   // [tile][DenseCols]
	v, dy  []float32   // [tile]
	d1, d2 []float32   // [tile][maxdp]: δ
	aT     []float32   // [maxKp][tile]: transposed activations
	dd     reconstruct.Dense
	tmp    []float32 // [maxKp][maxdp]
	sR, sC []float32 // δ0 summed per geometry row / column
	gout   []float32 // [dp[L−2]]: last layer's weight gradient
	// glat, when wantLat is set, receives the gradient with respect to
	// layer 0's inputs per low-resolution pixel: [hwPad][latLd], the
	// latent's F channels first (whole-network training).
	wantLat bool
	glat    []float32
	latLd   int
}

func (n *net) newWork() *work {
	L := len(n.layers)
	w := &work{y: make([]float32, tile*reconstruct.DenseCols), v: make([]float32, tile), dy: make([]float32, tile)}
	maxdp, maxKp := 0, roundUp(n.feats+1, reconstruct.DenseRows)
	for i := 0; i < L-1; i++ {
		w.acts = append(w.acts, make([]float32, tile*n.dp[i]))
		maxdp = max(maxdp, n.dp[i])
		maxKp = max(maxKp, roundUp(n.layers[i+1].in+1, reconstruct.DenseRows))
	}
	w.d1 = make([]float32, tile*maxdp)
	w.d2 = make([]float32, tile*maxdp)
	w.aT = make([]float32, maxKp*tile)
	w.tmp = make([]float32, maxKp*maxdp)
	w.gout = make([]float32, n.dp[L-2])
	return w
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// run pushes pts of example e through the MLP. It returns Σ|out − t|.
// When g is not nil it adds the gradient of invN·Σ|out − t| with respect
// to theta to g; when out is not nil it writes the decoded values there.
func (n *net) run(pk *packed, geo *geometry, e *example, pts []point, invN float32, g, out []float32, w *work) float64 {
	L := len(n.layers)
	dp0 := n.dp[0]
	w.p = grow(w.p, e.hwPad*dp0)
	pk.proj.Mul(e.ax, e.hwPad, w.p, dp0, false)
	train := g != nil
	if train {
		w.dp = grow(w.dp, e.hwPad*dp0)
		clear(w.dp)
		w.sR = grow(w.sR, len(geo.rows)*dp0)
		w.sC = grow(w.sC, len(geo.cols)*dp0)
		clear(w.sR)
		clear(w.sC)
		clear(w.gout)
	}
	var lossSum float64
	var gbOut float32
	for t0 := 0; t0 < len(pts); t0 += tile {
		tp := pts[t0:min(len(pts), t0+tile)]
		nv := len(tp)
		np := roundUp(nv, reconstruct.DenseRows)
		// Layer 0: blend projections, add row and column terms, ReLU.
		a0 := w.acts[0]
		for t, q := range tp {
			dst := a0[t*dp0 : (t+1)*dp0]
			row := pk.rowTerm[int(q.r)*dp0 : int(q.r+1)*dp0]
			reconstruct.Blend(dst, row, row, pk.colTerm[int(q.c)*dp0:int(q.c+1)*dp0], 1, 0, false)
			ty, tx := geo.rowTaps[q.r], geo.colTaps[q.c]
			// The corners with a weight: all but the last two are added,
			// the last two are blended in with the ReLU.
			var px [4]int
			var pw [4]float32
			k := 0
			for _, cr := range [4]struct {
				iy, ix int
				a      float32
			}{{ty.i0, tx.i0, ty.w0 * tx.w0}, {ty.i0, tx.i1, ty.w0 * tx.w1}, {ty.i1, tx.i0, ty.w1 * tx.w0}, {ty.i1, tx.i1, ty.w1 * tx.w1}} {
				if cr.a != 0 {
					px[k], pw[k] = cr.iy*e.w+cr.ix, cr.a
					k++
				}
			}
			proj := func(i int) []float32 { return w.p[px[i]*dp0 : (px[i]+1)*dp0] }
			for i := 0; i < k-2; i++ {
				reconstruct.AddScaled(dst, proj(i), pw[i])
			}
			switch k {
			case 0:
				reconstruct.Blend(dst, dst, dst, dst, 0, 0, true)
			case 1:
				reconstruct.Blend(dst, proj(0), proj(0), dst, pw[0], 0, true)
			default:
				reconstruct.Blend(dst, proj(k-2), proj(k-1), dst, pw[k-2], pw[k-1], true)
			}
			w.v[t] = ty.w0*(tx.w0*e.low[ty.i0*e.w+tx.i0]+tx.w1*e.low[ty.i0*e.w+tx.i1]) +
				ty.w1*(tx.w0*e.low[ty.i1*e.w+tx.i0]+tx.w1*e.low[ty.i1*e.w+tx.i1])
		}
		clear(a0[nv*dp0 : np*dp0])
		for i := 1; i < L-1; i++ {
			pk.fwd[i].Mul(w.acts[i-1], np, w.acts[i], n.dp[i], true)
		}
		pk.fwd[L-1].Mul(w.acts[L-2], np, w.y, reconstruct.DenseCols, false)
		for t, q := range tp {
			y := w.y[t*reconstruct.DenseCols]
			var o, dody float32
			switch n.head {
			case "residual":
				o, dody = w.v[t]+y, 1
			case "sigmoid":
				o = float32(1 / (1 + math.Exp(-float64(y))))
				dody = o * (1 - o)
			default:
				o, dody = y, 1
			}
			if out != nil {
				out[t0+t] = o
			}
			diff := o - q.t
			lossSum += math.Abs(float64(diff))
			var s float32
			switch {
			case diff > 0:
				s = invN
			case diff < 0:
				s = -invN
			}
			w.dy[t] = s * dody
		}
		if !train {
			continue
		}
		clear(w.dy[nv:np])
		// Last layer: its gradient, and δ of the layer before.
		aL, dL := w.acts[L-2], n.dp[L-2]
		delta := w.d1[:np*dL]
		for t := 0; t < np; t++ {
			dy := w.dy[t]
			a := aL[t*dL : (t+1)*dL]
			dst := delta[t*dL : (t+1)*dL]
			if dy == 0 {
				clear(dst)
				continue
			}
			reconstruct.AddScaled(w.gout, a, dy)
			gbOut += dy
			for d := range dst {
				dst[d] = dy * pk.wout[d]
			}
			maskReLU(dst, a)
		}
		// Hidden layers, last to first.
		for i := L - 2; i >= 1; i-- {
			l := n.layers[i]
			in, dpi, dpPrev := l.in, n.dp[i], n.dp[i-1]
			aPrev := w.acts[i-1]
			kp := roundUp(in+1, reconstruct.DenseRows)
			aT := w.aT[:kp*np]
			clear(aT)
			for t := 0; t < np; t++ {
				row := aPrev[t*dpPrev : t*dpPrev+in]
				for r, x := range row {
					aT[r*np+t] = x
				}
			}
			for t := 0; t < nv; t++ {
				aT[in*np+t] = 1
			}
			w.dd.Pack(delta, np, dpi, nil, np)
			w.dd.Mul(aT, kp, w.tmp, dpi, false)
			gw, gb := g[l.offW:l.offW+in*l.out], g[l.offB:l.offB+l.out]
			for r := 0; r < in; r++ {
				src := w.tmp[r*dpi : r*dpi+l.out]
				dst := gw[r*l.out : (r+1)*l.out]
				for c, x := range src {
					dst[c] += x
				}
			}
			for c, x := range w.tmp[in*dpi : in*dpi+l.out] {
				gb[c] += x
			}
			prev := w.d2[:np*dpPrev]
			pk.bwd[i].Mul(delta, np, prev, dpPrev, false)
			maskReLU(prev, aPrev[:np*dpPrev])
			delta = prev
			w.d1, w.d2 = w.d2, w.d1
		}
		// Layer 0: per row / column sums (positional terms and bias) and
		// the gradient of the projection at the taps.
		for t, q := range tp {
			d := delta[t*dp0 : (t+1)*dp0]
			reconstruct.AddScaled(w.sR[int(q.r)*dp0:int(q.r+1)*dp0], d, 1)
			reconstruct.AddScaled(w.sC[int(q.c)*dp0:int(q.c+1)*dp0], d, 1)
			ty, tx := geo.rowTaps[q.r], geo.colTaps[q.c]
			for _, cr := range [4]struct {
				iy, ix int
				a      float32
			}{{ty.i0, tx.i0, ty.w0 * tx.w0}, {ty.i0, tx.i1, ty.w0 * tx.w1}, {ty.i1, tx.i0, ty.w1 * tx.w0}, {ty.i1, tx.i1, ty.w1 * tx.w1}} {
				if cr.a == 0 {
					continue
				}
				px := cr.iy*e.w + cr.ix
				reconstruct.AddScaled(w.dp[px*dp0:(px+1)*dp0], d, cr.a)
			}
		}
	}
	if !train {
		return lossSum
	}
	// Last layer.
	last := n.layers[L-1]
	gw := g[last.offW : last.offW+last.in]
	for d := range gw {
		gw[d] += w.gout[d]
	}
	g[last.offB] += gbOut
	if w.wantLat {
		w.latLd = pk.projT.Cols()
		w.glat = grow(w.glat, e.hwPad*w.latLd)
		pk.projT.Mul(w.dp, e.hwPad, w.glat, w.latLd, false)
	}
	// Layer 0: latent and v rows from the projection's gradient.
	l0 := n.layers[0]
	f, d0 := n.feats, l0.out
	kp := roundUp(f+1, reconstruct.DenseRows)
	w.dd.Pack(w.dp, e.hwPad, dp0, nil, e.hwPad)
	w.dd.Mul(e.axT, kp, w.tmp, dp0, false)
	gw0 := g[l0.offW : l0.offW+l0.in*d0]
	for r := 0; r <= f; r++ {
		src := w.tmp[r*dp0 : r*dp0+d0]
		dst := gw0[r*d0 : (r+1)*d0]
		for c, x := range src {
			dst[c] += x
		}
	}
	// Positional rows and bias.
	gb0 := g[l0.offB : l0.offB+d0]
	for r := range geo.rows {
		s := w.sR[r*dp0 : r*dp0+d0]
		for c, x := range s {
			gb0[c] += x
		}
		for k := 0; k < 4; k++ {
			reconstruct.AddScaled(gw0[(f+1+k)*d0:(f+2+k)*d0], s, geo.peR[r][k])
		}
	}
	for c := range geo.cols {
		s := w.sC[c*dp0 : c*dp0+d0]
		for k := 0; k < 4; k++ {
			reconstruct.AddScaled(gw0[(f+5+k)*d0:(f+6+k)*d0], s, geo.peC[c][k])
		}
	}
	return lossSum
}

// maskReLU zeroes d[i] where the ReLU output a[i] is 0 (the ReLU's
// derivative), without branches: a[i] ≥ 0, so a[i] > 0 exactly when its
// bits are not zero.
func maskReLU(d, a []float32) {
	a = a[:len(d)]
	for i, x := range a {
		b := math.Float32bits(x)
		m := uint32(int32(b|-b) >> 31)
		d[i] = math.Float32frombits(math.Float32bits(d[i]) & m)
	}
}

// batchGrad computes the mean L1 loss of a batch and its gradient into g
// (batchSum).
func (n *net) batchGrad(ctx context.Context, pk *packed, geo *geometry, exs []*example, pts [][]point, threads int, works []*work, grads [][]float32, g []float32) (float64, error) {
	return batchSum(ctx, pts, threads, grads, g, func(i, k int, invN float32) float64 {
		return n.run(pk, geo, exs[i], pts[i], invN, grads[i], nil, works[k])
	})
}

// batchSum runs one example per call of grad(i, k, invN) — example i on
// worker k, its gradient of invN·Σ|out − t| added to the cleared grads[i],
// its Σ|out − t| returned — for the examples of pts on up to threads
// workers, and returns the batch's mean L1 loss with its gradient in g:
// the buffers are summed in example order, so the result does not depend
// on the number of workers. Workers stop between examples when ctx is
// cancelled.
func batchSum(ctx context.Context, pts [][]point, threads int, grads [][]float32, g []float32, grad func(i, k int, invN float32) float64) (float64, error) {
	total := 0
	for _, p := range pts {
		total += len(p)
	}
	invN := float32(1) / float32(total)
	losses := make([]float64, len(pts))
	var wg sync.WaitGroup
	next := make(chan int, len(pts))
	for i := range pts {
		next <- i
	}
	close(next)
	for k := 0; k < max(1, min(threads, len(pts))); k++ {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					return
				}
				clear(grads[i])
				losses[i] = grad(i, k, invN)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	clear(g)
	var loss float64
	for i := range pts {
		for j, x := range grads[i] {
			g[j] += x
		}
		loss += losses[i]
	}
	return loss / float64(total), nil
}

// predict decodes arbitrary coordinates [q][2] (row, col in [−1, 1]) of a
// latent grid [F][h][w] and its input [h][w].
func (n *net) predict(latent, low []float32, h, w int, coords []float32) []float32 {
	q := len(coords) / 2
	rows, cols := make([]float32, q), make([]float32, q)
	pts := make([]point, q)
	for i := range pts {
		rows[i], cols[i] = coords[2*i], coords[2*i+1]
		pts[i] = point{r: int32(i), c: int32(i)}
	}
	geo := newGeometry(rows, cols, h, w, n.border)
	pk := n.pack(geo, nil)
	e := newExample(latent, low, n.feats, h, w, nil)
	out := make([]float32, q)
	n.run(pk, geo, e, pts, 0, nil, out, n.newWork())
	return out
}

// adam is torch.optim.Adam with its defaults (betas 0.9, 0.999, eps 1e-8,
// no weight decay), step for step in float32 as PyTorch computes it.
type adam struct {
	lr   float64
	t    int
	m, v []float32
}

func newAdam(lr float64, n int) *adam {
	return &adam{lr: lr, m: make([]float32, n), v: make([]float32, n)}
}

func (a *adam) step(theta, g []float32) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t++
	bc1 := 1 - math.Pow(b1, float64(a.t))
	bc2 := 1 - math.Pow(b2, float64(a.t))
	stepSize := float32(a.lr / bc1)
	bc2s := float32(math.Sqrt(bc2))
	for i, gi := range g {
		m := float32(b1)*a.m[i] + float32(1-b1)*gi
		v := float32(b2)*a.v[i] + float32(1-b2)*gi*gi
		a.m[i], a.v[i] = m, v
		denom := float32(math.Sqrt(float64(v)))/bc2s + float32(eps)
		theta[i] += (-stepSize * m) / denom
	}
}
