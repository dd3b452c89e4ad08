package cli

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/viewer"
)

// pngFrames writes frame_00000.png, … into a hidden temporary folder beside
// the output folder and renames it into place at the end.
type pngFrames struct {
	out, tmp string
	n        int
}

func newPNGFrames(out string) (*pngFrames, error) {
	out = filepath.Clean(out)
	if err := checkFramesFolder(out); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", out, err)
	}
	os.Chmod(tmp, 0o755) // a plain folder once in place, not MkdirTemp's 0700
	return &pngFrames{out: out, tmp: tmp}, nil
}

// checkFramesFolder accepts a folder that does not exist or holds only
// frames (an earlier movie, which is replaced).
func checkFramesFolder(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), "frame_") || filepath.Ext(e.Name()) != ".png" {
			return fmt.Errorf("--out %s %w", dir, errNotFrames)
		}
	}
	return nil
}

func (w *pngFrames) add(img *image.RGBA) error {
	name := filepath.Join(w.tmp, fmt.Sprintf("frame_%05d.png", w.n))
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("write frame %d: %w", w.n, err)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("write frame %d: %w", w.n, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write frame %d: %w", w.n, err)
	}
	w.n++
	return nil
}

func (w *pngFrames) finish() error {
	if err := checkFramesFolder(w.out); err != nil {
		return err
	}
	old := ""
	if _, err := os.Stat(w.out); err == nil {
		old = w.tmp + "-old"
		if err := os.Rename(w.out, old); err != nil {
			return fmt.Errorf("--out %s: move the earlier frames aside: %w", w.out, err)
		}
	}
	if err := os.Rename(w.tmp, w.out); err != nil {
		if old != "" {
			os.Rename(old, w.out)
		}
		return fmt.Errorf("--out %s: %w", w.out, err)
	}
	w.tmp = ""
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

func (w *pngFrames) abort() {
	if w.tmp != "" {
		os.RemoveAll(w.tmp)
		w.tmp = ""
	}
}

// grayPalette is the 256 grays, the palette of a movie in the gray colormap.
var grayPalette = func() color.Palette {
	p := make(color.Palette, 256)
	for i := range p {
		p[i] = color.RGBA{uint8(i), uint8(i), uint8(i), 255}
	}
	return p
}()

// gifWriter keeps the frames as paletted images (one byte a pixel) and
// encodes the GIF at the end: one palette for the whole movie, no
// dithering, looping forever.
type gifWriter struct {
	out    string
	pal    color.Palette
	gray   bool
	lut    []uint8 // 15-bit colour → palette index, when not gray
	delay  int
	frames []*image.Paletted
}

// newGIFWriter returns a GIF writer with the palette pal; gray says that
// pal is grayPalette and the frames are gray.
func newGIFWriter(out string, pal color.Palette, gray bool, fps int) (*gifWriter, error) {
	if err := atomicfile.Check(out); err != nil {
		return nil, fmt.Errorf("--out %s: %w", out, err)
	}
	w := &gifWriter{out: out, pal: pal, gray: gray, delay: max(1, int(100/float64(fps)+0.5))}
	if !w.gray {
		w.lut = make([]uint8, 1<<15)
		for c := range w.lut {
			r, g, b := (c>>10)<<3|4, (c>>5&31)<<3|4, (c&31)<<3|4
			w.lut[c] = uint8(pal.Index(color.RGBA{uint8(r), uint8(g), uint8(b), 255}))
		}
	}
	return w, nil
}

func (w *gifWriter) add(img *image.RGBA) error {
	b := img.Bounds()
	p := image.NewPaletted(image.Rect(0, 0, b.Dx(), b.Dy()), w.pal)
	for y := 0; y < b.Dy(); y++ {
		src := img.Pix[(y)*img.Stride : (y)*img.Stride+4*b.Dx()]
		dst := p.Pix[y*p.Stride : y*p.Stride+b.Dx()]
		for x := range dst {
			r, g, bl := int(src[4*x]), int(src[4*x+1]), int(src[4*x+2])
			if w.gray {
				dst[x] = uint8((299*r + 587*g + 114*bl + 500) / 1000)
			} else {
				dst[x] = w.lut[(r>>3)<<10|(g>>3)<<5|bl>>3]
			}
		}
	}
	w.frames = append(w.frames, p)
	return nil
}

func (w *gifWriter) finish() error {
	delays := make([]int, len(w.frames))
	for i := range delays {
		delays[i] = w.delay
	}
	g := &gif.GIF{Image: w.frames, Delay: delays, LoopCount: 0}
	err := atomicfile.Write(w.out, func(f *os.File) error { return gif.EncodeAll(f, g) })
	if err != nil {
		return fmt.Errorf("write %s: %w", w.out, err)
	}
	return nil
}

func (w *gifWriter) abort() { w.frames = nil }

// sampledPalette builds a movie's palette from its first, middle and last
// frames: the 256 most frequent colours (at 5 bits a channel), always with
// white (text) and the view background.
func sampledPalette(ctx context.Context, sc *scene, mts []montage) (color.Palette, error) {
	count := make([]int, 1<<15)
	var sum [1 << 15][3]int
	frames := viewer.NewFrames(sc.methods)
	for _, k := range sampleFrames(len(mts)) {
		img, _, err := sc.render(ctx, frames, mts[k])
		if err != nil {
			return nil, fmt.Errorf("palette from frame %d: %w", k, err)
		}
		for i := 0; i+3 < len(img.Pix); i += 4 {
			r, g, b := int(img.Pix[i]), int(img.Pix[i+1]), int(img.Pix[i+2])
			c := (r>>3)<<10 | (g>>3)<<5 | b>>3
			count[c]++
			sum[c][0] += r
			sum[c][1] += g
			sum[c][2] += b
		}
	}
	idx := make([]int, 0, 1<<15)
	for c, n := range count {
		if n > 0 {
			idx = append(idx, c)
		}
	}
	sort.Slice(idx, func(i, j int) bool { return count[idx[i]] > count[idx[j]] })
	pal := color.Palette{color.RGBA{255, 255, 255, 255}, viewer.Background}
	for _, c := range idx {
		if len(pal) == 256 {
			break
		}
		n := count[c]
		pal = append(pal, color.RGBA{uint8(sum[c][0] / n), uint8(sum[c][1] / n), uint8(sum[c][2] / n), 255})
	}
	return pal, nil
}

// sampleFrames returns the first, middle and last frame of n.
func sampleFrames(n int) []int {
	ks := []int{0}
	if n > 2 {
		ks = append(ks, n/2)
	}
	if n > 1 {
		ks = append(ks, n-1)
	}
	return ks
}

// mp4Writer pipes raw RGBA frames to ffmpeg, which encodes H.264 into a
// temporary file beside the output, renamed into place at the end.
type mp4Writer struct {
	out, tmp string
	cmd      *exec.Cmd
	stdin    interface {
		Write([]byte) (int, error)
		Close() error
	}
	stderr bytes.Buffer
	size   image.Point
}

func newMP4Writer(ctx context.Context, out string, size image.Point, fps int) (*mp4Writer, error) {
	if err := atomicfile.Check(out); err != nil {
		return nil, fmt.Errorf("--out %s: %w", out, err)
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*.mp4")
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", out, err)
	}
	f.Chmod(0o644) // a plain file once in place, not CreateTemp's 0600
	f.Close()
	w := &mp4Writer{out: out, tmp: f.Name(), size: size}
	w.cmd = exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgba", "-s", fmt.Sprintf("%dx%d", size.X, size.Y), "-r", strconv.Itoa(fps), "-i", "-",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", w.tmp)
	w.cmd.Stderr = &w.stderr
	ownProcessGroup(w.cmd)
	stdin, err := w.cmd.StdinPipe()
	if err != nil {
		os.Remove(w.tmp)
		return nil, fmt.Errorf("ffmpeg: %w", err)
	}
	w.stdin = stdin
	if err := w.cmd.Start(); err != nil {
		os.Remove(w.tmp)
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	return w, nil
}

func (w *mp4Writer) add(img *image.RGBA) error {
	b := img.Bounds()
	if b.Dx() != w.size.X || b.Dy() != w.size.Y {
		return fmt.Errorf("frame of %v, want %v", b.Size(), w.size)
	}
	for y := 0; y < b.Dy(); y++ {
		if _, err := w.stdin.Write(img.Pix[y*img.Stride : y*img.Stride+4*b.Dx()]); err != nil {
			// ffmpeg stopped: its stderr is complete (and no longer written
			// by exec's copying goroutine) once Wait returns.
			w.stdin.Close()
			w.cmd.Wait()
			return fmt.Errorf("ffmpeg: %w: %s", err, strings.TrimSpace(w.stderr.String()))
		}
	}
	return nil
}

func (w *mp4Writer) finish() error {
	w.stdin.Close()
	if err := w.cmd.Wait(); err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, strings.TrimSpace(w.stderr.String()))
	}
	if err := os.Rename(w.tmp, w.out); err != nil {
		return fmt.Errorf("--out %s: %w", w.out, err)
	}
	w.tmp = ""
	return nil
}

func (w *mp4Writer) abort() {
	if w.cmd.ProcessState == nil {
		w.stdin.Close()
		w.cmd.Process.Kill()
		w.cmd.Wait()
	}
	if w.tmp != "" {
		os.Remove(w.tmp)
		w.tmp = ""
	}
}
