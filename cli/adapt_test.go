package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/reconstruct"
)

// TestAdaptThenUse adapts the tiny test model to a degraded sample and
// uses the result through --model and as niiv:DIR in eval.
func TestAdaptThenUse(t *testing.T) {
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found: %v", err)
	}
	dir := t.TempDir()
	iso, low := degradedSample(t, dir)
	model := filepath.Join("..", "testdata", "tiny-model")
	out := filepath.Join(dir, "adapted")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no budget", []string{"adapt", low, "--model", model, "--seconds", "0"}, 2, "--seconds or --steps"},
		{"bad factor", []string{"adapt", low, "--model", model, "--factor", "1"}, 2, "at least 2"},
		{"adapt", []string{"adapt", low, "--model", model, "--steps", "3", "--seconds", "0", "--batch", "2", "--out", out}, 0, "wrote " + out},
		{"again replaces", []string{"adapt", low, "--model", model, "--steps", "2", "--seconds", "0", "--batch", "2", "--out", out}, 0, "2 steps"},
		{"not over other folders", []string{"adapt", low, "--model", model, "--steps", "1", "--seconds", "0", "--out", dir}, 1, "not an adapted model"},
		{"eval niiv:DIR", []string{"eval", iso, "--factor", "4", "--methods", "linear,niiv:" + out, "--csv", filepath.Join(dir, "e.csv")}, 0, "niiv:" + out},
		{"reconstruct --method DIR", []string{"reconstruct", low, filepath.Join(dir, "r.npy"), "--factor", "4", "--method", "niiv:" + out}, 0, "(niiv:" + out},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := run(c.args...)
			if code != c.code || !strings.Contains(o+e, c.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, c.code, o, e, c.want)
			}
		})
	}
	csv, err := os.ReadFile(filepath.Join(dir, "e.csv"))
	if err != nil || !strings.Contains(string(csv), "\nniiv:"+out+",") {
		t.Errorf("eval CSV has no niiv:DIR row: %s %v", csv, err)
	}
}

// TestAdaptedModelUsedByDefault checks that reconstruct, figure and the
// viewer's loading use the model adapted to a file when no model is named,
// and the named one when it is.
func TestAdaptedModelUsedByDefault(t *testing.T) {
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found: %v", err)
	}
	dir := t.TempDir()
	_, low := degradedSample(t, dir)
	adapt := []string{"adapt", low, "--steps", "2", "--seconds", "0", "--batch", "2"} // beside low.npy
	if code, o, e := run(adapt...); code != 0 {
		t.Fatalf("niiv %v: exit %d\n%s%s", adapt, code, o, e)
	}
	for _, c := range []struct {
		args    []string
		adapted bool
	}{
		{[]string{"reconstruct", low, filepath.Join(dir, "r1.npy")}, true},
		{[]string{"reconstruct", low, filepath.Join(dir, "r2.npy"), "--method", "niiv"}, false},
		{[]string{"figure", low, "--mode", "niiv", "--size", "64x64", "--out", filepath.Join(dir, "f1.png")}, true},
		{[]string{"figure", low, "--mode", "niiv", "--size", "64x64", "--model", "lite", "--out", filepath.Join(dir, "f2.png")}, false},
	} {
		code, o, e := run(c.args...)
		if code != 0 {
			t.Fatalf("niiv %v: exit %d\n%s%s", c.args, code, o, e)
		}
		if got := strings.Contains(e, "adapted to"); got != c.adapted {
			t.Errorf("niiv %v: uses the adapted model %v, want %v\nstderr: %s", c.args, got, c.adapted, e)
		}
	}
}

// degradedSample writes, in dir, the bundled sample at 32³ (iso.npy) and
// it pooled ×4 along z (low.npy), and returns their paths.
func degradedSample(t *testing.T, dir string) (iso, low string) {
	t.Helper()
	iso, low = filepath.Join(dir, "iso.npy"), filepath.Join(dir, "low.npy")
	for _, args := range [][]string{
		{"sample", iso, "--size", "32", "--factor", "1"},
		{"degrade", iso, low, "--factor", "4"},
	} {
		if code, o, e := run(args...); code != 0 {
			t.Fatalf("niiv %v: exit %d\n%s%s", args, code, o, e)
		}
	}
	return iso, low
}
