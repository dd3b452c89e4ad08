package reconstruct

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/niiv/niiv/volume"
)

// The classical baselines. Each interpolates separably along all axes of a
// request (rows, columns and, for XY planes at fractional z, z) with border
// clamping, so with integer upsampling factors they equal PyTorch's
// F.interpolate(mode="nearest" / "bilinear", align_corners=False).
var (
	// Nearest repeats the nearest voxel.
	Nearest Method = classical{"nearest", kernelNearest}
	// Linear interpolates linearly (bilinear in a plane, trilinear across z).
	Linear Method = classical{"linear", kernelLinear}
	// Cubic interpolates with the Keys cubic convolution kernel (a = −0.5,
	// Catmull-Rom), which may overshoot the input range slightly.
	Cubic Method = classical{"cubic", kernelCubic}
)

type kernel int

const (
	kernelNearest kernel = iota
	kernelLinear
	kernelCubic
)

func (k kernel) taps() int {
	switch k {
	case kernelNearest:
		return 1
	case kernelLinear:
		return 2
	}
	return 4
}

type classical struct {
	name string
	k    kernel
}

func (c classical) Name() string { return c.name }

// tapTable holds, for n output samples, k.taps() source indices and
// weights each.
type tapTable struct {
	t   int
	idx []int
	w   []float32
}

// makeTaps computes the taps of n output pixel centres over the continuous
// source interval [a0, a1) of a source axis with size voxels.
func makeTaps(k kernel, a0, a1 float64, n, size int) tapTable {
	t := k.taps()
	tt := tapTable{t: t, idx: make([]int, n*t), w: make([]float32, n*t)}
	clamp := func(i int) int { return min(max(i, 0), size-1) }
	for i := 0; i < n; i++ {
		s := pixelCentre(a0, a1, i, n)
		o := i * t
		switch k {
		case kernelNearest:
			tt.idx[o] = clamp(int(math.Floor(s)))
			tt.w[o] = 1
		case kernelLinear:
			u := min(max(s-0.5, 0), float64(size-1))
			k0 := int(math.Floor(u))
			f := u - float64(k0)
			tt.idx[o], tt.idx[o+1] = k0, clamp(k0+1)
			tt.w[o], tt.w[o+1] = float32(1-f), float32(f)
		case kernelCubic:
			u := s - 0.5
			k0 := int(math.Floor(u))
			f := u - float64(k0)
			for j := -1; j <= 2; j++ {
				tt.idx[o+j+1] = clamp(k0 + j)
				tt.w[o+j+1] = float32(keys(float64(j) - f))
			}
		}
	}
	return tt
}

// keys is the Keys (1981) cubic convolution kernel with a = −0.5.
func keys(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	switch {
	case x <= 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return ((a*x-5*a)*x+8*a)*x - 4*a
	}
	return 0
}

// planeSource reads rows of one plane of a volume; for XY planes it blends
// the z taps.
type planeSource struct {
	vol   *volume.Volume
	axis  volume.Axis
	index int       // plane index for XZ (y) and YZ (x)
	zIdx  []int     // z taps for XY
	zW    []float32 // their weights
	// r0, c0: the plane's row and column at vol's origin (non-zero once
	// load has read part of a lazy volume).
	r0, c0 int
}

// load reads, from a lazy volume, the box that rows [r0, r1] and columns
// [c0, c1] of the plane need, and points p at that copy in memory. For a
// volume in memory it does nothing.
func (p *planeSource) load(ctx context.Context, r0, r1, c0, c1 int) error {
	if !p.vol.Lazy() || p.axis == volume.XY && len(p.zIdx) == 0 {
		return nil
	}
	var b volume.Box
	switch p.axis {
	case volume.XY:
		z0, z1 := slices.Min(p.zIdx), slices.Max(p.zIdx)
		b = volume.Box{Z0: z0, Z1: z1 + 1, Y0: r0, Y1: r1 + 1, X0: c0, X1: c1 + 1}
		for i := range p.zIdx {
			p.zIdx[i] -= z0
		}
	case volume.XZ:
		b = volume.Box{Z0: r0, Z1: r1 + 1, Y0: p.index, Y1: p.index + 1, X0: c0, X1: c1 + 1}
		p.index = 0
	default:
		b = volume.Box{Z0: r0, Z1: r1 + 1, Y0: c0, Y1: c1 + 1, X0: p.index, X1: p.index + 1}
		p.index = 0
	}
	m, err := volume.ReadAccepting(ctx, p.vol, b)
	if err != nil {
		return fmt.Errorf("reconstruct: %s: read %v: %w", p.vol.Name, b, err)
	}
	p.vol, p.r0, p.c0 = m, r0, c0
	return nil
}

// row writes source row r, columns [c0, c0+len(dst)), into dst.
func (p *planeSource) row(r, c0 int, dst []float32) {
	r, c0 = r-p.r0, c0-p.c0
	s := p.vol.Shape()
	data := p.vol.Data()
	switch p.axis {
	case volume.XY:
		clear(dst)
		for k, z := range p.zIdx {
			addStrided(data, (z*s.Y+r)*s.X+c0, 1, p.zW[k], dst)
		}
	case volume.XZ:
		clear(dst)
		addStrided(data, (r*s.Y+p.index)*s.X+c0, 1, 1, dst)
	default:
		clear(dst)
		addStrided(data, (r*s.Y+c0)*s.X+p.index, s.X, 1, dst)
	}
}

// addStrided adds w·data[base+i·stride] to dst[i].
func addStrided(data any, base, stride int, w float32, dst []float32) {
	switch d := data.(type) {
	case []uint8:
		for i := range dst {
			dst[i] += w * float32(d[base+i*stride])
		}
	case []uint16:
		for i := range dst {
			dst[i] += w * float32(d[base+i*stride])
		}
	case []int16:
		for i := range dst {
			dst[i] += w * float32(d[base+i*stride])
		}
	case []float32:
		for i := range dst {
			dst[i] += w * d[base+i*stride]
		}
	case []float64:
		for i := range dst {
			dst[i] += w * float32(d[base+i*stride])
		}
	}
}

// source returns the plane source of a request, resolving XY z taps with
// kernel k.
func source(req Request, k kernel) *planeSource {
	p := &planeSource{vol: req.Vol, axis: req.Axis}
	if req.Axis == volume.XY {
		zt := makeTaps(k, req.Index, req.Index+1, 1, req.Vol.Shape().Z)
		for i, z := range zt.idx {
			if zt.w[i] == 0 {
				continue
			}
			p.zIdx = append(p.zIdx, z)
			p.zW = append(p.zW, zt.w[i])
		}
	} else {
		p.index = req.plane()
	}
	return p
}

// Render implements Method.
func (c classical) Render(ctx context.Context, req Request) (*volume.Image, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	rows, cols := planeSize(req.Vol.Shape(), req.Axis)
	rt := makeTaps(c.k, req.R0, req.R1, req.H, rows)
	ct := makeTaps(c.k, req.C0, req.C1, req.W, cols)
	return resample(ctx, source(req, c.k), rt, ct, req.W, req.H)
}

// resample applies the column taps to every source row the row taps need,
// then the row taps.
func resample(ctx context.Context, src *planeSource, rt, ct tapTable, w, h int) (*volume.Image, error) {
	cmin, cmax := slices.Min(ct.idx), slices.Max(ct.idx)
	need := slices.Clone(rt.idx)
	slices.Sort(need)
	need = slices.Compact(need)
	if err := src.load(ctx, need[0], need[len(need)-1], cmin, cmax); err != nil {
		return nil, err
	}
	pos := make(map[int]int, len(need))
	for i, r := range need {
		pos[r] = i
	}
	buf := make([]float32, cmax-cmin+1)
	tmp := make([]float32, len(need)*w)
	for i, r := range need {
		if i%64 == 63 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		src.row(r, cmin, buf)
		dst := tmp[i*w : (i+1)*w]
		for j := range dst {
			var s float32
			for t := 0; t < ct.t; t++ {
				s += ct.w[j*ct.t+t] * buf[ct.idx[j*ct.t+t]-cmin]
			}
			dst[j] = s
		}
	}
	out := volume.NewImage(w, h)
	for i := 0; i < h; i++ {
		dst := out.Pix[i*w : (i+1)*w]
		for t := 0; t < rt.t; t++ {
			wt := rt.w[i*rt.t+t]
			if wt == 0 {
				continue
			}
			row := tmp[pos[rt.idx[i*rt.t+t]]*w:]
			for j := range dst {
				dst[j] += wt * row[j]
			}
		}
	}
	return out, ctx.Err()
}
