package movie

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"sync"
)

// FrameFunc renders frame k. Each renderer of Render has its own FrameFunc
// (its own decode state) and is given frames in increasing order.
type FrameFunc func(ctx context.Context, k int) (*image.RGBA, error)

// Workers is the number of frames rendered at once by default.
func Workers() int { return max(1, min(4, runtime.GOMAXPROCS(0))) }

// Run is the number of consecutive frames one renderer renders in a row:
// frames of a slow sweep that show the same plane (a 10 s sweep of 128
// planes at 25 frames/s shows each twice) then come from one renderer,
// whose cache decodes the plane once.
const Run = 4

// Render renders frames 0…n-1 with workers renderers made by newRenderer,
// a few frames ahead of the writer, and adds them to w in order. Each
// renderer takes Run consecutive frames at a time. done, when not nil, is
// called after frame k is written (from Render's goroutine). Render
// neither finishes nor aborts w; no renderer outlives it.
func Render(ctx context.Context, n, workers int, newRenderer func() FrameFunc, w Writer, done func(k int)) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	type result struct {
		img *image.RGBA
		err error
	}
	workers = max(1, workers)
	results := make([]chan result, n)
	for k := range results {
		results[k] = make(chan result, 1)
	}
	jobs := make(chan int)                      // the first frame of a run
	ahead := make(chan struct{}, 2*workers*Run) // frames handed out and not yet written
	wg.Add(1)
	go func() { // hands out runs in order: each renderer's frames come in order
		defer wg.Done()
		defer close(jobs)
		for k0 := 0; k0 < n; k0 += Run {
			for k := k0; k < min(n, k0+Run); k++ {
				select {
				case ahead <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
			select {
			case jobs <- k0:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			render := newRenderer()
			for k0 := range jobs {
				for k := k0; k < min(n, k0+Run); k++ {
					img, err := render(ctx, k)
					results[k] <- result{img, err}
				}
			}
		}()
	}
	for k := range n {
		var r result
		select {
		case r = <-results[k]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("frame %d: %w", k, r.err)
		}
		if err := w.Add(r.img); err != nil {
			if ctx.Err() != nil { // ffmpeg stopped because the movie was cancelled
				return ctx.Err()
			}
			return err
		}
		<-ahead
		if done != nil {
			done(k)
		}
	}
	return ctx.Err()
}

// Write renders frames 0…n-1 (Render) into out, written as kind at fps
// with frames of size: a folder of PNG frames, an MP4 through ffmpeg, or a
// GIF whose palette is GrayPalette when gray says every frame is gray, else
// Palette of the first, middle and last frames. A failed or cancelled
// movie leaves nothing behind. Errors creating the output are wrapped in
// *OutputError.
func Write(ctx context.Context, kind Kind, out string, size image.Point, fps int, gray bool, n, workers int, newRenderer func() FrameFunc, done func(k int)) error {
	var w Writer
	var err error
	switch kind {
	case PNGFrames:
		w, err = NewPNGFrames(out)
	case GIF:
		pal := GrayPalette
		if !gray {
			render := newRenderer()
			var samples []*image.RGBA
			for _, k := range SampleFrames(n) {
				img, err := render(ctx, k)
				if err != nil {
					return fmt.Errorf("palette from frame %d: %w", k, err)
				}
				samples = append(samples, img)
			}
			pal = Palette(samples)
		}
		w, err = NewGIF(out, pal, gray, fps)
	case MP4:
		w, err = NewMP4(ctx, out, size, fps)
	default:
		err = fmt.Errorf("%s: unknown movie kind %d", out, kind)
	}
	if err != nil {
		return &OutputError{err}
	}
	if err := Render(ctx, n, workers, newRenderer, w, done); err != nil {
		w.Abort()
		return err
	}
	if err := w.Finish(); err != nil {
		w.Abort()
		return err
	}
	return nil
}

// OutputError is a failure to create a movie's output (its name, its
// folder, ffmpeg).
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *OutputError) Unwrap() error { return e.Err }
