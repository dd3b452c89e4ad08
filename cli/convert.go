package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

func init() {
	register(&Command{
		Name:    "convert",
		Short:   "convert a volume between formats (npy, TIFF, OME-Zarr, MRC), keeping the voxel size",
		Args:    "IN OUT",
		Summary: "Convert a volume between formats; OUT's extension picks the format (.npy, .tif, .tiff,\n.zarr for OME-Zarr 0.4 with a pyramid, or 0.5 with --ome-zarr 0.5, .mrc). The voxel size\nis kept (TIFF output carries ImageJ metadata that Fiji and tifffile read; TIFF stores\nfloat64 volumes as float32).\nA chunked or MRC input larger than memory streams into OME-Zarr chunk by chunk.\nChannels and time points (ImageJ hyperstacks, OME-TIFF, OME-Zarr, or a .npy/.npz with --axes)\nare all carried, or those --channels and --time choose, with their names and colours, into\nan ImageJ hyperstack (.tif), an OME-TIFF (.ome.tif) or an OME-Zarr image (.zarr).",
		MinArgs: 2, MaxArgs: 2,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			var sf selectFlags
			sf.register(fs)
			var zf zarrFlags
			zf.register(fs)
			return func(ctx context.Context, env *Env, args []string) error {
				if err := checkOutput(args[0], args[1]); err != nil {
					return err
				}
				if _, err := zf.options(); err != nil {
					return err
				}
				if isMulti(args[0], &vf, &sf) {
					// Every channel and time point (or the chosen ones),
					// with their names, colours and display ranges.
					h, err := openHyper(args[0], &vf, &sf)
					if err != nil {
						return err
					}
					if err := saveHyper(ctx, env, args[1], h, &zf); err != nil {
						return err
					}
					printWrittenHyper(env, args[1], h)
					return nil
				}
				vol, err := openVolume(args[0], &vf)
				if err != nil {
					return err
				}
				if err := save(ctx, env, args[1], vol, &zf); err != nil {
					return err
				}
				printWritten(env, args[1], vol)
				return nil
			}
		},
	})
	register(&Command{
		Name:    "degrade",
		Short:   "average-pool a volume along z (make test data from an isotropic volume)",
		Args:    "IN OUT",
		Summary: "Average-pool a volume along z by --factor (the niiv paper's degradation), making an\nisotropic volume anisotropic for evaluation. Output is float32; z voxel size × factor.",
		MinArgs: 2, MaxArgs: 2,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			factor := fs.Int("factor", 8, "pooling factor along z (from 2 to the number of slices)")
			return func(ctx context.Context, env *Env, args []string) error {
				if *factor < 2 {
					return usageErrorf("--factor %d: must be at least 2", *factor)
				}
				if err := checkOutput(args[0], args[1]); err != nil {
					return err
				}
				vol, err := openVolume(args[0], &vf)
				if err != nil {
					return err
				}
				z := vol.Shape().Z
				if z < 2 {
					return usageErrorf("--factor %d: %s has %s, nothing to pool along z", *factor, args[0], plural(z, "slice"))
				}
				if *factor > z {
					return usageErrorf("--factor %d: more than the %s of %s (must be between 2 and %d)", *factor, plural(z, "slice"), args[0], z)
				}
				if z%*factor != 0 {
					fmt.Fprintf(env.Stderr, "niiv degrade: %s\n", droppedSlices(z, *factor))
				}
				out, err := volume.PoolZ(vol, *factor)
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				if err := volio.Save(args[1], out); err != nil {
					return err
				}
				printWritten(env, args[1], out)
				return nil
			}
		},
	})
	register(&Command{
		Name:    "sample",
		Short:   "write the bundled EM-like sample volume",
		Args:    "OUT",
		Summary: "Write the bundled EM-like sample volume (8 nm isotropic, generated deterministically),\naverage-pooled along z by --factor (1 keeps it isotropic).",
		MinArgs: 1, MaxArgs: 1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			factor := fs.Int("factor", 8, "z pooling factor, from 1 to --size; 1 writes the isotropic ground truth")
			size := fs.Int("size", 128, "edge length in voxels (16–512)")
			seed := fs.Uint64("seed", 1, "random seed")
			dtype := fs.String("dtype", "", "element type of the output: uint8, uint16 or float32 (default: uint8 when --factor is 1,\nelse float32, the mean of the pooled voxels); integers are rounded and clipped")
			tile := fs.String("tile", "", "repeat the sample, mirrored, to shape `z,y,x` (streamed: e.g. 512,8192,8192 with .zarr\nmakes a 34 GB OME-Zarr in the memory of a few chunks)")
			channels := fs.Int("channels", 0, "write a confocal-like light-microscopy sample of this many channels (1–8; membrane,\nmitochondria, cytosol, …, each blurred and noisy differently), as an ImageJ hyperstack\n(.tif), an OME-TIFF (.ome.tif or --ome) or an OME-Zarr image (.zarr); --factor defaults to 3\n(0.3 µm z, 0.1 µm x/y)")
			times := fs.Int("times", 0, "time points of the confocal-like sample (default 5 with --channels; the structures drift)")
			ome := fs.Bool("ome", false, "write the confocal-like sample as OME-TIFF (OUT a .tif)")
			var zf zarrFlags
			zf.register(fs)
			return func(ctx context.Context, env *Env, args []string) error {
				if *channels != 0 || *times != 0 || *ome {
					f := *factor
					if !flagSet(fs, "factor") {
						f = 3
					}
					return confocalSample(ctx, env, args[0], *channels, *times, f, *size, *seed, *ome, *dtype != "" || *tile != "", &zf)
				}
				var tiled volume.Shape
				if *tile != "" {
					t, err := parseInts(*tile, 3)
					if err != nil {
						return usageErrorf("--tile %q: %v", *tile, err)
					}
					tiled = volume.Shape{Z: t[0], Y: t[1], X: t[2]}
				}
				if _, err := zf.options(); err != nil {
					return err
				}
				if *size < 16 || *size > 512 {
					return usageErrorf("--size %d: must be between 16 and 512", *size)
				}
				if *factor < 1 || *factor > *size {
					return usageErrorf("--factor %d: must be between 1 and --size %d", *factor, *size)
				}
				if err := checkOutput("", args[0]); err != nil {
					return err
				}
				if *size%*factor != 0 {
					fmt.Fprintf(env.Stderr, "niiv sample: %s\n", droppedSlices(*size, *factor))
				}
				opt := sample.Options{Size: *size, Seed: *seed}
				bar := newSampleProgress(env.Stderr, fmt.Sprintf("sample %d³", *size))
				opt.Progress = bar.update
				vol, err := sample.EMContext(ctx, opt)
				bar.finish()
				if err != nil {
					return err
				}
				if *factor > 1 {
					if vol, err = volume.PoolZ(vol, *factor); err != nil {
						return err
					}
				}
				if *dtype != "" {
					if vol, err = castVolume(vol, *dtype); err != nil {
						return err
					}
				}
				if tiled.Valid() {
					src, err := volume.Mirrored(vol, tiled)
					if err != nil {
						return err
					}
					if vol, err = volume.NewLazy(src); err != nil {
						return err
					}
				}
				if err := save(ctx, env, args[0], vol, &zf); err != nil {
					return err
				}
				printWritten(env, args[0], vol)
				return nil
			}
		},
	})
}

// newSampleProgress makes the progress bar of `niiv sample`.
var newSampleProgress = newProgress

// printWritten reports a volume written to path, with the data type the
// file holds (a format may store another type than the volume's).
func printWritten(env *Env, path string, v *volume.Volume) {
	dt := v.DType().String()
	if info, err := volio.Inspect(path); err == nil && info.DType != v.DType() {
		dt = fmt.Sprintf("%v (converted from %v)", info.DType, v.DType())
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %v %s, voxel %v\n", path, v.Shape(), dt, v.Voxel)
}

// droppedSlices says what pooling z slices by factor leaves out.
func droppedSlices(z, factor int) string {
	dropped := fmt.Sprintf("the last %d are dropped", z%factor)
	if z%factor == 1 {
		dropped = "the last one is dropped"
	}
	return fmt.Sprintf("%s are not a multiple of %d; %s", plural(z, "slice"), factor, dropped)
}

// castVolume converts v to dtype (uint8, uint16 or float32), rounding and
// clipping to the type's range.
func castVolume(v *volume.Volume, dtype string) (*volume.Volume, error) {
	s := v.Shape()
	n := s.Len()
	var data any
	switch dtype {
	case "uint8":
		d := make([]uint8, n)
		for i := range d {
			d[i] = uint8(math.Round(math.Max(0, math.Min(255, atFlat(v, i)))))
		}
		data = d
	case "uint16":
		d := make([]uint16, n)
		for i := range d {
			d[i] = uint16(math.Round(math.Max(0, math.Min(65535, atFlat(v, i)))))
		}
		data = d
	default:
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(atFlat(v, i))
		}
		data = d
	}
	out, err := volume.New(s, data, v.Voxel)
	if err != nil {
		return nil, err
	}
	out.Name = v.Name
	return out, nil
}

// atFlat returns voxel i (C order) of v.
func atFlat(v *volume.Volume, i int) float64 {
	s := v.Shape()
	return v.At(i/(s.Y*s.X), i/s.X%s.Y, i%s.X)
}

// confocalSample writes the confocal-like sample (sample.Confocal) of
// `niiv sample --channels N --times T`.
func confocalSample(ctx context.Context, env *Env, out string, channels, times, factor, size int, seed uint64, ome, other bool, zf *zarrFlags) error {
	if other {
		return usageErrorf("--dtype and --tile make the EM-like sample; the confocal-like one (--channels, --times) is uint16")
	}
	if channels == 0 {
		channels = 3
	}
	if times == 0 {
		times = 5
	}
	if channels < 1 || channels > volume.MaxShown {
		return usageErrorf("--channels %d: want 1 to %d", channels, volume.MaxShown)
	}
	if times < 1 || times > 100 {
		return usageErrorf("--times %d: want 1 to 100", times)
	}
	if size < 16 || size > 512 {
		return usageErrorf("--size %d: must be between 16 and 512", size)
	}
	if factor < 1 || factor > size {
		return usageErrorf("--factor %d: must be between 1 and --size %d", factor, size)
	}
	if err := checkOutput("", out); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(out))
	if ome && ext != ".tif" && ext != ".tiff" {
		return usageErrorf("--ome writes an OME-TIFF: OUT must end in .tif or .tiff")
	}
	if ext != ".tif" && ext != ".tiff" && !isZarr(out) && channels*times > 1 {
		return usageErrorf("%s: a sample of %d channels × %d time points is written as .tif (ImageJ hyperstack), .ome.tif (OME-TIFF) or .zarr (OME-Zarr)", out, channels, times)
	}
	if _, err := zf.options(); err != nil {
		return err
	}
	h, err := sample.Confocal(ctx, sample.ConfocalOptions{Options: sample.Options{Size: size, Seed: seed}, Channels: channels, Times: times, Factor: factor})
	if err != nil {
		return err
	}
	if ome {
		err = volio.WriteOMETIFF(out, h)
	} else {
		err = saveHyper(ctx, env, out, h, zf)
	}
	if err != nil {
		return err
	}
	printWrittenHyper(env, out, h)
	return nil
}
