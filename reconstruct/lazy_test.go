package reconstruct

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/niiv/niiv/volume"
)

// countingSource serves an in-memory volume as a volume.Source and counts
// the voxels read.
type countingSource struct {
	v    *volume.Volume
	read atomic.Int64
}

func (c *countingSource) Meta() volume.Meta { return c.v.Meta() }
func (c *countingSource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	c.read.Add(int64(b.Shape().Len()))
	return c.v.Read(ctx, b)
}

// TestLazyVolumeRenders renders the same requests from a volume in memory
// and from the same voxels read lazily: every method gives the same image,
// and a zoomed-in view reads only a small part of the volume.
func TestLazyVolumeRenders(t *testing.T) {
	mem := bigVolume(t, 12, 96, 128)
	src := &countingSource{v: mem}
	lz, err := volume.NewLazy(src)
	if err != nil {
		t.Fatal(err)
	}
	lz.Stats() // niiv's normalisation: a one-time sample, not counted below
	methods := allMethods(t, 256<<20)
	s := mem.Shape()
	reqs := []struct {
		name    string
		req     Request
		maxRead float64 // of the volume's voxels
	}{
		{"xz whole", Request{Axis: volume.XZ, Index: 40, R1: float64(s.Z), C1: float64(s.X), W: s.X, H: 4 * s.Z}, 1},
		{"xz zoomed", Request{Axis: volume.XZ, Index: 40, R0: 3, R1: 6, C0: 50, C1: 70, W: 80, H: 48}, 0.05},
		{"yz zoomed", Request{Axis: volume.YZ, Index: 17, R0: 2, R1: 9, C0: 10, C1: 30, W: 40, H: 56}, 0.05},
		{"xy fractional z, zoomed", Request{Axis: volume.XY, Index: 5.375, R0: 20, R1: 40, C0: 30, C1: 60, W: 60, H: 40}, 0.5},
	}
	for _, m := range methods {
		for _, rc := range reqs {
			t.Run(m.Name()+"/"+rc.name, func(t *testing.T) {
				a, b := rc.req, rc.req
				a.Vol, b.Vol = mem, lz
				want, err := m.Render(context.Background(), a)
				if err != nil {
					t.Fatal(err)
				}
				before := src.read.Load()
				got, err := m.Render(context.Background(), b)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want.Pix {
					if got.Pix[i] != want.Pix[i] {
						t.Fatalf("pixel %d: lazy %v, in memory %v", i, got.Pix[i], want.Pix[i])
					}
				}
				if f := float64(src.read.Load()-before) / float64(s.Len()); f > rc.maxRead {
					t.Errorf("read %.1f%% of the volume, want ≤ %.0f%%", 100*f, 100*rc.maxRead)
				}
			})
		}
	}
}

// allMethods returns nearest, linear, cubic and, when ONNX Runtime loads,
// niiv with the shipped lite model and a latent cache of cache bytes
// (closed when the test ends).
func allMethods(t *testing.T, cache int64) []Method {
	t.Helper()
	methods := []Method{Nearest, Linear, Cubic}
	if _, err := FindLibrary(); err != nil {
		t.Logf("niiv not checked: %v", err)
		return methods
	}
	m, err := LoadModel(filepath.Join("..", "assets", "models", "lite"), ModelOptions{Device: "cpu", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return append(methods, NewNiiv(m, NewCache(cache)))
}
