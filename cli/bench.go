package cli

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/niiv/niiv/assets"
	"github.com/niiv/niiv/reconstruct"
	glrender "github.com/niiv/niiv/render/gl"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

//go:embed bench_torch.py
var benchTorchPy []byte

// benchCases are the cases of `niiv bench`, in run order.
var benchCases = []string{"matmul2048", "view512", "view512cold", "volume128", "xy128"}

// blasCase is the matrix product timed, in every run with the torch
// reference, through both the Go kernel and PyTorch to tell whether PyTorch's
// BLAS is a meaningful reference (see blasWarning); blasN is its size.
const (
	blasCase = "blas1024"
	blasN    = 1024
)

// blasMinFraction is the share of the Go kernel's throughput below which
// PyTorch's matrix product is taken to run on a crippled BLAS. An optimised
// BLAS (OpenBLAS, MKL) runs a large float32 product at 0.8–1.5× the Go
// kernel's 6×16 AVX2 kernel on the same threads (README: 95–100 GFLOP/s per
// core against the kernel's 110–120), and the two are timed one after the
// other, so load from other processes can cost either side up to about 2×
// even on the better of wall and CPU time (see throughput); a factor of 4
// leaves that margin. Debian's reference BLAS, which PyTorch links when
// OpenBLAS is missing, runs 15–50× below the kernel.
const blasMinFraction = 0.25

// throughput is a matrix product's speed measured two ways: GFLOP/s of wall
// time, and GFLOP per CPU-second (per-core efficiency).
type throughput struct{ Wall, CPU float64 }

// best is the higher of the two. Neither overstates what the library can
// do: wall time gains from threads, and CPU time leaves out the time the
// process waited for a core, which on a shared machine can slow a
// multi-threaded BLAS's wall time by 4× or more (its threads wait for each
// other) while its CPU time stays put.
func (t throughput) best() float64 { return max(t.Wall, t.CPU) }

// benchImpls are the implementations --impls may name (go-gl replaces
// go-native on the GPU).
var benchImpls = []string{"go-native", "go-int8", "go-ort", "torch"}

// benchRecord is one measurement, printed as a JSON line with --json.
type benchRecord struct {
	Case   string  `json:"case"`
	Model  string  `json:"model"`
	Impl   string  `json:"impl"`
	MS     float64 `json:"ms"`
	CPUMS  float64 `json:"cpu_ms"`
	GFLOPS float64 `json:"gflops,omitempty"`
	// GFLOPSCPU is the work over CPU time: per-core efficiency, robust to
	// other processes sharing the machine.
	GFLOPSCPU float64 `json:"gflops_per_cpu_s,omitempty"`
	RSSMB     float64 `json:"peak_rss_mb,omitempty"`
	Note      string  `json:"note,omitempty"`
}

func init() {
	register(&Command{
		Name:  "bench",
		Short: "time the engine against ONNX Runtime and PyTorch on this machine",
		Args:  "",
		Summary: "Measure the engine on this machine, each case beside the PyTorch reference (the training\n" +
			"package's model with the same weights and threads, run in the same invocation):\n" +
			"  matmul2048  a 2048³ float32 matrix product (the machine's throughput; Go kernel and torch)\n" +
			"  view512     one xz slice of a 128³ volume (factor 8) decoded at 512×512, latent cached\n" +
			"  view512cold the same for a slice not encoded yet (encode + decode: a new slice in the viewer)\n" +
			"  volume128   a whole 128³ volume from factor 8 (encode 128 xz slices, decode 128×128 each)\n" +
			"  xy128       the xy plane at a fractional z of a 128² volume, from cold\n" +
			"Implementations: go-native (ORT encoder + native Go decoder, the default engine), go-int8\n" +
			"(the same with int8 hidden layers, --int8), go-ort (plain ONNX Runtime for both graphs), torch;\n" +
			"with --device gl (or auto on a GPU that is faster), go-gl (encoder and decoder on the GPU) replaces the\n" +
			"Go ones. Times are medians; cpu_ms is process CPU time.\n" +
			"With torch, blas1024 (a 1024³ float32 product through the Go kernel and through PyTorch, the\n" +
			"better of wall and CPU-second throughput) runs first: when PyTorch's is under a quarter of the\n" +
			"kernel's, PyTorch runs on a crippled BLAS (Debian's reference BLAS without libopenblas0-pthread),\n" +
			"so bench warns, names the fix and leaves the \"vs torch\" ratios out.",
		MinArgs: 0, MaxArgs: 0,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			var ef engineFlags
			ef.register(fs)
			asJSON := fs.Bool("json", false, "print one JSON object per line: {\"case\",\"model\",\"impl\",\"ms\",...}")
			models := fs.String("models", "", "comma-separated models (embedded names or folders); default: every embedded model")
			cases := fs.String("cases", strings.Join(benchCases, ","), "comma-separated cases")
			impls := fs.String("impls", strings.Join(benchImpls, ","), "comma-separated implementations")
			reps := fs.Int("reps", 3, "repetitions per case (cases over 2 s run once)")
			python := fs.String("python", "/usr/bin/python3", "Python with PyTorch, for the torch reference")
			train := fs.String("train", "", "the training package folder (default: reconstruct/train above the working directory)")
			return func(ctx context.Context, env *Env, args []string) error {
				if err := ef.check(); err != nil {
					return err
				}
				b := &bench{env: env, ef: ef, reps: max(1, *reps), asJSON: *asJSON,
					cases: splitSet(*cases), impls: splitSet(*impls)}
				if err := checkList("--cases", "case", *cases, b.cases, benchCases); err != nil {
					return err
				}
				if err := checkList("--impls", "implementation", *impls, b.impls, benchImpls); err != nil {
					return err
				}
				embedded := reconstruct.EmbeddedNames(assets.Models)
				var names []string
				if *models == "" {
					names = embedded
					if len(names) == 0 {
						fmt.Fprintln(env.Stderr, "niiv bench: no embedded model; give --models FOLDER,… to time the niiv cases")
					}
				} else {
					for _, name := range strings.Split(*models, ",") {
						if name = strings.TrimSpace(name); name == "" {
							continue
						}
						if !isModelRef(name, embedded) {
							return usageErrorf("--models: unknown model %q (want a model folder or an embedded model: %s)", name, wordList(embedded))
						}
						names = append(names, name)
					}
					if len(names) == 0 {
						return usageErrorf("--models %q: no model named (want model folders or embedded models: %s; leave it out for every embedded model)", *models, wordList(embedded))
					}
				}
				return b.run(ctx, names, *python, *train)
			}
		},
	})
}

// checkList refuses a comma-separated flag value that names nothing, or
// a noun not in valid.
func checkList(flagName, noun, value string, set map[string]bool, valid []string) error {
	if len(set) == 0 {
		return usageErrorf("%s %q: name one or more of %s", flagName, value, strings.Join(valid, ", "))
	}
	var bad []string
	for v := range set {
		if !slicesContains(valid, v) {
			bad = append(bad, fmt.Sprintf("%q", v))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	if len(bad) > 1 {
		noun += "s"
	}
	hint := ""
	if set["go-gl"] && flagName == "--impls" {
		hint = "; go-gl is timed in place of go-native with --device gl"
	}
	return usageErrorf("%s: unknown %s %s (want %s%s)", flagName, noun, strings.Join(bad, ", "), strings.Join(valid, ", "), hint)
}

// isModelRef reports whether ref names a model folder or an embedded model.
func isModelRef(ref string, embedded []string) bool {
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		return true
	}
	return slicesContains(embedded, reconstruct.ModelName(nameOrDefault(ref)))
}

// wordList joins names with commas, or says "none".
func wordList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func splitSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			m[p] = true
		}
	}
	return m
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type bench struct {
	env    *Env
	ef     engineFlags
	reps   int
	asJSON bool
	cases  map[string]bool
	impls  map[string]bool
	recs   []benchRecord
	// kernel is the Go kernel's throughput on the blasCase product;
	// slowBLAS, when set, is the warning that PyTorch's BLAS is far below it,
	// so the torch timings are no meaningful reference.
	kernel   throughput
	slowBLAS string
}

func (b *bench) emit(r benchRecord) {
	if r.Impl == "torch" && b.slowBLAS != "" && r.Case != blasCase && r.Note == "" {
		r.Note = "PyTorch's BLAS is far below the Go kernel (see " + blasCase + "): not a meaningful reference"
	}
	if r.GFLOPS > 0 && r.CPUMS > 0 && r.GFLOPSCPU == 0 {
		r.GFLOPSCPU = float64(int(r.GFLOPS*r.MS/r.CPUMS*10)) / 10
	}
	b.recs = append(b.recs, r)
	if b.asJSON {
		j, _ := json.Marshal(r)
		fmt.Fprintln(b.env.Stdout, string(j))
	} else {
		fmt.Fprintf(b.env.Stderr, "  %-18s %-14s %-10s %10.1f ms\n", r.Case, r.Model, r.Impl, r.MS)
	}
}

// measure returns the median wall and CPU time of fn over b.reps runs after
// a warm-up run; a warm-up run over 2 s is itself the measurement.
func (b *bench) measure(fn func() error) (wall, cpu time.Duration, err error) {
	c0, t0 := cpuTime(), time.Now()
	if err := fn(); err != nil {
		return 0, 0, err
	}
	wall, cpu = time.Since(t0), cpuTime()-c0
	if wall > 2*time.Second {
		return wall, cpu, nil
	}
	walls, cpus := make([]time.Duration, b.reps), make([]time.Duration, b.reps)
	for i := range walls {
		c0, t0 := cpuTime(), time.Now()
		if err := fn(); err != nil {
			return 0, 0, err
		}
		walls[i], cpus[i] = time.Since(t0), cpuTime()-c0
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
	return walls[b.reps/2], cpus[b.reps/2], nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (b *bench) run(ctx context.Context, models []string, python, train string) error {
	threads := b.ef.threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	fmt.Fprintf(b.env.Stderr, "niiv bench: %d threads, %s, kernels %s\n", threads, runtime.GOARCH, reconstruct.Kernels())
	if b.cases["matmul2048"] && b.impls["go-native"] {
		wall, cpu, _ := b.measure(func() error { reconstruct.MatMulTime(2048, threads); return nil })
		b.emit(benchRecord{Case: "matmul2048", Impl: "go-kernel", MS: ms(wall), CPUMS: ms(cpu), GFLOPS: gflops(2*2048*2048*2048, wall)})
	}
	torchOK := b.impls["torch"]
	if torchOK {
		if train == "" {
			train = findTrain()
		}
		if train == "" {
			fmt.Fprintln(b.env.Stderr, "niiv bench: torch reference skipped: reconstruct/train not found (give --train DIR)")
			torchOK = false
		} else if _, err := exec.LookPath(python); err != nil {
			fmt.Fprintf(b.env.Stderr, "niiv bench: torch reference skipped: %v\n", err)
			torchOK = false
		}
	}
	if torchOK {
		// The BLAS check runs first, so that its warning comes before the
		// long cases and marks their torch records.
		r := kernelRecord(blasN, threads)
		b.emit(r)
		b.kernel = throughput{r.GFLOPS, r.GFLOPSCPU}
		cs := blasCase
		if b.cases["matmul2048"] {
			cs += ",matmul2048"
		}
		b.torch(ctx, python, train, "", "", cs, threads)
		if b.find(blasCase, "torch") == nil {
			fmt.Fprintf(b.env.Stderr, "niiv bench: matrix product %d³, %d threads: Go kernel %s, PyTorch not measured\n",
				blasN, threads, b.kernel)
		}
	}
	vol, err := volume.PoolZ(sample.EM(sample.Options{Size: 128}), 8)
	if err != nil {
		return err
	}
	for _, name := range models {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if err := b.model(ctx, name, vol); err != nil {
			return err
		}
		if torchOK {
			dir := name
			if st, err := os.Stat(name); err != nil || !st.IsDir() {
				dir, err = embeddedToDir(reconstruct.ModelName(name))
				if err != nil {
					fmt.Fprintf(b.env.Stderr, "niiv bench: torch reference skipped for %s: %v\n", name, err)
					continue
				}
				defer os.RemoveAll(dir)
			}
			var cs []string
			for _, c := range benchCases[1:] {
				if b.cases[c] {
					cs = append(cs, c)
				}
			}
			if len(cs) > 0 {
				b.torch(ctx, python, train, dir, modelLabel(name), strings.Join(cs, ","), threads)
			}
		}
	}
	if !b.asJSON {
		b.table()
	}
	return nil
}

// kernelRecord times the Go kernel on an n³ float32 product on threads
// workers: the shortest wall and the shortest CPU time of up to 20 runs
// after a warm-up run, stopping after about a second (as bench_torch.py
// times PyTorch's).
func kernelRecord(n, threads int) benchRecord {
	m := reconstruct.NewMatMulBench(n, threads)
	m.Run()
	var wall, cpu time.Duration
	start := time.Now()
	for i := 0; i < 20 && (i == 0 || time.Since(start) < time.Second); i++ {
		c0, t0 := cpuTime(), time.Now()
		m.Run()
		w, c := time.Since(t0), cpuTime()-c0
		if i == 0 || w < wall {
			wall = w
		}
		if i == 0 || c < cpu {
			cpu = c
		}
	}
	r := benchRecord{Case: blasCase, Impl: "go-kernel", MS: ms(wall), CPUMS: ms(cpu), GFLOPS: gflops(m.Flops(), wall)}
	if cpu > 0 {
		r.GFLOPSCPU = gflops(m.Flops(), cpu)
	}
	return r
}

// String formats t for the bench's report.
func (t throughput) String() string {
	return fmt.Sprintf("%.1f GFLOP/s (%.1f per CPU-second)", t.Wall, t.CPU)
}

// blasWarning compares PyTorch's matrix-product throughput with the Go
// kernel's, both measured in the same run on the same product and threads,
// and returns a warning when the better of PyTorch's two figures is below
// blasMinFraction of the better of the kernel's: PyTorch then runs on a
// crippled BLAS (Debian's reference BLAS, without OpenBLAS) and its timings
// measure that BLAS rather than serve as a reference. lib names the BLAS
// library PyTorch loaded, if known. It returns "" when PyTorch's BLAS is
// fast enough or a figure is missing.
func blasWarning(kernel, torch throughput, lib string) string {
	k, t := kernel.best(), torch.best()
	if k <= 0 || t <= 0 || t >= blasMinFraction*k {
		return ""
	}
	loaded := ""
	if lib != "" {
		loaded = " (it loaded " + lib + ")"
	}
	return fmt.Sprintf("PyTorch's matrix product ran at %.1f GFLOP/s, 1/%.0f of the Go kernel's %.1f GFLOP/s on the same product: "+
		"PyTorch most likely runs on the reference BLAS%s, so its timings measure that BLAS and the \"vs torch\" ratios are left out. "+
		"Fix: sudo apt-get install libopenblas0-pthread (or scripts/setup.sh test); if it is installed, "+
		"sudo update-alternatives --auto libblas.so.3-<multiarch> (e.g. x86_64-linux-gnu)",
		t, k/t, k, loaded)
}

// judgeBLAS reports the BLAS check once PyTorch's record r of it is in.
func (b *bench) judgeBLAS(r benchRecord, threads int) {
	torch := throughput{r.GFLOPS, r.GFLOPSCPU}
	fmt.Fprintf(b.env.Stderr, "niiv bench: matrix product %d³, %d threads: Go kernel %s, PyTorch %s\n",
		blasN, threads, b.kernel, torch)
	lib := strings.TrimPrefix(r.Note, "BLAS: ")
	if b.slowBLAS = blasWarning(b.kernel, torch, lib); b.slowBLAS != "" {
		fmt.Fprintf(b.env.Stderr, "niiv bench: WARNING: %s\n", b.slowBLAS)
	}
}

// find returns the record of case c and implementation impl, or nil.
func (b *bench) find(c, impl string) *benchRecord {
	for i := range b.recs {
		if b.recs[i].Case == c && b.recs[i].Impl == impl {
			return &b.recs[i]
		}
	}
	return nil
}

func modelLabel(ref string) string {
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		return filepath.Base(filepath.Clean(ref))
	}
	return reconstruct.ModelName(ref)
}

func gflops(flops float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(int(flops/d.Seconds()/1e9*10)) / 10
}

// model times the Go implementations of one model.
func (b *bench) model(ctx context.Context, name string, vol *volume.Volume) error {
	label := modelLabel(name)
	for _, impl := range []string{"go-native", "go-int8", "go-ort"} {
		if !b.impls[impl] {
			continue
		}
		model, _, err := glrender.LoadModel(nameOrDefault(name), reconstruct.ModelOptions{
			Device: b.ef.device, Threads: b.ef.threads, Embedded: assets.Models, ORTDecoder: impl == "go-ort", Int8: impl == "go-int8"})
		if err != nil {
			fmt.Fprintf(b.env.Stderr, "niiv bench: skipping %s %s: %v\n", label, impl, err)
			continue
		}
		if model.DecodesOn() == "gl" {
			// The GPU replaces the CPU decoders: one implementation to time.
			if impl != "go-native" {
				fmt.Fprintf(b.env.Stderr, "niiv bench: skipping %s %s: the model runs on the GPU (timed as go-gl)\n", label, impl)
				model.Close()
				continue
			}
			impl = "go-gl"
		}
		if impl == "go-int8" && model.Decoder != "native-int8" {
			fmt.Fprintf(b.env.Stderr, "niiv bench: skipping %s %s: %s\n", label, impl, model.Note)
			model.Close()
			continue
		}
		defer model.Close()
		if impl == "go-native" || impl == "go-gl" {
			fmt.Fprintf(b.env.Stderr, "niiv bench: %s\n", model.Summary())
		}
		encMAC, decMAC := model.MACs()
		n := reconstruct.NewNiiv(model, nil)
		if b.cases["view512"] {
			req := reconstruct.FullPlane(vol, volume.XZ, 64, 512, 512)
			if _, err := n.Render(ctx, req); err != nil { // encode once: the latent is cached
				return err
			}
			wall, cpu, err := b.measure(func() error { _, err := n.Render(ctx, req); return err })
			if err != nil {
				return err
			}
			b.emit(benchRecord{Case: "view512", Model: label, Impl: impl, MS: ms(wall), CPUMS: ms(cpu), GFLOPS: gflops(2*float64(decMAC)*512*512, wall)})
		}
		if b.cases["view512cold"] {
			req := reconstruct.FullPlane(vol, volume.XZ, 64, 512, 512)
			wall, cpu, err := b.measure(func() error {
				_, err := reconstruct.NewNiiv(model, nil).Render(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			flops := 2 * (float64(encMAC)*16*128 + float64(decMAC)*512*512)
			b.emit(benchRecord{Case: "view512cold", Model: label, Impl: impl, MS: ms(wall), CPUMS: ms(cpu), GFLOPS: gflops(flops, wall)})
		}
		if b.cases["volume128"] {
			opt := reconstruct.VolumeOptions{ZScale: 8, Axes: []volume.Axis{volume.XZ}}
			wall, cpu, err := b.measure(func() error { _, err := reconstruct.Isotropic(ctx, n, vol, opt); return err })
			if err != nil {
				return err
			}
			flops := 2 * (float64(encMAC)*16*128*128 + float64(decMAC)*128*128*128)
			b.emit(benchRecord{Case: "volume128", Model: label, Impl: impl, MS: ms(wall), CPUMS: ms(cpu), GFLOPS: gflops(flops, wall), RSSMB: float64(peakRSS() >> 20)})
			if impl == "go-native" {
				lowres := make([]float32, 8*16*128)
				wall, cpu, err := b.measure(func() error {
					for i := 0; i < 128; i += 8 {
						if _, err := model.Encode(ctx, lowres, 8, 16, 128); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
				b.emit(benchRecord{Case: "volume128/encoder", Model: label, Impl: impl, MS: ms(wall), CPUMS: ms(cpu), GFLOPS: gflops(2*float64(encMAC)*16*128*128, wall)})
			}
		}
		if b.cases["xy128"] {
			req := reconstruct.FullPlane(vol, volume.XY, 7.375, 128, 128)
			wall, cpu, err := b.measure(func() error {
				_, err := reconstruct.NewNiiv(model, nil).Render(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			b.emit(benchRecord{Case: "xy128", Model: label, Impl: impl, MS: ms(wall), CPUMS: ms(cpu)})
		}
	}
	return nil
}

func nameOrDefault(name string) string {
	if name == "niiv" {
		return defaultModel
	}
	return name
}

// torch runs the embedded PyTorch reference script and records its lines.
func (b *bench) torch(ctx context.Context, python, train, modelDir, label, cases string, threads int) {
	f, err := os.CreateTemp("", "niiv-bench-*.py")
	if err != nil {
		fmt.Fprintf(b.env.Stderr, "niiv bench: torch reference skipped: %v\n", err)
		return
	}
	defer os.Remove(f.Name())
	f.Write(benchTorchPy)
	f.Close()
	args := []string{f.Name(), "--train", train, "--threads", fmt.Sprint(threads), "--reps", fmt.Sprint(b.reps), "--cases", cases}
	if modelDir != "" {
		args = append(args, "--model", modelDir, "--name", label)
	}
	cmd := exec.CommandContext(ctx, python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(b.env.Stderr, "niiv bench: torch reference skipped: %v\n", err)
		return
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var r benchRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			b.emit(r)
			if r.Case == blasCase {
				b.judgeBLAS(b.recs[len(b.recs)-1], threads)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		fmt.Fprintf(b.env.Stderr, "niiv bench: torch reference failed: %v: %s\n", err, lastLine(stderr.String()))
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// findTrain looks for reconstruct/train from the working directory up.
func findTrain() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "reconstruct", "train")
		if _, err := os.Stat(filepath.Join(p, "model.py")); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// embeddedToDir copies an embedded model to a temporary folder for the
// torch reference.
func embeddedToDir(name string) (string, error) {
	dir, err := os.MkdirTemp("", "niiv-model-")
	if err != nil {
		return "", err
	}
	for _, f := range []string{"card.json", "encoder.onnx", "decoder.onnx", "test_lowres.npy", "test_coords.npy", "test_values.npy"} {
		src, err := assets.Models.Open(name + "/" + f)
		if err != nil {
			if f == "card.json" || strings.HasSuffix(f, ".onnx") {
				os.RemoveAll(dir)
				return "", err
			}
			continue
		}
		dst, err := os.Create(filepath.Join(dir, f))
		if err == nil {
			_, err = io.Copy(dst, src)
			dst.Close()
		}
		src.Close()
		if err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

// table prints the measurements with the speed-up over torch, left out
// when PyTorch's BLAS is too slow to be a reference.
func (b *bench) table() {
	torch := map[string]benchRecord{}
	for _, r := range b.recs {
		if r.Impl == "torch" {
			torch[r.Case+"|"+r.Model] = r
		}
	}
	w := b.env.Stdout
	fmt.Fprintf(w, "%-18s %-14s %-10s %10s %10s %8s %9s %9s %9s\n", "case", "model", "impl", "ms", "cpu ms", "GFLOP/s", "/cpu·s", "vs torch", "cpu vs")
	for _, r := range b.recs {
		ratio, cratio := "", ""
		if t, ok := torch[r.Case+"|"+r.Model]; ok && r.Impl != "torch" && r.MS > 0 && b.slowBLAS == "" {
			ratio = fmt.Sprintf("%.1f×", t.MS/r.MS)
			if r.CPUMS > 0 {
				cratio = fmt.Sprintf("%.1f×", t.CPUMS/r.CPUMS)
			}
		}
		gf, gfc := "", ""
		if r.GFLOPS > 0 {
			gf = fmt.Sprintf("%.1f", r.GFLOPS)
		}
		if r.GFLOPSCPU > 0 {
			gfc = fmt.Sprintf("%.1f", r.GFLOPSCPU)
		}
		fmt.Fprintf(w, "%-18s %-14s %-10s %10.1f %10.1f %8s %9s %9s %9s\n", r.Case, r.Model, r.Impl, r.MS, r.CPUMS, gf, gfc, ratio, cratio)
	}
	if b.slowBLAS != "" {
		fmt.Fprintf(w, "note: %s\n", b.slowBLAS)
	}
}
