// Package engine connects the viewer to package reconstruct: it adapts the
// reconstruct methods to viewer.Renderer and assembles the viewer's
// methods (the classical baselines, and niiv when a model is available).
package engine

import (
	"context"
	"fmt"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/volume"
)

// Adapt returns m as a viewer.Renderer.
func Adapt(m reconstruct.Method) viewer.Renderer { return adapter{m} }

type adapter struct{ m reconstruct.Method }

func (a adapter) Name() string { return a.m.Name() }

func (a adapter) Render(ctx context.Context, s viewer.Slice) (*volume.Image, error) {
	return a.m.Render(ctx, reconstruct.Request{Vol: s.Vol, Axis: s.Axis, Index: s.Index,
		R0: s.R0, R1: s.R1, C0: s.C0, C1: s.C1, W: s.W, H: s.H})
}

// Classical returns the viewer methods backed by the classical baselines
// only; niiv modes fall back to linear and say why (reason).
func Classical(reason error) viewer.Methods {
	return viewer.Methods{Nearest: Adapt(reconstruct.Nearest), Linear: Adapt(reconstruct.Linear), NiivError: reason}
}

// Options choose the niiv model.
type Options struct {
	// Model is a shipped model name ("lite", "paper") or a model folder;
	// empty picks the default.
	Model string
}

// Load returns the viewer methods: the classical baselines and, when a
// niiv model can be loaded, niiv. A missing model is not an error: the
// methods then explain, in NiivError, why niiv is unavailable. close
// releases the model.
func Load(ctx context.Context, o Options) (methods viewer.Methods, close func(), err error) {
	m := Classical(fmt.Errorf("no niiv model in this build yet"))
	return m, func() {}, nil
}
