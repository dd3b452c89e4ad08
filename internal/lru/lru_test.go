package lru

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestBudgetAndOrder(t *testing.T) {
	tests := []struct {
		name   string
		max    int64
		puts   []int64 // sizes of keys 0, 1, 2, …
		touch  int     // key read again after the puts (-1: none)
		add    int64   // size of one more key
		kept   []int
		bytes  int64
		missed []int
	}{
		{"fits", 100, []int64{10, 20, 30}, -1, 5, []int{0, 1, 2, 3}, 65, nil},
		{"evicts the oldest", 60, []int64{10, 20, 30}, -1, 15, []int{2, 3}, 45, []int{0, 1}},
		{"a read makes it recent", 60, []int64{10, 20, 30}, 0, 15, []int{0, 2, 3}, 55, []int{1}},
		{"too large is not kept", 60, []int64{10, 20}, -1, 61, []int{0, 1}, 30, []int{2}},
		{"no budget", 0, []int64{1}, -1, 1, nil, 0, []int{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New[int, string](tc.max)
			for k, s := range tc.puts {
				c.Put(k, "v", s)
			}
			if tc.touch >= 0 {
				c.Lookup(tc.touch)
			}
			c.Put(len(tc.puts), "v", tc.add)
			for _, k := range tc.kept {
				if _, ok := c.Lookup(k); !ok {
					t.Errorf("key %d was evicted", k)
				}
			}
			for _, k := range tc.missed {
				if _, ok := c.Lookup(k); ok {
					t.Errorf("key %d is still there", k)
				}
			}
			if c.Bytes() != tc.bytes || c.Len() != len(tc.kept) {
				t.Errorf("%d bytes in %d entries, want %d in %d", c.Bytes(), c.Len(), tc.bytes, len(tc.kept))
			}
		})
	}
}

// Concurrent readers of a key wait for one load.
func TestSingleFlight(t *testing.T) {
	c := New[string, any](1 << 20)
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			v, err := c.Get("k", 0, func() (any, int64, error) {
				calls.Add(1)
				<-release
				return 42, 8, nil
			})
			if err != nil || v != 42 {
				t.Errorf("got %v, %v", v, err)
			}
		})
	}
	for c.Loads() == 0 {
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 || c.Loads() != 1 {
		t.Errorf("%d loads, want 1", calls.Load())
	}
}

func TestFailuresNotKept(t *testing.T) {
	c := New[int, any](100)
	tests := []struct {
		name string
		load func() (any, int64, error)
		want string
	}{
		{"error", func() (any, int64, error) { return nil, 0, errors.New("corrupt chunk") }, "corrupt chunk"},
		{"panic", func() (any, int64, error) { panic("index out of range") }, "internal error while decoding: index out of range"},
		{"nil value", func() (any, int64, error) { return nil, 0, nil }, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Get(i, 0, tc.load)
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if c.Len() != 0 {
				t.Fatal("a failed load was kept")
			}
		})
	}
}

// A tagged use does not evict what it used itself: what does not fit is
// loaded again next time instead of pushing out the next entry it needs.
func TestTagKeepsItsOwnEntries(t *testing.T) {
	c := New[int, any](30)
	load := func() (any, int64, error) { return 1, 10, nil }
	for k := range 5 { // one read of 5 chunks of 10 bytes: the first 3 stay
		c.Get(k, 7, load)
	}
	for k := range 5 {
		_, ok := c.Lookup(k)
		if ok != (k < 3) {
			t.Errorf("chunk %d kept %v", k, ok)
		}
	}
	// Another read evicts the least recent.
	c.Get(9, 8, load)
	if _, ok := c.Lookup(0); ok {
		t.Error("another tag could not evict")
	}
}

func TestDrop(t *testing.T) {
	c := New[[2]int, int](100)
	for i := range 6 {
		c.Put([2]int{i % 2, i}, i, 10)
	}
	c.Drop(func(k [2]int) bool { return k[0] == 1 })
	if c.Len() != 3 || c.Bytes() != 30 {
		t.Fatalf("%d entries, %d bytes after the drop", c.Len(), c.Bytes())
	}
	if _, ok := c.Lookup([2]int{1, 1}); ok {
		t.Error("a dropped key is still there")
	}
}
