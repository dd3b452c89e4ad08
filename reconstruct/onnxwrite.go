package reconstruct

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// A minimal writer beside the reader in onnxproto.go: it re-encodes a
// ModelProto with some float32 initializers replaced, copying every other
// field byte for byte.

// protoRaw calls fn for each field of a message with the field's complete
// encoding (key included) and its payload (the value of a
// length-delimited field; nil otherwise).
func protoRaw(b []byte, fn func(num, typ int, field, payload []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errProto
		}
		num, typ := int(key>>3), int(key&7)
		var size int
		var payload []byte
		switch typ {
		case 0:
			_, m := binary.Uvarint(b[n:])
			if m <= 0 {
				return errProto
			}
			size = n + m
		case 1:
			size = n + 8
		case 2:
			l, m := binary.Uvarint(b[n:])
			if m <= 0 || l > uint64(len(b)-n-m) {
				return errProto
			}
			size = n + m + int(l)
			payload = b[n+m : size]
		case 5:
			size = n + 4
		default:
			return fmt.Errorf("%w: wire type %d", errProto, typ)
		}
		if size > len(b) {
			return errProto
		}
		if err := fn(num, typ, b[:size], payload); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// appendBytesField appends a length-delimited field.
func appendBytesField(dst []byte, num int, payload []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(num)<<3|2)
	dst = binary.AppendUvarint(dst, uint64(len(payload)))
	return append(dst, payload...)
}

// replaceInitializers returns model with the float32 initializers named in
// repl given new values; dims holds each one's expected shape. It fails
// when a name is missing, not float32, stored externally or of another
// shape.
func replaceInitializers(model []byte, repl map[string][]float32, dims map[string][]int64) ([]byte, error) {
	done := map[string]bool{}
	var out []byte
	sawGraph := false
	err := protoRaw(model, func(num, typ int, field, payload []byte) error {
		if num != 7 || typ != 2 { // ModelProto.graph
			out = append(out, field...)
			return nil
		}
		sawGraph = true
		var g []byte
		err := protoRaw(payload, func(num, typ int, field, payload []byte) error {
			if num != 5 || typ != 2 { // GraphProto.initializer
				g = append(g, field...)
				return nil
			}
			t, name, err := replaceTensor(payload, repl, dims)
			if err != nil {
				return err
			}
			if name != "" {
				if done[name] {
					return fmt.Errorf("initializer %s appears twice", name)
				}
				done[name] = true
			}
			g = appendBytesField(g, 5, t)
			return nil
		})
		if err != nil {
			return err
		}
		out = appendBytesField(out, 7, g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !sawGraph {
		return nil, errors.New("no graph in model")
	}
	var missing []string
	for name := range repl {
		if !done[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("no initializer named %v", missing)
	}
	return out, nil
}

// replaceTensor re-encodes a TensorProto when its name is in repl (name is
// then returned), else returns it unchanged. The new values go to
// raw_data; float_data, raw_data and external-data fields are dropped.
func replaceTensor(b []byte, repl map[string][]float32, dims map[string][]int64) ([]byte, string, error) {
	var (
		name   string
		dtype  uint64
		shape  []int64
		extern bool
	)
	err := protoFields(b, func(num, typ int, v uint64, data []byte) error {
		switch {
		case num == 8 && typ == 2:
			name = string(data)
		case num == 2 && typ == 0:
			dtype = v
		case num == 1 && typ == 0:
			shape = append(shape, int64(v))
		case num == 1 && typ == 2:
			for len(data) > 0 {
				d, n := binary.Uvarint(data)
				if n <= 0 {
					return errProto
				}
				shape = append(shape, int64(d))
				data = data[n:]
			}
		case num == 14 && typ == 0: // data_location
			extern = v == 1
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	vals, ok := repl[name]
	if !ok {
		return b, "", nil
	}
	if dtype != 1 {
		return nil, "", fmt.Errorf("initializer %s has data type %d, want float32 (1)", name, dtype)
	}
	if extern {
		return nil, "", fmt.Errorf("initializer %s is stored externally", name)
	}
	if !slices.Equal(shape, dims[name]) {
		return nil, "", fmt.Errorf("initializer %s has shape %v, new values have %v", name, shape, dims[name])
	}
	var out []byte
	err = protoRaw(b, func(num, typ int, field, _ []byte) error {
		switch num {
		case 4, 9, 13: // float_data, raw_data, external_data
			return nil
		}
		out = append(out, field...)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	out = appendBytesField(out, 9, float32bits(make([]byte, 0, 4*len(vals)), vals))
	return out, name, nil
}
