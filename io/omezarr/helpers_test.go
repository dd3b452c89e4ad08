package omezarr

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/niiv/niiv/volume"
)

func strconvF(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }

// npyBytes encodes v as a version 1.0 .npy file.
func npyBytes(v *volume.Volume) []byte {
	descr := map[volume.DType]string{volume.Uint8: "|u1", volume.Uint16: "<u2", volume.Int16: "<i2", volume.Float32: "<f4", volume.Float64: "<f8"}[v.DType()]
	s := v.Shape()
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d, %d), }", descr, s.Z, s.Y, s.X)
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(h)))
	b = append(b, h...)
	return append(b, rawBytes(v)...)
}
