package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/niiv/niiv/reconstruct"
)

func TestParseSourceSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    sourceSpec
		wantErr string
	}{
		{"a.npy", sourceSpec{path: "a.npy", z1: -1, weight: 1}, ""},
		{"a.npy*2.5", sourceSpec{path: "a.npy", z1: -1, weight: 2.5}, ""},
		{"dir/a.npy:0-121*3", sourceSpec{path: "dir/a.npy", z0: 0, z1: 121, weight: 3}, ""},
		{"a.npy:5-5", sourceSpec{path: "a.npy", z0: 5, z1: 5, weight: 1}, ""},
		{"C:file.npy", sourceSpec{path: "C:file.npy", z1: -1, weight: 1}, ""},
		{"a.npy*0", sourceSpec{}, "weight \"0\""},
		{"a.npy*x", sourceSpec{}, "weight \"x\""},
		{"a.npy:9-3", sourceSpec{}, "planes \"9-3\""},
		{"a.npy:a-b", sourceSpec{}, "planes \"a-b\""},
		{"*2", sourceSpec{}, "no file"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSourceSpec(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseFactors(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"", nil, true},
		{"4-6", []int{4, 5, 6}, true},
		{"4,8", []int{4, 8}, true},
		{"8", []int{8}, true},
		{"1-4", nil, false},
		{"6-4", nil, false},
		{"4,x", nil, false},
		{"0", nil, false},
	}
	for _, tc := range tests {
		got, err := parseFactors(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("parseFactors(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestTrainThenUse trains the tiny test model on two sources and uses the
// result through --model.
func TestTrainThenUse(t *testing.T) {
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found: %v", err)
	}
	dir := t.TempDir()
	iso, low := degradedSample(t, dir)
	model := filepath.Join("..", "testdata", "tiny-model")
	out := filepath.Join(dir, "general")
	base := []string{"train", "--model", model, "--steps", "4", "--seconds", "0", "--batch", "2", "--crop", "16", "--factors", "2,4"}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no out", []string{"train", iso}, 2, "--out"},
		{"no budget", []string{"train", "--out", out, "--seconds", "0", iso}, 2, "--seconds or --steps"},
		{"bad spec", []string{"train", "--out", out, iso + "*-1"}, 2, "weight"},
		{"bad factors", []string{"train", "--out", out, "--factors", "1-3", iso}, 2, "--factors"},
		{"missing file", append(append([]string{}, base...), "--out", out, filepath.Join(dir, "none.npy")), 1, "none.npy"},
		{"planes outside", append(append([]string{}, base...), "--out", out, iso+":0-99"), 1, "planes 0-99"},
		{"unknown guard", append(append([]string{}, base...), "--out", out, "--guard", "other.npy", iso), 2, "other.npy"},
		{"train", append(append([]string{}, base...), "--out", out, "--guard", "iso.npy:0-19", iso+":0-19*2", low), 0, "wrote " + out},
		{"not over other folders", append(append([]string{}, base...), "--out", dir, iso), 1, "not an adapted model"},
		{"use it", []string{"reconstruct", low, filepath.Join(dir, "r.npy"), "--factor", "4", "--method", "niiv:" + out}, 0, "(niiv:" + out},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := run(c.args...)
			if code != c.code || !strings.Contains(o+e, c.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, c.code, o, e, c.want)
			}
		})
	}
	// Sources larger than the memory niiv may use are refused before they
	// are read whole.
	defer func(m int64) { trainMemory = m }(trainMemory)
	trainMemory = 100 << 10
	code, o, e := run(append(append([]string{}, base...), "--out", filepath.Join(dir, "big"), iso)...)
	if code != 1 || !strings.Contains(e, "choose fewer planes with") || !strings.Contains(e, "iso.npy: 32 planes of 32×32") {
		t.Errorf("a source over the memory bound: exit %d\n%s%s", code, o, e)
	}
	card, err := os.ReadFile(filepath.Join(out, "card.json"))
	if err != nil || !strings.Contains(string(card), `"name": "general"`) || !strings.Contains(string(card), "iso.npy planes 0-19 (20 images, xy)") {
		t.Errorf("card: %s %v", card, err)
	}
}
