package mrc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/niiv/niiv/internal/sysmem"
	"github.com/niiv/niiv/volume"
)

// MaxReadBytes is the most memory one Read allocates for its result; a
// larger box is refused. It defaults to 3/4 of physical memory (8 GiB when
// that cannot be read) and may be set lower by callers and tests.
var MaxReadBytes = sysmem.MaxAlloc()

// File is an open MRC file read by region. It implements volume.Source
// and is safe for concurrent use.
type File struct {
	f    *os.File    // nil for a File over another reader (tests)
	r    io.ReaderAt // f, or what tests read
	path string
	h    Header
	meta volume.Meta
	ax   [3]int // volume axis of the file's sections, rows and columns
	esz  int    // bytes per value in the file
}

var _ volume.Source = (*File)(nil)

// Open opens an MRC file and checks its header; no voxel is read.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == path {
			err = pe.Err // the path is in the message already
		}
		return nil, &Error{"read", path, err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &Error{"read", path, err}
	}
	if st.IsDir() {
		f.Close()
		return nil, &Error{"read", path, errors.New("is a directory")}
	}
	h, err := readHeader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, &Error{"read", path, err}
	}
	m := newFile(f, h, path)
	m.f = f
	return m, nil
}

// newFile returns a File reading r, whose header h was checked.
func newFile(r io.ReaderAt, h Header, path string) *File {
	ax, _ := h.axes()
	return &File{
		r: r, path: path, h: h, ax: ax, esz: modes[h.Mode].size,
		meta: volume.Meta{Name: filepath.Base(path), Shape: h.Shape(), DType: h.DType(), Voxel: h.Voxel()},
	}
}

// Meta returns the file's name (its base name), shape, element type and
// voxel size.
func (m *File) Meta() volume.Meta { return m.meta }

// Header returns the file's header.
func (m *File) Header() Header {
	h := m.h
	h.Labels = append([]string(nil), h.Labels...)
	return h
}

// Close closes the file; Read fails afterwards.
func (m *File) Close() error {
	if m.f == nil {
		return nil
	}
	return m.f.Close()
}

// Read reads the voxels of b. Only the bytes of the box are read: one read
// per section when the box spans whole rows, else one per row. Values are
// converted to the element type of Meta (byte order, float16 to float32,
// signed bytes to int16). ctx is checked between sections; when it is
// cancelled, Read returns its error.
func (m *File) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !b.In(m.meta.Shape) {
		return nil, &Error{"read", m.path, fmt.Errorf("box %v is empty or outside the volume %v", b, m.meta.Shape)}
	}
	if n := int64(b.Shape().Len()) * int64(m.meta.DType.Size()); n > MaxReadBytes {
		return nil, &Error{"read", m.path, fmt.Errorf("box %v needs %s of memory, more than the %s allowed (MaxReadBytes)", b, humanBytes(n), humanBytes(MaxReadBytes))}
	}
	// The box in the file's (section, row, column) order.
	zyx := [3][2]int{{b.Z0, b.Z1}, {b.Y0, b.Y1}, {b.X0, b.X1}}
	var fb [3][2]int
	for i, a := range m.ax {
		fb[i] = zyx[a]
	}
	data, err := m.readBox(ctx, fb)
	if err != nil {
		return nil, err
	}
	if m.ax != [3]int{0, 1, 2} {
		data = m.transpose(data, fb)
	}
	v, err := volume.New(b.Shape(), data, m.meta.Voxel)
	if err != nil {
		return nil, &Error{"read", m.path, err}
	}
	v.Name = m.meta.Name
	return v, nil
}

// readBox reads sections fb[0], rows fb[1] and columns fb[2] of the file
// into a slice of Meta's element type, in the file's order.
func (m *File) readBox(ctx context.Context, fb [3][2]int) (any, error) {
	ns, nr, nc := fb[0][1]-fb[0][0], fb[1][1]-fb[1][0], fb[2][1]-fb[2][0]
	out := makeData(m.meta.DType, ns*nr*nc)
	raw := rawBytes(out)
	esz := int64(m.esz)
	rows, cols := int64(m.h.NY), int64(m.h.NX)
	wholeRows := fb[2][0] == 0 && int64(fb[2][1]) == cols
	var scratch []byte
	i := 0 // values read so far
	// Values whose file form is their memory form are read in place.
	direct := m.h.Mode != 0 && m.h.Mode != 12 || m.h.UnsignedBytes
	run := func(off int64, n int, s, r int) error {
		var dst []byte
		if direct {
			dst = raw[i*m.esz : (i+n)*m.esz]
		} else {
			if cap(scratch) < n*m.esz {
				scratch = make([]byte, n*m.esz)
			}
			dst = scratch[:n*m.esz]
		}
		if k, err := m.r.ReadAt(dst, off); k < len(dst) {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("bytes %d to %d are past the end of the file (shortened since it was opened?)", off+int64(k), off+int64(len(dst)))
			}
			where := fmt.Sprintf("section %d", s)
			if r >= 0 {
				where += fmt.Sprintf(" row %d", r)
			}
			return &Error{"read", m.path, fmt.Errorf("%s: %w", where, err)}
		}
		switch {
		case direct:
			if m.h.BigEndian != nativeBig && m.esz > 1 {
				swapBytes(dst, m.esz)
			}
		case m.h.Mode == 0: // signed bytes
			o := out.([]int16)[i : i+n]
			for j, c := range dst {
				o[j] = int16(int8(c))
			}
		default: // float16
			var bo binary.ByteOrder = binary.LittleEndian
			if m.h.BigEndian {
				bo = binary.BigEndian
			}
			t := halfTable()
			o := out.([]float32)[i : i+n]
			for j := range o {
				o[j] = t[bo.Uint16(dst[2*j:])]
			}
		}
		i += n
		return nil
	}
	base := m.h.DataOffset()
	for s := fb[0][0]; s < fb[0][1]; s++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if wholeRows {
			off := base + (int64(s)*rows+int64(fb[1][0]))*cols*esz
			if err := run(off, nr*nc, s, -1); err != nil {
				return nil, err
			}
			continue
		}
		for r := fb[1][0]; r < fb[1][1]; r++ {
			off := base + ((int64(s)*rows+int64(r))*cols+int64(fb[2][0]))*esz
			if err := run(off, nc, s, r); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// transpose reorders data, read in the file's (section, row, column) order
// over the file box fb, into (z, y, x) order.
func (m *File) transpose(data any, fb [3][2]int) any {
	var n, stride [3]int // extent and stride in data along z, y, x
	st := [3]int{(fb[1][1] - fb[1][0]) * (fb[2][1] - fb[2][0]), fb[2][1] - fb[2][0], 1}
	for i, a := range m.ax {
		n[a] = fb[i][1] - fb[i][0]
		stride[a] = st[i]
	}
	switch d := data.(type) {
	case []uint8:
		return permute(d, n, stride)
	case []uint16:
		return permute(d, n, stride)
	case []int16:
		return permute(d, n, stride)
	case []float32:
		return permute(d, n, stride)
	}
	return data
}

// permute gathers src into a C-order (z, y, x) array of extent n, where
// element (z, y, x) is src[z*stride[0] + y*stride[1] + x*stride[2]].
func permute[T any](src []T, n, stride [3]int) []T {
	dst := make([]T, 0, len(src))
	for z := range n[0] {
		for y := range n[1] {
			j := z*stride[0] + y*stride[1]
			for range n[2] {
				dst = append(dst, src[j])
				j += stride[2]
			}
		}
	}
	return dst
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
	}
	return make([]float64, n)
}

// halfTable maps every IEEE 754 half-precision bit pattern to its float32
// value.
var halfTable = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = halfToFloat32(uint16(i))
	}
	return &t
})

// halfToFloat32 converts an IEEE 754 half-precision number to float32
// exactly, NaN payloads, infinities and subnormals included.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0: // zero or subnormal: frac × 2⁻²⁴
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}
