package volio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// npyBytes builds a .npy file by hand so tests control every header field.
func npyBytes(descr string, fortran bool, shape string, data []byte) []byte {
	f := "False"
	if fortran {
		f = "True"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, f, shape)
	pad := (64 - (10+len(dict)+1)%64) % 64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	b.Write(data)
	return b.Bytes()
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNPYRoundTrip(t *testing.T) {
	shape := volume.Shape{Z: 3, Y: 4, X: 5}
	n := shape.Len()
	u8 := make([]uint8, n)
	u16 := make([]uint16, n)
	i16 := make([]int16, n)
	f32 := make([]float32, n)
	f64 := make([]float64, n)
	for i := 0; i < n; i++ {
		u8[i] = uint8(i)
		u16[i] = uint16(i * 1000)
		i16[i] = int16(i*100 - 3000)
		f32[i] = float32(i) / 7
		f64[i] = float64(i) / 3
	}
	for _, data := range []any{u8, u16, i16, f32, f64} {
		t.Run(fmt.Sprintf("%T", data), func(t *testing.T) {
			v, err := volume.New(shape, data, volume.Unknown())
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "v.npy")
			if err := WriteNPY(p, v); err != nil {
				t.Fatal(err)
			}
			got, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Shape() != shape || got.DType() != v.DType() {
				t.Fatalf("got %v %v", got.Shape(), got.DType())
			}
			for z := 0; z < 3; z++ {
				for x := 0; x < 5; x++ {
					if got.At(z, 2, x) != v.At(z, 2, x) {
						t.Fatalf("(%d,2,%d): %v != %v", z, x, got.At(z, 2, x), v.At(z, 2, x))
					}
				}
			}
			in, err := Inspect(p)
			if err != nil || in.Shape != shape || in.Format != NPY {
				t.Fatalf("inspect: %+v %v", in, err)
			}
			// No temporary files are left behind.
			ents, _ := os.ReadDir(filepath.Dir(p))
			if len(ents) != 1 {
				t.Fatalf("folder holds %d files", len(ents))
			}
		})
	}
}

// layoutData returns the data of a (2,3,4) array whose value at (z,y,x) is
// 100z+10y+x, as uint16 in Fortran order (little-endian) and as big in C
// order, big-endian (big is float32(0) or float64(0), for the type).
func layoutData(big any) (fortran, bigEndian []byte) {
	var f, b bytes.Buffer
	for x := 0; x < 4; x++ {
		for y := 0; y < 3; y++ {
			for z := 0; z < 2; z++ {
				binary.Write(&f, binary.LittleEndian, uint16(100*z+10*y+x))
			}
		}
	}
	for z := 0; z < 2; z++ {
		for y := 0; y < 3; y++ {
			for x := 0; x < 4; x++ {
				v := float64(100*z + 10*y + x)
				if _, ok := big.(float32); ok {
					binary.Write(&b, binary.BigEndian, float32(v))
				} else {
					binary.Write(&b, binary.BigEndian, v)
				}
			}
		}
	}
	return f.Bytes(), b.Bytes()
}

func TestNPYFortranAndBigEndian(t *testing.T) {
	fort, big := layoutData(float32(0))
	cases := []struct {
		name string
		file []byte
	}{
		{"fortran", npyBytes("<u2", true, "(2, 3, 4)", fort)},
		{"bigendian", npyBytes(">f4", false, "(2, 3, 4)", big)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Open(writeTemp(t, "a.npy", c.file))
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
		})
	}
}

func TestNPYBadInput(t *testing.T) {
	ok := make([]byte, 2*3*4)
	nan := new(bytes.Buffer)
	for i := 0; i < 8; i++ {
		v := float32(i)
		if i == 5 {
			v = float32(math.NaN())
		}
		binary.Write(nan, binary.LittleEndian, v)
	}
	huge := npyBytes("|u1", false, "(100000, 100000, 100000)", ok)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"2d", npyBytes("|u1", false, "(4, 6)", ok), "2-D array"},
		{"1d", npyBytes("|u1", false, "(24,)", ok), "1-D array"},
		{"truncated", npyBytes("|u1", false, "(2, 3, 5)", ok), "truncated"},
		{"extra data", npyBytes("|u1", false, "(2, 3, 3)", ok), "disagree"},
		{"int32", npyBytes("<i4", false, "(1, 2, 3)", ok), "not supported"},
		{"complex", npyBytes("<c8", false, "(1, 1, 3)", ok), "not supported"},
		{"huge", huge, "too large"},
		{"zero axis", npyBytes("|u1", false, "(0, 3, 4)", nil), "empty axis"},
		{"nan", npyBytes("<f4", false, "(2, 2, 2)", nan.Bytes()), "NaN"},
		{"bad magic", []byte("\x93NUMPZ\x01\x00\x10\x00{}"), "not a .npy, TIFF, MRC or HDF5 file"},
		{"header too long", []byte("\x93NUMPY\x01\x00\xff\xff{'descr'"), "past the end"},
		{"no newline", []byte("\x93NUMPY\x01\x00\x04\x00{}  "), "malformed"},
		{"garbage dict", append([]byte("\x93NUMPY\x01\x00\x08\x00{'a': 1\n"), ok...), "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "bad.npy", c.file)
			_, err := Open(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Open: got %v, want an error naming the file and %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if c.name == "huge" && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("want ErrTooLarge, got %v", err)
			}
		})
	}
}

func TestSaveUnknownExtensionWritesNothing(t *testing.T) {
	v, _ := volume.New(volume.Shape{Z: 1, Y: 1, X: 1}, []uint8{1}, volume.Unknown())
	dir := t.TempDir()
	if err := Save(filepath.Join(dir, "x.raw"), v); err == nil {
		t.Fatal("want error for .raw")
	}
	if err := Save(filepath.Join(dir, "missing", "x.npy"), v); err == nil {
		t.Fatal("want error for a missing folder")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("left %d files behind", len(ents))
	}
}

func FuzzNPY(f *testing.F) {
	f.Add(npyBytes("|u1", false, "(2, 3, 4)", make([]byte, 24)))
	f.Add(npyBytes("<u2", true, "(2, 1, 2)", make([]byte, 8)))
	f.Add(npyBytes("<f4", false, "(1, 1, 2)", make([]byte, 8)))
	f.Add(npyBytes(">f8", false, "(1, 1, 1, 1)", make([]byte, 8)))
	f.Add(npyBytes("<i2", false, "(4, 6)", make([]byte, 48)))
	f.Add(npyHeaderBytes(1, `{"shape":(1L,2L,3L,),"descr":u'|b1' # mask`+"\n"+`,'fortran_order':True}`, make([]byte, 6)))
	f.Add(npyHeaderBytes(3, "{'descr': r'<f' '8', 'fortran_order': (False), 'shape': (0x1, 0o1, 0b1,)}", make([]byte, 8)))
	dir := f.TempDir()
	old := MaxBytes
	MaxBytes = 64 << 20
	defer func() { MaxBytes = old }()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.npy")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		in, ierr := Inspect(p)
		v, err := Open(p)
		if err == nil {
			if ierr != nil {
				t.Fatalf("Inspect failed (%v) but Open succeeded", ierr)
			}
			if v.Shape() != in.Shape {
				t.Fatalf("Inspect %v, Open %v", in.Shape, v.Shape())
			}
		}
	})
}

// npyHeaderBytes builds a .npy file with the header dictionary written
// exactly as given, in format version 1, 2 or 3.
func npyHeaderBytes(version byte, dict string, data []byte) []byte {
	plen := 10
	if version > 1 {
		plen = 12
	}
	pad := (64 - (plen+len(dict)+1)%64) % 64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(version)
	b.WriteByte(0)
	if version > 1 {
		binary.Write(&b, binary.LittleEndian, uint32(len(hdr)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	}
	b.WriteString(hdr)
	b.Write(data)
	return b.Bytes()
}

// TestNPYHeaderLayouts reads headers that numpy.load reads, written by
// other tools or by hand: any key order and spacing, either quotes, Python 2
// longs, trailing commas, comments, type names instead of codes.
func TestNPYHeaderLayouts(t *testing.T) {
	var data bytes.Buffer
	for i := 0; i < 24; i++ {
		binary.Write(&data, binary.LittleEndian, float32(i))
	}
	cases := []struct {
		name    string
		version byte
		dict    string
	}{
		{"numpy's own", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"},
		{"keys in another order", 1, "{'shape': (2, 3, 4), 'fortran_order': False, 'descr': '<f4'}"},
		{"no spaces", 1, "{'descr':'<f4','fortran_order':False,'shape':(2,3,4)}"},
		{"spaces, tabs and newlines", 1, "{\t'descr' : '<f4' ,\n 'fortran_order' : False ,\n 'shape' : ( 2 , 3 , 4 ) }"},
		{"double quotes", 1, `{"descr": "<f4", "fortran_order": False, "shape": (2, 3, 4)}`},
		{"python 2 longs", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L, 4L), }"},
		{"python 2 longs, version 2", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L, 4L), }"},
		{"trailing comma in the shape", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4,), }"},
		{"a comment", 1, "{'descr': '<f4', # written by hand\n 'fortran_order': False, 'shape': (2, 3, 4)}"},
		{"unicode prefix", 1, "{u'descr': u'<f4', u'fortran_order': False, u'shape': (2, 3, 4)}"},
		{"joined strings and other integer forms", 1, "{'descr': '<' \"f4\", 'fortran_order': False, 'shape': (0x2, +3, 0o4)}"},
		{"parenthesised values", 1, "{'descr': ('<f4'), 'fortran_order': (False), 'shape': ((2), 3, 4)}"},
		{"a repeated key keeps its last value", 1, "{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4)}"},
		{"native byte order", 1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3, 4)}"},
		{"no byte order", 1, "{'descr': 'f4', 'fortran_order': False, 'shape': (2, 3, 4)}"},
		{"type name", 1, "{'descr': 'float32', 'fortran_order': False, 'shape': (2, 3, 4)}"},
		{"escaped string", 1, `{'descr': '\x3cf4', 'fortran_order': False, 'shape': (2, 3, 4)}`},
		{"version 3", 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "h.npy", npyHeaderBytes(c.version, c.dict, data.Bytes()))
			v, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if v.Shape() != (volume.Shape{Z: 2, Y: 3, X: 4}) || v.DType() != volume.Float32 || v.At(1, 2, 3) != 23 {
				t.Fatalf("got %v %v, (1,2,3) = %v", v.Shape(), v.DType(), v.At(1, 2, 3))
			}
		})
	}
}

// TestNPYHeaderRefused checks that headers numpy.load refuses, or that lie,
// are refused with a message that says what is wrong.
func TestNPYHeaderRefused(t *testing.T) {
	data := make([]byte, 96)
	cases := []struct {
		name    string
		version byte
		dict    string
		want    string
	}{
		{"extra key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), 'x': 1}", "unexpected key 'x'"},
		{"missing key", 1, "{'descr': '<f4', 'shape': (2, 3, 4)}", "no 'fortran_order' key"},
		{"not a dictionary", 1, "['descr', '<f4']", "not a dictionary"},
		{"fortran_order not a bool", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3, 4)}", "fortran_order is 0"},
		{"shape a list", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3, 4]}", "shape [2, 3, 4] is not a tuple"},
		{"shape with a bool", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (True, 6, 4)}", "not a tuple of integers"},
		{"shape with a float", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3, 4)}", "not a tuple of integers"},
		{"leading zero", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (02, 3, 4)}", `"02" is not a number`},
		{"longs in version 3", 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3, 4)}", `"2L" is not a number`},
		{"negative axis", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3, 4)}", "negative axis"},
		{"absurd axis", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (123456789012345678901234567890, 1, 1)}", "absurd"},
		{"bytes descr", 1, "{'descr': b'<f4', 'fortran_order': False, 'shape': (2, 3, 4)}", "descr b'<f4' is not a dtype"},
		{"structured dtype", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3, 4)}", "structured dtype"},
		{"unclosed string", 1, "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3, 4)}", "found \"fortran_orde…\""},
		{"string not closed on its line", 1, "{'descr': '<f4", "string is not closed on its line"},
		{"missing comma", 1, "{'descr': '<f4', 'fortran_order': False 'shape': (2, 3, 4)}", "expected ',' or '}'"},
		{"text after the dictionary", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4)} x", "after the end"},
		{"a name", 1, "{'descr': float32, 'fortran_order': False, 'shape': (2, 3, 4)}", `"float32" is not a literal`},
		{"nested too deep", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': " + strings.Repeat("[", 100) + "}", "nested more than"},
		{"unknown minor version", 0, "", "format version 1.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := npyHeaderBytes(c.version, c.dict, data)
			if c.version == 0 {
				b = npyHeaderBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4)}", data)
				b[7] = 5
			}
			p := writeTemp(t, "bad.npy", b)
			_, err := Open(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) || !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, want a format error naming the file and %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// TestNPYBool reads a NumPy bool mask as uint8 0 and 1, and says so.
func TestNPYBool(t *testing.T) {
	mask := []byte{0, 1, 0, 1, 2, 255} // NumPy takes any non-zero byte as True
	for _, descr := range []string{"|b1", "?", "bool"} {
		t.Run(descr, func(t *testing.T) {
			p := writeTemp(t, "mask.npy", npyBytes(descr, false, "(1, 2, 3)", mask))
			v, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			want := []uint8{0, 1, 0, 1, 1, 1}
			got, ok := v.Data().([]uint8)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("got %v (%v), want %v", v.Data(), v.DType(), want)
			}
			in, err := Inspect(p)
			if err != nil || in.DType != volume.Uint8 || !strings.Contains(in.Detail, "bool read as uint8 0/1") {
				t.Fatalf("Inspect: %+v, %v", in, err)
			}
		})
	}
}
