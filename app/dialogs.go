package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct/adapt"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
)

// Shortcuts is the help text listing mouse and keyboard controls.
const Shortcuts = `Mouse
  click              move the crosshair (XZ/YZ: z may fall between slices)
  wheel              step slices (Shift ×10, Alt: one isotropic step in XY)
  Ctrl+wheel         zoom about the cursor
  drag               pan
  right-drag         window/level (horizontal: level, vertical: width)
  drag the divider   move the split (Split mode)
  double-click       fit the view

Keys (act on the view under the mouse)
  ← ↓ / → ↑          previous / next slice (Alt: isotropic step)
  PageDown / PageUp  10 slices
  + / −              zoom
  1 … 5              nearest, linear, niiv, difference, split
  , / .              previous / next time point (a time series)
  C                  centre the views on the crosshair
  A / I / M / X      auto contrast / invert / next colormap / crosshair on-off
  R                  reset views and crosshair
  S                  save a screenshot of the layout
  ?                  this help

Files can be opened with Open…, on the command line, or dropped on the window.`

func (u *ui) showHelp() {
	l := widget.NewLabel(Shortcuts)
	l.TextStyle.Monospace = true
	dialog.ShowCustom("niiv shortcuts", "Close", l, u.win)
}

func (u *ui) openDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			dialog.ShowError(err, u.win)
			return
		}
		if r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		u.open(chunkedImage(path))
	}, u.win)
	d.SetFilter(storage.NewExtensionFileFilter(openExtensions))
	u.startIn(d)
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// openExtensions are the files Open… lists: the volumes niiv reads, and the
// metadata files of Zarr and N5 images (folders, which a file dialog cannot
// pick: choosing one opens its image).
var openExtensions = func() []string {
	ext := []string{".npy", ".npz", ".tif", ".tiff", ".mrc", ".mrcs", ".rec", ".map", ".st",
		".h5", ".hdf5", ".hdf", ".he5", ".zattrs", ".zgroup", ".zarray", ".json"}
	for _, e := range ext[:len(ext)-4] {
		ext = append(ext, strings.ToUpper(e))
	}
	return ext
}()

// chunkedImage returns the folder of a Zarr or N5 image when path is one of
// its metadata files (.zattrs, .zgroup, .zarray, zarr.json,
// attributes.json), else path.
func chunkedImage(path string) string {
	switch filepath.Base(path) {
	case ".zattrs", ".zgroup", ".zarray", "zarr.json", "attributes.json":
		return filepath.Dir(path)
	}
	return path
}

// startIn opens a file dialog in the folder of the open file (else the
// current folder), not the home folder.
func (u *ui) startIn(d *dialog.FileDialog) {
	dir := "."
	if u.opts.Path != "" {
		dir = filepath.Dir(u.opts.Path)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	if l, err := storage.ListerForURI(storage.NewFileURI(abs)); err == nil {
		d.SetLocation(l)
	}
}

// open loads path in the background, asks for the voxel size when the file
// has none, and shows the volume.
func (u *ui) open(path string) {
	if u.opts.Open == nil && u.opts.OpenStack == nil {
		u.say("opening files is not available")
		return
	}
	u.say("opening %s…", filepath.Base(path))
	u.bg.Go(func(ctx context.Context) {
		var h *volume.Hyperstack
		var err error
		if u.opts.OpenStack != nil {
			h, err = u.opts.OpenStack(path)
		} else {
			var vol *volume.Volume
			if vol, err = u.opts.Open(path); err == nil {
				h = volume.Single(vol)
			}
		}
		if err == nil && h.Channels() <= volume.MaxShown {
			// Computed once, here rather than on the UI goroutine.
			for c := range h.Channels() {
				h.At(0, c).Stats()
			}
		}
		if ctx.Err() != nil {
			return // the window closed meanwhile
		}
		u.do(func() {
			if u.closing.Load() {
				return
			}
			if err != nil {
				u.sayModel() // the volume and model shown are unchanged
				dialog.ShowError(fmt.Errorf("open %s: %w", filepath.Base(path), err), u.win)
				return
			}
			show := func(h *volume.Hyperstack) {
				v := h.At(0, 0)
				u.model.SetStack(h)
				u.warmStats(h)
				u.cursor.SetText("") // the old volume's voxel
				u.opts.Path = path
				u.sayModel() // the Adapt button follows the path
				u.useRemembered(v, path, func() {
					if u.opts.Adapted != "" {
						u.say("opened %s · niiv: %s (adapted to this volume)", filepath.Base(path), u.opts.Methods.Niiv.Name())
					} else {
						u.say("opened %s", filepath.Base(path))
					}
				})
			}
			withVoxel := func(h *volume.Hyperstack) {
				if vol := h.At(0, 0); !vol.Voxel.Known {
					u.askVoxel(vol, func(v *volume.Volume) { h.SetVoxel(v.Voxel); show(h) })
					return
				}
				show(h)
			}
			if h.Channels() > volume.MaxShown {
				u.chooseChannels(h, func(sel *volume.Hyperstack) {
					// Statistics for the chosen channels, off the UI goroutine.
					u.bg.Go(func(ctx context.Context) {
						for c := range sel.Channels() {
							sel.At(0, c).Stats()
						}
						u.do(func() {
							if !u.closing.Load() {
								withVoxel(sel)
							}
						})
					})
				})
				return
			}
			withVoxel(h)
		})
	})
}

// askVoxel asks for the voxel size of a volume whose file has none, showing
// the anisotropy it implies, as Fiji's Properties dialog does; then calls
// done with the volume.
func (u *ui) askVoxel(vol *volume.Volume, done func(*volume.Volume)) {
	v := vol.Voxel
	if !v.Known {
		v = volume.Voxel{Z: 1, Y: 1, X: 1, Unit: "nm"}
	}
	z, y, x := widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	z.SetText(strconv.FormatFloat(v.Z, 'g', -1, 64))
	y.SetText(strconv.FormatFloat(v.Y, 'g', -1, 64))
	x.SetText(strconv.FormatFloat(v.X, 'g', -1, 64))
	unit := widget.NewSelect([]string{"nm", "µm", "mm"}, nil)
	unit.SetSelected(v.Unit)
	if unit.Selected == "" {
		unit.SetSelected("nm")
	}
	aniso := widget.NewLabel("")
	var d *dialog.CustomDialog
	finish := func() {
		d.Hide()
		done(vol)
		u.model.Reset()
		u.syncControls(viewer.ChangeVolume)
		u.submit()
	}
	var use *widget.Button
	parse := func() (volume.Voxel, error) {
		var vals [3]float64
		for i, e := range []*widget.Entry{z, y, x} {
			f, err := strconv.ParseFloat(strings.TrimSpace(e.Text), 64)
			if err != nil || !(f > 0) {
				return volume.Voxel{}, fmt.Errorf("%q is not a positive size", e.Text)
			}
			vals[i] = f
		}
		return volume.Voxel{Z: vals[0], Y: vals[1], X: vals[2], Unit: unit.Selected, Known: true}, nil
	}
	update := func(string) {
		nv, err := parse()
		if err != nil {
			aniso.SetText(err.Error())
			use.Disable() // Use takes only a valid size
			return
		}
		use.Enable()
		aniso.SetText(fmt.Sprintf("anisotropy %.3g× (z / xy)", nv.Anisotropy()))
	}
	use = widget.NewButtonWithIcon("Use", theme.ConfirmIcon(), func() {
		nv, err := parse()
		if err != nil {
			return
		}
		vol.Voxel = nv
		finish()
	})
	use.Importance = widget.HighImportance
	keep := widget.NewButtonWithIcon("Keep 1×1×1", theme.CancelIcon(), finish)
	for _, e := range []*widget.Entry{z, y, x} {
		e.OnChanged = update
	}
	unit.OnChanged = update
	update("")
	form := widget.NewForm(
		widget.NewFormItem("z (slice spacing)", z),
		widget.NewFormItem("y", y),
		widget.NewFormItem("x", x),
		widget.NewFormItem("unit", unit),
	)
	msg := widget.NewLabel(fmt.Sprintf("%s has no voxel size. niiv needs it to show\nXZ and YZ at their physical aspect.", vol.Name))
	d = dialog.NewCustomWithoutButtons("Voxel size", container.NewVBox(msg, form, aniso), u.win)
	d.SetButtons([]fyne.CanvasObject{keep, use})
	d.Show()
}

// screenshotDialog asks what to save (layout or one view), at which
// multiple of the screen resolution, and with which caption.
func (u *ui) screenshotDialog() {
	what := widget.NewSelect([]string{"Layout", "XY view", "XZ view", "YZ view"}, nil)
	what.SetSelected("Layout")
	scale := widget.NewSelect([]string{"1×", "2×", "3×", "4×"}, nil)
	scale.SetSelected("1×")
	caption := widget.NewEntry()
	caption.SetPlaceHolder("caption (optional)")
	caption.SetText(fmt.Sprintf("%s · %v", u.name(), u.model.Mode()))
	form := widget.NewForm(
		widget.NewFormItem("Save", what),
		widget.NewFormItem("Resolution", scale),
		widget.NewFormItem("Caption", caption),
	)
	d := dialog.NewCustomConfirm("Screenshot", "Save…", "Cancel", form, func(ok bool) {
		if !ok {
			return
		}
		k, _ := strconv.Atoi(strings.TrimSuffix(scale.Selected, "×"))
		axis := -1
		switch what.Selected {
		case "XY view":
			axis = int(volume.XY)
		case "XZ view":
			axis = int(volume.XZ)
		case "YZ view":
			axis = int(volume.YZ)
		}
		old := ""
		u.model.SetCaption(caption.Text)
		snap := u.model.Snapshot(float64(max(1, k)))
		u.model.SetCaption(old)
		u.saveDialog("niiv-figure.png", func(path string) {
			if !strings.HasSuffix(strings.ToLower(path), ".png") {
				path += ".png"
			}
			u.saveSnapshot(snap, axis, path)
		})
	}, u.win)
	d.Resize(fyne.NewSize(560, d.MinSize().Height)) // room for the caption
	d.Show()
}

// exportDialog reconstructs the whole isotropic volume (niiv when a model is
// loaded, else linear) with a progress bar and Cancel, and saves it.
func (u *ui) exportDialog() {
	r := u.opts.Methods.Niiv
	if r == nil {
		r = u.opts.Methods.Linear
	}
	if r == nil {
		u.say("no reconstruction method available")
		return
	}
	vol := u.model.Volume()
	base := strings.TrimSuffix(filepath.Base(vol.Name), filepath.Ext(vol.Name))
	if base == "" || strings.ContainsAny(base, " (") {
		base = "volume"
	}
	u.saveDialog(base+"-isotropic.tif", func(path string) { u.export(vol, r, path) })
}

// saveDialog asks where to save, proposing name, and calls save with the
// chosen path. Fyne's save dialog creates the chosen file; an empty one is
// removed again here, since every niiv writer writes through a temporary
// file and a rename, so that a cancelled or failed save leaves nothing.
func (u *ui) saveDialog(name string, save func(path string)) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, u.win)
			return
		}
		if w == nil {
			return
		}
		path := w.URI().Path()
		w.Close()
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
			os.Remove(path)
		}
		save(path)
	}, u.win)
	d.SetFileName(name)
	u.startIn(d)
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// task is a long operation's dialog: what it does, a progress bar, a
// status line and Cancel, which cancels ctx.
type task struct {
	ctx    context.Context
	cancel context.CancelFunc
	label  *widget.Label // what the task does; stays
	status *widget.Label // how far it is (step, loss, time)
	bar    *widget.ProgressBar
	d      dialog.Dialog

	mu   sync.Mutex
	last time.Time
}

// startTask shows a task's dialog.
func (u *ui) startTask(title, text string) *task {
	t := &task{label: widget.NewLabel(text), status: widget.NewLabel(""), bar: widget.NewProgressBar()}
	t.label.Wrapping = fyne.TextWrapWord
	t.ctx, t.cancel = context.WithCancel(u.bg.ctx) // closing the window cancels it
	t.d = dialog.NewCustomWithoutButtons(title, container.NewVBox(t.label, t.bar, t.status,
		widget.NewButton("Cancel", t.cancel)), u.win)
	t.d.Resize(fyne.NewSize(460, 200))
	t.d.Show()
	return t
}

// progress shows the fraction f done and, unless text is "", a new label.
// It may be called from any goroutine; updates come at most ten times a
// second, except the last (f ≥ 1).
func (t *task) progress(u *ui, f float64, text string) {
	t.mu.Lock()
	now := time.Now()
	if f < 1 && now.Sub(t.last) < 100*time.Millisecond {
		t.mu.Unlock()
		return
	}
	t.last = now
	t.mu.Unlock()
	u.do(func() {
		t.bar.SetValue(f)
		if text != "" {
			t.status.SetText(text)
		}
	})
}

// end hides the dialog and releases its context (on the UI goroutine).
func (t *task) end() {
	t.d.Hide()
	t.cancel()
}

// export runs the reconstruction in the background, showing progress.
func (u *ui) export(vol *volume.Volume, r viewer.Renderer, path string) {
	owner := u.opts.Methods.Owner
	if !owner.Retain() { // the export holds r's model until it ends
		u.say("export failed: the model was closed")
		return
	}
	t := u.startTask("Export isotropic volume", fmt.Sprintf("Reconstructing %s with %s…", filepath.Base(path), r.Name()))
	progress := func(done, total int) { // called from the reconstruction's goroutines
		t.progress(u, float64(done)/float64(max(1, total)), "")
	}
	started := u.bg.Go(func(context.Context) {
		defer t.cancel()
		defer owner.Release()
		t0 := time.Now()
		out, err := engine.Isotropic(t.ctx, r, vol, progress)
		if err == nil {
			err = volio.Save(path, out)
		}
		u.do(func() {
			t.end()
			switch {
			case errors.Is(err, context.Canceled):
				u.say("export cancelled")
			case err != nil:
				dialog.ShowError(err, u.win)
			default:
				u.say("saved %s: %v in %.1f s", path, out.Shape(), time.Since(t0).Seconds())
			}
		})
	})
	if !started {
		t.end()
		owner.Release()
	}
}

// adaptModel fine-tunes the model's decoder on the shown volume in the
// background (engine.AdaptModel), with a progress bar and Cancel; when it
// is ready, the views switch to the adapted model, which is saved where
// the next opening of the file finds it.
func (u *ui) adaptModel() {
	if u.opts.Methods.Niiv == nil || u.opts.Path == "" {
		u.say("adapting needs a loaded model and the volume's file")
		return
	}
	vol, path, eo := u.model.Volume(), u.opts.Path, u.opts.Engine
	opt := u.opts.Adapt
	t := u.startTask("Adapt to this volume", fmt.Sprintf("Training %s on the xy planes of %s; some planes are held out to check it…",
		engine.ParentName(eo), filepath.Base(path)))
	opt.Progress = func(p adapt.Progress) {
		f := 0.0
		if p.Budget > 0 {
			f = min(1, float64(p.Elapsed)/float64(p.Budget))
		} else if opt.Steps > 0 {
			f = min(1, float64(p.Step)/float64(opt.Steps))
		}
		status := fmt.Sprintf("step %d · loss %.4f · %.0f s", p.Step, p.Loss, p.Elapsed.Seconds())
		if !math.IsNaN(p.Lateral) && !math.IsInf(p.Lateral, 0) {
			status += fmt.Sprintf(" · held-out planes %.2f dB", p.Lateral)
		}
		if f > 0.02 && f < 1 {
			status += fmt.Sprintf(" · about %.0f s left", p.Elapsed.Seconds()*(1-f)/f)
		}
		t.progress(u, f, status)
	}
	u.say("adapting %s to %s…", engine.ParentName(eo), filepath.Base(path))
	started := u.bg.Go(func(context.Context) {
		defer t.cancel()
		dir, res, err := engine.AdaptModel(t.ctx, eo, path, vol, opt)
		var ms viewer.Methods
		closeModel := func() {}
		if err == nil {
			lo := eo
			lo.Model = dir
			ms, closeModel, _ = engine.Load(t.ctx, lo)
			if ms.Niiv == nil {
				err = fmt.Errorf("load the adapted model %s: %w", dir, ms.NiivError)
			}
		}
		if t.ctx.Err() != nil && err == nil { // the window closed after the adaptation ended
			closeModel()
			return
		}
		u.do(func() {
			if u.closing.Load() {
				closeModel()
				return
			}
			t.end()
			switch {
			case errors.Is(err, context.Canceled):
				u.say("adaptation cancelled")
			case err != nil:
				u.say("adaptation failed")
				dialog.ShowError(err, u.win)
			case u.model.Volume() != vol: // another volume was opened meanwhile
				closeModel()
				u.say("adapted model saved in %s: %s", filepath.Base(dir), res.Summary())
			default:
				u.setMethods(ms, dir)
				u.say("%s · %s", u.message.Text, res.Summary())
			}
		})
	})
	if !started {
		t.end()
	}
}

// setMethods switches the views to new methods (adapted: the folder of
// their adapted model, or ""), with a new pipeline. The window takes over
// the caller's hold on ms.Owner (the one engine.Load returns). The old
// pipeline is closed in the background, and the old models close once
// nothing renders with them any more (an export in flight finishes with
// them first).
func (u *ui) setMethods(ms viewer.Methods, adapted string) {
	old, oldPipe := u.opts.Methods, u.pipe
	u.opts.Methods, u.opts.Adapted = ms, adapted
	u.pipe = viewer.NewPipeline(ms, u.deliver, u.synchronous)
	release := func(context.Context) {
		oldPipe.Close()
		old.Owner.Release()
	}
	if u.synchronous || !u.bg.Go(release) {
		release(nil)
	}
	u.sayModel()
	u.submit()
}

// useRemembered switches niiv, in the background, to the model adapted to
// vol (read from path) by an earlier run, or back to the parent model when
// vol has none and an adapted one is in use; done runs afterwards on the UI
// goroutine. An adapted model that no longer loads (its folder removed or
// replaced) is reported, and the parent model is used instead.
func (u *ui) useRemembered(vol *volume.Volume, path string, done func()) {
	if u.opts.Methods.Niiv == nil && u.opts.Adapted == "" { // no model at all
		done()
		return
	}
	eo, current := u.opts.Engine, u.opts.Adapted
	u.bg.Go(func(ctx context.Context) {
		dir, _ := engine.Remembered(eo, path, vol)
		ms, closeModel := viewer.Methods{}, func() {}
		var failed error
		if dir != current {
			lo := eo
			if dir != "" {
				lo.Model = dir
			}
			ms, closeModel, _ = engine.Load(ctx, lo)
			if ms.Niiv == nil && dir != "" {
				failed = fmt.Errorf("the model adapted to %s does not load (%v); using %s", filepath.Base(path), ms.NiivError, engine.ParentName(eo))
				closeModel()
				ms, closeModel, dir = viewer.Methods{}, func() {}, ""
				if current != "" {
					ms, closeModel, _ = engine.Load(ctx, eo)
				}
			}
		}
		if ctx.Err() != nil { // the window closed meanwhile
			closeModel()
			return
		}
		u.do(func() {
			if u.closing.Load() {
				closeModel()
				return
			}
			if dir != current && u.model.Volume() == vol {
				u.setMethods(ms, dir) // linear, saying why, if the parent fails too
			} else {
				closeModel()
			}
			done()
			if failed != nil {
				u.say("%v", failed)
			}
		})
	})
}
