// Command niiv views anisotropic 3-D microscopy volumes as if they had been
// imaged isotropically, using neural implicit isotropic volume
// reconstruction. Run `niiv --help` for the commands.
package main

import (
	"os"

	"github.com/niiv/niiv/cli"
	_ "github.com/niiv/niiv/internal/locale" // before Fyne initialises
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
