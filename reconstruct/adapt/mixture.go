package adapt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// A generalist model is trained like an adapted one — the whole network,
// self-supervised on lateral pairs — but on a mixture of sources: xy
// planes of volumes and 2-D images of many modalities, drawn per source
// (not per pixel: sources differ a lot in size), augmented with the
// variations a user's data brings (noise, blur, contrast, polarity), at a
// random anisotropy factor per step, so that one model serves every
// modality and factor.

// MixSource is one source of a training mixture: 2-D lateral images of
// one kind of data (the xy planes of a volume, or separate images), in
// raw intensities. Each image is normalised by its own percentiles, as the
// model card says a volume is.
type MixSource struct {
	Name string
	// Weight is the source's share of the crops (relative; 0 means 1).
	Weight float64
	Images []*volume.Image
	// Guard marks the sources the trained model must not get worse on:
	// checkpoints whose mean gain over the guarded sources' held-out crops
	// (across sources and check factors) is below −MixOptions.GuardDB are
	// never kept.
	Guard bool
}

// Augment gives the probability of each augmentation of a training crop,
// applied after the crop is normalised, turned and flipped and before its
// rows are pooled (so input and target see the same image).
type Augment struct {
	// Noise adds Gaussian noise of standard deviation U(0.005, 0.06)
	// (normalised units): noisier data than the source's own.
	Noise float64
	// Blur blurs with a Gaussian of σ U(0.4, 1.2) px: a softer point
	// spread function.
	Blur float64
	// Gamma raises the crop (clipped to [0, 1]) to exp(U(−0.4, 0.4)):
	// other contrast curves.
	Gamma float64
	// Invert turns the crop to 1 − x: the other polarity (bright
	// membranes in fluorescence, dark in EM).
	Invert float64
}

// DefaultAugment is the augmentation MixOptions takes by default.
var DefaultAugment = Augment{Noise: 0.25, Blur: 0.15, Gamma: 0.3, Invert: 0.1}

// MixOptions configure TrainMixture. Zero values take the defaults.
type MixOptions struct {
	// Factors are the anisotropy factors drawn per step (default: the
	// parent card's factors, else 4…12).
	Factors []int
	// CheckFactors are the factors of the lateral check (default 4 and 8).
	CheckFactors []int
	// Crop is the side of the square crops before rounding down to a
	// multiple of the step's factor (default 120).
	Crop int
	// Batch is the number of crops per step (default 8).
	Batch int
	// LR and MinLR: Adam's learning rate follows a cosine from LR to
	// MinLR over the budget (defaults 2e-4 and 1e-5).
	LR, MinLR float64
	// Seconds bounds the wall time (default 600; negative: Steps only).
	Seconds float64
	// Steps stops after this many steps (0: no limit).
	Steps int
	// HoldOut is the most images of a source held out for the lateral
	// check (default 2); see TrainMixture.
	HoldOut int
	// ValCrops is the number of held-out crops per source and factor
	// (default 8).
	ValCrops int
	// CheckEvery is the number of steps between lateral checks (default:
	// a twentieth of the budget's steps at the first steps' pace, at least
	// 50).
	CheckEvery int
	// GuardDB is the most the guarded sources may lose on average (dB,
	// default 0.05).
	GuardDB float64
	// Augment gives the augmentations' probabilities (default
	// DefaultAugment; NoAugment turns them off).
	Augment   Augment
	NoAugment bool
	Seed      uint64
	Threads   int
	Progress  func(MixProgress)
}

// MixProgress reports a finished step.
type MixProgress struct {
	Step    int
	Loss    float64
	LR      float64
	Factor  int
	Elapsed time.Duration
	Budget  time.Duration
	// Score is the latest lateral check: mean gain over the parent (dB)
	// across sources and check factors; Checked says this step made one.
	Score   float64
	Checked bool
	// Guard is the latest check's mean gain (dB) over the guarded sources
	// (NaN: none guarded); Kept says the check's weights were
	// kept as the best checkpoint so far.
	Guard float64
	Kept  bool
}

// SourceCheck is the lateral check of one source: mean CF-PSNR (r = 24
// scaled to the crop) of its held-out crops at each check factor, for
// the parent and for the model returned (normalised intensities: compare
// the two, not with `niiv eval`'s figures).
type SourceCheck struct {
	Name          string
	Weight        float64
	Images        int
	HeldOut       string // which part is held out, in words
	Crops         int    // held-out crops per factor
	Factors       []int
	Parent, Model []float64
	Guard         bool
}

// MixResult is a model trained on a mixture and how it was made.
type MixResult struct {
	Decoder *reconstruct.DecoderMLP
	Encoder *reconstruct.EncoderEDSR
	// Sources are the per-source lateral checks of the model returned.
	Sources []SourceCheck
	// Score is the checkpoint's mean gain over the parent (dB).
	Score      float64
	BestStep   int // 0: no checkpoint beat the parent (KeptParent)
	KeptParent bool
	Steps      int
	Seconds    float64
	LastLoss   float64
	Options    MixOptions
}

// region is rows y0…y1−1 of image img (every column).
type region struct{ img, y0, y1 int }

// mixSource is a source prepared for training.
type mixSource struct {
	MixSource
	norm        [][]float32 // normalised images
	train, held []region
	heldWords   string
	val         map[int][]*crop // held-out crops per check factor
}

// prepareSource normalises a source's images and splits them into
// training and held-out regions: with 4 images or more, up to holdOut
// whole images spread over the source are held out; with fewer, the last
// side rows of every image tall enough to keep two crops' worth of rows.
func prepareSource(s MixSource, side, holdOut int, norm func(*volume.Image) (lo, hi float64)) (*mixSource, error) {
	if len(s.Images) == 0 {
		return nil, fmt.Errorf("source %s: no images", s.Name)
	}
	if math.IsNaN(s.Weight) || math.IsInf(s.Weight, 0) || s.Weight < 0 {
		return nil, fmt.Errorf("source %s: weight %v: want a positive finite number", s.Name, s.Weight)
	}
	if s.Weight == 0 {
		s.Weight = 1
	}
	m := &mixSource{MixSource: s, val: map[int][]*crop{}}
	for i, im := range s.Images {
		if im.W < side || im.H < side {
			return nil, fmt.Errorf("source %s: image %d is %d×%d, smaller than the %d×%d crops", s.Name, i, im.W, im.H, side, side)
		}
		for _, v := range im.Pix {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("source %s: image %d holds %v", s.Name, i, v)
			}
		}
		lo, hi := norm(im)
		if !(hi > lo) {
			hi = lo + 1
		}
		sc := float32(1 / (hi - lo))
		p := make([]float32, len(im.Pix))
		for j, v := range im.Pix {
			p[j] = (v - float32(lo)) * sc
		}
		m.norm = append(m.norm, p)
	}
	n := len(s.Images)
	switch {
	case holdOut <= 0:
		m.heldWords = "nothing"
	case n >= 4:
		held := heldOutPlanes(n, min(holdOut, max(1, n/10)))
		for i, im := range s.Images {
			r := region{i, 0, im.H}
			if slices.Contains(held, i) {
				m.held = append(m.held, r)
			} else {
				m.train = append(m.train, r)
			}
		}
		m.heldWords = fmt.Sprintf("images %v of %d", held, n)
	default:
		for i, im := range s.Images {
			if im.H >= 2*side {
				m.train = append(m.train, region{i, 0, im.H - side})
				m.held = append(m.held, region{i, im.H - side, im.H})
			} else {
				m.train = append(m.train, region{i, 0, im.H})
			}
		}
		m.heldWords = fmt.Sprintf("the last %d rows of each image", side)
	}
	if len(m.held) == 0 {
		m.train = nil
		for i, im := range s.Images {
			m.train = append(m.train, region{i, 0, im.H})
		}
		if holdOut > 0 {
			m.heldWords = "nothing (images too small to split)"
		}
	}
	return m, nil
}

// valCrops cuts up to k crops of the held-out regions for a factor: as
// many positions per region as needed, spread along x, centred in y.
func (m *mixSource) valCrops(k, size, factor int) []*crop {
	if len(m.held) == 0 {
		return nil
	}
	per := (k + len(m.held) - 1) / len(m.held)
	var out []*crop
	for i := 0; len(out) < k && i < per*len(m.held); i++ {
		r := m.held[i%len(m.held)]
		j := i / len(m.held)
		w := m.Images[r.img].W
		x0 := 0
		if per > 1 {
			x0 = j * (w - size) / (per - 1)
		}
		y0 := r.y0 + (r.y1-r.y0-size)/2
		t := orient(m.norm[r.img], w, y0, x0, size, 0, false)
		out = append(out, &crop{z: r.img, y0: y0, x0: x0, target: t, low: poolRows(t, size, size, factor)})
	}
	return out
}

// mixSampler draws training crops from the sources.
type mixSampler struct {
	src []*mixSource
	cum []float64 // cumulative weights
	aug Augment
	rng *rand.Rand
}

func newMixSampler(src []*mixSource, aug Augment, seed uint64) *mixSampler {
	s := &mixSampler{src: src, aug: aug, rng: rand.New(rand.NewPCG(seed, 0x6d697820))} // "mix "
	var c float64
	for _, m := range src {
		c += m.Weight
		s.cum = append(s.cum, c)
	}
	return s
}

// next draws a crop of side size for factor: a source by weight, one of
// its training regions, a position, a symmetry, augmentations.
func (s *mixSampler) next(size, factor int) *crop {
	u := s.rng.Float64() * s.cum[len(s.cum)-1]
	k, _ := slices.BinarySearch(s.cum, u)
	m := s.src[min(k, len(s.src)-1)]
	r := m.train[s.rng.IntN(len(m.train))]
	w := m.Images[r.img].W
	c := &crop{z: r.img, y0: r.y0 + s.rng.IntN(r.y1-r.y0-size+1), x0: s.rng.IntN(w - size + 1)}
	c.rot, c.flip = s.rng.IntN(4), s.rng.IntN(2) == 1
	c.target = orient(m.norm[r.img], w, c.y0, c.x0, size, c.rot, c.flip)
	augment(c.target, size, s.aug, s.rng)
	c.low = poolRows(c.target, size, size, factor)
	return c
}

// augment applies each augmentation of a with its probability to the
// size×size image t.
func augment(t []float32, size int, a Augment, rng *rand.Rand) {
	if a.Blur > 0 && rng.Float64() < a.Blur {
		gaussBlur(t, size, size, 0.4+0.8*rng.Float64())
	}
	if a.Gamma > 0 && rng.Float64() < a.Gamma {
		g := math.Exp(0.8*rng.Float64() - 0.4)
		for i, v := range t {
			t[i] = float32(math.Pow(float64(min(max(v, 0), 1)), g))
		}
	}
	if a.Invert > 0 && rng.Float64() < a.Invert {
		for i, v := range t {
			t[i] = 1 - v
		}
	}
	if a.Noise > 0 && rng.Float64() < a.Noise {
		sd := 0.005 + 0.055*rng.Float64()
		for i := range t {
			t[i] += float32(sd * rng.NormFloat64())
		}
	}
}

// gaussBlur blurs the h×w image in place with a separable Gaussian of
// standard deviation sigma, edges clamped.
func gaussBlur(img []float32, h, w int, sigma float64) {
	rad := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*rad+1)
	var sum float64
	for i := range k {
		d := float64(i - rad)
		v := math.Exp(-d * d / (2 * sigma * sigma))
		k[i] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] /= float32(sum)
	}
	tmp := make([]float32, len(img))
	for y := 0; y < h; y++ {
		row := img[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			var acc float32
			for i, kv := range k {
				acc += kv * row[min(max(x+i-rad, 0), w-1)]
			}
			tmp[y*w+x] = acc
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float32
			for i, kv := range k {
				acc += kv * tmp[min(max(y+i-rad, 0), h-1)*w+x]
			}
			img[y*w+x] = acc
		}
	}
}

// fill completes o with defaults for the parent model m.
func (o MixOptions) fill(m *reconstruct.Model) (MixOptions, error) {
	switch {
	case o.Crop < 0 || o.Batch < 0 || o.Steps < 0 || o.HoldOut < 0 || o.ValCrops < 0 || o.CheckEvery < 0 || o.Threads < 0:
		return o, errors.New("negative crop, batch, steps, hold-out, crops, check interval or threads")
	case math.IsNaN(o.LR) || math.IsInf(o.LR, 0) || o.LR < 0 || math.IsNaN(o.MinLR) || math.IsInf(o.MinLR, 0) || o.MinLR < 0:
		return o, fmt.Errorf("learning rates %v, %v: want positive finite numbers", o.LR, o.MinLR)
	case math.IsNaN(o.Seconds) || math.IsInf(o.Seconds, 0) || o.Seconds > MaxSeconds:
		return o, fmt.Errorf("seconds %v: want a finite number up to %g", o.Seconds, float64(MaxSeconds))
	case math.IsNaN(o.GuardDB) || o.GuardDB < 0:
		return o, fmt.Errorf("guard %v dB: want a positive number", o.GuardDB)
	}
	if len(o.Factors) == 0 {
		if lo, hi := m.FactorRange(); lo >= 2 && hi >= lo {
			for f := lo; f <= hi; f++ {
				o.Factors = append(o.Factors, f)
			}
		} else {
			o.Factors = []int{4, 5, 6, 7, 8, 9, 10, 11, 12}
		}
	}
	if len(o.CheckFactors) == 0 {
		o.CheckFactors = []int{4, 8}
	}
	if o.Crop == 0 {
		o.Crop = 120
	}
	for _, f := range append(slices.Clone(o.Factors), o.CheckFactors...) {
		if f < 2 || o.Crop/f < 2 {
			return o, fmt.Errorf("factor %d: want at least 2, and at most half the crop %d", f, o.Crop)
		}
	}
	if o.Batch == 0 {
		o.Batch = 8
	}
	if o.LR == 0 {
		o.LR = 2e-4
	}
	if o.MinLR == 0 {
		o.MinLR = 1e-5
	}
	if o.MinLR > o.LR {
		return o, fmt.Errorf("minimum learning rate %g above the learning rate %g", o.MinLR, o.LR)
	}
	if o.Seconds == 0 {
		o.Seconds = 600
	}
	if o.Seconds < 0 && o.Steps == 0 {
		return o, errors.New("no time limit and no step limit")
	}
	if o.HoldOut == 0 {
		o.HoldOut = 2
	}
	if o.ValCrops == 0 {
		o.ValCrops = 8
	}
	if o.GuardDB == 0 {
		o.GuardDB = 0.05
	}
	if o.Augment == (Augment{}) && !o.NoAugment {
		o.Augment = DefaultAugment
	}
	if o.NoAugment {
		o.Augment = Augment{}
	}
	if o.Threads == 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	return o, nil
}

// TrainMixture trains the parent's whole network (encoder and decoder) on
// the mixture of sources, starting from the parent's weights, within o's
// budget. Every source holds part of its images out (MixSource,
// prepareSource); the lateral check on them, at each check factor, runs
// every CheckEvery steps and at the end, and decides the checkpoint
// returned: the best mean gain over the parent across sources, among the
// checkpoints that lose at most GuardDB on every guarded source — the
// parent's weights when none beats it. Deterministic for a seed and a
// number of steps, whatever the number of threads.
func TrainMixture(ctx context.Context, p *Parent, sources []MixSource, o MixOptions) (*MixResult, error) {
	start := time.Now()
	o, err := o.fill(p.Model)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if len(sources) == 0 {
		return nil, errors.New("train: no sources")
	}
	niiv := reconstruct.NewNiiv(p.Model, nil)
	norm := func(im *volume.Image) (float64, float64) {
		v, err := volume.New(volume.Shape{Z: 1, Y: im.H, X: im.W}, im.Pix, volume.Unknown())
		if err != nil {
			return 0, 1
		}
		return niiv.NormRange(v)
	}
	var mix []*mixSource
	for _, s := range sources {
		m, err := prepareSource(s, o.Crop, o.HoldOut, norm)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		for _, f := range o.CheckFactors {
			m.val[f] = m.valCrops(o.ValCrops, o.Crop/f*f, f)
		}
		mix = append(mix, m)
	}
	n, err := newNet(p.Decoder)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	encTemplate, err := reconstruct.ReadEncoderEDSR(p.Files["encoder.onnx"])
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	enc := newEncNet(encTemplate)
	geos := map[int]*geometry{}
	geoOf := func(f int) (*geometry, int, int) {
		S := o.Crop / f * f
		if geos[f] == nil {
			geos[f] = newGeometry(pixelCentres(S), pixelCentres(S), S/f, S, n.border)
		}
		return geos[f], S, S / f
	}
	works := make([]*work, o.Threads)
	wworks := make([]*wholeWork, o.Threads)
	for i := range works {
		works[i] = n.newWork()
		wworks[i] = newWholeWork(n, enc)
	}
	var epk *encPacked
	// check returns each source's mean CF-PSNR per check factor.
	check := func() ([][]float64, error) {
		out := make([][]float64, len(mix))
		epk = enc.pack(epk)
		for fi, f := range o.CheckFactors {
			geo, S, h := geoOf(f)
			pk := n.pack(geo, nil)
			var cs []*crop
			var who []int
			for si, m := range mix {
				for _, c := range m.val[f] {
					cs = append(cs, c)
					who = append(who, si)
				}
			}
			cf := make([]float64, len(cs))
			radius := 24 * float64(S) / reconstruct.LateralCrop
			err := eachCrop(ctx, len(cs), o.Threads, func(i, k int) {
				e := encodeExample(enc, epk, cs[i].low, h, S, nil, wworks[k].enc)
				pred := make([]float32, S*S)
				n.run(pk, geo, e, allPointsOf(cs[i].target, S), 0, nil, pred, works[k])
				cf[i] = reconstruct.CFPSNR(&volume.Image{W: S, H: S, Pix: pred}, &volume.Image{W: S, H: S, Pix: cs[i].target}, radius)
			})
			if err != nil {
				return nil, err
			}
			sum, cnt := make([]float64, len(mix)), make([]int, len(mix))
			for i, si := range who {
				sum[si] += cf[i]
				cnt[si]++
			}
			for si := range mix {
				if out[si] == nil {
					out[si] = make([]float64, len(o.CheckFactors))
				}
				out[si][fi] = sum[si] / float64(cnt[si]) // NaN without crops
			}
		}
		return out, nil
	}
	// score is the mean gain over the parent across sources and factors,
	// and whether every guarded source holds within GuardDB.
	parent, err := check()
	if err != nil {
		return nil, err
	}
	guarded := make([]bool, len(mix))
	for si, m := range mix {
		guarded[si] = m.Guard
	}
	score := func(c [][]float64) (float64, float64) { return mixScore(parent, c, guarded) }
	guardOK := func(worst float64) bool { return math.IsNaN(worst) || worst >= -o.GuardDB }
	res := &MixResult{Options: o}
	best, bestChecks := 0.0, parent
	bestDec, bestEnc := slices.Clone(n.theta), slices.Clone(enc.theta)
	keep := func(step int, s float64, c [][]float64) {
		best, bestChecks, res.BestStep = s, c, step
		bestDec = append(bestDec[:0], n.theta...)
		bestEnc = append(bestEnc[:0], enc.theta...)
	}
	smp := newMixSampler(mix, o.Augment, o.Seed)
	pick := rand.New(rand.NewPCG(o.Seed, 0x66616374)) // "fact"
	nd, ne := len(n.theta), len(enc.theta)
	grads := make([][]float32, o.Batch)
	for i := range grads {
		grads[i] = make([]float32, nd+ne)
	}
	g := make([]float32, nd+ne)
	optDec, optEnc := newAdam(o.LR, nd), newAdam(o.LR, ne)
	budget := time.Duration(o.Seconds * float64(time.Second))
	if o.Seconds < 0 {
		budget = 0
	}
	var pk *packed
	var recent []float64
	checkEvery := o.CheckEvery
	if checkEvery == 0 && budget == 0 {
		checkEvery = max(50, o.Steps/20)
	}
	lastScore, lastGuard := 0.0, math.NaN()
	for step := 0; ; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		elapsed := time.Since(start)
		if (o.Steps > 0 && step >= o.Steps) || (step > 0 && budget > 0 && elapsed >= budget) {
			break
		}
		// Cosine schedule over the budget: steps or time, whichever is
		// further along.
		frac := 0.0
		if o.Steps > 0 {
			frac = float64(step) / float64(o.Steps)
		}
		if budget > 0 {
			frac = max(frac, elapsed.Seconds()/budget.Seconds())
		}
		lr := o.MinLR + 0.5*(o.LR-o.MinLR)*(1+math.Cos(math.Pi*min(frac, 1)))
		optDec.lr, optEnc.lr = lr, lr
		f := o.Factors[pick.IntN(len(o.Factors))]
		geo, S, h := geoOf(f)
		lows := make([][]float32, o.Batch)
		pts := make([][]point, o.Batch)
		for j := range lows {
			c := smp.next(S, f)
			lows[j], pts[j] = c.low, allPointsOf(c.target, S)
		}
		pk = n.pack(geo, pk)
		epk = enc.pack(epk)
		loss, err := wholeBatchGrad(ctx, n, enc, pk, epk, geo, lows, h, S, pts, o.Threads, wworks, grads, g)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("train: loss is %v at step %d", loss, step+1)
		}
		optDec.step(n.theta, g[:nd])
		optEnc.step(enc.theta, g[nd:])
		res.Steps = step + 1
		recent = append(recent, loss)
		if len(recent) > 50 {
			recent = recent[1:]
		}
		if checkEvery == 0 && res.Steps == 20 { // the budget's steps at this pace
			total := int(float64(res.Steps) * budget.Seconds() / time.Since(start).Seconds())
			if o.Steps > 0 {
				total = min(total, o.Steps)
			}
			checkEvery = max(50, total/20)
		}
		pr := MixProgress{Step: res.Steps, Loss: loss, LR: lr, Factor: f, Elapsed: time.Since(start), Budget: budget, Score: lastScore, Guard: lastGuard}
		if checkEvery > 0 && res.Steps%checkEvery == 0 {
			c, err := check()
			if err != nil {
				return nil, err
			}
			s, worst := score(c)
			lastScore, lastGuard = s, worst
			pr.Score, pr.Guard, pr.Checked = s, worst, true
			if guardOK(worst) && s > best+1e-3 {
				keep(res.Steps, s, c)
				pr.Kept = true
			}
		}
		if o.Progress != nil {
			o.Progress(pr)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if res.BestStep != res.Steps && res.Steps > 0 {
		c, err := check()
		if err != nil {
			return nil, err
		}
		if s, worst := score(c); guardOK(worst) && s > best+1e-3 {
			keep(res.Steps, s, c)
		}
	}
	for _, l := range recent {
		res.LastLoss += l / float64(len(recent))
	}
	res.Score, res.KeptParent = best, res.BestStep == 0
	copy(n.theta, bestDec)
	copy(enc.theta, bestEnc)
	if res.KeptParent {
		res.Decoder = p.Decoder.Clone()
		res.Encoder = encTemplate
	} else {
		res.Decoder = n.decoder(p.Decoder)
		res.Encoder = enc.encoder(encTemplate)
	}
	for si, m := range mix {
		res.Sources = append(res.Sources, SourceCheck{
			Name: m.Name, Weight: m.Weight, Images: len(m.Images), HeldOut: m.heldWords,
			Crops: len(m.val[o.CheckFactors[0]]), Factors: o.CheckFactors,
			Parent: parent[si], Model: bestChecks[si], Guard: m.Guard,
		})
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// mixScore compares a lateral check c with the parent's (both [source]
// [check factor], dB): the mean gain across sources, each source's gain
// the mean over its factors (NaN entries skipped), and the mean gain of
// the guarded sources (NaN when none is guarded).
func mixScore(parent, c [][]float64, guarded []bool) (score, guard float64) {
	var sum, gsum float64
	var cnt, gcnt int
	for si := range c {
		var g float64
		var gc int
		for fi := range c[si] {
			if d := c[si][fi] - parent[si][fi]; !math.IsNaN(d) {
				g += d
				gc++
			}
		}
		if gc == 0 {
			continue
		}
		g /= float64(gc)
		sum += g
		cnt++
		if guarded[si] {
			gsum += g
			gcnt++
		}
	}
	score, guard = math.NaN(), math.NaN()
	if cnt > 0 {
		score = sum / float64(cnt)
	}
	if gcnt > 0 {
		guard = gsum / float64(gcnt)
	}
	return score, guard
}

// allPointsOf returns every pixel of a size×size target as a query point.
func allPointsOf(target []float32, size int) []point {
	pts := make([]point, size*size)
	for i := range pts {
		pts[i] = point{r: int32(i / size), c: int32(i % size), t: target[i]}
	}
	return pts
}

// MixInfo describes a training run for the card SaveMixture writes.
type MixInfo struct {
	// Name is the new model's name ("niiv-general").
	Name string
	// Data describe each source as given (file, planes), in the sources'
	// order.
	Data []string
}

// SaveMixture writes the model trained on a mixture as a model folder
// dir (complete or untouched, like Save): the parent's graphs with the
// new weights, new test tensors, and a card naming the sources, the
// run and the lateral checks, with the parent's training under
// training.initialised_from. An existing dir is replaced only when it
// holds a model niiv trained or adapted.
func SaveMixture(ctx context.Context, dir string, p *Parent, res *MixResult, info MixInfo) error {
	files, err := mixtureFiles(p, res, info)
	if err != nil {
		return fmt.Errorf("train: save %s: %w", dir, err)
	}
	if err := writeFolder(ctx, dir, files); err != nil {
		return fmt.Errorf("train: save %s: %w", dir, err)
	}
	return nil
}

func mixtureFiles(p *Parent, res *MixResult, info MixInfo) (map[string][]byte, error) {
	files, raw, notes, err := weightFiles(p, res.Decoder, res.Encoder)
	if err != nil {
		return nil, err
	}
	parentName := p.Name()
	if s, ok := raw["name"].(string); ok && s != "" {
		parentName = s
	}
	parentFiles := map[string]string{}
	for _, name := range []string{"card.json", "encoder.onnx", "decoder.onnx"} {
		parentFiles[name] = sha(p.Files[name])
	}
	from := map[string]any{"model": parentName, "sha256": parentFiles}
	for _, k := range []string{"training", "evaluation", "evaluation_by_factor"} {
		if v, ok := raw[k]; ok {
			from[k] = v
			delete(raw, k)
		}
	}
	o := res.Options
	var sources []map[string]any
	for i, s := range res.Sources {
		d := map[string]any{
			"name": s.Name, "weight": s.Weight, "images": s.Images, "held_out": s.HeldOut,
			"lateral_check": map[string]any{
				"factors": s.Factors, "crops_per_factor": s.Crops,
				"parent_db": roundAll(s.Parent, 3), "model_db": roundAll(s.Model, 3),
			},
		}
		if i < len(info.Data) {
			d["data"] = info.Data[i]
		}
		if s.Guard {
			d["guard"] = fmt.Sprintf("checkpoints losing more than %g dB on the guarded sources (mean) were not kept", o.GuardDB)
		}
		sources = append(sources, d)
	}
	if info.Name != "" {
		raw["name"] = info.Name
	}
	raw["training"] = map[string]any{
		"method": "self-supervised training of the whole network (encoder and decoder) on lateral pairs from a mixture of sources, " +
			"drawn per source by weight: random crops, 8 dihedral symmetries, augmentations, rows average-pooled by a random factor per step; " +
			"L1 loss, Adam with a cosine learning rate; niiv train (Go)",
		"sources":   sources,
		"factors":   o.Factors,
		"crop":      o.Crop,
		"batch":     o.Batch,
		"lr":        fmt.Sprintf("cosine %g -> %g over the budget", o.LR, o.MinLR),
		"optimizer": "Adam (betas 0.9, 0.999, eps 1e-8)",
		"augment": map[string]any{
			"noise":  fmt.Sprintf("p %g: Gaussian, sd U(0.005, 0.06) of the normalised range", o.Augment.Noise),
			"blur":   fmt.Sprintf("p %g: Gaussian, sigma U(0.4, 1.2) px", o.Augment.Blur),
			"gamma":  fmt.Sprintf("p %g: clip to [0, 1], power exp(U(-0.4, 0.4))", o.Augment.Gamma),
			"invert": fmt.Sprintf("p %g: 1 - x", o.Augment.Invert),
		},
		"normalisation":    "each image by its own percentiles, as the card's normalisation says",
		"checkpoint":       checkpointWords(res),
		"score_db":         round(res.Score, 3),
		"seed":             o.Seed,
		"steps":            res.Steps,
		"seconds":          round(res.Seconds, 1),
		"threads":          o.Threads,
		"last_loss":        round(res.LastLoss, 6),
		"initialised_from": from,
		"date":             time.Now().UTC().Format(time.RFC3339),
	}
	if len(notes) > 0 {
		raw["training"].(map[string]any)["notes"] = notes
	}
	return withCard(files, raw)
}

func checkpointWords(res *MixResult) string {
	if res.KeptParent {
		return "no checkpoint beat the parent on the held-out crops: the parent's weights are kept"
	}
	return fmt.Sprintf("best mean lateral gain over the parent across sources (guarded sources within %g dB on average) at step %d of %d", res.Options.GuardDB, res.BestStep, res.Steps)
}

func roundAll(v []float64, digits int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = round(x, digits)
	}
	return out
}
