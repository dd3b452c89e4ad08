//go:build unix

package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/niiv/niiv/internal/atomicfile/faulttest"
	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// faultInput writes an anisotropic float32 volume of shape s (voxel
// 32 × 8 × 8 nm, so a ×4 reconstruction) with varied voxels to path.
func faultInput(t *testing.T, path string, s volume.Shape) {
	t.Helper()
	d := make([]float32, s.Len())
	for i := range d {
		d[i] = float32((i*2654435761)%1000) / 10
	}
	v, err := volume.New(s, d, volume.Voxel{Z: 32, Y: 8, X: 8, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := volio.Save(path, v); err != nil {
		t.Fatal(err)
	}
}

// faultCase is one writer of an output that the fault tests break: a
// command's arguments for its input and output, or the viewer's export.
type faultCase struct {
	name  string
	args  func(in, out string) []string
	out   string // the output's name
	adapt bool   // needs the adapt input and ONNX Runtime
	grows bool   // the output has 4 times the input's slices
	// stopAt is how many bytes the killed writer gets to write.
	stopAt int64
}

var faultCases = []faultCase{
	{name: "convert to npy", args: func(in, out string) []string { return []string{"convert", in, out} }, out: "out.npy", stopAt: 1 << 20},
	{name: "convert to tiff", args: func(in, out string) []string { return []string{"convert", in, out} }, out: "out.tif", stopAt: 1 << 20},
	{name: "reconstruct", args: func(in, out string) []string { return []string{"reconstruct", in, out, "--method", "linear"} }, out: "out.npy", grows: true, stopAt: 1 << 20},
	{name: "viewer export", args: func(in, out string) []string { return []string{"gui-export", in, out} }, out: "out.npy", grows: true, stopAt: 1 << 20},
	{name: "adapt", args: func(in, out string) []string {
		return []string{"adapt", in, "--model", filepath.Join("..", "testdata", "tiny-model"), "--steps", "1", "--seconds", "0", "--batch", "2", "--out", out}
	}, out: "model", adapt: true, stopAt: 10000},
}

// run runs the case in this process and returns its error.
func (c faultCase) run(in, out string) error {
	args := c.args(in, out)
	if args[0] == "gui-export" {
		return exportIsotropic(context.Background(), in, out)
	}
	_, _, err := runCtx(context.Background(), args[0], args[1:]...)
	return err
}

// input writes the case's input into dir, sized as the test asks (the
// adapt input is fixed), and returns it with its sidecar.
func (c faultCase) input(t *testing.T, dir string, s volume.Shape) (string, []string) {
	t.Helper()
	if c.adapt {
		if _, err := reconstruct.FindLibrary(); err != nil {
			t.Skipf("skipping: ONNX Runtime library not found: %v", err)
		}
		_, low := degradedSample(t, dir)
		return low, []string{low, low + ".json"}
	}
	in := filepath.Join(dir, "in.npy")
	faultInput(t, in, s)
	return in, []string{in, in + ".json"}
}

// check fails the test unless the output path holds what the case writes.
func (c faultCase) check(t *testing.T, out string) {
	t.Helper()
	if c.adapt {
		var card struct {
			Adaptation struct{ Steps int } `json:"adaptation"`
		}
		b, err := os.ReadFile(filepath.Join(out, "card.json"))
		if err == nil {
			err = json.Unmarshal(b, &card)
		}
		if err != nil || card.Adaptation.Steps != 1 {
			t.Errorf("adapted model card: %v, %s", err, b)
		}
		return
	}
	v, err := volio.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Shape(); s.Y != 128 || s.X != 128 || s.Z != 64 {
		t.Errorf("output %v, want 64×128×128", s)
	}
}

// TestDiskFull writes each output onto a tmpfs too small for it: the
// error is one line that names the output and says "no space", the input
// is unchanged and the file system holds nothing afterwards.
func TestDiskFull(t *testing.T) {
	for _, c := range faultCases {
		t.Run(c.name, func(t *testing.T) {
			// 256 KiB of input, 256 KiB converted, 1 MiB reconstructed;
			// the adapted tiny model is about 25 KiB.
			size := int64(64 << 10)
			if c.adapt {
				size = 16 << 10
			}
			full := faulttest.Tmpfs(t, size)
			in, inputs := c.input(t, t.TempDir(), volume.Shape{Z: 16, Y: 64, X: 64})
			unchanged := faulttest.Unchanged(t, inputs...)
			out := filepath.Join(full, c.out)
			err := c.run(in, out)
			if err == nil {
				t.Fatalf("wrote %s onto a full disk", out)
			}
			msg := err.Error()
			t.Logf("%s", msg)
			faulttest.OneLine(t, msg)
			if !strings.Contains(msg, out+": ") || !strings.Contains(msg, "no space") || strings.Contains(msg, ".tmp-") {
				t.Errorf("error %q does not name %s and say \"no space\" (or names a temporary file)", msg, out)
			}
			unchanged()
			if got := faulttest.Entries(t, full); len(got) != 0 {
				t.Errorf("the full file system holds %v", got)
			}
		})
	}
}

// TestKilledMidWrite runs each writer as a separate process, kills it
// with SIGKILL once it has written part of its output, and checks that no
// output (only a hidden temporary file) is left and the input is
// unchanged, and that the next run removes the leftover and succeeds.
func TestKilledMidWrite(t *testing.T) {
	for _, c := range faultCases {
		t.Run(c.name, func(t *testing.T) {
			// 4 MiB of output, written in 1 MiB pieces.
			s := volume.Shape{Z: 64, Y: 128, X: 128}
			if c.grows {
				s.Z = 16
			}
			in, inputs := c.input(t, t.TempDir(), s)
			unchanged := faulttest.Unchanged(t, inputs...)
			dir := t.TempDir()
			out := filepath.Join(dir, c.out)
			cmd := faulttest.Command(t, c.stopAt, c.args(in, out)...)
			tmp := faulttest.KillMidWrite(t, cmd, time.Minute)
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Fatalf("killed mid-write, yet %s exists (%v)", out, err)
			}
			for _, name := range faulttest.Entries(t, dir) {
				if !strings.HasPrefix(name, "."+c.out) || !strings.Contains(name, ".tmp-") {
					t.Errorf("killed while writing %s, it left %s", tmp, name)
				}
			}
			unchanged()
			if err := c.run(in, out); err != nil {
				t.Fatalf("the next run failed: %v", err)
			}
			c.check(t, out)
			for _, name := range faulttest.Entries(t, dir) {
				if strings.HasPrefix(name, ".") {
					t.Errorf("the next run left %s", name)
				}
			}
			unchanged()
		})
	}
}
