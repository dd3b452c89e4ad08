package reconstruct

import (
	"fmt"
	"slices"
)

// EncoderConv is one 3×3 convolution of a niiv encoder (stride 1, zero
// padding 1): W is [Out][In][3][3] as in encoder.onnx, B is [Out].
type EncoderConv struct {
	WeightName, BiasName string
	In, Out              int
	W, B                 []float32
}

// EncoderEDSR is the convolutional encoder of a niiv model, read from its
// encoder.onnx: a head convolution 1 → F, residual blocks x + conv(ReLU(
// conv(x))), a tail convolution F → F, and the global skip latent = head +
// tail. The adaptation trainer runs it (forward and backward) in Go.
type EncoderEDSR struct {
	Feats  int
	Head   EncoderConv
	Blocks [][2]EncoderConv
	Tail   EncoderConv
}

// ReadEncoderEDSR reads the encoder of a niiv encoder.onnx. It accepts only
// the graph it knows — the chain of 3×3 convolutions, ReLUs and additions
// described at EncoderEDSR — and says what differs otherwise.
func ReadEncoderEDSR(encoderONNX []byte) (*EncoderEDSR, error) {
	g, err := parseONNX(encoderONNX)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: read encoder: %w", err)
	}
	e, err := edsrGraph(g)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: read encoder: %w", err)
	}
	return e, nil
}

func edsrGraph(g *onnxGraph) (*EncoderEDSR, error) {
	nodes := g.nodes
	i := 0
	next := func(op string) (onnxNode, error) {
		if i >= len(nodes) {
			return onnxNode{}, fmt.Errorf("graph ends where a %s node was expected (not the EDSR encoder niiv trains)", op)
		}
		n := nodes[i]
		if n.op != op {
			return onnxNode{}, fmt.Errorf("node %d is %s where %s was expected (not the EDSR encoder niiv trains)", i, n.op, op)
		}
		i++
		return n, nil
	}
	conv := func(input string, in int) (EncoderConv, string, error) {
		n, err := next("Conv")
		if err != nil {
			return EncoderConv{}, "", err
		}
		if len(n.inputs) != 3 || n.inputs[0] != input {
			return EncoderConv{}, "", fmt.Errorf("convolution %d: inputs %v, want %s, a weight and a bias", i-1, n.inputs, input)
		}
		for name, want := range map[string][]int64{"kernel_shape": {3, 3}, "pads": {1, 1, 1, 1}, "strides": {1, 1}, "dilations": {1, 1}} {
			if a, ok := n.attrs[name]; ok && !slices.Equal(a.ints, want) {
				return EncoderConv{}, "", fmt.Errorf("convolution %d: %s %v, want %v", i-1, name, a.ints, want)
			}
		}
		if a, ok := n.attrs["group"]; ok && a.i != 1 {
			return EncoderConv{}, "", fmt.Errorf("convolution %d: %d groups, want 1", i-1, a.i)
		}
		w, okW := g.inits[n.inputs[1]]
		b, okB := g.inits[n.inputs[2]]
		if !okW || !okB {
			return EncoderConv{}, "", fmt.Errorf("convolution %d: weight or bias is not a float32 initializer", i-1)
		}
		if len(w.dims) != 4 || w.dims[2] != 3 || w.dims[3] != 3 || (in > 0 && w.dims[1] != int64(in)) || len(b.dims) != 1 || b.dims[0] != w.dims[0] {
			return EncoderConv{}, "", fmt.Errorf("convolution %d: weight %v and bias %v, want [out][%d][3][3] and [out]", i-1, w.dims, b.dims, in)
		}
		c := EncoderConv{WeightName: n.inputs[1], BiasName: n.inputs[2], In: int(w.dims[1]), Out: int(w.dims[0]),
			W: slices.Clone(w.data), B: slices.Clone(b.data)}
		if len(c.W) != c.Out*c.In*9 || len(c.B) != c.Out {
			return EncoderConv{}, "", fmt.Errorf("convolution %d: %d weights and %d biases for %v", i-1, len(c.W), len(c.B), w.dims)
		}
		return c, n.outputs[0], nil
	}
	add := func(a, b string) (string, error) {
		n, err := next("Add")
		if err != nil {
			return "", err
		}
		if len(n.inputs) != 2 || !(n.inputs[0] == a && n.inputs[1] == b || n.inputs[0] == b && n.inputs[1] == a) {
			return "", fmt.Errorf("addition %d: inputs %v, want %s and %s", i-1, n.inputs, a, b)
		}
		return n.outputs[0], nil
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("the graph has no nodes")
	}
	input := ""
	if len(nodes[0].inputs) > 0 {
		input = nodes[0].inputs[0]
	}
	head, h0, err := conv(input, 1)
	if err != nil {
		return nil, err
	}
	e := &EncoderEDSR{Feats: head.Out, Head: head}
	cur := h0
	for i < len(nodes)-2 {
		c1, o1, err := conv(cur, e.Feats)
		if err != nil {
			return nil, err
		}
		r, err := next("Relu")
		if err != nil {
			return nil, err
		}
		if r.inputs[0] != o1 {
			return nil, fmt.Errorf("ReLU %d reads %s, want %s", i-1, r.inputs[0], o1)
		}
		c2, o2, err := conv(r.outputs[0], e.Feats)
		if err != nil {
			return nil, err
		}
		if c1.Out != e.Feats || c2.Out != e.Feats {
			return nil, fmt.Errorf("residual block %d maps %d → %d → %d channels, want %d", len(e.Blocks), c1.In, c1.Out, c2.Out, e.Feats)
		}
		if cur, err = add(cur, o2); err != nil {
			return nil, err
		}
		e.Blocks = append(e.Blocks, [2]EncoderConv{c1, c2})
	}
	tail, ot, err := conv(cur, e.Feats)
	if err != nil {
		return nil, err
	}
	if tail.Out != e.Feats {
		return nil, fmt.Errorf("tail convolution has %d outputs, want %d", tail.Out, e.Feats)
	}
	e.Tail = tail
	if _, err := add(h0, ot); err != nil {
		return nil, err
	}
	if i != len(nodes) {
		return nil, fmt.Errorf("%d nodes after the global skip (not the EDSR encoder niiv trains)", len(nodes)-i)
	}
	return e, nil
}

// Convs returns the encoder's convolutions in order: head, blocks, tail.
func (e *EncoderEDSR) Convs() []*EncoderConv {
	cs := []*EncoderConv{&e.Head}
	for i := range e.Blocks {
		cs = append(cs, &e.Blocks[i][0], &e.Blocks[i][1])
	}
	return append(cs, &e.Tail)
}

// Clone returns a deep copy of e.
func (e *EncoderEDSR) Clone() *EncoderEDSR {
	c := *e
	c.Blocks = slices.Clone(e.Blocks)
	for _, cv := range c.Convs() {
		cv.W, cv.B = slices.Clone(cv.W), slices.Clone(cv.B)
	}
	return &c
}

// Parameters returns the number of weights and biases.
func (e *EncoderEDSR) Parameters() int {
	n := 0
	for _, c := range e.Convs() {
		n += len(c.W) + len(c.B)
	}
	return n
}

// WriteEncoderEDSR returns encoderONNX with the convolutions' initializers
// replaced by e's weights; every other byte of the model is kept. e must
// have the shapes of the encoder it came from.
func WriteEncoderEDSR(encoderONNX []byte, e *EncoderEDSR) ([]byte, error) {
	repl := map[string][]float32{}
	dims := map[string][]int64{}
	for _, c := range e.Convs() {
		if len(c.W) != c.Out*c.In*9 || len(c.B) != c.Out {
			return nil, fmt.Errorf("reconstruct: write encoder: %s has %d weights and %d biases for %d×%d×3×3", c.WeightName, len(c.W), len(c.B), c.Out, c.In)
		}
		repl[c.WeightName], dims[c.WeightName] = c.W, []int64{int64(c.Out), int64(c.In), 3, 3}
		repl[c.BiasName], dims[c.BiasName] = c.B, []int64{int64(c.Out)}
	}
	out, err := replaceInitializers(encoderONNX, repl, dims)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: write encoder: %w", err)
	}
	return out, nil
}
