package reconstruct

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// codedVolume holds v = z·1e6 + y·1e3 + x, so every voxel says where it is.
func codedVolume(t *testing.T, s volume.Shape) *volume.Volume {
	t.Helper()
	data := make([]float32, s.Len())
	for i := range data {
		z, y, x := i/(s.Y*s.X), i/s.X%s.Y, i%s.X
		data[i] = float32(z*1e6 + y*1e3 + x)
	}
	v, err := volume.New(s, data, volume.Voxel{Z: 40, Y: 5, X: 5, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	v.Name = "coded"
	return v
}

func TestLateralCrops(t *testing.T) {
	tests := []struct {
		name    string
		shape   volume.Shape
		opt     LateralOptions
		h, w, n int
		scale   float64
	}{
		{"128 tiles", volume.Shape{Z: 3, Y: 300, X: 260}, LateralOptions{Factor: 8}, 128, 128, 12, 1},
		{"capped", volume.Shape{Z: 3, Y: 300, X: 260}, LateralOptions{Factor: 8, MaxCrops: 5}, 128, 128, 5, 1},
		{"small planes", volume.Shape{Z: 4, Y: 90, X: 50}, LateralOptions{Factor: 4}, 88, 50, 4, math.Sqrt(88*50) / 128},
		{"chosen planes", volume.Shape{Z: 6, Y: 130, X: 130}, LateralOptions{Factor: 8, Planes: []int{1, 4}}, 128, 128, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vol := codedVolume(t, tc.shape)
			gt, c, err := lateralTruth(context.Background(), vol, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if c.H != tc.h || c.W != tc.w || c.N != tc.n || math.Abs(c.RadiusScale-tc.scale) > 1e-12 {
				t.Fatalf("crops %+v, want %d×%d ×%d scale %g", c, tc.h, tc.w, tc.n, tc.scale)
			}
			if gt.Shape() != (volume.Shape{Z: tc.h, Y: tc.n, X: tc.w}) {
				t.Fatalf("stand-in volume %v", gt.Shape())
			}
			seen := map[[3]int]bool{}
			for k := range c.N {
				// Crop k: xz plane k of the stand-in is a block of one xy plane.
				v0 := int(gt.At(0, k, 0))
				z, y0, x0 := v0/1e6, v0/1000%1000, v0%1000
				if tc.opt.Planes != nil && z != tc.opt.Planes[k%len(tc.opt.Planes)] {
					t.Errorf("crop %d from plane %d, want one of %v", k, z, tc.opt.Planes)
				}
				if seen[[3]int{z, y0, x0}] {
					t.Errorf("crop %d repeats plane %d at (%d,%d)", k, z, y0, x0)
				}
				seen[[3]int{z, y0, x0}] = true
				for _, rc := range [][2]int{{0, 0}, {c.H - 1, c.W - 1}, {c.H / 2, 3}} {
					want := float64(z*1e6 + (y0+rc[0])*1e3 + x0 + rc[1])
					if got := gt.At(rc[0], k, rc[1]); got != want {
						t.Fatalf("crop %d (%d,%d) = %g, want %g", k, rc[0], rc[1], got, want)
					}
				}
			}
		})
	}
}

func TestLateralErrors(t *testing.T) {
	nanData := make([]float32, 2*64*64)
	nanData[5] = float32(math.NaN())
	nan, _ := volume.New(volume.Shape{Z: 2, Y: 64, X: 64}, nanData, volume.Voxel{Z: 1, Y: 1, X: 1})
	tests := []struct {
		name string
		vol  *volume.Volume
		opt  LateralOptions
		want string
	}{
		{"factor", codedVolume(t, volume.Shape{Z: 2, Y: 64, X: 64}), LateralOptions{Factor: 1}, "at least 2"},
		{"too small", codedVolume(t, volume.Shape{Z: 2, Y: 12, X: 64}), LateralOptions{Factor: 8}, "too small"},
		{"plane outside", codedVolume(t, volume.Shape{Z: 2, Y: 64, X: 64}), LateralOptions{Factor: 4, Planes: []int{2}}, "outside"},
		{"no planes", codedVolume(t, volume.Shape{Z: 2, Y: 64, X: 64}), LateralOptions{Factor: 4, Planes: []int{}}, "no xy planes"},
		{"NaN", nan, LateralOptions{Factor: 4}, "NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Lateral(context.Background(), tc.vol, []Method{Nearest}, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "lateral") {
				t.Fatalf("error %v, want one about the lateral check mentioning %q", err, tc.want)
			}
		})
	}
}

// With whole 128×128 planes, the check is the paper's protocol run on the
// volume turned on its side (y along z): the same scores.
func TestLateralIsTheProtocolOnItsSide(t *testing.T) {
	s := volume.Shape{Z: 4, Y: 128, X: 128}
	data := make([]uint8, s.Len())
	side := make([]uint8, s.Len()) // side[y, z, x] = data[z, y, x]
	for i := range data {
		z, y, x := i/(s.Y*s.X), i/s.X%s.Y, i%s.X
		v := uint8(128 + 60*math.Sin(float64(y)/3+float64(z))*math.Cos(float64(x)/5) + float64((x*7+y*13)%17))
		data[i] = v
		side[(y*s.Z+z)*s.X+x] = v
	}
	vol, _ := volume.New(s, data, volume.Voxel{Z: 40, Y: 5, X: 5, Known: true})
	iso, _ := volume.New(volume.Shape{Z: 128, Y: 4, X: 128}, side, volume.Voxel{Z: 5, Y: 5, X: 5, Known: true})
	methods := []Method{Nearest, Linear}
	got, c, err := Lateral(context.Background(), vol, methods, LateralOptions{Factor: 4})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Evaluate(context.Background(), iso, methods, EvalOptions{Factor: 4})
	if err != nil {
		t.Fatal(err)
	}
	if c.N != 4 || c.RadiusScale != 1 {
		t.Fatalf("crops %+v, want the 4 whole planes", c)
	}
	for i := range methods {
		if got[i].Slices != 4 || math.Abs(got[i].PSNR-want[i].PSNR) > 1e-9 || math.Abs(got[i].CF[1]-want[i].CF[1]) > 1e-9 {
			t.Errorf("%s: lateral %+v, protocol on its side %+v", methods[i].Name(), got[i], want[i])
		}
	}
}
