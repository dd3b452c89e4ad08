package zarr

import (
	"sync"

	"github.com/niiv/niiv/internal/lru"
	"github.com/niiv/niiv/internal/sysmem"
)

// Cache keeps decoded chunks, least recently used first out, within a byte
// budget. One Cache may serve any number of Images (Options.Cache); it is
// safe for concurrent use, and readers asking for a chunk that is being
// decoded wait for that decoding instead of repeating it.
type Cache struct{ c *lru.Cache[string, any] }

// NewCache returns a cache that holds at most maxBytes of decoded chunks.
// A chunk larger than the whole budget is decoded for each read that needs
// it and not kept.
func NewCache(maxBytes int64) *Cache { return &Cache{lru.New[string, any](maxBytes)} }

// defaultCache is shared by the Images opened without Options.Cache: an
// eighth of physical memory, 1 GiB where that cannot be read.
var defaultCache = sync.OnceValue(func() *Cache {
	n := sysmem.Total() / 8
	if n <= 0 {
		n = 1 << 30
	}
	return NewCache(n)
})

// Bytes returns the memory the cached chunks hold.
func (c *Cache) Bytes() int64 { return c.c.Bytes() }

// Len returns the number of cached entries.
func (c *Cache) Len() int { return c.c.Len() }

// Loads returns how many times an entry was loaded (read and decoded)
// since the cache was made: hits and waits on a load in progress do not
// count.
func (c *Cache) Loads() int64 { return c.c.Loads() }

// get returns the value under key, calling load once to produce it when it
// is missing. A load that returns a nil value or an error is not kept.
func (c *Cache) get(key string, load func() (any, int64, error)) (any, error) {
	return c.c.Get(key, 0, load)
}
