package cli

import (
	"path/filepath"
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
