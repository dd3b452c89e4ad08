package codec

import (
	"fmt"
	"testing"
)

// BenchmarkBloscDecode decodes 1 MiB chunks of uint16 image-like data
// with c-blosc's automatic block sizes.
func BenchmarkBloscDecode(b *testing.B) {
	raw := testData("image", 1<<20)
	for _, o := range []BloscOptions{
		{Compressor: "zstd", Level: 5, Shuffle: 1, TypeSize: 2},
		{Compressor: "lz4", Level: 5, Shuffle: 2, TypeSize: 2},
		{Compressor: "lz4", Level: 5, Shuffle: 1, TypeSize: 2},
		{Compressor: "blosclz", Level: 5, Shuffle: 1, TypeSize: 2},
		{Compressor: "zlib", Level: 5, Shuffle: 1, TypeSize: 2},
	} {
		enc, err := BloscEncode(raw, o)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("%s/shuffle%d/ratio%.1f", o.Compressor, o.Shuffle, float64(len(raw))/float64(len(enc)))
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := BloscDecode(enc, len(raw)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnshuffle measures the byte and bit unshuffles on a 256 KiB
// block.
func BenchmarkUnshuffle(b *testing.B) {
	src := testData("image", 256<<10)
	dst := make([]byte, len(src))
	for _, ts := range []int{1, 2, 4, 8, 3, 16} {
		b.Run(fmt.Sprintf("byte/ts%d", ts), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				byteUnshuffle(dst, src, ts)
			}
		})
		b.Run(fmt.Sprintf("bit/ts%d", ts), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				bitUnshuffle(dst, src, ts)
			}
		})
	}
}

// BenchmarkBloscEncode compresses a 1 MiB chunk.
func BenchmarkBloscEncode(b *testing.B) {
	raw := testData("image", 1<<20)
	for _, o := range []BloscOptions{
		{Compressor: "zstd", Level: 5, Shuffle: 1, TypeSize: 2},
		{Compressor: "lz4", Level: 5, Shuffle: 2, TypeSize: 2},
	} {
		b.Run(fmt.Sprintf("%s/shuffle%d", o.Compressor, o.Shuffle), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := BloscEncode(raw, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
