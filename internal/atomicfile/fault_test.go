//go:build unix

package atomicfile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/internal/atomicfile/faulttest"
	"golang.org/x/sys/unix"
)

// TestMain runs the writers of TestKilledWriter when the test binary is
// re-executed as their child.
func TestMain(m *testing.M) {
	if faulttest.Child() {
		os.Exit(child(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// child writes an output as TestKilledWriter asks: "file PATH SIZE" or
// "dir PATH SIZE".
func child(args []string) int {
	size, _ := strconv.Atoi(args[2])
	data := pattern(size, 1)
	var err error
	switch args[0] {
	case "file":
		err = writeChunks(args[1], data, int64(size))
	case "dir":
		err = atomicfile.WriteDir(context.Background(), args[1], map[string][]byte{"a.bin": data[:size/2], "b.bin": data[size/2:]})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// pattern returns n bytes that differ with seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// writeChunks writes data to path through atomicfile.Create in 64 KiB
// writes, announcing size (0: unknown).
func writeChunks(path string, data []byte, size int64) error {
	f, err := atomicfile.Create(path, size)
	if err != nil {
		return err
	}
	defer f.Abort()
	for b := data; len(b) > 0; b = b[min(len(b), 64<<10):] {
		if _, err := f.Write(b[:min(len(b), 64<<10)]); err != nil {
			return err
		}
	}
	return f.Commit()
}

// TestNoSpace fills a 64 KiB tmpfs with a 1 MiB output in each way an
// output is written: each must fail with a one-line *NoSpaceError that
// says what is needed and free, remove its temporary file at once and
// leave the file it replaces, and everything else, as it was.
func TestNoSpace(t *testing.T) {
	data := pattern(1<<20, 2)
	cases := []struct {
		name  string
		write func(path string) error
		need  bool // the error knows the whole output's size
	}{
		{"size given, reserved up front", func(p string) error { return writeChunks(p, data, int64(len(data))) }, true},
		{"size unknown, full midway", func(p string) error { return writeChunks(p, data, 0) }, false},
		{"Write with a fill function", func(p string) error {
			return atomicfile.Write(p, func(f *os.File) error { _, err := f.Write(data); return err })
		}, false},
		{"WriteDir", func(p string) error {
			return atomicfile.WriteDir(context.Background(), p, map[string][]byte{"a": data[:1<<19], "b": data[1<<19:]})
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := faulttest.Tmpfs(t, 64<<10)
			old := filepath.Join(dir, "old.bin")
			if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			target := old
			if c.name == "WriteDir" {
				target = filepath.Join(dir, "model")
			}
			unchanged := faulttest.Unchanged(t, old)
			err := c.write(target)
			var ns *atomicfile.NoSpaceError
			if !errors.As(err, &ns) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("got %v, want a *NoSpaceError matching ENOSPC", err)
			}
			msg := err.Error()
			faulttest.OneLine(t, msg)
			if !strings.HasPrefix(msg, "no space left on device (") || !strings.HasSuffix(msg, " free)") || c.need != strings.Contains(msg, "needs ~1.0 MiB") || strings.Contains(msg, ".tmp-") {
				t.Errorf("message %q", msg)
			}
			if c.need && ns.Need != int64(len(data)) || ns.Free <= 0 || ns.Free > 64<<10 {
				t.Errorf("need %d, free %d; want need %d (known: %v), free up to 64 KiB", ns.Need, ns.Free, len(data), c.need)
			}
			if reserved := c.name == "size given, reserved up front"; (ns.Wrote == 0) != reserved {
				t.Errorf("failed after writing %d bytes; want it to fail before the first (reserved: %v)", ns.Wrote, reserved)
			}
			t.Logf("%s", msg)
			unchanged()
			if got := faulttest.Entries(t, dir); !slices.Equal(got, []string{"old.bin"}) {
				t.Errorf("folder holds %v, want only old.bin", got)
			}
		})
	}
}

// TestStaleTemps checks which leftovers a write removes: the unlocked
// temporary files and folders of its own destination only, never one
// that a live writer holds, nor other files.
func TestStaleTemps(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, isDir bool) string {
		p := filepath.Join(dir, name)
		var err error
		if isDir {
			if err = os.Mkdir(p, 0o755); err == nil {
				err = os.WriteFile(filepath.Join(p, "decoder.onnx"), []byte("half"), 0o644)
			}
		} else {
			err = os.WriteFile(p, []byte("partial"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A live writer: its temporary file is locked.
	live := mk(".out.npy.tmp-22", false)
	lf, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		t.Skipf("skipping: no flock here: %v", err)
	}
	cases := []struct {
		name  string
		isDir bool
		gone  bool
	}{
		{".out.npy.tmp-11", false, true},         // a killed writer's file
		{".out.npy.probe-12", false, true},       // a killed Check's probe
		{".out.npy.tmp-13-old", true, true},      // a folder moved aside
		{".out.npy.tmp-x1", false, false},        // not a temporary name
		{".out.npy.tmp-", false, false},          // no number
		{"out.npy.tmp-14", false, false},         // not hidden
		{".other.npy.tmp-15", false, false},      // another destination
		{".out.npy.tmp-16.tmp-17", false, false}, // out.npy.tmp-16's
		{".model.tmp-18", true, false},           // another destination's folder
	}
	for _, c := range cases {
		mk(c.name, c.isDir)
	}
	if err := atomicfile.Write(filepath.Join(dir, "out.npy"), func(f *os.File) error { _, err := f.WriteString("new"); return err }); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if _, err := os.Lstat(filepath.Join(dir, c.name)); os.IsNotExist(err) != c.gone {
			t.Errorf("%s: removed %v, want %v", c.name, os.IsNotExist(err), c.gone)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live writer's file was removed: %v", err)
	}
	// A folder written with WriteDir clears its own leftovers.
	if err := atomicfile.WriteDir(context.Background(), filepath.Join(dir, "model"), map[string][]byte{"card.json": []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, ".model.tmp-18")); !os.IsNotExist(err) {
		t.Errorf("the stale folder .model.tmp-18 is still there (%v)", err)
	}
}

// TestKilledWriter kills a writer (this test binary, re-executed) with
// SIGKILL in the middle of a 4 MiB output, over an older one: the old
// output stays as it was, only a hidden temporary file or folder is left,
// and the next write removes it and succeeds.
func TestKilledWriter(t *testing.T) {
	const size = 4 << 20
	for _, kind := range []string{"file", "dir"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			if kind == "file" {
				if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := atomicfile.WriteDir(context.Background(), out, map[string][]byte{"a.bin": []byte("old")}); err != nil {
				t.Fatal(err)
			}
			before := faulttest.Entries(t, dir)
			cmd := faulttest.Command(t, 1<<20, kind, out, strconv.Itoa(size))
			tmp := faulttest.KillMidWrite(t, cmd, 30*time.Second)
			if !strings.HasPrefix(filepath.Base(tmp), ".out.tmp-") && !strings.HasPrefix(filepath.Base(filepath.Dir(tmp)), ".out.tmp-") {
				t.Fatalf("the child was writing %s, not a temporary file of out", tmp)
			}
			old := out
			if kind == "dir" {
				old = filepath.Join(out, "a.bin")
			}
			if b, err := os.ReadFile(old); string(b) != "old" {
				t.Fatalf("the old output holds %.10q (%v)", b, err)
			}
			if st, err := os.Stat(tmp); err != nil || st.Size() < 1<<20 || st.Size() >= size/2 && kind == "file" {
				t.Fatalf("the temporary file holds %v bytes (%v), want from 1 MiB to less than the whole", st.Size(), err)
			}
			left := faulttest.Entries(t, dir)
			if len(left) != len(before)+1 {
				t.Fatalf("after the kill the folder holds %v, want %v and one temporary", left, before)
			}
			// The next write clears the leftover and succeeds.
			data := pattern(size, 3)
			if kind == "file" {
				err := writeChunks(out, data, size)
				if b, _ := os.ReadFile(out); err != nil || !bytes.Equal(b, data) {
					t.Fatalf("next write: %v (%d bytes)", err, len(b))
				}
			} else {
				err := atomicfile.WriteDir(context.Background(), out, map[string][]byte{"a.bin": data})
				if b, _ := os.ReadFile(filepath.Join(out, "a.bin")); err != nil || !bytes.Equal(b, data) {
					t.Fatalf("next write: %v (%d bytes)", err, len(b))
				}
			}
			if got := faulttest.Entries(t, dir); !slices.Equal(got, before) {
				t.Errorf("after the next write the folder holds %v, want %v", got, before)
			}
		})
	}
}

// TestConcurrentWriters writes one file from several goroutines at once,
// each through its own temporary file: none may take another's for a
// leftover, so every write succeeds and none is left behind.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.npy")
	const writers, writes = 6, 30
	errs := make(chan error, writers*writes)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := pattern(4<<10, byte(w))
			for range writes {
				errs <- writeChunks(out, data, int64(len(data)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := faulttest.Entries(t, dir); !slices.Equal(got, []string{"out.npy"}) {
		t.Errorf("the folder holds %v", got)
	}
}
