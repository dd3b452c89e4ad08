package volume

import (
	"context"
	"errors"
	"fmt"
)

// ErrPartial is wrapped by the error a Source's Read returns together with
// the voxels when part of the box could not be read (a corrupt chunk of a
// Zarr image, say): the voxels are complete, the unreadable parts hold a
// fill value, and the error names what is missing.
var ErrPartial = errors.New("partly unreadable")

// damageKey is the context key of a damage reporter.
type damageKey struct{}

// WithDamage returns a context under which the plane reads of lazy volumes
// (PlaneCtx, PlaneRect, and the reads of the methods that use them) accept
// partial reads (ErrPartial): the read succeeds with the fill value where
// the data is unreadable, and report receives the error, which names the
// unreadable parts. Without it a partial read is an error, so that no
// command makes a silently wrong picture.
func WithDamage(ctx context.Context, report func(error)) context.Context {
	return context.WithValue(ctx, damageKey{}, report)
}

// partial reports whether err, returned by a Source's Read with the voxels
// m, is a partial read that ctx accepts; if so it passes err to ctx's
// reporter.
func partial(ctx context.Context, m *Volume, err error) bool {
	if m == nil || !errors.Is(err, ErrPartial) {
		return false
	}
	report, ok := ctx.Value(damageKey{}).(func(error))
	if !ok || report == nil {
		return false
	}
	report(err)
	return true
}

// ReadAccepting reads box b of src, accepting a partial read when ctx was
// made by WithDamage (see there).
func ReadAccepting(ctx context.Context, src Source, b Box) (*Volume, error) {
	m, err := src.Read(ctx, b)
	if err != nil {
		if partial(ctx, m, err) {
			return m, nil
		}
		return nil, err
	}
	return m, nil
}

// Damage collects the errors of partial reads for one frame: pass its Add to
// WithDamage. It is safe for concurrent use.
type Damage struct {
	ch chan error
}

// NewDamage returns an empty collector keeping up to a few distinct errors.
func NewDamage() *Damage { return &Damage{ch: make(chan error, 4)} }

// Add records err (dropped when the collector is full).
func (d *Damage) Add(err error) {
	select {
	case d.ch <- err:
	default:
	}
}

// Summary returns "" when nothing was damaged, else the first error and how
// many more reads were partial.
func (d *Damage) Summary() string {
	var first error
	n := 0
	for {
		select {
		case err := <-d.ch:
			if first == nil {
				first = err
			}
			n++
			continue
		default:
		}
		break
	}
	if first == nil {
		return ""
	}
	if n > 1 {
		return fmt.Sprintf("%v (and %d more partial reads)", first, n-1)
	}
	return first.Error()
}
