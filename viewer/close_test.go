package viewer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/niiv/niiv/volume"
)

// guarded is a renderer whose resource is freed by its Owner: a render
// that runs after the free, or while it happens, is counted.
type guarded struct {
	name   string
	stop   time.Duration // time a render takes to notice cancellation
	freed  atomic.Bool
	active atomic.Int32
	late   atomic.Int32 // renders that used the freed resource
	calls  atomic.Int32
}

func (g *guarded) Name() string { return g.name }

func (g *guarded) Render(ctx context.Context, s Slice) (*volume.Image, error) {
	g.active.Add(1)
	defer g.active.Add(-1)
	g.calls.Add(1)
	for range 1000 { // a long decode, checking cancellation between planes
		if g.freed.Load() {
			g.late.Add(1)
		}
		if ctx.Err() != nil {
			time.Sleep(g.stop)
			if g.freed.Load() {
				g.late.Add(1)
			}
			return nil, ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return volume.NewImage(s.W, s.H), nil
}

// TestPipelineCloseWaits closes pipelines while every view decodes, as a
// window closing or a model switch does: Close returns once the decodes
// have returned, and the model (the Owner's close) is freed only after
// them and only when its last holder lets go.
func TestPipelineCloseWaits(t *testing.T) {
	tests := []struct {
		name string
		stop time.Duration
		// extra holders besides the loader and the pipeline (an export)
		export bool
	}{
		{"decodes stop at once", 0, false},
		{"decodes take 50 ms to stop", 50 * time.Millisecond, false},
		{"an export still holds the model", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTestModel(t)
			g := &guarded{name: "niiv-guarded", stop: tc.stop}
			ms, _, _ := fakeMethods()
			ms.Niiv = g
			var closes atomic.Int32
			ms.Owner = NewOwner(func() {
				if g.active.Load() != 0 {
					t.Error("the model was freed while a decode ran")
				}
				g.freed.Store(true)
				closes.Add(1)
			})
			p := NewPipeline(ms, func(Frame) {}, false)
			ms.Owner.Release() // the loader hands the model over to the pipeline
			if tc.export && !ms.Owner.Retain() {
				t.Fatal("retain failed")
			}
			m.SetMode(Niiv)
			for _, a := range Views {
				p.Submit(m.Request(a, 1))
			}
			for g.active.Load() < 3 {
				time.Sleep(time.Millisecond)
			}
			t0 := time.Now()
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			took := time.Since(t0)
			if g.active.Load() != 0 {
				t.Errorf("%d decodes still run after Close returned", g.active.Load())
			}
			if took > time.Second {
				t.Errorf("Close took %v", took)
			}
			if tc.export {
				if closes.Load() != 0 {
					t.Fatal("the model was closed while an export held it")
				}
				ms.Owner.Release()
			}
			if closes.Load() != 1 {
				t.Errorf("model closed %d times, want 1", closes.Load())
			}
			p.Submit(m.Request(volume.XY, 1)) // a late request from the UI is ignored
			time.Sleep(20 * time.Millisecond)
			if g.late.Load() != 0 {
				t.Errorf("%d renders used the freed model", g.late.Load())
			}
			if err := p.Close(); err != nil { // idempotent
				t.Error(err)
			}
		})
	}
}

// TestPipelineCloseBound: a renderer that ignores cancellation does not
// hang Close beyond CloseWait; Close says so.
func TestPipelineCloseBound(t *testing.T) {
	old := CloseWait
	CloseWait = 50 * time.Millisecond
	defer func() { CloseWait = old }()
	m, _ := newTestModel(t)
	ms, _, nv := fakeMethods()
	block := make(chan struct{})
	nv.delay = time.Hour
	entered := make(chan struct{}, 1)
	ms.Niiv = blocking{nv, block, entered}
	p := NewPipeline(ms, func(Frame) {}, false)
	m.SetMode(Niiv)
	p.Submit(m.Request(volume.XY, 1))
	// Wait until the decode runs (a fixed sleep is too short under -race
	// on a loaded machine).
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the niiv decode never started")
	}
	t0 := time.Now()
	err := p.Close()
	if err == nil {
		t.Error("Close reported no running decodes")
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Close took %v with a 50 ms bound", d)
	}
	close(block)
}

// blocking ignores cancellation until block is closed.
type blocking struct {
	*fake
	block   chan struct{}
	entered chan struct{} // receives once Render runs
}

func (b blocking) Render(ctx context.Context, s Slice) (*volume.Image, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.block
	return volume.NewImage(s.W, s.H), nil
}

func TestOwner(t *testing.T) {
	var closes int
	o := NewOwner(func() { closes++ })
	if !o.Retain() || o.Holders() != 2 {
		t.Fatal("retain")
	}
	o.Release()
	if closes != 0 {
		t.Fatal("closed with a holder left")
	}
	o.Release()
	if closes != 1 || o.Retain() {
		t.Fatalf("closes %d, retain after close succeeded", closes)
	}
	o.Release() // extra releases do nothing
	if closes != 1 {
		t.Fatalf("closes %d", closes)
	}
	var nilOwner *Owner
	if !nilOwner.Retain() {
		t.Error("nil owner")
	}
	nilOwner.Release()
}
