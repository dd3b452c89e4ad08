package viewer

import (
	"fmt"
	"image"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// Channels and time points. A Model shows one time point of a
// volume.Hyperstack. With one channel it is exactly the one-volume viewer
// (gray, colormaps, one contrast). With several, every view is the
// additive colour composite of the visible channels (render.Composite):
// each channel has its own visibility, colour and contrast, and one
// channel is selected — Contrast, SetContrast, AutoContrast, Volume and
// the histogram act on it. Every channel and time point is its own
// *volume.Volume, so each is decoded (and, in niiv mode, normalised and
// reconstructed) on its own, and the workers' caches never mix them.

// ChannelState is the display state of one channel of a multi-channel
// stack.
type ChannelState struct {
	// Name is the channel's label ("DAPI", else "channel N").
	Name string
	// Visible says the channel is drawn in the composite.
	Visible bool
	// Color is the colour the channel's top intensity is drawn in.
	Color volume.Color
	// Contrast is the channel's window and gamma (its colormap and
	// inversion are not used: the channel's ramp goes from black to
	// Color).
	Contrast Contrast
}

// Layer is one channel of a frozen Request.
type Layer struct {
	Vol    *volume.Volume
	Style  render.Style
	Color  volume.Color
	Hidden bool
	Name   string
}

// Stack returns the hyperstack shown.
func (m *Model) Stack() *volume.Hyperstack { return m.stack }

// Channels returns the number of channels.
func (m *Model) Channels() int { return m.stack.Channels() }

// Times returns the number of time points.
func (m *Model) Times() int { return m.stack.Times() }

// Time returns the time point shown.
func (m *Model) Time() int { return m.time }

// SetTime shows time point t (clamped to the stack's). Crosshair, views
// and every channel's contrast stay as they are, as in Fiji.
func (m *Model) SetTime(t int) {
	t = max(0, min(m.stack.Times()-1, t))
	if t == m.time {
		return
	}
	m.time = t
	m.vol = m.stack.At(t, m.selected)
	m.notify(ChangeTime)
}

// StepTime moves n time points (the , and . keys).
func (m *Model) StepTime(n int) { m.SetTime(m.time + n) }

// Selected returns the selected channel.
func (m *Model) Selected() int { return m.selected }

// SelectChannel makes channel c the one the contrast controls, the
// histogram, Volume and Probe follow.
func (m *Model) SelectChannel(c int) {
	if c < 0 || c >= m.stack.Channels() || c == m.selected {
		return
	}
	m.selected = c
	m.vol = m.stack.At(m.time, c)
	m.contrast = m.channels[c].Contrast
	m.notify(ChangeChannels | ChangeContrast)
}

// Channel returns the display state of channel c; a one-channel stack's
// only channel is its white, visible volume with the shared contrast.
func (m *Model) Channel(c int) ChannelState {
	if m.channels == nil {
		return ChannelState{Name: m.stack.Channel(0).Label(0), Visible: true, Color: volume.White, Contrast: m.contrast}
	}
	return m.channels[c]
}

// SetChannelVisible shows or hides channel c in the composite.
func (m *Model) SetChannelVisible(c int, on bool) {
	if m.channels == nil || c < 0 || c >= len(m.channels) || m.channels[c].Visible == on {
		return
	}
	m.channels[c].Visible = on
	m.notify(ChangeChannels)
}

// SetChannelColor sets the colour of channel c.
func (m *Model) SetChannelColor(c int, col volume.Color) {
	if m.channels == nil || c < 0 || c >= len(m.channels) || m.channels[c].Color == col {
		return
	}
	m.channels[c].Color = col
	m.notify(ChangeChannels)
}

// layers returns the channels of a request, nil for one channel.
func (m *Model) layers() []Layer {
	if m.channels == nil {
		return nil
	}
	ls := make([]Layer, len(m.channels))
	for c, ch := range m.channels {
		ls[c] = Layer{Vol: m.stack.At(m.time, c), Style: ch.Contrast.Style(), Color: ch.Color, Hidden: !ch.Visible, Name: ch.Name}
	}
	return ls
}

// ChannelCaption describes the visible channels and their colours for a
// caption ("DAPI (#00FF00), GFP (#FF00FF)"); "" for one channel. (The
// views' titles give the time point.)
func (m *Model) ChannelCaption() string {
	ls := m.layers()
	if ls == nil {
		return ""
	}
	rl := make([]render.Layer, len(ls))
	names := make([]string, len(ls))
	for i, l := range ls {
		rl[i] = render.Layer{Color: l.Color, Hidden: l.Hidden}
		names[i] = l.Name
	}
	if s := render.ChannelCaption(rl, names); s != "" {
		return s
	}
	return "no channel shown"
}

// HistogramStyle is the style of the selected channel's histogram: its
// window and gamma on the ramp it is drawn with (black to its colour in
// a composite).
func (m *Model) HistogramStyle() render.Style {
	s := m.contrast.Style()
	if m.channels != nil {
		s.Map, s.Invert = render.ChannelMap(m.channels[m.selected].Color), false
	}
	return s
}

// timeLabel is "t 2/5" (counted from 0) when there are several time
// points, else "".
func (m *Model) timeLabel() string {
	if m.stack.Times() < 2 {
		return ""
	}
	return fmt.Sprintf("t %d/%d", m.time, m.stack.Times()-1)
}

// slices returns the decoding orders of r: one for a one-channel request,
// one per visible channel of a composite (none when all are hidden).
func (r Request) slices() []Slice {
	if r.Layers == nil {
		return []Slice{r.Slice()}
	}
	var out []Slice
	for _, l := range r.Layers {
		if !l.Hidden {
			s := r.Slice()
			s.Vol = l.Vol
			out = append(out, s)
		}
	}
	return out
}

// composite paints the decoded images of a composite's visible channels
// (imgs, in the order of slices) with each channel's style and colour.
// With diff, imgs are niiv − linear differences: each channel shows |d|
// from 0 to DiffRange of its style in its colour.
func composite(r Request, imgs []*volume.Image, diff bool) (*image.RGBA, error) {
	var ls []render.Layer
	k := 0
	for _, l := range r.Layers {
		if l.Hidden {
			continue
		}
		img, st := imgs[k], l.Style
		k++
		if diff {
			a := volume.NewImage(img.W, img.H)
			for i, v := range img.Pix {
				if v < 0 {
					v = -v
				}
				a.Pix[i] = v
			}
			img, st = a, render.Style{Min: 0, Max: DiffRange(l.Style), Gamma: 1}
		}
		ls = append(ls, render.Layer{Image: img, Style: st, Color: l.Color})
	}
	if len(ls) == 0 {
		// Every channel hidden: a black picture of the region.
		dst := image.NewRGBA(image.Rect(0, 0, r.W, r.H))
		for i := 3; i < len(dst.Pix); i += 4 {
			dst.Pix[i] = 255
		}
		return dst, nil
	}
	return render.CompositeImage(ls)
}
