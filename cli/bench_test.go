package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchRefusesUnknownLists checks that bench refuses, before timing
// anything, lists that name nothing or something it does not know.
func TestBenchRefusesUnknownLists(t *testing.T) {
	notModel := t.TempDir()
	file := filepath.Join(notModel, "f.npy")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	impls := "(want go-native, go-int8, go-ort, torch"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown impl", []string{"--impls", "bogus"}, `--impls: unknown implementation "bogus" ` + impls},
		{"one unknown impl", []string{"--impls", "go-native,bogus,nope"}, `--impls: unknown implementations "bogus", "nope" ` + impls},
		{"go-gl", []string{"--impls", "go-gl"}, "go-gl is timed in place of go-native with --device gl"},
		{"empty impls", []string{"--impls", ""}, `--impls "": name one or more of go-native, go-int8, go-ort, torch`},
		{"unknown case", []string{"--cases", "bogus"}, `--cases: unknown case "bogus" (want matmul2048, view512`},
		{"empty cases", []string{"--cases", ""}, `--cases "": name one or more of matmul2048, view512`},
		{"commas only", []string{"--cases", " , "}, `--cases " , ": name one or more of`},
		{"unknown model", []string{"--models", "bogus"}, `--models: unknown model "bogus" (want a model folder or an embedded model`},
		{"file as model", []string{"--models", file}, `--models: unknown model "` + file + `"`},
		{"no model", []string{"--models", ","}, `--models ",": no model named`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := run(append([]string{"bench"}, c.args...)...)
			if code != 2 || !strings.Contains(e, c.want) || o != "" {
				t.Fatalf("exit %d (want 2)\nstdout: %s\nstderr: %s\nwant %q", code, o, e, c.want)
			}
		})
	}
}
