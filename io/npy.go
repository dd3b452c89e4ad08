package volio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unsafe"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/niiv/niiv/volume"
)

// npyHeader is what the preamble and header dictionary of a .npy file say.
type npyHeader struct {
	dtype   volume.DType
	big     bool // big-endian data
	fortran bool
	shape   volume.Shape
	dims    []int // as in the file, before squeezing singleton axes
	offset  int64 // start of the data
}

const maxNPYHeader = 1 << 20

// parseNPYHeader reads and validates the header of an open .npy file of the
// given size. The dictionary itself is parsed by npyio after the preamble has
// been checked, so that a lying header length cannot make it allocate.
func parseNPYHeader(f io.ReaderAt, size int64) (h npyHeader, err error) {
	pre := make([]byte, 12)
	n, _ := f.ReadAt(pre, 0)
	if n < 10 || !bytes.HasPrefix(pre, npy.Magic[:]) {
		return h, fmt.Errorf("%w: not a NumPy .npy file (bad magic)", ErrFormat)
	}
	var hlen, plen int64
	switch pre[6] {
	case 1:
		hlen, plen = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		if n < 12 {
			return h, fmt.Errorf("%w: truncated .npy preamble", ErrFormat)
		}
		hlen, plen = int64(binary.LittleEndian.Uint32(pre[8:12])), 12
	default:
		return h, fmt.Errorf("%w: unknown .npy format version %d.%d", ErrFormat, pre[6], pre[7])
	}
	if hlen > maxNPYHeader || plen+hlen > size {
		return h, fmt.Errorf("%w: header length %d runs past the end of the file (%d bytes)", ErrFormat, hlen, size)
	}
	raw := make([]byte, plen+hlen)
	if _, err := f.ReadAt(raw, 0); err != nil {
		return h, fmt.Errorf("%w: reading header: %v", ErrFormat, err)
	}
	dict := raw[plen:]
	if !bytes.Contains(dict, []byte("\n")) || !bytes.Contains(dict, []byte("}")) {
		return h, fmt.Errorf("%w: malformed header dictionary", ErrFormat)
	}
	// npyio only understands versions 1 and 2; version 3 differs only in
	// allowing UTF-8 field names, so present it as version 2.
	if raw[6] == 3 {
		raw[6] = 2
	}
	rd, err := safeNPYReader(raw)
	if err != nil {
		return h, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	d := rd.Header.Descr
	h.fortran = d.Fortran
	h.offset = plen + hlen
	h.dims = d.Shape
	if err := h.setDType(d.Type); err != nil {
		return h, err
	}
	// Squeeze singleton axes of higher-rank arrays, e.g. (1, Z, Y, X).
	dims := d.Shape
	if len(dims) > 3 {
		var sq []int
		for _, s := range dims {
			if s != 1 {
				sq = append(sq, s)
			}
		}
		for len(sq) < 3 {
			sq = append([]int{1}, sq...)
		}
		if len(sq) == 3 {
			if h.fortran {
				return h, fmt.Errorf("%w: %d-D Fortran-order array %v: save it as a 3-D (z, y, x) array", ErrFormat, len(dims), dims)
			}
			dims = sq
		}
	}
	switch len(dims) {
	case 3:
	case 2:
		return h, fmt.Errorf("%w: 2-D array %d×%d is a single image; niiv needs a 3-D volume (z, y, x)", ErrFormat, dims[0], dims[1])
	default:
		return h, fmt.Errorf("%w: %d-D array %v; niiv needs a 3-D volume (z, y, x)", ErrFormat, len(dims), dims)
	}
	for _, s := range dims {
		if s <= 0 {
			return h, fmt.Errorf("%w: shape %v has an empty axis", ErrFormat, dims)
		}
	}
	h.shape = volume.Shape{Z: dims[0], Y: dims[1], X: dims[2]}
	if err := checkAlloc(h.shape, h.dtype); err != nil {
		return h, err
	}
	want := int64(h.shape.Len()) * int64(h.dtype.Size())
	have := size - h.offset
	switch {
	case have < want:
		return h, fmt.Errorf("%w: truncated: header says %v %v (%s of data) but the file holds %s", ErrFormat, h.shape, h.dtype, HumanBytes(want), HumanBytes(have))
	case have > want:
		return h, fmt.Errorf("%w: header says %v %v (%d data bytes) but the file holds %d: shape and data disagree", ErrFormat, h.shape, h.dtype, want, have)
	}
	return h, nil
}

// safeNPYReader runs npyio's header parser, turning a panic on a malformed
// dictionary into an error.
func safeNPYReader(raw []byte) (rd *npy.Reader, err error) {
	defer func() {
		if r := recover(); r != nil {
			rd, err = nil, fmt.Errorf("malformed header dictionary")
		}
	}()
	return npy.NewReader(bytes.NewReader(raw))
}

func (h *npyHeader) setDType(descr string) error {
	descr = strings.Trim(descr, "'\" ")
	if len(descr) < 2 {
		return fmt.Errorf("%w: unknown dtype %q", ErrFormat, descr)
	}
	order, kind := descr[0], descr[1:]
	h.big = order == '>'
	switch kind {
	case "u1", "b1":
		h.dtype = volume.Uint8
	case "u2":
		h.dtype = volume.Uint16
	case "i2":
		h.dtype = volume.Int16
	case "f4":
		h.dtype = volume.Float32
	case "f8":
		h.dtype = volume.Float64
	default:
		return fmt.Errorf("%w: dtype %s is not supported (use uint8, uint16, int16, float32 or float64)", ErrFormat, descr)
	}
	return nil
}

func inspectNPY(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, &Error{"inspect", path, err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, &Error{"inspect", path, err}
	}
	h, err := parseNPYHeader(f, st.Size())
	if err != nil {
		return Info{}, &Error{"inspect", path, err}
	}
	order := "C order"
	if h.fortran {
		order = "Fortran order"
	}
	if h.big {
		order += ", big-endian"
	}
	vox, err := voxelForNPY(path)
	if err != nil {
		return Info{}, &Error{"inspect", path, err}
	}
	return Info{Path: path, Format: NPY, Shape: h.shape, DType: h.dtype, Voxel: vox, Detail: order}, nil
}

func readNPY(path string) (*volume.Volume, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	h, err := parseNPYHeader(f, st.Size())
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	data := makeData(h.dtype, h.shape.Len())
	r := io.NewSectionReader(f, h.offset, st.Size()-h.offset)
	if h.fortran {
		err = readFortran(r, data, h)
	} else {
		err = readFull(r, data, h.big)
	}
	if err != nil {
		return nil, &Error{"read", path, fmt.Errorf("%w: %v", ErrFormat, err)}
	}
	vox, err := voxelForNPY(path)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	return volume.New(h.shape, data, vox)
}

// makeData allocates a typed slice of n elements.
func makeData(dt volume.DType, n int) any {
	switch dt {
	case volume.Uint8:
		return make([]uint8, n)
	case volume.Uint16:
		return make([]uint16, n)
	case volume.Int16:
		return make([]int16, n)
	case volume.Float32:
		return make([]float32, n)
	default:
		return make([]float64, n)
	}
}

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
	panic(fmt.Sprintf("volio: rawBytes of %T", data))
}

var nativeBig = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// swapBytes reverses every size-byte element of b in place.
func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		for j, k := i, i+size-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}

// readFull fills data from r, converting byte order when the file's differs
// from the machine's.
func readFull(r io.Reader, data any, big bool) error {
	b := rawBytes(data)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("reading voxel data: %v", err)
	}
	if big != nativeBig {
		if sz := len(b) / lenOf(data); sz > 1 {
			swapBytes(b, sz)
		}
	}
	return nil
}

func lenOf(data any) int {
	switch d := data.(type) {
	case []uint8:
		return len(d)
	case []uint16:
		return len(d)
	case []int16:
		return len(d)
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	}
	return 1
}

// readFortran reads a Fortran-order (z fastest) array into C order (x
// fastest), one x-slab at a time so memory stays at the volume plus a slab.
func readFortran(r io.Reader, data any, h npyHeader) error {
	s := h.shape
	slabN := s.Z * s.Y
	slab := makeData(h.dtype, slabN)
	sb := rawBytes(slab)
	esz := h.dtype.Size()
	dst := rawBytes(data)
	br := bufio.NewReaderSize(r, 1<<20)
	for x := 0; x < s.X; x++ {
		if _, err := io.ReadFull(br, sb); err != nil {
			return fmt.Errorf("reading voxel data at x=%d: %v", x, err)
		}
		if h.big != nativeBig && esz > 1 {
			swapBytes(sb, esz)
		}
		// slab element (z, y) is at z + Z*y.
		for y := 0; y < s.Y; y++ {
			for z := 0; z < s.Z; z++ {
				si := (z + s.Z*y) * esz
				di := ((z*s.Y+y)*s.X + x) * esz
				copy(dst[di:di+esz], sb[si:si+esz])
			}
		}
	}
	return nil
}

// WriteNPY writes v as a C-order .npy file (format 1.0, or 2.0 when the
// header needs it). The file appears only when complete.
func WriteNPY(path string, v *volume.Volume) error {
	descr := map[volume.DType]string{
		volume.Uint8: "|u1", volume.Uint16: "<u2", volume.Int16: "<i2",
		volume.Float32: "<f4", volume.Float64: "<f8",
	}[v.DType()]
	if nativeBig {
		return &Error{"write", path, errors.New("writing .npy on a big-endian machine is not supported")}
	}
	s := v.Shape()
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d, %d), }", descr, s.Z, s.Y, s.X)
	err := writeAtomic(path, func(f *os.File) error {
		// Pad so the data starts on a 64-byte boundary, header ends in '\n'.
		total := 10 + len(dict) + 1
		pad := (64 - total%64) % 64
		hdr := dict + strings.Repeat(" ", pad) + "\n"
		if len(hdr) > math.MaxUint16 {
			return errors.New("header too long")
		}
		pre := append([]byte{}, npy.Magic[:]...)
		pre = append(pre, 1, 0, byte(len(hdr)), byte(len(hdr)>>8))
		w := bufio.NewWriterSize(f, 1<<20)
		w.Write(pre)
		w.WriteString(hdr)
		if _, err := w.Write(rawBytes(v.Data())); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		return err
	}
	return writeSidecar(path, v.Voxel)
}
