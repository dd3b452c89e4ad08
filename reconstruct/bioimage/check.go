package bioimage

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/niiv/niiv/reconstruct"
	ort "github.com/yalue/onnxruntime_go"
)

// Result is the outcome of running a package's test inputs.
type Result struct {
	// MaxAbsDiff is the largest |output − test output| over all outputs;
	// Mismatched the number of elements beyond the tolerance, of Elements.
	MaxAbsDiff           float64
	Mismatched, Elements int
	Tolerance            Tolerance
}

// Run runs the package's onnx weights with ONNX Runtime (library, or the
// one FindLibrary finds) on the test inputs, each preprocessed as its
// description says, postprocesses the outputs and returns them by tensor
// id with their shapes.
func Run(ctx context.Context, pk *Package, d *Description, library string) (map[string][]float32, map[string][]int64, error) {
	if d.ONNX == "" {
		return nil, nil, fmt.Errorf("no onnx weights: niiv runs only those")
	}
	if _, err := reconstruct.InitRuntime(library); err != nil {
		return nil, nil, err
	}
	model := pk.Files[d.ONNX]
	if op, err := reconstruct.Opset(model); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", d.ONNX, err)
	} else if op != d.Opset {
		return nil, nil, fmt.Errorf("%s imports opset %d; rdf.yaml's weights.onnx.opset_version says %d", d.ONNX, op, d.Opset)
	}
	gi, gout, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a readable ONNX model: %v", d.ONNX, err)
	}
	names := func(infos []ort.InputOutputInfo) []string {
		var s []string
		for _, i := range infos {
			s = append(s, i.Name)
		}
		return s
	}
	var inIDs, outIDs []string
	for _, t := range d.Inputs {
		inIDs = append(inIDs, t.ID)
	}
	for _, t := range d.Outputs {
		outIDs = append(outIDs, t.ID)
	}
	if !slices.Equal(names(gi), inIDs) || !slices.Equal(names(gout), outIDs) {
		return nil, nil, fmt.Errorf("%s has inputs %v and outputs %v; rdf.yaml declares %v and %v", d.ONNX, names(gi), names(gout), inIDs, outIDs)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inIDs, outIDs, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", d.ONNX, err)
	}
	defer s.Destroy()
	var ins []ort.Value
	defer func() {
		for _, v := range ins {
			v.Destroy()
		}
	}()
	for _, t := range d.Inputs {
		x := slices.Clone(t.TestData)
		if err := apply(t.Pre, x); err != nil {
			return nil, nil, fmt.Errorf("input %q preprocessing: %w", t.ID, err)
		}
		shape := make(ort.Shape, len(t.TestShape))
		for i, n := range t.TestShape {
			shape[i] = int64(n)
		}
		v, err := ort.NewTensor(shape, x)
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: %w", t.ID, err)
		}
		ins = append(ins, v)
	}
	outs := make([]ort.Value, len(d.Outputs))
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := s.Run(ins, outs); err != nil {
		return nil, nil, fmt.Errorf("run %s: %v", d.ONNX, err)
	}
	res, shapes := map[string][]float32{}, map[string][]int64{}
	for i, t := range d.Outputs {
		o, ok := outs[i].(*ort.Tensor[float32])
		if !ok {
			for _, v := range outs {
				if v != nil {
					v.Destroy()
				}
			}
			return nil, nil, fmt.Errorf("output %q is %T, want float32", t.ID, outs[i])
		}
		y := slices.Clone(o.GetData())
		shapes[t.ID] = slices.Clone([]int64(o.GetShape()))
		o.Destroy()
		if err := apply(t.Post, y); err != nil {
			return nil, nil, fmt.Errorf("output %q postprocessing: %w", t.ID, err)
		}
		res[t.ID] = y
	}
	return res, shapes, nil
}

// Check runs the test inputs (Run) and compares the outputs with the test
// outputs: an element mismatches when |got − want| > absolute + relative ·
// |want|, and no more than the tolerance's mismatched elements per million
// may.
func Check(ctx context.Context, pk *Package, d *Description, library string) (*Result, error) {
	got, shapes, err := Run(ctx, pk, d, library)
	if err != nil {
		return nil, err
	}
	r := &Result{Tolerance: d.Tolerance}
	for _, t := range d.Outputs {
		g, want := got[t.ID], t.TestData
		sh := shapes[t.ID]
		same := len(sh) == len(t.TestShape)
		for i := 0; same && i < len(sh); i++ {
			same = sh[i] == int64(t.TestShape[i])
		}
		if !same {
			return nil, fmt.Errorf("output %q has shape %v, test output %s %v", t.ID, sh, t.Test, t.TestShape)
		}
		for i, w := range want {
			e := math.Abs(float64(g[i]) - float64(w))
			if !(e <= r.MaxAbsDiff) {
				r.MaxAbsDiff = e
			}
			if !(e <= d.Tolerance.Absolute+d.Tolerance.Relative*math.Abs(float64(w))) {
				r.Mismatched++
			}
		}
		r.Elements += len(want)
	}
	if float64(r.Mismatched) > d.Tolerance.MismatchedPerMillion*float64(r.Elements)/1e6 {
		return r, fmt.Errorf("test output: %d of %d elements differ from the test outputs by more than %g + %g·|value| (max |diff| %.3g): the weights or test tensors are corrupt, or the runtime is incompatible",
			r.Mismatched, r.Elements, d.Tolerance.Absolute, d.Tolerance.Relative, r.MaxAbsDiff)
	}
	return r, nil
}

// apply runs processing steps on x in place. It knows the steps niiv
// writes and the other parameter-free or fixed ones; steps that need
// statistics of the data are refused.
func apply(steps []Step, x []float32) error {
	for _, s := range steps {
		f := func(key string, def float64) (float64, error) {
			v, ok := s.Kwargs[key]
			if !ok {
				return def, nil
			}
			n, ok := number(v)
			if !ok {
				return 0, fmt.Errorf("%s: %s is %v, want a number (per-axis values are not supported)", s.ID, key, v)
			}
			return n, nil
		}
		switch s.ID {
		case "ensure_dtype":
			if dt, _ := s.Kwargs["dtype"].(string); dt != "float32" {
				return fmt.Errorf("ensure_dtype %v: niiv checks float32 only", s.Kwargs["dtype"])
			}
		case "scale_linear":
			gain, err := f("gain", 1)
			if err != nil {
				return err
			}
			off, err := f("offset", 0)
			if err != nil {
				return err
			}
			for i, v := range x {
				x[i] = float32(float64(v)*gain + off)
			}
		case "clip":
			lo, err := f("min", math.Inf(-1))
			if err != nil {
				return err
			}
			hi, err := f("max", math.Inf(1))
			if err != nil {
				return err
			}
			for i, v := range x {
				x[i] = float32(min(max(float64(v), lo), hi))
			}
		case "sigmoid":
			for i, v := range x {
				x[i] = float32(1 / (1 + math.Exp(-float64(v))))
			}
		default:
			return fmt.Errorf("step %s is not supported by niiv's check", s.ID)
		}
	}
	return nil
}
