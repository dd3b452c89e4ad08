package sample

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/niiv/niiv/volume"
)

func TestEMDeterministic(t *testing.T) {
	a := EM(Options{Size: 32, Seed: 7}).Data().([]uint8)
	b := EM(Options{Size: 32, Seed: 7}).Data().([]uint8)
	c := EM(Options{Size: 32, Seed: 8}).Data().([]uint8)
	same, diff := true, false
	for i := range a {
		same = same && a[i] == b[i]
		diff = diff || a[i] != c[i]
	}
	if !same {
		t.Fatal("same seed gave different volumes")
	}
	if !diff {
		t.Fatal("different seeds gave the same volume")
	}
}

func TestEMLooksLikeEM(t *testing.T) {
	v := EM(Options{Size: 64})
	st := v.Stats()
	// Membranes are dark, cytoplasm bright: a wide, non-degenerate range.
	if lo, hi := st.Percentile(1), st.Percentile(99); hi-lo < 80 {
		t.Fatalf("contrast too low: p1=%v p99=%v", lo, hi)
	}
	if st.Mean < 90 || st.Mean > 200 {
		t.Fatalf("mean %v is not a cytoplasm-dominated EM image", st.Mean)
	}
	if v.Voxel.Anisotropy() != 1 || !v.Voxel.Known || v.Voxel.Unit != "nm" {
		t.Fatalf("voxel %+v", v.Voxel)
	}
}

func TestAnisotropicIsPooled(t *testing.T) {
	iso := EM(Options{Size: 32})
	an, err := Anisotropic(Options{Size: 32}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if an.Shape() != (volume.Shape{Z: 4, Y: 32, X: 32}) {
		t.Fatalf("shape %v", an.Shape())
	}
	if an.Voxel.Z != 64 || an.Voxel.Anisotropy() != 8 {
		t.Fatalf("voxel %+v", an.Voxel)
	}
	var want float64
	for k := 8; k < 16; k++ {
		want += iso.At(k, 5, 6)
	}
	if got := an.At(1, 5, 6); got-want/8 > 1e-4 || want/8-got > 1e-4 {
		t.Fatalf("pooled %v want %v", got, want/8)
	}
}

// TestEMBundledSample pins the bundled sample (size 128, seed 1), which
// tests and figures use.
func TestEMBundledSample(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	sum := sha256.Sum256(EM(Options{Size: 128, Seed: 1}).Data().([]uint8))
	const want = "b306e6e739a8372bbe79a5e41f4522e5656a462077131713a8abbf3488382eef"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("sha256 of the bundled sample %s, want %s", got, want)
	}
}

// TestEMMatchesAllPairs compares the generator with the direct method
// that visits every cell and mitochondrion for every voxel.
func TestEMMatchesAllPairs(t *testing.T) {
	for _, tc := range []struct {
		size int
		seed uint64
	}{
		{16, 1}, {23, 5}, {40, 2}, {57, 3}, {64, 7}, {100, 1}, {100, 9},
	} {
		got := EM(Options{Size: tc.size, Seed: tc.seed}).Data().([]uint8)
		want := emAllPairs(tc.size, tc.seed)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("size %d seed %d: voxel %d is %d, want %d", tc.size, tc.seed, i, got[i], want[i])
				break
			}
		}
	}
}

// TestSeedGridNear checks that the candidate seeds of a block contain the
// two nearest seeds of each of its voxels, and that a block has a few
// candidates whatever the size of the volume (the work per voxel does not
// grow with the volume).
func TestSeedGridNear(t *testing.T) {
	for _, n := range []int{128, 512} {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		fn := float64(n)
		seeds := make([]point, int(fn*fn*fn/(40*40*40)))
		for i := range seeds {
			seeds[i] = point{rng.Float64() * fn, rng.Float64() * fn, rng.Float64() * fn}
		}
		g := newSeedGrid(seeds, n)
		var near []int
		total, blocks := 0, 0
		for b := 0; b < 200; b++ {
			z0, y0, x0 := 8*rng.IntN(n/8), 8*rng.IntN(n/8), 8*rng.IntN(n/8)
			near = g.near(near, [3]float64{float64(z0) + .5, float64(y0) + .5, float64(x0) + .5},
				[3]float64{float64(z0) + 7.5, float64(y0) + 7.5, float64(x0) + 7.5})
			total, blocks = total+len(near), blocks+1
			for k := 1; k < len(near); k++ {
				if near[k] <= near[k-1] {
					t.Fatalf("n %d: candidates not ascending: %v", n, near)
				}
			}
			in := map[int]bool{}
			for _, i := range near {
				in[i] = true
			}
			for v := 0; v < 20; v++ {
				p := point{float64(z0+rng.IntN(8)) + .5, float64(y0+rng.IntN(8)) + .5, float64(x0+rng.IntN(8)) + .5}
				i1, i2 := nearestTwo(p, seeds)
				if !in[i1] || !in[i2] {
					t.Fatalf("n %d: block at %d,%d,%d: nearest seeds %d, %d of %v not among %v", n, z0, y0, x0, i1, i2, p, near)
				}
			}
		}
		t.Logf("n %d: %.1f candidate seeds per block", n, float64(total)/float64(blocks))
		if mean := float64(total) / float64(blocks); mean > 12 {
			t.Errorf("n %d: %.1f candidate seeds per block, want a few", n, mean)
		}
	}
}

func nearestTwo(p point, seeds []point) (int, int) {
	i1, i2 := -1, -1
	for i, s := range seeds {
		switch d := dist2(p, s); {
		case i1 < 0 || d < dist2(p, seeds[i1]):
			i1, i2 = i, i1
		case i2 < 0 || d < dist2(p, seeds[i2]):
			i2 = i
		}
	}
	return i1, i2
}

func TestEMContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	t0 := time.Now()
	v, err := EMContext(ctx, Options{Size: 256, Progress: func(done, total int) {
		if calls++; calls == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || v != nil {
		t.Fatalf("cancelled generation returned %v, %v", v, err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("cancelled generation took %v", el)
	}
}

func TestEMContextProgress(t *testing.T) {
	last, total, calls := -1, 0, 0
	if _, err := EMContext(context.Background(), Options{Size: 37, Progress: func(done, tot int) {
		if done < last || (total != 0 && tot != total) || done > tot {
			t.Fatalf("progress %d/%d after %d/%d", done, tot, last, total)
		}
		last, total, calls = done, tot, calls+1
	}}); err != nil {
		t.Fatal(err)
	}
	if calls < 10 || last != total {
		t.Fatalf("%d progress calls, last %d/%d", calls, last, total)
	}
}

// emAllPairs is the generator's direct method: every voxel visits every
// cell seed and mitochondrion.
func emAllPairs(n int, seed uint64) []uint8 {
	rng := rand.New(rand.NewPCG(seed, 0x6e696976))
	fn := float64(n)
	nCells := max(4, int(fn*fn*fn/(40*40*40)))
	cells := make([]point, nCells)
	tone := make([]float64, nCells)
	for i := range cells {
		cells[i] = point{rng.Float64() * fn, rng.Float64() * fn, rng.Float64() * fn}
		tone[i] = 0.62 + 0.12*rng.Float64()
	}
	mitos := make([]ellipsoid, max(2, nCells/2))
	for i := range mitos {
		a := randUnit(rng)
		b := normalize(cross(a, randUnit(rng)))
		mitos[i] = ellipsoid{
			c:      point{rng.Float64() * fn, rng.Float64() * fn, rng.Float64() * fn},
			axes:   [3]point{a, b, cross(a, b)},
			r:      [3]float64{8 + 10*rng.Float64(), 3.5 + 2*rng.Float64(), 3.5 + 2*rng.Float64()},
			cristP: rng.Float64() * 2 * math.Pi,
		}
	}
	ves := make([]point, max(10, int(fn*fn*fn/2500)))
	vesR := make([]float64, len(ves))
	for i := range ves {
		k := cells[rng.IntN(nCells)]
		ves[i] = point{k.z + rng.NormFloat64()*12, k.y + rng.NormFloat64()*12, k.x + rng.NormFloat64()*12}
		vesR[i] = 2 + 1.2*rng.Float64()
	}
	allCells := make([]int, nCells)
	for i := range allCells {
		allCells[i] = i
	}
	allMitos := make([]int32, len(mitos))
	for i := range allMitos {
		allMitos[i] = int32(i)
	}
	var allVes []int
	for i, v := range ves {
		if v.z >= 0 && v.y >= 0 && v.x >= 0 { // as the generator's vesicle bins
			allVes = append(allVes, i)
		}
	}
	img := make([]float32, n*n*n)
	for z := 0; z < n; z++ {
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				img[(z*n+y)*n+x] = float32(voxel(z, y, x, cells, tone, allCells, mitos, allMitos, ves, vesR, localVes(z, y, x, ves, allVes)))
			}
		}
	}
	if err := blur3(context.Background(), img, n, 0.9, newStages(nil, n)); err != nil {
		panic(err)
	}
	out := make([]uint8, len(img))
	for i, v := range img {
		f := float64(v) + 0.045*rng.NormFloat64()
		out[i] = uint8(math.Round(255 * math.Max(0, math.Min(1, f))))
	}
	return out
}

// localVes returns the vesicles, of idx, in the bins of 8 voxels next to
// the voxel's bin, as the generator lists them.
func localVes(z, y, x int, ves []point, idx []int) []int {
	var out []int
	for _, i := range idx {
		v := ves[i]
		if abs(int(v.z)/8-z/8) <= 1 && abs(int(v.y)/8-y/8) <= 1 && abs(int(v.x)/8-x/8) <= 1 {
			out = append(out, i)
		}
	}
	return out
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

func BenchmarkEM128(b *testing.B) {
	for b.Loop() {
		EM(Options{Size: 128})
	}
}

func BenchmarkEM256(b *testing.B) {
	for b.Loop() {
		EM(Options{Size: 256})
	}
}
