// Package codec holds the compression codecs of chunked microscopy formats
// (Zarr v2 and v3, N5): zstd, gzip, zlib and the Blosc 1.x frame format with
// its blosclz, lz4, lz4hc, zlib and zstd compressors and its byte and bit
// shuffles.
//
// Every decoder takes size, the decoded size the caller expects (from the
// chunk shape and the data type), and fails when the data decodes to
// anything else. Decoders never allocate more than size plus a small
// constant for their output, whatever the headers in the data say, and
// return errors, never panic, on corrupt, truncated or lying input.
package codec

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// maxSlack is the most a decoder allocates beyond the expected size for its
// output buffer.
const maxSlack = 64

// checkSize rejects expected sizes no buffer can hold.
func checkSize(name string, size int) error {
	if size < 0 {
		return fmt.Errorf("codec: %s: expected size %d is negative", name, size)
	}
	if size > math.MaxInt-maxSlack {
		return fmt.Errorf("codec: %s: expected size %d is too large", name, size)
	}
	return nil
}

// Upper bounds on how many bytes one byte of compressed data decodes to,
// with room to spare: deflate's limit is 1032:1, and a zstd RLE block of
// 128 KiB takes 4 bytes.
const (
	deflateMaxRatio = 1100
	zstdMaxRatio    = 1 << 16
)

// checkRatio rejects an expected size that srcLen bytes cannot decode to,
// before a buffer of that size is allocated.
func checkRatio(name string, srcLen, size int, ratio int64) error {
	if int64(size) > int64(srcLen)*ratio+1024 {
		return fmt.Errorf("codec: %s: %d bytes of data cannot decode to %d bytes", name, srcLen, size)
	}
	return nil
}

// readExact reads exactly size bytes from r, the decompressing reader of a
// whole stream, and checks that the stream ends there. It allocates size
// bytes and no more.
func readExact(name string, r io.Reader, size, srcLen int) ([]byte, error) {
	buf := make([]byte, size)
	if err := readFull(name, r, buf, srcLen); err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	return buf, nil
}

// readFull fills dst from r, the decompressing reader of a whole stream,
// and checks that the stream ends there. Its errors start with name. Reading to the end also makes
// gzip and zlib readers verify their checksums.
func readFull(name string, r io.Reader, dst []byte, srcLen int) error {
	n := 0
	for n < len(dst) {
		m, err := r.Read(dst[n:])
		n += m
		if err == io.EOF {
			if n < len(dst) {
				return fmt.Errorf("%s: data decodes to %d bytes, want %d", name, n, len(dst))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: corrupt or truncated data after %d decoded bytes: %w", name, n, err)
		}
	}
	// The output is full: the stream must end now. A reader may return
	// (0, nil) while it consumes empty blocks; each consumes input, so the
	// loop is bounded by the input length.
	var one [1]byte
	for range 8*srcLen + 16 {
		m, err := r.Read(one[:])
		if m > 0 {
			return fmt.Errorf("%s: data decodes to more than %d bytes", name, len(dst))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: corrupt or truncated data after %d decoded bytes: %w", name, n, err)
		}
	}
	return fmt.Errorf("%s: stream does not end after %d decoded bytes", name, n)
}

// ErrUnsupported is wrapped by the errors of data that uses a feature of
// its format this package does not implement, such as Blosc's snappy
// compressor: the data may be valid, but cannot be read here.
var ErrUnsupported = errors.New("not supported")
