// Package volume holds niiv's in-memory 3-D image: a (z, y, x) array in its
// native data type, its physical voxel size, views of planes and sub-regions
// that do not copy, and intensity statistics computed once.
//
// Axes are always (z, y, x), C order: x varies fastest and z slowest. z is the
// axis that is coarse in anisotropic microscopy.
package volume

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// DType is the element type a volume keeps in memory, as read from its file.
type DType int

// Supported element types.
const (
	Uint8 DType = iota + 1
	Uint16
	Int16
	Float32
	Float64
)

// String returns the numpy-style name of the type ("uint8", "float32", ...).
func (d DType) String() string {
	switch d {
	case Uint8:
		return "uint8"
	case Uint16:
		return "uint16"
	case Int16:
		return "int16"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Size returns the number of bytes of one element.
func (d DType) Size() int {
	switch d {
	case Uint8:
		return 1
	case Uint16, Int16:
		return 2
	case Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == Float32 || d == Float64 }

// Shape is the extent of a volume along z, y and x, in voxels.
type Shape struct{ Z, Y, X int }

// Len returns the number of voxels, Z*Y*X.
func (s Shape) Len() int { return s.Z * s.Y * s.X }

// String formats the shape as "Z×Y×X (z,y,x)".
func (s Shape) String() string { return fmt.Sprintf("%d×%d×%d (z,y,x)", s.Z, s.Y, s.X) }

// Valid reports whether every extent is positive.
func (s Shape) Valid() bool { return s.Z > 0 && s.Y > 0 && s.X > 0 }

// Voxel is the physical size of one voxel along z, y and x.
type Voxel struct {
	Z, Y, X float64
	Unit    string // "nm", "µm", ...; "" when unknown
	// Known is false when the file carried no voxel size; Z, Y and X are
	// then 1 and the user should be asked.
	Known bool
	// Source says where the size came from: "ImageJ metadata", "OME-XML",
	// "file name", "sidecar", "command line"...; empty when unknown.
	Source string
}

// Unknown returns the 1×1×1 placeholder for files without a voxel size.
func Unknown() Voxel { return Voxel{Z: 1, Y: 1, X: 1, Unit: "px"} }

// Anisotropy returns the ratio of the z size to the lateral (mean of y and x)
// size: 8 for a volume imaged at 64×8×8 nm.
func (v Voxel) Anisotropy() float64 {
	lat := (v.Y + v.X) / 2
	if lat <= 0 || v.Z <= 0 {
		return 1
	}
	return v.Z / lat
}

// Validate checks that all sizes are finite and positive.
func (v Voxel) Validate() error {
	for _, s := range []float64{v.Z, v.Y, v.X} {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("voxel size %g×%g×%g must be positive and finite", v.Z, v.Y, v.X)
		}
	}
	return nil
}

// String formats the size as "50 × 4 × 4 nm (z,y,x)".
func (v Voxel) String() string {
	u := v.Unit
	if u == "" {
		u = "units"
	}
	s := fmt.Sprintf("%s × %s × %s %s (z,y,x)", trimFloat(v.Z), trimFloat(v.Y), trimFloat(v.X), u)
	switch {
	case !v.Known:
		s += " (not in file)"
	case v.Source != "":
		s += " from " + v.Source
	}
	return s
}

func trimFloat(f float64) string { return fmt.Sprintf("%.4g", f) }

// Volume is a 3-D image in its native element type. The zero value is not
// usable; build one with New or a reader in package io.
type Volume struct {
	shape Shape
	dtype DType
	data  any // []uint8, []uint16, []int16, []float32 or []float64, C order

	// Voxel is the physical voxel size; readers fill it from the file.
	Voxel Voxel
	// Name is a human label, usually the file name.
	Name string

	statsOnce sync.Once
	stats     Stats

	// src is where a lazy volume's voxels are (data is nil); see NewLazy.
	src        Source
	levelsOnce sync.Once
	levels     []*Volume
}

// ErrShape is returned when a data slice does not match the shape.
var ErrShape = errors.New("data length does not match shape")

// New wraps data (one of []uint8, []uint16, []int16, []float32, []float64,
// C order z,y,x) as a Volume without copying it.
func New(shape Shape, data any, voxel Voxel) (*Volume, error) {
	if !shape.Valid() {
		return nil, fmt.Errorf("volume: invalid shape %v", shape)
	}
	var n int
	var dt DType
	switch d := data.(type) {
	case []uint8:
		n, dt = len(d), Uint8
	case []uint16:
		n, dt = len(d), Uint16
	case []int16:
		n, dt = len(d), Int16
	case []float32:
		n, dt = len(d), Float32
	case []float64:
		n, dt = len(d), Float64
	default:
		return nil, fmt.Errorf("volume: unsupported element type %T", data)
	}
	if n != shape.Len() {
		return nil, fmt.Errorf("volume: %w: shape %v needs %d voxels, have %d", ErrShape, shape, shape.Len(), n)
	}
	return &Volume{shape: shape, dtype: dt, data: data, Voxel: voxel}, nil
}

// Shape returns the volume's extent.
func (v *Volume) Shape() Shape { return v.shape }

// DType returns the native element type.
func (v *Volume) DType() DType { return v.dtype }

// Data returns the backing slice ([]uint8, []uint16, []int16, []float32 or
// []float64) in C order, nil for a lazy volume (NewLazy). Callers must not
// modify it.
func (v *Volume) Data() any { return v.data }

// Bytes returns the size of the voxel data in bytes.
func (v *Volume) Bytes() int64 { return int64(v.shape.Len()) * int64(v.dtype.Size()) }

// index returns the flat index of (z, y, x).
func (v *Volume) index(z, y, x int) int { return (z*v.shape.Y+y)*v.shape.X + x }

// At returns the voxel value at (z, y, x) as float64. It panics when the
// index is out of range, like a slice access.
func (v *Volume) At(z, y, x int) float64 {
	if v.src != nil {
		if z < 0 || y < 0 || x < 0 || z >= v.shape.Z || y >= v.shape.Y || x >= v.shape.X {
			panic(fmt.Sprintf("volume: voxel (%d, %d, %d) outside %v", z, y, x, v.shape))
		}
		return v.lazyAt(z, y, x)
	}
	return v.atFlat(v.index(z, y, x))
}

func (v *Volume) atFlat(i int) float64 {
	switch d := v.data.(type) {
	case []uint8:
		return float64(d[i])
	case []uint16:
		return float64(d[i])
	case []int16:
		return float64(d[i])
	case []float32:
		return float64(d[i])
	case []float64:
		return d[i]
	}
	panic("volume: corrupt Volume")
}

// CheckFinite returns an error naming the first NaN or Inf voxel of a
// floating-point volume; integer volumes always pass, and so do lazy ones
// (NewLazy), whose voxels are not all read.
func (v *Volume) CheckFinite() error {
	bad := -1
	switch d := v.data.(type) {
	case []float32:
		for i, f := range d {
			if f != f || f > math.MaxFloat32 || f < -math.MaxFloat32 {
				bad = i
				break
			}
		}
	case []float64:
		for i, f := range d {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				bad = i
				break
			}
		}
	}
	if bad < 0 {
		return nil
	}
	x := bad % v.shape.X
	y := (bad / v.shape.X) % v.shape.Y
	z := bad / (v.shape.X * v.shape.Y)
	return fmt.Errorf("voxel (z=%d, y=%d, x=%d) is %g: NaN and Inf are not images", z, y, x, v.atFlat(bad))
}
