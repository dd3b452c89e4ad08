package volume

import (
	"context"
	"fmt"
	"math"
)

// NewLazy returns a Volume whose voxels stay in src (a chunked or
// memory-mapped file) and are read on demand: Plane, At and Read go
// through src, Data returns nil, and Stats are estimated from a sample (see
// Stats.Estimated). Only the metadata is held.
func NewLazy(src Source) (*Volume, error) {
	m := src.Meta()
	if !m.Shape.Valid() {
		return nil, fmt.Errorf("volume: %s: invalid shape %v", m.Name, m.Shape)
	}
	if m.DType.Size() == 0 {
		return nil, fmt.Errorf("volume: %s: unsupported element type %v", m.Name, m.DType)
	}
	return &Volume{shape: m.Shape, dtype: m.DType, Voxel: m.Voxel, Name: m.Name, src: src}, nil
}

// Levels returns the pyramid of a lazy volume whose source is Multiscale,
// as lazy volumes, full resolution (v itself) first; nil for any other
// volume. Levels whose source fails to describe itself are left out.
func (v *Volume) Levels() []*Volume {
	ms, ok := v.src.(Multiscale)
	if !ok {
		return nil
	}
	v.levelsOnce.Do(func() {
		v.levels = []*Volume{v}
		for _, l := range ms.Levels()[1:] {
			if lv, err := NewLazy(l); err == nil {
				v.levels = append(v.levels, lv)
			}
		}
	})
	return v.levels
}

// Source returns the source a lazy volume reads from, nil for a volume in
// memory.
func (v *Volume) Source() Source { return v.src }

// Lazy reports whether v's voxels are read on demand (NewLazy).
func (v *Volume) Lazy() bool { return v.src != nil }

// PlaneCtx is Plane for lazy volumes: it reads the plane through the source
// (honouring ctx) into memory. For a volume in memory it is Plane.
func (v *Volume) PlaneCtx(ctx context.Context, axis Axis, index int) (Plane, error) {
	p, err := v.plane(axis, index)
	if err != nil || v.src == nil {
		return p, err
	}
	b := Whole(v.shape)
	switch axis {
	case XY:
		b.Z0, b.Z1 = index, index+1
	case XZ:
		b.Y0, b.Y1 = index, index+1
	default:
		b.X0, b.X1 = index, index+1
	}
	m, err := ReadAccepting(ctx, v.src, b)
	if err != nil {
		return Plane{}, fmt.Errorf("volume: %s: read %v plane %d: %w", v.Name, axis, index, err)
	}
	if m.shape != b.Shape() || m.dtype != v.dtype {
		return Plane{}, fmt.Errorf("volume: %s: source returned %v %v for box %v, want %v %v", v.Name, m.shape, m.dtype, b, b.Shape(), v.dtype)
	}
	return Plane{vol: m, Axis: axis, Index: index, at: 0}, nil
}

// lazyAt reads one voxel through the source; NaN when it cannot be read.
func (v *Volume) lazyAt(z, y, x int) float64 {
	m, err := v.src.Read(context.Background(), Box{z, z + 1, y, y + 1, x, x + 1})
	if err != nil || m.shape.Len() != 1 {
		return math.NaN()
	}
	return m.atFlat(0)
}

// statsSample bounds the voxels a lazy volume's statistics read.
const statsSample = 16 << 20

// sampleStats estimates a lazy volume's statistics: from the finest pyramid
// level of at most statsSample voxels when the source has one, else from
// xy planes spread evenly through z (a centred crop of planes larger than
// the sample), deterministically.
func sampleStats(v *Volume) Stats {
	ctx := context.Background()
	if ms, ok := v.src.(Multiscale); ok {
		for i, l := range ms.Levels() {
			m := l.Meta()
			if i == 0 || m.Shape.Len() > statsSample {
				continue
			}
			if w, err := l.Read(ctx, Whole(m.Shape)); err == nil {
				s := computeStats(w)
				s.n = int64(v.shape.Len())
				s.Estimated = fmt.Sprintf("estimated from pyramid level %d (%v)", i, m.Shape)
				return s
			}
			break
		}
	}
	s := v.shape
	b := Whole(s)
	if ys, xs := min(s.Y, 4096), min(s.X, 4096); ys*xs < s.Y*s.X {
		b.Y0, b.X0 = (s.Y-ys)/2, (s.X-xs)/2
		b.Y1, b.X1 = b.Y0+ys, b.X0+xs
	}
	per := (b.Y1 - b.Y0) * (b.X1 - b.X0)
	k := max(1, min(s.Z, statsSample/per))
	var parts []*Volume
	for i := range k {
		z := (2*i + 1) * s.Z / (2 * k)
		bz := b
		bz.Z0, bz.Z1 = z, z+1
		if m, err := v.src.Read(ctx, bz); err == nil {
			parts = append(parts, m)
		}
	}
	if len(parts) == 0 {
		return Stats{Estimated: "no voxels could be read"}
	}
	joined, err := stack(parts)
	if err != nil {
		return Stats{Estimated: err.Error()}
	}
	st := computeStats(joined)
	st.n = int64(v.shape.Len())
	crop := ""
	if per < s.Y*s.X {
		crop = fmt.Sprintf(" (their central %d×%d)", b.Y1-b.Y0, b.X1-b.X0)
	}
	st.Estimated = fmt.Sprintf("estimated from %d of %d xy planes%s", len(parts), s.Z, crop)
	return st
}

// stack joins volumes of the same y, x shape and type along z.
func stack(parts []*Volume) (*Volume, error) {
	s := parts[0].shape
	s.Z = 0
	for _, p := range parts {
		s.Z += p.shape.Z
	}
	var data any
	switch parts[0].data.(type) {
	case []uint8:
		data = join[uint8](parts)
	case []uint16:
		data = join[uint16](parts)
	case []int16:
		data = join[int16](parts)
	case []float32:
		data = join[float32](parts)
	case []float64:
		data = join[float64](parts)
	}
	return New(s, data, parts[0].Voxel)
}

func join[T any](parts []*Volume) []T {
	n := 0
	for _, p := range parts {
		n += p.shape.Len()
	}
	out := make([]T, 0, n)
	for _, p := range parts {
		out = append(out, p.data.([]T)...)
	}
	return out
}

// PlaneRect writes rows [r0,r1) and columns [c0,c1) of plane (axis, index)
// into dst as float32 (row-major, allocated when too short) and returns it.
// A lazy volume reads only that rectangle.
func (v *Volume) PlaneRect(ctx context.Context, axis Axis, index, r0, r1, c0, c1 int, dst []float32) ([]float32, error) {
	p, err := v.plane(axis, index)
	if err != nil {
		return nil, err
	}
	rows, cols := p.Size()
	if r0 < 0 || c0 < 0 || r1 > rows || c1 > cols || r0 >= r1 || c0 >= c1 {
		return nil, fmt.Errorf("volume: rows [%d,%d), columns [%d,%d) outside the %d×%d %v plane", r0, r1, c0, c1, rows, cols, axis)
	}
	if v.src != nil {
		b := Box{index, index + 1, r0, r1, c0, c1} // XY: rows y, columns x
		switch axis {
		case XZ:
			b = Box{r0, r1, index, index + 1, c0, c1}
		case YZ:
			b = Box{r0, r1, c0, c1, index, index + 1}
		}
		m, err := ReadAccepting(ctx, v.src, b)
		if err != nil {
			return nil, fmt.Errorf("volume: %s: read %v: %w", v.Name, b, err)
		}
		if m.shape != b.Shape() || m.dtype != v.dtype {
			return nil, fmt.Errorf("volume: %s: source returned %v %v for box %v, want %v %v", v.Name, m.shape, m.dtype, b, b.Shape(), v.dtype)
		}
		p = Plane{vol: m, Axis: axis, Index: index} // m holds only the rectangle
		r0, r1, c0, c1 = 0, r1-r0, 0, c1-c0
	}
	h, w := r1-r0, c1-c0
	if len(dst) < h*w {
		dst = make([]float32, h*w)
	}
	dst = dst[:h*w]
	for r := range h {
		p.rowFloat32(r0+r, c0, dst[r*w:(r+1)*w])
	}
	return dst, nil
}
