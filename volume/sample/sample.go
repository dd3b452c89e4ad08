// Package sample generates niiv's bundled test volume: a deterministic,
// EM-like block of tissue (cells with dark membranes, mitochondria,
// vesicles, blur and noise) at 8 nm isotropic voxels, and its anisotropic
// version made by average pooling along z.
package sample

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/niiv/niiv/volume"
)

// VoxelNM is the sample's isotropic voxel size in nanometres.
const VoxelNM = 8

// Options control the generator.
type Options struct {
	Size int    // edge length in voxels (default 128)
	Seed uint64 // random seed (default 1)
	// Progress, when set, is called as the work advances with the units
	// done so far out of total, from one goroutine at a time.
	Progress func(done, total int)
}

type point struct{ z, y, x float64 }

type ellipsoid struct {
	c      point
	axes   [3]point // unit axes
	r      [3]float64
	cristP float64 // phase of the internal stripes
}

// EM returns an isotropic EM-like uint8 volume of Size³ voxels. The same
// options always give the same voxels.
func EM(o Options) *volume.Volume {
	v, _ := EMContext(context.Background(), o)
	return v
}

// EMContext is EM that stops early, returning ctx.Err(), when ctx is
// cancelled, and reports its progress to o.Progress. Its time grows
// linearly with the number of voxels; the voxels do not depend on the
// number of CPUs.
func EMContext(ctx context.Context, o Options) (*volume.Volume, error) {
	n := o.Size
	if n <= 0 {
		n = 128
	}
	seed := o.Seed
	if seed == 0 {
		seed = 1
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e696976))
	fn := float64(n)
	// Cells: a Voronoi tessellation; a seed every ~40 voxels (320 nm).
	nCells := max(4, int(fn*fn*fn/(40*40*40)))
	cells := make([]point, nCells)
	tone := make([]float64, nCells)
	for i := range cells {
		cells[i] = point{rng.Float64() * fn, rng.Float64() * fn, rng.Float64() * fn}
		tone[i] = 0.62 + 0.12*rng.Float64()
	}
	// Mitochondria: elongated ellipsoids.
	nMito := max(2, nCells/2)
	mitos := make([]ellipsoid, nMito)
	for i := range mitos {
		a := randUnit(rng)
		b := normalize(cross(a, randUnit(rng)))
		c := cross(a, b)
		mitos[i] = ellipsoid{
			c:      point{rng.Float64() * fn, rng.Float64() * fn, rng.Float64() * fn},
			axes:   [3]point{a, b, c},
			r:      [3]float64{8 + 10*rng.Float64(), 3.5 + 2*rng.Float64(), 3.5 + 2*rng.Float64()},
			cristP: rng.Float64() * 2 * math.Pi,
		}
	}
	// Vesicles: small dark rings of ~40 nm.
	nVes := max(10, int(fn*fn*fn/2500))
	ves := make([]point, nVes)
	vesR := make([]float64, nVes)
	for i := range ves {
		// Cluster vesicles near a few synapse-like spots.
		k := cells[rng.IntN(nCells)]
		ves[i] = point{k.z + rng.NormFloat64()*12, k.y + rng.NormFloat64()*12, k.x + rng.NormFloat64()*12}
		vesR[i] = 2 + 1.2*rng.Float64()
	}

	// The volume is drawn in blocks of bin³ voxels; each block visits only
	// the cells, mitochondria and vesicles that can reach it, in index
	// order, so a voxel gets the value it would get from all of them.
	const bin = 8
	nb := (n + bin - 1) / bin
	vesBins := make([][]int, nb*nb*nb)
	for i, v := range ves {
		for dz := -1; dz <= 1; dz++ {
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					bz, by, bx := int(v.z)/bin+dz, int(v.y)/bin+dy, int(v.x)/bin+dx
					if bz >= 0 && by >= 0 && bx >= 0 && bz < nb && by < nb && bx < nb && v.z >= 0 && v.y >= 0 && v.x >= 0 {
						vesBins[(bz*nb+by)*nb+bx] = append(vesBins[(bz*nb+by)*nb+bx], i)
					}
				}
			}
		}
	}
	mitoBins := binMitos(mitos, n, bin, nb)
	grid := newSeedGrid(cells, n)

	st := newStages(o.Progress, n)
	img := make([]float32, n*n*n)
	err := parallel(ctx, nb*nb, func() func(int) {
		grid := grid.clone()
		var near []int
		return func(job int) {
			bz, by := job/nb, job%nb
			for bx := 0; bx < nb; bx++ {
				z0, y0, x0 := bz*bin, by*bin, bx*bin
				z1, y1, x1 := min(z0+bin, n), min(y0+bin, n), min(x0+bin, n)
				near = grid.near(near, [3]float64{float64(z0) + .5, float64(y0) + .5, float64(x0) + .5},
					[3]float64{float64(z1) - .5, float64(y1) - .5, float64(x1) - .5})
				bi := (bz*nb+by)*nb + bx
				for z := z0; z < z1; z++ {
					for y := y0; y < y1; y++ {
						for x := x0; x < x1; x++ {
							img[(z*n+y)*n+x] = float32(voxel(z, y, x, cells, tone, near, mitos, mitoBins[bi], ves, vesR, vesBins[bi]))
						}
					}
				}
			}
			st.add((min(bz*bin+bin, n)-bz*bin)*(min(by*bin+bin, n)-by*bin)*n, costDraw)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := blur3(ctx, img, n, 0.9, st); err != nil {
		return nil, err
	}
	out := make([]uint8, len(img))
	plane := n * n
	for z := 0; z < n; z++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i := z * plane; i < (z+1)*plane; i++ {
			f := float64(img[i]) + 0.045*rng.NormFloat64()
			out[i] = uint8(math.Round(255 * math.Max(0, math.Min(1, f))))
		}
		st.add(plane, costNoise)
	}
	vol, _ := volume.New(volume.Shape{Z: n, Y: n, X: n}, out, volume.Voxel{Z: VoxelNM, Y: VoxelNM, X: VoxelNM, Unit: "nm", Known: true})
	vol.Name = "niiv sample (EM-like, 8 nm isotropic)"
	return vol, nil
}

// voxel returns the noiseless, unblurred value of voxel (z, y, x), given
// the indices (ascending) of the cell seeds that may be its two nearest,
// and of the mitochondria and vesicles that may reach it.
func voxel(z, y, x int, cells []point, tone []float64, near []int, mitos []ellipsoid, mitoIdx []int32, ves []point, vesR []float64, vesIdx []int) float64 {
	p := point{float64(z) + .5, float64(y) + .5, float64(x) + .5}
	d1, d2, c1 := math.Inf(1), math.Inf(1), 0
	for _, i := range near {
		d := dist2(p, cells[i])
		if d < d1 {
			d2, d1, c1 = d1, d, i
		} else if d < d2 {
			d2 = d
		}
	}
	// Distance to the bisecting plane between the two nearest seeds.
	gap := (math.Sqrt(d2) - math.Sqrt(d1)) / 2
	v := tone[c1]
	// Cytoplasm texture: a few incommensurate waves.
	v += 0.03 * math.Sin(0.9*p.x+1.7*p.y+0.3*p.z+float64(c1)) * math.Cos(0.7*p.z-1.1*p.x)
	// Membrane: dark, ~3 voxels (24 nm) wide.
	v -= 0.45 * math.Exp(-gap*gap/1.8)
	for _, mi := range mitoIdx {
		m := &mitos[mi]
		q := point{p.z - m.c.z, p.y - m.c.y, p.x - m.c.x}
		u := [3]float64{dot(q, m.axes[0]) / m.r[0], dot(q, m.axes[1]) / m.r[1], dot(q, m.axes[2]) / m.r[2]}
		rr := math.Sqrt(u[0]*u[0] + u[1]*u[1] + u[2]*u[2])
		if rr < 1.15 {
			edge := math.Exp(-(rr - 1) * (rr - 1) / 0.006)
			if rr < 1 {
				// Matrix darker than cytoplasm, with cristae stripes.
				v = 0.42 + 0.12*math.Sin(u[0]*m.r[0]*1.1+m.cristP)
			}
			v -= 0.3 * edge
		}
	}
	for _, i := range vesIdx {
		d := math.Sqrt(dist2(p, ves[i]))
		if d < vesR[i]+1.2 {
			e := d - vesR[i]
			v -= 0.35 * math.Exp(-e*e/0.5)
			if d < vesR[i] {
				v = math.Max(v, 0.7)
			}
		}
	}
	return v
}

// mitoReach is a margin, in voxels, added to a mitochondrion's bounding
// sphere (1.15 times its longest radius, the reach of its edge) against
// rounding.
const mitoReach = 1

// binMitos lists, for each block of bin³ voxels, the mitochondria (in
// index order) whose edge may reach one of its voxel centres: those whose
// bounding sphere, of 1.15 times the longest radius, meets the block.
func binMitos(mitos []ellipsoid, n, bin, nb int) [][]int32 {
	bins := make([][]int32, nb*nb*nb)
	for i, m := range mitos {
		var lo, hi [3]int
		rb := 1.15*max(m.r[0], m.r[1], m.r[2]) + mitoReach
		if !orthonormal(m.axes) {
			// The bound needs orthonormal axes; list it everywhere.
			rb = math.Inf(1)
		}
		for k, c := range [3]float64{m.c.z, m.c.y, m.c.x} {
			// Voxel centres v+0.5 within [c-rb, c+rb].
			lo[k] = int(max(0, math.Ceil(min(float64(n), c-rb-.5))))
			hi[k] = int(min(float64(n-1), math.Floor(max(-1, c+rb-.5))))
			if lo[k] > hi[k] {
				lo[k] = -1
			}
		}
		if lo[0] < 0 || lo[1] < 0 || lo[2] < 0 {
			continue
		}
		for bz := lo[0] / bin; bz <= hi[0]/bin; bz++ {
			for by := lo[1] / bin; by <= hi[1]/bin; by++ {
				for bx := lo[2] / bin; bx <= hi[2]/bin; bx++ {
					b := (bz*nb+by)*nb + bx
					bins[b] = append(bins[b], int32(i))
				}
			}
		}
	}
	return bins
}

func orthonormal(a [3]point) bool {
	const eps = 1e-9
	for i := range a {
		if math.Abs(dot(a[i], a[i])-1) > eps {
			return false
		}
		for j := i + 1; j < len(a); j++ {
			if math.Abs(dot(a[i], a[j])) > eps {
				return false
			}
		}
	}
	return true
}

// seedGrid buckets the cell seeds to find, for a box of voxels, the seeds
// that may be nearest or second nearest to one of its voxels.
type seedGrid struct {
	seeds []point
	g     float64 // bucket edge in voxels
	nb    int     // buckets per axis
	bins  [][]int
	// scratch
	found []int
	far   []float64
}

func newSeedGrid(seeds []point, n int) *seedGrid {
	const g = 16
	nb := (n + g - 1) / g
	s := &seedGrid{seeds: seeds, g: g, nb: nb, bins: make([][]int, nb*nb*nb)}
	for i, p := range seeds {
		b := (s.bucket(p.z)*nb+s.bucket(p.y))*nb + s.bucket(p.x)
		s.bins[b] = append(s.bins[b], i)
	}
	return s
}

func (s *seedGrid) bucket(c float64) int { return min(s.nb-1, max(0, int(math.Floor(c/s.g)))) }

// near returns in dst[:0], in ascending order, the seeds that may be the
// nearest or second-nearest seed of some point of the box [lo, hi]. Let b
// be the second smallest, over the seeds, of the distance from a seed to
// the farthest corner of the box: every point of the box has two seeds
// within b, so the seeds whose distance to the box is above b are left
// out. It is not safe for concurrent use; each worker has its own clone.
func (s *seedGrid) near(dst []int, lo, hi [3]float64) []int {
	dst = dst[:0]
	for r := 3 * s.g; ; r *= 2 {
		s.found = s.found[:0]
		all := true
		var b0, b1 [3]int
		for k := range b0 {
			b0[k], b1[k] = s.bucket(lo[k]-r), s.bucket(hi[k]+r)
			all = all && b0[k] == 0 && b1[k] == s.nb-1
		}
		for bz := b0[0]; bz <= b1[0]; bz++ {
			for by := b0[1]; by <= b1[1]; by++ {
				for bx := b0[2]; bx <= b1[2]; bx++ {
					s.found = append(s.found, s.bins[(bz*s.nb+by)*s.nb+bx]...)
				}
			}
		}
		if len(s.found) < 2 && !all {
			continue
		}
		// d2 bounds the distance (squared) from any point of the box to its
		// second-nearest seed.
		d2 := math.Inf(1)
		if len(s.found) >= 2 {
			s.far = s.far[:0]
			for _, i := range s.found {
				s.far = append(s.far, boxDist2(s.seeds[i], lo, hi, true))
			}
			a, b := math.Inf(1), math.Inf(1)
			for _, f := range s.far {
				if f < a {
					a, b = f, a
				} else if f < b {
					b = f
				}
			}
			d2 = b*(1+1e-9) + 1e-9
		}
		// A seed outside the buckets searched is farther than r from the box.
		if !all && !(d2 < r*r) {
			continue
		}
		for _, i := range s.found {
			if boxDist2(s.seeds[i], lo, hi, false) <= d2 {
				dst = append(dst, i)
			}
		}
		sort.Ints(dst)
		return dst
	}
}

func (s *seedGrid) clone() *seedGrid {
	c := *s
	c.found, c.far = nil, nil
	return &c
}

// boxDist2 returns the squared distance from p to the nearest (farthest
// false) or farthest (true) point of the box [lo, hi].
func boxDist2(p point, lo, hi [3]float64, farthest bool) float64 {
	var s float64
	for k, c := range [3]float64{p.z, p.y, p.x} {
		var d float64
		if farthest {
			d = max(math.Abs(c-lo[k]), math.Abs(c-hi[k]))
		} else {
			d = max(lo[k]-c, 0, c-hi[k])
		}
		s += d * d
	}
	return s
}

// Anisotropic returns the sample degraded along z by factor (average
// pooling), as an anisotropic microscope would record it.
func Anisotropic(o Options, factor int) (*volume.Volume, error) {
	v, err := volume.PoolZ(EM(o), factor)
	if err != nil {
		return nil, err
	}
	v.Name = "niiv sample (EM-like, ×" + itoa(factor) + " in z)"
	return v, nil
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func dist2(a, b point) float64 {
	dz, dy, dx := a.z-b.z, a.y-b.y, a.x-b.x
	return dz*dz + dy*dy + dx*dx
}

func dot(a, b point) float64 { return a.z*b.z + a.y*b.y + a.x*b.x }

func cross(a, b point) point {
	return point{a.y*b.x - a.x*b.y, a.x*b.z - a.z*b.x, a.z*b.y - a.y*b.z}
}

func normalize(a point) point {
	l := math.Sqrt(dot(a, a))
	if l == 0 {
		return point{1, 0, 0}
	}
	return point{a.z / l, a.y / l, a.x / l}
}

func randUnit(r *rand.Rand) point {
	return normalize(point{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()})
}

// blur3 applies a separable Gaussian blur of the given sigma along each axis
// of an n³ volume, in place, with clamped borders. Lines along an axis are
// blurred in parallel; each output is the same sum, in the same order,
// whatever the number of workers.
func blur3(ctx context.Context, img []float32, n int, sigma float64, st *stages) error {
	rad := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*rad+1)
	var s float64
	for i := range k {
		d := float64(i - rad)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		s += k[i]
	}
	for i := range k {
		k[i] /= s
	}
	for axis := 0; axis < 3; axis++ {
		// Job j blurs n lines: along x, those of z slice j; along y, those
		// of z slice j; along z, those of row y = j.
		err := parallel(ctx, n, func() func(int) {
			// src is the line padded by rad clamped values at each end.
			src := make([]float64, n+2*rad)
			return func(j int) {
				for l := 0; l < n; l++ {
					var base, stride int
					switch axis {
					case 0:
						base, stride = (j*n+l)*n, 1
					case 1:
						base, stride = j*n*n+l, n
					default:
						base, stride = j*n+l, n*n
					}
					for i := range src {
						src[i] = float64(img[base+min(n-1, max(0, i-rad))*stride])
					}
					for i := 0; i < n; i++ {
						var a float64
						for jj, w := range k {
							a += w * src[i+jj]
						}
						img[base+i*stride] = float32(a)
					}
				}
				st.add(n*n, costBlur)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// parallel runs jobs 0 to jobs-1 on up to GOMAXPROCS workers, each made by
// worker (its own scratch space), and returns ctx.Err() once they stop.
func parallel(ctx context.Context, jobs int, worker func() func(job int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), jobs); w++ {
		do := worker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				j := int(next.Add(1)) - 1
				if j >= jobs {
					return
				}
				do(j)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// Relative costs of the stages, per z slice of the volume, for the
// progress reports: drawing the voxels, blurring along one axis, adding
// the noise (one goroutine).
const (
	costDraw  = 12
	costBlur  = 1
	costNoise = 3
)

// stages adds up the work done for Options.Progress, in units of the time
// it takes to blur one z slice along one axis.
type stages struct {
	mu    sync.Mutex
	fn    func(done, total int)
	n     int
	done  float64
	total int
}

func newStages(fn func(done, total int), n int) *stages {
	return &stages{fn: fn, n: n, total: (costDraw + 3*costBlur + costNoise) * n}
}

// add counts voxels that went through a stage of the given cost.
func (s *stages) add(voxels int, cost float64) {
	if s.fn == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done += cost * float64(voxels) / float64(s.n*s.n)
	s.fn(min(s.total, int(s.done+1e-9)), s.total)
}
