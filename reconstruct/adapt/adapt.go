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
	"strings"
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
	// Progress, when set, is called after each step.
	Progress func(Progress)
}

// DefaultLR is the default learning rate of Adam.
const DefaultLR = 1e-4

// Progress reports a finished step.
type Progress struct {
	Step    int
	Loss    float64 // the step's mean L1 loss (normalised intensities)
	Elapsed time.Duration
	Budget  time.Duration // the time limit, 0 when none
}

// Result is an adapted decoder and how it was made.
type Result struct {
	Decoder *reconstruct.DecoderMLP
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
	if o.LR == 0 {
		o.LR = DefaultLR
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
	res := &Result{Options: opt, Volume: info}
	res.NormLow, res.NormHigh = reconstruct.NewNiiv(p.Model, nil).NormRange(vol)
	n, err := newNet(p.Decoder)
	if err != nil {
		return nil, fmt.Errorf("adapt: %w", err)
	}
	smp, err := newSampler(src, opt.Factor, opt.Crop, res.NormLow, res.NormHigh, opt.Seed)
	if err != nil {
		return nil, fmt.Errorf("adapt: %w", err)
	}
	evalSmp, _ := newSampler(src, opt.Factor, opt.Crop, res.NormLow, res.NormHigh, opt.Seed^0x5eed5eed5eed5eed)
	S, h := opt.Crop, opt.Crop/opt.Factor
	geo := newGeometry(pixelCentres(S), pixelCentres(S), h, S, n.border)
	encode := func(cs []*crop) ([]*example, error) {
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
	allPoints := func(e *example) []point {
		pts := make([]point, S*S)
		for i := range pts {
			pts[i] = point{r: int32(i / S), c: int32(i % S), t: e.target[i]}
		}
		return pts
	}
	// The fixed evaluation set.
	var evalCs []*crop
	for i := 0; i < EvalCrops; i++ {
		c, err := evalSmp.next()
		if err != nil {
			return nil, fmt.Errorf("adapt: %w", err)
		}
		evalCs = append(evalCs, c)
	}
	evalEx, err := encode(evalCs)
	if err != nil {
		return nil, fmt.Errorf("adapt: encode: %w", err)
	}
	works := make([]*work, opt.Threads)
	for i := range works {
		works[i] = n.newWork()
	}
	// evalLoss stops between examples when ctx is cancelled.
	evalLoss := func() (float64, error) {
		pk := n.pack(geo, nil)
		var sum float64
		for _, e := range evalEx {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			sum += n.run(pk, geo, e, allPoints(e), 0, nil, nil, works[0])
		}
		return sum / float64(len(evalEx)*S*S), nil
	}
	if res.ParentLoss, err = evalLoss(); err != nil {
		return nil, err
	}

	pick := rand.New(rand.NewPCG(opt.Seed, 0x7069636b)) // "pick"
	var pool []*example
	grads := make([][]float32, opt.Batch)
	for i := range grads {
		grads[i] = make([]float32, len(n.theta))
	}
	g := make([]float32, len(n.theta))
	opto := newAdam(opt.LR, len(n.theta))
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
	for step := 0; ; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if (opt.Steps > 0 && step >= opt.Steps) || (step > 0 && budget > 0 && time.Since(start) >= budget) {
			break
		}
		// The batch: fresh crops while the pool fills, then pool picks.
		batch := make([]*example, opt.Batch)
		var fresh []*crop
		for range batch {
			if len(pool)+len(fresh) < opt.Pool {
				c, err := smp.next()
				if err != nil {
					return nil, fmt.Errorf("adapt: %w", err)
				}
				fresh = append(fresh, c)
			}
		}
		if len(fresh) > 0 {
			ex, err := encode(fresh)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("adapt: encode: %w", err)
			}
			pool = append(pool, ex...)
		}
		for j := range batch {
			if j < len(fresh) {
				batch[j] = pool[len(pool)-len(fresh)+j]
			} else {
				batch[j] = pool[pick.IntN(len(pool))]
			}
		}
		pts := make([][]point, len(batch))
		for j, e := range batch {
			if opt.Points == S*S {
				pts[j] = allPoints(e)
				continue
			}
			pts[j] = make([]point, opt.Points)
			for k := range pts[j] { // partial Fisher–Yates over perm
				r := k + pick.IntN(len(perm)-k)
				perm[k], perm[r] = perm[r], perm[k]
				i := int(perm[k])
				pts[j][k] = point{r: int32(i / S), c: int32(i % S), t: e.target[i]}
			}
		}
		pk = n.pack(geo, pk)
		loss, err := n.batchGrad(ctx, pk, geo, batch, pts, opt.Threads, works, grads, g)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("adapt: loss is %v at step %d", loss, step+1)
		}
		opto.step(n.theta, g)
		res.Steps = step + 1
		recent = append(recent, loss)
		if len(recent) > 10 {
			recent = recent[1:]
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Step: res.Steps, Loss: loss, Elapsed: time.Since(start), Budget: budget})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, l := range recent {
		res.LastLoss += l / float64(len(recent))
	}
	if res.Loss, err = evalLoss(); err != nil {
		return nil, err
	}
	res.Decoder = n.decoder(p.Decoder)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
