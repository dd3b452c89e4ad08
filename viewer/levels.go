package viewer

import (
	"fmt"
	"math"

	"github.com/niiv/niiv/volume"
)

// level is a slice moved onto one level of its volume's pyramid.
type level struct {
	Slice
	n     int     // 0: full resolution
	xy    float64 // the level's xy downsampling factor
	aniso float64 // the level's anisotropy (z voxel / xy voxel), 0 when unknown
	// zoomedOut is the lateral voxels per screen pixel of a view on a lazy
	// volume without a coarser level to read (0 otherwise).
	zoomedOut float64
}

// pyramidLevel returns s read from the level of its volume's pyramid whose
// xy voxel is closest (in ratio) to one output pixel: zoomed out, a view
// reads a coarser level instead of every voxel under each pixel. Volumes
// without a pyramid, and views at one voxel per pixel or closer, keep s.
func pyramidLevel(s Slice) level {
	base := level{Slice: s, xy: 1}
	if s.Vol != nil {
		base.aniso = anisotropy(s.Vol.Voxel)
	}
	if s.Vol == nil || s.W <= 0 {
		return base
	}
	perPixel := (s.C1 - s.C0) / float64(s.W) // columns are x or y: lateral
	levels := s.Vol.Levels()
	if len(levels) < 2 {
		if s.Vol.Lazy() && perPixel >= 2 {
			base.zoomedOut = perPixel
		}
		return base
	}
	if perPixel <= 1 {
		return base
	}
	bs := s.Vol.Shape()
	best, bestDist := base, math.Abs(math.Log(perPixel))
	for n, lv := range levels[1:] {
		ls := lv.Shape()
		fz, fy, fx := float64(bs.Z)/float64(ls.Z), float64(bs.Y)/float64(ls.Y), float64(bs.X)/float64(ls.X)
		f := fx
		if s.Axis == volume.YZ {
			f = fy
		}
		if d := math.Abs(math.Log(perPixel / f)); d < bestDist {
			best, bestDist = level{Slice: scaleSlice(s, lv, fz, fy, fx), n: n + 1, xy: f, aniso: anisotropy(lv.Voxel)}, d
			if best.aniso == 0 && base.aniso > 0 {
				best.aniso = base.aniso * f / fz
			}
		}
	}
	return best
}

// scaleSlice maps s, in the voxel coordinates of the full-resolution
// volume, onto lv, downsampled by fz, fy, fx: a continuous coordinate c
// becomes c/f, a plane index i (a voxel centre) (i+0.5)/f − 0.5.
func scaleSlice(s Slice, lv *volume.Volume, fz, fy, fx float64) Slice {
	centre := func(i, f float64, n int) float64 {
		return math.Max(0, math.Min(float64(n-1), (i+0.5)/f-0.5))
	}
	ls := lv.Shape()
	o := s
	o.Vol = lv
	switch s.Axis {
	case volume.XY:
		o.Index = centre(s.Index, fz, ls.Z)
		o.R0, o.R1, o.C0, o.C1 = s.R0/fy, s.R1/fy, s.C0/fx, s.C1/fx
	case volume.XZ:
		o.Index = math.Round(centre(s.Index, fy, ls.Y))
		o.R0, o.R1, o.C0, o.C1 = s.R0/fz, s.R1/fz, s.C0/fx, s.C1/fx
	default:
		o.Index = math.Round(centre(s.Index, fx, ls.X))
		o.R0, o.R1, o.C0, o.C1 = s.R0/fz, s.R1/fz, s.C0/fy, s.C1/fy
	}
	return o
}

// anisotropy returns v's z / xy voxel ratio, 0 when unknown.
func anisotropy(v volume.Voxel) float64 {
	if !v.Known {
		return 0
	}
	return v.Anisotropy()
}

// factorRanger is a renderer that knows the anisotropy factors its model
// was trained for.
type factorRanger interface {
	FactorRange() (lo, hi int)
}

// levelRenderer picks the renderer for slice l with mode m's renderer r:
// niiv below its model's trained factors (a coarse level of an anisotropic
// volume is less anisotropic) gives way to linear, and the label says why.
// It returns the renderer and the note for the frame's label.
func levelRenderer(l level, r Renderer, ms Methods, m Mode) (Renderer, string) {
	if l.n == 0 && l.zoomedOut > 0 && m == Niiv && r != nil && ms.Linear != nil && l.aniso > 0 {
		// No coarser level to read: a screen pixel still spans many
		// voxels, which make the view as little anisotropic as a level
		// would (and an XY view would encode every xz plane it crosses).
		if fr, ok := r.(factorRanger); ok {
			if lo, hi := fr.FactorRange(); lo > 0 && l.aniso/l.zoomedOut < float64(lo)-1e-6 {
				return ms.Linear, fmt.Sprintf("zoomed out: a screen pixel spans %.3g voxels, so the view is %.2g× anisotropic, below %s's %d–%d×", l.zoomedOut, l.aniso/l.zoomedOut, r.Name(), lo, hi)
			}
		}
		return r, ""
	}
	if l.n == 0 {
		return r, ""
	}
	note := fmt.Sprintf("pyramid level %d (1/%.3g in xy)", l.n, l.xy)
	if m != Niiv || r == nil || ms.Linear == nil {
		return r, note
	}
	fr, ok := r.(factorRanger)
	if !ok {
		return r, note
	}
	lo, hi := fr.FactorRange()
	if lo > 0 && l.aniso > 0 && l.aniso < float64(lo)-1e-6 {
		return ms.Linear, fmt.Sprintf("%s, %.2g× anisotropic: below %s's %d–%d×", note, l.aniso, r.Name(), lo, hi)
	}
	return r, note
}
