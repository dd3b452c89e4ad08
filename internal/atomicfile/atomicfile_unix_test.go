//go:build unix

package atomicfile

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteMode checks that a new file gets 0666 less the umask, like
// os.Create, and that a replaced file keeps its mode.
func TestWriteMode(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	cases := []struct {
		name     string
		existing fs.FileMode // 0: no file before
		want     fs.FileMode
	}{
		{"new file", 0, 0o640},
		{"replaced file keeps its mode", 0o604, 0o604},
		{"replaced read-only file", 0o444, 0o444},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.npy")
			if c.existing != 0 {
				if err := os.WriteFile(p, []byte("old"), c.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, c.existing); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(p, func(f *os.File) error { _, err := f.WriteString("new"); return err }); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != c.want {
				t.Fatalf("mode %v, want %v", st.Mode().Perm(), c.want)
			}
		})
	}
}

// TestWriteReadOnlyFolder names the folder and the reason, not the
// temporary file.
func TestWriteReadOnlyFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write in any folder")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	err := Write(filepath.Join(dir, "x.npy"), func(f *os.File) error { return nil })
	want := "cannot write in folder " + dir + ": permission denied"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// TestWriteFIFO writes into a named pipe instead of replacing it.
func TestWriteFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skip("no named pipes:", err)
	}
	got := make(chan string)
	go func() {
		f, err := os.Open(p)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	if err := Write(p, func(f *os.File) error { _, err := f.WriteString("data"); return err }); err != nil {
		t.Fatal(err)
	}
	// Check the pipe first: had it been replaced, the reader would wait on
	// it for ever.
	st, err := os.Lstat(p)
	if err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced: %v %v", st.Mode(), err)
	}
	if s := <-got; s != "data" {
		t.Fatalf("reader got %q", s)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}
