package reconstruct

import (
	"context"
	"fmt"
)

// Plane reconstructs one whole axial plane given as values (h × w, the
// volume's units, z rows then x or y columns) at rows output rows, exactly
// as Isotropic decodes each plane of a volume at rows output slices, with
// the normalisation range [lo, hi] (NormRange of the volume the plane is
// from) in place of the volume's own. The result (rows × w) is in the
// volume's units. It is what SliceGraph's graph computes.
func (n *Niiv) Plane(ctx context.Context, values []float32, h, w, rows int, lo, hi float64) ([]float32, error) {
	if h < 1 || w < 1 || len(values) != h*w {
		return nil, fmt.Errorf("reconstruct: plane: %d values for %d×%d", len(values), h, w)
	}
	if rows < 1 || rows > 1<<20 {
		return nil, fmt.Errorf("reconstruct: plane: %d output rows", rows)
	}
	if !(hi > lo) {
		return nil, fmt.Errorf("reconstruct: plane: normalisation range [%g, %g] is empty", lo, hi)
	}
	scale := float32(1 / (hi - lo))
	low := make([]float32, len(values))
	for i, v := range values {
		low[i] = (v - float32(lo)) * scale
	}
	lat, err := n.model.Encode(ctx, low, 1, h, w)
	if err != nil {
		return nil, err
	}
	p := n.model.planeFromLatent(lat, low, h, w)
	rc := gridCoords(0, float64(h), rows, h)
	cc := gridCoords(0, float64(w), w, w)
	out := make([]float32, rows*w)
	if err := n.decode(ctx, p, rc, cc, out, n.threads); err != nil {
		return nil, err
	}
	denormalise(out, lo, hi)
	return out, nil
}
