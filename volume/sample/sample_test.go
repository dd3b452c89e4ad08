package sample

import (
	"testing"

	"github.com/niiv/niiv/volume"
)

func TestEMDeterministic(t *testing.T) {
	a := EM(Options{Size: 32, Seed: 7}).Data().([]uint8)
	b := EM(Options{Size: 32, Seed: 7}).Data().([]uint8)
	c := EM(Options{Size: 32, Seed: 8}).Data().([]uint8)
	same, diff := true, false
	for i := range a {
		same = same && a[i] == b[i]
		diff = diff || a[i] != c[i]
	}
	if !same {
		t.Fatal("same seed gave different volumes")
	}
	if !diff {
		t.Fatal("different seeds gave the same volume")
	}
}

func TestEMLooksLikeEM(t *testing.T) {
	v := EM(Options{Size: 64})
	st := v.Stats()
	// Membranes are dark, cytoplasm bright: a wide, non-degenerate range.
	if lo, hi := st.Percentile(1), st.Percentile(99); hi-lo < 80 {
		t.Fatalf("contrast too low: p1=%v p99=%v", lo, hi)
	}
	if st.Mean < 90 || st.Mean > 200 {
		t.Fatalf("mean %v is not a cytoplasm-dominated EM image", st.Mean)
	}
	if v.Voxel.Anisotropy() != 1 || !v.Voxel.Known || v.Voxel.Unit != "nm" {
		t.Fatalf("voxel %+v", v.Voxel)
	}
}

func TestAnisotropicIsPooled(t *testing.T) {
	iso := EM(Options{Size: 32})
	an, err := Anisotropic(Options{Size: 32}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if an.Shape() != (volume.Shape{Z: 4, Y: 32, X: 32}) {
		t.Fatalf("shape %v", an.Shape())
	}
	if an.Voxel.Z != 64 || an.Voxel.Anisotropy() != 8 {
		t.Fatalf("voxel %+v", an.Voxel)
	}
	var want float64
	for k := 8; k < 16; k++ {
		want += iso.At(k, 5, 6)
	}
	if got := an.At(1, 5, 6); got-want/8 > 1e-4 || want/8-got > 1e-4 {
		t.Fatalf("pooled %v want %v", got, want/8)
	}
}

func BenchmarkEM128(b *testing.B) {
	for b.Loop() {
		EM(Options{Size: 128})
	}
}
