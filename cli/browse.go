package cli

import (
	"context"
	"flag"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/niiv/niiv/assets"
	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
)

func init() {
	register(&Command{
		Name:  "browse",
		Short: "benchmark: time scripted browsing of a volume as the viewer does it",
		Args:  "FILE",
		Summary: "Open FILE as the viewer does and browse it without a window: the first frame of each\n" +
			"view, then a seeded script of slice steps, zooms and pans over the three views, decoded\n" +
			"through the viewer's pipeline. Prints the time to open, each view's first frame, frame\n" +
			"time percentiles and the process's peak resident memory.",
		MinArgs: 1, MaxArgs: 1,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var vf voxelFlags
			vf.register(fs)
			var ef engineFlags
			ef.register(fs)
			model := fs.String("model", "", "niiv model: a shipped name (general, lite, paper), a model folder or a bioimage.io package niiv exported (.zip or folder) (default general)")
			mode := fs.String("mode", "niiv", "mode: nearest, linear or niiv")
			steps := fs.Int("steps", 200, "scripted slice steps after the first frames (with a zoom every 4th and a pan every 6th)")
			size := fs.Int("size", 512, "view size in pixels (square)")
			seed := fs.Uint64("seed", 1, "seed of the script")
			xz := fs.Int("xz", 10, "then time this many niiv 512×512 xz frames of new planes whose chunks were read by a warm-up pass (0: skip)")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := ef.check(); err != nil {
					return err
				}
				m, err := viewer.ParseMode(*mode)
				if err != nil || m == viewer.Difference || m == viewer.Split {
					return usageErrorf("--mode %q: want nearest, linear or niiv", *mode)
				}
				if *steps < 0 || *size < 16 || *size > 4096 {
					return usageErrorf("--steps ≥ 0 and --size 16–4096")
				}
				if err := vf.check(); err != nil {
					return err
				}
				return browse(ctx, env, args[0], &vf, engine.Options{Model: *model, Device: ef.device, Threads: ef.threads, Embedded: assets.Models}, m, *steps, *size, *seed, *xz)
			}
		},
	})
}

// browse runs the benchmark.
func browse(ctx context.Context, env *Env, path string, vf *voxelFlags, eo engine.Options, mode viewer.Mode, steps, size int, seed uint64, xz int) error {
	t0 := time.Now()
	vol, err := volio.OpenWith(path, vf.openOptions())
	if err != nil {
		return err
	}
	if err := vf.apply(vol); err != nil {
		return err
	}
	limitMemory(vol)
	m := viewer.New(vol) // contrast from the (estimated) statistics
	opened := time.Since(t0)

	methods := engine.Classical(nil)
	if mode == viewer.Niiv {
		ms, closeModel, info := engine.Load(ctx, eo)
		defer closeModel()
		if ms.Niiv == nil {
			return fmt.Errorf("niiv unavailable: %v", ms.NiivError)
		}
		methods = ms
		fmt.Fprintf(env.Stdout, "model       %s\n", info)
	}
	how := "in memory"
	if vol.Lazy() {
		how = fmt.Sprintf("lazily, %d pyramid level(s)", max(1, len(vol.Levels())))
	}
	fmt.Fprintf(env.Stdout, "volume      %s: %v %v (%s), voxel %v, opened %s\n", path, vol.Shape(), vol.DType(), volio.HumanBytes(vol.Bytes()), vol.Voxel, how)
	fmt.Fprintf(env.Stdout, "open        %.3f s (metadata, statistics and contrast)\n", opened.Seconds())
	fmt.Fprintf(env.Stdout, "caches      latents %s, chunks %s\n", volio.HumanBytes(reconstruct.CacheBudget()), volio.HumanBytes(volio.ChunkCacheBytes))

	var last viewer.Frame
	p := viewer.NewPipeline(methods, func(f viewer.Frame) {
		if f.Final {
			last = f
		}
	}, true)
	defer p.Close()
	for _, a := range viewer.Views {
		m.SetSize(a, image.Pt(size, size))
	}
	m.SetMode(mode)
	render := func(a volume.Axis) (time.Duration, viewer.Frame, error) {
		t := time.Now()
		p.Submit(m.Request(a, 1))
		d := time.Since(t)
		if last.Err != nil {
			return d, last, fmt.Errorf("%v frame: %w", a, last.Err)
		}
		return d, last, nil
	}
	for _, a := range viewer.Views {
		d, f, err := render(a)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "first %-5v %.3f s  (%s)\n", a, d.Seconds(), f.Label())
	}

	// The script: steps slice steps, taking the views in turn; after every
	// fourth, that view zooms by 1.5 about a random point (in, until two
	// screen pixels show one voxel, for the first three quarters; then
	// out); after every sixth, it pans by up to half its size.
	r := rand.New(rand.NewPCG(seed, 0x62726f77)) // "brow"
	var times []float64
	kinds := map[string]int{}
	renderAll := func(i int) error {
		for _, b := range viewer.Views { // a step moves the crosshair in the other views
			d, _, err := render(b)
			if err != nil {
				return fmt.Errorf("action %d: %w", i, err)
			}
			times = append(times, d.Seconds())
		}
		return nil
	}
	for i := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		a := viewer.Views[i%3]
		n := 1 + r.IntN(3)
		if r.IntN(2) == 0 {
			n = -n
		}
		m.Step(a, n, false)
		kinds["slice"]++
		if err := renderAll(i); err != nil {
			return err
		}
		if i%4 == 3 {
			g := m.Geometry(a)
			f := 1.5
			if i >= 3*steps/4 {
				f = 1 / 1.5
			} else if g.W > 0 && (g.C1-g.C0)/float64(g.W) <= 0.5 {
				f = 1 // deep enough
			}
			m.ZoomAbout(a, f, float64(size/4+r.IntN(size/2)), float64(size/4+r.IntN(size/2)))
			kinds["zoom"]++
			if err := renderAll(i); err != nil {
				return err
			}
		}
		if i%6 == 5 {
			m.Pan(a, float64(r.IntN(size/2)-size/4), float64(r.IntN(size/2)-size/4))
			kinds["pan"]++
			if err := renderAll(i); err != nil {
				return err
			}
		}
	}
	if len(times) > 0 {
		sort.Float64s(times)
		q := func(p float64) float64 { return times[min(len(times)-1, int(p*float64(len(times))))] }
		var sum float64
		for _, t := range times {
			sum += t
		}
		fmt.Fprintf(env.Stdout, "browse      %d slice steps, %d zooms, %d pans; %d frames: median %.0f ms, p90 %.0f ms, max %.0f ms, total %.1f s\n",
			kinds["slice"], kinds["zoom"], kinds["pan"], len(times), 1e3*q(0.5), 1e3*q(0.9), 1e3*times[len(times)-1], sum)
	}
	if xz > 0 && methods.Niiv != nil {
		if err := timeXZ(ctx, env, vol, methods.Niiv, xz); err != nil {
			return err
		}
	}
	if hwm, rss := procMemory(); hwm > 0 {
		fmt.Fprintf(env.Stdout, "memory      peak RSS %s, now %s\n", volio.HumanBytes(hwm), volio.HumanBytes(rss))
	}
	return nil
}

// procMemory returns the process's peak and current resident memory in
// bytes (Linux; 0 elsewhere).
func procMemory() (hwm, rss int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = n << 10
		case "VmRSS:":
			rss = n << 10
		}
	}
	return hwm, rss
}

// timeXZ times n niiv frames of 512×512 xz views (the first 64 z rows
// upsampled to 512, 512 columns from the volume's middle, as niiv bench's
// view512 case) at planes y0+n … y0+2n−1,
// after a warm-up pass over y0 … y0+n−1 has read the chunks they share (and
// encoded those planes, not these).
func timeXZ(ctx context.Context, env *Env, vol *volume.Volume, r viewer.Renderer, n int) error {
	s := vol.Shape()
	if s.Y < 2*n || s.X < 512 {
		return nil
	}
	c0 := float64(s.X/2 - 256)
	y0 := s.Y/2 - n
	frame := func(y int) (time.Duration, error) {
		t := time.Now()
		_, err := r.Render(ctx, viewer.Slice{Vol: vol, Axis: volume.XZ, Index: float64(y), R0: 0, R1: float64(min(s.Z, 64)), C0: c0, C1: c0 + 512, W: 512, H: 512})
		return time.Since(t), err
	}
	for y := y0; y < y0+n; y++ {
		if _, err := frame(y); err != nil {
			return err
		}
	}
	var ds []float64
	for y := y0 + n; y < y0+2*n; y++ {
		d, err := frame(y)
		if err != nil {
			return err
		}
		ds = append(ds, d.Seconds())
	}
	sort.Float64s(ds)
	fmt.Fprintf(env.Stdout, "xz 512²     niiv frames of new planes, chunks cached: median %.0f ms (min %.0f, max %.0f, %d frames)\n", 1e3*ds[len(ds)/2], 1e3*ds[0], 1e3*ds[len(ds)-1], len(ds))
	return nil
}
