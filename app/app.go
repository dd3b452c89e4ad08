// Package app is niiv's desktop viewer: three linked orthogonal views and a
// control panel in a Fyne window. It only wires widgets to the headless
// viewer model (package viewer) and shows the frames its pipeline
// finishes; all numeric work lives in the headless packages. It is the only
// package that imports Fyne.
package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/niiv/niiv/internal/atomicfile"
	_ "github.com/niiv/niiv/internal/locale" // before Fyne reads the locale
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/adapt"
	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
)

// Options configure the viewer window.
type Options struct {
	// Methods decode the frames (see viewer/engine).
	Methods viewer.Methods
	// Open loads a volume from a path (a file, folder or "sample"); the
	// window's Open dialog and drag-and-drop use it.
	Open func(path string) (*volume.Volume, error)
	// OpenStack, when set, is used instead of Open: it loads every channel
	// and time point of a file (a file of one volume is volume.Single).
	OpenStack func(path string) (*volume.Hyperstack, error)
	// Size is the initial window size in Fyne units (0: 1280×900).
	Size fyne.Size
	// ScreenshotDir is where S saves screenshots ("" = current directory).
	ScreenshotDir string
	// Mode is the initial display mode.
	Mode viewer.Mode
	// Time is the time point shown first.
	Time int
	// Path is the file the volume was read from; "Adapt to this volume"
	// and the adapted models remembered for a file need it ("" turns
	// adaptation off).
	Path string
	// Engine names the model Methods.Niiv was loaded from (the parent of
	// adapted models) and how models are loaded.
	Engine engine.Options
	// Adapted is the folder of the adapted model Methods.Niiv uses, ""
	// when it uses the model Engine names.
	Adapted string
	// Adapt configures "Adapt to this volume" (zero values: adapt's
	// defaults, a 60 s budget).
	Adapt adapt.Options
}

// Run opens a window on vol and blocks until it is closed or ctx is
// cancelled (Ctrl-C or SIGTERM in the terminal that started it). It returns
// an error wrapping ErrNoDisplay when no window can be opened.
func Run(ctx context.Context, vol *volume.Volume, o Options) (err error) {
	return RunStack(ctx, volume.Single(vol), o)
}

// RunStack is Run on a hyperstack: several channels are shown as a colour
// composite with a channel panel, several time points with a time slider.
func RunStack(ctx context.Context, h *volume.Hyperstack, o Options) (err error) {
	if err := CheckDisplay(); err != nil {
		return err
	}
	var started atomic.Bool // the window system is up: later panics are bugs
	defer windowPanic(&err, &started)
	a := fyneapp.NewWithID("io.github.niiv.viewer") // as in FyneApp.toml
	a.Lifecycle().SetOnStarted(func() { started.Store(true) })
	w := a.NewWindow("niiv")
	u := newStackUI(h, o, w, false)
	w.SetContent(u.content)
	size := o.Size
	if size.Width == 0 {
		size = fyne.NewSize(1280, 900)
	}
	w.Resize(size)
	u.bindWindow()
	if vol := h.At(0, 0); !vol.Voxel.Known {
		u.askVoxel(vol, func(v *volume.Volume) { h.SetVoxel(v.Voxel) })
	}
	stop := context.AfterFunc(ctx, func() { fyne.Do(a.Quit) })
	u.bg.Go(u.keepAlive)
	w.ShowAndRun()
	stop()
	return u.close()
}

// closeWait bounds how long closing the window waits for the work in
// progress (decodes, exports, adaptation, loading) to stop.
const closeWait = 2 * time.Second

// close stops the window's work: background tasks and decodes are
// cancelled and waited for (up to closeWait in all), then the window's
// hold on its models is released. It returns an error naming what was
// still running.
func (u *ui) close() error {
	t0 := time.Now()
	u.closing.Store(true)
	left := u.bg.stop(closeWait)
	perr := u.pipe.Close()
	u.opts.Methods.Owner.Release()
	if left > 0 {
		return fmt.Errorf("app: %d background tasks still running %v after the window closed", left, time.Since(t0).Round(time.Millisecond))
	}
	return perr
}

// ui ties the model, the pipeline and the widgets together.
type ui struct {
	model   *viewer.Model
	pipe    *viewer.Pipeline
	opts    Options
	win     fyne.Window
	views   [3]*view
	active  volume.Axis
	content fyne.CanvasObject
	mods    fyne.KeyModifier // extra modifiers (tests set them)
	// do runs f on the UI goroutine: fyne.Do (tests substitute a lock,
	// as Fyne's test driver runs f on the caller's goroutine).
	do      func(f func())
	syncing bool // true while controls are set from the model

	deliver     func(viewer.Frame) // hands finished frames to the views
	synchronous bool
	// bg runs the window's background work; closing the window cancels
	// and waits for it.
	bg      *background
	closing atomic.Bool // set when the window closes

	// controls
	info      *widget.Label
	position  *widget.Label
	cursor    *widget.Label
	modeSel   *widget.Select
	splitL    *widget.Select
	splitR    *widget.Select
	zoom      *widget.Slider
	zoomLabel *widget.Label
	lo, hi    *widget.Slider
	loLabel   *widget.Label
	gamma     *widget.Slider
	invert    *widget.Check
	cmap      *widget.Select
	cross     *widget.Check
	hist      *canvas.Image
	// channel panel (shown for several channels) and time slider (for
	// several time points)
	chanBox   *fyne.Container
	chanRows  []channelRow
	timeBox   *fyne.Container
	timeSl    *widget.Slider
	timeLabel *widget.Label
	message   *widget.Label
	adaptBtn  *widget.Button
	modelSel  *widget.Select
}

var modeLabels = []string{"1 Nearest", "2 Linear", "3 niiv", "4 Difference", "5 Split"}

// newUI builds the widgets. A synchronous ui renders frames inside the
// calls that change the model (for tests).
func newUI(vol *volume.Volume, o Options, w fyne.Window, synchronous bool) *ui {
	return newStackUI(volume.Single(vol), o, w, synchronous)
}

// newStackUI is newUI on a hyperstack.
func newStackUI(h *volume.Hyperstack, o Options, w fyne.Window, synchronous bool) *ui {
	u := &ui{model: viewer.NewStack(h), opts: o, win: w, do: fyne.Do, synchronous: synchronous, bg: newBackground()}
	// The window holds its methods' models while it shows them (released
	// when another model replaces them or the window closes).
	if !o.Methods.Owner.Retain() {
		u.opts.Methods = engine.Classical(fmt.Errorf("the model was closed before the window opened"))
	}
	u.model.SetMode(o.Mode)
	u.model.SetTime(o.Time)
	u.deliver = func(f viewer.Frame) { u.do(func() { u.views[f.Request.Axis].show(f) }) }
	if synchronous {
		u.deliver = func(f viewer.Frame) { u.views[f.Request.Axis].show(f) }
	}
	u.pipe = viewer.NewPipeline(o.Methods, u.deliver, synchronous)
	for i, a := range viewer.Views {
		u.views[i] = newView(u, a)
	}
	u.setActive(volume.XY)
	panel := u.buildPanel()
	u.content = container.NewGridWithColumns(2, u.views[volume.XY], u.views[volume.XZ], u.views[volume.YZ], panel)
	u.model.OnChange(u.changed)
	u.warmStats(h)
	u.sayModel()
	u.syncControls(viewer.ChangeVolume | viewer.ChangeContrast | viewer.ChangeMode | viewer.ChangeView | viewer.ChangeCrosshair | viewer.ChangeChannels | viewer.ChangeTime)
	return u
}

// sayModel shows which model the niiv mode uses.
func (u *ui) sayModel() {
	ms := u.opts.Methods
	if ms.Niiv == nil {
		reason := "no model loaded"
		if ms.NiivError != nil {
			reason = ms.NiivError.Error()
		}
		u.say("niiv unavailable, linear shown: %s", reason)
	} else if u.opts.Adapted != "" {
		u.say("niiv: %s (adapted to this volume)", ms.Niiv.Name())
	} else {
		u.say("niiv: %s", ms.Niiv.Name())
	}
	if ms.Colour != nil {
		u.say("%s · frames coloured with OpenGL", u.message.Text)
	}
	if u.adaptBtn != nil {
		if ms.Niiv == nil || u.opts.Path == "" {
			u.adaptBtn.Disable()
		} else {
			u.adaptBtn.Enable()
		}
	}
}

// changed reacts to a model change: new requests for the views (the
// worker's cache makes unchanged decodes free) and controls brought in line.
func (u *ui) changed(c viewer.Change) {
	u.submit()
	u.syncControls(c)
}

func (u *ui) submit() {
	for _, a := range viewer.Views {
		u.pipe.Submit(u.model.Request(a, 1))
	}
}

func (u *ui) buildPanel() fyne.CanvasObject {
	u.info = widget.NewLabel("")
	u.info.Wrapping = fyne.TextWrapWord
	u.position = widget.NewLabel("")
	u.position.Truncation = fyne.TextTruncateEllipsis
	u.cursor = widget.NewLabel("")
	u.cursor.Truncation = fyne.TextTruncateEllipsis
	u.message = widget.NewLabel("")
	u.message.Wrapping = fyne.TextWrapWord // paths and model names in full

	// A select rather than five radio buttons in a row, so that the panel
	// fits beside the views on a laptop screen; keys 1–5 switch too.
	u.modeSel = widget.NewSelect(modeLabels, func(s string) {
		if u.syncing {
			return
		}
		for i, l := range modeLabels {
			if l == s {
				u.model.SetMode(viewer.Modes[i])
			}
		}
	})
	sides := []string{"nearest", "linear", "niiv"}
	setSplit := func(string) {
		if u.syncing {
			return
		}
		l, _ := viewer.ParseMode(u.splitL.Selected)
		r, _ := viewer.ParseMode(u.splitR.Selected)
		_, _, f := u.model.SplitModes()
		u.model.SetSplit(l, r, f)
	}
	u.splitL = widget.NewSelect(sides, setSplit)
	u.splitR = widget.NewSelect(sides, setSplit)

	u.zoomLabel = widget.NewLabel("")
	u.zoom = widget.NewSlider(math.Log2(viewer.MinZoom), math.Log2(viewer.MaxZoom))
	u.zoom.Step = 0.05
	u.zoom.OnChanged = func(v float64) {
		if u.syncing {
			return
		}
		for _, a := range viewer.Views {
			u.model.ZoomAtCrosshair(a, math.Pow(2, v))
		}
	}

	u.loLabel = widget.NewLabel("")
	u.loLabel.Wrapping = fyne.TextWrapWord
	u.lo = widget.NewSlider(0, 1)
	u.hi = widget.NewSlider(0, 1)
	for _, s := range []*widget.Slider{u.lo, u.hi} {
		s.Step = 0.001
	}
	u.lo.OnChanged = func(v float64) {
		if !u.syncing {
			u.setWindow(v, -1)
		}
	}
	u.hi.OnChanged = func(v float64) {
		if !u.syncing {
			u.setWindow(-1, v)
		}
	}
	auto := widget.NewButton("Auto", func() { u.model.AutoContrast() })
	u.gamma = widget.NewSlider(-2, 2) // log2 γ
	u.gamma.Step = 0.05
	u.gamma.OnChanged = func(v float64) {
		if u.syncing {
			return
		}
		c := u.model.Contrast()
		c.Gamma = math.Round(math.Pow(2, v)*100) / 100
		u.model.SetContrast(c)
	}
	u.invert = widget.NewCheck("Invert", func(b bool) {
		if u.syncing {
			return
		}
		c := u.model.Contrast()
		c.Invert = b
		u.model.SetContrast(c)
	})
	u.cmap = widget.NewSelect(render.Colormaps(), func(s string) {
		if u.syncing {
			return
		}
		c := u.model.Contrast()
		c.Colormap = s
		u.model.SetContrast(c)
	})
	u.cross = widget.NewCheck("Crosshair", func(b bool) {
		if !u.syncing {
			u.model.ShowCrosshair(b)
		}
	})
	u.chanBox = container.NewVBox()
	u.timeLabel = widget.NewLabel("")
	u.timeSl = widget.NewSlider(0, 1)
	u.timeSl.Step = 1
	u.timeSl.OnChanged = func(v float64) {
		if !u.syncing {
			u.model.SetTime(int(math.Round(v)))
		}
	}
	u.timeBox = container.NewBorder(nil, nil, widget.NewLabel("Time"), u.timeLabel, u.timeSl)
	u.hist = canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 1, 1)))
	u.hist.FillMode = canvas.ImageFillStretch
	u.hist.SetMinSize(fyne.NewSize(240, 90))

	open := widget.NewButton("Open…", u.openDialog)
	shot := widget.NewButton("Screenshot…", u.screenshotDialog)
	record := widget.NewButton("Record…", u.recordDialog)
	help := widget.NewButton("?", u.showHelp)
	export := widget.NewButton("Export isotropic…", u.exportDialog)
	u.adaptBtn = widget.NewButton("Adapt to this volume", u.adaptModel)
	if u.opts.Methods.Niiv == nil || u.opts.Path == "" {
		u.adaptBtn.Disable()
	}
	// The shipped models, to switch between (lite to follow the mouse,
	// paper for figures); a model folder given on the command line shows
	// as no selection.
	u.modelSel = widget.NewSelect(reconstruct.EmbeddedNames(u.opts.Engine.Embedded), nil)
	u.modelSel.PlaceHolder = "(model folder)"
	if len(u.modelSel.Options) == 0 {
		u.modelSel.PlaceHolder = "(none shipped)"
		u.modelSel.Disable()
	}
	if cur := engine.ParentName(u.opts.Engine); slices.Contains(u.modelSel.Options, cur) {
		u.modelSel.Selected = cur
	}
	u.modelSel.OnChanged = u.chooseModel

	row := func(label string, o fyne.CanvasObject, right fyne.CanvasObject) fyne.CanvasObject {
		return container.NewBorder(nil, nil, widget.NewLabel(label), right, o)
	}
	return container.NewScroll(container.NewVBox(
		// Rows narrow enough for half of a laptop screen.
		container.NewHBox(open, shot, record, export, help),
		container.NewBorder(nil, nil, container.NewVBox(u.adaptBtn), nil, u.message), // the button keeps its height
		u.info,
		container.NewGridWithColumns(2, u.position, u.cursor),
		widget.NewSeparator(),
		u.timeBox, // hidden for one time point
		u.chanBox, // hidden for one channel
		container.NewGridWithColumns(2, row("Mode", u.modeSel, nil), row("Model", u.modelSel, nil)),
		container.NewHBox(widget.NewLabel("Split"), u.splitL, u.splitR),
		row("Zoom", u.zoom, u.zoomLabel),
		widget.NewSeparator(),
		u.hist,
		container.NewGridWithColumns(2, row("Min", u.lo, nil), row("Max", u.hi, auto)),
		row("Gamma", u.gamma, nil),
		container.NewHBox(u.invert, u.cmap, u.cross),
		u.loLabel,
	))
}

// sliderRange returns the value range the contrast sliders span.
func (u *ui) sliderRange() (lo, hi float64) {
	st := u.model.Volume().Stats()
	lo, hi = st.Min, st.Max
	if !(hi > lo) {
		hi = lo + 1
	}
	return lo, hi
}

// setWindow sets the contrast window from slider fractions (−1: unchanged).
func (u *ui) setWindow(fLo, fHi float64) {
	lo, hi := u.sliderRange()
	c := u.model.Contrast()
	if fLo >= 0 {
		c.Min = lo + fLo*(hi-lo)
	}
	if fHi >= 0 {
		c.Max = lo + fHi*(hi-lo)
	}
	if c.Max <= c.Min {
		return
	}
	u.model.SetContrast(c)
}

// syncControls brings the widgets in line with the model. Setters compare,
// so the echo of a widget's own change stops at the model.
func (u *ui) syncControls(c viewer.Change) {
	m := u.model
	u.syncing = true
	defer func() { u.syncing = false }()
	if c&viewer.ChangeVolume != 0 {
		d := m.Describe()
		u.info.SetText(d[0] + "\n" + d[1] + "\n" + strings.Join(d[2:4], " · "))
		if u.win != nil {
			u.win.SetTitle("niiv · " + u.name())
		}
		u.buildChannels()
	}
	if c&(viewer.ChangeVolume|viewer.ChangeTime) != 0 {
		u.syncTime()
	}
	if c&(viewer.ChangeVolume|viewer.ChangeChannels) != 0 {
		u.syncChannels()
	}
	if c&(viewer.ChangeCrosshair|viewer.ChangeVolume|viewer.ChangeTime) != 0 {
		p := m.Crosshair()
		u.position.SetText(fmt.Sprintf("crosshair z %.2f · y %.0f · x %.0f", p.Z, p.Y, p.X))
		for _, v := range u.views {
			v.refreshText()
		}
	}
	if c&viewer.ChangeMode != 0 {
		u.modeSel.SetSelected(modeLabels[m.Mode()])
		l, r, _ := m.SplitModes()
		u.splitL.SetSelected(l.String())
		u.splitR.SetSelected(r.String())
	}
	if c&viewer.ChangeView != 0 {
		z := m.View(u.active).Zoom
		u.zoom.SetValue(math.Log2(z))
		u.zoomLabel.SetText(fmt.Sprintf("%.2f×", z))
	}
	if c&(viewer.ChangeContrast|viewer.ChangeVolume|viewer.ChangeMode|viewer.ChangeChannels|viewer.ChangeTime) != 0 {
		ct := m.Contrast()
		lo, hi := u.sliderRange()
		u.lo.SetValue((ct.Min - lo) / (hi - lo))
		u.hi.SetValue((ct.Max - lo) / (hi - lo))
		text := fmt.Sprintf("window %.4g – %.4g", ct.Min, ct.Max)
		if m.Mode() == viewer.Difference && m.Channels() > 1 {
			w := viewer.DiffRange(ct.Style())
			text += fmt.Sprintf("\ndifference per channel: |niiv − linear| in the channel's colour, black 0 … full %.3g (20 %% of its window)", w)
		} else if m.Mode() == viewer.Difference {
			// The views' colours are not the histogram's: say what they mean.
			w := viewer.DiffRange(ct.Style())
			text += fmt.Sprintf("\ndifference niiv − linear: blue −%.3g … grey 0 … red +%.3g (±20 %% of the window)", w, w)
		}
		u.loLabel.SetText(text)
		u.gamma.SetValue(math.Log2(ct.Gamma))
		u.invert.SetChecked(ct.Invert)
		u.cmap.SetSelected(ct.Colormap)
		if m.Channels() > 1 {
			u.cmap.Disable() // each channel is drawn in its colour
		} else {
			u.cmap.Enable()
		}
		st := m.Volume().Stats()
		u.hist.Image = render.Histogram(st.Histogram(st.Bins(256)), st.Min, st.Max, m.HistogramStyle(), 256, 72)
		u.hist.Refresh()
	}
	u.cross.SetChecked(m.CrosshairShown())
}

// modifiers returns the keyboard modifiers held now.
func (u *ui) modifiers() fyne.KeyModifier {
	if d, ok := fyne.CurrentApp().Driver().(desktop.Driver); ok {
		return d.CurrentKeyModifiers() | u.mods
	}
	return u.mods
}

// bindWindow installs the keyboard shortcuts and drag-and-drop.
func (u *ui) bindWindow() {
	c := u.win.Canvas()
	c.SetOnTypedKey(u.typedKey)
	c.SetOnTypedRune(u.typedRune)
	// Fyne turns Alt+key into a shortcut that never reaches TypedKey: the
	// isotropic (fine) step on Alt+arrows is bound as one.
	for key, n := range map[fyne.KeyName]int{fyne.KeyUp: 1, fyne.KeyRight: 1, fyne.KeyDown: -1, fyne.KeyLeft: -1} {
		c.AddShortcut(&desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierAlt}, func(fyne.Shortcut) {
			u.model.Step(u.active, n, true)
			u.reprobe()
		})
	}
	u.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) {
		if len(uris) > 0 {
			u.open(chunkedImage(uris[0].Path()))
		}
	})
}

func (u *ui) typedKey(e *fyne.KeyEvent) {
	m := u.model
	fine := u.modifiers()&fyne.KeyModifierAlt != 0
	switch e.Name {
	case fyne.KeyUp, fyne.KeyRight:
		m.Step(u.active, 1, fine)
	case fyne.KeyDown, fyne.KeyLeft:
		m.Step(u.active, -1, fine)
	case fyne.KeyPageUp:
		m.Step(u.active, 10, false)
	case fyne.KeyPageDown:
		m.Step(u.active, -10, false)
	default:
		return
	}
	u.reprobe()
}

// reprobe shows the voxel under the mouse again in the active view, whose
// slice or zoom a key just changed.
func (u *ui) reprobe() {
	if v := u.views[u.active]; v != nil {
		v.reprobe()
	}
}

func (u *ui) typedRune(r rune) {
	m := u.model
	switch r {
	case '+', '=':
		u.zoomKey(1.25)
	case '-', '_':
		u.zoomKey(1 / 1.25)
	case '1', '2', '3', '4', '5':
		m.SetMode(viewer.Modes[r-'1'])
	case 'r', 'R':
		m.Reset()
		u.reprobe()
	case 'c', 'C':
		for _, a := range viewer.Views {
			m.CenterOnCrosshair(a)
		}
		u.reprobe()
	case 'a', 'A':
		m.AutoContrast()
	case 'i', 'I':
		c := m.Contrast()
		c.Invert = !c.Invert
		m.SetContrast(c)
	case 'm', 'M':
		c := m.Contrast()
		names := render.Colormaps()
		for i, n := range names {
			if n == c.Colormap {
				c.Colormap = names[(i+1)%len(names)]
				break
			}
		}
		m.SetContrast(c)
	case 'x', 'X':
		m.ShowCrosshair(!m.CrosshairShown())
	case ',', '<':
		m.StepTime(-1)
		u.reprobe()
	case '.', '>':
		m.StepTime(1)
		u.reprobe()
	case 's', 'S':
		u.quickScreenshot()
	case '?':
		u.showHelp()
	}
}

// setActive makes axis the view that keys act on and marks it.
func (u *ui) setActive(axis volume.Axis) {
	if axis == u.active && u.zoom != nil {
		return
	}
	u.active = axis
	for _, v := range u.views {
		v.markActive(v.axis == axis)
	}
	if u.zoom != nil {
		u.syncControls(viewer.ChangeView) // the zoom slider shows the active view's zoom
	}
}

// zoomKey zooms the active view about the cursor (or its centre).
func (u *ui) zoomKey(f float64) {
	v := u.views[u.active]
	x, y := v.px(v.cursor)
	if v.cursor == (fyne.Position{}) {
		sz := u.model.View(u.active).Size
		x, y = float64(sz.X)/2, float64(sz.Y)/2
	}
	u.model.ZoomAbout(u.active, f, x, y)
}

// probe shows the voxel under the cursor and its value.
func (u *ui) probe(axis volume.Axis, x, y float64) {
	z, yy, xx, v, ok := u.model.Probe(axis, x, y)
	if !ok {
		u.cursor.SetText("")
		return
	}
	if m := u.model; m.Channels() > 1 {
		// Every channel's value, in channel order.
		var vals []string
		for c := range m.Channels() {
			vals = append(vals, fmt.Sprintf("%.5g", m.Stack().At(m.Time(), c).At(z, yy, xx)))
		}
		u.cursor.SetText(fmt.Sprintf("cursor z %d · y %d · x %d = %s", z, yy, xx, strings.Join(vals, " · ")))
		return
	}
	u.cursor.SetText(fmt.Sprintf("cursor z %d · y %d · x %d = %.5g", z, yy, xx, v))
}

// say shows a message in the panel.
func (u *ui) say(format string, a ...any) { u.message.SetText(fmt.Sprintf(format, a...)) }

// quickScreenshot saves the layout at screen resolution next to the working
// directory (S key).
func (u *ui) quickScreenshot() {
	name := fmt.Sprintf("niiv-%s.png", time.Now().Format("20060102-150405"))
	path := filepath.Join(u.opts.ScreenshotDir, name)
	u.saveSnapshot(u.model.Snapshot(1), -1, path)
}

// saveSnapshot renders a snapshot (one view when axis ≥ 0, else the layout)
// in the background and writes it as PNG.
func (u *ui) saveSnapshot(s viewer.Snapshot, axis int, path string) {
	u.say("saving %s…", filepath.Base(path))
	methods := u.pipe.Reuse(u.opts.Methods) // what the views show is not decoded again
	if !methods.Owner.Retain() {            // held until the screenshot is written
		u.say("screenshot failed: the model was closed")
		return
	}
	ctx, cancel := context.WithCancel(u.bg.ctx)
	var d dialog.Dialog
	if s.Scale > 1 && u.win != nil {
		// Decoding at a multiple of the screen resolution takes a while.
		d = dialog.NewCustomWithoutButtons("Screenshot", container.NewVBox(
			widget.NewLabel(fmt.Sprintf("Rendering %s at %g×…", filepath.Base(path), s.Scale)),
			widget.NewProgressBarInfinite(), widget.NewButton("Cancel", cancel)), u.win)
		d.Show()
	}
	started := u.bg.Go(func(context.Context) {
		defer cancel()
		defer methods.Owner.Release()
		var img *image.RGBA
		var err error
		if axis >= 0 {
			img, err = s.View(ctx, methods, volume.Axis(axis))
		} else {
			img, err = s.Render(ctx, methods)
		}
		if err == nil {
			err = writePNG(path, img)
		}
		u.do(func() {
			if d != nil {
				d.Hide()
			}
			switch {
			case errors.Is(err, context.Canceled):
				u.say("screenshot cancelled")
			case err != nil:
				u.say("screenshot failed: %v", err)
			default:
				b := img.Bounds()
				u.say("saved %s (%d×%d px)", path, b.Dx(), b.Dy())
			}
		})
	})
	if !started { // the window is closing
		cancel()
		methods.Owner.Release()
	}
}

func writePNG(path string, img image.Image) error {
	if err := atomicfile.WritePNG(path, img); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	return nil
}

// chooseModel switches niiv, in the background, to the shipped model name
// (or to the model adapted to this file from it, when one was saved).
func (u *ui) chooseModel(name string) {
	eo := u.opts.Engine
	if name == "" || (name == engine.ParentName(eo) && u.opts.Methods.Niiv != nil) {
		return
	}
	eo.Model = name
	vol, path := u.model.Volume(), u.opts.Path
	u.say("loading model %s…", name)
	u.bg.Go(func(ctx context.Context) {
		ms, closeModel, _ := engine.Load(ctx, eo)
		if ctx.Err() != nil { // the window closed meanwhile
			closeModel()
			return
		}
		u.do(func() {
			if u.closing.Load() {
				closeModel()
				return
			}
			if ms.Niiv == nil {
				closeModel()
				u.modelSel.SetSelected(engine.ParentName(u.opts.Engine)) // a no-op switch back
				u.sayModel()
				dialog.ShowError(fmt.Errorf("model %s: %v", name, ms.NiivError), u.win)
				return
			}
			u.opts.Engine = eo
			u.setMethods(ms, "")
			if path != "" && u.model.Volume() == vol {
				u.useRemembered(vol, path, func() {})
			}
		})
	})
}
