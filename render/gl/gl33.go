//go:build linux && cgo

package glrender

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"
)

// gl33Funcs are the OpenGL functions (all in OpenGL 3.3 core) the package
// may call on an OpenGL 3.3 context: the renderer, the plane textures and
// the fragment decoder. The compute path's 4.x functions are not among
// them. initGL33 requires the driver to have every one.
var gl33Funcs = []string{
	"glActiveTexture", "glAttachShader", "glBeginQuery", "glBindBuffer",
	"glBindBufferBase", "glBindFramebuffer", "glBindRenderbuffer",
	"glBindTexture", "glBindVertexArray", "glBufferData", "glBufferSubData",
	"glCheckFramebufferStatus", "glCompileShader", "glCreateProgram",
	"glCreateShader", "glDeleteBuffers", "glDeleteFramebuffers",
	"glDeleteProgram", "glDeleteQueries", "glDeleteRenderbuffers",
	"glDeleteShader", "glDeleteTextures", "glDeleteVertexArrays",
	"glDrawArrays", "glEndQuery", "glFinish", "glFramebufferRenderbuffer",
	"glGenBuffers", "glGenFramebuffers", "glGenQueries", "glGenRenderbuffers",
	"glGenTextures", "glGenVertexArrays", "glGetBufferSubData", "glGetError",
	"glGetIntegerv", "glGetProgramInfoLog", "glGetProgramiv",
	"glGetQueryObjectui64v", "glGetShaderInfoLog", "glGetShaderiv",
	"glGetString", "glGetUniformLocation", "glLinkProgram", "glPixelStorei",
	"glReadPixels", "glRenderbufferStorage", "glShaderSource", "glTexBuffer",
	"glTexImage1D", "glTexImage2D", "glTexImage3D", "glTexParameteri",
	"glTexSubImage1D", "glTexSubImage2D", "glUniform1f", "glUniform1i",
	"glUseProgram", "glViewport",
}

var gl33Set = func() map[string]bool {
	s := make(map[string]bool, len(gl33Funcs))
	for _, f := range gl33Funcs {
		s[f] = true
	}
	return s
}()

// strictGL33 makes initGL33 load only gl33Funcs from the driver and a
// counting stand-in for every other function (see procAddress33), so that
// tests can check that nothing else is called on a 3.3 context. go-gl's
// function pointers are process-wide: set it only in a process without a
// 4.3 device.
var strictGL33 bool

// initGL33 loads the OpenGL functions for a 3.3 context through go-gl's
// 4.3 loader, which wants every 4.3 function: those the driver lacks get
// a stand-in that niiv never calls on such a context.
func initGL33() error {
	var missing []string
	err := gl.InitWithProcAddrFunc(func(name string) unsafe.Pointer {
		p, real := procAddress33(name, strictGL33)
		if !real && gl33Set[name] {
			missing = append(missing, name)
		}
		return p
	})
	if err != nil {
		return fmt.Errorf("load OpenGL 3.3 functions: %v missing", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("load OpenGL 3.3 functions: %s missing", strings.Join(missing, ", "))
	}
	return nil
}
