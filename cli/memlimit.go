package cli

import (
	"os"
	"runtime/debug"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// limitMemory sets the Go runtime's soft memory limit to what a viewing
// session of vol needs: the volume when it is in memory, the latent and
// chunk caches at their budgets, and 1 GiB for frames and work in flight.
// Without it the collector lets the heap grow to twice the live data
// before collecting, and the caches' garbage doubles the resident memory.
// GOMEMLIMIT, when set, takes precedence.
func limitMemory(vol *volume.Volume) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	n := reconstruct.CacheBudget() + volio.ChunkCacheBytes + 1<<30
	if !vol.Lazy() {
		n += vol.Bytes()
	}
	debug.SetMemoryLimit(n)
}
