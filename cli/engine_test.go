package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalCSVAndPlot(t *testing.T) {
	dir := t.TempDir()
	csvPath, png := filepath.Join(dir, "e.csv"), filepath.Join(dir, "e.png")
	code, o, e := run("eval", "sample", "--factor", "8", "--methods", "nearest,linear", "--csv", csvPath, "--plot", png)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "method,psnr,ssim,cf_r10,cf_r24,cf_r44,cf_r90" {
		t.Fatalf("csv:\n%s", b)
	}
	if !strings.HasPrefix(lines[1], "nearest,") || !strings.HasPrefix(lines[2], "linear,") {
		t.Errorf("csv rows:\n%s", b)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("plot not written: %v", err)
	}
	if !strings.Contains(o, "r=24") {
		t.Errorf("no table on stdout:\n%s", o)
	}
}

func TestEngineUsage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"eval bad factor", []string{"eval", "sample", "--factor", "1"}, 2, "at least 2"},
		{"eval bad method", []string{"eval", "sample", "--methods", "magic"}, 2, "--method"},
		{"eval bad device", []string{"eval", "sample", "--device", "tpu"}, 2, "--device"},
		{"eval bad plot", []string{"eval", "sample", "--plot", filepath.Join(dir, "x.jpg")}, 2, ".png"},
		{"reconstruct bad axes", []string{"reconstruct", "sample", filepath.Join(dir, "o.npy"), "--axes", "xy"}, 2, "--axes"},
		{"bench bad case", []string{"bench", "--cases", "nope"}, 2, "unknown case"},
		{"missing model falls back", []string{"reconstruct", "sample", filepath.Join(dir, "o.npy"), "--method", filepath.Join(dir, "nomodel"), "--zscale", "2"}, 2, "--method"},
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

func TestReconstructLinear(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "iso.npy")
	code, o, e := run("reconstruct", "sample", out, "--method", "linear", "--zscale", "2.5")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	if !strings.Contains(o, "40×128×128") {
		t.Errorf("output: %s", o)
	}
}

func TestReconstructFallsBackWithoutModel(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "iso.npy")
	code, o, e := run("reconstruct", "sample", out, "--method", "niiv-nothing", "--zscale", "2")
	if code != 0 || !strings.Contains(e, "using linear instead") {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
}

func TestBenchJSON(t *testing.T) {
	code, o, e := run("bench", "--json", "--cases", "matmul2048", "--impls", "go-native", "--reps", "1", "--models", filepath.Join("..", "testdata", "tiny-model"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		for _, k := range []string{"case", "model", "impl", "ms"} {
			if _, ok := r[k]; !ok {
				t.Errorf("line %q lacks %q", line, k)
			}
		}
	}
}
