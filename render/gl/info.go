package glrender

import "strings"

// Info describes an OpenGL device.
type Info struct {
	// Vendor, Renderer and Version are the GL_VENDOR, GL_RENDERER and
	// GL_VERSION strings.
	Vendor, Renderer, Version string
	// Platform is the EGL platform the context was made on: "device",
	// "surfaceless" or "default".
	Platform string
	// API is the OpenGL version niiv uses the context as: "4.3" (encoder
	// and decoder in compute shaders) or "3.3" (the fallback: decoder in a
	// fragment shader, encoder on the CPU). A driver may report a higher
	// Version than the API asked for.
	API string
}

// Fallback reports whether the device is used as OpenGL 3.3: no compute
// shaders, so the decoder runs in a fragment shader and the encoder on
// the CPU.
func (i Info) Fallback() bool { return i.API == api33 }

// Software reports whether the renderer runs on the CPU (Mesa llvmpipe,
// softpipe, lavapipe/zink or swrast), where GL is slower than niiv's CPU
// path.
func (i Info) Software() bool {
	r := strings.ToLower(i.Renderer)
	for _, s := range []string{"llvmpipe", "softpipe", "swrast", "software", "lavapipe"} {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

// String returns "Renderer (OpenGL Version)", and for the OpenGL 3.3
// fallback "Renderer (OpenGL Version, used as 3.3: fragment-shader
// decoder, encoder on the CPU)".
func (i Info) String() string {
	if i.Renderer == "" {
		return "no OpenGL device"
	}
	if i.Fallback() {
		as := ""
		if !strings.HasPrefix(i.Version, api33) {
			as = " used as " + api33
		}
		return i.Renderer + " (OpenGL " + i.Version + as + ": fragment-shader decoder, encoder on the CPU)"
	}
	return i.Renderer + " (OpenGL " + i.Version + ")"
}

// The context versions Open makes.
const (
	api43 = "4.3"
	api33 = "3.3"
)
