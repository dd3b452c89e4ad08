package hdf5

import (
	"fmt"
	"math"
	"strings"

	"github.com/niiv/niiv/volume"
)

// unlimited is a maximum dimension without a limit (H5S_UNLIMITED).
const unlimited = math.MaxUint64

// maxChunkBytes bounds the decoded size of one chunk (HDF5's own limit is
// 4 GiB); tests lower it.
var maxChunkBytes int64 = 1 << 30

// dtype is a fixed-point or floating-point element type as the file
// stores it.
type dtype struct {
	class  int // 0 fixed-point, 1 floating-point
	size   int // bytes
	signed bool
	big    bool // big-endian
}

// classNames names the datatype classes.
var classNames = []string{"integer", "float", "time", "string", "bitfield", "opaque", "compound", "reference", "enum", "variable-length", "array", "complex"}

// String names t as NumPy does ("uint16", "float32"), with the byte order
// when it is big-endian.
func (t dtype) String() string {
	var s string
	switch {
	case t.class == 1:
		s = fmt.Sprintf("float%d", 8*t.size)
	case t.signed:
		s = fmt.Sprintf("int%d", 8*t.size)
	default:
		s = fmt.Sprintf("uint%d", 8*t.size)
	}
	if t.big && t.size > 1 {
		s += " big-endian"
	}
	return s
}

// out returns the volume type t is read as, and a note when the values
// may not all be represented exactly.
func (t dtype) out() (volume.DType, string) {
	if t.class == 1 {
		if t.size == 8 {
			return volume.Float64, ""
		}
		return volume.Float32, ""
	}
	switch t.size {
	case 1:
		if t.signed {
			return volume.Int16, ""
		}
		return volume.Uint8, ""
	case 2:
		if t.signed {
			return volume.Int16, ""
		}
		return volume.Uint16, ""
	case 4:
		return volume.Float32, fmt.Sprintf("%s values are read as float32, exact up to 2^24 = 16777216 in magnitude", t.baseName())
	}
	return volume.Float64, fmt.Sprintf("%s values are read as float64, exact up to 2^53 = 9007199254740992 in magnitude", t.baseName())
}

// baseName is String without the byte order.
func (t dtype) baseName() string {
	u := t
	u.big = false
	return u.String()
}

// datatype decodes a datatype message into a supported element type; name
// describes the type when it is not supported.
func datatype(b []byte) (t dtype, name string, err error) {
	if len(b) < 8 {
		return t, "", corrupt("datatype message: truncated")
	}
	class, version := int(b[0]&0x0f), int(b[0]>>4)
	bits := uint32(b[1]) | uint32(b[2])<<8 | uint32(b[3])<<16
	size := int(uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24)
	if version < 1 || version > 5 {
		return t, "", corrupt("datatype message version %d", version)
	}
	cname := fmt.Sprintf("class %d", class)
	if class < len(classNames) {
		cname = classNames[class]
	}
	if class > 1 {
		return t, cname, unsupported("%s elements are not supported (integer and floating-point elements are)", cname)
	}
	t = dtype{class: class, size: size, big: bits&1 != 0, signed: class == 0 && bits&0x08 != 0}
	if size != 1 && size != 2 && size != 4 && size != 8 {
		return t, fmt.Sprintf("%d-byte %s", size, cname), unsupported("%d-byte %s elements are not supported", size, cname)
	}
	if len(b) < 12 {
		return t, "", corrupt("datatype message: truncated")
	}
	offset := int(b[8]) | int(b[9])<<8
	precision := int(b[10]) | int(b[11])<<8
	if class == 0 {
		if offset != 0 || precision != 8*size {
			return t, fmt.Sprintf("%d-bit %s", precision, t), unsupported("%s elements with %d bits of precision at bit offset %d are not supported (only whole bytes are)", t, precision, offset)
		}
		return t, t.String(), nil
	}
	// Floating point: only the IEEE 754 layouts.
	if t.size == 1 || bits&0x40 != 0 {
		return t, fmt.Sprintf("%d-byte float", size), unsupported("%d-byte floating-point elements in a non-IEEE layout are not supported", size)
	}
	if len(b) < 20 {
		return t, "", corrupt("datatype message: truncated")
	}
	want := map[int][5]int{2: {10, 5, 0, 10, 15}, 4: {23, 8, 0, 23, 127}, 8: {52, 11, 0, 52, 1023}}[size]
	got := [5]int{int(b[12]), int(b[13]), int(b[14]), int(b[15]), int(uint32(b[16]) | uint32(b[17])<<8 | uint32(b[18])<<16 | uint32(b[19])<<24)}
	sign := int(bits >> 8 & 0xff)
	if offset != 0 || precision != 8*size || got != want || sign != 8*size-1 {
		return t, fmt.Sprintf("%d-byte float", size), unsupported("%d-byte floating-point elements in a non-IEEE layout are not supported (exponent at bit %d, %d bits; mantissa at bit %d, %d bits; bias %d)", size, got[0], got[1], got[2], got[3], got[4])
	}
	return t, t.String(), nil
}

// dataspace decodes a dataspace message: the current and maximum
// dimensions (maxDims nil when the message has none; unlimited ones are
// unlimited).
func (f *file) dataspace(b []byte) (dims, maxDims []uint64, err error) {
	d := f.dec(b, "dataspace message")
	version, rank, flags := d.u8(), int(d.u8()), d.u8()
	switch version {
	case 1:
		d.skip(5)
	case 2:
		if typ := d.u8(); typ == 2 {
			return nil, nil, unsupported("the dataset has a null dataspace (no elements)")
		}
	default:
		return nil, nil, corrupt("dataspace message version %d", version)
	}
	if rank > 32 {
		return nil, nil, corrupt("dataspace of rank %d", rank)
	}
	full := uint64(1)<<(8*f.lenSize) - 1
	if f.lenSize == 8 {
		full = math.MaxUint64
	}
	dims = make([]uint64, rank)
	for i := range dims {
		dims[i] = d.length()
	}
	if flags&1 != 0 {
		maxDims = make([]uint64, rank)
		for i := range maxDims {
			if maxDims[i] = d.length(); maxDims[i] == full {
				maxDims[i] = unlimited
			}
		}
	}
	return dims, maxDims, d.check()
}

// layout is a data layout message.
type layout struct {
	version int
	class   int // 0 compact, 1 contiguous, 2 chunked, 3 virtual
	compact []byte
	addr    uint64 // contiguous data, or the chunk index
	size    uint64 // bytes of contiguous data (sizeUnknown in versions 1 and 2)
	chunk   []uint64
	flags   uint8 // version 4 chunk flags
	index   int   // chunk index: 0 v1 B-tree, 1 single chunk, 2 implicit, 3 fixed array, 4 extensible array, 5 v2 B-tree
	// The filtered single chunk's size and filter mask.
	singleSize uint64
	singleMask uint32
}

// sizeUnknown is the size of contiguous data in layout messages that do
// not store it.
const sizeUnknown = math.MaxUint64

// Chunk index types.
const (
	idxBTree1 = iota
	idxSingle
	idxImplicit
	idxFixedArray
	idxExtArray
	idxBTree2
)

// indexNames names the chunk indexes.
var indexNames = []string{"v1 B-tree", "single chunk", "implicit", "fixed array", "extensible array", "v2 B-tree"}

// Layout flags of version 4 chunked layouts.
const (
	layoutDontFilterEdges = 0x01
	layoutSingleFiltered  = 0x02
)

// dataLayout decodes a data layout message for a dataset of rank rank.
func (f *file) dataLayout(b []byte, rank int) (*layout, error) {
	d := f.dec(b, "layout message")
	l := &layout{version: int(d.u8())}
	switch l.version {
	case 1, 2:
		nd := int(d.u8())
		l.class = int(d.u8())
		d.skip(5)
		if l.class != 0 {
			l.addr = d.addr()
		}
		dims := make([]uint64, nd)
		for i := range dims {
			dims[i] = uint64(d.u32())
		}
		switch l.class {
		case 0:
			n := d.u32()
			l.compact = d.bytes(int(n))
		case 1:
			l.size = sizeUnknown
		case 2:
			l.chunk = dims
		}
	case 3, 4:
		l.class = int(d.u8())
		switch l.class {
		case 0:
			n := d.u16()
			l.compact = d.bytes(int(n))
		case 1:
			l.addr = d.addr()
			l.size = d.length()
		case 2:
			if l.version == 3 {
				nd := int(d.u8())
				l.addr = d.addr()
				l.chunk = make([]uint64, nd)
				for i := range l.chunk {
					l.chunk[i] = uint64(d.u32())
				}
				l.index = idxBTree1
				break
			}
			l.flags = d.u8()
			nd := int(d.u8())
			enc := int(d.u8())
			if enc < 1 || enc > 8 {
				return nil, corrupt("layout message: chunk dimensions of %d bytes", enc)
			}
			l.chunk = make([]uint64, nd)
			for i := range l.chunk {
				l.chunk[i] = d.uvar(enc)
			}
			l.index = int(d.u8())
			switch l.index {
			case idxSingle:
				if l.flags&layoutSingleFiltered != 0 {
					l.singleSize = d.length()
					l.singleMask = d.u32()
				}
			case idxImplicit:
			case idxFixedArray:
				d.skip(1)
			case idxExtArray:
				d.skip(5)
			case idxBTree2:
				d.skip(6)
			default:
				return nil, corrupt("layout message: chunk index type %d", l.index)
			}
			l.addr = d.addr()
		case 3:
			return nil, unsupported("virtual datasets (VDS) are not supported")
		default:
			return nil, corrupt("layout message: layout class %d", l.class)
		}
	default:
		return nil, corrupt("layout message version %d", l.version)
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	if l.class == 2 {
		// The chunk dimensions end with the element size in all versions.
		if len(l.chunk) == rank+1 {
			l.chunk = l.chunk[:rank]
		}
		if len(l.chunk) != rank {
			return nil, corrupt("layout message: %d chunk dimensions for a rank-%d dataset", len(l.chunk), rank)
		}
		for _, c := range l.chunk {
			if c == 0 {
				return nil, corrupt("layout message: chunk dimensions %v", l.chunk)
			}
		}
	}
	if l.class > 2 {
		return nil, corrupt("layout message: layout class %d", l.class)
	}
	return l, nil
}

// filter is one filter of a pipeline.
type filter struct {
	id    uint16
	name  string
	flags uint16
	cd    []uint32
}

// Filter IDs.
const (
	filterDeflate    = 1
	filterShuffle    = 2
	filterFletcher32 = 3
	filterLZF        = 32000
	filterBlosc      = 32001
	filterZstd       = 32015
)

// filterNames names the registered filters that are not read.
var filterNames = map[uint16]string{
	4: "szip", 5: "nbit", 6: "scaleoffset", 307: "bzip2",
	32002: "mafisc", 32003: "snappy", 32004: "lz4", 32005: "apax", 32006: "cbf",
	32007: "jpeg-xr", 32008: "bitshuffle", 32009: "spdp", 32010: "lpc-rice",
	32011: "ccsds-123", 32012: "jpeg-ls", 32013: "zfp", 32014: "fpzip", 32016: "b3d",
	32017: "sz", 32018: "fcidecomp", 32019: "jpeg", 32020: "vbz", 32021: "fapec",
	32022: "bitgroom", 32023: "granularbr", 32024: "sz3", 32025: "delta-rice",
	32026: "blosc2", 32027: "flac", 32028: "h5z-spdp", 32029: "zstd-h5z",
}

// String names the filter and its ID.
func (fl filter) String() string {
	switch fl.id {
	case filterDeflate:
		return "deflate"
	case filterShuffle:
		return "shuffle"
	case filterFletcher32:
		return "fletcher32"
	case filterLZF:
		return "lzf"
	case filterBlosc:
		return "blosc"
	case filterZstd:
		return "zstd"
	}
	name := filterNames[fl.id]
	if name == "" {
		name = strings.TrimRight(fl.name, "\x00")
	}
	if name == "" {
		return fmt.Sprintf("id %d", fl.id)
	}
	return fmt.Sprintf("%s (id %d)", name, fl.id)
}

// supported reports whether fl is a filter this package decodes.
func (fl filter) supported() bool {
	switch fl.id {
	case filterDeflate, filterShuffle, filterFletcher32, filterLZF, filterBlosc, filterZstd:
		return true
	}
	return false
}

// pipeline decodes a filter pipeline message.
func (f *file) pipeline(b []byte) ([]filter, error) {
	d := f.dec(b, "filter pipeline message")
	version, n := d.u8(), int(d.u8())
	switch version {
	case 1:
		d.skip(6)
	case 2:
	default:
		return nil, corrupt("filter pipeline message version %d", version)
	}
	if n > 32 {
		return nil, corrupt("filter pipeline of %d filters", n)
	}
	out := make([]filter, 0, n)
	for range n {
		var fl filter
		fl.id = d.u16()
		nameLen := 0
		if version == 1 || fl.id >= 256 {
			nameLen = int(d.u16())
		}
		fl.flags = d.u16()
		ncd := int(d.u16())
		if version == 1 {
			nameLen = (nameLen + 7) &^ 7
		}
		fl.name = string(d.bytes(nameLen))
		if ncd > d.left()/4 {
			return nil, corrupt("filter pipeline message: %d client values in %d bytes", ncd, d.left())
		}
		fl.cd = make([]uint32, ncd)
		for i := range fl.cd {
			fl.cd[i] = d.u32()
		}
		if version == 1 && ncd%2 == 1 {
			d.skip(4)
		}
		if d.err != nil {
			return nil, d.err
		}
		out = append(out, fl)
	}
	return out, d.check()
}

// fillValue decodes a fill value message (new or old) for elements of
// size bytes; nil means zeros.
func fillValue(m *message, size int) ([]byte, error) {
	b := m.data
	if m.typ == msgFillOld {
		if len(b) < 4 {
			return nil, corrupt("fill value message: truncated")
		}
		n := int(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		return fillBytes(b[4:], n, size)
	}
	if len(b) < 2 {
		return nil, corrupt("fill value message: truncated")
	}
	switch b[0] {
	case 1, 2:
		if len(b) < 4 {
			return nil, corrupt("fill value message: truncated")
		}
		defined := b[3] != 0
		if b[0] == 2 && !defined || len(b) < 8 {
			return nil, nil
		}
		n := int(uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24)
		return fillBytes(b[8:], n, size)
	case 3:
		flags := b[1]
		if flags&0x20 == 0 {
			return nil, nil
		}
		if len(b) < 6 {
			return nil, corrupt("fill value message: truncated")
		}
		n := int(uint32(b[2]) | uint32(b[3])<<8 | uint32(b[4])<<16 | uint32(b[5])<<24)
		return fillBytes(b[6:], n, size)
	}
	return nil, corrupt("fill value message version %d", b[0])
}

// fillBytes returns the n-byte fill value in b when it is one element.
func fillBytes(b []byte, n, size int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if n != size || n > len(b) {
		return nil, corrupt("fill value of %d bytes for %d-byte elements", n, size)
	}
	for _, c := range b[:n] {
		if c != 0 {
			return b[:n], nil
		}
	}
	return nil, nil
}

// attribute is a decoded attribute message: its name and, when it is a
// numeric array, its values.
type attribute struct {
	name   string
	values []float64
}

// attributeMessage decodes an attribute message; values stay nil when the
// attribute is not a numeric scalar or 1-D array.
func (f *file) attributeMessage(b []byte) (attribute, error) {
	d := f.dec(b, "attribute message")
	version := d.u8()
	flags := d.u8()
	nameLen, typeLen, spaceLen := int(d.u16()), int(d.u16()), int(d.u16())
	pad := func(n int) int { return n }
	switch version {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		d.skip(1) // name character set
	default:
		return attribute{}, corrupt("attribute message version %d", version)
	}
	name := d.bytes(pad(nameLen))
	tb := d.bytes(pad(typeLen))
	sb := d.bytes(pad(spaceLen))
	if err := d.check(); err != nil {
		return attribute{}, err
	}
	if nameLen > len(name) {
		return attribute{}, corrupt("attribute message: name of %d bytes", nameLen)
	}
	a := attribute{name: strings.TrimRight(string(name[:nameLen]), "\x00")}
	if flags&0x03 != 0 {
		return a, nil // a shared datatype or dataspace: not needed here
	}
	t, _, err := datatype(tb)
	if err != nil {
		return a, nil
	}
	dims, _, err := f.dataspace(sb)
	if err != nil || len(dims) > 1 {
		return a, nil
	}
	n := uint64(1)
	if len(dims) == 1 {
		n = dims[0]
	}
	if n > 64 || int(n)*t.size > d.left() {
		return a, nil
	}
	raw := d.bytes(int(n) * t.size)
	a.values = make([]float64, n)
	for i := range a.values {
		a.values[i] = t.float(raw[i*t.size:])
	}
	return a, nil
}

// attributes returns the attributes of the object o, from its header and
// its dense attribute storage.
func (f *file) attributes(o *object) ([]attribute, error) {
	var out []attribute
	for _, m := range o.msgs {
		if m.typ != msgAttribute {
			continue
		}
		a, err := f.attributeMessage(m.data)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	ai := o.find(msgAttrInfo)
	if ai == nil {
		return out, nil
	}
	d := f.dec(ai.data, "attribute info message")
	if v := d.u8(); v != 0 {
		return nil, corrupt("attribute info message version %d", v)
	}
	if flags := d.u8(); flags&0x01 != 0 {
		d.skip(2)
	}
	heapAddr, names := d.addr(), d.addr()
	if err := d.check(); err != nil {
		return nil, err
	}
	if heapAddr == undef || names == undef {
		return out, nil
	}
	heap, err := f.fractalHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	bt, err := f.btree2(names)
	if err != nil {
		return nil, err
	}
	if bt.typ != 8 {
		return nil, corrupt("v2 B-tree at %d: type %d for attribute names (8 expected)", names, bt.typ)
	}
	err = bt.each(func(rec []byte) error {
		if len(out) >= maxLinks {
			return corrupt("more than %d attributes", maxLinks)
		}
		if len(rec) < 9 {
			return corrupt("v2 B-tree at %d: %d-byte attribute name records", names, len(rec))
		}
		if rec[len(rec)-9]&0x02 != 0 {
			return nil // a shared attribute message
		}
		obj, err := heap.object(rec[:len(rec)-9])
		if err != nil {
			return err
		}
		a, err := f.attributeMessage(obj)
		if err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// float returns the element at the start of b as a float64.
func (t dtype) float(b []byte) float64 {
	var u uint64
	for i := range t.size {
		k := i
		if t.big {
			k = t.size - 1 - i
		}
		u |= uint64(b[k]) << (8 * i)
	}
	switch {
	case t.class == 1 && t.size == 2:
		return float64(halfToFloat(uint16(u)))
	case t.class == 1 && t.size == 4:
		return float64(math.Float32frombits(uint32(u)))
	case t.class == 1:
		return math.Float64frombits(u)
	case t.signed:
		s := 64 - 8*uint(t.size)
		return float64(int64(u<<s) >> s)
	}
	return float64(u)
}

// halfToFloat converts an IEEE 754 half-precision value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalize
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
