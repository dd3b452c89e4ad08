package reconstruct

import (
	"sync"
	"sync/atomic"
)

// MatMulBench is a square float32 matrix product through the native
// decoder's GEMM kernel (the 6×16 panel kernel of its hidden layers), set up
// once so that Run can be timed alone, wall and CPU time, over repeated
// runs: the kernel's throughput on this machine, to compare with another
// library's on the same product (niiv bench compares it with PyTorch's BLAS).
// A MatMulBench is not safe for concurrent use.
type MatMulBench struct {
	n, rows, threads int
	a, c             []float32
	l                denseLayer
}

// NewMatMulBench prepares the product of two n×n matrices (n rounded up to
// a multiple of 16, the kernel's panel width) on threads workers (at least
// one).
func NewMatMulBench(n, threads int) *MatMulBench {
	n = roundUp(max(1, n), panelW)
	rows := roundUp(n, 6) // the kernel takes rows 6 at a time
	m := &MatMulBench{n: n, rows: rows, threads: max(1, threads), a: make([]float32, rows*n), c: make([]float32, rows*n)}
	for i := range m.a {
		m.a[i] = float32(i%13) * 0.01
	}
	w := make([]float32, n*n)
	for i := range w {
		w[i] = float32(i%7) * 0.01
	}
	m.l = packLayer(w, n, n, make([]float32, n), n, n)
	return m
}

// N is the matrix size after rounding.
func (m *MatMulBench) N() int { return m.n }

// Flops is the work of one Run, 2n³ (the few padding rows that make the
// row count a multiple of 6 are not counted).
func (m *MatMulBench) Flops() float64 {
	n := float64(m.n)
	return 2 * n * n * n
}

// Run computes the product once, the workers taking the 16-column panels of
// the result in turn, as the decoder's layers do.
func (m *MatMulBench) Run() {
	var next atomic.Int64
	var wg sync.WaitGroup
	panels := m.n / panelW
	for t := 0; t < m.threads; t++ {
		wg.Go(func() {
			for {
				p := int(next.Add(1) - 1)
				if p >= panels {
					return
				}
				gemmPanel(m.a, m.rows, m.n, m.l.w[p*m.n*panelW:(p+1)*m.n*panelW], m.l.b[p*panelW:], m.c[p*panelW:], m.n, false)
			}
		})
	}
	wg.Wait()
}
