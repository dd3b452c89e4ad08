package hdf5

import (
	"fmt"
	"math"
)

// maxDepth bounds the depth of the B-trees walked, against loops in corrupt
// files.
const maxDepth = 64

// btNode is a version 1 B-tree node: a group node (keys are heap offsets)
// or a chunk node (keys are chunk sizes, filter masks and offsets).
type btNode struct {
	level    int
	keys     [][]byte // entries+1 keys
	children []uint64
}

// btree1Node reads the version 1 B-tree node at addr of node type typ (0
// group, 1 chunk) with keys of keySize bytes.
func (f *file) btree1Node(addr uint64, typ, keySize int) (*btNode, error) {
	what := fmt.Sprintf("B-tree node at %d", addr)
	head := 8 + 2*f.offSize
	b, err := f.readAt(addr, uint64(head), what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "TREE" {
		return nil, corrupt("%s: no TREE signature", what)
	}
	if int(b[4]) != typ {
		return nil, corrupt("%s: node type %d, want %d", what, b[4], typ)
	}
	level := int(b[5])
	n := int(b[6]) | int(b[7])<<8
	body, err := f.readAt(addr+uint64(head), uint64(n)*uint64(keySize+f.offSize)+uint64(keySize), what)
	if err != nil {
		return nil, err
	}
	d := f.dec(body, what)
	nd := &btNode{level: level, keys: make([][]byte, n+1), children: make([]uint64, n)}
	for i := range n {
		nd.keys[i] = d.bytes(keySize)
		nd.children[i] = d.addr()
	}
	nd.keys[n] = d.bytes(keySize)
	return nd, d.check()
}

// symbolEntry is an entry of a symbol table node: a link of a group.
type symbolEntry struct {
	nameOff uint64
	addr    uint64
	cache   uint32
	scratch []byte
}

// groupEntries walks the group B-tree at addr and returns the entries of
// its symbol table nodes.
func (f *file) groupEntries(addr uint64) ([]symbolEntry, error) {
	var out []symbolEntry
	seen := map[uint64]bool{}
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if depth > maxDepth || seen[addr] {
			return corrupt("group B-tree at %d: nodes loop or nest too deep", addr)
		}
		seen[addr] = true
		nd, err := f.btree1Node(addr, 0, f.lenSize)
		if err != nil {
			return err
		}
		for _, c := range nd.children {
			if nd.level > 0 {
				if err := walk(c, depth+1); err != nil {
					return err
				}
				continue
			}
			if seen[c] {
				return corrupt("symbol table node at %d listed twice", c)
			}
			seen[c] = true
			es, err := f.symbolNode(c)
			if err != nil {
				return err
			}
			out = append(out, es...)
		}
		return nil
	}
	return out, walk(addr, 0)
}

// symbolNode reads the symbol table node ("SNOD") at addr.
func (f *file) symbolNode(addr uint64) ([]symbolEntry, error) {
	what := fmt.Sprintf("symbol table node at %d", addr)
	b, err := f.readAt(addr, 8, what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "SNOD" {
		return nil, corrupt("%s: no SNOD signature", what)
	}
	n := int(b[6]) | int(b[7])<<8
	es := 2*f.offSize + 24
	body, err := f.readAt(addr+8, uint64(n*es), what)
	if err != nil {
		return nil, err
	}
	d := f.dec(body, what)
	out := make([]symbolEntry, n)
	for i := range out {
		out[i].nameOff = d.uvar(f.offSize)
		out[i].addr = d.addr()
		out[i].cache = d.u32()
		d.skip(4)
		out[i].scratch = d.bytes(16)
	}
	return out, d.check()
}

// btree2 is a version 2 B-tree: the name index of dense links or
// attributes, or a chunk index.
type btree2 struct {
	f        *file
	addr     uint64
	typ      uint8
	nodeSize uint64
	recSize  int
	depth    int
	root     uint64
	rootN    int
	nrecSize int   // bytes of a child's record count
	cumSize  []int // bytes of a child's total record count, per depth
}

// btree2 reads the header of the version 2 B-tree at addr.
func (f *file) btree2(addr uint64) (*btree2, error) {
	what := fmt.Sprintf("v2 B-tree at %d", addr)
	b, err := f.readAt(addr, uint64(16+f.offSize+2+f.lenSize+4), what)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "BTHD" {
		return nil, corrupt("%s: no BTHD signature", what)
	}
	if err := checkSum(b, what); err != nil {
		return nil, err
	}
	d := f.dec(b, what)
	d.skip(4)
	if v := d.u8(); v != 0 {
		return nil, corrupt("%s: version %d", what, v)
	}
	t := &btree2{f: f, addr: addr}
	t.typ = d.u8()
	t.nodeSize = uint64(d.u32())
	t.recSize = int(d.u16())
	t.depth = int(d.u16())
	d.skip(2)
	t.root = d.addr()
	t.rootN = int(d.u16())
	if err := d.check(); err != nil {
		return nil, err
	}
	if t.recSize == 0 || t.nodeSize < 10+uint64(t.recSize) || t.nodeSize > uint64(maxMeta) || t.depth > maxDepth {
		return nil, corrupt("%s: %d-byte nodes, %d-byte records, depth %d", what, t.nodeSize, t.recSize, t.depth)
	}
	// The sizes of the record counts in node pointers, as H5B2__hdr_init
	// computes them.
	leafMax := (t.nodeSize - 10) / uint64(t.recSize)
	t.nrecSize = encSize(leafMax)
	t.cumSize = make([]int, t.depth+1)
	cum := leafMax
	for u := 1; u <= t.depth; u++ {
		ptr := uint64(f.offSize + t.nrecSize + t.cumSize[u-1])
		if t.nodeSize < 10+ptr {
			return nil, corrupt("%s: %d-byte nodes too small for depth %d", what, t.nodeSize, t.depth)
		}
		m := (t.nodeSize - 10 - ptr) / (uint64(t.recSize) + ptr)
		if cum > (math.MaxUint64-m)/(m+1) {
			cum = math.MaxUint64
		} else {
			cum = (m+1)*cum + m
		}
		t.cumSize[u] = encSize(cum)
	}
	return t, nil
}

// b2node is a node of a version 2 B-tree: its records and, for internal
// nodes, its children's addresses and record counts.
type b2node struct {
	recs  [][]byte
	child []uint64
	nrec  []int
}

// node reads the node at addr holding n records at depth (0 for leaves).
func (t *btree2) node(addr uint64, n, depth int) (*b2node, error) {
	what := fmt.Sprintf("v2 B-tree at %d: node at %d", t.addr, addr)
	b, err := t.f.readAt(addr, t.nodeSize, what)
	if err != nil {
		return nil, err
	}
	sig := "BTLF"
	if depth > 0 {
		sig = "BTIN"
	}
	if string(b[:4]) != sig {
		return nil, corrupt("%s: no %s signature", what, sig)
	}
	d := t.f.dec(b, what)
	d.skip(6)
	nd := &b2node{recs: make([][]byte, 0, min(n, len(b)/t.recSize))}
	for range n {
		r := d.bytes(t.recSize)
		if d.err != nil {
			return nil, d.err
		}
		nd.recs = append(nd.recs, r)
	}
	if depth > 0 {
		for range n + 1 {
			nd.child = append(nd.child, d.addr())
			nd.nrec = append(nd.nrec, int(d.uvar(t.nrecSize)))
			if depth > 1 {
				d.uvar(t.cumSize[depth-1])
			}
			if d.err != nil {
				return nil, d.err
			}
		}
	}
	end := d.off
	d.u32()
	if err := d.check(); err != nil {
		return nil, err
	}
	if err := checkSum(b[:end+4], what); err != nil {
		return nil, err
	}
	return nd, nil
}

// each calls fn with every record, in order.
func (t *btree2) each(fn func(rec []byte) error) error {
	if t.root == undef || t.rootN == 0 {
		return nil
	}
	seen := map[uint64]bool{}
	var walk func(addr uint64, n, depth int) error
	walk = func(addr uint64, n, depth int) error {
		if seen[addr] {
			return corrupt("v2 B-tree at %d: node %d reached twice", t.addr, addr)
		}
		seen[addr] = true
		nd, err := t.node(addr, n, depth)
		if err != nil {
			return err
		}
		for i, r := range nd.recs {
			if depth > 0 {
				if err := walk(nd.child[i], nd.nrec[i], depth-1); err != nil {
					return err
				}
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		if depth > 0 {
			return walk(nd.child[len(nd.recs)], nd.nrec[len(nd.recs)], depth-1)
		}
		return nil
	}
	return walk(t.root, t.rootN, t.depth)
}

// find returns the record for which cmp returns 0, or nil; cmp returns
// the order of the record sought relative to rec, as the tree's records are
// sorted.
func (t *btree2) find(cmp func(rec []byte) int, cache *nodeCache) ([]byte, error) {
	if t.root == undef || t.rootN == 0 {
		return nil, nil
	}
	addr, n, depth := t.root, t.rootN, t.depth
	for range maxDepth + 1 {
		nd, err := cache.b2(t, addr, n, depth)
		if err != nil {
			return nil, err
		}
		// Binary search for the first record not below the one sought.
		lo, hi := 0, len(nd.recs)
		for lo < hi {
			m := (lo + hi) / 2
			if cmp(nd.recs[m]) > 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo < len(nd.recs) && cmp(nd.recs[lo]) == 0 {
			return nd.recs[lo], nil
		}
		if depth == 0 {
			return nil, nil
		}
		addr, n, depth = nd.child[lo], nd.nrec[lo], depth-1
	}
	return nil, corrupt("v2 B-tree at %d: nodes nest too deep", t.addr)
}
