package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/adapt"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
)

// newAdaptUI builds a synchronous viewer on testVolume with the tiny model,
// as read from path; it skips without ONNX Runtime.
func newAdaptUI(t *testing.T, path string, open func(string) (*volume.Volume, error), opt adapt.Options) *ui {
	t.Helper()
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found (run scripts/setup.sh or set %s): %v", reconstruct.LibraryEnv, err)
	}
	test.NewTempApp(t)
	eo := engine.Options{Model: filepath.Join("..", "testdata", "tiny-model"), Threads: 1}
	ms, closeModel, _ := engine.Load(context.Background(), eo)
	if ms.Niiv == nil {
		t.Fatalf("tiny model: %v", ms.NiivError)
	}
	w := test.NewWindow(nil)
	u := newUI(testVolume(t), Options{Methods: ms, Mode: viewer.Niiv, Path: path, Engine: eo, Adapt: opt, Open: open}, w, true)
	w.SetContent(u.content)
	w.Resize(fyne.NewSize(1000, 700))
	closeUIAtEnd(t, u, w, closeModel)
	return u
}

// closeUIAtEnd releases, when the test ends, the window, the pipeline and
// every model the UI loaded (closeModel: the one it started with).
func closeUIAtEnd(t *testing.T, u *ui, w fyne.Window, closeModel func()) {
	t.Cleanup(func() {
		if err := u.close(); err != nil {
			t.Error(err)
		}
		w.Close()
		closeModel()
	})
}

// TestAdaptToVolume adapts through the button, checks that the views switch
// to the adapted model, and that opening the file again in a new window
// uses it.
func TestAdaptToVolume(t *testing.T) {
	isolateCache(t)
	path := filepath.Join(t.TempDir(), "vol.npy")
	if err := os.WriteFile(path, nil, 0o644); err != nil { // on disk: the model goes beside it
		t.Fatal(err)
	}
	u := newAdaptUI(t, path, nil, adapt.Options{Steps: 2, Seconds: -1, Batch: 2})
	if u.adaptBtn.Disabled() {
		t.Fatal("Adapt is disabled with a model and a file")
	}
	mu := serialise(u)
	test.Tap(u.adaptBtn)
	msg := waitMessage(u, mu, "niiv: ", 60*time.Second)
	if !strings.Contains(msg, "adapted to this volume") {
		t.Fatalf("adaptation did not finish: %q", msg)
	}
	mu.Lock()
	want := adapt.DefaultDir(path, "tiny-model")
	if u.opts.Adapted != want {
		t.Errorf("adapted model %q, want %q", u.opts.Adapted, want)
	}
	if l := u.views[volume.XZ].frame.Label(); !strings.Contains(l, "adapted") {
		t.Errorf("XZ frame label %q does not name the adapted model", l)
	}
	mu.Unlock()
	if _, err := os.Stat(filepath.Join(want, "decoder.onnx")); err != nil {
		t.Fatal(err)
	}

	// A new window on another file, then this file again: the adapted
	// model is remembered.
	same := testVolume(t)
	v := newAdaptUI(t, filepath.Join(t.TempDir(), "other.npy"), func(string) (*volume.Volume, error) { return same, nil }, adapt.Options{})
	if v.opts.Adapted != "" {
		t.Fatalf("new window starts adapted: %q", v.opts.Adapted)
	}
	mu2 := serialise(v)
	v.open(path)
	msg = waitMessage(v, mu2, "opened", 30*time.Second)
	if !strings.Contains(msg, "adapted to this volume") {
		t.Fatalf("reopened without the adapted model: %q", msg)
	}
	mu2.Lock()
	defer mu2.Unlock()
	if v.opts.Adapted != want {
		t.Errorf("reopened with %q, want %q", v.opts.Adapted, want)
	}
}

// TestAdaptCancel taps Cancel in the progress dialog: the views keep the
// parent model and nothing is written.
func TestAdaptCancel(t *testing.T) {
	dir := t.TempDir()
	u := newAdaptUI(t, filepath.Join(dir, "vol.npy"), nil, adapt.Options{Steps: 1 << 30, Seconds: -1, Batch: 2})
	mu := serialise(u)
	test.Tap(u.adaptBtn)
	var cancel *widget.Button
	deadline := time.Now().Add(10 * time.Second)
	for cancel == nil && time.Now().Before(deadline) {
		mu.Lock()
		if top := u.win.Canvas().Overlays().Top(); top != nil {
			cancel = findButton(top, "Cancel")
		}
		mu.Unlock()
	}
	if cancel == nil {
		t.Fatal("no Cancel button in the progress dialog")
	}
	time.Sleep(200 * time.Millisecond) // let training start
	mu.Lock()
	test.Tap(cancel)
	mu.Unlock()
	if msg := waitMessage(u, mu, "adaptation cancelled", 30*time.Second); msg != "adaptation cancelled" {
		t.Fatalf("after Cancel: %q", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if u.opts.Adapted != "" {
		t.Errorf("cancelled run switched to %q", u.opts.Adapted)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a cancelled run left %v", ents)
	}
}

// findButton returns the button labelled text under o, or nil.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	if b, ok := o.(*widget.Button); ok && b.Text == text {
		return b
	}
	var kids []fyne.CanvasObject
	switch c := o.(type) {
	case *fyne.Container:
		kids = c.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(c).Objects()
	}
	for _, k := range kids {
		if b := findButton(k, text); b != nil {
			return b
		}
	}
	return nil
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

// TestChooseModel switches between two shipped models with the Model
// selector: the views' methods and the engine options follow, and a model
// that fails to load leaves the current one in place.
func TestChooseModel(t *testing.T) {
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found (run scripts/setup.sh or set %s): %v", reconstruct.LibraryEnv, err)
	}
	dir := t.TempDir()
	src := filepath.Join("..", "testdata", "tiny-model")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tiny-a", "tiny-b", "broken"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if name == "broken" && e.Name() == "decoder.onnx" {
				b = b[:len(b)/2] // fails its checksum
			}
			if err := os.WriteFile(filepath.Join(dir, name, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	test.NewTempApp(t)
	eo := engine.Options{Model: "tiny-a", Threads: 1, Embedded: os.DirFS(dir)}
	ms, closeModel, _ := engine.Load(context.Background(), eo)
	if ms.Niiv == nil {
		t.Fatalf("tiny-a: %v", ms.NiivError)
	}
	w := test.NewWindow(nil)
	u := newUI(testVolume(t), Options{Methods: ms, Mode: viewer.Niiv, Engine: eo}, w, true)
	w.SetContent(u.content)
	done := make(chan struct{}, 8)
	mu := new(sync.Mutex) // the UI goroutine: the test's own widget calls hold it too
	u.do = func(f func()) {
		mu.Lock()
		f()
		mu.Unlock()
		done <- struct{}{}
	}
	ui := func(f func()) { mu.Lock(); defer mu.Unlock(); f() }
	closeUIAtEnd(t, u, w, closeModel)
	if got, want := strings.Join(u.modelSel.Options, ","), "broken,tiny-a,tiny-b"; got != want {
		t.Fatalf("models offered %q, want %q", got, want)
	}
	if u.modelSel.Selected != "tiny-a" {
		t.Fatalf("selected %q, want tiny-a", u.modelSel.Selected)
	}
	wait := func() {
		t.Helper()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("model switch did not finish")
		}
	}
	first := u.opts.Methods.Niiv
	ui(func() { u.modelSel.SetSelected("tiny-b") })
	wait()
	if u.opts.Engine.Model != "tiny-b" || u.opts.Methods.Niiv == nil || u.opts.Methods.Niiv == first {
		t.Fatalf("after choosing tiny-b: engine model %q, niiv %v", u.opts.Engine.Model, u.opts.Methods.Niiv)
	}
	before := u.opts.Methods.Niiv
	ui(func() { u.modelSel.SetSelected("broken") })
	wait()
	if u.opts.Engine.Model != "tiny-b" || u.opts.Methods.Niiv != before {
		t.Errorf("a model that fails to load replaced the current one: engine model %q", u.opts.Engine.Model)
	}
	if u.modelSel.Selected != "tiny-b" {
		t.Errorf("selector shows %q after a failed switch, want tiny-b", u.modelSel.Selected)
	}
}

// TestAdaptedFolderChanges damages and removes the adapted model's folder
// while a window uses it and before a window opens the file again. The
// model in use keeps decoding (it is in memory); a damaged folder is
// reported and the parent model used instead; a removed one falls back to
// the parent silently.
func TestAdaptedFolderChanges(t *testing.T) {
	isolateCache(t)
	path := filepath.Join(t.TempDir(), "vol.npy")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	u := newAdaptUI(t, path, nil, adapt.Options{Steps: 2, Seconds: -1, Batch: 2})
	mu := serialise(u)
	test.Tap(u.adaptBtn)
	if msg := waitMessage(u, mu, "niiv: ", 60*time.Second); !strings.Contains(msg, "adapted to this volume") {
		t.Fatalf("adaptation did not finish: %q", msg)
	}
	dir := adapt.DefaultDir(path, "tiny-model")
	mu.Lock()
	inUse := u.opts.Methods.Niiv
	vol := u.model.Volume()
	mu.Unlock()
	s := vol.Shape()
	xz := viewer.Slice{Vol: vol, Axis: volume.XZ, Index: 3, R1: float64(s.Z), C1: float64(s.X), W: s.X, H: 4 * s.Z}

	steps := []struct {
		name    string
		damage  func() error
		message string // what opening the file again says ("" : nothing about the model)
	}{
		{"decoder truncated", func() error {
			f := filepath.Join(dir, "decoder.onnx")
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			return os.WriteFile(f, b[:len(b)/3], 0o644)
		}, "does not load"},
		{"folder removed", func() error { return os.RemoveAll(dir) }, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.damage(); err != nil {
				t.Fatal(err)
			}
			xz.Index++ // a plane not decoded yet
			if _, err := inUse.Render(context.Background(), xz); err != nil {
				t.Errorf("the adapted model in use fails once its folder is %s: %v", st.name, err)
			}
			same := testVolume(t)
			v := newAdaptUI(t, filepath.Join(t.TempDir(), "other.npy"), func(string) (*volume.Volume, error) { return same, nil }, adapt.Options{})
			mu2 := serialise(v)
			v.open(path)
			if st.message != "" {
				// The failure replaces the "opened" line.
				msg := waitMessage(v, mu2, "the model adapted", 30*time.Second)
				if !strings.Contains(msg, st.message) || !strings.Contains(msg, "using tiny-model") {
					t.Errorf("reopening says %q, want it to contain %q and the parent's name", msg, st.message)
				}
			} else if msg := waitMessage(v, mu2, "opened", 30*time.Second); msg != "opened vol.npy" {
				t.Errorf("reopening says %q, want \"opened vol.npy\"", msg)
			}
			mu2.Lock()
			defer mu2.Unlock()
			if v.opts.Adapted != "" {
				t.Errorf("reopened with the adapted model %q after it was %s", v.opts.Adapted, st.name)
			}
			if v.opts.Methods.Niiv == nil {
				t.Fatalf("no niiv after reopening: %v", v.opts.Methods.NiivError)
			}
			if _, err := v.opts.Methods.Niiv.Render(context.Background(), viewer.Slice{Vol: same, Axis: volume.XZ, Index: 1, R1: float64(s.Z), C1: float64(s.X), W: s.X, H: 4 * s.Z}); err != nil {
				t.Errorf("the parent model after reopening: %v", err)
			}
		})
	}
}
