package viewer

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// Background is the colour around the plane in a view.
var Background = color.RGBA{12, 12, 14, 255}

// Title returns a view's title: the plane, the slice in voxels and in
// physical units ("XZ · y 63 / 128 · 504 nm").
func (m *Model) Title(axis volume.Axis) string {
	idx := m.Index(axis)
	n := m.vol.Count(axis)
	var name string
	var size float64
	v := m.vol.Voxel
	switch axis {
	case volume.XY:
		name, size = "z", v.Z
	case volume.XZ:
		name, size = "y", v.Y
	default:
		name, size = "x", v.X
	}
	num := fmt.Sprintf("%.0f", idx)
	if idx != math.Round(idx) {
		num = fmt.Sprintf("%.2f", idx)
	}
	t := fmt.Sprintf("%s · %s %s / %d · %s", upper(axis), name, num, n, render.FormatLength(idx*size, v.Unit))
	if tl := m.timeLabel(); tl != "" {
		t += " · " + tl
	}
	return t
}

func upper(a volume.Axis) string {
	switch a {
	case volume.XY:
		return "XY"
	case volume.XZ:
		return "XZ"
	}
	return "YZ"
}

// Compose draws a frame onto a canvas of its widget's size, at its offset,
// on the view background, with title on top (when not empty): what the
// view shows on screen.
func Compose(f Frame, title string) *image.RGBA {
	g := f.Request.Geometry
	sz := g.Widget
	if sz.X <= 0 || sz.Y <= 0 {
		sz = image.Pt(max(1, g.W), max(1, g.H))
	}
	out := image.NewRGBA(image.Rect(0, 0, sz.X, sz.Y))
	draw.Draw(out, out.Bounds(), image.NewUniform(Background), image.Point{}, draw.Src)
	if f.Image != nil {
		draw.Draw(out, f.Image.Bounds().Add(g.Offset), f.Image, f.Image.Bounds().Min, draw.Src)
	}
	if title != "" {
		s := render.TextSize(out.Bounds())
		_, _ = render.Label(out, image.Pt(int(s/2), int(s/2)), title, s)
	}
	return out
}

// ViewImage renders one view's request synchronously and composes it as the
// screen shows it (see Compose): an export at the request's resolution.
func ViewImage(ctx context.Context, methods Methods, req Request, title string) (*image.RGBA, error) {
	f, err := RenderFrame(ctx, methods, req)
	if err != nil {
		return nil, err
	}
	return Compose(f, title), nil
}

// Pad returns img extended to size (never cropped) with the background
// colour on the right and at the bottom.
func Pad(img *image.RGBA, size image.Point) *image.RGBA {
	b := img.Bounds()
	if b.Dx() >= size.X && b.Dy() >= size.Y {
		return img
	}
	out := image.NewRGBA(image.Rect(0, 0, max(size.X, b.Dx()), max(size.Y, b.Dy())))
	draw.Draw(out, out.Bounds(), image.NewUniform(Background), image.Point{}, draw.Src)
	draw.Draw(out, b.Sub(b.Min), img, b.Min, draw.Src)
	return out
}

// Grid tiles images in a grid of cols columns, each cell as large as the
// largest image, separated by gap pixels of the background colour. Nil
// images leave their cell empty.
func Grid(images []*image.RGBA, cols, gap int) *image.RGBA {
	if cols < 1 {
		cols = 1
	}
	var cw, ch int
	for _, im := range images {
		if im != nil {
			cw, ch = max(cw, im.Bounds().Dx()), max(ch, im.Bounds().Dy())
		}
	}
	rows := (len(images) + cols - 1) / cols
	out := image.NewRGBA(image.Rect(0, 0, max(1, cols*cw+(cols-1)*gap), max(1, rows*ch+(rows-1)*gap)))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.RGBA{40, 40, 44, 255}), image.Point{}, draw.Src)
	for i, im := range images {
		if im == nil {
			continue
		}
		p := image.Pt((i%cols)*(cw+gap), (i/cols)*(ch+gap))
		draw.Draw(out, im.Bounds().Sub(im.Bounds().Min).Add(p), im, im.Bounds().Min, draw.Src)
	}
	return out
}

// Snapshot is a frozen order for an image of the whole layout: the three
// views' requests and titles, and the fourth cell's histogram and
// description. Build it with Model.Snapshot on the model's goroutine and
// render it anywhere.
type Snapshot struct {
	Requests [3]Request
	Titles   [3]string
	Stats    *volume.Stats
	Style    render.Style
	Lines    []string
	Scale    float64
	// Caption is stamped once on the layout (in the fourth cell); the
	// views' requests carry none. View adds it back for one-view exports.
	Caption string
}

// Snapshot freezes the layout at scale× the widgets' size (decoded at that
// resolution, not upscaled).
func (m *Model) Snapshot(scale float64) Snapshot {
	if !(scale > 0) {
		scale = 1
	}
	s := Snapshot{Stats: m.vol.Stats(), Style: m.HistogramStyle(), Lines: m.Describe(), Scale: scale, Caption: m.caption}
	if m.channels != nil {
		// The picture's colours need a key: the channels shown and theirs.
		s.Caption = strings.TrimPrefix(s.Caption+" · "+m.ChannelCaption(), " · ")
	}
	for i, axis := range Views {
		s.Requests[i] = m.Request(axis, scale)
		s.Requests[i].Caption = ""
		s.Titles[i] = m.Title(axis)
	}
	return s
}

// View renders one view of the snapshot with the caption: its decoded
// region, as the screen shows it, without the widget's empty margins.
func (s Snapshot) View(ctx context.Context, methods Methods, axis volume.Axis) (*image.RGBA, error) {
	req := s.Requests[axis]
	req.Caption = s.Titles[axis]
	if s.Caption != "" {
		req.Caption += " · " + s.Caption
	}
	f, err := RenderFrame(ctx, methods, req)
	if err != nil {
		return nil, err
	}
	if f.Image != nil {
		// The decoded region alone, without the widget's empty margins.
		return f.Image, nil
	}
	return Compose(f, ""), nil
}

// Render renders the snapshot: the views tiled 2×2 like the window, with
// the histogram and description in the fourth cell.
func (s Snapshot) Render(ctx context.Context, methods Methods) (*image.RGBA, error) {
	tiles := make([]*image.RGBA, 4)
	for i, req := range s.Requests {
		img, err := ViewImage(ctx, methods, req, s.Titles[i])
		if err != nil {
			return nil, err
		}
		tiles[i] = img
	}
	b := tiles[0].Bounds()
	info := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(info, info.Bounds(), image.NewUniform(Background), image.Point{}, draw.Src)
	st := s.Stats
	hw, hh := b.Dx()*9/10, b.Dy()/3
	h := render.Histogram(st.Histogram(st.Bins(max(16, hw/2))), st.Min, st.Max, s.Style, hw, hh)
	off := image.Pt(b.Dx()/20, b.Dy()/2)
	draw.Draw(info, h.Bounds().Add(off), h, image.Point{}, draw.Src)
	ts := render.TextSize(info.Bounds())
	top := int(ts)
	if s.Caption != "" {
		top += int(ts * 2) // below the caption, stamped at the top
	}
	// The lines stay above the histogram: smaller text in a small cell,
	// and the last lines left out where even that does not fit.
	lines := s.Lines
	room := float64(off.Y - top)
	if need := float64(len(lines)) * ts * 1.4; need > room {
		ts = max(8, room/(float64(len(lines))*1.4))
		lines = lines[:min(len(lines), max(0, int(room/(ts*1.4))))]
	}
	for i, line := range lines {
		if err := render.Text(info, image.Pt(off.X, top+i*int(ts*1.4)), line, ts, render.White); err != nil {
			return nil, err
		}
	}
	if err := render.Caption(info, s.Caption); err != nil {
		return nil, err
	}
	tiles[3] = info
	return Grid(tiles, 2, max(2, int(2*s.Scale))), nil
}

// Describe returns lines describing the volume and display: name, shape,
// voxel size and anisotropy, mode, contrast.
func (m *Model) Describe() []string {
	v := m.vol
	name := v.Name
	if name == "" {
		name = "(unnamed volume)"
	}
	c := m.contrast
	lines := []string{
		name,
		fmt.Sprintf("%v %v", v.Shape(), v.DType()),
		fmt.Sprintf("voxel %v", v.Voxel),
		fmt.Sprintf("anisotropy %.3g×", v.Voxel.Anisotropy()),
		fmt.Sprintf("mode %v", m.mode),
		fmt.Sprintf("window %.4g – %.4g · γ %.2g · %s", c.Min, c.Max, c.Gamma, c.Colormap),
	}
	if m.channels != nil || m.stack.Times() > 1 {
		h := m.stack
		name := h.Name
		if name == "" {
			name = v.Name
		}
		lines[0] = name
		lines[1] = fmt.Sprintf("%s × %s of %v %v", plural(h.Channels(), "channel"), plural(h.Times(), "time point"), v.Shape(), v.DType())
		if tl := m.timeLabel(); tl != "" {
			lines[4] += " · " + tl
		}
	}
	if m.channels != nil {
		lines[5] = fmt.Sprintf("%s selected: window %.4g – %.4g · γ %.2g", m.channels[m.selected].Name, c.Min, c.Max, c.Gamma)
		lines = append(lines, m.ChannelCaption())
	}
	return lines
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
