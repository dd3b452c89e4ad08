package cli

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/volume"
)

// TestChannelCommands drives sample, info, convert and reconstruct over a
// small confocal-like hyperstack.
func TestChannelCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tif := filepath.Join(dir, "conf.tif")
	out, _, err := runCtx(ctx, "sample", "--channels", "3", "--times", "2", "--size", "32", "--factor", "4", tif)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "3 channels × 2 time points (membrane #00FF00, mitochondria #FF00FF, cytosol #00FFFF) of 8×32×32") {
		t.Errorf("sample: %s", out)
	}
	ome := filepath.Join(dir, "conf.ome.tif")
	if _, _, err := runCtx(ctx, "sample", "--channels", "3", "--times", "2", "--size", "32", "--factor", "4", "--ome", filepath.Join(dir, "o.tif")); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCtx(ctx, "info", tif)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"8×32×32 (z,y,x) per channel and time point", "channels    3", "1   mitochondria   #FF00FF", "time        2 points, 30 s apart", "0.4 × 0.1 × 0.1 µm"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	// convert: all channels into an OME-TIFF, chosen ones into OME-Zarr.
	if _, _, err := runCtx(ctx, "convert", tif, ome); err != nil {
		t.Fatal(err)
	}
	zp := filepath.Join(dir, "sel.zarr")
	if _, _, err := runCtx(ctx, "convert", "--channels", "2,0", "--time", "1", tif, zp); err != nil {
		t.Fatal(err)
	}
	src, err := volio.OpenHyperstack(tif, volio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		nt, nc int
		pick   [][2]int // (t, c) of the source for each (t, c) written
	}{{ome, 2, 3, nil}, {zp, 1, 2, [][2]int{{1, 2}, {1, 0}}}} {
		h, err := volio.OpenHyperstack(c.path, volio.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if h.Times() != c.nt || h.Channels() != c.nc || h.Shape() != src.Shape() {
			t.Fatalf("%s: %v", c.path, h)
		}
		for i := range c.nt * c.nc {
			tt, cc := i/c.nc, i%c.nc
			st, sc := tt, cc
			if c.pick != nil {
				st, sc = c.pick[i][0], c.pick[i][1]
			}
			if got, want := h.At(tt, cc).At(5, 17, 9), src.At(st, sc).At(5, 17, 9); got != want {
				t.Errorf("%s (t %d, c %d): %v, want %v", c.path, tt, cc, got, want)
			}
			if h.Channel(cc).Name != src.Channel(sc).Name || h.Channel(cc).Color != src.Channel(sc).Color {
				t.Errorf("%s channel %d: %+v, want %+v", c.path, cc, h.Channel(cc), src.Channel(sc))
			}
		}
	}
	// reconstruct: every channel on its own, into an ImageJ hyperstack.
	iso := filepath.Join(dir, "iso.tif")
	out, _, err = runCtx(ctx, "reconstruct", "--method", "linear", "--time", "0", tif, iso)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "3 channels × 1 time point of 32×32×32") {
		t.Errorf("reconstruct: %s", out)
	}
	h, err := volio.OpenHyperstack(iso, volio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Channels() != 3 || h.Times() != 1 || h.Channel(1).Name != "mitochondria" || h.Voxel().Z != 0.1 {
		t.Errorf("reconstruction: %v, channel 1 %+v, voxel %v", h, h.Channel(1), h.Voxel())
	}
}

func TestChannelPickErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tif := filepath.Join(dir, "conf.tif")
	if _, _, err := runCtx(ctx, "sample", "--channels", "2", "--times", "2", "--size", "16", "--factor", "1", tif); err != nil {
		t.Fatal(err)
	}
	npy := filepath.Join(dir, "a.npy")
	writeNPY4(t, npy, []int{2, 3, 4, 5})
	cases := []struct {
		name string
		cmd  []string
		want string
	}{
		{"eval needs a channel", []string{"eval", "--methods", "linear", "--factor", "2", tif}, "has 2 channels (0 membrane, 1 mitochondria): this command reads one; choose it with --channel N"},
		{"eval needs a time", []string{"eval", "--methods", "linear", "--factor", "2", "--channel", "1", tif}, "has 2 time points: this command reads one; choose it with --time N"},
		{"channel out of range", []string{"eval", "--methods", "linear", "--channel", "5", "--time", "0", tif}, "--channel 5: " + tif + " has 2 channels"},
		{"bad channel", []string{"eval", "--channel", "x", tif}, `--channel "x"`},
		{"convert unknown channel", []string{"convert", "--channels", "0,7", tif, filepath.Join(dir, "o.zarr")}, "channel 7 does not exist"},
		{"4-D npy without axes", []string{"info", npy}, "--axes czyx"},
		{"unknown axis letter", []string{"info", "--axes", "cqyx", npy}, "unknown axis letter 'q'"},
		{"axes on a TIFF", []string{"info", "--axes", "czyx", tif}, "names its own axes"},
		{"sample channels", []string{"sample", "--channels", "9", filepath.Join(dir, "s.tif")}, "--channels 9: want 1 to 8"},
		{"sample npy", []string{"sample", "--channels", "2", filepath.Join(dir, "s.npy")}, "is written as .tif"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runCtx(ctx, c.cmd[0], c.cmd[1:]...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	// A channel and time point picked from a file, and an npy's named axes.
	out, _, err := runCtx(ctx, "eval", "--methods", "linear", "--factor", "2", "--channel", "1", "--time", "1", tif)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "linear") {
		t.Errorf("eval: %s", out)
	}
	out, _, err = runCtx(ctx, "info", "--axes", "czyx", npy)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "channels    2") || !strings.Contains(out, "4×5 (z,y,x) per channel") {
		t.Errorf("info --axes: %s", out)
	}
}

// writeNPY4 writes a float32 .npy of the given dimensions.
func writeNPY4(t *testing.T, path string, dims []int) {
	t.Helper()
	n := 1
	parts := make([]string, len(dims))
	for i, d := range dims {
		n *= d
		parts[i] = fmt.Sprint(d)
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", strings.Join(parts, ", "))
	pad := (64 - (10+len(dict)+1)%64) % 64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	b = append(b, hdr...)
	b = append(b, make([]byte, 4*n)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReconstructOneChannelKeepsMetadata reconstructs one channel chosen
// from a file of several into a TIFF that keeps its name and colour.
func TestReconstructOneChannelKeepsMetadata(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tif := filepath.Join(dir, "conf.tif")
	if _, _, err := runCtx(ctx, "sample", "--channels", "2", "--times", "2", "--size", "16", "--factor", "2", tif); err != nil {
		t.Fatal(err)
	}
	one := filepath.Join(dir, "one.tif")
	if _, _, err := runCtx(ctx, "reconstruct", "--method", "linear", "--channels", "1", "--time", "1", tif, one); err != nil {
		t.Fatal(err)
	}
	h, err := volio.OpenHyperstack(one, volio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ch := h.Channel(0); h.Channels() != 1 || ch.Name != "mitochondria" || ch.Color != (volume.Color{R: 255, B: 255}) || h.Shape().Z != 16 {
		t.Errorf("got %v, channel %+v", h, ch)
	}
}
