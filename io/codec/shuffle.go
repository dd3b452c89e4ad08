package codec

import "encoding/binary"

// This file holds Blosc's byte and bit shuffles and their inverses, with
// the layouts of c-blosc 1.x.
//
// Byte shuffle: a block of n = len/ts elements of ts bytes becomes ts
// streams of n bytes, stream j holding byte j of every element; the
// len%ts bytes left over after the last whole element are copied as they
// are.
//
// Bit shuffle (the bitshuffle library's bit-transpose within elements):
// when n is a multiple of 8, the block becomes 8·ts rows of n/8 bytes, row
// 8j+k holding bit k of byte j of every element, element i at bit i%8 of
// byte i/8; the leftover bytes are copied as they are. When n is not a
// multiple of 8, c-blosc leaves the whole block unshuffled.

// byteUnshuffle reverses Blosc's byte shuffle of src (one block) into dst,
// which has the same length.
func byteUnshuffle(dst, src []byte, ts int) {
	n := len(src) / ts
	body := n * ts
	copy(dst[body:len(src)], src[body:])
	if ts == 1 || n == 0 {
		copy(dst[:body], src[:body])
		return
	}
	i := 0
	switch ts {
	case 2:
		s0, s1 := src[:n], src[n:2*n]
		for ; i+8 <= n; i += 8 {
			lo, hi := zip8(le64(s0[i:]), le64(s1[i:]))
			d := dst[2*i : 2*i+16]
			binary.LittleEndian.PutUint64(d, lo)
			binary.LittleEndian.PutUint64(d[8:], hi)
		}
	case 4:
		s0, s1, s2, s3 := src[:n], src[n:2*n], src[2*n:3*n], src[3*n:4*n]
		for ; i+8 <= n; i += 8 {
			unzip4(dst[4*i:4*i+32], le64(s0[i:]), le64(s1[i:]), le64(s2[i:]), le64(s3[i:]))
		}
	case 8:
		var s [8]uint64
		for ; i+8 <= n; i += 8 {
			for j := range s {
				s[j] = le64(src[j*n+i:])
			}
			unzip8(dst[8*i:8*i+64], &s)
		}
	}
	// The elements the word loops above left, or all of them for other
	// type sizes.
	if i == n {
		return
	}
	for j := 0; j < ts; j++ {
		s := src[j*n+i : j*n+n]
		d := dst[i*ts+j : body]
		for k, b := range s {
			d[k*ts] = b
		}
	}
}

// byteShuffle applies Blosc's byte shuffle to src (one block) into dst,
// which has the same length.
func byteShuffle(dst, src []byte, ts int) {
	n := len(src) / ts
	body := n * ts
	copy(dst[body:len(src)], src[body:])
	if ts == 1 || n == 0 {
		copy(dst[:body], src[:body])
		return
	}
	for j := 0; j < ts; j++ {
		d := dst[j*n : j*n+n]
		s := src[j:body]
		for k := range d {
			d[k] = s[k*ts]
		}
	}
}

// bitUnshuffle reverses Blosc's bit shuffle of src (one block) into dst,
// which has the same length.
func bitUnshuffle(dst, src []byte, ts int) {
	n := len(src) / ts
	if n%8 != 0 {
		copy(dst, src[:len(dst)])
		return
	}
	body := n * ts
	copy(dst[body:len(src)], src[body:])
	r := n / 8 // bytes per bit row
	var w [8][8]uint64
	g := 0
	// Eight groups of eight elements at a time: for each byte position j,
	// load a word from each of its eight bit rows and transpose them (see
	// loadGroups), then assemble whole elements.
	for ; g+8 <= r; g += 8 {
		if ts <= 8 {
			for j := 0; j < ts; j++ {
				loadGroups(&w[j], src[j*8*r:], r, g)
			}
			for q := 0; q < 8; q++ {
				storeGroup(dst[(g+q)*8*ts:(g+q+1)*8*ts], &w, q, ts)
			}
			continue
		}
		for j := 0; j < ts; j++ {
			a := &w[0]
			loadGroups(a, src[j*8*r:], r, g)
			for q, x := range a {
				d := dst[(g+q)*8*ts+j:]
				for m := 0; m < 8; m++ {
					d[m*ts] = byte(x >> (8 * m))
				}
			}
		}
	}
	// The remaining groups, one at a time.
	for ; g < r; g++ {
		for j := 0; j < ts; j++ {
			var x uint64
			for k := 0; k < 8; k++ {
				x |= uint64(src[(j*8+k)*r+g]) << (8 * k)
			}
			x = transpose8x8Bits(x)
			d := dst[g*8*ts+j:]
			for m := 0; m < 8; m++ {
				d[m*ts] = byte(x >> (8 * m))
			}
		}
	}
}

// loadGroups reads the eight bit rows of one byte position, rows[k·r:]
// for k = 0…7, at groups g…g+7 and turns them into a[q]: byte m of a[q] is
// that byte of element m of group g+q. It transposes the 8×8 bytes so that
// each word holds one group's eight rows, then each word's 8×8 bits.
func loadGroups(a *[8]uint64, rows []byte, r, g int) {
	for k := range a {
		a[k] = le64(rows[k*r+g:])
	}
	transpose8x8Bytes(a)
	for q := range a {
		a[q] = transpose8x8Bits(a[q])
	}
}

// storeGroup writes group q of w, where w[j][q] holds byte j of the
// group's eight elements, as eight whole elements of ts ≤ 8 bytes.
func storeGroup(d []byte, w *[8][8]uint64, q, ts int) {
	switch ts {
	case 1:
		binary.LittleEndian.PutUint64(d, w[0][q])
	case 2:
		lo, hi := zip8(w[0][q], w[1][q])
		binary.LittleEndian.PutUint64(d, lo)
		binary.LittleEndian.PutUint64(d[8:], hi)
	case 4:
		unzip4(d, w[0][q], w[1][q], w[2][q], w[3][q])
	case 8:
		s := [8]uint64{w[0][q], w[1][q], w[2][q], w[3][q], w[4][q], w[5][q], w[6][q], w[7][q]}
		unzip8(d, &s)
	default:
		for j := 0; j < ts; j++ {
			x := w[j][q]
			for m := 0; m < 8; m++ {
				d[m*ts+j] = byte(x >> (8 * m))
			}
		}
	}
}

// bitShuffle applies Blosc's bit shuffle to src (one block) into dst,
// which has the same length.
func bitShuffle(dst, src []byte, ts int) {
	n := len(src) / ts
	if n%8 != 0 {
		copy(dst, src[:len(dst)])
		return
	}
	body := n * ts
	copy(dst[body:len(src)], src[body:])
	r := n / 8
	for g := 0; g < r; g++ {
		e := src[g*8*ts : (g+1)*8*ts]
		for j := 0; j < ts; j++ {
			var x uint64
			for m := 0; m < 8; m++ {
				x |= uint64(e[m*ts+j]) << (8 * m)
			}
			x = transpose8x8Bits(x)
			for k := 0; k < 8; k++ {
				dst[(j*8+k)*r+g] = byte(x >> (8 * k))
			}
		}
	}
}

// transpose8x8Bits transposes the 8×8 bit matrix whose row k is byte k
// of x: bit m of byte k moves to bit k of byte m.
func transpose8x8Bits(x uint64) uint64 {
	t := (x ^ (x >> 7)) & 0x00AA00AA00AA00AA
	x ^= t ^ (t << 7)
	t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCC
	x ^= t ^ (t << 14)
	t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0
	x ^= t ^ (t << 28)
	return x
}

// transpose8x8Bytes transposes the 8×8 byte matrix whose row k is a[k]:
// byte q of a[k] moves to byte k of a[q].
func transpose8x8Bytes(a *[8]uint64) {
	for k := 0; k < 8; k += 2 {
		t := ((a[k] >> 8) ^ a[k+1]) & 0x00FF00FF00FF00FF
		a[k+1] ^= t
		a[k] ^= t << 8
	}
	for _, k := range [4]int{0, 1, 4, 5} {
		t := ((a[k] >> 16) ^ a[k+2]) & 0x0000FFFF0000FFFF
		a[k+2] ^= t
		a[k] ^= t << 16
	}
	for k := 0; k < 4; k++ {
		t := ((a[k] >> 32) ^ a[k+4]) & 0x00000000FFFFFFFF
		a[k+4] ^= t
		a[k] ^= t << 32
	}
}

// le64 reads a little-endian word.
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// spread8 moves byte b of x to byte 2b.
func spread8(x uint32) uint64 {
	y := uint64(x)
	y = (y | y<<16) & 0x0000FFFF0000FFFF
	return (y | y<<8) & 0x00FF00FF00FF00FF
}

// spread16 moves 16-bit unit u of x to unit 2u.
func spread16(x uint32) uint64 {
	y := uint64(x)
	return (y | y<<16) & 0x0000FFFF0000FFFF
}

// zip8 interleaves the bytes of a and b: a0 b0 a1 b1 … a7 b7.
func zip8(a, b uint64) (lo, hi uint64) {
	// Spread both words' bytes at once: a's to the even bytes of lo and
	// hi, b's to the odd ones.
	const m16, m8 = 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF
	alo, ahi := a&0xFFFFFFFF, a>>32
	blo, bhi := b&0xFFFFFFFF, b>>32
	alo = (alo | alo<<16) & m16
	ahi = (ahi | ahi<<16) & m16
	blo = (blo | blo<<16) & m16
	bhi = (bhi | bhi<<16) & m16
	lo = (alo|alo<<8)&m8 | ((blo|blo<<8)&m8)<<8
	hi = (ahi|ahi<<8)&m8 | ((bhi|bhi<<8)&m8)<<8
	return lo, hi
}

// zip16 interleaves the 16-bit units of a and b.
func zip16(a, b uint64) (lo, hi uint64) {
	lo = spread16(uint32(a)) | spread16(uint32(b))<<16
	hi = spread16(uint32(a>>32)) | spread16(uint32(b>>32))<<16
	return lo, hi
}

// zip32 interleaves the 32-bit halves of a and b.
func zip32(a, b uint64) (lo, hi uint64) {
	return a&0xFFFFFFFF | b<<32, a>>32 | b&0xFFFFFFFF00000000
}

// unzip4 writes eight 4-byte elements to d from the byte streams s0…s3,
// which hold bytes 0…3 of the elements.
func unzip4(d []byte, s0, s1, s2, s3 uint64) {
	_ = d[31]
	p01lo, p01hi := zip8(s0, s1)
	p23lo, p23hi := zip8(s2, s3)
	e0, e1 := zip16(p01lo, p23lo)
	e2, e3 := zip16(p01hi, p23hi)
	binary.LittleEndian.PutUint64(d, e0)
	binary.LittleEndian.PutUint64(d[8:], e1)
	binary.LittleEndian.PutUint64(d[16:], e2)
	binary.LittleEndian.PutUint64(d[24:], e3)
}

// unzip8 writes eight 8-byte elements to d from the byte streams s[0…7],
// which hold bytes 0…7 of the elements.
func unzip8(d []byte, s *[8]uint64) {
	_ = d[63]
	var p [8]uint64 // byte pairs: p[2c], p[2c+1] from streams 2c, 2c+1
	for c := 0; c < 4; c++ {
		p[2*c], p[2*c+1] = zip8(s[2*c], s[2*c+1])
	}
	var lo, hi [4]uint64 // bytes 0…3 and 4…7, two elements a word
	lo[0], lo[1] = zip16(p[0], p[2])
	lo[2], lo[3] = zip16(p[1], p[3])
	hi[0], hi[1] = zip16(p[4], p[6])
	hi[2], hi[3] = zip16(p[5], p[7])
	for c := 0; c < 4; c++ {
		a, b := zip32(lo[c], hi[c])
		binary.LittleEndian.PutUint64(d[16*c:], a)
		binary.LittleEndian.PutUint64(d[16*c+8:], b)
	}
}
