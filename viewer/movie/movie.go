// Package movie turns a camera path through a volume into the viewer state of
// each frame: a sweep of a view's slice, an exponential zoom about a point
// and a wipe of the split divider across the view. It is headless: the
// frames are rendered by the viewer's own pipeline from the requests that a
// viewer.Model builds once Apply has set it to a frame's state.
package movie

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/volume"
)

// Range is a closed interval From..To travelled from From to To (To may be
// less than From).
type Range struct {
	From, To float64
}

// ParseRange parses "A..B", two numbers.
func ParseRange(s string) (Range, error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return Range{}, fmt.Errorf("%q: want FROM..TO, e.g. 0..127", s)
	}
	from, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	to, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if err1 != nil || err2 != nil || math.IsNaN(from) || math.IsNaN(to) || math.IsInf(from, 0) || math.IsInf(to, 0) {
		return Range{}, fmt.Errorf("%q: want two numbers FROM..TO, e.g. 0..127", s)
	}
	return Range{From: from, To: to}, nil
}

// Sweep moves a view's slice through Range: z for XY, y for XZ, x for YZ.
type Sweep struct {
	Axis volume.Axis
	Range
}

// sweepVar is the coordinate a view's slice moves along.
var sweepVar = map[volume.Axis]string{volume.XY: "z", volume.XZ: "y", volume.YZ: "x"}

// ParseSweep parses "xz:y=0..511" (also "xy:z=A..B" and "yz:x=A..B").
func ParseSweep(s string) (Sweep, error) {
	view, rest, ok := strings.Cut(s, ":")
	name, rng, ok2 := strings.Cut(rest, "=")
	if !ok || !ok2 {
		return Sweep{}, fmt.Errorf("%q: want VIEW:COORD=FROM..TO, e.g. xz:y=0..127, xy:z=3..5 or yz:x=0..127", s)
	}
	axis, err := volume.ParseAxis(strings.TrimSpace(view))
	if err != nil {
		return Sweep{}, fmt.Errorf("%q: %w", s, err)
	}
	if want := sweepVar[axis]; strings.TrimSpace(name) != want {
		return Sweep{}, fmt.Errorf("%q: the %s view moves along %s (%s:%s=FROM..TO)", s, view, want, view, want)
	}
	r, err := ParseRange(rng)
	if err != nil {
		return Sweep{}, fmt.Errorf("sweep %w", err)
	}
	return Sweep{Axis: axis, Range: r}, nil
}

// Check reports whether the sweep stays inside shape's planes.
func (s Sweep) Check(shape volume.Shape) error {
	n := map[volume.Axis]int{volume.XY: shape.Z, volume.XZ: shape.Y, volume.YZ: shape.X}[s.Axis]
	for _, v := range []float64{s.From, s.To} {
		if v < 0 || v > float64(n-1) {
			return fmt.Errorf("%s=%g..%g is outside the volume: %s goes from 0 to %d", sweepVar[s.Axis], s.From, s.To, sweepVar[s.Axis], n-1)
		}
	}
	return nil
}

// Path is a movie's camera path. Every part is optional; they combine (a
// sweep while zooming in, a wipe on a zoomed view).
type Path struct {
	// Axis is the view shown.
	Axis volume.Axis
	// Sweep, when not nil, moves the slice; its Axis must be Axis.
	Sweep *Sweep
	// Zoom, when not nil, zooms exponentially from From to To (both > 0).
	Zoom *Range
	// Wipe moves the split divider from 0 to 1.
	Wipe bool
	// Frames is the number of frames (at least 1).
	Frames int
}

// Check reports a path that cannot be rendered on a volume of shape.
func (p Path) Check(shape volume.Shape) error {
	if p.Frames < 1 {
		return fmt.Errorf("a movie needs at least one frame, not %d", p.Frames)
	}
	if p.Sweep != nil {
		if p.Sweep.Axis != p.Axis {
			return fmt.Errorf("the sweep moves the %v view, not %v", p.Sweep.Axis, p.Axis)
		}
		if err := p.Sweep.Check(shape); err != nil {
			return err
		}
	}
	if z := p.Zoom; z != nil && (!(z.From > 0) || !(z.To > 0) || math.IsInf(z.From, 0) || math.IsInf(z.To, 0)) {
		return fmt.Errorf("zoom %g..%g: both ends must be positive", z.From, z.To)
	}
	return nil
}

// State is the viewer state of one frame.
type State struct {
	// Index is the slice (when Sweep is set); fractional only for XY.
	Index float64
	// Zoom is the magnification (when HasZoom).
	Zoom float64
	// Divider is the split divider's position, 0…1 (when Wipe).
	Divider float64
	// HasIndex, HasZoom and Wipe say which of the above the path sets.
	HasIndex, HasZoom, Wipe bool
}

// T returns frame k's time along the path, 0 for the first frame and 1 for
// the last.
func (p Path) T(k int) float64 {
	if p.Frames <= 1 {
		return 0
	}
	return float64(k) / float64(p.Frames-1)
}

// At returns frame k's state. A sweep of XZ or YZ lands on whole planes (the
// acquired lateral grid); an XY sweep may fall between acquired slices,
// where niiv decodes at the fractional z.
func (p Path) At(k int) State {
	t := p.T(k)
	var s State
	if p.Sweep != nil {
		s.HasIndex = true
		s.Index = p.Sweep.From + t*(p.Sweep.To-p.Sweep.From)
		if p.Frames > 1 && k == p.Frames-1 {
			s.Index = p.Sweep.To
		}
		if p.Axis != volume.XY {
			s.Index = math.Round(s.Index)
		}
	}
	if p.Zoom != nil {
		s.HasZoom = true
		s.Zoom = p.Zoom.From * math.Pow(p.Zoom.To/p.Zoom.From, t)
		if p.Frames > 1 && k == p.Frames-1 {
			s.Zoom = p.Zoom.To
		}
	}
	if p.Wipe {
		s.Wipe = true
		s.Divider = t
	}
	return s
}

// Apply sets m to the state of a frame of the view axis: the slice, the
// zoom (centred on the crosshair when centre is set, as
// `niiv figure --at` does) and the split divider, keeping the split's
// modes.
func Apply(m *viewer.Model, axis volume.Axis, s State, centre bool) {
	if s.HasIndex {
		m.SetIndex(axis, s.Index)
	}
	if s.HasZoom {
		m.SetZoom(axis, s.Zoom)
	}
	if centre {
		m.CenterOnCrosshair(axis)
	}
	if s.Wipe {
		left, right, _ := m.SplitModes()
		m.SetSplit(left, right, s.Divider)
	}
}
