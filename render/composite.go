package render

import (
	"fmt"
	"image"
	"strings"

	"github.com/niiv/niiv/volume"
)

// Layer is one channel of a colour composite: its float image (all layers
// of a composite have one size), its window and gamma (Style; its Map is
// ignored), the colour its top intensity is drawn in, and whether it is
// drawn.
type Layer struct {
	Image  *volume.Image
	Style  Style
	Color  volume.Color
	Hidden bool
}

// ChannelMap returns the linear ramp from black to c, the colormap of a
// composite channel; white gives exactly Gray.
func ChannelMap(c volume.Color) *Colormap {
	if c == volume.White {
		return Gray
	}
	return newColormap("channel "+c.String(), []stop{{0, 0, 0, 0}, {1, c.R, c.G, c.B}})
}

// Composite paints the additive colour composite of layers into dst, as
// Fiji's composite mode and napari's additive blending do: each visible
// layer is mapped through its window and gamma onto the ramp from black to
// its colour, and the layers' red, green and blue are summed and clamped
// to 255 (alpha is opaque). Layer i's pixel (x, y) goes to dst.Rect.Min +
// (x, y). With no visible layer dst is painted black. One visible white
// layer gives exactly Draw with a Gray style. It costs about one Draw per
// visible layer.
func Composite(dst *image.RGBA, layers []Layer) error {
	if len(layers) == 0 {
		return fmt.Errorf("render: composite of no layers")
	}
	w, h := layers[0].Image.W, layers[0].Image.H
	b := dst.Bounds()
	if b.Dx() < w || b.Dy() < h {
		return fmt.Errorf("render: destination %dx%d smaller than image %dx%d", b.Dx(), b.Dy(), w, h)
	}
	for i, l := range layers {
		if l.Image.W != w || l.Image.H != h || len(l.Image.Pix) < w*h {
			return fmt.Errorf("render: composite layer %d is %dx%d (%d values), layer 0 is %dx%d", i, l.Image.W, l.Image.H, len(l.Image.Pix), w, h)
		}
	}
	first := true
	for _, l := range layers {
		if l.Hidden {
			continue
		}
		s := l.Style
		s.Map = ChannelMap(l.Color)
		t := s.table()
		for y := 0; y < h; y++ {
			row := l.Image.Pix[y*w : (y+1)*w]
			o := dst.PixOffset(b.Min.X, b.Min.Y+y)
			out := dst.Pix[o : o+4*w : o+4*w]
			if first {
				for x, v := range row {
					c := t.at(v)
					p := out[4*x : 4*x+4 : 4*x+4]
					p[0], p[1], p[2], p[3] = c.R, c.G, c.B, 255
				}
				continue
			}
			for x, v := range row {
				c := t.at(v)
				p := out[4*x : 4*x+4 : 4*x+4]
				p[0] = addClamp(p[0], c.R)
				p[1] = addClamp(p[1], c.G)
				p[2] = addClamp(p[2], c.B)
			}
		}
		first = false
	}
	if first {
		for y := 0; y < h; y++ {
			o := dst.PixOffset(b.Min.X, b.Min.Y+y)
			out := dst.Pix[o : o+4*w : o+4*w]
			for x := 0; x < w; x++ {
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = 0, 0, 0, 255
			}
		}
	}
	return nil
}

// addClamp returns a + b, at most 255, without a branch: a sum past 255
// has bit 8 set, and or-ing in 0 − 1 = all ones saturates it.
func addClamp(a, b uint8) uint8 {
	s := uint16(a) + uint16(b)
	return uint8(s | -(s >> 8))
}

// CompositeImage returns the composite of layers in a new RGBA image of
// their size.
func CompositeImage(layers []Layer) (*image.RGBA, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("render: composite of no layers")
	}
	dst := image.NewRGBA(image.Rect(0, 0, layers[0].Image.W, layers[0].Image.H))
	if err := Composite(dst, layers); err != nil {
		return nil, err
	}
	return dst, nil
}

// ChannelCaption describes the visible layers of a composite for a
// caption, e.g. "DAPI (#00FF00), GFP (#FF00FF)"; names[i] names layer i
// (a missing or empty name is "channel i").
func ChannelCaption(layers []Layer, names []string) string {
	var parts []string
	for i, l := range layers {
		if l.Hidden {
			continue
		}
		n := ""
		if i < len(names) {
			n = names[i]
		}
		if n == "" {
			n = fmt.Sprintf("channel %d", i)
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", n, l.Color))
	}
	return strings.Join(parts, ", ")
}
