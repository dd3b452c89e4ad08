package atomicfile

import (
	"errors"
	"image"
	"os"
	"path/filepath"
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
