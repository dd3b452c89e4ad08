package adapt

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/niiv/niiv/reconstruct"
)

// randomEncoder returns an EDSR encoder with random weights.
func randomEncoder(rng *rand.Rand, feats, blocks int) *reconstruct.EncoderEDSR {
	conv := func(in, out int) reconstruct.EncoderConv {
		c := reconstruct.EncoderConv{In: in, Out: out, W: make([]float32, out*in*9), B: make([]float32, out)}
		s := 1 / math.Sqrt(float64(9*in))
		for i := range c.W {
			c.W[i] = float32((rng.Float64()*2 - 1) * s)
		}
		for i := range c.B {
			c.B[i] = float32((rng.Float64()*2 - 1) * 0.1)
		}
		return c
	}
	e := &reconstruct.EncoderEDSR{Feats: feats, Head: conv(1, feats), Tail: conv(feats, feats)}
	for range blocks {
		e.Blocks = append(e.Blocks, [2]reconstruct.EncoderConv{conv(feats, feats), conv(feats, feats)})
	}
	return e
}

// refConv is a direct float64 3×3 convolution with zero padding: x and the
// result are [c][h][w].
func refConv(c *reconstruct.EncoderConv, x []float64, h, w int) []float64 {
	out := make([]float64, c.Out*h*w)
	for co := 0; co < c.Out; co++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				s := float64(c.B[co])
				for ci := 0; ci < c.In; ci++ {
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							sy, sx := y+ky-1, xx+kx-1
							if sy < 0 || sy >= h || sx < 0 || sx >= w {
								continue
							}
							s += float64(c.W[((co*c.In+ci)*3+ky)*3+kx]) * x[(ci*h+sy)*w+sx]
						}
					}
				}
				out[(co*h+y)*w+xx] = s
			}
		}
	}
	return out
}

// refEncode is the EDSR encoder in float64: latent [F][h][w].
func refEncode(e *reconstruct.EncoderEDSR, low []float32, h, w int) []float64 {
	x := make([]float64, len(low))
	for i, v := range low {
		x[i] = float64(v)
	}
	head := refConv(&e.Head, x, h, w)
	cur := head
	for b := range e.Blocks {
		r := refConv(&e.Blocks[b][0], cur, h, w)
		for i := range r {
			r[i] = math.Max(0, r[i])
		}
		c2 := refConv(&e.Blocks[b][1], r, h, w)
		next := make([]float64, len(cur))
		for i := range next {
			next[i] = cur[i] + c2[i]
		}
		cur = next
	}
	t := refConv(&e.Tail, cur, h, w)
	for i := range t {
		t[i] += head[i]
	}
	return t
}

// TestEncoderGradient checks the Go encoder's forward pass against a
// direct float64 convolution and its gradient against central finite
// differences of that reference, for the loss Σ latent·R.
func TestEncoderGradient(t *testing.T) {
	tests := []struct {
		name                string
		feats, blocks, h, w int
	}{
		{"no blocks", 3, 0, 3, 5},
		{"two blocks, odd sizes", 5, 2, 4, 7},
		{"lite width", 32, 1, 2, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(tc.feats)))
			e := randomEncoder(rng, tc.feats, tc.blocks)
			n := newEncNet(e)
			if back := n.encoder(e); back.Tail.W[5] != e.Tail.W[5] || back.Blocks != nil && back.Blocks[0][1].W[11] != e.Blocks[0][1].W[11] {
				t.Fatal("weights do not round-trip through the trainer's layout")
			}
			low := make([]float32, tc.h*tc.w)
			for i := range low {
				low[i] = float32(rng.Float64())
			}
			R := make([]float64, tc.feats*tc.h*tc.w)
			for i := range R {
				R[i] = rng.Float64()*2 - 1
			}
			pk := n.pack(nil)
			wk := n.newWork()
			n.forward(pk, low, tc.h, tc.w, wk)
			ref := refEncode(e, low, tc.h, tc.w)
			ld := n.ld()
			hw := tc.h * tc.w
			var maxErr float64
			dlat := make([]float32, wk.hwp*ld)
			for f := 0; f < tc.feats; f++ {
				for p := 0; p < hw; p++ {
					maxErr = math.Max(maxErr, math.Abs(float64(wk.latent[p*ld+f])-ref[f*hw+p]))
					dlat[p*ld+f] = float32(R[f*hw+p])
				}
			}
			if maxErr > 1e-5 {
				t.Fatalf("forward: max |Go − float64 reference| = %g", maxErr)
			}
			g := make([]float32, len(n.theta))
			n.backward(pk, dlat, g, wk)
			loss := func(e *reconstruct.EncoderEDSR) float64 {
				var s float64
				for i, v := range refEncode(e, low, tc.h, tc.w) {
					s += v * R[i]
				}
				return s
			}
			// A sample of parameters of every convolution, weights and biases.
			bad := 0
			for ci, s := range n.convs {
				for _, j := range []int{s.offW, s.offW + 9*s.in*s.out/2, s.offW + 9*s.in*s.out - 1, s.offB, s.offB + s.out - 1} {
					const eps = 1e-4
					orig := n.theta[j]
					n.theta[j] = orig + eps
					hi := float64(n.theta[j])
					lp := loss(n.encoder(e))
					n.theta[j] = orig - eps
					lo := float64(n.theta[j])
					lm := loss(n.encoder(e))
					n.theta[j] = orig
					num := (lp - lm) / (hi - lo)
					if d := math.Abs(num - float64(g[j])); d > 2e-3*math.Max(1, math.Abs(num)) {
						bad++
						t.Errorf("conv %d parameter %d: gradient %g, finite difference %g", ci, j, g[j], num)
					}
				}
			}
			if bad > 0 {
				t.Fatalf("%d gradients differ", bad)
			}
		})
	}
}
