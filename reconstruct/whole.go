package reconstruct

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/niiv/niiv/volume"
)

// VolumeOptions configure Isotropic.
type VolumeOptions struct {
	// ZScale multiplies the number of z slices: the output has
	// round(Z·ZScale) slices (any positive value, not only integers). 0
	// means the voxel anisotropy (z size / lateral size), or 1 when that is
	// unknown.
	ZScale float64
	// Axes are the axial passes averaged: XZ and YZ by default.
	Axes []volume.Axis
	// Progress, when set, is called after each decoded plane with the
	// number done and the total.
	Progress func(done, total int)
}

// OutputSlices returns the number of z slices Isotropic writes for vol.
func (o VolumeOptions) OutputSlices(vol *volume.Volume) int {
	s := o.ZScale
	if s <= 0 {
		s = 1
		if vol.Voxel.Known {
			s = vol.Voxel.Anisotropy()
		}
	}
	return max(1, int(math.Round(float64(vol.Shape().Z)*s)))
}

// axialRenderer is implemented by methods with a faster whole-plane path
// than Render (the niiv method: batched encoding, no cache).
type axialRenderer interface {
	renderAxial(ctx context.Context, vol *volume.Volume, axis volume.Axis, idx []int, h int, emit func(index int, img []float32)) error
}

// Isotropic reconstructs the whole volume with method m at
// opt.OutputSlices z slices: each axial plane (xz, yz) is decoded at the
// output resolution and the passes are averaged. The result is float32 in
// the volume's units, with the z voxel size divided accordingly. It stops
// with ctx.Err() when cancelled.
func Isotropic(ctx context.Context, m Method, vol *volume.Volume, opt VolumeOptions) (*volume.Volume, error) {
	s := vol.Shape()
	zOut := opt.OutputSlices(vol)
	axes := opt.Axes
	if len(axes) == 0 {
		axes = []volume.Axis{volume.XZ, volume.YZ}
	}
	out := make([]float32, zOut*s.Y*s.X)
	total := 0
	for _, a := range axes {
		if a == volume.XY {
			return nil, fmt.Errorf("reconstruct: isotropic: passes are xz or yz, not xy")
		}
		total += vol.Count(a)
	}
	var done atomic.Int64
	step := func() {
		d := done.Add(1)
		if opt.Progress != nil {
			opt.Progress(int(d), total)
		}
	}
	w := float32(1) / float32(len(axes))
	var mu sync.Mutex // serialises emit calls from parallel workers
	for _, a := range axes {
		emit := func(index int, img []float32) {
			mu.Lock()
			defer mu.Unlock()
			if a == volume.XZ { // img [z][x] at y = index
				for z := 0; z < zOut; z++ {
					dst := out[(z*s.Y+index)*s.X : (z*s.Y+index+1)*s.X]
					for x, v := range img[z*s.X : (z+1)*s.X] {
						dst[x] += w * v
					}
				}
			} else { // img [z][y] at x = index
				for z := 0; z < zOut; z++ {
					row := img[z*s.Y : (z+1)*s.Y]
					for y, v := range row {
						out[(z*s.Y+y)*s.X+index] += w * v
					}
				}
			}
			step()
		}
		idx := make([]int, vol.Count(a))
		for i := range idx {
			idx[i] = i
		}
		if ar, ok := m.(axialRenderer); ok {
			if err := ar.renderAxial(ctx, vol, a, idx, zOut, emit); err != nil {
				return nil, err
			}
			continue
		}
		if err := renderParallel(ctx, m, vol, a, idx, zOut, emit); err != nil {
			return nil, err
		}
	}
	vox := vol.Voxel
	vox.Z *= float64(s.Z) / float64(zOut)
	vox.Source = "" // computed here, not read from where the input's came from
	res, err := volume.New(volume.Shape{Z: zOut, Y: s.Y, X: s.X}, out, vox)
	if err != nil {
		return nil, err
	}
	res.Name = vol.Name
	return res, nil
}

// renderParallel renders whole axial planes with Render on all CPUs.
func renderParallel(ctx context.Context, m Method, vol *volume.Volume, a volume.Axis, idx []int, h int, emit func(int, []float32)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, defaultThreads())
	for w := range errs {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(idx) || ctx.Err() != nil {
					return
				}
				rows, cols := planeSize(vol.Shape(), a)
				img, err := m.Render(ctx, Request{Vol: vol, Axis: a, Index: float64(idx[k]), R0: 0, R1: float64(rows), C0: 0, C1: float64(cols), W: cols, H: h})
				if err != nil {
					errs[w] = err
					return
				}
				emit(idx[k], img.Pix)
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return ctx.Err()
}
