package volio

import (
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/volume"
)

func TestVoxelFromName(t *testing.T) {
	cases := []struct {
		name    string
		z, y, x float64
		unit    string
		ok      bool
	}{
		{"isbi2012-sstem-4x4x50nm.npy", 50, 4, 4, "nm", true},
		{"neubias-chromosomes-lm-34x34x150nm.npy", 150, 34, 34, "nm", true},
		{"medulla-a-fibsem-10nm-iso.npy", 10, 10, 10, "nm", true},
		{"cells_0.1x0.1x0.5um.npy", 0.5, 0.1, 0.1, "µm", true},
		{"stack.npy", 0, 0, 0, "", false},
		{"run3x4.npy", 0, 0, 0, "", false},
	}
	for _, c := range cases {
		v, ok := voxelFromName(c.name)
		if ok != c.ok || (ok && (v.Z != c.z || v.Y != c.y || v.X != c.x || v.Unit != c.unit)) {
			t.Errorf("%s: got %+v %v", c.name, v, ok)
		}
	}
}

func TestNPYSidecarKeepsVoxel(t *testing.T) {
	v, _ := volume.New(volume.Shape{Z: 2, Y: 2, X: 2}, make([]uint8, 8), volume.Voxel{Z: 64, Y: 8, X: 8, Unit: "nm", Known: true})
	p := filepath.Join(t.TempDir(), "plain.npy")
	if err := WriteNPY(p, v); err != nil {
		t.Fatal(err)
	}
	got, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Voxel.Z != 64 || got.Voxel.X != 8 || got.Voxel.Anisotropy() != 8 || !got.Voxel.Known {
		t.Fatalf("voxel %+v", got.Voxel)
	}
}
