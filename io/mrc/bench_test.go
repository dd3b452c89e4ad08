package mrc

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/volume"
)

// BenchmarkRead reads one xy plane (1024×1024, one read) and one xz plane
// (64 × 1024, one read per section) from a 64×1024×1024 int16 file (128
// MiB, in the page cache after it is written).
func BenchmarkRead(b *testing.B) {
	s := volume.Shape{Z: 64, Y: 1024, X: 1024}
	p := filepath.Join(b.TempDir(), "bench.mrc")
	if err := Write(p, testVolume(b, volume.Int16, s, volume.Unknown(), 0)); err != nil {
		b.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	for _, c := range []struct {
		name string
		box  volume.Box
	}{
		{"xy", box(32, 33, 0, s.Y, 0, s.X)},
		{"xz", box(0, s.Z, 512, 513, 0, s.X)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(c.box.Shape().Len() * 2))
			for b.Loop() {
				if _, err := f.Read(ctx, c.box); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
