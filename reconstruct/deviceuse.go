package reconstruct

import (
	"context"
	"sync/atomic"
)

// DeviceUse records, for the work done under one context, whether an
// accelerated model had to encode or decode something on the CPU because
// it was beyond the device's limits (ErrDeviceLimit), so that a viewer can
// label that frame with the device that really made it.
type DeviceUse struct {
	fallbacks atomic.Int64
}

type deviceUseKey struct{}

// WithDeviceUse returns a context under which the model's CPU fallbacks
// are counted in the returned DeviceUse.
func WithDeviceUse(ctx context.Context) (context.Context, *DeviceUse) {
	u := new(DeviceUse)
	return context.WithValue(ctx, deviceUseKey{}, u), u
}

// CPUFallbacks returns how many encodes or decodes went to the CPU.
func (u *DeviceUse) CPUFallbacks() int { return int(u.fallbacks.Load()) }

// noteFallback records one CPU fallback in ctx's DeviceUse, if any.
func noteFallback(ctx context.Context) {
	if u, ok := ctx.Value(deviceUseKey{}).(*DeviceUse); ok {
		u.fallbacks.Add(1)
	}
}
