package zarr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/niiv/niiv/volume"
)

// elemType is the element type of an array as stored in its chunks.
type elemType struct {
	kind byte // 'b' bool, 'i' signed, 'u' unsigned, 'f' float
	size int  // bytes per element: 1, 2, 4 or 8
	big  bool // big-endian in the chunks
	name string
}

// out returns the volume type the elements are read as.
func (e elemType) out() volume.DType {
	switch {
	case e.kind == 'b', e.kind == 'u' && e.size == 1:
		return volume.Uint8
	case e.kind == 'u' && e.size == 2:
		return volume.Uint16
	case e.kind == 'i' && e.size <= 2:
		return volume.Int16
	case e.size <= 4:
		return volume.Float32
	}
	return volume.Float64
}

// note says how the conversion to the volume type loses precision, "" when
// it is exact.
func (e elemType) note() string {
	if e.kind == 'i' || e.kind == 'u' {
		switch e.size {
		case 4:
			return fmt.Sprintf("%s voxels are read as float32: exact up to 2^24 (16777216), larger magnitudes are rounded", e.typeName())
		case 8:
			return fmt.Sprintf("%s voxels are read as float64: exact up to 2^53 (9007199254740992), larger magnitudes are rounded", e.typeName())
		}
	}
	return ""
}

// typeName is NumPy's name of the type: "uint16", "float32", "bool".
func (e elemType) typeName() string {
	switch e.kind {
	case 'b':
		return "bool"
	case 'i':
		return fmt.Sprintf("int%d", 8*e.size)
	case 'u':
		return fmt.Sprintf("uint%d", 8*e.size)
	}
	return fmt.Sprintf("float%d", 8*e.size)
}

// valid reports whether e is one of the supported types.
func (e elemType) valid() bool {
	switch e.kind {
	case 'b':
		return e.size == 1
	case 'i', 'u':
		return e.size == 1 || e.size == 2 || e.size == 4 || e.size == 8
	case 'f':
		return e.size == 2 || e.size == 4 || e.size == 8
	}
	return false
}

// parseV2DType reads a Zarr v2 (NumPy) type string such as "<u2", "|u1" or
// ">f4".
func parseV2DType(s string) (elemType, error) {
	e := elemType{name: s}
	if len(s) < 3 {
		return e, fmt.Errorf("dtype %q is not a NumPy type string like \"<u2\"", s)
	}
	switch s[0] {
	case '<', '|':
	case '>':
		e.big = true
	default:
		return e, fmt.Errorf("dtype %q: byte order %q is not <, > or |", s, s[0])
	}
	e.kind = s[1]
	n, err := strconv.Atoi(s[2:])
	if err != nil || n <= 0 || n > 16 {
		return e, fmt.Errorf("dtype %q: bad item size %q", s, s[2:])
	}
	e.size = n
	switch e.kind {
	case 'c':
		return e, fmt.Errorf("dtype %q: complex numbers are not images", s)
	case 'M', 'm', 'S', 'U', 'V', 'O':
		return e, fmt.Errorf("dtype %q: %s arrays are not images", s, map[byte]string{'M': "datetime", 'm': "timedelta", 'S': "byte string", 'U': "text", 'V': "structured", 'O': "object"}[e.kind])
	}
	if !e.valid() {
		return e, fmt.Errorf("dtype %q is not supported (bool, int8…int64, uint8…uint64, float16, float32, float64 are)", s)
	}
	if s[0] == '|' && e.size > 1 {
		return e, fmt.Errorf("dtype %q: a multi-byte type needs a byte order (< or >)", s)
	}
	return e, nil
}

// parseTypeName reads a Zarr v3 data_type or an N5 dataType: "uint16",
// "float32", "bool"...
func parseTypeName(s string) (elemType, error) {
	e := elemType{name: s}
	var digits string
	switch {
	case s == "bool":
		e.kind, e.size = 'b', 1
		return e, nil
	case strings.HasPrefix(s, "uint"):
		e.kind, digits = 'u', s[4:]
	case strings.HasPrefix(s, "int"):
		e.kind, digits = 'i', s[3:]
	case strings.HasPrefix(s, "float"):
		e.kind, digits = 'f', s[5:]
	case strings.HasPrefix(s, "complex"):
		return e, fmt.Errorf("data type %q: complex numbers are not images", s)
	default:
		return e, fmt.Errorf("data type %q is not supported (bool, int8…int64, uint8…uint64, float16, float32, float64 are)", s)
	}
	bits, err := strconv.Atoi(digits)
	if err != nil || bits%8 != 0 || digits != strconv.Itoa(bits) {
		return e, fmt.Errorf("data type %q is not supported (bool, int8…int64, uint8…uint64, float16, float32, float64 are)", s)
	}
	e.size = bits / 8
	if !e.valid() {
		return e, fmt.Errorf("data type %q is not supported (bool, int8…int64, uint8…uint64, float16, float32, float64 are)", s)
	}
	return e, nil
}

// parseFill reads a fill value from its JSON for elements of type e: a
// number, null (0), true/false, "NaN", "Infinity", "-Infinity" or, in
// Zarr v3, a "0x…" bit pattern of a float. The result is the value the
// output volume holds for it.
func parseFill(raw json.RawMessage, e elemType) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	switch raw[0] {
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return 0, fmt.Errorf("fill_value %s is not JSON", raw)
		}
		if e.kind != 'b' {
			return 0, fmt.Errorf("fill_value %s is a boolean but the type is %s", raw, e.typeName())
		}
		if b {
			return 1, nil
		}
		return 0, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("fill_value %s is not JSON", raw)
		}
		return parseFillString(s, e)
	case '[', '{':
		return 0, fmt.Errorf("fill_value %.40s is not a number", raw)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("fill_value %.40s is not a number", raw)
	}
	return numberFill(string(n), e)
}

// numberFill checks a numeric fill value against the range of e.
func numberFill(s string, e elemType) (float64, error) {
	switch e.kind {
	case 'f':
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("fill_value %s is not a float", s)
		}
		return roundFill(f, e), nil
	case 'b':
		switch s {
		case "0":
			return 0, nil
		case "1":
			return 1, nil
		}
		return 0, fmt.Errorf("fill_value %s is not a boolean", s)
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if !intInRange(float64(i), e) || (e.kind == 'u' && i < 0) {
			return 0, fmt.Errorf("fill_value %s is outside the range of %s", s, e.typeName())
		}
		return float64(i), nil
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		if e.kind != 'u' || e.size != 8 {
			return 0, fmt.Errorf("fill_value %s is outside the range of %s", s, e.typeName())
		}
		return float64(u), nil
	}
	// Some writers store integral fill values as floats ("0.0").
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) {
		return 0, fmt.Errorf("fill_value %s is not an integer, the type is %s", s, e.typeName())
	}
	if !intInRange(f, e) {
		return 0, fmt.Errorf("fill_value %s is outside the range of %s", s, e.typeName())
	}
	return f, nil
}

// intInRange reports whether f fits integer type e.
func intInRange(f float64, e elemType) bool {
	bits := float64(8 * e.size)
	if e.kind == 'u' {
		return f >= 0 && f < math.Exp2(bits)
	}
	return f >= -math.Exp2(bits-1) && f < math.Exp2(bits-1)
}

// roundFill rounds a float fill value to the precision the volume holds.
func roundFill(f float64, e elemType) float64 {
	if e.out() == volume.Float32 {
		return float64(float32(f))
	}
	return f
}

// parseFillString reads the string forms of a fill value.
func parseFillString(s string, e elemType) (float64, error) {
	if e.kind == 'f' {
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		if hex, ok := strings.CutPrefix(s, "0x"); ok && len(hex) == 2*e.size {
			bits, err := strconv.ParseUint(hex, 16, 64)
			if err == nil {
				switch e.size {
				case 2:
					return float64(halfToFloat32(uint16(bits))), nil
				case 4:
					return float64(math.Float32frombits(uint32(bits))), nil
				default:
					return math.Float64frombits(bits), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("fill_value %q is not a number of type %s", s, e.typeName())
}

// halfToFloat32 converts an IEEE 754 half-precision number.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: normalise.
	e := uint32(113)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// decodeElems converts the first n elements of raw, stored as e, into a
// slice of the volume type: []uint8, []uint16, []int16, []float32 or
// []float64. raw must hold at least n*e.size bytes.
func decodeElems(raw []byte, e elemType, n int) any {
	var bo binary.ByteOrder = binary.LittleEndian
	if e.big {
		bo = binary.BigEndian
	}
	raw = raw[:n*e.size]
	switch {
	case e.kind == 'b':
		out := make([]uint8, n)
		for i, b := range raw {
			if b != 0 {
				out[i] = 1
			}
		}
		return out
	case e.kind == 'u' && e.size == 1:
		return raw
	case e.kind == 'i' && e.size == 1:
		out := make([]int16, n)
		for i, b := range raw {
			out[i] = int16(int8(b))
		}
		return out
	case e.kind == 'u' && e.size == 2:
		out := make([]uint16, n)
		for i := range out {
			out[i] = bo.Uint16(raw[2*i:])
		}
		return out
	case e.kind == 'i' && e.size == 2:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(bo.Uint16(raw[2*i:]))
		}
		return out
	case e.kind == 'f' && e.size == 2:
		out := make([]float32, n)
		for i := range out {
			out[i] = halfToFloat32(bo.Uint16(raw[2*i:]))
		}
		return out
	case e.size == 4:
		out := make([]float32, n)
		for i := range out {
			v := bo.Uint32(raw[4*i:])
			switch e.kind {
			case 'f':
				out[i] = math.Float32frombits(v)
			case 'i':
				out[i] = float32(int32(v))
			default:
				out[i] = float32(v)
			}
		}
		return out
	}
	out := make([]float64, n)
	for i := range out {
		v := bo.Uint64(raw[8*i:])
		switch e.kind {
		case 'f':
			out[i] = math.Float64frombits(v)
		case 'i':
			out[i] = float64(int64(v))
		default:
			out[i] = float64(v)
		}
	}
	return out
}

// elemLen returns the number of elements of a slice decodeElems returns.
func elemLen(data any) int {
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
	return 0
}
