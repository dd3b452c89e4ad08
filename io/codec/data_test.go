package codec

import (
	"encoding/binary"
	"math/rand/v2"
)

// testData returns the named test pattern of n bytes: "zeros", "ramp" (a
// smooth little-endian uint16 ramp, like a gradient in an image) or
// "noise" (uniformly random uint16 values, nearly incompressible).
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
