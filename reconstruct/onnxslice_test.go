package reconstruct

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/volume"
	ort "github.com/yalue/onnxruntime_go"
)

// noisyVolume returns a volume of smooth structure plus noise, in 8-bit
// units.
func noisyVolume(t testing.TB, s volume.Shape, seed uint64) *volume.Volume {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	data := make([]float32, s.Len())
	for z := 0; z < s.Z; z++ {
		for y := 0; y < s.Y; y++ {
			for x := 0; x < s.X; x++ {
				v := 120 + 60*math.Sin(float64(x)/3+float64(z)) + 30*math.Cos(float64(y)/2) + 20*r.NormFloat64()
				data[(z*s.Y+y)*s.X+x] = float32(math.Round(min(max(v, 0), 255)))
			}
		}
	}
	v, err := volume.New(s, data, volume.Unknown())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// runSliceGraph runs a SliceGraph model on input [n,1,h,w] through ONNX
// Runtime and returns the output and its shape.
func runSliceGraph(t testing.TB, graph []byte, in []float32, n, h, w int) ([]float32, []int64) {
	t.Helper()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(graph, []string{"input"}, []string{"output"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	x, err := ort.NewTensor(ort.NewShape(int64(n), 1, int64(h), int64(w)), in)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Destroy()
	out := []ort.Value{nil}
	if err := s.Run([]ort.Value{x}, out); err != nil {
		t.Fatal(err)
	}
	defer out[0].Destroy()
	y := out[0].(*ort.Tensor[float32])
	return append([]float32(nil), y.GetData()...), y.GetShape()
}

// TestSliceGraphMatchesNiiv checks that the one-graph export of a model
// reproduces niiv's own reconstruction of whole xz planes (Render at
// z·factor rows, the native decoder) for a batch of two planes.
func TestSliceGraphMatchesNiiv(t *testing.T) {
	needRuntime(t)
	ctx := context.Background()
	for _, dir := range []string{filepath.Join("..", "testdata", "tiny-model"), filepath.Join("..", "assets", "models", "lite")} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadTest(t, dir, ModelOptions{Device: "cpu", Threads: 2})
			enc, _ := os.ReadFile(filepath.Join(dir, "encoder.onnx"))
			dec, _ := os.ReadFile(filepath.Join(dir, "decoder.onnx"))
			const f = 5
			s := volume.Shape{Z: 7, Y: 3, X: 37}
			vol := noisyVolume(t, s, 3)
			n := NewNiiv(m, nil)
			lo, hi := n.NormRange(vol)
			graph, err := SliceGraph(enc, dec, f)
			if err != nil {
				t.Fatal(err)
			}
			in := make([]float32, 2*s.Z*s.X)
			var want []float32
			for k, y := range []int{0, 2} {
				img, err := n.Render(ctx, FullPlane(vol, volume.XZ, float64(y), s.X, s.Z*f))
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, img.Pix...)
				raw, err := vol.PlaneRect(ctx, volume.XZ, y, 0, s.Z, 0, s.X, nil)
				if err != nil {
					t.Fatal(err)
				}
				// Plane must be niiv's whole-plane path exactly.
				got, err := n.Plane(ctx, raw, s.Z, s.X, s.Z*f, lo, hi)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxDiff(got, img.Pix); d != 0 {
					t.Errorf("Plane differs from Render by %g", d)
				}
				scale := float32(1 / (hi - lo))
				for i, v := range raw {
					in[k*s.Z*s.X+i] = (v - float32(lo)) * scale
				}
			}
			out, shape := runSliceGraph(t, graph, in, 2, s.Z, s.X)
			if len(shape) != 4 || shape[0] != 2 || shape[1] != 1 || shape[2] != int64(s.Z*f) || shape[3] != int64(s.X) {
				t.Fatalf("output shape %v, want [2 1 %d %d]", shape, s.Z*f, s.X)
			}
			denormalise(out, lo, hi)
			d := maxDiff(out, want)
			t.Logf("max |graph − niiv| = %.3g (%.3g normalised)", d, d/(hi-lo))
			if !(d/(hi-lo) <= 1e-4) {
				t.Errorf("graph differs from niiv by %.3g (%.3g of the normalisation range)", d, d/(hi-lo))
			}
		})
	}
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		e := math.Abs(float64(a[i]) - float64(b[i]))
		if !(e <= d) {
			d = e
		}
	}
	return d
}

// TestSliceGraphErrors feeds SliceGraph graphs it must refuse.
func TestSliceGraphErrors(t *testing.T) {
	dir := filepath.Join("..", "testdata", "tiny-model")
	enc, _ := os.ReadFile(filepath.Join(dir, "encoder.onnx"))
	dec, _ := os.ReadFile(filepath.Join(dir, "decoder.onnx"))
	for _, c := range []struct {
		name     string
		enc, dec []byte
		factor   int
		want     string
	}{
		{"factor", enc, dec, 0, "factor 0"},
		{"swapped", dec, enc, 4, "inputs"},
		{"truncated", enc[:len(enc)/2], dec, 4, "encoder"},
		{"empty", nil, dec, 4, "no graph"},
	} {
		_, err := SliceGraph(c.enc, c.dec, c.factor)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestSliceGraphONNXChecker runs onnx.checker.check_model (full check, with
// shape inference) on a SliceGraph model with Debian's python3-onnx.
func TestSliceGraphONNXChecker(t *testing.T) {
	py := reftest.Python(t, "onnx")
	dir := filepath.Join("..", "testdata", "tiny-model")
	enc, _ := os.ReadFile(filepath.Join(dir, "encoder.onnx"))
	dec, _ := os.ReadFile(filepath.Join(dir, "decoder.onnx"))
	graph, err := SliceGraph(enc, dec, 4)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "slice.onnx")
	if err := os.WriteFile(p, graph, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")))`, p).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker: %v\n%s", err, out)
	}
	if v := strings.TrimSpace(string(out)); v != "16" {
		t.Errorf("opset %s, want 16", v)
	}
}
