package movie

import (
	"context"
	"errors"
	"image"
	"image/gif"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
)

// testModel is a model of a small anisotropic volume with a pattern, its
// views 161×120 px (odd on purpose).
func testModel(t *testing.T) *viewer.Model {
	t.Helper()
	s := volume.Shape{Z: 6, Y: 40, X: 48}
	data := make([]float32, s.Len())
	for i := range data {
		z, y, x := i/(s.Y*s.X), i/s.X%s.Y, i%s.X
		data[i] = float32(math.Sin(float64(x)/3) + math.Cos(float64(y)/5) + float64(z)/4)
	}
	vol, err := volume.New(s, data, volume.Voxel{Z: 32, Y: 8, X: 8, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	m := viewer.New(vol)
	for _, a := range viewer.Views {
		m.SetSize(a, image.Pt(161, 120))
	}
	m.SetMode(viewer.Linear)
	return m
}

func TestRecordShot(t *testing.T) {
	ctx := context.Background()
	methods := engine.Classical(errors.New("no model in this test"))
	tests := []struct {
		name  string
		axis  volume.Axis
		shot  Shot
		check func(t *testing.T, first, last viewer.Request)
	}{
		{"sweep xz", volume.XZ, ShotSweep, func(t *testing.T, first, last viewer.Request) {
			if first.Geometry.Index != 0 || last.Geometry.Index != 39 {
				t.Errorf("sweep from y %g to %g, want 0 to 39", first.Geometry.Index, last.Geometry.Index)
			}
		}},
		{"sweep xy", volume.XY, ShotSweep, func(t *testing.T, first, last viewer.Request) {
			if first.Geometry.Index != 0 || last.Geometry.Index != 5 {
				t.Errorf("sweep from z %g to %g, want 0 to 5", first.Geometry.Index, last.Geometry.Index)
			}
		}},
		{"zoom", volume.YZ, ShotZoom, func(t *testing.T, first, last viewer.Request) {
			if r := last.Geometry.Scale / first.Geometry.Scale; math.Abs(r-ZoomShot) > 1e-6 {
				t.Errorf("zoomed %g×, want %d×", r, ZoomShot)
			}
		}},
		{"wipe", volume.XZ, ShotWipe, func(t *testing.T, first, last viewer.Request) {
			if first.Mode != viewer.Split || first.SplitFrac != 0 || last.SplitFrac != 1 {
				t.Errorf("wipe: mode %v, divider %g → %g; want split 0 → 1", first.Mode, first.SplitFrac, last.SplitFrac)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel(t)
			before := m.View(tc.axis)
			idx := m.Index(tc.axis)
			const n = 5
			rec := RecordShot(m, tc.axis, tc.shot, n, 1)
			if m.View(tc.axis) != before || m.Index(tc.axis) != idx || m.Mode() != viewer.Linear {
				t.Fatal("recording moved the window's model")
			}
			if len(rec.Requests) != n || rec.Size != image.Pt(160, 120) {
				t.Fatalf("%d frames of %v, want %d of 160×120 (even)", len(rec.Requests), rec.Size, n)
			}
			tc.check(t, rec.Requests[0], rec.Requests[n-1])
			// Frame k is the view the window shows in frame k's state.
			render := rec.Renderer(methods)
			for k := range n {
				got, err := render(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				want, err := viewer.ViewImage(ctx, methods, rec.Requests[k], rec.Titles[k])
				if err != nil {
					t.Fatal(err)
				}
				if got.Bounds().Size() != rec.Size || string(got.Pix) != string(want.Pix) {
					t.Fatalf("frame %d differs from the view (%v, want %v)", k, got.Bounds().Size(), rec.Size)
				}
			}
		})
	}
}

func TestRenderWritesInOrderAndCancels(t *testing.T) {
	m := testModel(t)
	methods := engine.Classical(errors.New("no model in this test"))
	rec := RecordShot(m, volume.XZ, ShotSweep, 12, 0.5)
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gif")
	w, err := NewGIF(out, GrayPalette, true, 10)
	if err != nil {
		t.Fatal(err)
	}
	var done []int
	newRenderer := func() FrameFunc { return rec.Renderer(methods) }
	if err := Render(context.Background(), len(rec.Requests), 3, newRenderer, w, func(k int) { done = append(done, k) }); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	for i, k := range done {
		if i != k {
			t.Fatalf("frames written in the order %v", done)
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(f)
	f.Close()
	if err != nil || len(g.Image) != 12 || g.Config.Width != rec.Size.X {
		t.Fatalf("GIF: %v, %d frames", err, len(g.Image))
	}

	// Cancelled after frame 3: an error, and Abort leaves nothing.
	out2 := filepath.Join(dir, "frames") + "/"
	w2, err := NewPNGFrames(out2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = Render(ctx, len(rec.Requests), 2, newRenderer, w2, func(k int) {
		if k == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled render: %v", err)
	}
	w2.Abort()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("cancelled movie left %d entries beside the GIF", len(entries)-1)
	}
}

func TestOutputKind(t *testing.T) {
	tests := []struct {
		out  string
		want Kind
		err  bool
	}{
		{"a.mp4", MP4, false}, {"a.GIF", GIF, false}, {"frames/", PNGFrames, false}, {"a.avi", 0, true},
	}
	for _, tc := range tests {
		got, err := OutputKind(tc.out)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("OutputKind(%q) = %v, %v", tc.out, got, err)
		}
	}
}
