package cli

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// csvHeader is the exact header of `niiv eval --csv`.
const csvHeader = "method,psnr,ssim,cf_r10,cf_r24,cf_r44,cf_r90"

func init() {
	register(&Command{
		Name:  "eval",
		Short: "compare methods with the paper's protocol (CF-PSNR, PSNR, SSIM)",
		Args:  "VOLUME…",
		Summary: "Evaluate reconstruction methods with the niiv paper's protocol: average-pool each isotropic\n" +
			"VOLUME along z by --factor, reconstruct every xz slice (and yz with --yz) at the original\n" +
			"resolution, and compare with the original slices. Prints PSNR, SSIM and clipped-Fourier PSNR\n" +
			"at r = 10, 24, 44, 90 (dB), averaged over slices, then over volumes. Intensities are scaled to\n" +
			"[0, 1] by 0–255 for 8-bit volumes, by the volume's min–max otherwise. VOLUME \"sample\" is the\n" +
			"bundled isotropic sample.\n\n" +
			"--lateral estimates quality on an anisotropic VOLUME without ground truth, from the volume\n" +
			"itself: crops (up to 128×128) of its xy planes are average-pooled along y by the factor (the\n" +
			"volume's own anisotropy unless --factor is given), reconstructed, and compared with the\n" +
			"originals. It measures how well a method restores in-plane texture pooled the way z was,\n" +
			"not the z resolution itself: use it to rank methods on your data.",
		MinArgs: 1, MaxArgs: -1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			vf.registerPick(fs)
			var ef engineFlags
			ef.register(fs)
			factor := fs.Int("factor", 8, "z pooling factor (≥ 2)")
			methods := fs.String("methods", "nearest,linear,niiv-"+defaultModel, "comma-separated methods: nearest, linear, cubic, niiv-NAME (an embedded model), a model folder or a bioimage.io package niiv exported (.zip)")
			yz := fs.Bool("yz", false, "also compare yz slices")
			lateral := fs.Bool("lateral", false, "estimate quality on an anisotropic volume from its own xy planes (no ground truth needed)")
			crops := fs.Int("crops", 64, "with --lateral: at most this many 128×128 crops of xy planes")
			csvPath := fs.String("csv", "", "write the table as CSV to `FILE`")
			plotPath := fs.String("plot", "", "write the CF-PSNR sweep over r = 2…90 as a PNG to `FILE`")
			return func(ctx context.Context, env *Env, args []string) error {
				if *factor < 2 {
					return usageErrorf("--factor %d: must be at least 2", *factor)
				}
				if *lateral && *yz {
					return usageErrorf("--lateral compares xy planes: --yz does not apply")
				}
				if *crops < 1 || *crops > 100000 {
					return usageErrorf("--crops %d: want 1 to 100000", *crops)
				}
				if err := ef.check(); err != nil {
					return err
				}
				if *plotPath != "" && !strings.EqualFold(filepath.Ext(*plotPath), ".png") {
					return usageErrorf("--plot %q: want a .png file", *plotPath)
				}
				if *csvPath != "" && *plotPath != "" && filepath.Clean(*csvPath) == filepath.Clean(*plotPath) {
					return usageErrorf("--csv and --plot name the same file %q", *csvPath)
				}
				// Outputs are checked before the work, not after it.
				for _, out := range []string{*csvPath, *plotPath} {
					if out == "" {
						continue
					}
					if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
						return usageErrorf("%s: folder %s does not exist", out, filepath.Dir(out))
					}
					for _, in := range args {
						if err := checkNotInput(in, out); err != nil {
							return err
						}
					}
				}
				ms, closeModels, err := ef.openMethods(*methods, env.Stderr, "")
				if err != nil {
					return err
				}
				defer closeModels()
				radii := reconstruct.Radii
				if *plotPath != "" {
					radii = nil
					for r := 2; r <= 90; r++ {
						radii = append(radii, float64(r))
					}
				}
				axes := []volume.Axis{volume.XZ}
				if *yz {
					axes = append(axes, volume.YZ)
				}
				var all [][]reconstruct.Scores
				for _, path := range args {
					var vol *volume.Volume
					if path == SampleName {
						vol = sample.EM(sample.Options{})
						vol.Name = SampleName
					} else if vol, err = openVolume(path, &vf); err != nil {
						return err
					}
					if vol.Name == "" {
						vol.Name = filepath.Base(path)
					}
					if *lateral {
						f, err := lateralFactor(path, vol, *factor, flagSet(fs, "factor"))
						if err != nil {
							return err
						}
						bar := newProgress(env.Stderr, "eval --lateral "+filepath.Base(path))
						sc, c, err := reconstruct.Lateral(ctx, vol, ms, reconstruct.LateralOptions{Factor: f, MaxCrops: *crops, Progress: bar.update})
						bar.finish()
						if err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "%s: lateral check, %d crops of %d×%d from its xy planes pooled along y by %d", filepath.Base(path), c.N, c.H, c.W, f)
						if c.RadiusScale != 1 {
							fmt.Fprintf(env.Stdout, " (radii scaled by %.3f to the crop size)", c.RadiusScale)
						}
						fmt.Fprintln(env.Stdout)
						*factor = f
						all = append(all, sc)
						continue
					}
					if err := evalVolumeCheck(env.Stderr, path, vol, *factor); err != nil {
						return err
					}
					bar := newProgress(env.Stderr, "eval "+filepath.Base(path))
					sc, err := reconstruct.Evaluate(ctx, vol, ms, reconstruct.EvalOptions{Factor: *factor, Axes: axes, Radii: radii, Progress: bar.update})
					bar.finish()
					if err != nil {
						return err
					}
					all = append(all, sc)
				}
				mean := meanScores(all)
				writeTable(env.Stdout, mean, radii, len(args), *factor)
				if *lateral {
					fmt.Fprintln(env.Stdout, "lateral check: in-plane texture restored from y pooling, not the z resolution itself (it ranks methods on this data)")
				}
				if len(mean) > 0 && math.IsNaN(mean[0].SSIM) {
					fmt.Fprintln(env.Stderr, "niiv eval: SSIM is n/a: it needs slices of at least 11×11 pixels (its Gaussian window)")
				}
				if *csvPath != "" {
					if err := writeCSV(*csvPath, mean, radii); err != nil {
						return err
					}
					fmt.Fprintf(env.Stderr, "wrote %s\n", *csvPath)
				}
				if *plotPath != "" {
					if err := writePlot(*plotPath, mean, radii, *factor, *yz); err != nil {
						return err
					}
					fmt.Fprintf(env.Stderr, "wrote %s\n", *plotPath)
				}
				return nil
			}
		},
	})
}

// lateralFactor is the factor of a lateral check of vol: --factor when
// given, else the volume's own anisotropy rounded.
func lateralFactor(path string, vol *volume.Volume, factor int, given bool) (int, error) {
	if given {
		return factor, nil
	}
	v := vol.Voxel
	if !v.Known {
		return 0, usageErrorf("%s has no voxel size: give its anisotropy with --factor (z step ÷ xy pixel)", path)
	}
	a := int(math.Round(v.Anisotropy()))
	if a < 2 {
		return 0, usageErrorf("%s is %.3g× anisotropic (voxel %v): give the factor to imitate with --factor", path, v.Anisotropy(), v)
	}
	return a, nil
}

// meanScores averages per-volume scores (each already a mean over slices).
func meanScores(all [][]reconstruct.Scores) []reconstruct.Scores {
	out := make([]reconstruct.Scores, len(all[0]))
	for i := range out {
		out[i] = reconstruct.Scores{Method: all[0][i].Method, CF: make([]float64, len(all[0][i].CF))}
		for _, vs := range all {
			s := vs[i]
			out[i].PSNR += s.PSNR / float64(len(all))
			out[i].SSIM += s.SSIM / float64(len(all))
			out[i].Slices += s.Slices
			for k, c := range s.CF {
				out[i].CF[k] += c / float64(len(all))
			}
		}
	}
	return out
}

// cfAt returns a method's CF-PSNR at radius r.
func cfAt(s reconstruct.Scores, radii []float64, r float64) float64 {
	for i, x := range radii {
		if x == r {
			return s.CF[i]
		}
	}
	return 0
}

func writeTable(w io.Writer, sc []reconstruct.Scores, radii []float64, volumes, factor int) {
	fmt.Fprintf(w, "factor %d, %s; dB except SSIM; clipped-Fourier PSNR at radius r\n", factor, plural(volumes, "volume"))
	fmt.Fprintf(w, "%-16s %8s %8s %8s %8s %8s %8s\n", "method", "r=10", "r=24", "r=44", "r=90", "PSNR", "SSIM")
	for _, s := range sc {
		ssim := fmt.Sprintf("%8.4f", s.SSIM)
		if math.IsNaN(s.SSIM) {
			ssim = fmt.Sprintf("%8s", "n/a")
		}
		fmt.Fprintf(w, "%-16s %8.2f %8.2f %8.2f %8.2f %8.2f %s\n", s.Method,
			cfAt(s, radii, 10), cfAt(s, radii, 24), cfAt(s, radii, 44), cfAt(s, radii, 90), s.PSNR, ssim)
	}
}

func writeCSV(path string, sc []reconstruct.Scores, radii []float64) error {
	err := atomicfile.Write(path, func(f *os.File) error {
		cw := csv.NewWriter(f)
		cw.Write(strings.Split(csvHeader, ","))
		g := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
		for _, s := range sc {
			cw.Write([]string{s.Method, g(s.PSNR), g(s.SSIM), g(cfAt(s, radii, 10)), g(cfAt(s, radii, 24)), g(cfAt(s, radii, 44)), g(cfAt(s, radii, 90))})
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writePlot(path string, sc []reconstruct.Scores, radii []float64, factor int, yz bool) error {
	p := plot.New()
	slices := "xz slices"
	if yz {
		slices = "xz and yz slices"
	}
	p.Title.Text = fmt.Sprintf("Clipped-Fourier PSNR, %s, factor %d", slices, factor)
	p.X.Label.Text = "low-pass radius r (frequency pixels)"
	p.Y.Label.Text = "CF-PSNR (dB)"
	p.Add(plotter.NewGrid())
	for i, s := range sc {
		pts := make(plotter.XYs, len(radii))
		for k, r := range radii {
			pts[k].X, pts[k].Y = r, s.CF[k]
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.Method, l)
	}
	p.Legend.Top = true
	p.BackgroundColor = color.White
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if format == "" {
		format = "png"
	}
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, format)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := atomicfile.Write(path, func(f *os.File) error { _, err := wt.WriteTo(f); return err }); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// evalVolumeCheck refuses a volume that cannot serve as ground truth for
// the pooling protocol (already anisotropic, or fewer slices than the
// factor) and says on w what the protocol leaves out.
func evalVolumeCheck(w io.Writer, path string, vol *volume.Volume, factor int) error {
	v := vol.Voxel
	switch {
	case v.Known && v.Anisotropy() > 1.01:
		return fmt.Errorf("%s is %.3g× anisotropic (voxel %v): eval needs an isotropic volume as ground truth, "+
			"which it pools along z by --factor itself (view or reconstruct anisotropic data instead; --voxel overrides a wrong voxel size)", path, v.Anisotropy(), v)
	case !v.Known:
		fmt.Fprintf(w, "niiv eval: %s has no voxel size: taken as isotropic ground truth\n", path)
	}
	z := vol.Shape().Z
	if z < factor {
		return usageErrorf("--factor %d: %s has only %s", factor, path, plural(z, "slice"))
	}
	if r := z % factor; r != 0 {
		fmt.Fprintf(w, "niiv eval: %s: %d slices are not a multiple of %d: the last %d are left out\n", path, z, factor, r)
	}
	return nil
}
