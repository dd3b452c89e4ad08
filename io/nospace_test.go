package volio

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/niiv/niiv/internal/atomicfile/faulttest"
	"github.com/niiv/niiv/volume"
)

// TestSaveNoSpaceKeepsOld saves a volume too large for its disk over an
// older one: the error names the file and the lack of space, and the old
// file, with its voxel-size sidecar, is left byte-identical, with nothing
// else beside it.
func TestSaveNoSpaceKeepsOld(t *testing.T) {
	vol := func(z int, voxZ float64) *volume.Volume {
		v, err := volume.New(volume.Shape{Z: z, Y: 64, X: 64}, make([]float32, z*64*64), volume.Voxel{Z: voxZ, Y: 8, X: 8, Unit: "nm", Known: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name  string
		files []string // what the old save wrote
	}{
		{"out.npy", []string{"out.npy", "out.npy.json"}},
		{"out.tif", []string{"out.tif"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := faulttest.Tmpfs(t, 64<<10)
			path := filepath.Join(dir, c.name)
			if err := Save(path, vol(1, 8)); err != nil {
				t.Fatal(err)
			}
			if got := faulttest.Entries(t, dir); !slices.Equal(got, c.files) {
				t.Fatalf("the old save wrote %v, want %v", got, c.files)
			}
			old := make([]string, len(c.files))
			for i, f := range c.files {
				old[i] = filepath.Join(dir, f)
			}
			unchanged := faulttest.Unchanged(t, old...)
			err := Save(path, vol(16, 32)) // 256 KiB
			if !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "volio: write "+path+": no space left on device (needs ~") {
				t.Fatalf("got %v, want a no-space error for %s", err, path)
			}
			faulttest.OneLine(t, err.Error())
			unchanged()
			if got := faulttest.Entries(t, dir); !slices.Equal(got, c.files) {
				t.Errorf("the failed save left %v, want %v", got, c.files)
			}
		})
	}
}
