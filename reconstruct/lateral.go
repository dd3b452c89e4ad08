package reconstruct

import (
	"context"
	"fmt"
	"math"

	"github.com/niiv/niiv/volume"
)

// LateralCrop is the side of the crops the lateral check compares: the
// niiv paper's radii are for 128×128 slices.
const LateralCrop = 128

// LateralOptions configure Lateral.
type LateralOptions struct {
	// Factor is the anisotropy the check imitates: each crop is
	// average-pooled along y by Factor (at least 2).
	Factor int
	// Planes are the xy planes (z indices) crops are taken from; nil: all.
	Planes []int
	// MaxCrops bounds the crops compared (default 64), spread over the
	// planes and over each plane.
	MaxCrops int
	// Progress, when set, is called after each compared crop.
	Progress func(done, total int)
}

// LateralCrops describes the crops of a lateral check: their size and the
// scale applied to the paper's radii (1 for 128×128 crops).
type LateralCrops struct {
	H, W, N     int
	RadiusScale float64
}

// Lateral estimates how well each method restores resolution on an
// anisotropic volume that has no isotropic ground truth, from the volume
// itself: crops of its xy planes (fully resolved) are average-pooled along
// y by opt.Factor — the degradation z suffered — reconstructed as axial
// slices are, and compared with the original crops with the paper's
// protocol (Evaluate): CF-PSNR at Radii, for crops of up to 128×128 (radii
// scaled by √(H·W)/128 for smaller planes). It measures the recovery of
// in-plane texture pooled the way z was; it does not see what the z axis
// itself lost (its point-spread function, a missing wedge, sectioning), so
// it ranks methods rather than measuring the z resolution.
func Lateral(ctx context.Context, vol *volume.Volume, methods []Method, opt LateralOptions) ([]Scores, LateralCrops, error) {
	gt, crops, err := lateralTruth(ctx, vol, opt)
	if err != nil {
		return nil, crops, err
	}
	radii := make([]float64, len(Radii))
	for i, r := range Radii {
		radii[i] = r * crops.RadiusScale
	}
	sc, err := Evaluate(ctx, gt, methods, EvalOptions{Factor: opt.Factor, Axes: []volume.Axis{volume.XZ}, Radii: radii, Progress: opt.Progress})
	if err != nil {
		return nil, crops, fmt.Errorf("reconstruct: lateral check of %s: %w", vol.Name, err)
	}
	return sc, crops, nil
}

// lateralTruth gathers the crops as an isotropic stand-in volume: crop k's
// rows (y) along z, crops along y, columns (x) along x, so that Evaluate's
// xz plane k is crop k and its z pooling is the crop's y pooling.
func lateralTruth(ctx context.Context, vol *volume.Volume, opt LateralOptions) (*volume.Volume, LateralCrops, error) {
	s := vol.Shape()
	if opt.Factor < 2 {
		return nil, LateralCrops{}, fmt.Errorf("reconstruct: lateral check: factor %d must be at least 2", opt.Factor)
	}
	if opt.MaxCrops <= 0 {
		opt.MaxCrops = 64
	}
	h := min(LateralCrop, s.Y) / opt.Factor * opt.Factor
	w := min(LateralCrop, s.X)
	if h < 2*opt.Factor || w < 8 {
		return nil, LateralCrops{}, fmt.Errorf("reconstruct: lateral check of %s: xy planes of %d×%d are too small for factor %d (need at least %d rows and 8 columns)",
			vol.Name, s.Y, s.X, opt.Factor, 2*opt.Factor)
	}
	planes := opt.Planes
	if planes == nil {
		for z := range s.Z {
			planes = append(planes, z)
		}
	}
	if len(planes) == 0 {
		return nil, LateralCrops{}, fmt.Errorf("reconstruct: lateral check of %s: no xy planes to use", vol.Name)
	}
	for _, z := range planes {
		if z < 0 || z >= s.Z {
			return nil, LateralCrops{}, fmt.Errorf("reconstruct: lateral check of %s: plane z=%d outside [0,%d)", vol.Name, z, s.Z)
		}
	}
	// Tiles of each plane, non-overlapping, in a spread order; planes
	// spread too: crop k comes from plane k mod P, tile k div P.
	ty, tx := s.Y/h, s.X/w
	tiles := SpreadOrder(ty * tx)
	n := min(opt.MaxCrops, len(planes)*len(tiles))
	usePlanes := planes
	if n < len(planes) { // fewer crops than planes: planes evenly spaced
		usePlanes = make([]int, n)
		for i := range usePlanes {
			usePlanes[i] = planes[i*len(planes)/n]
		}
	}
	// Crops keep the volume's intensities; Evaluate scales 8-bit data by
	// 0–255 and others by the min–max of the crops.
	data := make([]float32, h*n*w)
	var buf []float32
	for k := range n {
		if err := ctx.Err(); err != nil {
			return nil, LateralCrops{}, err
		}
		z := usePlanes[k%len(usePlanes)]
		t := tiles[(k/len(usePlanes))%len(tiles)]
		y0, x0 := (t/tx)*h+(s.Y-ty*h)/2, (t%tx)*w+(s.X-tx*w)/2
		// Only the crop is read (a lazy volume reads its chunks alone).
		var err error
		buf, err = vol.PlaneRect(ctx, volume.XY, z, y0, y0+h, x0, x0+w, buf)
		if err != nil {
			return nil, LateralCrops{}, fmt.Errorf("reconstruct: lateral check of %s: %w", vol.Name, err)
		}
		for r := range h {
			row := buf[r*w : (r+1)*w]
			for _, v := range row {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, LateralCrops{}, fmt.Errorf("reconstruct: lateral check of %s: plane z=%d holds NaN or infinite values", vol.Name, z)
				}
			}
			copy(data[(r*n+k)*w:], row)
		}
	}
	var vdata any = data
	if vol.DType() == volume.Uint8 { // keeps Evaluate's 0–255 scaling
		u := make([]uint8, len(data))
		for i, v := range data {
			u[i] = uint8(v)
		}
		vdata = u
	}
	v := vol.Voxel
	gt, err := volume.New(volume.Shape{Z: h, Y: n, X: w}, vdata, volume.Voxel{Z: v.X, Y: v.X, X: v.X, Unit: v.Unit, Known: v.Known})
	if err != nil {
		return nil, LateralCrops{}, fmt.Errorf("reconstruct: lateral check of %s: %w", vol.Name, err)
	}
	gt.Name = vol.Name + " (lateral crops)"
	return gt, LateralCrops{H: h, W: w, N: n, RadiusScale: math.Sqrt(float64(h*w)) / LateralCrop}, nil
}

// SpreadOrder returns 0…n-1 in an order that spreads the first few over
// the range (the bit-reversal order of the next power of two): the order
// in which lateral checks take tiles of a plane.
func SpreadOrder(n int) []int {
	bits := 0
	for 1<<bits < n {
		bits++
	}
	out := make([]int, 0, n)
	for i := range 1 << bits {
		r := 0
		for b := range bits {
			if i>>b&1 != 0 {
				r |= 1 << (bits - 1 - b)
			}
		}
		if r < n {
			out = append(out, r)
		}
	}
	return out
}
