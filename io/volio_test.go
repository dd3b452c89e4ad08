package volio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/volume"
)

// TestOpenRefusesBeyondFloat32 checks that float64 values that would become
// ±Inf in float32 are refused like NaN and Inf, naming the file, the value
// and the voxel, whatever the format.
func TestOpenRefusesBeyondFloat32(t *testing.T) {
	const z, y, x = 1, 2, 3 // the bad voxel of a 2×3×4 volume
	npyWith := func(bad float64) []byte {
		var b bytes.Buffer
		for i := 0; i < 24; i++ {
			v := float64(i)
			if i == (z*3+y)*4+x {
				v = bad
			}
			binary.Write(&b, binary.LittleEndian, v)
		}
		return npyBytes("<f8", false, "(2, 3, 4)", b.Bytes())
	}
	tiffWith := func(bad float64) []byte {
		return fixture{w: 4, h: 3, z: 2, bps: 64, format: fmtFloat, sample: func(zz, yy, xx int) uint64 {
			if zz == z && yy == y && xx == x {
				return math.Float64bits(bad)
			}
			return math.Float64bits(float64(xx))
		}}.build()
	}
	cases := []struct {
		name string
		file []byte
		ext  string
		want string // "" when the file must open
	}{
		{"npy 1e300", npyWith(1e300), ".npy", "(z=1, y=2, x=3) is 1e+300"},
		{"npy -1e39", npyWith(-1e39), ".npy", "(z=1, y=2, x=3) is -1e+39"},
		{"npy largest float32", npyWith(math.MaxFloat32), ".npy", ""},
		{"npy tiny values become 0, not Inf", npyWith(1e-300), ".npy", ""},
		{"tiff 1e300", tiffWith(1e300), ".tif", "(z=1, y=2, x=3) is 1e+300"},
		{"tiff largest float32", tiffWith(-math.MaxFloat32), ".tif", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "f64"+c.ext, c.file)
			v, err := Open(p)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if v.DType() != volume.Float64 {
					t.Fatalf("dtype %v", v.DType())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "float32") {
				t.Fatalf("got %v, want an error naming %s, the float32 range and %q", err, p, c.want)
			}
		})
	}
}

// TestSaveErrors checks that a failed save names the output and the reason,
// never the temporary file, and leaves nothing behind.
func TestSaveErrors(t *testing.T) {
	v, _ := volume.New(volume.Shape{Z: 1, Y: 1, X: 2}, []uint8{1, 2}, volume.Unknown())
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "dir.npy"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want string
		is   error
	}{
		{"", "volio: write: empty output path", atomicfile.ErrEmptyPath},
		{filepath.Join(dir, "dir.npy"), "volio: write " + filepath.Join(dir, "dir.npy") + ": is a directory", atomicfile.ErrIsDir},
		{filepath.Join(dir, "missing", "x.tif"), "volio: write " + filepath.Join(dir, "missing", "x.tif") + ": folder " + filepath.Join(dir, "missing") + " does not exist", os.ErrNotExist},
	}
	for _, c := range cases {
		err := Save(c.path, v)
		if err == nil || err.Error() != c.want || !errors.Is(err, c.is) {
			t.Errorf("Save(%q): got %v, want %q", c.path, err, c.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("folder holds %d entries, want 1", len(ents))
	}
}

// TestSaveThroughLinkKeepsSidecar checks that saving to a symbolic link
// puts the voxel-size sidecar beside the file written, so that the target
// opened by its own name has its voxel size.
func TestSaveThroughLinkKeepsSidecar(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target.npy"), filepath.Join(dir, "link.npy")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	vox := volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true}
	v, err := volume.New(volume.Shape{Z: 2, Y: 3, X: 4}, make([]uint8, 24), vox)
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(link, v); err != nil {
		t.Fatal(err)
	}
	got, err := Open(target)
	if err != nil {
		t.Fatal(err)
	}
	if got.Voxel.Z != 50 || got.Voxel.X != 4 {
		t.Errorf("target opened with voxel %v, want %v", got.Voxel, vox)
	}
	if _, err := os.Lstat(link + ".json"); err == nil {
		t.Errorf("a sidecar was written beside the link")
	}
}

func TestCheckSave(t *testing.T) {
	dir := t.TempDir()
	for p, ok := range map[string]bool{
		filepath.Join(dir, "a.npy"):       true,
		filepath.Join(dir, "a.TIF"):       true,
		filepath.Join(dir, "a.jpg"):       false,
		filepath.Join(dir, "a.npz"):       false,
		filepath.Join(dir, "no", "a.npy"): false,
		dir:                               false,
	} {
		if err := CheckSave(p); (err == nil) != ok {
			t.Errorf("CheckSave(%q) = %v, want ok %v", p, err, ok)
		}
	}
}
