package volio

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
	"codeberg.org/sbinet/npyio/npz"

	"github.com/niiv/niiv/volume"
)

// A NumPy .npz archive (np.savez, np.savez_compressed) is a zip file of .npy
// members, one per array: np.savez(f, volume=v) stores "volume.npy". niiv
// reads one array of it:
//
//   - the archive's only array, when it holds one;
//   - else the first of npzPreferred that it holds;
//   - else its only 3-D array (beside masks, images and tables);
//   - else the one named by a ":NAME" suffix, as in "cells.npz:stack",
//     which also picks an array over the preferred names.
//
// Otherwise the read is refused with the names and shapes of the arrays.
// Stored and deflate members are read; the voxel size comes, as for .npy,
// from a sidecar ("cells.npz.json") or the archive's file name.

// npzPreferred are the array names read from an archive that holds several,
// in order of preference.
var npzPreferred = []string{"volume", "data", "arr_0", "image"}

// npzListMax is how many arrays an error lists with their shapes.
const npzListMax = 10

// splitNPZMember splits "x.npz:NAME" into the archive's path and the array
// name. It applies only when path itself is not an existing file and the
// part before the last colon is; NAME holds no path separator.
func splitNPZMember(path string) (archive, name string, ok bool) {
	i := strings.LastIndexByte(path, ':')
	if i <= 0 || i == len(path)-1 || strings.ContainsAny(path[i+1:], `/\`) {
		return "", "", false
	}
	if _, err := os.Stat(path); err == nil {
		return "", "", false
	}
	st, err := os.Stat(path[:i])
	if err != nil || !st.Mode().IsRegular() {
		return "", "", false
	}
	return path[:i], path[i+1:], true
}

// npzArchive is an open .npz archive.
type npzArchive struct {
	f *os.File
	// r is npyio's reader, through which members are opened and their
	// headers parsed.
	r *npz.Reader
	// members are the archive's entries by name, for their sizes and
	// compression methods.
	members map[string]*zip.File
	names   []string // the members' names in archive order
	// arrays are the names of the .npy members without ".npy", in archive
	// order, as numpy.load names them.
	arrays []string
}

// openNPZ opens the archive at path.
func openNPZ(path string) (*npzArchive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	a, err := newNPZArchive(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

func newNPZArchive(f *os.File) (*npzArchive, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%w: not a readable .npz (zip) archive, or a truncated one: %v", ErrFormat, err)
	}
	a := &npzArchive{f: f, members: map[string]*zip.File{}}
	err = npyioCall("", func() error {
		var err error
		a.r, err = npz.NewReader(f, st.Size())
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, m := range zr.File {
		if _, dup := a.members[m.Name]; dup {
			return nil, fmt.Errorf("%w: the archive holds two members named %q", ErrFormat, m.Name)
		}
		a.members[m.Name] = m
		a.names = append(a.names, m.Name)
		if name, ok := strings.CutSuffix(m.Name, ".npy"); ok {
			a.arrays = append(a.arrays, name)
		}
	}
	return a, nil
}

func (a *npzArchive) Close() error { return a.f.Close() }

// pick returns the array to read: want when given, else the only array,
// else the first preferred name the archive holds. archive is the
// archive's path, for the error that says how to pick an array.
func (a *npzArchive) pick(archive, want string) (string, error) {
	has := func(name string) bool {
		for _, n := range a.arrays {
			if n == name {
				return true
			}
		}
		return false
	}
	if want != "" {
		if n, ok := strings.CutSuffix(want, ".npy"); ok && !has(want) {
			want = n
		}
		if has(want) {
			return want, nil
		}
		if _, ok := a.members[want]; ok {
			return "", fmt.Errorf("%w: member %q is not a .npy array", ErrFormat, want)
		}
		return "", fmt.Errorf("%w: the archive has no array named %q; it holds %s", ErrFormat, want, a.list())
	}
	switch len(a.arrays) {
	case 0:
		if len(a.members) == 0 {
			return "", fmt.Errorf("%w: the archive is empty", ErrFormat)
		}
		var names []string
		for i, n := range a.names {
			if i == npzListMax {
				names = append(names, fmt.Sprintf("and %d more", len(a.names)-i))
				break
			}
			names = append(names, strconv.Quote(n))
		}
		return "", fmt.Errorf("%w: the archive holds no .npy arrays, so it is not a NumPy .npz file (members %s)", ErrFormat, strings.Join(names, ", "))
	case 1:
		return a.arrays[0], nil
	}
	for _, n := range npzPreferred {
		if has(n) {
			return n, nil
		}
	}
	// The only volume among images, masks and tables.
	var vols []string
	for _, n := range a.arrays {
		if m, err := a.open(n); err == nil {
			m.Close()
			if len(m.dims) == 3 {
				vols = append(vols, n)
			}
		}
	}
	if len(vols) == 1 {
		return vols[0], nil
	}
	last := len(npzPreferred) - 1
	return "", fmt.Errorf("%w: the archive holds %d arrays and none is named %s or %s: %s; pick one as %s:NAME, e.g. %s:%s, or save the archive with one array",
		ErrFormat, len(a.arrays), strings.Join(npzPreferred[:last], ", "), npzPreferred[last], a.list(), archive, archive, a.example())
}

// example names an array to suggest picking: the first 3-D one (a volume),
// else the first.
func (a *npzArchive) example() string {
	for i, n := range a.arrays {
		if i == npzListMax {
			break
		}
		if m, err := a.open(n); err == nil {
			m.Close()
			if len(m.dims) == 3 {
				return n
			}
		}
	}
	return a.arrays[0]
}

// list describes the archive's arrays for an error: names, shapes and types.
func (a *npzArchive) list() string {
	if len(a.arrays) == 0 {
		return "no .npy arrays"
	}
	var parts []string
	for i, n := range a.arrays {
		if i == npzListMax {
			parts = append(parts, fmt.Sprintf("and %d more", len(a.arrays)-i))
			break
		}
		m, err := a.open(n)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%q (unreadable)", n))
			continue
		}
		m.Close()
		shape := make([]string, len(m.dims))
		for j, d := range m.dims {
			shape[j] = strconv.Itoa(d)
		}
		tuple := "(" + strings.Join(shape, ", ") + ")"
		if len(shape) == 1 {
			tuple = "(" + shape[0] + ",)"
		}
		parts = append(parts, fmt.Sprintf("%q %s %s", n, m.descr, tuple))
	}
	return strings.Join(parts, ", ")
}

// npzMember is one array of an archive, opened and its header parsed by
// npyio, positioned at its data.
type npzMember struct {
	name    string
	zf      *zip.File
	descr   string // the dtype, without quotes, e.g. "<f4"
	fortran bool
	dims    []int
	offset  int64     // start of the data in the member
	data    io.Reader // the member from offset on
	rc      io.ReadCloser
}

func (m *npzMember) Close() error { return m.rc.Close() }

// open opens the named array and reads its header with npyio.
func (a *npzArchive) open(name string) (*npzMember, error) {
	zf := a.members[name+".npy"]
	m := &npzMember{name: name, zf: zf}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("array %q: %w: %s", name, ErrFormat, fmt.Sprintf(format, args...))
	}
	err := npyioCall(name, func() error {
		var err error
		m.rc, err = a.r.Open(name + ".npy")
		return err
	})
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			m.rc.Close()
		}
	}()
	// npyio allocates the header length the preamble gives before reading
	// it: check the preamble first.
	pre := make([]byte, 12)
	n, err := io.ReadFull(m.rc, pre)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, bad("%v", err)
	}
	pre = pre[:n]
	if n < 10 || !bytes.HasPrefix(pre, []byte(npyMagic)) {
		return nil, bad("member %s is not a .npy array (bad magic)", zf.Name)
	}
	var hlen, plen int64
	switch {
	case pre[6] == 1 && pre[7] == 0:
		hlen, plen = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case pre[6] == 2 && pre[7] == 0:
		if n < 12 {
			return nil, bad("truncated .npy preamble")
		}
		hlen, plen = int64(binary.LittleEndian.Uint32(pre[8:12])), 12
	case pre[6] == 3 && pre[7] == 0:
		return nil, bad(".npy format version 3.0 (a UTF-8 header) is not read in .npz archives; save the array as .npy")
	default:
		return nil, bad("unknown .npy format version %d.%d", pre[6], pre[7])
	}
	size := int64(zf.UncompressedSize64)
	if zf.UncompressedSize64 > 1<<62 || hlen > maxNPYHeader || plen+hlen > size {
		return nil, bad("header length %d runs past the end of the member (%d bytes)", hlen, zf.UncompressedSize64)
	}
	m.offset = plen + hlen
	m.data = io.MultiReader(bytes.NewReader(pre), m.rc)
	// npyio reads exactly the preamble and header; keep them to check its
	// reading against numpy.load's.
	var raw bytes.Buffer
	var hdr npy.Header
	err = npyioCall(name, func() error {
		r, err := npy.NewReader(io.TeeReader(m.data, &raw))
		if err != nil {
			return fmt.Errorf("malformed .npy header: %w", err)
		}
		hdr = r.Header
		return nil
	})
	if err != nil {
		return nil, err
	}
	if int64(raw.Len()) != m.offset {
		return nil, bad("npyio read %d header bytes, not %d", raw.Len(), m.offset)
	}
	d := hdr.Descr.Type
	switch {
	case len(d) >= 2 && (d[0] == '\'' || d[0] == '"') && d[len(d)-1] == d[0]:
		m.descr = d[1 : len(d)-1]
	case strings.HasPrefix(d, "["):
		return nil, bad("descr %s is a structured dtype (record fields); niiv reads plain numeric arrays", d)
	default:
		return nil, bad("malformed header dictionary: descr %s is not a dtype", d)
	}
	m.fortran = hdr.Descr.Fortran
	m.dims = hdr.Descr.Shape
	// npyio finds the entries by position in the layout NumPy writes;
	// another layout can be misread. Read the header as numpy.load does
	// and refuse any disagreement.
	text := raw.Bytes()[plen:]
	rs := make([]rune, len(text)) // Latin-1, as for versions 1 and 2
	for i, b := range text {
		rs[i] = rune(b)
	}
	want, err := npyDict(string(rs), true)
	if err != nil {
		return nil, bad("malformed header dictionary: %v", err)
	}
	if want.descr != m.descr || want.fortran != m.fortran || !slices.Equal(want.shape, m.dims) {
		return nil, bad("npyio misreads this header, not laid out as NumPy writes it (descr %q, fortran_order %v, shape %v instead of %q, %v, %v): save the archive with NumPy",
			m.descr, m.fortran, m.dims, want.descr, want.fortran, want.shape)
	}
	ok = true
	return m, nil
}

// header checks m's dtype and shape as for .npy, and that the member holds
// exactly the data they call for, before any of it is read.
func (m *npzMember) header(axes string) (npyHeader, error) {
	h := npyHeader{fortran: m.fortran, offset: m.offset, axes: axes}
	wrap := func(err error) error { return fmt.Errorf("array %q: %w", m.name, err) }
	if err := h.setDType(m.descr); err != nil {
		return h, wrap(err)
	}
	if err := h.setShape(m.dims); err != nil {
		return h, wrap(err)
	}
	want := int64(h.shape.Len()) * int64(h.dtype.Size())
	have := int64(m.zf.UncompressedSize64) - m.offset
	switch {
	case have < want:
		return h, wrap(fmt.Errorf("%w: truncated: header says %v %v (%s of data) but the member holds %s", ErrFormat, h.shape, h.dtype, HumanBytes(want), HumanBytes(have)))
	case have > want:
		return h, wrap(fmt.Errorf("%w: header says %v %v (%d data bytes) but the member holds %d: shape and data disagree", ErrFormat, h.shape, h.dtype, want, have))
	}
	return h, nil
}

// npyioCall runs fn, a call into npyio, turning a panic into a format
// error: npyio's header parser slices malformed headers out of bounds.
func npyioCall(array string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed .npy header, or a layout npyio cannot parse (npyio: %v)", p)
		}
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrFormat, err)
			if array != "" {
				err = fmt.Errorf("array %q: %w", array, err)
			}
		}
	}()
	return fn()
}

// npzArray is the array of an archive that a path names, its header
// checked and its member positioned at the data.
type npzArray struct {
	archive string // the archive's path, without a ":NAME" suffix
	a       *npzArchive
	m       *npzMember
	h       npyHeader
}

func (r *npzArray) Close() {
	r.m.Close()
	r.a.Close()
}

// openNPZArray opens the archive named by path ("x.npz" or "x.npz:NAME"),
// picks its array and checks its header, reading none of the data.
func openNPZArray(path string) (*npzArray, error) { return openNPZArrayAxes(path, "") }

// openNPZArrayAxes is openNPZArray for an array whose dimensions axes
// names (see parseAxes).
func openNPZArrayAxes(path, axes string) (*npzArray, error) {
	r := &npzArray{archive: path}
	want := ""
	if a, n, ok := splitNPZMember(path); ok {
		r.archive, want = a, n
	}
	var err error
	if r.a, err = openNPZ(r.archive); err != nil {
		return nil, err
	}
	name, err := r.a.pick(r.archive, want)
	if err == nil {
		if r.m, err = r.a.open(name); err == nil {
			if r.h, err = r.m.header(axes); err == nil {
				return r, nil
			}
			r.m.Close()
		}
	}
	r.a.Close()
	return nil, err
}

// detail describes the array for Info.Detail.
func (r *npzArray) detail() string {
	m, h := r.m, r.h
	method := "deflate"
	switch m.zf.Method {
	case zip.Store:
		method = "stored"
	case zip.Deflate:
	default:
		method = fmt.Sprintf("compression method %d", m.zf.Method)
	}
	s := fmt.Sprintf("array %q", m.name)
	if n := len(r.a.arrays); n > 1 {
		s += fmt.Sprintf(" of %d", n)
	}
	s += ", " + method
	if h.fortran {
		s += ", Fortran order"
	} else {
		s += ", C order"
	}
	if h.big && h.dtype.Size() > 1 {
		s += ", big-endian"
	}
	if h.bool {
		s += ", bool read as uint8 0/1"
	}
	return s
}

func inspectNPZ(path string, o Options) (Info, error) {
	r, err := openNPZArray(path)
	if err != nil {
		return Info{}, &Error{"inspect", path, err}
	}
	defer r.Close()
	vox, err := voxelForNPY(r.archive, o)
	if err != nil {
		return Info{}, &Error{"inspect", path, err}
	}
	return Info{Path: path, Format: NPZ, Shape: r.h.shape, DType: r.h.dtype, Voxel: vox, Detail: r.detail()}, nil
}

func readNPZ(path string, o Options) (*volume.Volume, error) {
	r, err := openNPZArray(path)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	defer r.Close()
	m, h := r.m, r.h
	// The voxel size first: a bad sidecar fails before the data is read.
	vox, err := voxelForNPY(r.archive, o)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	data := makeData(h.dtype, h.shape.Len())
	if h.fortran {
		err = readFortran(m.data, data, h)
	} else {
		err = readFull(m.data, data, h.big)
	}
	if err == nil {
		// Read to the end, where the zip reader checks the CRC.
		var one [1]byte
		switch n, rerr := io.ReadFull(m.data, one[:]); {
		case n > 0:
			err = errors.New("the member holds more data than its header says")
		case rerr != io.EOF:
			err = fmt.Errorf("reading voxel data: %v", rerr)
		}
	}
	if err != nil {
		return nil, &Error{"read", path, fmt.Errorf("array %q: %w: %v", m.name, ErrFormat, err)}
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
