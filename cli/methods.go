package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/niiv/niiv/assets"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/bioimage"
	glrender "github.com/niiv/niiv/render/gl"
)

// engineFlags are the flags of commands that run reconstruction methods.
type engineFlags struct {
	device  string
	threads int
	int8    bool
}

func (f *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.device, "device", "cpu", "where niiv runs: "+strings.Join(glrender.Devices, "|")+" (gl: encoder and decoder on the GPU through OpenGL 4.3, only the decoder with OpenGL 3.3; auto prefers a GPU when it is not slower than the CPU; falls back to cpu)")
	fs.IntVar(&f.threads, "threads", 0, "threads for ONNX Runtime and the decoder (0: one per CPU)")
	fs.BoolVar(&f.int8, "int8", false, "decode with int8 hidden layers on CPUs with AVX-512 VNNI (faster; not bit-exact)")
}

func (f *engineFlags) check() error {
	if f.threads < 0 || f.threads > maxThreads {
		return usageErrorf("--threads %d: want 0 (one per CPU) to %d", f.threads, maxThreads)
	}
	for _, d := range glrender.Devices {
		if f.device == d {
			return nil
		}
	}
	return usageErrorf("--device %q: want one of %s", f.device, strings.Join(glrender.Devices, ", "))
}

// maxThreads bounds --threads: more threads than this only cost memory.
const maxThreads = 1024

// defaultModel is the model "niiv" means.
const defaultModel = "general"

// isNiiv reports whether a method name asks for a learned model: "niiv",
// "niiv-NAME", "niiv:DIR", a model folder or a bioimage.io package.
func isNiiv(name string) bool {
	if name == "niiv" || strings.HasPrefix(name, "niiv-") || strings.HasPrefix(name, "niiv:") || bioimage.IsPackage(name) {
		return true
	}
	st, err := os.Stat(name)
	return err == nil && st.IsDir()
}

// loadModel loads the model of a niiv method name.
func (f *engineFlags) loadModel(name string) (*reconstruct.Model, error) {
	ref := strings.TrimPrefix(name, "niiv:")
	if name == "niiv" {
		ref = defaultModel
	}
	m, _, err := glrender.LoadModel(ref, reconstruct.ModelOptions{Device: f.device, Threads: f.threads, Embedded: assets.Models, Int8: f.int8})
	return m, err
}

// openMethods resolves comma-separated method names. A niiv method whose
// model cannot be loaded is reported on stderr and skipped (or replaced by
// fallback when fallback is not ""). The returned function closes the
// models.
func (f *engineFlags) openMethods(list string, stderr io.Writer, fallback string) ([]reconstruct.Method, func(), error) {
	var methods []reconstruct.Method
	var models []*reconstruct.Model
	closeAll := func() {
		for _, m := range models {
			m.Close()
		}
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !isNiiv(name) {
			m, err := reconstruct.Classical(name)
			if err != nil {
				closeAll()
				return nil, nil, usageErrorf("unknown method %q: want nearest, linear, cubic, niiv, niiv-NAME (a shipped model), niiv:DIR, a model folder or a bioimage.io package (.zip)", name)
			}
			methods = append(methods, m)
			continue
		}
		model, err := f.loadModel(name)
		if err != nil {
			hint := ""
			if errors.Is(err, reconstruct.ErrNoRuntime) {
				hint = " (classical methods still work)"
			}
			if fallback != "" {
				fmt.Fprintf(stderr, "niiv: %v%s; using %s instead\n", err, hint, fallback)
				m, _ := reconstruct.Classical(fallback)
				methods = append(methods, m)
			} else {
				fmt.Fprintf(stderr, "niiv: %v%s; skipping %s\n", err, hint, name)
			}
			continue
		}
		fmt.Fprintf(stderr, "niiv: %s\n", model.Summary())
		models = append(models, model)
		var m reconstruct.Method = reconstruct.NewNiiv(model, nil)
		if strings.HasPrefix(name, "niiv:") {
			m = namedNiiv{m.(*reconstruct.Niiv), name}
		}
		methods = append(methods, m)
	}
	if len(methods) == 0 {
		closeAll()
		return nil, nil, fmt.Errorf("no usable method in %q", list)
	}
	return methods, closeAll, nil
}

// namedNiiv is the niiv method under the name it was asked for: "niiv:DIR"
// names the model folder in tables and CSV rows. Embedding keeps the
// method's whole-volume fast path.
type namedNiiv struct {
	*reconstruct.Niiv
	name string
}

func (m namedNiiv) Name() string { return m.name }

// progressBar draws a progress bar on a terminal (stderr), at most ten
// times a second; on other writers it prints a line at each quarter.
type progressBar struct {
	w       io.Writer
	label   string
	tty     bool
	start   time.Time
	last    time.Time
	quarter int
	shown   bool
}

func newProgress(w io.Writer, label string) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, label: label, tty: tty, start: time.Now()}
}

// update shows done of total. It is not safe for concurrent use.
func (p *progressBar) update(done, total int) {
	if total <= 0 {
		return
	}
	frac := float64(done) / float64(total)
	if !p.tty {
		// A line at each quarter, once the work has taken a second (a
		// log of quick runs stays quiet).
		if q := int(frac * 4); q > p.quarter && time.Since(p.start) >= time.Second {
			p.quarter = q
			fmt.Fprintf(p.w, "%s: %3.0f%% (%d/%d) %.1fs\n", p.label, 100*frac, done, total, time.Since(p.start).Seconds())
		}
		return
	}
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %d/%d %.1fs ", p.label, strings.Repeat("█", n), strings.Repeat("░", width-n), 100*frac, done, total, now.Sub(p.start).Seconds())
	p.shown = true
}

// finish ends the bar's line.
func (p *progressBar) finish() {
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
	}
}

// note prints a line of its own, above the bar on a terminal.
func (p *progressBar) note(line string) {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, line)
}
