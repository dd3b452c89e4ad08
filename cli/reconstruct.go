package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

func init() {
	register(&Command{
		Name:  "reconstruct",
		Short: "write the isotropic reconstruction of an anisotropic volume",
		Args:  "IN OUT",
		Summary: "Reconstruct an isotropic volume from an anisotropic one (coarse in z) and write it to OUT\n" +
			"(.npy, or .tif/.tiff with the new voxel size). The output has round(Z × zscale) slices;\n" +
			"--zscale defaults to --factor, which defaults to the file's anisotropy (z / xy voxel size).\n" +
			"niiv averages an xz and a yz pass. Without a usable model, linear interpolation is used.",
		MinArgs: 2, MaxArgs: 2,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			var ef engineFlags
			ef.register(fs)
			factor := fs.Float64("factor", 0, "anisotropy factor of IN (0: from its voxel size, else 8)")
			zscale := fs.Float64("zscale", 0, "output z slices per input slice, any positive value (default: --factor)")
			method := fs.String("method", "niiv", "nearest, linear, cubic, niiv, niiv-NAME or a model folder")
			axes := fs.String("axes", "xz,yz", "axial passes to average: xz, yz or xz,yz")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := ef.check(); err != nil {
					return err
				}
				if *factor < 0 || *zscale < 0 || *zscale > 64 {
					return usageErrorf("--factor and --zscale must be positive (--zscale at most 64)")
				}
				var ax []volume.Axis
				for _, a := range strings.Split(*axes, ",") {
					x, err := volume.ParseAxis(strings.TrimSpace(a))
					if err != nil || x == volume.XY {
						return usageErrorf("--axes %q: want xz, yz or xz,yz", *axes)
					}
					ax = append(ax, x)
				}
				if strings.Contains(*method, ",") {
					return usageErrorf("--method takes one method")
				}
				vol, err := openVolume(args[0], &vf)
				if err != nil {
					return err
				}
				f := *factor
				if f == 0 {
					f = 8
					if vol.Voxel.Known && vol.Voxel.Anisotropy() > 1.01 {
						f = vol.Voxel.Anisotropy()
					}
				}
				s := *zscale
				if s == 0 {
					s = f
				}
				ms, closeModels, err := ef.openMethods(*method, env.Stderr, "linear")
				if err != nil {
					return err
				}
				defer closeModels()
				m := ms[0]
				if n, ok := m.(*reconstruct.Niiv); ok {
					if lo, hi := n.Model().FactorRange(); lo > 0 && (f < float64(lo)/2 || f > float64(hi)*2) {
						fmt.Fprintf(env.Stderr, "niiv reconstruct: note: model %s was trained for %s, the volume is %.3g× anisotropic\n", n.Model().Name, factorWords(lo, hi), f)
					}
				}
				opt := reconstruct.VolumeOptions{ZScale: s, Axes: ax}
				bar := newProgress(env.Stderr, "reconstruct "+m.Name())
				opt.Progress = bar.update
				t0 := time.Now()
				out, err := reconstruct.Isotropic(ctx, m, vol, opt)
				bar.finish()
				if err != nil {
					return err
				}
				el := time.Since(t0)
				if err := volio.Save(args[1], out); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "wrote %s: %v %v, voxel %v (%s, %.2fs)\n", args[1], out.Shape(), out.DType(), out.Voxel, m.Name(), el.Seconds())
				return nil
			}
		},
	})
}
