package reconstruct

import (
	"math"
	"testing"
)

// TestMatMulBenchComputesTheProduct checks MatMulBench's result against a
// plain triple loop, for sizes that are and are not multiples of the panel
// width and more workers than panels.
func TestMatMulBenchComputesTheProduct(t *testing.T) {
	for _, c := range []struct{ n, threads, wantN int }{{16, 1, 16}, {20, 3, 32}, {48, 8, 48}} {
		m := NewMatMulBench(c.n, c.threads)
		if m.N() != c.wantN || m.Flops() != 2*float64(c.wantN*c.wantN*c.wantN) {
			t.Fatalf("n=%d: N()=%d Flops()=%g, want %d and 2N³", c.n, m.N(), m.Flops(), c.wantN)
		}
		m.Run()
		n := m.N()
		for r := 0; r < n; r++ {
			for j := 0; j < n; j++ {
				var want float64
				for k := 0; k < n; k++ {
					want += float64(m.a[r*n+k]) * float64(float32(((k*n)+j)%7)*0.01)
				}
				if got := float64(m.c[r*n+j]); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("n=%d threads=%d: c[%d][%d]=%g, want %g", c.n, c.threads, r, j, got, want)
				}
			}
		}
	}
}

// BenchmarkMatMulBench1024 is the kernel's throughput on a 1024³ product, 2 workers.
func BenchmarkMatMulBench1024(b *testing.B) {
	m := NewMatMulBench(1024, 2)
	for b.Loop() {
		m.Run()
	}
	b.ReportMetric(m.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
