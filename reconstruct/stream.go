package reconstruct

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/niiv/niiv/volume"
)

// IsotropicSource is Isotropic as a volume.Source: nothing is computed until
// a box is read, and a box is computed from the input region it needs
// (plus the receptive field of the method), so that a reconstruction far
// larger than memory is written block by block (omezarr.Write reads its
// source one chunk at a time) in the memory of a few blocks.
//
// A block (z, y, x ranges) is computed as Isotropic computes the same
// voxels: for each of its y the part of the xz plane over its x range, for
// each of its x the part of the yz plane over its y range, decoded at the
// same coordinates and averaged in the same order. The output equals
// Isotropic's voxel for voxel when the method's crops equal its whole planes
// (TestIsotropicSourceMatches checks it for every method). Reads whose box
// spans fewer than all output slices still compute the whole column of
// slices and keep the last one (boxes of one column in a row are served
// from it): chunks spanning all of z are the efficient shape.
//
// The output type is float32 (as Isotropic's), or dt when it is an integer
// type: values rounded to nearest and clamped to the type's range.
func IsotropicSource(m Method, vol *volume.Volume, opt VolumeOptions, dt volume.DType) (volume.Source, error) {
	axes := opt.Axes
	if len(axes) == 0 {
		axes = []volume.Axis{volume.XZ, volume.YZ}
	}
	for _, a := range axes {
		if a != volume.XZ && a != volume.YZ {
			return nil, fmt.Errorf("reconstruct: isotropic: passes are xz or yz, not %v", a)
		}
	}
	if dt == 0 {
		dt = volume.Float32
	}
	switch dt {
	case volume.Float32, volume.Uint8, volume.Uint16, volume.Int16:
	default:
		return nil, fmt.Errorf("reconstruct: isotropic: output type %v: want float32, uint8, uint16 or int16", dt)
	}
	s := vol.Shape()
	zOut := opt.OutputSlices(vol)
	vox := vol.Voxel
	vox.Z *= float64(s.Z) / float64(zOut)
	vox.Source = ""
	return &isoSource{
		m: m, vol: vol, axes: axes, zOut: zOut,
		meta: volume.Meta{Name: vol.Name, Shape: volume.Shape{Z: zOut, Y: s.Y, X: s.X}, DType: dt, Voxel: vox},
	}, nil
}

// isoSource computes the reconstruction block by block.
type isoSource struct {
	m    Method
	vol  *volume.Volume
	axes []volume.Axis
	zOut int
	meta volume.Meta
	last atomic.Pointer[column] // the last column computed
}

// axialColsRenderer is implemented by methods with a batched path for
// column ranges of whole axial planes (the niiv method).
type axialColsRenderer interface {
	renderAxialCols(ctx context.Context, vol *volume.Volume, axis volume.Axis, idx []int, c0, c1, h int, emit func(index int, img []float32)) error
}

// column is every output slice over a y and x range.
type column struct {
	y0, y1, x0, x1 int
	v              []float32 // [z][y][x]
}

func (s *isoSource) Meta() volume.Meta { return s.meta }

// Read computes box b of the reconstruction.
func (s *isoSource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	if !b.In(s.meta.Shape) {
		return nil, fmt.Errorf("reconstruct: box %v outside the reconstruction %v", b, s.meta.Shape)
	}
	c := s.last.Load()
	if c == nil || c.y0 != b.Y0 || c.y1 != b.Y1 || c.x0 != b.X0 || c.x1 != b.X1 {
		var err error
		if c, err = s.column(ctx, b.Y0, b.Y1, b.X0, b.X1); err != nil {
			return nil, err
		}
		s.last.Store(c)
	}
	ny, nx := b.Y1-b.Y0, b.X1-b.X0
	vals := c.v[b.Z0*ny*nx : b.Z1*ny*nx]
	var data any
	switch s.meta.DType {
	case volume.Float32:
		data = append([]float32(nil), vals...)
	case volume.Uint8:
		data = convertInt[uint8](vals, 0, math.MaxUint8)
	case volume.Uint16:
		data = convertInt[uint16](vals, 0, math.MaxUint16)
	case volume.Int16:
		data = convertInt[int16](vals, math.MinInt16, math.MaxInt16)
	}
	return volume.New(b.Shape(), data, s.meta.Voxel)
}

// convertInt rounds v to the nearest integer, clamped to [lo, hi].
func convertInt[T uint8 | uint16 | int16](v []float32, lo, hi float64) []T {
	out := make([]T, len(v))
	for i, f := range v {
		out[i] = T(min(hi, max(lo, math.Round(float64(f)))))
	}
	return out
}

// column decodes every output slice over y [y0, y1), x [x0, x1): the
// xz plane parts of its rows, the yz plane parts of its columns, averaged.
func (s *isoSource) column(ctx context.Context, y0, y1, x0, x1 int) (*column, error) {
	ny, nx, zOut := y1-y0, x1-x0, s.zOut
	out := make([]float32, zOut*ny*nx)
	rows := float64(s.vol.Shape().Z)
	w := float32(1) / float32(len(s.axes))
	for _, a := range s.axes {
		n0, n1, c0, c1 := y0, y1, x0, x1 // planes, and the columns of each
		if a == volume.YZ {
			n0, n1, c0, c1 = x0, x1, y0, y1
		}
		var mu sync.Mutex // emit may be called from parallel workers
		emit := func(k int, img []float32) {
			mu.Lock()
			defer mu.Unlock()
			if a == volume.XZ { // img [z][x] at y = k
				for z := range zOut {
					dst := out[(z*ny+k-y0)*nx : (z*ny+k-y0+1)*nx]
					for x, v := range img[z*nx : (z+1)*nx] {
						dst[x] += w * v
					}
				}
			} else { // img [z][y] at x = k
				for z := range zOut {
					for y, v := range img[z*ny : (z+1)*ny] {
						out[(z*ny+y)*nx+k-x0] += w * v
					}
				}
			}
		}
		if ar, ok := s.m.(axialColsRenderer); ok {
			// Batched: the planes' parts encoded a few at a time.
			idx := make([]int, 0, n1-n0)
			for k := n0; k < n1; k++ {
				idx = append(idx, k)
			}
			if err := ar.renderAxialCols(ctx, s.vol, a, idx, c0, c1, zOut, emit); err != nil {
				return nil, err
			}
			continue
		}
		for k := n0; k < n1; k++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			img, err := s.m.Render(ctx, Request{Vol: s.vol, Axis: a, Index: float64(k), R0: 0, R1: rows, C0: float64(c0), C1: float64(c1), W: c1 - c0, H: zOut})
			if err != nil {
				return nil, err
			}
			emit(k, img.Pix)
		}
	}
	return &column{y0, y1, x0, x1, out}, nil
}

// Convert returns v with its values in type dt: v itself when it has that
// type; integer types round to nearest and clamp to the type's range.
func Convert(v *volume.Volume, dt volume.DType) (*volume.Volume, error) {
	if v.DType() == dt {
		return v, nil
	}
	f, ok := v.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("reconstruct: convert %v to %v: only float32 volumes convert", v.DType(), dt)
	}
	var data any
	switch dt {
	case volume.Uint8:
		data = convertInt[uint8](f, 0, math.MaxUint8)
	case volume.Uint16:
		data = convertInt[uint16](f, 0, math.MaxUint16)
	case volume.Int16:
		data = convertInt[int16](f, math.MinInt16, math.MaxInt16)
	default:
		return nil, fmt.Errorf("reconstruct: convert to %v: want uint8, uint16 or int16", dt)
	}
	out, err := volume.New(v.Shape(), data, v.Voxel)
	if err != nil {
		return nil, err
	}
	out.Name = v.Name
	return out, nil
}

// Parallel reports whether m computes a block of IsotropicSource on every
// core by itself (the niiv method), so that blocks are best read one at a
// time; blocks of the other methods are best read in parallel.
func Parallel(m Method) bool {
	_, ok := m.(axialColsRenderer)
	return ok
}
