package zarr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/niiv/niiv/io/codec"
)

// N5Attributes is the attributes.json of an N5 dataset or group: the keys
// niiv reads. Dimensions, BlockSize and the resolutions are in N5's order,
// x first.
type N5Attributes struct {
	// N5 is the format version, on the root group: "2.0.0"...
	N5          string         `json:"n5,omitempty"`
	Dimensions  []int          `json:"dimensions,omitempty"`
	BlockSize   []int          `json:"blockSize,omitempty"`
	DataType    string         `json:"dataType,omitempty"`
	Compression *N5Compression `json:"compression,omitempty"`
	// CompressionType is the compression of N5 versions before 1.0:
	// "raw", "gzip"...
	CompressionType string `json:"compressionType,omitempty"`

	// DownsamplingFactors is a dataset's factors relative to the full
	// resolution ([2, 2, 1]) or a group's list of them, one per level.
	DownsamplingFactors json.RawMessage `json:"downsamplingFactors,omitempty"`
	// Scales is a group's list of downsampling factors, one per level
	// (datasets s0, s1, …).
	Scales json.RawMessage `json:"scales,omitempty"`
	// Resolution is the voxel size, with Units or Unit.
	Resolution json.RawMessage `json:"resolution,omitempty"`
	// PixelResolution is {"unit": "um", "dimensions": [x, y, z]}.
	PixelResolution json.RawMessage `json:"pixelResolution,omitempty"`
	Units           json.RawMessage `json:"units,omitempty"`
	Unit            json.RawMessage `json:"unit,omitempty"`
	Multiscales     json.RawMessage `json:"multiscales,omitempty"`
}

// N5Compression is the "compression" of an N5 dataset.
type N5Compression struct {
	// Type is "raw", "gzip", "zstd" or "blosc" (others are not read).
	Type string `json:"type"`
	// Level is the gzip or zstd level.
	Level int `json:"level,omitempty"`
	// UseZlib marks a gzip compression that writes zlib streams.
	UseZlib   bool   `json:"useZlib,omitempty"`
	Cname     string `json:"cname,omitempty"`
	Clevel    int    `json:"clevel,omitempty"`
	Shuffle   int    `json:"shuffle,omitempty"`
	Blocksize int    `json:"blocksize,omitempty"`
}

// IsDataset reports whether the attributes describe a dataset (an array,
// with dimensions) rather than a group. BigDataViewer's setup groups have
// a dataType too.
func (a *N5Attributes) IsDataset() bool { return a.Dimensions != nil }

// ParseN5Attributes decodes an attributes.json; a dataset's is checked in
// full (dimensions, block size, data type, compression).
func ParseN5Attributes(data []byte) (*N5Attributes, error) {
	var a N5Attributes
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("not valid attributes.json: %w", err)
	}
	if a.IsDataset() {
		if _, err := a.layout(); err != nil {
			return nil, err
		}
	}
	return &a, nil
}

// n5Layout is what a dataset's attributes say about its blocks, C order.
type n5Layout struct {
	elem  elemType
	shape []int
	block []int
	comp  decoder // nil for raw
}

func (a *N5Attributes) layout() (n5Layout, error) {
	var l n5Layout
	if a.Dimensions == nil {
		return l, errors.New("dataset has no dimensions")
	}
	if a.BlockSize == nil {
		return l, errors.New("dataset has no blockSize")
	}
	if a.DataType == "" {
		return l, errors.New("dataset has no dataType")
	}
	e, err := parseTypeName(a.DataType)
	if err != nil {
		return l, err
	}
	if e.kind == 'b' || e.kind == 'f' && e.size == 2 {
		return l, fmt.Errorf("dataType %q is not an N5 type", a.DataType)
	}
	e.big = true
	l.elem = e
	if err := checkShapeNamed(a.Dimensions, a.BlockSize, e, "dimensions", "blockSize"); err != nil {
		return l, err
	}
	l.shape, l.block = reversed(a.Dimensions), reversed(a.BlockSize)
	c := a.Compression
	if c == nil {
		c = &N5Compression{Type: a.CompressionType}
		if c.Type == "" {
			c.Type = "raw"
		}
	}
	switch c.Type {
	case "raw":
	case "gzip":
		l.comp = codec.GzipDecode
		if c.UseZlib {
			l.comp = codec.ZlibDecode
		}
	case "zstd":
		l.comp = codec.ZstdDecode
	case "blosc":
		if bloscDecode == nil {
			return l, errors.New("compression blosc is not supported yet")
		}
		l.comp = bloscDecode
	case "":
		return l, errors.New("compression has no type")
	default:
		return l, fmt.Errorf("compression %q is not supported (raw, gzip, zstd and blosc are)", c.Type)
	}
	return l, nil
}

// n5Store reads the blocks of an N5 dataset.
type n5Store struct {
	dir string
	n5Layout
}

// key is the block's path: its grid position, x first.
func (s *n5Store) key(idx []int) string { return joinInts(reversed(idx), "/") }

func (s *n5Store) load(_ *Cache, _ string, idx []int) (*chunk, error) {
	raw, err := readChunk(keyPath(s.dir, s.key(idx)))
	if raw == nil || err != nil {
		return nil, err
	}
	origin := make([]int, len(idx))
	for i, x := range idx {
		origin[i] = x * s.block[i]
	}
	return decodeN5Block(raw, &s.n5Layout, origin)
}

// decodeN5Block decodes a block at origin: a big-endian header (mode,
// number of dimensions, the block's extents x first, and for mode 1 the
// number of elements), then the compressed big-endian elements. A block at
// the far edge of the dataset may be cropped to the dataset.
func decodeN5Block(raw []byte, l *n5Layout, origin []int) (*chunk, error) {
	if len(raw) < 4 {
		return nil, fmt.Errorf("block of %d bytes is too short for its header", len(raw))
	}
	mode := binary.BigEndian.Uint16(raw)
	nd := int(binary.BigEndian.Uint16(raw[2:]))
	switch mode {
	case 0, 1:
	case 2:
		return nil, errors.New("block header: mode 2 (object) blocks are not images")
	default:
		return nil, fmt.Errorf("block header: unknown mode %d", mode)
	}
	if nd != len(l.shape) {
		return nil, fmt.Errorf("block header has %d dimensions, the dataset %d", nd, len(l.shape))
	}
	hdr := 4 + 4*nd
	if mode == 1 {
		hdr += 4
	}
	if len(raw) < hdr {
		return nil, fmt.Errorf("block of %d bytes is too short for its %d-byte header", len(raw), hdr)
	}
	shape := make([]int, nd)
	for i := range nd {
		shape[nd-1-i] = int(binary.BigEndian.Uint32(raw[4+4*i:]))
	}
	for i, h := range shape {
		if h != l.block[i] && h != l.shape[i]-origin[i] {
			return nil, fmt.Errorf("block header says %v (x first), the dataset's blocks are %v (cropped to %v at its edge)", intsString(reversed(shape)), intsString(reversed(l.block)), intsString(reversed(cropped(l, origin))))
		}
	}
	n := prod(shape)
	count := n
	if mode == 1 {
		count = int(binary.BigEndian.Uint32(raw[4+4*nd:]))
		if count < n || count*l.elem.size > maxChunkBytes {
			return nil, fmt.Errorf("block header: %d elements for a %v block", count, intsString(reversed(shape)))
		}
	}
	size := count * l.elem.size
	data := raw[hdr:]
	if l.comp != nil {
		var err error
		if data, err = l.comp(data, size); err != nil {
			return nil, err
		}
	}
	if len(data) != size {
		return nil, fmt.Errorf("block holds %d bytes of data, its header says %d (%d × %s)", len(data), size, count, l.elem.typeName())
	}
	if l.comp == nil {
		data = bytes.Clone(data[:n*l.elem.size])
	}
	return &chunk{shape: shape, data: decodeElems(data, l.elem, n)}, nil
}

// cropped is the extent of the block at origin once cut to the dataset.
func cropped(l *n5Layout, origin []int) []int {
	c := make([]int, len(origin))
	for i := range c {
		c[i] = min(l.block[i], l.shape[i]-origin[i])
	}
	return c
}

// openN5 makes the array of an N5 dataset's attributes.
func openN5(dir string, a *N5Attributes, stamp string) (*array, error) {
	l, err := a.layout()
	if err != nil {
		return nil, err
	}
	return &array{
		dir:   dir,
		id:    stamp,
		shape: l.shape,
		chunk: l.block,
		elem:  l.elem,
		store: &n5Store{dir: dir, n5Layout: l},
	}, nil
}

// n5Resolution reads a voxel size (x first) and its units from attributes:
// pixelResolution {"unit", "dimensions"} or [x, y, z]; resolution with
// units or unit. ok is false when there is none.
func n5Resolution(a *N5Attributes) (res []float64, units []string, ok bool, err error) {
	if len(a.PixelResolution) > 0 && string(a.PixelResolution) != "null" {
		var pr struct {
			Unit       string    `json:"unit"`
			Dimensions []float64 `json:"dimensions"`
		}
		if json.Unmarshal(a.PixelResolution, &pr) == nil && pr.Dimensions != nil {
			return pr.Dimensions, repeatUnit(pr.Unit, len(pr.Dimensions)), true, nil
		}
		if json.Unmarshal(a.PixelResolution, &res) != nil {
			return nil, nil, false, fmt.Errorf("pixelResolution %.60s is not {\"unit\", \"dimensions\"} or a list of sizes", a.PixelResolution)
		}
	} else if len(a.Resolution) > 0 && string(a.Resolution) != "null" {
		if err := json.Unmarshal(a.Resolution, &res); err != nil {
			return nil, nil, false, fmt.Errorf("resolution %.60s is not a list of sizes", a.Resolution)
		}
	} else {
		return nil, nil, false, nil
	}
	var one string
	switch {
	case len(a.Units) > 0 && json.Unmarshal(a.Units, &units) == nil:
		if len(units) != len(res) {
			return nil, nil, false, fmt.Errorf("units %q do not match resolution %v", units, res)
		}
	case len(a.Units) > 0 && json.Unmarshal(a.Units, &one) == nil,
		len(a.Unit) > 0 && json.Unmarshal(a.Unit, &one) == nil:
		units = repeatUnit(one, len(res))
	default:
		units = repeatUnit("", len(res))
	}
	return res, units, true, nil
}

func repeatUnit(u string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = u
	}
	return s
}

// n5Factors reads downsampling factors: one list (x first) for a dataset,
// or, with many true, a list per level.
func n5Factors(raw json.RawMessage, many bool) ([][]float64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if many {
		var f [][]float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("downsampling factors %.60s are not a list of lists", raw)
		}
		return f, nil
	}
	var f []float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("downsamplingFactors %.60s is not a list", raw)
	}
	return [][]float64{f}, nil
}

// isListOfLists reports whether raw JSON starts like [[.
func isListOfLists(raw json.RawMessage) bool {
	s := strings.TrimLeft(string(raw), " \t\r\n")
	if !strings.HasPrefix(s, "[") {
		return false
	}
	return strings.HasPrefix(strings.TrimLeft(s[1:], " \t\r\n"), "[")
}

// n5LevelScale is the voxel size of an N5 dataset (level i of group when
// i >= 0): the resolution (the group's, else the dataset's) times the
// dataset's downsampling factors (its own, else the group's i-th). The
// result is in C order.
func n5LevelScale(ds, group *N5Attributes, i, rank int) (levelScale, error) {
	var ls levelScale
	var res []float64
	var units []string
	var ok bool
	for _, a := range []*N5Attributes{group, ds} {
		if a == nil || ok {
			continue
		}
		var err error
		if res, units, ok, err = n5Resolution(a); err != nil {
			return ls, err
		}
	}
	if !ok {
		return ls, nil
	}
	if len(res) != rank {
		return ls, fmt.Errorf("resolution %v has %d entries, the dataset %d dimensions", res, len(res), rank)
	}
	var f []float64
	if !isListOfLists(ds.DownsamplingFactors) {
		l, err := n5Factors(ds.DownsamplingFactors, false)
		if err != nil {
			return ls, err
		}
		if l != nil {
			f = l[0]
		}
	}
	if f == nil && group != nil && i >= 0 {
		raw := group.Scales
		if len(raw) == 0 {
			raw = group.DownsamplingFactors
		}
		l, err := n5Factors(raw, true)
		if err != nil {
			return ls, err
		}
		if i < len(l) {
			f = l[i]
		}
	}
	scale := append([]float64(nil), res...)
	if f != nil {
		if len(f) != rank {
			return ls, fmt.Errorf("downsampling factors %v have %d entries, the dataset %d dimensions", f, len(f), rank)
		}
		for k := range scale {
			scale[k] *= f[k]
		}
	}
	ls.scale, ls.units = reversedF(scale), reversedS(units)
	return ls, nil
}
