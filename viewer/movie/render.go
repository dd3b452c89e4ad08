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

// Render renders frames 0…n-1 with workers renderers made by newRenderer,
// a few frames ahead of the writer, and adds them to w in order. done, when
// not nil, is called after frame k is written (from Render's goroutine).
// Render neither finishes nor aborts w; no renderer outlives it.
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
	jobs := make(chan int)
	ahead := make(chan struct{}, 2*workers) // frames rendered and not yet written
	wg.Add(1)
	go func() { // hands out frames in order: each renderer's come in order
		defer wg.Done()
		defer close(jobs)
		for k := range n {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- k:
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
			for k := range jobs {
				img, err := render(ctx, k)
				results[k] <- result{img, err}
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
