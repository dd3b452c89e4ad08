package glrender

import (
	"fmt"
	"strings"
)

// A decoder kernel is one way of running the MLP in a compute shader.
// Which is fastest depends on the GPU (shared-memory and L1 bandwidth,
// register file, how the driver schedules work groups), so the
// accelerator compiles the candidates that fit the device and times them
// on it (see Accelerator.Tune). Every kernel computes the same sums (their
// orders differ only by rounding) and is checked against the same
// references.
type decoderKernel struct {
	// name identifies the kernel in notes, benchmarks and KernelEnv.
	name string
	// tiled selects tiledDecodeShader with the fields below; otherwise
	// decodeShader (weights read from the storage buffer by each thread,
	// activations broadcast from shared memory).
	tiled bool
	// points per work group, threads per work group and input rows per
	// staged weight chunk (tiled kernels; 0: each thread reads its weights
	// from the storage buffer, with no staging and no barrier in the
	// layer's loop).
	points, threads, chunk int
}

// decoderKernels returns the kernels that fit a device with sharedBytes of
// compute shared memory, for an MLP of the given layer widths: the
// broadcast kernel first (the reference), then the tiled ones. A tiled
// kernel needs at least as many threads as points (thread p gathers point
// p's value and encodings).
func decoderKernels(widths []int, sharedBytes int) []decoderKernel {
	ks := []decoderKernel{{name: "broadcast"}}
	for _, k := range []decoderKernel{
		{points: 32, threads: 128, chunk: 8},
		{points: 32, threads: 128},
		{points: 16, threads: 64, chunk: 8},
		{points: 64, threads: 256, chunk: 8},
	} {
		k.tiled = true
		kind := "tiled"
		if k.chunk == 0 {
			kind = "direct"
		}
		k.name = fmt.Sprintf("%s-%dx%d", kind, k.points, k.threads)
		if k.threads >= k.points && tiledSharedBytes(widths, k) <= sharedBytes {
			ks = append(ks, k)
		}
	}
	return ks
}

// roundUp rounds n up to a multiple of m.
func roundUp(n, m int) int { return (n + m - 1) / m * m }

// tiledRows is the number of activation rows (one per layer input or
// output, each holding the group's points) the tiled kernel keeps in
// shared memory: every layer's inputs rounded up to whole weight chunks,
// and every hidden layer's outputs.
func tiledRows(widths []int, k decoderKernel) int {
	rows := 0
	for l := 0; l < len(widths)-1; l++ {
		rows = max(rows, roundUp(widths[l], max(k.chunk, 1)))
		if l < len(widths)-2 {
			rows = max(rows, widths[l+1])
		}
	}
	return rows
}

// layerTiling says how the tiled kernel splits hidden layer outputs
// (points × out) among its threads: tp thread rows of rp points each, tn
// thread columns of rn neurons each (neuron tn + tn·j for j < rn).
type layerTiling struct{ rp, tp, tn, rn int }

// tileLayer picks the tiling of a layer with out outputs that reads the
// fewest shared-memory words per multiply-add (activations as vec4s when
// rp is a multiple of 4), with at most 64 accumulators a thread.
func tileLayer(out int, k decoderKernel) layerTiling {
	best, bestCost := layerTiling{}, 0.0
	for _, rp := range []int{8, 4, 2, 1} {
		if k.points%rp != 0 {
			continue
		}
		tp := k.points / rp
		if tp > k.threads || k.threads%tp != 0 {
			continue
		}
		tn := k.threads / tp
		rn := (out + tn - 1) / tn
		if rp*rn > 64 {
			continue
		}
		loads := float64(rp)
		if rp%4 == 0 {
			loads = float64(rp / 4)
		}
		// Words read per useful multiply-add, counting the work of the
		// padding neurons (tn·rn − out) as waste.
		cost := (loads + float64(rn)) / float64(rp*rn) * float64(tn*rn) / float64(out)
		if best.tp == 0 || cost < bestCost {
			best, bestCost = layerTiling{rp, tp, tn, rn}, cost
		}
	}
	return best
}

// tiledSharedBytes is the shared memory tiledDecodeShader declares.
func tiledSharedBytes(widths []int, k decoderKernel) int {
	np := 0
	for l := 0; l < len(widths)-2; l++ {
		t := tileLayer(widths[l+1], k)
		if t.tp == 0 {
			return 1 << 30 // cannot be tiled: never fits
		}
		np = max(np, t.tn*t.rn)
	}
	return 4 * (tiledRows(widths, k)*k.points + k.chunk*np)
}

// tiledDecodeShader returns a decoder compute shader that runs every
// hidden layer as a register-tiled matrix product. A work group decodes
// k.points points: their activations live in shared memory as rows (one
// per layer input, the points of a row contiguous); the layer's weights
// are staged through shared memory k.chunk input rows at a time by all
// threads together (coalesced reads, each weight read from memory once a
// group) or, with k.chunk = 0, read by each thread from the storage
// buffer; and each thread accumulates an rp × rn block of outputs in
// registers, so that every word read serves several multiply-adds. The
// outputs replace the inputs in place after a barrier. Inputs are gathered
// as decodeShader gathers them; each output sums its inputs in order and
// adds the bias last, so the kernels agree with the CPU decoder to
// rounding.
func tiledDecodeShader(feats int, widths []int, head string, k decoderKernel) string {
	var b strings.Builder
	layers := len(widths) - 1
	rows := tiledRows(widths, k)
	np := 1
	for l := 0; l < layers-1; l++ {
		t := tileLayer(widths[l+1], k)
		np = max(np, t.tn*t.rn)
	}
	fmt.Fprintf(&b, "#version 430 core\nlayout(local_size_x = %d) in;\n", k.threads)
	fmt.Fprintf(&b, "#define T %d\n#define P %d\n#define P4 %d\n#define ROWS %d\n#define KC %d\n#define NP %d\n#define FEATS %d\n#define LAYERS %d\n",
		k.threads, k.points, k.points/4, rows, k.chunk, np, feats, (feats+3)/4)
	off := 0
	for l := 0; l < layers; l++ {
		in, out := widths[l], widths[l+1]
		fmt.Fprintf(&b, "#define IN%d %d\n#define OUT%d %d\n#define W%d %d\n#define B%d %d\n", l, in, l, out, l, off, l, off+pad4(in)*out)
		off += pad4(in)*out + out
	}
	b.WriteString("\n" + decoderInterface + `
// act[r * P4 + p / 4][p % 4] is row r (a layer input or output) of point p.
shared vec4 act[ROWS * P4];
` + stagedWeights(k) + `

#define PUT(p, i, x) act[(i) * P4 + (p) / 4][(p) % 4] = (x)

// taps returns where point q of the dispatch (clamped to the last) samples
// the plane: columns x0, x1 and rows y0, y1 in xy, the weights of (x0, y0),
// (x1, y0), (x0, y1), (x1, y1) in w, and its row and column entries in ax.
void taps(int q, out ivec4 xy, out vec4 w, out int ro, out int co) {
	int k = first + min(q, total - 1);
	int ri = gridW > 0 ? k / gridW : k;
	int ci = gridW > 0 ? k % gridW : k;
	ro = 8 * ri;
	co = 8 * (colBase + ci);
	xy = ivec4(ax[co], ax[co + 1], ax[ro], ax[ro + 1]);
	w = vec4(ax[ro + 2] * ax[co + 2], ax[ro + 2] * ax[co + 3], ax[ro + 3] * ax[co + 2], ax[ro + 3] * ax[co + 3]);
}

void main() {
	int tid = int(gl_LocalInvocationID.x);
	int group = int(gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x);
	int base = group * P;

	// Rows no layer has written yet must not hold NaN garbage: they meet
	// zero weights (the padding of a chunk) and 0·NaN is NaN.
	for (int i = tid; i < ROWS * P4; i += T) {
		act[i] = vec4(0.0);
	}
	barrier();

	// Layer inputs: [latent (FEATS), v, row encoding (4), column encoding
	// (4)]. Thread p < P samples point p's value v (and keeps it for the
	// head) and writes its encodings; then all threads sample the latent.
	float v = 0.0;
	if (tid < P) {
		ivec4 xy;
		vec4 w;
		int ro, co;
		taps(base + tid, xy, w, ro, co);
		v = w.x * texelFetch(low, xy.xz, 0).r + w.y * texelFetch(low, xy.yz, 0).r
		  + w.z * texelFetch(low, xy.xw, 0).r + w.w * texelFetch(low, xy.yw, 0).r;
		PUT(tid, FEATS, v);
		for (int e = 0; e < 4; e++) {
			PUT(tid, FEATS + 1 + e, ax[ro + 4 + e]);
			PUT(tid, FEATS + 5 + e, ax[co + 4 + e]);
		}
	}
	for (int j = tid; j < P * LAYERS; j += T) {
		int p = j / LAYERS;
		int l = j % LAYERS;
		ivec4 xy;
		vec4 w;
		int ro, co;
		taps(base + p, xy, w, ro, co);
		vec4 z = w.x * texelFetch(latent, ivec3(xy.xz, l), 0) + w.y * texelFetch(latent, ivec3(xy.yz, l), 0)
		       + w.z * texelFetch(latent, ivec3(xy.xw, l), 0) + w.w * texelFetch(latent, ivec3(xy.yw, l), 0);
		for (int ch = 0; ch < 4 && 4 * l + ch < FEATS; ch++) {
			PUT(p, 4 * l + ch, z[ch]);
		}
	}
	barrier();
`)
	for l := 0; l < layers-1; l++ {
		tiledLayer(&b, l, widths[l], widths[l+1], tileLayer(widths[l+1], k), k)
	}
	l := layers - 1
	fmt.Fprintf(&b, `
	// Output layer and head: one thread a point.
	if (tid < P && base + tid < total) {
		float y = 0.0;
		for (int i = 0; i < IN%[1]d; i++) {
			y += act[i * P4 + tid / 4][tid %% 4] * wt[W%[1]d + i];
		}
		y += wt[B%[1]d];
`, l)
	fmt.Fprintf(&b, "\t\tvalues[outBase + first + base + tid] = %s;\n", headGLSL(head, "v", "y"))
	b.WriteString("\t}\n}\n")
	return b.String()
}

// stagedWeights declares the staged weight chunk of a tiled kernel.
func stagedWeights(k decoderKernel) string {
	if k.chunk == 0 {
		return ""
	}
	return "// ws[kk * NP + n]: weight of input k0 + kk to output n of the current chunk.\nshared float ws[KC * NP];\n"
}

// tiledLayer writes hidden layer l (in inputs, out outputs, ReLU) of
// tiledDecodeShader: thread tid is thread row tid / tn (points rp·row …)
// and column tid % tn (neurons column + tn·j), unrolled over its rp × rn
// accumulators.
func tiledLayer(b *strings.Builder, l, in, out int, t layerTiling, k decoderKernel) {
	vec := t.rp%4 == 0
	fmt.Fprintf(b, "\n\t// Layer %d: %d → %d, ReLU; %d×%d thread tiles of %d points × %d neurons.\n\t{\n", l, in, out, t.tp, t.tn, t.rp, t.rn)
	fmt.Fprintf(b, "\t\tint tr = tid / %d, tc = tid %% %d;\n", t.tn, t.tn)
	for p := 0; p < t.rp; p++ {
		for j := 0; j < t.rn; j++ {
			fmt.Fprintf(b, "\t\tfloat a%d_%d = 0.0;\n", p, j)
		}
	}
	if k.chunk > 0 {
		// Stage each chunk's weights (zero beyond the layer's inputs and
		// outputs), then multiply.
		fmt.Fprintf(b, `		for (int k0 = 0; k0 < %[3]d; k0 += KC) {
			for (int i = tid; i < KC * %[1]d; i += T) {
				int kk = i / %[1]d, n = i %% %[1]d, r = k0 + kk;
				ws[kk * NP + n] = r < IN%[2]d && n < OUT%[2]d ? wt[W%[2]d + r * OUT%[2]d + n] : 0.0;
			}
			barrier();
			for (int kk = 0; kk < KC; kk++) {
				int r = (k0 + kk) * P4;
`, t.tn*t.rn, l, roundUp(in, k.chunk))
	} else {
		// Read the weights straight from the buffer (neurons past the
		// layer's outputs read a clamped copy and are not stored).
		b.WriteString("\t\t{\n")
		for j := 0; j < t.rn; j++ {
			fmt.Fprintf(b, "\t\t\tint c%[1]d = W%[2]d + min(tc + %[3]d, OUT%[2]d - 1);\n", j, l, j*t.tn)
		}
		fmt.Fprintf(b, "\t\t\tfor (int kk = 0; kk < IN%[1]d; kk++) {\n\t\t\t\tint r = kk * P4;\n", l)
	}
	if vec {
		for q := 0; q < t.rp/4; q++ {
			fmt.Fprintf(b, "\t\t\t\tvec4 x%d = act[r + tr * %d + %d];\n", q, t.rp/4, q)
		}
	} else {
		for p := 0; p < t.rp; p++ {
			fmt.Fprintf(b, "\t\t\t\tint p%[1]d = tr * %[2]d + %[1]d;\n\t\t\t\tfloat x%[1]d = act[r + p%[1]d / 4][p%[1]d %% 4];\n", p, t.rp)
		}
	}
	for j := 0; j < t.rn; j++ {
		if k.chunk > 0 {
			fmt.Fprintf(b, "\t\t\t\tfloat w%d = ws[kk * NP + tc + %d];\n", j, j*t.tn)
		} else {
			fmt.Fprintf(b, "\t\t\t\tfloat w%[1]d = wt[c%[1]d + kk * OUT%[2]d];\n", j, l)
		}
	}
	for p := 0; p < t.rp; p++ {
		x := fmt.Sprintf("x%d", p)
		if vec {
			x = fmt.Sprintf("x%d[%d]", p/4, p%4)
		}
		for j := 0; j < t.rn; j++ {
			fmt.Fprintf(b, "\t\t\t\ta%d_%d += %s * w%d;\n", p, j, x, j)
		}
	}
	if k.chunk > 0 {
		b.WriteString("\t\t\t}\n\t\t\tbarrier();\n\t\t}\n")
	} else {
		b.WriteString("\t\t\t}\n\t\t}\n\t\tbarrier();\n")
	}
	// Every thread has read its inputs (the barrier closing the last
	// chunk): write the outputs over them.
	for j := 0; j < t.rn; j++ {
		fmt.Fprintf(b, "\t\tint n%[1]d = tc + %[2]d;\n\t\tif (n%[1]d < OUT%[3]d) {\n\t\t\tfloat bias = wt[B%[3]d + n%[1]d];\n", j, j*t.tn, l)
		if vec {
			for q := 0; q < t.rp/4; q++ {
				fmt.Fprintf(b, "\t\t\tact[n%d * P4 + tr * %d + %d] = max(vec4(a%d_%d, a%d_%d, a%d_%d, a%d_%d) + bias, 0.0);\n",
					j, t.rp/4, q, 4*q, j, 4*q+1, j, 4*q+2, j, 4*q+3, j)
			}
		} else {
			for p := 0; p < t.rp; p++ {
				fmt.Fprintf(b, "\t\t\tPUT(tr * %d + %d, n%d, max(a%d_%d + bias, 0.0));\n", t.rp, p, j, p, j)
			}
		}
		b.WriteString("\t\t}\n")
	}
	b.WriteString("\t}\n\tbarrier();\n")
}
