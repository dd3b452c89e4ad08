// Package lru is a byte-bounded least-recently-used cache with
// single-flight loads: the decoded-chunk caches of the Zarr, HDF5 and TIFF
// readers and the latent cache of the reconstruction engine are all one.
package lru

import (
	"container/list"
	"fmt"
	"sync"
)

// Cache maps keys to values of a known size in bytes, least recently used
// first out, within a byte budget. Readers asking for a key that is being
// loaded wait for that load instead of repeating it. It is safe for
// concurrent use.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	max     int64
	used    int64
	order   list.List // of *entry[K, V], most recently used at the front
	items   map[K]*list.Element
	flights map[K]*flight[V]
	loads   int64
	hits    int64
	misses  int64
}

type entry[K comparable, V any] struct {
	key  K
	val  V
	size int64
	tag  uint64 // the last tagged use (see Get)
}

// flight is a load in progress that other readers of the same key wait for.
type flight[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// New returns a cache that holds at most maxBytes (≤ 0: nothing is kept).
func New[K comparable, V any](maxBytes int64) *Cache[K, V] {
	return &Cache[K, V]{max: max(maxBytes, 0), items: map[K]*list.Element{}, flights: map[K]*flight[V]{}}
}

// Max returns the budget in bytes.
func (c *Cache[K, V]) Max() int64 { return c.max }

// Get returns the value under key, calling load once to produce it (with
// its size in bytes) when it is missing. A load that fails, panics
// (reported as an error), returns a nil interface value or a value larger
// than the budget is not kept.
//
// tag, when not 0, names a use of the cache (one read of many chunks):
// entries that the same tag has used are not evicted to make room for
// another of its loads — that load's value is then not kept — so that a
// read needing more than the budget keeps what fits instead of each chunk
// pushing out the one it needs next time.
func (c *Cache[K, V]) Get(key K, tag uint64, load func() (V, int64, error)) (V, error) {
	c.mu.Lock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		ent := e.Value.(*entry[K, V])
		if tag != 0 {
			ent.tag = tag
		}
		c.hits++
		c.mu.Unlock()
		return ent.val, nil
	}
	if f, ok := c.flights[key]; ok {
		c.mu.Unlock()
		<-f.done
		return f.val, f.err
	}
	f := &flight[V]{done: make(chan struct{})}
	c.flights[key] = f
	c.loads++
	c.misses++
	c.mu.Unlock()

	var size int64
	func() {
		defer func() {
			if r := recover(); r != nil {
				var zero V
				f.val, f.err = zero, fmt.Errorf("internal error while decoding: %v", r)
			}
		}()
		f.val, size, f.err = load()
	}()

	c.mu.Lock()
	delete(c.flights, key)
	if f.err == nil && any(f.val) != nil {
		c.keep(key, f.val, size, tag)
	}
	c.mu.Unlock()
	close(f.done)
	return f.val, f.err
}

// Lookup returns the value under key without loading it.
func (c *Cache[K, V]) Lookup(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		c.misses++
		var zero V
		return zero, false
	}
	c.hits++
	c.order.MoveToFront(e)
	return e.Value.(*entry[K, V]).val, true
}

// Put stores val (size bytes) under key, replacing what was there; a value
// larger than the budget is not kept.
func (c *Cache[K, V]) Put(key K, val V, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.remove(e)
	}
	c.keep(key, val, size, 0)
}

// keep stores an entry, evicting the least recently used ones, but none
// that tag (when not 0) used last: then it keeps nothing. c.mu is held.
func (c *Cache[K, V]) keep(key K, val V, size int64, tag uint64) {
	if size > c.max {
		return
	}
	for c.used+size > c.max {
		e := c.order.Back()
		if tag != 0 && e.Value.(*entry[K, V]).tag == tag {
			return
		}
		c.remove(e)
	}
	c.items[key] = c.order.PushFront(&entry[K, V]{key: key, val: val, size: size, tag: tag})
	c.used += size
}

func (c *Cache[K, V]) remove(e *list.Element) {
	ent := c.order.Remove(e).(*entry[K, V])
	delete(c.items, ent.key)
	c.used -= ent.size
}

// Drop removes the entries whose keys match.
func (c *Cache[K, V]) Drop(match func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.order.Front(); e != nil; {
		next := e.Next()
		if match(e.Value.(*entry[K, V]).key) {
			c.remove(e)
		}
		e = next
	}
}

// Bytes returns the memory the cached values hold.
func (c *Cache[K, V]) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Len returns the number of cached entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Loads returns how many times a value was loaded: hits and waits on a
// load in progress do not count.
func (c *Cache[K, V]) Loads() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads
}

// Stats returns the hits and misses of Get and Lookup.
func (c *Cache[K, V]) Stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
