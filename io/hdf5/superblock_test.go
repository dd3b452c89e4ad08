package hdf5

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// superblockBytes returns a superblock of version v with 8-byte offsets
// and lengths whose root group object header is at root (and, for versions
// 0 and 1, whose root symbol table entry caches B-tree bt and heap hp).
func superblockBytes(v int, root, bt, hp uint64) []byte {
	var b bytes.Buffer
	b.WriteString(Signature)
	le := func(x uint64) { binary.Write(&b, binary.LittleEndian, x) }
	switch v {
	case 0, 1:
		b.Write([]byte{byte(v), 0, 0, 0, 0, 8, 8, 0, 4, 0, 16, 0, 0, 0, 0, 0})
		if v == 1 {
			b.Write([]byte{32, 0, 0, 0})
		}
		le(0)                                   // base address
		le(^uint64(0))                          // free space
		le(1 << 20)                             // end of file
		le(^uint64(0))                          // driver info
		le(0)                                   // root link name offset
		le(root)                                // root object header
		b.Write([]byte{1, 0, 0, 0, 0, 0, 0, 0}) // cache type 1
		le(bt)
		le(hp)
	default:
		b.Write([]byte{byte(v), 8, 8, 0})
		le(0)
		le(^uint64(0))
		le(1 << 20)
		le(root)
		binary.Write(&b, binary.LittleEndian, lookup3(b.Bytes()))
	}
	b.Write(make([]byte, 64))
	return b.Bytes()
}

// TestSuperblocks decodes superblocks of versions 0 to 3 (version 1, with
// its indexed storage K, is one h5py cannot write), and refuses others.
func TestSuperblocks(t *testing.T) {
	for _, v := range []int{0, 1, 2, 3} {
		b := superblockBytes(v, 800, 1000, 1200)
		f, err := openFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if f.sbVer != v || f.root != 800 || f.offSize != 8 || f.lenSize != 8 {
			t.Errorf("version %d: read version %d, root %d, sizes %d and %d", v, f.sbVer, f.root, f.offSize, f.lenSize)
		}
		if want := [2]uint64{1000, 1200}; v < 2 && f.rootStab != want {
			t.Errorf("version %d: root symbol table %v, want %v", v, f.rootStab, want)
		}
	}
	b := superblockBytes(3, 800, 0, 0)
	b[20] ^= 1
	if _, err := openFile(bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("damaged version 3 superblock: %v", err)
	}
	b = superblockBytes(0, 800, 0, 0)
	b[8] = 4
	if _, err := openFile(bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), "superblock version 4 is not supported") {
		t.Errorf("version 4: %v", err)
	}
	b = superblockBytes(0, 800, 0, 0)
	b[13] = 3
	if _, err := openFile(bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), "sizes of offsets and lengths 3 and 8") {
		t.Errorf("3-byte offsets: %v", err)
	}
}

// TestLookup3 checks the metadata checksum against values of the
// reference implementation (hashlittle with an initial value of 0).
func TestLookup3(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0xdeadbeef},
		{"Four score and seven years ago", 0x17770551},
	} {
		if got := lookup3([]byte(c.in)); got != c.want {
			t.Errorf("lookup3(%q) = %08x, want %08x", c.in, got, c.want)
		}
	}
}
