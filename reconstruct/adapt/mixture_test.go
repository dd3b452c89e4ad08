package adapt

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

// codedImages returns n h×w images whose pixel (y, x) of image i holds
// i·1e6 + y·w + x, so every value read tells where it came from.
func codedImages(n, h, w int) []*volume.Image { return codedImagesFrom(0, n, h, w) }

// codedImagesFrom numbers the images from first (values stay exact in
// float32 up to image 15).
func codedImagesFrom(first, n, h, w int) []*volume.Image {
	var out []*volume.Image
	for i := range n {
		im := &volume.Image{W: w, H: h, Pix: make([]float32, h*w)}
		for p := range im.Pix {
			im.Pix[p] = float32((first+i)*1e6 + p)
		}
		out = append(out, im)
	}
	return out
}

func identityNorm(*volume.Image) (float64, float64) { return 0, 1 }

func TestPrepareSource(t *testing.T) {
	nan := codedImages(1, 40, 40)
	nan[0].Pix[7] = float32(math.NaN())
	tests := []struct {
		name      string
		src       MixSource
		holdOut   int
		train     []region
		held      []region
		wantError string
	}{
		{"stack: whole images held out", MixSource{Name: "s", Images: codedImages(10, 20, 20)}, 2,
			[]region{{0, 0, 20}, {1, 0, 20}, {2, 0, 20}, {3, 0, 20}, {4, 0, 20}, {6, 0, 20}, {7, 0, 20}, {8, 0, 20}, {9, 0, 20}}, []region{{5, 0, 20}}, ""},
		{"20 images: two held out", MixSource{Name: "s", Images: codedImages(20, 20, 20)}, 2,
			[]region{{0, 0, 20}, {1, 0, 20}, {2, 0, 20}, {3, 0, 20}, {4, 0, 20}, {6, 0, 20}, {7, 0, 20}, {8, 0, 20}, {9, 0, 20}, {10, 0, 20}, {11, 0, 20}, {12, 0, 20}, {13, 0, 20}, {14, 0, 20}, {16, 0, 20}, {17, 0, 20}, {18, 0, 20}, {19, 0, 20}},
			[]region{{5, 0, 20}, {15, 0, 20}}, ""},
		{"few tall images: bottom rows", MixSource{Name: "s", Images: codedImages(2, 45, 20)}, 2,
			[]region{{0, 0, 29}, {1, 0, 29}}, []region{{0, 29, 45}, {1, 29, 45}}, ""},
		{"few short images: nothing held", MixSource{Name: "s", Images: codedImages(2, 20, 20)}, 2,
			[]region{{0, 0, 20}, {1, 0, 20}}, nil, ""},
		{"no hold-out", MixSource{Name: "s", Images: codedImages(5, 20, 20)}, 0,
			[]region{{0, 0, 20}, {1, 0, 20}, {2, 0, 20}, {3, 0, 20}, {4, 0, 20}}, nil, ""},
		{"no images", MixSource{Name: "empty"}, 2, nil, nil, "source empty: no images"},
		{"too small", MixSource{Name: "small", Images: codedImages(1, 12, 40)}, 2, nil, nil, "image 0 is 40×12, smaller than the 16×16 crops"},
		{"NaN", MixSource{Name: "bad", Images: nan}, 2, nil, nil, "source bad: image 0 holds NaN"},
		{"negative weight", MixSource{Name: "w", Weight: -1, Images: codedImages(1, 20, 20)}, 2, nil, nil, "weight -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := prepareSource(tc.src, 16, tc.holdOut, identityNorm)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.train, tc.train) || !slices.Equal(m.held, tc.held) {
				t.Fatalf("train %v held %v, want %v and %v", m.train, m.held, tc.train, tc.held)
			}
			if m.Weight != 1 {
				t.Errorf("weight %v, want the default 1", m.Weight)
			}
		})
	}
}

// TestMixSamplerNeverReadsHeldOut decodes every target value of many
// crops back to its image and pixel: none comes from a held-out region,
// each crop is one square of one image arranged by a symmetry, the input
// is its rows pooled, and sources are drawn by weight, not by size.
func TestMixSamplerNeverReadsHeldOut(t *testing.T) {
	const side, factor = 16, 4
	a, err := prepareSource(MixSource{Name: "a", Weight: 1, Images: codedImages(6, 20, 30)}, side, 2, identityNorm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := prepareSource(MixSource{Name: "b", Weight: 3, Images: codedImagesFrom(10, 1, 40, 24)}, side, 2, identityNorm)
	if err != nil {
		t.Fatal(err)
	}
	smp := newMixSampler([]*mixSource{a, b}, Augment{}, 7)
	counts := map[string]int{}
	const draws = 4000
	for range draws {
		c := smp.next(side, factor)
		img := int(c.target[0]) / 1e6
		src := a
		if img >= 10 { // b's image 0
			src, img = b, img-10
		}
		counts[src.Name]++
		if c.z != img {
			t.Fatalf("crop of image %d holds values of image %d", c.z, img)
		}
		w := src.Images[c.z].W
		ys, xs := map[int]bool{}, map[int]bool{}
		for _, v := range c.target {
			p := int(v) % 1e6
			y, x := p/w, p%w
			ys[y], xs[x] = true, true
			for _, r := range src.held {
				if r.img == c.z && y >= r.y0 && y < r.y1 {
					t.Fatalf("source %s: pixel (%d,%d) of image %d is held out", src.Name, y, x, c.z)
				}
			}
		}
		if len(ys) != side || len(xs) != side {
			t.Fatalf("crop covers %d rows and %d columns, want a %d² square", len(ys), len(xs), side)
		}
		if want := poolRows(c.target, side, side, factor); !equal(c.low, want) {
			t.Fatal("input is not the target's rows pooled")
		}
	}
	// Source b (1 image) has three times a's weight (6 images).
	if r := float64(counts["b"]) / draws; math.Abs(r-0.75) > 0.03 {
		t.Errorf("source b drawn %.3f of the time, want 0.75 (counts %v)", r, counts)
	}
}

func TestAugment(t *testing.T) {
	const n = 32
	base := make([]float32, n*n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range base {
		base[i] = rng.Float32()
	}
	run := func(a Augment, seed uint64) []float32 {
		t := append([]float32(nil), base...)
		augment(t, n, a, rand.New(rand.NewPCG(seed, 3)))
		return t
	}
	if got := run(Augment{}, 1); !equal(got, base) {
		t.Error("no augmentation changed the image")
	}
	if !equal(run(DefaultAugment, 5), run(DefaultAugment, 5)) {
		t.Error("augmentation is not deterministic for a seed")
	}
	inv := run(Augment{Invert: 1}, 1)
	for i := range inv {
		if inv[i] != 1-base[i] {
			t.Fatalf("invert: %v → %v", base[i], inv[i])
		}
	}
	g := run(Augment{Gamma: 1}, 1)
	for i := range g {
		if g[i] < 0 || g[i] > 1 || (base[i] > 0.01 && base[i] < 0.99 && g[i] == base[i]) {
			t.Fatalf("gamma: %v → %v", base[i], g[i])
		}
	}
	noisy := run(Augment{Noise: 1}, 1)
	var d2 float64
	for i := range noisy {
		d2 += float64((noisy[i] - base[i]) * (noisy[i] - base[i]))
	}
	if sd := math.Sqrt(d2 / float64(len(base))); sd < 0.005*0.8 || sd > 0.06*1.2 {
		t.Errorf("noise sd %.4f, want 0.005–0.06", sd)
	}
	bl := run(Augment{Blur: 1}, 1)
	var vb, vo float64
	for i := range bl {
		vb += float64((bl[i] - 0.5) * (bl[i] - 0.5))
		vo += float64((base[i] - 0.5) * (base[i] - 0.5))
	}
	if vb >= vo*0.8 {
		t.Errorf("blur kept %.2f of the variance of white noise", vb/vo)
	}
	flat := make([]float32, n*n)
	for i := range flat {
		flat[i] = 0.3
	}
	gaussBlur(flat, n, n, 1.1)
	for _, v := range flat {
		if math.Abs(float64(v)-0.3) > 1e-6 {
			t.Fatalf("blur of a flat image gives %v", v)
		}
	}
}

// mixSources returns two small sources cut from the EM sample: a stack of
// 6 xy planes and 2 separate tall images.
func mixSources(t testing.TB) []MixSource {
	t.Helper()
	v := sample.EM(sample.Options{Size: 48})
	s := v.Shape()
	var stack, tall []*volume.Image
	for z := range 6 {
		im := &volume.Image{W: s.X, H: s.Y, Pix: make([]float32, s.X*s.Y)}
		if _, err := v.PlaneRect(context.Background(), volume.XY, 5*z, 0, s.Y, 0, s.X, im.Pix); err != nil {
			t.Fatal(err)
		}
		stack = append(stack, im)
	}
	for z := range 2 {
		im := &volume.Image{W: s.X, H: s.Z, Pix: make([]float32, s.X*s.Z)}
		if _, err := v.PlaneRect(context.Background(), volume.XZ, 10+20*z, 0, s.Z, 0, s.X, im.Pix); err != nil {
			t.Fatal(err)
		}
		tall = append(tall, im)
	}
	return []MixSource{{Name: "stack", Images: stack, Guard: true}, {Name: "tall", Weight: 2, Images: tall}}
}

// TestTrainMixture trains the tiny model on two sources: the result does
// not depend on the number of threads, reports each source's check, and
// saves a model folder that loads and passes its own test tensors.
func TestTrainMixture(t *testing.T) {
	src := mixSources(t)
	opt := MixOptions{Factors: []int{2, 4}, CheckFactors: []int{4}, Crop: 16, Batch: 2, Steps: 6, Seconds: -1, CheckEvery: 3, LR: 1e-3, Seed: 3}
	var results []*MixResult
	var parent *Parent
	for _, threads := range []int{1, 2} {
		p := openTiny(t, reconstruct.ModelOptions{Threads: 2})
		parent = p
		o := opt
		o.Threads = threads
		res, err := TrainMixture(context.Background(), p, src, o)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	a, b := results[0], results[1]
	if a.Steps != 6 || len(a.Sources) != 2 {
		t.Fatalf("%d steps, %d sources", a.Steps, len(a.Sources))
	}
	for i, l := range a.Decoder.Layers {
		if !equal(l.W, b.Decoder.Layers[i].W) {
			t.Fatalf("decoder layer %d differs between 1 and 2 threads", i)
		}
	}
	for _, s := range a.Sources {
		if s.Crops == 0 || len(s.Parent) != 1 || len(s.Model) != 1 || math.IsNaN(s.Parent[0]) {
			t.Fatalf("source %s: %d crops, parent %v, model %v", s.Name, s.Crops, s.Parent, s.Model)
		}
	}
	if !a.Sources[0].Guard || a.Sources[1].Guard || a.Sources[1].Weight != 2 {
		t.Errorf("sources %+v", a.Sources)
	}
	dir := filepath.Join(t.TempDir(), "general")
	if err := SaveMixture(context.Background(), dir, parent, a, MixInfo{Name: "niiv-test-general", Data: []string{"stack.npy", "tall.npy"}}); err != nil {
		t.Fatal(err)
	}
	m, err := reconstruct.LoadModel(dir, reconstruct.ModelOptions{Threads: 1})
	if err != nil {
		t.Fatalf("the saved model does not load: %v", err)
	}
	m.Close()
	var card struct {
		Name     string `json:"name"`
		Training struct {
			Sources []struct {
				Name string `json:"name"`
				Data string `json:"data"`
			} `json:"sources"`
			Steps int            `json:"steps"`
			From  map[string]any `json:"initialised_from"`
		} `json:"training"`
	}
	b2, err := os.ReadFile(filepath.Join(dir, "card.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b2, &card); err != nil {
		t.Fatal(err)
	}
	if card.Name != "niiv-test-general" || len(card.Training.Sources) != 2 || card.Training.Sources[1].Data != "tall.npy" || card.Training.Steps != 6 || card.Training.From["model"] != "niiv-tiny-random" {
		t.Errorf("card: %s", b2)
	}
	// A second run may replace it; a folder that is no model may not be.
	if err := SaveMixture(context.Background(), dir, parent, a, MixInfo{}); err != nil {
		t.Errorf("replacing the trained model: %v", err)
	}
	other := t.TempDir()
	if err := SaveMixture(context.Background(), other, parent, a, MixInfo{}); err == nil {
		t.Error("SaveMixture replaced a folder that holds no model")
	}
}

// TestTrainMixtureGuard wrecks the weights: no checkpoint may be kept, the
// parent's weights come back.
func TestTrainMixtureGuard(t *testing.T) {
	p := openTiny(t, reconstruct.ModelOptions{Threads: 2})
	res, err := TrainMixture(context.Background(), p, mixSources(t), MixOptions{
		Factors: []int{4}, CheckFactors: []int{4}, Crop: 16, Batch: 2, Steps: 4, Seconds: -1, CheckEvery: 2, LR: 1, MinLR: 1, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.KeptParent || res.BestStep != 0 {
		t.Fatalf("kept parent %v at step %d (score %.3f)", res.KeptParent, res.BestStep, res.Score)
	}
	for i, l := range res.Decoder.Layers {
		if !equal(l.W, p.Decoder.Layers[i].W) || !equal(l.B, p.Decoder.Layers[i].B) {
			t.Fatalf("layer %d is not the parent's", i)
		}
	}
	for _, s := range res.Sources {
		if s.Model[0] != s.Parent[0] {
			t.Errorf("source %s: model %.3f, parent %.3f: the checks of the kept weights should be the parent's", s.Name, s.Model[0], s.Parent[0])
		}
	}
}

func TestMixScore(t *testing.T) {
	nan := math.NaN()
	parent := [][]float64{{30, 25}, {20, 18}, {40, nan}}
	tests := []struct {
		name         string
		c            [][]float64
		guarded      []bool
		score, guard float64
	}{
		{"same", parent, []bool{true, false, false}, 0, 0},
		{"mean of factors, then sources", [][]float64{{31, 25}, {20, 19}, {43, nan}}, []bool{false, false, false}, (0.5 + 0.5 + 3) / 3, nan},
		{"guarded source loses while the mean gains", [][]float64{{29.8, 24.8}, {21, 19}, {42, nan}}, []bool{true, false, false}, (-0.2 + 1 + 2) / 3, -0.2},
		{"guard is the mean of guarded sources", [][]float64{{29.8, 24.8}, {20.4, 18.4}, {40, nan}}, []bool{true, true, false}, (-0.2 + 0.4) / 3, 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, g := mixScore(parent, tc.c, tc.guarded)
			if math.Abs(s-tc.score) > 1e-9 || !(math.Abs(g-tc.guard) <= 1e-9 || (math.IsNaN(g) && math.IsNaN(tc.guard))) {
				t.Fatalf("score %v guard %v, want %v and %v", s, g, tc.score, tc.guard)
			}
		})
	}
}

func TestMixOptionsRejected(t *testing.T) {
	p := openTiny(t, reconstruct.ModelOptions{Threads: 1})
	src := mixSources(t)
	tests := []struct {
		name string
		opt  MixOptions
		want string
	}{
		{"no budget", MixOptions{Seconds: -1}, "no time limit and no step limit"},
		{"NaN lr", MixOptions{LR: math.NaN(), Steps: 1}, "learning rates"},
		{"min above lr", MixOptions{LR: 1e-4, MinLR: 1e-3, Steps: 1}, "above the learning rate"},
		{"factor too big", MixOptions{Factors: []int{16}, Crop: 16, Steps: 1}, "factor 16"},
		{"negative batch", MixOptions{Batch: -1, Steps: 1}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TrainMixture(context.Background(), p, src, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := TrainMixture(context.Background(), p, nil, MixOptions{Steps: 1}); err == nil {
		t.Error("no sources accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := TrainMixture(ctx, p, src, MixOptions{Crop: 16, Factors: []int{4}, Steps: 3, Seconds: -1}); err == nil {
		t.Error("a cancelled run returned a model")
	}
}
