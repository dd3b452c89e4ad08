package app

import (
	"context"
	"errors"
	"flag"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// testVolume is a small anisotropic volume with structure in every axis.
func testVolume(t testing.TB) *volume.Volume {
	t.Helper()
	s := volume.Shape{Z: 8, Y: 64, X: 64}
	data := make([]uint8, s.Len())
	for z := 0; z < s.Z; z++ {
		for y := 0; y < s.Y; y++ {
			for x := 0; x < s.X; x++ {
				v := 128 + 60*math.Sin(float64(x)/5)*math.Cos(float64(y)/7) + 40*math.Sin(float64(z)/2)
				data[(z*s.Y+y)*s.X+x] = uint8(v)
			}
		}
	}
	v, err := volume.New(s, data, volume.Voxel{Z: 40, Y: 5, X: 5, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	v.Name = "test volume"
	return v
}

// newTestUI builds the viewer in a test window of 1000×700 with a
// synchronous pipeline: every model change has rendered when the call
// returns.
func newTestUI(t *testing.T) (*ui, fyne.Window) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	u := newUI(testVolume(t), Options{Methods: engine.Classical(nil), Mode: viewer.Linear}, w, true)
	w.SetContent(u.content)
	w.Resize(fyne.NewSize(1000, 700))
	u.bindWindow()
	t.Cleanup(func() { u.close(); w.Close() })
	return u, w
}

// viewCentre returns the canvas position of a view's centre.
func viewCentre(w fyne.Window, v *view) fyne.Position {
	p := fyne.CurrentApp().Driver().AbsolutePositionForObject(v)
	return p.Add(fyne.NewPos(v.Size().Width/2, v.Size().Height/2))
}

func TestViewsShowFrames(t *testing.T) {
	u, _ := newTestUI(t)
	for _, v := range u.views {
		if v.frame.Image == nil || v.shown == nil {
			t.Fatalf("%v view shows no frame", v.axis)
		}
		if !v.frame.Final {
			t.Errorf("%v view: frame not final", v.axis)
		}
		if !strings.HasPrefix(v.status.Text, "decoding ") {
			t.Errorf("%v status %q", v.axis, v.status.Text)
		}
		if nonUniform(v.shown) < 0.2 {
			t.Errorf("%v view is nearly uniform", v.axis)
		}
	}
	if got := u.views[0].title.Text; !strings.HasPrefix(got, "XY · z 3 / 8") {
		t.Errorf("XY title %q", got)
	}
	// XZ at physical aspect: 8 slices of 40 nm vs 64 columns of 5 nm, a
	// square of 320 nm.
	g := u.model.Geometry(volume.XZ)
	if g.W != g.H {
		t.Errorf("XZ frame %d×%d, want square", g.W, g.H)
	}
}

// nonUniform returns the fraction of pixels that differ from the first.
func nonUniform(img *image.RGBA) float64 {
	first := img.RGBAAt(0, 0)
	n, diff := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			n++
			if img.RGBAAt(x, y) != first {
				diff++
			}
		}
	}
	return float64(diff) / float64(n)
}

func TestMouse(t *testing.T) {
	u, w := newTestUI(t)
	c := w.Canvas()
	xy, xz := u.views[volume.XY], u.views[volume.XZ]

	// Click in XZ, a quarter down the plane: the crosshair's z becomes
	// fractional and the XY view follows.
	g := u.model.Geometry(volume.XZ)
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(xz).Add(
		fyne.NewPos(float32(g.Offset.X+g.W/2), float32(g.Offset.Y)+float32(g.H)*0.3))
	test.TapCanvas(c, pos)
	z := u.model.Crosshair().Z
	if z == math.Round(z) {
		t.Errorf("click in XZ gave integer z %v", z)
	}
	if !strings.Contains(xy.title.Text, "z 1.") && !strings.Contains(xy.title.Text, "z 2.") {
		t.Errorf("XY title after click %q (z %v)", xy.title.Text, z)
	}

	// Wheel steps the XY slice; Shift ×10 clamps at the last slice.
	u.model.SetIndex(volume.XY, 3)
	test.Scroll(c, viewCentre(w, xy), 0, 25) // one notch as Fyne reports it
	if got := u.model.Index(volume.XY); got != 4 {
		t.Errorf("wheel: z %v, want 4", got)
	}
	// Trackpad deltas add up to a notch before stepping.
	for i := 0; i < 3; i++ {
		test.Scroll(c, viewCentre(w, xy), 0, -4)
	}
	if got := u.model.Index(volume.XY); got != 3 {
		t.Errorf("trackpad: z %v, want 3", got)
	}
	u.mods = fyne.KeyModifierShift
	test.Scroll(c, viewCentre(w, xy), 0, 25)
	if got := u.model.Index(volume.XY); got != 7 {
		t.Errorf("shift+wheel: z %v, want 7", got)
	}

	// Ctrl+wheel zooms.
	u.mods = fyne.KeyModifierControl
	test.Scroll(c, viewCentre(w, xy), 0, 25)
	u.mods = 0
	if z := u.model.View(volume.XY).Zoom; math.Abs(z-1.25) > 1e-9 {
		t.Errorf("ctrl+wheel zoom %v, want 1.25", z)
	}

	// Drag pans.
	before := u.model.View(volume.XY)
	test.Drag(c, viewCentre(w, xy), 20, 0)
	if after := u.model.View(volume.XY); !(after.Col < before.Col) {
		t.Errorf("drag right: centre column %v → %v, want smaller", before.Col, after.Col)
	}

	// Double-click (two quick clicks in one place) fits again, and leaves
	// the crosshair where it was.
	cross := u.model.Crosshair()
	at := viewCentre(w, xy).Add(fyne.NewPos(30, 20))
	test.TapCanvas(c, at)
	test.TapCanvas(c, at)
	if v := u.model.View(volume.XY); v.Zoom != 1 {
		t.Errorf("double-click: zoom %v", v.Zoom)
	}
	if got := u.model.Crosshair(); got != cross {
		t.Errorf("double-click moved the crosshair from %+v to %+v", cross, got)
	}
}

func TestKeys(t *testing.T) {
	u, w := newTestUI(t)
	c := w.Canvas()
	u.active = volume.XY
	tests := []struct {
		name  string
		key   fyne.KeyName
		runes string
		check func() bool
	}{
		{"3 picks niiv", "", "3", func() bool { return u.model.Mode() == viewer.Niiv }},
		{"4 picks difference", "", "4", func() bool { return u.model.Mode() == viewer.Difference }},
		{"1 picks nearest", "", "1", func() bool { return u.model.Mode() == viewer.Nearest }},
		{"up steps", fyne.KeyUp, "", func() bool { return u.model.Index(volume.XY) == 4 }},
		{"page down", fyne.KeyPageDown, "", func() bool { return u.model.Index(volume.XY) == 0 }},
		{"+ zooms", "", "+", func() bool { return u.model.View(volume.XY).Zoom > 1 }},
		{"- zooms out", "", "--", func() bool { return u.model.View(volume.XY).Zoom < 1 }},
		{"r resets", "", "r", func() bool { return u.model.View(volume.XY).Zoom == 1 && u.model.Index(volume.XY) == 3 }},
		{"i inverts", "", "i", func() bool { return u.model.Contrast().Invert }},
		{"m cycles colormaps", "", "m", func() bool { return u.model.Contrast().Colormap == "inferno" }},
		{"x hides the crosshair", "", "x", func() bool { return !u.model.CrosshairShown() && !u.cross.Checked }},
	}
	for _, tc := range tests {
		if tc.key != "" {
			c.OnTypedKey()(&fyne.KeyEvent{Name: tc.key})
		}
		if tc.runes != "" {
			test.TypeOnCanvas(c, tc.runes)
		}
		if !tc.check() {
			t.Errorf("%s: mode %v, z %v, zoom %v", tc.name, u.model.Mode(), u.model.Index(volume.XY), u.model.View(volume.XY).Zoom)
		}
	}
	if got := u.modeSel.Selected; got != modeLabels[viewer.Nearest] {
		t.Errorf("mode selector shows %q", got)
	}
}

func TestControls(t *testing.T) {
	u, _ := newTestUI(t)
	m := u.model
	u.hi.SetValue(0.5)
	st := m.Volume().Stats()
	if got, want := m.Contrast().Max, st.Min+0.5*(st.Max-st.Min); math.Abs(got-want) > 1e-6 {
		t.Errorf("max slider: %v, want %v", got, want)
	}
	u.cmap.SetSelected("viridis")
	if m.Contrast().Colormap != "viridis" {
		t.Errorf("colormap %q", m.Contrast().Colormap)
	}
	if f := u.views[0].frame; f.Request.Style.Map.Name != "viridis" {
		t.Errorf("frame colormap %q", f.Request.Style.Map.Name)
	}
	u.invert.SetChecked(true)
	u.gamma.SetValue(1) // log2 γ = 1
	if c := m.Contrast(); !c.Invert || c.Gamma != 2 {
		t.Errorf("contrast %+v", c)
	}
	u.modeSel.SetSelected(modeLabels[viewer.Split])
	if m.Mode() != viewer.Split {
		t.Errorf("mode %v", m.Mode())
	}
	// The zoom slider zooms all views; a model change moves the slider
	// without echoing into the other views.
	u.zoom.SetValue(1) // log2 zoom
	for _, a := range viewer.Views {
		if z := m.View(a).Zoom; z != 2 {
			t.Errorf("%v zoom %v", a, z)
		}
	}
	u.active = volume.XZ
	m.SetZoom(volume.XZ, 4)
	if m.View(volume.XY).Zoom != 2 || u.zoom.Value != 2 {
		t.Errorf("zoom echo: XY %v, slider %v", m.View(volume.XY).Zoom, u.zoom.Value)
	}
	m.AutoContrast()
	if lo, hi := m.Contrast().Min, m.Contrast().Max; math.Abs(u.lo.Value-(lo-st.Min)/(st.Max-st.Min)) > 1e-3 ||
		math.Abs(u.hi.Value-(hi-st.Min)/(st.Max-st.Min)) > 1e-3 {
		t.Errorf("sliders %v, %v after auto contrast %v–%v", u.lo.Value, u.hi.Value, lo, hi)
	}
}

func TestGoldenXYView(t *testing.T) {
	u, _ := newTestUI(t)
	assertGolden(t, "xy-view.png", u.views[volume.XY].shown, 2, 0.002)
}

func TestGoldenWindow(t *testing.T) {
	_, w := newTestUI(t)
	img, ok := w.Canvas().Capture().(*image.RGBA)
	if !ok {
		nrgba := w.Canvas().Capture()
		img = image.NewRGBA(nrgba.Bounds())
		draw.Draw(img, img.Bounds(), nrgba, nrgba.Bounds().Min, draw.Src)
	}
	assertGolden(t, "window.png", img, 8, 0.01)
}

// assertGolden compares img with testdata/name: at most frac of the pixels
// may differ, by at most tol per channel (font rasterisation varies a
// little between platforms). With -update it rewrites the golden file.
func assertGolden(t *testing.T, name string, img *image.RGBA, tol int, frac float64) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writePNG(path, img); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test ./app -run Golden -update to create it)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if want.Bounds() != img.Bounds() {
		t.Fatalf("size %v, golden %v", img.Bounds(), want.Bounds())
	}
	bad := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, _ := want.At(x, y).RGBA()
			c := img.RGBAAt(x, y)
			d := max(absDiff(int(r1>>8), int(c.R)), absDiff(int(g1>>8), int(c.G)), absDiff(int(b1>>8), int(c.B)))
			if d > tol {
				bad++
			}
		}
	}
	if float64(bad) > frac*float64(b.Dx()*b.Dy()) {
		out := filepath.Join("testdata", "failed", name)
		_ = os.MkdirAll(filepath.Dir(out), 0o755)
		_ = writePNG(out, img)
		t.Errorf("%d pixels differ from %s; got image written to %s", bad, path, out)
	}
}

func absDiff(a, b int) int {
	if a < b {
		return b - a
	}
	return a - b
}

func TestExportIsotropic(t *testing.T) {
	u, _ := newTestUI(t)
	path := filepath.Join(t.TempDir(), "iso.npy")
	mu := serialise(u)
	u.export(u.model.Volume(), u.opts.Methods.Linear, path)
	if msg := waitMessage(u, mu, "saved", 20*time.Second); !strings.HasPrefix(msg, "saved") {
		t.Fatalf("export did not finish: %q", msg)
	}
	vol, err := volio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// 8 slices at 40 nm over 5 nm lateral voxels: 64 isotropic slices.
	if s := vol.Shape(); s.Z != 64 || s.Y != 64 || s.X != 64 {
		t.Errorf("exported shape %v", s)
	}
}

func TestSplitDividerAndWindowLevelDrag(t *testing.T) {
	u, _ := newTestUI(t)
	m := u.model
	m.SetMode(viewer.Split)
	v := u.views[volume.XY]
	g := m.Geometry(volume.XY)
	// Press on the divider (the middle of the frame) and drag right by a
	// tenth of the frame.
	at := fyne.NewPos(float32(g.Offset.X)+float32(g.W)/2, float32(g.Offset.Y+g.H/2))
	v.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: at}, Button: desktop.MouseButtonPrimary})
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: at}, Dragged: fyne.Delta{DX: float32(g.W) / 10}})
	v.DragEnd()
	if _, _, f := m.SplitModes(); math.Abs(f-0.6) > 0.01 {
		t.Errorf("divider at %v, want 0.6", f)
	}
	// Right-drag upwards narrows the window around the same level. Fyne
	// reports a right-button drag as mouse moves with the button held.
	c0 := m.Contrast()
	up := at.Add(fyne.NewPos(0, -100))
	v.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: at}, Button: desktop.MouseButtonSecondary})
	v.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: up}, Button: desktop.MouseButtonSecondary})
	v.MouseUp(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: up}, Button: desktop.MouseButtonSecondary})
	c1 := m.Contrast()
	if !(c1.Max-c1.Min < c0.Max-c0.Min) || math.Abs((c1.Min+c1.Max)-(c0.Min+c0.Max)) > 1e-6 {
		t.Errorf("window %v–%v → %v–%v", c0.Min, c0.Max, c1.Min, c1.Max)
	}
	// Moves after the release leave it alone.
	v.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: at}})
	if c2 := m.Contrast(); c2 != c1 {
		t.Errorf("a move after the release changed the window %v–%v → %v–%v", c1.Min, c1.Max, c2.Min, c2.Max)
	}
}

// overlayObjects returns the widgets of the window's top overlay (dialog).
func overlayObjects(t *testing.T, w fyne.Window) []fyne.CanvasObject {
	t.Helper()
	top := w.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog shown")
	}
	return test.LaidOutObjects(top)
}

func TestVoxelDialog(t *testing.T) {
	u, w := newTestUI(t)
	vol := testVolume(t)
	vol.Voxel = volume.Unknown()
	var got *volume.Volume
	u.askVoxel(vol, func(v *volume.Volume) { got = v })
	objs := overlayObjects(t, w)
	var entries []*widget.Entry
	var labels []string
	var use *widget.Button
	for _, o := range objs {
		switch o := o.(type) {
		case *widget.Entry:
			entries = append(entries, o)
		case *widget.Label:
			labels = append(labels, o.Text)
		case *widget.Button:
			if o.Text == "Use" {
				use = o
			}
		}
	}
	if len(entries) != 3 || use == nil {
		t.Fatalf("dialog has %d entries, Use button %v", len(entries), use != nil)
	}
	entries[0].SetText("50")
	entries[1].SetText("5")
	entries[2].SetText("5")
	found := false
	for _, o := range test.LaidOutObjects(w.Canvas().Overlays().Top()) {
		if l, ok := o.(*widget.Label); ok && strings.Contains(l.Text, "anisotropy 10×") {
			found = true
		}
	}
	if !found {
		t.Errorf("the dialog does not show the implied anisotropy; labels %q", labels)
	}
	entries[0].SetText("50,")
	if !use.Disabled() {
		t.Errorf("Use is enabled with z %q", entries[0].Text)
	}
	test.Tap(use)
	if got != nil || vol.Voxel.Known {
		t.Fatalf("an invalid size was used: %+v", vol.Voxel)
	}
	entries[0].SetText("50")
	test.Tap(use)
	if got != vol || !vol.Voxel.Known || vol.Voxel.Z != 50 || vol.Voxel.X != 5 || vol.Voxel.Unit != "nm" {
		t.Errorf("voxel after dialog: %+v", vol.Voxel)
	}
	if w.Canvas().Overlays().Top() != nil {
		t.Errorf("the dialog is still shown after Use")
	}
}

// TestKeysAfterPanelControl checks that keys act on the view under the
// mouse after a panel control (a slider) took the keyboard focus.
func TestKeysAfterPanelControl(t *testing.T) {
	u, w := newTestUI(t)
	c := w.Canvas()
	c.Focus(u.gamma)
	v := u.views[volume.XY]
	v.MouseIn(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(20, 20)}})
	if c.Focused() != v {
		t.Fatalf("focus stays on %T after the mouse entered the XY view", c.Focused())
	}
	z0 := u.model.Index(volume.XY)
	v.TypedKey(&fyne.KeyEvent{Name: fyne.KeyUp})
	if z1 := u.model.Index(volume.XY); z1 == z0 {
		t.Errorf("Up did not step the slice (z %v)", z1)
	}
}

func TestHelpKey(t *testing.T) {
	u, w := newTestUI(t)
	_ = u
	test.TypeOnCanvas(w.Canvas(), "?")
	found := false
	for _, o := range overlayObjects(t, w) {
		if l, ok := o.(*widget.Label); ok && strings.Contains(l.Text, "Ctrl+wheel") {
			found = true
		}
	}
	if !found {
		t.Error("? did not show the shortcuts")
	}
}

// BenchmarkCrosshairMoveUIThread measures the UI thread's share of a
// crosshair move: the model change, three requests handed to the
// asynchronous workers, the controls updated, and showing one finished
// frame (composing it at widget size). It must stay well under a 16 ms
// display frame.
func BenchmarkCrosshairMoveUIThread(b *testing.B) {
	test.NewTempApp(b)
	w := test.NewWindow(nil)
	vol, err := sample.Anisotropic(sample.Options{}, 8)
	if err != nil {
		b.Fatal(err)
	}
	u := newUI(vol, Options{Methods: engine.Classical(nil), Mode: viewer.Linear}, w, false)
	w.SetContent(u.content)
	w.Resize(fyne.NewSize(1280, 900))
	defer u.pipe.Close()
	f, err := viewer.RenderFrame(context.Background(), u.opts.Methods, u.model.Request(volume.XZ, 1))
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		u.model.SetCrosshair(viewer.Point{Z: float64(i % 16), Y: float64(i % 128), X: 64})
		f.Request.ID = uint64(1 << 62) // newer than anything in flight
		u.views[volume.XZ].show(f)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/move")
}

func TestOpenFile(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	other := testVolume(t)
	other.Name = "other.npy"
	opened := ""
	open := func(p string) (*volume.Volume, error) { opened = p; return other, nil }
	u := newUI(testVolume(t), Options{Methods: engine.Classical(nil), Open: open}, w, true)
	w.SetContent(u.content)
	w.Resize(fyne.NewSize(1000, 700))
	defer u.pipe.Close()
	if !strings.Contains(u.message.Text, "niiv unavailable") {
		t.Errorf("startup message %q", u.message.Text)
	}
	mu := serialise(u)
	u.open("some/other.npy") // what the Open dialog and drag-and-drop call
	// open says "opened …" after the model has switched and the controls
	// have followed.
	waitMessage(u, mu, "opened", 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if opened != "some/other.npy" || u.model.Volume() != other {
		t.Fatalf("opened %q; model shows %q", opened, u.model.Volume().Name)
	}
	if !strings.Contains(u.info.Text, "other.npy") || u.views[0].frame.Request.Vol != other {
		t.Errorf("info %q; XY frame of %v", u.info.Text, u.views[0].frame.Request.Vol.Name)
	}
}

// TestNoLocaleError runs this test binary again under LANG=C.UTF-8 and
// checks that Fyne no longer logs a locale parsing error at start-up.
func TestNoLocaleError(t *testing.T) {
	if os.Getenv("NIIV_LOCALE_CHILD") == "1" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoLocaleError$")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LANG=") && !strings.HasPrefix(kv, "LANGUAGE=") && !strings.HasPrefix(kv, "LC_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "LANG=C.UTF-8", "NIIV_LOCALE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Contains(string(out), "locale") {
		t.Errorf("start-up output mentions the locale:\n%s", out)
	}
}

// serialise makes u's background work hand its UI updates over under a
// lock, as the real driver's fyne.Do does on the UI goroutine; the test
// driver would run them on the worker's goroutine. It returns the lock.
func serialise(u *ui) *sync.Mutex {
	mu := new(sync.Mutex)
	u.do = func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	return mu
}

// waitMessage waits until the panel's message starts with prefix, reading it
// under the UI lock, and returns the last message seen.
func waitMessage(u *ui, mu *sync.Mutex, prefix string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	var msg string
	for {
		mu.Lock()
		msg = u.message.Text
		mu.Unlock()
		if strings.HasPrefix(msg, prefix) || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScreenshotAtScale(t *testing.T) {
	u, _ := newTestUI(t)
	mu := serialise(u)
	path := filepath.Join(t.TempDir(), "shot.png")
	u.saveSnapshot(u.model.Snapshot(2), int(volume.XZ), path)
	if msg := waitMessage(u, mu, "saved", 20*time.Second); !strings.HasPrefix(msg, "saved") {
		t.Fatalf("screenshot: %q", msg)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	// One view is saved as its decoded region at twice the screen's
	// resolution, without the widget's empty margins.
	mu.Lock()
	g := u.model.Request(volume.XZ, 2).Geometry
	mu.Unlock()
	if cfg.Width != g.W || cfg.Height != g.H {
		t.Errorf("2× screenshot %d×%d, want the 2× region %d×%d", cfg.Width, cfg.Height, g.W, g.H)
	}
}

// failing is a renderer that always fails.
type failing struct{}

func (failing) Name() string { return "niiv-broken" }

func (failing) Render(context.Context, viewer.Slice) (*volume.Image, error) {
	return nil, errors.New("session exploded")
}

func TestDecodeErrorKeepsPreview(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	ms := engine.Classical(nil)
	ms.Niiv = failing{}
	u := newUI(testVolume(t), Options{Methods: ms, Mode: viewer.Niiv}, w, true)
	w.SetContent(u.content)
	w.Resize(fyne.NewSize(1000, 700))
	defer u.pipe.Close()
	v := u.views[volume.XZ]
	if !strings.Contains(v.status.Text, "session exploded") {
		t.Errorf("status %q", v.status.Text)
	}
	if v.shown == nil || nonUniform(v.shown) < 0.2 {
		t.Error("the linear preview was not kept under the error")
	}
}

// TestDifferenceLegend checks that difference mode says what its colours
// mean, and that other modes do not.
func TestDifferenceLegend(t *testing.T) {
	u, _ := newTestUI(t)
	u.model.SetMode(viewer.Difference)
	if !strings.Contains(u.loLabel.Text, "blue −") || !strings.Contains(u.loLabel.Text, "red +") {
		t.Errorf("difference mode label %q has no legend", u.loLabel.Text)
	}
	u.model.SetMode(viewer.Linear)
	if strings.Contains(u.loLabel.Text, "blue") {
		t.Errorf("linear mode label %q keeps the difference legend", u.loLabel.Text)
	}
}
