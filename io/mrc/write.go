package mrc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/volume"
)

// Write writes v as a little-endian MRC2014 volume (space group 1). The
// mode follows the element type: Uint8 and Uint16 → 6 (uint16; see the
// package documentation for why Uint8 is widened), Int16 → 1, Float32 → 2,
// Float64 → 2 (narrowed; a finite value beyond float32's range is an
// error). The voxel size is stored in Å when v.Voxel is known and in a
// length unit (nm, µm, Å, mm, m), else the cell is left at 0 as mrcfile
// does. DMIN, DMAX, DMEAN and RMS are computed over the finite values. The
// file appears only when complete: a failed write leaves nothing behind.
func Write(path string, v *volume.Volume) error {
	if v == nil {
		return &Error{"write", path, errors.New("no volume")}
	}
	s := v.Shape()
	if !s.Valid() || s.X > math.MaxInt32 || s.Y > math.MaxInt32 || s.Z > math.MaxInt32 {
		return &Error{"write", path, fmt.Errorf("shape %v cannot be stored in an MRC header", s)}
	}
	var mode, esz int
	switch v.DType() {
	case volume.Uint8, volume.Uint16:
		mode, esz = 6, 2
	case volume.Int16:
		mode, esz = 1, 2
	case volume.Float32, volume.Float64:
		mode, esz = 2, 4
	default:
		return &Error{"write", path, fmt.Errorf("element type %v has no MRC mode", v.DType())}
	}
	planes := planeReader(v)
	st, err := stats(v, planes)
	if err != nil {
		return &Error{"write", path, err}
	}
	h := Header{
		NX: s.X, NY: s.Y, NZ: s.Z, Mode: mode,
		MX: s.X, MY: s.Y, MZ: s.Z,
		CellA: cell(v.Voxel, s),
		CellB: [3]float32{90, 90, 90},
		MapC:  1, MapR: 2, MapS: 3,
		DMin: st.min, DMax: st.max, DMean: st.mean, RMS: st.rms,
		ISPG:     1,
		NVersion: 20141,
		Map:      "MAP ",
		MachSt:   [4]byte{0x44, 0x44, 0, 0},
		NLabl:    1,
		Labels:   []string{"niiv"},
	}
	n := int64(s.X) * int64(s.Y) * int64(esz)
	f, err := atomicfile.Create(path, HeaderSize+n*int64(s.Z))
	if err != nil {
		return &Error{"write", path, err}
	}
	defer f.Abort()
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(h.encode())
	buf := make([]byte, n)
	for z := range s.Z {
		p, err := planes(z)
		if err != nil {
			return &Error{"write", path, err}
		}
		encodePlane(buf, p)
		if _, err := w.Write(buf); err != nil {
			return &Error{"write", path, err}
		}
	}
	if err := w.Flush(); err != nil {
		return &Error{"write", path, err}
	}
	if err := f.Commit(); err != nil {
		return &Error{"write", path, err}
	}
	return nil
}

// planeReader returns a function that gives plane z of v as a typed slice:
// a part of the data of a volume in memory, or read through Volume.Read
// for a volume read on demand.
func planeReader(v *volume.Volume) func(z int) (any, error) {
	s := v.Shape()
	n := s.Y * s.X
	if d := v.Data(); d != nil {
		return func(z int) (any, error) {
			switch d := d.(type) {
			case []uint8:
				return d[z*n : (z+1)*n], nil
			case []uint16:
				return d[z*n : (z+1)*n], nil
			case []int16:
				return d[z*n : (z+1)*n], nil
			case []float32:
				return d[z*n : (z+1)*n], nil
			case []float64:
				return d[z*n : (z+1)*n], nil
			}
			return nil, fmt.Errorf("unsupported data %T", d)
		}
	}
	return func(z int) (any, error) {
		p, err := v.Read(context.Background(), volume.Box{Z0: z, Z1: z + 1, Y1: s.Y, X1: s.X})
		if err != nil {
			return nil, fmt.Errorf("reading plane z=%d: %w", z, err)
		}
		if p.DType() != v.DType() || p.Data() == nil {
			return nil, fmt.Errorf("reading plane z=%d: got %v data", z, p.DType())
		}
		return p.Data(), nil
	}
}

// encodePlane writes the values of p into buf in the file's little-endian
// form: uint8 widened to uint16, float64 narrowed to float32.
func encodePlane(buf []byte, p any) {
	le := binary.LittleEndian
	switch d := p.(type) {
	case []uint8:
		for i, x := range d {
			le.PutUint16(buf[2*i:], uint16(x))
		}
	case []uint16:
		for i, x := range d {
			le.PutUint16(buf[2*i:], x)
		}
	case []int16:
		for i, x := range d {
			le.PutUint16(buf[2*i:], uint16(x))
		}
	case []float32:
		for i, x := range d {
			le.PutUint32(buf[4*i:], math.Float32bits(x))
		}
	case []float64:
		for i, x := range d {
			le.PutUint32(buf[4*i:], math.Float32bits(float32(x)))
		}
	}
}

// headerStats are the header's DMIN, DMAX, DMEAN and RMS.
type headerStats struct{ min, max, mean, rms float32 }

// stats computes the header statistics over the finite values of v (as
// stored: float64 narrowed to float32), and refuses float64 values that
// float32 cannot hold. With no finite value they are mrcfile's "unknown"
// values: DMAX < DMIN, DMEAN < DMIN, RMS < 0.
func stats(v *volume.Volume, planes func(int) (any, error)) (headerStats, error) {
	lo, hi := math.Inf(1), math.Inf(-1)
	var n int64
	var k, s1, s2 float64 // sums of x-k and (x-k)², k the first value
	add := func(x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		if n == 0 {
			k = x
		}
		n++
		lo, hi = min(lo, x), max(hi, x)
		d := x - k
		s1 += d
		s2 += d * d
	}
	sh := v.Shape()
	for z := range sh.Z {
		p, err := planes(z)
		if err != nil {
			return headerStats{}, err
		}
		switch d := p.(type) {
		case []uint8:
			for _, x := range d {
				add(float64(x))
			}
		case []uint16:
			for _, x := range d {
				add(float64(x))
			}
		case []int16:
			for _, x := range d {
				add(float64(x))
			}
		case []float32:
			for _, x := range d {
				add(float64(x))
			}
		case []float64:
			for i, x := range d {
				f := float32(x)
				if math.IsInf(float64(f), 0) && !math.IsInf(x, 0) {
					yx := i
					return headerStats{}, fmt.Errorf("voxel (z=%d, y=%d, x=%d) is %g, beyond float32's range: MRC has no 64-bit mode", z, yx/sh.X, yx%sh.X, x)
				}
				add(float64(f))
			}
		}
	}
	if n == 0 {
		return headerStats{0, -1, -2, -1}, nil
	}
	mean := s1 / float64(n)
	variance := max(0, s2/float64(n)-mean*mean)
	return headerStats{float32(lo), float32(hi), float32(k + mean), float32(math.Sqrt(variance))}, nil
}

// unitsInÅ are the length units a voxel size is converted from.
var unitsInÅ = map[string]float64{
	"Å": 1, "A": 1, "angstrom": 1, "nm": 10, "µm": 1e4, "μm": 1e4, "um": 1e4, "micron": 1e4,
	"mm": 1e7, "m": 1e10,
}

// cell returns CELLA for a voxel size: the size times the number of
// voxels along each axis, in Å; zeros when the size is unknown, not in a
// length unit or not positive and finite.
func cell(vx volume.Voxel, s volume.Shape) [3]float32 {
	scale, ok := unitsInÅ[vx.Unit]
	if !vx.Known || !ok || vx.Validate() != nil {
		return [3]float32{}
	}
	c := [3]float32{float32(vx.X * scale * float64(s.X)), float32(vx.Y * scale * float64(s.Y)), float32(vx.Z * scale * float64(s.Z))}
	for _, x := range c {
		if !(x > 0) || math.IsInf(float64(x), 0) {
			return [3]float32{}
		}
	}
	return c
}
