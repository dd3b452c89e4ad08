package codec

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// GzipDecode decodes src, one or more gzip members, checks their CRCs and
// checks that they decode to exactly size bytes. It allocates size bytes
// for the output and no more.
func GzipDecode(src []byte, size int) ([]byte, error) {
	if err := checkSize("gzip", size); err != nil {
		return nil, err
	}
	if err := checkRatio("gzip", len(src), size, deflateMaxRatio); err != nil {
		return nil, err
	}
	r, err := gzip.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("codec: gzip: header: %w", err)
	}
	defer r.Close()
	return readExact("gzip", r, size, len(src))
}

// GzipEncode compresses src into one gzip member. Level is 0 (stored) to 9
// (smallest), -1 for the default or -2 for Huffman coding only.
func GzipEncode(src []byte, level int) ([]byte, error) {
	if err := checkDeflateLevel("gzip", level); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(src)/2 + 64)
	w, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, fmt.Errorf("codec: gzip: level %d: %w", level, err)
	}
	if _, err := w.Write(src); err != nil {
		return nil, fmt.Errorf("codec: gzip: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("codec: gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// ZlibDecode decodes src, a zlib stream, checks its Adler-32 checksum and
// checks that it decodes to exactly size bytes. It allocates size bytes for
// the output and no more. Bytes after the end of the stream are ignored, as
// zlib itself does.
func ZlibDecode(src []byte, size int) ([]byte, error) {
	return zlibDecode("zlib", src, size)
}

// zlibDecode is ZlibDecode with name as the error prefix.
func zlibDecode(name string, src []byte, size int) ([]byte, error) {
	if err := checkSize(name, size); err != nil {
		return nil, err
	}
	if err := checkRatio(name, len(src), size, deflateMaxRatio); err != nil {
		return nil, err
	}
	r, err := zlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("codec: %s: header: %w", name, err)
	}
	defer r.Close()
	return readExact(name, r, size, len(src))
}

// ZlibEncode compresses src into a zlib stream. Level is 0 (stored) to 9
// (smallest), -1 for the default or -2 for Huffman coding only.
func ZlibEncode(src []byte, level int) ([]byte, error) {
	if err := checkDeflateLevel("zlib", level); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(src)/2 + 64)
	w, err := zlib.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, fmt.Errorf("codec: zlib: level %d: %w", level, err)
	}
	if _, err := w.Write(src); err != nil {
		return nil, fmt.Errorf("codec: zlib: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("codec: zlib: %w", err)
	}
	return buf.Bytes(), nil
}

// checkDeflateLevel accepts the levels of zlib and gzip: -2 (Huffman
// coding only), -1 (the default) and 0 (stored) to 9 (smallest).
func checkDeflateLevel(name string, level int) error {
	if level < -2 || level > 9 {
		return fmt.Errorf("codec: %s: level %d is outside -2..9", name, level)
	}
	return nil
}
