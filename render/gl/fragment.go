//go:build linux && cgo

package glrender

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"

	"github.com/niiv/niiv/reconstruct"
)

// The OpenGL 3.3 path: without compute shaders or storage buffers, the
// decoder runs in a fragment shader (fragDecodeShader) that writes one
// output point per fragment of an R32F framebuffer, read back with
// glReadPixels; its weights and the per-call axis entries are texture
// buffers. The encoder stays on the CPU (the model's ONNX Runtime session).

// fragBlockW and fragBlockH bound the decoder's framebuffer: a draw
// decodes at most fragBlockW·fragBlockH points (as a compute dispatch
// decodes at most maxDispatch), and cancellation is checked between draws.
const (
	fragBlockW = 1024
	fragBlockH = maxDispatch / fragBlockW
)

// fragState is the fragment decoder's GL objects.
type fragState struct {
	prog, vao      uint32
	wtBuf, wtTex   uint32 // weights: buffer and its RGBA32F buffer texture
	axBuf, axTex   uint32 // axis entries, likewise
	fbo, rbo       uint32
	fbW, fbH       int
	uTotal, uFirst int32
	uGridW, uCol   int32
	uFbW           int32
}

// newFragDecoder compiles the fragment decoder for the MLP and uploads its
// weights; it runs on the GL thread.
func newFragDecoder(feats int, widths []int, head string, layers [][2][]float32) (*fragState, error) {
	wts, wOff, bOff := packDecoderRows(layers, widths)
	var maxTB, maxRB int32
	gl.GetIntegerv(gl.MAX_TEXTURE_BUFFER_SIZE, &maxTB)
	gl.GetIntegerv(gl.MAX_RENDERBUFFER_SIZE, &maxRB)
	if len(wts)/4 > int(maxTB) {
		return nil, fmt.Errorf("decoder weights need a texture buffer of %d texels, the GPU allows %d", len(wts)/4, maxTB)
	}
	prog, err := compile("fragment decoder",
		shaderSource{gl.VERTEX_SHADER, glslHeader(api33) + drawVertex},
		shaderSource{gl.FRAGMENT_SHADER, fragDecodeShader(feats, widths, head, wOff, bOff)})
	if err != nil {
		return nil, err
	}
	f := &fragState{prog: prog, fbW: min(fragBlockW, int(maxRB)), fbH: min(fragBlockH, int(maxRB))}
	loc := func(name string) int32 { return gl.GetUniformLocation(prog, gl.Str(name+"\x00")) }
	gl.UseProgram(prog)
	for i, s := range []string{"latent", "low", "wt", "ax"} {
		gl.Uniform1i(loc(s), int32(i))
	}
	f.uTotal, f.uFirst, f.uGridW, f.uCol, f.uFbW = loc("total"), loc("first"), loc("gridW"), loc("colBase"), loc("fbW")
	gl.UseProgram(0)
	gl.GenVertexArrays(1, &f.vao)
	for _, t := range []struct {
		buf, tex *uint32
		data     []float32
	}{{&f.wtBuf, &f.wtTex, wts}, {&f.axBuf, &f.axTex, make([]float32, 8)}} {
		gl.GenBuffers(1, t.buf)
		gl.BindBuffer(gl.TEXTURE_BUFFER, *t.buf)
		gl.BufferData(gl.TEXTURE_BUFFER, 4*len(t.data), gl.Ptr(t.data), gl.STATIC_DRAW)
		gl.GenTextures(1, t.tex)
		gl.BindTexture(gl.TEXTURE_BUFFER, *t.tex)
		gl.TexBuffer(gl.TEXTURE_BUFFER, gl.RGBA32F, *t.buf)
	}
	gl.BindBuffer(gl.TEXTURE_BUFFER, 0)
	gl.BindTexture(gl.TEXTURE_BUFFER, 0)
	gl.GenFramebuffers(1, &f.fbo)
	gl.GenRenderbuffers(1, &f.rbo)
	gl.BindRenderbuffer(gl.RENDERBUFFER, f.rbo)
	gl.RenderbufferStorage(gl.RENDERBUFFER, gl.R32F, int32(f.fbW), int32(f.fbH))
	gl.BindFramebuffer(gl.FRAMEBUFFER, f.fbo)
	gl.FramebufferRenderbuffer(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.RENDERBUFFER, f.rbo)
	c := gl.CheckFramebufferStatus(gl.FRAMEBUFFER)
	gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
	if c != gl.FRAMEBUFFER_COMPLETE {
		f.delete()
		return nil, fmt.Errorf("R32F framebuffer %dx%d incomplete (0x%x)", f.fbW, f.fbH, c)
	}
	if err := glError("create fragment decoder"); err != nil {
		f.delete()
		return nil, err
	}
	return f, nil
}

// delete frees the fragment decoder's objects (GL thread).
func (f *fragState) delete() {
	gl.DeleteProgram(f.prog)
	gl.DeleteVertexArrays(1, &f.vao)
	gl.DeleteTextures(1, &f.wtTex)
	gl.DeleteTextures(1, &f.axTex)
	gl.DeleteBuffers(1, &f.wtBuf)
	gl.DeleteBuffers(1, &f.axBuf)
	gl.DeleteFramebuffers(1, &f.fbo)
	gl.DeleteRenderbuffers(1, &f.rbo)
}

// fragDecode decodes len(out) points of plane p described by axes (as
// decode's), a framebuffer block per draw; it runs on the GL thread.
func (a *Accelerator) fragDecode(ctx context.Context, p *gpuPlane, axes []float32, colBase, gridW int, out []float32) error {
	f := a.frag
	n := len(out)
	gl.BindBuffer(gl.TEXTURE_BUFFER, f.axBuf)
	gl.BufferData(gl.TEXTURE_BUFFER, 4*len(axes), gl.Ptr(axes), gl.STREAM_DRAW)
	gl.BindBuffer(gl.TEXTURE_BUFFER, 0)
	gl.UseProgram(f.prog)
	gl.Uniform1i(f.uGridW, int32(gridW))
	gl.Uniform1i(f.uCol, int32(colBase))
	gl.Uniform1i(f.uFbW, int32(f.fbW))
	for i, t := range []struct{ target, tex uint32 }{
		{gl.TEXTURE_2D_ARRAY, p.lat}, {gl.TEXTURE_2D, p.lo}, {gl.TEXTURE_BUFFER, f.wtTex}, {gl.TEXTURE_BUFFER, f.axTex},
	} {
		gl.ActiveTexture(gl.TEXTURE0 + uint32(i))
		gl.BindTexture(t.target, t.tex)
	}
	gl.ActiveTexture(gl.TEXTURE0)
	gl.BindFramebuffer(gl.FRAMEBUFFER, f.fbo)
	defer gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
	gl.BindVertexArray(f.vao)
	gl.PixelStorei(gl.PACK_ALIGNMENT, 4)
	block := f.fbW * f.fbH
	tmp := make([]float32, min(n, block)+f.fbW)
	for first := 0; first < n; first += block {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := min(block, n-first)
		rows := (m + f.fbW - 1) / f.fbW
		w := min(m, f.fbW)
		gl.Uniform1i(f.uTotal, int32(m))
		gl.Uniform1i(f.uFirst, int32(first))
		gl.Viewport(0, 0, int32(w), int32(rows))
		q := a.startTimer()
		gl.DrawArrays(gl.TRIANGLES, 0, 3)
		a.stopTimer(q)
		// Rows of w values: with w < fbW there is one row.
		gl.ReadPixels(0, 0, int32(w), int32(rows), gl.RED, gl.FLOAT, unsafe.Pointer(&tmp[0]))
		copy(out[first:first+m], tmp[:m])
	}
	a.collectTimers()
	return glError("decode (fragment shader)")
}

// fragGrids decodes the grid described by axes (rows entries, then the
// columns) on each plane into out, a plane at a time.
func (a *Accelerator) fragGrids(ctx context.Context, planes []reconstruct.EncodedPlane, h, w int, axes []float32, rows, cols int, out []float32) error {
	per := rows * cols
	for k, pl := range planes {
		err := a.dev.Do(func() error {
			p, err := a.plane(pl.Latent, pl.Low, h, w, true)
			if err != nil {
				return err
			}
			return a.fragDecode(ctx, p, axes, rows, cols, out[k*per:(k+1)*per])
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// EncoderOnCPU reports whether the accelerator encodes on the CPU: on an
// OpenGL 3.3 device (no compute shaders) it decodes in a fragment shader
// and encodes with a model's ONNX Runtime session (SetCPUEncoder).
func (a *Accelerator) EncoderOnCPU() bool { return a.frag != nil }

// SetCPUEncoder gives the accelerator the model it encodes with where
// EncoderOnCPU: a model of the same files on the CPU, not the one the
// accelerator is installed on (whose Encode calls the accelerator). The
// accelerator closes m when it closes. Without it, NewAccelerator's model
// encodes, which works until the accelerator is installed on it.
// LoadModel does this.
func (a *Accelerator) SetCPUEncoder(m *reconstruct.Model) {
	a.cpuEnc, a.ownEnc = m, true
}

// encodeCPU encodes through the CPU model.
func (a *Accelerator) encodeCPU(ctx context.Context, lowres []float32, n, h, w int) ([]float32, error) {
	m := a.cpuEnc
	if m == nil {
		return nil, errors.New("glrender: encode: OpenGL 3.3 has no GPU encoder and the accelerator has no CPU model (SetCPUEncoder)")
	}
	if m.Accelerator() != nil {
		return nil, fmt.Errorf("glrender: encode: OpenGL 3.3 has no GPU encoder and model %s encodes through an accelerator; give a separate CPU model with SetCPUEncoder", m.Name)
	}
	lat, err := m.Encode(ctx, lowres, n, h, w)
	if err != nil {
		return nil, fmt.Errorf("glrender: encode on the CPU: %w", err)
	}
	return lat, nil
}
