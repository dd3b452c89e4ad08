package zarr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"strings"

	"github.com/niiv/niiv/io/codec"
)

// NodeV3 is the zarr.json document of a Zarr v3 array or group. Groups
// have only ZarrFormat, NodeType and Attributes.
type NodeV3 struct {
	ZarrFormat int `json:"zarr_format"`
	// NodeType is "array" or "group".
	NodeType string `json:"node_type"`
	Shape    []int  `json:"shape,omitempty"`
	// DataType is "bool", "int8"…"int64", "uint8"…"uint64", "float16",
	// "float32" or "float64" (others are not read).
	DataType string `json:"data_type,omitempty"`
	// ChunkGrid is {"name": "regular", "configuration": RegularGrid}.
	ChunkGrid *NamedConfig `json:"chunk_grid,omitempty"`
	// ChunkKeyEncoding is {"name": "default" or "v2", "configuration":
	// KeyEncoding}.
	ChunkKeyEncoding *NamedConfig `json:"chunk_key_encoding,omitempty"`
	// FillValue is the JSON of the fill value: a number, "NaN",
	// "Infinity", "-Infinity", a "0x…" bit pattern of a float, true or false.
	FillValue json.RawMessage `json:"fill_value,omitempty"`
	// Codecs are applied in order when a chunk is written: transpose,
	// then bytes or sharding_indexed, then blosc, zstd, gzip or crc32c.
	Codecs              []NamedConfig `json:"codecs,omitempty"`
	DimensionNames      []*string     `json:"dimension_names,omitempty"`
	StorageTransformers []NamedConfig `json:"storage_transformers,omitempty"`
	// Attributes are the user attributes; OME-Zarr 0.5 keeps its metadata
	// under "ome".
	Attributes map[string]json.RawMessage `json:"attributes,omitempty"`
}

// NamedConfig is a Zarr v3 extension point: a codec, chunk grid or chunk
// key encoding. A bare JSON string is read as a name without configuration.
type NamedConfig struct {
	Name          string          `json:"name"`
	Configuration json.RawMessage `json:"configuration,omitempty"`
}

// UnmarshalJSON reads {"name": …, "configuration": …} or "name".
func (n *NamedConfig) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*n = NamedConfig{}
		return json.Unmarshal(b, &n.Name)
	}
	type plain NamedConfig
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*n = NamedConfig(p)
	return nil
}

// config decodes the configuration into v; a missing one leaves v as is.
func (n NamedConfig) config(v any) error {
	c := bytes.TrimSpace(n.Configuration)
	if len(c) == 0 || string(c) == "null" {
		return nil
	}
	if err := json.Unmarshal(c, v); err != nil {
		return fmt.Errorf("%s: bad configuration: %w", n.Name, err)
	}
	return nil
}

// RegularGrid is the configuration of the "regular" chunk grid.
type RegularGrid struct {
	ChunkShape []int `json:"chunk_shape"`
}

// KeyEncoding is the configuration of the "default" and "v2" chunk key
// encodings.
type KeyEncoding struct {
	// Separator is "/" or "."; "/" by default for "default", "." for "v2".
	Separator string `json:"separator,omitempty"`
}

// BytesCodec is the configuration of the "bytes" codec.
type BytesCodec struct {
	// Endian is "little" or "big"; it may be left out for 1-byte types.
	Endian string `json:"endian,omitempty"`
}

// TransposeCodec is the configuration of the "transpose" codec: encoded
// axis i is axis Order[i] of the array.
type TransposeCodec struct {
	Order []int `json:"order"`
}

// BloscCodec is the configuration of the "blosc" codec.
type BloscCodec struct {
	Cname     string `json:"cname"`
	Clevel    int    `json:"clevel"`
	Shuffle   string `json:"shuffle"` // "noshuffle", "shuffle" or "bitshuffle"
	Typesize  int    `json:"typesize,omitempty"`
	Blocksize int    `json:"blocksize"`
}

// ZstdCodec is the configuration of the "zstd" codec.
type ZstdCodec struct {
	Level    int  `json:"level"`
	Checksum bool `json:"checksum"`
}

// GzipCodec is the configuration of the "gzip" codec.
type GzipCodec struct {
	Level int `json:"level"`
}

// ShardingCodec is the configuration of the "sharding_indexed" codec: each
// stored chunk (shard) holds inner chunks of ChunkShape, each encoded with
// Codecs, and an index of (offset, nbytes) uint64 pairs, one per inner
// chunk in C order, encoded with IndexCodecs, at its start or end.
type ShardingCodec struct {
	ChunkShape  []int         `json:"chunk_shape"`
	Codecs      []NamedConfig `json:"codecs"`
	IndexCodecs []NamedConfig `json:"index_codecs"`
	// IndexLocation is "start" or "end" (the default).
	IndexLocation string `json:"index_location,omitempty"`
}

// ParseZarrJSON decodes and checks a zarr.json document. Array documents
// are checked in full (shape, data type, chunk grid, key encoding, fill
// value, codecs); groups only for their format and type.
func ParseZarrJSON(data []byte) (*NodeV3, error) {
	var m NodeV3
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not valid zarr.json: %w", err)
	}
	if m.ZarrFormat != 3 {
		return nil, fmt.Errorf("zarr_format is %d, want 3", m.ZarrFormat)
	}
	switch m.NodeType {
	case "group":
	case "array":
		if _, err := m.layout(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("node_type %q is not \"array\" or \"group\"", m.NodeType)
	}
	return &m, nil
}

// v3Layout is what a checked array document says about reading chunks.
type v3Layout struct {
	elem  elemType
	fill  float64
	chunk []int // the stored chunk (shard) shape
	enc   keyEncoding
	chain *codecChain
}

// layout validates an array document.
func (m *NodeV3) layout() (v3Layout, error) {
	var l v3Layout
	if m.Shape == nil {
		return l, errors.New("no shape")
	}
	if m.DataType == "" {
		return l, errors.New("no data_type")
	}
	e, err := parseTypeName(m.DataType)
	if err != nil {
		return l, err
	}
	l.elem = e
	if m.ChunkGrid == nil {
		return l, errors.New("no chunk_grid")
	}
	if m.ChunkGrid.Name != "regular" {
		return l, fmt.Errorf("chunk_grid %q is not supported (only \"regular\" is)", m.ChunkGrid.Name)
	}
	var g RegularGrid
	if err := m.ChunkGrid.config(&g); err != nil {
		return l, fmt.Errorf("chunk_grid %w", err)
	}
	if g.ChunkShape == nil {
		return l, errors.New("chunk_grid has no chunk_shape")
	}
	l.chunk = g.ChunkShape
	if err := checkShapeNamed(m.Shape, g.ChunkShape, e, "shape", "chunk_shape"); err != nil {
		return l, err
	}
	if len(m.DimensionNames) > 0 && len(m.DimensionNames) != len(m.Shape) {
		return l, fmt.Errorf("dimension_names has %d names, shape has %d axes", len(m.DimensionNames), len(m.Shape))
	}
	if l.enc, err = parseKeyEncoding(m.ChunkKeyEncoding); err != nil {
		return l, err
	}
	if len(m.StorageTransformers) > 0 {
		return l, fmt.Errorf("storage transformer %q is not supported", m.StorageTransformers[0].Name)
	}
	if len(bytes.TrimSpace(m.FillValue)) == 0 {
		return l, errors.New("no fill_value")
	}
	if l.fill, err = parseFill(m.FillValue, e); err != nil {
		return l, err
	}
	if l.chain, err = parseChain(m.Codecs, g.ChunkShape, e, true); err != nil {
		return l, err
	}
	return l, nil
}

// keyEncoding turns chunk grid positions into keys.
type keyEncoding struct {
	v2  bool
	sep string
}

func parseKeyEncoding(n *NamedConfig) (keyEncoding, error) {
	if n == nil {
		return keyEncoding{sep: "/"}, nil
	}
	var k keyEncoding
	var c KeyEncoding
	if err := n.config(&c); err != nil {
		return k, fmt.Errorf("chunk_key_encoding %w", err)
	}
	switch n.Name {
	case "default":
		k.sep = "/"
	case "v2":
		k.v2, k.sep = true, "."
	default:
		return k, fmt.Errorf("chunk_key_encoding %q is not supported (\"default\" and \"v2\" are)", n.Name)
	}
	switch c.Separator {
	case "":
	case "/", ".":
		k.sep = c.Separator
	default:
		return k, fmt.Errorf("chunk_key_encoding separator %q is not \"/\" or \".\"", c.Separator)
	}
	return k, nil
}

func (k keyEncoding) key(idx []int) string {
	if k.v2 {
		if len(idx) == 0 {
			return "0"
		}
		return joinInts(idx, k.sep)
	}
	if len(idx) == 0 {
		return "c"
	}
	return "c" + k.sep + joinInts(idx, k.sep)
}

// codecChain is a parsed v3 codec list.
type codecChain struct {
	perm  []int // encoded axis i is axis perm[i] of the chunk
	big   bool  // the bytes codec's endianness
	bb    []bbCodec
	shard *shardSpec // set when the array→bytes codec is sharding_indexed
}

// bbCodec is a bytes→bytes codec.
type bbCodec struct {
	name string
	crc  bool    // crc32c: a 4-byte checksum after the data
	dec  decoder // a compressor
}

// shardSpec is a parsed sharding_indexed configuration.
type shardSpec struct {
	inner    []int // inner chunk shape
	per      []int // inner chunks per shard along each axis
	chain    *codecChain
	index    *codecChain
	count    int // inner chunks per shard
	idxBytes int // the encoded index's size
	atStart  bool
}

// parseChain checks a codec list for chunks of shape chunk and type e.
// Sharding is allowed only at the top level.
func parseChain(codecs []NamedConfig, chunk []int, e elemType, top bool) (*codecChain, error) {
	n := len(chunk)
	c := &codecChain{perm: identity(n)}
	stage := 0 // 0: array→array, 1: after array→bytes
	for _, cd := range codecs {
		switch cd.Name {
		case "transpose":
			if stage != 0 {
				return nil, errors.New("codec transpose comes after the array→bytes codec")
			}
			var t struct {
				Order json.RawMessage `json:"order"`
			}
			if err := cd.config(&t); err != nil {
				return nil, fmt.Errorf("codec %w", err)
			}
			order, err := transposeOrder(t.Order, n)
			if err != nil {
				return nil, err
			}
			p := make([]int, n)
			for i, o := range order {
				p[i] = c.perm[o]
			}
			c.perm = p
		case "bytes":
			if stage != 0 {
				return nil, errors.New("codecs have two array→bytes codecs")
			}
			stage = 1
			var b BytesCodec
			if err := cd.config(&b); err != nil {
				return nil, fmt.Errorf("codec %w", err)
			}
			switch b.Endian {
			case "little":
			case "big":
				c.big = true
			case "":
				if e.size > 1 {
					return nil, fmt.Errorf("codec bytes has no endian for %s", e.typeName())
				}
			default:
				return nil, fmt.Errorf("codec bytes: endian %q is not \"little\" or \"big\"", b.Endian)
			}
		case "sharding_indexed":
			if stage != 0 {
				return nil, errors.New("codecs have two array→bytes codecs")
			}
			stage = 1
			if !top {
				return nil, errors.New("codec sharding_indexed inside a shard is not supported")
			}
			if !isIdentity(c.perm) {
				return nil, errors.New("codec transpose before sharding_indexed is not supported")
			}
			s, err := parseSharding(cd, chunk, e)
			if err != nil {
				return nil, err
			}
			c.shard = s
		case "crc32c":
			if stage == 0 {
				return nil, errors.New("codec crc32c comes before the array→bytes codec")
			}
			c.bb = append(c.bb, bbCodec{name: cd.Name, crc: true})
		case "zstd", "gzip", "blosc", "zlib":
			if stage == 0 {
				return nil, fmt.Errorf("codec %s comes before the array→bytes codec", cd.Name)
			}
			for _, b := range c.bb {
				if !b.crc {
					return nil, fmt.Errorf("codec %s after codec %s: chains of compressors are not supported", cd.Name, b.name)
				}
			}
			var dec decoder
			switch cd.Name {
			case "zstd":
				dec = codec.ZstdDecode
			case "gzip":
				dec = codec.GzipDecode
			case "zlib":
				dec = codec.ZlibDecode
			case "blosc":
				if bloscDecode == nil {
					return nil, errors.New("codec blosc is not supported yet")
				}
				dec = bloscDecode
			}
			c.bb = append(c.bb, bbCodec{name: cd.Name, dec: dec})
		case "":
			return nil, errors.New("a codec has no name")
		default:
			return nil, fmt.Errorf("codec %q is not supported (bytes, transpose, sharding_indexed, blosc, zstd, gzip and crc32c are)", cd.Name)
		}
	}
	if stage == 0 {
		if e.size > 1 {
			return nil, errors.New("codecs have no array→bytes codec (bytes or sharding_indexed)")
		}
	}
	if c.shard != nil && len(c.bb) > 0 {
		return nil, fmt.Errorf("codec %s after sharding_indexed is not supported", c.bb[0].name)
	}
	return c, nil
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// transposeOrder reads a transpose order: a permutation of 0…n-1, or the
// older "C" and "F".
func transposeOrder(raw json.RawMessage, n int) ([]int, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "C":
			return identity(n), nil
		case "F":
			return reversePerm(n), nil
		}
		return nil, fmt.Errorf("codec transpose: order %q is not a permutation", s)
	}
	var order []int
	if err := json.Unmarshal(raw, &order); err != nil {
		return nil, fmt.Errorf("codec transpose: order %.40s is not a list of axes", raw)
	}
	if len(order) != n {
		return nil, fmt.Errorf("codec transpose: order %v has %d axes, the array has %d", intsString(order), len(order), n)
	}
	seen := make([]bool, n)
	for _, o := range order {
		if o < 0 || o >= n || seen[o] {
			return nil, fmt.Errorf("codec transpose: order %v is not a permutation of 0…%d", intsString(order), n-1)
		}
		seen[o] = true
	}
	return order, nil
}

// parseSharding checks a sharding_indexed codec for shards of shape shard.
func parseSharding(cd NamedConfig, shard []int, e elemType) (*shardSpec, error) {
	var c ShardingCodec
	if err := cd.config(&c); err != nil {
		return nil, fmt.Errorf("codec %w", err)
	}
	n := len(shard)
	if len(c.ChunkShape) != n {
		return nil, fmt.Errorf("codec sharding_indexed: chunk_shape %v has %d dimensions, the shard %v has %d", intsString(c.ChunkShape), len(c.ChunkShape), intsString(shard), n)
	}
	s := &shardSpec{inner: c.ChunkShape, per: make([]int, n)}
	count := 1.0
	for i := range n {
		if c.ChunkShape[i] <= 0 || shard[i]%c.ChunkShape[i] != 0 {
			return nil, fmt.Errorf("codec sharding_indexed: chunk_shape %v does not divide the shard %v", intsString(c.ChunkShape), intsString(shard))
		}
		s.per[i] = shard[i] / c.ChunkShape[i]
		count *= float64(s.per[i])
	}
	if count*16 > maxChunkBytes {
		return nil, fmt.Errorf("codec sharding_indexed: %g inner chunks per shard is absurd", count)
	}
	switch c.IndexLocation {
	case "", "end":
	case "start":
		s.atStart = true
	default:
		return nil, fmt.Errorf("codec sharding_indexed: index_location %q is not \"start\" or \"end\"", c.IndexLocation)
	}
	var err error
	if c.Codecs == nil {
		return nil, errors.New("codec sharding_indexed has no codecs")
	}
	if s.chain, err = parseChain(c.Codecs, c.ChunkShape, e, false); err != nil {
		return nil, fmt.Errorf("codec sharding_indexed: %w", err)
	}
	if c.IndexCodecs == nil {
		return nil, errors.New("codec sharding_indexed has no index_codecs")
	}
	u64 := elemType{kind: 'u', size: 8, name: "uint64"}
	if s.index, err = parseChain(c.IndexCodecs, append(append([]int(nil), s.per...), 2), u64, false); err != nil {
		return nil, fmt.Errorf("codec sharding_indexed: index_codecs: %w", err)
	}
	if !isIdentity(s.index.perm) {
		return nil, errors.New("codec sharding_indexed: index_codecs with transpose are not supported")
	}
	s.count = int(count)
	s.idxBytes = s.count * 16
	for _, b := range s.index.bb {
		if !b.crc {
			return nil, fmt.Errorf("codec sharding_indexed: index_codecs: codec %s does not have a fixed size", b.name)
		}
		s.idxBytes += 4
	}
	return s, nil
}

// decodeBytes undoes the bytes→bytes codecs; the result must hold size
// bytes.
func (c *codecChain) decodeBytes(raw []byte, size int) ([]byte, error) {
	// sizes[i] is the size of the input of codec i when encoding: known
	// up to the (only) compressor.
	sizes := make([]int, len(c.bb))
	s := size
	for i, b := range c.bb {
		sizes[i] = s
		if b.crc {
			s += 4
		}
	}
	for i := len(c.bb) - 1; i >= 0; i-- {
		b := c.bb[i]
		if b.crc {
			if len(raw) < 4 {
				return nil, fmt.Errorf("crc32c: %d bytes, too short for a checksum", len(raw))
			}
			body, sum := raw[:len(raw)-4], binary.LittleEndian.Uint32(raw[len(raw)-4:])
			if got := crc32.Checksum(body, crc32c); got != sum {
				return nil, fmt.Errorf("crc32c mismatch: data has %08x, stored %08x", got, sum)
			}
			raw = body
			continue
		}
		var err error
		if raw, err = b.dec(raw, sizes[i]); err != nil {
			return nil, err
		}
	}
	if len(raw) != size {
		return nil, fmt.Errorf("chunk holds %d bytes, want %d", len(raw), size)
	}
	return raw, nil
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// decode turns an encoded chunk of shape into C-order elements.
func (c *codecChain) decode(raw []byte, shape []int, e elemType) (*chunk, error) {
	n := prod(shape)
	raw, err := c.decodeBytes(raw, n*e.size)
	if err != nil {
		return nil, err
	}
	e.big = c.big
	data := decodeElems(raw, e, n)
	if !isIdentity(c.perm) {
		stored := make([]int, len(shape))
		for i, p := range c.perm {
			stored[i] = shape[p]
		}
		data = permuteAny(data, stored, c.perm)
	}
	return &chunk{shape: shape, data: data}, nil
}

// v3Store reads the chunks of an unsharded v3 array.
type v3Store struct {
	dir   string
	chunk []int
	elem  elemType
	enc   keyEncoding
	chain *codecChain
}

func (s *v3Store) key(idx []int) string { return s.enc.key(idx) }

func (s *v3Store) load(_ *Cache, _ string, idx []int) (*chunk, error) {
	raw, err := readChunk(keyPath(s.dir, s.key(idx)))
	if raw == nil || err != nil {
		return nil, err
	}
	return s.chain.decode(raw, s.chunk, s.elem)
}

// shardStore reads the inner chunks of a sharded v3 array: the grid it
// presents is that of the inner chunks.
type shardStore struct {
	dir  string
	elem elemType
	enc  keyEncoding
	spec *shardSpec
}

// shardIndex is a decoded shard index.
type shardIndex struct {
	ent  []uint64 // offset, nbytes per inner chunk, C order
	size int64    // the shard file's size
}

const emptyEntry = math.MaxUint64

// split returns the shard holding inner chunk idx and its position there.
func (s *shardStore) split(idx []int) (shard, inner []int) {
	shard, inner = make([]int, len(idx)), make([]int, len(idx))
	for i, x := range idx {
		shard[i], inner[i] = x/s.spec.per[i], x%s.spec.per[i]
	}
	return shard, inner
}

func (s *shardStore) key(idx []int) string {
	shard, inner := s.split(idx)
	return s.enc.key(shard) + "[" + joinInts(inner, ",") + "]"
}

func (s *shardStore) load(c *Cache, id string, idx []int) (*chunk, error) {
	shard, inner := s.split(idx)
	skey := s.enc.key(shard)
	path := keyPath(s.dir, skey)
	v, err := c.get(id+"\x00"+skey+"\x00index", func() (any, int64, error) {
		ix, err := s.readIndex(path)
		if err != nil || ix == nil {
			return nil, 0, err
		}
		return ix, int64(8*len(ix.ent)) + 64, nil
	})
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	ix := v.(*shardIndex)
	j := 0
	for i, p := range inner {
		j = j*s.spec.per[i] + p
	}
	off, nb := ix.ent[2*j], ix.ent[2*j+1]
	if off == emptyEntry && nb == emptyEntry {
		return nil, nil
	}
	if off > uint64(ix.size) || nb > uint64(ix.size)-off {
		return nil, fmt.Errorf("shard index: inner chunk at offset %d, %d bytes, runs past the end of the %d-byte shard", off, nb, ix.size)
	}
	if nb > maxChunkBytes+1<<20 {
		return nil, fmt.Errorf("shard index: inner chunk of %d bytes is absurd", nb)
	}
	raw, _, err := storeFor(path).readAt(path, int64(off), int64(nb))
	switch {
	case err != nil:
		return nil, err
	case raw == nil:
		return nil, fmt.Errorf("reading %d bytes at %d: %w", nb, off, fs.ErrNotExist)
	case uint64(len(raw)) < nb:
		return nil, fmt.Errorf("reading %d bytes at %d: %w", nb, off, io.ErrUnexpectedEOF)
	}
	return s.spec.chain.decode(raw, s.spec.inner, s.elem)
}

// readIndex reads the index of the shard at path; nil when the shard is
// not stored.
func (s *shardStore) readIndex(path string) (*shardIndex, error) {
	n := int64(s.spec.idxBytes)
	at := int64(-1) // the last n bytes
	if s.spec.atStart {
		at = 0
	}
	raw, size, err := storeFor(path).readAt(path, at, n)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, nil
	}
	if size < 0 {
		return nil, fmt.Errorf("shard index: the size of the shard is unknown")
	}
	if size < n || int64(len(raw)) < n {
		return nil, fmt.Errorf("shard index: the shard has %d bytes, too few for its %d-byte index (truncated?)", size, n)
	}
	count := s.spec.count
	raw, err = s.spec.index.decodeBytes(raw, 16*count)
	if err != nil {
		return nil, fmt.Errorf("shard index: %w", err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if s.spec.index.big {
		bo = binary.BigEndian
	}
	ent := make([]uint64, 2*count)
	for i := range ent {
		ent[i] = bo.Uint64(raw[8*i:])
	}
	return &shardIndex{ent: ent, size: size}, nil
}

// openV3 makes the array of a zarr.json array document.
func openV3(dir string, m *NodeV3, stamp string) (*array, error) {
	l, err := m.layout()
	if err != nil {
		return nil, err
	}
	a := &array{dir: dir, id: stamp, shape: m.Shape, elem: l.elem, fill: l.fill}
	if l.chain.shard != nil {
		a.chunk = l.chain.shard.inner
		a.store = &shardStore{dir: dir, elem: l.elem, enc: l.enc, spec: l.chain.shard}
	} else {
		a.chunk = l.chunk
		a.store = &v3Store{dir: dir, chunk: l.chunk, elem: l.elem, enc: l.enc, chain: l.chain}
	}
	for _, n := range m.DimensionNames {
		if n == nil {
			a.names = nil
			break
		}
		a.names = append(a.names, strings.TrimSpace(*n))
	}
	return a, nil
}
