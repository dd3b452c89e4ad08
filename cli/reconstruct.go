package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/blockwise"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
)

func init() {
	register(&Command{
		Name:  "reconstruct",
		Short: "write the isotropic reconstruction of an anisotropic volume",
		Args:  "IN OUT, or --finish|--status OUT.zarr",
		Summary: "Reconstruct an isotropic volume from an anisotropic one (coarse in z) and write it to OUT\n" +
			"(.npy, .tif/.tiff, .mrc or .zarr, with the new voxel size). The output has round(Z × zscale) slices;\n" +
			"an OME-Zarr output (.zarr) is computed and written block by block, never holding the volume,\n" +
			"so inputs of any size (read lazily) reconstruct in the memory of a few blocks.\n" +
			"--zscale defaults to --factor, which defaults to the file's anisotropy (z / xy voxel size).\n" +
			"niiv averages an xz and a yz pass. When the default model cannot be used (no ONNX Runtime),\n" +
			"linear interpolation is used, saying why; a --method given by name must load.\n" +
			"On a cluster, each task of a Slurm job array (or a Kubernetes Indexed Job, with --shards)\n" +
			"computes its share of OUT.zarr's blocks, recording each finished one: a rerun redoes only\n" +
			"unfinished blocks. Then --finish OUT.zarr checks every block and builds the pyramid;\n" +
			"--status OUT.zarr shows the progress, --plan the blocks, halo and memory.",
		MinArgs: 1, MaxArgs: 2,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			vf := voxelFlags{axesFlag: "in-axes"} // --axes names the passes
			vf.register(fs)
			var sf selectFlags
			sf.register(fs)
			var ef engineFlags
			ef.register(fs)
			var zf zarrFlags
			zf.register(fs)
			factor := fs.Float64("factor", 0, "anisotropy factor of IN, 1 to 64 (0: from its voxel size)")
			zscale := fs.Float64("zscale", 0, "output z slices per input slice, any positive value up to 64 (0 or unset: --factor)")
			method := fs.String("method", "niiv", "nearest, linear, cubic, niiv, niiv-NAME, a model folder or a bioimage.io package niiv exported (.zip)")
			axes := fs.String("axes", "xz,yz", "axial passes to average: xz, yz or xz,yz")
			dtype := fs.String("dtype", "float32", "output type: float32, input (the input's integer type), uint8, uint16 or int16 (rounded, clamped)")
			var cf clusterFlags
			cf.register(fs)
			return func(ctx context.Context, env *Env, args []string) error {
				shard, err := cf.check()
				if err != nil {
					return err
				}
				if cf.finish || cf.status {
					if len(args) != 1 || !isZarr(args[0]) || cf.finish && cf.status {
						return usageErrorf("--finish or --status takes one argument: the OME-Zarr output (OUT.zarr)")
					}
					if cf.status {
						return statusOutput(env, args[0])
					}
					return finishOutput(ctx, env, args[0])
				}
				if len(args) != 2 {
					return usageErrorf("reconstruct takes 2 arguments: IN OUT (or --finish|--status OUT.zarr)")
				}
				if (shard.N > 0 || cf.plan) && !isZarr(args[1]) {
					return usageErrorf("--shard, --plan and cluster runs write an OME-Zarr output: OUT must end in .zarr")
				}
				if err := ef.check(); err != nil {
					return err
				}
				if !(*factor == 0 || *factor >= 1 && *factor <= 64) {
					return usageErrorf("--factor %v: want the anisotropy of IN, 1 to 64 (0: from its voxel size)", *factor)
				}
				if !(*zscale >= 0 && *zscale <= 64) {
					return usageErrorf("--zscale %v: want a positive number of output slices per input slice, at most 64", *zscale)
				}
				var ax []volume.Axis
				for _, a := range strings.Split(*axes, ",") {
					x, err := volume.ParseAxis(strings.TrimSpace(a))
					if err != nil || x == volume.XY || slices.Contains(ax, x) {
						return usageErrorf("--axes %q: want xz, yz or xz,yz", *axes)
					}
					ax = append(ax, x)
				}
				if strings.Contains(*method, ",") {
					return usageErrorf("--method takes one method")
				}
				if err := checkOutput(args[0], args[1]); err != nil {
					return err
				}
				if err := vf.check(); err != nil {
					return err
				}
				if _, err := zf.options(); err != nil {
					return err
				}
				var vol *volume.Volume
				var picked *pickedChannel // the channel chosen from a file of several
				if isMulti(args[0], &vf, &sf) {
					h, err := openHyper(args[0], &vf, &sf)
					if err != nil {
						return err
					}
					if h.Times()*h.Channels() > 1 {
						if shard.N > 0 || cf.plan {
							return usageErrorf("%s has %s: cluster runs (--shard, --plan) reconstruct one channel and time point; choose them with --channels N --time T", args[0], hyperSummary(h))
						}
						return reconstructHyper(ctx, env, &ef, &zf, h, hyperRun{in: args[0], out: args[1], method: *method, named: flagSet(fs, "method"),
							factor: *factor, zscale: *zscale, axes: ax, dtype: *dtype, chunkGiven: flagSet(fs, "chunk")})
					}
					vol = h.At(0, 0)
					picked = &pickedChannel{h.Name, h.Channel(0)}
				}
				stream := isZarr(args[1])
				// What the header says is enough to refuse an output too
				// large for memory before the volume is read.
				if in, err := volio.InspectWith(args[0], volio.Options{VoxelGiven: vf.voxel != "", Warn: func(error) {}}); err == nil && args[0] != SampleName && !stream && vol == nil {
					vox, _ := vf.voxelFor(in.Voxel)
					if f, err := reconstructFactor(args[0], vox, *factor, *zscale); err == nil {
						if err := checkReconstructSize(args[0], in.Shape, f, *zscale); err != nil {
							return err
						}
					}
				}
				if vol == nil {
					if vol, err = openVolume(args[0], &vf); err != nil {
						return err
					}
				}
				dt, err := outputType(*dtype, vol.DType())
				if err != nil {
					return err
				}
				if stream {
					limitMemory(vol) // before the model loads: the latent cache's budget
				}
				if vol.Lazy() {
					// The model's normalisation from every voxel, not a
					// sample: the result is the same as from the volume
					// in memory.
					bar := newProgress(env.Stderr, "statistics of "+args[0])
					err := vol.ScanStats(ctx, bar.update)
					bar.finish()
					if err != nil {
						return err
					}
				}
				f, err := reconstructFactor(args[0], vol.Voxel, *factor, *zscale)
				if err != nil {
					return err
				}
				if a := vol.Voxel.Anisotropy(); *factor > 0 && vol.Voxel.Known && math.Abs(f/a-1) > 0.1 {
					fmt.Fprintf(env.Stderr, "niiv reconstruct: note: --factor %.3g, but the voxel size of %s (%v) says %.3g×; the output's voxel size follows --factor\n", f, args[0], vol.Voxel, a)
				}
				s := *zscale
				if s == 0 {
					s = f
				}
				if !stream {
					if err := checkReconstructSize(args[0], vol.Shape(), f, *zscale); err != nil {
						return err
					}
				}
				m, closeModels, err := reconstructMethod(&ef, *method, flagSet(fs, "method"), args[0], vol, env.Stderr)
				if err != nil {
					return err
				}
				defer closeModels()
				if n, ok := m.(*reconstruct.Niiv); ok {
					if lo, hi := n.Model().FactorRange(); lo > 0 && (f < float64(lo)/2 || f > float64(hi)*2) {
						fmt.Fprintf(env.Stderr, "niiv reconstruct: note: model %s was trained for %s, the volume is %.3g× anisotropic\n", n.Model().Name, factorWords(lo, hi), f)
					}
				}
				opt := reconstruct.VolumeOptions{ZScale: s, Axes: ax}
				if stream {
					run := streamRun{shard: shard, assign: blockwise.Assignment(cf.assign), plan: cf.plan, shards: cf.shards, axes: *axes}
					return reconstructStream(ctx, env, m, vol, opt, dt, args[1], &zf, flagSet(fs, "chunk"), run)
				}
				bar := newProgress(env.Stderr, "reconstruct "+m.Name())
				opt.Progress = bar.update
				t0 := time.Now()
				out, err := reconstruct.Isotropic(ctx, m, vol, opt)
				bar.finish()
				if err != nil {
					return err
				}
				el := time.Since(t0)
				if out, err = reconstruct.Convert(out, dt); err != nil {
					return err
				}
				if picked != nil {
					// Keep the chosen channel's name, colour and range.
					h, err := volume.NewHyperstack(picked.name, [][]*volume.Volume{{out}}, []volume.Channel{picked.ch})
					if err != nil {
						return err
					}
					err = saveHyper(ctx, env, args[1], h, &zf)
				} else {
					err = save(ctx, env, args[1], out, &zf)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "wrote %s: %v %v, voxel %v (%s, %.2fs)\n", args[1], out.Shape(), out.DType(), out.Voxel, m.Name(), el.Seconds())
				return nil
			}
		},
	})
}

// reconstructFactor returns the anisotropy to reconstruct the volume read
// from path, of voxel size v, with: the --factor flag, else v's anisotropy. A volume
// with no voxel size, or one that is already isotropic or finer in z than
// in x/y, is refused unless --factor or --zscale says what to do.
func reconstructFactor(path string, v volume.Voxel, factor, zscale float64) (float64, error) {
	if factor > 0 {
		return factor, nil
	}
	if !v.Known {
		if zscale > 0 {
			return zscale, nil
		}
		return 0, fmt.Errorf("%s has no voxel size, so its anisotropy is unknown: give --factor N (z voxel size / x-y voxel size) or --voxel z,y,x", path)
	}
	a := v.Anisotropy()
	switch {
	case a > 1.01:
		return a, nil
	case zscale > 0:
		return 1, nil
	case a < 0.99:
		return 0, fmt.Errorf("%s has voxels finer in z than in x/y (%v): niiv reconstructs volumes that are coarse in z; give --factor or --zscale to upsample z anyway", path, v)
	}
	return 0, fmt.Errorf("%s is already isotropic (voxel %v): nothing to reconstruct; give --factor or --zscale to upsample z anyway", path, v)
}

// checkReconstructSize refuses a reconstruction of a volume of shape s with
// factor f (and --zscale, 0: f) larger than the memory limit.
func checkReconstructSize(path string, s volume.Shape, f, zscale float64) error {
	if zscale == 0 {
		zscale = f
	}
	outZ := int64(math.Round(float64(s.Z) * zscale))
	if need := 4 * outZ * int64(s.Y) * int64(s.X); need > volio.MaxBytes {
		return fmt.Errorf("the reconstruction of %s would be %d×%d×%d float32 (%s), more than the memory limit (%s): reconstruct a crop, or lower --zscale",
			path, outZ, s.Y, s.X, volio.HumanBytes(need), volio.HumanBytes(volio.MaxBytes))
	}
	return nil
}

// reconstructMethod opens the method reconstruct uses for the volume vol
// read from path. A method asked for by name (named) must load. Otherwise
// the model adapted to this file is used when there is one, as in the
// viewer, else method (niiv), which falls back to linear, saying why.
func reconstructMethod(ef *engineFlags, method string, named bool, path string, vol *volume.Volume, stderr io.Writer) (reconstruct.Method, func(), error) {
	if named {
		ms, closeModels, err := ef.openMethods(method, stderr, "")
		if err != nil {
			return nil, nil, err
		}
		return ms[0], closeModels, nil
	}
	if dir, ok := engine.Remembered(engine.Options{}, path, vol); ok {
		if ms, closeModels, err := ef.openMethods("niiv:"+dir, stderr, ""); err == nil {
			fmt.Fprintf(stderr, "niiv reconstruct: using the model adapted to %s: %s (--method niiv for the shipped one)\n", path, dir)
			return ms[0], closeModels, nil
		}
		fmt.Fprintf(stderr, "niiv reconstruct: the model adapted to %s does not load, using the shipped one\n", path)
	}
	ms, closeModels, err := ef.openMethods(method, stderr, "linear")
	if err != nil {
		return nil, nil, err
	}
	return ms[0], closeModels, nil
}

// outputType parses --dtype for an input of type in.
func outputType(s string, in volume.DType) (volume.DType, error) {
	switch s {
	case "float32":
		return volume.Float32, nil
	case "uint8":
		return volume.Uint8, nil
	case "uint16":
		return volume.Uint16, nil
	case "int16":
		return volume.Int16, nil
	case "input":
		if in == volume.Float64 {
			return volume.Float32, nil
		}
		return in, nil
	}
	return 0, usageErrorf("--dtype %q: want float32, input, uint8, uint16 or int16", s)
}

// isZarr reports whether path names an OME-Zarr output.
func isZarr(path string) bool {
	return strings.EqualFold(filepath.Ext(strings.TrimSuffix(path, "/")), ".zarr")
}

// streamChunkBytes bounds a block of a streamed reconstruction: blocks span
// every output slice, so that each axial plane part is decoded once.
const streamChunkBytes = 32 << 20

// streamChunk returns the chunk shape of a streamed reconstruction of shape
// s and type dt: all slices in z, and square in y, x, a multiple of 16 from
// 32 to 256 as streamChunkBytes allows.
func streamChunk(s volume.Shape, dt volume.DType) volume.Shape {
	c := int(math.Sqrt(float64(streamChunkBytes) / float64(s.Z*dt.Size())))
	c = min(256, max(32, c/16*16))
	return volume.Shape{Z: s.Z, Y: min(c, s.Y), X: min(c, s.X)}
}

// reconstructStream computes the reconstruction block by block and writes
// it as an OME-Zarr image at path.
// streamRun says how a streamed reconstruction runs: one shard of a
// cluster job, or only its plan.
type streamRun struct {
	shard  blockwise.Shard // N = 0: one process, the image written whole
	assign blockwise.Assignment
	plan   bool
	shards int
	axes   string
}

func reconstructStream(ctx context.Context, env *Env, m reconstruct.Method, vol *volume.Volume, opt reconstruct.VolumeOptions, dt volume.DType, path string, zf *zarrFlags, chunkGiven bool, run streamRun) error {
	src, err := reconstruct.IsotropicSource(m, vol, opt, dt)
	if err != nil {
		return err
	}
	out, err := volume.NewLazy(src)
	if err != nil {
		return err
	}
	if !chunkGiven {
		c := streamChunk(src.Meta().Shape, dt)
		if sh, err := parseInts(zf.shard, 3); err == nil {
			// Blocks (chunks) that divide the shards; shards, like the
			// blocks, span every slice.
			c.Y, c.X = divisorAtMost(sh[1], c.Y), divisorAtMost(sh[2], c.X)
			if sh[0] != c.Z {
				fmt.Fprintf(env.Stderr, "niiv reconstruct: note: shards span all %d output slices, as the blocks do (--zarr-shard %d,%d,%d)\n", c.Z, c.Z, sh[1], sh[2])
			}
			zf.shard = fmt.Sprintf("%d,%d,%d", c.Z, sh[1], sh[2])
		}
		zf.chunk = fmt.Sprintf("%d,%d,%d", c.Z, c.Y, c.X)
	}
	if reconstruct.Parallel(m) {
		zf.threads = 1 // one block at a time, computed on every core
	}
	o, err := zf.options()
	if err != nil {
		return err
	}
	if run.plan {
		n := run.shards
		if run.shard.N > 0 {
			n = run.shard.N
		}
		printPlan(env, m, vol, src.Meta(), o.Chunk, n, run.assign, len(strings.Split(run.axes, ",")))
		return nil
	}
	if run.shard.N > 0 {
		sm := src.Meta()
		job := blockwise.Job{
			Input:  fmt.Sprintf("%v %v", vol.Shape(), vol.DType()),
			Method: m.Name(),
			Output: fmt.Sprintf("%v %v, chunks %s", sm.Shape, sm.DType, zf.chunk),
			ZScale: float64(sm.Shape.Z) / float64(vol.Shape().Z),
			Axes:   run.axes,
		}
		return runSharded(ctx, env, src, m, path, o, job, run.shard, run.assign)
	}
	t0 := time.Now()
	if err := save(ctx, env, path, out, zf); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %v %v, voxel %v, chunks %s (%s, %.2fs, block by block)\n", path, out.Shape(), out.DType(), out.Voxel, zf.chunk, m.Name(), time.Since(t0).Seconds())
	return nil
}

// divisorAtMost returns the largest divisor of n that is at most m.
func divisorAtMost(n, m int) int {
	for d := min(n, m); d > 1; d-- {
		if n%d == 0 {
			return d
		}
	}
	return 1
}

// pickedChannel is the channel reconstruct read from a file of several.
type pickedChannel struct {
	name string
	ch   volume.Channel
}
