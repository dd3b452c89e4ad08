// Command niiv views anisotropic 3-D microscopy volumes as if they had been
// imaged isotropically, using neural implicit isotropic volume
// reconstruction. Run `niiv --help` for the commands.
package main

import (
	"os"

	"github.com/niiv/niiv/cli"
	"github.com/niiv/niiv/internal/debugstats"
	_ "github.com/niiv/niiv/internal/locale" // before Fyne initialises
)

func main() {
	stop := debugstats.StartFromEnv(os.Stderr)   // NIIV_DEBUG_STATS=FILE: memory and goroutines over time
	prof := debugstats.ProfileFromEnv(os.Stderr) // NIIV_CPUPROFILE=FILE: a CPU profile for go tool pprof
	code := cli.Main(os.Args[1:], os.Stdout, os.Stderr)
	prof()
	stop()
	os.Exit(code)
}
