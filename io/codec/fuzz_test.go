package codec

import (
	"bytes"
	"testing"
)

// fuzzMaxSize keeps fuzzed expected sizes to what a chunk may be, so that
// the fuzzer spends its time decoding rather than allocating.
const fuzzMaxSize = 16 << 20

// FuzzBloscDecode checks that no frame makes BloscDecode panic, that what
// it decodes has the expected size, and that the decoded bytes survive an
// encode and decode round trip.
func FuzzBloscDecode(f *testing.F) {
	for _, o := range []BloscOptions{
		{Compressor: "blosclz", Level: 5, Shuffle: 1, TypeSize: 2, BlockSize: 256},
		{Compressor: "lz4", Level: 5, Shuffle: 2, TypeSize: 4, BlockSize: 512},
		{Compressor: "lz4hc", Level: 9, Shuffle: 0, TypeSize: 1},
		{Compressor: "zlib", Level: 3, Shuffle: 1, TypeSize: 8, BlockSize: 1024},
		{Compressor: "zstd", Level: 5, Shuffle: 2, TypeSize: 2, BlockSize: 384},
		{Compressor: "zstd", Level: 0, Shuffle: 1, TypeSize: 4},
	} {
		for _, d := range []struct {
			kind string
			n    int
		}{{"ramp", 1500}, {"ramp", 301}, {"zeros", 700}, {"image", 2050}} {
			raw := testData(d.kind, d.n)
			enc, err := BloscEncode(raw, o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(enc, len(raw))
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, size int) {
		if size > fuzzMaxSize {
			return
		}
		out, err := BloscDecode(src, size)
		if err != nil {
			return
		}
		if len(out) != size {
			t.Fatalf("decoded %d bytes, want %d", len(out), size)
		}
		enc, err := BloscEncode(out, BloscOptions{Compressor: "lz4", Level: 5, Shuffle: 2, TypeSize: max(1, int(src[3]))})
		if err != nil {
			t.Fatal(err)
		}
		back, err := BloscDecode(enc, size)
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("re-encoding the decoded bytes does not round trip: %v", err)
		}
	})
}

// FuzzZstdDecode checks that no input makes ZstdDecode panic and that what
// it decodes has the expected size.
func FuzzZstdDecode(f *testing.F) {
	for _, d := range []struct {
		kind string
		n    int
	}{{"ramp", 1000}, {"zeros", 300000}, {"noise", 200}, {"image", 70000}, {"zeros", 0}} {
		raw := testData(d.kind, d.n)
		enc, err := ZstdEncode(raw, 3)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc, len(raw))
	}
	f.Fuzz(func(t *testing.T, src []byte, size int) {
		if size > fuzzMaxSize {
			return
		}
		out, err := ZstdDecode(src, size)
		if err == nil && len(out) != size {
			t.Fatalf("decoded %d bytes, want %d", len(out), size)
		}
	})
}
