package adapt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/niiv/niiv/volume"
)

// hashBlock is how many voxels describe converts and hashes at a time.
const hashBlock = 1 << 16

// describe identifies a volume by name, shape and a hash of its voxels
// (little-endian bytes, as a .npy stores them). It hashes in blocks of
// bounded size, checking ctx between them, and returns ctx's error when
// cancelled.
func describe(ctx context.Context, v *volume.Volume) (VolumeInfo, error) {
	if v.Lazy() {
		return describeSample(ctx, v)
	}
	h := sha256.New()
	buf := make([]byte, 0, hashBlock*8)
	blocks := func(n int, put func(buf []byte, i int) []byte) error {
		for i0 := 0; i0 < n; i0 += hashBlock {
			if err := ctx.Err(); err != nil {
				return err
			}
			buf = buf[:0]
			for i := i0; i < min(n, i0+hashBlock); i++ {
				buf = put(buf, i)
			}
			h.Write(buf)
		}
		return nil
	}
	var err error
	switch d := v.Data().(type) {
	case []uint8:
		err = blocks(len(d), func(b []byte, i int) []byte { return append(b, d[i]) })
	case []uint16:
		err = blocks(len(d), func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint16(b, d[i]) })
	case []int16:
		err = blocks(len(d), func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint16(b, uint16(d[i])) })
	case []float32:
		err = blocks(len(d), func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint32(b, math.Float32bits(d[i])) })
	case []float64:
		err = blocks(len(d), func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint64(b, math.Float64bits(d[i])) })
	}
	if err != nil {
		return VolumeInfo{}, err
	}
	return VolumeInfo{Name: v.Name, Shape: v.Shape(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// describeSample identifies a lazy volume (too large to hash whole) by its
// shape, type and the voxels of up to 16 xy planes spread through z (their
// central 1024×1024 at most). The hash starts with "sample-" so that it is
// never mistaken for a hash of every voxel.
func describeSample(ctx context.Context, v *volume.Volume) (VolumeInfo, error) {
	s := v.Shape()
	h := sha256.New()
	fmt.Fprintf(h, "niiv volume sample v1 %d %d %d %v\n", s.Z, s.Y, s.X, v.DType())
	ys, xs := min(s.Y, 1024), min(s.X, 1024)
	y0, x0 := (s.Y-ys)/2, (s.X-xs)/2
	k := min(s.Z, 16)
	var buf []float32
	var b []byte
	for i := range k {
		z := (2*i + 1) * s.Z / (2 * k)
		var err error
		if buf, err = v.PlaneRect(ctx, volume.XY, z, y0, y0+ys, x0, x0+xs, buf); err != nil {
			return VolumeInfo{}, err
		}
		b = b[:0]
		for _, f := range buf {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
		h.Write(b)
	}
	return VolumeInfo{Name: v.Name, Shape: s, SHA256: "sample-" + hex.EncodeToString(h.Sum(nil))}, nil
}
