package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	volio "github.com/niiv/niiv/io"
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
		u.open(path)
	}, u.win)
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// open loads path in the background, asks for the voxel size when the file
// has none, and shows the volume.
func (u *ui) open(path string) {
	if u.opts.Open == nil {
		u.say("opening files is not available")
		return
	}
	u.say("opening %s…", filepath.Base(path))
	go func() {
		vol, err := u.opts.Open(path)
		if err == nil {
			vol.Stats() // computed once, here rather than on the UI goroutine
		}
		u.do(func() {
			if err != nil {
				u.say("")
				dialog.ShowError(fmt.Errorf("open %s: %w", filepath.Base(path), err), u.win)
				return
			}
			show := func(v *volume.Volume) {
				u.model.SetVolume(v)
				u.say("opened %s", filepath.Base(path))
			}
			if !vol.Voxel.Known {
				u.askVoxel(vol, show)
				return
			}
			show(vol)
		})
	}()
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
			return
		}
		aniso.SetText(fmt.Sprintf("anisotropy %.3g× (z / xy)", nv.Anisotropy()))
	}
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
	dialog.ShowCustomConfirm("Voxel size", "Use", "Keep 1×1×1", container.NewVBox(msg, form, aniso), func(ok bool) {
		if ok {
			if nv, err := parse(); err == nil {
				vol.Voxel = nv
			}
		}
		done(vol)
		u.model.Reset()
		u.syncControls(viewer.ChangeVolume)
		u.submit()
	}, u.win)
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
	caption.SetText(fmt.Sprintf("%s · %v", u.model.Volume().Name, u.model.Mode()))
	form := widget.NewForm(
		widget.NewFormItem("Save", what),
		widget.NewFormItem("Resolution", scale),
		widget.NewFormItem("Caption", caption),
	)
	dialog.ShowCustomConfirm("Screenshot", "Save…", "Cancel", form, func(ok bool) {
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
		save := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
			if err != nil {
				dialog.ShowError(err, u.win)
				return
			}
			if w == nil {
				return
			}
			path := w.URI().Path()
			w.Close()
			if !strings.HasSuffix(strings.ToLower(path), ".png") {
				path += ".png"
			}
			u.saveSnapshot(snap, axis, path)
		}, u.win)
		save.SetFileName("niiv-figure.png")
		save.Resize(fyne.NewSize(800, 560))
		save.Show()
	}, u.win)
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
	save := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, u.win)
			return
		}
		if w == nil {
			return
		}
		path := w.URI().Path()
		w.Close()
		u.export(vol, r, path)
	}, u.win)
	base := strings.TrimSuffix(filepath.Base(vol.Name), filepath.Ext(vol.Name))
	if base == "" || strings.ContainsAny(base, " (") {
		base = "volume"
	}
	save.SetFileName(base + "-isotropic.tif")
	save.Resize(fyne.NewSize(800, 560))
	save.Show()
}

// export runs the reconstruction in the background, showing progress.
func (u *ui) export(vol *volume.Volume, r viewer.Renderer, path string) {
	ctx, cancel := context.WithCancel(context.Background())
	bar := widget.NewProgressBar()
	label := widget.NewLabel(fmt.Sprintf("Reconstructing %s with %s…", filepath.Base(path), r.Name()))
	d := dialog.NewCustomWithoutButtons("Export isotropic volume", container.NewVBox(label, bar,
		widget.NewButton("Cancel", cancel)), u.win)
	d.Resize(fyne.NewSize(460, 160))
	d.Show()
	var mu sync.Mutex
	var last time.Time
	progress := func(done, total int) { // called from the reconstruction's goroutines
		mu.Lock()
		now := time.Now()
		if done < total && now.Sub(last) < 100*time.Millisecond {
			mu.Unlock()
			return
		}
		last = now
		mu.Unlock()
		u.do(func() { bar.SetValue(float64(done) / float64(max(1, total))) })
	}
	go func() {
		defer cancel()
		t0 := time.Now()
		out, err := engine.Isotropic(ctx, r, vol, progress)
		if err == nil {
			err = volio.Save(path, out)
		}
		u.do(func() {
			d.Hide()
			switch {
			case errors.Is(err, context.Canceled):
				u.say("export cancelled")
			case err != nil:
				dialog.ShowError(err, u.win)
			default:
				u.say("saved %s: %v in %.1f s", filepath.Base(path), out.Shape(), time.Since(t0).Seconds())
			}
		})
	}()
}
