//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

// reserve does nothing where space cannot be reserved portably: a full
// disk then shows when it is full.
func reserve(f *os.File, size int64) error { return nil }

// exchange is not available: WriteDir moves an old folder aside instead.
func exchange(a, b string) error { return errors.ErrUnsupported }
