package glrender

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	npytensor "github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
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
// Under "auto" the GPU is kept only when it renders new slices at least
// as fast as the CPU (measured at load: three 256×256 slices each way).
// Where that is not possible — no context, a software renderer or a
// slower GPU under "auto", or results that differ from the CPU path — the
// model stays on the CPU (with no usable OpenGL under "auto": on ONNX
// Runtime's providers) and Model.Note says why. The second result is the OpenGL device in use (nil when the
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
	if dev == "auto" {
		// A weak GPU can be slower than a strong CPU, above all with a
		// large model: measure both, keep the faster.
		useGL, why, err := chooseAuto(m, a)
		if err != nil || !useGL {
			a.Close()
			if err != nil {
				why = fmt.Sprintf("GPU inference on %s unavailable (%v); using CPU", d.Info(), err)
			}
			addNote(m, why)
			return m, nil, nil
		}
		addNote(m, why)
		return m, d, nil
	}
	m.SetAccelerator(a)
	return m, d, nil
}

// chooseAuto renders new slices with m on the CPU and through a, and says
// whether a is faster and why; when it is, a is left installed on m,
// otherwise m is back on the CPU (a is not closed).
func chooseAuto(m *reconstruct.Model, a *Accelerator) (useGL bool, why string, err error) {
	vol, err := probeVolume()
	if err != nil {
		return false, "", err
	}
	m.SetAccelerator(a)
	gpu, err := probe(reconstruct.NewNiiv(m, nil), vol, 0)
	m.SetAccelerator(nil)
	if err != nil {
		return false, "", err
	}
	// The CPU's runs stop as soon as one shows it slower.
	cpu, err := probe(reconstruct.NewNiiv(m, nil), vol, gpu)
	if err != nil {
		return false, "", err
	}
	if gpu <= cpu {
		m.SetAccelerator(a)
		return true, fmt.Sprintf("a new %d×%d slice takes %s on the GPU, %s or more on the CPU", probeSize, probeSize, ms(gpu), ms(cpu)), nil
	}
	return false, fmt.Sprintf("OpenGL on %s is slower than the CPU here (a new %d×%d slice: %s against %s): using the CPU",
		a.dev.Info().Renderer, probeSize, probeSize, ms(gpu), ms(cpu)), nil
}

// probeSize is the edge of the views chooseAuto times.
const probeSize = 256

// probeVolume is the synthetic volume chooseAuto renders: 16×128×128
// voxels (a 128³ volume pooled ×8) of smooth structure with noise.
func probeVolume() (*volume.Volume, error) {
	const z, y, x = 16, 128, 128
	rng := rand.New(rand.NewPCG(11, 12))
	data := make([]uint8, z*y*x)
	for i := range data {
		k, j, l := i/(y*x), i/x%y, i%x
		v := 128 + 60*math.Sin(float64(j)/9+float64(k)/2)*math.Cos(float64(l)/7) + 20*rng.NormFloat64()
		data[i] = uint8(min(max(v, 0), 255))
	}
	return volume.New(volume.Shape{Z: z, Y: y, X: x}, data, volume.Voxel{Z: 8, Y: 1, X: 1, Unit: "px", Known: true})
}

// probe renders three new probeSize² xz slices of vol with n (each
// encoded and decoded) and returns the best time of the last two. With
// stopAbove > 0 it returns early, with a time above stopAbove, once a run
// after the first (or the first, by more than 3×) is slower than that.
func probe(n *reconstruct.Niiv, vol *volume.Volume, stopAbove time.Duration) (time.Duration, error) {
	best := time.Duration(-1)
	for i := range 3 {
		req := reconstruct.FullPlane(vol, volume.XZ, float64(32+32*i), probeSize, probeSize)
		t0 := time.Now()
		if _, err := n.Render(context.Background(), req); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		if i > 0 && (best < 0 || d < best) {
			best = d
		}
		if stopAbove > 0 && (i > 0 && d > stopAbove || d > 3*stopAbove) {
			return d, nil
		}
	}
	return best, nil
}

// ms formats d in milliseconds, to two significant digits or a whole number.
func ms(d time.Duration) string {
	v := float64(d) / 1e6
	if v >= 10 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2g ms", v)
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
