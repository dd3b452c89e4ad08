package viewer

import "sync"

// Owner counts the holders of what a Methods' renderers use (the models
// behind them, with their native sessions): the loader holds it once, and
// everything that renders with the methods beyond a single call — a
// pipeline, an export, a screenshot in the background — holds it too, from
// Retain to Release. The last Release runs the close function, so a model
// replaced in the viewer is closed once nothing renders with it any more,
// and never before. A nil *Owner (methods that own nothing, such as the
// classical ones) is valid: Retain reports true and Release does nothing.
type Owner struct {
	mu    sync.Mutex
	n     int
	close func()
}

// NewOwner returns an Owner held once, by the caller, that runs close when
// the last holder releases it.
func NewOwner(close func()) *Owner { return &Owner{n: 1, close: close} }

// Retain holds o once more. It reports false, holding nothing, when o was
// already released by its last holder (its resources are closed).
func (o *Owner) Retain() bool {
	if o == nil {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == 0 {
		return false
	}
	o.n++
	return true
}

// Release ends one hold; the last one runs the close function (on the
// calling goroutine). Releasing more often than holding does nothing.
func (o *Owner) Release() {
	if o == nil {
		return
	}
	o.mu.Lock()
	if o.n == 0 {
		o.mu.Unlock()
		return
	}
	o.n--
	last := o.n == 0
	o.mu.Unlock()
	if last && o.close != nil {
		o.close()
	}
}

// Holders returns how many holds o has (0 once closed).
func (o *Owner) Holders() int {
	if o == nil {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}
