package viewer

import (
	"context"
	"image"
	"strings"
	"sync"
	"testing"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// volFake renders a ramp that depends on the volume decoded: the value of
// its voxel (0, 0, 0) plus the column plus offset. It records the
// volumes it decoded.
type volFake struct {
	name   string
	offset float32
	mu     sync.Mutex
	vols   []*volume.Volume
}

func (f *volFake) Name() string { return f.name }

func (f *volFake) Render(_ context.Context, s Slice) (*volume.Image, error) {
	f.mu.Lock()
	f.vols = append(f.vols, s.Vol)
	f.mu.Unlock()
	img := volume.NewImage(s.W, s.H)
	base := float32(s.Vol.At(0, 0, 0)) + f.offset
	for i := range img.Pix {
		img.Pix[i] = base + float32(i%s.W)
	}
	return img, nil
}

// decoded returns the volumes decoded since the last call.
func (f *volFake) decoded() []*volume.Volume {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.vols
	f.vols = nil
	return v
}

// testStack returns a hyperstack of times × channels 4×8×8 volumes, each
// filled with 40·t + 10·c.
func testStack(t testing.TB, channels, times int) *volume.Hyperstack {
	t.Helper()
	s := volume.Shape{Z: 4, Y: 8, X: 8}
	vols := make([][]*volume.Volume, times)
	for ti := range vols {
		for c := 0; c < channels; c++ {
			data := make([]float32, s.Len())
			for i := range data {
				data[i] = float32(40*ti + 10*c)
			}
			v, err := volume.New(s, data, volume.Voxel{Z: 0.3, Y: 0.1, X: 0.1, Unit: "µm", Known: true})
			if err != nil {
				t.Fatal(err)
			}
			vols[ti] = append(vols[ti], v)
		}
	}
	chs := make([]volume.Channel, channels)
	chs[0].Name = "nuclei"
	h, err := volume.NewHyperstack("stack", vols, chs)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newStackModel returns a model of h with every channel's window 0–200
// (the test volumes are constant: an automatic window would saturate).
func newStackModel(h *volume.Hyperstack) *Model {
	m := NewStack(h)
	for c := range h.Channels() {
		m.SelectChannel(c)
		ct := m.Contrast()
		ct.Min, ct.Max = 0, 200
		m.SetContrast(ct)
	}
	m.SelectChannel(0)
	return m
}

func stackMethods() (Methods, *volFake) {
	lin := &volFake{name: "linear"}
	return Methods{Nearest: &volFake{name: "nearest"}, Linear: lin, Niiv: &volFake{name: "niiv-test", offset: 3}}, lin
}

// plainRequest is m's request for axis without overlays, to compare pixels.
func plainRequest(m *Model, axis volume.Axis) Request {
	r := m.Request(axis, 1)
	r.ScaleBar, r.Cross, r.Caption = false, nil, ""
	return r
}

// wantComposite renders the composite of r's visible channels decoded by
// f, as the pipeline should.
func wantComposite(t *testing.T, r Request, f Renderer) *image.RGBA {
	t.Helper()
	var ls []render.Layer
	for _, l := range r.Layers {
		s := r.Slice()
		s.Vol = l.Vol
		img, err := f.Render(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, render.Layer{Image: img, Style: l.Style, Color: l.Color, Hidden: l.Hidden})
	}
	want, err := render.CompositeImage(ls)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func TestCompositeFrame(t *testing.T) {
	h := testStack(t, 3, 2)
	m := newStackModel(h)
	m.SetSize(volume.XZ, image.Pt(64, 48))
	ms, lin := stackMethods()
	for _, mode := range []Mode{Nearest, Linear, Niiv} {
		m.SetMode(mode)
		r := plainRequest(m, volume.XZ)
		if len(r.Layers) != 3 {
			t.Fatalf("%v: %d layers, want 3", mode, len(r.Layers))
		}
		f, err := RenderFrame(context.Background(), ms, r)
		if err != nil {
			t.Fatal(err)
		}
		want := wantComposite(t, r, ms.renderer(mode))
		if !equalRGBA(f.Image, want) {
			t.Errorf("%v: frame is not the composite of the channels' renders", mode)
		}
		if !colourful(f.Image) {
			t.Errorf("%v: the composite of green, magenta and cyan is gray", mode)
		}
	}
	lin.decoded()

	// Difference and split work per channel: a colour picture, every
	// channel decoded with both modes.
	for _, mode := range []Mode{Difference, Split} {
		m.SetMode(mode)
		f, err := RenderFrame(context.Background(), ms, plainRequest(m, volume.XZ))
		if err != nil || f.Image == nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if got := len(lin.decoded()); got != 3 {
			t.Errorf("%v: linear decoded %d channels, want 3", mode, got)
		}
		if !colourful(f.Image) {
			t.Errorf("%v: picture is gray", mode)
		}
	}
}

func TestCompositeHiddenChannelAndTime(t *testing.T) {
	h := testStack(t, 3, 3)
	m := newStackModel(h)
	m.SetSize(volume.XY, image.Pt(40, 40))
	m.SetMode(Linear)
	var changes []Change
	m.OnChange(func(c Change) { changes = append(changes, c) })
	ms, lin := stackMethods()

	m.SetChannelVisible(1, false)
	m.SetChannelVisible(1, false) // no change, no notification
	r := plainRequest(m, volume.XY)
	f, err := RenderFrame(context.Background(), ms, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range lin.decoded() {
		if v == h.At(0, 1) {
			t.Error("the hidden channel was decoded")
		}
	}
	if !equalRGBA(f.Image, wantComposite(t, r, lin)) {
		t.Error("frame with a hidden channel is not the composite of the visible ones")
	}
	// Hidden magenta: green + cyan, no red anywhere.
	if c := f.Image.RGBAAt(20, 20); c.R != 0 || c.G == 0 {
		t.Errorf("hidden magenta channel still drawn: %v", c)
	}

	// Time steps: the layers are the next time point's volumes, and the
	// picture changes; stepping is clamped.
	before := f.Image
	m.StepTime(1)
	if m.Time() != 1 || m.Volume() != h.At(1, 0) {
		t.Fatalf("time %d, volume %p; want 1, %p", m.Time(), m.Volume(), h.At(1, 0))
	}
	r = plainRequest(m, volume.XY)
	for c, l := range r.Layers {
		if l.Vol != h.At(1, c) {
			t.Errorf("layer %d is not time 1's volume", c)
		}
	}
	f, err = RenderFrame(context.Background(), ms, r)
	if err != nil {
		t.Fatal(err)
	}
	if equalRGBA(f.Image, before) {
		t.Error("time step did not change the picture")
	}
	m.StepTime(5)
	m.StepTime(1)
	m.SetTime(-3)
	m.SetTime(0)
	if m.Time() != 0 {
		t.Errorf("time %d, want 0", m.Time())
	}
	want := []Change{ChangeChannels, ChangeTime, ChangeTime, ChangeTime}
	if len(changes) != len(want) {
		t.Fatalf("changes %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Errorf("change %d = %v, want %v", i, changes[i], want[i])
		}
	}

	// Every channel hidden: black, no decode.
	lin.decoded()
	for c := range 3 {
		m.SetChannelVisible(c, false)
	}
	f, err = RenderFrame(context.Background(), ms, plainRequest(m, volume.XY))
	if err != nil || f.Image == nil {
		t.Fatal(err)
	}
	if c := f.Image.RGBAAt(5, 5); c.R|c.G|c.B != 0 || c.A != 255 {
		t.Errorf("no channel shown: pixel %v, want black", c)
	}
	if n := len(lin.decoded()); n != 0 {
		t.Errorf("%d decodes with every channel hidden", n)
	}
}

func TestChannelSelectionAndContrast(t *testing.T) {
	h := testStack(t, 3, 1)
	m := NewStack(h)
	if m.Channels() != 3 || m.Times() != 1 || m.Selected() != 0 {
		t.Fatalf("channels %d, times %d, selected %d", m.Channels(), m.Times(), m.Selected())
	}
	if got := m.Channel(1).Color; got != volume.Magenta {
		t.Errorf("channel 1 colour %v, want magenta", got)
	}
	c := m.Contrast()
	c.Min, c.Max, c.Gamma = 1, 2, 0.5
	m.SetContrast(c)
	if m.Channel(0).Contrast.Max != 2 || m.Channel(1).Contrast.Max == 2 {
		t.Error("contrast did not go to the selected channel only")
	}
	m.SelectChannel(2)
	if m.Volume() != h.At(0, 2) || m.Contrast() != m.Channel(2).Contrast {
		t.Error("selecting a channel did not move the volume and contrast to it")
	}
	m.SetChannelColor(2, volume.Yellow)
	r := m.Request(volume.XY, 1)
	if r.Layers[2].Color != volume.Yellow || r.Layers[0].Style.Gamma != 0.5 {
		t.Errorf("request layers %+v", r.Layers)
	}
	cap := m.ChannelCaption()
	if !strings.Contains(cap, "nuclei (#00FF00)") || !strings.Contains(cap, "channel 2 (#FFFF00)") {
		t.Errorf("caption %q", cap)
	}
	if s := m.Snapshot(1); !strings.Contains(s.Caption, "nuclei (#00FF00)") {
		t.Errorf("snapshot caption %q does not name the channels", s.Caption)
	}
}

func TestOneChannelStackIsTheVolume(t *testing.T) {
	v := testVolume(t)
	a, b := New(v), NewStack(volume.Single(v))
	for _, m := range []*Model{a, b} {
		m.SetSize(volume.XZ, image.Pt(100, 80))
	}
	ra, rb := a.Request(volume.XZ, 1), b.Request(volume.XZ, 1)
	if ra.Layers != nil || rb.Layers != nil {
		t.Fatal("a one-channel volume is drawn as a composite")
	}
	ra.ID, rb.ID = 0, 0
	if ra.Geometry != rb.Geometry || ra.Style != rb.Style || a.Contrast() != b.Contrast() {
		t.Error("a one-channel stack differs from its volume")
	}
	if a.ChannelCaption() != "" || a.Snapshot(1).Caption != "" {
		t.Error("a one-channel volume has a channel caption")
	}
	a.SetTime(3)
	a.SelectChannel(1)
	if a.Time() != 0 || a.Selected() != 0 {
		t.Error("time or channel moved on a one-channel volume")
	}
}

func equalRGBA(a, b *image.RGBA) bool {
	if a == nil || b == nil || a.Bounds().Size() != b.Bounds().Size() {
		return false
	}
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	for y := range h {
		for x := range w {
			if a.RGBAAt(a.Bounds().Min.X+x, a.Bounds().Min.Y+y) != b.RGBAAt(b.Bounds().Min.X+x, b.Bounds().Min.Y+y) {
				return false
			}
		}
	}
	return true
}

// colourful reports whether some pixel of img is not gray.
func colourful(img *image.RGBA) bool {
	for i := 0; i+3 < len(img.Pix); i += 4 {
		if img.Pix[i] != img.Pix[i+1] || img.Pix[i+1] != img.Pix[i+2] {
			return true
		}
	}
	return false
}

func TestOneChannelTimeSeries(t *testing.T) {
	h := testStack(t, 1, 3)
	m := NewStack(h)
	m.SetSize(volume.XZ, image.Pt(40, 30))
	m.SetTime(2)
	r := m.Request(volume.XZ, 1)
	if r.Layers != nil || r.Vol != h.At(2, 0) {
		t.Fatalf("layers %v, volume %p; want none and time 2's %p", r.Layers, r.Vol, h.At(2, 0))
	}
	if got := m.Title(volume.XZ); !strings.HasSuffix(got, "t 2/2") {
		t.Errorf("title %q lacks the time point", got)
	}
	if d := m.Describe(); !strings.Contains(d[1], "1 channel × 3 time points") || !strings.Contains(d[4], "t 2/2") {
		t.Errorf("describe %q", d)
	}
}
