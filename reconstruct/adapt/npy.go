package adapt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"

	"github.com/niiv/niiv/volume"
)

// describe identifies a volume by name, shape and a hash of its voxels.
func describe(v *volume.Volume) VolumeInfo {
	h := sha256.New()
	var buf []byte
	switch d := v.Data().(type) {
	case []uint8:
		h.Write(d)
	case []uint16:
		for _, x := range d {
			buf = binary.LittleEndian.AppendUint16(buf, x)
		}
	case []int16:
		for _, x := range d {
			buf = binary.LittleEndian.AppendUint16(buf, uint16(x))
		}
	case []float32:
		for _, x := range d {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		}
	case []float64:
		for _, x := range d {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
		}
	}
	h.Write(buf)
	return VolumeInfo{Name: v.Name, Shape: v.Shape(), SHA256: hex.EncodeToString(h.Sum(nil))}
}
