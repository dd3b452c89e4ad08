package hdf5

import (
	"container/list"
	"fmt"
	"sync"

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
type chunkCache struct {
	mu      sync.Mutex
	max     int64
	used    int64
	lru     *list.List // of *cacheEntry, most recently used at the front
	items   map[chunkKey]*list.Element
	flights map[chunkKey]*flight
	loads   int64
}

type cacheEntry struct {
	key  chunkKey
	val  any
	size int64
}

// flight is a load in progress.
type flight struct {
	done chan struct{}
	val  any
	err  error
}

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

func newCache(max int64) *chunkCache {
	return &chunkCache{max: max, lru: list.New(), items: map[chunkKey]*list.Element{}, flights: map[chunkKey]*flight{}}
}

// get returns the value under key, calling load once to produce it when it
// is missing. A load that fails is not kept.
func (c *chunkCache) get(key chunkKey, load func() (any, int64, error)) (any, error) {
	c.mu.Lock()
	if e, ok := c.items[key]; ok {
		c.lru.MoveToFront(e)
		v := e.Value.(*cacheEntry).val
		c.mu.Unlock()
		return v, nil
	}
	if f, ok := c.flights[key]; ok {
		c.mu.Unlock()
		<-f.done
		return f.val, f.err
	}
	f := &flight{done: make(chan struct{})}
	c.flights[key] = f
	c.loads++
	c.mu.Unlock()

	var size int64
	func() {
		defer func() {
			if r := recover(); r != nil {
				f.val, f.err = nil, fmt.Errorf("internal error while decoding: %v", r)
			}
		}()
		f.val, size, f.err = load()
	}()

	c.mu.Lock()
	delete(c.flights, key)
	if f.err == nil && f.val != nil && size <= c.max {
		c.items[key] = c.lru.PushFront(&cacheEntry{key, f.val, size})
		c.used += size
		for c.used > c.max {
			e := c.lru.Back()
			ent := e.Value.(*cacheEntry)
			c.lru.Remove(e)
			delete(c.items, ent.key)
			c.used -= ent.size
		}
	}
	c.mu.Unlock()
	close(f.done)
	return f.val, f.err
}

// drop removes the chunks of dataset ds.
func (c *chunkCache) drop(ds uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.items {
		if k.ds == ds {
			c.used -= e.Value.(*cacheEntry).size
			c.lru.Remove(e)
			delete(c.items, k)
		}
	}
}
