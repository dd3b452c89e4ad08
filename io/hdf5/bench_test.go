package hdf5

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/volume"
)

// benchScript writes a 64×1024×1024 uint8 dataset in 64³ chunks with gzip
// (level 4, h5py's default): smooth gradients with a little texture, which
// compress about as well as electron micrographs.
const benchScript = `
import sys, h5py, numpy as np
z, y, x = np.ogrid[:64, :1024, :1024]
h = (z * 73856093 ^ y * 19349663 ^ x * 83492791).astype(np.uint32)
a = ((x + y) // 8 + z + (h >> 28)).astype(np.uint8)
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("raw", data=a, chunks=(64, 64, 64), compression="gzip")
`

// BenchmarkRead reads one 1024×1024 xy plane (256 chunks of 256 KiB, 64
// MiB to inflate) and one 64×1024 xz plane (16 chunks) from the dataset of
// benchScript, cold (a new cache each time: every chunk is read and
// decoded; the file is in the page cache) and cached.
func BenchmarkRead(b *testing.B) {
	py := h5pyPython(b)
	p := filepath.Join(b.TempDir(), "bench.h5")
	if out, err := exec.Command(py, "-c", benchScript, p).CombinedOutput(); err != nil {
		b.Fatalf("writing the file: %v\n%s", err, out)
	}
	d, err := Open(p, "/raw")
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	for _, c := range []struct {
		name string
		box  volume.Box
	}{
		{"xy", box(32, 33, 0, 1024, 0, 1024)},
		{"xz", box(0, 64, 512, 513, 0, 1024)},
	} {
		for _, cold := range []bool{true, false} {
			name := c.name + "/cached"
			if cold {
				name = c.name + "/cold"
			}
			b.Run(name, func(b *testing.B) {
				d.cache = newCache(1 << 30)
				if !cold {
					if _, err := d.Read(ctx, c.box); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(c.box.Shape().Len()))
				for b.Loop() {
					if cold {
						d.cache = newCache(1 << 30)
					}
					if _, err := d.Read(ctx, c.box); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
