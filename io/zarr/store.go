package zarr

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// store is where the files of a Zarr or N5 hierarchy are: a folder of the
// local file system (localStore) or a web server or object store read over
// HTTP(S) (httpStore). Locations are OS paths for the first and absolute
// URLs for the second; the store does the path arithmetic as well, so that
// the readers need not know which one they have.
type store interface {
	// isFile reports whether p is a file; false and no error when it does
	// not exist.
	isFile(p string) (bool, error)
	// readMeta reads the metadata document p, at most maxMetaBytes, and
	// returns it with an identity that changes when the document does, for
	// cache keys. A missing document is an error matching fs.ErrNotExist.
	readMeta(p string) ([]byte, string, error)
	// readFile reads the file p whole (a chunk or an N5 block). A missing
	// file is an error matching fs.ErrNotExist.
	readFile(p string) ([]byte, error)
	// readAt reads n bytes of p from off, or its last n bytes when off is
	// negative, and returns them with the file's size (-1 when unknown).
	// It returns fewer bytes only when the file ends first, and nil data
	// and no error when p does not exist.
	readAt(p string, off, n int64) ([]byte, int64, error)
	// subfolders lists the folders in p; errNoListing where the store
	// cannot list.
	subfolders(p string) ([]string, error)

	// join appends slash-separated keys to the location dir.
	join(dir string, keys ...string) string
	// dir returns the location above p; at the top, p itself.
	dir(p string) string
	// base returns the last element of p.
	base(p string) string
	// rel returns p relative to root, with slashes: "." for root itself,
	// "../…" or an error when p is not inside root.
	rel(root, p string) (string, error)
	// abs returns p as an absolute location.
	abs(p string) string
}

// errNoListing is returned by stores that cannot list folders.
var errNoListing = errors.New("folders cannot be listed over HTTP")

// errIsFolder is returned by readMeta for a folder.
var errIsFolder = errors.New("is a folder")

// IsURL reports whether path is an http:// or https:// URL, which Open
// reads over HTTP.
func IsURL(path string) bool {
	return hasPrefixFold(path, "http://") || hasPrefixFold(path, "https://")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// storeFor returns the store of location p: HTTP for URLs, else the local
// file system.
func storeFor(p string) store {
	if IsURL(p) {
		return defaultHTTP
	}
	return localStore{}
}

// localStore reads the local file system.
type localStore struct{}

func (localStore) isFile(p string) (bool, error) {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir(), nil
}

func (localStore) readMeta(p string) ([]byte, string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, "", err
	}
	if st.IsDir() {
		return nil, "", errIsFolder
	}
	if st.Size() > maxMetaBytes {
		return nil, "", fmt.Errorf("%d bytes is too large for metadata", st.Size())
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	return data, fmt.Sprintf("%s\x00%d\x00%d", abs, st.Size(), st.ModTime().UnixNano()), nil
}

func (localStore) readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func (localStore) readAt(p string, off, n int64) ([]byte, int64, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := st.Size()
	if off < 0 {
		off, n = max(size-n, 0), min(n, size)
	}
	if off >= size {
		return []byte{}, size, nil
	}
	raw := make([]byte, min(n, size-off))
	if _, err := f.ReadAt(raw, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, size, fmt.Errorf("reading %d bytes at %d: %w", n, off, err)
	}
	return raw, size, nil
}

func (localStore) subfolders(p string) ([]string, error) {
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func (localStore) join(dir string, keys ...string) string {
	parts := append([]string{dir}, keys...)
	for i := 1; i < len(parts); i++ {
		parts[i] = filepath.FromSlash(parts[i])
	}
	return filepath.Join(parts...)
}

func (localStore) dir(p string) string  { return filepath.Dir(p) }
func (localStore) base(p string) string { return filepath.Base(p) }

func (localStore) rel(root, p string) (string, error) {
	r, err := filepath.Rel(root, p)
	return filepath.ToSlash(r), err
}

func (localStore) abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
