package volume

import (
	"context"
	"fmt"
)

// Mirrored returns a volume of shape s that repeats v along each axis,
// mirrored at its edges (v, v flipped, v, …), as a Source: test and
// benchmark volumes of any size made from a small one, never held in
// memory.
func Mirrored(v *Volume, s Shape) (Source, error) {
	if v.Lazy() {
		return nil, fmt.Errorf("volume: Mirrored needs a volume in memory")
	}
	if !s.Valid() {
		return nil, fmt.Errorf("volume: invalid shape %v", s)
	}
	return mirrored{v: v, shape: s}, nil
}

type mirrored struct {
	v     *Volume
	shape Shape
}

func (m mirrored) Meta() Meta {
	return Meta{Name: m.v.Name, Shape: m.shape, DType: m.v.dtype, Voxel: m.v.Voxel}
}

// reflect maps i onto [0, n) by mirroring.
func reflect(i, n int) int {
	i %= 2 * n
	if i >= n {
		i = 2*n - 1 - i
	}
	return i
}

func (m mirrored) Read(ctx context.Context, b Box) (*Volume, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !b.In(m.shape) {
		return nil, fmt.Errorf("volume: box %v outside %v", b, m.shape)
	}
	var data any
	switch d := m.v.data.(type) {
	case []uint8:
		data = mirrorBox(d, m.v.shape, b)
	case []uint16:
		data = mirrorBox(d, m.v.shape, b)
	case []int16:
		data = mirrorBox(d, m.v.shape, b)
	case []float32:
		data = mirrorBox(d, m.v.shape, b)
	case []float64:
		data = mirrorBox(d, m.v.shape, b)
	}
	out, err := New(b.Shape(), data, m.v.Voxel)
	if err != nil {
		return nil, err
	}
	out.Name = m.v.Name
	return out, nil
}

func mirrorBox[T any](src []T, s Shape, b Box) []T {
	bs := b.Shape()
	xs := make([]int, bs.X)
	for i := range xs {
		xs[i] = reflect(b.X0+i, s.X)
	}
	dst := make([]T, 0, bs.Len())
	for z := b.Z0; z < b.Z1; z++ {
		zz := reflect(z, s.Z)
		for y := b.Y0; y < b.Y1; y++ {
			row := src[(zz*s.Y+reflect(y, s.Y))*s.X:]
			for _, x := range xs {
				dst = append(dst, row[x])
			}
		}
	}
	return dst
}
