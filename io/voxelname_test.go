package volio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestBrokenSidecar: a sidecar that cannot be used fails the read, unless
// the caller gives the voxel size itself; it is then only a warning and the
// file name still gives the unit.
func TestBrokenSidecar(t *testing.T) {
	cases := []struct {
		name, sidecar, want string
	}{
		{"not JSON", "{voxel", "invalid character"},
		{"invalid size", `{"voxel_size_zyx": [0, 4, 4], "unit": "nm"}`, "must be positive"},
		{"a folder", "", "is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "stack-4x4x50nm.npy", npyBytes("|u1", false, "(1, 2, 3)", make([]byte, 6)))
			sc := p + ".json"
			if c.sidecar == "" {
				if err := os.Mkdir(sc, 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(sc, []byte(c.sidecar), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(p)
			if err == nil || !errors.Is(err, ErrSidecar) || !strings.Contains(err.Error(), sc) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: got %v, want an error naming %s and %q", err, sc, c.want)
			}
			if _, err := Inspect(p); !errors.Is(err, ErrSidecar) {
				t.Fatalf("Inspect: got %v", err)
			}
			var warnings []error
			o := Options{VoxelGiven: true, Warn: func(err error) { warnings = append(warnings, err) }}
			v, err := OpenWith(p, o)
			if err != nil {
				t.Fatalf("OpenWith VoxelGiven: %v", err)
			}
			if v.Voxel.Source != "file name" || v.Voxel.Z != 50 {
				t.Fatalf("voxel %+v, want the file name's", v.Voxel)
			}
			if _, err := InspectWith(p, o); err != nil {
				t.Fatalf("InspectWith VoxelGiven: %v", err)
			}
			if len(warnings) != 2 || !errors.Is(warnings[0], ErrSidecar) || !strings.Contains(warnings[0].Error(), c.want) {
				t.Fatalf("warnings %v", warnings)
			}
		})
	}
}
