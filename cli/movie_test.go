package cli

import (
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func readPNG(t *testing.T, path string) *image.RGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return out
}

// TestMovieMatchesFigure checks that a movie's frame is the figure of the
// same view, pixel for pixel.
func TestMovieMatchesFigure(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		movie  []string
		frame  int
		figure []string
	}{
		{"sweep", []string{"--sweep", "xz:y=0..127", "--frames", "5"}, 2, []string{"--view", "xz", "--slice", "64"}},
		{"xy sweep between slices", []string{"--sweep", "xy:z=3..5", "--frames", "5", "--colormap", "magma"}, 1, []string{"--view", "xy", "--slice", "3.5", "--colormap", "magma"}},
		{"zoom", []string{"--zoom", "1..16", "--at", "8,64,40", "--view", "xz", "--frames", "5"}, 2, []string{"--view", "xz", "--zoom", "4", "--at", "8,64,40"}},
		{"montage", []string{"--sweep", "yz:x=10..20", "--frames", "3", "--mode", "linear,nearest"}, 2, []string{"--view", "yz", "--slice", "20", "--mode", "linear,nearest"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frames := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")) + "/"
			fig := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".png")
			common := []string{SampleName, "--mode", "linear", "--size", "320x180"}
			args := append(append([]string{"movie"}, common...), append(tc.movie, "--out", frames)...)
			if code, _, stderr := run(args...); code != 0 {
				t.Fatalf("movie: exit %d: %s", code, stderr)
			}
			args = append(append([]string{"figure"}, common...), append(tc.figure, "--out", fig)...)
			if code, _, stderr := run(args...); code != 0 {
				t.Fatalf("figure: exit %d: %s", code, stderr)
			}
			got := readPNG(t, filepath.Join(frames, fmt.Sprintf("frame_%05d.png", tc.frame)))
			want := readPNG(t, fig)
			if got.Bounds() != want.Bounds() {
				t.Fatalf("frame %v, figure %v", got.Bounds(), want.Bounds())
			}
			for i := range got.Pix {
				if got.Pix[i] != want.Pix[i] {
					p := i / 4
					t.Fatalf("frame %d differs from the figure at (%d, %d)", tc.frame, p%got.Rect.Dx(), p/got.Rect.Dx())
				}
			}
		})
	}
}

func TestMovieGIF(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		frames int
		delay  int
		w, h   int
	}{
		{"frames and fps", []string{"--sweep", "xz:y=0..127", "--frames", "6", "--fps", "20", "--size", "200x120"}, 6, 5, 200, 120},
		{"seconds", []string{"--sweep", "yz:x=0..127", "--seconds", "0.2", "--size", "160x90"}, 5, 4, 160, 90},
		{"colour palette", []string{"--zoom", "1..4", "--frames", "3", "--colormap", "viridis", "--size", "160x90"}, 3, 4, 160, 90},
		{"wipe", []string{"--wipe", "--mode", "nearest,linear", "--frames", "4", "--size", "160x90"}, 4, 4, 160, 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".gif")
			args := append([]string{"movie", SampleName, "--mode", "linear", "--out", out}, tc.args...)
			if code, _, stderr := run(args...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			g, err := gif.DecodeAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Image) != tc.frames || g.LoopCount != 0 {
				t.Errorf("%d frames, loop count %d; want %d frames looping forever", len(g.Image), g.LoopCount, tc.frames)
			}
			if g.Config.Width != tc.w || g.Config.Height != tc.h {
				t.Errorf("size %dx%d, want %dx%d", g.Config.Width, g.Config.Height, tc.w, tc.h)
			}
			for i, d := range g.Delay {
				if d != tc.delay {
					t.Errorf("frame %d: delay %d, want %d", i, d, tc.delay)
				}
			}
		})
	}
}

func TestMovieUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"sweep syntax", []string{"--sweep", "xz:y=0-127"}, 2, "FROM..TO"},
		{"sweep coordinate", []string{"--sweep", "xz:z=0..10"}, 2, "moves along y"},
		{"sweep out of range", []string{"--sweep", "xz:y=0..128"}, 2, "outside the volume"},
		{"negative sweep", []string{"--sweep", "xy:z=-1..3"}, 2, "outside the volume"},
		{"zoom zero", []string{"--zoom", "0..4"}, 2, "must be positive"},
		{"zoom negative", []string{"--zoom", "-2"}, 2, "must be positive"},
		{"zoom syntax", []string{"--zoom", "big"}, 2, "--zoom"},
		{"view and sweep", []string{"--view", "xy", "--sweep", "xz:y=0..10"}, 2, "different views"},
		{"wipe of three", []string{"--wipe", "--mode", "linear,niiv,nearest"}, 2, "two modes"},
		{"output", []string{"--out", filepath.Join(dir, "m.avi")}, 2, ".mp4"},
		{"fps", []string{"--fps", "0"}, 2, "--fps"},
		{"odd mp4", []string{"--size", "321x180", "--out", filepath.Join(dir, "m.mp4")}, 2, "even"},
		{"niiv without its model", []string{"--mode", "niiv", "--model", filepath.Join(dir, "no-model")}, 1, "needs niiv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"movie", SampleName, "--mode", "linear", "--frames", "2", "--out", filepath.Join(dir, "m.gif")}, tc.args...)
			code, stdout, stderr := run(args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Fatalf("exit %d, %q; want exit %d mentioning %q", code, stderr, tc.code, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed run left %s", entries[0].Name())
			}
		})
	}
}

func TestMovieMP4(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.mp4")
	args := []string{"movie", SampleName, "--mode", "linear", "--frames", "4", "--size", "160x90", "--out", out}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		// Without ffmpeg: a GIF of the same name, or a clear failure.
		code, _, stderr := run(append(args, "--no-fallback")...)
		if code != 1 || !strings.Contains(stderr, "ffmpeg") {
			t.Errorf("--no-fallback: exit %d, %q; want 1 naming ffmpeg", code, stderr)
		}
		code, _, stderr = run(args...)
		if code != 0 || !strings.Contains(stderr, "ffmpeg is not on PATH") {
			t.Fatalf("fallback: exit %d, %q", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "m.gif")); err != nil {
			t.Errorf("no GIF instead: %v", err)
		}
		t.Skip("ffmpeg is not on PATH: the MP4 itself is not tested")
	}
	if code, _, stderr := run(args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[4:8]) != "ftyp" {
		t.Errorf("%s is not an MP4", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files left in the folder, want the movie alone", len(entries))
	}
}
