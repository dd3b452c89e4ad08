package reconstruct

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuntimeMissingOrCorrupt loads a model in a child process whose
// environment hides the ONNX Runtime library (or points at a corrupt
// one): LoadModel must fail with ErrNoRuntime and a message naming the
// places it looked, so callers fall back to classical methods.
func TestRuntimeMissingOrCorrupt(t *testing.T) {
	if os.Getenv("NIIV_RUNTIME_CHILD") == "1" {
		_, err := LoadModel(filepath.Join("..", "testdata", "tiny-model"), ModelOptions{})
		if err == nil {
			os.Exit(3)
		}
		if !errors.Is(err, ErrNoRuntime) {
			os.Stderr.WriteString("not ErrNoRuntime: " + err.Error())
			os.Exit(4)
		}
		os.Stderr.WriteString(err.Error())
		os.Exit(0)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "libonnxruntime.so.1")
	os.WriteFile(bad, []byte("not a shared library"), 0o644)
	tests := []struct {
		name, lib, want string
	}{
		{"missing", filepath.Join(dir, "nowhere"), "looked for"},
		{"corrupt", bad, bad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRuntimeMissingOrCorrupt$")
			cmd.Env = append(os.Environ(), "NIIV_RUNTIME_CHILD=1", LibraryEnv+"="+tc.lib, "HOME="+dir, "XDG_CACHE_HOME="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("error %q does not mention %q", out, tc.want)
			}
			t.Logf("%s", out)
		})
	}
}
