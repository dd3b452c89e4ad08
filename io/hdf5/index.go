package hdf5

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// chunkLoc is where a chunk is stored.
type chunkLoc struct {
	addr uint64
	size uint64 // bytes stored
	mask uint32 // filters skipped for this chunk
}

// chunkIndex finds a dataset's chunks by their scaled coordinates (chunk
// numbers along each dimension, slowest first).
type chunkIndex interface {
	// lookup returns where the chunk at c is, ok false when it was
	// never written.
	lookup(c []uint64) (loc chunkLoc, ok bool, err error)
}

// nodeCache keeps index nodes and blocks read from the file, so that the
// lookups of one region read each node once. It is safe for concurrent
// use; when full it is emptied.
type nodeCache struct {
	mu sync.Mutex
	m  map[uint64]any
}

const nodeCacheLen = 4096

func (c *nodeCache) get(addr uint64, load func() (any, error)) (any, error) {
	c.mu.Lock()
	v, ok := c.m[addr]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= nodeCacheLen {
		c.m = map[uint64]any{}
	}
	c.m[addr] = v
	c.mu.Unlock()
	return v, nil
}

// b2 returns the v2 B-tree node at addr.
func (c *nodeCache) b2(t *btree2, addr uint64, n, depth int) (*b2node, error) {
	v, err := c.get(addr, func() (any, error) { return t.node(addr, n, depth) })
	if err != nil {
		return nil, err
	}
	nd, ok := v.(*b2node)
	if !ok {
		return nil, corrupt("v2 B-tree at %d: node at %d is also another structure", t.addr, addr)
	}
	return nd, nil
}

// btree1Index is the version 1 B-tree chunk index of layouts up to
// version 3.
type btree1Index struct {
	f     *file
	root  uint64
	chunk []uint64 // chunk dimensions
	cache nodeCache
}

func (x *btree1Index) lookup(c []uint64) (chunkLoc, bool, error) {
	rank := len(x.chunk)
	keySize := 8 + 8*(rank+1)
	target := make([]uint64, rank)
	for i := range target {
		target[i] = c[i] * x.chunk[i]
	}
	// cmp orders a key's chunk offset against the target's.
	cmp := func(key []byte) int {
		for i := range rank {
			k := binary.LittleEndian.Uint64(key[8+8*i:])
			if k < target[i] {
				return -1
			}
			if k > target[i] {
				return 1
			}
		}
		return 0
	}
	addr := x.root
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return chunkLoc{}, false, corrupt("chunk B-tree at %d: nodes nest too deep or loop", x.root)
		}
		v, err := x.cache.get(addr, func() (any, error) { return x.f.btree1Node(addr, 1, keySize) })
		if err != nil {
			return chunkLoc{}, false, err
		}
		nd, ok := v.(*btNode)
		if !ok {
			return chunkLoc{}, false, corrupt("chunk B-tree at %d: node at %d is also another structure", x.root, addr)
		}
		// The last child whose left key is at or before the target.
		i := -1
		lo, hi := 0, len(nd.children)
		for lo < hi {
			m := (lo + hi) / 2
			if cmp(nd.keys[m]) <= 0 {
				i, lo = m, m+1
			} else {
				hi = m
			}
		}
		if i < 0 {
			return chunkLoc{}, false, nil
		}
		if nd.level == 0 {
			if cmp(nd.keys[i]) != 0 {
				return chunkLoc{}, false, nil
			}
			k := nd.keys[i]
			return chunkLoc{addr: nd.children[i], size: uint64(binary.LittleEndian.Uint32(k)), mask: binary.LittleEndian.Uint32(k[4:])}, true, nil
		}
		addr = nd.children[i]
	}
}

// singleIndex is a dataset of one chunk, whose address is in the layout.
type singleIndex struct{ loc chunkLoc }

func (x *singleIndex) lookup(c []uint64) (chunkLoc, bool, error) {
	for _, v := range c {
		if v != 0 {
			return chunkLoc{}, false, nil
		}
	}
	return x.loc, x.loc.addr != undef, nil
}

// implicitIndex is a dataset whose chunks are all allocated one after the
// other, in C order over the grid of chunks.
type implicitIndex struct {
	addr  uint64
	bytes uint64   // bytes of a chunk
	down  []uint64 // chunks in the grid after one step along each dimension
}

func (x *implicitIndex) lookup(c []uint64) (chunkLoc, bool, error) {
	if x.addr == undef {
		return chunkLoc{}, false, nil
	}
	return chunkLoc{addr: x.addr + linear(c, x.down)*x.bytes, size: x.bytes}, true, nil
}

// linear returns the C-order index of c in a grid with strides down.
func linear(c, down []uint64) uint64 {
	var n uint64
	for i := range c {
		n += c[i] * down[i]
	}
	return n
}

// elementFormat decodes a fixed or extensible array element: a chunk address,
// and for filtered chunks its size and filter mask.
type elementFormat struct {
	size     int // bytes of an element
	filtered bool
	sizeLen  int // bytes of a filtered chunk's size
	chunk    uint64
}

func (e elementFormat) decode(f *file, b []byte) (chunkLoc, bool, error) {
	d := f.dec(b, "chunk index element")
	l := chunkLoc{addr: d.addr(), size: e.chunk}
	if e.filtered {
		l.size = d.uvar(e.sizeLen)
		l.mask = d.u32()
	}
	if err := d.check(); err != nil {
		return chunkLoc{}, false, err
	}
	return l, l.addr != undef, nil
}

// newElementFormat checks the element size of an array of chunk
// addresses.
func newElementFormat(f *file, client, size int, chunkBytes uint64, what string) (elementFormat, error) {
	e := elementFormat{size: size, filtered: client == 1, chunk: chunkBytes}
	switch {
	case client == 0 && size == f.offSize:
	case client == 1 && size > f.offSize+4 && size <= f.offSize+12:
		e.sizeLen = size - f.offSize - 4
	default:
		return e, corrupt("%s: client %d with %d-byte elements", what, client, size)
	}
	return e, nil
}

// farrayIndex is a fixed array chunk index (libver="latest", no
// unlimited dimension).
type farrayIndex struct {
	f        *file
	hdr      uint64
	elem     elementFormat
	n        uint64 // elements
	dblk     uint64
	down     []uint64
	pageN    uint64 // elements per page; 0 when not paged
	prefix   uint64 // bytes before the first page
	pageInit []byte
}

func (f *file) newFixedArray(addr uint64, chunkBytes uint64, down []uint64) (*farrayIndex, error) {
	what := fmt.Sprintf("fixed array at %d", addr)
	b, err := f.readAt(addr, uint64(12+f.lenSize+f.offSize), what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "FAHD" {
		return nil, corrupt("%s: no FAHD signature", what)
	}
	if err := checkSum(b, what); err != nil {
		return nil, err
	}
	d := f.dec(b, what)
	d.skip(4)
	if v := d.u8(); v != 0 {
		return nil, corrupt("%s: version %d", what, v)
	}
	client, esize, pageBits := int(d.u8()), int(d.u8()), int(d.u8())
	x := &farrayIndex{f: f, hdr: addr, down: down}
	x.n = d.length()
	x.dblk = d.addr()
	if err := d.check(); err != nil {
		return nil, err
	}
	if x.elem, err = newElementFormat(f, client, esize, chunkBytes, what); err != nil {
		return nil, err
	}
	if pageBits > 32 {
		return nil, corrupt("%s: pages of 2^%d elements", what, pageBits)
	}
	if x.dblk == undef {
		return x, nil
	}
	if page := uint64(1) << pageBits; x.n > page {
		x.pageN = page
		npages := (x.n + page - 1) / page
		bm := (npages + 7) / 8
		x.prefix = uint64(10+f.offSize) + bm
		head, err := f.readAt(x.dblk, x.prefix, what+": data block")
		if err != nil {
			return nil, err
		}
		if string(head[:4]) != "FADB" {
			return nil, corrupt("%s: data block at %d has no FADB signature", what, x.dblk)
		}
		if err := checkSum(head, what+": data block"); err != nil {
			return nil, err
		}
		x.pageInit = head[6+f.offSize : 6+uint64(f.offSize)+bm]
	} else {
		sig, err := f.readAt(x.dblk, 4, what+": data block")
		if err != nil {
			return nil, err
		}
		if string(sig) != "FADB" {
			return nil, corrupt("%s: data block at %d has no FADB signature", what, x.dblk)
		}
	}
	return x, nil
}

func (x *farrayIndex) lookup(c []uint64) (chunkLoc, bool, error) {
	if x.dblk == undef {
		return chunkLoc{}, false, nil
	}
	i := linear(c, x.down)
	if i >= x.n {
		return chunkLoc{}, false, corrupt("fixed array at %d: chunk %d of %d", x.hdr, i, x.n)
	}
	es := uint64(x.elem.size)
	var at uint64
	if x.pageN == 0 {
		at = x.dblk + uint64(6+x.f.offSize) + i*es
	} else {
		p := i / x.pageN
		if x.pageInit[p/8]&(0x80>>(p%8)) == 0 {
			return chunkLoc{}, false, nil
		}
		at = x.dblk + x.prefix + p*(x.pageN*es+4) + i%x.pageN*es
	}
	b, err := x.f.readAt(at, es, fmt.Sprintf("fixed array at %d: element %d", x.hdr, i))
	if err != nil {
		return chunkLoc{}, false, err
	}
	return x.elem.decode(x.f, b)
}

// earrayIndex is an extensible array chunk index (libver="latest", one
// unlimited dimension).
type earrayIndex struct {
	f       *file
	hdr     uint64
	elem    elementFormat
	down    []uint64 // strides over the chunk grid, the unlimited dimension first
	unlim   int      // the unlimited dimension
	idxN    uint64   // elements in the index block
	dblkMin uint64   // elements of the smallest data blocks
	pageN   uint64   // elements per data block page
	offSize int      // bytes of a block offset
	sblk    []sblkInfo
	iblkN   int // super blocks whose data blocks the index block points to
	iblk    []byte
	dblks   []uint64 // data block addresses in the index block
	sblks   []uint64 // super block addresses in the index block
	cache   nodeCache
}

// sblkInfo describes the data blocks of one super block.
type sblkInfo struct {
	ndblks, dblkN, start, startDblk uint64
}

func (f *file) newExtArray(addr uint64, chunkBytes uint64, down []uint64, unlim int) (*earrayIndex, error) {
	what := fmt.Sprintf("extensible array at %d", addr)
	b, err := f.readAt(addr, uint64(16+6*f.lenSize+f.offSize), what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "EAHD" {
		return nil, corrupt("%s: no EAHD signature", what)
	}
	if err := checkSum(b, what); err != nil {
		return nil, err
	}
	d := f.dec(b, what)
	d.skip(4)
	if v := d.u8(); v != 0 {
		return nil, corrupt("%s: version %d", what, v)
	}
	client, esize := int(d.u8()), int(d.u8())
	maxBits, idxN, dblkMin, minPtrs, pageBits := int(d.u8()), uint64(d.u8()), uint64(d.u8()), uint64(d.u8()), int(d.u8())
	for range 6 {
		d.length()
	}
	iaddr := d.addr()
	if err := d.check(); err != nil {
		return nil, err
	}
	x := &earrayIndex{f: f, hdr: addr, down: down, unlim: unlim, idxN: idxN, dblkMin: dblkMin}
	if x.elem, err = newElementFormat(f, client, esize, chunkBytes, what); err != nil {
		return nil, err
	}
	pow2 := func(v uint64) bool { return v != 0 && v&(v-1) == 0 }
	if !pow2(dblkMin) || !pow2(minPtrs) || maxBits < log2(dblkMin) || maxBits > 64 || pageBits > 32 {
		return nil, corrupt("%s: %d-bit size, data blocks of at least %d elements, super blocks of at least %d, pages of 2^%d", what, maxBits, dblkMin, minPtrs, pageBits)
	}
	x.pageN = 1 << pageBits
	x.offSize = (maxBits + 7) / 8
	nsblks := 1 + maxBits - log2(dblkMin)
	var start, startDblk uint64
	for u := range nsblks {
		s := sblkInfo{ndblks: 1 << (u / 2), dblkN: dblkMin << ((u + 1) / 2), start: start, startDblk: startDblk}
		x.sblk = append(x.sblk, s)
		start += s.ndblks * s.dblkN
		startDblk += s.ndblks
	}
	if iaddr == undef {
		return x, nil
	}
	x.iblkN = 2 * log2(minPtrs)
	ndblk := 2 * (minPtrs - 1)
	nsblk := uint64(max(0, nsblks-x.iblkN))
	n := uint64(6+f.offSize) + idxN*uint64(esize) + (ndblk+nsblk)*uint64(f.offSize) + 4
	ib, err := f.readAt(iaddr, n, what+": index block")
	if err != nil {
		return nil, err
	}
	if string(ib[:4]) != "EAIB" {
		return nil, corrupt("%s: index block at %d has no EAIB signature", what, iaddr)
	}
	if err := checkSum(ib, what+": index block"); err != nil {
		return nil, err
	}
	x.iblk = ib[6+f.offSize:]
	d = f.dec(x.iblk[idxN*uint64(esize):], what+": index block")
	for range ndblk {
		x.dblks = append(x.dblks, d.addr())
	}
	for range nsblk {
		x.sblks = append(x.sblks, d.addr())
	}
	return x, d.check()
}

func (x *earrayIndex) lookup(c []uint64) (chunkLoc, bool, error) {
	if x.iblk == nil {
		return chunkLoc{}, false, nil
	}
	// The unlimited dimension's coordinate comes first.
	sw := make([]uint64, 0, len(c))
	sw = append(sw, c[x.unlim])
	sw = append(sw, c[:x.unlim]...)
	sw = append(sw, c[x.unlim+1:]...)
	i := linear(sw, x.down)
	what := fmt.Sprintf("extensible array at %d", x.hdr)
	es := uint64(x.elem.size)
	if i < x.idxN {
		return x.elem.decode(x.f, x.iblk[i*es:])
	}
	rel := i - x.idxN
	s := log2(rel/x.dblkMin + 1)
	if s >= len(x.sblk) {
		return chunkLoc{}, false, corrupt("%s: element %d beyond the array", what, i)
	}
	si := x.sblk[s]
	e := rel - si.start
	var dblk uint64
	var npages uint64   // pages of the data block; 0 when it is not paged
	var pageInit []byte // their bitmap, a bit for each page of the super block's data blocks
	var k uint64        // the data block in the super block
	if s < x.iblkN {
		k := si.startDblk + e/si.dblkN
		if k >= uint64(len(x.dblks)) {
			return chunkLoc{}, false, corrupt("%s: data block %d of %d in the index block", what, k, len(x.dblks))
		}
		dblk = x.dblks[k]
		if si.dblkN > x.pageN {
			return chunkLoc{}, false, unsupported("%s: paged data blocks in the index block are not supported", what)
		}
	} else {
		saddr := x.sblks[s-x.iblkN]
		if saddr == undef {
			return chunkLoc{}, false, nil
		}
		v, err := x.cache.get(saddr, func() (any, error) { return x.superBlock(saddr, si) })
		if err != nil {
			return chunkLoc{}, false, err
		}
		sb, ok := v.(*superBlock)
		if !ok {
			return chunkLoc{}, false, corrupt("%s: super block at %d is also another structure", what, saddr)
		}
		k = e / si.dblkN
		if k >= uint64(len(sb.dblks)) {
			return chunkLoc{}, false, corrupt("%s: data block %d of %d in a super block", what, k, len(sb.dblks))
		}
		dblk = sb.dblks[k]
		if si.dblkN > x.pageN {
			npages, pageInit = si.dblkN/x.pageN, sb.pageInit
		}
	}
	if dblk == undef {
		return chunkLoc{}, false, nil
	}
	w := e % si.dblkN
	prefix := uint64(6 + x.f.offSize + x.offSize)
	at := dblk + prefix + w*es
	if npages > 0 {
		p := w / x.pageN
		if bit := k*npages + p; pageInit[bit/8]&(0x80>>(bit%8)) == 0 {
			return chunkLoc{}, false, nil // a page never written
		}
		at = dblk + prefix + 4 + p*(x.pageN*es+4) + w%x.pageN*es
	}
	b, err := x.f.readAt(at, es, fmt.Sprintf("%s: element %d", what, i))
	if err != nil {
		return chunkLoc{}, false, err
	}
	return x.elem.decode(x.f, b)
}

// superBlock is an extensible array super block: data block addresses and
// the bitmaps of their initialized pages.
type superBlock struct {
	dblks    []uint64
	pageInit []byte
}

func (x *earrayIndex) superBlock(addr uint64, si sblkInfo) (*superBlock, error) {
	what := fmt.Sprintf("extensible array at %d: super block at %d", x.hdr, addr)
	var bm uint64
	if si.dblkN > x.pageN {
		bm = (si.dblkN/x.pageN + 7) / 8 * si.ndblks
	}
	if si.ndblks > uint64(maxMeta)/8 {
		return nil, corrupt("%s: %d data blocks", what, si.ndblks)
	}
	n := uint64(6+x.f.offSize+x.offSize) + bm + si.ndblks*uint64(x.f.offSize) + 4
	b, err := x.f.readAt(addr, n, what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "EASB" {
		return nil, corrupt("%s: no EASB signature", what)
	}
	if err := checkSum(b, what); err != nil {
		return nil, err
	}
	d := x.f.dec(b, what)
	d.skip(6 + x.f.offSize + x.offSize)
	sb := &superBlock{pageInit: d.bytes(int(bm))}
	for range si.ndblks {
		sb.dblks = append(sb.dblks, d.addr())
	}
	return sb, d.check()
}

// btree2Index is a version 2 B-tree chunk index (libver="latest", more
// than one unlimited dimension).
type btree2Index struct {
	bt       *btree2
	rank     int
	filtered bool
	sizeLen  int
	chunk    uint64
	cache    nodeCache
}

func (f *file) newBTree2Index(addr uint64, rank int, chunkBytes uint64) (*btree2Index, error) {
	bt, err := f.btree2(addr)
	if err != nil {
		return nil, err
	}
	x := &btree2Index{bt: bt, rank: rank, chunk: chunkBytes}
	switch bt.typ {
	case 10:
		if bt.recSize != f.offSize+8*rank {
			return nil, corrupt("v2 B-tree at %d: %d-byte chunk records for rank %d", addr, bt.recSize, rank)
		}
	case 11:
		x.filtered = true
		x.sizeLen = bt.recSize - f.offSize - 4 - 8*rank
		if x.sizeLen < 1 || x.sizeLen > 8 {
			return nil, corrupt("v2 B-tree at %d: %d-byte filtered chunk records for rank %d", addr, bt.recSize, rank)
		}
	default:
		return nil, corrupt("v2 B-tree at %d: type %d for a chunk index (10 or 11 expected)", addr, bt.typ)
	}
	return x, nil
}

func (x *btree2Index) lookup(c []uint64) (chunkLoc, bool, error) {
	f := x.bt.f
	coords := x.bt.recSize - 8*x.rank
	rec, err := x.bt.find(func(rec []byte) int {
		for i := range x.rank {
			v := binary.LittleEndian.Uint64(rec[coords+8*i:])
			if c[i] < v {
				return -1
			}
			if c[i] > v {
				return 1
			}
		}
		return 0
	}, &x.cache)
	if err != nil || rec == nil {
		return chunkLoc{}, false, err
	}
	d := f.dec(rec, "chunk record")
	l := chunkLoc{addr: d.addr(), size: x.chunk}
	if x.filtered {
		l.size = d.uvar(x.sizeLen)
		l.mask = d.u32()
	}
	if err := d.check(); err != nil {
		return chunkLoc{}, false, err
	}
	return l, l.addr != undef, nil
}
