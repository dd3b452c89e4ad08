package volume

import (
	"context"
	"fmt"
	"strings"
)

// Color is a channel's display colour, as 8-bit red, green and blue: the
// colour the channel's maximum intensity is drawn in.
type Color struct{ R, G, B uint8 }

// String formats c as "#RRGGBB".
func (c Color) String() string { return fmt.Sprintf("#%02X%02X%02X", c.R, c.G, c.B) }

// Hex formats c as "RRGGBB", as OME-Zarr's omero metadata writes colours.
func (c Color) Hex() string { return fmt.Sprintf("%02X%02X%02X", c.R, c.G, c.B) }

// ParseColor reads "RRGGBB" or "#RRGGBB" (case-insensitive).
func ParseColor(s string) (Color, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "#")
	if len(h) != 6 {
		return Color{}, fmt.Errorf("volume: colour %q: want RRGGBB", s)
	}
	var b [3]uint8
	for i := range b {
		var v uint8
		for _, r := range h[2*i : 2*i+2] {
			var d uint8
			switch {
			case r >= '0' && r <= '9':
				d = uint8(r - '0')
			case r >= 'a' && r <= 'f':
				d = uint8(r-'a') + 10
			case r >= 'A' && r <= 'F':
				d = uint8(r-'A') + 10
			default:
				return Color{}, fmt.Errorf("volume: colour %q: want RRGGBB", s)
			}
			v = v<<4 | d
		}
		b[i] = v
	}
	return Color{b[0], b[1], b[2]}, nil
}

// Common colours.
var (
	White   = Color{255, 255, 255}
	Green   = Color{0, 255, 0}
	Magenta = Color{255, 0, 255}
	Cyan    = Color{0, 255, 255}
	Yellow  = Color{255, 255, 0}
	Red     = Color{255, 0, 0}
	Blue    = Color{0, 0, 255}
	Orange  = Color{255, 128, 0}
)

// defaultColors are the colours of channels whose file names none, in
// channel order: green, magenta and cyan first, which stay distinguishable
// for red-green colour-blind readers, as Fiji's and napari's defaults.
var defaultColors = []Color{Green, Magenta, Cyan, Yellow, Red, Blue, Orange, White}

// DefaultColor returns the colour of channel c of n when the file gives
// none: white for a single channel, else green, magenta, cyan, yellow,
// red, blue, orange, white, repeating.
func DefaultColor(c, n int) Color {
	if n <= 1 {
		return White
	}
	return defaultColors[c%len(defaultColors)]
}

// MaxShown is the most channels a composite draws at once: past it, the
// user picks channels (e.g. niiv's --channels) instead of getting a
// composite of indistinguishable colours.
const MaxShown = 8

// Channel describes one channel of a Hyperstack.
type Channel struct {
	// Name is the file's name for the channel ("DAPI"), else "".
	Name string
	// Color is the display colour: the file's, else DefaultColor.
	Color Color
	// ColorKnown says the colour came from the file.
	ColorKnown bool
	// Min and Max are the display range the file gives; HasRange is false
	// when it gives none.
	Min, Max float64
	HasRange bool
}

// Label returns the channel's name, or "channel N" (N counted from 0).
func (c Channel) Label(index int) string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("channel %d", index)
}

// Hyperstack is what a light-microscopy file holds: T time points × C
// channels of 3-D (z, y, x) grayscale volumes of one shape, element type
// and voxel size, with per-channel metadata (name, colour, display range)
// and the time step.
//
// Every element is an ordinary *Volume — in memory, or lazy (NewLazy) over
// a Source that reads only that channel's and time point's planes (Planes
// for files whose planes interleave channels and time, a chunked array's
// own reads for OME-Zarr) — so every one-volume consumer (views,
// statistics, reconstruction, writers) works on one element unchanged: it
// normalises each channel and time point with its own statistics, and
// caches keyed on the *Volume never mix channels. A file of one channel
// and one time point is a Hyperstack of one Volume (Single). The channel
// and time axes are never folded into z.
//
// A Hyperstack is immutable once made (SetVoxel aside); its volumes are
// shared, not copied, with the hyperstacks Select makes.
type Hyperstack struct {
	// Name is a human label, usually the file name.
	Name string
	// TimeStep is the interval between time points (0 when unknown) in
	// TimeUnit ("s", "min", …).
	TimeStep float64
	TimeUnit string

	vols     [][]*Volume // [t][c]
	channels []Channel
}

// Single wraps one volume as a Hyperstack of one channel and one time
// point (white, no name).
func Single(v *Volume) *Hyperstack {
	return &Hyperstack{Name: v.Name, vols: [][]*Volume{{v}}, channels: []Channel{{Color: White}}}
}

// NewHyperstack makes a Hyperstack of vols[t][c]. Every time point must
// have len(channels) volumes, and every volume the shape, element type and
// voxel size of vols[0][0]. A channel whose Color is zero and not
// ColorKnown gets DefaultColor.
func NewHyperstack(name string, vols [][]*Volume, channels []Channel) (*Hyperstack, error) {
	if len(vols) == 0 || len(channels) == 0 {
		return nil, fmt.Errorf("volume: %s: a hyperstack needs at least one time point and one channel", name)
	}
	first := vols[0][0]
	if first == nil {
		return nil, fmt.Errorf("volume: %s: time 0, channel 0 is missing", name)
	}
	for t, row := range vols {
		if len(row) != len(channels) {
			return nil, fmt.Errorf("volume: %s: time point %d has %d channels, the metadata names %d", name, t, len(row), len(channels))
		}
		for c, v := range row {
			switch {
			case v == nil:
				return nil, fmt.Errorf("volume: %s: time %d, channel %d is missing", name, t, c)
			case v.Shape() != first.Shape() || v.DType() != first.DType():
				return nil, fmt.Errorf("volume: %s: time %d, channel %d is %v %v, time 0, channel 0 is %v %v: all must match", name, t, c, v.Shape(), v.DType(), first.Shape(), first.DType())
			case v.Voxel.Z != first.Voxel.Z || v.Voxel.Y != first.Voxel.Y || v.Voxel.X != first.Voxel.X || v.Voxel.Unit != first.Voxel.Unit:
				return nil, fmt.Errorf("volume: %s: time %d, channel %d has voxel size %v, time 0, channel 0 has %v", name, t, c, v.Voxel, first.Voxel)
			}
		}
	}
	ch := append([]Channel(nil), channels...)
	for c := range ch {
		if !ch[c].ColorKnown && ch[c].Color == (Color{}) {
			ch[c].Color = DefaultColor(c, len(ch))
		}
	}
	rows := make([][]*Volume, len(vols))
	for t := range vols {
		rows[t] = append([]*Volume(nil), vols[t]...)
	}
	return &Hyperstack{Name: name, vols: rows, channels: ch}, nil
}

// Times returns the number of time points.
func (h *Hyperstack) Times() int { return len(h.vols) }

// Channels returns the number of channels.
func (h *Hyperstack) Channels() int { return len(h.channels) }

// Channel returns the metadata of channel c.
func (h *Hyperstack) Channel(c int) Channel { return h.channels[c] }

// At returns the volume of time point t and channel c. It panics when
// either is out of range, like a slice access.
func (h *Hyperstack) At(t, c int) *Volume { return h.vols[t][c] }

// Shape returns the (z, y, x) shape every volume has.
func (h *Hyperstack) Shape() Shape { return h.vols[0][0].Shape() }

// DType returns the element type every volume has.
func (h *Hyperstack) DType() DType { return h.vols[0][0].DType() }

// Voxel returns the voxel size every volume has.
func (h *Hyperstack) Voxel() Voxel { return h.vols[0][0].Voxel }

// Lazy reports whether the volumes are read on demand.
func (h *Hyperstack) Lazy() bool { return h.vols[0][0].Lazy() }

// Bytes returns the size of all voxel data in bytes.
func (h *Hyperstack) Bytes() int64 {
	return h.vols[0][0].Bytes() * int64(h.Times()) * int64(h.Channels())
}

// SetVoxel sets the voxel size of every volume (a --voxel override).
func (h *Hyperstack) SetVoxel(v Voxel) {
	for _, row := range h.vols {
		for _, vol := range row {
			vol.Voxel = v
		}
	}
}

// String sums h up: "3 channels × 5 time points of 32×256×256 (z,y,x) uint16".
func (h *Hyperstack) String() string {
	return fmt.Sprintf("%s × %s of %v %v", plural(h.Channels(), "channel"), plural(h.Times(), "time point"), h.Shape(), h.DType())
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Select returns the Hyperstack of the given channels and time points, in
// the order given; nil selects all of that axis. The volumes are shared.
func (h *Hyperstack) Select(channels, times []int) (*Hyperstack, error) {
	if channels == nil {
		channels = seq(h.Channels())
	}
	if times == nil {
		times = seq(h.Times())
	}
	if len(channels) == 0 || len(times) == 0 {
		return nil, fmt.Errorf("volume: %s: select at least one channel and one time point", h.Name)
	}
	ch := make([]Channel, len(channels))
	for i, c := range channels {
		if c < 0 || c >= h.Channels() {
			return nil, fmt.Errorf("volume: %s: channel %d does not exist: it has %s (0 to %d)", h.Name, c, plural(h.Channels(), "channel"), h.Channels()-1)
		}
		ch[i] = h.channels[c]
	}
	vols := make([][]*Volume, len(times))
	for i, t := range times {
		if t < 0 || t >= h.Times() {
			return nil, fmt.Errorf("volume: %s: time point %d does not exist: it has %s (0 to %d)", h.Name, t, plural(h.Times(), "time point"), h.Times()-1)
		}
		vols[i] = make([]*Volume, len(channels))
		for j, c := range channels {
			vols[i][j] = h.vols[t][c]
		}
	}
	return &Hyperstack{Name: h.Name, TimeStep: h.TimeStep, TimeUnit: h.TimeUnit, vols: vols, channels: ch}, nil
}

// CheckShown reports an error when h has more channels than a composite
// draws (MaxShown), telling the user to choose some.
func (h *Hyperstack) CheckShown() error {
	if n := h.Channels(); n > MaxShown {
		return fmt.Errorf("%s has %d channels: choose up to %d with --channels (e.g. --channels 0,1,2)", h.Name, n, MaxShown)
	}
	return nil
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// Planes returns a Source of the z-planes planes[0], planes[1], … of src
// (same y, x extent, element type and voxel size), named name: one channel
// and time point of a file whose planes interleave channels, time points
// and z, read without touching the other planes. Runs of consecutive
// planes are read with one Read each.
func Planes(src Source, planes []int, name string) (Source, error) {
	m := src.Meta()
	if len(planes) == 0 {
		return nil, fmt.Errorf("volume: %s: no planes", name)
	}
	for _, p := range planes {
		if p < 0 || p >= m.Shape.Z {
			return nil, fmt.Errorf("volume: %s: plane %d outside the %d planes of %s", name, p, m.Shape.Z, m.Name)
		}
	}
	m.Name = name
	m.Shape.Z = len(planes)
	return &planeSource{src: src, planes: append([]int(nil), planes...), meta: m}, nil
}

// planeSource is the Source Planes returns.
type planeSource struct {
	src    Source
	planes []int
	meta   Meta
}

func (p *planeSource) Meta() Meta { return p.meta }

func (p *planeSource) Read(ctx context.Context, b Box) (*Volume, error) {
	if !b.In(p.meta.Shape) {
		return nil, fmt.Errorf("volume: %s: box %v outside %v", p.meta.Name, b, p.meta.Shape)
	}
	var parts []*Volume
	for z := b.Z0; z < b.Z1; {
		run := 1
		for z+run < b.Z1 && p.planes[z+run] == p.planes[z]+run {
			run++
		}
		sb := b
		sb.Z0, sb.Z1 = p.planes[z], p.planes[z]+run
		m, err := ReadAccepting(ctx, p.src, sb)
		if err != nil {
			return nil, err
		}
		if m.shape != sb.Shape() || m.dtype != p.meta.DType {
			return nil, fmt.Errorf("volume: %s: source returned %v %v for box %v, want %v %v", p.meta.Name, m.shape, m.dtype, sb, sb.Shape(), p.meta.DType)
		}
		parts = append(parts, m)
		z += run
	}
	var out *Volume
	if len(parts) == 1 {
		out = parts[0]
	} else {
		var err error
		if out, err = stack(parts); err != nil {
			return nil, err
		}
	}
	out.Voxel, out.Name = p.meta.Voxel, p.meta.Name
	return out, nil
}
