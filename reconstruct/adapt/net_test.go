package adapt

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/niiv/niiv/reconstruct"
)

// randomDecoder returns a decoder MLP F+9 → widths… → 1 with random
// weights.
func randomDecoder(rng *rand.Rand, feats int, widths []int, head string, border bool) *reconstruct.DecoderMLP {
	d := &reconstruct.DecoderMLP{Feats: feats, Head: head, Border: border}
	in := feats + 9
	for i, w := range append(append([]int(nil), widths...), 1) {
		l := reconstruct.DecoderLayer{In: in, Out: w, W: make([]float32, in*w), B: make([]float32, w)}
		s := float32(1.5 / math.Sqrt(float64(in)))
		for j := range l.W {
			l.W[j] = s * float32(rng.NormFloat64())
		}
		for j := range l.B {
			l.B[j] = 0.1 * float32(rng.NormFloat64())
		}
		l.WeightName, l.BiasName = "w"+string(rune('0'+i)), "b"+string(rune('0'+i))
		d.Layers = append(d.Layers, l)
		in = w
	}
	return d
}

func randomSlice(rng *rand.Rand, n int, s float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(s * rng.NormFloat64())
	}
	return v
}

// fixture is a small random problem: examples on one geometry and points.
type fixture struct {
	n   *net
	geo *geometry
	exs []*example
	pts [][]point
}

func newFixture(t *testing.T, seed uint64, head string, border bool, widths []int) *fixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	const feats, h, w, factor = 3, 3, 7, 4
	n, err := newNet(randomDecoder(rng, feats, widths, head, border))
	if err != nil {
		t.Fatal(err)
	}
	// Rows: the pixel centres of the full-resolution grid and two points
	// beyond the border (padding matters there); columns: centres and
	// points between them.
	rows := append(pixelCentres(h*factor), -0.99, 0.995)
	cols := append(pixelCentres(w), -1, 0.31, 0.77, 1)
	f := &fixture{n: n, geo: newGeometry(rows, cols, h, w, border)}
	for e := 0; e < 3; e++ {
		ex := newExample(randomSlice(rng, feats*h*w, 1), randomSlice(rng, h*w, 0.5), feats, h, w, nil)
		f.exs = append(f.exs, ex)
		var p []point
		for k := 0; k < 40+10*e; k++ {
			p = append(p, point{r: int32(rng.IntN(len(rows))), c: int32(rng.IntN(len(cols))), t: float32(rng.NormFloat64())})
		}
		f.pts = append(f.pts, p)
	}
	return f
}

func (f *fixture) loss(threads int) (float64, []float32) {
	works := make([]*work, threads)
	for i := range works {
		works[i] = f.n.newWork()
	}
	grads := make([][]float32, len(f.exs))
	for i := range grads {
		grads[i] = make([]float32, len(f.n.theta))
	}
	g := make([]float32, len(f.n.theta))
	pk := f.n.pack(f.geo, nil)
	loss, _ := f.n.batchGrad(context.Background(), pk, f.geo, f.exs, f.pts, threads, works, grads, g)
	return loss, g
}

// TestGradientFiniteDifferences checks every parameter's gradient against
// central differences of the loss (in float64 over float32 outputs; the
// few parameters whose step crosses a kink of |·| or ReLU are tolerated).
func TestGradientFiniteDifferences(t *testing.T) {
	cases := []struct {
		name   string
		head   string
		border bool
		widths []int
	}{
		{"residual border", "residual", true, []int{8, 8}},
		{"residual zeros", "residual", false, []int{8, 8}},
		{"sigmoid", "sigmoid", true, []int{8, 8}},
		{"plain deep", "plain", true, []int{8, 20, 8}},
		{"one hidden layer", "residual", true, []int{17}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 7, tc.head, tc.border, tc.widths)
			_, g := f.loss(1)
			const eps = 1e-3
			bad := 0
			var worst float64
			for i := range f.n.theta {
				orig := f.n.theta[i]
				f.n.theta[i] = orig + eps
				lp, _ := f.loss(1)
				f.n.theta[i] = orig - eps
				lm, _ := f.loss(1)
				f.n.theta[i] = orig
				fd := (lp - lm) / (2 * eps)
				d := math.Abs(fd - float64(g[i]))
				if d > 2e-3+0.02*math.Abs(fd) {
					bad++
					worst = max(worst, d)
				}
			}
			if bad > len(f.n.theta)/100 {
				t.Errorf("%d of %d gradients differ from finite differences (worst by %.3g)", bad, len(f.n.theta), worst)
			}
			t.Logf("%d parameters, %d outside tolerance", len(f.n.theta), bad)
		})
	}
}

// TestGradientDeterministic checks that the gradient does not depend on
// the number of workers.
func TestGradientDeterministic(t *testing.T) {
	f := newFixture(t, 3, "residual", true, []int{16, 16})
	l1, g1 := f.loss(1)
	l3, g3 := f.loss(3)
	if l1 != l3 {
		t.Errorf("loss %v with 1 worker, %v with 3", l1, l3)
	}
	for i := range g1 {
		if g1[i] != g3[i] {
			t.Fatalf("gradient %d: %v with 1 worker, %v with 3", i, g1[i], g3[i])
		}
	}
}

// TestPredictMatchesNaive compares the forward pass (projection before
// sampling) with a direct evaluation of the MLP on sampled inputs.
func TestPredictMatchesNaive(t *testing.T) {
	for _, border := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(11, 2))
		const feats, h, w = 5, 4, 6
		d := randomDecoder(rng, feats, []int{24, 24}, "residual", border)
		n, err := newNet(d)
		if err != nil {
			t.Fatal(err)
		}
		lat, low := randomSlice(rng, feats*h*w, 1), randomSlice(rng, h*w, 1)
		coords := randomSlice(rng, 2*50, 0.7)
		got := n.predict(lat, low, h, w, coords)
		for q := range got {
			want := naiveDecode(d, lat, low, h, w, float64(coords[2*q]), float64(coords[2*q+1]))
			if math.Abs(want-float64(got[q])) > 1e-5 {
				t.Fatalf("border=%v point %d: got %v, want %v", border, q, got[q], want)
			}
		}
	}
}

// naiveDecode evaluates the decoder at one coordinate in float64, the way
// the PyTorch model does: sample, concatenate, MLP, head.
func naiveDecode(d *reconstruct.DecoderMLP, lat, low []float32, h, w int, cr, cc float64) float64 {
	sample := func(grid []float32) float64 {
		r0, r1, wr0, wr1 := reconstruct.BilinearTaps(cr, h, d.Border)
		c0, c1, wc0, wc1 := reconstruct.BilinearTaps(cc, w, d.Border)
		at := func(r, c int) float64 { return float64(grid[r*w+c]) }
		return float64(wr0)*(float64(wc0)*at(r0, c0)+float64(wc1)*at(r0, c1)) + float64(wr1)*(float64(wc0)*at(r1, c0)+float64(wc1)*at(r1, c1))
	}
	var x []float64
	for f := 0; f < d.Feats; f++ {
		x = append(x, sample(lat[f*h*w:(f+1)*h*w]))
	}
	v := sample(low)
	x = append(x, v)
	pe := make([]float64, 4)
	reconstruct.PositionalEncoding(cr, pe)
	x = append(x, pe...)
	reconstruct.PositionalEncoding(cc, pe)
	x = append(x, pe...)
	for i, l := range d.Layers {
		y := make([]float64, l.Out)
		for o := range y {
			s := float64(l.B[o])
			for k, xv := range x {
				s += xv * float64(l.W[k*l.Out+o])
			}
			if i < len(d.Layers)-1 {
				s = max(s, 0)
			}
			y[o] = s
		}
		x = y
	}
	return v + x[0]
}

// TestAdamFirstSteps checks Adam against its closed form on a scalar.
func TestAdamFirstSteps(t *testing.T) {
	a := newAdam(0.01, 1)
	theta := []float32{1}
	a.step(theta, []float32{0.5}) // first step moves by lr·sign(g)
	if math.Abs(float64(theta[0])-(1-0.01)) > 1e-6 {
		t.Errorf("after step 1: %v, want 0.99", theta[0])
	}
	a.step(theta, []float32{0}) // m = 0.045, v ≈ 0.00025; corrected m/√v
	m, v := 0.9*0.05, 0.999*0.00025
	want := 0.99 - 0.01*(m/(1-0.81))/(math.Sqrt(v/(1-0.998001))+1e-8)
	if math.Abs(float64(theta[0])-want) > 1e-6 {
		t.Errorf("after step 2: %v, want %v", theta[0], want)
	}
}

// TestAutoPoints checks the points per crop chosen by MLP size.
func TestAutoPoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		name         string
		feats, depth int
		width, crop  int
		want         int
	}{
		{"tiny", 4, 2, 8, 32, 32 * 32},
		{"lite", 32, 3, 64, 128, 128 * 128},
		{"paper", 64, 5, 256, 128, 2046},
		{"paper small crop", 64, 5, 256, 32, 1024},
	}
	for _, tc := range cases {
		widths := make([]int, tc.depth)
		for i := range widths {
			widths[i] = tc.width
		}
		if got := autoPoints(randomDecoder(rng, tc.feats, widths, "residual", true), tc.crop); got != tc.want {
			t.Errorf("%s: %d points, want %d", tc.name, got, tc.want)
		}
	}
}
