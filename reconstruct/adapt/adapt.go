// Package adapt fine-tunes a niiv model's decoder to one anisotropic
// volume, self-supervised, in Go: the volume's own xy planes, their rows
// average-pooled by the anisotropy factor, are training pairs for undoing
// the z degradation (reconstruct/train/data.py's lateral sampler). The
// encoder stays frozen and runs once per training crop through ONNX
// Runtime; the decoder MLP is trained natively (forward and backward of
// its dense layers with ReLU, L1 loss, Adam with PyTorch's defaults),
// seeded and deterministic. Save writes the adapted model as a model
// folder that every niiv command loads: encoder.onnx unchanged, the same
// decoder graph with new initializers, new test tensors and a card that
// records the parent model and the adaptation.
//
// Only xy planes of the volume reach the training pairs (see XYReader);
// xz and yz slices, which hold the z information the model must infer,
// never do.
package adapt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// Options configure Adapt. Zero values take the defaults. Negative values
// other than Points -1 and a negative Seconds, a crop that does not fit the
// xy planes, and a learning rate or time budget that is NaN or infinite
// are errors.
type Options struct {
	// Factor is the anisotropy factor: rows of the xy crops are
	// average-pooled by it (default: the model card's factor, else 8).
	Factor int
	// Crop is the side of the square xy crops (default 128, reduced to fit
	// the planes; rounded down to a multiple of Factor). A crop given must
	// be between 2×Factor and the planes' smaller side.
	Crop int
	// Batch is the number of crops per step (default 8).
	Batch int
	// Points is the number of query points per crop and step, drawn at
	// random from the crop's pixels. -1 takes every pixel
	// (as reconstruct/train does); 0 chooses by the MLP's size: every
	// pixel for MLPs up to AutoMACs multiply-accumulates per point (lite),
	// fewer for larger ones (about 2048 of 128² for paper), so that a step
	// costs about the same.
	Points int
	// Pool is the number of distinct crops drawn and encoded (default
	// 128); once drawn, steps reuse them at random.
	Pool int
	// LR is Adam's learning rate (default DefaultLR).
	LR float64
	// Seconds bounds the wall time, encoding included (default 60; a
	// negative value means no time limit, Steps must then be set).
	Seconds float64
	// Steps stops after this many steps (0: no limit).
	Steps int
	// Seed seeds the sampler and the point draws.
	Seed uint64
	// Threads is the number of training workers (0: GOMAXPROCS).
	Threads int
	// Train says what is trained: TrainDecoder, TrainWhole, TrainScratch,
	// or "" (TrainAuto) for DefaultTrain.
	Train string
	// HoldOut is the number of xy planes held out of training for the
	// lateral check (CF-PSNR on their crops, which decides early stopping
	// and the checkpoint kept). 0: a tenth of the planes, at least 1 and
	// at most 8, when the volume has 4 planes or more (else none); -1: none.
	HoldOut int
	// Patience is the number of lateral checks without improvement after
	// which training stops early (0: DefaultPatience; -1: never).
	Patience int
	// Progress, when set, is called after each step.
	Progress func(Progress)
}

// What Options.Train may say.
const (
	TrainAuto    = ""
	TrainDecoder = "decoder"
	TrainWhole   = "whole"
	TrainScratch = "scratch"
)

// DefaultTrain is what TrainAuto trains.
const DefaultTrain = TrainWhole

// DefaultPatience is the default Options.Patience.
const DefaultPatience = 4

// DefaultLR is the default learning rate of Adam when fine-tuning;
// ScratchLR when training from random weights.
const (
	DefaultLR = 1e-4
	ScratchLR = 1e-3
)

// Progress reports a finished step.
type Progress struct {
	Step    int
	Loss    float64 // the step's mean L1 loss (normalised intensities)
	Elapsed time.Duration
	Budget  time.Duration // the time limit, 0 when none
	// Lateral is the latest lateral check (CF-PSNR at r = 24, dB) and
	// Checked whether this step made one.
	Lateral float64
	Checked bool
}

// Result is an adapted decoder (and encoder) and how it was made.
type Result struct {
	Decoder *reconstruct.DecoderMLP
	// Encoder is the trained encoder; nil when the encoder was not trained
	// (or the parent's was kept).
	Encoder *reconstruct.EncoderEDSR
	// Train is what was trained (TrainDecoder, TrainWhole, TrainScratch).
	Train string
	// HeldOut are the xy planes held out of training; ValCrops the number
	// of crops of them the lateral check compares.
	HeldOut  []int
	ValCrops int
	// LateralParent and Lateral are the lateral check of the parent and
	// of the model returned: mean CF-PSNR at r = 24 (scaled to the crop
	// size) of the held-out crops, in dB with intensities scaled as
	// `niiv eval` scales them; NaN without held-out planes.
	LateralParent, Lateral float64
	// BestStep is the step of the checkpoint returned (0: the parent's
	// weights, which no step beat: KeptParent).
	BestStep   int
	KeptParent bool
	// StoppedEarly says the lateral check stopped improving before the
	// budget ran out.
	StoppedEarly bool
	// Options are the options used, defaults filled in.
	Options Options
	Steps   int
	Seconds float64
	// Loss and ParentLoss are the mean L1 losses of the adapted and the
	// parent decoder on a fixed set of crops drawn before training
	// (normalised intensities).
	Loss, ParentLoss float64
	// LastLoss is the mean training loss of the last ten steps.
	LastLoss float64
	// NormLow and NormHigh are the intensities the model card's
	// normalisation maps to 0 and 1 for the volume.
	NormLow, NormHigh float64
	// Volume describes the volume adapted to.
	Volume VolumeInfo
}

// VolumeInfo identifies a volume.
type VolumeInfo struct {
	Name  string
	Shape volume.Shape
	// SHA256 is the hash of the voxel data (C order, native type, little
	// endian); for a volume read lazily, "sample-" and the hash of a sample
	// of its planes (see describeSample).
	SHA256 string
}

// Parent is the model being adapted: loaded (for its encoder), with its
// files and its decoder's MLP.
type Parent struct {
	Model   *reconstruct.Model
	Ref     string
	Files   map[string][]byte // every file of the model folder
	Decoder *reconstruct.DecoderMLP
}

// OpenParent loads the model ref (a folder, or the name of a model in
// opt.Embedded) for adaptation.
func OpenParent(ref string, opt reconstruct.ModelOptions) (*Parent, error) {
	var fsys fs.FS
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		fsys = os.DirFS(ref)
	} else if name := reconstruct.ModelName(ref); opt.Embedded != nil && fs.ValidPath(name) {
		if sub, err := fs.Sub(opt.Embedded, name); err == nil {
			if _, err := fs.Stat(sub, "card.json"); err == nil {
				fsys = sub
			}
		}
	}
	m, err := reconstruct.LoadModel(ref, opt)
	if err != nil {
		return nil, fmt.Errorf("adapt: %w", err)
	}
	if fsys == nil {
		fsys = m.Files() // a model package
	}
	p := &Parent{Model: m, Ref: ref, Files: map[string][]byte{}}
	fail := func(err error) (*Parent, error) {
		m.Close()
		return nil, fmt.Errorf("adapt: model %s: %w", ref, err)
	}
	if fsys == nil {
		return fail(errors.New("model files not found"))
	}
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fail(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return fail(err)
		}
		p.Files[e.Name()] = b
	}
	if p.Decoder, err = reconstruct.ReadDecoderMLP(p.Files["decoder.onnx"], m.Feats()); err != nil {
		return fail(err)
	}
	return p, nil
}

// Close releases the parent model.
func (p *Parent) Close() error { return p.Model.Close() }

// Name returns the parent model's short name.
func (p *Parent) Name() string { return path.Base(reconstruct.ModelName(p.Model.Name)) }

// AutoMACs is the MLP size (multiply-accumulates per point in layers 2
// and up) up to which Options.Points 0 takes every pixel of a crop.
const AutoMACs = 32768

// autoPoints returns the points per crop for an MLP: every pixel of a
// size² crop, or for MLPs above AutoMACs as many as keep the cost of a
// lite-sized step (at least 1024).
func autoPoints(d *reconstruct.DecoderMLP, size int) int {
	macs := 0
	for _, l := range d.Layers[1:] {
		macs += l.In * l.Out
	}
	all := size * size
	if macs <= AutoMACs {
		return all
	}
	return min(all, max(1024, all*AutoMACs/macs))
}

// MaxSeconds is the largest time budget Options.Seconds may give.
const MaxSeconds = 1e9

// check rejects option values that mean nothing: a negative count, Points
// below -1, a learning rate or time budget that is not a finite number, or
// not positive where it must be (zero takes the default).
func (o Options) check() error {
	switch {
	case o.Factor < 0:
		return fmt.Errorf("factor %d: want at least 2 (0: the default)", o.Factor)
	case o.Crop < 0:
		return fmt.Errorf("crop %d: want a positive side (0: the default)", o.Crop)
	case o.Batch < 0:
		return fmt.Errorf("batch %d: want at least 1 (0: the default)", o.Batch)
	case o.Points < -1:
		return fmt.Errorf("points %d: want -1 (every pixel), 0 (by the MLP's size) or a positive number", o.Points)
	case o.Pool < 0:
		return fmt.Errorf("pool %d: want at least 1 (0: the default)", o.Pool)
	case math.IsNaN(o.LR) || math.IsInf(o.LR, 0) || o.LR < 0:
		return fmt.Errorf("learning rate %v: want a positive finite number (0: the default)", o.LR)
	case math.IsNaN(o.Seconds) || math.IsInf(o.Seconds, 0) || o.Seconds > MaxSeconds:
		return fmt.Errorf("seconds %v: want a finite number up to %g (negative: no time limit)", o.Seconds, float64(MaxSeconds))
	case o.Steps < 0:
		return fmt.Errorf("steps %d: want at least 0 (0: no limit)", o.Steps)
	case o.Threads < 0:
		return fmt.Errorf("threads %d: want at least 1 (0: GOMAXPROCS)", o.Threads)
	case o.HoldOut < -1:
		return fmt.Errorf("hold-out %d: want -1 (none), 0 (a tenth of the planes) or a number of planes", o.HoldOut)
	case o.Patience < -1:
		return fmt.Errorf("patience %d: want -1 (never stop early), 0 (the default) or a number of checks", o.Patience)
	}
	switch o.Train {
	case TrainAuto, "auto", TrainDecoder, TrainWhole, TrainScratch:
	default:
		return fmt.Errorf("train %q: want %s, %s, %s or auto", o.Train, TrainDecoder, TrainWhole, TrainScratch)
	}
	return nil
}

// fill completes o with defaults for the volume shape s, the model m and
// its decoder d.
func (o Options) fill(s volume.Shape, m *reconstruct.Model, d *reconstruct.DecoderMLP) (Options, error) {
	if err := o.check(); err != nil {
		return o, err
	}
	if o.Factor == 0 {
		o.Factor = m.Factor()
		if o.Factor < 2 {
			o.Factor = 8
		}
	}
	if o.Factor < 2 {
		return o, fmt.Errorf("factor %d: want at least 2", o.Factor)
	}
	if o.Crop != 0 && (o.Crop < 2*o.Factor || o.Crop > min(s.Y, s.X)) {
		return o, fmt.Errorf("crop %d: want %d (twice the factor) to %d (the smaller side of the %d×%d xy planes)", o.Crop, 2*o.Factor, min(s.Y, s.X), s.Y, s.X)
	}
	if o.Crop == 0 {
		o.Crop = 128
	}
	o.Crop = min(o.Crop, s.Y, s.X) / o.Factor * o.Factor
	if o.Crop < 2*o.Factor {
		return o, fmt.Errorf("xy planes of %d×%d are too small for crops at factor %d", s.Y, s.X, o.Factor)
	}
	if o.Batch == 0 {
		o.Batch = 8
	}
	switch all := o.Crop * o.Crop; {
	case o.Points < 0 || o.Points >= all:
		o.Points = all
	case o.Points == 0:
		o.Points = autoPoints(d, o.Crop)
	}
	if o.Pool == 0 {
		o.Pool = 128
	}
	o.Pool = max(o.Pool, o.Batch)
	if o.Train == TrainAuto || o.Train == "auto" {
		o.Train = DefaultTrain
	}
	if o.LR == 0 {
		o.LR = DefaultLR
		if o.Train == TrainScratch {
			o.LR = ScratchLR
		}
	}
	if o.Patience == 0 {
		o.Patience = DefaultPatience
	}
	switch {
	case o.HoldOut == 0 && s.Z >= 4:
		o.HoldOut = min(8, max(1, s.Z/10))
	case o.HoldOut < 0 || o.HoldOut == 0:
		o.HoldOut = 0
	case o.HoldOut >= s.Z:
		return o, fmt.Errorf("hold-out %d: the volume has %d xy planes, and at least one must be left to train on", o.HoldOut, s.Z)
	}
	if o.Seconds == 0 {
		o.Seconds = 60
	}
	if o.Seconds < 0 && o.Steps <= 0 {
		return o, errors.New("no time limit and no step limit")
	}
	if o.Threads <= 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	return o, nil
}

// EvalCrops is the number of crops of the fixed set on which the parent's
// and the adapted decoder's losses are measured (Result.Loss).
const EvalCrops = 8

// Adapt fine-tunes the parent's decoder on the xy planes of vol (an
// anisotropic volume, coarse in z), within opt's time or step budget. It
// returns ctx.Err() when cancelled. For a given seed and number of steps
// the result is the same whatever the number of threads.
func Adapt(ctx context.Context, p *Parent, vol *volume.Volume, opt Options) (*Result, error) {
	return adapt(ctx, p, VolumeXY{vol}, vol, opt)
}

func adapt(ctx context.Context, p *Parent, src XYReader, vol *volume.Volume, opt Options) (*Result, error) {
	start := time.Now()
	opt, err := opt.fill(src.Shape(), p.Model, p.Decoder)
	if err != nil {
		return nil, fmt.Errorf("adapt: %w", err)
	}
	info, err := describe(ctx, vol)
	if err != nil {
		return nil, err
	}
	res := &Result{Options: opt, Volume: info, Train: opt.Train}
	res.NormLow, res.NormHigh = reconstruct.NewNiiv(p.Model, nil).NormRange(vol)
	n, err := newNet(p.Decoder)
	if err != nil {
		return nil, fmt.Errorf("adapt: %w", err)
	}
	var enc *encNet
	var encTemplate *reconstruct.EncoderEDSR
	if opt.Train != TrainDecoder {
		if encTemplate, err = reconstruct.ReadEncoderEDSR(p.Files["encoder.onnx"]); err != nil {
			return nil, fmt.Errorf("adapt: training the %s network: %w", opt.Train, err)
		}
		enc = newEncNet(encTemplate)
	}
	res.HeldOut = heldOutPlanes(src.Shape().Z, opt.HoldOut)
	trainPlanes := otherPlanes(src.Shape().Z, res.HeldOut)
	smp, err := newSampler(src, opt.Factor, opt.Crop, res.NormLow, res.NormHigh, opt.Seed)
	if err != nil {
		return nil, fmt.Errorf("adapt: %w", err)
	}
	evalSmp, _ := newSampler(src, opt.Factor, opt.Crop, res.NormLow, res.NormHigh, opt.Seed^0x5eed5eed5eed5eed)
	smp.planes, evalSmp.planes = trainPlanes, trainPlanes
	S, h := opt.Crop, opt.Crop/opt.Factor
	geo := newGeometry(pixelCentres(S), pixelCentres(S), h, S, n.border)
	// encodeORT encodes crops with the parent's encoder (ONNX Runtime).
	encodeORT := func(cs []*crop) ([]*example, error) {
		low := make([]float32, 0, len(cs)*h*S)
		for _, c := range cs {
			low = append(low, c.low...)
		}
		lat, err := p.Model.Encode(ctx, low, len(cs), h, S)
		if err != nil {
			return nil, err
		}
		fhw := len(lat) / len(cs)
		out := make([]*example, len(cs))
		for i, c := range cs {
			out[i] = newExample(lat[i*fhw:(i+1)*fhw], c.low, n.feats, h, S, c.target)
		}
		return out, nil
	}
	allPoints := func(target []float32) []point { return allPointsOf(target, S) }
	// The fixed evaluation set (training planes) and the held-out crops.
	var evalCs []*crop
	for i := 0; i < EvalCrops; i++ {
		c, err := evalSmp.next()
		if err != nil {
			return nil, fmt.Errorf("adapt: %w", err)
		}
		evalCs = append(evalCs, c)
	}
	valCs, err := validationCrops(src, res.HeldOut, opt, res.NormLow, res.NormHigh)
	if err != nil {
		return nil, fmt.Errorf("adapt: %w", err)
	}
	res.ValCrops = len(valCs)
	var evalEx, valEx []*example // decoder training: latents of the parent's encoder
	if enc == nil {
		if evalEx, err = encodeORT(evalCs); err != nil {
			return nil, fmt.Errorf("adapt: encode: %w", err)
		}
		if len(valCs) > 0 {
			if valEx, err = encodeORT(valCs); err != nil {
				return nil, fmt.Errorf("adapt: encode: %w", err)
			}
		}
	}
	works := make([]*work, opt.Threads)
	wworks := make([]*wholeWork, opt.Threads)
	for i := range works {
		works[i] = n.newWork()
		if enc != nil {
			wworks[i] = newWholeWork(n, enc)
		}
	}
	var epk *encPacked
	// decodeCrops decodes every pixel of each crop with the current
	// weights into outs (in parallel, crop by crop) and returns Σ|out − t|.
	decodeCrops := func(cs []*crop, exs []*example, outs [][]float32) (float64, error) {
		pk := n.pack(geo, nil)
		if enc != nil {
			epk = enc.pack(epk)
		}
		sums := make([]float64, len(cs))
		err := eachCrop(ctx, len(cs), opt.Threads, func(i, k int) {
			e := (*example)(nil)
			if enc != nil {
				e = encodeExample(enc, epk, cs[i].low, h, S, nil, wworks[k].enc)
			} else {
				e = exs[i]
			}
			var out []float32
			if outs != nil {
				out = outs[i]
			}
			sums[i] = n.run(pk, geo, e, allPoints(cs[i].target), 0, nil, out, works[k])
		})
		if err != nil {
			return 0, err
		}
		var sum float64
		for _, v := range sums {
			sum += v
		}
		return sum, nil
	}
	evalLoss := func() (float64, error) {
		sum, err := decodeCrops(evalCs, evalEx, nil)
		return sum / float64(len(evalCs)*S*S), err
	}
	// lateral is the lateral check: mean CF-PSNR at r = 24 of the
	// held-out crops, intensities scaled as `niiv eval` scales them.
	elo, ehi := reconstruct.IntensityRange(vol)
	// Errors in normalised units are (NormHigh−NormLow)/(ehi−elo) times
	// the errors in eval's units.
	cfShift := -20 * math.Log10((res.NormHigh-res.NormLow)/(ehi-elo))
	radius := 24 * float64(S) / reconstruct.LateralCrop
	valOut := make([][]float32, len(valCs))
	for i := range valOut {
		valOut[i] = make([]float32, S*S)
	}
	lateral := func() (float64, error) {
		if len(valCs) == 0 {
			return math.NaN(), nil
		}
		if _, err := decodeCrops(valCs, valEx, valOut); err != nil {
			return 0, err
		}
		var sum float64
		for i, c := range valCs {
			sum += reconstruct.CFPSNR(&volume.Image{W: S, H: S, Pix: valOut[i]}, &volume.Image{W: S, H: S, Pix: c.target}, radius) + cfShift
		}
		return sum / float64(len(valCs)), nil
	}
	if res.ParentLoss, err = evalLoss(); err != nil {
		return nil, err
	}
	if res.LateralParent, err = lateral(); err != nil {
		return nil, err
	}
	parentDec := slices.Clone(n.theta)
	var parentEnc []float32
	if enc != nil {
		parentEnc = slices.Clone(enc.theta)
	}
	if opt.Train == TrainScratch {
		rng := rand.New(rand.NewPCG(opt.Seed, 0x73637261)) // "scra"
		n.randomInit(rng)
		enc.randomInit(rng)
	}
	best := res.LateralParent
	bestDec := slices.Clone(n.theta)
	var bestEnc []float32
	if enc != nil {
		bestEnc = slices.Clone(enc.theta)
	}
	if opt.Train == TrainScratch { // random weights are no checkpoint
		bestDec, bestEnc = nil, nil
		best = math.Inf(-1)
	}
	sinceBest := 0
	keep := func(step int, score float64) {
		best, res.BestStep, sinceBest = score, step, 0
		bestDec = append(bestDec[:0], n.theta...)
		if enc != nil {
			bestEnc = append(bestEnc[:0], enc.theta...)
		}
	}

	pick := rand.New(rand.NewPCG(opt.Seed, 0x7069636b)) // "pick"
	var pool []*example                                 // decoder training: encoded crops
	var cpool []*crop                                   // whole network: crops, encoded at every step
	nd, ne := len(n.theta), 0
	if enc != nil {
		ne = len(enc.theta)
	}
	grads := make([][]float32, opt.Batch)
	for i := range grads {
		grads[i] = make([]float32, nd+ne)
	}
	g := make([]float32, nd+ne)
	optDec := newAdam(opt.LR, nd)
	var optEnc *adam
	if enc != nil {
		optEnc = newAdam(opt.LR, ne)
	}
	var pk *packed
	perm := make([]int32, S*S)
	for i := range perm {
		perm[i] = int32(i)
	}
	var recent []float64
	budget := time.Duration(opt.Seconds * float64(time.Second))
	if opt.Seconds < 0 {
		budget = 0
	}
	// The lateral check runs every checkEvery of the budget (at least every
	// 2 s), or every 25 steps without a time budget, and at the end.
	checkEvery := max(2*time.Second, budget/15)
	lastCheck := time.Now()
	for step := 0; ; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if (opt.Steps > 0 && step >= opt.Steps) || (step > 0 && budget > 0 && time.Since(start) >= budget) {
			break
		}
		// The batch: fresh crops while the pool fills, then pool picks.
		npool := len(pool) + len(cpool)
		var fresh []*crop
		for range opt.Batch {
			if npool+len(fresh) < opt.Pool {
				c, err := smp.next()
				if err != nil {
					return nil, fmt.Errorf("adapt: %w", err)
				}
				fresh = append(fresh, c)
			}
		}
		idx := make([]int, opt.Batch) // pool indices of the batch
		if enc == nil {
			if len(fresh) > 0 {
				ex, err := encodeORT(fresh)
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					return nil, fmt.Errorf("adapt: encode: %w", err)
				}
				pool = append(pool, ex...)
			}
		} else {
			cpool = append(cpool, fresh...)
		}
		size := len(pool) + len(cpool)
		for j := range idx {
			if j < len(fresh) {
				idx[j] = size - len(fresh) + j
			} else {
				idx[j] = pick.IntN(size)
			}
		}
		targets := make([][]float32, opt.Batch)
		for j, i := range idx {
			if enc == nil {
				targets[j] = pool[i].target
			} else {
				targets[j] = cpool[i].target
			}
		}
		pts := make([][]point, opt.Batch)
		for j, tg := range targets {
			if opt.Points == S*S {
				pts[j] = allPoints(tg)
				continue
			}
			pts[j] = make([]point, opt.Points)
			for k := range pts[j] { // partial Fisher–Yates over perm
				r := k + pick.IntN(len(perm)-k)
				perm[k], perm[r] = perm[r], perm[k]
				i := int(perm[k])
				pts[j][k] = point{r: int32(i / S), c: int32(i % S), t: tg[i]}
			}
		}
		pk = n.pack(geo, pk)
		var loss float64
		if enc == nil {
			batch := make([]*example, opt.Batch)
			for j, i := range idx {
				batch[j] = pool[i]
			}
			loss, err = n.batchGrad(ctx, pk, geo, batch, pts, opt.Threads, works, grads, g)
		} else {
			lows := make([][]float32, opt.Batch)
			for j, i := range idx {
				lows[j] = cpool[i].low
			}
			epk = enc.pack(epk)
			loss, err = wholeBatchGrad(ctx, n, enc, pk, epk, geo, lows, h, S, pts, opt.Threads, wworks, grads, g)
		}
		if err != nil {
			return nil, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("adapt: loss is %v at step %d", loss, step+1)
		}
		optDec.step(n.theta, g[:nd])
		if enc != nil {
			optEnc.step(enc.theta, g[nd:])
		}
		res.Steps = step + 1
		recent = append(recent, loss)
		if len(recent) > 10 {
			recent = recent[1:]
		}
		pr := Progress{Step: res.Steps, Loss: loss, Elapsed: time.Since(start), Budget: budget, Lateral: best}
		due := len(valCs) > 0 && ((budget > 0 && time.Since(lastCheck) >= checkEvery) || (budget == 0 && res.Steps%25 == 0))
		if due {
			score, err := lateral()
			if err != nil {
				return nil, err
			}
			lastCheck = time.Now()
			pr.Lateral, pr.Checked = score, true
			if score > best+1e-3 {
				keep(res.Steps, score)
			} else {
				sinceBest++
			}
		}
		if opt.Progress != nil {
			opt.Progress(pr)
		}
		if opt.Patience > 0 && sinceBest >= opt.Patience {
			res.StoppedEarly = true
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, l := range recent {
		res.LastLoss += l / float64(len(recent))
	}
	// The checkpoint returned: the last weights without held-out planes,
	// else the best of the lateral checks (the end included).
	if len(valCs) > 0 && res.BestStep != res.Steps {
		score, err := lateral()
		if err != nil {
			return nil, err
		}
		if score > best+1e-3 || bestDec == nil {
			keep(res.Steps, score)
		}
		copy(n.theta, bestDec)
		if enc != nil {
			copy(enc.theta, bestEnc)
		}
	} else if len(valCs) == 0 {
		res.BestStep = res.Steps
	}
	res.KeptParent = res.BestStep == 0 && opt.Train != TrainScratch
	if opt.Train == TrainScratch && len(valCs) > 0 && !(best > res.LateralParent) {
		// Trained from scratch, no checkpoint beat the parent: keep it.
		res.KeptParent, res.BestStep, best = true, 0, res.LateralParent
		copy(n.theta, parentDec)
		copy(enc.theta, parentEnc)
	}
	res.Lateral = best
	if len(valCs) == 0 {
		res.Lateral = math.NaN()
	}
	if res.Loss, err = evalLoss(); err != nil {
		return nil, err
	}
	if res.KeptParent {
		res.Decoder = p.Decoder.Clone()
	} else {
		res.Decoder = n.decoder(p.Decoder)
		if enc != nil {
			res.Encoder = enc.encoder(encTemplate)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// eachCrop runs fn(i, k) for i in 0…n−1 on up to threads workers (k is
// the worker's index, for its scratch memory); it stops early and returns
// ctx.Err() when ctx is cancelled.
func eachCrop(ctx context.Context, n, threads int, fn func(i, k int)) error {
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for k := 0; k < max(1, min(threads, n)); k++ {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					return
				}
				fn(i, k)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// heldOutPlanes returns k xy planes of z spread evenly (the middle of k
// equal parts), none when k is 0.
func heldOutPlanes(z, k int) []int {
	var out []int
	for i := range k {
		out = append(out, (2*i+1)*z/(2*k))
	}
	return out
}

// otherPlanes returns the planes of 0…z−1 not in held; nil when none is
// held out (every plane).
func otherPlanes(z int, held []int) []int {
	if len(held) == 0 {
		return nil
	}
	var out []int
	for i := range z {
		if !slices.Contains(held, i) {
			out = append(out, i)
		}
	}
	return out
}

// ValCrops is the most crops of held-out planes the lateral check compares.
const ValCrops = 16

// validationCrops reads the lateral check's crops: square crops of the
// held-out planes, spread over planes and positions, neither turned nor
// flipped, normalised, rows average-pooled by the factor.
func validationCrops(src XYReader, planes []int, opt Options, lo, hi float64) ([]*crop, error) {
	if len(planes) == 0 {
		return nil, nil
	}
	s := src.Shape()
	n := opt.Crop
	// Tiles side by side, or overlapping by half where that leaves too few.
	step := n
	if len(planes)*(s.Y/n)*(s.X/n) < ValCrops {
		step = n / 2
	}
	ty, tx := (s.Y-n)/step+1, (s.X-n)/step+1
	tiles := reconstruct.SpreadOrder(ty * tx)
	count := min(ValCrops, len(planes)*len(tiles))
	buf := make([]float32, n*n)
	scale := float32(1 / (hi - lo))
	var out []*crop
	for k := range count {
		z := planes[k%len(planes)]
		t := tiles[(k/len(planes))%len(tiles)]
		c := &crop{z: z, y0: (t/tx)*step + (s.Y-(ty-1)*step-n)/2, x0: (t%tx)*step + (s.X-(tx-1)*step-n)/2}
		if err := src.ReadXY(c.z, c.y0, c.x0, n, buf); err != nil {
			return nil, fmt.Errorf("read held-out xy plane %d: %w", c.z, err)
		}
		c.target = make([]float32, n*n)
		for i, v := range buf {
			c.target[i] = (v - float32(lo)) * scale
		}
		c.low = poolRows(c.target, n, n, opt.Factor)
		out = append(out, c)
	}
	return out, nil
}

// Summary says in one line what was trained and what the lateral check
// measured: "whole network, 67 steps in 21 s; lateral check on 1 held-out
// xy plane: 36.1 → 36.4 dB (+0.24)".
func (r *Result) Summary() string {
	what := map[string]string{TrainWhole: "whole network", TrainDecoder: "decoder", TrainScratch: "whole network from scratch"}[r.Train]
	s := fmt.Sprintf("%s, %d steps in %.0f s", what, r.Steps, r.Seconds)
	if len(r.HeldOut) == 0 || math.IsNaN(r.Lateral) {
		return s + "; no xy plane held out, no lateral check"
	}
	planes := "xy planes"
	if len(r.HeldOut) == 1 {
		planes = "xy plane"
	}
	s += fmt.Sprintf("; lateral check on %d held-out %s: %.2f → %.2f dB (%+.2f)", len(r.HeldOut), planes, r.LateralParent, r.Lateral, r.Lateral-r.LateralParent)
	if r.KeptParent {
		s += ", parent kept"
	}
	return s
}
