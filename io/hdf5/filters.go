package hdf5

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/niiv/niiv/io/codec"
)

// unfilter reverses the filter pipeline on the stored bytes of one chunk,
// skipping the filters whose bit is set in mask, and returns the chunk's
// n bytes.
func unfilter(pipeline []filter, elemSize int, raw []byte, mask uint32, n int) ([]byte, error) {
	// sizes[k] is the size of the data filter k was given when the chunk
	// was written; -1 when a compressor before it made it unknown.
	sizes := make([]int, len(pipeline)+1)
	sizes[0] = n
	for k, fl := range pipeline {
		switch {
		case sizes[k] < 0 || mask&(1<<k) != 0 || fl.id == filterShuffle:
			sizes[k+1] = sizes[k]
		case fl.id == filterFletcher32:
			sizes[k+1] = sizes[k] + 4
		default:
			sizes[k+1] = -1
		}
	}
	b := raw
	for k := len(pipeline) - 1; k >= 0; k-- {
		if mask&(1<<k) != 0 {
			continue
		}
		fl := pipeline[k]
		want := sizes[k]
		if want < 0 && fl.id != filterShuffle && fl.id != filterFletcher32 {
			return nil, unsupported("the %v filter after another compression filter", fl)
		}
		var err error
		switch fl.id {
		case filterDeflate:
			b, err = codec.ZlibDecode(b, want)
			err = codecError("deflate", err)
		case filterShuffle:
			size := elemSize
			if len(fl.cd) > 0 {
				size = int(fl.cd[0])
			}
			b = unshuffle(b, size)
		case filterFletcher32:
			b, err = fletcher32Check(b)
		case filterLZF:
			b, err = lzfDecode(b, want)
		case filterBlosc:
			b, err = codec.BloscDecode(b, want)
			err = codecError("blosc", err)
		case filterZstd:
			b, err = codec.ZstdDecode(b, want)
			err = codecError("zstd", err)
		default:
			err = unsupported("the %v filter is not supported", fl)
		}
		if err != nil {
			return nil, err
		}
		if want >= 0 && len(b) != want {
			return nil, corrupt("%v filter gave %d bytes, want %d", fl, len(b), want)
		}
	}
	if len(b) != n {
		return nil, corrupt("chunk stored in %d bytes, want %d", len(b), n)
	}
	return b, nil
}

// codecError returns the error of a decoder of package codec as one of
// this package's kinds, named after the filter.
func codecError(filter string, err error) error {
	if err == nil {
		return nil
	}
	msg := filter + ": " + strings.TrimPrefix(err.Error(), "codec: ")
	if errors.Is(err, codec.ErrUnsupported) {
		return &kindError{ErrUnsupported, errors.New(msg)}
	}
	return &kindError{ErrFormat, errors.New(msg)}
}

// unshuffle reverses HDF5's shuffle filter for elements of size bytes: the
// data holds byte 0 of every element, then byte 1 of every element…, then
// the bytes left over after the last whole element.
func unshuffle(src []byte, size int) []byte {
	n := len(src) / max(size, 1)
	if size <= 1 || n <= 1 {
		return src
	}
	dst := make([]byte, len(src))
	for j := range size {
		s := src[j*n : (j+1)*n]
		for i, c := range s {
			dst[i*size+j] = c
		}
	}
	copy(dst[n*size:], src[n*size:])
	return dst
}

// fletcher32Check verifies the Fletcher-32 checksum HDF5's fletcher32
// filter appends, and returns the data before it.
func fletcher32Check(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, corrupt("fletcher32: %d bytes, too short for a checksum", len(b))
	}
	data := b[:len(b)-4]
	stored := binary.LittleEndian.Uint32(b[len(b)-4:])
	sum := fletcher32(data)
	// Files from HDF5 before 1.8 store it with its bytes in another order.
	swapped := sum>>24 | sum>>8&0xff00 | sum<<8&0xff0000 | sum<<24
	if stored != sum && stored != swapped {
		return nil, corrupt("fletcher32: checksum %08x, computed %08x", stored, sum)
	}
	return data, nil
}

// fletcher32 is HDF5's Fletcher-32 checksum (H5_checksum_fletcher32): sums
// of big-endian 16-bit words.
func fletcher32(b []byte) uint32 {
	var s1, s2 uint32
	n := len(b) / 2
	for n > 0 {
		t := min(n, 360)
		n -= t
		for range t {
			s1 += uint32(b[0])<<8 | uint32(b[1])
			b = b[2:]
			s2 += s1
		}
		s1 = s1&0xffff + s1>>16
		s2 = s2&0xffff + s2>>16
	}
	if len(b) > 0 { // an odd byte
		s1 += uint32(b[0]) << 8
		s2 += s1
		s1 = s1&0xffff + s1>>16
		s2 = s2&0xffff + s2>>16
	}
	s1 = s1&0xffff + s1>>16
	s2 = s2&0xffff + s2>>16
	return s2<<16 | s1
}

// lzfMaxRatio bounds how many bytes one byte of LZF data decodes to: a
// 3-byte back reference copies at most 264 bytes.
const lzfMaxRatio = 100

// lzfDecode decodes LZF data (h5py's lzf filter) that must decode to
// exactly size bytes.
func lzfDecode(src []byte, size int) ([]byte, error) {
	if size > len(src)*lzfMaxRatio+64 {
		return nil, corrupt("lzf: %d bytes cannot decode to %d", len(src), size)
	}
	out := make([]byte, size)
	ip, op := 0, 0
	for ip < len(src) {
		ctrl := int(src[ip])
		ip++
		if ctrl < 32 { // a run of ctrl+1 literal bytes
			n := ctrl + 1
			if ip+n > len(src) {
				return nil, corrupt("lzf: literal run past the end of the data")
			}
			if op+n > size {
				return nil, corrupt("lzf: data decodes to more than %d bytes", size)
			}
			copy(out[op:], src[ip:ip+n])
			ip += n
			op += n
			continue
		}
		n := ctrl >> 5
		if n == 7 {
			if ip >= len(src) {
				return nil, corrupt("lzf: truncated back reference")
			}
			n += int(src[ip])
			ip++
		}
		if ip >= len(src) {
			return nil, corrupt("lzf: truncated back reference")
		}
		ref := op - (ctrl&0x1f)<<8 - 1 - int(src[ip])
		ip++
		n += 2
		if ref < 0 {
			return nil, corrupt("lzf: back reference before the start of the data")
		}
		if op+n > size {
			return nil, corrupt("lzf: data decodes to more than %d bytes", size)
		}
		for range n { // the copy may overlap itself
			out[op] = out[ref]
			op++
			ref++
		}
	}
	if op != size {
		return nil, corrupt("lzf: data decodes to %d bytes, want %d", op, size)
	}
	return out, nil
}
