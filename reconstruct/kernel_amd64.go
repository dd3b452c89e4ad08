//go:build amd64 && !purego

package reconstruct

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

// The kernels in use: AVX2/FMA assembly when the CPU has it, else the
// portable Go versions.
var (
	gemmPanel = gemmPanelGo
	blend     = blendGo
	gemv      = gemvGo
	kernels   = "go"

	quantizeRows  = quantizeRowsGo
	gemmPanelInt8 = gemmPanelInt8Go
	// int8Kernels reports whether the int8 decoder has its fast kernels
	// (AVX-512 VNNI); without them ModelOptions.Int8 is ignored.
	int8Kernels = false
)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		gemmPanel, blend, gemv, kernels = gemmPanelAsm, blendAsm, gemvAsm, "avx2+fma"
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI && kernels != "go" {
		quantizeRows, gemmPanelInt8, int8Kernels = quantizeRowsAsm, gemmPanelInt8Asm, true
		kernels += ", avx512-vnni int8"
	}
}

// Kernels names the kernels in use, for reports: "avx2+fma" or "go".
func Kernels() string { return kernels }

//go:noescape
func gemmPanelAVX2(a *float32, rows, k int, panel, bias, c *float32, ldc int, relu bool)

//go:noescape
func gemvAVX2(a *float32, rows, k int, w, y *float32)

// gemvAsm checks the slices and runs the AVX2 matrix-vector product (k a
// multiple of 16).
func gemvAsm(a []float32, rows, k int, w, y []float32) {
	if rows <= 0 {
		return
	}
	if k%16 != 0 || len(a) < rows*k || len(w) < k || len(y) < rows {
		gemvGo(a, rows, k, w, y)
		return
	}
	gemvAVX2(&a[0], rows, k, &w[0], &y[0])
}

//go:noescape
func blendAVX2(dst, a, b, c *float32, n int, wa, wb float32, relu bool)

// gemmPanelAsm checks the slices and runs the 6×16 AVX2 kernel.
func gemmPanelAsm(a []float32, rows, k int, panel, bias, c []float32, ldc int, relu bool) {
	if rows <= 0 {
		return
	}
	if rows%6 != 0 || k <= 0 || len(a) < rows*k || len(panel) < k*panelW || len(bias) < panelW || len(c) < (rows-1)*ldc+panelW {
		panic(fmt.Sprintf("reconstruct: gemmPanel rows=%d k=%d len(a)=%d len(panel)=%d len(c)=%d", rows, k, len(a), len(panel), len(c)))
	}
	gemmPanelAVX2(&a[0], rows, k, &panel[0], &bias[0], &c[0], ldc, relu)
}

// blendAsm checks the slices and runs the AVX2 blend.
func blendAsm(dst, a, b, c []float32, wa, wb float32, relu bool) {
	n := len(dst)
	if n == 0 {
		return
	}
	if n%16 != 0 || len(a) < n || len(b) < n || len(c) < n {
		blendGo(dst, a, b, c, wa, wb, relu)
		return
	}
	blendAVX2(&dst[0], &a[0], &b[0], &c[0], n, wa, wb, relu)
}

//go:noescape
func quantizeRowsVNNI(a *float32, rows, k int, q *uint8, rs *float32, c255, tiny, inv255 float32)

//go:noescape
func gemmPanelVNNI(q *uint8, rows, k int, panel *int8, rs, cs, bias, c *float32, ldc int, relu bool)

// quantizeRowsAsm checks the slices and runs the AVX-512 quantiser (k a
// multiple of 8).
func quantizeRowsAsm(a []float32, rows, k int, q []uint8, rs []float32) {
	if rows <= 0 {
		return
	}
	if k%8 != 0 || len(a) < rows*k || len(q) < rows*k || len(rs) < rows {
		panic(fmt.Sprintf("reconstruct: quantizeRows rows=%d k=%d", rows, k))
	}
	quantizeRowsVNNI(&a[0], rows, k, &q[0], &rs[0], 255, int8Tiny, 1.0/255)
}

// gemmPanelInt8Asm checks the slices and runs the 6×16 VNNI kernel.
func gemmPanelInt8Asm(q []uint8, rows, k int, panel []int8, rs, cs, bias, c []float32, ldc int, relu bool) {
	if rows <= 0 {
		return
	}
	if rows%6 != 0 || k%4 != 0 || len(q) < rows*k || len(panel) < k*panelW || len(rs) < rows || len(cs) < panelW || len(bias) < panelW || len(c) < (rows-1)*ldc+panelW {
		panic(fmt.Sprintf("reconstruct: gemmPanelInt8 rows=%d k=%d", rows, k))
	}
	gemmPanelVNNI(&q[0], rows, k, &panel[0], &rs[0], &cs[0], &bias[0], &c[0], ldc, relu)
}
