package render_test

import (
	"fmt"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// A scale bar picks the longest round length that fits a fifth of the
// image and labels it in the most readable unit.
func ExampleNiceLength() {
	const perPixel = 8.0 // nm per pixel
	for _, width := range []int{256, 512, 1600} {
		l := render.NiceLength(float64(width) / 5 * perPixel)
		fmt.Printf("%4d px wide: %s (%g px)\n", width, render.FormatLength(l, "nm"), l/perPixel)
	}
	// Output:
	//  256 px wide: 200 nm (25 px)
	//  512 px wide: 500 nm (62.5 px)
	// 1600 px wide: 2 µm (250 px)
}

// Colouring a float image: a window of [10, 20] on the magma colormap.
func ExampleImage() {
	src := volume.NewImage(3, 1)
	copy(src.Pix, []float32{0, 15, 30})
	img := render.Image(src, render.Style{Min: 10, Max: 20, Gamma: 1, Map: render.Magma})
	for x := 0; x < 3; x++ {
		fmt.Println(img.RGBAAt(x, 0))
	}
	// Output:
	// {0 0 4 255}
	// {182 54 122 255}
	// {252 253 191 255}
}
