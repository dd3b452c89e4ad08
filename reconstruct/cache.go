package reconstruct

import (
	"sync/atomic"

	"github.com/niiv/niiv/internal/lru"
	"github.com/niiv/niiv/internal/sysmem"
	"github.com/niiv/niiv/volume"
)

// Cache keeps encoded planes (latent grids and normalised inputs), least
// recently used first out, within a byte budget. Keys are (volume, axis, plane index, model). It is safe for
// concurrent use; one cache may serve several models and volumes.
type Cache struct{ c *lru.Cache[cacheKey, *plane] }

type cacheKey struct {
	vol   *volume.Volume
	axis  volume.Axis
	index int
	model *Model
}

// DefaultCacheBytes is the smallest budget CacheBudget returns, and the
// budget where the machine's memory cannot be read.
const DefaultCacheBytes = 256 << 20

// maxCacheBytes caps CacheBudget.
const maxCacheBytes = 4 << 30

// CacheBudget returns the latent-cache budget NewNiiv uses when given no
// cache: an eighth of physical memory, from DefaultCacheBytes to 4 GiB. An
// xy view needs the latents of every xz plane it crosses; with a budget
// that holds them (a 30×512×512 volume's 512 planes take 1 GB with lite),
// a new z costs a decode, not an encode of every plane (0.1 s instead of
// 6 s on 2 vCPUs).
// SetCacheBudget overrides it (n > 0) for the caches made afterwards, as
// the viewer does for volumes read lazily, whose sessions must fit in a
// bounded memory.
func CacheBudget() int64 {
	if n := cacheOverride.Load(); n > 0 {
		return n
	}
	return min(int64(maxCacheBytes), max(int64(DefaultCacheBytes), sysmem.Total()/8))
}

// SetCacheBudget sets the budget CacheBudget returns from now on; n ≤ 0
// restores the default.
func SetCacheBudget(n int64) { cacheOverride.Store(n) }

var cacheOverride atomic.Int64

// NewCache returns a cache holding at most maxBytes of encoded planes.
func NewCache(maxBytes int64) *Cache { return &Cache{lru.New[cacheKey, *plane](maxBytes)} }

func (c *Cache) get(k cacheKey) (*plane, bool) { return c.c.Lookup(k) }

func (c *Cache) put(k cacheKey, p *plane) { c.c.Put(k, p, p.bytes()) }

// Forget drops every entry of vol (call it when a volume is closed).
func (c *Cache) Forget(vol *volume.Volume) {
	c.c.Drop(func(k cacheKey) bool { return k.vol == vol })
}

// CacheStats describe a cache's use.
type CacheStats struct {
	Entries      int
	Bytes, Limit int64
	Hits, Misses int64
}

// Stats returns the cache's current use.
func (c *Cache) Stats() CacheStats {
	hits, misses := c.c.Stats()
	return CacheStats{Entries: c.c.Len(), Bytes: c.c.Bytes(), Limit: c.c.Max(), Hits: hits, Misses: misses}
}
