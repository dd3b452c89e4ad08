//go:build !unix

package atomicfile

import (
	"errors"
	"os"
	"syscall"
)

// closeBeforeRename is true where an open file cannot be renamed
// (Windows).
const closeBeforeRename = true

// openNoBlock is not needed where files are not locked.
const openNoBlock = 0

// quotaErr is nil: quotas report as a full disk.
var quotaErr error

// Windows' errors for a full disk.
const (
	errorHandleDiskFull = syscall.Errno(39)
	errorDiskFull       = syscall.Errno(112)
)

// isNoSpace reports whether err says that the disk is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, errorDiskFull) || errors.Is(err, errorHandleDiskFull)
}

// lock is not supported: temporary files are not locked, and leftovers of
// killed writers are not removed.
func lock(f *os.File, wait bool) (bool, error) { return false, errors.ErrUnsupported }

// freeSpace is unknown here.
func freeSpace(dir string) int64 { return -1 }
