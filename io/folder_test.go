package volio

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestNaturalSort(t *testing.T) {
	in := []string{"s10.png", "s2.png", "s1.png", "s02.png", "a.png", "s100.png", "S3.png"}
	sort.Slice(in, func(i, j int) bool { return naturalLess(in[i], in[j]) })
	want := "S3.png a.png s1.png s2.png s02.png s10.png s100.png"
	if got := strings.Join(in, " "); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestFolderOfPNG(t *testing.T) {
	dir := t.TempDir()
	for _, z := range []int{1, 2, 10} {
		img := image.NewGray16(image.Rect(0, 0, 5, 3))
		for i := 0; i < 15; i++ {
			img.SetGray16(i%5, i/5, color.Gray16{Y: uint16(z*1000 + i)})
		}
		writePNG(t, filepath.Join(dir, "slice_"+itoa(z)+".png"), img)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	for _, path := range []string{dir, filepath.Join(dir, "slice_*.png")} {
		v, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if s := v.Shape(); s.Z != 3 || s.Y != 3 || s.X != 5 {
			t.Fatalf("shape %v", s)
		}
		// Natural order: 1, 2, 10.
		if v.At(2, 1, 2) != 10007 || v.At(1, 0, 0) != 2000 {
			t.Fatalf("order wrong: %v %v", v.At(2, 1, 2), v.At(1, 0, 0))
		}
		in, err := Inspect(path)
		if err != nil || in.Shape != v.Shape() || in.DType != v.DType() {
			t.Fatalf("inspect %+v %v", in, err)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestFolderBad(t *testing.T) {
	empty := t.TempDir()
	mixed := t.TempDir()
	writePNG(t, filepath.Join(mixed, "1.png"), image.NewGray(image.Rect(0, 0, 4, 4)))
	writePNG(t, filepath.Join(mixed, "2.png"), image.NewGray(image.Rect(0, 0, 5, 4)))
	colour := t.TempDir()
	c := image.NewRGBA(image.Rect(0, 0, 2, 2))
	c.Set(0, 0, color.RGBA{255, 0, 0, 255})
	writePNG(t, filepath.Join(colour, "1.png"), c)
	corrupt := t.TempDir()
	os.WriteFile(filepath.Join(corrupt, "1.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	cases := []struct{ name, path, want string }{
		{"empty", empty, "no .png"},
		{"mixed", mixed, "all slices must match"},
		{"colour", colour, "colour image"},
		{"corrupt", corrupt, "1.png"},
		{"missing", filepath.Join(empty, "nope"), "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
