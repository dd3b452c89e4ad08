//go:build amd64 && !purego

#include "textflag.h"

// func gemmPanelAVX2(a *float32, rows, k int, panel, bias, c *float32, ldc int, relu bool)
//
// For each block of 6 rows of a (row-major, k columns) computes
// c[r][0:16] = (relu)(bias[0:16] + Σ_k a[r][k]·panel[k][0:16]).
// rows is a multiple of 6; panel is k×16, packed; c has row stride ldc.
// Y0–Y11 accumulate 6 rows × 16 columns, Y12/Y13 hold a panel row, Y14 a
// broadcast element of a.
TEXT ·gemmPanelAVX2(SB), NOSPLIT, $0-57
	MOVQ a+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ k+16(FP), R9
	MOVQ panel+24(FP), DI
	MOVQ bias+32(FP), R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R11
	MOVBQZX relu+56(FP), R12
	SHLQ $2, R11          // row stride of c in bytes
	MOVQ R9, R13
	SHLQ $2, R13          // row stride of a in bytes

rowblock:
	CMPQ R8, $0
	JLE  done
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y1, Y3
	VMOVAPS Y0, Y4
	VMOVAPS Y1, Y5
	VMOVAPS Y0, Y6
	VMOVAPS Y1, Y7
	VMOVAPS Y0, Y8
	VMOVAPS Y1, Y9
	VMOVAPS Y0, Y10
	VMOVAPS Y1, Y11
	MOVQ SI, AX           // rows 0..2: (AX), (AX)(R13*1), (AX)(R13*2)
	LEAQ (SI)(R13*2), BX
	ADDQ R13, BX          // rows 3..5: (BX), (BX)(R13*1), (BX)(R13*2)
	MOVQ DI, CX
	MOVQ R9, R14

kloop:
	VMOVUPS (CX), Y12
	VMOVUPS 32(CX), Y13
	VBROADCASTSS (AX), Y14
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS (AX)(R13*1), Y14
	VFMADD231PS Y12, Y14, Y2
	VFMADD231PS Y13, Y14, Y3
	VBROADCASTSS (AX)(R13*2), Y14
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS (BX), Y14
	VFMADD231PS Y12, Y14, Y6
	VFMADD231PS Y13, Y14, Y7
	VBROADCASTSS (BX)(R13*1), Y14
	VFMADD231PS Y12, Y14, Y8
	VFMADD231PS Y13, Y14, Y9
	VBROADCASTSS (BX)(R13*2), Y14
	VFMADD231PS Y12, Y14, Y10
	VFMADD231PS Y13, Y14, Y11
	ADDQ $4, AX
	ADDQ $4, BX
	ADDQ $64, CX
	DECQ R14
	JNZ  kloop

	TESTQ R12, R12
	JZ    store
	VXORPS Y12, Y12, Y12
	VMAXPS Y12, Y0, Y0
	VMAXPS Y12, Y1, Y1
	VMAXPS Y12, Y2, Y2
	VMAXPS Y12, Y3, Y3
	VMAXPS Y12, Y4, Y4
	VMAXPS Y12, Y5, Y5
	VMAXPS Y12, Y6, Y6
	VMAXPS Y12, Y7, Y7
	VMAXPS Y12, Y8, Y8
	VMAXPS Y12, Y9, Y9
	VMAXPS Y12, Y10, Y10
	VMAXPS Y12, Y11, Y11

store:
	LEAQ (DX)(R11*2), AX
	ADDQ R11, AX
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, (DX)(R11*1)
	VMOVUPS Y3, 32(DX)(R11*1)
	VMOVUPS Y4, (DX)(R11*2)
	VMOVUPS Y5, 32(DX)(R11*2)
	VMOVUPS Y6, (AX)
	VMOVUPS Y7, 32(AX)
	VMOVUPS Y8, (AX)(R11*1)
	VMOVUPS Y9, 32(AX)(R11*1)
	VMOVUPS Y10, (AX)(R11*2)
	VMOVUPS Y11, 32(AX)(R11*2)
	LEAQ (SI)(R13*4), SI
	LEAQ (SI)(R13*2), SI
	LEAQ (DX)(R11*4), DX
	LEAQ (DX)(R11*2), DX
	SUBQ $6, R8
	JMP  rowblock

done:
	VZEROUPPER
	RET

// func blendAVX2(dst, a, b, c *float32, n int, wa, wb float32, relu bool)
//
// dst[i] = (relu)(wa·a[i] + wb·b[i] + c[i]) for i < n, n a multiple of 16.
TEXT ·blendAVX2(SB), NOSPLIT, $0-49
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ n+32(FP), BX
	VBROADCASTSS wa+40(FP), Y0
	VBROADCASTSS wb+44(FP), Y1
	VXORPS Y2, Y2, Y2
	MOVBQZX relu+48(FP), AX
	TESTQ AX, AX
	JZ    linear

reluloop:
	VMOVUPS (CX), Y3
	VMOVUPS 32(CX), Y4
	VFMADD231PS (SI), Y0, Y3
	VFMADD231PS 32(SI), Y0, Y4
	VFMADD231PS (DX), Y1, Y3
	VFMADD231PS 32(DX), Y1, Y4
	VMAXPS Y2, Y3, Y3
	VMAXPS Y2, Y4, Y4
	VMOVUPS Y3, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, CX
	ADDQ $64, DI
	SUBQ $16, BX
	JNZ  reluloop
	VZEROUPPER
	RET

linear:
	VMOVUPS (CX), Y3
	VMOVUPS 32(CX), Y4
	VFMADD231PS (SI), Y0, Y3
	VFMADD231PS 32(SI), Y0, Y4
	VFMADD231PS (DX), Y1, Y3
	VFMADD231PS 32(DX), Y1, Y4
	VMOVUPS Y3, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, CX
	ADDQ $64, DI
	SUBQ $16, BX
	JNZ  linear
	VZEROUPPER
	RET

// func gemvAVX2(a *float32, rows, k int, w, y *float32)
//
// y[r] = Σ_k a[r][k]·w[k] for r < rows; k is a multiple of 16.
TEXT ·gemvAVX2(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ k+16(FP), R9
	MOVQ w+24(FP), DI
	MOVQ y+32(FP), DX

gemvrow:
	TESTQ R8, R8
	JZ    gemvdone
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	MOVQ DI, CX
	MOVQ R9, BX

gemvk:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VFMADD231PS (CX), Y2, Y0
	VFMADD231PS 32(CX), Y3, Y1
	ADDQ $64, SI
	ADDQ $64, CX
	SUBQ $16, BX
	JNZ  gemvk
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, (DX)
	ADDQ $4, DX
	DECQ R8
	JMP  gemvrow

gemvdone:
	VZEROUPPER
	RET
