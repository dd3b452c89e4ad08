package adapt

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/niiv/niiv/volume"
)

// XYReader is all the lateral sampler sees of a volume: its shape and
// square regions of its xy planes. Nothing else (no xz or yz plane, no
// value across z) can reach the training pairs.
type XYReader interface {
	Shape() volume.Shape
	// ReadXY copies the size×size region of xy plane z with top-left corner
	// (y0, x0) into dst (row-major, rows along y).
	ReadXY(z, y0, x0, size int, dst []float32) error
}

// VolumeXY reads xy planes of a volume.
type VolumeXY struct{ Vol *volume.Volume }

// Shape returns the volume's shape.
func (v VolumeXY) Shape() volume.Shape { return v.Vol.Shape() }

// ReadXY implements XYReader.
func (v VolumeXY) ReadXY(z, y0, x0, size int, dst []float32) error {
	s := v.Vol.Shape()
	if y0 < 0 || x0 < 0 || y0+size > s.Y || x0+size > s.X || len(dst) < size*size {
		return fmt.Errorf("xy region (%d,%d)+%d outside the %d×%d plane", y0, x0, size, s.Y, s.X)
	}
	_, err := v.Vol.PlaneRect(context.Background(), volume.XY, z, y0, y0+size, x0, x0+size, dst[:size*size])
	return err
}

// crop is one lateral training pair: a size×size xy crop, turned by one of
// the 8 symmetries of the square, normalised, as the target, and its rows
// average-pooled by the factor as the low-resolution input. The row axis
// of the pair plays the part of z in an xz slice.
type crop struct {
	z, y0, x0 int // where it was read
	rot       int // quarter turns counter-clockwise (numpy.rot90's k)
	flip      bool
	target    []float32 // [size][size]
	low       []float32 // [size/factor][size]
}

// sampler draws lateral training pairs, following reconstruct/train/data.py
// (LateralSampler): a random plane z, a random square crop, numpy.rot90 by
// a random k ∈ {0,1,2,3}, a random left–right flip, then average pooling
// of the rows by the factor (remainder dropped). Intensities are
// normalised as the model card says: (x − lo)/(hi − lo).
type sampler struct {
	src          XYReader
	factor, size int
	lo, scale    float32
	rng          *rand.Rand
	buf          []float32
	// planes, when not nil, are the xy planes drawn from (the others are
	// held out).
	planes []int
}

func newSampler(src XYReader, factor, size int, lo, hi float64, seed uint64) (*sampler, error) {
	s := src.Shape()
	if factor < 2 {
		return nil, fmt.Errorf("factor %d: want at least 2", factor)
	}
	if size < 2*factor || size%factor != 0 || size > s.Y || size > s.X {
		return nil, fmt.Errorf("crop size %d: want a multiple of the factor %d, at least %d, within the %d×%d xy planes", size, factor, 2*factor, s.Y, s.X)
	}
	return &sampler{
		src: src, factor: factor, size: size,
		lo: float32(lo), scale: float32(1 / (hi - lo)),
		rng: rand.New(rand.NewPCG(seed, 0x6e696976)), // "niiv"
		buf: make([]float32, size*size),
	}, nil
}

// next draws the next pair.
func (s *sampler) next() (*crop, error) {
	sh := s.src.Shape()
	n := s.size
	var z int
	if s.planes != nil {
		z = s.planes[s.rng.IntN(len(s.planes))]
	} else {
		z = s.rng.IntN(sh.Z)
	}
	c := &crop{
		z:  z,
		y0: s.rng.IntN(sh.Y - n + 1),
		x0: s.rng.IntN(sh.X - n + 1),
	}
	c.rot = s.rng.IntN(4)
	c.flip = s.rng.IntN(2) == 1
	if err := s.src.ReadXY(c.z, c.y0, c.x0, n, s.buf); err != nil {
		return nil, fmt.Errorf("read xy plane %d: %w", c.z, err)
	}
	c.target = orient(s.buf, n, 0, 0, n, c.rot, c.flip)
	for i, v := range c.target {
		c.target[i] = (v - s.lo) * s.scale
	}
	c.low = poolRows(c.target, n, n, s.factor)
	return c, nil
}

// orient returns the n×n square at (y0, x0) of src (rows of ld values),
// turned by rot quarter turns counter-clockwise (numpy.rot90's k) and then,
// if flip, mirrored left–right (c[:, ::-1]).
func orient(src []float32, ld, y0, x0, n, rot int, flip bool) []float32 {
	out := make([]float32, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			jj := j
			if flip {
				jj = n - 1 - j
			}
			r, q := rot90Source(i, jj, n, rot)
			out[i*n+j] = src[(y0+r)*ld+x0+q]
		}
	}
	return out
}

// rot90Source returns the source pixel of pixel (i, j) of numpy.rot90(m, k)
// for an n×n m.
func rot90Source(i, j, n, k int) (int, int) {
	switch k & 3 {
	case 1:
		return j, n - 1 - i
	case 2:
		return n - 1 - i, n - 1 - j
	case 3:
		return n - 1 - j, i
	}
	return i, j
}

// poolRows average-pools the rows of a rows×cols image by factor, dropping
// a remainder (data.degrade along axis −2).
func poolRows(img []float32, rows, cols, factor int) []float32 {
	h := rows / factor
	out := make([]float32, h*cols)
	f := float32(factor)
	for r := 0; r < h; r++ {
		dst := out[r*cols : (r+1)*cols]
		for k := 0; k < factor; k++ {
			src := img[(r*factor+k)*cols : (r*factor+k+1)*cols]
			for c, v := range src {
				dst[c] += v
			}
		}
		for c := range dst {
			dst[c] /= f
		}
	}
	return out
}
