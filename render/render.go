// Package render turns float images into pictures: window/level contrast,
// gamma, inversion and colormaps, overlays (crosshair, scale bar, caption),
// a histogram with the contrast window, and composition of split views.
//
// It is the CPU reference renderer: headless, deterministic, and the
// standard any GPU path must match. It imports only package volume.
package render

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/niiv/niiv/volume"
)

// Style is how intensities become colours. The zero value is not useful; use
// DefaultStyle or AutoStyle.
type Style struct {
	// Min and Max are the window: Min maps to the bottom of the colormap and
	// Max to its top. Min > Max is allowed and inverts the ramp.
	Min, Max float64
	// Gamma bends the ramp: t' = t^Gamma (0 means 1).
	Gamma float64
	// Invert flips the ramp after gamma.
	Invert bool
	// Map is the colormap (nil means Gray).
	Map *Colormap
}

// DefaultStyle returns a gray ramp over [lo, hi].
func DefaultStyle(lo, hi float64) Style { return Style{Min: lo, Max: hi, Gamma: 1, Map: Gray} }

// Saturated is the percentage of voxels the automatic contrast lets
// saturate, half at each end, as Fiji's "Auto" and "Enhance Contrast" do.
const Saturated = 0.35

// AutoWindow returns the window that saturates saturated percent of the
// volume's voxels (half below min, half above max), as Fiji's Enhance
// Contrast does. It never returns an empty window.
func AutoWindow(st *volume.Stats, saturated float64) (lo, hi float64) {
	lo = st.Percentile(saturated / 2)
	hi = st.Percentile(100 - saturated/2)
	if !(hi > lo) {
		lo, hi = st.Min, st.Max
	}
	if !(hi > lo) {
		hi = lo + 1
	}
	return lo, hi
}

// AutoStyle returns a gray style with the automatic window of st.
func AutoStyle(st *volume.Stats) Style {
	lo, hi := AutoWindow(st, Saturated)
	return DefaultStyle(lo, hi)
}

// lutSize is the resolution of the intensity → colour table built per draw.
const lutSize = 4096

// table is the per-draw lookup table: index k covers t = k/(lutSize-1).
type table struct {
	c      [lutSize]color.RGBA
	lo, sc float64 // k = (v - lo) * sc
}

func (s Style) table() *table {
	m := s.Map
	if m == nil {
		m = Gray
	}
	g := s.Gamma
	if !(g > 0) || math.IsInf(g, 0) {
		g = 1
	}
	span := s.Max - s.Min
	if span == 0 || math.IsNaN(span) {
		span = 1
	}
	t := &table{lo: s.Min, sc: (lutSize - 1) / span}
	for k := range t.c {
		x := float64(k) / (lutSize - 1)
		if g != 1 {
			x = math.Pow(x, g)
		}
		if s.Invert {
			x = 1 - x
		}
		t.c[k] = m.At(x)
	}
	return t
}

func (t *table) at(v float32) color.RGBA {
	f := (float64(v) - t.lo) * t.sc
	switch {
	case !(f > 0): // also NaN
		return t.c[0]
	case f >= lutSize-1:
		return t.c[lutSize-1]
	}
	return t.c[int(f+0.5)]
}

// Color returns the colour of one intensity value under s.
func (s Style) Color(v float64) color.RGBA { return s.table().at(float32(v)) }

// Draw paints src into dst with style s; src pixel (x, y) goes to
// dst.Rect.Min + (x, y). dst must be at least src's size.
func Draw(dst *image.RGBA, src *volume.Image, s Style) error {
	b := dst.Bounds()
	if b.Dx() < src.W || b.Dy() < src.H {
		return fmt.Errorf("render: destination %dx%d smaller than image %dx%d", b.Dx(), b.Dy(), src.W, src.H)
	}
	if len(src.Pix) < src.W*src.H {
		return fmt.Errorf("render: image %dx%d has %d values", src.W, src.H, len(src.Pix))
	}
	t := s.table()
	for y := 0; y < src.H; y++ {
		row := src.Pix[y*src.W : (y+1)*src.W]
		o := dst.PixOffset(b.Min.X, b.Min.Y+y)
		out := dst.Pix[o : o+4*src.W : o+4*src.W]
		for x, v := range row {
			c := t.at(v)
			p := out[4*x : 4*x+4 : 4*x+4]
			p[0], p[1], p[2], p[3] = c.R, c.G, c.B, 255
		}
	}
	return nil
}

// Image returns src painted with style s in a new RGBA image of its size.
func Image(src *volume.Image, s Style) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, src.W, src.H))
	_ = Draw(dst, src, s) // sizes match by construction
	return dst
}

// SymmetricWindow returns ±the pct-th percentile of |v| over img's values,
// the window for signed images such as differences (at least tiny > 0).
func SymmetricWindow(img *volume.Image, pct float64) (lo, hi float64) {
	n := len(img.Pix)
	if n == 0 {
		return -1, 1
	}
	// A 1024-bin histogram of |v| over [0, max|v|] is plenty for a display window.
	var m float64
	for _, v := range img.Pix {
		a := math.Abs(float64(v))
		if a > m && !math.IsInf(a, 0) {
			m = a
		}
	}
	if m == 0 {
		return -1e-6, 1e-6
	}
	const bins = 1024
	var h [bins]int
	for _, v := range img.Pix {
		a := math.Abs(float64(v))
		if a != a || math.IsInf(a, 0) {
			continue
		}
		h[min(bins-1, int(a/m*bins))]++
	}
	target := pct / 100 * float64(n)
	acc := 0
	for k, c := range h {
		acc += c
		if float64(acc) >= target {
			w := float64(k+1) / bins * m
			return -w, w
		}
	}
	return -m, m
}

// Difference returns a − b pixel by pixel; a and b must have the same size.
func Difference(a, b *volume.Image) (*volume.Image, error) {
	if a.W != b.W || a.H != b.H {
		return nil, fmt.Errorf("render: difference of %dx%d and %dx%d images", a.W, a.H, b.W, b.H)
	}
	d := volume.NewImage(a.W, a.H)
	for i := range d.Pix {
		d.Pix[i] = a.Pix[i] - b.Pix[i]
	}
	return d, nil
}

// Split composes a (left of the divider) and b (right of it) into a new
// image, the divider at fraction frac of the width, drawn as a 1-pixel line
// of colour line (scaled with the image for large exports). a and b must
// have the same bounds.
func Split(a, b *image.RGBA, frac float64, line color.RGBA) (*image.RGBA, error) {
	if a.Bounds().Size() != b.Bounds().Size() {
		return nil, fmt.Errorf("render: split of %v and %v images", a.Bounds().Size(), b.Bounds().Size())
	}
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	xd := int(math.Round(max(0, min(1, frac)) * float64(w)))
	for y := 0; y < h; y++ {
		ra := a.Pix[a.PixOffset(a.Rect.Min.X, a.Rect.Min.Y+y):][:4*w]
		rb := b.Pix[b.PixOffset(b.Rect.Min.X, b.Rect.Min.Y+y):][:4*w]
		ro := out.Pix[y*out.Stride:][:4*w]
		copy(ro[:4*xd], ra[:4*xd])
		copy(ro[4*xd:], rb[4*xd:])
	}
	th := thickness(out.Rect)
	// The line between two dark edges stays visible on bright and dark images.
	fillRect(out, image.Rect(xd-th/2-th, 0, xd-th/2+2*th, h), color.RGBA{0, 0, 0, 160})
	fillRect(out, image.Rect(xd-th/2, 0, xd-th/2+th, h), line)
	return out, nil
}

// SplitLabels names the two sides of a split image near the top of the
// divider at fraction frac of the width: left ends just before the divider,
// right starts just after it. A name that does not fit its side is left out.
func SplitLabels(dst *image.RGBA, frac float64, left, right string) error {
	b := dst.Bounds()
	size := TextSize(b) * 0.9
	xd := b.Min.X + int(math.Round(max(0, min(1, frac))*float64(b.Dx())))
	y := b.Min.Y + int(2.6*size)
	gap := int(size / 2)
	pad := int(size / 4)
	if w, _, err := MeasureText(left, size); err != nil {
		return err
	} else if x := xd - gap - w - 2*pad; left != "" && x >= b.Min.X {
		if _, err := Label(dst, image.Pt(x, y), left, size); err != nil {
			return err
		}
	}
	if w, _, err := MeasureText(right, size); err != nil {
		return err
	} else if x := xd + gap; right != "" && x+w+2*pad <= b.Max.X {
		if _, err := Label(dst, image.Pt(x, y), right, size); err != nil {
			return err
		}
	}
	return nil
}
