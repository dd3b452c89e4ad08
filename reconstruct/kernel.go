package reconstruct

import (
	"sync"
	"sync/atomic"
	"time"
)

// MatMulTime multiplies two n×n float32 matrices once with the native
// decoder's kernel (n rounded up to a multiple of 16) on threads workers and
// returns the time taken; 2n³/time is the kernel's throughput, to compare
// with the machine's matrix-multiply throughput.
func MatMulTime(n, threads int) time.Duration {
	n = roundUp(n, panelW)
	rows := roundUp(n, 6)
	a := make([]float32, rows*n)
	w := make([]float32, n*n)
	for i := range a {
		a[i] = float32(i%13) * 0.01
	}
	for i := range w {
		w[i] = float32(i%7) * 0.01
	}
	l := packLayer(w, n, n, make([]float32, n), n, n)
	c := make([]float32, rows*n)
	threads = max(1, threads)
	t0 := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Go(func() {
			for {
				p := int(next.Add(1) - 1)
				if p >= n/panelW {
					return
				}
				gemmPanel(a, rows, n, l.w[p*n*panelW:(p+1)*n*panelW], l.b[p*panelW:], c[p*panelW:], n, false)
			}
		})
	}
	wg.Wait()
	return time.Since(t0)
}
