package codec

import (
	"bytes"
	"fmt"
	"testing"
)

// naiveByteShuffle is the byte shuffle written as its definition.
func naiveByteShuffle(src []byte, ts int) []byte {
	dst := make([]byte, len(src))
	n := len(src) / ts
	for i := 0; i < n; i++ {
		for j := 0; j < ts; j++ {
			dst[j*n+i] = src[i*ts+j]
		}
	}
	copy(dst[n*ts:], src[n*ts:])
	return dst
}

// naiveBitShuffle is the bit shuffle written as its definition, bit by
// bit.
func naiveBitShuffle(src []byte, ts int) []byte {
	dst := make([]byte, len(src))
	n := len(src) / ts
	if n%8 != 0 {
		copy(dst, src)
		return dst
	}
	for i := 0; i < n; i++ {
		for j := 0; j < ts; j++ {
			for k := 0; k < 8; k++ {
				bit := src[i*ts+j] >> k & 1
				pos := (j*8+k)*n + i
				dst[pos/8] |= bit << (pos % 8)
			}
		}
	}
	copy(dst[n*ts:], src[n*ts:])
	return dst
}

func TestShuffles(t *testing.T) {
	sizes := []int{0, 1, 7, 8, 15, 16, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 1000, 1024, 4096, 4099, 8192 + 24}
	for ts := 1; ts <= 20; ts++ {
		for _, n := range sizes {
			for _, kind := range []string{"noise", "ramp"} {
				src := testData(kind, n)
				name := fmt.Sprintf("ts%d/%s%d", ts, kind, n)
				for _, tc := range []struct {
					name      string
					naive     func([]byte, int) []byte
					fwd, back func(dst, src []byte, ts int)
				}{
					{"byte", naiveByteShuffle, byteShuffle, byteUnshuffle},
					{"bit", naiveBitShuffle, bitShuffle, bitUnshuffle},
				} {
					want := tc.naive(src, ts)
					got := make([]byte, n)
					tc.fwd(got, src, ts)
					if !bytes.Equal(got, want) {
						t.Errorf("%s shuffle %s differs from its definition", tc.name, name)
						continue
					}
					back := make([]byte, n)
					tc.back(back, want, ts)
					if !bytes.Equal(back, src) {
						t.Errorf("%s unshuffle %s does not restore the input", tc.name, name)
					}
				}
			}
		}
	}
}

func TestTranspose8x8Bytes(t *testing.T) {
	var a [8]uint64
	for k := range a {
		for q := 0; q < 8; q++ {
			a[k] |= uint64(k*8+q) << (8 * q)
		}
	}
	transpose8x8Bytes(&a)
	for q := range a {
		for k := 0; k < 8; k++ {
			if got := byte(a[q] >> (8 * k)); got != byte(k*8+q) {
				t.Fatalf("byte %d of word %d is %d, want %d", k, q, got, k*8+q)
			}
		}
	}
}
