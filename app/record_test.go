package app

import (
	"image/gif"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/widget"

	"github.com/niiv/niiv/viewer/movie"
	"github.com/niiv/niiv/volume"
)

func TestRecordMovie(t *testing.T) {
	u, w := newTestUI(t)
	u.active = volume.XZ
	u.recordDialog()
	preview := ""
	for _, o := range overlayObjects(t, w) {
		if l, ok := o.(*widget.Label); ok && strings.Contains(l.Text, "frames ·") {
			preview = l.Text
		}
	}
	sz := movie.FrameSize(u.model, volume.XZ, 1)
	if want := "100 frames · 4 s at 25 frames/s"; !strings.HasPrefix(preview, want) || !strings.Contains(preview, "px") {
		t.Errorf("the dialog's preview says %q, want %q and the size %v", preview, want, sz)
	}
	w.Canvas().Overlays().Top().Hide()

	tests := []struct {
		name string
		shot movie.Shot
	}{
		{"sweep", movie.ShotSweep},
		{"wipe", movie.ShotWipe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu := serialise(u)
			path := filepath.Join(t.TempDir(), "m.gif")
			mu.Lock()
			u.message.SetText("")
			rec := movie.RecordShot(u.model, volume.XZ, tc.shot, 6, 1)
			u.record(rec, 10, path)
			mu.Unlock()
			if msg := waitMessage(u, mu, "saved", 30*time.Second); !strings.HasPrefix(msg, "saved "+path+": 6 frames") {
				t.Fatalf("record: %q", msg)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			g, err := gif.DecodeAll(f)
			f.Close()
			if err != nil || len(g.Image) != 6 || g.Config.Width != rec.Size.X || g.Config.Height != rec.Size.Y {
				t.Fatalf("GIF %v: %d frames of %d×%d, want 6 of %v", err, len(g.Image), g.Config.Width, g.Config.Height, rec.Size)
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Errorf("%d files beside the movie, want none", len(entries)-1)
			}
		})
	}
}
