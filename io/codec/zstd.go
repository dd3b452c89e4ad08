package codec

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdDecoder is shared by all callers: DecodeAll is safe for concurrent
// use. It decodes no more than the capacity of the destination buffer, so
// the expected size bounds the output whatever the frames claim.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecodeAllCapLimit(true),
	)
})

// zstdEncoders caches one encoder per speed; EncodeAll is safe for
// concurrent use.
var (
	zstdEncMu    sync.Mutex
	zstdEncoders = map[zstd.EncoderLevel]*zstd.Encoder{}
)

// zstdMinLevel is the lowest (fastest) level the zstd library accepts.
const zstdMinLevel = -(1 << 17)

// zstdEncoder returns the shared encoder for a zstd compression level.
func zstdEncoder(level int) (*zstd.Encoder, error) {
	if level > 22 || level < zstdMinLevel {
		return nil, fmt.Errorf("codec: zstd: level %d is outside %d..22", level, zstdMinLevel)
	}
	if level == 0 {
		level = 3 // zstd's default level
	}
	speed := zstd.EncoderLevelFromZstd(level)
	zstdEncMu.Lock()
	defer zstdEncMu.Unlock()
	if e, ok := zstdEncoders[speed]; ok {
		return e, nil
	}
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(speed),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderConcurrency(1),
		// Always record the content size: numcodecs before 0.13
		// cannot decode frames without it, and the encoder leaves it
		// out for inputs under 256 bytes unless the frame is a single
		// segment.
		zstd.WithSingleSegment(true),
	)
	if err != nil {
		return nil, fmt.Errorf("codec: zstd: encoder: %w", err)
	}
	zstdEncoders[speed] = e
	return e, nil
}

// ZstdDecode decodes src, one or more zstd frames, and checks that they
// decode to exactly size bytes. It allocates at most size plus a small
// constant for the output, whatever the frame headers say.
func ZstdDecode(src []byte, size int) ([]byte, error) {
	return zstdDecode("zstd", src, size)
}

// zstdDecode is ZstdDecode with name as the error prefix.
func zstdDecode(name string, src []byte, size int) ([]byte, error) {
	if err := checkSize(name, size); err != nil {
		return nil, err
	}
	if len(src) == 0 {
		return nil, fmt.Errorf("codec: %s: empty input, want a zstd frame", name)
	}
	if err := checkRatio(name, len(src), size, zstdMaxRatio); err != nil {
		return nil, err
	}
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return nil, fmt.Errorf("codec: %s: frame header: %w", name, err)
	}
	if h.HasFCS && h.FrameContentSize > uint64(size) {
		return nil, fmt.Errorf("codec: %s: header says %d bytes, want %d", name, h.FrameContentSize, size)
	}
	dec, err := zstdDecoder()
	if err != nil {
		return nil, fmt.Errorf("codec: %s: decoder: %w", name, err)
	}
	// One spare byte beyond size lets an overlong stream show itself as
	// such; the rest keeps the decoder on its fast paths.
	dst, err := dec.DecodeAll(src, make([]byte, 0, size+maxSlack))
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, fmt.Errorf("codec: %s: data decodes to more than %d bytes", name, size)
		}
		return nil, fmt.Errorf("codec: %s: %w", name, err)
	}
	if len(dst) != size {
		return nil, fmt.Errorf("codec: %s: data decodes to %d bytes, want %d", name, len(dst), size)
	}
	return dst[:size:size], nil
}

// ZstdEncode compresses src into one zstd frame that records its content
// size. Level follows zstd's scale (1 fastest … 22 smallest, 0 the default
// 3, negative levels the fastest); the encoder maps it onto its four speeds.
func ZstdEncode(src []byte, level int) ([]byte, error) {
	e, err := zstdEncoder(level)
	if err != nil {
		return nil, err
	}
	return e.EncodeAll(src, make([]byte, 0, len(src)/2+64)), nil
}
