package volio

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// npzMemberSpec is one member of a test archive.
type npzMemberSpec struct {
	name string // as stored, e.g. "volume.npy"
	data []byte
	// method is zip.Store or zip.Deflate; another is stored as is.
	method uint16
	// badCRC stores a wrong CRC-32 for a stored member.
	badCRC bool
}

// npzBytes builds a .npz archive as np.savez and np.savez_compressed do: a
// zip file with one .npy member per array.
func npzBytes(t testing.TB, members ...npzMemberSpec) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, m := range members {
		if m.badCRC || (m.method != zip.Store && m.method != zip.Deflate) {
			if m.method == zip.Deflate {
				t.Fatal("badCRC needs a stored member")
			}
			crc := crc32.ChecksumIEEE(m.data)
			if m.badCRC {
				crc ^= 1
			}
			n := uint64(len(m.data))
			w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: m.method, CRC32: crc, CompressedSize64: n, UncompressedSize64: n})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(m.data)
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// stored and deflated make members of either kind.
func stored(name string, data []byte) npzMemberSpec {
	return npzMemberSpec{name: name, data: data, method: zip.Store}
}

func deflated(name string, data []byte) npzMemberSpec {
	return npzMemberSpec{name: name, data: data, method: zip.Deflate}
}

var npzMethods = []struct {
	name string
	make func(string, []byte) npzMemberSpec
}{{"stored", stored}, {"deflate", deflated}}

// f32Bytes is the little-endian float32 ramp 0, 1, 2, ... of n values.
func f32Bytes(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		binary.Write(&b, binary.LittleEndian, float32(i))
	}
	return b.Bytes()
}

// TestNPZRoundTrip stores what WriteNPY writes as the member of an archive
// and checks that the archive reads exactly as the .npy file does.
func TestNPZRoundTrip(t *testing.T) {
	shape := volume.Shape{Z: 3, Y: 4, X: 5}
	n := shape.Len()
	u8 := make([]uint8, n)
	u16 := make([]uint16, n)
	i16 := make([]int16, n)
	f32 := make([]float32, n)
	f64 := make([]float64, n)
	for i := 0; i < n; i++ {
		u8[i] = uint8(i * 7)
		u16[i] = uint16(i * 1000)
		i16[i] = int16(i*100 - 3000)
		f32[i] = float32(i) / 7
		f64[i] = math.Pi * float64(i) / 3
	}
	for _, data := range []any{u8, u16, i16, f32, f64} {
		for _, m := range npzMethods {
			t.Run(fmt.Sprintf("%T %s", data, m.name), func(t *testing.T) {
				v, err := volume.New(shape, data, volume.Unknown())
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				npyPath := filepath.Join(dir, "v.npy")
				if err := WriteNPY(npyPath, v); err != nil {
					t.Fatal(err)
				}
				raw, err := os.ReadFile(npyPath)
				if err != nil {
					t.Fatal(err)
				}
				want, err := Open(npyPath)
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, "v.npz")
				if err := os.WriteFile(p, npzBytes(t, m.make("arr_0.npy", raw)), 0o644); err != nil {
					t.Fatal(err)
				}
				got, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				if got.Shape() != shape || got.DType() != v.DType() || !reflect.DeepEqual(got.Data(), want.Data()) {
					t.Fatalf("got %v %v, want %v %v and the same values", got.Shape(), got.DType(), shape, v.DType())
				}
				if got.Name != "v.npz" {
					t.Errorf("name %q", got.Name)
				}
				in, err := Inspect(p)
				if err != nil || in.Format != NPZ || in.Shape != shape || in.DType != v.DType() || in.Detail != `array "arr_0", `+m.name+", C order" {
					t.Fatalf("Inspect: %+v, %v", in, err)
				}
			})
		}
	}
}

// TestNPZLayouts reads Fortran-order, big-endian and bool members through
// the .npy reader's own handling of them.
func TestNPZLayouts(t *testing.T) {
	fort, big := layoutData(float64(0))
	cases := []struct {
		name   string
		npy    []byte
		detail string
	}{
		{"fortran", npyBytes("<u2", true, "(2, 3, 4)", fort), "Fortran order"},
		{"bigendian", npyBytes(">f8", false, "(2, 3, 4)", big), "C order, big-endian"},
		{"leading singleton axis", npyBytes(">f8", false, "(1, 2, 3, 4)", big), "C order, big-endian"},
		{"format version 2", npyHeaderBytes(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3, 4), }", big), "C order, big-endian"},
	}
	for _, c := range cases {
		for _, m := range npzMethods {
			t.Run(c.name+" "+m.name, func(t *testing.T) {
				p := writeTemp(t, "a.npz", npzBytes(t, m.make("stack.npy", c.npy)))
				v, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				for z := 0; z < 2; z++ {
					for y := 0; y < 3; y++ {
						for x := 0; x < 4; x++ {
							if got := v.At(z, y, x); got != float64(100*z+10*y+x) {
								t.Fatalf("(%d,%d,%d) = %v", z, y, x, got)
							}
						}
					}
				}
				in, err := Inspect(p)
				if err != nil || !strings.HasSuffix(in.Detail, c.detail) {
					t.Fatalf("Inspect: %+v, %v; want detail ending %q", in, err, c.detail)
				}
			})
		}
	}
	t.Run("bool", func(t *testing.T) {
		p := writeTemp(t, "mask.npz", npzBytes(t, deflated("mask.npy", npyBytes("|b1", false, "(1, 2, 3)", []byte{0, 1, 0, 1, 2, 255}))))
		v, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := v.Data().([]uint8); !ok || !bytes.Equal(got, []uint8{0, 1, 0, 1, 1, 1}) {
			t.Fatalf("got %v (%v)", v.Data(), v.DType())
		}
		if in, err := Inspect(p); err != nil || !strings.Contains(in.Detail, "bool read as uint8 0/1") {
			t.Fatalf("Inspect: %+v, %v", in, err)
		}
	})
}

// TestNPZPick checks which array of an archive is read.
func TestNPZPick(t *testing.T) {
	arr := func(v float32) []byte {
		var b bytes.Buffer
		for i := 0; i < 8; i++ {
			binary.Write(&b, binary.LittleEndian, v)
		}
		return npyBytes("<f4", false, "(2, 2, 2)", b.Bytes())
	}
	// Each array holds its position in the list, so the value says which
	// one was read.
	build := func(t *testing.T, names ...string) string {
		var ms []npzMemberSpec
		for i, n := range names {
			ms = append(ms, deflated(n, arr(float32(i))))
		}
		return writeTemp(t, "a.npz", npzBytes(t, ms...))
	}
	cases := []struct {
		name    string
		members []string
		suffix  string
		want    int    // index of the member read
		err     string // "" when it reads
	}{
		{"only array, any name", []string{"stack.npy"}, "", 0, ""},
		{"non-arrays are ignored", []string{"notes.txt", "stack.npy"}, "", 1, ""},
		{"volume first", []string{"image.npy", "arr_0.npy", "data.npy", "volume.npy"}, "", 3, ""},
		{"then data", []string{"image.npy", "arr_0.npy", "data.npy", "x.npy"}, "", 2, ""},
		{"then arr_0", []string{"image.npy", "arr_1.npy", "arr_0.npy"}, "", 2, ""},
		{"then image", []string{"labels.npy", "image.npy"}, "", 1, ""},
		{"suffix over the preferred names", []string{"volume.npy", "raw.npy"}, ":raw", 1, ""},
		{"suffix with .npy", []string{"volume.npy", "raw.npy"}, ":raw.npy", 1, ""},
		{"suffix for the only array", []string{"raw.npy"}, ":raw", 0, ""},
		{"none preferred", []string{"raw.npy", "labels.npy"}, "", 0, `holds 2 arrays and none is named volume, data, arr_0 or image: "raw" <f4 (2, 2, 2), "labels" <f4 (2, 2, 2); pick one as `},
		{"unknown name", []string{"raw.npy", "labels.npy"}, ":cells", 0, `no array named "cells"; it holds "raw" <f4 (2, 2, 2), "labels" <f4 (2, 2, 2)`},
		{"suffix names a non-array", []string{"raw.npy", "notes.txt"}, ":notes.txt", 0, `member "notes.txt" is not a .npy array`},
		{"no arrays", []string{"notes.txt", "b.bin"}, "", 0, `holds no .npy arrays, so it is not a NumPy .npz file (members "notes.txt", "b.bin")`},
		{"empty", nil, "", 0, "the archive is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := build(t, c.members...)
			path := p + c.suffix
			v, err := Open(path)
			in, ierr := Inspect(path)
			if c.err != "" {
				for _, err := range []error{err, ierr} {
					if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), path) || !errors.Is(err, ErrFormat) {
						t.Fatalf("got %v, want an error naming %s and %q", err, path, c.err)
					}
				}
				if c.name == "none preferred" && !strings.Contains(err.Error(), p+":NAME, e.g. "+p+":raw") {
					t.Fatalf("error does not say how to pick an array: %v", err)
				}
				return
			}
			if err != nil || ierr != nil {
				t.Fatalf("Open: %v, Inspect: %v", err, ierr)
			}
			if got := v.At(1, 1, 1); got != float64(c.want) {
				t.Fatalf("read member %v, want %d (%s)", got, c.want, c.members[c.want])
			}
			if name := strings.TrimSuffix(c.members[c.want], ".npy"); !strings.Contains(in.Detail, fmt.Sprintf("array %q", name)) {
				t.Fatalf("Inspect detail %q does not name %q", in.Detail, name)
			}
			if v.Name != filepath.Base(path) {
				t.Errorf("name %q", v.Name)
			}
		})
	}
}

// TestNPZColonInFileName checks that a file whose name has a colon is read
// as itself, and that a :NAME suffix on a file that is not an archive is
// refused.
func TestNPZColonInFileName(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a:b.npy")
	if err := os.WriteFile(p, npyBytes("<f4", false, "(2, 3, 4)", f32Bytes(24)), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := Open(p); err != nil || v.At(1, 2, 3) != 23 {
		t.Fatalf("Open(%s): %v", p, err)
	}
	_, err := Open(p + ":x")
	if err == nil || !strings.Contains(err.Error(), "a :NAME suffix picks an array of a .npz archive") {
		t.Fatalf("got %v", err)
	}
}

// TestNPZVoxel takes the voxel size from a sidecar beside the archive or
// from the archive's name.
func TestNPZVoxel(t *testing.T) {
	dir := t.TempDir()
	member := npzBytes(t, stored("volume.npy", npyBytes("<f4", false, "(2, 3, 4)", f32Bytes(24))))
	named := filepath.Join(dir, "cells-4x4x50nm.npz")
	side := filepath.Join(dir, "cells.npz")
	for _, p := range []string{named, side} {
		if err := os.WriteFile(p, member, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := volume.Voxel{Z: 40, Y: 8, X: 8, Unit: "nm", Known: true}
	if err := writeSidecar(side, want); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		z, x   float64
		source string
	}{
		{named, 50, 4, "file name"},
		{named + ":volume", 50, 4, "file name"},
		{side, 40, 8, "sidecar cells.npz.json"},
		{side + ":volume", 40, 8, "sidecar cells.npz.json"},
	} {
		v, err := Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		in, err := Inspect(c.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, vox := range []volume.Voxel{v.Voxel, in.Voxel} {
			if !vox.Known || vox.Z != c.z || vox.X != c.x || vox.Source != c.source {
				t.Errorf("%s: voxel %+v, want z %g, x %g from %s", c.path, vox, c.z, c.x, c.source)
			}
		}
	}
	// A broken sidecar fails the read, or is a warning with VoxelGiven.
	if err := os.WriteFile(side+".json", []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(side); !errors.Is(err, ErrSidecar) {
		t.Fatalf("got %v, want a sidecar error", err)
	}
	var warned error
	if _, err := OpenWith(side, Options{VoxelGiven: true, Warn: func(err error) { warned = err }}); err != nil || !errors.Is(warned, ErrSidecar) {
		t.Fatalf("OpenWith: %v, warning %v", err, warned)
	}
}

// TestNPZBadInput checks that archives that are broken, lie or hold arrays
// niiv cannot use are refused with one line naming the file and the reason,
// by Open and, unless only the data shows it, by Inspect.
func TestNPZBadInput(t *testing.T) {
	good := npyBytes("<f4", false, "(2, 3, 4)", f32Bytes(24))
	okArchive := npzBytes(t, deflated("volume.npy", good))
	nan := f32Bytes(8)
	binary.LittleEndian.PutUint32(nan[12:], math.Float32bits(float32(math.NaN())))
	v2Huge := []byte("\x93NUMPY\x02\x00\xff\xff\xff\xff{'descr'")
	type tc struct {
		name string
		file []byte
		want string
		// dataOnly: only reading the data shows the problem, so Inspect
		// succeeds.
		dataOnly bool
		tooLarge bool
	}
	cases := []tc{
		{name: "corrupt zip", file: append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0xA5}, 100)...), want: "not a readable .npz (zip) archive"},
		{name: "truncated archive", file: okArchive[:len(okArchive)/2], want: "not a readable .npz (zip) archive, or a truncated one"},
		{name: "bzip2 member", file: npzBytes(t, npzMemberSpec{name: "volume.npy", data: good, method: 12}), want: `array "volume": unsupported or corrupt file: npz: could not open item "volume.npy" from npz: zip: unsupported compression algorithm`},
		{name: "duplicate members", file: npzBytes(t, stored("volume.npy", good), stored("volume.npy", good)), want: `two members named "volume.npy"`},
		{name: "empty member", file: npzBytes(t, stored("volume.npy", nil)), want: `array "volume": unsupported or corrupt file: member volume.npy is not a .npy array`},
		{name: "flate stream cut short", file: func() []byte {
			// A deflate member whose compressed bytes are cut, with the
			// archive's directory still intact.
			b := npzBytes(t, deflated("volume.npy", good))
			i := bytes.Index(b, []byte("PK\x01\x02")) // central directory
			out := append([]byte{}, b[:i-20]...)
			out = append(out, make([]byte, 20)...)
			return append(out, b[i:]...)
		}(), want: `array "volume": unsupported or corrupt file: reading voxel data: `, dataOnly: true},
		{name: "header length past the member", file: npzBytes(t, stored("volume.npy", v2Huge)), want: "header length 4294967295 runs past the end of the member"},
		{name: "format version 3", file: npzBytes(t, stored("volume.npy", npyHeaderBytes(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", f32Bytes(24)))), want: "format version 3.0"},
		{name: "unknown format version", file: npzBytes(t, stored("volume.npy", append([]byte("\x93NUMPY\x07\x00"), good[8:]...))), want: "unknown .npy format version 7.0"},
		{name: "2-D", file: npzBytes(t, deflated("arr_0.npy", npyBytes("<f4", false, "(4, 6)", f32Bytes(24)))), want: `array "arr_0": unsupported or corrupt file: 2-D array 4×6 is a single image`},
		{name: "4-D", file: npzBytes(t, deflated("arr_0.npy", npyBytes("|u1", false, "(2, 3, 2, 2)", make([]byte, 24)))), want: "4-D array [2 3 2 2]; niiv needs a 3-D volume"},
		{name: "0-D", file: npzBytes(t, stored("arr_0.npy", npyBytes("<f4", false, "()", f32Bytes(1)))), want: "0-D array"},
		{name: "object dtype", file: npzBytes(t, stored("arr_0.npy", npyBytes("|O", false, "(1, 1, 3)", make([]byte, 24)))), want: `dtype "|O" is not supported`},
		{name: "complex dtype", file: npzBytes(t, stored("arr_0.npy", npyBytes("<c8", false, "(1, 1, 3)", make([]byte, 24)))), want: `dtype "<c8" is not supported`},
		{name: "structured dtype", file: npzBytes(t, stored("arr_0.npy", npyHeaderBytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3, 4), }", f32Bytes(24)))), want: "structured dtype"},
		{name: "shape longer than the data, stored", file: npzBytes(t, stored("arr_0.npy", npyBytes("<f4", false, "(2, 3, 5)", f32Bytes(24)))), want: "truncated: header says 2×3×5 (z,y,x) float32 (120 B of data) but the member holds 96 B"},
		{name: "shape longer than the data, deflate", file: npzBytes(t, deflated("arr_0.npy", npyBytes("<f4", false, "(2, 3, 5)", f32Bytes(24)))), want: "truncated"},
		{name: "shape shorter than the data", file: npzBytes(t, deflated("arr_0.npy", npyBytes("<f4", false, "(2, 3, 3)", f32Bytes(24)))), want: "shape and data disagree"},
		{name: "huge shape", file: npzBytes(t, deflated("arr_0.npy", npyBytes("|u1", false, "(100000, 100000, 100000)", nil))), want: "too large", tooLarge: true},
		{name: "absurd shape", file: npzBytes(t, deflated("arr_0.npy", npyBytes("|u1", false, "(9223372036854775807, 1, 1)", nil))), want: "absurd"},
		{name: "negative axis", file: npzBytes(t, deflated("arr_0.npy", npyBytes("|u1", false, "(-2, 3, 4)", make([]byte, 24)))), want: "negative axis"},
		{name: "empty axis", file: npzBytes(t, deflated("arr_0.npy", npyBytes("|u1", false, "(0, 3, 4)", nil))), want: "empty axis"},
		{name: "header without a newline", file: npzBytes(t, stored("arr_0.npy", []byte("\x93NUMPY\x01\x00\x04\x00{}  "))), want: "malformed .npy header, or a layout npyio cannot parse (npyio: runtime error"},
		{name: "header keys in another order", file: npzBytes(t, stored("arr_0.npy", npyHeaderBytes(1, "{'shape': (2, 3, 4), 'fortran_order': False, 'descr': '<f4', }", f32Bytes(24)))), want: `array "arr_0": unsupported or corrupt file: malformed .npy header`},
		{name: "header npyio misreads", file: npzBytes(t, stored("arr_0.npy", npyHeaderBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 6, 1, 1)}", f32Bytes(24)))), want: `npyio misreads this header, not laid out as NumPy writes it (descr "<f4", fortran_order false, shape [4 6 1] instead of "<f4", false, [4 6 1 1])`},
		{name: "garbage header", file: npzBytes(t, stored("arr_0.npy", npyHeaderBytes(1, "{'a': 1}", f32Bytes(24)))), want: "npy: invalid dictionary format"},
		{name: "shape not integers", file: npzBytes(t, stored("arr_0.npy", npyBytes("<f4", false, "(2.0, 3, 4)", f32Bytes(24)))), want: `parsing "2.0"`},
		{name: "bad fortran_order", file: npzBytes(t, stored("arr_0.npy", npyHeaderBytes(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3, 4), }", f32Bytes(24)))), want: "invalid 'fortran_order' value"},
		{name: "descr not a string", file: npzBytes(t, stored("arr_0.npy", npyHeaderBytes(1, "{'descr': float32, 'fortran_order': False, 'shape': (2, 3, 4), }", f32Bytes(24)))), want: "descr float32 is not a dtype"},
		{name: "wrong CRC", file: npzBytes(t, npzMemberSpec{name: "arr_0.npy", data: good, method: zip.Store, badCRC: true}), want: `array "arr_0": unsupported or corrupt file: reading voxel data: zip: checksum error`, dataOnly: true},
		{name: "wrong CRC, Fortran order", file: npzBytes(t, npzMemberSpec{name: "arr_0.npy", data: npyBytes("<f4", true, "(2, 3, 4)", f32Bytes(24)), method: zip.Store, badCRC: true}), want: "zip: checksum error", dataOnly: true},
		{name: "NaN", file: npzBytes(t, deflated("arr_0.npy", npyBytes("<f4", false, "(2, 2, 2)", nan))), want: "NaN", dataOnly: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "bad.npz", c.file)
			_, err := Open(p)
			in, ierr := Inspect(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "volio: read "+p+": ") {
				t.Fatalf("Open: got %v, want an error naming the file and %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if c.tooLarge != errors.Is(err, ErrTooLarge) || (c.name != "NaN" && !c.tooLarge && !errors.Is(err, ErrFormat)) {
				t.Fatalf("error %v: ErrTooLarge %v, ErrFormat %v", err, errors.Is(err, ErrTooLarge), errors.Is(err, ErrFormat))
			}
			if c.dataOnly {
				if ierr != nil {
					t.Fatalf("Inspect reads only the header, yet failed: %v", ierr)
				}
				return
			}
			if ierr == nil || !strings.Contains(ierr.Error(), c.want) || !strings.HasPrefix(ierr.Error(), "volio: inspect "+p+": ") {
				t.Fatalf("Inspect: got %+v, %v, want an error naming the file and %q", in, ierr, c.want)
			}
		})
	}
}

// FuzzNPZ feeds arbitrary bytes to the .npz reader through a file, either
// as the whole archive or, when member is true, as the one stored .npy
// member of a well-formed archive, which reaches npyio's header parser: it
// must never panic or allocate past MaxBytes, and whenever Open succeeds,
// Inspect must agree with it.
//
//	go test ./io -run '^$' -fuzz FuzzNPZ -fuzztime 60s
func FuzzNPZ(f *testing.F) {
	old := MaxBytes
	MaxBytes = 16 << 20
	f.Cleanup(func() { MaxBytes = old })

	members := [][]byte{
		npyBytes("<f4", false, "(2, 3, 4)", f32Bytes(24)),
		npyBytes(">u2", true, "(2, 3, 4)", make([]byte, 48)),
		npyBytes("|b1", false, "(1, 1, 1, 2, 3)", make([]byte, 6)),
		npyHeaderBytes(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 2), }", make([]byte, 16)),
		[]byte("\x93NUMPY\x01\x00\x04\x00{}  "),
	}
	for _, m := range members {
		f.Add(m, true)
		f.Add(npzBytes(f, stored("arr_0.npy", m)), false)
		f.Add(npzBytes(f, deflated("volume.npy", m)), false)
	}
	f.Add(npzBytes(f, deflated("a.npy", members[0]), stored("data.npy", npyBytes("|u1", false, "(2, 3, 4)", make([]byte, 24)))), false)
	f.Add(npzBytes(f), false)

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, member bool) {
		if member {
			data = npzBytes(t, stored("arr_0.npy", data))
		}
		p := filepath.Join(dir, "fuzz.npz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		in, ierr := Inspect(p)
		v, err := Open(p)
		if err != nil {
			return
		}
		if ierr != nil {
			t.Fatalf("Open succeeded but Inspect failed: %v", ierr)
		}
		if in.Shape != v.Shape() || in.DType != v.DType() {
			t.Fatalf("Inspect %v %v, Open %v %v", in.Shape, in.DType, v.Shape(), v.DType())
		}
		if v.Bytes() > MaxBytes {
			t.Fatalf("read %d bytes, limit %d", v.Bytes(), MaxBytes)
		}
	})
}

// TestNPZOnlyVolume checks that an archive of several arrays, one of them
// 3-D and none with a preferred name, reads that one.
func TestNPZOnlyVolume(t *testing.T) {
	flat := npyBytes("<f4", false, "(2, 4)", f32Bytes(8))
	vol := npyBytes("<f4", false, "(2, 3, 4)", f32Bytes(24))
	p := writeTemp(t, "a.npz", npzBytes(t, deflated("mask.npy", flat), deflated("stack.npy", vol), deflated("table.npy", flat)))
	v, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if v.Shape() != (volume.Shape{Z: 2, Y: 3, X: 4}) || v.At(1, 2, 3) != 23 {
		t.Errorf("read %v, want the 3-D array", v.Shape())
	}
	// Two volumes: the reader does not guess, and suggests a 3-D one.
	p = writeTemp(t, "b.npz", npzBytes(t, deflated("mask.npy", flat), deflated("a.npy", vol), deflated("b.npy", vol)))
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), p+":a") {
		t.Errorf("two volumes: %v; want a refusal suggesting %s:a", err, p)
	}
}
