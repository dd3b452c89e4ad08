package omezarr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/niiv/niiv/volume"
)

// hyperSpec is what WriteHyperstack adds to a 3-D image: the leading t and
// c dimensions of every array, the axes and scales of the multiscale
// metadata, and the omero channel metadata.
type hyperSpec struct {
	lead, at []int
	axes     []map[string]string
	scale    []float64
	omero    map[string]any
}

// WriteHyperstack writes every channel and time point of h as one OME-Zarr
// image whose arrays have the dimensions (t, c, z, y, x) — t only when h
// has more than one time point — chunked one channel and time point at a
// time, with a "t" axis of type time (scaled by h.TimeStep when known),
// a "c" axis of type channel, and the omero metadata (label, colour as
// RRGGBB, display window) that napari and Fiji read. Each volume is read
// chunk by chunk, as Write reads its source; the image appears at path
// only when complete.
func WriteHyperstack(ctx context.Context, path string, h *volume.Hyperstack, o Options) error {
	first := h.At(0, 0)
	m := first.Meta()
	return writeImage(ctx, path, m, o, func(ctx context.Context, tmp string, m volume.Meta, o Options) error {
		spec := hyperFor(h)
		levels := pyramid(m, o.Levels)
		var all []levelSpec
		for range h.Times() * h.Channels() {
			all = append(all, levels...)
		}
		progress := counter(all, o.Chunk, o.Progress)
		for t := range h.Times() {
			for c := range h.Channels() {
				oc := o
				s := *spec
				s.at = []int{c}
				if len(s.lead) == 2 {
					s.at = []int{t, c}
				}
				oc.hyper = &s
				a := oc.array(filepath.Join(tmp, "0"), levels[0].shape, m.DType)
				if err := os.MkdirAll(a.dir, 0o755); err != nil {
					return err
				}
				v := h.At(t, c)
				if err := a.writeChunks(ctx, v.Read, oc.Threads, progress); err != nil {
					return fmt.Errorf("time %d, channel %d, level 0: %w", t, c, err)
				}
				if err := a.writeMeta(); err != nil {
					return err
				}
				if err := writeLevels(ctx, tmp, a, levels, oc, progress); err != nil {
					return fmt.Errorf("time %d, channel %d: %w", t, c, err)
				}
			}
		}
		o.hyper = spec
		return writeGroup(tmp, m, o, levels, nil)
	})
}

// hyperFor returns the leading dimensions, axes, scales and omero metadata
// of h.
func hyperFor(h *volume.Hyperstack) *hyperSpec {
	s := &hyperSpec{}
	if h.Times() > 1 {
		ax := map[string]string{"name": "t", "type": "time"}
		step := 1.0
		if u := timeUnit(h.TimeUnit); u != "" && h.TimeStep > 0 {
			ax["unit"], step = u, h.TimeStep
		}
		s.lead = append(s.lead, h.Times())
		s.axes = append(s.axes, ax)
		s.scale = append(s.scale, step)
	}
	s.lead = append(s.lead, h.Channels())
	s.axes = append(s.axes, map[string]string{"name": "c", "type": "channel"})
	s.scale = append(s.scale, 1)
	chs := make([]map[string]any, h.Channels())
	for c := range chs {
		ch := h.Channel(c)
		lo, hi := ch.Min, ch.Max
		if !ch.HasRange {
			st := h.At(0, c).Stats()
			lo, hi = st.Min, st.Max
		}
		chs[c] = map[string]any{
			"label":  ch.Label(c),
			"color":  ch.Color.Hex(),
			"active": c < volume.MaxShown,
			"window": map[string]float64{"start": lo, "end": hi, "min": lo, "max": hi},
		}
	}
	s.omero = map[string]any{"channels": chs, "rdefs": map[string]any{"model": "color"}}
	return s
}

// timeUnit returns the OME-NGFF (UDUNITS-2) name of a time unit, "" when
// unknown.
func timeUnit(u string) string {
	switch u {
	case "s", "sec", "second", "seconds":
		return "second"
	case "ms", "millisecond":
		return "millisecond"
	case "min", "minute", "minutes":
		return "minute"
	case "h", "hour", "hours":
		return "hour"
	}
	return ""
}
