//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// closeBeforeRename is false where an open file can be renamed: the
// temporary file stays open, and locked, until it is in place.
const closeBeforeRename = false

// openNoBlock keeps the opening of a leftover from waiting on a pipe.
const openNoBlock = syscall.O_NONBLOCK

// quotaErr is the system's error for an exceeded disk quota.
var quotaErr error = unix.EDQUOT

// isNoSpace reports whether err says that the file system, or the user's
// quota on it, is full.
func isNoSpace(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}

// lock takes an exclusive flock on f, waiting for it when wait is set. It
// reports false, without error, when another holds it; an error means the
// file system cannot lock files.
func lock(f *os.File, wait bool) (bool, error) {
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = unix.Flock(int(fd), how)
			if lerr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return false, err
	}
	if lerr == unix.EWOULDBLOCK {
		return false, nil
	}
	return lerr == nil, lerr
}

// freeSpace returns the bytes an unprivileged user may still write on the
// file system of dir, or -1.
func freeSpace(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
