//go:build linux && cgo

package glrender

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"

	npyt "github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
)

// maxDispatch is the number of invocations per compute dispatch; larger
// jobs are split so that cancellation is checked between dispatches.
const maxDispatch = 1 << 18

// Accelerator runs one model's encoder and decoder in compute shaders on a
// Device (on an OpenGL 3.3 Device: the decoder in a fragment shader and
// the encoder on the CPU). It implements reconstruct.Accelerator and is
// safe for concurrent use (work is serialised on the device's thread).
type Accelerator struct {
	dev    *Device
	mlp    *reconstruct.DecoderMLP
	enc    *reconstruct.EncoderGraph
	feats  int
	widths []int
	points int // decoded per work group by the kernel in use

	// GL objects, touched only on the GL thread.
	decProg  uint32                 // the decoder kernel in use (one of kernels)
	kernels  []kernelProg           // the decoder kernels compiled for the device
	kernel   atomic.Int32           // index in kernels of the one in use
	tuned    []time.Duration        // per kernel: best time in Tune (nil: not tuned)
	encTuned []time.Duration        // per convPixels: best time in TuneEncoder
	rejected []string               // decoder kernels and conv variants left out, and why
	convGone [len(convPixels)]bool  // per convPixels: left out
	weights  uint32                 // decoder weights SSBO
	axes     uint32                 // per-row and per-column taps and encodings
	values   uint32                 // decoder output
	planes   map[*float32]*gpuPlane // encoded planes on the GPU, by latent identity
	lru      list.List              // of *gpuPlane, most recent first
	lruBytes int
	budget   int // bytes of planes kept (planeBudget)
	maxOut   int // values a storage buffer holds at most (maxOutput, or the GPU's limit)
	// The GPU's largest texture edge and texture-array depth.
	maxTex, maxLayers int
	convs             []convGL
	convProg          map[[4]int]uint32 // by in, out, kernel size and pixels a thread
	convVar           atomic.Int32      // index in convPixels of the variant in use
	eltProg           uint32
	pool              map[int][]uint32 // free SSBOs by size in floats
	dummy             uint32

	// On OpenGL 3.3: the fragment decoder, and the model that encodes on
	// the CPU (closed with the accelerator when ownEnc).
	frag   *fragState
	cpuEnc *reconstruct.Model
	ownEnc bool

	// With timing set, the GPU time of the encoder's and decoder's
	// dispatches is added up in gpuNS (for benchmarks).
	timing  atomic.Bool
	gpuNS   atomic.Int64
	queries []uint32 // timer queries not yet collected (GL thread)

	closeOnce sync.Once
}

// startTimer starts measuring the GPU time of the following commands when
// timing is on; stopTimer(q) ends it. They run on the GL thread and do not
// nest.
func (a *Accelerator) startTimer() uint32 {
	if !a.timing.Load() {
		return 0
	}
	var q uint32
	gl.GenQueries(1, &q)
	gl.BeginQuery(gl.TIME_ELAPSED, q)
	return q
}

func (a *Accelerator) stopTimer(q uint32) {
	if q == 0 {
		return
	}
	gl.EndQuery(gl.TIME_ELAPSED)
	a.queries = append(a.queries, q)
}

// collectTimers adds up the finished timer queries (after a read-back, so
// that waiting for them costs nothing).
func (a *Accelerator) collectTimers() {
	for _, q := range a.queries {
		var ns uint64
		gl.GetQueryObjectui64v(q, gl.QUERY_RESULT, &ns)
		gl.DeleteQueries(1, &q)
		a.gpuNS.Add(int64(ns))
	}
	a.queries = a.queries[:0]
}

// kernelProg is a decoder kernel compiled for the device (its points are
// those a work group decodes, also for the broadcast kernel).
type kernelProg struct {
	decoderKernel
	prog uint32
}

// KernelEnv names the environment variable that forces a decoder kernel
// ("broadcast", "tiled-32x128", …) instead of timing them on the device.
const KernelEnv = "NIIV_GL_KERNEL"

// compileKernels compiles the decoder kernels that fit the device (only
// the one KernelEnv names, when set) and uses the first; it runs on the GL
// thread.
func (a *Accelerator) compileKernels(head string, shared int) error {
	ks := decoderKernels(a.widths, shared)
	if want := os.Getenv(KernelEnv); want != "" {
		var names []string
		for _, k := range ks {
			names = append(names, k.name)
			if k.name == want {
				ks = []decoderKernel{k}
				break
			}
		}
		if len(ks) != 1 || ks[0].name != want {
			return fmt.Errorf("%s=%q: no such decoder kernel for this model on this device (it has %s)", KernelEnv, want, strings.Join(names, ", "))
		}
	}
	for i, k := range ks {
		kp := kernelProg{decoderKernel: k}
		src := ""
		if k.tiled {
			src = tiledDecodeShader(a.feats, a.widths, head, k)
		} else {
			_, kp.decoderKernel.points, _ = decodeLayout(a.widths, shared)
			src = decodeShader(a.feats, a.widths, head, shared)
		}
		if kernelSourceHook != nil {
			src = kernelSourceHook(k, src)
		}
		var err error
		if kp.prog, err = compile("decoder "+k.name, shaderSource{gl.COMPUTE_SHADER, src}); err != nil {
			if i == 0 {
				return err // the reference kernel, or the one KernelEnv asks for
			}
			// A driver that cannot build an alternative still has the
			// reference.
			a.rejected = append(a.rejected, k.name+" (does not compile)")
			continue
		}
		a.kernels = append(a.kernels, kp)
	}
	a.useKernel(0)
	return nil
}

// kernelSourceHook and convSourceHook, when set (by tests), edit each
// decoder kernel's and tiled convolution's source before it is compiled.
var (
	kernelSourceHook func(k decoderKernel, src string) string
	convSourceHook   func(px int, src string) string
)

// useKernel makes kernels[i] the decoder; it runs on the GL thread.
func (a *Accelerator) useKernel(i int) {
	a.kernel.Store(int32(i))
	a.decProg, a.points = a.kernels[i].prog, a.kernels[i].points
}

// Kernel returns the name of the decoder kernel in use ("fragment" on an
// OpenGL 3.3 device).
func (a *Accelerator) Kernel() string {
	if a.frag != nil {
		return "fragment"
	}
	return a.kernels[a.kernel.Load()].name
}

// Kernels returns the names of the compiled decoder kernels.
func (a *Accelerator) Kernels() []string {
	var names []string
	for _, k := range a.kernels {
		names = append(names, k.name)
	}
	return names
}

// SetKernel switches the decoder to the named kernel (one of Kernels).
func (a *Accelerator) SetKernel(name string) error {
	return a.dev.Do(func() error {
		for i, k := range a.kernels {
			if k.name == name {
				a.useKernel(i)
				return nil
			}
		}
		return fmt.Errorf("glrender: no decoder kernel %q (have %s)", name, strings.Join(a.Kernels(), ", "))
	})
}

// tunePoints returns the size of the decode Tune times each kernel on for
// an MLP of the given widths: about 2 GFLOP of work, between a 128×128 and
// a 512×512 view (enough to fill a large GPU, and for the dispatch to
// outweigh the transfers around it; a few milliseconds each on a laptop
// GPU for lite, under 0.1 s for paper).
func tunePoints(widths []int) int {
	macs := 0
	for l := 0; l+1 < len(widths); l++ {
		macs += widths[l] * widths[l+1]
	}
	return min(max(1_000_000_000/max(macs, 1), 128*128), 512*512)
}

// Tune decodes a synthetic plane of points outputs with every compiled
// decoder kernel (one untimed run, then the best of three, each waited
// for; then all again, keeping the better time), leaves out those whose
// output differs from the first kernel's (the reference) and keeps the
// fastest. It returns the kept kernels' times in
// the order of Kernels. NewAccelerator calls it on hardware renderers; it
// must not run concurrently with other calls on a.
func (a *Accelerator) Tune(ctx context.Context, points int) ([]time.Duration, error) {
	if a.frag != nil || len(a.kernels) < 2 {
		return nil, nil
	}
	const h, w = 16, 64
	latent := make([]float32, a.feats*h*w)
	low := make([]float32, h*w)
	for i := range latent {
		latent[i] = float32(i%97)/97 - 0.5
	}
	for i := range low {
		low[i] = float32(i%31) / 31
	}
	side := max(1, int(math.Sqrt(float64(points))))
	rows, cols := make([]float64, side), make([]float64, (points+side-1)/side)
	for i := range rows {
		rows[i] = -1 + 2*(float64(i)+0.5)/float64(len(rows))
	}
	for i := range cols {
		cols[i] = -1 + 2*(float64(i)+0.5)/float64(len(cols))
	}
	out := make([]float32, len(rows)*len(cols))
	axes := a.gridAxes(rows, cols, h, w, reconstruct.Whole(h, w))
	// timeKernel times kernel k, leaving its output in out.
	timeKernel := func(k kernelProg) (time.Duration, error) {
		if err := a.dev.Do(func() error { a.decProg, a.points = k.prog, k.points; return nil }); err != nil {
			return 0, err
		}
		t, err := a.timeRuns(func() error {
			return a.decode(ctx, latent, low, h, w, axes, len(rows), len(cols), out, false)
		})
		if err != nil {
			return 0, fmt.Errorf("glrender: tuning decoder kernel %s: %w", k.name, err)
		}
		return t, nil
	}
	var ref []float32
	var times []time.Duration
	var keep []kernelProg
	for i, k := range a.kernels {
		best, err := timeKernel(k)
		if err != nil {
			return nil, err
		}
		// Every kernel must compute what the reference (the first)
		// computes: a driver that miscompiles one loses that one only.
		if i == 0 {
			ref = slices.Clone(out)
		} else if e := npyt.MaxAbsDiff(out, ref); !(e <= tuneTol*max(1, maxAbs(ref))) {
			a.rejected = append(a.rejected, fmt.Sprintf("%s (differs from %s by %.2g)", k.name, a.kernels[0].name, e))
			prog := k.prog
			_ = a.dev.Do(func() error { gl.DeleteProgram(prog); return nil })
			continue
		}
		keep = append(keep, k)
		times = append(times, best)
	}
	// A second round, best of both: the first kernels ran while the GPU's
	// clocks may still have been rising.
	for j, k := range keep {
		best, err := timeKernel(k)
		if err != nil {
			return nil, err
		}
		times[j] = min(times[j], best)
	}
	fastest := 0
	for i, t := range times {
		if t < times[fastest] {
			fastest = i
		}
	}
	a.tuned = times
	return times, a.dev.Do(func() error {
		a.kernels = keep
		a.useKernel(fastest)
		return nil
	})
}

// timeRuns runs f four times and returns the best time of the last three:
// the GPU time of its dispatches (timer queries) where the driver measures
// it, else wall time (transfers included).
func (a *Accelerator) timeRuns(f func() error) (time.Duration, error) {
	timing, spent := a.timing.Swap(true), a.gpuNS.Load()
	defer func() { a.timing.Store(timing); a.gpuNS.Store(spent) }()
	best := time.Duration(-1)
	for run := 0; run < 4; run++ {
		a.gpuNS.Store(0)
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		// A timer that reads far below the wall time is not measuring
		// (llvmpipe reports 1 ns): the dispatches dominate these runs.
		if g := time.Duration(a.gpuNS.Load()); g > 0 && 20*g >= d {
			d = g
		}
		if run > 0 && (best < 0 || d < best) {
			best = d
		}
	}
	return best, nil
}

// tuneTol is how far (max abs, relative to the largest output when that
// exceeds 1) a kernel's output may be from the reference kernel's in Tune;
// the kernels differ only by rounding (below 1e-6 on the test tensors).
const tuneTol = 1e-4

// maxAbs returns the largest |v| of vs.
func maxAbs(vs []float32) float64 {
	m := 0.0
	for _, v := range vs {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// convPx returns the pixels a thread of the tiled conv shaders in use.
func (a *Accelerator) convPx() int { return convPixels[a.convVar.Load()] }

// ConvPixels returns the output pixels a thread of the encoder's tiled
// convolutions computes (4, 2 or 1).
func (a *Accelerator) ConvPixels() int { return a.convPx() }

// SetConvPixels makes the encoder's tiled convolutions compute px output
// pixels a thread (4, 2 or 1, unless left out).
func (a *Accelerator) SetConvPixels(px int) error {
	for i, p := range convPixels {
		if p == px && !a.convGone[i] {
			a.convVar.Store(int32(i))
			return nil
		}
	}
	return fmt.Errorf("glrender: no conv variant with %d pixels a thread (have %s)", px, a.convVariants())
}

// convVariants lists the conv variants not left out: "4, 2, 1".
func (a *Accelerator) convVariants() string {
	var px []string
	for i, p := range convPixels {
		if !a.convGone[i] {
			px = append(px, strconv.Itoa(p))
		}
	}
	return strings.Join(px, ", ")
}

// dropConv leaves conv variant i out for why and, when it is in use,
// switches to the first one left.
func (a *Accelerator) dropConv(i int, why string) {
	a.convGone[i] = true
	a.rejected = append(a.rejected, fmt.Sprintf("convolutions with %d px a thread (%s)", convPixels[i], why))
	if int(a.convVar.Load()) == i {
		a.convVar.Store(int32(slices.Index(a.convGone[:], false)))
	}
}

// TuneEncoder encodes a synthetic batch of n planes of h×w with every conv
// variant (one untimed run, then the best of three; two rounds), leaves out those
// whose latent differs from the 1-pixel reference's, and keeps the
// fastest. It returns the variants' times in the order of convPixels (0
// for one left out; nil on an OpenGL 3.3 device, where the CPU encodes).
// It must not run concurrently with other calls on a.
func (a *Accelerator) TuneEncoder(ctx context.Context, n, h, w int) ([]time.Duration, error) {
	if a.frag != nil || a.enc == nil {
		return nil, nil
	}
	low := make([]float32, n*h*w)
	for i := range low {
		low[i] = float32(i%53) / 53
	}
	encode := func(i int) ([]float32, error) {
		a.convVar.Store(int32(i))
		lat, err := a.Encode(ctx, low, n, h, w)
		if err != nil {
			return nil, fmt.Errorf("glrender: tuning the encoder (%d pixels a thread): %w", convPixels[i], err)
		}
		return lat, nil
	}
	ref, err := encode(slices.Index(convPixels[:], 1))
	if err != nil {
		return nil, err
	}
	times := make([]time.Duration, len(convPixels))
	fastest := -1
	for round := 0; round < 2; round++ { // best of two rounds, as in Tune
		for i := range convPixels {
			if a.convGone[i] {
				continue
			}
			if round == 0 {
				lat, err := encode(i)
				if err != nil {
					return nil, err
				}
				if e := npyt.MaxAbsDiff(lat, ref); !(e <= tuneTol*max(1, maxAbs(ref))) {
					a.dropConv(i, fmt.Sprintf("differs from 1 px by %.2g", e))
					continue
				}
			}
			t, err := a.timeRuns(func() error { _, err := encode(i); return err })
			if err != nil {
				return nil, err
			}
			if round == 0 || t < times[i] {
				times[i] = t
			}
			if fastest < 0 || times[i] < times[fastest] {
				fastest = i
			}
		}
	}
	a.convVar.Store(int32(fastest))
	a.encTuned = times
	return times, nil
}

// gridAxes returns the axis entries of a rows × cols grid of whole-plane
// coordinates on an h×w plane placed by crop.
func (a *Accelerator) gridAxes(rows, cols []float64, h, w int, crop reconstruct.Crop) []float32 {
	axes := make([]float32, 0, 8*(len(rows)+len(cols)))
	for _, r := range rows {
		axes = a.rowEntry(axes, r, crop, h)
	}
	for _, c := range cols {
		axes = a.colEntry(axes, c, crop, w)
	}
	return axes
}

// convGL is one convolution's weights on the GPU.
type convGL struct {
	cin, cout, k int
	buf          uint32
}

// NewAccelerator prepares m's encoder and decoder for the device: it reads
// their weights from the model's ONNX files, uploads them and compiles the
// shaders. On an OpenGL 3.3 device only the decoder goes to the GPU and
// the accelerator encodes with m's CPU path until SetCPUEncoder gives it
// another model (needed before it is installed on m; see EncoderOnCPU).
// Install the result with m.SetAccelerator; LoadModel does all of this
// and first checks the result against the model's CPU path.
func (d *Device) NewAccelerator(m *reconstruct.Model) (*Accelerator, error) {
	_, dec := m.ONNX()
	mlp, err := reconstruct.ReadDecoderMLP(dec, m.Feats())
	if err != nil {
		return nil, fmt.Errorf("glrender: model %s: %w", m.Name, err)
	}
	// OpenGL 3.3 encodes on the CPU: no encoder graph needed.
	var eg *reconstruct.EncoderGraph
	if !d.info.Fallback() {
		if eg, err = m.EncoderGraph(); err != nil {
			return nil, fmt.Errorf("glrender: %w", err)
		}
	}
	a, err := d.newAccelerator(mlp, eg)
	if err != nil {
		return nil, fmt.Errorf("glrender: model %s: %w", m.Name, err)
	}
	if a.frag != nil {
		a.cpuEnc = m
	}
	// Which kernel is fastest depends on the GPU: time them there (a few
	// milliseconds on a GPU; software renderers keep the first, and
	// KernelEnv leaves only the one it names).
	if !d.info.Software() {
		_, err := a.Tune(context.Background(), tunePoints(a.widths))
		if err == nil {
			// Two xz slices of a 128³ volume pooled ×8.
			_, err = a.TuneEncoder(context.Background(), 2, 16, 128)
		}
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("glrender: model %s: %w", m.Name, err)
		}
	}
	return a, nil
}

// newAccelerator uploads a decoder and an encoder graph.
func (d *Device) newAccelerator(mlp *reconstruct.DecoderMLP, eg *reconstruct.EncoderGraph) (*Accelerator, error) {
	a := &Accelerator{dev: d, mlp: mlp, enc: eg, feats: mlp.Feats, convProg: map[[4]int]uint32{}, pool: map[int][]uint32{}, planes: map[*float32]*gpuPlane{}, budget: planeBudget, maxOut: maxOutput}
	a.widths = []int{mlp.Layers[0].In}
	var layers [][2][]float32
	for _, l := range mlp.Layers {
		a.widths = append(a.widths, l.Out)
		layers = append(layers, [2][]float32{l.W, l.B})
	}
	_ = d.Do(func() error {
		var tex, layers int32
		gl.GetIntegerv(gl.MAX_TEXTURE_SIZE, &tex)
		gl.GetIntegerv(gl.MAX_ARRAY_TEXTURE_LAYERS, &layers)
		a.maxTex, a.maxLayers = int(tex), int(layers)
		if !d.info.Fallback() {
			var ssbo int64
			gl.GetInteger64v(gl.MAX_SHADER_STORAGE_BLOCK_SIZE, &ssbo)
			// Every storage buffer a shader sees must fit the block limit
			// (at least 16 MB by the specification).
			a.maxOut = int(min(int64(a.maxOut), max(ssbo, 1<<24)/4))
		}
		return nil
	})
	if d.info.Fallback() {
		err := d.Do(func() error {
			var err error
			a.frag, err = newFragDecoder(a.feats, a.widths, mlp.Head, layers)
			return err
		})
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	wts := packDecoderWeights(layers, a.widths)
	err := d.Do(func() error {
		var err error
		var shared int32
		gl.GetIntegerv(gl.MAX_COMPUTE_SHARED_MEMORY_SIZE, &shared)
		if err := a.compileKernels(mlp.Head, int(shared)); err != nil {
			return err
		}
		if a.eltProg, err = compile("elementwise", shaderSource{gl.COMPUTE_SHADER, elementwiseShader}); err != nil {
			return err
		}
		a.weights = newBuffer(wts)
		a.dummy = newBuffer(make([]float32, 4))
		gl.GenBuffers(1, &a.axes)
		gl.GenBuffers(1, &a.values)
		for _, n := range eg.Nodes {
			if n.Op == "Conv" {
				if err := a.addConv(n.Conv); err != nil {
					return err
				}
			}
		}
		return glError("upload model")
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// newBuffer creates a shader storage buffer holding data.
func newBuffer(data []float32) uint32 {
	var b uint32
	gl.GenBuffers(1, &b)
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, b)
	gl.BufferData(gl.SHADER_STORAGE_BUFFER, 4*len(data), gl.Ptr(data), gl.STATIC_DRAW)
	return b
}

// Device describes the accelerator's device.
func (a *Accelerator) Device() string {
	s := "gl: " + a.dev.Info().String()
	if a.frag == nil {
		s += ", decoder kernel " + a.Kernel()
		if a.tuned != nil {
			s += " (fastest of " + strings.Join(a.Kernels(), ", ") + " on this device)"
		}
		if a.encTuned != nil {
			s += fmt.Sprintf(", encoder convolutions %d px a thread (fastest of %s)", a.convPx(), a.convVariants())
		}
		if a.rejected != nil {
			s += "; left out: " + strings.Join(a.rejected, ", ")
		}
	}
	return s
}

// Close releases the accelerator's GPU objects (not the device).
func (a *Accelerator) Close() error {
	a.closeOnce.Do(func() {
		_ = a.dev.Do(func() error {
			for _, k := range a.kernels {
				gl.DeleteProgram(k.prog)
			}
			gl.DeleteProgram(a.eltProg)
			for _, p := range a.convProg {
				gl.DeleteProgram(p)
			}
			bufs := []uint32{a.weights, a.axes, a.values, a.dummy}
			for _, c := range a.convs {
				bufs = append(bufs, c.buf)
			}
			for _, l := range a.pool {
				bufs = append(bufs, l...)
			}
			for _, b := range bufs {
				if b != 0 {
					gl.DeleteBuffers(1, &b)
				}
			}
			for a.lru.Len() > 0 {
				a.evict()
			}
			if a.frag != nil {
				a.frag.delete()
			}
			return nil
		})
		if a.ownEnc && a.cpuEnc != nil {
			a.cpuEnc.Close()
		}
	})
	return nil
}

// dispatch runs the bound compute program over total items (perGroup to a
// work group) in chunks of maxDispatch when chunked, setting the uniforms
// "total" and "first" (when the program has it) for each chunk, and checks
// ctx between chunks. Chunked dispatches (the decoder's) each write their
// own part of the output and read nothing another writes, so the GPU may
// overlap them: no barrier follows them (readValues has one); others (the
// encoder's) are followed by a storage barrier for the next to read.
func dispatch(ctx context.Context, prog uint32, total, perGroup int, chunked bool) error {
	uTotal := gl.GetUniformLocation(prog, gl.Str("total\x00"))
	uFirst := gl.GetUniformLocation(prog, gl.Str("first\x00"))
	step := total
	if chunked {
		step = maxDispatch
	}
	for f := 0; f < total; f += step {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(step, total-f)
		gl.Uniform1i(uTotal, int32(n))
		if uFirst >= 0 {
			gl.Uniform1i(uFirst, int32(f))
		}
		groups := (n + perGroup - 1) / perGroup
		gx, gy := groups, 1
		if groups > 65535 {
			gx, gy = 65535, (groups+65534)/65535
		}
		gl.DispatchCompute(uint32(gx), uint32(gy), 1)
		if !chunked {
			gl.MemoryBarrier(gl.SHADER_STORAGE_BARRIER_BIT)
		}
		if chunked && f+n < total {
			gl.Finish() // bounded latency per chunk, so cancellation is prompt
		}
	}
	return nil
}

// planeBudget is the GPU memory the accelerator keeps encoded planes in,
// so that decoding a plane again (zoom, pan, the rows of an xy view)
// uploads nothing.
const planeBudget = 256 << 20

// gpuPlane is an encoded plane on the GPU: the latent [F][h][w] as an
// RGBA32F texture array of ⌈F/4⌉ layers and the input [h][w] as R32F.
type gpuPlane struct {
	// The CPU slices it was uploaded from: held so that no other plane
	// can be allocated at their addresses while this one is cached.
	latent, low []float32
	h, w        int
	lat, lo     uint32
	bytes       int
	elem        *list.Element
}

// plane returns the textures of an encoded plane, uploading it unless
// cache is set and the same slices were uploaded before; it runs on the GL
// thread.
func (a *Accelerator) plane(latent, low []float32, h, w int, cache bool) (*gpuPlane, error) {
	f := a.feats
	if len(latent) != f*h*w || len(low) != h*w || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("glrender: plane %dx%d: latent has %d values, input %d, want %d and %d", h, w, len(latent), len(low), f*h*w, h*w)
	}
	if h > a.maxTex || w > a.maxTex || (f+3)/4 > a.maxLayers {
		return nil, fmt.Errorf("glrender: a %d×%d plane of %d channels exceeds the GPU's largest texture (%d×%d, %d layers): %w",
			h, w, f, a.maxTex, a.maxTex, a.maxLayers, reconstruct.ErrDeviceLimit)
	}
	key := unsafe.SliceData(latent)
	if p, ok := a.planes[key]; ok {
		if cache && p.h == h && p.w == w && len(p.latent) == len(latent) && unsafe.SliceData(p.low) == unsafe.SliceData(low) {
			a.lru.MoveToFront(p.elem)
			return p, nil
		}
		a.drop(p)
	}
	layers := (f + 3) / 4
	hw := h * w
	tex := make([]float32, 4*layers*hw)
	for c := 0; c < f; c++ {
		l, ch := c/4, c%4
		src := latent[c*hw : (c+1)*hw]
		dst := tex[l*4*hw:]
		for i, v := range src {
			dst[4*i+ch] = v
		}
	}
	p := &gpuPlane{latent: latent, low: low, h: h, w: w, bytes: 4 * (len(tex) + hw)}
	gl.GenTextures(1, &p.lat)
	gl.GenTextures(1, &p.lo)
	gl.PixelStorei(gl.UNPACK_ALIGNMENT, 4)
	for _, t := range []struct{ target, tex uint32 }{{gl.TEXTURE_2D_ARRAY, p.lat}, {gl.TEXTURE_2D, p.lo}} {
		gl.BindTexture(t.target, t.tex)
		gl.TexParameteri(t.target, gl.TEXTURE_MIN_FILTER, gl.NEAREST)
		gl.TexParameteri(t.target, gl.TEXTURE_MAG_FILTER, gl.NEAREST)
	}
	gl.BindTexture(gl.TEXTURE_2D_ARRAY, p.lat)
	gl.TexImage3D(gl.TEXTURE_2D_ARRAY, 0, gl.RGBA32F, int32(w), int32(h), int32(layers), 0, gl.RGBA, gl.FLOAT, gl.Ptr(tex))
	gl.BindTexture(gl.TEXTURE_2D, p.lo)
	gl.TexImage2D(gl.TEXTURE_2D, 0, gl.R32F, int32(w), int32(h), 0, gl.RED, gl.FLOAT, gl.Ptr(low))
	if err := glError("upload plane"); err != nil {
		gl.DeleteTextures(1, &p.lat)
		gl.DeleteTextures(1, &p.lo)
		return nil, err
	}
	for a.lru.Len() > 0 && a.lruBytes+p.bytes > a.budget {
		a.evict()
	}
	p.elem = a.lru.PushFront(p)
	a.lruBytes += p.bytes
	if cache {
		a.planes[key] = p
	}
	return p, nil
}

// evict drops the least recently used plane.
func (a *Accelerator) evict() { a.drop(a.lru.Back().Value.(*gpuPlane)) }

// drop deletes a plane's textures and forgets it.
func (a *Accelerator) drop(p *gpuPlane) {
	gl.DeleteTextures(1, &p.lat)
	gl.DeleteTextures(1, &p.lo)
	a.lru.Remove(p.elem)
	a.lruBytes -= p.bytes
	if q, ok := a.planes[unsafe.SliceData(p.latent)]; ok && q == p {
		delete(a.planes, unsafe.SliceData(p.latent))
	}
}

// axisEntry appends the 8 floats of one coordinate: the two bilinear taps
// (indices and weights, as reconstruct computes them) and the 4-value
// positional encoding.
func (a *Accelerator) axisEntry(dst []float32, c float64, i0, i1 int, w0, w1 float32) []float32 {
	var pe [4]float64
	reconstruct.PositionalEncoding(c, pe[:])
	return append(dst, float32(i0), float32(i1), w0, w1, float32(pe[0]), float32(pe[1]), float32(pe[2]), float32(pe[3]))
}

// rowEntry and colEntry append the entry of row (column) coordinate c of
// the whole plane, with its taps in the encoded part of h rows (w columns)
// placed by crop.
func (a *Accelerator) rowEntry(dst []float32, c float64, crop reconstruct.Crop, h int) []float32 {
	i0, i1, w0, w1 := crop.RowTaps(c, h, a.mlp.Border)
	return a.axisEntry(dst, c, i0, i1, w0, w1)
}

func (a *Accelerator) colEntry(dst []float32, c float64, crop reconstruct.Crop, w int) []float32 {
	i0, i1, w0, w1 := crop.ColTaps(c, w, a.mlp.Border)
	return a.axisEntry(dst, c, i0, i1, w0, w1)
}

// decode runs the decoder over q points described by axes (rows entries
// first, columns from colBase) into out.
func (a *Accelerator) decode(ctx context.Context, latent, low []float32, h, w int, axes []float32, colBase, gridW int, out []float32, cache bool) error {
	return a.dev.Do(func() error {
		p, err := a.plane(latent, low, h, w, cache)
		if err != nil {
			return err
		}
		if !cache {
			defer a.drop(p)
		}
		if a.frag != nil {
			return a.fragDecode(ctx, p, axes, colBase, gridW, out)
		}
		a.bindDecoder(axes, len(out), colBase, gridW)
		q := a.startTimer()
		err = a.dispatchPlane(ctx, p, 0, len(out))
		a.stopTimer(q)
		if err != nil {
			return err
		}
		return a.readValues(out)
	})
}

// bindDecoder uploads the axes, sizes the output for n points and binds
// the decoder's program, buffers and uniforms; it runs on the GL thread.
func (a *Accelerator) bindDecoder(axes []float32, n, colBase, gridW int) {
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, a.axes)
	gl.BufferData(gl.SHADER_STORAGE_BUFFER, 4*len(axes), gl.Ptr(axes), gl.STREAM_DRAW)
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, a.values)
	gl.BufferData(gl.SHADER_STORAGE_BUFFER, 4*n, nil, gl.STREAM_READ)
	gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 0, a.weights)
	gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 1, a.axes)
	gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 2, a.values)
	gl.UseProgram(a.decProg)
	gl.Uniform1i(gl.GetUniformLocation(a.decProg, gl.Str("gridW\x00")), int32(gridW))
	gl.Uniform1i(gl.GetUniformLocation(a.decProg, gl.Str("colBase\x00")), int32(colBase))
}

// dispatchPlane decodes n points of plane p into the output from index
// outBase; it runs on the GL thread after bindDecoder.
func (a *Accelerator) dispatchPlane(ctx context.Context, p *gpuPlane, outBase, n int) error {
	gl.ActiveTexture(gl.TEXTURE0)
	gl.BindTexture(gl.TEXTURE_2D_ARRAY, p.lat)
	gl.ActiveTexture(gl.TEXTURE1)
	gl.BindTexture(gl.TEXTURE_2D, p.lo)
	gl.ActiveTexture(gl.TEXTURE0)
	gl.UseProgram(a.decProg)
	gl.Uniform1i(gl.GetUniformLocation(a.decProg, gl.Str("outBase\x00")), int32(outBase))
	return dispatch(ctx, a.decProg, n, a.points, true)
}

// readValues reads the decoder's output back into out.
func (a *Accelerator) readValues(out []float32) error {
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, a.values)
	// Shader writes must be visible to the read-back.
	gl.MemoryBarrier(gl.BUFFER_UPDATE_BARRIER_BIT)
	gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(out), gl.Ptr(out))
	a.collectTimers()
	return glError("decode")
}

// DecodeGrids implements reconstruct.GridBatcher: the planes are decoded
// one dispatch each and read back together. Planes are kept on the GPU as
// DecodeGrid keeps them.
func (a *Accelerator) DecodeGrids(ctx context.Context, planes []reconstruct.EncodedPlane, h, w int, crop reconstruct.Crop, rows, cols []float64, out []float32) error {
	per := len(rows) * len(cols)
	if len(out) < len(planes)*per {
		return fmt.Errorf("glrender: decode %d planes of %d×%d into %d values", len(planes), len(rows), len(cols), len(out))
	}
	if per == 0 || len(planes) == 0 {
		return nil
	}
	if per > a.maxOut {
		for k, p := range planes {
			if err := a.DecodeGrid(ctx, p.Latent, p.Low, h, w, crop, rows, cols, out[k*per:(k+1)*per]); err != nil {
				return err
			}
		}
		return nil
	}
	axes := a.gridAxes(rows, cols, h, w, crop)
	if a.frag != nil {
		return a.fragGrids(ctx, planes, h, w, axes, len(rows), len(cols), out)
	}
	nb := max(1, a.maxOut/per)
	for b0 := 0; b0 < len(planes); b0 += nb {
		b1 := min(len(planes), b0+nb)
		err := a.dev.Do(func() error {
			a.bindDecoder(axes, (b1-b0)*per, len(rows), len(cols))
			for k := b0; k < b1; k++ {
				p, err := a.plane(planes[k].Latent, planes[k].Low, h, w, true)
				if err != nil {
					return err
				}
				q := a.startTimer()
				err = a.dispatchPlane(ctx, p, (k-b0)*per, per)
				a.stopTimer(q)
				if err != nil {
					return err
				}
			}
			return a.readValues(out[b0*per : b1*per])
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// DecodeGrid implements reconstruct.Accelerator. The plane stays on the
// GPU (up to 256 MB of planes, least recently used dropped first) keyed by
// the identity of latent and low, which must therefore not be modified
// after the call, as reconstruct's encoded planes never are.
func (a *Accelerator) DecodeGrid(ctx context.Context, latent, low []float32, h, w int, crop reconstruct.Crop, rows, cols []float64, out []float32) error {
	if len(out) < len(rows)*len(cols) {
		return fmt.Errorf("glrender: decode %d×%d into %d values", len(rows), len(cols), len(out))
	}
	if len(rows) == 0 || len(cols) == 0 {
		return nil
	}
	// Large outputs go in blocks of rows, keeping the output buffer within
	// every driver's storage-block limit.
	step := max(1, a.maxOut/len(cols))
	var colAxes []float32
	for _, c := range cols {
		colAxes = a.colEntry(colAxes, c, crop, w)
	}
	for r0 := 0; r0 < len(rows); r0 += step {
		r1 := min(len(rows), r0+step)
		axes := make([]float32, 0, 8*(r1-r0)+len(colAxes))
		for _, r := range rows[r0:r1] {
			axes = a.rowEntry(axes, r, crop, h)
		}
		axes = append(axes, colAxes...)
		if err := a.decode(ctx, latent, low, h, w, axes, r1-r0, len(cols), out[r0*len(cols):r1*len(cols)], true); err != nil {
			return err
		}
	}
	return nil
}

// maxOutput is the most values one storage buffer holds (64 MB), below
// the GPU's own limit where that is smaller: a decode call's output and an
// encoder tensor.
const maxOutput = 1 << 24

// DecodePoints implements reconstruct.Accelerator; it uploads the plane
// each time.
func (a *Accelerator) DecodePoints(ctx context.Context, latent, low []float32, h, w int, coords []float32) ([]float32, error) {
	q := len(coords) / 2
	out := make([]float32, q)
	if q == 0 {
		return out, nil
	}
	axes := make([]float32, 0, 16*q)
	for i := 0; i < q; i++ {
		axes = a.rowEntry(axes, float64(coords[2*i]), reconstruct.Whole(h, w), h)
	}
	for i := 0; i < q; i++ {
		axes = a.colEntry(axes, float64(coords[2*i+1]), reconstruct.Whole(h, w), w)
	}
	return out, a.decode(ctx, latent, low, h, w, axes, q, 0, out, false)
}

// addConv compiles the shader for a convolution's shape (once per shape)
// and uploads its weights; it runs on the GL thread.
func (a *Accelerator) addConv(c *reconstruct.Conv) error {
	pxs := []int{1}
	if _, _, ok := convTiling(c.In, c.Out); ok {
		pxs = convPixels[:]
	}
	for _, px := range pxs {
		key := [4]int{c.In, c.Out, c.K, px}
		i := slices.Index(convPixels[:], px)
		if _, ok := a.convProg[key]; ok || a.convGone[i] {
			continue
		}
		src := convShader(c.In, c.Out, c.K)
		if len(pxs) > 1 {
			src = tiledConvShader(c.In, c.Out, c.K, px)
		}
		if convSourceHook != nil {
			src = convSourceHook(px, src)
		}
		p, err := compile(fmt.Sprintf("conv %dx%d %d→%d (%d px a thread)", c.K, c.K, c.In, c.Out, px), shaderSource{gl.COMPUTE_SHADER, src})
		if err != nil {
			if px == 1 {
				return err // the reference
			}
			a.dropConv(i, "does not compile")
			continue
		}
		a.convProg[key] = p
	}
	a.convs = append(a.convs, convGL{cin: c.In, cout: c.Out, k: c.K, buf: newBuffer(packConv(c.W, c.B, c.In, c.Out, c.K))})
	return nil
}

// runConv runs convolution c on the n planes of h×w in SSBO x into o,
// adding res (0: none) and applying a ReLU when asked; it runs on the GL
// thread.
func (a *Accelerator) runConv(ctx context.Context, c convGL, x, res, o uint32, n, h, w int, relu bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cot, _, tiled := convTiling(c.cin, c.cout)
	px := 1
	if tiled {
		px = a.convPx()
	}
	prog := a.convProg[[4]int{c.cin, c.cout, c.k, px}]
	gl.UseProgram(prog)
	gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 0, x)
	gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 1, c.buf)
	rb := res
	if rb == 0 {
		rb = a.dummy
	}
	gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 2, rb)
	gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 3, o)
	gl.Uniform1i(gl.GetUniformLocation(prog, gl.Str("H\x00")), int32(h))
	gl.Uniform1i(gl.GetUniformLocation(prog, gl.Str("W\x00")), int32(w))
	gl.Uniform1i(gl.GetUniformLocation(prog, gl.Str("hasRes\x00")), b2i(res != 0))
	gl.Uniform1i(gl.GetUniformLocation(prog, gl.Str("relu\x00")), b2i(relu))
	if tiled {
		gl.DispatchCompute(uint32((w+convTile*px-1)/(convTile*px)), uint32((h+convTile-1)/convTile), uint32(n*c.cout/cot))
		gl.MemoryBarrier(gl.SHADER_STORAGE_BARRIER_BIT)
		return nil
	}
	return dispatch(ctx, prog, n*c.cout*h*w, groupSize, false)
}

// buffer returns an SSBO of n floats from the pool or a new one.
func (a *Accelerator) buffer(n int) uint32 {
	if l := a.pool[n]; len(l) > 0 {
		b := l[len(l)-1]
		a.pool[n] = l[:len(l)-1]
		return b
	}
	var b uint32
	gl.GenBuffers(1, &b)
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, b)
	gl.BufferData(gl.SHADER_STORAGE_BUFFER, 4*n, nil, gl.DYNAMIC_COPY)
	return b
}

// tensor is a value of the encoder graph on the GPU: [n][c][h][w].
type tensor struct {
	buf uint32
	c   int
}

// widestConv returns the most channels an encoder tensor has.
func (a *Accelerator) widestConv() int {
	widest := 1
	for _, nd := range a.enc.Nodes {
		if nd.Conv != nil {
			widest = max(widest, nd.Conv.Out)
		}
	}
	return widest
}

// Encode implements reconstruct.Accelerator: it runs the encoder graph
// node by node, fusing a convolution with a ReLU or a residual Add that is
// its only consumer. Planes are encoded a few at a time so that no tensor
// exceeds a.maxOut values; a plane whose activations alone exceed it is
// refused with reconstruct.ErrDeviceLimit (the model then encodes it on
// the CPU).
func (a *Accelerator) Encode(ctx context.Context, lowres []float32, n, h, w int) ([]float32, error) {
	if len(lowres) != n*h*w || n <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("glrender: encode: %d values for %d×%d×%d", len(lowres), n, h, w)
	}
	if a.frag != nil {
		return a.encodeCPU(ctx, lowres, n, h, w)
	}
	widest := a.widestConv()
	if widest*h*w > a.maxOut {
		return nil, fmt.Errorf("glrender: encode a %d×%d plane: its %d-channel activations need %d MB, the GPU's storage buffers hold %d MB: %w",
			h, w, widest, 4*widest*h*w>>20, 4*a.maxOut>>20, reconstruct.ErrDeviceLimit)
	}
	per := max(1, a.maxOut/(widest*h*w))
	if per >= n {
		return a.encode(ctx, lowres, n, h, w)
	}
	out := make([]float32, 0, n*a.feats*h*w)
	for b := 0; b < n; b += per {
		nb := min(per, n-b)
		lat, err := a.encode(ctx, lowres[b*h*w:(b+nb)*h*w], nb, h, w)
		if err != nil {
			return nil, err
		}
		out = append(out, lat...)
	}
	return out, nil
}

// encode encodes n planes in one pass.
func (a *Accelerator) encode(ctx context.Context, lowres []float32, n, h, w int) ([]float32, error) {
	g := a.enc
	uses := map[string]int{}
	for _, nd := range g.Nodes {
		for _, in := range nd.Inputs {
			uses[in]++
		}
	}
	uses[g.Output]++
	var out []float32
	err := a.dev.Do(func() error {
		vals := map[string]tensor{}
		defer func() {
			for _, t := range vals {
				a.pool[n*t.c*h*w] = append(a.pool[n*t.c*h*w], t.buf)
			}
		}()
		in := a.buffer(n * h * w)
		gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, in)
		gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(lowres), gl.Ptr(lowres))
		vals[g.Input] = tensor{in, 1}
		q := a.startTimer()
		defer func() { a.stopTimer(q) }()
		release := func(name string) {
			uses[name]--
			if uses[name] == 0 {
				t := vals[name]
				delete(vals, name)
				a.pool[n*t.c*h*w] = append(a.pool[n*t.c*h*w], t.buf)
			}
		}
		skip := map[int]bool{}
		conv := 0
		for i, nd := range g.Nodes {
			if skip[i] {
				continue
			}
			for _, in := range nd.Inputs {
				if _, ok := vals[in]; !ok {
					return fmt.Errorf("glrender: encoder value %s used before it is computed", in)
				}
			}
			switch nd.Op {
			case "Conv":
				c := a.convs[conv]
				conv++
				x := vals[nd.Inputs[0]]
				if x.c != c.cin {
					return fmt.Errorf("glrender: encoder conv %s: %d input channels, want %d", nd.Output, x.c, c.cin)
				}
				outName, relu, res := nd.Output, false, ""
				// Fuse the sole consumer when it is a ReLU or an Add whose
				// other input is ready.
				if uses[nd.Output] == 1 {
				consumer:
					for j := i + 1; j < len(g.Nodes); j++ {
						nj := g.Nodes[j]
						if !contains(nj.Inputs, nd.Output) {
							continue
						}
						switch {
						case nj.Op == "Relu":
							relu, outName = true, nj.Output
							skip[j] = true
						case nj.Op == "Add" && nj.Inputs[0] != nj.Inputs[1]:
							other := nj.Inputs[0]
							if other == nd.Output {
								other = nj.Inputs[1]
							}
							if t, ok := vals[other]; ok && t.c == c.cout {
								res, outName = other, nj.Output
								skip[j] = true
							}
						}
						break consumer
					}
				}
				o := a.buffer(n * c.cout * h * w)
				rb := uint32(0)
				if res != "" {
					rb = vals[res].buf
				}
				if err := a.runConv(ctx, c, x.buf, rb, o, n, h, w, relu); err != nil {
					return err
				}
				vals[outName] = tensor{o, c.cout}
				release(nd.Inputs[0])
				if res != "" {
					release(res)
				}
			case "Relu", "Add":
				x := vals[nd.Inputs[0]]
				y := x
				if nd.Op == "Add" {
					y = vals[nd.Inputs[1]]
					if y.c != x.c {
						return fmt.Errorf("glrender: encoder add %s of %d and %d channels", nd.Output, x.c, y.c)
					}
				}
				o := a.buffer(n * x.c * h * w)
				gl.UseProgram(a.eltProg)
				gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 0, x.buf)
				gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 2, y.buf)
				gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, 3, o)
				gl.Uniform1i(gl.GetUniformLocation(a.eltProg, gl.Str("op\x00")), b2i(nd.Op == "Relu"))
				if err := dispatch(ctx, a.eltProg, n*x.c*h*w, groupSize, false); err != nil {
					return err
				}
				vals[nd.Output] = tensor{o, x.c}
				for _, in := range nd.Inputs {
					release(in)
				}
			default:
				return fmt.Errorf("glrender: encoder operation %s", nd.Op)
			}
		}
		res, ok := vals[g.Output]
		if !ok {
			return errors.New("glrender: the encoder graph does not compute its output")
		}
		if res.c != a.feats {
			return fmt.Errorf("glrender: encoder output has %d channels, the decoder takes %d", res.c, a.feats)
		}
		a.stopTimer(q)
		q = 0
		out = make([]float32, n*res.c*h*w)
		gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, res.buf)
		gl.MemoryBarrier(gl.BUFFER_UPDATE_BARRIER_BIT)
		gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(out), unsafe.Pointer(&out[0]))
		a.collectTimers()
		return glError("encode")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}
