// Package mrc reads and writes MRC files (MRC2014 and the older MRC and
// CCP4 variants): the .mrc, .mrcs, .rec, .st and .map volumes and stacks
// that cryo-ET, FIB-SEM and IMOD pipelines write.
//
// Files are read lazily: Open reads and checks the 1024-byte header, and
// File.Read reads only the bytes of the region asked for, so that a 50 GB
// tomogram opens at once. Both byte orders are read; the order comes from
// the machine stamp (MACHST), or, when the stamp is missing or contradicts
// the header, from which order gives a plausible header, as mrcfile does
// in permissive mode.
//
// # Element types
//
// Modes 0 (8-bit integers), 1 (int16), 2 (float32), 6 (uint16) and 12
// (float16) are read; complex modes 3 and 4, IMOD's 4-bit mode 101 and its
// RGB mode 16 are refused with an error naming the mode. Values keep their
// meaning in niiv's element types: mode 0 is read as Int16 when its bytes
// are signed and as Uint8 when they are unsigned, and float16 as Float32.
//
// MRC2014 defines mode 0 as signed bytes, and mrcfile always reads it as
// int8; IMOD read it as unsigned until version 4.2.23 and since then marks
// its files with a stamp ("IMOD", 1146047817, at byte 152) and a flags
// word (byte 156) whose bit 1 says the bytes are signed. This package
// follows IMOD where IMOD says something and MRC2014 elsewhere:
//
//   - with the IMOD stamp, the bytes are signed when flag bit 1 is set and
//     unsigned when it is clear (and flag 16, two 4-bit values per byte, is
//     refused);
//   - without it, they are unsigned only when the header's statistics
//     cannot describe signed bytes (DMIN ≥ 0 and DMAX > 127, as older
//     IMOD and other unsigned writers leave them); otherwise signed. When
//     the statistics lie within 0…127 both readings give the same values.
//
// Write stores Uint8 volumes as mode 6 (uint16), as mrcfile does: mode 0
// with IMOD's unsigned flag would be read back by mrcfile as negative
// numbers above 127, whereas mode 6 gives the same values in mrcfile, IMOD
// and niiv at twice the size. Float64 volumes are narrowed to float32
// (mode 2): MRC has no 64-bit mode.
//
// # Voxel size
//
// The voxel size is the cell length over the sampling (CELLA/MX, MY, MZ)
// per axis, converted from Å to nm. It is unknown (volume.Unknown) when any
// size is zero, negative or not finite, or when all three are exactly 1 Å:
// mrcfile leaves the cell at 0 when no size is set, and several writers
// store 1 Å per pixel as their placeholder.
//
// # Axis order
//
// Data are stored with columns fastest, then rows, then sections; MAPC,
// MAPR and MAPS say which of X, Y and Z each of these is. Files with an
// order other than 1, 2, 3 (crystallographic maps) are transposed on
// reading; NX, NY and NZ are then the numbers of columns, rows and
// sections, while MX, MY, MZ and CELLA are along X, Y and Z. All three
// left at 0 are taken for 1, 2, 3.
//
// Image stacks (.mrcs, space group 0) and volume stacks (space groups
// 401–630) are read as one volume of NZ sections.
package mrc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// ErrFormat is wrapped by errors for files that are not MRC files, are
// corrupt, or use a mode or layout that is not supported.
var ErrFormat = errors.New("not a valid or supported MRC file")

// Error is a failure to read or write one file.
type Error struct {
	Op   string // "read", "write"
	Path string
	Err  error
}

// Error formats the failure as "mrc: read x.mrc: problem".
func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("mrc: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("mrc: %s %s: %v", e.Op, e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// humanBytes formats a byte count as "1.5 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// twoSizes formats two byte counts so that they differ on the page when
// they differ: exact counts are added when the rounded ones are equal.
func twoSizes(a, b int64) (string, string) {
	ha, hb := humanBytes(a), humanBytes(b)
	if ha == hb && a != b {
		return fmt.Sprintf("%s, %d bytes", ha, a), fmt.Sprintf("%s, %d bytes", hb, b)
	}
	return ha, hb
}

var nativeBig = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// rawBytes views a typed slice as bytes in machine order.
func rawBytes(data any) []byte {
	switch d := data.(type) {
	case []uint8:
		return d
	case []uint16:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d)*2)
	case []int16:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d)*2)
	case []float32:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d)*4)
	case []float64:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d)*8)
	}
	panic(fmt.Sprintf("mrc: rawBytes of %T", data))
}

// swapBytes reverses every size-byte element of b in place.
func swapBytes(b []byte, size int) {
	switch size {
	case 2:
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+3 < len(b); i += 4 {
			b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
		}
	}
}
