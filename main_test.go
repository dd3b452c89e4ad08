package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuietUnderCLocale checks that a command run under the C locale (as on
// servers and in containers) prints nothing but its own output.
func TestQuietUnderCLocale(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "niiv")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Skipf("cannot build niiv here: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=", "LC_MESSAGES=", "LANGUAGE=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("niiv --version: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); !strings.HasPrefix(s, "niiv ") || strings.Contains(s, "\n") {
		t.Fatalf("unexpected output under LANG=C.UTF-8:\n%s", out)
	}
}
