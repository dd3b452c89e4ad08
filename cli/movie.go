package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/movie"
	"github.com/niiv/niiv/volume"
)

func init() {
	register(&Command{
		Name:  "movie",
		Short: "render a sweep, zoom or split wipe to MP4, GIF or PNG frames",
		Args:  "FILE",
		Summary: "Render a movie of a view without a window, every frame through the same pipeline as\n" +
			"niiv figure (each decoded at its own resolution): --sweep xz:y=0..127 moves the slice,\n" +
			"--zoom 1..16 --at z,y,x zooms in exponentially, --wipe moves the split divider across\n" +
			"the view (--mode A,B: the modes left and right of it). --out ends in .mp4 (H.264\n" +
			"through ffmpeg; without ffmpeg a GIF of the same name, unless --no-fallback), .gif, or\n" +
			"/ for a folder of PNG frames. Nothing is left behind when cancelled.",
		MinArgs: 1, MaxArgs: 1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			var o movieOptions
			o.register(fs, "1280x720")
			fs.StringVar(&o.view, "view", "", "xy, xz or yz (default: the sweep's view, else xz)")
			fs.StringVar(&o.slice, "slice", "", "plane index when not sweeping (z for xy, fractional allowed; y for xz; x for yz)")
			fs.StringVar(&o.sweep, "sweep", "", "move the slice: `VIEW:COORD=FROM..TO`, e.g. xz:y=0..127, xy:z=3..5 (fractional z), yz:x=0..127")
			fs.StringVar(&o.zoomRange, "zoom", "1", "magnification `FROM..TO` (exponential), or one value")
			fs.BoolVar(&o.wipe, "wipe", false, "split view, the divider crossing the view from left to right")
			fs.IntVar(&o.fps, "fps", 25, "frames per second")
			fs.Float64Var(&o.seconds, "seconds", 4, "duration (--frames wins)")
			fs.IntVar(&o.frames, "frames", 0, "number of frames (default: seconds × fps)")
			fs.StringVar(&o.out, "out", "movie.mp4", "output: NAME.mp4, NAME.gif or a folder DIR/ of PNG frames")
			fs.BoolVar(&o.noFallback, "no-fallback", false, "fail instead of writing a GIF when ffmpeg is missing for an .mp4")
			return func(ctx context.Context, env *Env, args []string) error {
				o.modelSet = flagSet(fs, "model")
				o.modeSet = flagSet(fs, "mode")
				return makeMovie(ctx, env, args[0], &vf, o)
			}
		},
	})
}

type movieOptions struct {
	figureOptions
	sweep, zoomRange          string
	wipe, noFallback, modeSet bool
	fps, frames               int
	seconds                   float64
}

// movieFrameDone, when set (by tests), is called after frame k is written.
var movieFrameDone func(k int)

func makeMovie(ctx context.Context, env *Env, path string, vf *voxelFlags, o movieOptions) error {
	size, err := o.checkShared()
	if err != nil {
		return err
	}
	modes, err := parseModes(o.modes)
	if err != nil {
		return err
	}
	if o.fps < 1 || o.fps > 100 {
		return usageErrorf("--fps %d: want 1 to 100", o.fps)
	}
	n := o.frames
	if n == 0 {
		if !(o.seconds > 0) || o.seconds > 3600 {
			return usageErrorf("--seconds %v: want more than 0 and at most 3600", o.seconds)
		}
		n = max(1, int(o.seconds*float64(o.fps)+0.5))
	} else if n < 1 || n > 100000 {
		return usageErrorf("--frames %d: want 1 to 100000", n)
	}
	p := movie.Path{Axis: volume.XZ, Frames: n, Wipe: o.wipe}
	if o.sweep != "" {
		s, err := movie.ParseSweep(o.sweep)
		if err != nil {
			return usageErrorf("--sweep: %v", err)
		}
		p.Sweep, p.Axis = &s, s.Axis
		if o.slice != "" {
			return usageErrorf("--slice and --sweep both set the slice; give one")
		}
	}
	if o.view != "" {
		a, err := volume.ParseAxis(o.view)
		if err != nil {
			return usageErrorf("--view: %v", err)
		}
		if p.Sweep != nil && a != p.Axis {
			return usageErrorf("--view %s and --sweep %s name different views", o.view, o.sweep)
		}
		p.Axis = a
	}
	z, err := movie.ParseRange(o.zoomRange)
	if err != nil {
		v, err2 := strconv.ParseFloat(strings.TrimSpace(o.zoomRange), 64)
		if err2 != nil {
			return usageErrorf("--zoom: %v (or one value)", err)
		}
		z = movie.Range{From: v, To: v}
	}
	if !(z.From > 0) || !(z.To > 0) || z.From > 1e6 || z.To > 1e6 {
		return usageErrorf("--zoom %s: the magnification must be positive", o.zoomRange)
	}
	p.Zoom = &z
	if o.wipe {
		if !o.modeSet {
			modes = []viewer.Mode{viewer.Linear, viewer.Niiv}
		}
		if len(modes) != 2 || modes[0] > viewer.Niiv || modes[1] > viewer.Niiv {
			return usageErrorf("--wipe: --mode %q must name the two modes left and right of the divider (nearest, linear or niiv), e.g. linear,niiv", o.modes)
		}
	}
	kind, err := movie.OutputKind(o.out)
	if err != nil {
		return usageErrorf("--out %v", err)
	}
	if kind == movie.MP4 && (size.X%2 != 0 || size.Y%2 != 0) {
		return usageErrorf("--size %s: H.264 needs an even width and height", o.size)
	}
	out := o.out
	if kind == movie.MP4 {
		if !movie.HaveFFmpeg() {
			if o.noFallback {
				return fmt.Errorf("--out %s: writing MP4 needs ffmpeg, which is not on PATH (install it, or write a .gif or a folder of PNG frames)", out)
			}
			kind, out = movie.GIF, strings.TrimSuffix(out, filepath.Ext(out))+".gif"
			fmt.Fprintf(env.Stderr, "niiv movie: ffmpeg is not on PATH, so no MP4: writing the GIF %s instead (install ffmpeg for MP4; --no-fallback fails instead)\n", out)
		}
	}

	sc := &scene{cmd: "movie", path: path, size: size, modes: modes, o: o.figureOptions}
	var split [2]viewer.Mode
	if o.wipe {
		split = [2]viewer.Mode{modes[0], modes[1]}
		sc.modes = []viewer.Mode{viewer.Split}
	}
	if err := sc.checkPanels(); err != nil {
		return err
	}
	if err := sc.open(env, vf); err != nil {
		return err
	}
	if err := sc.setSlice(p.Axis); err != nil {
		return err
	}
	if err := p.Check(sc.vol.Shape()); err != nil {
		return usageErrorf("--sweep: %v", err)
	}
	if o.wipe {
		sc.mdl.SetSplit(split[0], split[1], 0)
	}
	defer sc.close()
	if err := sc.load(ctx, env); err != nil {
		return err
	}

	// The requests of every frame, built in order on this goroutine.
	sc.setPanelSize(p.Axis)
	mts := make([]montage, n)
	for k := range mts {
		movie.Apply(sc.mdl, p.Axis, p.At(k), o.at != "")
		mts[k] = sc.montage(p.Axis)
	}

	gray := o.colormap == "gray" && sc.mdl.Channels() == 1 // a composite is in colour
	if err := renderMovie(ctx, env, sc, mts, kind, out, size, o.fps, gray); err != nil {
		var oe *movie.OutputError
		if errors.As(err, &oe) {
			return fmt.Errorf("--out %w", oe.Err)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %d frames of %d×%d at %d fps (%.2f s)\n", out, n, size.X, size.Y, o.fps, float64(n)/float64(o.fps))
	return nil
}

// renderMovie renders the frames with a small pool of renderers, a few
// frames ahead of the writer, and writes them in order (movie.Write),
// with a progress bar.
func renderMovie(ctx context.Context, env *Env, sc *scene, mts []montage, kind movie.Kind, out string, size image.Point, fps int, gray bool) error {
	bar := newProgress(env.Stderr, "niiv movie")
	defer bar.finish()
	newRenderer := func() movie.FrameFunc {
		frames := viewer.NewFrames(sc.methods)
		return func(ctx context.Context, k int) (*image.RGBA, error) {
			img, _, err := sc.render(ctx, frames, mts[k])
			return img, err
		}
	}
	return movie.Write(ctx, kind, out, size, fps, gray, len(mts), movie.Workers(), newRenderer, func(k int) {
		bar.update(k+1, len(mts))
		if movieFrameDone != nil {
			movieFrameDone(k)
		}
	})
}
