package hdf5

import (
	"sync"

	"github.com/niiv/niiv/internal/lru"
	"github.com/niiv/niiv/internal/sysmem"
)

// CacheBytes is the budget of the decoded-chunk cache that every open
// Dataset shares: a sixteenth of memory, at most 512 MiB (256 MiB where
// memory cannot be read). Set it before the first Read; 0 disables the
// cache (each Read still decodes each chunk once).
var CacheBytes = defaultCacheBytes()

func defaultCacheBytes() int64 {
	t := sysmem.Total()
	if t <= 0 {
		return 256 << 20
	}
	return min(t/16, 512<<20)
}

// chunkKey names a decoded chunk: the dataset and its linear index in the
// grid of chunks.
type chunkKey struct {
	ds  uint64
	idx uint64
}

// chunkCache keeps decoded chunks, least recently used first out, within a
// byte budget; readers asking for a chunk that is being decoded wait for
// that decoding instead of repeating it.
type chunkCache = lru.Cache[chunkKey, any]

var (
	cacheOnce sync.Once
	cache     *chunkCache
)

// sharedCache returns the cache of decoded chunks, made with CacheBytes at
// first use.
func sharedCache() *chunkCache {
	cacheOnce.Do(func() { cache = newCache(CacheBytes) })
	return cache
}

func newCache(max int64) *chunkCache { return lru.New[chunkKey, any](max) }
