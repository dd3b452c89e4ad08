package cli

import (
	"context"
	"flag"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/niiv/niiv/assets"
	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
)

func init() {
	register(&Command{
		Name:  "figure",
		Short: "render a view or a montage of modes to PNG without a window",
		Args:  "FILE",
		Summary: "Render a view of a volume to PNG without opening a window, through the viewer's own\n" +
			"pipeline: --mode linear,niiv makes a montage of modes side by side; --view layout\n" +
			"renders the 2×2 layout. The scale bar and caption are drawn at the output resolution.\n" +
			"A multi-channel file is drawn as the colour composite of its channels (--channels, --time).",
		MinArgs: 1, MaxArgs: 1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			var o figureOptions
			o.register(fs, "1600x1200")
			fs.StringVar(&o.view, "view", "xz", "xy, xz, yz or layout")
			fs.StringVar(&o.slice, "slice", "", "plane index (z for xy, fractional allowed; y for xz; x for yz); default: the middle")
			fs.Float64Var(&o.zoom, "zoom", 1, "magnification relative to fitting the plane in the panel")
			fs.StringVar(&o.out, "out", "figure.png", "output PNG")
			return func(ctx context.Context, env *Env, args []string) error {
				o.modelSet = flagSet(fs, "model")
				return figure(ctx, env, args[0], &vf, o)
			}
		},
	})
}

// montageGap is the gap in pixels between a montage's panels.
const montageGap = 4

type figureOptions struct {
	view, slice, at, modes, size, out, colormap, window, caption, model string
	channels, time                                                      string // --channels, --time of a multi-channel file
	zoom, gamma                                                         float64
	invert, crosshair                                                   bool
	modelSet                                                            bool // --model given: no adapted model
	ef                                                                  engineFlags
}

// register registers the flags that figure and movie share: the modes, the
// output size (default defSize), the display style, caption, crosshair,
// point and model.
func (o *figureOptions) register(fs *flag.FlagSet, defSize string) {
	o.ef.register(fs)
	fs.StringVar(&o.at, "at", "", "voxel `z,y,x` to centre the view(s) on (and the slices through it); --slice still wins")
	fs.StringVar(&o.modes, "mode", "niiv", "mode, or comma-separated modes for a montage: nearest, linear, niiv, difference, split")
	fs.StringVar(&o.size, "size", defSize, "output size `WxH` in pixels (a montage splits the width)")
	fs.StringVar(&o.colormap, "colormap", "gray", "gray, magma, viridis or inferno")
	fs.Float64Var(&o.gamma, "gamma", 1, "display gamma")
	fs.BoolVar(&o.invert, "invert", false, "invert the colormap")
	fs.StringVar(&o.window, "window", "", "contrast window `MIN,MAX` (default: automatic, 0.35% saturated)")
	fs.StringVar(&o.caption, "caption", "auto", "caption stamped on each panel: auto, none, or a text")
	fs.BoolVar(&o.crosshair, "crosshair", false, "draw the crosshair")
	fs.StringVar(&o.channels, "channels", "", "channels `LIST` of a multi-channel file to show, e.g. 0,2 (default: all, up to 8), as a colour composite")
	fs.StringVar(&o.time, "time", "", "time point `N` (from 0) of a time series (default 0)")
	fs.StringVar(&o.model, "model", "", "niiv model: a shipped name (general, lite, paper), a model folder or a bioimage.io package niiv exported (.zip or folder) (default general)")
}

// parseSize parses "1600x1200".
func parseSize(s string) (image.Point, error) {
	a, b, ok := strings.Cut(strings.ToLower(s), "x")
	w, err1 := strconv.Atoi(strings.TrimSpace(a))
	h, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || w < 16 || h < 16 || w > 20000 || h > 20000 {
		return image.Point{}, fmt.Errorf("--size %q: want WxH between 16 and 20000, e.g. 1600x1200", s)
	}
	return image.Pt(w, h), nil
}

// scene is what figure and movie render from: the volume, a model set up
// with the display flags, the output size and the panels' modes.
type scene struct {
	cmd   string // "figure" or "movie", for messages
	path  string
	vol   *volume.Volume
	mdl   *viewer.Model
	size  image.Point
	modes []viewer.Mode // one panel each
	o     figureOptions

	methods    viewer.Methods
	closeModel func()
}

// parseModes parses --mode's comma-separated list.
func parseModes(s string) ([]viewer.Mode, error) {
	var modes []viewer.Mode
	for _, f := range strings.Split(s, ",") {
		m, err := viewer.ParseMode(f)
		if err != nil {
			return nil, usageErrorf("--mode: %v", err)
		}
		modes = append(modes, m)
	}
	return modes, nil
}

// checkShared checks the shared flags that need no volume and returns the
// output size.
func (o *figureOptions) checkShared() (image.Point, error) {
	if err := o.ef.check(); err != nil {
		return image.Point{}, err
	}
	size, err := parseSize(o.size)
	if err != nil {
		return image.Point{}, usageErrorf("%v", err)
	}
	if !(o.gamma > 0) || math.IsInf(o.gamma, 0) {
		return image.Point{}, usageErrorf("--gamma %v must be positive (1: linear)", o.gamma)
	}
	if _, err := render.ColormapNamed(o.colormap); err != nil {
		return image.Point{}, usageErrorf("--colormap: %v", err)
	}
	return size, nil
}

// checkPanels checks that n panels fit the width.
func (sc *scene) checkPanels() error {
	if n := len(sc.modes); (sc.size.X-montageGap*(n-1))/n < 16 {
		return usageErrorf("--size %s is too narrow for %d panels", sc.o.size, n)
	}
	return nil
}

// open opens the volume and sets up the model from the display flags and
// --at.
func (sc *scene) open(env *Env, vf *voxelFlags) error {
	o := sc.o
	mdl, err := openModel(sc.path, vf, o.channels, o.time)
	if err != nil {
		return err
	}
	vol := mdl.Volume()
	if !vol.Voxel.Known {
		fmt.Fprintf(env.Stderr, "niiv %s: %s has no voxel size; assuming 1×1×1 (give --voxel z,y,x)\n", sc.cmd, sc.path)
	}
	sc.vol = vol
	if mdl.Channels() > 1 && (o.colormap != "gray" || o.invert) {
		// The composite draws each channel in its colour: the one-channel
		// styles do not apply.
		return usageErrorf("--colormap %s and --invert apply to one-channel volumes; %s has %d channels shown in their colours (pick one with --channels N for a colormap)", o.colormap, sc.path, mdl.Channels())
	}
	// --gamma and --window apply to every channel of a composite.
	for ch := range mdl.Channels() {
		mdl.SelectChannel(ch)
		c := mdl.Contrast()
		c.Colormap, c.Gamma, c.Invert = o.colormap, o.gamma, o.invert
		if o.window != "" {
			lo, hi, ok := strings.Cut(o.window, ",")
			a, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
			b, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
			if !ok || err1 != nil || err2 != nil || !(b > a) {
				return usageErrorf("--window %q: want MIN,MAX with MIN < MAX", o.window)
			}
			c.Min, c.Max = a, b
		}
		mdl.SetContrast(c)
	}
	mdl.SelectChannel(0)
	mdl.ShowCrosshair(o.crosshair)
	if o.at != "" {
		p, err := parsePoint(o.at, vol.Shape())
		if err != nil {
			return usageErrorf("--at: %v", err)
		}
		mdl.SetCrosshair(p)
	}
	sc.mdl = mdl
	return nil
}

// load loads the renderers the modes need: the model adapted to the file
// when there is one and --model is not given (as in the viewer), and fails
// when a mode needs niiv and its model does not load. Call close after.
func (sc *scene) load(ctx context.Context, env *Env) error {
	o := sc.o
	needNiiv := false
	for _, m := range sc.modes {
		needNiiv = needNiiv || m == viewer.Niiv || m == viewer.Difference || m == viewer.Split
	}
	eo := engine.Options{Model: o.model, Device: o.ef.device, Threads: o.ef.threads, Embedded: assets.Models}
	lo := eo
	adapted := ""
	if !o.modelSet {
		adapted, _ = engine.Remembered(eo, sc.path, sc.vol)
	}
	if adapted != "" && needNiiv {
		lo.Model = adapted
	}
	methods, closeModel, info := engine.Load(ctx, lo)
	if lo.Model != eo.Model && methods.Niiv == nil {
		fmt.Fprintf(env.Stderr, "niiv %s: the model adapted to %s does not load (%v), using %s\n", sc.cmd, sc.path, methods.NiivError, engine.ParentName(eo))
		closeModel()
		lo = eo
		methods, closeModel, info = engine.Load(ctx, eo)
	}
	sc.methods, sc.closeModel = methods, closeModel
	if needNiiv && methods.Niiv == nil {
		return fmt.Errorf("--mode %s needs niiv, and its model did not load: %v (--mode linear makes a %s without it)", o.modes, methods.NiivError, sc.cmd)
	}
	if methods.Niiv != nil && needNiiv {
		fmt.Fprintf(env.Stderr, "niiv %s: %s\n", sc.cmd, info)
		if lo.Model != eo.Model {
			fmt.Fprintf(env.Stderr, "niiv %s: using the model adapted to this volume: %s\n", sc.cmd, adapted)
		}
	}
	return nil
}

// close releases the renderers.
func (sc *scene) close() {
	if sc.closeModel != nil {
		sc.closeModel()
	}
}

// montage is the frozen order for one montage image: a request per panel
// and the view's title. Build it on the model's goroutine, render it
// anywhere with render.
type montage struct {
	reqs  []viewer.Request
	title string
}

// montage builds the requests of the view axis's panels, one per mode, as
// the model stands (size, zoom, slice, split).
func (sc *scene) montage(axis volume.Axis) montage {
	mt := montage{title: sc.mdl.Title(axis)}
	for _, m := range sc.modes {
		sc.mdl.SetMode(m)
		sc.mdl.SetCaption("")
		mt.reqs = append(mt.reqs, sc.mdl.Request(axis, 1))
	}
	return mt
}

// render renders a montage through frames (panels share decoded images):
// the panels captioned, side by side, padded to exactly --size. It also
// returns a line per panel describing it.
func (sc *scene) render(ctx context.Context, frames *viewer.Frames, mt montage) (*image.RGBA, []string, error) {
	n := len(mt.reqs)
	panels := make([]*image.RGBA, n)
	var summary []string
	for i, req := range mt.reqs {
		f, err := frames.Render(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		name := sc.name()
		if n > 1 {
			name = "" // a montage's panels are narrow: plane and method only
		}
		if cap := sc.caption(name, mt.title, f.Method); cap != "" {
			if err := render.Caption(f.Image, cap); err != nil {
				return nil, nil, err
			}
		}
		panels[i] = viewer.Compose(f, "")
		took := fmt.Sprintf("in %.1f ms", f.Decode.Seconds()*1e3)
		if f.Cached {
			took = "from the panels before"
		}
		summary = append(summary, fmt.Sprintf("%s %d×%d px at %s/px %s", f.Method, req.W, req.H,
			render.FormatLength(req.PerPixel(), req.Unit), took))
	}
	// Panels of equal width (one scale); the columns left over
	// pad the right edge, so that the image is exactly --size.
	return viewer.Pad(viewer.Grid(panels, n, montageGap), sc.size), summary, nil
}

// setSlice sets the view axis's slice from --slice, when given.
func (sc *scene) setSlice(axis volume.Axis) error {
	if sc.o.slice == "" {
		return nil
	}
	v, err := strconv.ParseFloat(sc.o.slice, 64)
	n := sc.vol.Count(axis)
	if err != nil || v < 0 || v > float64(n-1) {
		return usageErrorf("--slice %q: want a plane index in [0, %d]", sc.o.slice, n-1)
	}
	if v != math.Round(v) && axis != volume.XY {
		return usageErrorf("--slice %q: only xy planes may be fractional", sc.o.slice)
	}
	sc.mdl.SetIndex(axis, v)
	return nil
}

// setPanelSize sizes the view axis for one panel of the montage.
func (sc *scene) setPanelSize(axis volume.Axis) {
	n := len(sc.modes)
	sc.mdl.SetSize(axis, image.Pt((sc.size.X-montageGap*(n-1))/n, sc.size.Y))
}

func figure(ctx context.Context, env *Env, path string, vf *voxelFlags, o figureOptions) error {
	size, err := o.checkShared()
	if err != nil {
		return err
	}
	modes, err := parseModes(o.modes)
	if err != nil {
		return err
	}
	if !(o.zoom > 0) || math.IsInf(o.zoom, 0) {
		return usageErrorf("--zoom %v must be positive", o.zoom)
	}
	if ext := strings.ToLower(filepath.Ext(o.out)); ext != ".png" {
		return usageErrorf("--out %q: figures are written as PNG; give a .png name", o.out)
	}
	layout := o.view == "layout"
	if layout && len(modes) > 1 {
		return usageErrorf("--view layout shows one mode; --mode %q asks for %d (a montage needs --view xy, xz or yz)", o.modes, len(modes))
	}
	sc := &scene{cmd: "figure", path: path, size: size, modes: modes, o: o}
	if err := sc.checkPanels(); err != nil {
		return err
	}
	if err := atomicfile.Check(o.out); err != nil {
		return fmt.Errorf("--out %s: %w", o.out, err)
	}
	var axis volume.Axis
	if !layout {
		if axis, err = volume.ParseAxis(o.view); err != nil {
			return usageErrorf("--view: %v (or layout)", err)
		}
	}
	if err := sc.open(env, vf); err != nil {
		return err
	}
	mdl := sc.mdl
	if err := sc.setSlice(axis); err != nil {
		return err
	}
	defer sc.close()
	if err := sc.load(ctx, env); err != nil {
		return err
	}

	var img *image.RGBA
	var summary []string
	if layout {
		for _, a := range viewer.Views {
			mdl.SetSize(a, image.Pt((size.X-2)/2, (size.Y-2)/2)) // 2 px between cells
			mdl.SetZoom(a, o.zoom)
			if o.at != "" {
				mdl.CenterOnCrosshair(a)
			}
		}
		mdl.SetMode(modes[0])
		mdl.SetCaption(caption(o.caption, sc.name(), "", ""))
		mdl.ShowCrosshair(o.crosshair)
		snap := mdl.Snapshot(1)
		if o.caption != "auto" {
			snap.Caption = caption(o.caption, sc.name(), "", "") // as given: no channel list added
		}
		img, err = snap.Render(ctx, sc.methods)
		if err != nil {
			return err
		}
		summary = append(summary, "layout, mode "+modes[0].String())
	} else {
		sc.setPanelSize(axis)
		mdl.SetZoom(axis, o.zoom)
		if o.at != "" {
			mdl.CenterOnCrosshair(axis)
		}
		img, summary, err = sc.render(ctx, viewer.NewFrames(sc.methods), sc.montage(axis))
		if err != nil {
			return err
		}
	}
	if err := writeFigure(o.out, img); err != nil {
		return err
	}
	b := img.Bounds()
	fmt.Fprintf(env.Stdout, "wrote %s (%d×%d): %s\n", o.out, b.Dx(), b.Dy(), strings.Join(summary, "; "))
	return nil
}

// caption is the caption of a panel (see caption), with the channels
// shown and their colours for a composite when --caption is auto.
func (sc *scene) caption(name, title, method string) string {
	c := caption(sc.o.caption, name, title, method)
	if sc.o.caption != "auto" {
		return c
	}
	if cc := sc.mdl.ChannelCaption(); cc != "" {
		c += " · " + cc
	} else if h := sc.mdl.Stack(); h.Channel(0).Name != "" {
		c += " · " + h.Channel(0).Name // one channel chosen from several
	}
	return c
}

// parsePoint parses "z,y,x" voxel coordinates inside shape.
func parsePoint(s string, shape volume.Shape) (viewer.Point, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return viewer.Point{}, fmt.Errorf("%q: want z,y,x", s)
	}
	var v [3]float64
	lim := [3]int{shape.Z, shape.Y, shape.X}
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f > float64(lim[i]-1) {
			return viewer.Point{}, fmt.Errorf("%q: %q is not inside the volume %v", s, p, shape)
		}
		v[i] = f
	}
	return viewer.Point{Z: v[0], Y: v[1], X: v[2]}, nil
}

// name is the file's name for captions: the hyperstack's for a file of
// several channels or time points, else the volume's.
func (sc *scene) name() string {
	if h := sc.mdl.Stack(); h.Channels() > 1 || h.Times() > 1 {
		return h.Name
	}
	return sc.vol.Name
}

// caption returns the panel caption for the --caption flag; name may be
// "" to leave out the volume's name.
func caption(flagValue string, name, title, method string) string {
	switch flagValue {
	case "none", "":
		return ""
	case "auto":
		var parts []string
		if name != "" {
			parts = append(parts, name)
		}
		if title != "" {
			parts = append(parts, title)
		}
		if method != "" {
			parts = append(parts, method)
		}
		return strings.Join(parts, " · ")
	}
	return flagValue
}

func writeFigure(path string, img image.Image) error {
	if err := atomicfile.WritePNG(path, img); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
