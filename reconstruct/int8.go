package reconstruct

import (
	"math"
)

// The int8 decoder: hidden layers with int8 weights (one scale per output
// column) and uint8 activations (one scale per pixel, taken from the
// pixel's largest activation, which ReLU makes non-negative), accumulated
// in int32 with AVX-512 VNNI. Layer 1 and the output layer stay float32. It
// is opt-in (ModelOptions.Int8): outputs differ from float32 by about
// 1/255 of each pixel's activation range per layer, which left the
// clipped-Fourier PSNR of the lite model unchanged to within 0.001 dB on
// Hemibrain (see TestInt8Quality).

// qlayer is a hidden layer quantised for the int8 kernel.
type qlayer struct {
	k, n int
	// w holds panels of 16 columns, each [k/4][16][4]: the 4 weights of a
	// column for 4 consecutive inputs are adjacent (VPDPBUSD's layout).
	w  []int8
	cs []float32 // per-column weight scale
	b  []float32
}

// quantize returns l with int8 weights.
func quantize(l *denseLayer) qlayer {
	q := qlayer{k: l.k, n: l.n, w: make([]int8, l.k*l.n), cs: make([]float32, l.n), b: l.b}
	for p := 0; p < l.n/panelW; p++ {
		panel := l.w[p*l.k*panelW : (p+1)*l.k*panelW]
		dst := q.w[p*l.k*panelW : (p+1)*l.k*panelW]
		for c := 0; c < panelW; c++ {
			var m float32
			for kk := 0; kk < l.k; kk++ {
				m = max(m, float32(math.Abs(float64(panel[kk*panelW+c]))))
			}
			s := m / 127
			if s == 0 {
				s = 1
			}
			q.cs[p*panelW+c] = s
			for kk := 0; kk < l.k; kk++ {
				v := math.RoundToEven(float64(panel[kk*panelW+c] / s))
				dst[(kk/4)*64+c*4+kk%4] = int8(min(max(v, -127), 127))
			}
		}
	}
	return q
}

// int8Tiny keeps the scale of an all-zero row finite.
const int8Tiny = 1e-30

// quantizeRowsGo writes q[r][k] = round(a[r][k]·255/max_k a[r]) and
// rs[r] = max_k a[r]·(1/255) for rows of non-negative a.
func quantizeRowsGo(a []float32, rows, k int, q []uint8, rs []float32) {
	for r := 0; r < rows; r++ {
		row := a[r*k : (r+1)*k]
		var m float32
		for _, v := range row {
			m = max(m, v)
		}
		rs[r] = m * (1.0 / 255)
		inv := 255 / max(m, int8Tiny)
		for i, v := range row {
			x := math.RoundToEven(float64(v * inv))
			q[r*k+i] = uint8(min(max(x, 0), 255))
		}
	}
}

// gemmPanelInt8Go is the portable int8 kernel for one panel of 16 columns:
// c[r][j] = (relu)(float(Σ_k q[r][k]·w[k][j])·cs[j]·rs[r] + b[j]).
func gemmPanelInt8Go(q []uint8, rows, k int, panel []int8, rs, cs, bias, c []float32, ldc int, relu bool) {
	for r := 0; r < rows; r++ {
		for j := 0; j < panelW; j++ {
			var acc int32
			for kk := 0; kk < k; kk++ {
				acc += int32(q[r*k+kk]) * int32(panel[(kk/4)*64+j*4+kk%4])
			}
			v := float32(acc)*cs[j]*rs[r] + bias[j]
			if relu && v < 0 {
				v = 0
			}
			c[r*ldc+j] = v
		}
	}
}

// int8Layers returns the quantised hidden layers, quantising them once.
func (m *mlp) int8Layers() []qlayer {
	m.qonce.Do(func() {
		for i := range m.hidden {
			m.qhidden = append(m.qhidden, quantize(&m.hidden[i]))
		}
	})
	return m.qhidden
}

// forwardInt8 is forward with int8 hidden layers; q and rs are scratch of
// n·maxWidth bytes and n floats.
func (m *mlp) forwardInt8(a []float32, n int, s1, s2 []float32, q []uint8, rs []float32, y []float32) {
	x, k := a, m.dp
	for _, l := range m.int8Layers() {
		quantizeRows(x, n, k, q, rs)
		for p := 0; p < l.n/panelW; p++ {
			gemmPanelInt8(q, n, k, l.w[p*l.k*panelW:(p+1)*l.k*panelW], rs, l.cs[p*panelW:], l.b[p*panelW:], s1[p*panelW:], l.n, true)
		}
		x, k = s1[:n*l.n], l.n
		s1, s2 = s2, s1
	}
	m.output(x, n, k, s1, y)
}
