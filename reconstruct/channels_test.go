package reconstruct

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/volume"
)

// TestChannelsNormalisedAndCachedApart renders the same plane of two
// channels of a hyperstack through one Niiv and one cache: each channel
// has its own cache entries (the key holds the channel's volume) and is
// normalised with its own percentiles, so a channel that is another one
// scaled and shifted reconstructs to the other's result scaled and
// shifted, and equals what a fresh cache gives.
func TestChannelsNormalisedAndCachedApart(t *testing.T) {
	needRuntime(t)
	m := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "cpu"})
	rng := rand.New(rand.NewPCG(3, 4))
	s := volume.Shape{Z: 12, Y: 6, X: 24}
	a, b := make([]float32, s.Len()), make([]float32, s.Len())
	for i := range a {
		a[i] = rng.Float32() * 100
		b[i] = 10*a[i] + 500
	}
	va, _ := volume.New(s, a, volume.Unknown())
	vb, _ := volume.New(s, b, volume.Unknown())
	h, err := volume.NewHyperstack("two", [][]*volume.Volume{{va, vb}}, make([]volume.Channel, 2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	shared := NewNiiv(m, NewCache(8<<20))
	var out [2]*volume.Image
	for c := range 2 {
		req := FullPlane(h.At(0, c), volume.XZ, 2, 2, 2)
		if out[c], err = shared.Render(ctx, req); err != nil {
			t.Fatal(err)
		}
		fresh, err := NewNiiv(m, NewCache(8<<20)).Render(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for i := range fresh.Pix {
			if out[c].Pix[i] != fresh.Pix[i] {
				t.Fatalf("channel %d, pixel %d: %v through the shared cache, %v through a fresh one", c, i, out[c].Pix[i], fresh.Pix[i])
			}
		}
	}
	for c := range 2 {
		if p, _ := shared.cache.get(cacheKey{h.At(0, c), volume.XZ, 2, m}); p == nil {
			t.Errorf("channel %d has no cache entry of its own", c)
		}
	}
	for i := range out[0].Pix {
		want := 10*float64(out[0].Pix[i]) + 500
		if d := math.Abs(float64(out[1].Pix[i]) - want); d > 1e-3*math.Max(1, math.Abs(want)) {
			t.Fatalf("pixel %d: channel 1 is %v, want 10 × channel 0 + 500 = %v (each channel normalised on its own)", i, out[1].Pix[i], want)
		}
	}
}
