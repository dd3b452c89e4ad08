package mrc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/niiv/niiv/volume"
)

// HeaderSize is the size of the fixed MRC header in bytes; the extended
// header (NSYMBT bytes) and then the data follow it.
const HeaderSize = 1024

// IMODStamp in the header's IMODStamp field says that IMODFlags is set.
const IMODStamp = 1146047817 // "IMOD" as a little-endian int32

// IMODSignedBytes is IMOD's flag bit for mode 0 bytes that are signed.
const IMODSignedBytes = 1

// IMODFourBit is IMOD's flag bit for mode 0 bytes that hold two 4-bit
// values each (not supported).
const IMODFourBit = 16

// Byte offsets of the header fields.
const (
	offNX, offNY, offNZ   = 0, 4, 8
	offMode               = 12
	offNXStart            = 16
	offMX                 = 28
	offCellA, offCellB    = 40, 52
	offMapC               = 64
	offDMin               = 76
	offISPG, offNSymBT    = 88, 92
	offExtType            = 104
	offNVersion           = 108
	offIMODStamp, offIMOD = 152, 156
	offOrigin             = 196
	offMap, offMachSt     = 208, 212
	offRMS, offNLabl      = 216, 220
	offLabels, labelLen   = 224, 80
	maxLabels             = 10
)

// Header is the 1024-byte MRC header, with the byte order and the
// signedness of mode 0 as this package reads them.
type Header struct {
	NX, NY, NZ int // columns, rows and sections in the file
	Mode       int // 0, 1, 2, 6 or 12 in a header ReadHeader accepts
	// NXStart, NYStart and NZStart locate the first column, row and section
	// in a larger grid.
	NXStart, NYStart, NZStart int
	MX, MY, MZ                int        // sampling along X, Y and Z (for the voxel size)
	CellA                     [3]float32 // cell lengths along X, Y and Z in Å
	CellB                     [3]float32 // cell angles α, β, γ in degrees
	// MapC, MapR and MapS say which axis (1 = X, 2 = Y, 3 = Z) the
	// columns, rows and sections are; all three 0 is read as 1, 2, 3.
	MapC, MapR, MapS  int
	DMin, DMax, DMean float32 // value statistics; DMax < DMin when unknown
	ISPG              int     // space group: 0 image stack, 1 volume, 401–630 volume stack
	NSymBT            int     // bytes of extended header, skipped
	ExtType           string  // EXTTYP: the extended header's kind ("FEI1", "SERI", ...)
	NVersion          int     // NVERSION: 20140 or 20141 for MRC2014
	// IMODStamp is IMODStamp when the file was written by IMOD or other
	// software that sets IMODFlags.
	IMODStamp, IMODFlags int
	Origin               [3]float32 // ORIGIN along X, Y and Z in Å
	Map                  string     // "MAP " in MRC2014 files
	MachSt               [4]byte    // machine stamp as in the file
	RMS                  float32    // RMS deviation from the mean; negative when unknown
	NLabl                int        // NLABL as in the file
	Labels               []string   // the used labels, trailing blanks removed
	// BigEndian says the file's numbers are big-endian.
	BigEndian bool
	// UnsignedBytes says mode 0 data are unsigned (see the package
	// documentation for how this is decided).
	UnsignedBytes bool
}

// ReadHeader reads and checks the header of an MRC file of size bytes:
// the mode is supported, the sizes are positive, the axis order is a
// permutation of X, Y, Z, and the extended header and the data fit in the
// file (more data than the header needs is allowed). Nothing is allocated
// from the header's sizes.
func ReadHeader(r io.ReaderAt, size int64) (Header, error) {
	h, err := readHeader(r, size)
	if err != nil {
		return h, fmt.Errorf("mrc: %w", err)
	}
	return h, nil
}

// readHeader is ReadHeader without the package prefix on errors.
func readHeader(r io.ReaderAt, size int64) (Header, error) {
	if size < HeaderSize {
		return Header{}, fmt.Errorf("%w: the file has %d bytes, less than the %d-byte MRC header", ErrFormat, size, HeaderSize)
	}
	b := make([]byte, HeaderSize)
	if n, err := r.ReadAt(b, 0); n < HeaderSize {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Header{}, fmt.Errorf("reading the header: %w", err)
	}
	h := decodeHeader(b, size)
	return h, h.check(size)
}

// decodeHeader decodes a 1024-byte header, choosing the byte order: the
// machine stamp's (little-endian when it is not a known stamp), unless the
// other order gives a more plausible header.
func decodeHeader(b []byte, size int64) Header {
	big, ok := stampOrder(b[offMachSt], b[offMachSt+1])
	first := parseHeader(b, big)
	if !ok || plausibility(first, size) < 2 {
		other := parseHeader(b, !big)
		if plausibility(other, size) > plausibility(first, size) {
			return other
		}
	}
	return first
}

// stampOrder returns the byte order a machine stamp gives: 0x44 0x44 or
// 0x44 0x41 for little-endian, 0x11 0x11 for big-endian; ok is false for
// any other stamp (missing, or written by a program that got it wrong).
func stampOrder(b0, b1 byte) (big, ok bool) {
	switch {
	case b0 == 0x44 && (b1 == 0x44 || b1 == 0x41):
		return false, true
	case b0 == 0x11 && b1 == 0x11:
		return true, true
	}
	return false, false
}

// plausibility scores a header decoded in one byte order: 0 when its mode
// is not an MRC mode, 1 when it is, 2 when the sizes are also positive and
// the data fit in the file.
func plausibility(h Header, size int64) int {
	if _, ok := modes[h.Mode]; !ok {
		return 0
	}
	if h.NX <= 0 || h.NY <= 0 || h.NZ <= 0 || h.NSymBT < 0 {
		return 1
	}
	need, ok := h.dataBytes()
	if !ok || int64(HeaderSize)+int64(h.NSymBT) > size || need > uint64(size-HeaderSize-int64(h.NSymBT)) {
		return 1
	}
	return 2
}

// parseHeader decodes the fields of a 1024-byte header in one byte order.
func parseHeader(b []byte, big bool) Header {
	var o binary.ByteOrder = binary.LittleEndian
	if big {
		o = binary.BigEndian
	}
	i32 := func(off int) int { return int(int32(o.Uint32(b[off:]))) }
	f32 := func(off int) float32 { return math.Float32frombits(o.Uint32(b[off:])) }
	f3 := func(off int) [3]float32 { return [3]float32{f32(off), f32(off + 4), f32(off + 8)} }
	h := Header{
		NX: i32(offNX), NY: i32(offNY), NZ: i32(offNZ),
		Mode:    i32(offMode),
		NXStart: i32(offNXStart), NYStart: i32(offNXStart + 4), NZStart: i32(offNXStart + 8),
		MX: i32(offMX), MY: i32(offMX + 4), MZ: i32(offMX + 8),
		CellA: f3(offCellA), CellB: f3(offCellB),
		MapC: i32(offMapC), MapR: i32(offMapC + 4), MapS: i32(offMapC + 8),
		DMin: f32(offDMin), DMax: f32(offDMin + 4), DMean: f32(offDMin + 8),
		ISPG:      i32(offISPG),
		NSymBT:    i32(offNSymBT),
		ExtType:   printable(b[offExtType : offExtType+4]),
		NVersion:  i32(offNVersion),
		IMODStamp: i32(offIMODStamp), IMODFlags: i32(offIMOD),
		Origin:    f3(offOrigin),
		Map:       printable(b[offMap : offMap+4]),
		RMS:       f32(offRMS),
		NLabl:     i32(offNLabl),
		BigEndian: big,
	}
	copy(h.MachSt[:], b[offMachSt:offMachSt+4])
	for i := range min(max(h.NLabl, 0), maxLabels) {
		l := b[offLabels+i*labelLen : offLabels+(i+1)*labelLen]
		h.Labels = append(h.Labels, strings.TrimRight(printable(l), " "))
	}
	h.UnsignedBytes = h.Mode == 0 && unsignedBytes(h)
	return h
}

// unsignedBytes decides whether mode 0 bytes are unsigned (see the package
// documentation).
func unsignedBytes(h Header) bool {
	if h.IMODStamp == IMODStamp {
		return h.IMODFlags&IMODSignedBytes == 0
	}
	return h.DMin >= 0 && h.DMax > 127.5 && h.DMax <= 255 && h.DMin <= h.DMax
}

// printable returns the printable ASCII characters of b up to its first
// NUL.
func printable(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return -1
		}
		return r
	}, string(b))
}

// mode describes an MRC mode: its bytes per value in the file (0 for the
// 4-bit mode) and niiv's element type (0 when not supported).
type mode struct {
	name  string
	size  int
	dtype volume.DType
}

// modes are the MRC modes, supported or not.
var modes = map[int]mode{
	0:   {"8-bit integer", 1, volume.Int16},
	1:   {"int16", 2, volume.Int16},
	2:   {"float32", 4, volume.Float32},
	3:   {"complex int16", 4, 0},
	4:   {"complex float32", 8, 0},
	6:   {"uint16", 2, volume.Uint16},
	12:  {"float16", 2, volume.Float32},
	16:  {"RGB, 3 bytes", 3, 0},
	101: {"4-bit", 0, 0},
}

// ModeName describes an MRC mode: "float32", "complex int16", ...
func ModeName(m int) string {
	if d, ok := modes[m]; ok {
		return d.name
	}
	return fmt.Sprintf("unknown mode %d", m)
}

// check validates a decoded header against the file size.
func (h Header) check(size int64) error {
	d, ok := modes[h.Mode]
	switch {
	case !ok:
		return fmt.Errorf("%w: mode %d is not an MRC data mode (niiv reads modes 0 int8, 1 int16, 2 float32, 6 uint16 and 12 float16)", ErrFormat, h.Mode)
	case d.dtype == 0:
		return fmt.Errorf("%w: mode %d (%s) is not supported (niiv reads modes 0 int8, 1 int16, 2 float32, 6 uint16 and 12 float16)", ErrFormat, h.Mode, d.name)
	case h.Mode == 0 && h.IMODStamp == IMODStamp && h.IMODFlags&IMODFourBit != 0:
		return fmt.Errorf("%w: mode 0 with IMOD's 4-bit flag (two 4-bit values per byte) is not supported", ErrFormat)
	}
	if h.NX <= 0 || h.NY <= 0 || h.NZ <= 0 {
		return fmt.Errorf("%w: header says NX×NY×NZ = %d×%d×%d: every size must be positive", ErrFormat, h.NX, h.NY, h.NZ)
	}
	if _, ok := h.axes(); !ok {
		return fmt.Errorf("%w: axis order MAPC, MAPR, MAPS = %d, %d, %d is not a permutation of 1, 2, 3 (X, Y, Z)", ErrFormat, h.MapC, h.MapR, h.MapS)
	}
	if h.NSymBT < 0 {
		return fmt.Errorf("%w: extended header size NSYMBT = %d is negative", ErrFormat, h.NSymBT)
	}
	if int64(HeaderSize)+int64(h.NSymBT) > size {
		return fmt.Errorf("%w: extended header of %d bytes (NSYMBT) runs past the end of the %d-byte file", ErrFormat, h.NSymBT, size)
	}
	have := size - HeaderSize - int64(h.NSymBT)
	need, ok := h.dataBytes()
	if !ok || need > math.MaxInt64 {
		return fmt.Errorf("%w: header says %d×%d×%d mode %d (more than 8 EiB), file has %s of data", ErrFormat, h.NX, h.NY, h.NZ, h.Mode, humanBytes(have))
	}
	if int64(need) > have {
		want, got := twoSizes(int64(need), have)
		return fmt.Errorf("%w: header says %d×%d×%d mode %d (%s), file has %s of data", ErrFormat, h.NX, h.NY, h.NZ, h.Mode, want, got)
	}
	if uint64(h.NX)*uint64(h.NY)*uint64(h.NZ) > math.MaxInt {
		return fmt.Errorf("%w: %d×%d×%d voxels are too many for this machine", ErrFormat, h.NX, h.NY, h.NZ)
	}
	return nil
}

// dataBytes returns the size of the data block; ok is false when the sizes
// are not positive or their product overflows 64 bits.
func (h Header) dataBytes() (uint64, bool) {
	d, known := modes[h.Mode]
	if !known || h.NX <= 0 || h.NY <= 0 || h.NZ <= 0 {
		return 0, false
	}
	n := uint64(1)
	for _, k := range []int{h.NX, h.NY, h.NZ, max(d.size, 1)} {
		hi, lo := bits.Mul64(n, uint64(k))
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	if h.Mode == 101 { // two values a byte, rows padded to whole bytes
		n = uint64(h.NX+1) / 2 * uint64(h.NY) * uint64(h.NZ)
	}
	return n, true
}

// DataOffset returns where the data start: after the header and the
// extended header.
func (h Header) DataOffset() int64 { return HeaderSize + int64(h.NSymBT) }

// DataBytes returns the size of the data block of a header ReadHeader
// accepted.
func (h Header) DataBytes() int64 {
	n, _ := h.dataBytes()
	return int64(n)
}

// axes returns, for the sections, rows and columns of the file, the
// volume axis each is (0 = z, 1 = y, 2 = x); ok is false when MAPC, MAPR
// and MAPS are not a permutation of 1, 2, 3. All three 0 (left unset) is
// the standard order.
func (h Header) axes() (ax [3]int, ok bool) {
	if h.MapS == 0 && h.MapR == 0 && h.MapC == 0 {
		return [3]int{0, 1, 2}, true
	}
	seen := [4]bool{}
	for i, m := range []int{h.MapS, h.MapR, h.MapC} {
		if m < 1 || m > 3 || seen[m] {
			return ax, false
		}
		seen[m] = true
		ax[i] = 3 - m // 3 (Z) → 0, 2 (Y) → 1, 1 (X) → 2
	}
	return ax, true
}

// Shape returns the volume's extent along z, y and x.
func (h Header) Shape() volume.Shape {
	ax, ok := h.axes()
	if !ok {
		return volume.Shape{Z: h.NZ, Y: h.NY, X: h.NX}
	}
	var n [3]int
	for i, d := range []int{h.NZ, h.NY, h.NX} {
		n[ax[i]] = d
	}
	return volume.Shape{Z: n[0], Y: n[1], X: n[2]}
}

// DType returns niiv's element type for the header's mode: Int16 for
// signed and Uint8 for unsigned mode 0, Int16 for 1, Float32 for 2 and 12,
// Uint16 for 6; 0 for other modes.
func (h Header) DType() volume.DType {
	if h.Mode == 0 && h.UnsignedBytes {
		return volume.Uint8
	}
	return modes[h.Mode].dtype
}

// Voxel returns the voxel size, CELLA over MX, MY and MZ, in nm; unknown
// (volume.Unknown) when a size is not positive and finite or all three are
// the 1 Å placeholder.
func (h Header) Voxel() volume.Voxel {
	var a [3]float64 // Å along z, y, x
	ones := 0
	for i, c := range []struct {
		cell float32
		m    int
	}{{h.CellA[2], h.MZ}, {h.CellA[1], h.MY}, {h.CellA[0], h.MX}} {
		if c.m <= 0 {
			return volume.Unknown()
		}
		s := float32(float64(c.cell) / float64(c.m))
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return volume.Unknown()
		}
		if s == 1 {
			ones++
		}
		a[i] = angstromToNM(s)
	}
	if ones == 3 {
		return volume.Unknown()
	}
	return volume.Voxel{Z: a[0], Y: a[1], X: a[2], Unit: "nm", Known: true, Source: "MRC header"}
}

// angstromToNM converts a size in Å, as stored in the header (float32),
// to nm, through its shortest decimal form so that 4.2 Å is 0.42 nm and
// not 0.41999998.
func angstromToNM(s float32) float64 {
	t := strconv.FormatFloat(float64(s), 'e', -1, 32) // "4.2e+00"
	i := strings.IndexByte(t, 'e')
	e, err := strconv.Atoi(t[i+1:])
	if err != nil {
		return float64(s) / 10
	}
	v, err := strconv.ParseFloat(t[:i]+"e"+strconv.Itoa(e-1), 64)
	if err != nil {
		return float64(s) / 10
	}
	return v
}

// Summary describes the header in a few words: "mode 2 (float32),
// big-endian, 131072-byte FEI1 extended header".
func (h Header) Summary() string {
	s := fmt.Sprintf("mode %d (%s", h.Mode, ModeName(h.Mode))
	if h.Mode == 0 {
		if h.UnsignedBytes {
			s += ", unsigned"
		} else {
			s += ", signed"
		}
	}
	s += ")"
	if h.BigEndian {
		s += ", big-endian"
	}
	if ax, _ := h.axes(); ax != [3]int{0, 1, 2} {
		s += fmt.Sprintf(", axes MAPC/MAPR/MAPS %d,%d,%d", h.MapC, h.MapR, h.MapS)
	}
	switch {
	case h.ISPG == 0:
		s += ", image stack"
	case h.ISPG >= 401 && h.ISPG <= 630:
		s += ", volume stack"
	}
	if h.NSymBT > 0 {
		s += fmt.Sprintf(", %d-byte", h.NSymBT)
		if h.ExtType != "" {
			s += " " + h.ExtType
		}
		s += " extended header"
	}
	return s
}

// encode writes h as a 1024-byte header in its byte order (BigEndian).
// Only the fields of Header are set; the rest is zero.
func (h Header) encode() []byte {
	b := make([]byte, HeaderSize)
	var o binary.ByteOrder = binary.LittleEndian
	if h.BigEndian {
		o = binary.BigEndian
	}
	i32 := func(off, v int) { o.PutUint32(b[off:], uint32(int32(v))) }
	f32 := func(off int, v float32) { o.PutUint32(b[off:], math.Float32bits(v)) }
	f3 := func(off int, v [3]float32) {
		for i, x := range v {
			f32(off+4*i, x)
		}
	}
	i32(offNX, h.NX)
	i32(offNY, h.NY)
	i32(offNZ, h.NZ)
	i32(offMode, h.Mode)
	i32(offNXStart, h.NXStart)
	i32(offNXStart+4, h.NYStart)
	i32(offNXStart+8, h.NZStart)
	i32(offMX, h.MX)
	i32(offMX+4, h.MY)
	i32(offMX+8, h.MZ)
	f3(offCellA, h.CellA)
	f3(offCellB, h.CellB)
	i32(offMapC, h.MapC)
	i32(offMapC+4, h.MapR)
	i32(offMapC+8, h.MapS)
	f32(offDMin, h.DMin)
	f32(offDMin+4, h.DMax)
	f32(offDMin+8, h.DMean)
	i32(offISPG, h.ISPG)
	i32(offNSymBT, h.NSymBT)
	copy(b[offExtType:offExtType+4], h.ExtType)
	i32(offNVersion, h.NVersion)
	i32(offIMODStamp, h.IMODStamp)
	i32(offIMOD, h.IMODFlags)
	f3(offOrigin, h.Origin)
	copy(b[offMap:offMap+4], h.Map)
	copy(b[offMachSt:offMachSt+4], h.MachSt[:])
	f32(offRMS, h.RMS)
	i32(offNLabl, h.NLabl)
	for i, l := range h.Labels[:min(len(h.Labels), maxLabels)] {
		lb := b[offLabels+i*labelLen : offLabels+(i+1)*labelLen]
		n := copy(lb, l)
		for j := n; j < labelLen; j++ {
			lb[j] = ' '
		}
	}
	return b
}

// Sniff reports whether head, the first bytes of a file, look like an MRC
// header: the "MAP" stamp at byte 208, or (for files older than MRC2014,
// in either byte order) an MRC mode, positive sizes, an axis order that is
// a permutation of 1, 2, 3 and a non-negative extended header size. It
// needs at least 96 bytes; 1024 give the best answer.
func Sniff(head []byte) bool {
	if len(head) >= offMap+3 && string(head[offMap:offMap+3]) == "MAP" {
		return true
	}
	if len(head) < offNSymBT+4 {
		return false
	}
	for _, o := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		i32 := func(off int) int32 { return int32(o.Uint32(head[off:])) }
		if _, ok := modes[int(i32(offMode))]; !ok {
			continue
		}
		if i32(offNX) <= 0 || i32(offNY) <= 0 || i32(offNZ) <= 0 || i32(offNSymBT) < 0 {
			continue
		}
		h := Header{MapC: int(i32(offMapC)), MapR: int(i32(offMapC + 4)), MapS: int(i32(offMapC + 8))}
		if _, ok := h.axes(); ok {
			return true
		}
	}
	return false
}
