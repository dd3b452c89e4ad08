package movie

import (
	"context"
	"image"
	"math"

	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/volume"
)

// Recording is a movie of one of the viewer's views, frozen from the
// window's model: every frame's request and title. Build it with Record on
// the model's goroutine and render it anywhere.
type Recording struct {
	Axis     volume.Axis
	Size     image.Point // every frame's size: even, for H.264
	Requests []viewer.Request
	Titles   []string
}

// Record freezes path p of view p.Axis from a copy of m (m itself does not
// move): the view at scale× its widget size (FrameSize), decoded at that
// resolution. centre keeps the crosshair at the view's centre (a zoom to
// the crosshair).
func Record(m *viewer.Model, p Path, scale float64, centre bool) Recording {
	return record(m.Clone(), p, scale, centre)
}

func record(c *viewer.Model, p Path, scale float64, centre bool) Recording {
	size := FrameSize(c, p.Axis, scale)
	c.SetSize(p.Axis, size)
	r := Recording{Axis: p.Axis, Size: size, Requests: make([]viewer.Request, p.Frames), Titles: make([]string, p.Frames)}
	for k := range p.Frames {
		Apply(c, p.Axis, p.At(k), centre)
		r.Requests[k] = c.Request(p.Axis, 1)
		r.Titles[k] = c.Title(p.Axis)
	}
	return r
}

// FrameSize is the size of a recording's frames of view axis at scale× the
// widget's size: rounded down to even sizes, as H.264 needs.
func FrameSize(m *viewer.Model, axis volume.Axis, scale float64) image.Point {
	if !(scale > 0) {
		scale = 1
	}
	vs := m.View(axis).Size
	w := int(math.Round(float64(vs.X)*scale)) &^ 1
	h := int(math.Round(float64(vs.Y)*scale)) &^ 1
	return image.Pt(max(2, w), max(2, h))
}

// Shot is a kind of recording the viewer offers from its current view.
type Shot int

const (
	// ShotSweep moves the view's slice through every plane.
	ShotSweep Shot = iota
	// ShotZoom zooms from the view's zoom to ZoomShot× it, centred on the
	// crosshair.
	ShotZoom
	// ShotWipe moves the split divider across the view: the split's modes,
	// or linear | niiv when the view is not split.
	ShotWipe
)

// ZoomShot is how far ShotZoom zooms in.
const ZoomShot = 8

// Shots names the shots, for menus.
var Shots = []string{"Sweep through the volume", "Zoom to the crosshair", "Wipe linear | niiv"}

// RecordShot freezes a shot of frames frames of view axis from a copy of m
// at scale× the widget's size.
func RecordShot(m *viewer.Model, axis volume.Axis, shot Shot, frames int, scale float64) Recording {
	c := m.Clone()
	p := Path{Axis: axis, Frames: max(1, frames)}
	centre := false
	switch shot {
	case ShotSweep:
		n := map[volume.Axis]int{volume.XY: c.Volume().Shape().Z, volume.XZ: c.Volume().Shape().Y, volume.YZ: c.Volume().Shape().X}[axis]
		p.Sweep = &Sweep{Axis: axis, Range: Range{From: 0, To: float64(n - 1)}}
	case ShotZoom:
		from := c.View(axis).Zoom
		p.Zoom = &Range{From: from, To: math.Min(viewer.MaxZoom, from*ZoomShot)}
		centre = true
	case ShotWipe:
		if c.Mode() != viewer.Split {
			c.SetSplit(viewer.Linear, viewer.Niiv, 0)
			c.SetMode(viewer.Split)
		}
		p.Wipe = true
	}
	return record(c, p, scale, centre)
}

// Renderer returns a FrameFunc for Render that draws the recording's frames
// as the view shows them on screen (viewer.Compose: the title on top, the
// plane on the view background), each of r.Size.
func (r Recording) Renderer(methods viewer.Methods) FrameFunc {
	frames := viewer.NewFrames(methods)
	return func(ctx context.Context, k int) (*image.RGBA, error) {
		f, err := frames.Render(ctx, r.Requests[k])
		if err != nil {
			return nil, err
		}
		return viewer.Compose(f, r.Titles[k]), nil
	}
}
