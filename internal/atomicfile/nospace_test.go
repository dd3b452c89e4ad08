package atomicfile

import (
	"errors"
	"syscall"
	"testing"
)

// TestNoSpaceMessage checks the one-line messages of a full disk, with and
// without the sizes known.
func TestNoSpaceMessage(t *testing.T) {
	for _, c := range []struct {
		e    NoSpaceError
		want string
	}{
		{NoSpaceError{Need: 3 << 30, Wrote: 1 << 30, Free: 12 << 20, Err: syscall.ENOSPC}, "no space left on device (needs ~3.0 GiB, 12.0 MiB free)"},
		{NoSpaceError{Need: 1536, Free: -1, Err: syscall.ENOSPC}, "no space left on device (needs ~1.5 KiB)"},
		{NoSpaceError{Wrote: 5 << 20, Free: 5 << 20, Err: syscall.ENOSPC}, "no space left on device (only 5.0 MiB free)"},
		{NoSpaceError{Wrote: 5 << 20, Free: -1, Err: syscall.ENOSPC}, "no space left on device (full after 5.0 MiB)"},
		{NoSpaceError{Free: -1, Err: syscall.ENOSPC}, "no space left on device"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
		if !errors.Is(&c.e, syscall.ENOSPC) {
			t.Errorf("%q does not match ENOSPC", c.want)
		}
	}
	if quotaErr != nil {
		e := &NoSpaceError{Need: 2048, Free: 0, Err: quotaErr}
		if got, want := e.Error(), "no space left in the disk quota (needs ~2.0 KiB, 0 B free)"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
