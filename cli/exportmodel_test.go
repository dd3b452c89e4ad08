package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/reconstruct"
)

// TestExportModel exports the tiny test model as a bioimage.io package,
// uses the package as a model, and checks the usage errors.
func TestExportModel(t *testing.T) {
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found: %v", err)
	}
	dir := t.TempDir()
	iso, low := degradedSample(t, dir)
	model := filepath.Join("..", "testdata", "tiny-model")
	pkg := filepath.Join(dir, "tiny-x4.zip")
	folder := filepath.Join(dir, "tiny-x4")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad size", []string{"export-model", model, pkg, "--size", "4"}, 2, "--size"},
		{"bad norm", []string{"export-model", model, pkg, "--norm", "5,1"}, 2, "LO < HI"},
		{"bad factor", []string{"export-model", model, pkg, "--factor", "-1"}, 2, "--factor"},
		{"no range", []string{"export-model", model, pkg, "--license", "MIT"}, 1, "no normalisation range"},
		{"no licence", []string{"export-model", model, pkg, "--volume", low}, 1, "names no licence"},
		{"wrong factor", []string{"export-model", model, pkg, "--factor", "8", "--norm", "0,255", "--license", "MIT"}, 1, "outside the model's trained range"},
		{"zip", []string{"export-model", model, pkg, "--volume", low, "--license", "CC-BY-4.0", "--authors", "A. Person, B. Person"}, 0, "max |package − niiv|"},
		{"folder", []string{"export-model", model, folder, "--norm", "0,255", "--size", "2,4", "--license", "CC-BY-4.0"}, 0, "test slice 2×4"},
		{"reconstruct with the zip", []string{"reconstruct", low, filepath.Join(dir, "r.npy"), "--factor", "4", "--method", pkg}, 0, "niiv-tiny-x4"},
		{"eval with the folder", []string{"eval", iso, "--factor", "4", "--methods", "linear,niiv:" + folder}, 0, "niiv:" + folder},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := run(c.args...)
			if code != c.code || !strings.Contains(o+e, c.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, c.code, o, e, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(folder, "rdf.yaml")); err != nil {
		t.Errorf("folder package: %v", err)
	}
}
