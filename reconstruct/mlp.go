package reconstruct

import (
	"fmt"
	"math"
	"sync"
)

// mlp is the decoder's MLP, read from decoder.onnx, laid out for the native
// decoder. Widths are padded to multiples of panelW with zero weights, so
// padded channels stay exactly zero through every ReLU layer.
//
// Layer 1 acts on [latent (F), v (1), pe (8)]. Because bilinear sampling is
// linear and its weights do not depend on the channel, layer 1's latent and
// v parts commute with it: the native decoder applies w1z and w1v to the
// part of the latent grid a request needs (project) and samples the result. The
// positional encoding part is separable into a row and a column term.
type mlp struct {
	feats  int // F
	width  int // D, the true hidden width
	dp     int // D padded to a multiple of panelW
	w1z    []float32
	w1v    []float32 // [dp]
	w1pe   []float32 // [8][dp]: rows 0–3 act on the row encoding, 4–7 on the column's
	b1     []float32 // [dp]
	hidden []denseLayer
	out    denseLayer // one real output column, padded to panelW
	head   headKind
	border bool // GridSample padding: border (true) or zeros

	l1once sync.Once
	l1z    denseLayer // w1z packed (see layer1)

	int8    bool // hidden layers in int8 (see int8.go)
	qonce   sync.Once
	qhidden []qlayer
}

// denseLayer is a packed, padded fully connected layer.
type denseLayer struct {
	k, n int       // padded input and output widths
	w    []float32 // panels of panelW columns: [n/panelW][k][panelW]
	b    []float32 // [n]
}

type headKind int

const (
	headResidual headKind = iota // values = v + MLP
	headSigmoid                  // values = sigmoid(MLP)
	headPlain                    // values = MLP
)

func (h headKind) String() string {
	return [...]string{"residual", "sigmoid", "plain"}[h]
}

// panelW is the column width of packed weight panels (two AVX registers).
const panelW = 16

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// packLayer pads w [kin][nin] (row-major, as ONNX MatMul stores it) and b
// [nin] to k×n and packs it in panels.
func packLayer(w []float32, kin, nin int, b []float32, k, n int) denseLayer {
	l := denseLayer{k: k, n: n, w: make([]float32, k*n), b: make([]float32, n)}
	copy(l.b, b)
	for p := 0; p < n/panelW; p++ {
		panel := l.w[p*k*panelW : (p+1)*k*panelW]
		for r := 0; r < kin; r++ {
			for c := 0; c < panelW; c++ {
				col := p*panelW + c
				if col < nin {
					panel[r*panelW+c] = w[r*nin+col]
				}
			}
		}
	}
	return l
}

// mlpFromGraph extracts the MLP of a niiv decoder graph with feats latent
// channels, checking the structure the native decoder assumes.
func mlpFromGraph(g *onnxGraph, feats int) (*mlp, error) {
	layers, head, border, err := decoderLayers(g, feats)
	if err != nil {
		return nil, err
	}
	m := &mlp{feats: feats, head: head, border: border}
	last := layers[len(layers)-1]
	d := int(layers[0].w.dims[1])
	m.width, m.dp = d, roundUp(d, panelW)
	w1 := layers[0].w.data
	m.w1z = make([]float32, feats*m.dp)
	m.w1v = make([]float32, m.dp)
	m.w1pe = make([]float32, 8*m.dp)
	m.b1 = make([]float32, m.dp)
	for r := 0; r < feats+9; r++ {
		row := w1[r*d : (r+1)*d]
		switch {
		case r < feats:
			copy(m.w1z[r*m.dp:], row)
		case r == feats:
			copy(m.w1v, row)
		default:
			copy(m.w1pe[(r-feats-1)*m.dp:], row)
		}
	}
	copy(m.b1, layers[0].b.data)
	k := m.dp
	for _, l := range layers[1 : len(layers)-1] {
		kin, nin := int(l.w.dims[0]), int(l.w.dims[1])
		if roundUp(kin, panelW) != k {
			return nil, fmt.Errorf("MLP layer of %d inputs follows a layer of %d outputs", kin, k)
		}
		n := roundUp(nin, panelW)
		m.hidden = append(m.hidden, packLayer(l.w.data, kin, nin, l.b.data, k, n))
		k = n
	}
	if roundUp(int(last.w.dims[0]), panelW) != k {
		return nil, fmt.Errorf("last MLP layer takes %d inputs after a layer of %d outputs", last.w.dims[0], k)
	}
	m.out = packLayer(last.w.data, int(last.w.dims[0]), 1, last.b.data, k, panelW)
	return m, nil
}

// macs returns the multiply-accumulates per output pixel of the native
// decoder (layers 2 and up; layer 1 is a blend of projected latents).
func (m *mlp) macs() int {
	n := 0
	for _, l := range m.hidden {
		n += l.k * l.n
	}
	return n + m.out.k
}

// positional writes the 4-value encoding of coordinate c ∈ [−1, 1]:
// sin 2πp, cos 2πp, sin 4πp, cos 4πp with p = (c+1)/2.
func positional(c float64, dst []float64) {
	p := (c + 1) / 2
	s1, c1 := math.Sincos(2 * math.Pi * p)
	s2, c2 := math.Sincos(4 * math.Pi * p)
	dst[0], dst[1], dst[2], dst[3] = s1, c1, s2, c2
}

// peTerm writes Σ_k pe_k·w1pe[off+k] (off 0: row, 4: column) into dst.
func (m *mlp) peTerm(c float64, off int, dst []float32) {
	var pe [4]float64
	positional(c, pe[:])
	clear(dst)
	for k := 0; k < 4; k++ {
		w := m.w1pe[(off+k)*m.dp : (off+k+1)*m.dp]
		f := float32(pe[k])
		for d := range dst {
			dst[d] += f * w[d]
		}
	}
}

// projection is the layer-1 projection (latent·w1z + low·w1v) of the
// rectangle rows [r0, r0+h) × columns [c0, c0+w) of a plane, [h·w][dp].
type projection struct {
	r0, c0, w, dp int
	data          []float32
}

// at returns the projection of plane pixel (r, c).
func (pr *projection) at(r, c int) []float32 {
	i := ((r-pr.r0)*pr.w + c - pr.c0) * pr.dp
	return pr.data[i : i+pr.dp : i+pr.dp]
}

// layer1 returns w1z packed for gemm (with zero bias), packing it once.
func (m *mlp) layer1() *denseLayer {
	m.l1once.Do(func() { m.l1z = packLayer(m.w1z, m.feats, m.dp, nil, m.feats, m.dp) })
	return &m.l1z
}

// project computes the layer-1 projection of rows [r0, r1] × columns
// [c0, c1] (inclusive) of plane p.
func (m *mlp) project(p *plane, r0, r1, c0, c1 int) *projection {
	h, w, f := r1-r0+1, c1-c0+1, m.feats
	n := h * w
	np := roundUp(n, 6)
	a := make([]float32, np*f)
	for r := 0; r < h; r++ {
		copy(a[r*w*f:(r+1)*w*f], p.latT[((r0+r)*p.w+c0)*f:((r0+r)*p.w+c1+1)*f])
	}
	pr := &projection{r0: r0, c0: c0, w: w, dp: m.dp, data: make([]float32, np*m.dp)}
	gemm(a, np, f, m.layer1(), pr.data, m.dp, false)
	for r := 0; r < h; r++ {
		for c := 0; c < w; c++ {
			v := p.low[(r0+r)*p.w+c0+c]
			row := pr.data[(r*w+c)*m.dp : (r*w+c+1)*m.dp]
			for d := range row {
				row[d] += v * m.w1v[d]
			}
		}
	}
	return pr
}

// forward runs layers 2… on n (a multiple of 6) layer-1 activations a
// [n][dp] and writes the MLP outputs (before the head) to y[:n]. s1 and s2
// are scratch of n·maxWidth floats each.
func (m *mlp) forward(a []float32, n int, s1, s2 []float32, y []float32) {
	x, k := a, m.dp
	for i := range m.hidden {
		l := &m.hidden[i]
		gemm(x, n, k, l, s1, l.n, true)
		x, k = s1[:n*l.n], l.n
		s1, s2 = s2, s1
	}
	m.output(x, n, k, s1, y)
}

// output applies the output layer (one real column: a matrix-vector
// product) to x [n][k]; s is scratch of k floats.
func (m *mlp) output(x []float32, n, k int, s []float32, y []float32) {
	w := s[:k]
	for r := range w {
		w[r] = m.out.w[r*panelW]
	}
	gemv(x, n, k, w, y)
	b := m.out.b[0]
	for i := range y[:n] {
		y[i] += b
	}
}

// maxWidth returns the widest padded layer.
func (m *mlp) maxWidth() int {
	w := max(m.dp, panelW)
	for _, l := range m.hidden {
		w = max(w, l.n)
	}
	return w
}

// gemm computes c[r][j] = (relu)(Σ_k a[r][k]·w[k][j] + b[j]) for rows r <
// rows (a multiple of 6) and the layer's n columns; c has row stride ldc.
func gemm(a []float32, rows, k int, l *denseLayer, c []float32, ldc int, relu bool) {
	if rows%6 != 0 || len(a) < rows*k || len(c) < (rows-1)*ldc+l.n {
		panic(fmt.Sprintf("reconstruct: gemm rows=%d k=%d len(a)=%d len(c)=%d", rows, k, len(a), len(c)))
	}
	for p := 0; p < l.n/panelW; p++ {
		panel := l.w[p*l.k*panelW : (p+1)*l.k*panelW]
		gemmPanel(a, rows, k, panel, l.b[p*panelW:(p+1)*panelW], c[p*panelW:], ldc, relu)
	}
}

// gemvGo writes y[r] = Σ_k a[r][k]·w[k] for r < rows.
func gemvGo(a []float32, rows, k int, w, y []float32) {
	for r := 0; r < rows; r++ {
		var s float32
		for kk, v := range a[r*k : (r+1)*k] {
			s += v * w[kk]
		}
		y[r] = s
	}
}

// gemmPanelGo is the portable kernel: one panel of panelW columns for all
// rows.
func gemmPanelGo(a []float32, rows, k int, panel, bias, c []float32, ldc int, relu bool) {
	var acc [panelW]float32
	for r := 0; r < rows; r++ {
		copy(acc[:], bias)
		ar := a[r*k : (r+1)*k]
		for kk, av := range ar {
			w := panel[kk*panelW : (kk+1)*panelW : (kk+1)*panelW]
			for j := range acc {
				acc[j] += av * w[j]
			}
		}
		dst := c[r*ldc : r*ldc+panelW]
		for j, v := range acc {
			if relu && v < 0 {
				v = 0
			}
			dst[j] = v
		}
	}
}

// blendGo writes dst[d] = wa·a[d] + wb·b[d] + c[d], clamped at 0 when
// relu is set.
func blendGo(dst, a, b, c []float32, wa, wb float32, relu bool) {
	a, b, c = a[:len(dst)], b[:len(dst)], c[:len(dst)]
	for d := range dst {
		v := wa*a[d] + wb*b[d] + c[d]
		if relu && v < 0 {
			v = 0
		}
		dst[d] = v
	}
}
