package reconstruct

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecoderGraph feeds corrupted decoder graphs to the parser and the MLP
// extraction: they must return errors, never panic or hang.
func FuzzDecoderGraph(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "tiny-model", "decoder.onnx"))
	if err != nil {
		f.Skip("no test model")
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := parseONNX(data)
		if err != nil {
			return
		}
		for _, feats := range []int{4, 32} {
			if m, err := mlpFromGraph(g, feats); err == nil && m.dp%panelW != 0 {
				t.Fatalf("padded width %d", m.dp)
			}
		}
	})
}

func TestParseDecoderGraph(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "tiny-model", "decoder.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := parseONNX(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mlpFromGraph(g, 4)
	if err != nil {
		t.Fatal(err)
	}
	if m.width != 8 || len(m.hidden) != 1 || m.head != headResidual || !m.border {
		t.Errorf("tiny decoder: width %d, %d hidden layers, head %v, border %v", m.width, len(m.hidden), m.head, m.border)
	}
	if _, err := mlpFromGraph(g, 5); err == nil {
		t.Error("wrong feats: no error")
	}
	if _, err := parseONNX(b[:len(b)-7]); err == nil {
		t.Error("truncated model: no error")
	}
}
