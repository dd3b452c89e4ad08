//go:build unix

package faulttest

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// KillMidWrite runs cmd, a child made by Command, until it stops in the
// middle of an output, kills it with SIGKILL and returns the temporary
// file or folder it was writing. The test fails when the child ends, or
// has not stopped within timeout, before that.
func KillMidWrite(t testing.TB, cmd *exec.Cmd, timeout time.Duration) string {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	done := make(chan struct{})
	var said strings.Builder // what the child wrote to stderr besides
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if tmp, ok := strings.CutPrefix(sc.Text(), stopped); ok {
				found <- tmp
				continue
			}
			said.WriteString(sc.Text() + "\n")
		}
	}()
	var tmp string
	select {
	case tmp = <-found:
	case <-done:
	case <-time.After(timeout):
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	err = cmd.Wait()
	if tmp == "" {
		t.Fatalf("%v did not stop mid-write (%v):\n%s", cmd.Args, err, said.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%v was not killed: %v", cmd.Args, err)
	}
	return tmp
}
