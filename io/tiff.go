package volio

// TIFF stacks: a reader for multi-page grayscale TIFF and BigTIFF files
// (uncompressed, LZW, Deflate, PackBits; strips or tiles; horizontal and
// floating-point predictors) with ImageJ and OME-XML voxel sizes, and a
// streaming writer of uncompressed ImageJ-flavoured stacks.
//
// Supported sample types and what they become in memory:
//
//	8-bit unsigned   → uint8
//	8-bit signed     → int16 (exact)
//	16-bit unsigned  → uint16
//	16-bit signed    → int16
//	16-bit float     → float32 (exact)
//	32-bit float     → float32
//	32-bit unsigned  → float32 (exact up to 2^24; noted in Info.Detail)
//	32-bit signed    → float32 (exact up to ±2^24; noted in Info.Detail)
//	64-bit float     → float64
//
// Every size read from the file is checked against the file's length and
// against MaxBytes (checkAlloc) before memory is allocated; decoders stop
// after the bytes a strip or tile needs, so compressed data cannot inflate
// memory.

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/image/tiff/lzw"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/volume"
)

// TIFF tags used by the reader and the writer.
const (
	tagNewSubfileType   = 254
	tagImageWidth       = 256
	tagImageLength      = 257
	tagBitsPerSample    = 258
	tagCompression      = 259
	tagPhotometric      = 262
	tagImageDescription = 270
	tagStripOffsets     = 273
	tagSamplesPerPixel  = 277
	tagRowsPerStrip     = 278
	tagStripByteCounts  = 279
	tagXResolution      = 282
	tagYResolution      = 283
	tagResolutionUnit   = 296
	tagPredictor        = 317
	tagTileWidth        = 322
	tagTileLength       = 323
	tagTileOffsets      = 324
	tagTileByteCounts   = 325
	tagSampleFormat     = 339
)

// TIFF field types.
const (
	tByte      = 1
	tASCII     = 2
	tShort     = 3
	tLong      = 4
	tRational  = 5
	tUndefined = 7
	tSRational = 10
	tFloat     = 11
	tDouble    = 12
	tIFD       = 13
	tLong8     = 16
	tIFD8      = 18
)

// tiffTypeSize is the size in bytes of one value of each field type.
var tiffTypeSize = [...]int{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8}

// Values of the Compression, Predictor, PhotometricInterpretation,
// SampleFormat and ResolutionUnit tags.
const (
	compNone       = 1
	compLZW        = 5
	compDeflate    = 8 // Adobe Deflate
	compPackBits   = 32773
	compDeflateOld = 32946

	predNone       = 1
	predHorizontal = 2
	predFloatingPt = 3

	photoWhiteIsZ = 0
	photoBlackIsZ = 1
	photoRGB      = 2
	photoPalette  = 3

	fmtUint  = 1
	fmtInt   = 2
	fmtFloat = 3
	fmtVoid  = 4

	resUnitNone = 1
	resUnitInch = 2
	resUnitCm   = 3
)

// maxTIFFTileSide bounds tile sides and strip widths, so that a row buffer
// never exceeds 8 MiB.
const maxTIFFTileSide = 1 << 20

// compressionName names a Compression tag value for messages.
func compressionName(c int) string {
	switch c {
	case compNone:
		return "uncompressed"
	case compLZW:
		return "LZW"
	case compDeflate, compDeflateOld:
		return "Deflate"
	case compPackBits:
		return "PackBits"
	case 2, 3, 4:
		return "CCITT fax"
	case 6, 7:
		return "JPEG"
	case 34712:
		return "JPEG 2000"
	case 34887:
		return "LERC"
	case 34925:
		return "LZMA"
	case 50000:
		return "Zstandard"
	case 50001:
		return "WebP"
	case 50002:
		return "JPEG XL"
	}
	return fmt.Sprintf("compression %d", c)
}

// tiffError is a problem with a TIFF file's content. It reads as its
// message alone ("page 3: strip 2 offset … beyond end of file") and
// unwraps to ErrFormat.
type tiffError struct{ msg string }

func (e *tiffError) Error() string { return e.msg }
func (e *tiffError) Unwrap() error { return ErrFormat }

// tiffFormatErr builds an ErrFormat error with a one-line message.
func tiffFormatErr(format string, args ...any) error {
	return &tiffError{strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")}
}

// tiffReader reads fields of a TIFF file with bounds checks.
type tiffReader struct {
	r     io.ReaderAt
	size  int64
	order binary.ByteOrder
	big   bool
}

// readAt reads len(p) bytes at off, refusing ranges outside the file.
func (t *tiffReader) readAt(p []byte, off int64, what string) error {
	if off < 0 || off > t.size || int64(len(p)) > t.size-off {
		return tiffFormatErr("%s at offset %d (%d bytes) beyond end of file (size %d)", what, off, len(p), t.size)
	}
	if _, err := t.r.ReadAt(p, off); err != nil && !(err == io.EOF && len(p) == 0) {
		return fmt.Errorf("%s at offset %d: %w", what, off, err)
	}
	return nil
}

// ifdEntry is one raw directory entry: its type, count and the value field
// (the value itself when it fits, else its offset).
type ifdEntry struct {
	typ   uint16
	count uint64
	field [8]byte
}

// valueBytes returns the entry's values as raw bytes, at most max values.
func (t *tiffReader) valueBytes(tag uint16, e ifdEntry, max uint64) ([]byte, error) {
	if int(e.typ) >= len(tiffTypeSize) || tiffTypeSize[e.typ] == 0 {
		return nil, tiffFormatErr("tag %d has unknown type %d", tag, e.typ)
	}
	size := uint64(tiffTypeSize[e.typ])
	if e.count > uint64(t.size) { // every value takes at least one byte
		return nil, tiffFormatErr("tag %d claims %d values, more than the file holds (size %d)", tag, e.count, t.size)
	}
	total := e.count * size
	n := e.count
	if n > max {
		n = max
	}
	inline := uint64(4)
	if t.big {
		inline = 8
	}
	if total <= inline {
		return e.field[:n*size], nil
	}
	var off uint64
	if t.big {
		off = t.order.Uint64(e.field[:])
	} else {
		off = uint64(t.order.Uint32(e.field[:4]))
	}
	if off > uint64(t.size) || total > uint64(t.size)-off {
		return nil, tiffFormatErr("tag %d values at offset %d (%d bytes) beyond end of file (size %d)", tag, off, total, t.size)
	}
	b := make([]byte, n*size)
	if err := t.readAt(b, int64(off), fmt.Sprintf("tag %d values", tag)); err != nil {
		return nil, err
	}
	return b, nil
}

// uints returns up to max values of an integer entry.
func (t *tiffReader) uints(tag uint16, e ifdEntry, max uint64) ([]uint64, error) {
	switch e.typ {
	case tByte, tUndefined, tShort, tLong, tIFD, tLong8, tIFD8:
	default:
		return nil, tiffFormatErr("tag %d has type %d, want an unsigned integer", tag, e.typ)
	}
	b, err := t.valueBytes(tag, e, max)
	if err != nil {
		return nil, err
	}
	size := tiffTypeSize[e.typ]
	out := make([]uint64, len(b)/size)
	for i := range out {
		p := b[i*size:]
		switch size {
		case 1:
			out[i] = uint64(p[0])
		case 2:
			out[i] = uint64(t.order.Uint16(p))
		case 4:
			out[i] = uint64(t.order.Uint32(p))
		default:
			out[i] = t.order.Uint64(p)
		}
	}
	return out, nil
}

// uint returns the first value of an integer entry, or def when absent.
func (t *tiffReader) uint(tags map[uint16]ifdEntry, tag uint16, def uint64) (uint64, error) {
	e, ok := tags[tag]
	if !ok || e.count == 0 {
		return def, nil
	}
	v, err := t.uints(tag, e, 1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// float returns the first value of a rational or floating-point entry, or 0
// when absent or malformed (metadata is advisory).
func (t *tiffReader) float(tags map[uint16]ifdEntry, tag uint16) float64 {
	e, ok := tags[tag]
	if !ok || e.count == 0 {
		return 0
	}
	b, err := t.valueBytes(tag, e, 1)
	if err != nil || len(b) == 0 {
		return 0
	}
	switch e.typ {
	case tRational:
		num, den := t.order.Uint32(b), t.order.Uint32(b[4:])
		if den == 0 {
			return 0
		}
		return float64(num) / float64(den)
	case tSRational:
		num, den := int32(t.order.Uint32(b)), int32(t.order.Uint32(b[4:]))
		if den == 0 {
			return 0
		}
		return float64(num) / float64(den)
	case tFloat:
		return float64(math.Float32frombits(t.order.Uint32(b)))
	case tDouble:
		return math.Float64frombits(t.order.Uint64(b))
	case tShort, tLong:
		v, _ := t.uints(tag, e, 1)
		if len(v) == 1 {
			return float64(v[0])
		}
	}
	return 0
}

// ascii returns a text entry up to its first NUL.
func (t *tiffReader) ascii(tags map[uint16]ifdEntry, tag uint16) (string, error) {
	e, ok := tags[tag]
	if !ok {
		return "", nil
	}
	switch e.typ {
	case tASCII, tByte, tUndefined:
	default:
		return "", nil
	}
	b, err := t.valueBytes(tag, e, e.count)
	if err != nil {
		return "", err
	}
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}

// readIFD reads the directory at off and returns its entries and the offset
// of the next directory.
func (t *tiffReader) readIFD(off int64) (map[uint16]ifdEntry, int64, error) {
	countSize, entrySize, nextSize := 2, 12, 4
	if t.big {
		countSize, entrySize, nextSize = 8, 20, 8
	}
	cb := make([]byte, countSize)
	if err := t.readAt(cb, off, "IFD"); err != nil {
		return nil, 0, err
	}
	var n uint64
	if t.big {
		n = t.order.Uint64(cb)
	} else {
		n = uint64(t.order.Uint16(cb))
	}
	room := (t.size - off - int64(countSize) - int64(nextSize)) / int64(entrySize)
	if n == 0 || room < 0 || n > uint64(room) || n > 1<<16 {
		return nil, 0, tiffFormatErr("IFD at offset %d claims %d entries; the file has room for %d", off, n, max(room, 0))
	}
	b := make([]byte, int(n)*entrySize+nextSize)
	if err := t.readAt(b, off+int64(countSize), "IFD entries"); err != nil {
		return nil, 0, err
	}
	tags := make(map[uint16]ifdEntry, n)
	for i := 0; i < int(n); i++ {
		p := b[i*entrySize:]
		tag := t.order.Uint16(p)
		var e ifdEntry
		e.typ = t.order.Uint16(p[2:])
		if t.big {
			e.count = t.order.Uint64(p[4:])
			copy(e.field[:], p[12:20])
		} else {
			e.count = uint64(t.order.Uint32(p[4:]))
			copy(e.field[:4], p[8:12])
		}
		if _, dup := tags[tag]; !dup {
			tags[tag] = e
		}
	}
	p := b[int(n)*entrySize:]
	var next uint64
	if t.big {
		next = t.order.Uint64(p)
	} else {
		next = uint64(t.order.Uint32(p))
	}
	if next > uint64(t.size) {
		return nil, 0, tiffFormatErr("IFD at offset %d: next IFD offset %d beyond end of file (size %d)", off, next, t.size)
	}
	return tags, int64(next), nil
}

// tiffPage is what the reader keeps of one image directory.
type tiffPage struct {
	width, height int
	bps, format   int // bits per sample; 1 uint, 2 int, 3 float
	compression   int
	predictor     int
	photometric   int
	rowsPerStrip  int
	tileW, tileH  int // 0 for stripped images
	offsets       ifdEntry
	counts        ifdEntry
	hasCounts     bool
}

func (p *tiffPage) tiled() bool { return p.tileW > 0 }

// chunks returns how many strips or tiles hold the page.
func (p *tiffPage) chunks() int {
	if p.tiled() {
		return ceilDiv(p.width, p.tileW) * ceilDiv(p.height, p.tileH)
	}
	return ceilDiv(p.height, p.rowsPerStrip)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// planeBytes returns the uncompressed size of the page's pixels.
func (p *tiffPage) planeBytes() int64 {
	return int64(p.width) * int64(p.height) * int64(p.bps/8)
}

// sampleType returns the in-memory type for a page's samples and a note
// when values are converted.
func sampleType(bps, format int) (volume.DType, string, error) {
	if format == fmtVoid {
		format = fmtUint
	}
	switch {
	case bps == 8 && format == fmtUint:
		return volume.Uint8, "", nil
	case bps == 8 && format == fmtInt:
		return volume.Int16, "int8 samples widened to int16", nil
	case bps == 16 && format == fmtUint:
		return volume.Uint16, "", nil
	case bps == 16 && format == fmtInt:
		return volume.Int16, "", nil
	case bps == 16 && format == fmtFloat:
		return volume.Float32, "float16 samples widened to float32", nil
	case bps == 32 && format == fmtFloat:
		return volume.Float32, "", nil
	case bps == 32 && format == fmtUint:
		return volume.Float32, "uint32 samples converted to float32 (exact up to 16777216)", nil
	case bps == 32 && format == fmtInt:
		return volume.Float32, "int32 samples converted to float32 (exact up to ±16777216)", nil
	case bps == 64 && format == fmtFloat:
		return volume.Float64, "", nil
	}
	kind := map[int]string{fmtUint: "unsigned", fmtInt: "signed", fmtFloat: "float"}[format]
	if kind == "" {
		return 0, "", tiffFormatErr("sample format %d not supported", format)
	}
	return 0, "", tiffFormatErr("%d-bit %s samples not supported (8/16-bit integer, 32-bit integer or 16/32/64-bit float)", bps, kind)
}

// parsePage checks one directory and keeps what the decoder needs.
func (t *tiffReader) parsePage(tags map[uint16]ifdEntry, index int) (tiffPage, error) {
	var p tiffPage
	fail := func(err error) (tiffPage, error) {
		return tiffPage{}, fmt.Errorf("page %d: %w", index, err)
	}
	// get returns a tag's first value; unreadable tags are remembered in
	// bad and absurd values come back as -1.
	var bad error
	get := func(tag uint16, def uint64) int {
		v, err := t.uint(tags, tag, def)
		if err != nil && bad == nil {
			bad = err
		}
		if err != nil || v > math.MaxInt32 {
			return -1
		}
		return int(v)
	}
	if _, ok := tags[tagImageWidth]; !ok {
		return fail(tiffFormatErr("no ImageWidth tag"))
	}
	if _, ok := tags[tagImageLength]; !ok {
		return fail(tiffFormatErr("no ImageLength tag"))
	}
	p.width, p.height = get(tagImageWidth, 0), get(tagImageLength, 0)
	spp := get(tagSamplesPerPixel, 1)
	p.photometric = get(tagPhotometric, photoBlackIsZ)
	p.bps = get(tagBitsPerSample, 1)
	p.format = get(tagSampleFormat, fmtUint)
	p.compression = get(tagCompression, compNone)
	p.predictor = get(tagPredictor, predNone)
	if bad != nil {
		return fail(bad)
	}
	if p.width <= 0 || p.height <= 0 {
		return fail(tiffFormatErr("image size %d×%d is empty or absurd", p.width, p.height))
	}
	switch {
	case p.photometric == photoRGB || spp == 3 || spp == 4:
		return fail(tiffFormatErr("RGB TIFF not supported: convert to grayscale"))
	case p.photometric == photoPalette:
		return fail(tiffFormatErr("palette-colour TIFF not supported: convert to grayscale"))
	case spp != 1:
		return fail(tiffFormatErr("%d samples per pixel not supported: convert to grayscale", spp))
	case p.photometric != photoWhiteIsZ && p.photometric != photoBlackIsZ:
		return fail(tiffFormatErr("photometric interpretation %d not supported: convert to grayscale", p.photometric))
	}
	if _, _, err := sampleType(p.bps, p.format); err != nil {
		return fail(err)
	}
	switch p.compression {
	case compNone, compLZW, compDeflate, compDeflateOld, compPackBits:
	default:
		return fail(tiffFormatErr("%s compression not supported (uncompressed, LZW, Deflate or PackBits)", compressionName(p.compression)))
	}
	if p.compression == compNone || p.compression == compPackBits {
		p.predictor = predNone // libtiff applies predictors only in LZW and Deflate
	}
	switch p.predictor {
	case predNone, predHorizontal:
	case predFloatingPt:
		if p.format != fmtFloat {
			return fail(tiffFormatErr("floating-point predictor on %d-bit integer samples", p.bps))
		}
	default:
		return fail(tiffFormatErr("predictor %d not supported", p.predictor))
	}
	if _, ok := tags[tagTileWidth]; ok {
		p.tileW, p.tileH = get(tagTileWidth, 0), get(tagTileLength, 0)
		if bad != nil {
			return fail(bad)
		}
		if p.tileW <= 0 || p.tileH <= 0 || p.tileW > maxTIFFTileSide || p.tileH > maxTIFFTileSide {
			return fail(tiffFormatErr("tile size %d×%d is empty or absurd", p.tileW, p.tileH))
		}
		e, ok := tags[tagTileOffsets]
		if !ok {
			return fail(tiffFormatErr("tiled image without TileOffsets"))
		}
		p.offsets = e
		p.counts, p.hasCounts = tags[tagTileByteCounts]
	} else {
		if p.width > maxTIFFTileSide {
			return fail(tiffFormatErr("image width %d is absurd", p.width))
		}
		p.rowsPerStrip = get(tagRowsPerStrip, math.MaxInt32)
		if bad != nil {
			return fail(bad)
		}
		if p.rowsPerStrip <= 0 || p.rowsPerStrip > p.height {
			p.rowsPerStrip = p.height
		}
		e, ok := tags[tagStripOffsets]
		if !ok {
			return fail(tiffFormatErr("no StripOffsets tag"))
		}
		p.offsets = e
		p.counts, p.hasCounts = tags[tagStripByteCounts]
	}
	if p.offsets.count < uint64(p.chunks()) {
		return fail(tiffFormatErr("%d %s offsets, need %d", p.offsets.count, p.chunkKind(), p.chunks()))
	}
	if p.hasCounts && p.counts.count < uint64(p.chunks()) {
		return fail(tiffFormatErr("%d %s byte counts, need %d", p.counts.count, p.chunkKind(), p.chunks()))
	}
	if !p.hasCounts && p.compression != compNone && p.chunks() > 1 {
		return fail(tiffFormatErr("compressed image without byte counts"))
	}
	return p, nil
}

func (p *tiffPage) chunkKind() string {
	if p.tiled() {
		return "tile"
	}
	return "strip"
}

// tiffStack is a parsed TIFF: its image pages, shape, type and metadata.
type tiffStack struct {
	t      *tiffReader
	pages  []tiffPage
	shape  volume.Shape
	dtype  volume.DType
	voxel  volume.Voxel
	detail string
	// contiguous is set for ImageJ stacks with one IFD and images=N: page z
	// is page 0 shifted by z*pageBytes.
	contiguous bool
	pageBytes  int64
	// hyper is where each channel's and time point's planes are among
	// pages, set only when parsed for a hyperstack (parseTIFFPages' all).
	hyper *tiffHyper
	// kept lists the file's page index of each of pages when they are not
	// the first len(pages) of the file (the first time point of an
	// OME-TIFF whose time varies faster than z); nil otherwise.
	kept []int
}

// openTIFF parses the header and directories of path. With firstOnly it
// stops after the first image page. With forRead it also refuses, while
// walking, stacks that exceed MaxBytes.
func openTIFF(path string, firstOnly, forRead bool) (*tiffStack, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	s, err := parseTIFF(f, st.Size(), firstOnly, forRead)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return s, f, nil
}

// parseTIFF parses the header and directories of a TIFF file of size bytes
// read through r, as openTIFF describes.
func parseTIFF(r io.ReaderAt, size int64, firstOnly, forRead bool) (*tiffStack, error) {
	return parseTIFFPages(r, size, firstOnly, forRead, false, nil)
}

// parseTIFFPages is parseTIFF that also calls onPage, when not nil, for
// each image page as soon as its directory is parsed (while the bytes near
// that directory are still at hand); an error from onPage ends the walk.
// Pages past the first time point of an ImageJ hyperstack are passed to
// onPage before they are dropped. With all, every page of an ImageJ
// hyperstack or OME-TIFF is kept, channels and time points included, and
// s.hyper says which page holds which plane.
func parseTIFFPages(r io.ReaderAt, size int64, firstOnly, forRead, all bool, onPage func(t *tiffReader, z int, p *tiffPage) error) (*tiffStack, error) {
	t := &tiffReader{r: r, size: size}
	head := make([]byte, 16)
	n, _ := r.ReadAt(head, 0)
	if n < 8 {
		return nil, tiffFormatErr("file too short for a TIFF header (%d bytes)", n)
	}
	switch string(head[:2]) {
	case "II":
		t.order = binary.LittleEndian
	case "MM":
		t.order = binary.BigEndian
	default:
		return nil, tiffFormatErr("not a TIFF file (first bytes % x)", head[:4])
	}
	var first uint64
	switch v := t.order.Uint16(head[2:]); v {
	case 42:
		first = uint64(t.order.Uint32(head[4:]))
	case 43:
		if n < 16 {
			return nil, tiffFormatErr("file too short for a BigTIFF header (%d bytes)", n)
		}
		if t.order.Uint16(head[4:]) != 8 || t.order.Uint16(head[6:]) != 0 {
			return nil, tiffFormatErr("BigTIFF header with offset size %d not supported", t.order.Uint16(head[4:]))
		}
		t.big = true
		first = t.order.Uint64(head[8:])
	default:
		return nil, tiffFormatErr("unknown TIFF version %d", v)
	}
	if first == 0 || first > uint64(size) {
		return nil, tiffFormatErr("first IFD offset %d outside the file (size %d)", first, size)
	}

	s := &tiffStack{t: t}
	var firstTags map[uint16]ifdEntry
	var imageTags map[uint16]ifdEntry
	var firstOK bool
	skipped := 0
	visited := map[int64]int{}
	var noteType string
	for off, i := int64(first), 0; off != 0; i++ {
		if prev, loop := visited[off]; loop {
			return nil, tiffFormatErr("IFD loop: IFD %d points back to IFD %d at offset %d", i-1, prev, off)
		}
		visited[off] = i
		tags, next, err := t.readIFD(off)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", len(s.pages), err)
		}
		if i == 0 {
			firstTags = tags
		}
		sub, err := t.uint(tags, tagNewSubfileType, 0)
		if err == nil && sub&(1|4) != 0 && len(s.pages) > 0 {
			// Reduced-resolution copies and transparency masks are not
			// planes of the stack.
			skipped++
			off = next
			continue
		}
		p, err := t.parsePage(tags, len(s.pages))
		if err != nil {
			return nil, err
		}
		if len(s.pages) == 0 {
			imageTags = tags
			dt, note, err := sampleType(p.bps, p.format)
			if err != nil {
				return nil, fmt.Errorf("page 0: %w", err)
			}
			s.dtype, noteType = dt, note
			firstOK = true
		} else if q := &s.pages[0]; p.width != q.width || p.height != q.height || p.bps != q.bps || p.format != q.format {
			dt, _, _ := sampleType(p.bps, p.format)
			return nil, tiffFormatErr("page %d is %d×%d %v (%d-bit) but page 0 is %d×%d %v (%d-bit): all pages must match",
				len(s.pages), p.width, p.height, dt, p.bps, q.width, q.height, s.dtype, q.bps)
		}
		s.pages = append(s.pages, p)
		if onPage != nil {
			if err := onPage(t, len(s.pages)-1, &p); err != nil {
				return nil, err
			}
		}
		if forRead {
			if err := checkAlloc(volume.Shape{Z: len(s.pages), Y: p.height, X: p.width}, s.dtype); err != nil {
				return nil, err
			}
		}
		if firstOnly {
			break
		}
		off = next
	}
	if !firstOK {
		return nil, tiffFormatErr("no image pages")
	}
	p0 := &s.pages[0]
	s.shape = volume.Shape{Z: len(s.pages), Y: p0.height, X: p0.width}

	desc, _ := t.ascii(firstTags, tagImageDescription)
	ij, isIJ := parseImageJ(desc)
	ome, isOME := parseOME(desc)
	var notes []string
	if all && !firstOnly {
		if err := s.setHyper(firstTags, ij, isIJ, ome, isOME, forRead); err != nil {
			return nil, err
		}
	} else if isIJ && !firstOnly {
		if ij.channels > 1 {
			return nil, tiffFormatErr("ImageJ hyperstack with %d channels: read one channel at a time (niiv: --channel N) or open it as a hyperstack", ij.channels)
		}
		images := ij.images
		if ij.slices > 1 && ij.frames > 1 {
			// A time series of z-stacks (ImageJ orders pages z fastest,
			// then time): the first time point is the volume.
			notes = append(notes, fmt.Sprintf("time point 1 of %d read (ImageJ hyperstack of %d slices × %d frames)", ij.frames, ij.slices, ij.frames))
			images = ij.slices
			if len(s.pages) > 1 {
				if len(s.pages) < ij.slices {
					return nil, tiffFormatErr("ImageJ description says %d slices per time point but the file has %d pages", ij.slices, len(s.pages))
				}
				s.pages = s.pages[:ij.slices]
				s.shape.Z = ij.slices
			}
		}
		if images > 1 && len(s.pages) == 1 {
			if err := s.setContiguous(images, forRead); err != nil {
				return nil, err
			}
		}
	}
	if !all && isOME && !firstOnly && ome.sizeC > 1 {
		return nil, tiffFormatErr("OME-TIFF with %d channels: read one channel at a time (niiv: --channel N) or open it as a hyperstack", ome.sizeC)
	}
	if !all && isOME && !firstOnly && ome.sizeT > 1 {
		// A time series of z-stacks: the first time point is the volume,
		// as for ImageJ hyperstacks.
		if err := s.setHyper(firstTags, ij, false, ome, true, forRead); err != nil {
			return nil, err
		}
		h := s.hyper
		planes := h.planes(0, 0)
		keep := make([]tiffPage, len(planes))
		for i, p := range planes {
			keep[i] = s.pages[p]
		}
		if planes[len(planes)-1] != len(planes)-1 {
			s.kept = planes
		}
		s.pages, s.shape.Z, s.hyper = keep, len(keep), nil
		notes = append(notes, fmt.Sprintf("time point 1 of %d read (OME-TIFF of %d planes × %d time points)", h.t, h.z, h.t))
	}
	if !s.contiguous && !forRead {
		// A cut-short file loses its last page's data first: check that
		// page's strips or tiles lie inside the file.
		z := len(s.pages) - 1
		offs, counts, err := t.chunkTable(&s.pages[z], z)
		if err != nil {
			return nil, err
		}
		for c := range offs {
			if _, _, err := t.span(&s.pages[z], z, c, offs, counts, 0); err != nil {
				return nil, err
			}
		}
	}

	xres, yres := t.float(imageTags, tagXResolution), t.float(imageTags, tagYResolution)
	ru, _ := t.uint(imageTags, tagResolutionUnit, 0)
	var source string
	s.voxel, source = tiffVoxel(ij, isIJ, ome, isOME, xres, yres, int(ru), &notes)

	var d []string
	if t.big {
		d = append(d, "BigTIFF")
	} else {
		d = append(d, "classic TIFF")
	}
	if t.order == binary.BigEndian {
		d = append(d, "big-endian")
	} else {
		d = append(d, "little-endian")
	}
	c := compressionName(p0.compression)
	switch p0.predictor {
	case predHorizontal:
		c += " + horizontal predictor"
	case predFloatingPt:
		c += " + floating-point predictor"
	}
	d = append(d, c)
	pages := plural(s.shape.Z, "page")
	if s.contiguous {
		pages += " (ImageJ contiguous, 1 IFD)"
	}
	d = append(d, pages)
	if p0.tiled() {
		d = append(d, fmt.Sprintf("%d×%d tiles", p0.tileW, p0.tileH))
	} else {
		d = append(d, plural(p0.chunks(), "strip")+"/page")
	}
	switch {
	case source != "":
		d = append(d, "voxel size from "+source)
	case !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "voxel size unknown") }):
		d = append(d, "no voxel size in file")
	}
	if p0.photometric == photoWhiteIsZ {
		notes = append(notes, "WhiteIsZero: unsigned values inverted")
	}
	if noteType != "" {
		notes = append(notes, noteType)
	}
	if skipped > 0 {
		notes = append(notes, fmt.Sprintf("%d reduced-resolution/mask pages skipped", skipped))
	}
	s.detail = strings.Join(append(d, notes...), ", ")
	return s, nil
}

// plural formats "1 page", "3 pages".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// setContiguous turns a one-IFD ImageJ stack with images=n into n pages
// laid out back to back after page 0's data.
func (s *tiffStack) setContiguous(n int, forRead bool) error {
	p := &s.pages[0]
	if p.compression != compNone || p.tiled() {
		return tiffFormatErr("ImageJ stack of %d images with one IFD must be uncompressed and stripped", n)
	}
	offs, err := s.t.uints(tagStripOffsets, p.offsets, uint64(p.chunks()))
	if err != nil {
		return fmt.Errorf("page 0: %w", err)
	}
	rowBytes := int64(p.width) * int64(p.bps/8)
	base := offs[0]
	for i, o := range offs {
		if o != base+uint64(int64(i*p.rowsPerStrip)*rowBytes) {
			return tiffFormatErr("ImageJ stack of %d images with one IFD: strips of page 0 are not contiguous", n)
		}
	}
	s.pageBytes = p.planeBytes()
	if base > uint64(s.t.size) || int64(n) > (s.t.size-int64(base))/s.pageBytes {
		have := int64(0)
		if base <= uint64(s.t.size) {
			have = (s.t.size - int64(base)) / s.pageBytes
		}
		return tiffFormatErr("ImageJ description says images=%d but the file holds data for %d (size %d): truncated?", n, have, s.t.size)
	}
	s.shape.Z = n
	if forRead {
		if err := checkAlloc(s.shape, s.dtype); err != nil {
			return err
		}
	}
	s.contiguous = true
	return nil
}

// imagejMeta is what niiv uses of an ImageJ ImageDescription.
type imagejMeta struct {
	images, channels, slices, frames int
	spacing                          float64
	unit                             string
	order                            string  // "czt" unless order= says otherwise
	finterval                        float64 // seconds between frames, 0 when absent
	min, max                         float64
	hasRange                         bool
}

// parseImageJ parses "ImageJ=…\nimages=…\nspacing=…\nunit=…" descriptions.
func parseImageJ(desc string) (imagejMeta, bool) {
	var m imagejMeta
	if !strings.HasPrefix(desc, "ImageJ=") {
		return m, false
	}
	for _, line := range strings.Split(desc, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		atoi := func() int {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0
			}
			return n
		}
		switch k {
		case "images":
			m.images = atoi()
		case "channels":
			m.channels = atoi()
		case "slices":
			m.slices = atoi()
		case "frames":
			m.frames = atoi()
		case "spacing":
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				m.spacing = f
			}
		case "unit":
			m.unit = unescapeJava(v)
		case "order":
			m.order = v
		case "finterval":
			if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
				m.finterval = f
			}
		case "min", "max":
			if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				if k == "min" {
					m.min = f
				} else {
					m.max = f
					m.hasRange = true
				}
			}
		}
	}
	return m, true
}

// unescapeJava decodes the \uXXXX escapes ImageJ (through Java Properties)
// writes for non-ASCII characters, e.g. "\u00B5m" → "µm".
func unescapeJava(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+6 <= len(s) && s[i+1] == 'u' {
			if r, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
				b.WriteRune(rune(r))
				i += 5
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// omeMeta is what niiv uses of an OME-XML description: the first image's
// Pixels element.
type omeMeta struct {
	sizeC int
	size  [3]float64 // z, y, x
	unit  [3]string
	has   [3]bool

	sizeZ, sizeT int
	dimOrder     string // "XYZCT", …
	channels     []omeChannel
	timeStep     float64
	timeUnit     string
}

// omeChannel is what niiv uses of an OME-XML Channel element.
type omeChannel struct {
	name     string
	color    volume.Color
	hasColor bool
	samples  int // SamplesPerPixel, 0 when absent
}

// parseOME reads PhysicalSizeX/Y/Z (and units) from OME-XML.
func parseOME(desc string) (omeMeta, bool) {
	var m omeMeta
	head := desc
	if len(head) > 4096 {
		head = head[:4096]
	}
	if !strings.Contains(head, "<OME") {
		return m, false
	}
	dec := xml.NewDecoder(strings.NewReader(desc))
	dec.Strict = false
	for {
		tok, err := dec.Token()
		if err != nil {
			return m, false
		}
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "Pixels" {
			continue
		}
		for i := range m.unit {
			m.unit[i] = "µm" // the OME default
		}
		for _, a := range el.Attr {
			axis := -1
			var isUnit bool
			switch a.Name.Local {
			case "PhysicalSizeZ":
				axis = 0
			case "PhysicalSizeY":
				axis = 1
			case "PhysicalSizeX":
				axis = 2
			case "PhysicalSizeZUnit":
				axis, isUnit = 0, true
			case "PhysicalSizeYUnit":
				axis, isUnit = 1, true
			case "PhysicalSizeXUnit":
				axis, isUnit = 2, true
			case "SizeC":
				m.sizeC, _ = strconv.Atoi(a.Value)
			case "SizeZ":
				m.sizeZ, _ = strconv.Atoi(a.Value)
			case "SizeT":
				m.sizeT, _ = strconv.Atoi(a.Value)
			case "DimensionOrder":
				m.dimOrder = strings.ToUpper(strings.TrimSpace(a.Value))
			case "TimeIncrement":
				if f, err := strconv.ParseFloat(a.Value, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
					m.timeStep = f
				}
			case "TimeIncrementUnit":
				m.timeUnit = a.Value
			}
			if axis < 0 {
				continue
			}
			if isUnit {
				m.unit[axis] = a.Value
			} else if f, err := strconv.ParseFloat(a.Value, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
				m.size[axis], m.has[axis] = f, true
			}
		}
		if m.timeStep > 0 && m.timeUnit == "" {
			m.timeUnit = "s" // the OME default
		}
		m.channels = omeChannels(dec)
		return m, true
	}
}

// omeChannels reads the Channel elements of a Pixels element, up to its
// end (or the end of a broken document).
func omeChannels(dec *xml.Decoder) []omeChannel {
	var chs []omeChannel
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return chs
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth != 1 || el.Name.Local != "Channel" {
				continue
			}
			var c omeChannel
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "Name":
					c.name = strings.TrimSpace(a.Value)
				case "Color":
					// A signed 32-bit RGBA integer: -1 is opaque white.
					if n, err := strconv.ParseInt(strings.TrimSpace(a.Value), 10, 64); err == nil && n >= math.MinInt32 && n <= math.MaxUint32 {
						u := uint32(n)
						c.color = volume.Color{R: uint8(u >> 24), G: uint8(u >> 16), B: uint8(u >> 8)}
						c.hasColor = true
					}
				case "SamplesPerPixel":
					c.samples, _ = strconv.Atoi(a.Value)
				}
			}
			chs = append(chs, c)
		case xml.EndElement:
			if depth == 0 {
				return chs // </Pixels>
			}
			depth--
		}
	}
}

// normUnit returns the canonical name of a length unit and its size in
// metres (0 when unknown). Pixels and empty strings are no unit at all.
func normUnit(u string) (string, float64) {
	switch strings.TrimSpace(u) {
	case "", "pixel", "pixels", "px":
		return "", 0
	case "m", "meter", "metre":
		return "m", 1
	case "cm", "centimeter", "centimetre":
		return "cm", 1e-2
	case "mm", "millimeter", "millimetre":
		return "mm", 1e-3
	case "µm", "μm", "um", "micron", "microns", "micrometer", "micrometre", `\u00B5m`:
		return "µm", 1e-6
	case "nm", "nanometer", "nanometre":
		return "nm", 1e-9
	case "pm", "picometer", "picometre":
		return "pm", 1e-12
	case "Å", "\u212b", "angstrom", "Angstrom":
		return "Å", 1e-10
	case "inch", "in":
		return "inch", 0.0254
	}
	return strings.TrimSpace(u), 0
}

// axisSize is one axis's voxel size as read from a file.
type axisSize struct {
	v    float64
	unit string
	ok   bool
}

// tiffVoxel combines the voxel-size sources of a TIFF: ImageJ description
// and X/YResolution first, then OME-XML per axis on top. It returns the
// voxel and the name of the source ("" when none).
func tiffVoxel(ij imagejMeta, isIJ bool, ome omeMeta, isOME bool, xres, yres float64, resUnit int, notes *[]string) (volume.Voxel, string) {
	var ax [3]axisSize // z, y, x
	var sources []string
	zDefaultOne := false
	switch {
	case isIJ:
		unit, _ := normUnit(ij.unit)
		if unit == "" && !(ij.spacing > 0) {
			break // uncalibrated: ImageJ ignores the resolution tags
		}
		if xres > 0 {
			ax[2] = axisSize{1 / xres, unit, true}
		}
		if yres > 0 {
			ax[1] = axisSize{1 / yres, unit, true}
		}
		if ij.spacing > 0 {
			ax[0] = axisSize{ij.spacing, unit, true}
		}
		if ax[0].ok || ax[1].ok || ax[2].ok {
			sources = append(sources, "ImageJ metadata")
			zDefaultOne = true // ImageJ's default voxel depth is 1
		}
	case resUnit == resUnitCm || (resUnit == resUnitInch && xres != 72):
		// An explicit physical resolution unit; 72 dpi is a desktop default,
		// not a microscope's pixel size.
		f := 1e4 // µm per cm
		if resUnit == resUnitInch {
			f = 25400
		}
		if xres > 0 {
			ax[2] = axisSize{f / xres, "µm", true}
		}
		if yres > 0 {
			ax[1] = axisSize{f / yres, "µm", true}
		}
		if ax[1].ok || ax[2].ok {
			sources = append(sources, "X/YResolution")
		}
	}
	if isOME {
		used := false
		for i := range ax {
			if ome.has[i] {
				ax[i] = axisSize{ome.size[i], ome.unit[i], true}
				used = true
			}
		}
		if used {
			sources = append([]string{"OME-XML"}, sources...)
		}
	}
	if !ax[0].ok && !ax[1].ok && !ax[2].ok {
		return volume.Unknown(), ""
	}
	// One unit for all axes: the first known one, x first.
	unit := ""
	for _, i := range []int{2, 1, 0} {
		if ax[i].ok {
			unit = ax[i].unit
			break
		}
	}
	canon, f := normUnit(unit)
	for i := range ax {
		if !ax[i].ok {
			continue
		}
		if c, g := normUnit(ax[i].unit); c != canon && f > 0 && g > 0 {
			ax[i].v *= g / f
		}
	}
	switch {
	case ax[2].ok && !ax[1].ok:
		ax[1] = ax[2]
	case ax[1].ok && !ax[2].ok:
		ax[2] = ax[1]
	case !ax[1].ok && !ax[2].ok:
		ax[1], ax[2] = axisSize{1, canon, true}, axisSize{1, canon, true}
		*notes = append(*notes, "x/y size not in file: assumed 1 "+canon)
	}
	if !ax[0].ok {
		if zDefaultOne {
			ax[0] = axisSize{1, canon, true}
			*notes = append(*notes, "no spacing= in ImageJ metadata: z size 1 "+canon)
		} else {
			// Without the z spacing the anisotropy, which is what niiv
			// reconstructs, is unknown: better asked than guessed.
			*notes = append(*notes, fmt.Sprintf("x/y %s %s from %s but no z spacing: voxel size unknown",
				strconv.FormatFloat(ax[2].v, 'g', 4, 64), canon, strings.Join(sources, " + ")))
			return volume.Unknown(), ""
		}
	}
	source := strings.Join(sources, " + ")
	v := volume.Voxel{Z: ax[0].v, Y: ax[1].v, X: ax[2].v, Unit: canon, Known: true, Source: source}
	if err := v.Validate(); err != nil {
		*notes = append(*notes, "ignored invalid voxel size in file")
		return volume.Unknown(), ""
	}
	return v, source
}

// inspectTIFF reads only the directories of a TIFF file and reports its
// shape, type, voxel size and layout.
func inspectTIFF(path string) (Info, error) {
	times := 0
	if f, err := os.Open(path); err == nil {
		st, err := f.Stat()
		if err == nil {
			s, err := parseTIFFPages(f, st.Size(), false, false, true, nil)
			if err == nil && s.hyper != nil && s.hyper.c == 1 {
				times = s.hyper.t // the single-volume read below says which it reads
			}
			if err == nil && s.hyper != nil && s.hyper.c > 1 {
				f.Close()
				h := s.hyper
				shape := s.shape
				shape.Z = h.z
				detail := fmt.Sprintf("%s × %s; %s", plural(h.c, "channel"), plural(h.t, "time point"), s.detail)
				return Info{Path: path, Format: TIFF, Shape: shape, DType: s.dtype, Voxel: s.voxel, Detail: detail, Channels: h.c, Times: h.t}, nil
			}
		}
		f.Close()
	}
	s, f, err := openTIFF(path, false, false)
	if err != nil {
		return Info{}, &Error{"read", path, err}
	}
	f.Close()
	return Info{Path: path, Format: TIFF, Shape: s.shape, DType: s.dtype, Voxel: s.voxel, Detail: s.detail, Times: times}, nil
}

// readTIFF reads a multi-page grayscale TIFF stack; each page is one z
// plane.
func readTIFF(path string) (*volume.Volume, error) {
	s, f, err := openTIFF(path, false, true)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	defer f.Close()
	data, err := s.decode()
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	v, err := volume.New(s.shape, data, s.voxel)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	return v, nil
}

// readTIFFPlane reads the first page of a TIFF file, for folders of 2-D
// slices. data is []uint8, []uint16, []int16, []float32 or []float64 of
// rows*cols values. Further pages are not read.
func readTIFFPlane(path string) (data any, rows, cols int, dt volume.DType, err error) {
	s, f, err := openTIFF(path, true, true)
	if err != nil {
		return nil, 0, 0, 0, &Error{"read", path, err}
	}
	defer f.Close()
	data, err = s.decode()
	if err != nil {
		return nil, 0, 0, 0, &Error{"read", path, err}
	}
	return data, s.shape.Y, s.shape.X, s.dtype, nil
}

// decode allocates the stack's voxels (after checkAlloc) and decodes every
// page into them.
func (s *tiffStack) decode() (any, error) {
	if err := checkAlloc(s.shape, s.dtype); err != nil {
		return nil, err
	}
	data := makeData(s.dtype, s.shape.Len())
	plane := s.shape.Y * s.shape.X
	d := &tiffDecoder{t: s.t, br: bufio.NewReaderSize(nil, 64<<10)}
	for z := 0; z < s.shape.Z; z++ {
		p, shift := &s.pages[0], int64(0)
		if s.contiguous {
			shift = int64(z) * s.pageBytes
		} else {
			p = &s.pages[z]
		}
		if err := d.page(z, p, shift, data, z*plane); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// tiffDecoder holds the buffers reused across strips and tiles.
type tiffDecoder struct {
	t   *tiffReader
	br  *bufio.Reader
	zr  io.ReadCloser
	pb  packBits
	row []byte
	tmp []byte
}

// page decodes page p (plane z) into data starting at element base; shift
// moves all its data offsets (ImageJ contiguous stacks).
func (d *tiffDecoder) page(z int, p *tiffPage, shift int64, data any, base int) error {
	offs, counts, err := d.t.chunkTable(p, z)
	if err != nil {
		return err
	}
	for c := range offs {
		y0, x0, _, _ := p.chunkGeom(c)
		off, count, err := d.t.span(p, z, c, offs, counts, shift)
		if err != nil {
			return err
		}
		if err := d.chunk(z, p, c, off, count, data, base+y0*p.width+x0, p.width); err != nil {
			return err
		}
	}
	return nil
}

// chunk decodes strip or tile c of page p (plane z), whose count bytes lie
// at off (as span returns them), into data: the sample in row r and column
// x of the chunk goes to element at+r*stride+x. Only the rows and columns
// inside the image are written.
func (d *tiffDecoder) chunk(z int, p *tiffPage, c int, off, count int64, data any, at, stride int) error {
	_, _, rows, cols := p.chunkGeom(c)
	if p.compression == compNone && !p.tiled() && p.photometric == photoBlackIsZ && stride == cols && sameLayout(p, data) {
		// The strip's bytes are the voxels: read them in place.
		B := p.bps / 8
		dst := rawBytes(data)[at*B : (at+rows*cols)*B]
		if err := d.t.readAt(dst, off, fmt.Sprintf("page %d: strip %d", z, c)); err != nil {
			return err
		}
		if B > 1 && (d.t.order == binary.ByteOrder(binary.BigEndian)) != nativeBig {
			swapBytes(dst, B)
		}
		return nil
	}
	return d.chunkPart(z, p, c, off, count, 0, rows, 0, cols, data, at, stride)
}

// chunkPart is chunk for rows r0..r1-1 and columns c0..c1-1 of the strip
// or tile (counted from its corner, inside the image): the sample in row r
// and column x goes to element at+(r-r0)*stride+(x-c0). Decoding stops
// after row r1-1; the rows above r0 are decoded and dropped.
func (d *tiffDecoder) chunkPart(z int, p *tiffPage, c int, off, count int64, r0, r1, c0, c1 int, data any, at, stride int) error {
	_, _, rows, _ := p.chunkGeom(c)
	if rb := p.rowBytes(); cap(d.row) < rb {
		d.row = make([]byte, rb)
		d.tmp = make([]byte, rb)
	}
	row := d.row[:p.rowBytes()]
	r, err := d.open(p.compression, off, count)
	if err != nil {
		return fmt.Errorf("page %d: %s %d: %s data corrupt: %w", z, p.chunkKind(), c, compressionName(p.compression), wrapFormat(err))
	}
	B := p.bps / 8
	for y := 0; y < r1; y++ {
		if _, err := io.ReadFull(r, row); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return tiffFormatErr("page %d: %s %d: %s data ends after %d of %d rows", z, p.chunkKind(), c, compressionName(p.compression), y, rows)
			}
			return fmt.Errorf("page %d: %s %d: %s data corrupt: %w", z, p.chunkKind(), c, compressionName(p.compression), wrapFormat(err))
		}
		if y < r0 {
			continue
		}
		d.unpredict(p, row)
		putRow(data, at+(y-r0)*stride, row[c0*B:], c1-c0, p, d.t.order)
	}
	return nil
}

// sameLayout reports whether the page's samples are stored exactly as data
// keeps them in memory (up to byte order), so no conversion is needed.
func sameLayout(p *tiffPage, data any) bool {
	switch data.(type) {
	case []uint8:
		return p.bps == 8
	case []uint16:
		return p.bps == 16 && p.format != fmtFloat
	case []int16:
		return p.bps == 16 && p.format == fmtInt
	case []float32:
		return p.bps == 32 && p.format == fmtFloat
	case []float64:
		return p.bps == 64 && p.format == fmtFloat
	}
	return false
}

// rowBytes returns the bytes of one row of a strip or tile.
func (p *tiffPage) rowBytes() int {
	if p.tiled() {
		return p.tileW * (p.bps / 8)
	}
	return p.width * (p.bps / 8)
}

// chunkGeom returns the image origin of strip or tile c and how many of its
// rows and columns lie inside the image.
func (p *tiffPage) chunkGeom(c int) (y0, x0, rows, cols int) {
	if p.tiled() {
		across := ceilDiv(p.width, p.tileW)
		y0, x0 = (c/across)*p.tileH, (c%across)*p.tileW
		return y0, x0, min(p.tileH, p.height-y0), min(p.tileW, p.width-x0)
	}
	y0 = c * p.rowsPerStrip
	return y0, 0, min(p.rowsPerStrip, p.height-y0), p.width
}

// chunkTable reads the strip or tile offsets and byte counts of page z
// (counts is nil when the file has none).
func (t *tiffReader) chunkTable(p *tiffPage, z int) (offs, counts []uint64, err error) {
	n := uint64(p.chunks())
	offTag, countTag := uint16(tagStripOffsets), uint16(tagStripByteCounts)
	if p.tiled() {
		offTag, countTag = tagTileOffsets, tagTileByteCounts
	}
	if offs, err = t.uints(offTag, p.offsets, n); err != nil {
		return nil, nil, fmt.Errorf("page %d: %w", z, err)
	}
	if p.hasCounts {
		if counts, err = t.uints(countTag, p.counts, n); err != nil {
			return nil, nil, fmt.Errorf("page %d: %w", z, err)
		}
	}
	return offs, counts, nil
}

// span returns where strip or tile c of page z lies in the file (its
// offset moved by shift), checked against the file's size and, when
// uncompressed, against the bytes its rows need.
func (t *tiffReader) span(p *tiffPage, z, c int, offs, counts []uint64, shift int64) (off, count int64, err error) {
	_, _, rows, _ := p.chunkGeom(c)
	need := int64(rows) * int64(p.rowBytes())
	if offs[c] > uint64(t.size) || int64(offs[c])+shift > t.size {
		return 0, 0, tiffFormatErr("page %d: %s %d offset %d beyond end of file (size %d)", z, p.chunkKind(), c, offs[c], t.size)
	}
	off = int64(offs[c]) + shift
	switch {
	case counts != nil:
		if counts[c] > uint64(t.size) {
			return 0, 0, tiffFormatErr("page %d: %s %d byte count %d beyond end of file (size %d)", z, p.chunkKind(), c, counts[c], t.size)
		}
		count = int64(counts[c])
	case p.compression == compNone:
		count = need
	default:
		count = t.size - off
	}
	if p.compression == compNone {
		if count < need {
			return 0, 0, tiffFormatErr("page %d: %s %d has %d bytes, needs %d", z, p.chunkKind(), c, count, need)
		}
		count = need // ignore padding beyond what the rows need
	}
	if count > t.size-off {
		return 0, 0, tiffFormatErr("page %d: %s %d at offset %d (%d bytes) runs past end of file (size %d): truncated?", z, p.chunkKind(), c, off, count, t.size)
	}
	if count == 0 {
		return 0, 0, tiffFormatErr("page %d: %s %d is empty (0 bytes)", z, p.chunkKind(), c)
	}
	return off, count, nil
}

// wrapFormat marks decoder errors as format errors, keeping I/O errors.
func wrapFormat(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return tiffFormatErr("%v", err)
}

// open returns a reader of the decompressed bytes of one strip or tile.
func (d *tiffDecoder) open(compression int, off, count int64) (io.Reader, error) {
	d.br.Reset(io.NewSectionReader(d.t.r, off, count))
	switch compression {
	case compLZW:
		return lzw.NewReader(d.br, lzw.MSB, 8), nil
	case compDeflate, compDeflateOld:
		if d.zr == nil {
			zr, err := zlib.NewReader(d.br)
			if err != nil {
				return nil, err
			}
			d.zr = zr
			return zr, nil
		}
		if err := d.zr.(zlib.Resetter).Reset(d.br, nil); err != nil {
			return nil, err
		}
		return d.zr, nil
	case compPackBits:
		d.pb = packBits{r: d.br}
		return &d.pb, nil
	}
	return d.br, nil
}

// unpredict undoes the horizontal or floating-point predictor on one row
// of samples in file byte order.
func (d *tiffDecoder) unpredict(p *tiffPage, row []byte) {
	o := d.t.order
	switch p.predictor {
	case predHorizontal:
		switch p.bps {
		case 8:
			for i := 1; i < len(row); i++ {
				row[i] += row[i-1]
			}
		case 16:
			for i := 2; i+2 <= len(row); i += 2 {
				o.PutUint16(row[i:], o.Uint16(row[i:])+o.Uint16(row[i-2:]))
			}
		case 32:
			for i := 4; i+4 <= len(row); i += 4 {
				o.PutUint32(row[i:], o.Uint32(row[i:])+o.Uint32(row[i-4:]))
			}
		case 64:
			for i := 8; i+8 <= len(row); i += 8 {
				o.PutUint64(row[i:], o.Uint64(row[i:])+o.Uint64(row[i-8:]))
			}
		}
	case predFloatingPt:
		// Bytes were split into planes, most significant first, then
		// differenced (Adobe TIFF Technical Note 3).
		for i := 1; i < len(row); i++ {
			row[i] += row[i-1]
		}
		B := p.bps / 8
		w := len(row) / B
		tmp := d.tmp[:len(row)]
		little := o == binary.ByteOrder(binary.LittleEndian)
		for i := 0; i < w; i++ {
			for k := 0; k < B; k++ {
				dst := i*B + k
				if little {
					dst = i*B + B - 1 - k
				}
				tmp[dst] = row[k*w+i]
			}
		}
		copy(row, tmp)
	}
}

// putRow converts n samples of row (file byte order) into data at index at.
func putRow(data any, at int, row []byte, n int, p *tiffPage, o binary.ByteOrder) {
	invert := p.photometric == photoWhiteIsZ
	switch dst := data.(type) {
	case []uint8:
		dst = dst[at : at+n]
		copy(dst, row)
		if invert {
			for i := range dst {
				dst[i] = 255 - dst[i]
			}
		}
	case []uint16:
		dst = dst[at : at+n]
		for i := range dst {
			dst[i] = o.Uint16(row[2*i:])
			if invert {
				dst[i] = 65535 - dst[i]
			}
		}
	case []int16:
		dst = dst[at : at+n]
		if p.bps == 8 {
			for i := range dst {
				dst[i] = int16(int8(row[i]))
			}
			return
		}
		for i := range dst {
			dst[i] = int16(o.Uint16(row[2*i:]))
		}
	case []float32:
		dst = dst[at : at+n]
		switch {
		case p.bps == 16:
			for i := range dst {
				dst[i] = halfToFloat32(o.Uint16(row[2*i:]))
			}
		case p.format == fmtFloat:
			for i := range dst {
				dst[i] = math.Float32frombits(o.Uint32(row[4*i:]))
			}
		case p.format == fmtInt:
			for i := range dst {
				dst[i] = float32(int32(o.Uint32(row[4*i:])))
			}
		default:
			for i := range dst {
				v := o.Uint32(row[4*i:])
				if invert {
					v = math.MaxUint32 - v
				}
				dst[i] = float32(v)
			}
		}
	case []float64:
		dst = dst[at : at+n]
		for i := range dst {
			dst[i] = math.Float64frombits(o.Uint64(row[8*i:]))
		}
	}
}

// halfToFloat32 converts an IEEE 754 half-precision value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0:
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// packBits decodes PackBits (Apple/TIFF run-length) data.
type packBits struct {
	r   *bufio.Reader
	lit int // literal bytes left in the current run
	rep int // repetitions left of b
	b   byte
}

func (p *packBits) Read(dst []byte) (int, error) {
	n := 0
	for n < len(dst) {
		switch {
		case p.lit > 0:
			k, err := io.ReadFull(p.r, dst[n:n+min(p.lit, len(dst)-n)])
			n += k
			p.lit -= k
			if err != nil {
				return n, io.ErrUnexpectedEOF
			}
		case p.rep > 0:
			k := min(p.rep, len(dst)-n)
			for i := range k {
				dst[n+i] = p.b
			}
			n += k
			p.rep -= k
		default:
			h, err := p.r.ReadByte()
			if err != nil {
				return n, err
			}
			switch c := int8(h); {
			case c >= 0:
				p.lit = int(c) + 1
			case c != -128:
				b, err := p.r.ReadByte()
				if err != nil {
					return n, io.ErrUnexpectedEOF
				}
				p.b, p.rep = b, 1-int(c)
			}
		}
	}
	return n, nil
}

// WriteTIFF writes v as an uncompressed little-endian multi-page TIFF with
// ImageJ metadata (images=, spacing=, unit=, X/YResolution = 1/voxel size),
// so that Fiji and Python's tifffile read back the voxel size. Files whose
// offsets would pass 4 GiB are written as BigTIFF (which Fiji opens through
// Bio-Formats). float64 volumes are stored as 32-bit float, int16 with
// SampleFormat=2. Pages are streamed; the file appears only when complete.
func WriteTIFF(path string, v *volume.Volume) error {
	if err := refuseURL(path); err != nil {
		return err
	}
	if v == nil {
		return &Error{"write", path, errors.New("no volume")}
	}
	v, err := inMemory(v)
	if err != nil {
		return &Error{"write", path, err}
	}
	l := layoutFor(v)
	return writeTIFFFile(path, &l, pagesOf(v))
}

// writeTIFFFile writes pages with layout l to path, as BigTIFF when the
// offsets would pass 4 GiB; the file appears only when complete.
func writeTIFFFile(path string, l *tiffLayout, pages []tiffPlane) error {
	big := tiffPagesSize(l, pages, false) > math.MaxUint32
	f, err := atomicfile.Create(path, tiffPagesSize(l, pages, big))
	if err != nil {
		return &Error{"write", path, err}
	}
	defer f.Abort()
	if err := writeTIFFPages(f, l, pages, big); err != nil {
		return &Error{"write", path, err}
	}
	if err := f.Commit(); err != nil {
		return &Error{"write", path, err}
	}
	return nil
}

// tiffTag is one entry the writer puts in an IFD; data holds its values in
// little-endian order.
type tiffTag struct {
	tag, typ uint16
	count    uint64
	data     []byte
}

// tiffLayout describes how a volume is written: sample size, format and
// the ImageJ description.
type tiffLayout struct {
	bps, format int
	desc        string
	xres, yres  [2]uint32 // rationals, zero when the voxel size is unknown
	// extra are further tags of the first page (ImageJ's metadata),
	// numbered above SampleFormat.
	extra []tiffTag
}

// tiffPlane is one page to write: plane z of vol.
type tiffPlane struct {
	vol *volume.Volume
	z   int
}

// pagesOf lists the planes of v, in z order.
func pagesOf(v *volume.Volume) []tiffPlane {
	p := make([]tiffPlane, v.Shape().Z)
	for z := range p {
		p[z] = tiffPlane{v, z}
	}
	return p
}

func layoutFor(v *volume.Volume) tiffLayout {
	var l tiffLayout
	switch v.DType() {
	case volume.Uint8:
		l.bps, l.format = 8, fmtUint
	case volume.Uint16:
		l.bps, l.format = 16, fmtUint
	case volume.Int16:
		l.bps, l.format = 16, fmtInt
	default:
		l.bps, l.format = 32, fmtFloat
	}
	s := v.Shape()
	var b strings.Builder
	b.WriteString("ImageJ=1.11a\n")
	if s.Z > 1 {
		fmt.Fprintf(&b, "images=%d\nslices=%d\n", s.Z, s.Z)
	}
	vox := v.Voxel
	if vox.Known && vox.Validate() == nil {
		if u := imagejUnit(vox.Unit); u != "" {
			fmt.Fprintf(&b, "unit=%s\n", u)
		}
		fmt.Fprintf(&b, "spacing=%s\n", strconv.FormatFloat(vox.Z, 'g', -1, 64))
		l.xres = rational(1 / vox.X)
		l.yres = rational(1 / vox.Y)
	}
	if s.Z > 1 {
		b.WriteString("loop=false\n")
	}
	st := v.Stats()
	fmt.Fprintf(&b, "min=%s\nmax=%s\n", strconv.FormatFloat(st.Min, 'g', -1, 64), strconv.FormatFloat(st.Max, 'g', -1, 64))
	l.desc = b.String()
	return l
}

// imagejUnit spells a unit for ImageJ: "micron" for µm, other non-ASCII
// characters as \uXXXX escapes (ImageJ reads them through Java Properties).
func imagejUnit(u string) string {
	switch u {
	case "", "px", "pixel", "pixels":
		return ""
	case "µm", "μm", "um":
		return "micron"
	}
	var b strings.Builder
	for _, r := range u {
		if r < 0x20 || r > 0x7e || r == '\\' {
			fmt.Fprintf(&b, `\u%04X`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// rational returns the closest fraction num/den to r with 32-bit terms
// (continued fractions); {0, 0} when r is not positive and finite.
func rational(r float64) [2]uint32 {
	if !(r > 0) || math.IsInf(r, 0) {
		return [2]uint32{}
	}
	const lim = math.MaxUint32
	if r >= lim {
		return [2]uint32{lim, 1}
	}
	if r <= 1.0/lim {
		return [2]uint32{1, lim}
	}
	h0, h1, k0, k1 := 0.0, 1.0, 1.0, 0.0
	x := r
	for i := 0; i < 64; i++ {
		a := math.Floor(x)
		h2, k2 := a*h1+h0, a*k1+k0
		if h2 > lim || k2 > lim {
			break
		}
		h0, h1, k0, k1 = h1, h2, k1, k2
		if math.Abs(h1/k1-r) <= r*1e-15 || x == a {
			break
		}
		x = 1 / (x - a)
	}
	if k1 == 0 || h1 == 0 {
		return [2]uint32{uint32(math.Round(r * 1e6)), 1e6}
	}
	return [2]uint32{uint32(h1), uint32(k1)}
}

// pageTags returns the IFD entries of page z (without strip offsets, which
// depend on where the page lands).
func (l *tiffLayout) pageTags(v *volume.Volume, z int, dataOff int64, big bool) []tiffTag {
	s := v.Shape()
	le := binary.LittleEndian
	short := func(tag uint16, x uint16) tiffTag {
		return tiffTag{tag, tShort, 1, le.AppendUint16(nil, x)}
	}
	long := func(tag uint16, x uint32) tiffTag {
		return tiffTag{tag, tLong, 1, le.AppendUint32(nil, x)}
	}
	offset := func(tag uint16, x int64) tiffTag {
		if big {
			return tiffTag{tag, tLong8, 1, le.AppendUint64(nil, uint64(x))}
		}
		return long(tag, uint32(x))
	}
	ratio := func(tag uint16, r [2]uint32) tiffTag {
		return tiffTag{tag, tRational, 1, le.AppendUint32(le.AppendUint32(nil, r[0]), r[1])}
	}
	pageBytes := int64(s.Y) * int64(s.X) * int64(l.bps/8)
	tags := []tiffTag{
		long(tagNewSubfileType, 0),
		long(tagImageWidth, uint32(s.X)),
		long(tagImageLength, uint32(s.Y)),
		short(tagBitsPerSample, uint16(l.bps)),
		short(tagCompression, compNone),
		short(tagPhotometric, photoBlackIsZ),
	}
	if z == 0 {
		desc := append([]byte(l.desc), 0)
		tags = append(tags, tiffTag{tagImageDescription, tASCII, uint64(len(desc)), desc})
	}
	tags = append(tags,
		offset(tagStripOffsets, dataOff),
		short(tagSamplesPerPixel, 1),
		long(tagRowsPerStrip, uint32(s.Y)),
		offset(tagStripByteCounts, pageBytes),
	)
	if l.xres[1] != 0 && l.yres[1] != 0 {
		tags = append(tags, ratio(tagXResolution, l.xres), ratio(tagYResolution, l.yres), short(tagResolutionUnit, resUnitNone))
	}
	tags = append(tags, short(tagSampleFormat, uint16(l.format)))
	if z == 0 {
		tags = append(tags, l.extra...)
	}
	return tags
}

// ifdSize returns the bytes an IFD with tags takes, its out-of-line values
// included (each padded to an even length).
func ifdSize(tags []tiffTag, big bool) int64 {
	countSize, entrySize, nextSize, inline := 2, 12, 4, 4
	if big {
		countSize, entrySize, nextSize, inline = 8, 20, 8, 8
	}
	n := int64(countSize + len(tags)*entrySize + nextSize)
	for _, t := range tags {
		if len(t.data) > inline {
			n += int64(len(t.data) + len(t.data)%2)
		}
	}
	return n
}

// encodeIFD lays out an IFD at off whose next-IFD field is next.
func encodeIFD(tags []tiffTag, off, next int64, big bool) []byte {
	le := binary.LittleEndian
	inline := 4
	if big {
		inline = 8
	}
	b := make([]byte, 0, ifdSize(tags, big))
	if big {
		b = le.AppendUint64(b, uint64(len(tags)))
	} else {
		b = le.AppendUint16(b, uint16(len(tags)))
	}
	entrySize, nextSize := 12, 4
	if big {
		entrySize, nextSize = 20, 8
	}
	extra := off + int64(len(b)+len(tags)*entrySize+nextSize) // out-of-line values
	var tail []byte
	for _, t := range tags {
		b = le.AppendUint16(b, t.tag)
		b = le.AppendUint16(b, t.typ)
		if big {
			b = le.AppendUint64(b, t.count)
		} else {
			b = le.AppendUint32(b, uint32(t.count))
		}
		field := make([]byte, inline)
		if len(t.data) <= inline {
			copy(field, t.data)
		} else {
			pos := extra + int64(len(tail))
			if big {
				le.PutUint64(field, uint64(pos))
			} else {
				le.PutUint32(field, uint32(pos))
			}
			tail = append(tail, t.data...)
			if len(t.data)%2 == 1 {
				tail = append(tail, 0)
			}
		}
		b = append(b, field...)
	}
	if big {
		b = le.AppendUint64(b, uint64(next))
	} else {
		b = le.AppendUint32(b, uint32(next))
	}
	return append(b, tail...)
}

// tiffFileSize returns the size of the file writeTIFFTo produces.
func tiffFileSize(v *volume.Volume, big bool) int64 {
	l := layoutFor(v)
	return tiffPagesSize(&l, pagesOf(v), big)
}

// writeTIFFTo streams v to w as WriteTIFF lays it out.
func writeTIFFTo(w io.Writer, v *volume.Volume, big bool) error {
	l := layoutFor(v)
	return writeTIFFPages(w, &l, pagesOf(v), big)
}

// tiffPagesSize returns the size of the file writeTIFFPages produces.
func tiffPagesSize(l *tiffLayout, pages []tiffPlane, big bool) int64 {
	s := pages[0].vol.Shape()
	pageBytes := int64(s.Y) * int64(s.X) * int64(l.bps/8)
	pageBytes += pageBytes % 2
	n := int64(8)
	if big {
		n = 16
	}
	for z := 0; z < len(pages) && z < 2; z++ {
		k := int64(1)
		if z == 1 {
			k = int64(len(pages) - 1)
		}
		n += k * (ifdSize(l.pageTags(pages[z].vol, z, 0, big), big) + pageBytes)
	}
	return n
}

// writeTIFFPages streams pages to w: header, then per page its IFD and its
// data. All pages have the y, x shape and type of the first.
func writeTIFFPages(w io.Writer, l *tiffLayout, pages []tiffPlane, big bool) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	le := binary.LittleEndian
	s := pages[0].vol.Shape()
	var pos int64
	if big {
		bw.Write([]byte{'I', 'I', 43, 0, 8, 0, 0, 0})
		bw.Write(le.AppendUint64(nil, 16))
		pos = 16
	} else {
		bw.Write([]byte{'I', 'I', 42, 0})
		bw.Write(le.AppendUint32(nil, 8))
		pos = 8
	}
	plane := s.Y * s.X
	pageBytes := int64(plane) * int64(l.bps/8)
	pad := pageBytes % 2
	buf := make([]byte, 0, 64<<10)
	for i, pg := range pages {
		size := ifdSize(l.pageTags(pg.vol, i, 0, big), big)
		dataOff := pos + size
		next := dataOff + pageBytes + pad
		if i == len(pages)-1 {
			next = 0
		}
		if !big && next > math.MaxUint32 {
			return fmt.Errorf("classic TIFF offset %d passes 4 GiB", next)
		}
		if _, err := bw.Write(encodeIFD(l.pageTags(pg.vol, i, dataOff, big), pos, next, big)); err != nil {
			return err
		}
		if err := writeSamples(bw, pg.vol.Data(), pg.z*plane, plane, buf); err != nil {
			return err
		}
		if pad == 1 {
			bw.WriteByte(0)
		}
		pos = dataOff + pageBytes + pad
	}
	return bw.Flush()
}

// writeSamples writes n samples of data from index at in little-endian
// order, float64 as float32, through a reused buffer.
func writeSamples(w io.Writer, data any, at, n int, buf []byte) error {
	const chunk = 8 << 10
	le := binary.LittleEndian
	for i := 0; i < n; i += chunk {
		m := min(chunk, n-i)
		b := buf[:0]
		switch d := data.(type) {
		case []uint8:
			b = d[at+i : at+i+m]
		case []uint16:
			for _, x := range d[at+i : at+i+m] {
				b = le.AppendUint16(b, x)
			}
		case []int16:
			for _, x := range d[at+i : at+i+m] {
				b = le.AppendUint16(b, uint16(x))
			}
		case []float32:
			for _, x := range d[at+i : at+i+m] {
				b = le.AppendUint32(b, math.Float32bits(x))
			}
		case []float64:
			for _, x := range d[at+i : at+i+m] {
				b = le.AppendUint32(b, math.Float32bits(float32(x)))
			}
		default:
			return fmt.Errorf("cannot write %T samples", data)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
