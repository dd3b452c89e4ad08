package bioimage

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/niiv/niiv/reconstruct"
)

func init() { reconstruct.RegisterModelFormat(openModel) }

// IsPackage reports whether ref names a bioimage.io model package: a .zip
// file, or a folder holding rdf.yaml.
func IsPackage(ref string) bool {
	st, err := os.Stat(ref)
	if err != nil {
		return false
	}
	if st.IsDir() {
		_, err := os.Stat(filepath.Join(ref, "rdf.yaml"))
		return err == nil
	}
	return strings.EqualFold(filepath.Ext(ref), ".zip")
}

// Read reads a package into memory: a .zip file or a folder holding
// rdf.yaml. Files larger than MaxFileBytes, together or alone, and names
// that leave the package are refused.
func Read(ref string) (*Package, error) {
	files, err := readFiles(ref)
	if err != nil {
		return nil, fmt.Errorf("bioimage: read %s: %w", ref, err)
	}
	pk, err := Parse(files)
	if err != nil {
		return nil, fmt.Errorf("bioimage: read %s: %w", ref, err)
	}
	return pk, nil
}

func readFiles(ref string) (map[string][]byte, error) {
	st, err := os.Stat(ref)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	var total int64
	add := func(name string, size int64, open func() (io.ReadCloser, error)) error {
		name = path.Clean(strings.ReplaceAll(name, "\\", "/"))
		if !fs.ValidPath(name) {
			return fmt.Errorf("file name %q leaves the package", name)
		}
		if _, dup := files[name]; dup {
			return fmt.Errorf("%s appears twice", name)
		}
		total += size
		if size < 0 || size > MaxFileBytes || total > MaxFileBytes {
			return fmt.Errorf("%s: %d bytes; a package holds at most %d", name, size, MaxFileBytes)
		}
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, size+1))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if int64(len(b)) != size {
			return fmt.Errorf("%s: %d bytes, the archive says %d", name, len(b), size)
		}
		files[name] = b
		return nil
	}
	if st.IsDir() {
		err := filepath.WalkDir(ref, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(ref, p)
			if err != nil {
				return err
			}
			return add(filepath.ToSlash(rel), info.Size(), func() (io.ReadCloser, error) { return os.Open(p) })
		})
		return files, err
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%d bytes; a package holds at most %d", st.Size(), MaxFileBytes)
	}
	b, err := os.ReadFile(ref)
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("not a zip archive: %w", err)
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if f.UncompressedSize64 > MaxFileBytes {
			return nil, fmt.Errorf("%s: %d bytes; a package holds at most %d", f.Name, f.UncompressedSize64, MaxFileBytes)
		}
		if err := add(f.Name, int64(f.UncompressedSize64), f.Open); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// Open reads a package, validates its description (Validate) and runs its
// test inputs through its onnx weights with ONNX Runtime (Check), as a
// bioimage.io consumer does before it uses a model.
func Open(ctx context.Context, ref, library string) (*Package, *Description, *Result, error) {
	pk, err := Read(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := pk.Validate()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bioimage: package %s: %w", ref, err)
	}
	r, err := Check(ctx, pk, d, library)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bioimage: package %s: %w", ref, err)
	}
	return pk, d, r, nil
}

// niivFiles are the files of a niiv model that a package must attach for
// niiv to view with it.
var niivFiles = []string{"card.json", "encoder.onnx", "decoder.onnx"}

// openModel is the reconstruct.ModelFormat of packages: a package niiv
// exported (its niiv model attached) opens as that model once its test
// input reproduces its test output. The model's files are the package's
// attachments.
func openModel(ref string, opt reconstruct.ModelOptions) (fs.FS, string, bool, error) {
	if !IsPackage(ref) {
		return nil, "", false, nil
	}
	pk, _, _, err := Open(context.Background(), ref, opt.Library)
	if err != nil {
		return nil, "", true, err
	}
	// The niiv model is the package's attachments (checked by Validate).
	att := memFS{}
	l, _ := pk.RDF["attachments"].([]any)
	for _, a := range l {
		if m, ok := a.(map[string]any); ok {
			if src, ok := m["source"].(string); ok {
				name := path.Clean(strings.TrimPrefix(src, "./"))
				att[name] = pk.Files[name]
			}
		}
	}
	for _, f := range niivFiles {
		if _, ok := att[f]; !ok {
			return nil, "", true, fmt.Errorf("bioimage: package %s passes its test but holds no niiv model (%s is not attached; niiv needs %s): run it with a bioimage.io consumer instead", ref, f, strings.Join(niivFiles, ", "))
		}
	}
	name := strings.TrimSuffix(filepath.Base(filepath.Clean(ref)), filepath.Ext(ref))
	if !strings.EqualFold(filepath.Ext(ref), ".zip") {
		name = filepath.Base(filepath.Clean(ref))
	}
	return att, name, true, nil
}

// memFS is a read-only file system of files held in memory (flat or with
// folders in their names).
type memFS map[string][]byte

func (m memFS) ReadFile(name string) ([]byte, error) {
	b, ok := m[name]
	if !ok || !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(b), nil
}

func (m memFS) Open(name string) (fs.File, error) {
	b, ok := m[name]
	if !ok || !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{name: path.Base(name), Reader: bytes.NewReader(b), size: int64(len(b))}, nil
}

// ReadDir lists the files at the top of the package.
func (m memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var out []fs.DirEntry
	for n, b := range m {
		if !strings.Contains(n, "/") {
			out = append(out, fs.FileInfoToDirEntry(memInfo{n, int64(len(b))}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{f.name, f.size}, nil }
func (f *memFile) Close() error               { return nil }

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

var (
	_ fs.ReadFileFS = memFS(nil)
	_ fs.ReadDirFS  = memFS(nil)
)
