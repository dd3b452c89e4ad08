package glrender

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	npytensor "github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
)

// Devices lists the --device choices: ONNX Runtime's (reconstruct.Devices)
// and "gl".
var Devices = append(slices.Clone(reconstruct.Devices), "gl")

// checkTol is the largest difference (normalised units) the GL encoder
// and decoder may have from the CPU path in LoadModel's self-check.
const checkTol = 1e-3

// LoadModel loads a model as reconstruct.LoadModel does, and for
// opt.Device "gl", or "auto" when a hardware OpenGL device exists, moves
// its encoder and decoder to the GPU through OpenGL (under "auto" in
// preference to ONNX Runtime's GPU providers, which leave the decoder on
// the CPU). On an OpenGL 3.3 device only the decoder moves (a fragment
// shader); the encoder runs on a second CPU model of the same files.
// Where that is not possible — no context, a software renderer under
// "auto", or results that differ from the CPU path — the model stays on
// the CPU (under "auto": on ONNX Runtime's providers) and Model.Note
// says why. The second result is the OpenGL device in use (nil when the
// model does not use it); it can colour frames too (Device.Image).
func LoadModel(ref string, opt reconstruct.ModelOptions) (*reconstruct.Model, *Device, error) {
	dev := strings.ToLower(strings.TrimSpace(opt.Device))
	if dev != "gl" && dev != "auto" {
		return loadCPU(ref, opt)
	}
	d, glErr := Shared()
	if dev == "auto" && (glErr != nil || d.Info().Software()) {
		m, _, err := loadCPU(ref, opt)
		if err == nil && glErr == nil {
			// Software GL (llvmpipe) is slower than the CPU path.
			addNote(m, fmt.Sprintf("OpenGL is %s, a software renderer: not used, the CPU is faster", d.Info()))
		}
		return m, nil, err
	}
	// The model's CPU path is loaded in any case: it checks the model's
	// files and test tensors, and is the reference the GL path is checked
	// against.
	opt.Device = "cpu"
	m, _, err := loadCPU(ref, opt)
	if err != nil {
		return nil, nil, err
	}
	if glErr != nil {
		addNote(m, fmt.Sprintf("%v; using CPU", glErr))
		return m, nil, nil
	}
	a, err := d.NewAccelerator(m)
	if err == nil && a.EncoderOnCPU() {
		// OpenGL 3.3: the encoder runs on a second CPU model of the same
		// files (m itself will encode through the accelerator).
		var enc *reconstruct.Model
		if enc, _, err = loadCPU(ref, opt); err == nil {
			a.SetCPUEncoder(enc)
		} else {
			a.Close()
		}
	}
	if err == nil {
		err = check(m, a)
		if err != nil {
			a.Close()
		}
	}
	if err != nil {
		addNote(m, fmt.Sprintf("GPU inference on %s unavailable (%v); using CPU", d.Info(), err))
		return m, nil, nil
	}
	m.SetAccelerator(a)
	return m, d, nil
}

// loadCPU loads the model without OpenGL.
func loadCPU(ref string, opt reconstruct.ModelOptions) (*reconstruct.Model, *Device, error) {
	m, err := reconstruct.LoadModel(ref, opt)
	return m, nil, err
}

// check compares the accelerator with m's CPU path (itself checked against
// the model's test tensors when it loaded) on a random 12×10 plane.
func check(m *reconstruct.Model, a *Accelerator) error {
	ctx := context.Background()
	const h, w = 12, 10
	rng := rand.New(rand.NewPCG(7, 8))
	low := make([]float32, h*w)
	for i := range low {
		low[i] = rng.Float32()
	}
	want, err := m.Encode(ctx, low, 1, h, w)
	if err != nil {
		return err
	}
	got, err := a.Encode(ctx, low, 1, h, w)
	if err != nil {
		return err
	}
	if e := npytensor.MaxAbsDiff(got, want); !(e <= checkTol) {
		return fmt.Errorf("encoder differs from the CPU by %.3g", e)
	}
	coords := make([]float32, 2*64)
	for i := range coords {
		coords[i] = rng.Float32()*2.2 - 1.1
	}
	wantV, err := m.DecodePoints(ctx, want, low, h, w, coords)
	if err != nil {
		return err
	}
	gotV, err := a.DecodePoints(ctx, want, low, h, w, coords)
	if err != nil {
		return err
	}
	if e := npytensor.MaxAbsDiff(gotV, wantV); !(e <= checkTol) {
		return fmt.Errorf("decoder differs from the CPU by %.3g", e)
	}
	return nil
}

// addNote appends a remark to m.Note.
func addNote(m *reconstruct.Model, s string) {
	if m.Note != "" {
		m.Note += "; "
	}
	m.Note += s
}
