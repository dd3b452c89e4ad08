// Package atomicfile writes output files so that they appear only when
// complete: the data goes to a temporary file in the same folder, which is
// synced and renamed over the destination. A failed or cancelled write
// leaves nothing behind and never a partial file.
//
// Temporary files are hidden and named after their destination
// (".out.npy.tmp-123456" for out.npy), and their writer holds a lock on
// them while it writes (flock on Unix). A writer killed outright
// (SIGKILL, a power cut) cannot remove its temporary file; the lock goes
// with the process, and the next write to the same destination removes
// such unlocked leftovers before it starts. Folders written with WriteDir
// work the same way.
//
// When the file system runs out of space (or the user's quota), the write
// stops, its temporary file is removed at once, and the error is a
// *NoSpaceError, which says how much the output needs and how much is
// free and matches syscall.ENOSPC with errors.Is. When the caller gives
// the size of the output to Create, that space is reserved before the
// first byte is written where the system can (Linux's fallocate), so a
// disk that is too full fails at once and is never filled to the brim.
//
// A new file gets mode 0666 less the umask, as with os.Create; a file that
// is replaced keeps its mode. When the path is a symbolic link, the file it
// points to is written and the link is kept. Errors do not name the
// temporary file and, except for an empty path, not the destination either:
// callers prefix it ("write x.npy: is a directory").
package atomicfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ErrEmptyPath is returned for an empty output path.
var ErrEmptyPath = errors.New("empty output path")

// ErrIsDir is returned when the output path is a directory.
var ErrIsDir = errors.New("is a directory")

// errFinished is returned for a File used after Commit or Abort.
var errFinished = errors.New("output file already committed or aborted")

// maxLinks bounds the chain of symbolic links followed to the real output.
const maxLinks = 40

// TestHookWrite, when not nil, is called after every write into a
// temporary file through File.Write or WriteDir, with the temporary file's
// path and the bytes written to the output so far. It exists for
// fault-injection tests, which stop a writer in the middle of its output
// to kill it (see package faulttest); niiv never sets it.
var TestHookWrite func(tmp string, written int64)

// File is an output file being written: a hidden temporary file beside its
// destination, locked while it is written, that Commit puts in place and
// Abort removes. Write errors leave nothing behind: the temporary file is
// removed at the first one. A File is not safe for concurrent use.
type File struct {
	f    *os.File
	tmp  string // the temporary file; "" when writing a device or pipe directly
	dest string // the file that Commit replaces (links followed)
	size int64  // the size announced to Create; 0 when unknown
	n    int64  // bytes written through Write
	err  error  // the first failure; the temporary file is gone once set
	done bool   // committed or aborted
}

// Create starts writing the file path. size, when known (> 0), is the
// number of bytes that will be written: the space is then reserved before
// any is written where the file system allows, so that a disk too full
// fails here, and a *NoSpaceError says how much is needed. When path
// exists and is not a regular file (a device such as /dev/null, a named
// pipe), it is written directly and Commit only closes it.
func Create(path string, size int64) (*File, error) {
	dest, st, err := target(path)
	if err != nil {
		return nil, err
	}
	if st != nil && !st.Mode().IsRegular() {
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return nil, describe(err, "", "")
		}
		return &File{f: f, dest: dest}, nil
	}
	dir := filepath.Dir(dest)
	removeStale(dir, filepath.Base(dest))
	f, err := createTemp(dir, "."+filepath.Base(dest)+tmpMark)
	if err != nil {
		if isNoSpace(err) {
			return nil, noSpace(err, dir, size, 0)
		}
		return nil, folderError(dir, err)
	}
	t := &File{f: f, tmp: f.Name(), dest: dest, size: size}
	if st != nil {
		// Keep the mode of the file being replaced, even beyond what the
		// umask allows a new file. Where the file system cannot, the file
		// is still written, with the mode of a new file.
		f.Chmod(st.Mode().Perm())
	}
	if size > 0 {
		if err := reserve(f, size); err != nil && isNoSpace(err) {
			return nil, t.fail(err)
		}
	}
	return t, nil
}

// Write writes p to the temporary file. After a failure (and then the
// temporary file is gone) it returns the same error again.
func (t *File) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.done {
		return 0, errFinished
	}
	n, err := t.f.Write(p)
	t.n += int64(n)
	if err != nil {
		return n, t.fail(err)
	}
	if TestHookWrite != nil && t.tmp != "" {
		TestHookWrite(t.tmp, t.n)
	}
	return n, nil
}

// Commit syncs the temporary file and renames it over the destination. It
// returns the error of a failed Write, if any, and writes nothing then.
func (t *File) Commit() error {
	if t.err != nil {
		return t.err
	}
	if t.done {
		return errFinished
	}
	if t.tmp == "" { // a device or pipe
		t.done = true
		return describe(t.f.Close(), "", "")
	}
	if t.size > t.n && t.n > 0 {
		// Give back space reserved beyond what was written.
		t.f.Truncate(t.n)
	}
	if err := t.f.Sync(); err != nil {
		return t.fail(err)
	}
	if closeBeforeRename {
		if err := t.f.Close(); err != nil {
			return t.fail(err)
		}
	}
	// Where files are locked, the lock is kept until the file is in
	// place, so that no other writer takes it for a leftover.
	if err := os.Rename(t.tmp, t.dest); err != nil {
		t.Abort()
		if st, serr := os.Stat(t.dest); serr == nil && st.IsDir() {
			return ErrIsDir
		}
		if isNoSpace(err) {
			return noSpace(err, filepath.Dir(t.dest), t.size, t.n)
		}
		return fmt.Errorf("cannot put the finished file in place: %w", unwrapOS(err))
	}
	t.done = true
	if !closeBeforeRename {
		// The data is synced: a late error from close changes nothing.
		t.f.Close()
	}
	return nil
}

// Abort drops the output: the temporary file is closed and removed and
// the destination is left as it was. It does nothing after Commit, so that
// it can be deferred.
func (t *File) Abort() {
	if t.done {
		return
	}
	t.done = true
	t.f.Close()
	if t.tmp != "" {
		os.Remove(t.tmp)
	}
}

// fail records err as the File's failure, removing the temporary file,
// and returns it as the caller sees it: a *NoSpaceError when the disk is
// full, else err without the temporary file's name.
func (t *File) fail(err error) error {
	if t.tmp == "" { // a device: nothing to remove
		t.err = describe(err, t.dest, t.dest)
		return t.err
	}
	wrote := t.n
	if st, serr := t.f.Stat(); serr == nil && st.Size() > wrote {
		wrote = st.Size()
	}
	t.Abort()
	if isNoSpace(err) {
		t.err = noSpace(err, filepath.Dir(t.dest), t.size, wrote)
	} else {
		t.err = describe(err, t.tmp, t.dest)
	}
	return t.err
}

// Write creates path by calling fill on a temporary file in the same folder
// and renaming it into place when fill succeeds. When path exists and is
// not a regular file (a device such as /dev/null, a named pipe), fill
// writes to it directly.
func Write(path string, fill func(f *os.File) error) error {
	t, err := Create(path, 0)
	if err != nil {
		return err
	}
	defer t.Abort()
	if err := fill(t.f); err != nil {
		if t.tmp != "" && isNoSpace(err) {
			return t.fail(err)
		}
		if t.tmp == "" {
			return describe(err, t.dest, t.dest)
		}
		return describe(err, t.tmp, t.dest)
	}
	return t.Commit()
}

// WriteDir creates the folder dir holding files (plain file names and
// their contents) so that it appears only when complete: the files are
// written into a hidden temporary folder beside dir, synced, and the
// folder is renamed to dir. An existing folder dir is replaced: at once
// where the system can swap two folders (Linux), elsewhere by moving it
// aside for the instant of the rename; whether it may be replaced is the
// caller's decision. A ctx cancelled before the rename writes nothing and
// returns ctx's error. The folder that holds dir must exist.
func WriteDir(ctx context.Context, dir string, files map[string][]byte) error {
	if dir == "" {
		return ErrEmptyPath
	}
	dir = filepath.Clean(dir)
	parent, base := filepath.Split(dir)
	parent = filepath.Clean(parent)
	names := make([]string, 0, len(files))
	var need int64
	for name, b := range files {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
			return fmt.Errorf("%q is not a plain file name", name)
		}
		names = append(names, name)
		need += int64(len(b))
	}
	sort.Strings(names)
	exists := false
	if st, err := os.Lstat(dir); err == nil {
		if !st.IsDir() {
			return errors.New("exists and is not a folder")
		}
		exists = true
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	removeStale(parent, base)
	tmp, lock, err := createTempDir(parent, "."+base+tmpMark)
	if err != nil {
		if isNoSpace(err) {
			return noSpace(err, parent, need, 0)
		}
		return folderError(parent, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
		lock.Close()
	}()
	var wrote int64
	fail := func(name string, err error) error {
		if isNoSpace(err) {
			os.RemoveAll(tmp)
			return noSpace(err, parent, need, wrote)
		}
		return fmt.Errorf("%s: %w", name, unwrapOS(err))
	}
	for _, name := range names {
		if err := writeDirFile(filepath.Join(tmp, name), files[name], &wrote); err != nil {
			return fail(name, err)
		}
	}
	if err := lock.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fail(".", err) // folders cannot be synced everywhere
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if exists {
		if err := exchange(tmp, dir); err == nil {
			// tmp now holds the old folder, which the deferred clean-up
			// removes (ok stays false).
			return nil
		}
		aside := tmp + "-old"
		if err := os.Rename(dir, aside); err != nil {
			return fmt.Errorf("cannot move the old folder aside: %w", unwrapOS(err))
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(aside, dir)
			return fmt.Errorf("cannot put the finished folder in place: %w", unwrapOS(err))
		}
		ok = true
		os.RemoveAll(aside)
		return nil
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("cannot put the finished folder in place: %w", unwrapOS(err))
	}
	ok = true
	return nil
}

// writeDirFile writes one file of WriteDir in chunks, adding what it
// writes to *wrote and calling TestHookWrite after each chunk.
func writeDirFile(name string, b []byte, wrote *int64) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	defer f.Close()
	const chunk = 256 << 10
	for len(b) > 0 {
		m := min(len(b), chunk)
		n, err := f.Write(b[:m])
		*wrote += int64(n)
		if err != nil {
			return err
		}
		if TestHookWrite != nil {
			TestHookWrite(name, *wrote)
		}
		b = b[m:]
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
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
	probe, err := createTemp(dir, "."+filepath.Base(dest)+probeMark)
	if err != nil {
		return folderError(dir, err)
	}
	os.Remove(probe.Name())
	probe.Close()
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

// createTemp creates and locks a new file named prefix plus a random
// number in dir with mode 0666, so that the umask (and a default ACL)
// applies as for any new file; os.CreateTemp would make it 0600.
func createTemp(dir, prefix string) (*os.File, error) {
	var err error
	for i := 0; i < 100; i++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		var f *os.File
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if lockNew(f, name) {
			return f, nil
		}
		f.Close() // another writer took it for a leftover and removed it
	}
	return nil, err
}

// createTempDir creates a new folder named prefix plus a random number in
// dir and returns it with an open handle that holds its lock.
func createTempDir(dir, prefix string) (string, *os.File, error) {
	var err error
	for i := 0; i < 100; i++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		err = os.Mkdir(name, 0o777)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		f, err := os.Open(name)
		if err != nil {
			os.Remove(name)
			return "", nil, err
		}
		if lockNew(f, name) {
			return name, f, nil
		}
		f.Close()
	}
	return "", nil, err
}

// lockNew locks the temporary file or folder f just created as name, and
// reports whether it is still there: between its creation and the lock,
// another writer to the same destination may have taken it for a
// leftover and removed it. Where locks are not supported it is not
// locked, and no writer removes anything there.
func lockNew(f *os.File, name string) bool {
	if ok, err := lock(f, true); err != nil || !ok {
		return err != nil
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Lstat(name)
	return err == nil && os.SameFile(st, now)
}

// tmpMark and probeMark follow the destination's name in its temporary
// files' names, before a random number: ".out.npy.tmp-123456".
const (
	tmpMark   = ".tmp-"
	probeMark = ".probe-"
)

// isTemp reports whether name is the name of a temporary file or folder
// of the destination base: "." + base + ".tmp-" and digits, possibly with
// "-old" (a replaced folder moved aside), or a probe of Check.
func isTemp(name, base string) bool {
	rest, ok := strings.CutPrefix(name, "."+base)
	if !ok {
		return false
	}
	if r, ok := strings.CutPrefix(rest, tmpMark); ok {
		rest = strings.TrimSuffix(r, "-old")
	} else if rest, ok = strings.CutPrefix(rest, probeMark); !ok {
		return false
	}
	if rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// removeStale removes the temporary files and folders of the destination
// base in dir that no writer holds any more: those of a writer that was
// killed. Where files cannot be locked, nothing is removed.
func removeStale(dir, base string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		if !isTemp(name, base) {
			continue
		}
		p := filepath.Join(dir, name)
		st, err := os.Lstat(p)
		if err != nil || !(st.Mode().IsRegular() || st.IsDir()) {
			continue
		}
		f, err := os.OpenFile(p, os.O_RDONLY|openNoBlock, 0)
		if err != nil {
			continue
		}
		if ok, err := lock(f, false); err == nil && ok {
			os.RemoveAll(p)
		}
		f.Close()
	}
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
