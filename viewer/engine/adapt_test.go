package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/adapt"
	"github.com/niiv/niiv/volume"
)

func TestParentName(t *testing.T) {
	for ref, want := range map[string]string{"": "general", "lite": "lite", "paper": "paper", "models/niiv-x/": "x", "a/tiny-model": "tiny-model"} {
		if got := ParentName(Options{Model: ref}); got != want {
			t.Errorf("ParentName(%q) = %q, want %q", ref, got, want)
		}
	}
}

// TestAdaptModelRemembered adapts the tiny model to a small volume, checks
// that the folder is found again for the same voxels, and that a cancelled
// run writes nothing.
func TestAdaptModelRemembered(t *testing.T) {
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found (run scripts/setup.sh or set %s): %v", reconstruct.LibraryEnv, err)
	}
	s := volume.Shape{Z: 4, Y: 32, X: 32}
	data := make([]float32, s.Len())
	for i := range data {
		data[i] = float32(i%37) / 37
	}
	vol, err := volume.New(s, data, volume.Voxel{Z: 8, Y: 1, X: 1, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Model: filepath.Join("..", "..", "testdata", "tiny-model"), Threads: 1}
	path := filepath.Join(t.TempDir(), "vol.npy")
	if err := os.WriteFile(path, nil, 0o644); err != nil { // on disk: the model goes beside it
		t.Fatal(err)
	}
	isolateCache(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := AdaptModel(ctx, o, path, vol, adapt.Options{Steps: 2, Seconds: -1, Batch: 2}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled AdaptModel returned %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Fatalf("a cancelled run left %v beside the volume", ents)
	}
	if _, ok := Remembered(o, path, vol); ok {
		t.Fatal("remembered a model never made")
	}
	dir, _, err := AdaptModel(context.Background(), o, path, vol, adapt.Options{Steps: 2, Seconds: -1, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := Remembered(o, path, vol); !ok || got != dir {
		t.Fatalf("Remembered = %q, %v; want %q", got, ok, dir)
	}
	// With no model named, a model adapted from the default is found, else
	// one adapted from lite (the default before general); a named model
	// finds only its own.
	if _, ok := Remembered(Options{}, path, vol); ok {
		t.Fatal("remembered an adapted default model never made")
	}
	lite := path + ".adapted-lite"
	if err := os.Rename(dir, lite); err != nil {
		t.Fatal(err)
	}
	if got, ok := Remembered(Options{}, path, vol); !ok || got != lite {
		t.Fatalf("default: Remembered = %q, %v; want the model adapted from lite %q", got, ok, lite)
	}
	if got, ok := Remembered(Options{Model: "paper"}, path, vol); ok {
		t.Fatalf("paper: Remembered = %q, want none", got)
	}
	if err := os.Rename(lite, dir); err != nil {
		t.Fatal(err)
	}
	ms, closeModel, _ := Load(context.Background(), Options{Model: dir, Threads: 1})
	defer closeModel()
	if ms.Niiv == nil {
		t.Fatalf("adapted model does not load: %v", ms.NiivError)
	}
}

// isolateCache points the user cache at a temporary folder so adapted models
// never land in the real one, keeping ONNX Runtime (found through the cache)
// reachable.
func isolateCache(t *testing.T) {
	t.Helper()
	if lib, err := reconstruct.FindLibrary(); err == nil {
		t.Setenv(reconstruct.LibraryEnv, lib)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}
