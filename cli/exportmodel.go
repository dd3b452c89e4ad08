package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/niiv/niiv/assets"
	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/bioimage"
)

func init() {
	register(&Command{
		Name:  "export-model",
		Short: "write a model as a bioimage.io package for Fiji/deepImageJ, ilastik, napari or Python",
		Args:  "MODEL OUT.zip",
		Summary: "Export niiv MODEL (a shipped name such as lite, a model folder, or an adapted model from\n" +
			"niiv adapt) as a bioimage.io model package (RDF " + bioimage.SpecVersion + "): one ONNX graph (opset of the model, ≤ 17)\n" +
			"that reconstructs an axial slice [batch, channel, z, x] at z·F rows, with the normalisation as\n" +
			"scale_linear pre- and postprocessing, test input and output (niiv's own reconstruction),\n" +
			"cover, README, licence, citation, and the niiv model attached so that --model OUT.zip opens it\n" +
			"again. OUT without .zip writes a folder. The package is validated and its test run through\n" +
			"ONNX Runtime before it is written.",
		MinArgs: 2, MaxArgs: 2,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			factor := fs.Int("factor", 0, "the package's fixed anisotropy factor F (0: the model's own)")
			size := fs.String("size", "", "crop the test slice to `H,W` (z rows, x columns) from its centre (default: the whole slice, at most 32,256)")
			volPath := fs.String("volume", "", "a `VOLUME` whose middle xz plane is the test slice and whose percentiles fix the normalisation (default: the card's test slice and range)")
			norm := fs.String("norm", "", "normalisation range `LO,HI` (intensities mapped to 0 and 1), overriding the volume's and the card's")
			license := fs.String("license", "", "SPDX licence id of the package, e.g. CC-BY-4.0 (default: the model card's)")
			authors := fs.String("authors", "", "comma-separated author names (default: the card's, else niiv contributors)")
			threads := fs.Int("threads", 0, "threads for ONNX Runtime and the decoder (0: one per CPU)")
			return func(ctx context.Context, env *Env, args []string) error {
				if *factor < 0 || *factor > 64 {
					return usageErrorf("--factor %d: want 1 to 64 (0: the model's)", *factor)
				}
				if *threads < 0 || *threads > maxThreads {
					return usageErrorf("--threads %d: want 0 (one per CPU) to %d", *threads, maxThreads)
				}
				var opt bioimage.ExportOptions
				if *size != "" {
					p, err := parseInts(*size, 2)
					if err != nil {
						return usageErrorf("--size %q: want H,W, two positive integers: %v", *size, err)
					}
					opt.Size = [2]int{p[0], p[1]}
				}
				if *norm != "" {
					parts := strings.Split(*norm, ",")
					var lo, hi float64
					var err1, err2 error
					if len(parts) == 2 {
						lo, err1 = strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
						hi, err2 = strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
					}
					if len(parts) != 2 || err1 != nil || err2 != nil || !(hi > lo) || math.IsInf(hi-lo, 0) {
						return usageErrorf("--norm %q: want LO,HI, finite numbers with LO < HI", *norm)
					}
					opt.Lo, opt.Hi = lo, hi
				}
				for _, a := range strings.Split(*authors, ",") {
					if a = strings.TrimSpace(a); a != "" {
						opt.Authors = append(opt.Authors, a)
					}
				}
				opt.License = *license
				out := args[1]
				if out == "" {
					return usageErrorf("OUT is empty")
				}
				start := time.Now()
				ref := args[0]
				if ref == "niiv" {
					ref = defaultModel
				}
				m, err := reconstruct.LoadModel(ref, reconstruct.ModelOptions{Device: "cpu", Threads: *threads, Embedded: assets.Models})
				if err != nil {
					return err
				}
				defer m.Close()
				if *volPath != "" {
					vol, err := openVolume(*volPath, &vf)
					if err != nil {
						return err
					}
					if vol.Name == "" {
						vol.Name = filepath.Base(*volPath)
					}
					opt.Volume = vol
				}
				opt.Model = m
				opt.Factor = *factor
				if opt.Factor == 0 {
					opt.Factor = m.Factor()
				}
				if opt.Factor == 0 {
					return usageErrorf("model %s does not say its factor: give --factor", m.Name)
				}
				files, rep, err := bioimage.Build(ctx, opt)
				if err != nil {
					return err
				}
				if err := bioimage.Write(ctx, out, files, time.Now()); err != nil {
					return err
				}
				var total int64
				for _, b := range files {
					total += int64(len(b))
				}
				written := total
				if st, err := os.Stat(out); err == nil && !st.IsDir() {
					written = st.Size()
				}
				fmt.Fprintf(env.Stdout, "wrote %s: bioimage.io model package (RDF %s), %d files, %s (%s uncompressed), in %.2fs\n",
					out, bioimage.SpecVersion, len(files), volio.HumanBytes(written), volio.HumanBytes(total), time.Since(start).Seconds())
				fmt.Fprintf(env.Stdout, "model %s at factor %d: ONNX opset %d, input [batch,1,z,x] → output [batch,1,z·%d,x]\n", m.Name, opt.Factor, rep.Opset, opt.Factor)
				fmt.Fprintf(env.Stdout, "normalisation [%g, %g]: %s\n", rep.Lo, rep.Hi, rep.NormSource)
				fmt.Fprintf(env.Stdout, "test slice %d×%d: %s\n", rep.TestShape[0], rep.TestShape[1], rep.SliceSource)
				fmt.Fprintf(env.Stdout, "max |package − niiv| on the test slice: %.3g (%.3g of the normalisation range; tolerance declared 1e-4 of it)\n", rep.MaxDiff, rep.MaxDiffNorm)
				if rep.Adapted != "" {
					fmt.Fprintf(env.Stdout, "adapted model: the package says it was taught by %s\n", rep.Adapted)
				}
				return nil
			}
		},
	})
}
