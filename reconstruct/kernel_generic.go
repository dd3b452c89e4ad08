//go:build !amd64 || purego

package reconstruct

// The portable kernels; amd64 builds use AVX2/FMA assembly when the CPU
// has it (kernel_amd64.go).
var (
	gemmPanel = gemmPanelGo
	blend     = blendGo
	gemv      = gemvGo

	quantizeRows  = quantizeRowsGo
	gemmPanelInt8 = gemmPanelInt8Go
	int8Kernels   = false // the int8 path needs AVX-512 VNNI
)

// Kernels names the kernels in use, for reports.
func Kernels() string { return "go" }
