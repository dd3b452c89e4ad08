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
		Short: "fine-tune a model (by default the whole network) on a volume's own xy planes (self-supervised)",
		Args:  "VOLUME",
		Summary: "Adapt a niiv model to an anisotropic VOLUME (coarse in z): train it, self-supervised, on the\n" +
			"volume's own xy planes (random crops, flips, 90° turns, rows average-pooled by the factor; never\n" +
			"its xz/yz slices) for --seconds, and write the adapted model folder (a card recording the parent\n" +
			"model and the run). --train says what is trained: the whole network (encoder and decoder, the\n" +
			"default), the decoder alone, or the whole network from scratch. Some xy planes are held out\n" +
			"(--hold-out): the lateral check on them (CF-PSNR r = 24 of their crops, as niiv eval --lateral)\n" +
			"stops training when it stops improving (--patience) and picks the checkpoint kept — never one\n" +
			"worse than the parent. Use the result with --model DIR in view, figure, reconstruct and bench, or\n" +
			"as niiv:DIR in `niiv eval --methods`. Deterministic for a --seed and a number of --steps (with\n" +
			"--hold-out -1); Ctrl-C cancels and writes nothing.",
		MinArgs: 1, MaxArgs: 1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			vf.registerPick(fs)
			var ef engineFlags
			ef.register(fs)
			model := fs.String("model", defaultModel, "model to adapt: a shipped name (general, lite, paper), a model folder or a bioimage.io package niiv exported")
			factor := fs.Int("factor", 0, "anisotropy factor of VOLUME (0: from its voxel size, else the model's, else 8)")
			seconds := fs.Float64("seconds", 60, "time budget in seconds, encoding included (≤ 0: only --steps; at most 1e9)")
			steps := fs.Int("steps", 0, "stop after this many steps (0: no limit)")
			seed := fs.Uint64("seed", 1, "random seed")
			out := fs.String("out", "", "output model `folder` (default: VOLUME.adapted-MODEL beside the volume, else in the user cache)")
			lr := fs.Float64("lr", 0, fmt.Sprintf("Adam learning rate (0: %g when fine-tuning, %g from scratch)", adapt.DefaultLR, adapt.ScratchLR))
			train := fs.String("train", "auto", "what is trained: whole (encoder and decoder), decoder (encoder frozen), scratch (whole network from random weights) or auto (= "+adapt.DefaultTrain+")")
			holdOut := fs.Int("hold-out", 0, "xy planes held out for the lateral check (0: a tenth, 1 to 8, of volumes with 4 planes or more; -1: none, no early stopping)")
			patience := fs.Int("patience", 0, fmt.Sprintf("lateral checks without improvement before stopping (0: %d; -1: never stop early)", adapt.DefaultPatience))
			batch := fs.Int("batch", 8, "crops per step (≥ 1)")
			points := fs.Int("points", 0, "query points per crop and step (-1: every pixel; 0: every pixel for lite-sized decoders, a random 2048 of 128² for paper)")
			crop := fs.Int("crop", 128, "side of the square xy crops, from twice the factor to the planes' smaller side (rounded down to a multiple of the factor; the default shrinks to fit small planes)")
			pool := fs.Int("pool", 128, "distinct crops drawn and encoded (≥ 1, raised to --batch); later steps reuse them")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := ef.check(); err != nil {
					return err
				}
				if err := checkAdaptFlags(*factor, *seconds, *steps, *lr, *batch, *points, *pool); err != nil {
					return err
				}
				switch *train {
				case "auto", adapt.TrainWhole, adapt.TrainDecoder, adapt.TrainScratch:
				default:
					return usageErrorf("--train %q: want whole, decoder, scratch or auto", *train)
				}
				if *holdOut < -1 {
					return usageErrorf("--hold-out %d: want -1 (none), 0 (a tenth of the planes) or a number of planes", *holdOut)
				}
				if *patience < -1 {
					return usageErrorf("--patience %d: want -1 (never stop early), 0 (%d) or a number of checks", *patience, adapt.DefaultPatience)
				}
				if *seconds <= 0 && *steps <= 0 {
					return usageErrorf("give a positive --seconds or --steps")
				}
				cropSet := false
				fs.Visit(func(f *flag.Flag) { cropSet = cropSet || f.Name == "crop" })
				if cropSet && *crop < 1 {
					return usageErrorf("--crop %d: must be a positive number of pixels", *crop)
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
				c := 0 // the default: 128, or less on smaller planes
				if cropSet {
					c = *crop
					s := vol.Shape()
					if lo, hi := 2*f, min(s.Y, s.X); c < lo || c > hi {
						return usageErrorf("--crop %d: must be between %d (twice the factor %d) and %d (the xy planes are %d×%d)", c, lo, f, hi, s.Y, s.X)
					}
				}
				dir := *out
				if dir == "" {
					dir = adapt.DefaultDir(args[0], p.Name())
				}
				opt := adapt.Options{
					Factor: f, Seconds: *seconds, Steps: *steps, Seed: *seed, LR: *lr,
					Batch: *batch, Points: *points, Crop: c, Pool: *pool, Threads: ef.threads,
					Train: *train, HoldOut: *holdOut, Patience: *patience,
				}
				if *train == "auto" {
					opt.Train = adapt.TrainAuto
				}
				if *seconds <= 0 {
					opt.Seconds = -1
				}
				bar := newProgress(env.Stderr, "adapt")
				opt.Progress = func(pr adapt.Progress) {
					bar.label = fmt.Sprintf("adapt step %d loss %.4f", pr.Step, pr.Loss)
					if !math.IsNaN(pr.Lateral) && !math.IsInf(pr.Lateral, 0) {
						bar.label += fmt.Sprintf(" lateral %.2f dB", pr.Lateral)
					}
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
				fmt.Fprintf(env.Stdout, "adapted %s to %s: %s in %.1fs (%.2f steps/s; factor %d, %s of %d² per step, %s each, lr %g, seed %d)\n",
					p.Name(), vol.Name, plural(res.Steps, "step"), res.Seconds, float64(res.Steps)/res.Seconds, o.Factor, plural(o.Batch, "crop"), o.Crop, plural(o.Points, "point"), o.LR, o.Seed)
				fmt.Fprintf(env.Stdout, "trained: %s\n", map[string]string{adapt.TrainWhole: "the whole network (encoder and decoder)", adapt.TrainDecoder: "the decoder (encoder frozen)", adapt.TrainScratch: "the whole network from random weights"}[res.Train])
				fmt.Fprintf(env.Stdout, "L1 on %d fixed xy crops: parent %.5f, adapted %.5f\n", adapt.EvalCrops, res.ParentLoss, res.Loss)
				if len(res.HeldOut) > 0 {
					fmt.Fprintf(env.Stdout, "lateral check on %s held out (%d crops, CF-PSNR r=24): parent %.2f dB, adapted %.2f dB (%+.2f; checkpoint of step %d%s)\n",
						plural(len(res.HeldOut), "xy plane"), res.ValCrops, res.LateralParent, res.Lateral, res.Lateral-res.LateralParent, res.BestStep,
						map[bool]string{true: ", stopped early", false: ""}[res.StoppedEarly])
					if res.KeptParent {
						fmt.Fprintf(env.Stdout, "no step beat the parent on the held-out planes: the adapted model keeps the parent's weights\n")
					}
				} else {
					fmt.Fprintf(env.Stdout, "no xy plane held out: no lateral check, the last step's weights are kept\n")
				}
				fmt.Fprintf(env.Stdout, "wrote %s (use --model %s, or niiv eval --methods niiv:%s)\n", dir, dir, dir)
				return nil
			}
		},
	})
}

// checkAdaptFlags rejects values of adapt's flags that mean nothing,
// before the model and the volume are loaded.
func checkAdaptFlags(factor int, seconds float64, steps int, lr float64, batch, points, pool int) error {
	switch {
	case factor != 0 && factor < 2:
		return usageErrorf("--factor %d: must be at least 2 (0: from the voxel size or the model)", factor)
	case math.IsNaN(seconds) || math.IsInf(seconds, 0) || seconds > adapt.MaxSeconds:
		return usageErrorf("--seconds %v: must be a finite number up to %g (≤ 0: only --steps)", seconds, float64(adapt.MaxSeconds))
	case steps < 0:
		return usageErrorf("--steps %d: must be at least 0 (0: no limit)", steps)
	case math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0:
		return usageErrorf("--lr %v: must be a positive finite number (0: by what is trained)", lr)
	case batch < 1:
		return usageErrorf("--batch %d: must be at least 1", batch)
	case points < -1:
		return usageErrorf("--points %d: must be -1 (every pixel), 0 (by the model's size) or a positive number", points)
	case pool < 1:
		return usageErrorf("--pool %d: must be at least 1", pool)
	}
	return nil
}

// factorWords says which factors a model was trained for: "factor 8" or
// "factors 4–12".
func factorWords(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("factor %d", lo)
	}
	return fmt.Sprintf("factors %d–%d", lo, hi)
}
