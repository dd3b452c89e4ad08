package reconstruct

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/niiv/niiv/volume"
)

// TestLifetime checks the rules a model's native resources follow: free
// runs once, never while a call holds the lifetime, and calls after close
// fail with ErrClosed.
func TestLifetime(t *testing.T) {
	tests := []struct {
		name string
		// calls held when close begins, and when each is released
		held    int
		release time.Duration
		wait    time.Duration
		// want: close reports freed within the wait
		freedInWait bool
	}{
		{"idle", 0, 0, time.Second, true},
		{"one call returns within the wait", 1, 20 * time.Millisecond, 5 * time.Second, true},
		{"three calls return within the wait", 3, 20 * time.Millisecond, 5 * time.Second, true},
		{"a call outlives the wait", 1, 300 * time.Millisecond, 10 * time.Millisecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l lifetime
			var frees, running atomic.Int32
			var badFree atomic.Bool
			free := func() {
				if running.Load() != 0 {
					badFree.Store(true)
				}
				frees.Add(1)
			}
			var wg sync.WaitGroup
			started := make(chan struct{}, tc.held)
			for range tc.held {
				ctx, done, err := l.enter(context.Background(), "m")
				if err != nil {
					t.Fatal(err)
				}
				running.Add(1)
				wg.Go(func() {
					started <- struct{}{}
					<-ctx.Done() // close cancels the call…
					time.Sleep(tc.release)
					running.Add(-1) // …which then returns
					done()
				})
			}
			for range tc.held {
				<-started
			}
			if got := l.close(free, tc.wait); got != tc.freedInWait {
				t.Errorf("close reported freed=%v, want %v", got, tc.freedInWait)
			}
			if _, _, err := l.enter(context.Background(), "m"); !errors.Is(err, ErrClosed) {
				t.Errorf("enter after close: %v, want ErrClosed", err)
			}
			wg.Wait()
			if !l.close(free, time.Second) { // a second close waits again, frees nothing twice
				t.Error("second close did not see the model freed")
			}
			if frees.Load() != 1 || badFree.Load() {
				t.Errorf("free ran %d times (want 1), while a call ran: %v", frees.Load(), badFree.Load())
			}
		})
	}
}

// TestLifetimeConcurrent races calls against close (run with -race): no
// call ever runs after free.
func TestLifetimeConcurrent(t *testing.T) {
	for round := range 50 {
		var l lifetime
		var freed atomic.Bool
		var after atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					ctx, done, err := l.enter(context.Background(), "m")
					if err != nil {
						return
					}
					if freed.Load() {
						after.Add(1)
					}
					_ = ctx
					done()
				}
			})
		}
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		l.close(func() { freed.Store(true) }, time.Second)
		wg.Wait()
		if after.Load() != 0 {
			t.Fatalf("round %d: %d calls ran after free", round, after.Load())
		}
	}
}

// bigVolume returns a random z×y×x volume, anisotropic ×4.
func bigVolume(t testing.TB, z, y, x int) *volume.Volume {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, z*y*x)
	for i := range data {
		data[i] = r.Float32()
	}
	v, err := volume.New(volume.Shape{Z: z, Y: y, X: x}, data, volume.Voxel{Z: 4, Y: 1, X: 1, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCloseWhileRendering closes a model while renders use it, as the
// viewer does when its window closes or another model replaces it: an xy
// frame that encodes every xz plane, an xz frame and a whole-volume
// reconstruction. Before models had a lifetime, Close destroyed the ONNX
// Runtime sessions under a running encoder call (SIGSEGV in
// DynamicAdvancedSession.RunWithOptions). Now the renders stop promptly
// with ErrClosed, and a render after Close fails with it at once.
func TestCloseWhileRendering(t *testing.T) {
	needRuntime(t)
	vol := bigVolume(t, 16, 384, 384)
	s := vol.Shape()
	xy := Request{Vol: vol, Axis: volume.XY, Index: 7.5, R0: 0, R1: float64(s.Y), C0: 0, C1: float64(s.X), W: s.X, H: s.Y}
	xz := Request{Vol: vol, Axis: volume.XZ, Index: 100, R0: 0, R1: float64(s.Z), C0: 0, C1: float64(s.X), W: s.X, H: 4 * s.Z}
	tests := []struct {
		name   string
		render func(ctx context.Context, n *Niiv) error
	}{
		{"xy frame encoding every xz plane", func(ctx context.Context, n *Niiv) error {
			_, err := n.Render(ctx, xy)
			return err
		}},
		{"xz frames", func(ctx context.Context, n *Niiv) error {
			for k := range s.Y { // new planes, so that each encodes
				r := xz
				r.Index = float64(k)
				if _, err := n.Render(ctx, r); err != nil {
					return err
				}
			}
			return nil
		}},
		{"whole volume", func(ctx context.Context, n *Niiv) error {
			_, err := Isotropic(ctx, n, vol, VolumeOptions{})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := LoadModel(filepath.Join("..", "assets", "models", "lite"), ModelOptions{Device: "cpu", Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			n := NewNiiv(m, NewCache(1<<30))
			errc := make(chan error, 4)
			for range 4 { // several renders at once, as the three views and an export
				go func() { errc <- tc.render(context.Background(), n) }()
			}
			time.Sleep(300 * time.Millisecond) // well inside the encoding
			t0 := time.Now()
			if err := m.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			closed := time.Since(t0)
			for range 4 {
				select {
				case err := <-errc:
					if err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("render during close: %v, want nil or ErrClosed", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("a render still runs 10 s after Close")
				}
			}
			t.Logf("Close returned in %v", closed.Round(time.Millisecond))
			if err := tc.render(context.Background(), n); !errors.Is(err, ErrClosed) {
				t.Errorf("render after close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestCancelAsRunEnds cancels encoder calls at random moments around their
// end. The cancellation terminates the running ONNX Runtime call from the
// cancelling goroutine; the run options it uses must outlive that call
// (run with -race: before, Terminate could touch destroyed run options).
func TestCancelAsRunEnds(t *testing.T) {
	needRuntime(t)
	m, err := LoadModel(filepath.Join("..", "assets", "models", "lite"), ModelOptions{Device: "cpu", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const h, w = 8, 32
	low := make([]float32, h*w)
	var one time.Duration // the fastest of a few calls, after a warm-up
	for i := range 6 {
		t0 := time.Now()
		if _, err := m.Encode(context.Background(), low, 1, h, w); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); i > 0 && (one == 0 || d < one) {
			one = d
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	var finished, cancelled int
	for range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		delay := time.Duration(r.Int64N(int64(3*one/2) + 1))
		start := time.Now()
		go func() { // spins: a sleep this short would oversleep
			for time.Since(start) < delay {
			}
			cancel()
		}()
		_, err := m.Encode(ctx, low, 1, h, w)
		switch {
		case err == nil:
			finished++
		case errors.Is(err, context.Canceled):
			cancelled++
		default:
			t.Fatalf("encode cancelled after %v: %v", delay, err)
		}
		cancel()
	}
	t.Logf("one call %v: %d finished, %d cancelled", one.Round(time.Microsecond), finished, cancelled)
}
