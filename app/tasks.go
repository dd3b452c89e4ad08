package app

import (
	"context"
	"sync"
	"time"
)

// background tracks the window's goroutines (loading a file or a model,
// exports, screenshots, adaptation, closing a replaced pipeline), so that
// closing the window cancels them and waits for them before the models
// they use are released.
type background struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when n drops to 0 after stop
	ctx    context.Context
	cancel context.CancelFunc
}

func newBackground() *background {
	b := &background{}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Go runs f on a new goroutine with a context that is cancelled when the
// window closes. It reports false, running nothing, once the window is
// closing.
func (b *background) Go(f func(ctx context.Context)) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	b.n++
	b.mu.Unlock()
	go func() {
		defer b.done()
		f(b.ctx)
	}()
	return true
}

func (b *background) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n--
	if b.closed && b.n == 0 {
		close(b.idle)
	}
}

// stop cancels every goroutine, refuses new ones and waits up to wait for
// those running to return; it returns how many still run.
func (b *background) stop(wait time.Duration) int {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		b.idle = make(chan struct{})
		if b.n == 0 {
			close(b.idle)
		}
	}
	idle := b.idle
	b.mu.Unlock()
	b.cancel()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-idle:
		return 0
	case <-t.C:
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.n
	}
}
