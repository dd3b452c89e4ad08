package volume

import "fmt"

// PoolZ returns v average-pooled along z by factor: each output slice is the
// mean of factor consecutive input slices, the degradation the niiv paper
// uses to simulate anisotropy. Trailing slices that do not fill a whole
// group are dropped, as in PyTorch's avg_pool. The result is float32 with
// the z voxel size multiplied by factor.
func PoolZ(v *Volume, factor int) (*Volume, error) {
	s := v.Shape()
	if factor < 1 {
		return nil, fmt.Errorf("volume: pooling factor %d must be at least 1", factor)
	}
	if s.Z < factor {
		n := fmt.Sprintf("%d slices", s.Z)
		if s.Z == 1 {
			n = "1 slice"
		}
		return nil, fmt.Errorf("volume: cannot pool %s by %d: the factor must not exceed the number of slices", n, factor)
	}
	out := Shape{Z: s.Z / factor, Y: s.Y, X: s.X}
	plane := s.Y * s.X
	data := make([]float32, out.Len())
	acc := make([]float64, plane)
	for oz := 0; oz < out.Z; oz++ {
		clear(acc)
		for k := 0; k < factor; k++ {
			base := (oz*factor + k) * plane
			for i := range acc {
				acc[i] += v.atFlat(base + i)
			}
		}
		dst := data[oz*plane : (oz+1)*plane]
		for i, a := range acc {
			dst[i] = float32(a / float64(factor))
		}
	}
	vox := v.Voxel
	vox.Z *= float64(factor)
	vox.Source = "" // computed, not read from where v's came from
	r, err := New(out, data, vox)
	if err != nil {
		return nil, err
	}
	r.Name = v.Name
	return r, nil
}
