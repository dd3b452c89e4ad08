package reconstruct

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/internal/tensor"
)

// TestDenseMul checks Dense.Mul, plain and transposed, against a direct
// product for awkward sizes.
func TestDenseMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name            string
		rows, k, n, lda int
		transposed      bool
		relu            bool
	}{
		{"square", 12, 16, 16, 16, false, false},
		{"odd sizes", 18, 13, 21, 16, false, true},
		{"one column", 6, 40, 1, 48, false, false},
		{"transposed", 24, 20, 33, 48, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := make([]float32, tc.k*tc.n)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			b := make([]float32, tc.n)
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			// Inner dimension and output width of the product.
			inner, outW := tc.k, tc.n
			var d Dense
			if tc.transposed {
				inner, outW = tc.n, tc.k
				d.PackTransposed(w, tc.k, tc.n, tc.lda)
				b = nil
			} else {
				d.Pack(w, tc.k, tc.n, b, tc.lda)
			}
			a := make([]float32, tc.rows*tc.lda)
			for r := 0; r < tc.rows; r++ {
				for i := 0; i < inner; i++ {
					a[r*tc.lda+i] = float32(rng.NormFloat64())
				}
			}
			c := make([]float32, tc.rows*d.Cols())
			d.Mul(a, tc.rows, c, d.Cols(), tc.relu)
			for r := 0; r < tc.rows; r++ {
				for j := 0; j < d.Cols(); j++ {
					var want float64
					if j < outW {
						if b != nil {
							want = float64(b[j])
						}
						for i := 0; i < inner; i++ {
							var wv float32
							if tc.transposed {
								wv = w[j*tc.n+i]
							} else {
								wv = w[i*tc.n+j]
							}
							want += float64(a[r*tc.lda+i]) * float64(wv)
						}
						if tc.relu {
							want = max(want, 0)
						}
					}
					if got := float64(c[r*d.Cols()+j]); math.Abs(got-want) > 1e-4 {
						t.Fatalf("c[%d][%d] = %v, want %v", r, j, got, want)
					}
				}
			}
		})
	}
}

// TestWriteDecoderMLP checks that rewriting the decoder's own weights
// gives the same model, and that new weights reach ONNX Runtime.
func TestWriteDecoderMLP(t *testing.T) {
	dir := filepath.Join("..", "testdata", "tiny-model")
	dec, err := os.ReadFile(filepath.Join(dir, "decoder.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ReadDecoderMLP(dec, 4)
	if err != nil {
		t.Fatal(err)
	}
	if d.Head != "residual" || !d.Border || len(d.Layers) != 3 || d.Layers[0].In != 13 {
		t.Fatalf("tiny decoder read as %+v", d)
	}
	same, err := WriteDecoderMLP(dec, d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(same, dec) {
		t.Errorf("rewriting unchanged weights changed the file (%d → %d bytes)", len(dec), len(same))
	}
	d2 := d.Clone()
	for i := range d2.Layers {
		for j := range d2.Layers[i].W {
			d2.Layers[i].W[j] *= 1.5
		}
		d2.Layers[i].B[0] += 0.25
	}
	out, err := WriteDecoderMLP(dec, d2)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadDecoderMLP(out, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range back.Layers {
		if !equalF32(back.Layers[i].W, d2.Layers[i].W) || !equalF32(back.Layers[i].B, d2.Layers[i].B) {
			t.Fatalf("layer %d did not round-trip", i)
		}
	}
	bad := d2.Clone()
	bad.Layers[1].W = bad.Layers[1].W[:3]
	if _, err := WriteDecoderMLP(dec, bad); err == nil {
		t.Error("a layer of the wrong size was written")
	}
	// ONNX Runtime runs the rewritten graph with the new weights: the
	// native decoder built from it agrees with it.
	needRuntime(t)
	tmp := t.TempDir()
	for _, f := range []string{"encoder.onnx"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(tmp, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(tmp, "decoder.onnx"), out, 0o644)
	os.WriteFile(filepath.Join(tmp, "card.json"), []byte(`{"architecture": {"feats": 4}}`), 0o644)
	m := loadTest(t, tmp, ModelOptions{})
	if m.Decoder != "native" {
		t.Fatalf("decoder %s (%s)", m.Decoder, m.Note)
	}
	lat, _ := readNPYFile(t, filepath.Join(dir, "test_latent.npy"))
	low, shape := readNPYFile(t, filepath.Join(dir, "test_lowres.npy"))
	coords, _ := readNPYFile(t, filepath.Join(dir, "test_coords.npy"))
	h, w := shape[2], shape[3]
	ort, err := m.DecodeONNX(context.Background(), lat, low, h, w, coords)
	if err != nil {
		t.Fatal(err)
	}
	nat, _ := m.DecodePoints(context.Background(), lat, low, h, w, coords)
	if d := tensor.MaxAbsDiff(ort, nat); d > 1e-5 {
		t.Errorf("rewritten decoder: ONNX Runtime and native differ by %g", d)
	}
	orig, _ := readNPYFile(t, filepath.Join(dir, "test_values.npy"))
	if d := tensor.MaxAbsDiff(ort, orig); d < 1e-3 {
		t.Errorf("new weights changed the output by only %g", d)
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
