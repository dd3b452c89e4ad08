package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/niiv/niiv/app"
	"github.com/niiv/niiv/assets"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
)

func init() {
	register(&Command{
		Name:  "view",
		Short: "open the viewer (default: the bundled sample)",
		Args:  "[FILE]",
		Summary: "Open the viewer: XY, XZ and YZ views of a volume (default: the bundled sample)\n" +
			"with niiv reconstruction between slices. A file of several channels or time points opens as\n" +
			"a colour composite with a channel panel and a time slider. Press ? in the window for the shortcuts.",
		MinArgs: 0, MaxArgs: 1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			var ef engineFlags
			ef.register(fs)
			model := fs.String("model", "", "niiv model: a shipped name (general, lite, paper), a model folder or a bioimage.io package niiv exported (.zip or folder) (default general)")
			mode := fs.String("mode", "niiv", "initial mode: nearest, linear, niiv, difference or split")
			shots := fs.String("screenshots", "", "folder where the S key saves screenshots (default: current folder)")
			channels := fs.String("channels", "", "channels `LIST` of a multi-channel file to show, e.g. 0,2 (default: all, up to 8)")
			tm := fs.String("time", "", "time point `N` (from 0) shown first (default 0)")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := ef.check(); err != nil {
					return err
				}
				m, err := viewer.ParseMode(*mode)
				if err != nil {
					return usageErrorf("--mode: %v", err)
				}
				path := SampleName
				if len(args) > 0 {
					path = args[0]
				}
				mdl, err := openModel(path, &vf, *channels, *tm)
				if err != nil {
					return err
				}
				stack, vol := mdl.Stack(), mdl.Volume()
				if err := app.CheckDisplay(); err != nil {
					return err // before the model is loaded
				}
				limitMemory(vol)
				eo := engine.Options{Model: *model, Device: ef.device, Threads: ef.threads, Embedded: assets.Models}
				// A model adapted to this file earlier (niiv adapt, or the
				// viewer's "Adapt to this volume") is used again.
				// (unless --model names the model to use).
				adapted := ""
				if !flagSet(fs, "model") {
					adapted, _ = engine.Remembered(eo, path, vol)
				}
				lo := eo
				if adapted != "" {
					lo.Model = adapted
				}
				methods, closeModel, info := engine.Load(ctx, lo)
				if adapted != "" && methods.Niiv == nil {
					fmt.Fprintf(env.Stderr, "niiv view: the model adapted to %s does not load (%v), using %s\n", path, methods.NiivError, engine.ParentName(eo))
					closeModel()
					adapted = ""
					methods, closeModel, info = engine.Load(ctx, eo)
				}
				defer func() { closeModel() }()
				if methods.Niiv == nil {
					fmt.Fprintf(env.Stderr, "niiv view: niiv unavailable, showing linear: %v\n", methods.NiivError)
				} else {
					fmt.Fprintf(env.Stderr, "niiv view: %s\n", info)
					if adapted != "" {
						fmt.Fprintf(env.Stderr, "niiv view: using the model adapted to this volume: %s\n", adapted)
					}
				}
				return app.RunStack(ctx, stack, app.Options{
					Methods:       methods,
					Mode:          m,
					Time:          mdl.Time(),
					OpenStack:     func(p string) (*volume.Hyperstack, error) { return openStackAll(p) },
					ScreenshotDir: *shots,
					Path:          path,
					Engine:        eo,
					Adapted:       adapted,
				})
			}
		},
	})
}
