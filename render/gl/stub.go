//go:build !linux || !cgo

package glrender

import (
	"fmt"
	"image"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// Device is an OpenGL context; on this platform none can be made.
type Device struct{}

// Open returns an error: the OpenGL renderer needs Linux and cgo (EGL).
func Open() (*Device, error) {
	return nil, fmt.Errorf("glrender: %w: OpenGL renderer not available on this platform (needs linux and cgo)", ErrUnavailable)
}

// Shared returns the process's shared device; here always an error.
func Shared() (*Device, error) { return Open() }

// Info describes the device.
func (d *Device) Info() Info { return Info{} }

// Close does nothing.
func (d *Device) Close() error { return nil }

// Image is unavailable on this platform.
func (d *Device) Image(src *volume.Image, s render.Style) (*image.RGBA, error) {
	return nil, fmt.Errorf("glrender: %w", ErrUnavailable)
}

// Draw is unavailable on this platform.
func (d *Device) Draw(dst *image.RGBA, src *volume.Image, s render.Style) error {
	return fmt.Errorf("glrender: %w", ErrUnavailable)
}

// NewAccelerator is unavailable on this platform.
func (d *Device) NewAccelerator(m *reconstruct.Model) (*Accelerator, error) {
	return nil, fmt.Errorf("glrender: %w", ErrUnavailable)
}

// Accelerator is the GL model backend; on this platform none can be made.
type Accelerator struct{ reconstruct.Accelerator }

// EncoderOnCPU reports whether the accelerator encodes on the CPU; here
// there is no accelerator.
func (a *Accelerator) EncoderOnCPU() bool { return false }

// SetCPUEncoder does nothing on this platform.
func (a *Accelerator) SetCPUEncoder(m *reconstruct.Model) {}
