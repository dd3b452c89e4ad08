package atomicfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// reserve allocates size bytes for f without changing its size, so that
// a disk without the room fails now with ENOSPC rather than when it is
// full. A file system that cannot reserve space returns another error,
// which callers ignore.
func reserve(f *os.File, size int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Fallocate(int(fd), unix.FALLOC_FL_KEEP_SIZE, 0, size)
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

// exchange swaps the folders a and b in one step (renameat2 with
// RENAME_EXCHANGE); file systems without it return an error.
func exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}
