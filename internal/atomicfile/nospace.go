package atomicfile

import (
	"errors"
	"fmt"
	"syscall"
)

// NoSpaceError reports an output that did not fit: its file system ran
// out of space, or the user's disk quota was reached. Nothing of the
// output is left when it is returned. It matches the system's error
// (errors.Is(err, syscall.ENOSPC)); its message is one line, without the
// file's name, which callers add:
//
//	no space left on device (needs ~1.2 GiB, 310.0 MiB free)
//	no space left on device (only 310.0 MiB free)
//
// the second when the size of the output was not known.
type NoSpaceError struct {
	// Need is the size of the whole output in bytes; 0 when unknown.
	Need int64
	// Wrote is how much had been written when the space ran out.
	Wrote int64
	// Free is the space left to the user on the output's file system once
	// the partial output is removed; -1 when unknown.
	Free int64
	// Err is the system's error (ENOSPC, EDQUOT).
	Err error
}

func (e *NoSpaceError) Error() string {
	msg := "no space left on device"
	if quotaErr != nil && errors.Is(e.Err, quotaErr) {
		msg = "no space left in the disk quota"
	}
	switch {
	case e.Need > 0 && e.Free >= 0:
		return fmt.Sprintf("%s (needs ~%s, %s free)", msg, humanBytes(e.Need), humanBytes(e.Free))
	case e.Need > 0:
		return fmt.Sprintf("%s (needs ~%s)", msg, humanBytes(e.Need))
	case e.Free >= 0:
		// What was written is about what was free: not worth saying.
		return fmt.Sprintf("%s (only %s free)", msg, humanBytes(e.Free))
	case e.Wrote > 0:
		return fmt.Sprintf("%s (full after %s)", msg, humanBytes(e.Wrote))
	}
	return msg
}

func (e *NoSpaceError) Unwrap() error { return e.Err }

// noSpace returns the *NoSpaceError for err, a write to dir's file system
// that ran out of space after wrote of need bytes (0: unknown).
func noSpace(err error, dir string, need, wrote int64) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = errno
	} else {
		err = syscall.ENOSPC
	}
	return &NoSpaceError{Need: need, Wrote: wrote, Free: freeSpace(dir), Err: err}
}

// humanBytes formats a byte count as "1.5 GiB", as volio.HumanBytes does.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
