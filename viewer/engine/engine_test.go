package engine

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

func TestAdaptMatchesReconstruct(t *testing.T) {
	vol, err := sample.Anisotropic(sample.Options{Size: 32}, 4)
	if err != nil {
		t.Fatal(err)
	}
	s := viewer.Slice{Vol: vol, Axis: volume.XZ, Index: 5, R0: 0.5, R1: 6.5, C0: 3, C1: 20, W: 40, H: 30}
	got, err := Adapt(reconstruct.Linear).Render(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := reconstruct.Linear.Render(context.Background(), reconstruct.Request{Vol: vol, Axis: volume.XZ,
		Index: 5, R0: 0.5, R1: 6.5, C0: 3, C1: 20, W: 40, H: 30})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Pix {
		if got.Pix[i] != want.Pix[i] {
			t.Fatalf("pixel %d: %v, want %v", i, got.Pix[i], want.Pix[i])
		}
	}
}

func TestLoad(t *testing.T) {
	ms, closeModel, _ := Load(context.Background(), Options{Model: filepath.Join(t.TempDir(), "missing")})
	closeModel()
	if ms.Niiv != nil || ms.NiivError == nil || ms.Linear == nil || ms.Nearest == nil {
		t.Fatalf("missing model: %+v", ms)
	}
	ms, closeModel, info := Load(context.Background(), Options{Model: filepath.Join("..", "..", "testdata", "tiny-model")})
	defer closeModel()
	if ms.Niiv == nil {
		t.Skipf("tiny model not loadable here: %v", ms.NiivError)
	}
	if name := ms.Niiv.Name(); !strings.HasPrefix(name, "niiv-tiny-model on ") {
		t.Errorf("niiv name %q", name)
	}
	if !strings.Contains(info, "tiny-model") {
		t.Errorf("info %q", info)
	}
	vol, err := sample.Anisotropic(sample.Options{Size: 32}, 4)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Isotropic(context.Background(), ms.Niiv, vol, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Shape(); s.Z != 32 {
		t.Errorf("isotropic shape %v", s)
	}
}

type notAdapted struct{ viewer.Renderer }

func (notAdapted) Name() string { return "other" }

func TestIsotropicNeedsReconstructMethod(t *testing.T) {
	vol, err := sample.Anisotropic(sample.Options{Size: 16}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Isotropic(context.Background(), notAdapted{}, vol, nil); err == nil {
		t.Error("Isotropic accepted a renderer that is not a reconstruct method")
	}
}
