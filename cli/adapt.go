package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/niiv/niiv/assets"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/adapt"
)

func init() {
	register(&Command{
		Name:  "adapt",
		Short: "fine-tune a model's decoder on a volume's own xy planes (self-supervised)",
		Args:  "VOLUME",
		Summary: "Adapt a niiv model to an anisotropic VOLUME (coarse in z): fine-tune its decoder, self-supervised,\n" +
			"on the volume's own xy planes (random crops, flips, 90° turns, rows average-pooled by the\n" +
			"factor; never its xz/yz slices) for --seconds, and write the adapted model folder (encoder\n" +
			"unchanged, new decoder, a card recording the parent model and the run). Use it with --model DIR\n" +
			"in view, figure, reconstruct and bench, or as niiv:DIR in `niiv eval --methods`. Deterministic\n" +
			"for a --seed and a number of --steps; Ctrl-C cancels and writes nothing.",
		MinArgs: 1, MaxArgs: 1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			var ef engineFlags
			ef.register(fs)
			model := fs.String("model", defaultModel, "model to adapt: a shipped name (lite, paper) or a model folder")
			factor := fs.Int("factor", 0, "anisotropy factor of VOLUME (0: from its voxel size, else the model's, else 8)")
			seconds := fs.Float64("seconds", 60, "time budget in seconds, encoding included (≤ 0: only --steps)")
			steps := fs.Int("steps", 0, "stop after this many steps (0: no limit)")
			seed := fs.Uint64("seed", 1, "random seed")
			out := fs.String("out", "", "output model `folder` (default: VOLUME.adapted-MODEL beside the volume, else in the user cache)")
			lr := fs.Float64("lr", adapt.DefaultLR, "Adam learning rate")
			batch := fs.Int("batch", 8, "crops per step")
			points := fs.Int("points", 0, "query points per crop and step (-1: every pixel; 0: every pixel for lite-sized decoders, a random 2048 of 128² for paper)")
			crop := fs.Int("crop", 128, "side of the square xy crops")
			pool := fs.Int("pool", 128, "distinct crops drawn and encoded; later steps reuse them")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := ef.check(); err != nil {
					return err
				}
				if *seconds <= 0 && *steps <= 0 {
					return usageErrorf("give a positive --seconds or --steps")
				}
				if *factor != 0 && *factor < 2 {
					return usageErrorf("--factor %d: must be at least 2", *factor)
				}
				vol, err := openVolume(args[0], &vf)
				if err != nil {
					return err
				}
				if vol.Name == "" {
					vol.Name = filepath.Base(args[0])
				}
				ref := *model
				if ref == "niiv" {
					ref = defaultModel
				}
				dev := ef.device
				if dev == "gl" { // the trainer runs on the CPU; the encoder through ONNX Runtime
					dev = "cpu"
				}
				p, err := adapt.OpenParent(ref, reconstruct.ModelOptions{Device: dev, Threads: ef.threads, Embedded: assets.Models})
				if err != nil {
					return err
				}
				defer p.Close()
				fmt.Fprintf(env.Stderr, "niiv: %s\n", p.Model.Summary())
				f := *factor
				if f == 0 && vol.Voxel.Known && vol.Voxel.Anisotropy() > 1.01 {
					f = int(math.Round(vol.Voxel.Anisotropy()))
				}
				if f == 0 {
					f = p.Model.Factor()
				}
				if lo, hi := p.Model.FactorRange(); lo > 0 && f > 0 && (f < lo || f > hi) {
					fmt.Fprintf(env.Stderr, "niiv adapt: note: model %s was trained for %s, adapting at factor %d\n", p.Name(), factorWords(lo, hi), f)
				}
				dir := *out
				if dir == "" {
					dir = adapt.DefaultDir(args[0], p.Name())
				}
				opt := adapt.Options{
					Factor: f, Seconds: *seconds, Steps: *steps, Seed: *seed, LR: *lr,
					Batch: *batch, Points: *points, Crop: *crop, Pool: *pool, Threads: ef.threads,
				}
				if *seconds <= 0 {
					opt.Seconds = -1
				}
				bar := newProgress(env.Stderr, "adapt")
				opt.Progress = func(pr adapt.Progress) {
					bar.label = fmt.Sprintf("adapt step %d loss %.4f", pr.Step, pr.Loss)
					if pr.Budget > 0 {
						bar.update(int(min(pr.Elapsed, pr.Budget)/(100*time.Millisecond)), int(pr.Budget/(100*time.Millisecond)))
					} else {
						bar.update(pr.Step, *steps)
					}
				}
				res, err := adapt.Adapt(ctx, p, vol, opt)
				bar.finish()
				if err != nil {
					return err
				}
				if err := adapt.Save(ctx, dir, p, res); err != nil {
					return err
				}
				o := res.Options
				fmt.Fprintf(env.Stdout, "adapted %s to %s: %d steps in %.1fs (%.2f steps/s; factor %d, %d crops of %d² per step, %d points each, lr %g, seed %d)\n",
					p.Name(), vol.Name, res.Steps, res.Seconds, float64(res.Steps)/res.Seconds, o.Factor, o.Batch, o.Crop, o.Points, o.LR, o.Seed)
				fmt.Fprintf(env.Stdout, "L1 on %d fixed xy crops: parent %.5f, adapted %.5f\n", adapt.EvalCrops, res.ParentLoss, res.Loss)
				fmt.Fprintf(env.Stdout, "wrote %s (use --model %s, or niiv eval --methods niiv:%s)\n", dir, dir, dir)
				return nil
			}
		},
	})
}

// factorWords says which factors a model was trained for: "factor 8" or
// "factors 4–12".
func factorWords(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("factor %d", lo)
	}
	return fmt.Sprintf("factors %d–%d", lo, hi)
}
