package cli

import (
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
