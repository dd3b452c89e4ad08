package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/volume"
)

func init() {
	register(&Command{
		Name:    "info",
		Short:   "shape, dtype, voxel size, anisotropy and value range of volumes",
		Args:    "FILE…",
		Summary: "Print shape, data type, voxel size, anisotropy and value range of volumes.\nFILE is a .npy, a TIFF stack, a folder or glob of 2-D slices, or \"sample\".",
		MinArgs: 1, MaxArgs: -1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			header := fs.Bool("header", false, "read only the header (fast; no value range)")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := vf.check(); err != nil {
					return err // before any file is read
				}
				if len(args) == 1 {
					return info(env.Stdout, args[0], &vf, *header)
				}
				failed := 0
				for _, p := range args {
					if err := info(env.Stdout, p, &vf, *header); err != nil {
						fmt.Fprintf(env.Stderr, "niiv info: %v\n", err)
						failed++
					}
				}
				if failed > 0 {
					return fmt.Errorf("%d of %d files could not be read", failed, len(args))
				}
				return nil
			}
		},
	})
}

func info(w io.Writer, path string, vf *voxelFlags, headerOnly bool) error {
	var (
		shape  volume.Shape
		dt     volume.DType
		vox    volume.Voxel
		format = "generated"
		detail string
	)
	if path != SampleName && vf.axes != "" {
		return infoHyper(w, path, vf, headerOnly, volio.Info{Path: path})
	}
	if path != SampleName {
		opt := vf.openOptions()
		if !headerOnly && opt.Warn != nil {
			opt.Warn = func(error) {} // said once, when the volume is read below
		}
		in, err := volio.InspectWith(path, opt)
		if err != nil {
			return err
		}
		shape, dt, vox, format, detail = in.Shape, in.DType, in.Voxel, string(in.Format), in.Detail
		if in.Channels > 1 || in.Times > 1 {
			return infoHyper(w, path, vf, headerOnly, in)
		}
	}
	var vol *volume.Volume
	if !headerOnly || path == SampleName {
		v, err := openVolume(path, vf)
		if err != nil {
			return err
		}
		vol = v
		shape, dt, vox = v.Shape(), v.DType(), v.Voxel
	} else if vf.voxel != "" {
		v, err := ParseVoxel(vf.voxel, vf.unit)
		if err != nil {
			return usageErrorf("%v", err)
		}
		vox = v
	}
	fmt.Fprintf(w, "%s\n", path)
	fmt.Fprintf(w, "  format      %s", format)
	if detail != "" {
		fmt.Fprintf(w, " (%s)", detail)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  shape       %v\n", shape)
	fmt.Fprintf(w, "  dtype       %v (%s)\n", dt, volio.HumanBytes(int64(shape.Len())*int64(dt.Size())))
	fmt.Fprintf(w, "  voxel       %v\n", vox)
	if vox.Known {
		fmt.Fprintf(w, "  anisotropy  %.3g× (z / xy)\n", vox.Anisotropy())
		fmt.Fprintf(w, "  extent      %.4g × %.4g × %.4g %s (z,y,x)\n", vox.Z*float64(shape.Z), vox.Y*float64(shape.Y), vox.X*float64(shape.X), vox.Unit)
	} else {
		fmt.Fprintf(w, "  anisotropy  unknown: the file has no voxel size; give one with --voxel z,y,x --unit nm\n")
	}
	if vol != nil {
		st := vol.Stats()
		fmt.Fprintf(w, "  range       min %.6g, max %.6g, mean %.6g, std %.4g\n", st.Min, st.Max, st.Mean, st.Std)
		fmt.Fprintf(w, "  percentiles 0.35%%: %.6g, 50%%: %.6g, 99.65%%: %.6g\n", st.Percentile(0.35), st.Percentile(50), st.Percentile(99.65))
		if st.Estimated != "" {
			fmt.Fprintf(w, "  statistics  %s (the volume is read lazily)\n", st.Estimated)
		}
	}
	return nil
}

// infoHyper prints what info prints for a file of several channels or time
// points: the shape, type and voxel size of each, then one line per
// channel (name, colour, display range from the file, value range) and the
// time points. in is what the header said (Format empty when not read).
func infoHyper(w io.Writer, path string, vf *voxelFlags, headerOnly bool, in volio.Info) error {
	o := *vf
	if headerOnly {
		o.lazy = "always" // only the headers of region-readable files
	}
	h, err := openHyper(path, &o, nil)
	if err != nil {
		return err
	}
	shape, dt, vox := h.Shape(), h.DType(), h.Voxel()
	fmt.Fprintf(w, "%s\n", path)
	format := string(in.Format)
	if format == "" {
		if fm, err := volio.Detect(path); err == nil {
			format = string(fm)
		}
	}
	fmt.Fprintf(w, "  format      %s", format)
	if in.Detail != "" {
		fmt.Fprintf(w, " (%s)", in.Detail)
	} else if vf.axes != "" {
		fmt.Fprintf(w, " (axes %s)", vf.axes)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  shape       %v per channel and time point\n", shape)
	fmt.Fprintf(w, "  dtype       %v (%s in all)\n", dt, volio.HumanBytes(h.Bytes()))
	fmt.Fprintf(w, "  voxel       %v\n", vox)
	if vox.Known {
		fmt.Fprintf(w, "  anisotropy  %.3g× (z / xy)\n", vox.Anisotropy())
	} else {
		fmt.Fprintf(w, "  anisotropy  unknown: the file has no voxel size; give one with --voxel z,y,x --unit nm\n")
	}
	fmt.Fprintf(w, "  channels    %d", h.Channels())
	if h.Channels() > volume.MaxShown {
		fmt.Fprintf(w, " (a composite shows at most %d: choose with --channels)", volume.MaxShown)
	}
	fmt.Fprintln(w)
	for c := range h.Channels() {
		ch := h.Channel(c)
		col := ch.Color.String()
		if !ch.ColorKnown {
			col += " (default)"
		}
		fmt.Fprintf(w, "    %-3d %-14s %-18s", c, ch.Label(c), col)
		if ch.HasRange {
			fmt.Fprintf(w, " display %.6g–%.6g", ch.Min, ch.Max)
		}
		if !headerOnly {
			st := h.At(0, c).Stats()
			fmt.Fprintf(w, " range %.6g–%.6g, mean %.6g", st.Min, st.Max, st.Mean)
			if h.Times() > 1 {
				fmt.Fprint(w, " (time 0)")
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  time        %s", plural(h.Times(), "point"))
	if h.TimeStep > 0 {
		fmt.Fprintf(w, ", %.4g %s apart", h.TimeStep, h.TimeUnit)
	}
	fmt.Fprintln(w)
	return nil
}
