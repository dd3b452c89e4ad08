package codec

import (
	"encoding/binary"
	"errors"
)

// BloscLZ is Blosc's own LZ77 format, derived from FastLZ level 1. A
// stream is a sequence of tokens; the first byte's top three bits are a
// marker and are ignored. A control byte c below 32 starts a literal run of
// c+1 bytes. Otherwise it starts a match: the length is (c>>5)+2, where a
// length field of 7 continues with bytes that add their value until one is
// not 255; the distance is ((c&31)<<8) + the next byte + 1, and a distance
// byte of 255 with c&31 == 31 is followed by a 16-bit big-endian distance
// to which 8191+1 is added. The stream always ends with a literal run.

// blosclzMaxDistance is the largest distance of a short match.
const blosclzMaxDistance = 8191

var (
	errBlosclzTruncated = errors.New("blosclz: stream ends inside a token")
	errBlosclzOverrun   = errors.New("blosclz: data decodes to more than the block")
	errBlosclzDistance  = errors.New("blosclz: match reaches before the start of the block")
)

// blosclzDecompress decodes a BloscLZ stream into dst, which must be as
// long as the decoded block, and returns the number of bytes decoded. It
// accepts exactly the streams c-blosc 1.21's decompressor accepts: a match
// as the last token is an error there too.
func blosclzDecompress(src, dst []byte) (int, error) {
	if len(src) == 0 {
		return 0, errBlosclzTruncated
	}
	ip, op := 1, 0
	ctrl := int(src[0] & 31)
	for {
		if ctrl < 32 {
			n := ctrl + 1
			if op+n > len(dst) {
				return op, errBlosclzOverrun
			}
			if ip+n > len(src) {
				return op, errBlosclzTruncated
			}
			copy(dst[op:op+n], src[ip:ip+n])
			op += n
			ip += n
			if ip >= len(src) {
				return op, nil
			}
			ctrl = int(src[ip])
			ip++
			continue
		}
		length := ctrl>>5 - 1
		ofs := (ctrl & 31) << 8
		if length == 6 {
			for {
				if ip+1 >= len(src) {
					return op, errBlosclzTruncated
				}
				code := src[ip]
				ip++
				length += int(code)
				if code != 255 {
					break
				}
			}
		} else if ip+1 >= len(src) {
			return op, errBlosclzTruncated
		}
		code := int(src[ip])
		ip++
		length += 3
		ref := op - ofs - code
		if code == 255 && ofs == 31<<8 {
			if ip+1 >= len(src) {
				return op, errBlosclzTruncated
			}
			ofs = int(src[ip])<<8 | int(src[ip+1])
			ip += 2
			ref = op - ofs - blosclzMaxDistance
		}
		ref--
		if op+length > len(dst) {
			return op, errBlosclzOverrun
		}
		if ref < 0 {
			return op, errBlosclzDistance
		}
		if ip >= len(src) {
			return op, errBlosclzTruncated
		}
		ctrl = int(src[ip])
		ip++
		// Copy from a growing window: each pass copies what lies
		// between ref and op, which repeats with the match's period, so
		// runs and short periods take a few doubling passes.
		end := op + length
		for op < end {
			op += copy(dst[op:end], dst[ref:op])
		}
	}
}

// blosclzHashLog is the size of the compressor's match-finder table.
const blosclzHashLog = 13

// blosclzCompress appends the BloscLZ encoding of src to dst and returns
// it. It is a greedy single-probe LZ77 compressor: it finds fewer matches
// than c-blosc's, but writes streams any BloscLZ decompressor reads. htab
// is scratch space of 1<<blosclzHashLog entries. The result may be longer
// than src; the caller then stores src instead.
func blosclzCompress(src, dst []byte, htab []int32) []byte {
	n := len(src)
	if n == 0 {
		return dst
	}
	clear(htab)
	start := len(dst)
	const maxFar = blosclzMaxDistance + 0xffff + 1
	ip, anchor := 0, 0
	// Matching stops early enough that the stream ends with a literal,
	// as decompressors require, and that 4-byte reads stay in src.
	limit := n - 12
	for ip < limit {
		v := binary.LittleEndian.Uint32(src[ip:])
		h := (v * 2654435761) >> (32 - blosclzHashLog)
		ref := int(htab[h]) - 1
		htab[h] = int32(ip + 1)
		d := ip - ref
		if ref < 0 || d > maxFar || binary.LittleEndian.Uint32(src[ref:]) != v {
			ip++
			continue
		}
		length := 4
		for ip+length < n-1 && src[ref+length] == src[ip+length] {
			length++
		}
		dst = blosclzLiterals(dst, src[anchor:ip])
		dst = blosclzMatch(dst, length, d)
		ip += length
		anchor = ip
	}
	dst = blosclzLiterals(dst, src[anchor:])
	dst[start] |= 1 << 5 // c-blosc's marker; decompressors ignore it
	return dst
}

// blosclzLiterals appends lit as literal runs of at most 32 bytes.
func blosclzLiterals(dst, lit []byte) []byte {
	for len(lit) > 0 {
		k := min(len(lit), 32)
		dst = append(dst, byte(k-1))
		dst = append(dst, lit[:k]...)
		lit = lit[k:]
	}
	return dst
}

// blosclzMatch appends a match of length ≥ 3 at distance d ≥ 1.
func blosclzMatch(dst []byte, length, d int) []byte {
	dd := d - 1
	hi, code := dd>>8, dd&255
	far := dd >= blosclzMaxDistance
	if far {
		hi, code = 31, 255
	}
	if length <= 8 {
		dst = append(dst, byte((length-2)<<5|hi))
	} else {
		dst = append(dst, byte(7<<5|hi))
		rest := length - 9
		for ; rest >= 255; rest -= 255 {
			dst = append(dst, 255)
		}
		dst = append(dst, byte(rest))
	}
	dst = append(dst, byte(code))
	if far {
		dd -= blosclzMaxDistance
		dst = append(dst, byte(dd>>8), byte(dd))
	}
	return dst
}
