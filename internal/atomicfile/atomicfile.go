// Package atomicfile writes output files so that they appear only when
// complete: the data goes to a temporary file in the same folder, which is
// synced and renamed over the destination. A failed or cancelled write
// leaves nothing behind and never a partial file.
//
// A new file gets mode 0666 less the umask, as with os.Create; a file that
// is replaced keeps its mode. When the path is a symbolic link, the file it
// points to is written and the link is kept. Errors do not name the
// temporary file and, except for an empty path, not the destination either:
// callers prefix it ("write x.npy: is a directory").
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrEmptyPath is returned for an empty output path.
var ErrEmptyPath = errors.New("empty output path")

// ErrIsDir is returned when the output path is a directory.
var ErrIsDir = errors.New("is a directory")

// maxLinks bounds the chain of symbolic links followed to the real output.
const maxLinks = 40

// Write creates path by calling fill on a temporary file in the same folder
// and renaming it into place when fill succeeds. When path exists and is
// not a regular file (a device such as /dev/null, a named pipe), fill
// writes to it directly.
func Write(path string, fill func(f *os.File) error) error {
	dest, st, err := target(path)
	if err != nil {
		return err
	}
	if st != nil && !st.Mode().IsRegular() {
		return writeDirect(dest, fill)
	}
	dir := filepath.Dir(dest)
	tmp, err := createTemp(dir, "."+filepath.Base(dest)+".tmp-")
	if err != nil {
		return folderError(dir, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if st != nil {
		// Keep the mode of the file being replaced, even beyond what the
		// umask allows a new file. Where the file system cannot, the file
		// is still written, with the mode of a new file.
		tmp.Chmod(st.Mode().Perm())
	}
	if err := fill(tmp); err != nil {
		return describe(err, name, dest)
	}
	if err := tmp.Sync(); err != nil {
		return describe(err, name, dest)
	}
	if err := tmp.Close(); err != nil {
		return describe(err, name, dest)
	}
	if err := os.Rename(name, dest); err != nil {
		if st, serr := os.Stat(dest); serr == nil && st.IsDir() {
			return ErrIsDir
		}
		return fmt.Errorf("cannot put the finished file in place: %w", unwrapOS(err))
	}
	ok = true
	return nil
}

// Check reports, before any work is done, whether Write could create path:
// the path is not empty and not a folder, and its folder exists and takes
// new files (a probe file is created there and removed).
func Check(path string) error {
	dest, st, err := target(path)
	if err != nil || (st != nil && !st.Mode().IsRegular()) {
		return err // an error, or a device or pipe, written directly
	}
	dir := filepath.Dir(dest)
	probe, err := createTemp(dir, "."+filepath.Base(dest)+".probe-")
	if err != nil {
		return folderError(dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// target returns the file to write for path (links followed) and its
// FileInfo, nil when it does not exist yet; a folder, an empty path or an
// unreadable folder is an error.
func target(path string) (string, os.FileInfo, error) {
	if path == "" {
		return "", nil, ErrEmptyPath
	}
	dest, err := resolve(path)
	if err != nil {
		return "", nil, err
	}
	st, err := os.Stat(dest)
	switch {
	case err == nil && st.IsDir():
		return "", nil, ErrIsDir
	case err == nil:
		return dest, st, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", nil, folderError(filepath.Dir(dest), err)
	}
	return dest, nil, nil
}

// Resolve returns the file Write writes for path: path itself, or, when it
// is a symbolic link (also a dangling one), the file it leads to.
func Resolve(path string) (string, error) { return resolve(path) }

// resolve follows path through symbolic links, also dangling ones, to the
// file that is to be written.
func resolve(path string) (string, error) {
	p := path
	for i := 0; i < maxLinks; i++ {
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", describe(err, "", "")
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return "", errors.New("too many levels of symbolic links")
}

// createTemp creates a new file named prefix plus a random number in dir
// with mode 0666, so that the umask (and a default ACL) applies as for any
// new file; os.CreateTemp would make it 0600.
func createTemp(dir, prefix string) (*os.File, error) {
	var err error
	for i := 0; i < 100; i++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		var f *os.File
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, err
}

// writeDirect calls fill on an existing file that is not a regular file.
func writeDirect(dest string, fill func(f *os.File) error) error {
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return describe(err, "", "")
	}
	if err := fill(f); err != nil {
		f.Close()
		return describe(err, dest, dest)
	}
	return describe(f.Close(), "", "")
}

// folderError explains why no file could be created in dir.
func folderError(dir string, err error) error {
	err = unwrapOS(err)
	if dir == "." {
		dir = "the current folder"
	} else {
		dir = "folder " + dir
	}
	if errors.Is(err, fs.ErrNotExist) {
		return reason{dir + " does not exist", err}
	}
	return reason{fmt.Sprintf("cannot write in %s: %v", dir, err), err}
}

// reason is an error with its own message that still matches the system
// error it stands for (errors.Is(err, fs.ErrPermission)).
type reason struct {
	msg string
	err error
}

func (r reason) Error() string { return r.msg }
func (r reason) Unwrap() error { return r.err }

// unwrapOS strips the file names from an *os.PathError or *os.LinkError,
// keeping the system's reason ("permission denied").
func unwrapOS(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// describe returns err without the file names that the caller adds itself:
// a bare *os.PathError becomes its reason, and other mentions of the
// temporary file tmp are replaced by the destination dest.
func describe(err error, tmp, dest string) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && err.Error() == pe.Error() && (tmp == "" || pe.Path == tmp) {
		return pe.Err
	}
	if tmp != "" && strings.Contains(err.Error(), tmp) {
		return renamed{err, tmp, dest}
	}
	return err
}

// renamed shows an error with the temporary file's name replaced.
type renamed struct {
	err       error
	tmp, dest string
}

func (r renamed) Error() string { return strings.ReplaceAll(r.err.Error(), r.tmp, r.dest) }
func (r renamed) Unwrap() error { return r.err }

// WritePNG encodes img as a PNG file at path.
func WritePNG(path string, img image.Image) error {
	err := Write(path, func(f *os.File) error {
		w := bufio.NewWriter(f)
		if err := png.Encode(w, img); err != nil {
			return err
		}
		return w.Flush()
	})
	switch {
	case errors.Is(err, ErrEmptyPath):
		return fmt.Errorf("write: %w", err)
	case err != nil:
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
