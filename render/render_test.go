package render

import (
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/niiv/niiv/volume"
)

func ramp(w, h int, lo, hi float32) *volume.Image {
	m := volume.NewImage(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, lo+(hi-lo)*float32(x)/float32(max(1, w-1)))
		}
	}
	return m
}

func TestStyleColor(t *testing.T) {
	tests := []struct {
		name string
		s    Style
		v    float64
		want color.RGBA
	}{
		{"below window is black", DefaultStyle(10, 20), 0, color.RGBA{0, 0, 0, 255}},
		{"min is black", DefaultStyle(10, 20), 10, color.RGBA{0, 0, 0, 255}},
		{"max is white", DefaultStyle(10, 20), 20, color.RGBA{255, 255, 255, 255}},
		{"above window is white", DefaultStyle(10, 20), 1e9, color.RGBA{255, 255, 255, 255}},
		{"middle is mid gray", DefaultStyle(0, 1), 0.5, color.RGBA{128, 128, 128, 255}},
		{"NaN is bottom", DefaultStyle(0, 1), math.NaN(), color.RGBA{0, 0, 0, 255}},
		{"invert", Style{Min: 0, Max: 1, Gamma: 1, Invert: true}, 0, color.RGBA{255, 255, 255, 255}},
		{"gamma 2 darkens", Style{Min: 0, Max: 1, Gamma: 2}, 0.5, color.RGBA{64, 64, 64, 255}},
		{"gamma 0 means 1", Style{Min: 0, Max: 1}, 0.5, color.RGBA{128, 128, 128, 255}},
		{"reversed window", Style{Min: 1, Max: 0, Gamma: 1}, 1, color.RGBA{0, 0, 0, 255}},
		{"empty window does not divide by zero", Style{Min: 5, Max: 5, Gamma: 1}, 6, color.RGBA{255, 255, 255, 255}},
		{"magma bottom", Style{Min: 0, Max: 1, Gamma: 1, Map: Magma}, 0, color.RGBA{0, 0, 4, 255}},
		{"viridis top", Style{Min: 0, Max: 1, Gamma: 1, Map: Viridis}, 1, color.RGBA{253, 231, 37, 255}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.Color(tc.v)
			if d := colorDist(got, tc.want); d > 2 {
				t.Errorf("Color(%v) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}

func colorDist(a, b color.RGBA) int {
	d := 0
	for _, p := range [][2]uint8{{a.R, b.R}, {a.G, b.G}, {a.B, b.B}, {a.A, b.A}} {
		d = max(d, abs(int(p[0])-int(p[1])))
	}
	return d
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func luminance(c color.RGBA) float64 {
	lin := func(u uint8) float64 {
		f := float64(u) / 255
		if f <= 0.04045 {
			return f / 12.92
		}
		return math.Pow((f+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

func TestColormapsMonotonicLightness(t *testing.T) {
	for _, name := range Colormaps() {
		m, err := ColormapNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			prev := -1.0
			for i, c := range m.LUT {
				l := luminance(c)
				if l < prev-1e-3 {
					t.Fatalf("lightness drops at entry %d: %.4f < %.4f", i, l, prev)
				}
				prev = l
				if c.A != 255 {
					t.Fatalf("entry %d not opaque", i)
				}
			}
		})
	}
}

func TestColormapNamed(t *testing.T) {
	tests := []struct {
		in      string
		want    *Colormap
		wantErr bool
	}{
		{"gray", Gray, false}, {"Grey", Gray, false}, {" magma ", Magma, false},
		{"VIRIDIS", Viridis, false}, {"inferno", Inferno, false}, {"jet", nil, true},
	}
	for _, tc := range tests {
		got, err := ColormapNamed(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ColormapNamed(%q) = %v, %v", tc.in, got, err)
		}
	}
	if n := Colormaps(); len(n) != 4 || n[0] != "gray" {
		t.Errorf("Colormaps() = %v", n)
	}
}

func TestDraw(t *testing.T) {
	src := ramp(256, 3, 0, 255)
	img := Image(src, DefaultStyle(0, 255))
	for x := 0; x < 256; x += 17 {
		c := img.RGBAAt(x, 1)
		if abs(int(c.R)-x) > 1 || c.R != c.G || c.G != c.B || c.A != 255 {
			t.Fatalf("pixel %d = %v, want gray %d", x, c, x)
		}
	}
	small := image.NewRGBA(image.Rect(0, 0, 10, 10))
	if err := Draw(small, src, DefaultStyle(0, 1)); err == nil {
		t.Error("Draw into a too small image did not fail")
	}
	// Drawing at an offset.
	big := image.NewRGBA(image.Rect(5, 5, 300, 10))
	if err := Draw(big, src, DefaultStyle(0, 255)); err != nil {
		t.Fatal(err)
	}
	if c := big.RGBAAt(5+255, 6); c.R < 254 {
		t.Errorf("offset draw: pixel = %v", c)
	}
}

func TestAutoWindow(t *testing.T) {
	// 10000 voxels 0..9999: 0.175% below min → 17.5 → value 17; above max 9982.
	data := make([]float32, 10000)
	for i := range data {
		data[i] = float32(i)
	}
	v, err := volume.New(volume.Shape{Z: 1, Y: 100, X: 100}, data, volume.Unknown())
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := AutoWindow(v.Stats(), Saturated)
	if math.Abs(lo-17.5) > 1 || math.Abs(hi-9982.5) > 1 {
		t.Errorf("AutoWindow = %v, %v; want about 17.5, 9982.5", lo, hi)
	}
	// A constant volume still gets a non-empty window.
	c, _ := volume.New(volume.Shape{Z: 1, Y: 2, X: 2}, []uint8{7, 7, 7, 7}, volume.Unknown())
	lo, hi = AutoWindow(c.Stats(), Saturated)
	if !(hi > lo) {
		t.Errorf("constant volume window %v..%v is empty", lo, hi)
	}
}

func TestNiceLength(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{1, 1}, {1.9, 1}, {2, 2}, {4.99, 2}, {5, 5}, {9.9, 5}, {10, 10},
		{0.37, 0.2}, {730, 500}, {1999, 1000}, {25e3, 20e3}, {0, 0}, {-3, 0},
	}
	for _, tc := range tests {
		if got := NiceLength(tc.in); math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("NiceLength(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFormatLength(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{500, "nm", "500 nm"}, {1000, "nm", "1 µm"}, {2000, "nm", "2 µm"},
		{0.5, "µm", "500 nm"}, {5, "µm", "5 µm"}, {2000, "µm", "2 mm"},
		{0.2, "um", "200 nm"}, {10, "px", "10 px"}, {3, "", "3 px"},
	}
	for _, tc := range tests {
		if got := FormatLength(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatLength(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestScaleBar(t *testing.T) {
	tests := []struct {
		name     string
		w        int
		perPixel float64
		unit     string
		want     float64
	}{
		// 512 px wide → limit 102.4 px; 8 nm/px → 819 nm → 500 nm bar.
		{"8 nm per pixel", 512, 8, "nm", 500},
		{"zoomed in", 512, 0.5, "nm", 50},
		{"microns", 1600, 0.1, "µm", 20},
		{"too small to draw", 30, 1, "nm", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := image.NewRGBA(image.Rect(0, 0, tc.w, tc.w))
			got, err := ScaleBar(img, tc.perPixel, tc.unit)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("length = %v, want %v", got, tc.want)
			}
			if got == 0 {
				return
			}
			// The bar is white and exactly length/perPixel pixels long on some row.
			want := int(math.Round(got / tc.perPixel))
			best := 0
			for y := 0; y < tc.w; y++ {
				n := 0
				for x := 0; x < tc.w; x++ {
					if img.RGBAAt(x, y) == White {
						n++
					}
				}
				best = max(best, n)
			}
			if best < want || best > want+2 {
				t.Errorf("longest white row = %d px, want %d", best, want)
			}
		})
	}
}

func TestCrosshairAndCaption(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 80))
	Crosshair(img, 30.5, 40.2, 3, color.RGBA{255, 0, 0, 255})
	tests := []struct {
		x, y int
		lit  bool
	}{
		{0, 40, true}, {99, 40, true}, {30, 0, true}, {30, 79, true},
		{30, 40, false}, {31, 40, false}, {10, 10, false},
	}
	for _, tc := range tests {
		if lit := img.RGBAAt(tc.x, tc.y).R == 255; lit != tc.lit {
			t.Errorf("pixel (%d,%d) lit = %v, want %v", tc.x, tc.y, lit, tc.lit)
		}
	}
	// Off-image crosshair draws nothing and does not panic.
	blank := image.NewRGBA(image.Rect(0, 0, 10, 10))
	Crosshair(blank, -5, 50, 2, Yellow)
	for _, p := range blank.Pix {
		if p != 0 {
			t.Fatal("off-image crosshair drew something")
		}
	}
	if err := Caption(img, "sample · niiv-lite · 8×"); err != nil {
		t.Fatal(err)
	}
	white := 0
	for y := 0; y < 30; y++ {
		for x := 0; x < 100; x++ {
			if c := img.RGBAAt(x, y); c.R > 200 && c.G > 200 && c.B > 200 {
				white++
			}
		}
	}
	if white < 10 {
		t.Errorf("caption drew %d bright pixels", white)
	}
}

func TestHistogram(t *testing.T) {
	counts := []int64{0, 10, 100, 1000, 100, 10, 0, 0}
	s := DefaultStyle(2, 5)
	img := Histogram(counts, 0, 8, s, 80, 40)
	if img.Bounds().Dx() != 80 || img.Bounds().Dy() != 40 {
		t.Fatalf("size %v", img.Bounds())
	}
	// The window edges are drawn at x = 20 and 50.
	for _, x := range []int{20, 50} {
		if c := img.RGBAAt(x, 2); c != histWindow {
			t.Errorf("window line at x=%d: %v", x, c)
		}
	}
	// The tallest bar (bin 3, x 30..39) reaches the top region.
	if c := img.RGBAAt(35, 1); c != histBars {
		t.Errorf("peak bar missing: %v", c)
	}
	// The strip is black left of the window and white right of it.
	if c := img.RGBAAt(1, 39); c.R != 0 {
		t.Errorf("strip left = %v", c)
	}
	if c := img.RGBAAt(78, 39); c.R != 255 {
		t.Errorf("strip right = %v", c)
	}
	// Degenerate inputs do not panic.
	_ = Histogram(nil, 0, 0, s, 1, 1)
	_ = Histogram(counts, 3, 3, s, 10, 10)
}

func TestSymmetricWindowAndDifference(t *testing.T) {
	a := ramp(100, 1, 0, 99)
	b := ramp(100, 1, 0, 0)
	d, err := Difference(a, b)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := SymmetricWindow(d, 90)
	if lo != -hi || hi < 88 || hi > 91 {
		t.Errorf("SymmetricWindow = %v, %v", lo, hi)
	}
	if _, err := Difference(a, ramp(3, 3, 0, 1)); err == nil {
		t.Error("Difference of mismatched sizes did not fail")
	}
	z := volume.NewImage(4, 4)
	if lo, hi := SymmetricWindow(z, 99); !(hi > lo) {
		t.Errorf("zero image window %v..%v", lo, hi)
	}
}

func TestSplit(t *testing.T) {
	a := Image(ramp(100, 10, 0, 0), DefaultStyle(0, 1))
	b := Image(ramp(100, 10, 1, 1), DefaultStyle(0, 1))
	out, err := Split(a, b, 0.3, color.RGBA{255, 0, 0, 255})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		x    int
		want color.RGBA
	}{
		{0, color.RGBA{0, 0, 0, 255}}, {28, color.RGBA{0, 0, 0, 255}},
		{30, color.RGBA{255, 0, 0, 255}}, {32, color.RGBA{255, 255, 255, 255}}, {99, color.RGBA{255, 255, 255, 255}},
	}
	for _, tc := range tests {
		if c := out.RGBAAt(tc.x, 5); c != tc.want {
			t.Errorf("x=%d: %v, want %v", tc.x, c, tc.want)
		}
	}
	if _, err := Split(a, image.NewRGBA(image.Rect(0, 0, 3, 3)), 0.5, White); err == nil {
		t.Error("Split of mismatched sizes did not fail")
	}
	// Labels: each side gets its name unless it does not fit.
	tests2 := []struct {
		frac        float64
		left, right bool
	}{{0.5, true, true}, {0.02, false, true}, {0.98, true, false}}
	for _, tc := range tests2 {
		img := image.NewRGBA(image.Rect(0, 0, 400, 200))
		if err := SplitLabels(img, tc.frac, "linear", "niiv"); err != nil {
			t.Fatal(err)
		}
		xd := int(tc.frac * 400)
		if got := anyLit(img, 0, xd); got != tc.left {
			t.Errorf("frac %v: left label drawn %v", tc.frac, got)
		}
		if got := anyLit(img, xd, 400); got != tc.right {
			t.Errorf("frac %v: right label drawn %v", tc.frac, got)
		}
	}
}

// BenchmarkFrame measures one 512×512 frame as the viewer draws it:
// contrast + colormap, crosshair and scale bar.
func BenchmarkFrame(b *testing.B) {
	src := ramp(512, 512, 0, 255)
	s := Style{Min: 10, Max: 240, Gamma: 0.8, Map: Magma}
	dst := image.NewRGBA(image.Rect(0, 0, 512, 512))
	b.ReportAllocs()
	for b.Loop() {
		if err := Draw(dst, src, s); err != nil {
			b.Fatal(err)
		}
		Crosshair(dst, 256, 256, 4, Yellow)
		if _, err := ScaleBar(dst, 8, "nm"); err != nil {
			b.Fatal(err)
		}
	}
}

// anyLit reports whether any pixel in columns [x0, x1) is not transparent.
func anyLit(img *image.RGBA, x0, x1 int) bool {
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := x0; x < x1; x++ {
			if img.RGBAAt(x, y).A != 0 {
				return true
			}
		}
	}
	return false
}

// TestScaleBarSized checks that the label follows the size given (the
// view's), within half the image's height.
func TestScaleBarSized(t *testing.T) {
	boxHeight := func(img *image.RGBA) int { // rows touched by the bar's box
		n := 0
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := 0; x < img.Bounds().Dx(); x++ {
				if img.RGBAAt(x, y).A != 0 {
					n++
					break
				}
			}
		}
		return n
	}
	thin := func() *image.RGBA { return image.NewRGBA(image.Rect(0, 0, 800, 150)) }
	small, large := thin(), thin()
	if _, err := ScaleBar(small, 5, "nm"); err != nil { // sized by the 150-px height: 11
		t.Fatal(err)
	}
	if _, err := ScaleBarSized(large, 5, "nm", 17); err != nil {
		t.Fatal(err)
	}
	hs, hl := boxHeight(small), boxHeight(large)
	if hl <= hs {
		t.Errorf("box %d px tall with text size 17, %d px with the image's own size: want it taller", hl, hs)
	}
	huge := thin()
	if _, err := ScaleBarSized(huge, 5, "nm", 72); err != nil {
		t.Fatal(err)
	}
	if h := boxHeight(huge); h > 150/2+8 {
		t.Errorf("box %d px tall in a 150-px image: want at most about half", h)
	}
}

// TestCrosshairColor checks that the crosshair's colour is far from every
// entry of its colormap, so that it never vanishes into the image.
func TestCrosshairColor(t *testing.T) {
	for _, m := range []*Colormap{Gray, Magma, Viridis, Inferno} {
		c := CrosshairColor(m)
		// Un-premultiply: the colour as drawn at full strength.
		r, g, b := float64(c.R)*255/float64(c.A), float64(c.G)*255/float64(c.A), float64(c.B)*255/float64(c.A)
		nearest := math.Inf(1)
		for i := 0; i < 256; i++ {
			e := m.LUT[i]
			d := math.Sqrt((r-float64(e.R))*(r-float64(e.R)) + (g-float64(e.G))*(g-float64(e.G)) + (b-float64(e.B))*(b-float64(e.B)))
			nearest = min(nearest, d)
		}
		if m != Gray && nearest < 100 {
			t.Errorf("%s: crosshair %v is %.0f from the nearest colormap entry", m.Name, c, nearest)
		}
	}
}
