package adapt

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkStep times one training step (forward, backward, Adam) of the
// decoder MLP on a batch of 8 crops of 128×128 at factor 8, every pixel a
// query, for the lite and paper preset shapes with random weights (the
// encoder is not part of it).
func BenchmarkStep(b *testing.B) {
	cases := []struct {
		name          string
		feats, depth  int
		width, points int
	}{
		{"lite", 32, 3, 64, 0},
		{"paper", 64, 5, 256, 0},
		{"paper-2048pts", 64, 5, 256, 2048},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			widths := make([]int, tc.depth)
			for i := range widths {
				widths[i] = tc.width
			}
			n, err := newNet(randomDecoder(rng, tc.feats, widths, "residual", true))
			if err != nil {
				b.Fatal(err)
			}
			const B, S, factor = 8, 128, 8
			h := S / factor
			geo := newGeometry(pixelCentres(S), pixelCentres(S), h, S, true)
			var exs []*example
			var pts [][]point
			for i := 0; i < B; i++ {
				exs = append(exs, newExample(randomSlice(rng, tc.feats*h*S, 1), randomSlice(rng, h*S, 0.3), tc.feats, h, S, nil))
				pts = append(pts, benchPoints(rng, S, tc.points))
			}
			threads := runtime.GOMAXPROCS(0)
			works := make([]*work, threads)
			for i := range works {
				works[i] = n.newWork()
			}
			grads := make([][]float32, B)
			for i := range grads {
				grads[i] = make([]float32, len(n.theta))
			}
			g := make([]float32, len(n.theta))
			opt := newAdam(1e-4, len(n.theta))
			var pk *packed
			b.ResetTimer()
			for b.Loop() {
				pk = n.pack(geo, pk)
				n.batchGrad(context.Background(), pk, geo, exs, pts, threads, works, grads, g)
				opt.step(n.theta, g)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

// BenchmarkWholeStep times one whole-network training step (encoder and
// decoder forward and backward, Adam) on 8 crops of 128×128 at factor 8,
// every pixel a query, for the lite and paper shapes with random weights,
// and reports steps/s, output pixels/s and the encoder's and decoder's
// share of the multiply-accumulates.
func BenchmarkWholeStep(b *testing.B) {
	cases := []struct {
		name                 string
		feats, blocks, depth int
		width, points        int
	}{
		{"lite", 32, 4, 3, 64, 0},
		{"paper", 64, 16, 5, 256, 2048},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			widths := make([]int, tc.depth)
			for i := range widths {
				widths[i] = tc.width
			}
			n, err := newNet(randomDecoder(rng, tc.feats, widths, "residual", true))
			if err != nil {
				b.Fatal(err)
			}
			enc := newEncNet(randomEncoder(rng, tc.feats, tc.blocks))
			const B, S, factor = 8, 128, 8
			h := S / factor
			geo := newGeometry(pixelCentres(S), pixelCentres(S), h, S, true)
			var lows [][]float32
			var pts [][]point
			for i := 0; i < B; i++ {
				lows = append(lows, randomSlice(rng, h*S, 0.3))
				pts = append(pts, benchPoints(rng, S, tc.points))
			}
			threads := runtime.GOMAXPROCS(0)
			works := make([]*wholeWork, threads)
			for i := range works {
				works[i] = newWholeWork(n, enc)
			}
			nd, ne := len(n.theta), len(enc.theta)
			grads := make([][]float32, B)
			for i := range grads {
				grads[i] = make([]float32, nd+ne)
			}
			g := make([]float32, nd+ne)
			optD, optE := newAdam(1e-4, nd), newAdam(1e-4, ne)
			var pk *packed
			var epk *encPacked
			b.ResetTimer()
			for b.Loop() {
				pk = n.pack(geo, pk)
				epk = enc.pack(epk)
				wholeBatchGrad(context.Background(), n, enc, pk, epk, geo, lows, h, S, pts, threads, works, grads, g)
				optD.step(n.theta, g[:nd])
				optE.step(enc.theta, g[nd:])
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/sec, "steps/s")
			np := len(pts[0])
			b.ReportMetric(float64(b.N*B*np)/sec, "points/s")
			// Forward multiply-accumulates of one step; backward is about twice.
			encMACs := B * h * S * (9*tc.feats + (2*tc.blocks+1)*9*tc.feats*tc.feats)
			decMACs := B * np * (tc.width * (tc.depth - 1) * tc.width)
			b.ReportMetric(3*float64(encMACs+decMACs)*2*float64(b.N)/sec/1e9, "GFLOP/s")
		})
	}
}

// benchPoints returns the query points of one S×S crop with random
// targets: every pixel in order, or points (> 0) random pixels.
func benchPoints(rng *rand.Rand, S, points int) []point {
	np := S * S
	if points > 0 {
		np = points
	}
	p := make([]point, np)
	for k := range p {
		q := k
		if points > 0 {
			q = rng.IntN(S * S)
		}
		p[k] = point{r: int32(q / S), c: int32(q % S), t: float32(rng.Float64())}
	}
	return p
}
