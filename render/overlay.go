package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Overlay colours, alpha-premultiplied like all color.RGBA values.
var (
	// White is the colour of the scale bar and of text.
	White = color.RGBA{255, 255, 255, 255}
	// Shade is the translucent backing of text and the scale bar.
	Shade = color.RGBA{0, 0, 0, 150}
	// Yellow is the default crosshair colour (255, 220, 0 at 80 % opacity).
	Yellow = color.RGBA{204, 176, 0, 204}
	// Cyan is the crosshair colour on magma and inferno, whose bright end
	// is yellow (0, 230, 255 at 80 % opacity).
	Cyan = color.RGBA{0, 184, 204, 204}
	// Magenta is the crosshair colour on viridis, which holds yellow and
	// teal but no red or pink (255, 60, 200 at 80 % opacity).
	Magenta = color.RGBA{204, 48, 160, 204}
)

// CrosshairColor returns a crosshair colour that stands out on every
// colour of m (nil: gray).
func CrosshairColor(m *Colormap) color.RGBA {
	switch m {
	case Magma, Inferno:
		return Cyan
	case Viridis:
		return Magenta
	}
	return Yellow
}

// thickness is the line width for an image of size r: 1 px on screen-sized
// images, growing with high-resolution exports so that lines stay visible.
func thickness(r image.Rectangle) int { return max(1, min(r.Dx(), r.Dy())/500) }

// TextSize returns the font size, in pixels, that overlays use on an image
// of bounds r: readable on screen and proportionally larger on exports.
func TextSize(r image.Rectangle) float64 {
	return max(11, min(72, float64(min(r.Dx(), r.Dy()))/32))
}

func fillRect(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(dst.Bounds())
	if r.Empty() {
		return
	}
	if c.A == 255 {
		draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Src)
		return
	}
	draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Over)
}

var (
	fontOnce sync.Once
	fontErr  error
	goFont   *opentype.Font
	facesMu  sync.Mutex
	faces    = map[int]font.Face{}
)

// face returns the Go Regular face at size px (rounded), cached.
func face(px float64) (font.Face, error) {
	fontOnce.Do(func() { goFont, fontErr = opentype.Parse(goregular.TTF) })
	if fontErr != nil {
		return nil, fmt.Errorf("render: parse font: %w", fontErr)
	}
	key := int(math.Round(px))
	facesMu.Lock()
	defer facesMu.Unlock()
	if f, ok := faces[key]; ok {
		return f, nil
	}
	f, err := opentype.NewFace(goFont, &opentype.FaceOptions{Size: float64(key), DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("render: font face %d px: %w", key, err)
	}
	faces[key] = f
	return f, nil
}

// MeasureText returns the width and height (ascent + descent) in pixels of
// s at size px. Faces are shared (and cache glyphs), so calls are
// serialised, as Text's are.
func MeasureText(s string, px float64) (w, h int, err error) {
	f, err := face(px)
	if err != nil {
		return 0, 0, err
	}
	facesMu.Lock()
	defer facesMu.Unlock()
	m := f.Metrics()
	return font.MeasureString(f, s).Ceil(), (m.Ascent + m.Descent).Ceil(), nil
}

// Text draws s with its top-left corner at p, size px, colour c. Faces are
// shared, so calls are serialised.
func Text(dst *image.RGBA, p image.Point, s string, px float64, c color.RGBA) error {
	f, err := face(px)
	if err != nil {
		return err
	}
	facesMu.Lock()
	defer facesMu.Unlock()
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: f,
		Dot: fixed.P(p.X, p.Y+f.Metrics().Ascent.Ceil())}
	d.DrawString(s)
	return nil
}

// Label draws s on a translucent backing box whose top-left corner is at p
// and returns the box.
func Label(dst *image.RGBA, p image.Point, s string, px float64) (image.Rectangle, error) {
	w, h, err := MeasureText(s, px)
	if err != nil {
		return image.Rectangle{}, err
	}
	pad := int(px / 4)
	box := image.Rect(p.X, p.Y, p.X+w+2*pad, p.Y+h+2*pad)
	fillRect(dst, box, Shade)
	return box, Text(dst, p.Add(image.Pt(pad, pad)), s, px, White)
}

// Crosshair draws a horizontal and a vertical line through (x, y), in
// pixels of dst, leaving a gap of gap pixels around the centre so the point
// itself stays visible. Lines outside dst are skipped.
func Crosshair(dst *image.RGBA, x, y float64, gap int, c color.RGBA) {
	b := dst.Bounds()
	th := thickness(b)
	xi, yi := int(math.Floor(x)), int(math.Floor(y))
	gap *= th
	if yi >= b.Min.Y && yi < b.Max.Y {
		fillRect(dst, image.Rect(b.Min.X, yi-th/2, xi-gap, yi-th/2+th), c)
		fillRect(dst, image.Rect(xi+gap+1, yi-th/2, b.Max.X, yi-th/2+th), c)
	}
	if xi >= b.Min.X && xi < b.Max.X {
		fillRect(dst, image.Rect(xi-th/2, b.Min.Y, xi-th/2+th, yi-gap), c)
		fillRect(dst, image.Rect(xi-th/2, yi+gap+1, xi-th/2+th, b.Max.Y), c)
	}
}

// NiceLength returns the largest length of the form {1, 2, 5}×10^k not
// above limit (limit > 0), the lengths a scale bar uses.
func NiceLength(limit float64) float64 {
	if !(limit > 0) || math.IsInf(limit, 0) {
		return 0
	}
	e := math.Floor(math.Log10(limit))
	p := math.Pow(10, e)
	for _, m := range []float64{5, 2, 1} {
		if m*p <= limit*(1+1e-9) {
			return m * p
		}
	}
	return p / 2 // unreachable: 1×10^e ≤ limit by construction
}

// unitScale is the size of each length unit in nanometres.
var unitScale = map[string]float64{"nm": 1, "µm": 1e3, "um": 1e3, "mm": 1e6}

// FormatLength formats a length given in unit, switching between nm, µm
// and mm to keep the number between 1 and 999: 500 nm, 2 µm, 1.5 mm. Units
// it does not know (px, "") are printed as given.
func FormatLength(v float64, unit string) string {
	s, ok := unitScale[unit]
	if !ok {
		if unit == "" {
			unit = "px"
		}
		return trim(v) + " " + unit
	}
	nm := v * s
	switch a := math.Abs(nm); {
	case a >= 1e6:
		return trim(nm/1e6) + " mm"
	case a >= 1e3:
		return trim(nm/1e3) + " µm"
	}
	return trim(nm) + " nm"
}

func trim(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// ScaleBar draws, in the bottom-right corner of dst, a bar whose length is
// the round length (see NiceLength) closest below a fifth of the width, and
// its label. perPixel is the physical size of one pixel in unit. It returns
// the bar's length in unit (0 when nothing was drawn).
func ScaleBar(dst *image.RGBA, perPixel float64, unit string) (float64, error) {
	return ScaleBarSized(dst, perPixel, unit, TextSize(dst.Bounds()))
}

// ScaleBarSized is ScaleBar with the label's text size given, e.g. that of
// the view the image is shown in, so that a wide, thin axial image gets
// the same bar as its neighbours; the size shrinks where the bar would
// take more than half the image's height.
func ScaleBarSized(dst *image.RGBA, perPixel float64, unit string, size float64) (float64, error) {
	b := dst.Bounds()
	if !(perPixel > 0) || b.Dx() < 40 || b.Dy() < 30 {
		return 0, nil
	}
	length := NiceLength(float64(b.Dx()) / 5 * perPixel)
	px := int(math.Round(length / perPixel))
	if px < 2 {
		return 0, nil
	}
	// The box is about 3.7 text sizes tall (margin, text, bar, padding).
	size = max(11, min(size, float64(b.Dy())/2/3.7))
	label := FormatLength(length, unit)
	tw, th, err := MeasureText(label, size)
	if err != nil {
		return 0, err
	}
	margin := int(size)
	barH := max(3, int(size/3))
	pad := int(size / 3)
	w := max(px, tw)
	box := image.Rect(b.Max.X-margin-w-2*pad, b.Max.Y-margin-barH-th-3*pad, b.Max.X-margin, b.Max.Y-margin)
	fillRect(dst, box, Shade)
	bar := image.Rect(box.Max.X-pad-px, box.Max.Y-pad-barH, box.Max.X-pad, box.Max.Y-pad)
	fillRect(dst, bar, White)
	tx := bar.Min.X + (px-tw)/2
	tx = min(tx, box.Max.X-pad-tw)
	return length, Text(dst, image.Pt(tx, box.Min.Y+pad), label, size, White)
}

// Caption stamps text in the top-left corner of dst (file, mode, model,
// factor, …) on a translucent box. Text too wide for dst is set smaller,
// then shortened with an ellipsis.
func Caption(dst *image.RGBA, text string) error {
	if text == "" {
		return nil
	}
	b := dst.Bounds()
	size := TextSize(b)
	m := int(size / 2)
	maxW := b.Dx() - 2*m - int(size/2)
	w, _, err := MeasureText(text, size)
	if err != nil {
		return err
	}
	if w > maxW && maxW > 0 {
		size = max(9, size*float64(maxW)/float64(w))
	}
	r := []rune(text)
	for len(r) > 1 {
		if w, _, _ = MeasureText(string(r), size); w <= maxW {
			break
		}
		r = append(r[:len(r)-2], '…')
	}
	_, err = Label(dst, b.Min.Add(image.Pt(m, m)), string(r), size)
	return err
}
