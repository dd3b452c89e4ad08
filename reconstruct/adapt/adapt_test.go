package adapt

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

var tinyModel = filepath.Join("..", "..", "testdata", "tiny-model")

func needRuntime(t testing.TB) {
	t.Helper()
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found (run scripts/setup.sh or set %s): %v", reconstruct.LibraryEnv, err)
	}
}

func openTiny(t testing.TB, opt reconstruct.ModelOptions) *Parent {
	t.Helper()
	needRuntime(t)
	p, err := OpenParent(tinyModel, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// codedVolume returns a float32 volume whose voxel (z, y, x) holds its own
// flat index, so every value read tells where it came from.
func codedVolume(t testing.TB, s volume.Shape) *volume.Volume {
	t.Helper()
	data := make([]float32, s.Len())
	for i := range data {
		data[i] = float32(i)
	}
	v, err := volume.New(s, data, volume.Unknown())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSamplerReadsOnlyXYPlanes decodes every target value of many crops
// of a coded volume back to its voxel: all come from the crop's own xy
// plane and square, arranged by one of the 8 symmetries, and the input is
// the target's rows average-pooled by the factor.
func TestSamplerReadsOnlyXYPlanes(t *testing.T) {
	s := volume.Shape{Z: 5, Y: 20, X: 23}
	vol := codedVolume(t, s)
	cases := []struct{ factor, size int }{{4, 16}, {5, 20}, {2, 4}}
	for _, tc := range cases {
		smp, err := newSampler(VolumeXY{vol}, tc.factor, tc.size, 0, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		n := tc.size
		seen := map[[2]int]bool{}
		for k := 0; k < 200; k++ {
			c, err := smp.next()
			if err != nil {
				t.Fatal(err)
			}
			seen[[2]int{c.rot, b2i(c.flip)}] = true
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					idx := int(c.target[i*n+j])
					z, y, x := idx/(s.Y*s.X), idx/s.X%s.Y, idx%s.X
					if z != c.z {
						t.Fatalf("crop %d pixel (%d,%d) comes from plane z=%d, crop is of plane %d", k, i, j, z, c.z)
					}
					jj := j
					if c.flip {
						jj = n - 1 - j
					}
					r, q := rot90Source(i, jj, n, c.rot)
					if y != c.y0+r || x != c.x0+q {
						t.Fatalf("crop %d pixel (%d,%d) is voxel y=%d x=%d, want y=%d x=%d", k, i, j, y, x, c.y0+r, c.x0+q)
					}
				}
			}
			for r := 0; r < n/tc.factor; r++ {
				for j := 0; j < n; j++ {
					var sum float64
					for q := 0; q < tc.factor; q++ {
						sum += float64(c.target[(r*tc.factor+q)*n+j])
					}
					if got := float64(c.low[r*n+j]); math.Abs(got-sum/float64(tc.factor)) > 1e-3 {
						t.Fatalf("low[%d][%d] = %v, want the mean of its rows %v", r, j, got, sum/float64(tc.factor))
					}
				}
			}
		}
		if len(seen) != 8 {
			t.Errorf("factor %d: %d of the 8 symmetries drawn", tc.factor, len(seen))
		}
	}
	if _, err := newSampler(VolumeXY{vol}, 4, 24, 0, 1, 1); err == nil {
		t.Error("a crop larger than the planes was accepted")
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recordingXY is an XYReader that records every read.
type recordingXY struct {
	XYReader
	mu    sync.Mutex
	reads []int // z of each read
}

func (r *recordingXY) ReadXY(z, y0, x0, size int, dst []float32) error {
	r.mu.Lock()
	r.reads = append(r.reads, z)
	r.mu.Unlock()
	return r.XYReader.ReadXY(z, y0, x0, size, dst)
}

// testVolume is an anisotropic volume: the EM sample pooled along z.
func testVolume(t testing.TB, factor int) *volume.Volume {
	t.Helper()
	v, err := volume.PoolZ(sample.EM(sample.Options{Size: 32}), factor)
	if err != nil {
		t.Fatal(err)
	}
	v.Name = "sample-32-pooled"
	return v
}

// TestAdaptReadsOnlyXY runs a whole adaptation on an instrumented reader:
// the training data comes from xy planes only, one read per crop.
func TestAdaptReadsOnlyXY(t *testing.T) {
	p := openTiny(t, reconstruct.ModelOptions{Threads: 2})
	vol := testVolume(t, 4)
	rec := &recordingXY{XYReader: VolumeXY{vol}}
	opt := Options{Steps: 3, Seconds: -1, Batch: 4, Pool: 6, Points: 64}
	res, err := adapt(context.Background(), p, rec, vol, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 3 {
		t.Errorf("%d steps, want 3", res.Steps)
	}
	if len(res.HeldOut) != 1 || res.ValCrops < 1 {
		t.Fatalf("held out %v (%d crops), want one plane of the 8", res.HeldOut, res.ValCrops)
	}
	if want := EvalCrops + res.ValCrops + 6; len(rec.reads) != want {
		t.Fatalf("%d xy reads, want %d (the evaluation crops, the held-out crops and the pool)", len(rec.reads), want)
	}
	// Training and its evaluation never read a held-out plane; the
	// lateral check reads nothing else.
	for i, z := range rec.reads {
		held := slices.Contains(res.HeldOut, z)
		if inVal := i >= EvalCrops && i < EvalCrops+res.ValCrops; held != inVal {
			t.Errorf("read %d of plane %d: held out %v, lateral check %v", i, z, held, inVal)
		}
	}
	for _, z := range rec.reads {
		if z < 0 || z >= vol.Shape().Z {
			t.Errorf("read of xy plane %d outside the volume", z)
		}
	}
}

// TestAdaptDeterministic checks that a seed and a number of steps give the
// same weights whatever the number of threads, and another seed others.
func TestAdaptDeterministic(t *testing.T) {
	vol := testVolume(t, 4)
	run := func(threads int, seed uint64) *Result {
		p := openTiny(t, reconstruct.ModelOptions{Threads: threads})
		res, err := Adapt(context.Background(), p, vol, Options{Steps: 4, Seconds: -1, Batch: 3, Points: 100, Threads: threads, Seed: seed, LR: 1e-2, HoldOut: -1})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, c := run(1, 5), run(3, 5), run(2, 6)
	for i := range a.Decoder.Layers {
		if !equal(a.Decoder.Layers[i].W, b.Decoder.Layers[i].W) || !equal(a.Decoder.Layers[i].B, b.Decoder.Layers[i].B) {
			t.Fatalf("layer %d differs between 1 and 3 threads", i)
		}
	}
	if equal(a.Decoder.Layers[0].W, c.Decoder.Layers[0].W) {
		t.Error("another seed gave the same weights")
	}
	if a.Loss != b.Loss || a.ParentLoss != b.ParentLoss {
		t.Errorf("losses differ: %v/%v and %v/%v", a.Loss, a.ParentLoss, b.Loss, b.ParentLoss)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSaveRoundTrip adapts the tiny model, saves it, and loads it back:
// the model loads (its test tensors pass), ONNX Runtime's decoder.onnx
// reproduces the Go forward pass to 1e-5, the encoder is unchanged and the
// card records the adaptation.
func TestSaveRoundTrip(t *testing.T) {
	for _, train := range []string{TrainDecoder, TrainWhole} {
		t.Run(train, func(t *testing.T) { testSaveRoundTrip(t, train) })
	}
}

func testSaveRoundTrip(t *testing.T, train string) {
	p := openTiny(t, reconstruct.ModelOptions{Threads: 2})
	vol := testVolume(t, 4)
	res, err := Adapt(context.Background(), p, vol, Options{Steps: 5, Seconds: -1, Batch: 4, LR: 1e-2, Seed: 2, Train: train, HoldOut: -1})
	if err != nil {
		t.Fatal(err)
	}
	if (res.Encoder != nil) != (train == TrainWhole) {
		t.Fatalf("trained %s: encoder returned %v", train, res.Encoder != nil)
	}
	out := filepath.Join(t.TempDir(), "adapted")
	if err := Save(context.Background(), out, p, res); err != nil {
		t.Fatal(err)
	}
	for _, ortDecoder := range []bool{false, true} {
		m, err := reconstruct.LoadModel(out, reconstruct.ModelOptions{ORTDecoder: ortDecoder})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if !ortDecoder && (m.Decoder != "native" || m.Note != "") {
			t.Errorf("adapted model: %s decoder, note %q", m.Decoder, m.Note)
		}
		if !ortDecoder {
			continue
		}
		// ONNX Runtime on the written graph against the Go forward pass.
		rng := rand.New(rand.NewPCG(4, 4))
		const h, w = 5, 9
		lat, low := randomSlice(rng, 4*h*w, 1), randomSlice(rng, h*w, 0.5)
		coords := make([]float32, 2*300)
		for i := range coords {
			coords[i] = float32(rng.Float64()*2.2 - 1.1)
		}
		got, err := m.DecodeONNX(context.Background(), lat, low, h, w, coords)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := newNet(res.Decoder)
		want := n.predict(lat, low, h, w, coords)
		var worst float64
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
		}
		if worst > 1e-5 {
			t.Errorf("ONNX Runtime and the Go forward pass differ by %g", worst)
		}
		// The parent's decoder gives other values: the weights changed.
		parent, _ := newNet(p.Decoder)
		if old := parent.predict(lat, low, h, w, coords); equal(old, want) {
			t.Error("adaptation did not change the decoder")
		}
	}
	enc, _ := os.ReadFile(filepath.Join(out, "encoder.onnx"))
	if train == TrainDecoder && string(enc) != string(p.Files["encoder.onnx"]) {
		t.Error("encoder.onnx changed")
	}
	if train == TrainWhole {
		// ONNX Runtime on the written encoder.onnx against the Go forward
		// pass of the trained encoder.
		m, err := reconstruct.LoadModel(out, reconstruct.ModelOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		rng := rand.New(rand.NewPCG(7, 7))
		const h, w = 6, 11
		low := randomSlice(rng, h*w, 0.5)
		got, err := m.Encode(context.Background(), low, 1, h, w)
		if err != nil {
			t.Fatal(err)
		}
		n := newEncNet(res.Encoder)
		wk := n.newWork()
		n.forward(n.pack(nil), low, h, w, wk)
		var worst float64
		for f := 0; f < n.feats; f++ {
			for i := 0; i < h*w; i++ {
				worst = max(worst, math.Abs(float64(got[f*h*w+i]-wk.latent[i*n.ld()+f])))
			}
		}
		if worst > 1e-5 {
			t.Errorf("ONNX Runtime on the written encoder and the Go forward pass differ by %g", worst)
		}
		if string(enc) == string(p.Files["encoder.onnx"]) {
			t.Error("whole-network training left encoder.onnx as it was")
		}
	}
	var card struct {
		Name       string `json:"name"`
		Adaptation struct {
			Parent struct {
				SHA256 map[string]string `json:"sha256"`
			} `json:"parent"`
			Volume struct {
				Name  string `json:"name"`
				Shape []int  `json:"shape"`
			} `json:"volume"`
			Steps   int     `json:"steps"`
			Seconds float64 `json:"seconds"`
			Loss    float64 `json:"loss"`
		} `json:"adaptation"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "card.json"))
	if err := json.Unmarshal(b, &card); err != nil {
		t.Fatal(err)
	}
	a := card.Adaptation
	if !strings.HasSuffix(card.Name, "-adapted") || a.Steps != 5 || a.Loss <= 0 || a.Volume.Name != vol.Name || len(a.Volume.Shape) != 3 || a.Parent.SHA256["decoder.onnx"] != sha(p.Files["decoder.onnx"]) {
		t.Errorf("card: %s", b)
	}
	// Saving again over an adapted model replaces it; over anything else
	// fails.
	if err := Save(context.Background(), out, p, res); err != nil {
		t.Errorf("replacing an adapted model: %v", err)
	}
	other := t.TempDir()
	if err := Save(context.Background(), other, p, res); err == nil {
		t.Error("saved over a folder that is not an adapted model")
	}
}

// TestCancelWritesNothing cancels during training and before saving.
func TestCancelWritesNothing(t *testing.T) {
	p := openTiny(t, reconstruct.ModelOptions{Threads: 1})
	vol := testVolume(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt := Options{Steps: 1000, Seconds: -1, Batch: 2, Progress: func(pr Progress) {
		if pr.Step == 2 {
			cancel()
		}
	}}
	if _, err := Adapt(ctx, p, vol, opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled adaptation returned %v", err)
	}
	res, err := Adapt(context.Background(), p, vol, Options{Steps: 1, Seconds: -1, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	if err := Save(ctx, filepath.Join(parent, "out"), p, res); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled save returned %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("a cancelled save left %v", ents)
	}
}

// TestDefaultDirRemembered checks the default folder beside the volume
// and that a model saved there is found again for the same voxels only.
func TestDefaultDirRemembered(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vol.npy")
	if err := os.WriteFile(path, nil, 0o644); err != nil { // on disk: the model goes beside it
		t.Fatal(err)
	}
	isolateCache(t)
	// A volume with no file (the bundled sample) is kept in the user cache.
	if got := DefaultDir("sample", "niiv-tiny-model"); !strings.HasPrefix(got, os.Getenv("XDG_CACHE_HOME")) {
		t.Errorf("DefaultDir(sample) = %s, want a folder in the user cache", got)
	}
	got := DefaultDir(path, "niiv-tiny-model")
	if want := filepath.Join(dir, "vol.npy.adapted-tiny-model"); got != want {
		t.Errorf("DefaultDir = %s, want %s", got, want)
	}
	p := openTiny(t, reconstruct.ModelOptions{Threads: 1})
	vol := testVolume(t, 4)
	if _, ok := Remembered(path, vol, p.Name()); ok {
		t.Error("remembered a model never saved")
	}
	res, err := Adapt(context.Background(), p, vol, Options{Steps: 1, Seconds: -1, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(context.Background(), DefaultDir(path, p.Name()), p, res); err != nil {
		t.Fatal(err)
	}
	if d, ok := Remembered(path, vol, p.Name()); !ok || d != got {
		t.Errorf("Remembered = %q, %v; want %q", d, ok, got)
	}
	other := testVolume(t, 2)
	if _, ok := Remembered(path, other, p.Name()); ok {
		t.Error("remembered a model adapted to other voxels")
	}
}

// isolateCache points the user cache at a temporary folder so adapted models
// never land in the real one, keeping ONNX Runtime (found through the cache)
// reachable.
func isolateCache(t *testing.T) {
	t.Helper()
	if lib, err := reconstruct.FindLibrary(); err == nil {
		t.Setenv(reconstruct.LibraryEnv, lib)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

// TestNeverWorseThanParent: when no checkpoint beats the parent on the
// held-out planes (a learning rate that wrecks the network, fine-tuned or
// trained from random weights), the parent's weights come back.
func TestNeverWorseThanParent(t *testing.T) {
	vol := testVolume(t, 4)
	tests := []struct {
		name string
		opt  Options
	}{
		{"whole, wrecked", Options{Train: TrainWhole, Steps: 3, Seconds: -1, Batch: 2, Points: 64, LR: 1}},
		{"scratch, wrecked", Options{Train: TrainScratch, Steps: 3, Seconds: -1, Batch: 2, Points: 64, LR: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openTiny(t, reconstruct.ModelOptions{Threads: 2})
			res, err := Adapt(context.Background(), p, vol, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.HeldOut) == 0 || math.IsNaN(res.LateralParent) {
				t.Fatalf("no lateral check: held out %v", res.HeldOut)
			}
			if !res.KeptParent || res.BestStep != 0 || res.Encoder != nil || res.Lateral != res.LateralParent {
				t.Fatalf("kept parent %v, best step %d, encoder %v, lateral %.3f (parent %.3f)", res.KeptParent, res.BestStep, res.Encoder != nil, res.Lateral, res.LateralParent)
			}
			for i, l := range res.Decoder.Layers {
				if !equal(l.W, p.Decoder.Layers[i].W) || !equal(l.B, p.Decoder.Layers[i].B) {
					t.Fatalf("layer %d is not the parent's", i)
				}
			}
			if !strings.Contains(res.Summary(), "parent kept") {
				t.Errorf("summary %q does not say the parent was kept", res.Summary())
			}
		})
	}
}
