package adapt

import (
	"context"
	"math"
	"math/rand/v2"
)

// wholeWork is one worker's scratch memory for whole-network training.
type wholeWork struct {
	dec  *work
	enc  *encWork
	dlat []float32
}

func newWholeWork(n *net, enc *encNet) *wholeWork {
	w := &wholeWork{dec: n.newWork(), enc: enc.newWork()}
	w.dec.wantLat = true
	return w
}

// encodeExample encodes an h×w input with the Go encoder into an example
// for the decoder (keeping the encoder's activations in wk).
func encodeExample(enc *encNet, epk *encPacked, low []float32, h, w int, target []float32, wk *encWork) *example {
	enc.forward(epk, low, h, w, wk)
	return newExampleCL(wk.latent, enc.ld(), low, enc.feats, h, w, target)
}

// runWhole pushes pts of one crop (input low [h][w]) through encoder and
// decoder and returns Σ|out − t|. With g not nil it adds the gradient of
// invN·Σ|out − t| with respect to [decoder theta | encoder theta] to g.
func runWhole(n *net, enc *encNet, pk *packed, epk *encPacked, geo *geometry, low []float32, h, w int, pts []point, invN float32, g []float32, ww *wholeWork) float64 {
	e := encodeExample(enc, epk, low, h, w, nil, ww.enc)
	if g == nil {
		return n.run(pk, geo, e, pts, invN, nil, nil, ww.dec)
	}
	nd := len(n.theta)
	loss := n.run(pk, geo, e, pts, invN, g[:nd], nil, ww.dec)
	// The latent's gradient (first F of layer 0's inputs) to the encoder.
	ld, hwp := enc.ld(), ww.enc.hwp
	ww.dlat = grow(ww.dlat, hwp*ld)
	clear(ww.dlat)
	gl, lld := ww.dec.glat, ww.dec.latLd
	for p := 0; p < h*w; p++ {
		copy(ww.dlat[p*ld:p*ld+enc.feats], gl[p*lld:p*lld+enc.feats])
	}
	enc.backward(epk, ww.dlat, g[nd:], ww.enc)
	return loss
}

// wholeBatchGrad is batchGrad for the whole network: the mean L1 loss of
// crops lows (each h×w) at pts, and its gradient [decoder | encoder] into
// g (batchSum).
func wholeBatchGrad(ctx context.Context, n *net, enc *encNet, pk *packed, epk *encPacked, geo *geometry, lows [][]float32, h, w int, pts [][]point, threads int, works []*wholeWork, grads [][]float32, g []float32) (float64, error) {
	return batchSum(ctx, pts, threads, grads, g, func(i, k int, invN float32) float64 {
		return runWhole(n, enc, pk, epk, geo, lows[i], h, w, pts[i], invN, grads[i], works[k])
	})
}

// uniform fills v with draws from U(−b, b).
func uniform(rng *rand.Rand, v []float32, b float64) {
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * b)
	}
}

// randomInit draws fresh weights as PyTorch initialises nn.Linear
// (U(±1/√in) for weights and biases), with the residual head's last layer
// zero (the decoder starts as bilinear interpolation), as
// reconstruct/train/model.py does.
func (n *net) randomInit(rng *rand.Rand) {
	for i, l := range n.layers {
		b := 1 / math.Sqrt(float64(l.in))
		if i == len(n.layers)-1 && n.head == "residual" {
			b = 0
		}
		uniform(rng, n.w(i), b)
		uniform(rng, n.b(i), b)
	}
}

// randomInit draws fresh weights as PyTorch initialises nn.Conv2d
// (U(±1/√(9·in)) for weights and biases).
func (n *encNet) randomInit(rng *rand.Rand) {
	for i, s := range n.convs {
		b := 1 / math.Sqrt(float64(9*s.in))
		uniform(rng, n.w(i), b)
		uniform(rng, n.b(i), b)
	}
}
