package hdf5

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// maxLinks bounds the links of one group and maxObjects the objects one
// walk of a file visits.
const (
	maxLinks   = 1 << 20
	maxObjects = 1 << 20
)

// link is a link from a group to an object.
type link struct {
	name     string
	addr     uint64 // hard link target; undef otherwise
	soft     string // soft link target path
	external bool
}

// links returns the links of the group whose object header is o, sorted by
// name.
func (f *file) links(o *object) ([]link, error) {
	var out []link
	stab := o.find(msgSymbolTable)
	switch {
	case stab != nil:
		d := f.dec(stab.data, "symbol table message")
		bt, heap := d.addr(), d.addr()
		if err := d.check(); err != nil {
			return nil, err
		}
		ls, err := f.symbolLinks(bt, heap)
		if err != nil {
			return nil, err
		}
		out = ls
	case o.addr == f.root && f.rootStab[0] != undef && o.find(msgLink) == nil && o.find(msgLinkInfo) == nil:
		ls, err := f.symbolLinks(f.rootStab[0], f.rootStab[1])
		if err != nil {
			return nil, err
		}
		out = ls
	}
	for _, m := range o.msgs {
		if m.typ != msgLink {
			continue
		}
		l, err := f.linkMessage(m.data)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if li := o.find(msgLinkInfo); li != nil {
		ls, err := f.denseLinks(li.data)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// symbolLinks returns the links of a symbol-table group.
func (f *file) symbolLinks(bt, heapAddr uint64) ([]link, error) {
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	es, err := f.groupEntries(bt)
	if err != nil {
		return nil, err
	}
	if len(es) > maxLinks {
		return nil, corrupt("group of %d links", len(es))
	}
	out := make([]link, 0, len(es))
	for _, e := range es {
		name, err := heap.str(e.nameOff)
		if err != nil {
			return nil, err
		}
		l := link{name: name, addr: e.addr}
		if e.cache == 2 { // a soft link: its value is in the heap too
			l.addr = undef
			off := uint64(e.scratch[0]) | uint64(e.scratch[1])<<8 | uint64(e.scratch[2])<<16 | uint64(e.scratch[3])<<24
			if l.soft, err = heap.str(off); err != nil {
				return nil, err
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// linkMessage decodes a link message.
func (f *file) linkMessage(b []byte) (link, error) {
	d := f.dec(b, "link message")
	if v := d.u8(); v != 1 {
		return link{}, corrupt("link message version %d", v)
	}
	flags := d.u8()
	typ := uint8(0)
	if flags&0x08 != 0 {
		typ = d.u8()
	}
	if flags&0x04 != 0 {
		d.skip(8) // creation order
	}
	if flags&0x10 != 0 {
		d.skip(1) // character set
	}
	n := d.uvar(1 << (flags & 3))
	if n > uint64(d.left()) {
		return link{}, corrupt("link message: name of %d bytes in a %d-byte message", n, len(b))
	}
	l := link{name: string(d.bytes(int(n))), addr: undef}
	switch typ {
	case 0:
		l.addr = d.addr()
	case 1:
		m := d.u16()
		l.soft = string(d.bytes(int(m)))
	case 64:
		l.external = true
	default:
		return link{}, unsupported("link %q of type %d is not supported", l.name, typ)
	}
	return l, d.check()
}

// denseLinks returns the links of a group in dense storage, whose link
// info message is b.
func (f *file) denseLinks(b []byte) ([]link, error) {
	d := f.dec(b, "link info message")
	if v := d.u8(); v != 0 {
		return nil, corrupt("link info message version %d", v)
	}
	if flags := d.u8(); flags&0x01 != 0 {
		d.skip(8) // maximum creation index
	}
	heapAddr, names := d.addr(), d.addr()
	if err := d.check(); err != nil {
		return nil, err
	}
	if heapAddr == undef || names == undef {
		return nil, nil // compact storage: the links are link messages
	}
	heap, err := f.fractalHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	bt, err := f.btree2(names)
	if err != nil {
		return nil, err
	}
	if bt.typ != 5 {
		return nil, corrupt("v2 B-tree at %d: type %d for a group's link names (5 expected)", names, bt.typ)
	}
	var out []link
	err = bt.each(func(rec []byte) error {
		if len(out) >= maxLinks {
			return corrupt("group of more than %d links", maxLinks)
		}
		if len(rec) < 5 {
			return corrupt("v2 B-tree at %d: %d-byte link name records", names, len(rec))
		}
		obj, err := heap.object(rec[4:])
		if err != nil {
			return err
		}
		l, err := f.linkMessage(obj)
		if err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// splitPath splits a path inside the file into its names.
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

// resolve returns the object header address of the object at path p
// (absolute, or relative to the root).
func (f *file) resolve(p string) (uint64, error) {
	return f.resolveFrom(f.root, "/", p, 0)
}

// resolveFrom follows path p from the group at addr (whose path is dir),
// following soft links at most 16 deep.
func (f *file) resolveFrom(addr uint64, dir, p string, hops int) (uint64, error) {
	if strings.HasPrefix(p, "/") {
		addr, dir = f.root, "/"
	}
	names := splitPath(p)
	for _, name := range names {
		if name == ".." {
			return 0, unsupported("%q: \"..\" in paths is not supported", p)
		}
		o, err := f.readObject(addr)
		if err != nil {
			return 0, err
		}
		ls, err := f.links(o)
		if err != nil {
			return 0, fmt.Errorf("group %s: %w", dir, err)
		}
		j := sort.Search(len(ls), func(j int) bool { return ls[j].name >= name })
		if j == len(ls) || ls[j].name != name {
			return 0, &kindError{ErrNotFound, fmt.Errorf("group %s has no member %q", dir, name)}
		}
		l := ls[j]
		switch {
		case l.addr != undef:
			addr = l.addr
		case l.soft != "":
			if hops >= 16 {
				return 0, corrupt("soft links from %s nest more than 16 deep", path.Join(dir, name))
			}
			if addr, err = f.resolveFrom(addr, dir, l.soft, hops+1); err != nil {
				if hops > 0 {
					return 0, err
				}
				return 0, fmt.Errorf("soft link %s → %s: %w", path.Join(dir, name), l.soft, err)
			}
		default:
			return 0, unsupported("%s is an external link (to another file), which is not supported", path.Join(dir, name))
		}
		dir = path.Join(dir, name)
	}
	return addr, nil
}

// walk calls fn with the path and object header of every object reachable
// from the root group by hard links, each object once.
func (f *file) walk(fn func(p string, o *object) error) error {
	seen := map[uint64]bool{}
	var visit func(p string, addr uint64, depth int) error
	visit = func(p string, addr uint64, depth int) error {
		if seen[addr] {
			return nil // a second link to it, or a cycle
		}
		if len(seen) >= maxObjects || depth > maxDepth {
			return corrupt("more than %d objects, or groups nested more than %d deep", maxObjects, maxDepth)
		}
		seen[addr] = true
		o, err := f.readObject(addr)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := fn(p, o); err != nil {
			return err
		}
		if !isGroup(o) && addr != f.root {
			return nil
		}
		ls, err := f.links(o)
		if err != nil {
			return fmt.Errorf("group %s: %w", p, err)
		}
		for _, l := range ls {
			if l.addr == undef {
				continue // soft and external links: their targets are reached otherwise, or are elsewhere
			}
			if err := visit(path.Join(p, l.name), l.addr, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return visit("/", f.root, 0)
}

// isGroup reports whether o is a group's object header.
func isGroup(o *object) bool {
	return o.find(msgSymbolTable) != nil || o.find(msgLinkInfo) != nil || o.find(msgLink) != nil
}

// isDataset reports whether o is a dataset's object header.
func isDataset(o *object) bool {
	return o.find(msgLayout) != nil && o.find(msgDataspace) != nil
}
