package render

import (
	"fmt"
	"image/color"
	"sort"
	"strings"
)

// Colormap maps a normalised intensity in [0, 1] to a colour through a
// 256-entry lookup table.
type Colormap struct {
	Name string
	LUT  [256]color.RGBA
}

// At returns the colour of t in [0, 1]; values outside are clamped.
func (m *Colormap) At(t float64) color.RGBA {
	switch {
	case !(t > 0): // also NaN
		return m.LUT[0]
	case t >= 1:
		return m.LUT[255]
	}
	return m.LUT[int(t*255+0.5)]
}

// stop is a control point of a colormap: position t in [0,1] and sRGB colour.
type stop struct {
	t       float64
	r, g, b uint8
}

// newColormap builds a 256-entry LUT by linear interpolation in sRGB between
// control points sorted by t, the first at 0 and the last at 1.
func newColormap(name string, stops []stop) *Colormap {
	m := &Colormap{Name: name}
	k := 0
	for i := range m.LUT {
		t := float64(i) / 255
		for k < len(stops)-2 && t > stops[k+1].t {
			k++
		}
		a, b := stops[k], stops[k+1]
		f := (t - a.t) / (b.t - a.t)
		f = max(0, min(1, f))
		lerp := func(x, y uint8) uint8 { return uint8(float64(x) + (float64(y)-float64(x))*f + 0.5) }
		m.LUT[i] = color.RGBA{lerp(a.r, b.r), lerp(a.g, b.g), lerp(a.b, b.b), 255}
	}
	return m
}

// The colormaps. Magma, viridis and inferno are approximated from nine
// control points each (their published colours at t = 0, 1/8, …, 1);
// between points they are interpolated linearly, which keeps them
// perceptually ordered to within a few percent of lightness.
var (
	// Gray is the identity ramp from black to white.
	Gray = newColormap("gray", []stop{{0, 0, 0, 0}, {1, 255, 255, 255}})
	// Magma runs from black through purple and orange to pale yellow.
	Magma = newColormap("magma", []stop{
		{0, 0, 0, 4}, {0.125, 28, 16, 68}, {0.25, 79, 18, 123}, {0.375, 129, 37, 129},
		{0.5, 181, 54, 122}, {0.625, 229, 80, 100}, {0.75, 251, 135, 97},
		{0.875, 254, 194, 135}, {1, 252, 253, 191}})
	// Viridis runs from dark purple through teal to yellow.
	Viridis = newColormap("viridis", []stop{
		{0, 68, 1, 84}, {0.125, 71, 44, 122}, {0.25, 59, 81, 139}, {0.375, 44, 113, 142},
		{0.5, 33, 144, 141}, {0.625, 39, 173, 129}, {0.75, 92, 200, 99},
		{0.875, 170, 220, 50}, {1, 253, 231, 37}})
	// Inferno runs from black through red and orange to pale yellow.
	Inferno = newColormap("inferno", []stop{
		{0, 0, 0, 4}, {0.125, 31, 12, 72}, {0.25, 85, 15, 109}, {0.375, 136, 34, 106},
		{0.5, 186, 54, 85}, {0.625, 227, 89, 51}, {0.75, 249, 140, 10},
		{0.875, 249, 201, 50}, {1, 252, 255, 164}})
	// Diverging runs blue – light grey – red, for signed images such as the
	// difference between two reconstructions (0 maps to t = 0.5).
	Diverging = newColormap("diverging", []stop{
		{0, 40, 60, 180}, {0.25, 110, 140, 225}, {0.5, 225, 225, 225},
		{0.75, 230, 130, 100}, {1, 180, 10, 35}})
)

var colormaps = map[string]*Colormap{
	"gray": Gray, "magma": Magma, "viridis": Viridis, "inferno": Inferno, "diverging": Diverging,
}

// Colormaps returns the names of the colormaps offered to users, gray first.
func Colormaps() []string {
	names := []string{"gray"}
	rest := make([]string, 0, len(colormaps))
	for n := range colormaps {
		if n != "gray" && n != "diverging" {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// ColormapNamed returns the colormap called name (case-insensitive; "grey"
// is accepted).
func ColormapNamed(name string) (*Colormap, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "grey" {
		n = "gray"
	}
	if m, ok := colormaps[n]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("render: unknown colormap %q (have %s)", name, strings.Join(Colormaps(), ", "))
}
