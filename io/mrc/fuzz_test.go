package mrc

import (
	"bytes"
	"context"
	"testing"

	"github.com/niiv/niiv/volume"
)

// FuzzHeader feeds ReadHeader, and File.Read for what it accepts, with
// mutated files. Nothing may panic, and an accepted header must describe
// data inside the file, a valid shape and a supported type, and look like
// MRC to Sniff.
func FuzzHeader(f *testing.F) {
	seed := func(mut func(h *Header), data int) {
		h := baseHeader()
		mut(&h)
		f.Add(fileBytes(h, data))
	}
	seed(func(h *Header) {}, -1)
	seed(func(h *Header) { h.BigEndian, h.MachSt = true, [4]byte{0x11, 0x11} }, -1)
	seed(func(h *Header) { h.BigEndian, h.MachSt, h.Map = true, [4]byte{}, "" }, -1)
	seed(func(h *Header) { h.Mode, h.IMODStamp, h.IMODFlags = 0, IMODStamp, IMODSignedBytes }, -1)
	seed(func(h *Header) { h.Mode, h.DMin, h.DMax = 0, 0, 255 }, -1)
	seed(func(h *Header) { h.Mode = 12 }, -1)
	seed(func(h *Header) { h.Mode = 6 }, 100)
	seed(func(h *Header) { h.Mode, h.BigEndian = 1, true }, -1)
	seed(func(h *Header) { h.MapC, h.MapR, h.MapS = 3, 1, 2 }, -1)
	seed(func(h *Header) { h.NSymBT, h.ExtType = 128, "FEI1" }, -1)
	seed(func(h *Header) { h.ISPG, h.NLabl = 0, 10 }, -1)
	seed(func(h *Header) { h.NX = 1 << 20 }, 96)
	seed(func(h *Header) { h.Mode = 4 }, -1)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		h, err := ReadHeader(bytes.NewReader(b), int64(len(b)))
		Sniff(b)
		if err != nil {
			return
		}
		s := h.Shape()
		if !s.Valid() || h.DType().Size() == 0 || h.DataOffset()+h.DataBytes() > int64(len(b)) || h.DataBytes() != int64(s.Len())*int64(modes[h.Mode].size) {
			t.Fatalf("accepted header: shape %v type %v data %d+%d in %d bytes", s, h.DType(), h.DataOffset(), h.DataBytes(), len(b))
		}
		if !Sniff(b) {
			t.Fatalf("ReadHeader accepts what Sniff refuses: %+v", h)
		}
		h.Summary()
		h.Voxel()
		m := newFile(bytes.NewReader(b), h, "fuzz.mrc")
		ctx := context.Background()
		if s.Len() <= 1<<16 {
			v, err := m.Read(ctx, volume.Whole(s))
			if err != nil || v.Shape() != s || v.DType() != h.DType() {
				t.Fatalf("reading all of %v: %v", s, err)
			}
		}
		c := volume.Box{Z0: s.Z / 2, Z1: s.Z/2 + 1, Y0: s.Y / 2, Y1: min(s.Y, s.Y/2+2), X0: 0, X1: min(s.X, 3)}
		if _, err := m.Read(ctx, c); err != nil {
			t.Fatalf("reading %v of %v: %v", c, s, err)
		}
	})
}
