package cli

import (
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFigureChannels renders composites of a multi-channel time series:
// chosen channels at a chosen time point, in colour, the caption naming
// the channels; and the errors for bad choices and one-channel styles.
func TestFigureChannels(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tif := filepath.Join(dir, "conf.tif")
	if _, _, err := runCtx(ctx, "sample", "--channels", "3", "--times", "3", "--size", "32", "--factor", "4", tif); err != nil {
		t.Fatal(err)
	}
	png1 := filepath.Join(dir, "all.png")
	png2 := filepath.Join(dir, "two.png")
	for _, c := range []struct {
		out  string
		args []string
	}{
		{png1, []string{"--view", "xz", "--mode", "linear", "--time", "2"}},
		{png2, []string{"--view", "layout", "--mode", "nearest", "--channels", "0,2", "--time", "1"}},
	} {
		args := append([]string{"--out", c.out, "--size", "320x240"}, c.args...)
		if _, _, err := runCtx(ctx, "figure", append(args, tif)...); err != nil {
			t.Fatalf("figure %v: %v", c.args, err)
		}
		img := decodePNG(t, c.out)
		if !hasColour(img) {
			t.Errorf("%s: the composite is gray", c.out)
		}
	}
	// Channels 0 and 2 (green and cyan): no red anywhere in the views.
	img := decodePNG(t, png2)
	for y := 0; y < 100; y++ {
		for x := 0; x < 150; x++ {
			if r, g, _, _ := img.At(x, y).RGBA(); r > g+0x2000 && r > 0x4000 {
				t.Fatalf("red at (%d,%d) in a composite of green and cyan", x, y)
			}
		}
	}
	// Movie: a GIF of the composite stepping through XZ slices.
	gif := filepath.Join(dir, "m.gif")
	if _, _, err := runCtx(ctx, "movie", "--out", gif, "--size", "64x64", "--frames", "3", "--mode", "linear", "--sweep", "xz:y=0..31", "--time", "1", tif); err != nil {
		t.Fatalf("movie: %v", err)
	}
	npy := filepath.Join(dir, "nine.npy")
	writeNPY4(t, npy, []int{9, 2, 4, 5})
	if _, _, err := runCtx(ctx, "figure", "--out", filepath.Join(dir, "x.png"), "--mode", "linear", "--axes", "czyx", npy); err == nil ||
		!strings.Contains(err.Error(), "nine.npy has 9 channels: choose up to 8 with --channels") {
		t.Errorf("nine channels: err = %v", err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"time out of range", []string{"--time", "3"}, "--time 3: " + tif + " has 3 time points"},
		{"unknown channel", []string{"--channels", "0,5"}, "channel 5 does not exist"},
		{"colormap on a composite", []string{"--colormap", "magma"}, "--colormap magma and --invert apply to one-channel volumes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--out", filepath.Join(dir, "x.png"), "--mode", "linear"}, c.args...)
			_, _, err := runCtx(ctx, "figure", append(args, tif)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// hasColour reports whether a good share of img's pixels are not gray.
func hasColour(img image.Image) bool {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if max(r, g, bl)-min(r, g, bl) > 0x3000 {
				n++
			}
		}
	}
	return n > b.Dx()*b.Dy()/10
}
