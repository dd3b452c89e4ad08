package reconstruct

import (
	"math"
	"testing"

	"github.com/niiv/niiv/volume"
)

// testPair returns the deterministic image pair whose metrics were computed
// with the training package's numpy/PyTorch reference (metrics.py).
func testPair() (pred, gt *volume.Image) {
	const h, w = 24, 20
	gt, pred = volume.NewImage(w, h), volume.NewImage(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x), float64(y)
			g := float32(0.5 + 0.4*math.Sin(fx*0.7+fy*0.3))
			gt.Set(x, y, g)
			pred.Set(x, y, float32(float64(g)+0.05*math.Cos(fx*1.3-fy*0.9)+0.02*math.Sin(fx*fy*0.1)))
		}
	}
	return pred, gt
}

func TestMetricsMatchReference(t *testing.T) {
	pred, gt := testPair()
	tests := []struct {
		name string
		got  float64
		want float64
		tol  float64
	}{
		{"psnr", PSNR(pred, gt), 28.416668289635115, 1e-4},
		{"ssim", SSIM(pred, gt), 0.9874174631295372, 1e-5},
		{"cf r=0", CFPSNR(pred, gt, 0), 55.28901709820394, 1e-3},
		{"cf r=3", CFPSNR(pred, gt, 3), 46.18195744929686, 1e-3},
		{"cf r=5.5", CFPSNR(pred, gt, 5.5), 30.94110530612671, 1e-3},
		{"cf r=10", CFPSNR(pred, gt, 10), 28.472409195924076, 1e-3},
	}
	for _, tc := range tests {
		if math.Abs(tc.got-tc.want) > tc.tol {
			t.Errorf("%s = %.9g, reference %.9g", tc.name, tc.got, tc.want)
		}
	}
}

// TestCFPSNRParseval checks that the clipped-Fourier PSNR with a mask that
// keeps every coefficient equals PSNR, for even and odd sizes.
func TestCFPSNRParseval(t *testing.T) {
	sizes := []struct{ w, h int }{{16, 16}, {20, 24}, {17, 9}, {128, 128}, {33, 64}}
	for _, sz := range sizes {
		pred, gt := volume.NewImage(sz.w, sz.h), volume.NewImage(sz.w, sz.h)
		for i := range gt.Pix {
			gt.Pix[i] = float32(math.Mod(float64(i)*0.618, 1))
			pred.Pix[i] = gt.Pix[i] + float32(0.1*math.Sin(float64(i)))
		}
		full := math.Hypot(float64(sz.w), float64(sz.h)) // beyond every corner
		cf, p := CFPSNR(pred, gt, full), PSNR(pred, gt)
		if math.Abs(cf-p) > 1e-9*math.Abs(p) {
			t.Errorf("%d×%d: CF-PSNR(full) = %.12g, PSNR = %.12g", sz.w, sz.h, cf, p)
		}
	}
}

func TestSSIMIdentical(t *testing.T) {
	_, gt := testPair()
	if s := SSIM(gt, gt); math.Abs(s-1) > 1e-12 {
		t.Errorf("SSIM(x, x) = %v, want 1", s)
	}
	if p := PSNR(gt, gt); !math.IsInf(p, 1) {
		t.Errorf("PSNR(x, x) = %v, want +Inf", p)
	}
}

func TestScale(t *testing.T) {
	img := &volume.Image{W: 4, H: 1, Pix: []float32{-10, 0, 127.5, 300}}
	Scale(img, 0, 255)
	want := []float32{0, 0, 0.5, 1}
	for i, w := range want {
		if img.Pix[i] != w {
			t.Errorf("Scale: pix %d = %v, want %v", i, img.Pix[i], w)
		}
	}
}
