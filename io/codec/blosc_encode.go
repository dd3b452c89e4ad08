package codec

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// BloscOptions configures BloscEncode. The fields follow numcodecs' Blosc
// codec.
type BloscOptions struct {
	Compressor string // "zstd", "lz4", "lz4hc", "zlib", "blosclz"
	Level      int    // 0-9; 0 stores the data uncompressed
	Shuffle    int    // 0 none, 1 byte shuffle, 2 bit shuffle (numcodecs' NOSHUFFLE, SHUFFLE, BITSHUFFLE)
	TypeSize   int    // element size in bytes, 1-255
	BlockSize  int    // 0: c-blosc's automatic choice
}

// bloscCompressor describes one compressor name of c-blosc.
type bloscCompressor struct {
	format int  // the code in the flags byte
	hcr    bool // meant for high compression ratios: larger automatic blocks
}

var bloscCompressors = map[string]bloscCompressor{
	"blosclz": {bloscBlosclz, false},
	"lz4":     {bloscLZ4, false},
	"lz4hc":   {bloscLZ4, true},
	"snappy":  {bloscSnappy, false},
	"zlib":    {bloscZlib, true},
	"zstd":    {bloscZstd, true},
}

// BloscEncode compresses src into a Blosc 1.x frame that c-blosc 1.x and
// numcodecs' Blosc codec decode. It chooses block sizes and splits blocks
// into streams as c-blosc 1.21 does (so the headers match c-blosc's), and,
// like c-blosc, stores the data uncompressed when the level is 0, when src
// is shorter than 128 bytes or when compressing does not make it smaller.
// The compressed bytes themselves differ from c-blosc's: the compressors
// are Go implementations. Compressors "zstd", "lz4", "lz4hc", "zlib" and
// "blosclz" are supported.
func BloscEncode(src []byte, o BloscOptions) ([]byte, error) {
	comp, ok := bloscCompressors[o.Compressor]
	switch {
	case !ok:
		return nil, fmt.Errorf("codec: blosc: unknown compressor %q, want zstd, lz4, lz4hc, zlib or blosclz", o.Compressor)
	case comp.format == bloscSnappy:
		return nil, fmt.Errorf("codec: blosc: snappy compressor: %w", ErrUnsupported)
	case o.Level < 0 || o.Level > 9:
		return nil, fmt.Errorf("codec: blosc: level %d is outside 0..9", o.Level)
	case o.Shuffle < 0 || o.Shuffle > 2:
		return nil, fmt.Errorf("codec: blosc: shuffle %d, want 0 (none), 1 (byte) or 2 (bit)", o.Shuffle)
	case o.TypeSize < 1 || o.TypeSize > bloscMaxTypeSize:
		return nil, fmt.Errorf("codec: blosc: type size %d is outside 1..%d", o.TypeSize, bloscMaxTypeSize)
	case o.BlockSize < 0:
		return nil, fmt.Errorf("codec: blosc: block size %d is negative", o.BlockSize)
	case len(src) > bloscMaxBuffer:
		return nil, fmt.Errorf("codec: blosc: %d bytes, more than Blosc's limit of %d", len(src), bloscMaxBuffer)
	}
	n, ts := len(src), o.TypeSize
	blocksize := bloscBlocksize(comp, o.Level, ts, n, o.BlockSize)
	flags := byte(comp.format << 5)
	switch o.Shuffle {
	case 1:
		flags |= bloscFlagShuffle
	case 2:
		flags |= bloscFlagBitShuffle
	}
	split := bloscSplit(comp, ts, blocksize)
	if !split {
		flags |= bloscFlagDontSplit
	}
	header := func(dst []byte, flags byte) {
		dst[0] = bloscVersion
		dst[1] = 1 // every compressor's format version in c-blosc 1.x
		dst[2] = flags
		dst[3] = byte(ts)
		binary.LittleEndian.PutUint32(dst[4:], uint32(n))
		binary.LittleEndian.PutUint32(dst[8:], uint32(blocksize))
	}
	if o.Level > 0 && n >= bloscMinBuffer {
		out, err := bloscCompressBlocks(src, o, comp, blocksize, split)
		if err != nil {
			return nil, err
		}
		if out != nil {
			header(out, flags)
			binary.LittleEndian.PutUint32(out[12:], uint32(len(out)))
			return out, nil
		}
	}
	// Stored uncompressed.
	out := make([]byte, bloscHeaderSize+n)
	header(out, flags|bloscFlagMemcpyed)
	binary.LittleEndian.PutUint32(out[12:], uint32(len(out)))
	copy(out[bloscHeaderSize:], src)
	return out, nil
}

// bloscBlocksize is c-blosc 1.21's compute_blocksize.
func bloscBlocksize(comp bloscCompressor, level, ts, n, forced int) int {
	if n < ts {
		return 1
	}
	bs := n
	if forced != 0 {
		bs = max(forced, bloscMinBuffer)
	} else if n >= bloscL1 {
		bs = bloscL1
		if comp.hcr {
			bs *= 2
		}
		switch level {
		case 0:
			bs /= 4
		case 1:
			bs /= 2
		case 2:
		case 3:
			bs *= 2
		case 4, 5:
			bs *= 4
		case 6, 7, 8:
			bs *= 8
		case 9:
			bs *= 8
			if comp.hcr {
				bs *= 2
			}
		}
	}
	// Splitting codecs get blocks of 64 KiB to 1 MiB, scaled by the type
	// size.
	if level > 0 && bloscSplit(comp, ts, bs) {
		bs = min(bs, 1<<18) * ts
		bs = min(max(bs, 1<<16), 1<<20)
	}
	bs = min(bs, n)
	if bs > ts {
		bs = bs / ts * ts
	}
	return bs
}

// bloscSplit is c-blosc 1.21's split_block in its default mode
// (BLOSC_FORWARD_COMPAT_SPLIT): every compressor but zstd splits blocks
// into type-size streams when the type size is at most 16 and the streams
// are at least 128 bytes.
func bloscSplit(comp bloscCompressor, ts, blocksize int) bool {
	return comp.format != bloscZstd && ts <= bloscMaxSplits && blocksize/ts >= bloscMinBuffer
}

// bloscCompressBlocks compresses the blocks of a frame and returns the
// frame with room for its header, or nil when it would not be smaller than
// the data stored uncompressed.
func bloscCompressBlocks(src []byte, o BloscOptions, comp bloscCompressor, blocksize int, split bool) ([]byte, error) {
	n, ts := len(src), o.TypeSize
	nblocks := (n-1)/blocksize + 1
	limit := n + bloscHeaderSize // what the uncompressed frame takes
	tableEnd := bloscHeaderSize + 4*nblocks
	if tableEnd >= limit {
		return nil, nil
	}
	out := make([]byte, tableEnd, limit)
	enc, err := newBloscStreamEncoder(o, comp)
	if err != nil {
		return nil, err
	}
	defer enc.release()
	var tmp []byte
	if (o.Shuffle == 1 && ts > 1) || o.Shuffle == 2 {
		tmp = make([]byte, min(blocksize, n))
	}
	for j := range nblocks {
		binary.LittleEndian.PutUint32(out[bloscHeaderSize+4*j:], uint32(len(out)))
		off := j * blocksize
		block := src[off:min(off+blocksize, n)]
		leftover := len(block) < blocksize
		switch {
		case o.Shuffle == 1 && ts > 1:
			byteShuffle(tmp[:len(block)], block, ts)
			block = tmp[:len(block)]
		case o.Shuffle == 2:
			bitShuffle(tmp[:len(block)], block, ts)
			block = tmp[:len(block)]
		}
		nsplits := 1
		if split && !leftover {
			nsplits = ts
		}
		neblock := len(block) / nsplits
		for s := range nsplits {
			stream := block[s*neblock : (s+1)*neblock]
			c, err := enc.compress(stream)
			if err != nil {
				return nil, err
			}
			if len(c) == 0 || len(c) >= neblock {
				c = stream // incompressible: stored, its length says so
			}
			if len(out)+4+len(c) > limit {
				return nil, nil
			}
			out = binary.LittleEndian.AppendUint32(out, uint32(len(c)))
			out = append(out, c...)
		}
	}
	return out, nil
}

// bloscStreamEncoder compresses the streams of one frame.
type bloscStreamEncoder struct {
	o     BloscOptions
	comp  bloscCompressor
	buf   []byte
	lz4   *lz4.Compressor
	lz4hc *lz4.CompressorHC
	htab  []int32 // blosclz's match finder
}

var (
	lz4Compressors   = sync.Pool{New: func() any { return new(lz4.Compressor) }}
	lz4HCCompressors = sync.Pool{New: func() any { return new(lz4.CompressorHC) }}
)

// newBloscStreamEncoder prepares the compressor of o.
func newBloscStreamEncoder(o BloscOptions, comp bloscCompressor) (*bloscStreamEncoder, error) {
	e := &bloscStreamEncoder{o: o, comp: comp}
	switch {
	case o.Compressor == "lz4":
		e.lz4 = lz4Compressors.Get().(*lz4.Compressor)
	case o.Compressor == "lz4hc":
		e.lz4hc = lz4HCCompressors.Get().(*lz4.CompressorHC)
		e.lz4hc.Level = lz4.Level1 << (o.Level - 1) // c-blosc hands its level to LZ4HC
	case comp.format == bloscZstd:
		// c-blosc maps its levels 1…9 onto zstd's 1, 3, …, 15 and 22.
		level := 2*o.Level - 1
		if o.Level == 9 {
			level = 22
		}
		if _, err := zstdEncoder(level); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// release returns pooled compressors.
func (e *bloscStreamEncoder) release() {
	if e.lz4 != nil {
		lz4Compressors.Put(e.lz4)
	}
	if e.lz4hc != nil {
		lz4HCCompressors.Put(e.lz4hc)
	}
}

// compress compresses one stream. The result is only valid until the next
// call; an empty result means the stream is incompressible.
func (e *bloscStreamEncoder) compress(stream []byte) ([]byte, error) {
	switch {
	case e.lz4 != nil || e.lz4hc != nil:
		bound := lz4.CompressBlockBound(len(stream))
		if cap(e.buf) < bound {
			e.buf = make([]byte, bound)
		}
		var k int
		var err error
		if e.lz4 != nil {
			k, err = e.lz4.CompressBlock(stream, e.buf[:bound])
		} else {
			k, err = e.lz4hc.CompressBlock(stream, e.buf[:bound])
		}
		if err != nil {
			return nil, fmt.Errorf("codec: blosc: %s: %w", e.o.Compressor, err)
		}
		return e.buf[:k], nil
	case e.comp.format == bloscZlib:
		return ZlibEncode(stream, e.o.Level)
	case e.comp.format == bloscZstd:
		level := 2*e.o.Level - 1
		if e.o.Level == 9 {
			level = 22
		}
		z, err := zstdEncoder(level)
		if err != nil {
			return nil, err
		}
		e.buf = z.EncodeAll(stream, e.buf[:0])
		return e.buf, nil
	case e.comp.format == bloscBlosclz:
		if e.htab == nil {
			e.htab = make([]int32, 1<<blosclzHashLog)
		}
		e.buf = blosclzCompress(stream, e.buf[:0], e.htab)
		return e.buf, nil
	}
	return nil, fmt.Errorf("codec: blosc: %s compressor: %w", e.o.Compressor, ErrUnsupported)
}
