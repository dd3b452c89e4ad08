package reconstruct

import (
	"os"
	"strings"
	"testing"
)

func TestReadWriteEncoderEDSR(t *testing.T) {
	tests := []struct {
		model         string
		feats, blocks int
	}{
		{"lite", 32, 4},
		{"paper", 64, 16},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			b, err := os.ReadFile("../assets/models/" + tc.model + "/encoder.onnx")
			if err != nil {
				t.Fatal(err)
			}
			e, err := ReadEncoderEDSR(b)
			if err != nil {
				t.Fatal(err)
			}
			if e.Feats != tc.feats || len(e.Blocks) != tc.blocks || e.Head.In != 1 {
				t.Fatalf("F=%d, %d blocks, head in %d; want %d, %d, 1", e.Feats, len(e.Blocks), e.Head.In, tc.feats, tc.blocks)
			}
			want := 9*tc.feats + tc.feats + (2*tc.blocks+1)*(9*tc.feats*tc.feats+tc.feats)
			if e.Parameters() != want {
				t.Errorf("%d parameters, want %d", e.Parameters(), want)
			}
			// Round trip: unchanged weights give the same bytes back;
			// changed ones read back changed.
			same, err := WriteEncoderEDSR(b, e)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := ReadEncoderEDSR(same)
			if err != nil {
				t.Fatal(err)
			}
			c := e.Clone()
			c.Tail.B[3] += 0.5
			c.Blocks[1][0].W[7] = -2
			if e.Tail.B[3] == c.Tail.B[3] {
				t.Fatal("Clone shares memory")
			}
			changed, err := WriteEncoderEDSR(b, c)
			if err != nil {
				t.Fatal(err)
			}
			e3, err := ReadEncoderEDSR(changed)
			if err != nil {
				t.Fatal(err)
			}
			if e2.Tail.B[3] != e.Tail.B[3] || e3.Tail.B[3] != c.Tail.B[3] || e3.Blocks[1][0].W[7] != -2 {
				t.Errorf("weights did not round-trip")
			}
		})
	}
}

func TestReadEncoderEDSRRefusesOtherGraphs(t *testing.T) {
	dec, err := os.ReadFile("../assets/models/lite/decoder.onnx")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ReadEncoderEDSR(dec)
	if err == nil || !strings.Contains(err.Error(), "not the EDSR encoder") {
		t.Fatalf("a decoder graph read as an encoder: %v", err)
	}
	if _, err := ReadEncoderEDSR([]byte("not onnx")); err == nil {
		t.Fatal("garbage read as an encoder")
	}
}
