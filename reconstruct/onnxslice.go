package reconstruct

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// SliceGraph builds one ONNX model from a niiv encoder and decoder: a plain
// image-to-image graph that reconstructs a whole axial slice at a fixed
// factor, for runtimes that know nothing of niiv's coordinates (the
// bioimage.io consumers). It takes "input" [batch, 1, z, x] (normalised
// like the encoder's input) and gives "output" [batch, 1, z·factor, x]
// (normalised): the encoder, the coordinate grid of niiv's whole-plane
// reconstruction computed from the input's shape inside the graph (pixel
// centres, rows then columns, in float64 with the same operations as
// gridCoords, then rounded to float32), the decoder and the reshape to an
// image. The encoder's and decoder's nodes and initializers are copied
// byte for byte. Both graphs must use the default ONNX domain at an opset
// in [13, 17] (what the added Shape, Range and Unsqueeze-with-axes-input
// nodes need, and what deepImageJ's and ilastik's runtimes accept).
func SliceGraph(encoder, decoder []byte, factor int) ([]byte, error) {
	if factor < 1 || factor > 1<<10 {
		return nil, fmt.Errorf("reconstruct: slice graph: factor %d outside [1, 1024]", factor)
	}
	enc, err := splitModel(encoder, []string{"lowres"}, []string{"latent"})
	if err != nil {
		return nil, fmt.Errorf("reconstruct: slice graph: encoder: %w", err)
	}
	dec, err := splitModel(decoder, []string{"latent", "lowres", "coords"}, []string{"values"})
	if err != nil {
		return nil, fmt.Errorf("reconstruct: slice graph: decoder: %w", err)
	}
	// The two graphs share only the tensors that wire them together.
	shared := map[string]bool{"lowres": true, "latent": true}
	for n := range enc.names {
		if dec.names[n] && !shared[n] {
			return nil, fmt.Errorf("reconstruct: slice graph: encoder and decoder both name a tensor or node %q", n)
		}
	}
	for n := range enc.names {
		if len(n) >= len(slicePrefix) && n[:len(slicePrefix)] == slicePrefix || n == "input" || n == "output" {
			return nil, fmt.Errorf("reconstruct: slice graph: encoder uses the reserved name %q", n)
		}
	}
	for n := range dec.names {
		if len(n) >= len(slicePrefix) && n[:len(slicePrefix)] == slicePrefix || n == "input" || n == "output" {
			return nil, fmt.Errorf("reconstruct: slice graph: decoder uses the reserved name %q", n)
		}
	}
	opset := max(enc.opset, dec.opset)

	var g []byte
	count := 0
	node := func(op string, in []string, out string, attrs ...[]byte) {
		count++
		g = appendBytesField(g, 1, nodeProto(op, fmt.Sprintf("%s%s_%d", slicePrefix, op, count), in, []string{out}, attrs...))
	}
	p := func(s string) string { return slicePrefix + s }
	// input → lowres (the name both graphs read).
	node("Identity", []string{"input"}, "lowres")
	// Shape pieces: batch as [1], z and x as scalars, z·factor.
	node("Shape", []string{"input"}, p("shape"))
	node("Gather", []string{p("shape"), p("i0")}, p("b1"), attrInt("axis", 0))
	node("Gather", []string{p("shape"), p("s2")}, p("z"), attrInt("axis", 0))
	node("Gather", []string{p("shape"), p("s3")}, p("x"), attrInt("axis", 0))
	node("Mul", []string{p("z"), p("factor")}, p("zf"))
	// Row coordinates: c = 2·((i+0.5)·z/zf)/z − 1 (gridCoords over
	// [0, z) at zf rows), column coordinates: 2·((j+0.5)·x/x)/x − 1.
	axisCoords := func(name, count, span string) {
		node("Range", []string{p("s0"), count, p("s1")}, p(name+"_i"))
		node("Cast", []string{p(name + "_i")}, p(name+"_d"), attrInt("to", 11))
		node("Cast", []string{span}, p(name+"_span"), attrInt("to", 11))
		node("Cast", []string{count}, p(name+"_n"), attrInt("to", 11))
		node("Add", []string{p(name + "_d"), p("half")}, p(name+"_1"))
		node("Mul", []string{p(name + "_1"), p(name + "_span")}, p(name+"_2"))
		node("Div", []string{p(name + "_2"), p(name + "_n")}, p(name+"_3"))
		node("Mul", []string{p("two"), p(name + "_3")}, p(name+"_4"))
		node("Div", []string{p(name + "_4"), p(name + "_span")}, p(name+"_5"))
		node("Sub", []string{p(name + "_5"), p("one")}, p(name+"_6"))
		node("Cast", []string{p(name + "_6")}, p(name), attrInt("to", 1))
	}
	axisCoords("rows", p("zf"), p("z"))
	axisCoords("cols", p("x"), p("x"))
	// The grid [zf, x, 2] (row, col) as coords [batch, zf·x, 2].
	node("Unsqueeze", []string{p("rows"), p("ax1")}, p("rows_u"))
	node("Unsqueeze", []string{p("cols"), p("ax0")}, p("cols_u"))
	node("Unsqueeze", []string{p("zf"), p("ax0")}, p("zf1"))
	node("Unsqueeze", []string{p("x"), p("ax0")}, p("x1"))
	node("Concat", []string{p("zf1"), p("x1")}, p("hw"), attrInt("axis", 0))
	node("Expand", []string{p("rows_u"), p("hw")}, p("rows_e"))
	node("Expand", []string{p("cols_u"), p("hw")}, p("cols_e"))
	node("Unsqueeze", []string{p("rows_e"), p("ax2")}, p("rows_c"))
	node("Unsqueeze", []string{p("cols_e"), p("ax2")}, p("cols_c"))
	node("Concat", []string{p("rows_c"), p("cols_c")}, p("grid"), attrInt("axis", 2))
	node("Reshape", []string{p("grid"), p("q_shape")}, p("grid_q"))
	node("Concat", []string{p("b1"), p("i1"), p("i1")}, p("bq"), attrInt("axis", 0))
	node("Expand", []string{p("grid_q"), p("bq")}, "coords")
	// The networks.
	for _, n := range enc.nodes {
		g = appendBytesField(g, 1, n)
	}
	for _, n := range dec.nodes {
		g = appendBytesField(g, 1, n)
	}
	// values [batch, zf·x] → output [batch, 1, zf, x].
	node("Concat", []string{p("b1"), p("i1"), p("zf1"), p("x1")}, p("out_shape"), attrInt("axis", 0))
	node("Reshape", []string{"values", p("out_shape")}, "output")

	g = appendBytesField(g, 2, []byte("niiv_slice"))
	consts := []struct {
		name  string
		dtype int
		dims  []int64
		i     []int64
		f     []float64
	}{
		{name: "i0", dtype: 7, dims: []int64{1}, i: []int64{0}},
		{name: "i1", dtype: 7, dims: []int64{1}, i: []int64{1}},
		{name: "s0", dtype: 7, i: []int64{0}},
		{name: "s1", dtype: 7, i: []int64{1}},
		{name: "s2", dtype: 7, i: []int64{2}},
		{name: "s3", dtype: 7, i: []int64{3}},
		{name: "factor", dtype: 7, i: []int64{int64(factor)}},
		{name: "ax0", dtype: 7, dims: []int64{1}, i: []int64{0}},
		{name: "ax1", dtype: 7, dims: []int64{1}, i: []int64{1}},
		{name: "ax2", dtype: 7, dims: []int64{1}, i: []int64{2}},
		{name: "q_shape", dtype: 7, dims: []int64{3}, i: []int64{1, -1, 2}},
		{name: "half", dtype: 11, f: []float64{0.5}},
		{name: "two", dtype: 11, f: []float64{2}},
		{name: "one", dtype: 11, f: []float64{1}},
	}
	for _, c := range consts {
		var raw []byte
		for _, v := range c.i {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
		for _, v := range c.f {
			raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
		}
		g = appendBytesField(g, 5, tensorProto(p(c.name), c.dtype, c.dims, raw))
	}
	for _, t := range enc.inits {
		g = appendBytesField(g, 5, t)
	}
	for _, t := range dec.inits {
		g = appendBytesField(g, 5, t)
	}
	g = appendBytesField(g, 10, []byte(fmt.Sprintf("niiv axial-slice reconstruction at factor %d: input [batch,1,z,x] normalised, output [batch,1,z*%d,x] normalised", factor, factor)))
	g = appendBytesField(g, 11, valueInfo("input", []any{"batch", 1, "z", "x"}))
	g = appendBytesField(g, 12, valueInfo("output", []any{"batch", 1, "z_out", "x"}))

	var m []byte
	m = binary.AppendUvarint(m, 1<<3) // ir_version
	m = binary.AppendUvarint(m, uint64(max(enc.ir, dec.ir, 8)))
	m = appendBytesField(m, 2, []byte("niiv"))
	m = appendBytesField(m, 7, g)
	var os []byte
	os = appendBytesField(os, 1, nil)
	os = binary.AppendUvarint(os, 2<<3)
	os = binary.AppendUvarint(os, uint64(opset))
	m = appendBytesField(m, 8, os)
	return m, nil
}

// slicePrefix starts the names of the nodes and tensors SliceGraph adds.
const slicePrefix = "niiv_slice/"

// modelParts are the pieces of a ModelProto SliceGraph copies: nodes and
// initializers as encoded, every node, tensor and initializer name, the
// default-domain opset and the IR version.
type modelParts struct {
	nodes, inits [][]byte
	names        map[string]bool
	opset, ir    int
}

// splitModel reads a model's graph and checks its input and output names.
func splitModel(model []byte, ins, outs []string) (*modelParts, error) {
	mp := &modelParts{names: map[string]bool{}}
	var graph []byte
	err := protoFields(model, func(num, typ int, v uint64, data []byte) error {
		switch {
		case num == 1 && typ == 0:
			mp.ir = int(min(v, 1<<20))
		case num == 7 && typ == 2:
			graph = data
		case num == 8 && typ == 2: // OperatorSetIdProto
			var domain string
			var version uint64
			err := protoFields(data, func(num, typ int, v uint64, data []byte) error {
				switch {
				case num == 1 && typ == 2:
					domain = string(data)
				case num == 2 && typ == 0:
					version = v
				}
				return nil
			})
			if err != nil {
				return err
			}
			if domain != "" && domain != "ai.onnx" {
				return fmt.Errorf("uses the operator domain %q; only the default ONNX domain is supported", domain)
			}
			mp.opset = int(min(version, 1<<20))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if graph == nil {
		return nil, errors.New("no graph in model")
	}
	if mp.opset < 13 || mp.opset > 17 {
		return nil, fmt.Errorf("opset %d; want 13 to 17", mp.opset)
	}
	var gotIn, gotOut []string
	err = protoRaw(graph, func(num, typ int, field, payload []byte) error {
		if typ != 2 {
			return nil
		}
		switch num {
		case 1: // node
			n, err := parseNode(payload)
			if err != nil {
				return err
			}
			for _, s := range append(append(n.inputs, n.outputs...), nodeName(payload)) {
				if s != "" {
					mp.names[s] = true
				}
			}
			if hasSubgraph(payload) {
				return fmt.Errorf("%s node has a subgraph; not supported", n.op)
			}
			mp.nodes = append(mp.nodes, payload)
		case 5: // initializer
			mp.names[tensorName(payload)] = true
			mp.inits = append(mp.inits, payload)
		case 11:
			gotIn = append(gotIn, tensorValueName(payload))
		case 12:
			gotOut = append(gotOut, tensorValueName(payload))
		case 15:
			return errors.New("sparse initializers are not supported")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Initializers may be listed among the inputs (IR < 4): leave them out.
	var realIn []string
	for _, s := range gotIn {
		isInit := false
		for _, t := range mp.inits {
			if tensorName(t) == s {
				isInit = true
			}
		}
		if !isInit {
			realIn = append(realIn, s)
		}
	}
	if !sameSet(realIn, ins) || !sameSet(gotOut, outs) {
		return nil, fmt.Errorf("inputs %v and outputs %v; want %v and %v", realIn, gotOut, ins, outs)
	}
	return mp, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nodeName returns NodeProto.name.
func nodeName(b []byte) string {
	var s string
	protoFields(b, func(num, typ int, _ uint64, data []byte) error {
		if num == 3 && typ == 2 {
			s = string(data)
		}
		return nil
	})
	return s
}

// hasSubgraph reports whether a NodeProto has a graph attribute (If, Loop,
// Scan), whose names SliceGraph does not check.
func hasSubgraph(b []byte) bool {
	found := false
	protoFields(b, func(num, typ int, _ uint64, data []byte) error {
		if num == 5 && typ == 2 {
			protoFields(data, func(num, typ int, _ uint64, _ []byte) error {
				if (num == 6 || num == 11) && typ == 2 { // g, graphs
					found = true
				}
				return nil
			})
		}
		return nil
	})
	return found
}

// tensorName returns TensorProto.name.
func tensorName(b []byte) string {
	var s string
	protoFields(b, func(num, typ int, _ uint64, data []byte) error {
		if num == 8 && typ == 2 {
			s = string(data)
		}
		return nil
	})
	return s
}

// tensorValueName returns ValueInfoProto.name.
func tensorValueName(b []byte) string {
	var s string
	protoFields(b, func(num, typ int, _ uint64, data []byte) error {
		if num == 1 && typ == 2 {
			s = string(data)
		}
		return nil
	})
	return s
}

// nodeProto encodes a NodeProto.
func nodeProto(op, name string, in, out []string, attrs ...[]byte) []byte {
	var b []byte
	for _, s := range in {
		b = appendBytesField(b, 1, []byte(s))
	}
	for _, s := range out {
		b = appendBytesField(b, 2, []byte(s))
	}
	b = appendBytesField(b, 3, []byte(name))
	b = appendBytesField(b, 4, []byte(op))
	for _, a := range attrs {
		b = appendBytesField(b, 5, a)
	}
	return b
}

// attrInt encodes an AttributeProto of type INT.
func attrInt(name string, v int64) []byte {
	var b []byte
	b = appendBytesField(b, 1, []byte(name))
	b = binary.AppendUvarint(b, 3<<3)
	b = binary.AppendUvarint(b, uint64(v))
	b = binary.AppendUvarint(b, 20<<3) // type
	b = binary.AppendUvarint(b, 2)     // INT
	return b
}

// tensorProto encodes a TensorProto with raw (little-endian) data.
func tensorProto(name string, dtype int, dims []int64, raw []byte) []byte {
	var b []byte
	for _, d := range dims {
		b = binary.AppendUvarint(b, 1<<3)
		b = binary.AppendUvarint(b, uint64(d))
	}
	b = binary.AppendUvarint(b, 2<<3)
	b = binary.AppendUvarint(b, uint64(dtype))
	b = appendBytesField(b, 8, []byte(name))
	b = appendBytesField(b, 9, raw)
	return b
}

// valueInfo encodes a float32 tensor's ValueInfoProto; each dimension is
// an int (a fixed size) or a string (a symbolic one).
func valueInfo(name string, dims []any) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		switch d := d.(type) {
		case int:
			dim = binary.AppendUvarint(dim, 1<<3)
			dim = binary.AppendUvarint(dim, uint64(d))
		case string:
			dim = appendBytesField(dim, 2, []byte(d))
		}
		shape = appendBytesField(shape, 1, dim)
	}
	var tt []byte
	tt = binary.AppendUvarint(tt, 1<<3)
	tt = binary.AppendUvarint(tt, 1) // FLOAT
	tt = appendBytesField(tt, 2, shape)
	var typ []byte
	typ = appendBytesField(typ, 1, tt)
	var b []byte
	b = appendBytesField(b, 1, []byte(name))
	b = appendBytesField(b, 2, typ)
	return b
}

// Opset returns the default-domain (ai.onnx) opset a serialized ONNX model
// imports.
func Opset(model []byte) (int, error) {
	opset := -1
	err := protoFields(model, func(num, typ int, _ uint64, data []byte) error {
		if num != 8 || typ != 2 {
			return nil
		}
		var domain string
		var version uint64
		err := protoFields(data, func(num, typ int, v uint64, data []byte) error {
			switch {
			case num == 1 && typ == 2:
				domain = string(data)
			case num == 2 && typ == 0:
				version = v
			}
			return nil
		})
		if err == nil && (domain == "" || domain == "ai.onnx") {
			opset = int(min(version, 1<<20))
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reconstruct: opset: %w", err)
	}
	if opset < 0 {
		return 0, errors.New("reconstruct: opset: the model imports no default-domain opset")
	}
	return opset, nil
}
