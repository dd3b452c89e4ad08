package reconstruct

import (
	"fmt"
	"math"
	"slices"
)

// DecoderLayer is one dense layer of a niiv decoder's MLP as decoder.onnx
// stores it: y = x·W + B, W row-major [In][Out] (ONNX MatMul layout, the
// transpose of a PyTorch Linear weight).
type DecoderLayer struct {
	// WeightName and BiasName are the initializers' names in the graph.
	WeightName, BiasName string
	In, Out              int
	W, B                 []float32
}

// DecoderMLP is the MLP of a niiv decoder graph and the conventions around
// it. Layer 0 takes Feats+9 inputs: the bilinearly sampled latent (Feats
// values), the sampled low-resolution value v, and the positional encoding
// (8 values, see PositionalEncoding). Every layer but the last is followed
// by a ReLU; the last has one output, turned into the value by the head.
type DecoderMLP struct {
	Feats  int
	Layers []DecoderLayer
	// Head is "residual" (value = v + MLP), "sigmoid" (sigmoid(MLP)) or
	// "plain" (MLP).
	Head string
	// Border is GridSample's padding: border (true) or zeros (false).
	Border bool
}

// graphLayer is a MatMul+Add pair of the decoder graph.
type graphLayer struct {
	wName, bName string
	w, b         onnxTensor
	output       string
}

// decoderLayers walks a niiv decoder graph: the two GridSample nodes (their
// padding), the MLP's MatMul → Add (→ Relu) chain after the first Concat,
// and the head after the last layer.
func decoderLayers(g *onnxGraph, feats int) ([]graphLayer, headKind, bool, error) {
	consumers := map[string][]onnxNode{}
	var grid []onnxNode
	for _, n := range g.nodes {
		for _, in := range n.inputs {
			consumers[in] = append(consumers[in], n)
		}
		if n.op == "GridSample" {
			grid = append(grid, n)
		}
	}
	if len(grid) != 2 {
		return nil, 0, false, fmt.Errorf("want 2 GridSample nodes, found %d", len(grid))
	}
	border := false
	for _, n := range grid {
		if n.attrs["mode"].s != "bilinear" && n.attrs["mode"].s != "linear" {
			return nil, 0, false, fmt.Errorf("GridSample mode %q, want bilinear", n.attrs["mode"].s)
		}
		if n.attrs["align_corners"].i != 0 {
			return nil, 0, false, fmt.Errorf("GridSample align_corners=1, want 0")
		}
		switch n.attrs["padding_mode"].s {
		case "border":
			border = true
		case "zeros", "":
			border = false
		default:
			return nil, 0, false, fmt.Errorf("GridSample padding_mode %q not supported", n.attrs["padding_mode"].s)
		}
	}
	// The MLP: MatMul(x, W) → Add(b) → Relu, repeated, then a final
	// MatMul → Add.
	var layers []graphLayer
	var first string
	for _, n := range g.nodes {
		if n.op == "Concat" && first == "" {
			first = n.outputs[0]
		}
	}
	x := first
	for x != "" && len(layers) <= len(g.nodes) { // bounded: a malformed graph may loop
		var mm *onnxNode
		for _, c := range consumers[x] {
			if c.op == "MatMul" && c.inputs[0] == x {
				mm = &c
				break
			}
		}
		if mm == nil {
			break
		}
		w, ok := g.inits[mm.inputs[1]]
		if !ok || len(w.dims) != 2 {
			return nil, 0, false, fmt.Errorf("MatMul %s: weight is not a 2-D initializer", mm.outputs[0])
		}
		var add *onnxNode
		for _, c := range consumers[mm.outputs[0]] {
			if c.op == "Add" {
				add = &c
			}
		}
		if add == nil {
			return nil, 0, false, fmt.Errorf("MatMul %s has no bias Add", mm.outputs[0])
		}
		bname := add.inputs[0]
		if bname == mm.outputs[0] {
			bname = add.inputs[1]
		}
		b, ok := g.inits[bname]
		if !ok || len(b.data) != int(w.dims[1]) {
			return nil, 0, false, fmt.Errorf("MatMul %s: bias is not an initializer of %d values", mm.outputs[0], w.dims[1])
		}
		layers = append(layers, graphLayer{wName: mm.inputs[1], bName: bname, w: w, b: b, output: add.outputs[0]})
		x = ""
		for _, c := range consumers[add.outputs[0]] {
			if c.op == "Relu" {
				x = c.outputs[0]
			}
		}
	}
	if len(layers) < 2 {
		return nil, 0, false, fmt.Errorf("found %d MLP layers, want at least 2", len(layers))
	}
	if got := layers[0].w.dims[0]; got != int64(feats+9) {
		return nil, 0, false, fmt.Errorf("first MLP layer takes %d inputs, want F+9 = %d", got, feats+9)
	}
	for i := 1; i < len(layers); i++ {
		if layers[i].w.dims[0] != layers[i-1].w.dims[1] {
			return nil, 0, false, fmt.Errorf("MLP layer %d takes %d inputs after a layer of %d outputs", i, layers[i].w.dims[0], layers[i-1].w.dims[1])
		}
	}
	last := layers[len(layers)-1]
	if last.w.dims[1] != 1 {
		return nil, 0, false, fmt.Errorf("last MLP layer has %d outputs, want 1", last.w.dims[1])
	}
	head := headPlain
	for _, c := range consumers[last.output] {
		switch c.op {
		case "Sigmoid":
			head = headSigmoid
		case "Add":
			head = headResidual
		}
	}
	return layers, head, border, nil
}

// ReadDecoderMLP reads the MLP of a niiv decoder.onnx whose latent grid has
// feats channels (Model.Feats).
func ReadDecoderMLP(decoderONNX []byte, feats int) (*DecoderMLP, error) {
	g, err := parseONNX(decoderONNX)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: read decoder: %w", err)
	}
	layers, head, border, err := decoderLayers(g, feats)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: read decoder: %w", err)
	}
	d := &DecoderMLP{Feats: feats, Head: head.String(), Border: border}
	for _, l := range layers {
		d.Layers = append(d.Layers, DecoderLayer{
			WeightName: l.wName, BiasName: l.bName,
			In: int(l.w.dims[0]), Out: int(l.w.dims[1]),
			W: slices.Clone(l.w.data), B: slices.Clone(l.b.data),
		})
	}
	return d, nil
}

// Clone returns a deep copy of d.
func (d *DecoderMLP) Clone() *DecoderMLP {
	c := *d
	c.Layers = make([]DecoderLayer, len(d.Layers))
	for i, l := range d.Layers {
		l.W, l.B = slices.Clone(l.W), slices.Clone(l.B)
		c.Layers[i] = l
	}
	return &c
}

// Parameters returns the number of weights and biases.
func (d *DecoderMLP) Parameters() int {
	n := 0
	for _, l := range d.Layers {
		n += len(l.W) + len(l.B)
	}
	return n
}

// WriteDecoderMLP returns decoderONNX with the initializers of d's layers
// replaced by d's weights (as raw_data); every other byte of the model,
// the graph's nodes included, is kept. d must have the layer shapes of the
// decoder it came from.
func WriteDecoderMLP(decoderONNX []byte, d *DecoderMLP) ([]byte, error) {
	repl := map[string][]float32{}
	dims := map[string][]int64{}
	for _, l := range d.Layers {
		if len(l.W) != l.In*l.Out || len(l.B) != l.Out {
			return nil, fmt.Errorf("reconstruct: write decoder: layer %s has %d weights and %d biases for %d×%d", l.WeightName, len(l.W), len(l.B), l.In, l.Out)
		}
		repl[l.WeightName], dims[l.WeightName] = l.W, []int64{int64(l.In), int64(l.Out)}
		repl[l.BiasName], dims[l.BiasName] = l.B, []int64{int64(l.Out)}
	}
	out, err := replaceInitializers(decoderONNX, repl, dims)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: write decoder: %w", err)
	}
	return out, nil
}

// PositionalEncoding writes the decoder's 4-value encoding of a coordinate
// c ∈ [−1, 1] (one axis) to dst: sin 2πp, cos 2πp, sin 4πp, cos 4πp with
// p = (c+1)/2. The decoder's 8 inputs are the row's then the column's.
func PositionalEncoding(c float64, dst []float64) { positional(c, dst) }

// BilinearTaps returns GridSample's bilinear interpolation taps
// (align_corners=False) of coordinate c ∈ [−1, 1] over n pixels: the two
// source indices (clamped into [0, n)) and their weights, with border or
// zeros padding, exactly as the native decoder samples.
func BilinearTaps(c float64, n int, border bool) (i0, i1 int, w0, w1 float32) {
	t := gridTaps(c, n, border)
	return t.i0, t.i1, t.w0, t.w1
}

// float32bits appends the little-endian bytes of v to b.
func float32bits(b []byte, v []float32) []byte {
	for _, f := range v {
		u := math.Float32bits(f)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}
