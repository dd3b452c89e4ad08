package atomicfile

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		fill func(f *os.File) error
		want string
	}{
		{"failure keeps the old file", func(f *os.File) error { f.WriteString("partial"); return errors.New("boom") }, "old"},
		{"success replaces it", func(f *os.File) error { _, err := f.WriteString("new"); return err }, "new"},
	}
	for _, c := range cases {
		err := Write(p, c.fill)
		if b, _ := os.ReadFile(p); string(b) != c.want {
			t.Errorf("%s: file holds %q (err %v)", c.name, b, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("%s: %d files in the folder, want 1", c.name, len(ents))
		}
	}
}

func TestWritePNGMissingFolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing", "x.png")
	if err := WritePNG(p, image.NewRGBA(image.Rect(0, 0, 2, 2))); err == nil {
		t.Fatal("no error for a missing folder")
	}
}

// TestWriteSymlink writes through links, relative, absolute and dangling
// ones: the link stays and its target gets the data.
func TestWriteSymlink(t *testing.T) {
	cases := []struct {
		name     string
		existing bool // the target exists before the write
		relative bool
		chain    bool // a link to a link
	}{
		{"relative link to a file", true, true, false},
		{"absolute link to a file", true, false, false},
		{"dangling link", false, true, false},
		{"link to a link", true, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(dir, "data", "real.npy")
			if c.existing {
				if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ref := target
			if c.relative {
				ref = filepath.Join("data", "real.npy")
			}
			link := filepath.Join(dir, "link.npy")
			if c.chain {
				if err := os.Symlink(ref, filepath.Join(dir, "mid.npy")); err != nil {
					t.Skip("no symbolic links here:", err)
				}
				ref = "mid.npy"
			}
			if err := os.Symlink(ref, link); err != nil {
				t.Skip("no symbolic links here:", err)
			}
			if err := Write(link, func(f *os.File) error { _, err := f.WriteString("new"); return err }); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
				t.Fatalf("the link was replaced (%v, %v)", st.Mode(), err)
			}
			if b, err := os.ReadFile(target); string(b) != "new" {
				t.Fatalf("target holds %q (%v)", b, err)
			}
			for _, d := range []string{dir, filepath.Join(dir, "data")} {
				ents, _ := os.ReadDir(d)
				for _, e := range ents {
					if strings.Contains(e.Name(), ".tmp-") {
						t.Errorf("temporary file %s left behind", e.Name())
					}
				}
			}
		})
	}
}

// TestWriteErrors checks that failures name the real reason and never the
// temporary file, and leave nothing behind.
func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "out.npy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := func(f *os.File) error { _, err := f.WriteString("data"); return err }
	cases := []struct {
		name string
		path string
		fill func(f *os.File) error
		want string
		is   error
	}{
		{"empty path", "", ok, "empty output path", ErrEmptyPath},
		{"directory", filepath.Join(dir, "out.npy"), ok, "is a directory", ErrIsDir},
		{"missing folder", filepath.Join(dir, "missing", "x.npy"), ok, "folder " + filepath.Join(dir, "missing") + " does not exist", fs.ErrNotExist},
		{"folder is a file", filepath.Join(dir, "file", "x.npy"), ok, "cannot write in folder " + filepath.Join(dir, "file") + ": not a directory", nil},
		{"fill fails on the file", filepath.Join(dir, "a.npy"), func(f *os.File) error {
			f.Close()
			_, err := f.Write([]byte("x"))
			return err
		}, "file already closed", fs.ErrClosed},
		{"fill names the file", filepath.Join(dir, "b.npy"), func(f *os.File) error {
			return fmt.Errorf("encoding %s: disk on fire", f.Name())
		}, "encoding " + filepath.Join(dir, "b.npy") + ": disk on fire", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Write(c.path, c.fill)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), ".tmp-") {
				t.Fatalf("got %v, want %q without the temporary file's name", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("%v is not %v", err, c.is)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 2 {
				t.Fatalf("folder holds %d entries, want 2", len(ents))
			}
		})
	}
}

func TestWritePNGEmptyPath(t *testing.T) {
	err := WritePNG("", image.NewRGBA(image.Rect(0, 0, 2, 2)))
	if err == nil || err.Error() != "write: empty output path" {
		t.Fatalf("got %v", err)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f.npy")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		ok         bool
	}{
		{"new file", filepath.Join(dir, "new.npy"), true},
		{"existing file", file, true},
		{"missing folder", filepath.Join(dir, "no", "x.npy"), false},
		{"a folder", sub, false},
		{"under a file", filepath.Join(file, "x.npy"), false},
		{"empty", "", false},
	} {
		err := Check(c.path)
		if (err == nil) != c.ok {
			t.Errorf("%s: Check(%q) = %v, want ok %v", c.name, c.path, err, c.ok)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("Check left files behind: %v", ents)
	}
}
