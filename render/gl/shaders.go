package glrender

import (
	"fmt"
	"strings"
)

// groupSize is the compute shaders' work-group size (local_size_x).
const groupSize = 64

// decodeThreads is the decoder's work-group size.
const decodeThreads = 64

// pad4 rounds n up to a multiple of 4.
func pad4(n int) int { return (n + 3) / 4 * 4 }

// decodeLayout returns how the decoder shader tiles its work for an MLP
// with the given layer widths: the shared-memory row stride in floats (the
// widest layer input, padded to a multiple of 4), the points per work
// group and the output neurons per thread, given the device's
// shared-memory limit in bytes.
func decodeLayout(widths []int, sharedBytes int) (stride, points, perThread int) {
	for _, w := range widths[:len(widths)-1] {
		stride = max(stride, pad4(w))
	}
	for _, w := range widths[1 : len(widths)-1] {
		perThread = max(perThread, (w+decodeThreads-1)/decodeThreads)
	}
	perThread = max(perThread, 1)
	// Two activation buffers of points×stride floats and the points'
	// sampled inputs in shared memory, and at most 64 accumulators a thread.
	points = min(32, sharedBytes/(4*(2*stride+1)), 64/perThread)
	return stride, max(points, 1), perThread
}

// decoderInterface declares what every compute decoder kernel reads and
// writes, with the bindings and uniforms the accelerator sets.
const decoderInterface = `layout(binding = 0) uniform sampler2DArray latent;
layout(binding = 1) uniform sampler2D low;
layout(std430, binding = 0) readonly buffer Weights { float wt[]; };
layout(std430, binding = 1) readonly buffer Axes { float ax[]; };
layout(std430, binding = 2) writeonly buffer Values { float values[]; };
uniform int total;   // points in this dispatch
uniform int first;   // index of the dispatch's first point
uniform int gridW;   // grid mode: output width; 0: points mode
uniform int colBase; // index of the first column entry in ax
uniform int outBase; // index in values of the dispatch's point 0
`

// packDecoderWeights lays out the MLP for decodeShader: per layer, W with
// its rows padded with zeros to a multiple of 4, then B.
func packDecoderWeights(layers [][2][]float32, widths []int) []float32 {
	var out []float32
	for l, wb := range layers {
		in, o := widths[l], widths[l+1]
		out = append(out, wb[0][:in*o]...)
		out = append(out, make([]float32, (pad4(in)-in)*o)...)
		out = append(out, wb[1][:o]...)
	}
	return out
}

// decodeShader returns the decoder's compute shader for an MLP with the
// given layer widths (widths[0] = F+9 inputs … widths[last] = 1 output),
// weights packed by packDecoderWeights and work tiled as decodeLayout
// says.
//
// A work group decodes `points` output points together: their layer
// inputs and activations live in shared memory (as vec4s, four inputs a
// read), and each of the decodeThreads threads computes perThread output
// neurons for all of the group's points, unrolled so that the
// accumulators stay in registers and every weight read serves all points.
// The points' row and column taps and positional encodings come
// precomputed in float64 on the CPU, exactly as the CPU decoder computes
// them; the latent grid is read from an RGBA32F texture array (4 channels
// a layer) with texelFetch and blended manually, so that interpolation is
// exact float32 arithmetic on every GPU rather than the texture unit's
// 8-bit fixed-point filter weights.
func decodeShader(feats int, widths []int, head string, sharedBytes int) string {
	stride, points, perThread := decodeLayout(widths, sharedBytes)
	var b strings.Builder
	layers := len(widths) - 1
	fmt.Fprintf(&b, "#version 430 core\nlayout(local_size_x = %d) in;\n", decodeThreads)
	fmt.Fprintf(&b, "#define T %d\n#define P %d\n#define S4 %d\n#define FEATS %d\n#define LAYERS %d\n#define IN0 %d\n",
		decodeThreads, points, stride/4, feats, (feats+3)/4, widths[0])
	off := 0
	for l := 0; l < layers; l++ {
		in := pad4(widths[l])
		fmt.Fprintf(&b, "#define IN%dP %d\n#define OUT%d %d\n#define W%d %d\n#define B%d %d\n",
			l, in, l, widths[l+1], l, off, l, off+in*widths[l+1])
		off += in*widths[l+1] + widths[l+1]
	}
	b.WriteString("\n" + decoderInterface + `
shared vec4 bufA[P * S4];
shared vec4 bufB[P * S4];
shared float vs[P];

// PUT stores value x as input i of point p of buffer buf.
#define PUT(buf, p, i, x) buf[(p) * S4 + (i) / 4][(i) % 4] = (x)

void main() {
	int tid = int(gl_LocalInvocationID.x);
	int group = int(gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x);
	int base = group * P;

	// Layer inputs: [latent (FEATS), v, row encoding (4), column encoding
	// (4), zeros up to a multiple of 4].
	for (int j = tid; j < P * (LAYERS + 1); j += T) {
		int p = j / (LAYERS + 1);
		int l = j % (LAYERS + 1);
		int k = first + min(base + p, total - 1);
		int ri = gridW > 0 ? k / gridW : k;
		int ci = gridW > 0 ? k % gridW : k;
		int ro = 8 * ri;
		int co = 8 * (colBase + ci);
		int y0 = int(ax[ro]), y1 = int(ax[ro + 1]);
		int x0 = int(ax[co]), x1 = int(ax[co + 1]);
		float w00 = ax[ro + 2] * ax[co + 2], w01 = ax[ro + 2] * ax[co + 3];
		float w10 = ax[ro + 3] * ax[co + 2], w11 = ax[ro + 3] * ax[co + 3];
		if (l < LAYERS) {
			vec4 z = w00 * texelFetch(latent, ivec3(x0, y0, l), 0) + w01 * texelFetch(latent, ivec3(x1, y0, l), 0)
			       + w10 * texelFetch(latent, ivec3(x0, y1, l), 0) + w11 * texelFetch(latent, ivec3(x1, y1, l), 0);
			for (int ch = 0; ch < 4 && 4 * l + ch < FEATS; ch++) {
				PUT(bufA, p, 4 * l + ch, z[ch]);
			}
		} else {
			float v = w00 * texelFetch(low, ivec2(x0, y0), 0).r + w01 * texelFetch(low, ivec2(x1, y0), 0).r
			        + w10 * texelFetch(low, ivec2(x0, y1), 0).r + w11 * texelFetch(low, ivec2(x1, y1), 0).r;
			vs[p] = v;
			PUT(bufA, p, FEATS, v);
			for (int e = 0; e < 4; e++) {
				PUT(bufA, p, FEATS + 1 + e, ax[ro + 4 + e]);
				PUT(bufA, p, FEATS + 5 + e, ax[co + 4 + e]);
			}
			for (int i = IN0; i < IN0P; i++) {
				PUT(bufA, p, i, 0.0);
			}
		}
	}
	barrier();
`)
	src, dst := "bufA", "bufB"
	for l := 0; l < layers-1; l++ {
		hiddenLayer(&b, l, widths[l+1], src, dst, points, perThread)
		src, dst = dst, src
	}
	l := layers - 1
	fmt.Fprintf(&b, `
	// Output layer and head: one thread a point.
	if (tid < P && base + tid < total) {
		float y = wt[B%[1]d];
		for (int i = 0; i < IN%[1]dP; i += 4) {
			int o = W%[1]d + i;
			y += dot(%[2]s[tid * S4 + i / 4], vec4(wt[o], wt[o + 1], wt[o + 2], wt[o + 3]));
		}
		float v = vs[tid];
`, l, src)
	fmt.Fprintf(&b, "\t\tvalues[outBase + first + base + tid] = %s;\n", headGLSL(head, "v", "y"))
	b.WriteString("\t}\n}\n")
	return b.String()
}

// hiddenLayer writes the code of hidden layer l (out outputs, ReLU) from
// shared buffer src to dst, unrolled over the thread's perThread neurons
// and the group's points so that the accumulators stay in registers.
func hiddenLayer(b *strings.Builder, l, out int, src, dst string, points, perThread int) {
	fmt.Fprintf(b, "\n\t// Layer %d: %s → %s, ReLU.\n\t{\n", l, src, dst)
	for j := 0; j < perThread; j++ {
		// Threads past the layer's width compute a clamped copy and
		// do not store it.
		fmt.Fprintf(b, "\t\tint d%d = min(tid + %d, OUT%d - 1);\n", j, j*decodeThreads, l)
		for p := 0; p < points; p++ {
			fmt.Fprintf(b, "\t\tfloat a%d_%d = 0.0;\n", j, p)
		}
	}
	fmt.Fprintf(b, "\t\tfor (int i = 0; i < IN%dP; i += 4) {\n\t\t\tint o = W%d + i * OUT%d;\n", l, l, l)
	for j := 0; j < perThread; j++ {
		fmt.Fprintf(b, "\t\t\tvec4 w%[1]d = vec4(wt[o + d%[1]d], wt[o + OUT%[2]d + d%[1]d], wt[o + 2 * OUT%[2]d + d%[1]d], wt[o + 3 * OUT%[2]d + d%[1]d]);\n", j, l)
	}
	for p := 0; p < points; p++ {
		fmt.Fprintf(b, "\t\t\tvec4 x%d = %s[%d * S4 + i / 4];\n", p, src, p)
		for j := 0; j < perThread; j++ {
			fmt.Fprintf(b, "\t\t\ta%d_%d += dot(x%d, w%d);\n", j, p, p, j)
		}
	}
	b.WriteString("\t\t}\n")
	for j := 0; j < perThread; j++ {
		fmt.Fprintf(b, "\t\tif (tid + %d < OUT%d) {\n\t\t\tfloat bias = wt[B%d + d%d];\n", j*decodeThreads, l, l, j)
		for p := 0; p < points; p++ {
			fmt.Fprintf(b, "\t\t\tPUT(%s, %d, d%d, max(a%d_%d + bias, 0.0));\n", dst, p, j, j, p)
		}
		b.WriteString("\t\t}\n")
	}
	if pad := pad4(out) - out; pad > 0 {
		// Zero the padding inputs of the next layer.
		fmt.Fprintf(b, "\t\tif (tid < %d) {\n", pad)
		for p := 0; p < points; p++ {
			fmt.Fprintf(b, "\t\t\tPUT(%s, %d, OUT%d + tid, 0.0);\n", dst, p, l)
		}
		b.WriteString("\t\t}\n")
	}
	b.WriteString("\t}\n\tbarrier();\n")
}

// convShader returns the compute shader of a k×k convolution from cin to
// cout channels with zero padding (size kept), a bias, an optional
// residual input added after the bias and an optional ReLU, over a batch
// of planes laid out [n][c][h][w], with weights packed by packConv. One
// invocation computes one output value: the fallback for channel counts
// that are not multiples of 4 (see tiledConvShader).
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
		int wb = ic * K * K;
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
				acc += inp[base + yy * W + xx] * wt[(wb + ky * K + kx) * COUT + oc];
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

// packConv lays out a convolution's weights W [cout][cin][k][k] for the
// conv shaders as [cin][k·k][cout] (output channels contiguous), then the
// bias.
func packConv(w, bias []float32, cin, cout, k int) []float32 {
	out := make([]float32, cin*k*k*cout+cout)
	for o := 0; o < cout; o++ {
		for i := 0; i < cin; i++ {
			for t := 0; t < k*k; t++ {
				out[(i*k*k+t)*cout+o] = w[(o*cin+i)*k*k+t]
			}
		}
	}
	copy(out[cin*k*k*cout:], bias)
	return out
}

// convTile is the tiled conv shader's output tile edge (pixels); its work
// group has convTile² threads, one an output pixel.
const convTile = 8

// convTiling returns the output channels a tiled conv work group computes
// (a multiple of 4 dividing cout, at most 16) and the input channels it
// stages in shared memory at a time; ok is false when cout is not a
// multiple of 4.
func convTiling(cin, cout int) (cot, cit int, ok bool) {
	for _, c := range []int{16, 8, 4} {
		if cout%c == 0 {
			return c, min(cin, 8), true
		}
	}
	return 0, 0, false
}

// convPixels are the tiled conv shader's variants: output pixels per
// thread along x (the work group then covers 8·px × 8 pixels). One pixel a
// thread reads a weight vec4 for every four multiply-adds; px pixels
// reuse it px times. Which is fastest depends on the GPU (see
// Accelerator.TuneEncoder); the first is used untuned (on llvmpipe it
// encodes lite's 128 xz slices of a 128³ volume 2.1× faster than 1 px).
var convPixels = [...]int{4, 2, 1}

// tiledConvShader returns the tiled form of convShader for cout a multiple
// of 4: a work group computes an 8px×8 tile of output pixels for cot
// output channels; it stages cit input channels of the tile (with its
// halo) and their weights in shared memory at a time, and each thread
// accumulates the cot outputs of its px pixels (8 apart along x, so that
// neighbouring threads read neighbouring words) in vec4 registers, reading
// four weights per shared-memory load.
func tiledConvShader(cin, cout, k, px int) string {
	cot, cit, _ := convTiling(cin, cout)
	var acc, upd, store strings.Builder
	for i := 0; i < px; i++ {
		for q := 0; q < cot/4; q++ {
			fmt.Fprintf(&acc, "\tvec4 a%d_%d = vec4(0.0);\n", q, i)
			fmt.Fprintf(&store, "\t\tstore(co0 + %d, x0 + %d, a%d_%d);\n", 4*q, i*convTile, q, i)
		}
	}
	for i := 0; i < px; i++ {
		fmt.Fprintf(&upd, "\t\t\t\tfloat v%d = tile[row + %d];\n", i, i*convTile)
	}
	for q := 0; q < cot/4; q++ {
		fmt.Fprintf(&upd, "\t\t\t\tvec4 w%d = ws[wb + %d];\n", q, q)
		for i := 0; i < px; i++ {
			fmt.Fprintf(&upd, "\t\t\t\ta%d_%d += v%d * w%d;\n", q, i, i, q)
		}
	}
	return fmt.Sprintf(`#version 430 core
layout(local_size_x = %[1]d, local_size_y = %[1]d) in;
#define CIN %[2]d
#define COUT %[3]d
#define K %[4]d
#define COT %[5]d
#define CIT %[6]d
#define TS %[1]d
#define PX %[10]d
#define HALO (K / 2)
#define TW (TS + 2 * HALO)
#define TWX (TS * PX + 2 * HALO)
layout(std430, binding = 0) readonly buffer In { float inp[]; };
layout(std430, binding = 1) readonly buffer Weights { float wt[]; };
layout(std430, binding = 2) readonly buffer Res { float res[]; };
layout(std430, binding = 3) writeonly buffer Out { float outp[]; };
uniform int H;
uniform int W;
uniform int hasRes;
uniform int relu;
shared float tile[CIT * TW * TWX];
shared vec4 ws[CIT * K * K * (COT / 4)];

int n, y;

void store(int co, int x, vec4 a) {
	if (x >= W || y >= H) {
		return;
	}
	for (int e = 0; e < 4; e++) {
		int idx = ((n * COUT + co + e) * H + y) * W + x;
		float r = a[e] + wt[CIN * K * K * COUT + co + e];
		if (hasRes != 0) {
			r += res[idx];
		}
		if (relu != 0) {
			r = max(r, 0.0);
		}
		outp[idx] = r;
	}
}

void main() {
	int lx = int(gl_LocalInvocationID.x), ly = int(gl_LocalInvocationID.y);
	int tid = ly * TS + lx;
	int gx0 = int(gl_WorkGroupID.x) * TS * PX, gy0 = int(gl_WorkGroupID.y) * TS;
	int x0 = gx0 + lx;
	y = gy0 + ly;
	int cg = int(gl_WorkGroupID.z) %% (COUT / COT);
	n = int(gl_WorkGroupID.z) / (COUT / COT);
	int co0 = cg * COT;
%[7]s
	for (int c0 = 0; c0 < CIN; c0 += CIT) {
		for (int i = tid; i < CIT * TW * TWX; i += TS * TS) {
			int ci = i / (TW * TWX);
			int gy = gy0 + (i / TWX) %% TW - HALO;
			int gx = gx0 + i %% TWX - HALO;
			float v = 0.0;
			if (c0 + ci < CIN && gy >= 0 && gy < H && gx >= 0 && gx < W) {
				v = inp[((n * CIN + c0 + ci) * H + gy) * W + gx];
			}
			tile[i] = v;
		}
		for (int i = tid; i < CIT * K * K * (COT / 4); i += TS * TS) {
			int q = i %% (COT / 4);
			int t = (i / (COT / 4)) %% (K * K);
			int ci = i / ((COT / 4) * K * K);
			vec4 w = vec4(0.0);
			if (c0 + ci < CIN) {
				int o = ((c0 + ci) * K * K + t) * COUT + co0 + 4 * q;
				w = vec4(wt[o], wt[o + 1], wt[o + 2], wt[o + 3]);
			}
			ws[i] = w;
		}
		barrier();
		for (int ci = 0; ci < CIT; ci++) {
			for (int t = 0; t < K * K; t++) {
				int row = (ci * TW + ly + t / K) * TWX + lx + t %% K;
				int wb = (ci * K * K + t) * (COT / 4);
%[8]s			}
		}
		barrier();
	}
%[9]s}
`, convTile, cin, cout, k, cot, cit, acc.String(), upd.String(), store.String(), px)
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

// glslHeader returns the #version line of shaders for a context version
// (api43 or api33).
func glslHeader(api string) string {
	if api == api33 {
		return "#version 330 core\n"
	}
	return "#version 430 core\n"
}

// headGLSL returns the GLSL expression of the decoder's head applied to
// the MLP's output y, v being the sampled input value: the one definition
// both decoder shaders use.
func headGLSL(head, v, y string) string {
	switch head {
	case "residual":
		return v + " + " + y
	case "sigmoid":
		return "1.0 / (1.0 + exp(-" + y + "))"
	}
	return y
}

// packDecoderRows lays out the MLP for fragDecodeShader, as vec4 texels of
// a texture buffer: per layer, W transposed to [out][in] with both padded
// with zeros to multiples of 4 (each output neuron's weights are whole
// texels, read four inputs at a time), then B padded likewise. It returns
// the floats and each layer's weight and bias offsets in texels.
func packDecoderRows(layers [][2][]float32, widths []int) (out []float32, wOff, bOff []int) {
	for l, wb := range layers {
		in, o := widths[l], widths[l+1]
		inP, oP := pad4(in), pad4(o)
		wOff = append(wOff, len(out)/4)
		rows := make([]float32, oP*inP)
		for j := 0; j < o; j++ {
			for i := 0; i < in; i++ {
				rows[j*inP+i] = wb[0][i*o+j]
			}
		}
		out = append(out, rows...)
		bOff = append(bOff, len(out)/4)
		bias := make([]float32, oP)
		copy(bias, wb[1][:o])
		out = append(out, bias...)
	}
	return out, wOff, bOff
}

// fragDecodeShader returns the OpenGL 3.3 decoder: a fragment shader that
// decodes one output point per fragment of an R32F framebuffer (fragment
// (x, y) is point first + y·fbW + x), for an MLP with the given layer
// widths and weights packed by packDecoderRows (wOff, bOff in texels) in
// a texture buffer (a uniform block is too small for the larger models
// and, measured on an NVIDIA H200, no faster for lite).
//
// It computes what decodeShader computes, in the same order: the taps and
// positional encodings come precomputed from the CPU (axisEntry, two
// RGBA32F texels an entry in the texture buffer ax), the latent is read
// with texelFetch from the same RGBA32F texture array and blended in
// float32 arithmetic (not the texture unit's fixed-point filter), and each
// layer is a sum of vec4 dot products, here four output neurons at a time
// with the input index unrolled (and, for small layers, the output index)
// so that activations stay in registers.
func fragDecodeShader(feats int, widths []int, head string, wOff, bOff []int) string {
	var b strings.Builder
	// W(i) reads weight texel i.
	W := func(i string) string { return "texelFetch(wt, " + i + ")" }
	layers := len(widths) - 1
	b.WriteString(glslHeader(api33))
	b.WriteString(`uniform sampler2DArray latent; // texture unit 0
uniform sampler2D low;         // texture unit 1
uniform samplerBuffer wt;      // texture unit 2: weights (packDecoderRows)
uniform samplerBuffer ax;      // texture unit 3: axis entries, 2 texels each
uniform int total;   // points in this draw
uniform int first;   // index of the draw's first point
uniform int fbW;     // framebuffer width
uniform int gridW;   // grid mode: output width; 0: points mode
uniform int colBase; // index of the first column entry in ax
layout(location = 0) out float value;

void main() {
	int k = int(gl_FragCoord.y) * fbW + int(gl_FragCoord.x);
	if (k >= total) {
		value = 0.0;
		return;
	}
	k += first;
	int ri = gridW > 0 ? k / gridW : k;
	int ci = gridW > 0 ? k % gridW : k;
	vec4 rt = texelFetch(ax, 2 * ri), re = texelFetch(ax, 2 * ri + 1);
	vec4 ct = texelFetch(ax, 2 * (colBase + ci)), ce = texelFetch(ax, 2 * (colBase + ci) + 1);
	int y0 = int(rt.x), y1 = int(rt.y);
	int x0 = int(ct.x), x1 = int(ct.y);
	float w00 = rt.z * ct.z, w01 = rt.z * ct.w;
	float w10 = rt.w * ct.z, w11 = rt.w * ct.w;
`)
	// Layer inputs: [latent (feats), v, row encoding (4), column encoding
	// (4), zeros up to a multiple of 4].
	in0 := pad4(widths[0])
	fmt.Fprintf(&b, "\tvec4 h0[%d];\n", in0/4)
	for q := 0; q < in0/4; q++ {
		fmt.Fprintf(&b, "\th0[%d] = vec4(0.0);\n", q)
	}
	for l := 0; l < (feats+3)/4; l++ {
		fmt.Fprintf(&b, "\th0[%[1]d] = w00 * texelFetch(latent, ivec3(x0, y0, %[1]d), 0) + w01 * texelFetch(latent, ivec3(x1, y0, %[1]d), 0)\n\t      + w10 * texelFetch(latent, ivec3(x0, y1, %[1]d), 0) + w11 * texelFetch(latent, ivec3(x1, y1, %[1]d), 0);\n", l)
	}
	b.WriteString(`	float v = w00 * texelFetch(low, ivec2(x0, y0), 0).r + w01 * texelFetch(low, ivec2(x1, y0), 0).r
	        + w10 * texelFetch(low, ivec2(x0, y1), 0).r + w11 * texelFetch(low, ivec2(x1, y1), 0).r;
`)
	put := func(i int, x string) { fmt.Fprintf(&b, "\th0[%d][%d] = %s;\n", i/4, i%4, x) }
	// The latent texture's padding channels are zero; the inputs after the
	// latent overwrite them.
	put(feats, "v")
	for e := 0; e < 4; e++ {
		put(feats+1+e, fmt.Sprintf("re[%d]", e))
		put(feats+5+e, fmt.Sprintf("ce[%d]", e))
	}
	for l := 0; l < layers; l++ {
		inP, oP := pad4(widths[l]), pad4(widths[l+1])
		last := l == layers-1
		// Small layers are unrolled over their outputs too, so that every
		// array index is a constant and the activations stay in registers
		// (a dynamically indexed array goes to local memory on most GPUs);
		// wide ones loop over blocks of four outputs.
		unroll := last || oP/4*inP/4 <= fragUnroll
		if last {
			b.WriteString("\n\t// Output layer.\n\tvec4 y;\n")
		} else {
			fmt.Fprintf(&b, "\n\t// Layer %d: %d → %d, ReLU.\n\tvec4 h%d[%d];\n", l, widths[l], widths[l+1], l+1, oP/4)
		}
		block := func(o string) {
			fmt.Fprintf(&b, "\t{\n\t\tint r = %d + 4 * %s * %d;\n", wOff[l], o, inP/4)
			if last {
				fmt.Fprintf(&b, "\t\tvec4 a = %s;\n", W(fmt.Sprint(bOff[l])))
			} else {
				b.WriteString("\t\tvec4 a = vec4(0.0);\n")
			}
			for q := 0; q < inP/4; q++ {
				x := fmt.Sprintf("h%d[%d]", l, q)
				fmt.Fprintf(&b, "\t\ta += vec4(dot(%[1]s, %[2]s), dot(%[1]s, %[3]s), dot(%[1]s, %[4]s), dot(%[1]s, %[5]s));\n", x,
					W(fmt.Sprintf("r + %d", q)), W(fmt.Sprintf("r + %d", inP/4+q)), W(fmt.Sprintf("r + %d", 2*inP/4+q)), W(fmt.Sprintf("r + %d", 3*inP/4+q)))
			}
			if last {
				b.WriteString("\t\ty = a;\n\t}\n")
			} else {
				fmt.Fprintf(&b, "\t\th%d[%s] = max(a + %s, 0.0);\n\t}\n", l+1, o, W(fmt.Sprintf("%d + %s", bOff[l], o)))
			}
		}
		switch {
		case last:
			block("0")
		case unroll:
			for o := 0; o < oP/4; o++ {
				block(fmt.Sprint(o))
			}
		default:
			fmt.Fprintf(&b, "\tfor (int o = 0; o < %d; o++)\n", oP/4)
			block("o")
		}
	}
	fmt.Fprintf(&b, "\tvalue = %s;\n}\n", headGLSL(head, "v", "y.x"))
	return b.String()
}

// fragUnroll is the largest layer (in vec4 products: output blocks × input
// blocks) fragDecodeShader unrolls completely: lite's (16 × 16) is, the
// paper preset's (64 × 64) is not.
const fragUnroll = 1024
