package volume

// Image is a 2-D float32 image in row-major order, the currency between
// reconstruction and rendering. Values are in the volume's intensity units.
type Image struct {
	W, H int
	Pix  []float32 // len W*H; Pix[y*W+x]
}

// NewImage allocates a w×h image.
func NewImage(w, h int) *Image { return &Image{W: w, H: h, Pix: make([]float32, w*h)} }

// At returns the value at column x, row y.
func (m *Image) At(x, y int) float32 { return m.Pix[y*m.W+x] }

// Set sets the value at column x, row y.
func (m *Image) Set(x, y int, v float32) { m.Pix[y*m.W+x] = v }
