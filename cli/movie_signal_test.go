//go:build unix

package cli

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMovieCancelled interrupts movies (Ctrl-C) after their second frame:
// nothing may be left behind.
func TestMovieCancelled(t *testing.T) {
	guard := make(chan os.Signal, 4)
	signal.Notify(guard, syscall.SIGINT)
	defer signal.Stop(guard)
	defer func() { movieFrameDone = nil }()
	outs := []string{"m.gif", "frames" + string(filepath.Separator)}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		outs = append(outs, "m.mp4")
	}
	for _, out := range outs {
		t.Run(out, func(t *testing.T) {
			dir := t.TempDir()
			sent := false
			movieFrameDone = func(k int) {
				if k == 1 && !sent {
					sent = true
					if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
						t.Error(err)
					}
					// The signal is delivered asynchronously: hold this
					// frame until it has arrived (guard sees it when niiv's
					// handler does) and the handler has had time to cancel,
					// so that a fast movie cannot finish first.
					select {
					case <-guard:
					case <-time.After(5 * time.Second):
						t.Error("SIGINT not delivered within 5 s")
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			code, _, stderr := run("movie", SampleName, "--mode", "linear", "--sweep", "xz:y=0..127", "--frames", "60",
				"--size", "160x90", "--out", dir+string(filepath.Separator)+out)
			if code != 130 {
				t.Fatalf("exit %d, want 130; stderr %s", code, stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a cancelled movie left %s", entries[0].Name())
			}
		})
	}
}
