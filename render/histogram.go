package render

import (
	"image"
	"image/color"
	"math"
)

// Histogram colours.
var (
	histBackground = color.RGBA{30, 30, 34, 255}
	histBars       = color.RGBA{170, 170, 180, 255}
	histWindow     = color.RGBA{255, 200, 0, 255}
)

// Histogram draws counts (equal bins over [lo, hi], e.g. from
// volume.Stats.Histogram) as a w×h image: bars on a logarithmic scale, a
// strip at the bottom showing the colours style s gives each value, the
// window's edges as vertical lines and the transfer curve (with gamma)
// between them.
func Histogram(counts []int64, lo, hi float64, s Style, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fillRect(img, img.Bounds(), histBackground)
	if w < 2 || h < 8 || len(counts) == 0 {
		return img
	}
	strip := max(3, h/8)
	plotH := h - strip - 1
	span := hi - lo
	if !(span > 0) {
		span = 1
	}
	// Bars: resample counts to columns, log scale.
	var peak float64
	cols := make([]float64, w)
	for x := range cols {
		b0 := x * len(counts) / w
		b1 := max(b0+1, (x+1)*len(counts)/w)
		var c int64
		for b := b0; b < b1 && b < len(counts); b++ {
			c += counts[b]
		}
		cols[x] = math.Log1p(float64(c))
		peak = max(peak, cols[x])
	}
	for x, c := range cols {
		if peak == 0 {
			break
		}
		bh := int(math.Round(c / peak * float64(plotH-1)))
		fillRect(img, image.Rect(x, plotH-bh, x+1, plotH), histBars)
	}
	// Colour strip.
	t := s.table()
	for x := 0; x < w; x++ {
		v := lo + (float64(x)+0.5)/float64(w)*span
		fillRect(img, image.Rect(x, h-strip, x+1, h), t.at(float32(v)))
	}
	// Window edges and transfer curve.
	xOf := func(v float64) int { return int(math.Floor((v - lo) / span * float64(w))) }
	for _, v := range []float64{s.Min, s.Max} {
		if x := xOf(v); x >= 0 && x < w {
			fillRect(img, image.Rect(x, 0, x+1, plotH), histWindow)
		}
	}
	g := s.Gamma
	if !(g > 0) {
		g = 1
	}
	prev := -1
	for x := 0; x < w; x++ {
		v := lo + (float64(x)+0.5)/float64(w)*span
		f := (v - s.Min) / (s.Max - s.Min)
		if math.IsNaN(f) {
			continue
		}
		f = math.Pow(max(0, min(1, f)), g)
		if s.Invert {
			f = 1 - f
		}
		y := plotH - 1 - int(math.Round(f*float64(plotH-1)))
		y0, y1 := y, y
		if prev >= 0 {
			y0, y1 = min(y, prev), max(y, prev)
		}
		fillRect(img, image.Rect(x, y0, x+1, y1+1), histWindow)
		prev = y
	}
	return img
}
