package mrc

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// baseHeader is a valid little-endian float32 header of 4×3×2 (x, y, z)
// voxels of 10 × 10 × 50 Å.
func baseHeader() Header {
	return Header{
		NX: 4, NY: 3, NZ: 2, Mode: 2,
		MX: 4, MY: 3, MZ: 2,
		CellA: [3]float32{40, 30, 100}, CellB: [3]float32{90, 90, 90},
		MapC: 1, MapR: 2, MapS: 3,
		DMin: 0, DMax: 23, DMean: 11.5,
		ISPG: 1, NVersion: 20141,
		Map: "MAP ", MachSt: [4]byte{0x44, 0x44},
		NLabl: 1, Labels: []string{"test"},
	}
}

// fileBytes returns h followed by NSYMBT bytes of extended header and
// data bytes of data (the exact size when data < 0).
func fileBytes(h Header, data int) []byte {
	if data < 0 {
		n, _ := h.dataBytes()
		data = int(n)
	}
	b := h.encode()
	b = append(b, make([]byte, max(h.NSymBT, 0)+data)...)
	for i := HeaderSize; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// writeTemp writes b to a file named name in a new temporary folder.
func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenBadInput opens corrupt, truncated and lying files: each must
// fail with an error naming the file and the problem, without panicking
// or allocating from the header's sizes.
func TestOpenBadInput(t *testing.T) {
	with := func(f func(h *Header)) Header {
		h := baseHeader()
		f(&h)
		return h
	}
	cases := []struct {
		name   string
		file   []byte
		want   string
		format bool // wraps ErrFormat
	}{
		{"empty", nil, "0 bytes, less than the 1024-byte MRC header", true},
		{"shorter than the header", make([]byte, 100), "100 bytes, less than the 1024-byte", true},
		{"truncated data", fileBytes(baseHeader(), 95), "header says 4×3×2 mode 2 (96 B), file has 95 B of data", true},
		{"no data", fileBytes(baseHeader(), 0), "file has 0 B of data", true},
		{"lying sizes", fileBytes(with(func(h *Header) { h.NX, h.NY, h.NZ = 512, 512, 300 }), 96),
			"header says 512×512×300 mode 2 (300.0 MiB), file has 96 B of data", true},
		{"huge sizes", fileBytes(with(func(h *Header) { h.NX, h.NY, h.NZ = math.MaxInt32, math.MaxInt32, math.MaxInt32 }), 96),
			"header says 2147483647×2147483647×2147483647 mode 2 (more than 8 EiB)", true},
		{"truncated by one byte of many", fileBytes(with(func(h *Header) { h.NX, h.NY, h.NZ = 1024, 1024, 2 }), 8<<20-1),
			"(8.0 MiB, 8388608 bytes), file has 8.0 MiB, 8388607 bytes of data", true},
		{"NSYMBT beyond the file", append(with(func(h *Header) { h.NSymBT = 1 << 30 }).encode(), make([]byte, 96)...),
			"extended header of 1073741824 bytes (NSYMBT) runs past the end of the 1120-byte file", true},
		{"NSYMBT eats the data", fileBytes(with(func(h *Header) { h.NSymBT = 50 }), 96)[:HeaderSize+96],
			"file has 46 B of data", true},
		{"negative NSYMBT", fileBytes(with(func(h *Header) { h.NSymBT = -8 }), 96), "NSYMBT = -8 is negative", true},
		{"mode 3", fileBytes(with(func(h *Header) { h.Mode = 3 }), 96), "mode 3 (complex int16) is not supported", true},
		{"mode 4", fileBytes(with(func(h *Header) { h.Mode = 4 }), 192), "mode 4 (complex float32) is not supported", true},
		{"mode 101", fileBytes(with(func(h *Header) { h.Mode = 101 }), 96), "mode 101 (4-bit) is not supported", true},
		{"mode 16", fileBytes(with(func(h *Header) { h.Mode = 16 }), 96), "mode 16 (RGB, 3 bytes) is not supported", true},
		{"mode 57", fileBytes(with(func(h *Header) { h.Mode = 57 }), 96), "mode 57 is not an MRC data mode", true},
		{"mode -1", fileBytes(with(func(h *Header) { h.Mode = -1 }), 96), "mode -1 is not an MRC data mode", true},
		{"IMOD 4-bit", fileBytes(with(func(h *Header) { h.Mode, h.IMODStamp, h.IMODFlags = 0, IMODStamp, IMODFourBit|IMODSignedBytes }), 96),
			"IMOD's 4-bit flag", true},
		{"zero NX", fileBytes(with(func(h *Header) { h.NX = 0 }), 96), "NX×NY×NZ = 0×3×2: every size must be positive", true},
		{"negative NY", fileBytes(with(func(h *Header) { h.NY = -3 }), 96), "NX×NY×NZ = 4×-3×2: every size must be positive", true},
		{"bad MAPC", fileBytes(with(func(h *Header) { h.MapC = 2 }), 96), "MAPC, MAPR, MAPS = 2, 2, 3 is not a permutation of 1, 2, 3", true},
		{"MAPS 4", fileBytes(with(func(h *Header) { h.MapS = 4 }), 96), "MAPC, MAPR, MAPS = 1, 2, 4 is not a permutation", true},
		{"negative MAPR", fileBytes(with(func(h *Header) { h.MapR = -2 }), 96), "MAPC, MAPR, MAPS = 1, -2, 3", true},
		{"text", []byte(strings.Repeat("not an MRC file\n", 100)), "is not an MRC data mode", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "bad.mrc", c.file)
			f, err := Open(p)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded; want an error with %q", c.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "mrc: read "+p+": ") || !strings.Contains(msg, c.want) {
				t.Errorf("error %q\nwant \"mrc: read %s: …%s…\"", msg, p, c.want)
			}
			if errors.Is(err, ErrFormat) != c.format {
				t.Errorf("errors.Is(err, ErrFormat) = %v", !c.format)
			}
			// ReadHeader says the same, with the package's prefix.
			_, err = ReadHeader(bytes.NewReader(c.file), int64(len(c.file)))
			if err == nil || !strings.HasPrefix(err.Error(), "mrc: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadHeader: %v", err)
			}
		})
	}
}

// TestOpenNotAFile checks the errors for a missing file and a folder.
func TestOpenNotAFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "none.mrc"), "no such file"},
		{"folder", dir, "is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(c.path)
			if err == nil || err.Error() != "mrc: read "+c.path+": "+c.want && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestByteOrder checks how the byte order is chosen: from the machine
// stamp, or, when it is missing or wrong, from the header that is
// plausible.
func TestByteOrder(t *testing.T) {
	cases := []struct {
		name  string
		big   bool    // how the header is written
		stamp [2]byte // MACHST
		mode  int
		nx    int
		want  bool // big-endian read
	}{
		{"little 0x44 0x44", false, [2]byte{0x44, 0x44}, 2, 4, false},
		{"little 0x44 0x41", false, [2]byte{0x44, 0x41}, 1, 4, false},
		{"big 0x11 0x11", true, [2]byte{0x11, 0x11}, 2, 4, true},
		{"big, no stamp", true, [2]byte{}, 2, 4, true},
		{"little, no stamp", false, [2]byte{}, 6, 4, false},
		{"big, little stamp", true, [2]byte{0x44, 0x44}, 1, 4, true},
		{"little, big stamp", false, [2]byte{0x11, 0x11}, 12, 4, false},
		{"big, odd stamp", true, [2]byte{0x20, 0x20}, 2, 4, true},
		// Mode 0 reads the same both ways: the sizes decide.
		{"mode 0 big, no stamp", true, [2]byte{}, 0, 4, true},
		{"mode 0 little, big stamp", false, [2]byte{0x11, 0x11}, 0, 4, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := baseHeader()
			h.BigEndian, h.MachSt, h.Mode, h.NX = c.big, [4]byte{c.stamp[0], c.stamp[1]}, c.mode, c.nx
			b := fileBytes(h, -1)
			got, err := ReadHeader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if got.BigEndian != c.want || got.NX != c.nx || got.Mode != c.mode || got.Shape() != (volume.Shape{Z: 2, Y: 3, X: c.nx}) {
				t.Errorf("big %v NX %d mode %d shape %v, want big %v NX %d mode %d", got.BigEndian, got.NX, got.Mode, got.Shape(), c.want, c.nx, c.mode)
			}
			if got.Voxel().X != 1 || got.Labels[0] != "test" || got.MachSt[0] != c.stamp[0] {
				t.Errorf("voxel %v labels %q machst %v", got.Voxel(), got.Labels, got.MachSt)
			}
		})
	}
}

// TestModeZeroSignedness checks the convention for mode 0: IMOD's flag
// when its stamp is there, else the statistics when only unsigned bytes
// can have them, else signed (MRC2014, mrcfile).
func TestModeZeroSignedness(t *testing.T) {
	cases := []struct {
		name       string
		stamp      int
		flags      int
		dmin, dmax float32
		unsigned   bool
	}{
		{"IMOD, signed flag", IMODStamp, IMODSignedBytes, 0, 255, false},
		{"IMOD, flag clear", IMODStamp, 0, -100, 100, true},
		{"IMOD, other flags", IMODStamp, 2 | 4 | 8, 0, 0, true},
		{"no stamp, statistics 0…255", 0, 0, 0, 255, true},
		{"no stamp, statistics 3…200", 0, 0, 3, 200, true},
		{"no stamp, statistics 0…100", 0, 0, 0, 100, false},
		{"no stamp, negative minimum", 0, 0, -5, 120, false},
		{"no stamp, statistics unknown", 0, 0, 0, -1, false},
		{"no stamp, statistics beyond bytes", 0, 0, 0, 1000, false},
		{"other stamp", 12345, 0, -128, 127, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := baseHeader()
			h.Mode, h.IMODStamp, h.IMODFlags, h.DMin, h.DMax = 0, c.stamp, c.flags, c.dmin, c.dmax
			b := fileBytes(h, -1)
			got, err := ReadHeader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			want := volume.Int16
			if c.unsigned {
				want = volume.Uint8
			}
			if got.UnsignedBytes != c.unsigned || got.DType() != want {
				t.Errorf("unsigned %v %v, want %v %v", got.UnsignedBytes, got.DType(), c.unsigned, want)
			}
		})
	}
}

// TestVoxel checks the voxel size: CELLA/M in nm, and unknown for the
// placeholders and impossible sizes.
func TestVoxel(t *testing.T) {
	nm := func(z, y, x float64) volume.Voxel {
		return volume.Voxel{Z: z, Y: y, X: x, Unit: "nm", Known: true, Source: "MRC header"}
	}
	cases := []struct {
		name string
		cell [3]float32 // x, y, z in Å
		m    [3]int
		want volume.Voxel
	}{
		{"anisotropic 40×4×4 Å", [3]float32{400, 40, 80}, [3]int{100, 10, 2}, nm(4, 0.4, 0.4)},
		{"4.2 Å", [3]float32{4.2 * 7, 4.2 * 9, 4.2 * 11}, [3]int{7, 9, 11}, nm(0.42, 0.42, 0.42)},
		{"sampling differs from size", [3]float32{100, 100, 100}, [3]int{50, 25, 10}, nm(1, 0.4, 0.2)},
		{"1 Å except z", [3]float32{7, 9, 22}, [3]int{7, 9, 11}, nm(0.2, 0.1, 0.1)},
		{"unset (0)", [3]float32{}, [3]int{7, 9, 11}, volume.Unknown()},
		{"1 Å placeholder", [3]float32{7, 9, 11}, [3]int{7, 9, 11}, volume.Unknown()},
		{"z unset", [3]float32{7, 9, 0}, [3]int{1, 1, 1}, volume.Unknown()},
		{"negative", [3]float32{7, -9, 11}, [3]int{1, 1, 1}, volume.Unknown()},
		{"NaN", [3]float32{float32(math.NaN()), 9, 11}, [3]int{1, 1, 1}, volume.Unknown()},
		{"infinite", [3]float32{float32(math.Inf(1)), 9, 11}, [3]int{1, 1, 1}, volume.Unknown()},
		{"MX 0", [3]float32{7, 9, 11}, [3]int{0, 1, 1}, volume.Unknown()},
		{"MZ negative", [3]float32{7, 9, 11}, [3]int{1, 1, -1}, volume.Unknown()},
		{"tiny", [3]float32{1e-40, 1e-40, 1e-40}, [3]int{1, 1, 1}, nm(1e-41, 1e-41, 1e-41)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := baseHeader()
			h.CellA, h.MX, h.MY, h.MZ = c.cell, c.m[0], c.m[1], c.m[2]
			got := h.Voxel()
			if got.Known != c.want.Known || got.Unit != c.want.Unit || got.Source != c.want.Source ||
				!nearlyEqual(got.Z, c.want.Z) || !nearlyEqual(got.Y, c.want.Y) || !nearlyEqual(got.X, c.want.X) {
				t.Errorf("voxel %+v, want %+v", got, c.want)
			}
		})
	}
	// Sizes with a short decimal form convert exactly.
	h := baseHeader()
	h.CellA, h.MX, h.MY, h.MZ = [3]float32{4.2 * 1000, 4.2 * 1000, 35}, 1000, 1000, 10
	if v := h.Voxel(); v.X != 0.42 || v.Y != 0.42 || v.Z != 0.35 {
		t.Errorf("voxel %v, want exactly 0.35 × 0.42 × 0.42 nm", v)
	}
}

// TestAxisOrder checks the shape of transposed files and that all three
// map fields left at 0 read as the standard order.
func TestAxisOrder(t *testing.T) {
	cases := []struct {
		mapc, mapr, maps int
		want             volume.Shape // for NX, NY, NZ = 4, 3, 2
	}{
		{1, 2, 3, volume.Shape{Z: 2, Y: 3, X: 4}},
		{0, 0, 0, volume.Shape{Z: 2, Y: 3, X: 4}},
		{3, 2, 1, volume.Shape{Z: 4, Y: 3, X: 2}},
		{2, 1, 3, volume.Shape{Z: 2, Y: 4, X: 3}},
		{2, 3, 1, volume.Shape{Z: 3, Y: 4, X: 2}},
		{3, 1, 2, volume.Shape{Z: 4, Y: 2, X: 3}},
		{1, 3, 2, volume.Shape{Z: 3, Y: 2, X: 4}},
	}
	for _, c := range cases {
		h := baseHeader()
		h.MapC, h.MapR, h.MapS = c.mapc, c.mapr, c.maps
		b := fileBytes(h, -1)
		got, err := ReadHeader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Errorf("%d,%d,%d: %v", c.mapc, c.mapr, c.maps, err)
			continue
		}
		if got.Shape() != c.want {
			t.Errorf("%d,%d,%d: shape %v, want %v", c.mapc, c.mapr, c.maps, got.Shape(), c.want)
		}
	}
}

// TestSniff checks detection by content.
func TestSniff(t *testing.T) {
	h := baseHeader()
	noMap := h
	noMap.Map = ""
	noMapBig := noMap
	noMapBig.BigEndian = true
	badAxes := noMap
	badAxes.MapC = 7
	npy := append([]byte("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"), bytes.Repeat([]byte(" "), 60)...)
	tiff := append([]byte("II*\x00\x08\x00\x00\x00"), make([]byte, 1016)...)
	garbageMap := make([]byte, 1024)
	copy(garbageMap[208:], "MAP ")
	cases := []struct {
		name string
		head []byte
		want bool
	}{
		{"MRC2014", h.encode(), true},
		{"MRC2014, first 212 bytes", h.encode()[:212], true},
		{"MAP stamp, nothing else", garbageMap, true},
		{"no MAP, little-endian", noMap.encode(), true},
		{"no MAP, big-endian", noMapBig.encode(), true},
		{"no MAP, first 96 bytes", noMap.encode()[:96], true},
		{"no MAP, 95 bytes", noMap.encode()[:95], false},
		{"no MAP, bad axes", badAxes.encode(), false},
		{"npy", npy, false},
		{"tiff", tiff, false},
		{"zeros", make([]byte, 1024), false},
		{"text", []byte(strings.Repeat("hello, world ", 100)), false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		if got := Sniff(c.head); got != c.want {
			t.Errorf("%s: Sniff = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestHalfToFloat32 checks the float16 conversion at its edges.
func TestHalfToFloat32(t *testing.T) {
	cases := []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0xfbff, -65504},
		{0x0400, 1.0 / (1 << 14)},           // smallest normal
		{0x0001, 1.0 / (1 << 24)},           // smallest subnormal
		{0x03ff, 1023.0 / (1 << 24)},        // largest subnormal
		{0x8001, -1.0 / (1 << 24)},          // negative subnormal
		{0x7c00, float32(math.Inf(1))},      // +Inf
		{0xfc00, float32(math.Inf(-1))},     // -Inf
		{0x5640, 100},                       // an integer
		{0x2e66, 0.0999755859375},           // 0.1 rounded
		{0x4248, 3.140625},                  // π rounded
		{0xd3d0, -62.5},                     // negative
		{0x6400, 1024},                      // exponent 10
		{0x0200, 512.0 / (1 << 24)},         // mid subnormal
		{0x3bff, 0.99951171875},             // below 1
		{0x3c01, 1.0009765625},              // above 1
		{0x1400, 1.0 / (1 << 10) / 1.0},     // 2⁻¹⁰
		{0x7800, 32768},                     // 2¹⁵
		{0x8400, -1.0 / (1 << 14)},          // negative smallest normal
		{0x4900, 10},                        // ten
		{0xbc00, -1},                        // minus one
		{0x3800, 0.5},                       // half
		{0x3400, 0.25},                      // quarter
		{0x2000, 1.0 / (1 << 7)},            // 2⁻⁷
		{0x5bff, 255.875},                   // below 256
		{0x5c00, 256},                       // 256
		{0x1001, 1.0/(1<<11) + 1.0/(1<<21)}, // fraction bit 0
	}
	for _, c := range cases {
		if got := halfToFloat32(c.bits); got != c.want {
			t.Errorf("%#04x: %v, want %v", c.bits, got, c.want)
		}
	}
	if got := halfToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("0x8000: %v, want -0", got)
	}
	for _, b := range []uint16{0x7e00, 0x7c01, 0xfe00, 0x7fff} {
		if got := halfToFloat32(b); !math.IsNaN(float64(got)) {
			t.Errorf("%#04x: %v, want NaN", b, got)
		}
	}
	// The table is the function.
	tab := halfTable()
	for i := range tab {
		a, b := tab[i], halfToFloat32(uint16(i))
		if math.Float32bits(a) != math.Float32bits(b) {
			t.Fatalf("table[%#04x] = %v, want %v", i, a, b)
		}
	}
}

// TestSummary checks the one-line description of a header.
func TestSummary(t *testing.T) {
	h := baseHeader()
	if got := h.Summary(); got != "mode 2 (float32)" {
		t.Errorf("%q", got)
	}
	h.Mode, h.UnsignedBytes, h.BigEndian, h.NSymBT, h.ExtType, h.ISPG = 0, true, true, 1536, "FEI1", 0
	h.MapC, h.MapS = 3, 1
	want := "mode 0 (8-bit integer, unsigned), big-endian, axes MAPC/MAPR/MAPS 3,2,1, image stack, 1536-byte FEI1 extended header"
	if got := h.Summary(); got != want {
		t.Errorf("%q\nwant %q", got, want)
	}
}
