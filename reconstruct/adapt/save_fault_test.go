//go:build unix

package adapt

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/niiv/niiv/internal/atomicfile/faulttest"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// TestMain saves a model for TestSaveKilled when the test binary is
// re-executed as its child ("save DIR").
func TestMain(m *testing.M) {
	if faulttest.Child() {
		err := Save(context.Background(), os.Args[2], tinyParentFiles(nil), tinyResult(7))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyParentFiles returns the tiny test model as a Parent without loading
// it through ONNX Runtime: Save needs only its files and decoder. It
// panics on a broken test model, for the child of TestMain, unless t is
// given.
func tinyParentFiles(t testing.TB) *Parent {
	p := &Parent{Model: &reconstruct.Model{Name: "tiny-model", Source: tinyModel}, Ref: tinyModel, Files: map[string][]byte{}}
	fail := func(err error) *Parent {
		if t == nil {
			panic(err)
		}
		t.Fatal(err)
		return nil
	}
	ents, err := os.ReadDir(tinyModel)
	if err != nil {
		return fail(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(tinyModel, e.Name()))
		if err != nil {
			return fail(err)
		}
		p.Files[e.Name()] = b
	}
	if p.Decoder, err = reconstruct.ReadDecoderMLP(p.Files["decoder.onnx"], 4); err != nil {
		return fail(err)
	}
	return p
}

// tinyResult returns an adaptation result that Save can write for the tiny
// model: its own decoder, steps as given.
func tinyResult(steps int) *Result {
	p := tinyParentFiles(nil)
	return &Result{
		Decoder: p.Decoder, Steps: steps, Seconds: 1, Loss: 0.1, ParentLoss: 0.2,
		Options: Options{Factor: 4, Crop: 16, Batch: 2, Points: 256, Pool: 2, LR: DefaultLR, Seed: 1},
		Volume:  VolumeInfo{Name: "vol.npy", Shape: volume.Shape{Z: 8, Y: 32, X: 32}, SHA256: "feed"},
	}
}

// savedSteps returns the steps the card of the adapted model in dir
// records, or -1.
func savedSteps(dir string) int {
	var card struct {
		Adaptation struct{ Steps int } `json:"adaptation"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "card.json"))
	if err != nil || json.Unmarshal(b, &card) != nil {
		return -1
	}
	return card.Adaptation.Steps
}

// TestSaveNoSpace saves the adapted tiny model (about 24 KiB) onto a
// tmpfs without room for it, as a new folder and over an older adapted
// model: the error is one line naming the folder and "no space", and
// the file system holds what it held before, the old model intact.
func TestSaveNoSpace(t *testing.T) {
	p := tinyParentFiles(t)
	for _, c := range []struct {
		name string
		size int64
		old  bool
	}{
		{"new folder", 16 << 10, false},
		{"replacing an adapted model", 48 << 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			full := faulttest.Tmpfs(t, c.size)
			dir := filepath.Join(full, "model")
			if c.old {
				if err := Save(context.Background(), dir, p, tinyResult(3)); err != nil {
					t.Fatal(err)
				}
			}
			before := faulttest.Entries(t, full)
			err := Save(context.Background(), dir, p, tinyResult(5))
			if err == nil {
				t.Fatal("saved onto a full disk")
			}
			faulttest.OneLine(t, err.Error())
			if want := "adapt: save " + dir + ": no space left on device (needs ~"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %q, want %q…", err, want)
			}
			if got := faulttest.Entries(t, full); !slices.Equal(got, before) {
				t.Errorf("the file system holds %v, want %v", got, before)
			}
			if want := map[bool]int{true: 3, false: -1}[c.old]; savedSteps(dir) != want {
				t.Errorf("the folder holds a model of %d steps, want %d", savedSteps(dir), want)
			}
		})
	}
}

// TestSaveKilled kills a Save (this test binary, re-executed) with SIGKILL
// half way through the folder, over an older adapted model: the old model
// stays complete under its name (the only one that --model, Remembered
// and the viewer look at), only a hidden temporary folder is left, and the
// next Save removes it and replaces the model.
func TestSaveKilled(t *testing.T) {
	p := tinyParentFiles(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "vol.npy.adapted-tiny-model")
	if err := Save(context.Background(), dir, p, tinyResult(3)); err != nil {
		t.Fatal(err)
	}
	faulttest.KillMidWrite(t, faulttest.Command(t, 10000, "save", dir), time.Minute)
	left := faulttest.Entries(t, parent)
	if len(left) != 2 || left[0] == filepath.Base(dir) || !strings.HasPrefix(left[0], "."+filepath.Base(dir)+".tmp-") || left[1] != filepath.Base(dir) {
		t.Fatalf("after the kill the folder holds %v, want a hidden temporary folder and the old model", left)
	}
	if savedSteps(dir) != 3 {
		t.Fatalf("the old model is not intact: %d steps", savedSteps(dir))
	}
	if err := Save(context.Background(), dir, p, tinyResult(5)); err != nil {
		t.Fatal(err)
	}
	if got := faulttest.Entries(t, parent); !slices.Equal(got, []string{filepath.Base(dir)}) || savedSteps(dir) != 5 {
		t.Errorf("after the next save: %v, %d steps; want only the new model, 5 steps", got, savedSteps(dir))
	}
}
