package viewer_test

import (
	"fmt"
	"image"

	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

// The XZ view of the sample (16 slices of 64 nm over 128 columns of 8 nm)
// in a 600×400 widget: shown at its physical aspect, so the plane is a
// square; zoomed in 4× about the centre, the view decodes the middle
// quarter of the rows (and as many columns as the wider widget shows) at
// four times the resolution.
func ExampleModel_Geometry() {
	vol, _ := sample.Anisotropic(sample.Options{}, 8)
	m := viewer.New(vol)
	m.SetSize(volume.XZ, image.Pt(600, 400))
	for _, zoom := range []float64{1, 4} {
		m.SetZoom(volume.XZ, zoom)
		g := m.Geometry(volume.XZ)
		fmt.Printf("zoom %g: rows [%g, %g) cols [%g, %g) at %d×%d px, %.3g nm/px\n",
			zoom, g.R0, g.R1, g.C0, g.C1, g.W, g.H, g.PerPixel())
	}
	// Output:
	// zoom 1: rows [0, 16) cols [0, 128) at 400×400 px, 2.56 nm/px
	// zoom 4: rows [6, 10) cols [40, 88) at 600×400 px, 0.64 nm/px
}
