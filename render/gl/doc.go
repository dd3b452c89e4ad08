// Package glrender is niiv's OpenGL path: an offscreen renderer that
// colours float images exactly as the CPU reference renderer (package
// render) does, and a niiv model backend that runs the EDSR encoder and
// the MLP decoder in compute shaders (reconstruct.Accelerator).
//
// The OpenGL 4.3 core context is created headless through EGL (a
// hardware EGL device, Mesa's surfaceless platform, or the default display
// with a pbuffer) and lives on one goroutine locked to an OS thread; all
// GL calls go through Device.Do. Where no context can be made — no EGL, no
// OpenGL 3.3, or a build without cgo or outside Linux — Open returns an
// error wrapping ErrUnavailable and callers use the CPU path.
//
// Where the driver offers no OpenGL 4.3 (no compute shaders, no storage
// buffers), Open falls back to an OpenGL 3.3 core context (Info.API,
// Info.Fallback): the renderer is the same shader in GLSL 330, the decoder
// runs in a fragment shader that writes one output point per fragment of
// an R32F framebuffer, and the encoder stays on the CPU (ONNX Runtime;
// Accelerator.EncoderOnCPU). NIIV_GL_VERSION=3.3 forces the fallback,
// NIIV_GL_VERSION=4.3 forbids it (VersionEnv). On such a context the
// package calls only OpenGL 3.3 functions; the tests check this by
// loading no others.
//
// The decoder has several compute kernels and the encoder's convolutions
// several variants (tiled.go, shaders.go): which is fastest depends on the
// GPU, so on a hardware renderer NewAccelerator times them on the device,
// checks each against its reference and keeps the fastest (Accelerator.Tune,
// TuneEncoder; KernelEnv forces a decoder kernel). Planes beyond the
// device's texture or storage limits are refused with
// reconstruct.ErrDeviceLimit, and the model handles them on the CPU.
//
// The package imports reconstruct (for the model weights, read from the
// ONNX files by reconstruct's own parser); reconstruct does not import it.
package glrender

import "errors"

// ErrUnavailable is wrapped by the errors of Open when no OpenGL context
// can be made here.
var ErrUnavailable = errors.New("OpenGL unavailable")
