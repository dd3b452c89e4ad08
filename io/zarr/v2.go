package zarr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/niiv/niiv/io/codec"
)

// ArrayV2 is the .zarray document of a Zarr v2 array.
type ArrayV2 struct {
	ZarrFormat int   `json:"zarr_format"`
	Shape      []int `json:"shape"`
	Chunks     []int `json:"chunks"`
	// DType is a NumPy type string: "<u2", "|u1", ">f4"...
	DType string `json:"dtype"`
	// Compressor is the numcodecs configuration of the compressor
	// ({"id": "zstd", "level": 5}), nil for none.
	Compressor map[string]any `json:"compressor"`
	// FillValue is the JSON of the fill value: a number, null, "NaN",
	// "Infinity", "-Infinity", true or false.
	FillValue json.RawMessage `json:"fill_value"`
	// Order is "C" or "F", the order of the elements in a chunk.
	Order string `json:"order"`
	// Filters are numcodecs configurations applied before the compressor;
	// none are supported for reading.
	Filters []map[string]any `json:"filters"`
	// DimensionSeparator is "." (the default) or "/".
	DimensionSeparator string `json:"dimension_separator,omitempty"`
}

// GroupV2 is the .zgroup document of a Zarr v2 group.
type GroupV2 struct {
	ZarrFormat int `json:"zarr_format"`
}

// ParseArrayV2 decodes and checks a .zarray document.
func ParseArrayV2(data []byte) (*ArrayV2, error) {
	var m ArrayV2
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not valid .zarray JSON: %w", err)
	}
	if _, err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// v2Layout is what a checked .zarray says about reading chunks.
type v2Layout struct {
	elem    elemType
	fill    float64
	fortran bool
	sep     string
	comp    decoder
}

// check validates the document and returns how to read its chunks.
func (m *ArrayV2) check() (v2Layout, error) {
	var l v2Layout
	if m.ZarrFormat != 2 {
		return l, fmt.Errorf("zarr_format is %d, want 2", m.ZarrFormat)
	}
	if m.Shape == nil {
		return l, errors.New("no shape")
	}
	if m.Chunks == nil {
		return l, errors.New("no chunks")
	}
	if m.DType == "" {
		return l, errors.New("no dtype")
	}
	e, err := parseV2DType(m.DType)
	if err != nil {
		return l, err
	}
	l.elem = e
	if err := checkShape(m.Shape, m.Chunks, e); err != nil {
		return l, err
	}
	switch m.Order {
	case "C":
	case "F":
		l.fortran = true
	default:
		return l, fmt.Errorf("order %q is not \"C\" or \"F\"", m.Order)
	}
	switch m.DimensionSeparator {
	case "", ".":
		l.sep = "."
	case "/":
		l.sep = "/"
	default:
		return l, fmt.Errorf("dimension_separator %q is not \".\" or \"/\"", m.DimensionSeparator)
	}
	if len(m.Filters) > 0 {
		ids := make([]string, len(m.Filters))
		for i, f := range m.Filters {
			ids[i], _ = f["id"].(string)
		}
		return l, fmt.Errorf("filters %q are not supported (only arrays without filters are)", ids)
	}
	if l.fill, err = parseFill(m.FillValue, e); err != nil {
		return l, err
	}
	if m.Compressor != nil {
		if l.comp, err = v2Compressor(m.Compressor); err != nil {
			return l, err
		}
	}
	return l, nil
}

// decoder decompresses src, which must decode to exactly size bytes.
type decoder func(src []byte, size int) ([]byte, error)

// v2Compressor returns the decoder of a numcodecs compressor configuration.
func v2Compressor(c map[string]any) (decoder, error) {
	id, _ := c["id"].(string)
	switch id {
	case "zstd":
		return codec.ZstdDecode, nil
	case "gzip":
		return codec.GzipDecode, nil
	case "zlib":
		return codec.ZlibDecode, nil
	case "blosc":
		if bloscDecode == nil {
			return nil, errors.New("compressor blosc is not supported yet")
		}
		return bloscDecode, nil
	case "":
		js, _ := json.Marshal(c)
		return nil, fmt.Errorf("compressor %s has no id", js)
	}
	return nil, fmt.Errorf("compressor %q is not supported (blosc, zstd, gzip and zlib are)", id)
}

// v2Store reads the chunks of a Zarr v2 array.
type v2Store struct {
	dir   string
	chunk []int
	v2Layout
}

func (s *v2Store) key(idx []int) string { return joinInts(idx, s.sep) }

func (s *v2Store) load(_ *Cache, _ string, idx []int) (*chunk, error) {
	raw, err := readChunk(keyPath(s.dir, s.key(idx)))
	if raw == nil || err != nil {
		return nil, err
	}
	n := prod(s.chunk)
	size := n * s.elem.size
	if s.comp != nil {
		if raw, err = s.comp(raw, size); err != nil {
			return nil, err
		}
	}
	if len(raw) != size {
		return nil, fmt.Errorf("chunk holds %d bytes, want %d (%v of %s)", len(raw), size, intsString(s.chunk), s.elem.typeName())
	}
	data := decodeElems(raw, s.elem, n)
	if s.fortran {
		data = permuteAny(data, reversed(s.chunk), reversePerm(len(s.chunk)))
	}
	return &chunk{shape: s.chunk, data: data}, nil
}

// openV2 reads the .zarray in dir.
func openV2(dir string) (*array, error) {
	data, stamp, err := readMeta(dir, ".zarray")
	if err != nil {
		return nil, err
	}
	m, err := ParseArrayV2(data)
	if err != nil {
		return nil, fmt.Errorf(".zarray: %w", err)
	}
	l, _ := m.check()
	return &array{
		dir:   dir,
		id:    stamp,
		shape: m.Shape,
		chunk: m.Chunks,
		elem:  l.elem,
		fill:  l.fill,
		store: &v2Store{dir: dir, chunk: m.Chunks, v2Layout: l},
	}, nil
}

// maxMetaBytes bounds the metadata documents read.
const maxMetaBytes = 64 << 20

// readMeta reads a metadata file of dir and returns it with a cache
// identity: for a local file its absolute path, size and modification
// time; for a URL the URL, its ETag or Last-Modified and a hash.
func readMeta(dir, name string) ([]byte, string, error) {
	st := storeFor(dir)
	data, stamp, err := st.readMeta(st.join(dir, name))
	if err != nil {
		return nil, "", pathErr(name, err)
	}
	return data, stamp, nil
}

// pathErr strips the path from an *fs.PathError so that messages name the
// file once.
func pathErr(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", name, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// readJSON reads an optional JSON metadata file of dir into v; it reports
// false without error when the file does not exist.
func readJSON(dir, name string, v any) (bool, error) {
	st := storeFor(dir)
	data, _, err := st.readMeta(st.join(dir, name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case errors.Is(err, errIsFolder):
		return false, fmt.Errorf("%s is a folder", name)
	case err != nil:
		return false, pathErr(name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s: not valid JSON: %w", name, err)
	}
	return true, nil
}

// exists reports whether dir holds a file called name; an error (a server
// that does not answer) counts as no.
func exists(dir, name string) bool {
	ok, _ := has(dir, name)
	return ok
}

// has reports whether dir holds a file called name, with the error of a
// store that could not tell (never for the local file system).
func has(dir, name string) (bool, error) {
	st := storeFor(dir)
	ok, err := st.isFile(st.join(dir, name))
	if err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	return ok, nil
}

// keyPath is the location of the chunk key (slash-separated) in dir.
func keyPath(dir, key string) string { return storeFor(dir).join(dir, key) }

// cleanKey rejects chunk or level paths that leave their folder.
func cleanKey(p string) (string, error) {
	c := filepath.ToSlash(filepath.Clean(filepath.FromSlash(p)))
	if p == "" || c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.HasPrefix(c, "/") || filepath.IsAbs(p) {
		return "", fmt.Errorf("path %q is not inside the group", p)
	}
	return c, nil
}

// readChunk reads a chunk file: nil and no error when it does not exist,
// errors without a local path (the chunk's key names it; a URL is named).
func readChunk(path string) ([]byte, error) {
	raw, err := storeFor(path).readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, pe.Err
	}
	if err != nil {
		return nil, err
	}
	if raw == nil {
		raw = []byte{}
	}
	return raw, nil
}
