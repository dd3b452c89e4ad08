package cli

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/niiv/niiv/internal/atomicfile/faulttest"
	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/viewer/engine"
)

// TestMain runs niiv itself when the fault tests re-execute the test
// binary as a child (faulttest.Command) to kill it mid-write.
func TestMain(m *testing.M) {
	if faulttest.Child() {
		os.Exit(faultChild(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// faultChild runs args as niiv does, or, for "gui-export IN OUT", the
// viewer's export.
func faultChild(args []string) int {
	if len(args) == 3 && args[0] == "gui-export" {
		if err := exportIsotropic(context.Background(), args[1], args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	return Main(args, os.Stdout, os.Stderr)
}

// exportIsotropic writes the isotropic reconstruction of the file in to
// out along the code path of the viewer's "Export isotropic volume"
// (app/dialogs.go, export): engine.Isotropic with the renderer shown
// (linear here), then volio.Save.
func exportIsotropic(ctx context.Context, in, out string) error {
	vol, err := volio.Open(in)
	if err != nil {
		return err
	}
	iso, err := engine.Isotropic(ctx, engine.Classical(nil).Linear, vol, nil)
	if err != nil {
		return err
	}
	return volio.Save(out, iso)
}
