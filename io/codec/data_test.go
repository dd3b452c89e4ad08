package codec

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// testData returns the named test pattern of n bytes: "zeros", "ramp" (a
// smooth little-endian uint16 ramp, like a gradient in an image), "image"
// (uint16 like a microscope image: a smooth background and blobs with a
// few counts of noise) or "noise" (uniformly random uint16 values, nearly
// incompressible).
func testData(kind string, n int) []byte {
	b := make([]byte, n)
	switch kind {
	case "zeros":
	case "ramp":
		for i := 0; i+1 < n; i += 2 {
			binary.LittleEndian.PutUint16(b[i:], uint16(1000+i/16))
		}
		if n%2 == 1 {
			b[n-1] = 0x5a
		}
	case "image":
		r := rand.New(rand.NewPCG(uint64(n), 11))
		for i := 0; i+1 < n; i += 2 {
			x, y := float64(i/2%512), float64(i/2/512%512)
			v := 400 + 300*math.Sin(x/37)*math.Cos(y/53) + float64(r.IntN(16))
			binary.LittleEndian.PutUint16(b[i:], uint16(v))
		}
	case "noise":
		r := rand.New(rand.NewPCG(uint64(n), 7))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	default:
		panic("unknown test pattern " + kind)
	}
	return b
}
