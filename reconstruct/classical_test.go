package reconstruct

import (
	"context"
	"math"
	"testing"

	"github.com/niiv/niiv/volume"
)

// rampVolume returns a float32 volume whose value is a·z + b·y + c·x.
func rampVolume(t testing.TB, s volume.Shape, a, b, c float32) *volume.Volume {
	t.Helper()
	data := make([]float32, s.Len())
	for z := 0; z < s.Z; z++ {
		for y := 0; y < s.Y; y++ {
			for x := 0; x < s.X; x++ {
				data[(z*s.Y+y)*s.X+x] = a*float32(z) + b*float32(y) + c*float32(x)
			}
		}
	}
	v, err := volume.New(s, data, volume.Unknown())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestClassicalUpsampleXZ(t *testing.T) {
	// A 4-slice volume upsampled ×4 along z. Nearest repeats slices; linear
	// follows F.interpolate(bilinear, align_corners=False): the source
	// coordinate of output row i is (i+0.5)/4 − 0.5, clamped to [0, 3].
	vol := rampVolume(t, volume.Shape{Z: 4, Y: 3, X: 5}, 10, 0, 1)
	ctx := context.Background()
	req := FullPlane(vol, volume.XZ, 1, 5, 16)
	tests := []struct {
		m    Method
		want func(i, j int) float64
	}{
		{Nearest, func(i, j int) float64 { return 10*float64(i/4) + float64(j) }},
		{Linear, func(i, j int) float64 {
			u := min(max((float64(i)+0.5)/4-0.5, 0), 3)
			return 10*u + float64(j)
		}},
	}
	for _, tc := range tests {
		img, err := tc.m.Render(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < img.H; i++ {
			for j := 0; j < img.W; j++ {
				if got, want := float64(img.At(j, i)), tc.want(i, j); math.Abs(got-want) > 1e-4 {
					t.Fatalf("%s: (%d,%d) = %v, want %v", tc.m.Name(), i, j, got, want)
				}
			}
		}
	}
}

func TestClassicalReproducesRamps(t *testing.T) {
	// Linear and cubic reproduce a linear function away from the borders, on
	// every axis, at any zoom and at fractional z.
	vol := rampVolume(t, volume.Shape{Z: 12, Y: 14, X: 16}, 3, 2, 1)
	ctx := context.Background()
	reqs := []Request{
		{Vol: vol, Axis: volume.XY, Index: 5.25, R0: 4, R1: 9, C0: 5, C1: 11, W: 13, H: 7},
		{Vol: vol, Axis: volume.XZ, Index: 6, R0: 3, R1: 8, C0: 4, C1: 12, W: 40, H: 23},
		{Vol: vol, Axis: volume.YZ, Index: 7, R0: 2.5, R1: 9.5, C0: 3, C1: 10, W: 9, H: 31},
	}
	for _, m := range []Method{Linear, Cubic} {
		for _, req := range reqs {
			img, err := m.Render(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < req.H; i++ {
				for j := 0; j < req.W; j++ {
					r := pixelCentre(req.R0, req.R1, i, req.H) - 0.5
					c := pixelCentre(req.C0, req.C1, j, req.W) - 0.5
					var want float64
					switch req.Axis {
					case volume.XY:
						want = 3*req.Index + 2*r + c
					case volume.XZ:
						want = 3*r + 2*req.Index + c
					case volume.YZ:
						want = 3*r + 2*c + req.Index
					}
					if got := float64(img.At(j, i)); math.Abs(got-want) > 1e-3 {
						t.Fatalf("%s %v: (%d,%d) = %v, want %v", m.Name(), req.Axis, i, j, got, want)
					}
				}
			}
		}
	}
}

func TestClassicalValidate(t *testing.T) {
	vol := rampVolume(t, volume.Shape{Z: 2, Y: 2, X: 2}, 1, 1, 1)
	bad := []Request{
		{},
		{Vol: vol, Axis: volume.XZ, R1: 1, C1: 1, W: 0, H: 1},
		{Vol: vol, Axis: volume.XZ, R0: 1, R1: 1, C1: 1, W: 1, H: 1},
		{Vol: vol, Axis: volume.XY, Index: 5, R1: 1, C1: 1, W: 1, H: 1},
		{Vol: vol, Axis: volume.XY, Index: math.NaN(), R1: 1, C1: 1, W: 1, H: 1},
	}
	for i, req := range bad {
		if _, err := Linear.Render(context.Background(), req); err == nil {
			t.Errorf("request %d: no error", i)
		}
	}
}

func TestClassicalByName(t *testing.T) {
	for _, n := range []string{"nearest", "linear", "bilinear", "cubic"} {
		if _, err := Classical(n); err != nil {
			t.Errorf("Classical(%q): %v", n, err)
		}
	}
	if _, err := Classical("magic"); err == nil {
		t.Error("Classical(magic): no error")
	}
}

func BenchmarkClassical512(b *testing.B) {
	vol := rampVolume(b, volume.Shape{Z: 16, Y: 128, X: 128}, 1, 1, 1)
	for _, m := range []Method{Nearest, Linear, Cubic} {
		b.Run(m.Name(), func(b *testing.B) {
			req := FullPlane(vol, volume.XZ, 64, 512, 512)
			for b.Loop() {
				if _, err := m.Render(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPercentileLikeNumpy compares with numpy.percentile (linear) values.
func TestPercentileLikeNumpy(t *testing.T) {
	data := []uint8{0, 10, 10, 20, 30, 250, 7, 7, 9, 100, 101, 102}
	vol, err := volume.New(volume.Shape{Z: 1, Y: 3, X: 4}, data, volume.Unknown())
	if err != nil {
		t.Fatal(err)
	}
	// numpy.percentile(data, [0.5, 25, 50, 99.5, 100])
	want := map[float64]float64{0.5: 0.385, 25: 8.5, 50: 15, 99.5: 241.86, 100: 250}
	for p, w := range want {
		if got := percentile(vol, p); math.Abs(got-w) > 1e-9 {
			t.Errorf("percentile %g = %v, numpy %v", p, got, w)
		}
	}
}
