package render

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// compositeLayers returns three overlapping blobs in green, magenta and
// cyan over w×h, with different windows and gammas.
func compositeLayers(w, h int) []Layer {
	blob := func(cx, cy, r, peak float64) *volume.Image {
		m := volume.NewImage(w, h)
		for y := range h {
			for x := range w {
				dx, dy := (float64(x)-cx)/r, (float64(y)-cy)/r
				m.Set(x, y, float32(peak*math.Exp(-(dx*dx+dy*dy))))
			}
		}
		return m
	}
	fw, fh := float64(w), float64(h)
	return []Layer{
		{Image: blob(fw*0.35, fh*0.4, fw*0.25, 1000), Style: Style{Min: 0, Max: 800, Gamma: 1}, Color: volume.Green},
		{Image: blob(fw*0.6, fh*0.45, fw*0.22, 200), Style: Style{Min: 10, Max: 200, Gamma: 0.7}, Color: volume.Magenta},
		{Image: blob(fw*0.5, fh*0.7, fw*0.2, 50), Style: Style{Min: 0, Max: 40, Gamma: 1.5}, Color: volume.Cyan},
	}
}

// referenceComposite computes the composite in float64 straight from its
// definition, without lookup tables.
func referenceComposite(layers []Layer) *image.RGBA {
	w, h := layers[0].Image.W, layers[0].Image.H
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			var sum [3]float64
			for _, l := range layers {
				if l.Hidden {
					continue
				}
				t := (float64(l.Image.At(x, y)) - l.Style.Min) / (l.Style.Max - l.Style.Min)
				t = math.Max(0, math.Min(1, t))
				if g := l.Style.Gamma; g > 0 {
					t = math.Pow(t, g)
				}
				sum[0] += t * float64(l.Color.R)
				sum[1] += t * float64(l.Color.G)
				sum[2] += t * float64(l.Color.B)
			}
			o := out.PixOffset(x, y)
			for k := range 3 {
				out.Pix[o+k] = uint8(math.Min(255, math.Round(sum[k])))
			}
			out.Pix[o+3] = 255
		}
	}
	return out
}

// maxDiff returns the largest difference of one colour component.
func maxDiff(a, b *image.RGBA) int {
	d := 0
	for i := range a.Pix {
		d = max(d, int(a.Pix[i])-int(b.Pix[i]), int(b.Pix[i])-int(a.Pix[i]))
	}
	return d
}

func TestCompositeGolden(t *testing.T) {
	layers := compositeLayers(96, 64)
	got, err := CompositeImage(layers)
	if err != nil {
		t.Fatal(err)
	}
	// Against the definition: the lookup tables (4096 window steps, 256
	// colour steps) cost at most a step of each of the three layers.
	if d := maxDiff(got, referenceComposite(layers)); d > 3 {
		t.Errorf("composite differs from the float reference by %d levels", d)
	}
	golden := filepath.Join("testdata", "composite.png")
	if *update {
		var b bytes.Buffer
		if err := png.Encode(&b, got); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./render -run TestCompositeGolden -update)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	wr := image.NewRGBA(want.Bounds())
	for y := range want.Bounds().Dy() {
		for x := range want.Bounds().Dx() {
			wr.Set(x, y, want.At(x, y))
		}
	}
	if wr.Bounds() != got.Bounds() {
		t.Fatalf("golden is %v, composite %v", wr.Bounds(), got.Bounds())
	}
	if d := maxDiff(got, wr); d > 1 {
		t.Errorf("composite differs from %s by %d levels", golden, d)
	}
}

func TestCompositeOneWhiteLayerIsDraw(t *testing.T) {
	l := compositeLayers(40, 30)[1]
	l.Color = volume.White
	got, err := CompositeImage([]Layer{l})
	if err != nil {
		t.Fatal(err)
	}
	s := l.Style
	s.Map = Gray
	if d := maxDiff(got, Image(l.Image, s)); d != 0 {
		t.Errorf("one white layer differs from the grayscale render by %d levels", d)
	}
}

func TestCompositeCases(t *testing.T) {
	base := compositeLayers(20, 10)
	one := func(v float32) *volume.Image {
		m := volume.NewImage(20, 10)
		for i := range m.Pix {
			m.Pix[i] = v
		}
		return m
	}
	cases := []struct {
		name   string
		layers []Layer
		want   [3]uint8 // at (0, 0), when err is ""
		err    string
	}{
		{"clamped sum", []Layer{
			{Image: one(1), Style: DefaultStyle(0, 1), Color: volume.Color{R: 200, G: 100}},
			{Image: one(1), Style: DefaultStyle(0, 1), Color: volume.Color{R: 200, G: 100, B: 7}},
		}, [3]uint8{255, 200, 7}, ""},
		{"hidden layer", []Layer{
			{Image: one(1), Style: DefaultStyle(0, 1), Color: volume.Red},
			{Image: one(1), Style: DefaultStyle(0, 1), Color: volume.Green, Hidden: true},
		}, [3]uint8{255, 0, 0}, ""},
		{"all hidden", []Layer{{Image: one(1), Style: DefaultStyle(0, 1), Color: volume.Red, Hidden: true}}, [3]uint8{}, ""},
		{"below window", []Layer{{Image: one(-5), Style: DefaultStyle(0, 1), Color: volume.Red}}, [3]uint8{}, ""},
		{"NaN", []Layer{{Image: one(float32(math.NaN())), Style: DefaultStyle(0, 1), Color: volume.Red}}, [3]uint8{}, ""},
		{"sizes differ", []Layer{base[0], {Image: volume.NewImage(3, 3), Style: DefaultStyle(0, 1)}}, [3]uint8{}, "layer 1 is 3x3"},
		{"no layers", nil, [3]uint8{}, "no layers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := CompositeImage(c.layers)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := img.Pix[:4]
			if [3]uint8{p[0], p[1], p[2]} != c.want || p[3] != 255 {
				t.Errorf("pixel %v, want %v opaque", p, c.want)
			}
		})
	}
	small := image.NewRGBA(image.Rect(0, 0, 5, 5))
	if err := Composite(small, base); err == nil {
		t.Error("a destination smaller than the layers was accepted")
	}
}

func TestChannelCaption(t *testing.T) {
	l := compositeLayers(4, 4)
	l[1].Hidden = true
	if got, want := ChannelCaption(l, []string{"DAPI"}), "DAPI (#00FF00), channel 2 (#00FFFF)"; got != want {
		t.Errorf("caption %q, want %q", got, want)
	}
}

// BenchmarkComposite measures a 512² composite of 1 and 3 channels, and
// grayscale Draws of the same layers (same windows and gammas) for
// comparison: the budget for n channels is the n Draws + 2 ms.
func BenchmarkComposite(b *testing.B) {
	layers := compositeLayers(512, 512)
	dst := image.NewRGBA(image.Rect(0, 0, 512, 512))
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("draw=%d", n), func(b *testing.B) {
			for b.Loop() {
				for _, l := range layers[:n] {
					s := l.Style
					s.Map = Gray
					_ = Draw(dst, l.Image, s)
				}
			}
		})
		b.Run(fmt.Sprintf("channels=%d", n), func(b *testing.B) {
			for b.Loop() {
				if err := Composite(dst, layers[:n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
