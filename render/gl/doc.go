// Package glrender is niiv's OpenGL path: an offscreen renderer that
// colours float images exactly as the CPU reference renderer (package
// render) does, and a niiv model backend that runs the EDSR encoder and
// the MLP decoder in compute shaders (reconstruct.Accelerator).
//
// The OpenGL 4.3 core context is created headless through EGL (a
// hardware EGL device, Mesa's surfaceless platform, or the default display
// with a pbuffer) and lives on one goroutine locked to an OS thread; all
// GL calls go through Device.Do. Where no context can be made — no EGL, no
// OpenGL 4.3, or a build without cgo or outside Linux — Open returns an
// error wrapping ErrUnavailable and callers use the CPU path.
//
// The package imports reconstruct (for the model weights, read from the
// ONNX files by reconstruct's own parser); reconstruct does not import it.
package glrender

import "errors"

// ErrUnavailable is wrapped by the errors of Open when no OpenGL context
// can be made here.
var ErrUnavailable = errors.New("OpenGL unavailable")
