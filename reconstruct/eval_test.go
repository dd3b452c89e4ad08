package reconstruct

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// loadShared loads a volume from ../shared/data (skipping when absent).
func loadShared(t *testing.T, name string) *volume.Volume {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "data", name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("skipping: shared data %s not available: %v", name, err)
	}
	// A uint8 C-order .npy with a version-1 header.
	hl := int(b[8]) | int(b[9])<<8
	data := b[10+hl:]
	n := 128
	if len(data) != n*n*n {
		t.Skipf("skipping: %s is not a 128³ uint8 volume", name)
	}
	v, err := volume.New(volume.Shape{Z: n, Y: n, X: n}, data, volume.Voxel{Z: 8, Y: 8, X: 8, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	v.Name = name
	return v
}

// TestEvaluateHemibrain runs the paper's protocol on the Hemibrain test
// volume and compares the classical baselines with the figures the
// training package's numpy/PyTorch metrics give for the same slices
// (F.interpolate nearest and bilinear, align_corners=False).
func TestEvaluateHemibrain(t *testing.T) {
	vol := loadShared(t, "hemibrain-fibsem-8nm-iso-128.npy")
	sc, err := Evaluate(context.Background(), vol, []Method{Nearest, Linear}, EvalOptions{Factor: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		psnr, ssim float64
		cf         []float64
	}{
		{19.9843541391406, 0.4780201886101151, []float64{27.934167565694974, 22.655952268365024, 20.91733941933812, 19.9843845958733}},
		{20.33025132259641, 0.47998311492072887, []float64{26.695636953329487, 22.76432524992972, 21.213324570771242, 20.330283824115103}},
	}
	for i, w := range want {
		s := sc[i]
		if s.Slices != 128 {
			t.Errorf("%s: %d slices", s.Method, s.Slices)
		}
		if math.Abs(s.PSNR-w.psnr) > 1e-3 || math.Abs(s.SSIM-w.ssim) > 1e-4 {
			t.Errorf("%s: PSNR %.5f SSIM %.5f, reference %.5f %.5f", s.Method, s.PSNR, s.SSIM, w.psnr, w.ssim)
		}
		for k, r := range Radii {
			if math.Abs(s.CF[k]-w.cf[k]) > 1e-3 {
				t.Errorf("%s: CF-PSNR r=%g %.5f, reference %.5f", s.Method, r, s.CF[k], w.cf[k])
			}
		}
	}
}

// TestInt8Quality checks, for every shipped model (and those in
// $NIIV_TEST_MODELS), that int8 decoding changes no Hemibrain metric by
// more than 0.05 dB (0.001 in SSIM).
func TestInt8Quality(t *testing.T) {
	needRuntime(t)
	if !int8Kernels {
		t.Skip("skipping: no AVX-512 VNNI")
	}
	dirs := modelDirs(t)[1:]
	if env := os.Getenv("NIIV_TEST_MODELS"); env != "" {
		dirs = append(dirs, strings.Split(env, ",")...)
	}
	if len(dirs) == 0 {
		t.Skip("skipping: no shipped model")
	}
	vol := loadShared(t, "hemibrain-fibsem-8nm-iso-128.npy")
	for _, dir := range dirs {
		m32 := loadTest(t, dir, ModelOptions{Device: "cpu"})
		m8 := loadTest(t, dir, ModelOptions{Device: "cpu", Int8: true})
		sc, err := Evaluate(context.Background(), vol, []Method{NewNiiv(m32, nil), NewNiiv(m8, nil)}, EvalOptions{Factor: m32.Factor()})
		if err != nil {
			t.Fatal(err)
		}
		a, b := sc[0], sc[1]
		t.Logf("%s: CF r=24 %.4f (float32) %.4f (int8); PSNR %.4f %.4f", dir, a.CF[1], b.CF[1], a.PSNR, b.PSNR)
		for i, r := range Radii {
			if d := math.Abs(a.CF[i] - b.CF[i]); d > 0.05 {
				t.Errorf("%s: int8 changes CF-PSNR at r=%g by %.3f dB", dir, r, d)
			}
		}
		if math.Abs(a.PSNR-b.PSNR) > 0.05 || math.Abs(a.SSIM-b.SSIM) > 0.001 {
			t.Errorf("%s: int8 changes PSNR by %.3f dB, SSIM by %.4f", dir, b.PSNR-a.PSNR, b.SSIM-a.SSIM)
		}
	}
}
