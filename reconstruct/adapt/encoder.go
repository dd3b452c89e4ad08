package adapt

import (
	"github.com/niiv/niiv/reconstruct"
)

// encNet is the EDSR encoder being trained (whole-network adaptation). Its
// parameters live in one flat vector theta: per convolution, in the order
// of reconstruct.EncoderEDSR.Convs, the weights as a [9·in][out] matrix
// (row (ky·3+kx)·in + ci: the im2col layout) and then the biases [out].
// Gradients and Adam's moments share that layout.
//
// Activations are channels-last, [pixels][channels padded to
// reconstruct.DenseCols], pixels padded to a multiple of
// reconstruct.DenseRows with zero rows. A convolution is an im2col matrix
// times the weight matrix on the decoder's matrix kernels; its backward
// pass is two more products (colᵀ·δ for the weights, δ·Wᵀ then col2im for
// the input).
type encNet struct {
	feats  int
	blocks int
	convs  []convShape
	theta  []float32
}

type convShape struct{ in, out, offW, offB int }

// newEncNet copies the weights of e.
func newEncNet(e *reconstruct.EncoderEDSR) *encNet {
	n := &encNet{feats: e.Feats, blocks: len(e.Blocks)}
	off := 0
	for _, c := range e.Convs() {
		n.convs = append(n.convs, convShape{in: c.In, out: c.Out, offW: off, offB: off + 9*c.In*c.Out})
		off += 9*c.In*c.Out + c.Out
	}
	n.theta = make([]float32, off)
	for i, c := range e.Convs() {
		s := n.convs[i]
		w := n.theta[s.offW : s.offW+9*s.in*s.out]
		for co := 0; co < s.out; co++ {
			for ci := 0; ci < s.in; ci++ {
				for k := 0; k < 9; k++ { // ONNX [out][in][ky][kx]
					w[(k*s.in+ci)*s.out+co] = c.W[(co*s.in+ci)*9+k]
				}
			}
		}
		copy(n.theta[s.offB:s.offB+s.out], c.B)
	}
	return n
}

// encoder returns a copy of template with n's current weights.
func (n *encNet) encoder(template *reconstruct.EncoderEDSR) *reconstruct.EncoderEDSR {
	e := template.Clone()
	for i, c := range e.Convs() {
		s := n.convs[i]
		w := n.theta[s.offW : s.offW+9*s.in*s.out]
		for co := 0; co < s.out; co++ {
			for ci := 0; ci < s.in; ci++ {
				for k := 0; k < 9; k++ {
					c.W[(co*s.in+ci)*9+k] = w[(k*s.in+ci)*s.out+co]
				}
			}
		}
		copy(c.B, n.theta[s.offB:s.offB+s.out])
	}
	return e
}

func (n *encNet) w(i int) []float32 {
	s := n.convs[i]
	return n.theta[s.offW : s.offW+9*s.in*s.out]
}

func (n *encNet) b(i int) []float32 {
	s := n.convs[i]
	return n.theta[s.offB : s.offB+s.out]
}

// encPacked holds the convolutions packed for one step: forward (with the
// bias) and transposed (for δ·Wᵀ).
type encPacked struct {
	fwd, bwd []reconstruct.Dense
}

func (n *encNet) pack(pk *encPacked) *encPacked {
	if pk == nil {
		pk = &encPacked{fwd: make([]reconstruct.Dense, len(n.convs)), bwd: make([]reconstruct.Dense, len(n.convs))}
	}
	for i, s := range n.convs {
		k := 9 * s.in
		pk.fwd[i].Pack(n.w(i), k, s.out, n.b(i), k)
		pk.bwd[i].PackTransposed(n.w(i), k, s.out, roundUp(s.out, reconstruct.DenseCols))
	}
	return pk
}

// encWork is one worker's encoder scratch memory and the activations of
// its current example.
type encWork struct {
	h, w, hwp int
	x0        []float32   // [hwp][1] the input
	acts      [][]float32 // input of each convolution (after the first): [hwp][ld]
	head      []float32   // head convolution's output
	latent    []float32   // [hwp][ld]: head + tail
	col, dyT  []float32
	dcol      []float32
	dW        []float32
	dd        reconstruct.Dense
	d, d2, d3 []float32 // δ buffers [hwp][ld]
}

func (n *encNet) newWork() *encWork { return &encWork{} }

// ld is the row stride of the activations.
func (n *encNet) ld() int { return roundUp(n.feats, reconstruct.DenseCols) }

// prepare sizes w's buffers for an h×w input.
func (n *encNet) prepare(wk *encWork, h, w int) {
	hwp := roundUp(h*w, reconstruct.DenseRows)
	wk.h, wk.w, wk.hwp = h, w, hwp
	ld := n.ld()
	wk.x0 = grow(wk.x0, hwp)
	if len(wk.acts) != len(n.convs) {
		wk.acts = make([][]float32, len(n.convs))
	}
	for i := range wk.acts {
		wk.acts[i] = grow(wk.acts[i], hwp*ld)
	}
	wk.head = grow(wk.head, hwp*ld)
	wk.latent = grow(wk.latent, hwp*ld)
	kmax := 9 * max(1, n.feats)
	wk.col = grow(wk.col, hwp*kmax)
	wk.dcol = grow(wk.dcol, hwp*roundUp(kmax, reconstruct.DenseCols))
	wk.d = grow(wk.d, hwp*ld)
	wk.d2 = grow(wk.d2, hwp*ld)
	wk.d3 = grow(wk.d3, hwp*ld)
}

// im2col writes col[p][(ky·3+kx)·cin + ci] = x[p shifted by (ky−1, kx−1)][ci]
// (zero outside the image) for the h×w pixels; rows h·w…hwp stay zero.
func im2col(x []float32, ldx, cin, h, w, hwp int, col []float32) {
	k := 9 * cin
	clear(col[:hwp*k])
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			p := y*w + xx
			for ky := 0; ky < 3; ky++ {
				sy := y + ky - 1
				if sy < 0 || sy >= h {
					continue
				}
				for kx := 0; kx < 3; kx++ {
					sx := xx + kx - 1
					if sx < 0 || sx >= w {
						continue
					}
					t := (ky*3 + kx) * cin
					copy(col[p*k+t:p*k+t+cin], x[(sy*w+sx)*ldx:(sy*w+sx)*ldx+cin])
				}
			}
		}
	}
}

// col2im adds the columns of dcol ([hwp][ldc], row p, column
// (ky·3+kx)·cin + ci) back to the pixels they were read from: dx (stride
// ldx) += im2colᵀ(dcol).
func col2im(dcol []float32, ldc, cin, h, w int, dx []float32, ldx int) {
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			p := y*w + xx
			for ky := 0; ky < 3; ky++ {
				sy := y + ky - 1
				if sy < 0 || sy >= h {
					continue
				}
				for kx := 0; kx < 3; kx++ {
					sx := xx + kx - 1
					if sx < 0 || sx >= w {
						continue
					}
					t := (ky*3 + kx) * cin
					reconstruct.AddScaled(dx[(sy*w+sx)*ldx:(sy*w+sx)*ldx+cin], dcol[p*ldc+t:p*ldc+t+cin], 1)
				}
			}
		}
	}
}

// conv runs convolution i on x (stride ldx, cin channels) into out
// ([hwp][ld]), with the ReLU when relu is set.
func (n *encNet) conv(pk *encPacked, i int, x []float32, ldx int, out []float32, relu bool, wk *encWork) {
	s := n.convs[i]
	im2col(x, ldx, s.in, wk.h, wk.w, wk.hwp, wk.col)
	pk.fwd[i].Mul(wk.col, wk.hwp, out, n.ld(), relu)
	clear(out[wk.h*wk.w*n.ld() : wk.hwp*n.ld()]) // padded pixels stay zero (bias)
}

// forward encodes the h×w input low into wk.latent ([hwp][ld]), keeping
// the activations the backward pass needs.
func (n *encNet) forward(pk *encPacked, low []float32, h, w int, wk *encWork) {
	n.prepare(wk, h, w)
	ld := n.ld()
	copy(wk.x0, low)
	clear(wk.x0[h*w:])
	n.conv(pk, 0, wk.x0, 1, wk.head, false, wk)
	cur := wk.head
	for b := 0; b < n.blocks; b++ {
		i := 1 + 2*b
		copy(wk.acts[i], cur) // the block's input
		r := wk.acts[i+1]     // conv1's ReLU output, conv2's input
		n.conv(pk, i, cur, ld, r, true, wk)
		next := wk.d // conv2's output, then the sum
		n.conv(pk, i+1, r, ld, next, false, wk)
		for j := range next[:wk.hwp*ld] {
			next[j] += wk.acts[i][j]
		}
		cur = wk.acts[i+2] // the next block's input (or the tail's)
		copy(cur, next)
	}
	n.conv(pk, len(n.convs)-1, cur, ld, wk.latent, false, wk)
	for j := range wk.latent[:wk.hwp*ld] {
		wk.latent[j] += wk.head[j]
	}
}

// backward adds the gradient of the loss with respect to theta to g, given
// the gradient dlat ([hwp][ld]) with respect to the latent of the last
// forward pass.
func (n *encNet) backward(pk *encPacked, dlat []float32, g []float32, wk *encWork) {
	ld := n.ld()
	last := len(n.convs) - 1
	// Tail: input acts[last] (the last block's output, or the head's).
	tailIn := wk.head
	if n.blocks > 0 {
		tailIn = wk.acts[last]
	}
	dcur := wk.d2
	clear(dcur[:wk.hwp*ld])
	n.convGrad(pk, last, tailIn, ld, dlat, g, dcur, wk)
	for b := n.blocks - 1; b >= 0; b-- {
		i := 1 + 2*b
		// conv2: input r = acts[i+1], output gradient dcur.
		dr := wk.d3
		clear(dr[:wk.hwp*ld])
		n.convGrad(pk, i+1, wk.acts[i+1], ld, dcur, g, dr, wk)
		maskReLU(dr[:wk.hwp*ld], wk.acts[i+1][:wk.hwp*ld])
		// conv1: input acts[i]; its input gradient adds to dcur (the skip).
		n.convGrad(pk, i, wk.acts[i], ld, dr, g, dcur, wk)
	}
	// Head: its output feeds the first block (dcur) and the global skip.
	for j := range dcur[:wk.hwp*ld] {
		dcur[j] += dlat[j]
	}
	n.convGrad(pk, 0, wk.x0, 1, dcur, g, nil, wk)
}

// convGrad adds convolution i's weight and bias gradients to g, for input
// x (stride ldx) and output gradient dy ([hwp][ld], padded rows zero), and
// when dx is not nil adds the input gradient to dx (stride ld).
func (n *encNet) convGrad(pk *encPacked, i int, x []float32, ldx int, dy []float32, g []float32, dx []float32, wk *encWork) {
	s := n.convs[i]
	ld, hwp := n.ld(), wk.hwp
	k := 9 * s.in
	// dWᵀ = dyᵀ·col: col (rows read in order) packed as the right-hand
	// matrix, dy transposed (out rows of hwp).
	im2col(x, ldx, s.in, wk.h, wk.w, hwp, wk.col)
	cr := roundUp(s.out, reconstruct.DenseRows)
	wk.dyT = grow(wk.dyT, cr*hwp)
	clear(wk.dyT[s.out*hwp : cr*hwp])
	for p := 0; p < hwp; p++ {
		for c, v := range dy[p*ld : p*ld+s.out] {
			wk.dyT[c*hwp+p] = v
		}
	}
	kc := roundUp(k, reconstruct.DenseCols)
	wk.dW = grow(wk.dW, cr*kc)
	wk.dd.Pack(wk.col, hwp, k, nil, hwp)
	wk.dd.Mul(wk.dyT, cr, wk.dW, kc, false)
	gw := g[s.offW : s.offW+k*s.out]
	for c := 0; c < s.out; c++ {
		src := wk.dW[c*kc : c*kc+k]
		for r, v := range src {
			gw[r*s.out+c] += v
		}
	}
	gb := g[s.offB : s.offB+s.out]
	for p := 0; p < wk.h*wk.w; p++ {
		for c, v := range dy[p*ld : p*ld+s.out] {
			gb[c] += v
		}
	}
	if dx == nil {
		return
	}
	ldc := roundUp(k, reconstruct.DenseCols)
	pk.bwd[i].Mul(dy, hwp, wk.dcol, ldc, false)
	col2im(wk.dcol, ldc, s.in, wk.h, wk.w, dx, ld)
}
