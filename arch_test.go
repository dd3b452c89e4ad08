package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageRules enforces the architecture: the numeric and I/O packages
// run headless, so none of them may depend on Fyne; only app (and the
// command line that starts it) does.
func TestPackageRules(t *testing.T) {
	out, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(pkg, "github.com/niiv/niiv")
		if rel == "" || rel == "/app" || strings.HasPrefix(rel, "/app/") || rel == "/cli" {
			continue
		}
		deps, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		if strings.Contains(string(deps), "fyne.io/") {
			t.Errorf("%s depends on Fyne; only app/ may", pkg)
		}
	}
}
