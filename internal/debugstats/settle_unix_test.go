//go:build unix

package debugstats

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSIGUSR1WritesASettledSample(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.txt")
	stop, err := Start(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	// Stop only once the request is served: SIGUSR1 after stop would end
	// the test binary.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), "# settled\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no settled sample after SIGUSR1:\n%s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	headers, rows := parse(t, path)
	if len(headers) != 2 || headers[1] != "# settled" {
		t.Errorf("headers %q, want the pid line and # settled", headers)
	}
	if len(rows) != 3 { // the first sample, the settled one, the last
		t.Errorf("%d samples, want 3", len(rows))
	}
}
