package glrender

import (
	"fmt"
	"strings"
)

// groupSize is the compute shaders' work-group size (local_size_x).
const groupSize = 64

// decodeShader returns the decoder's compute shader for an MLP with the
// given layer widths (widths[0] = F+9 inputs … widths[last] = 1 output).
//
// Each invocation decodes one output point. Its row and column taps and
// positional encodings come precomputed in float64 on the CPU (exactly as
// the CPU decoder computes them); the latent grid is read from an RGBA32F
// texture array (4 channels a layer) with texelFetch and blended manually,
// so that interpolation is exact float32 arithmetic on every GPU rather
// than the texture unit's 8-bit fixed-point filter weights.
func decodeShader(feats int, widths []int, head string) string {
	var b strings.Builder
	layers := len(widths) - 1
	fmt.Fprintf(&b, "#version 430 core\nlayout(local_size_x = %d) in;\n", groupSize)
	fmt.Fprintf(&b, "#define FEATS %d\n#define LAYERS %d\n", feats, (feats+3)/4)
	maxW := 0
	off := 0
	for l := 0; l < layers; l++ {
		fmt.Fprintf(&b, "#define IN%d %d\n#define OUT%d %d\n#define W%d %d\n#define B%d %d\n",
			l, widths[l], l, widths[l+1], l, off, l, off+widths[l]*widths[l+1])
		off += widths[l]*widths[l+1] + widths[l+1]
		if l < layers-1 {
			maxW = max(maxW, widths[l+1])
		}
	}
	fmt.Fprintf(&b, "#define MAXW %d\n", maxW)
	b.WriteString(`
layout(binding = 0) uniform sampler2DArray latent;
layout(binding = 1) uniform sampler2D low;
layout(std430, binding = 0) readonly buffer Weights { float wt[]; };
layout(std430, binding = 1) readonly buffer Axes { float ax[]; };
layout(std430, binding = 2) writeonly buffer Values { float values[]; };
uniform int total;   // points in this dispatch
uniform int first;   // index of the dispatch's first point
uniform int gridW;   // grid mode: output width; 0: points mode
uniform int colBase; // index of the first column entry in ax

void main() {
	int k = int(gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x);
	if (k >= total) {
		return;
	}
	k += first;
	int ri = gridW > 0 ? k / gridW : k;
	int ci = gridW > 0 ? k % gridW : k;
	int ro = 8 * ri;
	int co = 8 * (colBase + ci);
	int y0 = int(ax[ro]), y1 = int(ax[ro + 1]);
	int x0 = int(ax[co]), x1 = int(ax[co + 1]);
	float w00 = ax[ro + 2] * ax[co + 2], w01 = ax[ro + 2] * ax[co + 3];
	float w10 = ax[ro + 3] * ax[co + 2], w11 = ax[ro + 3] * ax[co + 3];

	float a[MAXW];
	float c[MAXW];
	for (int d = 0; d < OUT0; d++) {
		a[d] = wt[B0 + d];
	}
	for (int l = 0; l < LAYERS; l++) {
		vec4 z = w00 * texelFetch(latent, ivec3(x0, y0, l), 0) + w01 * texelFetch(latent, ivec3(x1, y0, l), 0)
		       + w10 * texelFetch(latent, ivec3(x0, y1, l), 0) + w11 * texelFetch(latent, ivec3(x1, y1, l), 0);
		for (int ch = 0; ch < 4; ch++) {
			int f = 4 * l + ch;
			if (f < FEATS) {
				float x = z[ch];
				int o = W0 + f * OUT0;
				for (int d = 0; d < OUT0; d++) {
					a[d] += x * wt[o + d];
				}
			}
		}
	}
	float v = w00 * texelFetch(low, ivec2(x0, y0), 0).r + w01 * texelFetch(low, ivec2(x1, y0), 0).r
	        + w10 * texelFetch(low, ivec2(x0, y1), 0).r + w11 * texelFetch(low, ivec2(x1, y1), 0).r;
	float inx[9] = float[9](v, ax[ro + 4], ax[ro + 5], ax[ro + 6], ax[ro + 7], ax[co + 4], ax[co + 5], ax[co + 6], ax[co + 7]);
	for (int i = 0; i < 9; i++) {
		int o = W0 + (FEATS + i) * OUT0;
		for (int d = 0; d < OUT0; d++) {
			a[d] += inx[i] * wt[o + d];
		}
	}
	for (int d = 0; d < OUT0; d++) {
		a[d] = max(a[d], 0.0);
	}
`)
	// Hidden layers ping-pong between a and c; the last layer has one
	// output.
	src, dst := "a", "c"
	for l := 1; l < layers; l++ {
		if l == layers-1 {
			fmt.Fprintf(&b, `	float y = wt[B%d];
	for (int i = 0; i < IN%d; i++) {
		y += %s[i] * wt[W%d + i];
	}
`, l, l, src, l)
			break
		}
		fmt.Fprintf(&b, `	for (int d = 0; d < OUT%d; d++) {
		%s[d] = wt[B%d + d];
	}
	for (int i = 0; i < IN%d; i++) {
		float x = %s[i];
		int o = W%d + i * OUT%d;
		for (int d = 0; d < OUT%d; d++) {
			%s[d] += x * wt[o + d];
		}
	}
	for (int d = 0; d < OUT%d; d++) {
		%s[d] = max(%s[d], 0.0);
	}
`, l, dst, l, l, src, l, l, l, dst, l, dst, dst)
		src, dst = dst, src
	}
	switch head {
	case "residual":
		b.WriteString("\tvalues[k] = v + y;\n")
	case "sigmoid":
		b.WriteString("\tvalues[k] = 1.0 / (1.0 + exp(-y));\n")
	default:
		b.WriteString("\tvalues[k] = y;\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// convShader returns the compute shader of a k×k convolution from cin to
// cout channels with zero padding (size kept), a bias, an optional
// residual input added after the bias and an optional ReLU, over a batch
// of planes laid out [n][c][h][w]. One invocation computes one output
// value.
func convShader(cin, cout, k int) string {
	return fmt.Sprintf(`#version 430 core
layout(local_size_x = %d) in;
#define CIN %d
#define COUT %d
#define K %d
layout(std430, binding = 0) readonly buffer In { float inp[]; };
layout(std430, binding = 1) readonly buffer Weights { float wt[]; };
layout(std430, binding = 2) readonly buffer Res { float res[]; };
layout(std430, binding = 3) writeonly buffer Out { float outp[]; };
uniform int total;
uniform int H;
uniform int W;
uniform int hasRes;
uniform int relu;
void main() {
	int idx = int(gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x);
	if (idx >= total) {
		return;
	}
	int hw = H * W;
	int x = idx %% W;
	int y = (idx / W) %% H;
	int oc = (idx / hw) %% COUT;
	int n = idx / (hw * COUT);
	float acc = 0.0;
	for (int ic = 0; ic < CIN; ic++) {
		int base = (n * CIN + ic) * hw;
		int wb = (oc * CIN + ic) * K * K;
		for (int ky = 0; ky < K; ky++) {
			int yy = y + ky - K / 2;
			if (yy < 0 || yy >= H) {
				continue;
			}
			for (int kx = 0; kx < K; kx++) {
				int xx = x + kx - K / 2;
				if (xx < 0 || xx >= W) {
					continue;
				}
				acc += inp[base + yy * W + xx] * wt[wb + ky * K + kx];
			}
		}
	}
	acc += wt[COUT * CIN * K * K + oc];
	if (hasRes != 0) {
		acc += res[idx];
	}
	if (relu != 0) {
		acc = max(acc, 0.0);
	}
	outp[idx] = acc;
}
`, groupSize, cin, cout, k)
}

// elementwiseShader adds two tensors (op 0) or applies a ReLU (op 1).
const elementwiseShader = `#version 430 core
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 3) writeonly buffer Out { float outp[]; };
uniform int total;
uniform int op;
void main() {
	int i = int(gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x);
	if (i >= total) {
		return;
	}
	outp[i] = op == 0 ? a[i] + b[i] : max(a[i], 0.0);
}
`
