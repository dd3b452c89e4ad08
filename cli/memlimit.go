package cli

import (
	"os"
	"runtime/debug"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// lazyLatentBudget is the latent-cache budget of a session on a volume
// read lazily: the encoded planes behind three full-resolution 512×512
// views with lite, so that browsing a volume of any size stays within a
// laptop's memory (in-memory volumes keep reconstruct's larger default,
// which spares re-encoding when the XY view moves).
const lazyLatentBudget = 256 << 20

// workSlack is the memory a session needs beyond its caches and volume:
// frames, decodes in flight, the encoder's activations.
const workSlack = 384 << 20

// limitMemory bounds a viewing session of vol: on a lazy volume the latent
// cache gets lazyLatentBudget (call it before the model is loaded); and the
// Go runtime's soft memory limit is set to the volume when it is in memory,
// the latent and chunk caches at their budgets, and workSlack for frames
// and work in flight. Without that limit the collector lets the heap grow to
// twice the live data before collecting, and the caches' garbage doubles
// the resident memory. GOMEMLIMIT, when set, takes precedence.
func limitMemory(vol *volume.Volume) {
	if vol.Lazy() {
		reconstruct.SetCacheBudget(min(reconstruct.CacheBudget(), lazyLatentBudget))
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	n := reconstruct.CacheBudget() + volio.ChunkCacheBytes + workSlack
	if !vol.Lazy() {
		n += vol.Bytes()
	}
	debug.SetMemoryLimit(n)
}
