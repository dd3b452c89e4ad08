package volume

import (
	"context"
	"fmt"
	"math"
)

// Stats are intensity statistics of a whole volume.
type Stats struct {
	Min, Max   float64
	Mean, Std  float64
	hist       []int64 // counts per bin over [lo, hi]
	lo, binW   float64
	n          int64
	integerBin bool // one bin per integer value: percentiles are exact
	// Estimated says how the statistics of a lazy volume were estimated
	// from a sample ("" when computed over every voxel).
	Estimated string
}

// Stats returns the volume's statistics, computed on first use and cached.
// It is safe for concurrent use.
func (v *Volume) Stats() *Stats {
	v.statsOnce.Do(func() {
		if v.src != nil {
			v.stats = sampleStats(v)
		} else {
			v.stats = computeStats(v)
		}
	})
	return &v.stats
}

const floatBins = 1 << 16

func computeStats(v *Volume) Stats {
	s := Stats{Min: math.Inf(1), Max: math.Inf(-1), n: int64(v.shape.Len())}
	var sum, sum2 float64
	n := v.shape.Len()
	// Pass 1: min, max, moments.
	sum, sum2 = momentsOf(v, &s)
	if s.Min > s.Max { // all non-finite
		s.Min, s.Max = 0, 0
	}
	s.Mean = sum / float64(n)
	s.Std = math.Sqrt(math.Max(0, sum2/float64(n)-s.Mean*s.Mean))
	// Pass 2: histogram.
	initHist(&s, v.dtype)
	addHist(&s, v)
	return s
}

// initHist sizes the histogram of s, whose Min and Max are known: one bin
// per integer value for integer data of fewer than floatBins levels, else
// floatBins bins over [Min, Max].
func initHist(s *Stats, dt DType) {
	s.lo = s.Min
	span := s.Max - s.Min
	if !dt.IsFloat() && span < floatBins {
		s.integerBin = true
		s.binW = 1
		s.hist = make([]int64, int(span)+1)
	} else {
		s.binW = span / floatBins
		if s.binW == 0 {
			s.binW = 1
		}
		s.hist = make([]int64, floatBins+1)
	}
}

// addHist counts v's finite voxels into the histogram of s.
func addHist(s *Stats, v *Volume) {
	switch d := v.data.(type) {
	case []uint8:
		for _, x := range d {
			s.hist[int(x)-int(s.lo)]++
		}
	case []uint16:
		for _, x := range d {
			s.hist[int(x)-int(s.lo)]++
		}
	default:
		for i := range v.shape.Len() {
			f := v.atFlat(i)
			if f != f || math.IsInf(f, 0) {
				continue
			}
			b := int((f - s.lo) / s.binW)
			if b >= len(s.hist) {
				b = len(s.hist) - 1
			}
			s.hist[b]++
		}
	}
}

// momentsOf accumulates v's min, max, sum and sum of squares into s.
func momentsOf(v *Volume, s *Stats) (sum, sum2 float64) {
	switch d := v.data.(type) {
	case []uint8:
		return moments(d, s)
	case []uint16:
		return moments(d, s)
	case []int16:
		return moments(d, s)
	case []float32:
		return moments(d, s)
	case []float64:
		return moments(d, s)
	}
	return 0, 0
}

// ScanStats computes the statistics of a lazy volume over every voxel,
// reading it in slabs of xy planes (two passes; the memory of one slab of
// at most 64 MiB), where Stats would estimate them from a sample: the
// contrast, histogram and model normalisation are then exactly those of the
// same volume in memory. progress, when set, gets the slabs read and their
// total. Call it before anything uses Stats; a volume in memory just
// computes Stats.
func (v *Volume) ScanStats(ctx context.Context, progress func(done, total int)) error {
	if v.src == nil {
		v.Stats()
		return nil
	}
	ran := false
	var err error
	v.statsOnce.Do(func() {
		ran = true
		var s Stats
		if s, err = scanStats(ctx, v, progress); err == nil {
			v.stats = s
		} else {
			v.stats = sampleStats(v)
		}
	})
	if !ran {
		return fmt.Errorf("volume: %s: statistics were computed before ScanStats", v.Name)
	}
	if err != nil {
		return fmt.Errorf("volume: %s: statistics: %w", v.Name, err)
	}
	return nil
}

// scanSlabBytes bounds the slab ScanStats reads at once.
var scanSlabBytes int64 = 64 << 20

// scanStats is ScanStats' two passes.
func scanStats(ctx context.Context, v *Volume, progress func(done, total int)) (Stats, error) {
	sh := v.shape
	per := int64(sh.Y) * int64(sh.X) * int64(v.dtype.Size())
	k := int(max(1, min(int64(sh.Z), scanSlabBytes/per)))
	slabs := (sh.Z + k - 1) / k
	s := Stats{Min: math.Inf(1), Max: math.Inf(-1), n: int64(sh.Len())}
	var sum, sum2 float64
	each := func(pass int, f func(*Volume)) error {
		for i := range slabs {
			b := Whole(sh)
			b.Z0, b.Z1 = i*k, min(sh.Z, (i+1)*k)
			m, err := v.src.Read(ctx, b)
			if err != nil {
				return fmt.Errorf("read %v: %w", b, err)
			}
			f(m)
			if progress != nil {
				progress(pass*slabs+i+1, 2*slabs)
			}
		}
		return nil
	}
	if err := each(0, func(m *Volume) {
		a, b := momentsOf(m, &s)
		sum, sum2 = sum+a, sum2+b
	}); err != nil {
		return Stats{}, err
	}
	if s.Min > s.Max {
		s.Min, s.Max = 0, 0
	}
	n := float64(sh.Len())
	s.Mean = sum / n
	s.Std = math.Sqrt(math.Max(0, sum2/n-s.Mean*s.Mean))
	initHist(&s, v.dtype)
	if err := each(1, func(m *Volume) { addHist(&s, m) }); err != nil {
		return Stats{}, err
	}
	return s, nil
}

// Percentile returns the value below which p percent (0–100) of the voxels
// lie. It is exact for 8- and 16-bit volumes and accurate to 1/65536 of the
// value range for floating-point ones.
func (s *Stats) Percentile(p float64) float64 {
	if len(s.hist) == 0 {
		return 0
	}
	p = math.Max(0, math.Min(100, p))
	var total int64
	for _, c := range s.hist {
		total += c
	}
	target := p / 100 * float64(total)
	var acc int64
	// Find the first bin where the cumulative count reaches target.
	for b, c := range s.hist {
		if float64(acc+c) >= target && c > 0 {
			if s.integerBin {
				return s.lo + float64(b)
			}
			frac := (target - float64(acc)) / float64(c)
			return math.Min(s.Max, s.lo+(float64(b)+frac)*s.binW)
		}
		acc += c
	}
	return s.Max
}

// Bins returns the number of display bins, at most limit, that Histogram
// fills evenly: for integer data with few levels, each bin then holds the
// same number of values (a bin with none between two with one would draw a
// comb); otherwise limit.
func (s *Stats) Bins(limit int) int {
	if !s.integerBin || limit <= 0 {
		return limit
	}
	levels := len(s.hist)
	per := (levels + limit - 1) / limit
	return (levels + per - 1) / per
}

// Histogram returns counts in nbins equal bins over [Min, Max], for display.
// Integer data with few levels puts the same number of consecutive values
// in each bin (the last may hold fewer); Bins gives the count that leaves
// no bin empty.
func (s *Stats) Histogram(nbins int) []int64 {
	out := make([]int64, nbins)
	if nbins == 0 || len(s.hist) == 0 {
		return out
	}
	span := s.Max - s.Min
	per := (len(s.hist) + nbins - 1) / nbins // values per bin, integer data
	for b, c := range s.hist {
		if c == 0 {
			continue
		}
		v := s.lo + (float64(b)+0.5)*s.binW
		k := 0
		switch {
		case s.integerBin:
			k = b / per
		case span > 0:
			k = int((v - s.Min) / span * float64(nbins))
		}
		if k >= nbins {
			k = nbins - 1
		}
		if k < 0 {
			k = 0
		}
		out[k] += c
	}
	return out
}

// moments accumulates min, max, sum and sum of squares of the finite values
// of d, in one typed loop.
func moments[T uint8 | uint16 | int16 | float32 | float64](d []T, s *Stats) (sum, sum2 float64) {
	for _, x := range d {
		f := float64(x)
		if f != f || math.IsInf(f, 0) {
			continue
		}
		if f < s.Min {
			s.Min = f
		}
		if f > s.Max {
			s.Max = f
		}
		sum += f
		sum2 += f * f
	}
	return sum, sum2
}
