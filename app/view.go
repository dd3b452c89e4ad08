package app

import (
	"image"
	"image/color"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/volume"
)

// view is one orthogonal view: it shows the newest finished frame of its
// plane and turns mouse gestures into model calls. It owns no state beyond
// what it displays.
type view struct {
	widget.BaseWidget
	ui   *ui
	axis volume.Axis

	raster *canvas.Raster
	shown  *image.RGBA // the composed picture the raster returns
	frame  viewer.Frame
	title  *canvas.Text
	status *canvas.Text
	tbg    *canvas.Rectangle
	sbg    *canvas.Rectangle
	border *canvas.Rectangle // marks the view that keys act on

	lastTap    time.Time // for double-click detection
	lastTapAt  fyne.Position
	beforeTap  viewer.Point        // the crosshair before the last click
	button     desktop.MouseButton // button of the drag in progress
	dragSplit  bool
	dragStart  viewer.Contrast
	pressAt    fyne.Position // where the button went down
	cursor     fyne.Position
	scrollAcc  float32 // trackpad scrolling below one notch
	lastPixels image.Point
}

var (
	_ fyne.Tappable     = (*view)(nil)
	_ fyne.Focusable    = (*view)(nil)
	_ fyne.Scrollable   = (*view)(nil)
	_ fyne.Draggable    = (*view)(nil)
	_ desktop.Mouseable = (*view)(nil)
	_ desktop.Hoverable = (*view)(nil)
)

func newView(u *ui, axis volume.Axis) *view {
	v := &view{ui: u, axis: axis}
	v.raster = canvas.NewRaster(v.image)
	v.raster.ScaleMode = canvas.ImageScalePixels
	v.title = canvas.NewText("", color.White)
	v.title.TextSize = 13
	v.status = canvas.NewText("", color.RGBA{220, 220, 220, 255})
	v.status.TextSize = 11
	v.tbg = canvas.NewRectangle(color.RGBA{0, 0, 0, 150})
	v.sbg = canvas.NewRectangle(color.RGBA{0, 0, 0, 150})
	v.border = canvas.NewRectangle(color.Transparent)
	v.border.StrokeWidth = 1
	v.ExtendBaseWidget(v)
	return v
}

// image returns the newest finished picture; it never computes.
func (v *view) image(w, h int) image.Image {
	if v.shown == nil {
		img := image.NewRGBA(image.Rect(0, 0, 1, 1))
		img.SetRGBA(0, 0, viewer.Background)
		return img
	}
	return v.shown
}

// show displays a frame unless a newer one is already shown.
func (v *view) show(f viewer.Frame) {
	if f.Request.ID < v.frame.Request.ID {
		return
	}
	v.frame = f
	if f.Loading { // keep the picture; the label says what is awaited
		v.status.Text = f.Label()
		v.refreshText()
		return
	}
	if f.Err == nil || f.Image != nil {
		v.shown = viewer.Compose(f, "")
	} // on an error, keep the last picture (e.g. the linear preview) under the message
	v.status.Text = f.Label()
	v.raster.Refresh()
	v.refreshText()
}

// markActive shows or hides the border of the view keys act on.
func (v *view) markActive(on bool) {
	c := color.Color(color.Transparent)
	if on {
		c = color.RGBA{255, 220, 0, 160}
	}
	if v.border.StrokeColor != c {
		v.border.StrokeColor = c
		v.border.Refresh()
	}
}

// refreshText updates the title from the model and re-lays the labels.
func (v *view) refreshText() {
	v.title.Text = v.ui.model.Title(v.axis)
	v.title.Refresh()
	v.status.Refresh()
	v.layoutText(v.Size())
	v.tbg.Refresh()
	v.sbg.Refresh()
}

func (v *view) layoutText(size fyne.Size) {
	const pad = 4
	ts := v.title.MinSize()
	v.tbg.Move(fyne.NewPos(0, 0))
	v.tbg.Resize(fyne.NewSize(ts.Width+2*pad, ts.Height+2*pad))
	v.title.Move(fyne.NewPos(pad, pad))
	ss := v.status.MinSize()
	v.sbg.Move(fyne.NewPos(0, size.Height-ss.Height-2*pad))
	v.sbg.Resize(fyne.NewSize(min(size.Width, ss.Width+2*pad), ss.Height+2*pad))
	v.status.Move(fyne.NewPos(pad, size.Height-ss.Height-pad))
}

// scale returns device pixels per Fyne unit.
func (v *view) scale() float32 {
	if c := fyne.CurrentApp().Driver().CanvasForObject(v); c != nil && c.Scale() > 0 {
		return c.Scale()
	}
	return 1
}

func (v *view) px(p fyne.Position) (x, y float64) {
	s := v.scale()
	return float64(p.X * s), float64(p.Y * s)
}

// resized tells the model the widget's size in device pixels.
func (v *view) resized(size fyne.Size) {
	s := v.scale()
	p := image.Pt(int(math.Round(float64(size.Width*s))), int(math.Round(float64(size.Height*s))))
	if p == v.lastPixels {
		return
	}
	v.lastPixels = p
	v.ui.model.SetSize(v.axis, p)
}

// doubleClick is the longest gap between the clicks of a double-click.
const doubleClick = 400 * time.Millisecond

// Tapped moves the crosshair to the clicked point at once; a second click
// close in time and place fits the view (double-click) and puts the
// crosshair back where it was before the first. The view does not
// implement fyne.DoubleTappable, which would delay every single click.
func (v *view) Tapped(e *fyne.PointEvent) {
	v.ui.setActive(v.axis)
	if c := fyne.CurrentApp().Driver().CanvasForObject(v); c != nil {
		c.Focus(v)
	}
	now := time.Now()
	d := e.Position.Subtract(v.lastTapAt)
	if now.Sub(v.lastTap) < doubleClick && d.X*d.X+d.Y*d.Y < 36 {
		v.lastTap = time.Time{}
		v.ui.model.SetCrosshair(v.beforeTap)
		v.ui.model.ResetView(v.axis)
		return
	}
	v.lastTap, v.lastTapAt, v.beforeTap = now, e.Position, v.ui.model.Crosshair()
	x, y := v.px(e.Position)
	v.ui.model.Click(v.axis, x, y)
}

// FocusGained implements fyne.Focusable: a clicked view takes the keyboard
// from sliders and selects, so arrows step slices.
func (v *view) FocusGained() {}

// FocusLost implements fyne.Focusable.
func (v *view) FocusLost() {}

// TypedRune forwards to the window's shortcuts, which act on the view under
// the mouse.
func (v *view) TypedRune(r rune) { v.ui.typedRune(r) }

// TypedKey forwards to the window's shortcuts.
func (v *view) TypedKey(e *fyne.KeyEvent) { v.ui.typedKey(e) }

// wheelNotch is the scroll distance of one wheel notch or more: Fyne
// reports a notch as 25 (10 on macOS); trackpads send many small deltas,
// which are summed until they reach it.
const wheelNotch = 10

// Scrolled steps slices (Shift: ×10) or, with Ctrl, zooms about the cursor,
// one step per wheel notch.
func (v *view) Scrolled(e *fyne.ScrollEvent) {
	v.ui.setActive(v.axis)
	d := e.Scrolled.DY
	if d == 0 {
		d = e.Scrolled.DX // Shift+wheel arrives as horizontal scrolling on some systems
	}
	if d == 0 {
		return
	}
	sign := 1
	if d < 0 {
		sign = -1
	}
	if d > -wheelNotch && d < wheelNotch {
		v.scrollAcc += d
		if v.scrollAcc > -wheelNotch && v.scrollAcc < wheelNotch {
			return
		}
		if v.scrollAcc < 0 {
			sign = -1
		} else {
			sign = 1
		}
	}
	v.scrollAcc = 0
	mods := v.ui.modifiers()
	if mods&fyne.KeyModifierControl != 0 {
		x, y := v.px(e.Position)
		v.ui.model.ZoomAbout(v.axis, math.Pow(1.25, float64(sign)), x, y)
		return
	}
	n := sign
	if mods&fyne.KeyModifierShift != 0 {
		n *= 10
	}
	v.ui.model.Step(v.axis, n, mods&fyne.KeyModifierAlt != 0)
	v.reprobe()
}

// MouseDown records which button starts a drag.
func (v *view) MouseDown(e *desktop.MouseEvent) {
	v.button = e.Button
	v.pressAt = e.Position
	v.dragStart = v.ui.model.Contrast()
	v.dragSplit = false
	if v.ui.model.Mode() == viewer.Split && e.Button == desktop.MouseButtonPrimary {
		g := v.ui.model.Geometry(v.axis)
		_, _, frac := v.ui.model.SplitModes()
		x, _ := v.px(e.Position)
		xd := float64(g.Offset.X) + frac*float64(g.W)
		v.dragSplit = math.Abs(x-xd) < 8*float64(v.scale())
	}
}

// MouseUp ends a press.
func (v *view) MouseUp(*desktop.MouseEvent) { v.button = 0 }

// windowLevel sets the contrast from a right-button drag of acc from where
// it started: horizontal moves the level, vertical the width, as in most
// viewers. Fyne reports right-button drags as mouse moves, not Dragged.
func (v *view) windowLevel(acc fyne.Delta) {
	m := v.ui.model
	c := v.dragStart
	st := m.Volume().Stats()
	span := st.Max - st.Min
	if span <= 0 {
		span = 1
	}
	w, h := float64(v.Size().Width), float64(v.Size().Height)
	level := (c.Min+c.Max)/2 + float64(acc.DX)/math.Max(1, w)*span
	width := math.Max(span/1000, (c.Max-c.Min)*math.Exp(float64(acc.DY)/math.Max(1, h)*2))
	c.Min, c.Max = level-width/2, level+width/2
	m.SetContrast(c)
}

// delta returns the move from a to b.
func delta(a, b fyne.Position) fyne.Delta { return fyne.NewDelta(b.X-a.X, b.Y-a.Y) }

// Dragged pans (left button) or moves the split divider (left button on
// the divider); the right button's window/level is in MouseMoved.
func (v *view) Dragged(e *fyne.DragEvent) {
	s := float64(v.scale())
	dx, dy := float64(e.Dragged.DX)*s, float64(e.Dragged.DY)*s
	m := v.ui.model
	switch {
	case v.button == desktop.MouseButtonSecondary:
		v.windowLevel(delta(v.pressAt, e.Position))
	case v.dragSplit:
		g := m.Geometry(v.axis)
		l, r, frac := m.SplitModes()
		if g.W > 0 {
			m.SetSplit(l, r, frac+dx/float64(g.W))
		}
	default:
		m.Pan(v.axis, dx, dy)
	}
	v.cursor = e.Position // keys zoom about it; the readout follows
	v.reprobe()
}

// DragEnd ends a drag.
func (v *view) DragEnd() { v.button = 0 }

// MouseIn makes this the view that keys act on.
func (v *view) MouseIn(e *desktop.MouseEvent) {
	v.ui.setActive(v.axis)
	v.cursor = e.Position
	v.takeKeys()
	v.reprobe()
}

// MouseMoved tracks the cursor for keyboard zoom and shows the voxel under
// it; with the right button held it sets window/level.
func (v *view) MouseMoved(e *desktop.MouseEvent) {
	v.ui.setActive(v.axis)
	v.cursor = e.Position
	v.takeKeys()
	if v.button == desktop.MouseButtonSecondary {
		if e.Button == desktop.MouseButtonSecondary {
			v.windowLevel(delta(v.pressAt, e.Position))
		} else {
			v.button = 0 // released outside the view
		}
	}
	v.reprobe()
}

// reprobe shows the voxel under the cursor again (after a slice step,
// zoom or any move under a still mouse).
func (v *view) reprobe() {
	x, y := v.px(v.cursor)
	v.ui.probe(v.axis, x, y)
}

// takeKeys gives the keyboard to the view under the mouse, as the help
// promises, also after a slider or a select in the panel took it.
func (v *view) takeKeys() {
	c := fyne.CurrentApp().Driver().CanvasForObject(v)
	if c == nil || c.Focused() == v {
		return
	}
	c.Focus(v)
}

// MouseOut does nothing; the last hovered view stays active.
func (v *view) MouseOut() {}

// CreateRenderer implements fyne.Widget.
func (v *view) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(viewer.Background)
	return &viewRenderer{v: v, bg: bg, objects: []fyne.CanvasObject{bg, v.raster, v.tbg, v.title, v.sbg, v.status, v.border}}
}

type viewRenderer struct {
	v       *view
	bg      *canvas.Rectangle
	objects []fyne.CanvasObject
}

func (r *viewRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	r.v.raster.Move(fyne.NewPos(0, 0))
	r.v.raster.Resize(size)
	r.v.border.Resize(size)
	r.v.layoutText(size)
	r.v.resized(size)
}

func (r *viewRenderer) MinSize() fyne.Size { return fyne.NewSize(160, 120) }

func (r *viewRenderer) Refresh() {
	r.v.raster.Refresh()
	r.v.refreshText()
}

func (r *viewRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *viewRenderer) Destroy() {}
