package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/volume"
)

// runCtx runs command name with args under ctx, as Main does after
// parsing, and returns its error.
func runCtx(ctx context.Context, name string, args ...string) (stdout, stderr string, err error) {
	c := commands[name]
	fs := newFlagSet(c)
	run := c.Flags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", "", err
	}
	var o, e bytes.Buffer
	err = run(ctx, &Env{Stdout: &o, Stderr: &e}, pos)
	return o.String(), e.String(), err
}

// writeVolume writes a z×4×4 volume of data type dt.
func writeVolume(t *testing.T, path string, z int, dt volume.DType) {
	t.Helper()
	n := z * 16
	var data any
	switch dt {
	case volume.Uint8:
		d := make([]uint8, n)
		for i := range d {
			d[i] = uint8(i)
		}
		data = d
	case volume.Float64:
		d := make([]float64, n)
		for i := range d {
			d[i] = float64(i) / 3
		}
		data = d
	default:
		t.Fatalf("type %v", dt)
	}
	v, err := volume.New(volume.Shape{Z: z, Y: 4, X: 4}, data, volume.Voxel{Z: 8, Y: 8, X: 8, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := volio.Save(path, v); err != nil {
		t.Fatal(err)
	}
}

func TestConvertDegradeSampleArgs(t *testing.T) {
	dir := t.TempDir()
	in8, in3, in1 := filepath.Join(dir, "z8.npy"), filepath.Join(dir, "z3.npy"), filepath.Join(dir, "z1.npy")
	writeVolume(t, in8, 8, volume.Uint8)
	writeVolume(t, in3, 3, volume.Uint8)
	writeVolume(t, in1, 1, volume.Uint8)
	f64 := filepath.Join(dir, "f64.npy")
	writeVolume(t, f64, 2, volume.Float64)
	out := filepath.Join(dir, "out.npy")
	cases := []struct {
		name   string
		args   []string
		code   int
		want   []string // in stdout+stderr
		absent []string
	}{
		{"degrade factor above slices", []string{"degrade", in8, out, "--factor", "9"}, 2,
			[]string{"--factor 9: more than the 8 slices of " + in8 + " (must be between 2 and 8)"}, []string{"dropped", "cannot pool"}},
		{"degrade factor = slices", []string{"degrade", in8, out, "--factor", "8"}, 0, []string{"wrote " + out + ": 1×4×4"}, []string{"dropped"}},
		{"degrade one slice", []string{"degrade", in1, out, "--factor", "2"}, 2, []string{"--factor 2: " + in1 + " has 1 slice, nothing to pool"}, []string{"slices"}},
		{"degrade factor 0", []string{"degrade", in8, out, "--factor", "0"}, 2, []string{"--factor 0: must be at least 2"}, nil},
		{"degrade factor -3", []string{"degrade", in8, out, "--factor", "-3"}, 2, []string{"--factor -3: must be at least 2"}, nil},
		{"degrade factor nan", []string{"degrade", in8, out, "--factor", "nan"}, 2, []string{`invalid value "nan" for flag -factor`}, nil},
		{"degrade voxel nan", []string{"degrade", in8, out, "--voxel", "nan,8,8"}, 2, []string{`"nan" is not a positive size`}, nil},
		{"degrade drops one slice", []string{"degrade", in3, out, "--factor", "2"}, 0,
			[]string{"3 slices are not a multiple of 2; the last one is dropped", "wrote " + out + ": 1×4×4"}, []string{"1 are", "1 slices"}},
		{"degrade drops two slices", []string{"degrade", in8, out, "--factor", "3"}, 0, []string{"8 slices are not a multiple of 3; the last 2 are dropped"}, nil},
		{"convert float64 to TIFF", []string{"convert", f64, filepath.Join(dir, "f.tif")}, 0, []string{"2×4×4 (z,y,x) float32 (converted from float64)"}, nil},
		{"convert float64 to npy", []string{"convert", f64, filepath.Join(dir, "f.npy")}, 0, []string{"2×4×4 (z,y,x) float64, voxel"}, []string{"converted"}},
		{"convert uint8 to TIFF", []string{"convert", in8, filepath.Join(dir, "u.tif")}, 0, []string{"8×4×4 (z,y,x) uint8, voxel"}, []string{"converted"}},
		{"sample size too small", []string{"sample", out, "--size", "8"}, 2, []string{"--size 8: must be between 16 and 512"}, nil},
		{"sample size too large", []string{"sample", out, "--size", "513"}, 2, []string{"--size 513: must be between 16 and 512"}, nil},
		{"sample factor 0", []string{"sample", out, "--size", "16", "--factor", "0"}, 2, []string{"--factor 0: must be between 1 and --size 16"}, nil},
		{"sample factor above size", []string{"sample", out, "--size", "16", "--factor", "17"}, 2, []string{"--factor 17: must be between 1 and --size 16"}, nil},
		{"sample quick and quiet", []string{"sample", out, "--size", "16", "--factor", "1"}, 0, []string{"wrote " + out + ": 16×16×16 (z,y,x) uint8"}, []string{"%"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := run(c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			for _, w := range c.want {
				if !strings.Contains(o+e, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range c.absent {
				if strings.Contains(o+e, w) {
					t.Errorf("output has %q", w)
				}
			}
			if t.Failed() {
				t.Logf("stdout: %s\nstderr: %s", o, e)
			}
		})
	}
}

func TestSampleCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "s.npy")
	t0 := time.Now()
	o, e, err := runCtx(ctx, "sample", out, "--size", "512")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sample returned %v\nstdout: %s\nstderr: %s", err, o, e)
	}
	if el := time.Since(t0); el > 5*time.Second {
		t.Errorf("cancelled sample took %v", el)
	}
	if _, err := volio.Inspect(out); err == nil {
		t.Error("a cancelled sample wrote its output")
	}
}

// TestSampleProgress checks that a sample that takes over a second shows
// its progress as the other long commands do.
func TestSampleProgress(t *testing.T) {
	defer func(f func(io.Writer, string) *progressBar) { newSampleProgress = f }(newSampleProgress)
	newSampleProgress = func(w io.Writer, label string) *progressBar {
		p := newProgress(w, label)
		p.start = p.start.Add(-2 * time.Second) // as if it had run for a while
		return p
	}
	code, o, e := run("sample", filepath.Join(t.TempDir(), "s.npy"), "--size", "32")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	for _, w := range []string{"sample 32³:  25% (", "sample 32³: 100% ("} {
		if !strings.Contains(e, w) {
			t.Errorf("stderr lacks %q: %s", w, e)
		}
	}
	if strings.Contains(o, "%") {
		t.Errorf("progress on stdout: %s", o)
	}
}

// TestOutputIsInput checks that convert and degrade refuse to overwrite
// the file they read, under any name.
func TestOutputIsInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "v.npy")
	writeVolume(t, in, 8, volume.Uint8)
	before, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.npy")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"convert", in, in},
		{"convert", in, link},
		{"degrade", in, in, "--factor", "2"},
		{"degrade", link, in, "--factor", "2"},
	} {
		code, _, e := run(args...)
		if code != 2 || !strings.Contains(e, "is the input file") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and 'is the input file'", args, code, e)
		}
	}
	if after, err := os.ReadFile(in); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the input changed (%v)", err)
	}
}
