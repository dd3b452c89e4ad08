package viewer

import (
	"context"
	"errors"
	"image"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// fake is a renderer that fills the output with value + Index after delay.
type fake struct {
	name      string
	value     float32
	delay     time.Duration
	err       error
	calls     atomic.Int32
	cancelled atomic.Int32
}

func (f *fake) Name() string { return f.name }

func (f *fake) Render(ctx context.Context, req Slice) (*volume.Image, error) {
	f.calls.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			f.cancelled.Add(1)
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	img := volume.NewImage(req.W, req.H)
	for i := range img.Pix {
		img.Pix[i] = f.value + float32(req.Index)
	}
	return img, nil
}

func fakeMethods() (Methods, *fake, *fake) {
	lin := &fake{name: "linear", value: 4}
	nv := &fake{name: "niiv-test", value: 10}
	return Methods{Nearest: &fake{name: "nearest", value: 2}, Linear: lin, Niiv: nv}, lin, nv
}

type recorder struct {
	mu     sync.Mutex
	frames []Frame
	final  chan Frame
}

func newRecorder() *recorder { return &recorder{final: make(chan Frame, 16)} }

func (r *recorder) deliver(f Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, f)
	r.mu.Unlock()
	if f.Final {
		r.final <- f
	}
}

func (r *recorder) take() []Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frames
	r.frames = nil
	return f
}

func TestPipelineSyncPreviewThenFinal(t *testing.T) {
	m, _ := newTestModel(t)
	ms, lin, nv := fakeMethods()
	rec := newRecorder()
	w := NewWorker(ms, rec.deliver, true)

	m.SetMode(Niiv)
	w.Submit(m.Request(volume.XY, 1))
	fs := rec.take()
	if len(fs) != 2 || fs[0].Final || !fs[1].Final {
		t.Fatalf("got %d frames (final: %v), want preview then final", len(fs), finals(fs))
	}
	if fs[0].Method != "linear" || fs[1].Method != "niiv-test" {
		t.Errorf("methods %q then %q", fs[0].Method, fs[1].Method)
	}
	if b := fs[1].Image.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Errorf("frame size %v", b)
	}
	if !strings.Contains(fs[1].Label(), "decoding 256×256 px · 4 nm/px · niiv-test") {
		t.Errorf("label %q", fs[1].Label())
	}

	// A contrast change only re-colours: no decode, no preview.
	c := m.Contrast()
	c.Colormap = "magma"
	m.SetContrast(c)
	w.Submit(m.Request(volume.XY, 1))
	fs = rec.take()
	if len(fs) != 1 || !fs[0].Final || !fs[0].Cached {
		t.Fatalf("after contrast change: %d frames, cached %v", len(fs), fs[0].Cached)
	}
	if lin.calls.Load() != 1 || nv.calls.Load() != 1 {
		t.Errorf("decodes: linear %d, niiv %d; want 1 each", lin.calls.Load(), nv.calls.Load())
	}
	if !strings.Contains(fs[0].Label(), "cached") {
		t.Errorf("label %q", fs[0].Label())
	}
}

func finals(fs []Frame) []bool {
	var b []bool
	for _, f := range fs {
		b = append(b, f.Final)
	}
	return b
}

func TestPipelineModes(t *testing.T) {
	tests := []struct {
		name       string
		mode       Mode
		noNiiv     bool
		wantMethod string
		wantNote   bool
		// Pixel (10, 10) colour check: gray value expected for the gray
		// modes, or "red" for a positive difference.
		wantFrames int
	}{
		{"nearest", Nearest, false, "nearest", false, 1},
		{"linear", Linear, false, "linear", false, 1},
		{"niiv", Niiv, false, "niiv-test", false, 2},
		{"difference", Difference, false, "niiv-test − linear", false, 2},
		{"split", Split, false, "linear | niiv-test", false, 2},
		{"niiv without a model", Niiv, true, "linear", true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTestModel(t)
			m.ShowCrosshair(false)
			ms, _, _ := fakeMethods()
			if tc.noNiiv {
				ms.Niiv, ms.NiivError = nil, errors.New("no model file")
			}
			rec := newRecorder()
			w := NewWorker(ms, rec.deliver, true)
			m.SetMode(tc.mode)
			w.Submit(m.Request(volume.XZ, 1))
			fs := rec.take()
			if len(fs) != tc.wantFrames {
				t.Fatalf("%d frames, want %d", len(fs), tc.wantFrames)
			}
			f := fs[len(fs)-1]
			if f.Err != nil {
				t.Fatal(f.Err)
			}
			if f.Method != tc.wantMethod {
				t.Errorf("method %q, want %q", f.Method, tc.wantMethod)
			}
			if (f.Note != "") != tc.wantNote {
				t.Errorf("note %q", f.Note)
			}
			if tc.mode == Difference {
				// niiv − linear = +6 > 0: the red half of the diverging map.
				c := f.Image.RGBAAt(10, 10)
				if c.R <= c.B {
					t.Errorf("positive difference drawn as %v", c)
				}
			}
		})
	}
}

func TestPipelineNewerCancelsOlder(t *testing.T) {
	m, _ := newTestModel(t)
	ms, _, nv := fakeMethods()
	nv.delay = 300 * time.Millisecond
	rec := newRecorder()
	w := NewWorker(ms, rec.deliver, false)
	defer w.Close()

	m.SetMode(Niiv)
	first := m.Request(volume.XY, 1)
	w.Submit(first)
	// Let the first niiv decode start (a fixed sleep is too short on a
	// loaded machine under the race detector).
	for start := time.Now(); nv.calls.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the first niiv decode never started")
		}
	}
	m.Step(volume.XY, 1, false)
	second := m.Request(volume.XY, 1)
	w.Submit(second)

	select {
	case f := <-rec.final:
		if f.Request.ID != second.ID {
			t.Fatalf("final frame for request %d, want %d", f.Request.ID, second.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no final frame")
	}
	for _, f := range rec.take() {
		if f.Final && f.Request.ID == first.ID {
			t.Error("the superseded request delivered a final frame")
		}
	}
	deadline := time.Now().Add(time.Second)
	for nv.cancelled.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if nv.cancelled.Load() != 1 {
		t.Errorf("the older niiv decode was not cancelled (%d cancellations)", nv.cancelled.Load())
	}
}

func TestPipelineSharesInflightDecode(t *testing.T) {
	// Dragging a contrast slider while niiv decodes must not restart it.
	m, _ := newTestModel(t)
	ms, _, nv := fakeMethods()
	nv.delay = 100 * time.Millisecond
	rec := newRecorder()
	w := NewWorker(ms, rec.deliver, false)
	defer w.Close()
	m.SetMode(Niiv)
	w.Submit(m.Request(volume.XY, 1))
	for i := 0; i < 5; i++ {
		time.Sleep(5 * time.Millisecond)
		c := m.Contrast()
		c.Gamma = 1 + float64(i+1)/10
		m.SetContrast(c)
		w.Submit(m.Request(volume.XY, 1))
	}
	select {
	case f := <-rec.final:
		if f.Request.Style.Gamma != 1.5 {
			t.Errorf("final frame has gamma %v, want the newest 1.5", f.Request.Style.Gamma)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no final frame")
	}
	if n := nv.calls.Load(); n != 1 {
		t.Errorf("niiv decoded %d times, want 1", n)
	}
}

func TestPipelineErrorsAndEmpty(t *testing.T) {
	m, _ := newTestModel(t)
	ms, _, nv := fakeMethods()
	nv.err = errors.New("session exploded")
	rec := newRecorder()
	p := NewPipeline(ms, rec.deliver, true)
	defer p.Close()
	m.SetMode(Niiv)
	p.Submit(m.Request(volume.YZ, 1))
	fs := rec.take()
	if last := fs[len(fs)-1]; last.Err == nil || !strings.Contains(last.Label(), "session exploded") {
		t.Errorf("error frame: %+v", last)
	}
	// Panned off the plane: an empty final frame, no decode.
	m.Pan(volume.XY, 1e5, 0)
	m.SetSize(volume.XY, image.Pt(0, 0))
	p.Submit(m.Request(volume.XY, 1))
	fs = rec.take()
	if len(fs) != 1 || fs[0].Image != nil || fs[0].Label() != "nothing visible" {
		t.Errorf("empty view frames: %+v", fs)
	}
	_, err := RenderFrame(context.Background(), ms, m.Request(volume.YZ, 1))
	if err == nil {
		t.Error("RenderFrame hid the decode error")
	}
}

// TestHeadlessPackages enforces the package rule: only app imports Fyne.
func TestHeadlessPackages(t *testing.T) {
	for _, pkg := range []string{"github.com/niiv/niiv/viewer", "github.com/niiv/niiv/render"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Skipf("go list: %v: %s", err, out)
		}
		if strings.Contains(string(out), "fyne.io") {
			t.Errorf("%s depends on Fyne", pkg)
		}
	}
}

// countingColour paints like the CPU renderer and counts its calls.
type countingColour struct{ n atomic.Int32 }

func (c *countingColour) Image(src *volume.Image, s render.Style) (*image.RGBA, error) {
	c.n.Add(1)
	return render.Image(src, s), nil
}

func TestPipelineUsesColourer(t *testing.T) {
	m, _ := newTestModel(t)
	ms, _, _ := fakeMethods()
	col := &countingColour{}
	ms.Colour = col
	rec := newRecorder()
	w := NewWorker(ms, rec.deliver, true)
	m.SetMode(Split)
	w.Submit(m.Request(volume.XY, 1))
	// Preview (1 image) and split (2 images).
	if n := col.n.Load(); n != 3 {
		t.Errorf("colourer called %d times, want 3", n)
	}
}

// naming is a renderer that names its images by index: the odd planes
// "came from the CPU".
type naming struct{ fake }

func (n *naming) RenderNamed(ctx context.Context, s Slice) (*volume.Image, string, error) {
	img, err := n.Render(ctx, s)
	if int(s.Index)%2 == 1 {
		return img, n.name + " on cpu", err
	}
	return img, "", err
}

// TestPipelineNamesEachImage checks that a frame is labelled with what
// decoded its images, also when that comes from the cache.
func TestPipelineNamesEachImage(t *testing.T) {
	m, _ := newTestModel(t)
	ms, _, _ := fakeMethods()
	ms.Niiv = &naming{fake{name: "niiv-test on gl", value: 10}}
	rec := newRecorder()
	w := NewWorker(ms, rec.deliver, true)
	for _, c := range []struct {
		mode  Mode
		index int
		want  string
	}{
		{Niiv, 0, "niiv-test on gl"},
		{Niiv, 1, "niiv-test on gl on cpu"},
		{Difference, 1, "niiv-test on gl on cpu − linear"},
		{Niiv, 0, "niiv-test on gl"}, // cached
		{Niiv, 1, "niiv-test on gl on cpu"},
	} {
		m.SetMode(c.mode)
		m.SetIndex(volume.XZ, float64(c.index))
		req := m.Request(volume.XZ, 1)
		w.Submit(req)
		fs := rec.take()
		if f := fs[len(fs)-1]; f.Method != c.want {
			t.Errorf("%v plane %v: method %q, want %q", c.mode, req.Index, f.Method, c.want)
		}
	}
}

// TestFramesShareDecodes checks that a figure's panels, rendered through
// one Frames, decode each image once, and that a frame made only of
// cached images reports no decode time.
func TestFramesShareDecodes(t *testing.T) {
	m, _ := newTestModel(t)
	ms, lin, nv := fakeMethods()
	nv.delay = 5 * time.Millisecond
	fr := NewFrames(ms)
	var got []Frame
	for _, mode := range []Mode{Linear, Niiv, Difference} {
		m.SetMode(mode)
		f, err := fr.Render(context.Background(), m.Request(volume.XZ, 1))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	if lin.calls.Load() != 1 || nv.calls.Load() != 1 {
		t.Errorf("decodes: linear %d, niiv %d; want 1 each", lin.calls.Load(), nv.calls.Load())
	}
	if got[1].Cached || got[1].Decode < nv.delay {
		t.Errorf("niiv panel: cached %v, decode %v; want a fresh decode of at least %v", got[1].Cached, got[1].Decode, nv.delay)
	}
	if d := got[2]; !d.Cached || d.Decode != 0 || d.Method != "niiv-test − linear" {
		t.Errorf("difference panel: cached %v, decode %v, method %q; want cached, 0", d.Cached, d.Decode, d.Method)
	}
}

// TestPipelineReuse checks that a render through Reuse takes the images
// the views' workers have cached, and decodes what they have not.
func TestPipelineReuse(t *testing.T) {
	m, _ := newTestModel(t)
	ms, lin, nv := fakeMethods()
	rec := newRecorder()
	p := NewPipeline(ms, rec.deliver, true)
	m.SetMode(Niiv)
	p.Submit(m.Request(volume.XZ, 1))
	if lin.calls.Load() != 1 || nv.calls.Load() != 1 {
		t.Fatalf("decodes: linear %d, niiv %d", lin.calls.Load(), nv.calls.Load())
	}
	f, err := RenderFrame(context.Background(), p.Reuse(ms), m.Request(volume.XZ, 1))
	if err != nil {
		t.Fatal(err)
	}
	if nv.calls.Load() != 1 || f.Method != "niiv-test" {
		t.Errorf("the same view again: niiv decoded %d times (want 1), method %q", nv.calls.Load(), f.Method)
	}
	if _, err := RenderFrame(context.Background(), p.Reuse(ms), m.Request(volume.XZ, 2)); err != nil {
		t.Fatal(err)
	}
	if nv.calls.Load() != 2 {
		t.Errorf("a 2× view: niiv decoded %d times, want 2 (not cached)", nv.calls.Load())
	}
}
