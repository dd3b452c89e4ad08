//go:build linux && cgo

package glrender

import (
	"fmt"
	"image"
	"math"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// The fragment shader reproduces render's table lookup step for step: the
// window maps a value to one of lutLevels levels (rounded to nearest, NaN
// and values below the window to level 0), the level's intensity is bent by
// gamma and inverted, and the colormap's 256-entry LUT (a 1-D texture) is
// read at the nearest entry. The same source serves OpenGL 4.3 and 3.3
// (glslHeader), so that both render identically.
const drawVertex = `void main() {
	// One triangle covering the viewport.
	vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
	gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
`

const drawFragment = `uniform sampler2D src; // texture unit 0
uniform sampler1D lut; // texture unit 1
uniform float lo;
uniform float sc;
uniform float gamma;
uniform int invert;
out vec4 color;
const float top = float(LEVELS - 1);
void main() {
	// Fragment row y is image row y: the read-back needs no flip.
	float v = texelFetch(src, ivec2(gl_FragCoord.xy), 0).r;
	float f = (v - lo) * sc;
	int k;
	if (isnan(v) || !(f > 0.0)) {
		k = 0;
	} else if (f >= top) {
		k = LEVELS - 1;
	} else {
		k = int(f + 0.5);
	}
	float x = float(k) / top;
	if (gamma != 1.0) {
		x = pow(x, gamma);
	}
	if (invert != 0) {
		x = 1.0 - x;
	}
	int i;
	if (!(x > 0.0)) {
		i = 0;
	} else if (x >= 1.0) {
		i = 255;
	} else {
		i = int(x * 255.0 + 0.5);
	}
	color = vec4(texelFetch(lut, i, 0).rgb, 1.0);
}
`

// lutLevels is render's table size (render.lutSize): the number of levels
// a window is quantised to.
const lutLevels = 4096

// drawState is the renderer's GL objects, created on first use.
type drawState struct {
	prog, vao         uint32
	src, lut          uint32
	fbo, rbo          uint32
	srcW, srcH        int
	fboW, fboH        int
	lutMap            *render.Colormap
	uLo, uSc, uG, uIn int32
	maxSize           int32
}

func (s *drawState) delete() {
	gl.DeleteProgram(s.prog)
	gl.DeleteVertexArrays(1, &s.vao)
	gl.DeleteTextures(1, &s.src)
	gl.DeleteTextures(1, &s.lut)
	gl.DeleteFramebuffers(1, &s.fbo)
	gl.DeleteRenderbuffers(1, &s.rbo)
}

func newDrawState(api string) (*drawState, error) {
	frag := fmt.Sprintf("%s#define LEVELS %d\n%s", glslHeader(api), lutLevels, drawFragment)
	prog, err := compile("draw", shaderSource{gl.VERTEX_SHADER, glslHeader(api) + drawVertex}, shaderSource{gl.FRAGMENT_SHADER, frag})
	if err != nil {
		return nil, err
	}
	s := &drawState{prog: prog}
	s.uLo = gl.GetUniformLocation(prog, gl.Str("lo\x00"))
	s.uSc = gl.GetUniformLocation(prog, gl.Str("sc\x00"))
	s.uG = gl.GetUniformLocation(prog, gl.Str("gamma\x00"))
	s.uIn = gl.GetUniformLocation(prog, gl.Str("invert\x00"))
	gl.UseProgram(prog)
	gl.Uniform1i(gl.GetUniformLocation(prog, gl.Str("src\x00")), 0)
	gl.Uniform1i(gl.GetUniformLocation(prog, gl.Str("lut\x00")), 1)
	gl.UseProgram(0)
	gl.GenVertexArrays(1, &s.vao)
	gl.GenTextures(1, &s.src)
	gl.GenTextures(1, &s.lut)
	gl.GenFramebuffers(1, &s.fbo)
	gl.GenRenderbuffers(1, &s.rbo)
	for _, t := range []struct {
		target, tex uint32
	}{{gl.TEXTURE_2D, s.src}, {gl.TEXTURE_1D, s.lut}} {
		gl.BindTexture(t.target, t.tex)
		gl.TexParameteri(t.target, gl.TEXTURE_MIN_FILTER, gl.NEAREST)
		gl.TexParameteri(t.target, gl.TEXTURE_MAG_FILTER, gl.NEAREST)
		gl.TexParameteri(t.target, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE)
		gl.TexParameteri(t.target, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE)
	}
	gl.TexImage1D(gl.TEXTURE_1D, 0, gl.RGBA8, 256, 0, gl.RGBA, gl.UNSIGNED_BYTE, nil)
	gl.GetIntegerv(gl.MAX_TEXTURE_SIZE, &s.maxSize)
	var vp [2]int32
	gl.GetIntegerv(gl.MAX_VIEWPORT_DIMS, &vp[0])
	s.maxSize = min(s.maxSize, vp[0], vp[1])
	if err := glError("create renderer"); err != nil {
		s.delete()
		return nil, err
	}
	return s, nil
}

// Image returns src painted with style s, as render.Image does.
func (d *Device) Image(src *volume.Image, s render.Style) (*image.RGBA, error) {
	dst := image.NewRGBA(image.Rect(0, 0, src.W, src.H))
	if err := d.Draw(dst, src, s); err != nil {
		return nil, err
	}
	return dst, nil
}

// Draw paints src into dst with style s on the GPU, as render.Draw does:
// src pixel (x, y) goes to dst.Rect.Min + (x, y), and dst must be at least
// src's size. The result matches render.Draw except where a value lies
// within float32 rounding of a boundary between two of the window's 4096
// levels or gamma's 256 colormap entries (see the package tests).
func (d *Device) Draw(dst *image.RGBA, src *volume.Image, s render.Style) error {
	b := dst.Bounds()
	if b.Dx() < src.W || b.Dy() < src.H {
		return fmt.Errorf("glrender: destination %dx%d smaller than image %dx%d", b.Dx(), b.Dy(), src.W, src.H)
	}
	if len(src.Pix) < src.W*src.H || src.W <= 0 || src.H <= 0 {
		return fmt.Errorf("glrender: image %dx%d has %d values", src.W, src.H, len(src.Pix))
	}
	m := s.Map
	if m == nil {
		m = render.Gray
	}
	g := s.Gamma
	if !(g > 0) || math.IsInf(g, 0) {
		g = 1
	}
	span := s.Max - s.Min
	if span == 0 || math.IsNaN(span) {
		span = 1
	}
	lo, sc := float32(s.Min), float32((lutLevels-1)/span)
	inv := int32(0)
	if s.Invert {
		inv = 1
	}
	pix := make([]byte, 4*src.W*src.H)
	err := d.Do(func() error {
		if d.draw == nil {
			st, err := newDrawState(d.info.API)
			if err != nil {
				return err
			}
			d.draw = st
		}
		st := d.draw
		if int32(src.W) > st.maxSize || int32(src.H) > st.maxSize {
			return fmt.Errorf("glrender: image %dx%d exceeds the GPU's %d-pixel limit", src.W, src.H, st.maxSize)
		}
		gl.PixelStorei(gl.UNPACK_ALIGNMENT, 4)
		gl.PixelStorei(gl.PACK_ALIGNMENT, 4)
		gl.BindTexture(gl.TEXTURE_2D, st.src)
		if st.srcW != src.W || st.srcH != src.H {
			gl.TexImage2D(gl.TEXTURE_2D, 0, gl.R32F, int32(src.W), int32(src.H), 0, gl.RED, gl.FLOAT, unsafe.Pointer(&src.Pix[0]))
			st.srcW, st.srcH = src.W, src.H
		} else {
			gl.TexSubImage2D(gl.TEXTURE_2D, 0, 0, 0, int32(src.W), int32(src.H), gl.RED, gl.FLOAT, unsafe.Pointer(&src.Pix[0]))
		}
		gl.BindTexture(gl.TEXTURE_1D, st.lut)
		if st.lutMap != m {
			gl.TexSubImage1D(gl.TEXTURE_1D, 0, 0, 256, gl.RGBA, gl.UNSIGNED_BYTE, unsafe.Pointer(&m.LUT[0]))
			st.lutMap = m
		}
		gl.BindFramebuffer(gl.FRAMEBUFFER, st.fbo)
		if st.fboW != src.W || st.fboH != src.H {
			gl.BindRenderbuffer(gl.RENDERBUFFER, st.rbo)
			gl.RenderbufferStorage(gl.RENDERBUFFER, gl.RGBA8, int32(src.W), int32(src.H))
			gl.FramebufferRenderbuffer(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.RENDERBUFFER, st.rbo)
			st.fboW, st.fboH = src.W, src.H
			if c := gl.CheckFramebufferStatus(gl.FRAMEBUFFER); c != gl.FRAMEBUFFER_COMPLETE {
				st.fboW = 0
				return fmt.Errorf("glrender: framebuffer %dx%d incomplete (0x%x)", src.W, src.H, c)
			}
		}
		gl.Viewport(0, 0, int32(src.W), int32(src.H))
		gl.UseProgram(st.prog)
		gl.Uniform1f(st.uLo, lo)
		gl.Uniform1f(st.uSc, sc)
		gl.Uniform1f(st.uG, float32(g))
		gl.Uniform1i(st.uIn, inv)
		gl.ActiveTexture(gl.TEXTURE0)
		gl.BindTexture(gl.TEXTURE_2D, st.src)
		gl.ActiveTexture(gl.TEXTURE1)
		gl.BindTexture(gl.TEXTURE_1D, st.lut)
		gl.ActiveTexture(gl.TEXTURE0)
		gl.BindVertexArray(st.vao)
		gl.DrawArrays(gl.TRIANGLES, 0, 3)
		gl.ReadPixels(0, 0, int32(src.W), int32(src.H), gl.RGBA, gl.UNSIGNED_BYTE, unsafe.Pointer(&pix[0]))
		gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
		return glError("draw")
	})
	if err != nil {
		return err
	}
	for y := 0; y < src.H; y++ {
		o := dst.PixOffset(b.Min.X, b.Min.Y+y)
		copy(dst.Pix[o:o+4*src.W], pix[4*y*src.W:4*(y+1)*src.W])
	}
	return nil
}
