// Package sample generates niiv's bundled test volume: a deterministic,
// EM-like block of tissue (cells with dark membranes, mitochondria,
// vesicles, blur and noise) at 8 nm isotropic voxels, and its anisotropic
// version made by average pooling along z.
package sample

import (
	"math"
	"math/rand/v2"

	"github.com/niiv/niiv/volume"
)

// VoxelNM is the sample's isotropic voxel size in nanometres.
const VoxelNM = 8

// Options control the generator.
type Options struct {
	Size int    // edge length in voxels (default 128)
	Seed uint64 // random seed (default 1)
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

	img := make([]float32, n*n*n)
	// Spatial binning of vesicles keeps generation fast.
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
	for z := 0; z < n; z++ {
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				p := point{float64(z) + .5, float64(y) + .5, float64(x) + .5}
				d1, d2, c1 := math.Inf(1), math.Inf(1), 0
				for i, c := range cells {
					d := dist2(p, c)
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
				for _, m := range mitos {
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
				bi := ((z/bin)*nb+(y/bin))*nb + x/bin
				for _, i := range vesBins[bi] {
					d := math.Sqrt(dist2(p, ves[i]))
					if d < vesR[i]+1.2 {
						e := d - vesR[i]
						v -= 0.35 * math.Exp(-e*e/0.5)
						if d < vesR[i] {
							v = math.Max(v, 0.7)
						}
					}
				}
				img[(z*n+y)*n+x] = float32(v)
			}
		}
	}
	blur3(img, n, 0.9)
	out := make([]uint8, len(img))
	for i, v := range img {
		f := float64(v) + 0.045*rng.NormFloat64()
		out[i] = uint8(math.Round(255 * math.Max(0, math.Min(1, f))))
	}
	vol, _ := volume.New(volume.Shape{Z: n, Y: n, X: n}, out, volume.Voxel{Z: VoxelNM, Y: VoxelNM, X: VoxelNM, Unit: "nm", Known: true})
	vol.Name = "niiv sample (EM-like, 8 nm isotropic)"
	return vol
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
// of an n³ volume, in place, with clamped borders.
func blur3(img []float32, n int, sigma float64) {
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
	line := make([]float64, n)
	strides := []int{1, n, n * n}
	for _, st := range strides {
		for base := 0; base < n*n*n; base++ {
			// base must be the first element of a line along this stride.
			if (base/st)%n != 0 {
				continue
			}
			for i := 0; i < n; i++ {
				var a float64
				for j, w := range k {
					t := min(n-1, max(0, i+j-rad))
					a += w * float64(img[base+t*st])
				}
				line[i] = a
			}
			for i := 0; i < n; i++ {
				img[base+i*st] = float32(line[i])
			}
		}
	}
}
