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
	"unicode/utf8"
	"unsafe"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/volume"
)

// npyHeader is what the preamble and header dictionary of a .npy file say.
type npyHeader struct {
	dtype   volume.DType
	big     bool // big-endian data
	fortran bool
	shape   volume.Shape
	dims    []int // as in the file, before squeezing singleton axes
	bool    bool  // NumPy bool, read as uint8 0 and 1
	offset  int64 // start of the data
	// axes names the dimensions (e.g. "czyx") when the caller gives them;
	// shape is then the flat (prod of the leading axes, last two) array.
	axes string
}

const maxNPYHeader = 1 << 20

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// parseNPYHeader reads and validates the header of an open .npy file of the
// given size. The preamble is checked before the dictionary is read, so that
// a lying header length cannot make it allocate. The dictionary is read as
// numpy.load reads it: a Python literal with the keys 'descr',
// 'fortran_order' and 'shape', in any order and layout.
func parseNPYHeader(f io.ReaderAt, size int64) (h npyHeader, err error) {
	return parseNPYHeaderAxes(f, size, "")
}

// parseNPYHeaderAxes is parseNPYHeader for an array whose dimensions axes
// names (see parseAxes); "" is parseNPYHeader.
func parseNPYHeaderAxes(f io.ReaderAt, size int64, axes string) (h npyHeader, err error) {
	h.axes = axes
	pre := make([]byte, 12)
	n, _ := f.ReadAt(pre, 0)
	if n < 10 || !bytes.HasPrefix(pre, []byte(npyMagic)) {
		return h, fmt.Errorf("%w: not a NumPy .npy file (bad magic)", ErrFormat)
	}
	var hlen, plen int64
	switch {
	case pre[6] == 1 && pre[7] == 0:
		hlen, plen = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case (pre[6] == 2 || pre[6] == 3) && pre[7] == 0:
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
	raw := make([]byte, hlen)
	if _, err := f.ReadAt(raw, plen); err != nil {
		return h, fmt.Errorf("%w: reading header: %v", ErrFormat, err)
	}
	// Versions 1 and 2 are Latin-1, version 3 UTF-8.
	var text string
	if pre[6] == 3 {
		if !utf8.Valid(raw) {
			return h, fmt.Errorf("%w: malformed header dictionary: not UTF-8", ErrFormat)
		}
		text = string(raw)
	} else {
		rs := make([]rune, len(raw))
		for i, b := range raw {
			rs[i] = rune(b)
		}
		text = string(rs)
	}
	d, err := npyDict(text, pre[6] < 3)
	if err != nil {
		return h, fmt.Errorf("%w: malformed header dictionary: %v", ErrFormat, err)
	}
	h.fortran = d.fortran
	h.offset = plen + hlen
	if err := h.setDType(d.descr); err != nil {
		return h, err
	}
	if err := h.setShape(d.shape); err != nil {
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

// setShape checks the shape of a header, squeezing singleton axes of
// higher-rank arrays such as (1, Z, Y, X), and refuses anything but a
// non-empty 3-D (z, y, x) array or one larger than MaxBytes.
func (h *npyHeader) setShape(dims []int) error {
	h.dims = dims
	for _, s := range dims {
		if s < 0 {
			return fmt.Errorf("%w: shape %v has a negative axis", ErrFormat, dims)
		}
	}
	if h.axes != "" {
		return h.setAxesShape(dims)
	}
	// Squeeze singleton axes of higher-rank arrays, e.g. (1, Z, Y, X).
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
				return fmt.Errorf("%w: %d-D Fortran-order array %v: save it as a 3-D (z, y, x) array", ErrFormat, len(dims), dims)
			}
			dims = sq
		}
	}
	switch len(dims) {
	case 3:
	case 2:
		return fmt.Errorf("%w: 2-D array %d×%d is a single image; niiv needs a 3-D volume (z, y, x)", ErrFormat, dims[0], dims[1])
	case 4, 5:
		return fmt.Errorf("%w: %d-D array %v; niiv needs a 3-D volume (z, y, x), or the axes named to read channels and time points (niiv: --axes %s; letters t, c, z, y, x): they are never guessed", ErrFormat, len(dims), dims, "tczyx"[5-len(dims):])
	default:
		return fmt.Errorf("%w: %d-D array %v; niiv needs a 3-D volume (z, y, x)", ErrFormat, len(dims), dims)
	}
	for _, s := range dims {
		if s <= 0 {
			return fmt.Errorf("%w: shape %v has an empty axis", ErrFormat, dims)
		}
	}
	h.shape = volume.Shape{Z: dims[0], Y: dims[1], X: dims[2]}
	if err := checkAlloc(h.shape, h.dtype); err != nil {
		return err
	}
	return nil
}

// npyDictValues are the three entries of a .npy header dictionary.
type npyDictValues struct {
	descr   string
	fortran bool
	shape   []int
}

// maxNPYDim is the largest axis length read from a header; larger ones are
// refused before any arithmetic on them.
const maxNPYDim = 1 << 40

// npyDict parses a header dictionary and checks its entries as numpy.load
// does: exactly the keys 'descr', 'fortran_order' and 'shape' (a repeated
// key keeps its last value), a bool and a tuple of integers. longs allows
// Python 2's 8L, as NumPy does for format versions 1 and 2.
func npyDict(text string, longs bool) (npyDictValues, error) {
	var out npyDictValues
	v, err := parsePyLiteral(text, longs)
	if err != nil {
		return out, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return out, fmt.Errorf("header is %s, not a dictionary", pyRepr(v))
	}
	seen := map[string]bool{}
	for _, k := range d.keys {
		s, ok := k.(string)
		switch {
		case !ok:
			return out, fmt.Errorf("unexpected key %s", pyRepr(k))
		case s != "descr" && s != "fortran_order" && s != "shape":
			return out, fmt.Errorf("unexpected key %s (a .npy header has 'descr', 'fortran_order' and 'shape')", pyRepr(k))
		}
		seen[s] = true
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return out, fmt.Errorf("no '%s' key", k)
		}
	}
	descr, _ := d.get("descr")
	switch x := descr.(type) {
	case string:
		out.descr = x
	case pyList:
		return out, fmt.Errorf("descr %s is a structured dtype (record fields); niiv reads plain numeric arrays", pyRepr(x))
	default:
		return out, fmt.Errorf("descr %s is not a dtype", pyRepr(x))
	}
	fo, _ := d.get("fortran_order")
	if out.fortran, ok = fo.(bool); !ok {
		return out, fmt.Errorf("fortran_order is %s, not True or False", pyRepr(fo))
	}
	shape, _ := d.get("shape")
	t, ok := shape.(pyTuple)
	if !ok {
		return out, fmt.Errorf("shape %s is not a tuple of integers", pyRepr(shape))
	}
	out.shape = make([]int, len(t))
	for i, x := range t {
		n, ok := x.(pyInt)
		if !ok {
			return out, fmt.Errorf("shape %s is not a tuple of integers", pyRepr(shape))
		}
		if n.big || n.v > maxNPYDim || n.v < -maxNPYDim {
			return out, fmt.Errorf("shape %s is absurd", pyRepr(shape))
		}
		out.shape[i] = int(n.v)
	}
	return out, nil
}

// npyTypes maps NumPy type codes and names, without byte order, to niiv's
// types; "bool" is read as uint8 0 and 1.
var npyTypes = map[string]volume.DType{
	"u1": volume.Uint8, "B": volume.Uint8, "uint8": volume.Uint8, "ubyte": volume.Uint8,
	"b1": volume.Uint8, "?": volume.Uint8, "bool": volume.Uint8, "bool_": volume.Uint8,
	"u2": volume.Uint16, "H": volume.Uint16, "uint16": volume.Uint16, "ushort": volume.Uint16,
	"i2": volume.Int16, "h": volume.Int16, "int16": volume.Int16, "short": volume.Int16,
	"f4": volume.Float32, "f": volume.Float32, "float32": volume.Float32, "single": volume.Float32,
	"f8": volume.Float64, "d": volume.Float64, "float64": volume.Float64, "double": volume.Float64, "float": volume.Float64, "float_": volume.Float64,
}

func (h *npyHeader) setDType(descr string) error {
	order, kind := byte('='), descr
	if descr != "" && strings.IndexByte("<>|=", descr[0]) >= 0 {
		order, kind = descr[0], descr[1:]
	}
	dt, ok := npyTypes[kind]
	if !ok {
		hint := ""
		switch strings.TrimLeft(kind, "iu") {
		case "1", "4", "8":
			// Wide integers are most often label images, which niiv's
			// interpolation would blend into meaningless values.
			hint = "; integer labels cannot be interpolated, and intensity data can be saved as float32 (a.astype('float32'))"
		}
		return fmt.Errorf("%w: dtype %q is not supported (use bool, uint8, uint16, int16, float32 or float64)%s", ErrFormat, descr, hint)
	}
	h.dtype = dt
	h.bool = kind == "b1" || kind == "?" || kind == "bool" || kind == "bool_"
	switch order {
	case '>':
		h.big = true
	case '<':
		h.big = false
	default: // native, or not applicable (single bytes)
		h.big = nativeBig
	}
	return nil
}

func inspectNPY(path string, o Options) (Info, error) {
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
	if h.big && h.dtype.Size() > 1 {
		order += ", big-endian"
	}
	if h.bool {
		order += ", bool read as uint8 0/1"
	}
	vox, err := voxelForNPY(path, o)
	if err != nil {
		return Info{}, &Error{"inspect", path, err}
	}
	return Info{Path: path, Format: NPY, Shape: h.shape, DType: h.dtype, Voxel: vox, Detail: order}, nil
}

func readNPY(path string, o Options) (*volume.Volume, error) {
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
	// The voxel size first: a bad sidecar fails before the data is read.
	vox, err := voxelForNPY(path, o)
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
	if h.bool {
		// NumPy takes any non-zero byte as True.
		for i, b := range data.([]uint8) {
			if b != 0 {
				data.([]uint8)[i] = 1
			}
		}
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
	if err := refuseURL(path); err != nil {
		return err
	}
	v, err := inMemory(v)
	if err != nil {
		return &Error{"write", path, err}
	}
	descr := map[volume.DType]string{
		volume.Uint8: "|u1", volume.Uint16: "<u2", volume.Int16: "<i2",
		volume.Float32: "<f4", volume.Float64: "<f8",
	}[v.DType()]
	if nativeBig {
		return &Error{"write", path, errors.New("writing .npy on a big-endian machine is not supported")}
	}
	s := v.Shape()
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d, %d), }", descr, s.Z, s.Y, s.X)
	// Pad so the data starts on a 64-byte boundary, header ends in '\n'.
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	if len(hdr) > math.MaxUint16 {
		return &Error{"write", path, errors.New("header too long")}
	}
	data := rawBytes(v.Data())
	f, err := atomicfile.Create(path, int64(10+len(hdr)+len(data)))
	if err != nil {
		return &Error{"write", path, err}
	}
	defer f.Abort()
	pre := []byte(npyMagic)
	pre = append(pre, 1, 0, byte(len(hdr)), byte(len(hdr)>>8))
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(pre)
	w.WriteString(hdr)
	w.Write(data)
	if err := w.Flush(); err != nil {
		return &Error{"write", path, err}
	}
	// The sidecar is written before either file is put in place, so that
	// a failure (a full disk) changes neither.
	side, sideTmp, err := startSidecar(path, v.Voxel)
	if err != nil {
		return err
	}
	if sideTmp != nil {
		defer sideTmp.Abort()
	}
	if err := f.Commit(); err != nil {
		return &Error{"write", path, err}
	}
	return commitSidecar(side, sideTmp)
}
