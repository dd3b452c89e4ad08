package debugstats

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// EnvProfile names the environment variable that, set to a file name,
// writes a CPU profile of the whole run there (for `go tool pprof`).
const EnvProfile = "NIIV_CPUPROFILE"

// ProfileFromEnv starts a CPU profile when EnvProfile is set; stop ends it
// and closes the file. Problems are reported on warn and ignored.
func ProfileFromEnv(warn io.Writer) (stop func()) {
	path := os.Getenv(EnvProfile)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(warn, "niiv: %s: %v\n", EnvProfile, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(warn, "niiv: %s: %v\n", EnvProfile, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
