package movie

import (
	"bytes"
	"context"
	"errors"
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

// Kind is how a movie is written.
type Kind int

const (
	// PNGFrames is a folder of frame_00000.png, frame_00001.png, ….
	PNGFrames Kind = iota
	// GIF is an animated GIF looping forever.
	GIF
	// MP4 is H.264 in MP4, encoded by ffmpeg.
	MP4
)

// OutputKind returns how out is to be written: a name ending in / (or an
// existing folder) is a folder of PNG frames, else .gif or .mp4.
func OutputKind(out string) (Kind, error) {
	if strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) {
		return PNGFrames, nil
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return PNGFrames, nil
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".gif":
		return GIF, nil
	case ".mp4":
		return MP4, nil
	}
	return 0, fmt.Errorf("%q: give NAME.mp4, NAME.gif or a folder DIR/ for PNG frames", out)
}

// HaveFFmpeg reports whether ffmpeg, which writes MP4, is on PATH.
func HaveFFmpeg() bool {
	_, err := exec.LookPath("ffmpeg")
	return err == nil
}

// Writer writes a movie's frames, in order, to a temporary output that
// Finish puts in place and Abort removes: a cancelled or failed movie
// leaves nothing behind.
type Writer interface {
	Add(img *image.RGBA) error
	Finish() error
	Abort()
}

// ErrNotFrames is returned for a frames folder that holds other files.
var ErrNotFrames = errors.New("holds files other than frame_*.png; give a new or empty folder")

// pngFrames writes frame_00000.png, … into a hidden temporary folder beside
// the output folder and renames it into place at the end.
type pngFrames struct {
	out, tmp string
	n        int
}

// NewPNGFrames returns a writer of a folder of PNG frames. An existing
// folder of frames (an earlier movie) is replaced; one holding other files
// is refused.
func NewPNGFrames(out string) (Writer, error) {
	out = filepath.Clean(out)
	if err := checkFramesFolder(out); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	os.Chmod(tmp, 0o755) // a plain folder once in place, not MkdirTemp's 0700
	return &pngFrames{out: out, tmp: tmp}, nil
}

// checkFramesFolder accepts a folder that does not exist or holds only
// frames.
func checkFramesFolder(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), "frame_") || filepath.Ext(e.Name()) != ".png" {
			return fmt.Errorf("%s %w", dir, ErrNotFrames)
		}
	}
	return nil
}

func (w *pngFrames) Add(img *image.RGBA) error {
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

func (w *pngFrames) Finish() error {
	if err := checkFramesFolder(w.out); err != nil {
		return err
	}
	old := ""
	if _, err := os.Stat(w.out); err == nil {
		old = w.tmp + "-old"
		if err := os.Rename(w.out, old); err != nil {
			return fmt.Errorf("%s: move the earlier frames aside: %w", w.out, err)
		}
	}
	if err := os.Rename(w.tmp, w.out); err != nil {
		if old != "" {
			os.Rename(old, w.out)
		}
		return fmt.Errorf("%s: %w", w.out, err)
	}
	w.tmp = ""
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

func (w *pngFrames) Abort() {
	if w.tmp != "" {
		os.RemoveAll(w.tmp)
		w.tmp = ""
	}
}

// GrayPalette is the 256 grays, the palette of a movie in the gray colormap.
var GrayPalette = func() color.Palette {
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

// NewGIF returns a GIF writer with the palette pal; gray says that pal is
// GrayPalette and the frames are gray.
func NewGIF(out string, pal color.Palette, gray bool, fps int) (Writer, error) {
	if err := atomicfile.Check(out); err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	w := &gifWriter{out: out, pal: pal, gray: gray, delay: max(1, int(100/float64(max(1, fps))+0.5))}
	if !w.gray {
		w.lut = make([]uint8, 1<<15)
		for c := range w.lut {
			r, g, b := (c>>10)<<3|4, (c>>5&31)<<3|4, (c&31)<<3|4
			w.lut[c] = uint8(pal.Index(color.RGBA{uint8(r), uint8(g), uint8(b), 255}))
		}
	}
	return w, nil
}

func (w *gifWriter) Add(img *image.RGBA) error {
	b := img.Bounds()
	p := image.NewPaletted(image.Rect(0, 0, b.Dx(), b.Dy()), w.pal)
	for y := 0; y < b.Dy(); y++ {
		src := img.Pix[y*img.Stride : y*img.Stride+4*b.Dx()]
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

func (w *gifWriter) Finish() error {
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

func (w *gifWriter) Abort() { w.frames = nil }

// Palette builds a movie's palette from sample frames (SampleFrames): the
// 256 most frequent colours (at 5 bits a channel), always with white
// (text) and the view background.
func Palette(samples []*image.RGBA) color.Palette {
	count := make([]int, 1<<15)
	sum := make([][3]int, 1<<15)
	for _, img := range samples {
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
	return pal
}

// SampleFrames returns the frames a palette is built from: the first,
// middle and last of n.
func SampleFrames(n int) []int {
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

// NewMP4 starts ffmpeg writing an H.264 MP4 of frames of size (even width
// and height) at fps. Cancelling ctx stops ffmpeg.
func NewMP4(ctx context.Context, out string, size image.Point, fps int) (Writer, error) {
	if size.X%2 != 0 || size.Y%2 != 0 || size.X <= 0 || size.Y <= 0 {
		return nil, fmt.Errorf("%s: H.264 needs an even width and height, not %dx%d", out, size.X, size.Y)
	}
	if err := atomicfile.Check(out); err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*.mp4")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	f.Chmod(0o644) // a plain file once in place, not CreateTemp's 0600
	f.Close()
	w := &mp4Writer{out: out, tmp: f.Name(), size: size}
	w.cmd = exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgba", "-s", fmt.Sprintf("%dx%d", size.X, size.Y), "-r", strconv.Itoa(fps), "-i", "-",
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", w.tmp)
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

func (w *mp4Writer) Add(img *image.RGBA) error {
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

func (w *mp4Writer) Finish() error {
	w.stdin.Close()
	if err := w.cmd.Wait(); err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, strings.TrimSpace(w.stderr.String()))
	}
	if err := os.Rename(w.tmp, w.out); err != nil {
		return fmt.Errorf("%s: %w", w.out, err)
	}
	w.tmp = ""
	return nil
}

func (w *mp4Writer) Abort() {
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
