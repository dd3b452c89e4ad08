// Package reftest finds, for the tests, the reference implementations niiv
// is checked against: a Python that can import the modules a test needs
// (tifffile, zarr, numcodecs, h5py, mrcfile, torch, onnx — Debian's
// python3-* packages, installed by scripts/setup.sh test).
package reftest

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Python returns the interpreter that can import every one of modules:
// $PYTHON when set, else Debian's /usr/bin/python3 (the python3 first on
// PATH may be another one, without Debian's packages). It skips t, naming
// the interpreter, the modules and what failed, when there is none.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	py := os.Getenv("PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	path, err := exec.LookPath(py)
	if err != nil {
		t.Skipf("skipping: no Python at %s for the reference %s (install python3-%s, or set $PYTHON)", py, strings.Join(modules, ", "), modules[0])
	}
	if msg := imports(path, modules); msg != "" {
		t.Skipf("skipping: %s cannot import %s (%s); install the python3-%s package, or set $PYTHON to a Python that can", path, strings.Join(modules, ", "), msg, modules[0])
	}
	return path
}

var (
	mu      sync.Mutex
	checked = map[string]string{} // interpreter and modules → "" or the failure
)

// imports tries the import once per interpreter and set of modules.
func imports(py string, modules []string) string {
	key := py + "\x00" + strings.Join(modules, ",")
	mu.Lock()
	defer mu.Unlock()
	if msg, ok := checked[key]; ok {
		return msg
	}
	out, err := exec.Command(py, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
	msg := ""
	if err != nil {
		s := strings.TrimSpace(string(out))
		msg = s[strings.LastIndexByte(s, '\n')+1:]
		if msg == "" {
			msg = err.Error()
		}
	}
	checked[key] = msg
	return msg
}
