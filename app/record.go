package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/movie"
	"github.com/niiv/niiv/volume"
)

// movieFormats are the outputs Record… offers, MP4 only with ffmpeg.
func movieFormats() []string {
	f := []string{"GIF", "PNG frames"}
	if movie.HaveFFmpeg() {
		f = append([]string{"MP4 (H.264)"}, f...)
	}
	return f
}

// recordSettings is what the Record… dialog chose.
type recordSettings struct {
	axis    volume.Axis
	shot    movie.Shot
	seconds float64
	fps     int
	scale   float64
	format  string
}

// frames is the number of frames the settings make.
func (s recordSettings) frames() int { return max(1, int(s.seconds*float64(s.fps)+0.5)) }

// ext is the output's extension ("/" for a folder of PNG frames).
func (s recordSettings) ext() string {
	switch {
	case strings.HasPrefix(s.format, "MP4"):
		return ".mp4"
	case s.format == "GIF":
		return ".gif"
	}
	return "/"
}

// recordDialog asks for a movie of one view from its current state — a
// sweep through its planes, a zoom to the crosshair or a wipe of the split
// divider — showing its frame count, duration and size, then where to
// save it.
func (u *ui) recordDialog() {
	s := recordSettings{axis: u.active, seconds: 4, fps: 25, scale: 1}
	views := []string{"XY view", "XZ view", "YZ view"}
	view := widget.NewSelect(views, nil)
	view.SetSelected(views[s.axis])
	shot := widget.NewSelect(movie.Shots, nil)
	shot.SetSelected(movie.Shots[0])
	secs := widget.NewSelect([]string{"2", "4", "8", "15", "30"}, nil)
	secs.SetSelected("4")
	fps := widget.NewSelect([]string{"10", "15", "25", "30"}, nil)
	fps.SetSelected("25")
	scale := widget.NewSelect([]string{"1×", "2×"}, nil)
	scale.SetSelected("1×")
	format := widget.NewSelect(movieFormats(), nil)
	format.SetSelected(format.Options[0])
	preview := widget.NewLabel("")
	update := func(string) {
		s.axis = volume.Axis(max(0, view.SelectedIndex()))
		s.shot = movie.Shot(max(0, shot.SelectedIndex()))
		s.seconds, _ = strconv.ParseFloat(secs.Selected, 64)
		s.fps, _ = strconv.Atoi(fps.Selected)
		k, _ := strconv.Atoi(strings.TrimSuffix(scale.Selected, "×"))
		s.scale = float64(max(1, k))
		s.format = format.Selected
		sz := movie.FrameSize(u.model, s.axis, s.scale)
		preview.SetText(fmt.Sprintf("%d frames · %g s at %d frames/s · %d×%d px", s.frames(), s.seconds, s.fps, sz.X, sz.Y))
	}
	for _, w := range []*widget.Select{view, shot, secs, fps, scale, format} {
		w.OnChanged = update
	}
	update("")
	form := widget.NewForm(
		widget.NewFormItem("View", view),
		widget.NewFormItem("Path", shot),
		widget.NewFormItem("Seconds", secs),
		widget.NewFormItem("Frames/s", fps),
		widget.NewFormItem("Resolution", scale),
		widget.NewFormItem("Format", format),
		widget.NewFormItem("", preview),
	)
	if !movie.HaveFFmpeg() {
		form.Append("", widget.NewLabel("MP4 needs ffmpeg, which is not installed."))
	}
	d := dialog.NewCustomConfirm("Record a movie", "Save…", "Cancel", form, func(ok bool) {
		if !ok {
			return
		}
		rec := movie.RecordShot(u.model, s.axis, s.shot, s.frames(), s.scale)
		name := fmt.Sprintf("niiv-%s-%s", strings.ToLower(strings.Fields(views[s.axis])[0]), strings.ToLower(strings.Fields(movie.Shots[s.shot])[0]))
		ext := s.ext()
		if ext != "/" {
			name += ext
		}
		u.saveDialog(name, func(path string) {
			switch e := strings.ToLower(filepath.Ext(path)); {
			case e == ".gif" || e == ".mp4":
				// A name typed with a movie's extension chooses the format.
				if e == ".mp4" && !movie.HaveFFmpeg() {
					dialog.ShowError(fmt.Errorf("%s: MP4 needs ffmpeg, which is not installed: save a .gif or PNG frames", filepath.Base(path)), u.win)
					return
				}
			case ext == "/":
				path = strings.TrimSuffix(path, string(filepath.Separator)) + string(filepath.Separator)
			default:
				path += ext
			}
			u.record(rec, s.fps, path)
		})
	}, u.win)
	d.Resize(fyne.NewSize(520, d.MinSize().Height))
	d.Show()
}

// record renders a recording in the background to path (.mp4, .gif or a
// folder ending in /), with a progress bar and Cancel: a cancelled or
// failed movie leaves nothing behind.
func (u *ui) record(rec movie.Recording, fps int, path string) {
	methods := u.opts.Methods
	if !methods.Owner.Retain() { // held until the movie is written
		u.say("movie failed: the model was closed")
		return
	}
	n := len(rec.Requests)
	t := u.startTask("Record a movie", fmt.Sprintf("Rendering %d frames of %d×%d px to %s…", n, rec.Size.X, rec.Size.Y, filepath.Base(filepath.Clean(path))))
	started := u.bg.Go(func(context.Context) {
		defer t.cancel()
		defer methods.Owner.Release()
		t0 := time.Now()
		err := writeMovie(t.ctx, rec, methods, fps, path, func(k int) {
			t.progress(u, float64(k+1)/float64(n), fmt.Sprintf("frame %d of %d", k+1, n))
		})
		u.do(func() {
			t.end()
			switch {
			case errors.Is(err, context.Canceled):
				u.say("movie cancelled")
			case err != nil:
				dialog.ShowError(err, u.win)
			default:
				dt := time.Since(t0).Seconds()
				u.say("saved %s: %d frames in %.1f s (%.1f frames/s)", path, n, dt, float64(n)/dt)
			}
		})
	})
	if !started {
		t.end()
		methods.Owner.Release()
	}
}

// writeMovie renders rec's frames with methods and writes them to path at
// fps (movie.Write); done is called after frame k is written.
func writeMovie(ctx context.Context, rec movie.Recording, methods viewer.Methods, fps int, path string, done func(k int)) error {
	kind, err := movie.OutputKind(path)
	if err != nil {
		return err
	}
	// Gray frames unless something draws colour: a colormap, the
	// crosshair, the split's divider, a composite of channels.
	r := rec.Requests[0]
	gray := r.Style.Map == nil && r.Cross == nil && r.Mode != viewer.Split && len(r.Layers) == 0
	newRenderer := func() movie.FrameFunc { return rec.Renderer(methods) }
	return movie.Write(ctx, kind, path, rec.Size, fps, gray, len(rec.Requests), movie.Workers(), newRenderer, done)
}
