// Package viewer is niiv's viewer state and frame pipeline, in plain Go: the
// crosshair, per-view zoom and pan, the display mode and the contrast shared
// by the views (Model); the geometry that turns them into the visible region
// of each plane and the output resolution (Geometry); and the
// request/response pipeline that turns a frozen Request into a finished
// picture on a worker per view, newest request first (Pipeline).
//
// It never imports a GUI toolkit: package app only wires widgets to it, and
// everything here is tested headless. The Model is not safe for concurrent
// use; the GUI uses it from its UI goroutine, and workers only see the
// immutable Requests it builds.
package viewer

import (
	"fmt"
	"image"
	"math"
	"strings"
	"sync/atomic"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// Mode is how views show the volume.
type Mode int

// Display modes, in the order of the 1–5 keys.
const (
	// Nearest shows the acquired slices as they are (bricks in XZ/YZ).
	Nearest Mode = iota
	// Linear interpolates between slices.
	Linear
	// Niiv decodes the visible region with the neural reconstruction.
	Niiv
	// Difference shows niiv − linear on a diverging colormap.
	Difference
	// Split shows two modes side by side with a draggable divider.
	Split
)

// Modes lists the modes in key order.
var Modes = []Mode{Nearest, Linear, Niiv, Difference, Split}

// String returns the mode's name ("nearest", "linear", "niiv",
// "difference", "split").
func (m Mode) String() string {
	switch m {
	case Nearest:
		return "nearest"
	case Linear:
		return "linear"
	case Niiv:
		return "niiv"
	case Difference:
		return "difference"
	case Split:
		return "split"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses a mode name (case-insensitive; "diff" is accepted).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "nearest", "raw":
		return Nearest, nil
	case "linear", "bilinear":
		return Linear, nil
	case "niiv":
		return Niiv, nil
	case "difference", "diff":
		return Difference, nil
	case "split":
		return Split, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want nearest, linear, niiv, difference or split)", s)
}

// Change says what part of the model changed; listeners get a bit set.
type Change uint

// Change bits.
const (
	ChangeVolume Change = 1 << iota
	ChangeCrosshair
	ChangeView // zoom, pan or widget size of some view
	ChangeMode
	ChangeContrast
	// ChangeChannels: a channel's visibility or colour, or which channel
	// is selected (the contrast controls and histogram follow it).
	ChangeChannels
	// ChangeTime: the time point shown.
	ChangeTime
)

// Contrast is the display style shared by all views.
type Contrast struct {
	Min, Max float64
	Gamma    float64
	Invert   bool
	Colormap string // a name from render.Colormaps
}

// Style returns the render style of c.
func (c Contrast) Style() render.Style {
	m, err := render.ColormapNamed(c.Colormap)
	if err != nil {
		m = render.Gray
	}
	return render.Style{Min: c.Min, Max: c.Max, Gamma: c.Gamma, Invert: c.Invert, Map: m}
}

// Model is the viewer's state. Setters compare before they notify, so a
// widget that echoes a value back does not start a loop. Build it with New.
type Model struct {
	vol       *volume.Volume // the selected channel at the current time point
	stack     *volume.Hyperstack
	time      int
	selected  int
	channels  []ChannelState // one per channel of a multi-channel stack, else nil
	cross     Point
	views     [3]ViewState
	mode      Mode
	splitA    Mode
	splitB    Mode
	splitFrac float64
	contrast  Contrast
	showCross bool
	caption   string

	listeners []func(Change)
}

var nextID atomic.Uint64

// New returns a model showing vol: the crosshair at its centre, every view
// fitted, linear→niiv mode, automatic contrast (0.35 % saturated).
func New(vol *volume.Volume) *Model { return NewStack(volume.Single(vol)) }

// NewStack returns a model showing hyperstack h: time point 0, every
// channel visible in its colour with its own contrast (the file's display
// range, else automatic), channel 0 selected. A stack of one channel
// looks and behaves exactly as New of its volume.
func NewStack(h *volume.Hyperstack) *Model {
	m := &Model{mode: Niiv, splitA: Linear, splitB: Niiv, splitFrac: 0.5, showCross: true}
	m.contrast = Contrast{Gamma: 1, Colormap: "gray"}
	m.setStack(h)
	return m
}

// Clone returns a copy of m's state with no listeners: a model to move
// through a recording's frames while the window's model stays put.
func (m *Model) Clone() *Model {
	c := *m
	c.listeners = nil
	c.channels = append([]ChannelState(nil), m.channels...)
	return &c
}

// OnChange registers f to be called after every change, with what changed.
func (m *Model) OnChange(f func(Change)) { m.listeners = append(m.listeners, f) }

func (m *Model) notify(c Change) {
	if c == 0 {
		return
	}
	for _, f := range m.listeners {
		f(c)
	}
}

// Volume returns the volume shown.
func (m *Model) Volume() *volume.Volume { return m.vol }

// SetVolume shows another volume: crosshair, views and contrast are reset.
func (m *Model) SetVolume(vol *volume.Volume) {
	if vol == m.vol && m.stack.Channels() == 1 && m.stack.Times() == 1 {
		return
	}
	m.SetStack(volume.Single(vol))
}

// SetStack shows another hyperstack: crosshair, views, time, channels and
// contrast are reset.
func (m *Model) SetStack(h *volume.Hyperstack) {
	if h == m.stack {
		return
	}
	m.setStack(h)
	m.notify(ChangeVolume | ChangeCrosshair | ChangeView | ChangeContrast | ChangeChannels | ChangeTime)
}

func (m *Model) setStack(h *volume.Hyperstack) {
	m.stack, m.time, m.selected, m.channels = h, 0, 0, nil
	m.setVolume(h.At(0, 0))
	if h.Channels() == 1 {
		return
	}
	m.channels = make([]ChannelState, h.Channels())
	for c := range m.channels {
		ch := h.Channel(c)
		ct := Contrast{Gamma: 1, Colormap: "gray"}
		if ch.HasRange && ch.Max > ch.Min {
			ct.Min, ct.Max = ch.Min, ch.Max
		} else {
			ct.Min, ct.Max = render.AutoWindow(h.At(0, c).Stats(), render.Saturated)
		}
		m.channels[c] = ChannelState{Name: ch.Label(c), Visible: c < volume.MaxShown, Color: ch.Color, Contrast: ct}
	}
	m.contrast = m.channels[0].Contrast
}

func (m *Model) setVolume(vol *volume.Volume) {
	m.vol = vol
	s := vol.Shape()
	m.cross = Point{Z: math.Floor(float64(s.Z-1) / 2), Y: math.Floor(float64(s.Y-1) / 2), X: math.Floor(float64(s.X-1) / 2)}
	for i := range m.views {
		sz := m.views[i].Size
		m.views[i] = m.fitted(Views[i])
		m.views[i].Size = sz
	}
	lo, hi := render.AutoWindow(vol.Stats(), render.Saturated)
	m.contrast.Min, m.contrast.Max = lo, hi
}

// fitted returns the view state that shows the whole plane.
func (m *Model) fitted(axis volume.Axis) ViewState {
	rows, cols, _, _ := planeAxes(m.vol.Shape(), m.vol.Voxel, axis)
	return ViewState{Zoom: 1, Row: float64(rows) / 2, Col: float64(cols) / 2}
}

// Crosshair returns the crosshair position.
func (m *Model) Crosshair() Point { return m.cross }

// clampPoint keeps p inside the volume's voxel centres.
func (m *Model) clampPoint(p Point) Point {
	s := m.vol.Shape()
	c := func(v float64, n int) float64 {
		if math.IsNaN(v) {
			return 0
		}
		return math.Max(0, math.Min(float64(n-1), v))
	}
	return Point{Z: c(p.Z, s.Z), Y: c(p.Y, s.Y), X: c(p.X, s.X)}
}

// SetCrosshair moves the crosshair (clamped to the volume).
func (m *Model) SetCrosshair(p Point) {
	p = m.clampPoint(p)
	if p == m.cross {
		return
	}
	m.cross = p
	m.notify(ChangeCrosshair)
}

// Index returns the fixed coordinate of a view: z for XY, y for XZ, x for YZ.
func (m *Model) Index(axis volume.Axis) float64 {
	switch axis {
	case volume.XY:
		return m.cross.Z
	case volume.XZ:
		return m.cross.Y
	}
	return m.cross.X
}

// SetIndex sets the fixed coordinate of a view.
func (m *Model) SetIndex(axis volume.Axis, v float64) {
	p := m.cross
	switch axis {
	case volume.XY:
		p.Z = v
	case volume.XZ:
		p.Y = v
	default:
		p.X = v
	}
	m.SetCrosshair(p)
}

// Step moves a view's slice by n planes: from a fractional position the first
// step lands on the neighbouring acquired plane. With fine, XY steps are one
// lateral voxel's physical length (1/anisotropy of a slice), the isotropic
// step niiv can fill in.
func (m *Model) Step(axis volume.Axis, n int, fine bool) {
	if n == 0 {
		return
	}
	v := m.Index(axis)
	if fine && axis == volume.XY {
		m.SetIndex(axis, v+float64(n)/math.Max(1, m.vol.Voxel.Anisotropy()))
		return
	}
	var next float64
	if n > 0 {
		next = math.Floor(v+1e-9) + float64(n)
	} else {
		next = math.Ceil(v-1e-9) + float64(n)
	}
	m.SetIndex(axis, next)
}

// Click moves the crosshair to the plane point under widget pixel (x, y) of
// a view. Lateral coordinates snap to voxel centres; z stays continuous, so a
// click in XZ or YZ can put the XY view between acquired slices.
func (m *Model) Click(axis volume.Axis, x, y float64) {
	g := m.Geometry(axis)
	if g.Scale == 0 {
		return
	}
	row, col := g.PlaneAt(x, y)
	p := m.cross
	lat := func(c float64) float64 { return math.Floor(c) }
	switch axis {
	case volume.XY:
		p.Y, p.X = lat(row), lat(col)
	case volume.XZ:
		p.Z, p.X = row-0.5, lat(col)
	default:
		p.Z, p.Y = row-0.5, lat(col)
	}
	m.SetCrosshair(p)
}

// Probe returns the voxel under widget pixel (x, y) of a view and its value;
// ok is false outside the plane.
func (m *Model) Probe(axis volume.Axis, x, y float64) (z, yy, xx int, value float64, ok bool) {
	g := m.Geometry(axis)
	if g.Scale == 0 {
		return 0, 0, 0, 0, false
	}
	row, col := g.PlaneAt(x, y)
	if row < 0 || col < 0 || row >= float64(g.Rows) || col >= float64(g.Cols) {
		return 0, 0, 0, 0, false
	}
	r, c := int(row), int(col)
	s := m.vol.Shape()
	k := int(math.Round(m.Index(axis)))
	switch axis {
	case volume.XY:
		z, yy, xx = min(k, s.Z-1), r, c
	case volume.XZ:
		z, yy, xx = r, min(k, s.Y-1), c
	default:
		z, yy, xx = r, c, min(k, s.X-1)
	}
	return z, yy, xx, m.vol.At(z, yy, xx), true
}

// View returns a view's navigation state.
func (m *Model) View(axis volume.Axis) ViewState { return m.views[axis] }

func (m *Model) setView(axis volume.Axis, vs ViewState) {
	rows, cols, _, _ := planeAxes(m.vol.Shape(), m.vol.Voxel, axis)
	vs.Zoom = math.Max(MinZoom, math.Min(MaxZoom, vs.Zoom))
	vs.Row = math.Max(0, math.Min(float64(rows), vs.Row))
	vs.Col = math.Max(0, math.Min(float64(cols), vs.Col))
	if vs == m.views[axis] {
		return
	}
	m.views[axis] = vs
	m.notify(ChangeView)
}

// SetSize records a view widget's size in device pixels.
func (m *Model) SetSize(axis volume.Axis, size image.Point) {
	vs := m.views[axis]
	vs.Size = size
	m.setView(axis, vs)
}

// SetZoom sets a view's zoom about its centre.
func (m *Model) SetZoom(axis volume.Axis, zoom float64) {
	vs := m.views[axis]
	vs.Zoom = zoom
	m.setView(axis, vs)
}

// ZoomAbout multiplies a view's zoom by factor keeping the plane point under
// widget pixel (x, y) in place, as Ctrl+wheel does.
func (m *Model) ZoomAbout(axis volume.Axis, factor, x, y float64) {
	vs := m.views[axis]
	g := m.Geometry(axis)
	if g.Scale == 0 || !(factor > 0) {
		return
	}
	row, col := g.PlaneAt(x, y)
	nz := math.Max(MinZoom, math.Min(MaxZoom, vs.Zoom*factor))
	s := g.Scale / vs.Zoom * nz
	cx, cy := float64(vs.Size.X)/2, float64(vs.Size.Y)/2
	vs.Zoom = nz
	vs.Col = col - (x-cx)/(g.ColSize*s)
	vs.Row = row - (y-cy)/(g.RowSize*s)
	m.setView(axis, vs)
}

// ZoomAtCrosshair sets a view's zoom keeping the crosshair where it is on
// the screen when it is in view (else the view's centre stays), so that a
// zoom slider magnifies the point being looked at.
func (m *Model) ZoomAtCrosshair(axis volume.Axis, zoom float64) {
	vs := m.views[axis]
	if !(vs.Zoom > 0) || !(zoom > 0) {
		return
	}
	g := m.Geometry(axis)
	x, y := g.WidgetAt(m.planePoint(axis))
	if g.Scale == 0 || x < 0 || y < 0 || x > float64(vs.Size.X) || y > float64(vs.Size.Y) {
		m.SetZoom(axis, zoom)
		return
	}
	m.ZoomAbout(axis, zoom/vs.Zoom, x, y)
}

// Pan moves a view's content by (dx, dy) widget pixels, as a drag does.
func (m *Model) Pan(axis volume.Axis, dx, dy float64) {
	vs := m.views[axis]
	g := m.Geometry(axis)
	if g.Scale == 0 {
		return
	}
	vs.Col -= dx / (g.ColSize * g.Scale)
	vs.Row -= dy / (g.RowSize * g.Scale)
	m.setView(axis, vs)
}

// planePoint returns the crosshair's position in a view's plane
// coordinates (row, col), voxel centres at k+0.5.
func (m *Model) planePoint(axis volume.Axis) (row, col float64) {
	switch axis {
	case volume.XY:
		return m.cross.Y + 0.5, m.cross.X + 0.5
	case volume.XZ:
		return m.cross.Z + 0.5, m.cross.X + 0.5
	}
	return m.cross.Z + 0.5, m.cross.Y + 0.5
}

// CenterOnCrosshair pans a view so that the crosshair is at its centre.
func (m *Model) CenterOnCrosshair(axis volume.Axis) {
	vs := m.views[axis]
	vs.Row, vs.Col = m.planePoint(axis)
	m.setView(axis, vs)
}

// ResetView fits a view again (double-click).
func (m *Model) ResetView(axis volume.Axis) {
	vs := m.fitted(axis)
	vs.Size = m.views[axis].Size
	m.setView(axis, vs)
}

// Reset fits all views and centres the crosshair (R).
func (m *Model) Reset() {
	for _, a := range Views {
		m.ResetView(a)
	}
	s := m.vol.Shape()
	m.SetCrosshair(Point{Z: math.Floor(float64(s.Z-1) / 2), Y: math.Floor(float64(s.Y-1) / 2), X: math.Floor(float64(s.X-1) / 2)})
}

// Geometry returns a view's current geometry.
func (m *Model) Geometry(axis volume.Axis) Geometry {
	return geometry(m.vol.Shape(), m.vol.Voxel, axis, m.Index(axis), m.views[axis])
}

// Mode returns the display mode.
func (m *Model) Mode() Mode { return m.mode }

// SetMode sets the display mode.
func (m *Model) SetMode(mode Mode) {
	if mode == m.mode || mode < Nearest || mode > Split {
		return
	}
	m.mode = mode
	m.notify(ChangeMode)
}

// SplitModes returns the modes left and right of the split divider, and the
// divider's position as a fraction of the width.
func (m *Model) SplitModes() (left, right Mode, frac float64) {
	return m.splitA, m.splitB, m.splitFrac
}

// SetSplit sets the split view's modes (Nearest, Linear or Niiv) and divider.
func (m *Model) SetSplit(left, right Mode, frac float64) {
	frac = math.Max(0, math.Min(1, frac))
	if left > Niiv || right > Niiv || left < 0 || right < 0 {
		return
	}
	if left == m.splitA && right == m.splitB && frac == m.splitFrac {
		return
	}
	m.splitA, m.splitB, m.splitFrac = left, right, frac
	m.notify(ChangeMode)
}

// Contrast returns the shared display style.
func (m *Model) Contrast() Contrast { return m.contrast }

// SetContrast sets the shared display style; an empty window (Max ≤ Min)
// is widened to one unit.
func (m *Model) SetContrast(c Contrast) {
	if !(c.Max > c.Min) {
		c.Max = c.Min + math.Max(1e-6, math.Abs(c.Min)*1e-6)
	}
	if !(c.Gamma > 0) {
		c.Gamma = 1
	}
	if _, err := render.ColormapNamed(c.Colormap); err != nil {
		c.Colormap = "gray"
	}
	if c == m.contrast {
		return
	}
	m.contrast = c
	if m.channels != nil {
		m.channels[m.selected].Contrast = c
	}
	m.notify(ChangeContrast)
}

// AutoContrast sets the window from the volume's percentiles, 0.35 %
// saturated as Fiji does, keeping gamma, inversion and colormap. With
// several channels it sets the selected channel's window from that
// channel at the current time point.
func (m *Model) AutoContrast() {
	c := m.contrast
	c.Min, c.Max = render.AutoWindow(m.vol.Stats(), render.Saturated)
	m.SetContrast(c)
}

// ShowCrosshair turns the crosshair lines on or off.
func (m *Model) ShowCrosshair(on bool) {
	if on == m.showCross {
		return
	}
	m.showCross = on
	m.notify(ChangeCrosshair)
}

// CrosshairShown reports whether crosshair lines are drawn.
func (m *Model) CrosshairShown() bool { return m.showCross }

// SetCaption sets the text stamped on frames (empty: none).
func (m *Model) SetCaption(s string) {
	if s == m.caption {
		return
	}
	m.caption = s
	m.notify(ChangeContrast)
}

// Request builds the frozen request for a view's next frame, with a new id.
// scale > 1 asks for an export at that multiple of the widget resolution
// (decoded at that resolution, not upscaled).
func (m *Model) Request(axis volume.Axis, scale float64) Request {
	vs := m.views[axis]
	if scale > 0 && scale != 1 {
		vs.Size = image.Pt(int(math.Round(float64(vs.Size.X)*scale)), int(math.Round(float64(vs.Size.Y)*scale)))
	}
	g := geometry(m.vol.Shape(), m.vol.Voxel, axis, m.Index(axis), vs)
	r := Request{
		ID: nextID.Add(1), Vol: m.vol, Geometry: g, Mode: m.mode,
		SplitLeft: m.splitA, SplitRight: m.splitB, SplitFrac: m.splitFrac,
		Style: m.contrast.Style(), Caption: m.caption, ScaleBar: true,
		Layers: m.layers(),
	}
	if m.showCross {
		x, y := g.WidgetAt(m.planePoint(axis))
		r.Cross = &[2]float64{x - float64(g.Offset.X), y - float64(g.Offset.Y)}
	}
	return r
}
