package app

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/adapt"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/viewer/movie"
	"github.com/niiv/niiv/volume"
)

// stackVolume returns a random 16×384×384 stack, 4× anisotropic: an xy
// frame in niiv mode encodes 384 xz planes, long enough to close the
// window in the middle of it.
func stackVolume(t testing.TB, seed uint64) *volume.Volume {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	const z, y, x = 16, 384, 384
	data := make([]float32, z*y*x)
	for i := range data {
		data[i] = r.Float32()
	}
	v, err := volume.New(volume.Shape{Z: z, Y: y, X: x}, data, volume.Voxel{Z: 40, Y: 10, X: 10, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	v.Name = "stack"
	return v
}

// asyncUI opens an asynchronous viewer (as the real window runs: decodes on
// the pipeline's goroutines) on a big stack with the lite model, as `niiv
// view` does: the caller's hold on the model is released after the window
// closes. It returns the UI, its UI lock, the model's Owner and the
// shutdown that `niiv view` performs when the window closes.
func asyncUI(t *testing.T, path string) (*ui, *sync.Mutex, *viewer.Owner, func() (time.Duration, error)) {
	t.Helper()
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found (run scripts/setup.sh or set %s): %v", reconstruct.LibraryEnv, err)
	}
	test.NewTempApp(t)
	eo := engine.Options{Model: filepath.Join("..", "assets", "models", "lite"), Threads: 2}
	ms, closeModel, _ := engine.Load(context.Background(), eo)
	if ms.Niiv == nil {
		t.Fatalf("lite: %v", ms.NiivError)
	}
	w := test.NewWindow(nil)
	open := func(string) (*volume.Volume, error) { return stackVolume(t, 2), nil }
	u := newUI(stackVolume(t, 1), Options{Methods: ms, Mode: viewer.Niiv, Path: path, Engine: eo, Open: open,
		Adapt: adapt.Options{Steps: 1 << 30, Seconds: -1, Batch: 2}}, w, false)
	// As serialise, but once the window is closed the UI updates that
	// background work hands over are dropped, as the real driver's queue
	// is never run again after its loop ends.
	mu := new(sync.Mutex)
	var closed atomic.Bool
	u.do = func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		if !closed.Load() {
			f()
		}
	}
	mu.Lock()
	w.SetContent(u.content)
	w.Resize(fyne.NewSize(1000, 700))
	u.submit()
	mu.Unlock()
	var once sync.Once
	var took time.Duration
	var err error
	shutdown := func() (time.Duration, error) {
		once.Do(func() {
			t0 := time.Now()
			mu.Lock()
			closed.Store(true) // the UI loop has ended
			mu.Unlock()
			err = u.close()
			closeModel()
			took = time.Since(t0)
		})
		return took, err
	}
	t.Cleanup(func() {
		shutdown()
		w.Close()
	})
	return u, mu, ms.Owner, shutdown
}

// TestCloseDuringWork closes the window, switches models and opens files
// while niiv decodes, exports and adapts, on an asynchronous pipeline. Before
// the viewer waited for its work, closing freed the model's ONNX Runtime
// sessions under a running encoder call (SIGSEGV). Each case must return
// from closing within 2 s, with every model closed and nothing written.
func TestCloseDuringWork(t *testing.T) {
	tests := []struct {
		name string
		// during starts work on u and returns a check to run after the close
		during func(t *testing.T, u *ui, mu *sync.Mutex, dir string) func()
	}{
		{"close while an xy frame encodes every xz plane", func(t *testing.T, u *ui, mu *sync.Mutex, dir string) func() {
			return func() {}
		}},
		{"switch models while a frame decodes", func(t *testing.T, u *ui, mu *sync.Mutex, dir string) func() {
			old := u.opts.Methods.Owner
			mu.Lock()
			u.chooseModel(filepath.Join("..", "testdata", "tiny-model"))
			mu.Unlock()
			msg := waitMessage(u, mu, "niiv: niiv-tiny-model", 30*time.Second)
			if !strings.HasPrefix(msg, "niiv: niiv-tiny-model") {
				t.Fatalf("model switch: %q", msg)
			}
			deadline := time.Now().Add(5 * time.Second)
			for old.Holders() != 1 && time.Now().Before(deadline) { // the loader's hold is left
				time.Sleep(10 * time.Millisecond)
			}
			if n := old.Holders(); n != 1 {
				t.Errorf("the replaced model has %d holders, want 1 (the loader's)", n)
			}
			mu.Lock()
			u.submit() // the new model decodes while the window closes
			mu.Unlock()
			return func() {}
		}},
		{"open a second volume while the first decodes", func(t *testing.T, u *ui, mu *sync.Mutex, dir string) func() {
			mu.Lock()
			u.open(filepath.Join(dir, "second.npy"))
			mu.Unlock()
			if msg := waitMessage(u, mu, "opened", 30*time.Second); !strings.HasPrefix(msg, "opened") {
				t.Fatalf("open: %q", msg)
			}
			time.Sleep(200 * time.Millisecond) // into the second volume's decodes
			return func() {}
		}},
		{"close during export", func(t *testing.T, u *ui, mu *sync.Mutex, dir string) func() {
			out := filepath.Join(dir, "iso.tif")
			mu.Lock()
			u.export(u.model.Volume(), u.opts.Methods.Niiv, out)
			mu.Unlock()
			time.Sleep(300 * time.Millisecond)
			return func() {
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("export cancelled by closing left %s (%v)", out, err)
				}
			}
		}},
		{"close while recording a movie", func(t *testing.T, u *ui, mu *sync.Mutex, dir string) func() {
			out := filepath.Join(dir, "sweep.gif")
			mu.Lock()
			u.record(movie.RecordShot(u.model, volume.XZ, movie.ShotSweep, 200, 2), 25, out)
			mu.Unlock()
			time.Sleep(300 * time.Millisecond)
			return func() {
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if strings.Contains(e.Name(), "sweep") {
						t.Errorf("a movie cancelled by closing left %s", e.Name())
					}
				}
			}
		}},
		{"close during adaptation", func(t *testing.T, u *ui, mu *sync.Mutex, dir string) func() {
			mu.Lock()
			u.adaptModel()
			mu.Unlock()
			time.Sleep(500 * time.Millisecond)
			return func() {
				if d := adapt.DefaultDir(u.opts.Path, "lite"); exists(d) {
					t.Errorf("adaptation cancelled by closing left %s", d)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolateCache(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "stack.npy")
			if err := os.WriteFile(path, []byte("not read: Options.Open makes the volume"), 0o644); err != nil {
				t.Fatal(err)
			}
			u, mu, owner, shutdown := asyncUI(t, path)
			time.Sleep(300 * time.Millisecond) // the first frames decode
			check := tc.during(t, u, mu, dir)
			took, err := shutdown()
			if err != nil {
				t.Error(err)
			}
			if took > 2*time.Second {
				t.Errorf("closing took %v, want ≤ 2 s", took)
			}
			t.Logf("closed in %v", took.Round(time.Millisecond))
			if n := owner.Holders(); n != 0 {
				t.Errorf("the first model has %d holders after closing, want 0 (closed)", n)
			}
			if n := u.opts.Methods.Owner.Holders(); n != 0 {
				t.Errorf("the last model has %d holders after closing, want 0 (closed)", n)
			}
			check()
		})
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
