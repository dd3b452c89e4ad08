package reconstruct

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is wrapped by the errors of calls on a model that is closed or
// closing.
var ErrClosed = errors.New("model closed")

// CloseWait bounds how long Model.Close waits for the calls in progress to
// return. They are cancelled when Close begins (ONNX Runtime runs are
// terminated, decoders stop between rows), so they normally return within
// milliseconds; a call still running after CloseWait keeps the model's
// native resources alive, and the last such call frees them when it
// returns. Nothing is ever freed under a running call.
var CloseWait = 5 * time.Second

// lifetime guards a model's native resources (ONNX Runtime sessions, an
// accelerator's GL objects): every call that uses them holds the lifetime
// (enter … release); close makes new calls fail with ErrClosed, cancels
// the calls in progress, and frees the resources once the last one has
// returned.
type lifetime struct {
	mu      sync.Mutex
	calls   int
	closing bool
	free    func()        // releases the resources; run once, with no call in progress
	idle    chan struct{} // closed once free has run
	// stop is cancelled when closing begins; the calls' contexts follow it.
	stop   context.Context
	cancel context.CancelFunc
}

// init makes stop (under mu).
func (l *lifetime) init() {
	if l.stop == nil {
		l.stop, l.cancel = context.WithCancel(context.Background())
	}
}

// enter holds the lifetime for one call: it returns a context that is
// also cancelled when the model starts closing, and the function that ends
// the call (always call it, once). It fails with an error wrapping
// ErrClosed when the model is closing or closed.
func (l *lifetime) enter(ctx context.Context, name string) (context.Context, func(), error) {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil, nil, &closedError{name}
	}
	l.init()
	l.calls++
	stopping := l.stop
	l.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(stopping, cancel)
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			unhook()
			cancel()
			l.mu.Lock()
			l.calls--
			last := l.closing && l.calls == 0
			l.mu.Unlock()
			if last {
				l.release()
			}
		})
	}, nil
}

// release runs free and marks the lifetime idle (with no call in
// progress, exactly once: by close or by the last call to return).
func (l *lifetime) release() {
	if l.free != nil {
		l.free()
	}
	close(l.idle)
}

// close starts closing (new calls fail, running ones are cancelled), runs
// free as soon as no call is in progress, and waits up to wait for that.
// It reports whether the resources were freed within the wait; later calls
// wait again.
func (l *lifetime) close(free func(), wait time.Duration) bool {
	l.mu.Lock()
	if !l.closing {
		l.closing = true
		l.free = free
		l.idle = make(chan struct{})
		l.init()
		l.cancel()
		if l.calls == 0 {
			l.mu.Unlock()
			l.release()
			return true
		}
	}
	idle := l.idle
	l.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

// inUse returns the number of calls in progress.
func (l *lifetime) inUse() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// closedError says which model was used after Close.
type closedError struct{ name string }

func (e *closedError) Error() string {
	return "reconstruct: model " + e.name + " is closed (it was replaced or the viewer is closing)"
}

func (e *closedError) Unwrap() error { return ErrClosed }
