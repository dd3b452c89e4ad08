package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/volume"
)

// TestZarrFlagsVersion: --ome-zarr and --zarr-shard are checked before any work,
// and a convert with them writes a sharded OME-Zarr 0.5 image that reads
// back as written.
func TestZarrFlagsVersion(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.npy")
	writeVolume(t, in, 6, volume.Uint8)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown version", []string{"--ome-zarr", "0.6"}, `--ome-zarr "0.6": want 0.4 or 0.5`},
		{"shard in 0.4", []string{"--zarr-shard", "128,256,256"}, "--zarr-shard needs --ome-zarr 0.5"},
		{"shard not a multiple", []string{"--ome-zarr", "0.5", "--chunk", "2,4,4", "--zarr-shard", "4,6,4"}, "not a multiple of --chunk"},
		{"shard of two numbers", []string{"--ome-zarr", "0.5", "--zarr-shard", "4,4"}, "--zarr-shard"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "bad.zarr")
			code, o, e := run(append([]string{"convert", in, out}, c.args...)...)
			if code != 2 || !strings.Contains(o+e, c.want) {
				t.Fatalf("exit %d, want 2\n%s%s\nwant %q", code, o, e, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an image was written")
			}
		})
	}
	out := filepath.Join(dir, "out.zarr")
	if code, o, e := run("convert", in, out, "--ome-zarr", "0.5", "--chunk", "2,4,4", "--zarr-shard", "4,4,4", "--levels", "1"); code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, o, e)
	}
	data, err := os.ReadFile(filepath.Join(out, "0", "zarr.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		ZarrFormat int `json:"zarr_format"`
		ChunkGrid  struct {
			Configuration struct {
				ChunkShape []int `json:"chunk_shape"`
			}
		} `json:"chunk_grid"`
		Codecs []struct{ Name string }
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.ZarrFormat != 3 || len(meta.Codecs) != 1 || meta.Codecs[0].Name != "sharding_indexed" || len(meta.ChunkGrid.Configuration.ChunkShape) != 3 || meta.ChunkGrid.Configuration.ChunkShape[0] != 4 {
		t.Errorf("level 0 zarr.json: %s", data)
	}
	want, err := volio.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := volio.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	gv, wv := got.Voxel, want.Voxel
	if got.Shape() != want.Shape() || gv.Z != wv.Z || gv.Y != wv.Y || gv.X != wv.X || gv.Unit != wv.Unit {
		t.Fatalf("read back %v %v, want %v %v", got.Shape(), got.Voxel, want.Shape(), want.Voxel)
	}
	s := want.Shape()
	for z := range s.Z {
		for y := range s.Y {
			for x := range s.X {
				if got.At(z, y, x) != want.At(z, y, x) {
					t.Fatalf("voxel (%d, %d, %d): %v, want %v", z, y, x, got.At(z, y, x), want.At(z, y, x))
				}
			}
		}
	}
}
