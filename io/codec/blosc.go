package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/zlib"
	"github.com/pierrec/lz4/v4"
)

// The Blosc 1.x frame (c-blosc's "chunk"): a 16-byte header,
//
//	0 version (2; 1 in frames from the earliest releases)
//	1 version of the compressor's format
//	2 flags: 0x01 byte shuffle, 0x02 stored uncompressed ("memcpyed"),
//	  0x04 bit shuffle, 0x08 reserved, 0x10 blocks not split into
//	  streams, bits 5…7 the compressor
//	3 type size in bytes
//	4 nbytes, the decoded size (uint32, little-endian)
//	8 blocksize, the decoded size of every block but the last
//	12 cbytes, the size of the whole frame
//
// then, unless the frame is stored uncompressed (the data follows the
// header), one uint32 offset per block ("bstarts"), and the blocks. A block
// is one compressed stream, or when it is split, type-size streams that
// each hold blocksize/typesize bytes of the shuffled block. Each stream is
// an int32 length and that many bytes; a length equal to the stream's
// decoded size means the bytes are stored as they are. The block is
// shuffled as a whole before it is split, and the last block, when shorter
// than blocksize, is never split.
const (
	bloscHeaderSize  = 16
	bloscVersion     = 2
	bloscMaxSplits   = 16  // c-blosc's MAX_SPLITS
	bloscMinBuffer   = 128 // c-blosc's MIN_BUFFERSIZE
	bloscMaxBuffer   = math.MaxInt32 - bloscHeaderSize
	bloscL1          = 32 << 10
	bloscMaxTypeSize = 255

	bloscFlagShuffle    = 0x01
	bloscFlagMemcpyed   = 0x02
	bloscFlagBitShuffle = 0x04
	bloscFlagReserved   = 0x08
	bloscFlagDontSplit  = 0x10

	bloscBlosclz = 0
	bloscLZ4     = 1 // lz4 and lz4hc
	bloscSnappy  = 2
	bloscZlib    = 3
	bloscZstd    = 4
)

// bloscFormatNames names the compressor codes of the flags byte.
var bloscFormatNames = [8]string{"blosclz", "lz4", "snappy", "zlib", "zstd", "code 5", "code 6", "code 7"}

// bloscMaxRatio bounds how many bytes one compressed byte decodes to, per
// compressor code, with room to spare: LZ4 and BloscLZ add at most 255
// bytes of match per length byte; see deflateMaxRatio and zstdMaxRatio.
// Unused codes get 1.
var bloscMaxRatio = [8]int64{256, 256, 1, deflateMaxRatio, zstdMaxRatio, 1, 1, 1}

// bloscHeader is a parsed frame header.
type bloscHeader struct {
	version, flags, typeSize byte
	nbytes, blocksize        int
	cbytes                   int
}

// format is the compressor code of the frame.
func (h *bloscHeader) format() int { return int(h.flags >> 5) }

// parseBloscHeader reads and checks the fields of a frame header that do
// not depend on the caller.
func parseBloscHeader(src []byte) (bloscHeader, error) {
	var h bloscHeader
	if len(src) < bloscHeaderSize {
		return h, fmt.Errorf("codec: blosc: %d bytes, shorter than the %d-byte header", len(src), bloscHeaderSize)
	}
	h.version, h.flags, h.typeSize = src[0], src[2], src[3]
	h.nbytes = int(binary.LittleEndian.Uint32(src[4:]))
	h.blocksize = int(binary.LittleEndian.Uint32(src[8:]))
	h.cbytes = int(binary.LittleEndian.Uint32(src[12:]))
	switch {
	case h.version == 0 || h.version > bloscVersion:
		return h, fmt.Errorf("codec: blosc: format version %d, want 1 or 2 (Blosc 1.x)", h.version)
	case h.flags&(bloscFlagShuffle|bloscFlagBitShuffle) == bloscFlagShuffle|bloscFlagBitShuffle:
		return h, fmt.Errorf("codec: blosc: flags 0x%02x mark a Blosc 2 extended header: %w", h.flags, ErrUnsupported)
	case h.flags&bloscFlagReserved != 0:
		return h, fmt.Errorf("codec: blosc: flags 0x%02x set the reserved bit 0x08", h.flags)
	case h.typeSize == 0:
		return h, fmt.Errorf("codec: blosc: header says the type size is 0")
	case h.nbytes > bloscMaxBuffer:
		return h, fmt.Errorf("codec: blosc: header says %d bytes, more than Blosc's limit of %d", h.nbytes, bloscMaxBuffer)
	case h.cbytes < bloscHeaderSize:
		return h, fmt.Errorf("codec: blosc: header says the frame is %d bytes, shorter than its header", h.cbytes)
	}
	return h, nil
}

// BloscDecode decodes src, a Blosc 1.x frame as c-blosc and numcodecs'
// Blosc codec write it, and checks that it decodes to exactly size bytes.
// It reads the blosclz, lz4 (lz4 and lz4hc), zlib and zstd compressors,
// byte and bit shuffle, split and unsplit blocks and frames stored
// uncompressed; snappy frames give an error. Every header field is checked
// against size and len(src) before anything is allocated; the output is
// size bytes plus a small constant, and shuffled frames borrow one
// block-sized scratch buffer (at most size bytes) from a pool. Bytes after
// the frame's cbytes are ignored.
func BloscDecode(src []byte, size int) ([]byte, error) {
	if err := checkSize("blosc", size); err != nil {
		return nil, err
	}
	h, err := parseBloscHeader(src)
	if err != nil {
		return nil, err
	}
	if h.nbytes != size {
		return nil, fmt.Errorf("codec: blosc: header says %d bytes, want %d", h.nbytes, size)
	}
	if h.cbytes > len(src) {
		return nil, fmt.Errorf("codec: blosc: header says the frame is %d bytes, have %d", h.cbytes, len(src))
	}
	src = src[:h.cbytes]
	if size == 0 {
		return []byte{}, nil
	}
	if h.flags&bloscFlagMemcpyed != 0 {
		if h.cbytes != size+bloscHeaderSize {
			return nil, fmt.Errorf("codec: blosc: uncompressed frame is %d bytes, want %d for %d bytes of data", h.cbytes, size+bloscHeaderSize, size)
		}
		out := make([]byte, size)
		copy(out, src[bloscHeaderSize:])
		return out, nil
	}
	switch f := h.format(); f {
	case bloscBlosclz, bloscLZ4, bloscZlib, bloscZstd:
	case bloscSnappy:
		return nil, fmt.Errorf("codec: blosc: snappy compressor: %w", ErrUnsupported)
	default:
		return nil, fmt.Errorf("codec: blosc: unknown compressor %s in flags 0x%02x", bloscFormatNames[f], h.flags)
	}
	if h.blocksize == 0 {
		return nil, fmt.Errorf("codec: blosc: header says the block size is 0")
	}
	nblocks := (size-1)/h.blocksize + 1
	tableEnd := bloscHeaderSize + 4*nblocks
	if tableEnd > h.cbytes {
		return nil, fmt.Errorf("codec: blosc: %d blocks of %d bytes need a %d-byte offset table, the frame is %d bytes", nblocks, h.blocksize, 4*nblocks, h.cbytes)
	}
	// No compressor expands data more than bloscMaxRatio says: a frame
	// too small for its claimed size is corrupt, and rejecting it here
	// spares allocating that size.
	if ratio := bloscMaxRatio[h.format()]; int64(size) > ratio*int64(h.cbytes-tableEnd)+1024 {
		return nil, fmt.Errorf("codec: blosc: %d bytes of %s data cannot decode to %d bytes", h.cbytes-tableEnd, bloscFormatNames[h.format()], size)
	}
	// Check the offset table and each block's first stream length before
	// allocating the output.
	for j := range nblocks {
		start := int(binary.LittleEndian.Uint32(src[bloscHeaderSize+4*j:]))
		if start < tableEnd || start > h.cbytes-4 {
			return nil, fmt.Errorf("codec: blosc: block %d starts at byte %d, outside the data at %d…%d", j, start, tableEnd, h.cbytes-5)
		}
		if cb := int(int32(binary.LittleEndian.Uint32(src[start:]))); cb < 0 || cb > h.cbytes-start-4 {
			return nil, fmt.Errorf("codec: blosc: block %d stream 0: length %d at byte %d runs past the end of the %d-byte frame", j, cb, start, h.cbytes)
		}
	}

	out := make([]byte, size, size+maxSlack)
	d := bloscBlockDecoder{h: &h, src: src, tableEnd: tableEnd}
	shuffle := h.flags&bloscFlagShuffle != 0 && h.typeSize > 1
	bitShuf := h.flags&bloscFlagShuffle == 0 && h.flags&bloscFlagBitShuffle != 0
	var tmp []byte
	if shuffle || bitShuf {
		sp := getScratch(min(h.blocksize, size) + maxSlack)
		defer scratchPool.Put(sp)
		tmp = *sp
	}
	ts := int(h.typeSize)
	for j := range nblocks {
		start := int(binary.LittleEndian.Uint32(src[bloscHeaderSize+4*j:]))
		off := j * h.blocksize
		bsize := min(h.blocksize, size-off)
		leftover := bsize < h.blocksize
		if !shuffle && !bitShuf {
			if err := d.block(j, start, out[off:off+bsize:cap(out)], leftover); err != nil {
				return nil, err
			}
			continue
		}
		if err := d.block(j, start, tmp[:bsize:cap(tmp)], leftover); err != nil {
			return nil, err
		}
		if shuffle {
			byteUnshuffle(out[off:off+bsize], tmp[:bsize], ts)
		} else {
			bitUnshuffle(out[off:off+bsize], tmp[:bsize], ts)
		}
	}
	return out[:size:size], nil
}

// bloscBlockDecoder decodes the blocks of one frame.
type bloscBlockDecoder struct {
	h        *bloscHeader
	src      []byte // the frame, cut to cbytes
	tableEnd int    // where the offset table ends and the blocks begin
}

// block decodes block j, which starts at byte start of the frame, into
// dst (the block's length; its capacity may run further, into space that
// later blocks overwrite). A leftover block is the last one, shorter than
// the block size.
func (d *bloscBlockDecoder) block(j, start int, dst []byte, leftover bool) error {
	h := d.h
	ts := int(h.typeSize)
	bsize := len(dst)
	nsplits := 1
	// c-blosc's rule, the same for frames written before the split flag
	// existed: split unless flagged, but only for type sizes up to 16,
	// streams of at least 128 bytes and whole blocks.
	if h.flags&bloscFlagDontSplit == 0 && ts <= bloscMaxSplits && bsize/ts >= bloscMinBuffer && !leftover {
		nsplits = ts
		if bsize%ts != 0 {
			return fmt.Errorf("codec: blosc: block size %d is not a multiple of the type size %d", bsize, ts)
		}
	}
	neblock := bsize / nsplits
	pos := start
	for s := range nsplits {
		if pos > len(d.src)-4 {
			return fmt.Errorf("codec: blosc: block %d stream %d: length at byte %d is past the end of the %d-byte frame", j, s, pos, len(d.src))
		}
		cb := int(int32(binary.LittleEndian.Uint32(d.src[pos:])))
		pos += 4
		if cb < 0 || cb > len(d.src)-pos {
			return fmt.Errorf("codec: blosc: block %d stream %d: length %d at byte %d runs past the end of the %d-byte frame", j, s, cb, pos-4, len(d.src))
		}
		stream := d.src[pos : pos+cb]
		pos += cb
		o := s * neblock
		part := dst[o : o+neblock : min(cap(dst), o+neblock+maxSlack)]
		if cb == neblock {
			copy(part, stream)
			continue
		}
		if err := bloscDecompress(h.format(), stream, part); err != nil {
			return fmt.Errorf("codec: blosc: block %d stream %d: %w", j, s, err)
		}
	}
	return nil
}

// bloscDecompress decodes one compressed stream into dst, which it must
// fill exactly. dst's capacity may exceed its length; the zstd decoder
// uses the room beyond as slack.
func bloscDecompress(format int, src, dst []byte) error {
	switch format {
	case bloscBlosclz:
		n, err := blosclzDecompress(src, dst[:len(dst):len(dst)])
		if err != nil {
			return err
		}
		if n != len(dst) {
			return fmt.Errorf("blosclz: data decodes to %d bytes, want %d", n, len(dst))
		}
	case bloscLZ4:
		n, err := lz4.UncompressBlock(src, dst[:len(dst):len(dst)])
		if err != nil {
			return fmt.Errorf("lz4: %w", err)
		}
		if n != len(dst) {
			return fmt.Errorf("lz4: data decodes to %d bytes, want %d", n, len(dst))
		}
	case bloscZlib:
		return zlibInto(src, dst)
	case bloscZstd:
		dec, err := zstdDecoder()
		if err != nil {
			return fmt.Errorf("zstd: decoder: %w", err)
		}
		out, err := dec.DecodeAll(src, dst[:0])
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		if len(out) != len(dst) {
			return fmt.Errorf("zstd: data decodes to %d bytes, want %d", len(out), len(dst))
		}
		if len(out) > 0 && &out[0] != &dst[0] {
			copy(dst, out)
		}
	default:
		return fmt.Errorf("%s compressor: %w", bloscFormatNames[format&7], ErrUnsupported)
	}
	return nil
}

// zlibReaders holds zlib readers for reuse; each holds a 32 KiB window.
var zlibReaders sync.Pool

// zlibInto decodes the zlib stream src into dst, which it must fill
// exactly.
func zlibInto(src, dst []byte) error {
	br := bytes.NewReader(src)
	var r io.ReadCloser
	if v := zlibReaders.Get(); v != nil {
		r = v.(io.ReadCloser)
		if err := r.(zlib.Resetter).Reset(br, nil); err != nil {
			return fmt.Errorf("zlib: header: %w", err)
		}
	} else {
		var err error
		if r, err = zlib.NewReader(br); err != nil {
			return fmt.Errorf("zlib: header: %w", err)
		}
	}
	defer zlibReaders.Put(r)
	return readFull("zlib", r, dst, len(src))
}

// scratchPool holds block-sized scratch buffers.
var scratchPool sync.Pool

// getScratch returns a pooled buffer of length n.
func getScratch(n int) *[]byte {
	if v, ok := scratchPool.Get().(*[]byte); ok && cap(*v) >= n {
		*v = (*v)[:n]
		return v
	}
	b := make([]byte, n)
	return &b
}
