package reconstruct

import "fmt"

// DenseCols is the column granularity of Dense: packed matrices have their
// columns padded with zeros to a multiple of it.
const DenseCols = panelW

// DenseRows is the row granularity of Dense.Mul: it multiplies blocks of
// this many rows.
const DenseRows = 6

// Dense is a weight matrix and a bias packed for the native decoder's
// matrix kernels (AVX2/FMA where the CPU has them, else portable Go), for
// other packages that run dense layers on the CPU (the adaptation
// trainer). The zero value is empty; Pack fills it.
type Dense struct{ l denseLayer }

// Pack packs the k×n matrix w (row-major) and bias b (n values; nil means
// zeros) for Mul, reusing d's memory. stride ≥ k is the row stride of the
// matrices Mul will multiply (rows k… of the packed matrix are zero).
func (d *Dense) Pack(w []float32, k, n int, b []float32, stride int) {
	d.pack(w, k, n, b, stride, false)
}

// PackTransposed packs the transpose of w, a k×n row-major matrix: Mul then
// computes a·wᵀ, a having stride ≥ n columns.
func (d *Dense) PackTransposed(w []float32, k, n int, stride int) {
	d.pack(w, k, n, nil, stride, true)
}

func (d *Dense) pack(w []float32, k, n int, b []float32, stride int, transpose bool) {
	rows, cols := k, n
	if transpose {
		rows, cols = n, k
	}
	if stride < rows || len(w) < k*n || (b != nil && len(b) < cols) {
		panic(fmt.Sprintf("reconstruct: Dense.Pack %d×%d stride %d with %d weights", k, n, stride, len(w)))
	}
	np := roundUp(cols, panelW)
	size := stride * np
	if cap(d.l.w) < size {
		d.l.w = make([]float32, size)
	}
	if cap(d.l.b) < np {
		d.l.b = make([]float32, np)
	}
	d.l.k, d.l.n, d.l.w, d.l.b = stride, np, d.l.w[:size], d.l.b[:np]
	clear(d.l.w)
	clear(d.l.b)
	if b != nil {
		copy(d.l.b, b[:cols])
	}
	for p := 0; p < np/panelW; p++ {
		panel := d.l.w[p*stride*panelW : (p+1)*stride*panelW]
		c0, c1 := p*panelW, min(cols, (p+1)*panelW)
		if !transpose {
			for r := 0; r < rows; r++ {
				copy(panel[r*panelW:r*panelW+c1-c0], w[r*n+c0:r*n+c1])
			}
			continue
		}
		for r := 0; r < rows; r++ {
			dst := panel[r*panelW : (r+1)*panelW]
			for c := c0; c < c1; c++ {
				dst[c-c0] = w[c*n+r]
			}
		}
	}
}

// Cols returns the packed (padded) number of columns: Mul writes that many.
func (d *Dense) Cols() int { return d.l.n }

// Mul computes c[r][j] = (ReLU)(b[j] + Σ_i a[r][i]·w[i][j]) for r < rows
// and j < Cols(). rows must be a multiple of DenseRows; a has the row
// stride given to Pack, c has row stride ldc ≥ Cols().
func (d *Dense) Mul(a []float32, rows int, c []float32, ldc int, relu bool) {
	if rows == 0 {
		return
	}
	gemm(a, rows, d.l.k, &d.l, c, ldc, relu)
}

// AddScaled adds s·x to dst (len(dst) values) with the native decoder's
// vector kernel.
func AddScaled(dst, x []float32, s float32) {
	blend(dst, x, x, dst, s, 0, false)
}

// Blend writes dst[i] = wa·a[i] + wb·b[i] + c[i] for i < len(dst), clamped
// at 0 when relu is set, with the native decoder's vector kernel. dst may
// alias c.
func Blend(dst, a, b, c []float32, wa, wb float32, relu bool) {
	blend(dst, a, b, c, wa, wb, relu)
}
