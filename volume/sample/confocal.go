package sample

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/niiv/niiv/volume"
)

// ConfocalOptions configure Confocal.
type ConfocalOptions struct {
	Options
	// Channels is the number of channels, 1 to 8 (default 3).
	Channels int
	// Times is the number of time points (default 5).
	Times int
	// Factor is the z pooling factor (default 3: 0.3 µm z, 0.1 µm x/y).
	Factor int
}

// confocalChannel is how one channel is made from the sample's structures.
type confocalChannel struct {
	name  string
	color volume.Color
	pre   float64 // blur of the EM-like intensity before from, in voxels
	sigma float64 // blur of the channel's signal (the optics), in voxels
	noise float64 // Gaussian noise, in units of the channel's range
	// from maps the (blurred) EM-like intensity (0–1) to the signal.
	from func(em float64) float64
}

// confocalChannels are the channels, cycled past the third: thin bright
// membranes (sharp, clean), mitochondria-like bodies (blurrier, noisier)
// and cytosol whose brightness differs from cell to cell (broad, noisiest).
var confocalChannels = []confocalChannel{
	{"membrane", volume.Green, 0, 0.8, 0.03, func(e float64) float64 { return smooth(0.42-e, 0.06) }},
	{"mitochondria", volume.Magenta, 1.8, 1.2, 0.05, func(e float64) float64 { return smooth(0.5-e, 0.025) }},
	{"cytosol", volume.Cyan, 1.5, 2, 0.06, func(e float64) float64 { return math.Max(0, math.Min(1, (e-0.58)/0.18)) }},
}

// smooth is a soft step: 0 well below 0, 1 well above, of width w.
func smooth(v, w float64) float64 { return 1 / (1 + math.Exp(-v/w)) }

// Confocal returns a confocal-like light-microscopy hyperstack made from
// the EM-like sample's structures: o.Channels channels of uint16 (12-bit)
// volumes (membranes, mitochondria-like bodies and cytosol, each blurred
// and noisy differently, in green, magenta and cyan) at o.Times time
// points 30 s apart, the structures drifting by about one voxel in x and
// y per time point; pooled along z by o.Factor, at 0.1 µm in x and y. The
// same options always give the same voxels.
func Confocal(ctx context.Context, o ConfocalOptions) (*volume.Hyperstack, error) {
	nc, nt, f := o.Channels, o.Times, o.Factor
	if nc == 0 {
		nc = 3
	}
	if nt == 0 {
		nt = 5
	}
	if f == 0 {
		f = 3
	}
	if nc < 1 || nc > volume.MaxShown || nt < 1 || nt > 1000 {
		return nil, fmt.Errorf("sample: %d channels × %d time points: want 1 to %d channels and 1 to 1000 time points", nc, nt, volume.MaxShown)
	}
	em, err := EMContext(ctx, o.Options)
	if err != nil {
		return nil, err
	}
	n := em.Shape().X
	if f < 1 || f > n {
		return nil, fmt.Errorf("sample: z pooling factor %d: want 1 to %d", f, n)
	}
	raw := em.Data().([]uint8)
	seed := o.Seed
	if seed == 0 {
		seed = 1
	}
	vox := volume.Voxel{Z: 0.1 * float64(f), Y: 0.1, X: 0.1, Unit: "µm", Known: true, Source: "niiv sample"}
	vols := make([][]*volume.Volume, nt)
	for t := range vols {
		vols[t] = make([]*volume.Volume, nc)
	}
	chs := make([]volume.Channel, nc)
	st := newStages(nil, n)
	for c := range nc {
		spec := confocalChannels[c%len(confocalChannels)]
		chs[c] = volume.Channel{Name: spec.name, Color: spec.color, ColorKnown: true}
		if c >= len(confocalChannels) {
			chs[c].Name = fmt.Sprintf("%s %d", spec.name, c/len(confocalChannels)+1)
			chs[c].Color = volume.DefaultColor(c, nc)
		}
		img := make([]float32, len(raw))
		for i, v := range raw {
			img[i] = float32(v) / 255
		}
		if spec.pre > 0 {
			if err := blur3(ctx, img, n, spec.pre, st); err != nil {
				return nil, err
			}
		}
		for i, v := range img {
			img[i] = float32(spec.from(float64(v)))
		}
		if err := blur3(ctx, img, n, spec.sigma, st); err != nil {
			return nil, err
		}
		for t := range nt {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rng := rand.New(rand.NewPCG(seed, uint64(1000*t+c+1)))
			// The drift: about 1.2 voxels in x and 0.7 in y per time point.
			dx, dy := int(math.Round(1.2*float64(t))), int(math.Round(0.7*float64(t)))
			out := make([]float32, len(img))
			for z := range n {
				for y := range n {
					sy := min(n-1, max(0, y-dy))
					for x := range n {
						sx := min(n-1, max(0, x-dx))
						out[(z*n+y)*n+x] = img[(z*n+sy)*n+sx]
					}
				}
			}
			v, err := volume.New(volume.Shape{Z: n, Y: n, X: n}, out, volume.Voxel{Z: 0.1, Y: 0.1, X: 0.1, Unit: "µm", Known: true})
			if err != nil {
				return nil, err
			}
			if f > 1 {
				if v, err = volume.PoolZ(v, f); err != nil {
					return nil, err
				}
			}
			pooled := v.Data().([]float32)
			d := make([]uint16, len(pooled))
			for i, p := range pooled {
				q := 100 + 3800*(float64(p)+spec.noise*rng.NormFloat64())
				d[i] = uint16(math.Round(math.Max(0, math.Min(4095, q))))
			}
			if vols[t][c], err = volume.New(v.Shape(), d, vox); err != nil {
				return nil, err
			}
			vols[t][c].Name = fmt.Sprintf("niiv confocal sample [%s, t %d]", chs[c].Name, t)
		}
	}
	h, err := volume.NewHyperstack("niiv confocal sample", vols, chs)
	if err != nil {
		return nil, err
	}
	h.TimeStep, h.TimeUnit = 30, "s"
	return h, nil
}
