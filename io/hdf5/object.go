package hdf5

import (
	"bytes"
	"fmt"
)

// Object header message types.
const (
	msgNil          = 0x00
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFillOld      = 0x04
	msgFill         = 0x05
	msgLink         = 0x06
	msgExternal     = 0x07
	msgLayout       = 0x08
	msgFilters      = 0x0b
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// msgShared is the message flag of a message stored elsewhere (a shared
// message).
const msgShared = 0x02

// maxChunks bounds the header chunks (the first and its continuations) of
// one object header.
const maxChunks = 4096

// message is one object header message.
type message struct {
	typ   uint16
	flags uint8
	data  []byte
	addr  uint64 // file address of data
}

// object is a parsed object header.
type object struct {
	addr uint64
	msgs []message
}

// find returns the first message of type typ, or nil.
func (o *object) find(typ uint16) *message {
	for i := range o.msgs {
		if o.msgs[i].typ == typ {
			return &o.msgs[i]
		}
	}
	return nil
}

// readObject reads the object header at addr with all its continuation
// chunks.
func (f *file) readObject(addr uint64) (*object, error) {
	what := fmt.Sprintf("object header at %d", addr)
	if !f.inFile(addr, 1) {
		return nil, corrupt("%s: address past the end of the %d-byte file", what, f.size)
	}
	head, err := f.readAt(addr, min(16, f.rest(addr)), what)
	if err != nil {
		return nil, err
	}
	o := &object{addr: addr}
	switch {
	case len(head) >= 4 && string(head[:4]) == "OHDR":
		err = f.objectV2(o, what)
	case len(head) >= 1 && head[0] == 1:
		err = f.objectV1(o, head, what)
	default:
		return nil, corrupt("%s: no object header there (version %d)", what, head[0])
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// span is a header chunk still to parse.
type span struct{ addr, size uint64 }

// objectV1 parses a version 1 object header whose first 16 bytes are head.
func (f *file) objectV1(o *object, head []byte, what string) error {
	if len(head) < 16 {
		return corrupt("%s: truncated", what)
	}
	d := f.dec(head, what)
	d.skip(2)
	nmsgs := d.u16()
	d.skip(4)
	size := d.u32()
	queue := []span{{o.addr + 16, uint64(size)}}
	seen := map[uint64]bool{}
	for i := 0; i < len(queue); i++ {
		c := queue[i]
		if seen[c.addr] || len(seen) >= maxChunks {
			return corrupt("%s: continuation chunks loop or exceed %d", what, maxChunks)
		}
		seen[c.addr] = true
		b, err := f.readAt(c.addr, c.size, what)
		if err != nil {
			return err
		}
		d := f.dec(b, what)
		for d.left() >= 8 && len(o.msgs) < int(nmsgs)+maxChunks {
			typ, n, flags := d.u16(), d.u16(), d.u8()
			d.skip(3)
			at := c.addr + uint64(d.off)
			data := d.bytes(int(n))
			if d.err != nil {
				return d.err
			}
			if typ == msgContinuation {
				s, err := f.continuation(data, what)
				if err != nil {
					return err
				}
				queue = append(queue, s)
				o.msgs = append(o.msgs, message{typ, flags, data, at})
				continue
			}
			if typ != msgNil {
				o.msgs = append(o.msgs, message{typ, flags, data, at})
			}
		}
	}
	return nil
}

// continuation decodes a continuation message.
func (f *file) continuation(data []byte, what string) (span, error) {
	d := f.dec(data, what+": continuation message")
	s := span{d.addr(), d.length()}
	return s, d.check()
}

// objectV2 parses a version 2 object header ("OHDR").
func (f *file) objectV2(o *object, what string) error {
	// The prefix is at most 4+1+1+16+4+8 bytes.
	pre, err := f.readAt(o.addr, min(34, f.rest(o.addr)), what)
	if err != nil {
		return err
	}
	d := f.dec(pre, what)
	d.skip(4)
	if v := d.u8(); v != 2 {
		return corrupt("%s: version %d", what, v)
	}
	flags := d.u8()
	if flags&0x20 != 0 {
		d.skip(16) // access, modification, change and birth times
	}
	if flags&0x10 != 0 {
		d.skip(4) // attribute storage phase change values
	}
	size := d.uvar(1 << (flags & 3))
	if err := d.check(); err != nil {
		return err
	}
	prefix := uint64(d.off)
	if size > uint64(maxMeta) {
		return corrupt("%s: first chunk of %d bytes", what, size)
	}
	first, err := f.readAt(o.addr, prefix+size+4, what)
	if err != nil {
		return err
	}
	if err := checkSum(first, what); err != nil {
		return err
	}
	creation := flags&0x04 != 0
	queue := []span{}
	if err := f.messagesV2(o, first[prefix:len(first)-4], o.addr+prefix, creation, &queue, what); err != nil {
		return err
	}
	seen := map[uint64]bool{o.addr: true}
	for i := 0; i < len(queue); i++ {
		c := queue[i]
		if seen[c.addr] || len(seen) >= maxChunks {
			return corrupt("%s: continuation chunks loop or exceed %d", what, maxChunks)
		}
		seen[c.addr] = true
		if c.size < 8 {
			return corrupt("%s: continuation chunk of %d bytes", what, c.size)
		}
		b, err := f.readAt(c.addr, c.size, what)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(b, []byte("OCHK")) {
			return corrupt("%s: continuation chunk at %d has no OCHK signature", what, c.addr)
		}
		if err := checkSum(b, what+": continuation chunk"); err != nil {
			return err
		}
		if err := f.messagesV2(o, b[4:len(b)-4], c.addr+4, creation, &queue, what); err != nil {
			return err
		}
	}
	return nil
}

// messagesV2 parses the messages of one version 2 header chunk, b at file
// address addr, adding continuations to queue.
func (f *file) messagesV2(o *object, b []byte, addr uint64, creation bool, queue *[]span, what string) error {
	hs := 4
	if creation {
		hs = 6
	}
	d := f.dec(b, what)
	for d.left() >= hs { // fewer bytes are a gap
		typ, n, flags := d.u8(), d.u16(), d.u8()
		if creation {
			d.skip(2)
		}
		at := addr + uint64(d.off)
		data := d.bytes(int(n))
		if d.err != nil {
			return d.err
		}
		switch typ {
		case msgContinuation:
			s, err := f.continuation(data, what)
			if err != nil {
				return err
			}
			*queue = append(*queue, s)
			o.msgs = append(o.msgs, message{uint16(typ), flags, data, at})
		case msgNil:
		default:
			o.msgs = append(o.msgs, message{uint16(typ), flags, data, at})
		}
	}
	return nil
}

// sharedTarget decodes a shared message stored in another object header (a
// committed datatype) and returns that header's address.
func (f *file) sharedTarget(data []byte, what string) (uint64, error) {
	d := f.dec(data, what+": shared message")
	v, typ := d.u8(), d.u8()
	switch v {
	case 1:
		d.skip(6)
	case 2:
	case 3:
		if typ != 2 {
			return 0, unsupported("%s is in the file's shared message heap, which is not supported (committed datatypes are)", what)
		}
	default:
		return 0, corrupt("%s: shared message version %d", what, v)
	}
	a := d.addr()
	return a, d.check()
}

// resolveShared returns the message of type typ that m refers to when m is
// shared, or m itself.
func (f *file) resolveShared(m *message, what string) (*message, error) {
	for range 8 { // a chain of shared messages, bounded
		if m.flags&msgShared == 0 {
			return m, nil
		}
		a, err := f.sharedTarget(m.data, what)
		if err != nil {
			return nil, err
		}
		o, err := f.readObject(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		t := o.find(m.typ)
		if t == nil {
			return nil, corrupt("%s: the shared object at %d has no such message", what, a)
		}
		m = t
	}
	return nil, corrupt("%s: shared messages refer to each other", what)
}
