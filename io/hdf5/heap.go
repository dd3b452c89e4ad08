package hdf5

import (
	"bytes"
	"fmt"
)

// localHeap is a local heap's data segment: the names of a symbol-table
// group's links.
type localHeap struct {
	data []byte
}

// localHeap reads the local heap at addr.
func (f *file) localHeap(addr uint64) (*localHeap, error) {
	what := fmt.Sprintf("local heap at %d", addr)
	b, err := f.readAt(addr, uint64(8+2*f.lenSize+f.offSize), what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "HEAP" {
		return nil, corrupt("%s: no HEAP signature", what)
	}
	d := f.dec(b, what)
	d.skip(8)
	size := d.length()
	d.length() // free list
	data := d.addr()
	if err := d.check(); err != nil {
		return nil, err
	}
	seg, err := f.readAt(data, size, what+": data segment")
	if err != nil {
		return nil, err
	}
	return &localHeap{seg}, nil
}

// str returns the null-terminated string at offset off.
func (h *localHeap) str(off uint64) (string, error) {
	if off >= uint64(len(h.data)) {
		return "", corrupt("local heap: name offset %d outside the %d-byte heap", off, len(h.data))
	}
	s := h.data[off:]
	i := bytes.IndexByte(s, 0)
	if i < 0 {
		return "", corrupt("local heap: name at offset %d is not terminated", off)
	}
	return string(s[:i]), nil
}

// fheap is a fractal heap: the link messages of a group in dense storage,
// or the attribute messages of an object with many attributes.
type fheap struct {
	f         *file
	addr      uint64
	idLen     int
	filtered  bool
	width     uint64
	start     uint64 // starting block size
	maxDirect uint64 // maximum direct block size
	rootAddr  uint64
	rootRows  int
	offSize   int // bytes of an object's offset in a heap ID
	lenSize   int // bytes of an object's length in a heap ID
	dirRows   int // rows of direct blocks in any indirect block
	firstBits int // log2(start * width)
	blockOff  int // bytes of a block's offset in the heap
	dirCksum  bool
}

// fractalHeap reads the header of the fractal heap at addr.
func (f *file) fractalHeap(addr uint64) (*fheap, error) {
	what := fmt.Sprintf("fractal heap at %d", addr)
	n := uint64(14 + 12*f.lenSize + 3*f.offSize + 8 + 4)
	b, err := f.readAt(addr, n, what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "FRHP" {
		return nil, corrupt("%s: no FRHP signature", what)
	}
	d := f.dec(b, what)
	d.skip(4)
	if v := d.u8(); v != 0 {
		return nil, corrupt("%s: version %d", what, v)
	}
	h := &fheap{f: f, addr: addr}
	h.idLen = int(d.u16())
	filterLen := d.u16()
	flags := d.u8()
	maxMan := d.u32()
	d.length() // next huge object ID
	d.addr()   // huge object B-tree
	d.length() // free space
	d.addr()   // free space manager
	for range 8 {
		d.length() // managed space, allocated, iterator offset, objects; huge and tiny sizes and counts
	}
	h.width = uint64(d.u16())
	h.start = d.length()
	h.maxDirect = d.length()
	maxBits := int(d.u16())
	d.u16() // starting rows of the root indirect block
	h.rootAddr = d.addr()
	h.rootRows = int(d.u16())
	if err := d.check(); err != nil {
		return nil, err
	}
	h.filtered = filterLen > 0
	h.dirCksum = flags&0x02 != 0
	if !h.filtered {
		if err := checkSum(b, what); err != nil {
			return nil, err
		}
	}
	pow2 := func(v uint64) bool { return v != 0 && v&(v-1) == 0 }
	if !pow2(h.width) || !pow2(h.start) || !pow2(h.maxDirect) || h.maxDirect < h.start || maxBits < 1 || maxBits > 64 || h.rootRows > 64 {
		return nil, corrupt("%s: table width %d, block sizes %d and %d, %d-bit heap size, %d root rows", what, h.width, h.start, h.maxDirect, maxBits, h.rootRows)
	}
	h.offSize = (maxBits + 7) / 8
	h.blockOff = h.offSize
	h.lenSize = min((log2(h.maxDirect)+7)/8, encSize(uint64(maxMan)))
	h.dirRows = log2(h.maxDirect) - log2(h.start) + 2
	h.firstBits = log2(h.start) + log2(h.width)
	if h.idLen < 1 || h.idLen > 4096 {
		return nil, corrupt("%s: heap IDs of %d bytes", what, h.idLen)
	}
	return h, nil
}

// rowSize returns the size of the blocks in row r of the doubling table.
func (h *fheap) rowSize(r int) uint64 {
	if r == 0 {
		return h.start
	}
	return h.start << (r - 1)
}

// rowOff returns the offset of row r from the start of its indirect block.
func (h *fheap) rowOff(r int) uint64 {
	if r == 0 {
		return 0
	}
	return (h.start * h.width) << (r - 1)
}

// object returns the heap object whose heap ID is id.
func (h *fheap) object(id []byte) ([]byte, error) {
	what := fmt.Sprintf("fractal heap at %d", h.addr)
	if len(id) == 0 {
		return nil, corrupt("%s: empty heap ID", what)
	}
	if id[0]&0xc0 != 0 {
		return nil, corrupt("%s: heap ID version %d", what, id[0]>>6)
	}
	switch id[0] & 0x30 {
	case 0x00: // managed
	case 0x20: // tiny: the object is in the ID
		n, data := int(id[0]&0x0f)+1, id[1:]
		if h.idLen > 18 {
			if len(id) < 2 {
				return nil, corrupt("%s: truncated tiny heap ID", what)
			}
			n, data = (int(id[0]&0x0f)<<8|int(id[1]))+1, id[2:]
		}
		if n > len(data) {
			return nil, corrupt("%s: tiny object of %d bytes in a %d-byte heap ID", what, n, len(id))
		}
		return data[:n], nil
	case 0x10:
		return nil, unsupported("%s: \"huge\" heap objects are not supported", what)
	default:
		return nil, corrupt("%s: heap ID type %d", what, id[0]>>4&3)
	}
	if h.filtered {
		return nil, unsupported("%s: fractal heaps with I/O filters are not supported", what)
	}
	d := h.f.dec(id, what+": heap ID")
	d.skip(1)
	off, n := d.uvar(h.offSize), d.uvar(h.lenSize)
	if err := d.check(); err != nil {
		return nil, err
	}
	addr, blockOff, blockSize, err := h.locate(off)
	if err != nil {
		return nil, err
	}
	within := off - blockOff
	hdr := uint64(5 + h.f.offSize + h.blockOff)
	if h.dirCksum {
		hdr += 4
	}
	if within < hdr || n > blockSize || within > blockSize-n {
		return nil, corrupt("%s: object at offset %d (%d bytes) outside its %d-byte direct block", what, off, n, blockSize)
	}
	sig, err := h.f.readAt(addr, 4, what+": direct block")
	if err != nil {
		return nil, err
	}
	if string(sig) != "FHDB" {
		return nil, corrupt("%s: direct block at %d has no FHDB signature", what, addr)
	}
	return h.f.readAt(addr+within, n, what+": object")
}

// locate returns the address, heap offset and size of the direct block
// holding heap offset off.
func (h *fheap) locate(off uint64) (addr, blockOff, size uint64, err error) {
	what := fmt.Sprintf("fractal heap at %d", h.addr)
	if h.rootAddr == undef {
		return 0, 0, 0, corrupt("%s: the heap is empty", what)
	}
	if h.rootRows == 0 { // the root is a direct block
		return h.rootAddr, 0, h.start, nil
	}
	iaddr, ioff, nrows := h.rootAddr, uint64(0), h.rootRows
	for range 64 {
		rel := off - ioff
		if off < ioff {
			return 0, 0, 0, corrupt("%s: offset %d before its indirect block", what, off)
		}
		var row int
		var col uint64
		if rel < h.start*h.width {
			row, col = 0, rel/h.start
		} else {
			hb := log2(rel)
			row = hb - h.firstBits + 1
			if row <= 0 || row >= 64 {
				return 0, 0, 0, corrupt("%s: offset %d outside the heap", what, off)
			}
			if h.rowSize(row) == 0 {
				return 0, 0, 0, corrupt("%s: offset %d outside the heap", what, off)
			}
			col = (rel - 1<<hb) / h.rowSize(row)
		}
		if row >= nrows || col >= h.width {
			return 0, 0, 0, corrupt("%s: offset %d outside its indirect block of %d rows", what, off, nrows)
		}
		entries, err := h.indirect(iaddr, nrows)
		if err != nil {
			return 0, 0, 0, err
		}
		child := entries[uint64(row)*h.width+col]
		childOff := ioff + h.rowOff(row) + col*h.rowSize(row)
		if child == undef {
			return 0, 0, 0, corrupt("%s: offset %d is in a block never allocated", what, off)
		}
		if row < h.dirRows {
			return child, childOff, h.rowSize(row), nil
		}
		nrows = log2(h.rowSize(row)) - h.firstBits + 1
		if nrows <= 0 || nrows > 64 {
			return 0, 0, 0, corrupt("%s: indirect block of %d rows", what, nrows)
		}
		iaddr, ioff = child, childOff
	}
	return 0, 0, 0, corrupt("%s: indirect blocks nest too deep", what)
}

// indirect reads the child addresses of the indirect block at addr with
// nrows rows.
func (h *fheap) indirect(addr uint64, nrows int) ([]uint64, error) {
	what := fmt.Sprintf("fractal heap at %d: indirect block at %d", h.addr, addr)
	n := uint64(nrows) * h.width
	if n > uint64(maxMeta)/8 {
		return nil, corrupt("%s: %d entries", what, n)
	}
	pre := 5 + h.f.offSize + h.blockOff
	b, err := h.f.readAt(addr, uint64(pre)+n*uint64(h.f.offSize)+4, what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "FHIB" {
		return nil, corrupt("%s: no FHIB signature", what)
	}
	if err := checkSum(b, what); err != nil {
		return nil, err
	}
	d := h.f.dec(b, what)
	d.skip(pre)
	out := make([]uint64, n)
	for i := range out {
		out[i] = d.addr()
	}
	return out, d.check()
}
