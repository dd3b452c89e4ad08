package reconstruct

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ORTVersion is the ONNX Runtime release niiv is built and tested against.
const ORTVersion = "1.24.1"

// LibraryEnv names the environment variable that points at the ONNX
// Runtime shared library (a file, or a folder holding it).
const LibraryEnv = "NIIV_ORT_LIB"

// ErrNoRuntime is wrapped by errors caused by a missing or unusable ONNX
// Runtime library.
var ErrNoRuntime = errors.New("ONNX Runtime library not available")

// libraryNames are the file names of the ORT shared library on this OS.
func libraryNames() []string {
	switch runtime.GOOS {
	case "windows":
		return []string{"onnxruntime.dll"}
	case "darwin":
		return []string{"libonnxruntime.dylib", "libonnxruntime." + ORTVersion + ".dylib"}
	}
	return []string{"libonnxruntime.so.1", "libonnxruntime.so", "libonnxruntime.so." + ORTVersion}
}

// LibraryCandidates returns the places FindLibrary looks, in order: the
// NIIV_ORT_LIB variable, the executable's folder (and its lib/ folder),
// the setup script's cache folder
// (${XDG_CACHE_HOME:-~/.cache}/niiv/onnxruntime-VERSION), then system
// library folders.
func LibraryCandidates() []string {
	var dirs, files []string
	if p := os.Getenv(LibraryEnv); p != "" {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			dirs = append(dirs, p)
		} else {
			files = append(files, p)
		}
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Dir(exe)
		dirs = append(dirs, d, filepath.Join(d, "lib"))
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	if cache != "" {
		dirs = append(dirs, filepath.Join(cache, "niiv", "onnxruntime-"+ORTVersion))
	}
	if runtime.GOOS == "darwin" {
		if home, err := os.UserHomeDir(); err == nil {
			dirs = append(dirs, filepath.Join(home, "Library", "Caches", "niiv", "onnxruntime-"+ORTVersion))
		}
		dirs = append(dirs, "/opt/homebrew/lib", "/usr/local/lib")
	} else if runtime.GOOS != "windows" {
		dirs = append(dirs, "/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64")
	}
	for _, d := range dirs {
		for _, n := range libraryNames() {
			files = append(files, filepath.Join(d, n))
		}
	}
	return files
}

// FindLibrary returns the first existing ONNX Runtime library among
// LibraryCandidates. When NIIV_ORT_LIB is set, only the library it names
// (or one in the folder it names) is used: a wrong setting is an error,
// not a reason to load another library.
func FindLibrary() (string, error) {
	if p := os.Getenv(LibraryEnv); p != "" {
		cands := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			cands = nil
			for _, n := range libraryNames() {
				cands = append(cands, filepath.Join(p, n))
			}
		}
		for _, c := range cands {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c, nil
			}
		}
		return "", fmt.Errorf("%w: %s=%s names no ONNX Runtime library (looked for %s); unset it to search the usual places", ErrNoRuntime, LibraryEnv, p, strings.Join(cands, ", "))
	}
	c := LibraryCandidates()
	for _, p := range c {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: set %s or run scripts/setup.sh (looked for %s in: %s)", ErrNoRuntime, LibraryEnv,
		strings.Join(libraryNames(), ", "), strings.Join(uniqueDirs(c), ", "))
}

func uniqueDirs(files []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		d := filepath.Dir(f)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

var ortState struct {
	sync.Mutex
	lib string
	err error
}

// InitRuntime loads the ONNX Runtime library (path, or FindLibrary's
// choice when path is "") and initialises its environment. It is done once
// per process; later calls return the library first loaded (or the first
// error) whatever their path.
func InitRuntime(path string) (string, error) {
	ortState.Lock()
	defer ortState.Unlock()
	if ortState.lib != "" || ortState.err != nil {
		return ortState.lib, ortState.err
	}
	if path == "" {
		var err error
		if path, err = FindLibrary(); err != nil {
			ortState.err = err
			return "", err
		}
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
		ortState.err = fmt.Errorf("%w: %s: %v", ErrNoRuntime, path, err)
		return "", ortState.err
	}
	ortState.lib = path
	return path, nil
}

// Devices lists the --device choices.
var Devices = []string{"auto", "cpu", "cuda", "tensorrt", "coreml", "directml"}

// sessionOptions returns ORT session options for a provider ("cpu",
// "cuda", ...) with threads intra-op threads.
func sessionOptions(provider string, threads int) (*ort.SessionOptions, error) {
	o, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*ort.SessionOptions, error) {
		o.Destroy()
		return nil, err
	}
	if err := o.SetIntraOpNumThreads(threads); err != nil {
		return fail(err)
	}
	if err := o.SetInterOpNumThreads(1); err != nil {
		return fail(err)
	}
	if err := o.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return fail(err)
	}
	if err := o.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return fail(err)
	}
	switch provider {
	case "cpu":
	case "cuda":
		co, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fail(err)
		}
		defer co.Destroy()
		if err := o.AppendExecutionProviderCUDA(co); err != nil {
			return fail(err)
		}
	case "tensorrt":
		to, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return fail(err)
		}
		defer to.Destroy()
		if err := o.AppendExecutionProviderTensorRT(to); err != nil {
			return fail(err)
		}
	case "coreml":
		if err := o.AppendExecutionProviderCoreMLV2(map[string]string{}); err != nil {
			return fail(err)
		}
	case "directml":
		if err := o.AppendExecutionProviderDirectML(0); err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("unknown device %q (want one of %s)", provider, strings.Join(Devices, ", ")))
	}
	return o, nil
}

// autoProviders are the GPU providers --device auto tries, in order.
func autoProviders() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"coreml"}
	case "windows":
		return []string{"cuda", "directml"}
	}
	return []string{"cuda"}
}

// firstLine shortens an ORT error to its first line.
func firstLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
