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

// TestFindLibraryHonoursEnv checks that NIIV_ORT_LIB, when set, is the
// only place looked at: a wrong setting is an error even when a library
// exists elsewhere, and a folder is searched for the library's names.
func TestFindLibraryHonoursEnv(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, libraryNames()[0])
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env, want string
		ok        bool
	}{
		{lib, lib, true},
		{dir, lib, true},
		{filepath.Join(dir, "nowhere"), "", false},
		{t.TempDir(), "", false}, // a folder without the library
	} {
		t.Setenv(LibraryEnv, c.env)
		got, err := FindLibrary()
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("%s=%s: %q, %v; want %q", LibraryEnv, c.env, got, err, c.want)
		}
		if !c.ok && (err == nil || !errors.Is(err, ErrNoRuntime) || !strings.Contains(err.Error(), c.env)) {
			t.Errorf("%s=%s: %q, %v; want ErrNoRuntime naming the setting", LibraryEnv, c.env, got, err)
		}
	}
}

func TestCacheBudget(t *testing.T) {
	if b := CacheBudget(); b < DefaultCacheBytes || b > maxCacheBytes {
		t.Errorf("CacheBudget() = %d, want %d to %d", b, DefaultCacheBytes, maxCacheBytes)
	}
}
