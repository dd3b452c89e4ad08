package volume

import (
	"context"
	"fmt"
)

// Axis names the orientation of a plane through a volume.
type Axis int

// Plane orientations. XY planes are lateral (fixed z); XZ and YZ planes are
// axial (fixed y or x) and have z along their rows.
const (
	XY Axis = iota
	XZ
	YZ
)

// String returns "xy", "xz" or "yz".
func (a Axis) String() string {
	switch a {
	case XY:
		return "xy"
	case XZ:
		return "xz"
	case YZ:
		return "yz"
	}
	return fmt.Sprintf("Axis(%d)", int(a))
}

// ParseAxis parses "xy", "xz" or "yz".
func ParseAxis(s string) (Axis, error) {
	switch s {
	case "xy", "XY":
		return XY, nil
	case "xz", "XZ":
		return XZ, nil
	case "yz", "YZ":
		return YZ, nil
	}
	return 0, fmt.Errorf("unknown view %q (want xy, xz or yz)", s)
}

// Region is a box of a volume, [Z0,Z1)×[Y0,Y1)×[X0,X1), viewed without
// copying.
type Region struct {
	vol                    *Volume
	Z0, Y0, X0, Z1, Y1, X1 int
}

// Region returns a view of the box [z0,z1)×[y0,y1)×[x0,x1). The box must
// lie inside the volume and be non-empty.
func (v *Volume) Region(z0, z1, y0, y1, x0, x1 int) (Region, error) {
	s := v.shape
	if z0 < 0 || y0 < 0 || x0 < 0 || z1 > s.Z || y1 > s.Y || x1 > s.X || z0 >= z1 || y0 >= y1 || x0 >= x1 {
		return Region{}, fmt.Errorf("volume: region z[%d,%d) y[%d,%d) x[%d,%d) outside %v", z0, z1, y0, y1, x0, x1, s)
	}
	return Region{vol: v, Z0: z0, Z1: z1, Y0: y0, Y1: y1, X0: x0, X1: x1}, nil
}

// Shape returns the region's extent.
func (r Region) Shape() Shape { return Shape{r.Z1 - r.Z0, r.Y1 - r.Y0, r.X1 - r.X0} }

// At returns the value at (z, y, x) relative to the region's origin.
func (r Region) At(z, y, x int) float64 { return r.vol.At(r.Z0+z, r.Y0+y, r.X0+x) }

// Plane is a 2-D view of a volume along one axis, without copying. Rows and
// columns are: XY → (y, x); XZ → (z, x); YZ → (z, y).
type Plane struct {
	vol   *Volume
	Axis  Axis
	Index int // the fixed coordinate: z for XY, y for XZ, x for YZ
	at    int // Index in vol (0 where vol holds only this plane, read from a lazy volume)
}

// Plane returns the plane of the given orientation at index (z for XY, y for
// XZ, x for YZ). A lazy volume reads it into memory (PlaneCtx without a
// deadline).
func (v *Volume) Plane(axis Axis, index int) (Plane, error) {
	if v.src != nil {
		return v.PlaneCtx(context.Background(), axis, index)
	}
	return v.plane(axis, index)
}

// plane checks axis and index and returns the plane as a view of v.
func (v *Volume) plane(axis Axis, index int) (Plane, error) {
	var n int
	switch axis {
	case XY:
		n = v.shape.Z
	case XZ:
		n = v.shape.Y
	case YZ:
		n = v.shape.X
	default:
		return Plane{}, fmt.Errorf("volume: unknown axis %v", axis)
	}
	if index < 0 || index >= n {
		return Plane{}, fmt.Errorf("volume: %v plane %d outside [0,%d)", axis, index, n)
	}
	return Plane{vol: v, Axis: axis, Index: index, at: index}, nil
}

// Count returns the number of planes along axis.
func (v *Volume) Count(axis Axis) int {
	switch axis {
	case XY:
		return v.shape.Z
	case XZ:
		return v.shape.Y
	case YZ:
		return v.shape.X
	}
	return 0
}

// Size returns the plane's rows and columns.
func (p Plane) Size() (rows, cols int) {
	s := p.vol.shape
	switch p.Axis {
	case XY:
		return s.Y, s.X
	case XZ:
		return s.Z, s.X
	default:
		return s.Z, s.Y
	}
}

// offset returns the flat index of (r, c) and the stride between columns.
func (p Plane) offset(r int) (base, stride int) {
	v := p.vol
	switch p.Axis {
	case XY:
		return v.index(p.at, r, 0), 1
	case XZ:
		return v.index(r, p.at, 0), 1
	default:
		return v.index(r, 0, p.at), v.shape.X
	}
}

// At returns the value at row r, column c.
func (p Plane) At(r, c int) float64 {
	base, stride := p.offset(r)
	return p.vol.atFlat(base + c*stride)
}

// Float32 copies the plane into dst (rows*cols values, row-major) as
// float32 and returns it; dst is allocated when too short.
func (p Plane) Float32(dst []float32) []float32 {
	rows, cols := p.Size()
	if len(dst) < rows*cols {
		dst = make([]float32, rows*cols)
	}
	dst = dst[:rows*cols]
	for r := 0; r < rows; r++ {
		p.rowFloat32(r, 0, dst[r*cols:(r+1)*cols])
	}
	return dst
}

// rowFloat32 copies columns [c0, c0+len(row)) of row r into row.
func (p Plane) rowFloat32(r, c0 int, row []float32) {
	base, stride := p.offset(r)
	base += c0 * stride
	switch d := p.vol.data.(type) {
	case []uint8:
		for c := range row {
			row[c] = float32(d[base+c*stride])
		}
	case []uint16:
		for c := range row {
			row[c] = float32(d[base+c*stride])
		}
	case []int16:
		for c := range row {
			row[c] = float32(d[base+c*stride])
		}
	case []float32:
		for c := range row {
			row[c] = d[base+c*stride]
		}
	case []float64:
		for c := range row {
			row[c] = float32(d[base+c*stride])
		}
	}
}
