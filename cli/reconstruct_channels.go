package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// hyperRun is what reconstructHyper needs of the reconstruct command's
// flags.
type hyperRun struct {
	in, out    string
	method     string // --method
	named      bool   // --method given
	factor     float64
	zscale     float64
	axes       []volume.Axis
	dtype      string
	chunkGiven bool
}

// reconstructHyper reconstructs every channel and time point of h on its
// own and writes them, with h's channel metadata, to r.out (an ImageJ
// hyperstack TIFF, an OME-TIFF or an OME-Zarr image). Each volume is a
// separate *volume.Volume, so the niiv method normalises each channel and
// time point with its own percentiles and keys its latent cache on each
// (the cache key holds the volume): channels never share an encoding. An
// OME-Zarr output is computed block by block, as for one volume.
func reconstructHyper(ctx context.Context, env *Env, ef *engineFlags, zf *zarrFlags, h *volume.Hyperstack, r hyperRun) error {
	first := h.At(0, 0)
	f, err := reconstructFactor(r.in, first.Voxel, r.factor, r.zscale)
	if err != nil {
		return err
	}
	s := r.zscale
	if s == 0 {
		s = f
	}
	stream := isZarr(r.out)
	if !stream {
		all := h.Shape()
		all.Z *= h.Times() * h.Channels()
		if err := checkReconstructSize(fmt.Sprintf("%s (%s)", r.in, hyperSummary(h)), all, f, r.zscale); err != nil {
			return err
		}
	}
	dt, err := outputType(r.dtype, h.DType())
	if err != nil {
		return err
	}
	fallback := "linear"
	if r.named {
		fallback = ""
	}
	// The model adapted to one channel (niiv adapt --channel) is not
	// chosen for all: a named method or the shipped model serves every
	// channel.
	ms, closeModels, err := ef.openMethods(r.method, env.Stderr, fallback)
	if err != nil {
		return err
	}
	defer closeModels()
	m := ms[0]
	opt := reconstruct.VolumeOptions{ZScale: s, Axes: r.axes}
	outs := make([][]*volume.Volume, h.Times())
	chs := make([]volume.Channel, h.Channels())
	for c := range chs {
		chs[c] = h.Channel(c)
	}
	t0 := time.Now()
	for t := range h.Times() {
		outs[t] = make([]*volume.Volume, h.Channels())
		for c := range h.Channels() {
			vol := h.At(t, c)
			what := fmt.Sprintf("%s [%s, t %d]", m.Name(), chs[c].Label(c), t)
			if vol.Lazy() {
				bar := newProgress(env.Stderr, "statistics of "+vol.Name)
				err := vol.ScanStats(ctx, bar.update)
				bar.finish()
				if err != nil {
					return err
				}
			}
			var out *volume.Volume
			if stream {
				src, err := reconstruct.IsotropicSource(m, vol, opt, dt)
				if err != nil {
					return err
				}
				if out, err = volume.NewLazy(src); err != nil {
					return err
				}
			} else {
				bar := newProgress(env.Stderr, "reconstruct "+what)
				o := opt
				o.Progress = bar.update
				res, err := reconstruct.Isotropic(ctx, m, vol, o)
				bar.finish()
				if err != nil {
					return err
				}
				if out, err = reconstruct.Convert(res, dt); err != nil {
					return err
				}
			}
			out.Name = vol.Name
			outs[t][c] = out
		}
	}
	res, err := volume.NewHyperstack(h.Name, outs, chs)
	if err != nil {
		return err
	}
	res.TimeStep, res.TimeUnit = h.TimeStep, h.TimeUnit
	if stream {
		if !r.chunkGiven {
			c := streamChunk(res.Shape(), dt)
			zf.chunk = fmt.Sprintf("%d,%d,%d", c.Z, c.Y, c.X)
		}
		if reconstruct.Parallel(m) {
			zf.threads = 1
		}
	}
	if err := saveHyper(ctx, env, r.out, res, zf); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %s of %v %v, voxel %v (%s, %.2fs)\n", r.out, hyperSummary(res), res.Shape(), res.DType(), res.Voxel(), m.Name(), time.Since(t0).Seconds())
	return nil
}

// saveHyper writes every channel and time point of h to path (see
// volio.SaveHyperstack), an OME-Zarr output with the zarr flags and a
// progress bar.
func saveHyper(ctx context.Context, env *Env, path string, h *volume.Hyperstack, zf *zarrFlags) error {
	o, err := zf.options()
	if err != nil {
		return err
	}
	if isZarr(path) {
		bar := newProgress(env.Stderr, "write "+path)
		o.Progress = bar.update // calls never overlap
		defer bar.finish()
	}
	return volio.SaveHyperstack(ctx, strings.TrimSuffix(path, "/"), h, o)
}

// printWrittenHyper reports a hyperstack written to path.
func printWrittenHyper(env *Env, path string, h *volume.Hyperstack) {
	names := make([]string, h.Channels())
	for c := range names {
		names[c] = fmt.Sprintf("%s %s", h.Channel(c).Label(c), h.Channel(c).Color)
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %s (%s) of %v %v, voxel %v\n", path, hyperSummary(h), strings.Join(names, ", "), h.Shape(), h.DType(), h.Voxel())
}
