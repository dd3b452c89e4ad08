package zarr

import (
	"container/list"
	"fmt"
	"sync"

	"github.com/niiv/niiv/internal/sysmem"
)

// Cache keeps decoded chunks, least recently used first out, within a byte
// budget. One Cache may serve any number of Images (Options.Cache); it is
// safe for concurrent use, and readers asking for a chunk that is being
// decoded wait for that decoding instead of repeating it.
type Cache struct {
	mu      sync.Mutex
	max     int64
	used    int64
	lru     *list.List // of *cacheEntry, most recently used at the front
	items   map[string]*list.Element
	flights map[string]*flight
	loads   int64
}

type cacheEntry struct {
	key  string
	val  any
	size int64
}

// flight is a load in progress that other readers of the same key wait for.
type flight struct {
	done chan struct{}
	val  any
	err  error
}

// NewCache returns a cache that holds at most maxBytes of decoded chunks.
// A chunk larger than the whole budget is decoded for each read that needs
// it and not kept.
func NewCache(maxBytes int64) *Cache {
	return &Cache{
		max:     max(maxBytes, 0),
		lru:     list.New(),
		items:   map[string]*list.Element{},
		flights: map[string]*flight{},
	}
}

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
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Len returns the number of cached entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Loads returns how many times an entry was loaded (read and decoded)
// since the cache was made: hits and waits on a load in progress do not
// count.
func (c *Cache) Loads() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads
}

// get returns the value under key, calling load once to produce it when it
// is missing. A load that returns a nil value or an error is not kept.
func (c *Cache) get(key string, load func() (any, int64, error)) (any, error) {
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
