package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string // in stdout+stderr
	}{
		{"help", []string{"--help"}, 0, "commands:"},
		{"command help", []string{"degrade", "--help"}, 0, "--factor"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"missing args", []string{"convert", "a.npy"}, 2, "usage: niiv convert"},
		{"bad flag", []string{"info", "--nope", "x"}, 2, "flag provided but not defined"},
		{"bad factor", []string{"degrade", "sample", filepath.Join(dir, "o.npy"), "--factor", "1"}, 2, "at least 2"},
		{"bad voxel", []string{"info", "sample", "--voxel", "a,b"}, 2, "not a positive size"},
		{"missing file", []string{"info", filepath.Join(dir, "nope.npy")}, 1, "no such file"},
		{"version", []string{"--version"}, 0, "niiv "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := run(c.args...)
			if code != c.code || !strings.Contains(o+e, c.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, c.code, o, e, c.want)
			}
		})
	}
}

func TestSampleDegradeConvertInfo(t *testing.T) {
	dir := t.TempDir()
	iso := filepath.Join(dir, "iso.npy")
	an := filepath.Join(dir, "an.tif")
	back := filepath.Join(dir, "back.npy")
	steps := [][]string{
		{"sample", iso, "--factor", "1", "--size", "32"},
		{"degrade", iso, an, "--factor", "4"},
		{"convert", an, back},
	}
	for _, s := range steps {
		if code, o, e := run(s...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", s, code, o, e)
		}
	}
	code, o, e := run("info", back)
	if code != 0 {
		t.Fatalf("info: %d %s", code, e)
	}
	for _, want := range []string{"8×32×32 (z,y,x)", "float32", "32 × 8 × 8 nm", "anisotropy  4×"} {
		if !strings.Contains(o, want) {
			t.Errorf("info output lacks %q:\n%s", want, o)
		}
	}
	// The voxel override wins and the anisotropy follows it.
	_, o, _ = run("info", back, "--voxel", "50,4,4")
	if !strings.Contains(o, "50 × 4 × 4 nm") || !strings.Contains(o, "12.5×") {
		t.Errorf("override not applied:\n%s", o)
	}
}

func TestInfoSharedData(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared data folder %s absent: skipping the real-volume check", dir)
	}
	want := map[string]string{
		"medulla-a-fibsem-10nm-iso.npy":          "250×250×250 (z,y,x)",
		"hemibrain-fibsem-8nm-iso-128.npy":       "128×128×128 (z,y,x)",
		"isbi2012-sstem-4x4x50nm.npy":            "30×512×512 (z,y,x)",
		"neubias-chromosomes-lm-34x34x150nm.npy": "40×152×126 (z,y,x)",
	}
	for f, shape := range want {
		code, o, e := run("info", "--header", filepath.Join(dir, f))
		if code != 0 || !strings.Contains(o, shape) {
			t.Errorf("%s: exit %d, want %s\n%s%s", f, code, shape, o, e)
		}
	}
}

func TestBadFileOneLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.npy")
	os.WriteFile(p, []byte("\x93NUMPY\x01\x00\x05\x00{}"), 0o644)
	code, _, e := run("info", p)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(e), "\n")
	if !strings.Contains(lines[0], p) {
		t.Fatalf("error does not name the file: %q", e)
	}
}

// TestUsageOutput checks that help goes once to stdout, and that a bad flag
// value prints the error and a one-line usage, not the whole flag list.
func TestUsageOutput(t *testing.T) {
	code, o, e := run("info", "-h")
	if code != 0 || strings.Count(o, "usage: niiv info") != 1 || e != "" {
		t.Errorf("info -h: exit %d\nstdout %q\nstderr %q\nwant 0, the usage once on stdout", code, o, e)
	}
	code, o, e = run("sample", filepath.Join(t.TempDir(), "x.npy"), "--seed", "-1")
	if code != 2 || strings.Contains(e, "flags:") || strings.Count(e, "\n") != 2 || !strings.Contains(e, "-seed") {
		t.Errorf("bad flag value: exit %d\nstdout %q\nstderr %q\nwant 2, the error and one usage line", code, o, e)
	}
	for args, want := range map[string]string{"bench x": "takes no arguments", "info": "at least 1 argument: "} {
		if _, _, e := run(strings.Fields(args)...); !strings.Contains(e, want) {
			t.Errorf("%s: stderr %q lacks %q", args, e, want)
		}
	}
}

// TestMissingFileIsNotACommand checks that `niiv FILE` with a file that
// does not exist says so, rather than calling it an unknown command.
func TestMissingFileIsNotACommand(t *testing.T) {
	for _, arg := range []string{"nonexist.npy", filepath.Join(t.TempDir(), "x"), "a.npz:vol"} {
		code, _, e := run(arg)
		if code != 1 || !strings.Contains(e, "no such file") {
			t.Errorf("niiv %s: exit %d, stderr %q; want 1 and 'no such file'", arg, code, e)
		}
	}
	if code, _, e := run("nothing"); code != 2 || !strings.Contains(e, "unknown command") {
		t.Errorf("niiv nothing: exit %d, stderr %q", code, e)
	}
}
