package volio

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/volume"
)

type memSource struct{ v *volume.Volume }

func (m memSource) Meta() volume.Meta { return m.v.Meta() }
func (m memSource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	return m.v.Read(ctx, b)
}

// TestSaveLazy writes a lazily read volume: the file holds its voxels.
func TestSaveLazy(t *testing.T) {
	s := volume.Shape{Z: 3, Y: 5, X: 7}
	d := make([]uint16, s.Len())
	for i := range d {
		d[i] = uint16(i * 7)
	}
	mem, err := volume.New(s, d, volume.Voxel{Z: 40, Y: 4, X: 4, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	mem.Name = "lazy"
	lz, err := volume.NewLazy(memSource{mem})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.npy", "a.tif"} {
		path := filepath.Join(t.TempDir(), name)
		if err := Save(path, lz); err != nil {
			t.Fatal(err)
		}
		back, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := back.Data().([]uint16)
		if !ok || len(got) != len(d) {
			t.Fatalf("%s: read back %T of %d", name, back.Data(), len(got))
		}
		for i := range d {
			if got[i] != d[i] {
				t.Fatalf("%s: voxel %d is %d, want %d", name, i, got[i], d[i])
			}
		}
	}
}
