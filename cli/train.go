package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/niiv/niiv/assets"
	"github.com/niiv/niiv/internal/sysmem"
	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/adapt"
	"github.com/niiv/niiv/volume"
)

func init() {
	register(&Command{
		Name:  "train",
		Short: "train a generalist model on a mixture of lateral planes from many sources",
		Args:  "SOURCE…",
		Summary: "Train a niiv model's whole network (encoder and decoder), starting from --model, on a mixture of\n" +
			"sources, self-supervised: each SOURCE is a file of 2-D images or a volume whose xy planes are used,\n" +
			"written FILE[:Z0-Z1][*WEIGHT] — planes Z0 to Z1 only (inclusive), WEIGHT its share of the crops\n" +
			"(default 1; crops are drawn per source, not per pixel). Every image is normalised by its own\n" +
			"percentiles; crops are turned, flipped, augmented (noise, blur, contrast, polarity) and their rows\n" +
			"average-pooled by a random factor per step. Each source holds some images (or, with fewer than 4,\n" +
			"the bottom rows) out: the lateral check on them at factors 4 and 8 picks the checkpoint kept (the\n" +
			"best mean gain across sources; those named in --guard must not lose more than --guard-db). Writes\n" +
			"a model folder usable with --model everywhere; Ctrl-C cancels and writes nothing.",
		MinArgs: 1, MaxArgs: -1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var ef engineFlags
			ef.register(fs)
			model := fs.String("model", defaultModel, "model to start from: a shipped name (general, lite, paper) or a model folder")
			out := fs.String("out", "", "output model `folder` (required)")
			name := fs.String("name", "", "the new model's name in its card (default: the folder's name)")
			seconds := fs.Float64("seconds", 600, "time budget in seconds (≤ 0: only --steps)")
			steps := fs.Int("steps", 0, "stop after this many steps (0: no limit)")
			seed := fs.Uint64("seed", 1, "random seed")
			lr := fs.Float64("lr", 2e-4, "Adam's learning rate at the start (cosine down to --min-lr)")
			minLR := fs.Float64("min-lr", 1e-5, "learning rate at the end of the budget")
			batch := fs.Int("batch", 8, "crops per step")
			crop := fs.Int("crop", 120, "side of the square crops (rounded down to a multiple of each step's factor)")
			factors := fs.String("factors", "", "anisotropy factors drawn per step: a range 4-12 or a list 4,8 (default: the model's)")
			guard := fs.String("guard", "", "comma-separated source names (file names) that must not lose more than --guard-db on average")
			guardDB := fs.Float64("guard-db", 0.05, "most the guarded sources may lose on their held-out crops (mean), dB")
			holdOut := fs.Int("hold-out", 2, "most images of a source held out for the lateral check")
			noAug := fs.Bool("no-augment", false, "no noise, blur, contrast or polarity augmentation")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := ef.check(); err != nil {
					return err
				}
				switch {
				case *out == "":
					return usageErrorf("--out: give the folder to write the model to")
				case math.IsNaN(*seconds) || math.IsInf(*seconds, 0) || *seconds > adapt.MaxSeconds:
					return usageErrorf("--seconds %v: must be a finite number up to %g", *seconds, float64(adapt.MaxSeconds))
				case *seconds <= 0 && *steps <= 0:
					return usageErrorf("give a positive --seconds or --steps")
				case *steps < 0 || *batch < 1 || *crop < 4 || *holdOut < 1:
					return usageErrorf("--steps, --batch, --crop and --hold-out must be positive")
				case !(*lr > 0) || math.IsInf(*lr, 0) || !(*minLR > 0) || *minLR > *lr:
					return usageErrorf("--lr %v, --min-lr %v: want positive numbers, --min-lr ≤ --lr", *lr, *minLR)
				case math.IsNaN(*guardDB) || *guardDB < 0:
					return usageErrorf("--guard-db %v: want a positive number", *guardDB)
				}
				fl, err := parseFactors(*factors)
				if err != nil {
					return usageErrorf("--factors %q: %v", *factors, err)
				}
				specs := make([]sourceSpec, len(args))
				for i, a := range args {
					if specs[i], err = parseSourceSpec(a); err != nil {
						return usageErrorf("source %q: %v", a, err)
					}
				}
				guarded := map[string]bool{}
				for _, g := range strings.Split(*guard, ",") {
					if g = strings.TrimSpace(g); g != "" {
						guarded[g] = true
					}
				}
				used := map[string]bool{}
				var sources []adapt.MixSource
				var data []string
				budget := trainMemory
				for _, sp := range specs {
					s, err := readSource(ctx, sp, &budget)
					if err != nil {
						return err
					}
					for _, n := range []string{s.Name, filepath.Base(sp.path)} {
						if guarded[n] {
							s.Guard, used[n] = true, true
						}
					}
					sources = append(sources, s)
					data = append(data, sp.describe(len(s.Images)))
				}
				var names []string
				for g := range guarded {
					if !used[g] {
						names = append(names, g)
					}
				}
				if len(names) > 0 {
					slices.Sort(names)
					return usageErrorf("--guard names %s, which no source is", strings.Join(names, ", "))
				}
				dev := ef.device
				if dev == "gl" {
					dev = "cpu"
				}
				p, err := adapt.OpenParent(*model, reconstruct.ModelOptions{Device: dev, Threads: ef.threads, Embedded: assets.Models})
				if err != nil {
					return err
				}
				defer p.Close()
				fmt.Fprintf(env.Stderr, "niiv: %s\n", p.Model.Summary())
				opt := adapt.MixOptions{
					Factors: fl, Crop: *crop, Batch: *batch, LR: *lr, MinLR: *minLR,
					Seconds: *seconds, Steps: *steps, HoldOut: *holdOut, GuardDB: *guardDB,
					NoAugment: *noAug, Seed: *seed, Threads: ef.threads,
				}
				if *seconds <= 0 {
					opt.Seconds = -1
				}
				if opt.GuardDB == 0 {
					opt.GuardDB = 1e-9 // "lose nothing"
				}
				bar := newProgress(env.Stderr, "train")
				opt.Progress = func(pr adapt.MixProgress) {
					bar.label = fmt.Sprintf("train step %d loss %.4f lr %.2g", pr.Step, pr.Loss, pr.LR)
					if pr.Step > 0 && !math.IsNaN(pr.Score) {
						bar.label += fmt.Sprintf(" lateral %+.3f dB", pr.Score)
					}
					if pr.Checked {
						g := ""
						if !math.IsNaN(pr.Guard) {
							g = fmt.Sprintf(", guarded sources %+.3f dB", pr.Guard)
						}
						k := ""
						if pr.Kept {
							k = " (kept)"
						}
						bar.note(fmt.Sprintf("train: step %d, %.0f s: lateral check %+.3f dB over the parent%s%s", pr.Step, pr.Elapsed.Seconds(), pr.Score, g, k))
					}
					if pr.Budget > 0 {
						bar.update(int(min(pr.Elapsed, pr.Budget)/(100*time.Millisecond)), int(pr.Budget/(100*time.Millisecond)))
					} else {
						bar.update(pr.Step, *steps)
					}
				}
				res, err := adapt.TrainMixture(ctx, p, sources, opt)
				bar.finish()
				if err != nil {
					return err
				}
				mname := *name
				if mname == "" {
					mname = filepath.Base(filepath.Clean(*out))
				}
				if err := adapt.SaveMixture(ctx, *out, p, res, adapt.MixInfo{Name: mname, Data: data}); err != nil {
					return err
				}
				o := res.Options
				fmt.Fprintf(env.Stdout, "trained %s from %s on %s: %s in %.0f s (%.2f steps/s; %s of up to %d² per step, factors %v, lr %g → %g, seed %d)\n",
					mname, p.Name(), plural(len(sources), "source"), plural(res.Steps, "step"), res.Seconds, float64(res.Steps)/res.Seconds, plural(o.Batch, "crop"), o.Crop, o.Factors, o.LR, o.MinLR, o.Seed)
				fmt.Fprintln(env.Stdout, mixTable(res))
				if res.KeptParent {
					fmt.Fprintf(env.Stdout, "no checkpoint beat %s on the held-out crops: the model keeps its weights\n", p.Name())
				} else {
					fmt.Fprintf(env.Stdout, "kept the checkpoint of step %d: mean lateral gain %+.3f dB over %s\n", res.BestStep, res.Score, p.Name())
				}
				fmt.Fprintf(env.Stdout, "wrote %s (use --model %s)\n", *out, *out)
				return nil
			}
		},
	})
}

// mixTable is the per-source lateral check of a mixture run.
func mixTable(res *adapt.MixResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lateral check (CF-PSNR r=24 of held-out crops, normalised intensities, dB):\n")
	fmt.Fprintf(&b, "%-44s %6s %4s", "source", "weight", "crops")
	for _, f := range res.Options.CheckFactors {
		fmt.Fprintf(&b, "  ×%-2d parent → model   gain", f)
	}
	b.WriteByte('\n')
	for _, s := range res.Sources {
		name := s.Name
		if s.Guard {
			name += " (guarded)"
		}
		fmt.Fprintf(&b, "%-44s %6.3g %4d", name, s.Weight, s.Crops)
		for i := range s.Factors {
			fmt.Fprintf(&b, "      %6.2f → %6.2f %+6.2f", s.Parent[i], s.Model[i], s.Model[i]-s.Parent[i])
		}
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

// sourceSpec is one SOURCE argument of niiv train.
type sourceSpec struct {
	path   string
	z0, z1 int // planes z0…z1 inclusive; z1 < 0: to the last
	weight float64
}

func (s sourceSpec) describe(n int) string {
	d := filepath.Base(s.path)
	if s.z0 > 0 || s.z1 >= 0 {
		d += fmt.Sprintf(" planes %d-%d", s.z0, s.z0+n-1)
	}
	return d + fmt.Sprintf(" (%s, xy)", plural(n, "image"))
}

// parseSourceSpec parses FILE[:Z0-Z1][*WEIGHT].
func parseSourceSpec(a string) (sourceSpec, error) {
	s := sourceSpec{path: a, z1: -1, weight: 1}
	if i := strings.LastIndex(s.path, "*"); i >= 0 {
		w, err := strconv.ParseFloat(s.path[i+1:], 64)
		if err != nil || !(w > 0) || math.IsInf(w, 0) {
			return s, fmt.Errorf("weight %q: want a positive number", s.path[i+1:])
		}
		s.weight, s.path = w, s.path[:i]
	}
	if i := strings.LastIndex(s.path, ":"); i >= 0 && strings.Contains(s.path[i+1:], "-") {
		r := s.path[i+1:]
		a, b, _ := strings.Cut(r, "-")
		z0, e0 := strconv.Atoi(a)
		z1, e1 := strconv.Atoi(b)
		if e0 != nil || e1 != nil || z0 < 0 || z1 < z0 {
			return s, fmt.Errorf("planes %q: want Z0-Z1 with 0 ≤ Z0 ≤ Z1", r)
		}
		s.z0, s.z1, s.path = z0, z1, s.path[:i]
	}
	if s.path == "" {
		return s, fmt.Errorf("no file")
	}
	return s, nil
}

// parseFactors parses "4-12" or "4,8" ("" → nil: the model's).
func parseFactors(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, e0 := strconv.Atoi(a)
		hi, e1 := strconv.Atoi(b)
		if e0 != nil || e1 != nil || lo < 2 || hi < lo || hi > 64 {
			return nil, fmt.Errorf("want a range LO-HI with 2 ≤ LO ≤ HI ≤ 64")
		}
		var out []int
		for f := lo; f <= hi; f++ {
			out = append(out, f)
		}
		return out, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		f, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || f < 2 || f > 64 {
			return nil, fmt.Errorf("%q: want factors from 2 to 64", p)
		}
		out = append(out, f)
	}
	return out, nil
}

// trainMemory bounds the memory niiv train's images take (each held
// twice as float32: raw and normalised).
var trainMemory = sysmem.MaxAlloc()

// readSource reads a source's xy planes as images, within *budget bytes
// (taking what they use from it).
func readSource(ctx context.Context, sp sourceSpec, budget *int64) (adapt.MixSource, error) {
	vol, err := openVolume(sp.path, nil)
	if err != nil {
		return adapt.MixSource{}, err
	}
	s := vol.Shape()
	z1 := sp.z1
	if z1 < 0 {
		z1 = s.Z - 1
	}
	if sp.z0 >= s.Z || z1 >= s.Z {
		return adapt.MixSource{}, fmt.Errorf("%s: planes %d-%d: it has %d (0-%d)", sp.path, sp.z0, z1, s.Z, s.Z-1)
	}
	need := int64(z1-sp.z0+1) * int64(s.Y) * int64(s.X) * 8
	if need > *budget {
		return adapt.MixSource{}, fmt.Errorf("%s: %d planes of %d×%d take %s in training (raw and normalised float32), more than the %s left of the memory niiv may use; choose fewer planes with %s:Z0-Z1",
			sp.path, z1-sp.z0+1, s.Y, s.X, volio.HumanBytes(need), volio.HumanBytes(*budget), sp.path)
	}
	*budget -= need
	src := adapt.MixSource{Name: filepath.Base(sp.path), Weight: sp.weight}
	if sp.z0 > 0 || sp.z1 >= 0 {
		src.Name += fmt.Sprintf(":%d-%d", sp.z0, z1)
	}
	for z := sp.z0; z <= z1; z++ {
		im := &volume.Image{W: s.X, H: s.Y, Pix: make([]float32, s.X*s.Y)}
		if _, err := vol.PlaneRect(ctx, volume.XY, z, 0, s.Y, 0, s.X, im.Pix); err != nil {
			return adapt.MixSource{}, fmt.Errorf("%s: xy plane %d: %w", sp.path, z, err)
		}
		src.Images = append(src.Images, im)
	}
	return src, nil
}
