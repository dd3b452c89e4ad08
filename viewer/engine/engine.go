// Package engine connects the viewer to package reconstruct: it adapts the
// reconstruct methods to viewer.Renderer and assembles the viewer's
// methods (the classical baselines, and niiv when a model can be loaded).
package engine

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/niiv/niiv/reconstruct"
	glrender "github.com/niiv/niiv/render/gl"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/volume"
)

// Adapt returns m as a viewer.Renderer.
func Adapt(m reconstruct.Method) viewer.Renderer { return adapter{m: m} }

type adapter struct {
	m     reconstruct.Method
	label string // shown instead of the method's name when set
	// cpuLabel names frames that an accelerated model made on the CPU
	// (empty: the model has no accelerator).
	cpuLabel string
}

func (a adapter) Name() string {
	if a.label != "" {
		return a.label
	}
	return a.m.Name()
}

// FactorRange returns the anisotropy factors the adapted method's model
// was trained for, (0, 0) for methods without a model.
func (a adapter) FactorRange() (lo, hi int) {
	if fr, ok := a.m.(interface{ FactorRange() (int, int) }); ok {
		return fr.FactorRange()
	}
	return 0, 0
}

func (a adapter) Render(ctx context.Context, s viewer.Slice) (*volume.Image, error) {
	return a.m.Render(ctx, reconstruct.Request{Vol: s.Vol, Axis: s.Axis, Index: s.Index,
		R0: s.R0, R1: s.R1, C0: s.C0, C1: s.C1, W: s.W, H: s.H})
}

// RenderNamed implements viewer.NamingRenderer: a frame that an
// accelerated model had to make (in part) on the CPU, because a plane was
// beyond the GPU's limits, is labelled "niiv-lite on cpu (beyond gl's
// limits)" rather than "… on gl".
func (a adapter) RenderNamed(ctx context.Context, s viewer.Slice) (*volume.Image, string, error) {
	if a.cpuLabel == "" {
		img, err := a.Render(ctx, s)
		return img, "", err
	}
	ctx, use := reconstruct.WithDeviceUse(ctx)
	img, err := a.Render(ctx, s)
	if use.CPUFallbacks() > 0 {
		return img, a.cpuLabel, err
	}
	return img, "", err
}

// Classical returns the viewer methods backed by the classical baselines
// only; the niiv modes then fall back to linear, and reason says why.
func Classical(reason error) viewer.Methods {
	return viewer.Methods{Nearest: Adapt(reconstruct.Nearest), Linear: Adapt(reconstruct.Linear), NiivError: reason}
}

// DefaultModel is the model the viewer loads when none is named: the
// generalist (lite's size, small enough for interactive CPU decoding,
// trained on many modalities).
const DefaultModel = "general"

// Options choose the niiv model.
type Options struct {
	// Model is a shipped model name ("general", "lite", "paper") or a model folder;
	// empty means DefaultModel.
	Model string
	// Device is where the model runs: "" or "cpu", an ONNX Runtime device
	// (see reconstruct.ModelOptions), or "gl" for the GPU through OpenGL
	// (see glrender.LoadModel), which then also colours the frames.
	Device string
	// Threads is the number of inference threads (0: one per CPU).
	Threads int
	// Embedded holds the models shipped with the program (may be nil).
	Embedded fs.FS
}

// Load returns the viewer methods: the classical baselines and, when the
// niiv model loads, niiv. A model that cannot be loaded is not an error:
// the methods then say in NiivError why niiv is unavailable, and the viewer
// shows linear instead. closeModel releases the caller's hold on the
// model (methods.Owner): the model closes when the last holder (the
// caller, pipelines, exports) has released it.
func Load(ctx context.Context, o Options) (methods viewer.Methods, closeModel func(), info string) {
	ref := o.Model
	if ref == "" {
		ref = DefaultModel
	}
	dev := o.Device
	if dev == "" {
		dev = "cpu"
	}
	m, gd, err := glrender.LoadModel(ref, reconstruct.ModelOptions{Device: dev, Threads: o.Threads, Embedded: o.Embedded})
	if err != nil {
		return Classical(err), func() {}, ""
	}
	ms := Classical(nil)
	if gd != nil {
		ms.Colour = gd
	}
	n := reconstruct.NewNiiv(m, nil)
	// The views' labels say where the frames are decoded: "niiv-lite on cpu".
	a := adapter{m: n, label: n.Name() + " on " + m.DecodesOn()}
	if m.Accelerator() != nil {
		a.cpuLabel = n.Name() + " on cpu (beyond " + m.DecodesOn() + "'s limits)"
	}
	ms.Niiv = a
	ms.Owner = viewer.NewOwner(func() { m.Close() })
	return ms, ms.Owner.Release, m.Summary()
}

// Isotropic reconstructs the whole volume with r (a renderer made by Adapt,
// e.g. Methods.Niiv) at the voxel anisotropy's number of z slices, calling
// progress after each decoded plane. It stops with ctx.Err() when
// cancelled.
func Isotropic(ctx context.Context, r viewer.Renderer, vol *volume.Volume, progress func(done, total int)) (*volume.Volume, error) {
	a, ok := r.(adapter)
	if !ok {
		return nil, fmt.Errorf("engine: %s is not a reconstruct method", r.Name())
	}
	out, err := reconstruct.Isotropic(ctx, a.m, vol, reconstruct.VolumeOptions{Progress: progress})
	if err != nil {
		return nil, fmt.Errorf("engine: reconstruct %s with %s: %w", vol.Name, r.Name(), err)
	}
	return out, nil
}
