package zarr

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/io/codec"
	"github.com/niiv/niiv/volume"
)

// writeBenchArray writes a 128×1024×1024 uint8 Zarr v2 array in 64³
// chunks compressed with zstd (level 1): smooth gradients with a little
// texture, which compress about as well as electron micrographs.
func writeBenchArray(b *testing.B, dir string) {
	shape, chunks := []int{128, 1024, 1024}, []int{64, 64, 64}
	writeJSON(b, filepath.Join(dir, ".zarray"), ArrayV2{
		ZarrFormat: 2, Shape: shape, Chunks: chunks, DType: "|u1", FillValue: json.RawMessage("0"), Order: "C",
		Compressor: map[string]any{"id": "zstd", "level": 1},
	})
	buf := make([]byte, prod(chunks))
	for _, idx := range gridOf(shape, chunks) {
		i := 0
		for z := range 64 {
			for y := range 64 {
				for x := range 64 {
					gz, gy, gx := idx[0]*64+z, idx[1]*64+y, idx[2]*64+x
					h := uint32(gz*73856093 ^ gy*19349663 ^ gx*83492791)
					buf[i] = byte((gx+gy)/8 + gz + int(h>>28))
					i++
				}
			}
		}
		z, err := codec.ZstdEncode(buf, 1)
		if err != nil {
			b.Fatal(err)
		}
		writeFile(b, filepath.Join(dir, joinInts(idx, ".")), z)
	}
}

// BenchmarkRead reads a 1×1024×1024 plane and a 64×1024×1 column from a
// zstd-compressed 128×1024×1024 uint8 array in 64³ chunks, cold (a new
// cache each time: every chunk the box overlaps is read and decoded) and
// cached (the chunks already decoded).
func BenchmarkRead(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "bench.zarr")
	writeBenchArray(b, dir)
	boxes := []struct {
		name string
		box  volume.Box
	}{
		{"plane", volume.Box{Z0: 70, Z1: 71, Y0: 0, Y1: 1024, X0: 0, X1: 1024}},
		{"column", volume.Box{Z0: 32, Z1: 96, Y0: 0, Y1: 1024, X0: 500, X1: 501}},
	}
	for _, bx := range boxes {
		for _, cold := range []bool{true, false} {
			name := bx.name + "/cached"
			if cold {
				name = bx.name + "/cold"
			}
			b.Run(name, func(b *testing.B) {
				cache := NewCache(1 << 30)
				im, err := Open(dir, Options{Cache: cache})
				if err != nil {
					b.Fatal(err)
				}
				if !cold {
					if _, err := im.Read(context.Background(), bx.box); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(bx.box.Shape().Len()))
				b.ResetTimer()
				for range b.N {
					if cold {
						b.StopTimer()
						im, err = Open(dir, Options{Cache: NewCache(1 << 30)})
						if err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					if _, err := im.Read(context.Background(), bx.box); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
