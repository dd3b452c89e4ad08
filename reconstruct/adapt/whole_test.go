package adapt

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestTorchWholeStep runs Adam steps of the Go whole-network trainer
// (encoder and decoder) and of PyTorch's model.Niiv (testdata/torch_step.py)
// on the same batch and compares the losses and every updated weight.
func TestTorchWholeStep(t *testing.T) {
	needTorch(t)
	tests := []struct {
		name                 string
		feats, blocks, depth int
		width, steps, factor int
		border               bool
		lr                   float64
		seed                 uint64
	}{
		{"lite shape, border", 32, 2, 3, 64, 2, 8, true, 1e-3, 8},
		// A random network can hold a hidden unit at the edge of its ReLU
		// on some point: float32 rounding in another order (PyTorch's
		// convolutions) then decides whether that point's gradient counts,
		// and Adam's first step turns a tiny gradient into ±lr. The seeds
		// here draw networks without such a unit (seed 8 of this case has
		// one: a bias 1.3e-3 apart after one step, every other weight within
		// 1e-6).
		{"small, zeros", 5, 1, 2, 24, 3, 4, false, 1e-2, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, uint64(tc.feats)))
			widths := make([]int, tc.depth)
			for i := range widths {
				widths[i] = tc.width
			}
			d := randomDecoder(rng, tc.feats, widths, "residual", tc.border)
			e := randomEncoder(rng, tc.feats, tc.blocks)
			n, err := newNet(d)
			if err != nil {
				t.Fatal(err)
			}
			enc := newEncNet(e)
			const B, h, w, Q = 3, 4, 16, 150
			S := h * tc.factor
			geo := newGeometry(pixelCentres(S), pixelCentres(w), h, w, tc.border)
			dir := t.TempDir()
			var lows [][]float32
			var flat, coords, targets []float32
			var pts [][]point
			for b := 0; b < B; b++ {
				low := randomSlice(rng, h*w, 0.5)
				lows = append(lows, low)
				flat = append(flat, low...)
				var p []point
				for q := 0; q < Q; q++ {
					pt := point{r: int32(rng.IntN(S)), c: int32(rng.IntN(w)), t: float32(rng.Float64())}
					p = append(p, pt)
					coords = append(coords, geo.rows[pt.r], geo.cols[pt.c])
					targets = append(targets, pt.t)
				}
				pts = append(pts, p)
			}
			write := func(name string, v []float32, shape ...int) { writeNPY(t, dir, name, v, shape...) }
			write("lowres", flat, B, 1, h, w)
			write("coords", coords, B, Q, 2)
			write("target", targets, B, Q)
			for i, l := range d.Layers {
				write("w"+strconv.Itoa(i), transpose(l.W, l.In, l.Out), l.Out, l.In)
				write("b"+strconv.Itoa(i), l.B, l.Out)
			}
			for i, c := range e.Convs() {
				write("enc_w"+strconv.Itoa(i), c.W, c.Out, c.In, 3, 3)
				write("enc_b"+strconv.Itoa(i), c.B, c.Out)
			}
			padding := "zeros"
			if tc.border {
				padding = "border"
			}
			cfg, _ := json.Marshal(map[string]any{"feats": tc.feats, "blocks": tc.blocks, "depth": tc.depth, "width": tc.width,
				"residual": true, "padding": padding, "lr": tc.lr, "steps": tc.steps})
			os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
			if out, err := exec.Command(python, filepath.Join("testdata", "torch_step.py"), dir).CombinedOutput(); err != nil {
				t.Fatalf("torch_step.py: %v\n%s", err, out)
			}
			read := func(name string) []float32 { return readNPY(t, dir, name) }
			nd, ne := len(n.theta), len(enc.theta)
			works := []*wholeWork{newWholeWork(n, enc), newWholeWork(n, enc)}
			grads := make([][]float32, B)
			for i := range grads {
				grads[i] = make([]float32, nd+ne)
			}
			g := make([]float32, nd+ne)
			optD, optE := newAdam(tc.lr, nd), newAdam(tc.lr, ne)
			torchLoss := read("loss")
			for s := 0; s < tc.steps; s++ {
				loss, err := wholeBatchGrad(context.Background(), n, enc, n.pack(geo, nil), enc.pack(nil), geo, lows, h, w, pts, 2, works, grads, g)
				if err != nil {
					t.Fatal(err)
				}
				if d := math.Abs(loss - float64(torchLoss[s])); d > 1e-5 {
					t.Errorf("step %d: loss %.7f, PyTorch %.7f", s+1, loss, torchLoss[s])
				}
				optD.step(n.theta, g[:nd])
				optE.step(enc.theta, g[nd:])
			}
			var worstD, worstE, movedE float64
			for i := range d.Layers {
				wantW, wantB := read("out_w"+strconv.Itoa(i)), read("out_b"+strconv.Itoa(i))
				gotW := transpose(n.w(i), d.Layers[i].In, d.Layers[i].Out)
				for j := range wantW {
					worstD = max(worstD, math.Abs(float64(gotW[j]-wantW[j])))
				}
				for j := range wantB {
					worstD = max(worstD, math.Abs(float64(n.b(i)[j]-wantB[j])))
				}
			}
			got := enc.encoder(e)
			for i, c := range got.Convs() {
				wantW, wantB := read("out_enc_w"+strconv.Itoa(i)), read("out_enc_b"+strconv.Itoa(i))
				for j := range wantW {
					worstE = max(worstE, math.Abs(float64(c.W[j]-wantW[j])))
					movedE = max(movedE, math.Abs(float64(c.W[j]-e.Convs()[i].W[j])))
				}
				for j := range wantB {
					worstE = max(worstE, math.Abs(float64(c.B[j]-wantB[j])))
				}
			}
			if worstD > 1e-5 || worstE > 1e-5 {
				t.Errorf("after %d steps the decoder differs from PyTorch's by up to %g, the encoder by %g", tc.steps, worstD, worstE)
			}
			if movedE < tc.lr/2 {
				t.Errorf("the encoder hardly moved (%g)", movedE)
			}
			t.Logf("%d + %d parameters, %d steps: max difference decoder %.2g, encoder %.2g; losses %v", nd, ne, tc.steps, worstD, worstE, torchLoss)
		})
	}
}
