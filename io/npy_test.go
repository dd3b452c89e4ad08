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

func TestNPYFortranAndBigEndian(t *testing.T) {
	// Shape (2,3,4); value at (z,y,x) is 100z+10y+x.
	var fort, big bytes.Buffer
	for x := 0; x < 4; x++ {
		for y := 0; y < 3; y++ {
			for z := 0; z < 2; z++ {
				binary.Write(&fort, binary.LittleEndian, uint16(100*z+10*y+x))
			}
		}
	}
	for z := 0; z < 2; z++ {
		for y := 0; y < 3; y++ {
			for x := 0; x < 4; x++ {
				binary.Write(&big, binary.BigEndian, float32(100*z+10*y+x))
			}
		}
	}
	cases := []struct {
		name string
		file []byte
	}{
		{"fortran", npyBytes("<u2", true, "(2, 3, 4)", fort.Bytes())},
		{"bigendian", npyBytes(">f4", false, "(2, 3, 4)", big.Bytes())},
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
		{"bad magic", []byte("\x93NUMPZ\x01\x00\x10\x00{}"), "not a .npy or TIFF"},
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
