// Package faulttest helps tests inject the faults that niiv's writers must
// survive with nothing lost: a disk that fills up (a small tmpfs mounted
// for the test, see Tmpfs) and a process killed in the middle of writing
// its output (see Command and KillMidWrite).
//
// A killed writer is the test binary itself, re-executed as a child. The
// test package's TestMain hands such a child to the code under test:
//
//	func TestMain(m *testing.M) {
//		if faulttest.Child() {
//			os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
//		}
//		os.Exit(m.Run())
//	}
//
// Child installs atomicfile.TestHookWrite, which stops the child for good
// once it has written the number of bytes Command asked for, and says so
// on stderr; KillMidWrite then sends SIGKILL. Nothing of this is in niiv
// itself: the hook is only set in a test binary's child.
package faulttest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/niiv/niiv/internal/atomicfile"
)

// Environment variables that make the re-executed test binary a child.
const (
	childEnv  = "NIIV_FAULTTEST_CHILD"
	stopAtEnv = "NIIV_FAULTTEST_STOP_AT"
)

// stopped starts the line a child writes to stderr when it stops, followed
// by the temporary file it was writing.
const stopped = "faulttest: stopped mid-write in "

// Child reports whether this process is a child started by Command. If it
// is, it makes every writer of package atomicfile stop, for good, once it
// has written the bytes Command was given; TestMain should then run the
// code under test with os.Args[1:] and exit.
func Child() bool {
	if os.Getenv(childEnv) == "" {
		return false
	}
	if at, _ := strconv.ParseInt(os.Getenv(stopAtEnv), 10, 64); at > 0 {
		var once sync.Once
		atomicfile.TestHookWrite = func(tmp string, written int64) {
			if written < at {
				return
			}
			once.Do(func() { fmt.Fprintf(os.Stderr, "%s%s\n", stopped, tmp) })
			for {
				time.Sleep(time.Hour) // until killed
			}
		}
	}
	return true
}

// Command returns the running test binary re-executed with args as a
// child (see Child) that stops once it has written stopAt bytes of an
// output (0: never).
func Command(t testing.TB, stopAt int64, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot re-execute the test binary: %v", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1", stopAtEnv+"="+strconv.FormatInt(stopAt, 10))
	return cmd
}

// Unchanged records the contents of files and returns a function that
// fails the test when any of them is no longer byte-identical.
func Unchanged(t testing.TB, files ...string) func() {
	t.Helper()
	sums := make([][32]byte, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(b)
	}
	return func() {
		t.Helper()
		for i, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Errorf("input %s: %v", f, err)
			} else if sha256.Sum256(b) != sums[i] {
				t.Errorf("input %s changed", f)
			}
		}
	}
}

// Entries returns the sorted names in dir, hidden ones included.
func Entries(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names
}

// OneLine fails the test unless msg is a single line.
func OneLine(t testing.TB, msg string) {
	t.Helper()
	if bytes.ContainsAny([]byte(msg), "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
}
