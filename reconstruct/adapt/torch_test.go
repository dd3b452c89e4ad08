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
	"strings"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
)

// python is the interpreter with PyTorch (Debian's python3-torch).
const python = "/usr/bin/python3"

// needTorch skips the test when PyTorch cannot be imported.
func needTorch(t *testing.T) { reftest.Python(t, "torch", "numpy") }

// TestTorchStep runs Adam steps of the Go trainer and of the PyTorch
// decoder (reconstruct/train/model.py, via testdata/torch_step.py) on the
// same batch and compares the losses and the updated weights.
func TestTorchStep(t *testing.T) {
	needTorch(t)
	cases := []struct {
		name          string
		head          string
		border        bool
		depth, width  int
		steps         int
		lr            float64
		feats, factor int
	}{
		{"residual border, lite shape", "residual", true, 3, 64, 2, 1e-3, 32, 8},
		{"sigmoid zeros", "sigmoid", false, 2, 24, 3, 1e-2, 5, 4},
		{"residual zeros", "residual", false, 2, 24, 3, 1e-2, 5, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, 5))
			widths := make([]int, tc.depth)
			for i := range widths {
				widths[i] = tc.width
			}
			d := randomDecoder(rng, tc.feats, widths, tc.head, tc.border)
			n, err := newNet(d)
			if err != nil {
				t.Fatal(err)
			}
			const B, h, w, Q = 3, 4, 16, 150
			S := h * tc.factor
			geo := newGeometry(pixelCentres(S), pixelCentres(w), h, w, tc.border)
			dir := t.TempDir()
			var lats, lows, coords, targets []float32
			var exs []*example
			var pts [][]point
			for b := 0; b < B; b++ {
				lat, low := randomSlice(rng, tc.feats*h*w, 1), randomSlice(rng, h*w, 0.5)
				exs = append(exs, newExample(lat, low, tc.feats, h, w, nil))
				lats, lows = append(lats, lat...), append(lows, low...)
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
			write("latent", lats, B, tc.feats, h, w)
			write("lowres", lows, B, 1, h, w)
			write("coords", coords, B, Q, 2)
			write("target", targets, B, Q)
			for i, l := range d.Layers {
				write("w"+strconv.Itoa(i), transpose(l.W, l.In, l.Out), l.Out, l.In)
				write("b"+strconv.Itoa(i), l.B, l.Out)
			}
			padding := "zeros"
			if tc.border {
				padding = "border"
			}
			cfg, _ := json.Marshal(map[string]any{"feats": tc.feats, "depth": tc.depth, "width": tc.width,
				"residual": tc.head == "residual", "padding": padding, "lr": tc.lr, "steps": tc.steps})
			os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
			cmd := exec.Command(python, filepath.Join("testdata", "torch_step.py"), dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("torch_step.py: %v\n%s", err, out)
			}
			read := func(name string) []float32 { return readNPY(t, dir, name) }
			// The Go steps.
			works := []*work{n.newWork(), n.newWork()}
			grads := make([][]float32, B)
			for i := range grads {
				grads[i] = make([]float32, len(n.theta))
			}
			g := make([]float32, len(n.theta))
			opt := newAdam(tc.lr, len(n.theta))
			torchLoss := read("loss")
			for s := 0; s < tc.steps; s++ {
				loss, _ := n.batchGrad(context.Background(), n.pack(geo, nil), geo, exs, pts, 2, works, grads, g)
				if d := math.Abs(loss - float64(torchLoss[s])); d > 1e-5 {
					t.Errorf("step %d: loss %.7f, PyTorch %.7f", s+1, loss, torchLoss[s])
				}
				opt.step(n.theta, g)
			}
			var worst, moved float64
			for i := range d.Layers {
				wantW := read("out_w" + strconv.Itoa(i))
				wantB := read("out_b" + strconv.Itoa(i))
				gotW := transpose(n.w(i), d.Layers[i].In, d.Layers[i].Out)
				for j := range wantW {
					worst = max(worst, math.Abs(float64(gotW[j]-wantW[j])))
				}
				for j := range wantB {
					worst = max(worst, math.Abs(float64(n.b(i)[j]-wantB[j])))
				}
				for j := range d.Layers[i].B {
					moved = max(moved, math.Abs(float64(n.b(i)[j]-d.Layers[i].B[j])))
				}
			}
			if worst > 1e-5 {
				t.Errorf("after %d steps the weights differ from PyTorch's by up to %g", tc.steps, worst)
			}
			if moved < tc.lr/2 {
				t.Errorf("the weights hardly moved (%g)", moved)
			}
			t.Logf("%d parameters, %d steps: max weight difference %.2g, losses %v", len(n.theta), tc.steps, worst, torchLoss)
		})
	}
}

// writeNPY writes v with shape as DIR/NAME.npy, for the PyTorch scripts.
func writeNPY(t *testing.T, dir, name string, v []float32, shape ...int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".npy"), tensor.EncodeNPY(v, shape...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readNPY reads DIR/NAME.npy written by a PyTorch script.
func readNPY(t *testing.T, dir, name string) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".npy"))
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := tensor.DecodeNPY(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// transpose returns the transpose of a rows×cols row-major matrix.
func transpose(m []float32, rows, cols int) []float32 {
	out := make([]float32, len(m))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = m[r*cols+c]
		}
	}
	return out
}

// TestTorchLoadsAdaptedWeights checks that the weights.npz of an adapted
// model rebuilds, in PyTorch (export.load_weights), a decoder that
// reproduces the adapted model's test values.
func TestTorchLoadsAdaptedWeights(t *testing.T) {
	needTorch(t)
	p := openTiny(t, reconstruct.ModelOptions{Threads: 1})
	if _, ok := p.Files["weights.npz"]; !ok {
		t.Skip("skipping: the tiny model has no weights.npz")
	}
	res, err := Adapt(context.Background(), p, testVolume(t, 4), Options{Steps: 3, Seconds: -1, Batch: 2, LR: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "adapted")
	if err := Save(context.Background(), dir, p, res); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[1])
import export as E
d = sys.argv[2]
net = E.load_weights(d)
load = lambda n: torch.from_numpy(np.load(d + "/test_" + n + ".npy"))
with torch.no_grad():
    v = net.decoder(load("latent"), load("lowres"), load("coords")).numpy()
print(float(np.abs(v - np.load(d + "/test_values.npy")).max()))
`
	out, err := exec.Command(python, "-c", script, filepath.Join("..", "train"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || d > 1e-5 {
		t.Errorf("PyTorch on the adapted weights.npz differs from test_values.npy by %s", out)
	}
}
