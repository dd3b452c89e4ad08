package volume

import (
	"context"
	"fmt"
)

// Box is the half-open region [Z0,Z1)×[Y0,Y1)×[X0,X1) of a volume, in voxels.
type Box struct{ Z0, Z1, Y0, Y1, X0, X1 int }

// Whole returns the box covering a volume of shape s.
func Whole(s Shape) Box { return Box{0, s.Z, 0, s.Y, 0, s.X} }

// Shape returns the extent of b.
func (b Box) Shape() Shape { return Shape{b.Z1 - b.Z0, b.Y1 - b.Y0, b.X1 - b.X0} }

// String formats b as z0:z1,y0:y1,x0:x1 (NumPy's slice notation).
func (b Box) String() string {
	return fmt.Sprintf("%d:%d,%d:%d,%d:%d", b.Z0, b.Z1, b.Y0, b.Y1, b.X0, b.X1)
}

// In reports whether b is a non-empty box inside a volume of shape s.
func (b Box) In(s Shape) bool {
	return 0 <= b.Z0 && b.Z0 < b.Z1 && b.Z1 <= s.Z &&
		0 <= b.Y0 && b.Y0 < b.Y1 && b.Y1 <= s.Y &&
		0 <= b.X0 && b.X0 < b.X1 && b.X1 <= s.X
}

// Meta describes a volume without its voxels.
type Meta struct {
	Name  string
	Shape Shape
	DType DType
	Voxel Voxel
}

// Source is a volume read by region: a chunked or memory-mapped file far
// larger than memory, or an in-memory Volume. Implementations are safe for
// concurrent use.
type Source interface {
	// Meta returns the volume's name, shape, element type and voxel size.
	Meta() Meta
	// Read returns the voxels of b (inside Meta().Shape) as an in-memory
	// volume of b's shape, with the source's element type and voxel size.
	// It returns ctx's error when cancelled.
	Read(ctx context.Context, b Box) (*Volume, error)
}

// Multiscale is a Source with a pyramid of downsampled copies, as OME-Zarr
// and N5 store them.
type Multiscale interface {
	Source
	// Levels returns the pyramid, full resolution first (level 0 is the
	// Source itself). Each level's Meta gives its shape and voxel size.
	Levels() []Source
}

// Meta returns v's name, shape, element type and voxel size.
func (v *Volume) Meta() Meta {
	return Meta{Name: v.Name, Shape: v.shape, DType: v.dtype, Voxel: v.Voxel}
}

// Read copies the voxels of b into a new volume (Volume as a Source).
func (v *Volume) Read(ctx context.Context, b Box) (*Volume, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !b.In(v.shape) {
		return nil, fmt.Errorf("volume: box %v outside %v", b, v.shape)
	}
	if v.src != nil {
		return v.src.Read(ctx, b)
	}
	s := b.Shape()
	var out any
	switch d := v.data.(type) {
	case []uint8:
		out = copyBox(d, v.shape, b)
	case []uint16:
		out = copyBox(d, v.shape, b)
	case []int16:
		out = copyBox(d, v.shape, b)
	case []float32:
		out = copyBox(d, v.shape, b)
	case []float64:
		out = copyBox(d, v.shape, b)
	}
	r, err := New(s, out, v.Voxel)
	if err != nil {
		return nil, err
	}
	r.Name = v.Name
	return r, nil
}

// copyBox copies box b of the C-order array src of shape s.
func copyBox[T any](src []T, s Shape, b Box) []T {
	bs := b.Shape()
	dst := make([]T, 0, bs.Len())
	for z := b.Z0; z < b.Z1; z++ {
		for y := b.Y0; y < b.Y1; y++ {
			i := (z*s.Y+y)*s.X + b.X0
			dst = append(dst, src[i:i+bs.X]...)
		}
	}
	return dst
}
