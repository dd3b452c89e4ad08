package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestViewUsage checks the view command's errors, which come before any
// window opens.
func TestViewUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad mode", []string{"view", "--mode", "sharp"}, 2, "unknown mode"},
		{"bad device", []string{"view", "--device", "abacus"}, 2, "--device"},
		{"missing file", []string{"view", filepath.Join(t.TempDir(), "nope.npy")}, 1, "nope.npy"},
		{"two files", []string{"view", "a", "b"}, 2, "takes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

// TestViewWithoutDisplay checks that the viewer says why it cannot open a
// window, rather than failing inside the window system.
func TestViewWithoutDisplay(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("a display is always there on " + runtime.GOOS)
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	code, _, stderr := run("view")
	if code != 1 || !strings.Contains(stderr, "DISPLAY is not set") || !strings.Contains(stderr, "niiv figure") {
		t.Errorf("exit %d, stderr %q; want 1 and a message naming DISPLAY and niiv figure", code, stderr)
	}
}

// TestInfoBrokenSidecarWithVoxel checks that --voxel makes a broken
// voxel-size sidecar a warning (on the process's stderr), for the whole and
// the header-only inspection.
func TestInfoBrokenSidecarWithVoxel(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "v.npy")
	if code, o, e := run("sample", p, "--size", "16"); code != 0 {
		t.Fatalf("sample: exit %d\n%s%s", code, o, e)
	}
	if err := os.WriteFile(p+".json", []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run("info", p); code != 1 {
		t.Errorf("a broken sidecar without --voxel: exit %d, want 1", code)
	}
	for _, header := range []bool{false, true} {
		args := []string{"info", p, "--voxel", "50,4,4"}
		if header {
			args = append(args, "--header")
		}
		code, o, e := run(args...)
		if code != 0 || !strings.Contains(o, "50 × 4 × 4 nm") {
			t.Errorf("%v: exit %d\nstdout %s\nstderr %s\nwant 0 and the given voxel size", args, code, o, e)
		}
	}
}
