package reconstruct

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A minimal reader of the ONNX protobuf wire format: just enough of
// ModelProto to find a graph's nodes, their attributes and the float32
// initializers, so that the decoder's MLP can be evaluated natively. Field
// numbers follow onnx/onnx.proto3.

type onnxGraph struct {
	nodes []onnxNode
	inits map[string]onnxTensor
}

type onnxNode struct {
	op      string
	inputs  []string
	outputs []string
	attrs   map[string]onnxAttr
}

type onnxAttr struct {
	i    int64
	s    string
	ints []int64
}

type onnxTensor struct {
	dims []int64
	data []float32
}

var errProto = errors.New("malformed protobuf")

// protoFields calls fn for each field of a message.
func protoFields(b []byte, fn func(num int, typ int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errProto
		}
		b = b[n:]
		num, typ := int(key>>3), int(key&7)
		switch typ {
		case 0: // varint
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errProto
			}
			b = b[n:]
			if err := fn(num, typ, v, nil); err != nil {
				return err
			}
		case 1: // 64-bit
			if len(b) < 8 {
				return errProto
			}
			if err := fn(num, typ, binary.LittleEndian.Uint64(b), b[:8]); err != nil {
				return err
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errProto
			}
			data := b[n : n+int(l)]
			b = b[n+int(l):]
			if err := fn(num, typ, 0, data); err != nil {
				return err
			}
		case 5: // 32-bit
			if len(b) < 4 {
				return errProto
			}
			if err := fn(num, typ, uint64(binary.LittleEndian.Uint32(b)), b[:4]); err != nil {
				return err
			}
			b = b[4:]
		default:
			return fmt.Errorf("%w: wire type %d", errProto, typ)
		}
	}
	return nil
}

// parseONNX reads the graph of a serialized ModelProto.
func parseONNX(model []byte) (*onnxGraph, error) {
	var graph []byte
	err := protoFields(model, func(num, typ int, _ uint64, data []byte) error {
		if num == 7 && typ == 2 { // ModelProto.graph
			graph = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if graph == nil {
		return nil, errors.New("no graph in model")
	}
	g := &onnxGraph{inits: map[string]onnxTensor{}}
	err = protoFields(graph, func(num, typ int, _ uint64, data []byte) error {
		switch {
		case num == 1 && typ == 2: // GraphProto.node
			n, err := parseNode(data)
			if err != nil {
				return err
			}
			if len(n.outputs) == 0 || len(n.inputs) < minInputs(n.op) {
				return fmt.Errorf("%s node with %d inputs and %d outputs", n.op, len(n.inputs), len(n.outputs))
			}
			g.nodes = append(g.nodes, n)
		case num == 5 && typ == 2: // GraphProto.initializer
			name, t, err := parseTensor(data)
			if err != nil {
				return err
			}
			if name != "" && t.data != nil {
				g.inits[name] = t
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// minInputs is the number of inputs an operation needs at least.
func minInputs(op string) int {
	switch op {
	case "MatMul", "Add", "Mul", "Sub", "Div", "GridSample", "Gemm", "Conv":
		return 2
	case "Constant":
		return 0
	}
	return 1
}

func parseNode(b []byte) (onnxNode, error) {
	n := onnxNode{attrs: map[string]onnxAttr{}}
	err := protoFields(b, func(num, typ int, v uint64, data []byte) error {
		switch {
		case num == 1 && typ == 2:
			n.inputs = append(n.inputs, string(data))
		case num == 2 && typ == 2:
			n.outputs = append(n.outputs, string(data))
		case num == 4 && typ == 2:
			n.op = string(data)
		case num == 5 && typ == 2: // AttributeProto
			var name string
			var a onnxAttr
			err := protoFields(data, func(num, typ int, v uint64, data []byte) error {
				switch {
				case num == 1 && typ == 2:
					name = string(data)
				case num == 3 && typ == 0:
					a.i = int64(v)
				case num == 4 && typ == 2:
					a.s = string(data)
				case num == 8 && typ == 0: // ints, one by one
					a.ints = append(a.ints, int64(v))
				case num == 8 && typ == 2: // ints, packed
					for len(data) > 0 {
						x, k := binary.Uvarint(data)
						if k <= 0 {
							return errProto
						}
						a.ints = append(a.ints, int64(x))
						data = data[k:]
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			n.attrs[name] = a
		}
		return nil
	})
	return n, err
}

// parseTensor reads a TensorProto; data stays nil unless it is float32.
func parseTensor(b []byte) (string, onnxTensor, error) {
	var (
		name    string
		t       onnxTensor
		dtype   uint64
		raw     []byte
		floats  []float32
		hasData bool
	)
	err := protoFields(b, func(num, typ int, v uint64, data []byte) error {
		switch {
		case num == 1 && typ == 0:
			t.dims = append(t.dims, int64(v))
		case num == 1 && typ == 2: // packed dims
			for len(data) > 0 {
				d, n := binary.Uvarint(data)
				if n <= 0 {
					return errProto
				}
				t.dims = append(t.dims, int64(d))
				data = data[n:]
			}
		case num == 2 && typ == 0:
			dtype = v
		case num == 4 && typ == 2: // packed float_data
			for i := 0; i+4 <= len(data); i += 4 {
				floats = append(floats, math.Float32frombits(binary.LittleEndian.Uint32(data[i:])))
			}
			hasData = true
		case num == 4 && typ == 5:
			floats = append(floats, math.Float32frombits(uint32(v)))
			hasData = true
		case num == 8 && typ == 2:
			name = string(data)
		case num == 9 && typ == 2:
			raw = data
			hasData = true
		}
		return nil
	})
	if err != nil || dtype != 1 || !hasData { // 1 = FLOAT
		return name, t, err
	}
	if raw != nil {
		if len(raw)%4 != 0 {
			return name, t, fmt.Errorf("initializer %s: raw data of %d bytes", name, len(raw))
		}
		floats = make([]float32, len(raw)/4)
		for i := range floats {
			floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	n := int64(1)
	for _, d := range t.dims {
		if d < 0 || d > 1<<31 || n*d > 1<<31 {
			return name, t, fmt.Errorf("initializer %s: shape %v too large", name, t.dims)
		}
		n *= d
	}
	if int64(len(floats)) != n {
		return name, t, fmt.Errorf("initializer %s: %d values for shape %v", name, len(floats), t.dims)
	}
	t.data = floats
	return name, t, nil
}
