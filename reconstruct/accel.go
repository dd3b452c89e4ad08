package reconstruct

import (
	"context"
	"errors"
	"fmt"

	"github.com/niiv/niiv/volume"
)

// Accelerator runs a model's encoder and decoder on another device, such as
// a GPU through OpenGL (package render/gl). Install one with
// Model.SetAccelerator; the niiv method then encodes and decodes through
// it. Implementations are safe for concurrent use.
type Accelerator interface {
	// Device describes the device in a few words ("gl: NVIDIA H100/PCIe/SSE2").
	Device() string
	// Encode is Model.Encode on the device: n normalised slices [n][h][w]
	// → latent grids [n][F][h][w].
	Encode(ctx context.Context, lowres []float32, n, h, w int) ([]float32, error)
	// DecodeGrid decodes one encoded plane (latent [F][h][w], normalised
	// input low [h][w], placed in its whole plane by crop) on the grid
	// rows × cols of the whole plane's model coordinates in [−1, 1] into
	// out [len(rows)][len(cols)], normalised. Encoded planes are
	// immutable: an implementation may keep a device copy of latent and
	// low keyed by the slices' identity.
	DecodeGrid(ctx context.Context, latent, low []float32, h, w int, crop Crop, rows, cols []float64, out []float32) error
	// DecodePoints decodes arbitrary points coords [q][2] (row, col) → [q].
	DecodePoints(ctx context.Context, latent, low []float32, h, w int, coords []float32) ([]float32, error)
	// Close releases the device's resources for this model.
	Close() error
}

// ErrDeviceLimit is wrapped by an Accelerator's errors when a plane or a
// batch exceeds what the device can hold (its largest texture or storage
// buffer); the model then encodes or decodes that one on the CPU.
var ErrDeviceLimit = errors.New("beyond the device's limits")

// GridBatcher is implemented by accelerators that decode the same grid on
// several planes in one pass, as an xy view needs (one row on each xz
// plane it crosses).
type GridBatcher interface {
	// DecodeGrids decodes the grid rows × cols on every plane (each h×w,
	// all placed by crop) into out [len(planes)][len(rows)][len(cols)], as
	// DecodeGrid does.
	DecodeGrids(ctx context.Context, planes []EncodedPlane, h, w int, crop Crop, rows, cols []float64, out []float32) error
}

// Crop places an encoded plane of h×w pixels in the whole plane it was
// encoded from: it holds rows R0…R0+h−1 and columns C0…C0+w−1 of a plane
// of Rows×Cols pixels. Model coordinates, and so the positional encoding,
// are the whole plane's; the encoded part covers every pixel a request's
// interpolation reads. Whole(h, w) is an uncropped plane.
type Crop struct{ R0, C0, Rows, Cols int }

// Whole returns the Crop of an uncropped h×w plane.
func Whole(h, w int) Crop { return Crop{Rows: h, Cols: w} }

// RowTaps returns the two rows of the encoded part (h rows) that
// bilinear interpolation at the whole plane's row coordinate r reads, with
// their weights: the CPU decoder's taps, shifted by the crop.
func (c Crop) RowTaps(r float64, h int, border bool) (i0, i1 int, w0, w1 float32) {
	return cropTaps(r, c.R0, c.Rows, h, border)
}

// ColTaps is RowTaps for columns (w of them in the encoded part).
func (c Crop) ColTaps(x float64, w int, border bool) (i0, i1 int, w0, w1 float32) {
	return cropTaps(x, c.C0, c.Cols, w, border)
}

// cropTaps returns the taps of coordinate c over n pixels, shifted by o
// into a part of m pixels (clamped to it: a crop covers every pixel its
// requests read, so the clamp only guards memory).
func cropTaps(c float64, o, n, m int, border bool) (i0, i1 int, w0, w1 float32) {
	t := gridTaps(c, n, border)
	return min(max(t.i0-o, 0), m-1), min(max(t.i1-o, 0), m-1), t.w0, t.w1
}

// EncodedPlane is an encoded plane as an accelerator sees it: the latent
// [F][h][w] and the normalised input [h][w], both immutable.
type EncodedPlane struct{ Latent, Low []float32 }

// decodeBatch encodes (or finds in the cache) the xz planes idx of vol and
// decodes rows × cols on each of them through b into out.
func (n *Niiv) decodeBatch(ctx context.Context, b GridBatcher, vol *volume.Volume, idx []int, need *rect, rows, cols []float64, out []float32) error {
	ps, err := n.planes(ctx, vol, volume.XZ, idx, true, false, need)
	if err != nil {
		return err
	}
	// Planes cropped alike (the usual case) go to the device in one pass.
	eps := make([]EncodedPlane, len(ps))
	p0 := ps[0]
	for k, p := range ps {
		if p.h != p0.h || p.w != p0.w || p.r0 != p0.r0 || p.c0 != p0.c0 {
			eps = nil
			break
		}
		eps[k] = EncodedPlane{p.latent, p.low}
	}
	if eps != nil {
		err := n.model.use(ctx, func(ctx context.Context) error {
			return b.DecodeGrids(ctx, eps, p0.h, p0.w, p0.crop(), rows, cols, out)
		})
		if !errors.Is(err, ErrDeviceLimit) {
			return err
		}
	}
	// Otherwise plane by plane (on the CPU where one is too large).
	per := len(rows) * len(cols)
	for k, p := range ps {
		if err := n.decode(ctx, p, rows, cols, out[k*per:(k+1)*per], n.threads); err != nil {
			return err
		}
	}
	return nil
}

// SetAccelerator makes m encode and decode through a and records the
// device in Provider, Decoder and Note; nil restores the CPU path and what
// those fields said before (the accelerator is not closed). Call it before
// m is used by any method; Close closes the accelerator installed then.
func (m *Model) SetAccelerator(a Accelerator) {
	if m.accel == nil {
		m.cpuDesc = [3]string{m.Provider, m.Decoder, m.Note}
	}
	m.accel = a
	if a == nil {
		m.Provider, m.Decoder, m.Note = m.cpuDesc[0], m.cpuDesc[1], m.cpuDesc[2]
		return
	}
	m.Provider, m.Decoder, m.Note = m.cpuDesc[0], "gl", m.cpuDesc[2]
	if e, ok := a.(interface{ EncoderOnCPU() bool }); ok && e.EncoderOnCPU() {
		// An accelerator without compute shaders decodes only; the
		// encoder stays on m's provider.
		m.addNote("decoder on " + a.Device())
		return
	}
	m.Provider = "gl"
	m.addNote("encoder and decoder on " + a.Device())
}

// DecodesOn names the device that decodes m's pixels, for labels: "gl"
// with an accelerator, the encoder's provider when the ONNX decoder runs,
// else "cpu" (the native decoder).
func (m *Model) DecodesOn() string {
	switch m.Decoder {
	case "gl":
		return "gl"
	case "onnx":
		return m.Provider
	}
	return "cpu"
}

// Accelerator returns the model's accelerator, nil when it runs on the CPU.
func (m *Model) Accelerator() Accelerator { return m.accel }

// ONNX returns the model's encoder.onnx and decoder.onnx as loaded (and
// checked against the card), for accelerators that read the weights
// (EncoderGraph; ReadDecoderMLP). The caller must not modify them.
func (m *Model) ONNX() (encoder, decoder []byte) { return m.encONNX, m.decONNX }

// Conv is a 2-D convolution with a square odd kernel, stride 1 and zero
// padding that keeps the size: W [Out][In][K][K], B [Out].
type Conv struct {
	In, Out, K int
	W, B       []float32
}

// EncoderNode is one operation of the encoder graph: "Conv", "Relu" or
// "Add" (elementwise, same shapes).
type EncoderNode struct {
	Op     string
	Inputs []string
	Output string
	Conv   *Conv // for Conv
}

// EncoderGraph is the encoder as a list of nodes in execution order, from
// the value named Input ([N,1,H,W]) to the value named Output ([N,F,H,W]).
type EncoderGraph struct {
	Input, Output string
	Nodes         []EncoderNode
}

// EncoderGraph reads the encoder's graph from encoder.onnx. It supports the
// EDSR encoder's operations (Conv, Relu, Add, Identity) and fails on any
// other.
func (m *Model) EncoderGraph() (*EncoderGraph, error) {
	if m.encONNX == nil {
		return nil, fmt.Errorf("reconstruct: model %s: encoder graph unavailable", m.Name)
	}
	g, err := parseONNX(m.encONNX)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: model %s: encoder.onnx: %w", m.Name, err)
	}
	eg, err := encoderGraph(g)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: model %s: encoder.onnx: %w", m.Name, err)
	}
	return eg, nil
}

func encoderGraph(g *onnxGraph) (*EncoderGraph, error) {
	eg := &EncoderGraph{Input: "lowres", Output: "latent"}
	alias := map[string]string{}
	name := func(s string) string {
		if a, ok := alias[s]; ok {
			return a
		}
		return s
	}
	for _, n := range g.nodes {
		switch n.op {
		case "Identity":
			if len(n.inputs) != 1 || len(n.outputs) != 1 {
				return nil, errors.New("malformed Identity node")
			}
			alias[n.outputs[0]] = name(n.inputs[0])
		case "Conv":
			if len(n.inputs) < 2 || len(n.outputs) != 1 {
				return nil, fmt.Errorf("Conv %v: want input, weight (and bias)", n.outputs)
			}
			w, ok := g.inits[n.inputs[1]]
			if !ok || len(w.dims) != 4 || w.dims[2] != w.dims[3] || w.dims[2]%2 != 1 {
				return nil, fmt.Errorf("Conv %s: weight is not a square odd-sized 4-D initializer", n.outputs[0])
			}
			if gr := n.attrs["group"].i; gr > 1 {
				return nil, fmt.Errorf("Conv %s: grouped convolution", n.outputs[0])
			}
			if ap := n.attrs["auto_pad"].s; ap != "" && ap != "NOTSET" && ap != "SAME_UPPER" && ap != "SAME_LOWER" {
				return nil, fmt.Errorf("Conv %s: auto_pad %s", n.outputs[0], ap)
			}
			c := &Conv{Out: int(w.dims[0]), In: int(w.dims[1]), K: int(w.dims[2]), W: w.data, B: make([]float32, w.dims[0])}
			if len(n.inputs) > 2 && n.inputs[2] != "" {
				b, ok := g.inits[n.inputs[2]]
				if !ok || len(b.data) != c.Out {
					return nil, fmt.Errorf("Conv %s: bias is not an initializer of %d values", n.outputs[0], c.Out)
				}
				c.B = b.data
			}
			eg.Nodes = append(eg.Nodes, EncoderNode{Op: "Conv", Inputs: []string{name(n.inputs[0])}, Output: n.outputs[0], Conv: c})
		case "Relu":
			eg.Nodes = append(eg.Nodes, EncoderNode{Op: "Relu", Inputs: []string{name(n.inputs[0])}, Output: n.outputs[0]})
		case "Add":
			if len(n.inputs) != 2 {
				return nil, errors.New("Add node without two inputs")
			}
			for _, in := range n.inputs {
				if _, ok := g.inits[in]; ok {
					return nil, fmt.Errorf("Add %s of a constant", n.outputs[0])
				}
			}
			eg.Nodes = append(eg.Nodes, EncoderNode{Op: "Add", Inputs: []string{name(n.inputs[0]), name(n.inputs[1])}, Output: n.outputs[0]})
		default:
			return nil, fmt.Errorf("operation %s is not supported by the GPU encoder", n.op)
		}
	}
	if a, ok := alias[eg.Output]; ok {
		eg.Output = a
	}
	if len(eg.Nodes) == 0 {
		return nil, errors.New("empty encoder graph")
	}
	return eg, nil
}
