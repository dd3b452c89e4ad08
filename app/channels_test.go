package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

// testStack is a small confocal-like stack: 3 channels × 2 time points.
func testStack(t testing.TB, channels int) *volume.Hyperstack {
	t.Helper()
	h, err := sample.Confocal(context.Background(), sample.ConfocalOptions{Options: sample.Options{Size: 32}, Channels: channels, Times: 2, Factor: 4})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// colourShare is the share of a view's pixels that are not gray.
func colourShare(v *view) float64 {
	img := v.shown
	n := 0
	for i := 0; i+3 < len(img.Pix); i += 4 {
		r, g, b := int(img.Pix[i]), int(img.Pix[i+1]), int(img.Pix[i+2])
		if max(r, g, b)-min(r, g, b) > 40 {
			n++
		}
	}
	return float64(n) / float64(len(img.Pix)/4)
}

func TestChannelPanelAndComposite(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	h := testStack(t, 3)
	u := newStackUI(h, Options{Methods: engine.Classical(nil), Mode: viewer.Linear}, w, true)
	w.SetContent(u.content)
	w.Resize(fyne.NewSize(1000, 700))
	t.Cleanup(func() { u.close(); w.Close() })

	if len(u.chanRows) != 3 || !u.chanBox.Visible() || !u.timeBox.Visible() {
		t.Fatalf("%d channel rows, channel panel shown %v, time slider shown %v", len(u.chanRows), u.chanBox.Visible(), u.timeBox.Visible())
	}
	if got := u.chanRows[1].colour.Selected; got != "magenta" {
		t.Errorf("channel 1 colour %q, want magenta", got)
	}
	if !strings.Contains(u.chanRows[0].pick.Text, "membrane") {
		t.Errorf("channel 0 button %q", u.chanRows[0].pick.Text)
	}
	for _, v := range u.views {
		if len(v.frame.Request.Layers) != 3 {
			t.Fatalf("%v view: %d layers", v.axis, len(v.frame.Request.Layers))
		}
		if s := colourShare(v); s < 0.2 {
			t.Errorf("%v view: %.0f %% coloured pixels: not a composite", v.axis, 100*s)
		}
	}

	// Hiding channels through the panel: membrane alone is green.
	u.model.ShowCrosshair(false) // its colour is no channel's
	test.Tap(u.chanRows[1].visible)
	test.Tap(u.chanRows[2].visible)
	if u.model.Channel(1).Visible || u.model.Channel(2).Visible {
		t.Fatal("the visible checks did not hide channels 1 and 2")
	}
	img := u.views[volume.XY].frame.Image
	for i := 0; i+3 < len(img.Pix); i += 4 {
		if img.Pix[i] > 0 && img.Pix[i] == img.Pix[i+1] && img.Pix[i+1] == img.Pix[i+2] {
			continue // white overlays (scale bar)
		}
		if img.Pix[i+1] < img.Pix[i] || img.Pix[i+1] < img.Pix[i+2] {
			t.Fatalf("pixel %d is %v with only the green channel shown", i/4, img.Pix[i:i+4])
		}
	}

	// Selecting a channel moves the contrast controls to it.
	test.Tap(u.chanRows[2].pick)
	if u.model.Selected() != 2 || u.model.Volume() != h.At(0, 2) {
		t.Fatalf("selected %d", u.model.Selected())
	}
	u.colourKey(t, "magenta", 2)

	// The cursor readout gives the three channels' values.
	sz := u.model.View(volume.XY).Size
	u.probe(volume.XY, float64(sz.X)/2, float64(sz.Y)/2)
	if _, vals, ok := strings.Cut(u.cursor.Text, "= "); !ok || strings.Count(vals, " · ") != 2 {
		t.Errorf("cursor readout %q: want three values", u.cursor.Text)
	}

	// Keys , and . step time; the views follow.
	before := u.views[volume.XZ].frame.Request.Layers[0].Vol
	u.typedRune('.')
	if u.model.Time() != 1 || u.timeSl.Value != 1 || !strings.Contains(u.timeLabel.Text, "1 / 1") {
		t.Errorf("time %d, slider %v, label %q", u.model.Time(), u.timeSl.Value, u.timeLabel.Text)
	}
	if after := u.views[volume.XZ].frame.Request.Layers[0].Vol; after == before || after != h.At(1, 0) {
		t.Error("the views did not move to time point 1")
	}
	if !strings.Contains(u.model.Title(volume.XZ), "t 1/1") {
		t.Errorf("title %q lacks the time point", u.model.Title(volume.XZ))
	}
	u.typedRune(',')
	if u.model.Time() != 0 {
		t.Errorf("time %d after ',', want 0", u.model.Time())
	}
	if !strings.Contains(Shortcuts, ", / .") {
		t.Error("the help does not list , and .")
	}
}

// colourKey sets channel c's colour through its select.
func (u *ui) colourKey(t *testing.T, name string, c int) {
	t.Helper()
	u.chanRows[c].colour.SetSelected(name)
	if got := u.model.Channel(c).Color; colourName(got) != name {
		t.Errorf("channel %d colour %v, want %s", c, got, name)
	}
}

func TestOpenManyChannelsAsks(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	s := volume.Shape{Z: 2, Y: 4, X: 4}
	vols := [][]*volume.Volume{make([]*volume.Volume, 10)}
	for c := range vols[0] {
		v, err := volume.New(s, make([]uint8, s.Len()), volume.Voxel{Z: 2, Y: 1, X: 1, Unit: "µm", Known: true})
		if err != nil {
			t.Fatal(err)
		}
		vols[0][c] = v
	}
	many, err := volume.NewHyperstack("many.tif", vols, make([]volume.Channel, 10))
	if err != nil {
		t.Fatal(err)
	}
	open := func(string) (*volume.Hyperstack, error) { return many, nil }
	u := newUI(testVolume(t), Options{Methods: engine.Classical(nil), OpenStack: open}, w, true)
	w.SetContent(u.content)
	w.Resize(fyne.NewSize(1000, 700))
	defer u.pipe.Close()
	mu := serialise(u)
	u.open("many.tif")
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		overlays := w.Canvas().Overlays().List()
		mu.Unlock()
		if len(overlays) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if u.model.Channels() != 1 {
		t.Fatalf("a 10-channel file was shown without asking (%d channels)", u.model.Channels())
	}
	if len(w.Canvas().Overlays().List()) == 0 {
		t.Fatal("no dialog asks which channels to show")
	}
}
