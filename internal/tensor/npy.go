// Package tensor reads and writes the float32 .npy test tensors that ship
// with every model (in the spirit of bioimage.io), so that each
// implementation — PyTorch, ONNX Runtime, the native Go decoder, the OpenGL
// shaders — can prove it computes the same numbers. Volumes are read by
// package volio, not here.
package tensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var shapeRe = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)

// DecodeNPY decodes a little-endian float32, C-order .npy file and returns
// its values and shape.
func DecodeNPY(b []byte) ([]float32, []int, error) {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return nil, nil, errors.New("not a .npy file")
	}
	var hl, off int
	if b[6] == 1 {
		hl, off = int(binary.LittleEndian.Uint16(b[8:])), 10
	} else {
		if len(b) < 12 {
			return nil, nil, errors.New("truncated .npy header")
		}
		hl, off = int(binary.LittleEndian.Uint32(b[8:])), 12
	}
	if hl < 0 || off+hl > len(b) {
		return nil, nil, errors.New("truncated .npy header")
	}
	hdr := string(b[off : off+hl])
	if !strings.Contains(hdr, "'<f4'") || strings.Contains(hdr, "'fortran_order': True") {
		return nil, nil, fmt.Errorf("want little-endian float32 in C order, header %s", strings.TrimSpace(hdr))
	}
	sm := shapeRe.FindStringSubmatch(hdr)
	if sm == nil {
		return nil, nil, errors.New("no shape in .npy header")
	}
	var shape []int
	n := 1
	for _, p := range strings.Split(sm[1], ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return nil, nil, fmt.Errorf("bad .npy shape %q", sm[1])
		}
		shape = append(shape, d)
		n *= d
	}
	data := b[off+hl:]
	if len(data) != 4*n {
		return nil, nil, fmt.Errorf(".npy shape %v needs %d bytes, file has %d", shape, 4*n, len(data))
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out, shape, nil
}

// EncodeNPY encodes float32 values of the given shape as a version 1.0 .npy
// file, as numpy.save writes it.
func EncodeNPY(v []float32, shape ...int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	s := strings.Join(dims, ", ")
	if len(shape) == 1 {
		s += ","
	}
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", s)
	pad := (64 - (10+len(hdr)+1)%64) % 64
	hdr += strings.Repeat(" ", pad) + "\n"
	b := make([]byte, 0, 10+len(hdr)+4*len(v))
	b = append(b, "\x93NUMPY\x01\x00"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	b = append(b, hdr...)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// MaxAbsDiff returns the largest absolute difference between a and b, +Inf
// when their lengths differ and NaN-safe (a NaN counts as an infinite
// difference).
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		e := math.Abs(float64(a[i]) - float64(b[i]))
		if !(e <= d) {
			d = e
		}
	}
	return d
}
