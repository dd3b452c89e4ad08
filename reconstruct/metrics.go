package reconstruct

import (
	"fmt"
	"math"

	"github.com/niiv/niiv/volume"
	"gonum.org/v1/gonum/dsp/fourier"
)

// The metrics take images with intensities in [0, 1] (see Scale).

// Radii are the clipped-Fourier PSNR radii of the evaluation table, in
// frequency pixels.
var Radii = []float64{10, 24, 44, 90}

func sameSize(a, b *volume.Image) {
	if a.W != b.W || a.H != b.H || len(a.Pix) != len(b.Pix) {
		panic(fmt.Sprintf("reconstruct: metric of images of different sizes %d×%d and %d×%d", a.W, a.H, b.W, b.H))
	}
}

// PSNR returns the peak signal-to-noise ratio of pred against gt in dB,
// for intensities in [0, 1]: −10·log10(MSE). Identical images give +Inf.
// It panics if the sizes differ.
func PSNR(pred, gt *volume.Image) float64 {
	sameSize(pred, gt)
	var sse float64
	for i, p := range pred.Pix {
		d := float64(p) - float64(gt.Pix[i])
		sse += d * d
	}
	return -10 * math.Log10(sse/float64(len(gt.Pix)))
}

// gauss11 is the normalised 11-tap Gaussian window (σ = 1.5) of SSIM.
var gauss11 = func() [11]float64 {
	var g [11]float64
	var s float64
	for i := range g {
		x := float64(i) - 5
		g[i] = math.Exp(-x * x / (2 * 1.5 * 1.5))
		s += g[i]
	}
	for i := range g {
		g[i] /= s
	}
	return g
}()

// SSIM returns the mean structural similarity of pred against gt (Wang et
// al. 2004: 11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03, data
// range 1, mean over the valid region where the window fits). Images
// smaller than 11×11 return NaN. It panics if the sizes differ.
func SSIM(pred, gt *volume.Image) float64 {
	sameSize(pred, gt)
	w, h := gt.W, gt.H
	if w < 11 || h < 11 {
		return math.NaN()
	}
	n := w * h
	p, g := make([]float64, n), make([]float64, n)
	pp, gg, pg := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range p {
		a, b := float64(pred.Pix[i]), float64(gt.Pix[i])
		p[i], g[i], pp[i], gg[i], pg[i] = a, b, a*a, b*b, a*b
	}
	vw, vh := w-10, h-10
	blur := func(src []float64) []float64 {
		tmp := make([]float64, h*vw) // horizontal pass
		for y := 0; y < h; y++ {
			for x := 0; x < vw; x++ {
				var s float64
				for k, c := range gauss11 {
					s += c * src[y*w+x+k]
				}
				tmp[y*vw+x] = s
			}
		}
		out := make([]float64, vh*vw)
		for y := 0; y < vh; y++ {
			for x := 0; x < vw; x++ {
				var s float64
				for k, c := range gauss11 {
					s += c * tmp[(y+k)*vw+x]
				}
				out[y*vw+x] = s
			}
		}
		return out
	}
	mp, mg, spp, sgg, spg := blur(p), blur(g), blur(pp), blur(gg), blur(pg)
	const c1, c2 = 0.01 * 0.01, 0.03 * 0.03
	var sum float64
	for i := range mp {
		a, b := mp[i], mg[i]
		vp, vg, cov := spp[i]-a*a, sgg[i]-b*b, spg[i]-a*b
		sum += ((2*a*b + c1) * (2*cov + c2)) / ((a*a + b*b + c1) * (vp + vg + c2))
	}
	return sum / float64(len(mp))
}

// CFPSNR returns the clipped-Fourier PSNR of pred against gt at radius r
// (the niiv paper's metric): with F = fftshift(fft2(img)), unnormalised,
// keep the coefficients within distance r of the centre (H//2, W//2),
// inclusive; SSE = Σ|Fp − Fg|²; CF-PSNR = 20·log10(H·W) − 10·log10(SSE).
// With r large enough to keep every coefficient it equals PSNR (Parseval).
// It panics if the sizes differ.
func CFPSNR(pred, gt *volume.Image, r float64) float64 {
	return CFPSNRSweep(pred, gt, []float64{r})[0]
}

// CFPSNRSweep returns CFPSNR at each radius, computing the spectra once.
func CFPSNRSweep(pred, gt *volume.Image, radii []float64) []float64 {
	sameSize(pred, gt)
	w, h := gt.W, gt.H
	// The FFT is linear: transform the difference once.
	spec := make([]complex128, w*h)
	for i, p := range pred.Pix {
		spec[i] = complex(float64(p)-float64(gt.Pix[i]), 0)
	}
	fft2(spec, w, h)
	// Power at each distance² from the centre of the shifted spectrum.
	power := make([]float64, (h/2+1)*(h/2+1)+(w/2+1)*(w/2+1))
	for u := 0; u < h; u++ {
		dy := (u+h/2)%h - h/2
		for v := 0; v < w; v++ {
			dx := (v+w/2)%w - w/2
			c := spec[u*w+v]
			power[dy*dy+dx*dx] += real(c)*real(c) + imag(c)*imag(c)
		}
	}
	out := make([]float64, len(radii))
	norm := 20 * math.Log10(float64(w)*float64(h))
	for i, r := range radii {
		var sse float64
		for d2, pw := range power {
			if float64(d2) > r*r {
				break
			}
			sse += pw
		}
		out[i] = norm - 10*math.Log10(sse)
	}
	return out
}

// fft2 replaces data (h rows of w) by its unnormalised 2-D DFT.
func fft2(data []complex128, w, h int) {
	row := fourier.NewCmplxFFT(w)
	buf := make([]complex128, max(w, h))
	for y := 0; y < h; y++ {
		r := data[y*w : (y+1)*w]
		copy(buf[:w], r)
		row.Coefficients(r, buf[:w])
	}
	col := fourier.NewCmplxFFT(h)
	c := make([]complex128, h)
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			buf[y] = data[y*w+x]
		}
		col.Coefficients(c, buf[:h])
		for y := 0; y < h; y++ {
			data[y*w+x] = c[y]
		}
	}
}

// Scale maps img from [lo, hi] to [0, 1] in place, clipping, and returns
// it. Metrics expect their inputs scaled this way.
func Scale(img *volume.Image, lo, hi float64) *volume.Image {
	s := 1 / (hi - lo)
	for i, v := range img.Pix {
		img.Pix[i] = float32(min(max((float64(v)-lo)*s, 0), 1))
	}
	return img
}
