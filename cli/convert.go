package cli

import (
	"context"
	"flag"
	"fmt"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

func init() {
	register(&Command{
		Name:    "convert",
		Short:   "convert a volume between .npy and TIFF, keeping the voxel size",
		Args:    "IN OUT",
		Summary: "Convert a volume between formats; OUT's extension picks the format (.npy, .tif, .tiff).\nThe voxel size is kept (TIFF output carries ImageJ metadata that Fiji and tifffile read).",
		MinArgs: 2, MaxArgs: 2,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			return func(ctx context.Context, env *Env, args []string) error {
				vol, err := openVolume(args[0], &vf)
				if err != nil {
					return err
				}
				if err := volio.Save(args[1], vol); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "wrote %s: %v %v, voxel %v\n", args[1], vol.Shape(), vol.DType(), vol.Voxel)
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
			factor := fs.Int("factor", 8, "pooling factor along z (≥ 2)")
			return func(ctx context.Context, env *Env, args []string) error {
				if *factor < 2 {
					return usageErrorf("--factor %d: must be at least 2", *factor)
				}
				vol, err := openVolume(args[0], &vf)
				if err != nil {
					return err
				}
				if vol.Shape().Z%*factor != 0 {
					fmt.Fprintf(env.Stderr, "niiv degrade: %d slices are not a multiple of %d; the last %d are dropped\n", vol.Shape().Z, *factor, vol.Shape().Z%*factor)
				}
				out, err := volume.PoolZ(vol, *factor)
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				if err := volio.Save(args[1], out); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "wrote %s: %v %v, voxel %v\n", args[1], out.Shape(), out.DType(), out.Voxel)
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
			factor := fs.Int("factor", 8, "z pooling factor; 1 writes the isotropic ground truth")
			size := fs.Int("size", 128, "edge length in voxels (16–512)")
			seed := fs.Uint64("seed", 1, "random seed")
			return func(ctx context.Context, env *Env, args []string) error {
				if *size < 16 || *size > 512 {
					return usageErrorf("--size %d: must be between 16 and 512", *size)
				}
				if *factor < 1 || *factor > *size {
					return usageErrorf("--factor %d: must be between 1 and --size", *factor)
				}
				opt := sample.Options{Size: *size, Seed: *seed}
				vol := sample.EM(opt)
				if *factor > 1 {
					var err error
					if vol, err = volume.PoolZ(vol, *factor); err != nil {
						return err
					}
				}
				if err := volio.Save(args[0], vol); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "wrote %s: %v %v, voxel %v\n", args[0], vol.Shape(), vol.DType(), vol.Voxel)
				return nil
			}
		},
	})
}
