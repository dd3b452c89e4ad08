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
}

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

// String returns "Renderer (Version)".
func (i Info) String() string {
	if i.Renderer == "" {
		return "no OpenGL device"
	}
	return i.Renderer + " (OpenGL " + i.Version + ")"
}
