package hdf5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// undef is an undefined file address (all bits set in the file).
const undef = math.MaxUint64

// maxMeta bounds the size of one metadata structure read from a file (an
// object header chunk, a B-tree node, a heap block): lying sizes are
// refused instead of allocated. Tests lower it.
var maxMeta int64 = 64 << 20

// file is the superblock of an open HDF5 file and the reader of its bytes.
type file struct {
	r       io.ReaderAt
	size    int64  // bytes in the file
	base    uint64 // absolute offset file addresses are relative to
	sbVer   int    // superblock version
	offSize int    // bytes of a file address
	lenSize int    // bytes of a length
	root    uint64 // address of the root group's object header
	// rootStab is the root group's B-tree and local heap from a version 0
	// or 1 superblock's scratch pad (both undef when absent).
	rootStab [2]uint64
}

// readAt reads n bytes at file address addr (relative to the base), for
// the structure named what.
func (f *file) readAt(addr, n uint64, what string) ([]byte, error) {
	if addr == undef {
		return nil, corrupt("%s: undefined address", what)
	}
	if n > uint64(maxMeta) {
		return nil, corrupt("%s: %d bytes at address %d is more than the %s allowed for one structure", what, n, addr, humanBytes(maxMeta))
	}
	if !f.inFile(addr, n) {
		return nil, corrupt("%s: %d bytes at address %d run past the end of the %d-byte file", what, n, addr, f.size)
	}
	b := make([]byte, n)
	return b, f.readInto(b, addr, what)
}

// readInto fills b from file address addr.
func (f *file) readInto(b []byte, addr uint64, what string) error {
	n := uint64(len(b))
	abs := f.base + addr
	if addr == undef || abs < addr || abs > uint64(f.size) || n > uint64(f.size)-abs {
		return corrupt("%s: %d bytes at address %d run past the end of the %d-byte file", what, n, addr, f.size)
	}
	k, err := f.r.ReadAt(b, int64(abs))
	if k == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return corrupt("%s: %d bytes at address %d run past the end of the file (shortened since it was opened?)", what, n, addr)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// inFile reports whether n bytes at address addr lie inside the file.
func (f *file) inFile(addr, n uint64) bool {
	abs := f.base + addr
	return addr != undef && abs >= addr && abs <= uint64(f.size) && n <= uint64(f.size)-abs
}

// rest returns the bytes from address addr to the end of the file (0 when
// addr is outside it).
func (f *file) rest(addr uint64) uint64 {
	if !f.inFile(addr, 0) {
		return 0
	}
	return uint64(f.size) - (f.base + addr)
}

// dec decodes little-endian fields from a metadata block. Reads past the
// end set err and return zeros; callers check err once at the end.
type dec struct {
	b    []byte
	off  int
	f    *file
	what string
	err  error
}

func (f *file) dec(b []byte, what string) *dec { return &dec{b: b, f: f, what: what} }

// need reports whether n more bytes are there, setting err when not.
func (d *dec) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || n > len(d.b)-d.off {
		d.err = corrupt("%s: truncated (%d bytes needed at byte %d of %d)", d.what, n, d.off, len(d.b))
		return false
	}
	return true
}

func (d *dec) left() int { return len(d.b) - d.off }

func (d *dec) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	b := d.b[d.off : d.off+n]
	d.off += n
	return b
}

func (d *dec) skip(n int) { d.bytes(n) }

func (d *dec) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *dec) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	d.off += 2
	return binary.LittleEndian.Uint16(d.b[d.off-2:])
}

func (d *dec) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	d.off += 4
	return binary.LittleEndian.Uint32(d.b[d.off-4:])
}

func (d *dec) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	d.off += 8
	return binary.LittleEndian.Uint64(d.b[d.off-8:])
}

// uvar decodes an n-byte little-endian unsigned integer (n ≤ 8).
func (d *dec) uvar(n int) uint64 {
	if n > 8 {
		d.err = corrupt("%s: %d-byte integer", d.what, n)
		return 0
	}
	b := d.bytes(n)
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// addr decodes a file address; all bits set is undef.
func (d *dec) addr() uint64 {
	n := d.f.offSize
	v := d.uvar(n)
	if d.err == nil && (n == 8 && v == math.MaxUint64 || n < 8 && v == 1<<(8*n)-1) {
		return undef
	}
	return v
}

// length decodes a length field.
func (d *dec) length() uint64 { return d.uvar(d.f.lenSize) }

// check returns err, or an error when the structure was decoded past its
// end.
func (d *dec) check() error { return d.err }

// findSuperblock returns the offset of the superblock: 0, or 512, 1024,
// 2048… after a user block.
func findSuperblock(r io.ReaderAt, size int64) (int64, error) {
	var sig [8]byte
	for off := int64(0); off+8 <= size; off = max(512, off*2) {
		if n, err := r.ReadAt(sig[:], off); n < 8 {
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, err
			}
			break
		}
		if string(sig[:]) == Signature {
			return off, nil
		}
	}
	if size < 8 {
		return 0, corrupt("the %d-byte file is too short for an HDF5 superblock", size)
	}
	return 0, corrupt("no HDF5 signature at offset 0 or after a user block (512, 1024, 2048… bytes)")
}

// openFile finds and decodes the superblock of the file r of size bytes.
func openFile(r io.ReaderAt, size int64) (*file, error) {
	sb, err := findSuperblock(r, size)
	if err != nil {
		return nil, err
	}
	f := &file{r: r, size: size, base: uint64(sb), rootStab: [2]uint64{undef, undef}}
	head := make([]byte, min(size-sb, 256))
	if _, err := r.ReadAt(head, sb); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("superblock: %w", err)
	}
	if len(head) < 9 {
		return nil, corrupt("superblock: truncated")
	}
	f.sbVer = int(head[8])
	switch f.sbVer {
	case 0, 1:
		err = f.superblock01(head)
	case 2, 3:
		err = f.superblock23(head)
	default:
		err = unsupported("superblock version %d is not supported (versions 0 to 3 are)", f.sbVer)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// sizes checks the sizes of offsets and lengths.
func (f *file) sizes(off, ln byte) error {
	f.offSize, f.lenSize = int(off), int(ln)
	for _, s := range []int{f.offSize, f.lenSize} {
		if s != 2 && s != 4 && s != 8 {
			return corrupt("superblock: sizes of offsets and lengths %d and %d (2, 4 or 8 expected)", off, ln)
		}
	}
	return nil
}

// superblock01 decodes a version 0 or 1 superblock.
func (f *file) superblock01(b []byte) error {
	if len(b) < 24 {
		return corrupt("superblock: truncated")
	}
	if err := f.sizes(b[13], b[14]); err != nil {
		return err
	}
	d := f.dec(b, "superblock")
	d.skip(24)
	if f.sbVer == 1 {
		d.skip(4) // indexed storage internal node K, reserved
	}
	d.addr() // base address: the superblock's position is used, as libhdf5 does
	d.addr() // free-space info
	d.addr() // end of file
	d.addr() // driver info
	// The root group's symbol table entry.
	d.addr() // link name offset
	f.root = d.addr()
	cache := d.u32()
	d.skip(4)
	if cache == 1 {
		f.rootStab[0], f.rootStab[1] = d.addr(), d.addr()
	}
	if err := d.check(); err != nil {
		return err
	}
	if f.root == undef {
		return corrupt("superblock: no root group")
	}
	return nil
}

// superblock23 decodes a version 2 or 3 superblock and checks its checksum.
func (f *file) superblock23(b []byte) error {
	if len(b) < 12 {
		return corrupt("superblock: truncated")
	}
	if err := f.sizes(b[9], b[10]); err != nil {
		return err
	}
	n := 12 + 4*f.offSize
	if len(b) < n+4 {
		return corrupt("superblock: truncated")
	}
	if got, want := lookup3(b[:n]), binary.LittleEndian.Uint32(b[n:]); got != want && !skipChecksums {
		return corrupt("superblock: checksum %08x, computed %08x", want, got)
	}
	d := f.dec(b[:n], "superblock")
	d.skip(12)
	d.addr() // base address
	d.addr() // superblock extension
	d.addr() // end of file
	f.root = d.addr()
	if err := d.check(); err != nil {
		return err
	}
	if f.root == undef {
		return corrupt("superblock: no root group")
	}
	return nil
}

// skipChecksums turns the verification of metadata checksums off, so that
// the fuzzer's mutations reach the structures behind them.
var skipChecksums = false

// checkSum verifies the Jenkins lookup3 checksum in the last 4 bytes of b,
// a metadata block.
func checkSum(b []byte, what string) error {
	if len(b) < 4 {
		return corrupt("%s: truncated", what)
	}
	n := len(b) - 4
	if got, want := lookup3(b[:n]), binary.LittleEndian.Uint32(b[n:]); got != want && !skipChecksums {
		return corrupt("%s: checksum %08x, computed %08x", what, want, got)
	}
	return nil
}

// lookup3 is Bob Jenkins' lookup3 hashlittle with an initial value of 0,
// HDF5's metadata checksum.
func lookup3(k []byte) uint32 {
	n := len(k)
	a := 0xdeadbeef + uint32(n)
	b, c := a, a
	rot := bits.RotateLeft32
	for n > 12 {
		a += binary.LittleEndian.Uint32(k)
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a -= c
		a ^= rot(c, 4)
		c += b
		b -= a
		b ^= rot(a, 6)
		a += c
		c -= b
		c ^= rot(b, 8)
		b += a
		a -= c
		a ^= rot(c, 16)
		c += b
		b -= a
		b ^= rot(a, 19)
		a += c
		c -= b
		c ^= rot(b, 4)
		b += a
		n -= 12
		k = k[12:]
	}
	if n == 0 {
		return c
	}
	var tail [12]byte
	copy(tail[:], k[:n])
	a += binary.LittleEndian.Uint32(tail[:])
	b += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:])
	c ^= b
	c -= rot(b, 14)
	a ^= c
	a -= rot(c, 11)
	b ^= a
	b -= rot(a, 25)
	c ^= b
	c -= rot(b, 16)
	a ^= c
	a -= rot(c, 4)
	b ^= a
	b -= rot(a, 14)
	c ^= b
	c -= rot(b, 24)
	return c
}

// log2 returns the position of the highest set bit of v (0 for 0 and 1).
func log2(v uint64) int {
	if v == 0 {
		return 0
	}
	return bits.Len64(v) - 1
}

// encSize is libhdf5's H5VM_limit_enc_size: the bytes needed to encode
// values up to v.
func encSize(v uint64) int { return log2(v)/8 + 1 }
