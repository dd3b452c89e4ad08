package reconstruct

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/niiv/niiv/volume"
)

// EvalOptions configure Evaluate.
type EvalOptions struct {
	// Factor is the z average-pooling factor applied to the ground truth
	// (the paper's degradation), at least 2.
	Factor int
	// Axes are the axial plane orientations compared: XZ (default), YZ.
	Axes []volume.Axis
	// Radii are the clipped-Fourier PSNR radii reported (default Radii).
	Radii []float64
	// Progress, when set, is called after each compared slice with the
	// number done and the total (all methods together).
	Progress func(done, total int)
}

// Scores are one method's metrics averaged over slices, for intensities
// scaled to [0, 1].
type Scores struct {
	Method string
	PSNR   float64
	SSIM   float64
	// CF holds the clipped-Fourier PSNR at EvalOptions.Radii, in order.
	CF     []float64
	Slices int
}

// IntensityRange returns the range Evaluate maps to [0, 1]: 0–255 for
// 8-bit volumes, the volume's minimum and maximum otherwise.
func IntensityRange(v *volume.Volume) (lo, hi float64) {
	if v.DType() == volume.Uint8 {
		return 0, 255
	}
	st := v.Stats()
	if st.Max <= st.Min {
		return st.Min, st.Min + 1
	}
	return st.Min, st.Max
}

// Evaluate runs the niiv paper's protocol on an isotropic volume gt: it
// average-pools gt along z by opt.Factor, reconstructs every axial plane
// (xz, and yz if asked) at the original resolution with each method, and
// compares it with the original plane (the first Z/Factor·Factor slices).
// Metrics are averaged over planes.
func Evaluate(ctx context.Context, gt *volume.Volume, methods []Method, opt EvalOptions) ([]Scores, error) {
	if opt.Factor < 2 {
		return nil, fmt.Errorf("reconstruct: evaluate: factor %d must be at least 2", opt.Factor)
	}
	if len(opt.Axes) == 0 {
		opt.Axes = []volume.Axis{volume.XZ}
	}
	if len(opt.Radii) == 0 {
		opt.Radii = Radii
	}
	low, err := volume.PoolZ(gt, opt.Factor)
	if err != nil {
		return nil, fmt.Errorf("reconstruct: evaluate %s: %w", gt.Name, err)
	}
	lo, hi := IntensityRange(gt)
	zOut := low.Shape().Z * opt.Factor
	type job struct {
		axis  volume.Axis
		index int
	}
	var jobs []job
	for _, a := range opt.Axes {
		if a == volume.XY {
			return nil, fmt.Errorf("reconstruct: evaluate: xy planes are not reconstructed; use xz or yz")
		}
		for i := 0; i < gt.Count(a); i++ {
			jobs = append(jobs, job{a, i})
		}
	}
	total := len(jobs) * len(methods)
	done := 0
	out := make([]Scores, len(methods))
	for mi, m := range methods {
		sc := Scores{Method: m.Name(), CF: make([]float64, len(opt.Radii))}
		var mu sync.Mutex
		work := make(chan [2]*volume.Image, runtime.GOMAXPROCS(0))
		var wg sync.WaitGroup
		for w := 0; w < runtime.GOMAXPROCS(0); w++ {
			wg.Go(func() {
				for pair := range work {
					p, g := pair[0], pair[1]
					ps, ss, cf := PSNR(p, g), SSIM(p, g), CFPSNRSweep(p, g, opt.Radii)
					mu.Lock()
					sc.PSNR += ps
					sc.SSIM += ss
					for i := range cf {
						sc.CF[i] += cf[i]
					}
					sc.Slices++
					mu.Unlock()
				}
			})
		}
		var rerr error
		var pmu sync.Mutex
		step := func() {
			pmu.Lock()
			defer pmu.Unlock()
			done++
			if opt.Progress != nil {
				opt.Progress(done, total)
			}
		}
		if ar, ok := m.(axialRenderer); ok {
			// Whole planes on parallel workers (the niiv method).
			for _, a := range opt.Axes {
				idx := make([]int, gt.Count(a))
				for i := range idx {
					idx[i] = i
				}
				_, cols := planeSize(low.Shape(), a)
				err := ar.renderAxial(ctx, low, a, idx, zOut, func(index int, img []float32) {
					pred := &volume.Image{W: cols, H: zOut, Pix: slices.Clone(img)}
					work <- [2]*volume.Image{Scale(pred, lo, hi), Scale(planeImage(gt, a, index, zOut), lo, hi)}
					step()
				})
				if err != nil {
					rerr = fmt.Errorf("reconstruct: evaluate %s with %s: %w", gt.Name, m.Name(), err)
					break
				}
			}
			jobs = nil
		}
		for _, j := range jobs {
			if err := ctx.Err(); err != nil {
				rerr = err
				break
			}
			rows, cols := planeSize(low.Shape(), j.axis)
			req := Request{Vol: low, Axis: j.axis, Index: float64(j.index), R0: 0, R1: float64(rows), C0: 0, C1: float64(cols), W: cols, H: zOut}
			pred, err := m.Render(ctx, req)
			if err != nil {
				rerr = fmt.Errorf("reconstruct: evaluate %s with %s: %w", gt.Name, m.Name(), err)
				break
			}
			work <- [2]*volume.Image{Scale(pred, lo, hi), Scale(planeImage(gt, j.axis, j.index, zOut), lo, hi)}
			step()
		}
		close(work)
		wg.Wait()
		if rerr != nil {
			return nil, rerr
		}
		n := float64(sc.Slices)
		sc.PSNR /= n
		sc.SSIM /= n
		for i := range sc.CF {
			sc.CF[i] /= n
		}
		out[mi] = sc
	}
	return out, nil
}

// planeImage copies the first rows rows of plane (axis, index) of v.
func planeImage(v *volume.Volume, axis volume.Axis, index, rows int) *volume.Image {
	p, err := v.Plane(axis, index)
	if err != nil {
		panic(err) // callers pass valid indices
	}
	_, cols := p.Size()
	pix := p.Float32(nil)
	return &volume.Image{W: cols, H: rows, Pix: slices.Clip(pix[:rows*cols])}
}
