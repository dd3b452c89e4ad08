package reconstruct

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/volume"
)

// needRuntime skips the test when the ONNX Runtime library is missing.
func needRuntime(t testing.TB) {
	t.Helper()
	if _, err := FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found (run scripts/setup.sh or set %s): %v", LibraryEnv, err)
	}
}

// modelDirs returns the test model and every model shipped in assets.
func modelDirs(t testing.TB) []string {
	dirs := []string{filepath.Join("..", "testdata", "tiny-model")}
	shipped, _ := filepath.Glob(filepath.Join("..", "assets", "models", "*", "card.json"))
	for _, c := range shipped {
		dirs = append(dirs, filepath.Dir(c))
	}
	return dirs
}

func loadTest(t testing.TB, dir string, opt ModelOptions) *Model {
	t.Helper()
	m, err := LoadModel(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func readNPYFile(t testing.TB, path string) ([]float32, []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, s, err := tensor.DecodeNPY(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v, s
}

// TestExactness checks the Go/ORT outputs against every model's test
// tensors (written by the training package from PyTorch): the encoder, the
// ONNX decoder and the native decoder, each within the card's tolerance.
func TestExactness(t *testing.T) {
	needRuntime(t)
	ctx := context.Background()
	for _, dir := range modelDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadTest(t, dir, ModelOptions{Device: "cpu"})
			if m.Decoder != "native" || m.Note != "" {
				t.Fatalf("decoder %s, note %q; want the native decoder without notes", m.Decoder, m.Note)
			}
			tt := m.Card.TestTensors
			tol := tt.Tolerance
			low, ls := readNPYFile(t, filepath.Join(dir, tt.Lowres))
			lat, _ := readNPYFile(t, filepath.Join(dir, tt.Latent))
			coords, _ := readNPYFile(t, filepath.Join(dir, tt.Coords))
			want, _ := readNPYFile(t, filepath.Join(dir, tt.Values))
			h, w := ls[2], ls[3]
			gotLat, err := m.Encode(ctx, low, 1, h, w)
			if err != nil {
				t.Fatal(err)
			}
			onnxVals, err := m.DecodeONNX(ctx, lat, low, h, w, coords)
			if err != nil {
				t.Fatal(err)
			}
			nativeVals, err := m.DecodePoints(ctx, lat, low, h, w, coords)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				name string
				got  []float32
				want []float32
			}{
				{"encoder vs test_latent", gotLat, lat},
				{"ONNX decoder vs test_values", onnxVals, want},
				{"native decoder vs test_values", nativeVals, want},
			}
			for _, c := range checks {
				d := tensor.MaxAbsDiff(c.got, c.want)
				t.Logf("%s: max |error| %.3g", c.name, d)
				if !(d <= tol) {
					t.Errorf("%s: max |error| %.3g > %g", c.name, d, tol)
				}
			}
		})
	}
}

// TestNativeGridMatchesONNX decodes regular grids (the viewer's case: full
// plane, zoomed region, region beyond the border) natively and through the
// ONNX decoder graph.
func TestNativeGridMatchesONNX(t *testing.T) {
	needRuntime(t)
	ctx := context.Background()
	for _, dir := range modelDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadTest(t, dir, ModelOptions{Device: "cpu"})
			h, w := 6, 20
			rng := rand.New(rand.NewPCG(1, 2))
			low := make([]float32, h*w)
			for i := range low {
				low[i] = rng.Float32()
			}
			lat, err := m.Encode(ctx, low, 1, h, w)
			if err != nil {
				t.Fatal(err)
			}
			p := m.planeFromLatent(lat, low, h, w)
			regions := []struct{ r0, r1, c0, c1 float64 }{
				{0, 6, 0, 20}, {1.3, 2.9, 4.1, 9.7}, {-1, 7, -2, 23},
			}
			for _, g := range regions {
				H, W := 37, 53
				rows, cols := gridCoords(g.r0, g.r1, H, h), gridCoords(g.c0, g.c1, W, w)
				got := make([]float32, H*W)
				if err := m.mlp.decodeGrid(ctx, p, rows, cols, got, 2); err != nil {
					t.Fatal(err)
				}
				coords := make([]float32, 0, 2*H*W)
				for _, r := range rows {
					for _, c := range cols {
						coords = append(coords, float32(r), float32(c))
					}
				}
				want, err := m.DecodeONNX(ctx, lat, low, h, w, coords)
				if err != nil {
					t.Fatal(err)
				}
				if d := tensor.MaxAbsDiff(got, want); !(d <= 1e-4) {
					t.Errorf("region %+v: native grid vs ONNX max |error| %.3g", g, d)
				}
			}
		})
	}
}

func TestLoadModelErrors(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	src := filepath.Join("..", "testdata", "tiny-model")
	for _, f := range []string{"card.json", "decoder.onnx"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	enc, _ := os.ReadFile(filepath.Join(src, "encoder.onnx"))
	enc[len(enc)/2] ^= 0xff
	os.WriteFile(filepath.Join(dir, "encoder.onnx"), enc, 0o644)
	tests := []struct {
		name, ref string
	}{
		{"corrupt", dir},
		{"missing", filepath.Join(dir, "nope")},
		{"unknown embedded", "niiv-nothing"},
	}
	for _, tc := range tests {
		if _, err := LoadModel(tc.ref, ModelOptions{}); err == nil {
			t.Errorf("%s: no error", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

// TestDeviceFallback loads the test model on every device: each either
// runs there or falls back to the CPU with a one-line reason.
func TestDeviceFallback(t *testing.T) {
	needRuntime(t)
	for _, d := range Devices {
		m := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: d})
		t.Logf("%s: provider %s, note %q", d, m.Provider, m.Note)
		switch {
		case m.Provider == "":
			t.Errorf("%s: no provider reported", d)
		case m.Provider == "cpu" && d != "cpu" && !strings.Contains(m.Note, "using CPU"):
			t.Errorf("%s: fell back to the CPU without saying why: %q", d, m.Note)
		case strings.Contains(m.Note, "\n"):
			t.Errorf("%s: note is not one line: %q", d, m.Note)
		}
	}
	if _, err := LoadModel(filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "quantum"}); err == nil {
		t.Error("unknown device: no error")
	}
}

// TestNiivRender renders every plane orientation with the tiny model and
// checks that XZ output at integer factor reproduces a direct grid decode,
// and that XY rows at an acquired z match the xz decodes.
func TestNiivRender(t *testing.T) {
	needRuntime(t)
	m := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "cpu"})
	vol := rampVolume(t, volume.Shape{Z: 5, Y: 9, X: 11}, 7, 3, 1)
	n := NewNiiv(m, NewCache(1<<20))
	ctx := context.Background()
	xz, err := n.Render(ctx, FullPlane(vol, volume.XZ, 4, 11, 20))
	if err != nil {
		t.Fatal(err)
	}
	// XY at z = 2.3 with one output row per y and column per x: row y must
	// equal the xz plane y decoded at that z.
	z := 2.3
	xy, err := n.Render(ctx, Request{Vol: vol, Axis: volume.XY, Index: z, R0: 0, R1: 9, C0: 0, C1: 11, W: 11, H: 9})
	if err != nil {
		t.Fatal(err)
	}
	for _, y := range []int{0, 4, 8} {
		row, err := n.Render(ctx, Request{Vol: vol, Axis: volume.XZ, Index: float64(y), R0: z, R1: z + 1, C0: 0, C1: 11, W: 11, H: 1})
		if err != nil {
			t.Fatal(err)
		}
		for x := 0; x < 11; x++ {
			if d := xy.At(x, y) - row.At(x, 0); d > 1e-3 || d < -1e-3 {
				t.Fatalf("xy(%d,%d) = %v, xz row = %v", x, y, xy.At(x, y), row.At(x, 0))
			}
		}
	}
	if xz.W != 11 || xz.H != 20 {
		t.Fatalf("size %d×%d", xz.W, xz.H)
	}
	if st := n.Cache().Stats(); st.Entries == 0 || st.Bytes == 0 {
		t.Errorf("cache empty after renders: %+v", st)
	}
	// Cancellation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.Render(cctx, FullPlane(vol, volume.YZ, 2, 9, 20)); err == nil {
		t.Error("cancelled render: no error")
	}
}

func TestKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{8, 16, 41, 64, 256} {
		rows := 24
		a := make([]float32, rows*k)
		for i := range a {
			a[i] = rng.Float32()*2 - 1
		}
		w := make([]float32, k*32)
		for i := range w {
			w[i] = rng.Float32()*2 - 1
		}
		b := make([]float32, 32)
		for i := range b {
			b[i] = rng.Float32() - 0.5
		}
		l := packLayer(w, k, 32, b, k, 32)
		for _, relu := range []bool{false, true} {
			got, want := make([]float32, rows*40), make([]float32, rows*40)
			for p := 0; p < 2; p++ {
				gemmPanel(a, rows, k, l.w[p*k*panelW:], l.b[p*panelW:], got[p*panelW:], 40, relu)
				gemmPanelGo(a, rows, k, l.w[p*k*panelW:], l.b[p*panelW:], want[p*panelW:], 40, relu)
			}
			if d := tensor.MaxAbsDiff(got, want); d > 1e-5*float64(k) {
				t.Errorf("gemm k=%d relu=%v: max diff %g (kernels %s)", k, relu, d, Kernels())
			}
		}
	}
	for _, k := range []int{16, 64, 256} {
		a := make([]float32, 7*k)
		w := make([]float32, k)
		for i := range a {
			a[i] = rng.Float32() - 0.5
		}
		for i := range w {
			w[i] = rng.Float32() - 0.5
		}
		got, want := make([]float32, 7), make([]float32, 7)
		gemv(a, 7, k, w, got)
		gemvGo(a, 7, k, w, want)
		if d := tensor.MaxAbsDiff(got, want); d > 1e-5*float64(k) {
			t.Errorf("gemv k=%d: max diff %g", k, d)
		}
	}
	x, y, c := make([]float32, 48), make([]float32, 48), make([]float32, 48)
	for i := range x {
		x[i], y[i], c[i] = rng.Float32()-0.5, rng.Float32()-0.5, rng.Float32()-0.5
	}
	for _, relu := range []bool{false, true} {
		got, want := make([]float32, 48), make([]float32, 48)
		blend(got, x, y, c, 0.3, 0.7, relu)
		blendGo(want, x, y, c, 0.3, 0.7, relu)
		if d := tensor.MaxAbsDiff(got, want); d > 1e-6 {
			t.Errorf("blend relu=%v: max diff %g", relu, d)
		}
	}
}

// TestIsotropic checks the whole-volume path against per-plane renders, for
// the niiv method (parallel workers, no cache) and a classical one.
func TestIsotropic(t *testing.T) {
	vol := rampVolume(t, volume.Shape{Z: 5, Y: 9, X: 11}, 7, 3, 1)
	vol.Voxel = volume.Voxel{Z: 40, Y: 10, X: 10, Unit: "nm", Known: true}
	methods := []Method{Linear}
	if _, err := FindLibrary(); err == nil {
		// Two threads: one encoder per worker; one thread: batches in turn.
		m := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "cpu", Threads: 2})
		m1 := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "cpu", Threads: 1})
		methods = append(methods, NewNiiv(m, NewCache(1<<20)), NewNiiv(m1, NewCache(1<<20)))
	}
	ctx := context.Background()
	for _, m := range methods {
		calls := 0
		out, err := Isotropic(ctx, m, vol, VolumeOptions{Axes: []volume.Axis{volume.XZ, volume.YZ}, Progress: func(d, n int) { calls++ }})
		if err != nil {
			t.Fatal(err)
		}
		if s := out.Shape(); s != (volume.Shape{Z: 20, Y: 9, X: 11}) || out.Voxel.Z != 10 {
			t.Fatalf("%s: shape %v voxel %v", m.Name(), s, out.Voxel)
		}
		if calls != 9+11 {
			t.Errorf("%s: %d progress calls, want 20", m.Name(), calls)
		}
		xz, _ := m.Render(ctx, FullPlane(vol, volume.XZ, 3, 11, 20))
		yz, _ := m.Render(ctx, FullPlane(vol, volume.YZ, 6, 9, 20))
		for z := 0; z < 20; z++ {
			want := (xz.At(6, z) + yz.At(3, z)) / 2
			if got := float32(out.At(z, 3, 6)); got-want > 1e-4 || want-got > 1e-4 {
				t.Fatalf("%s: (z=%d,y=3,x=6) = %v, want %v", m.Name(), z, got, want)
			}
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for _, m := range methods {
		if _, err := Isotropic(cctx, m, vol, VolumeOptions{}); err == nil {
			t.Errorf("%s: cancelled: no error", m.Name())
		}
	}
}

// TestXYCroppedEncodeExact checks that xy planes decoded from xz planes
// encoded only around the needed rows and columns (grown by the encoder's
// receptive field) equal those decoded from fully encoded planes.
func TestXYCroppedEncodeExact(t *testing.T) {
	needRuntime(t)
	m := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "cpu"})
	rng := rand.New(rand.NewPCG(7, 8))
	s := volume.Shape{Z: 24, Y: 5, X: 40}
	data := make([]float32, s.Len())
	for i := range data {
		data[i] = rng.Float32() * 100
	}
	vol, _ := volume.New(s, data, volume.Unknown())
	ctx := context.Background()
	reqs := []Request{
		{Vol: vol, Axis: volume.XY, Index: 9.3, R0: 0, R1: 5, C0: 12, C1: 21, W: 17, H: 5},
		{Vol: vol, Axis: volume.XY, Index: 12.6, R0: 0, R1: 5, C0: 13, C1: 22, W: 17, H: 5},
		{Vol: vol, Axis: volume.XY, Index: 0.1, R0: 1, R1: 4, C0: 0, C1: 6, W: 9, H: 7},
		{Vol: vol, Axis: volume.XY, Index: 23, R0: 0, R1: 5, C0: 30, C1: 40, W: 10, H: 5},
	}
	scrolled := NewNiiv(m, NewCache(1<<20)) // one cache for all: scrolling z
	for _, req := range reqs {
		cropped := NewNiiv(m, NewCache(1<<20))
		got, err := cropped.Render(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got2, err := scrolled.Render(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := cropped.cache.get(cacheKey{vol, volume.XZ, 2, m})
		if p == nil || p.h*p.w >= s.Z*s.X {
			t.Fatalf("index %g: plane not cropped", req.Index)
		}
		full := NewNiiv(m, NewCache(1<<20))
		for y := 0; y < s.Y; y++ {
			if _, err := full.Render(ctx, FullPlane(vol, volume.XZ, float64(y), 4, 4)); err != nil {
				t.Fatal(err)
			}
		}
		want, err := full.Render(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if d := tensor.MaxAbsDiff(got.Pix, want.Pix); d > 1e-4 {
			t.Errorf("index %g: cropped vs full encode differ by %g", req.Index, d)
		}
		if d := tensor.MaxAbsDiff(got2.Pix, want.Pix); d > 1e-4 {
			t.Errorf("index %g after other z: cropped vs full encode differ by %g", req.Index, d)
		}
	}
}

func TestPrefetch(t *testing.T) {
	needRuntime(t)
	m := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "cpu"})
	vol := rampVolume(t, volume.Shape{Z: 5, Y: 9, X: 11}, 7, 3, 1)
	n := NewNiiv(m, NewCache(1<<20))
	ctx := context.Background()
	if err := n.Prefetch(ctx, vol, volume.XZ, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	if st := n.Cache().Stats(); st.Entries != 9 {
		t.Fatalf("cache after prefetch: %+v", st)
	}
	before := n.Cache().Stats().Misses
	if _, err := n.Render(ctx, FullPlane(vol, volume.XY, 2.5, 11, 9)); err != nil {
		t.Fatal(err)
	}
	if st := n.Cache().Stats(); st.Misses != before {
		t.Errorf("xy render after prefetch missed the cache: %+v", st)
	}
	for _, bad := range []struct {
		axis volume.Axis
		idx  []int
	}{{volume.XY, []int{0}}, {volume.XZ, []int{9}}} {
		if err := n.Prefetch(ctx, vol, bad.axis, bad.idx); err == nil {
			t.Errorf("prefetch %v %v: no error", bad.axis, bad.idx)
		}
	}
}

func TestInt8Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, k := range []int{16, 64, 256} {
		rows := 12
		a := make([]float32, rows*k)
		for i := range a {
			a[i] = max(0, rng.Float32()*3-1) // ReLU outputs, some zeros
		}
		clear(a[5*k : 6*k]) // an all-zero row
		qa, qg := make([]uint8, rows*k), make([]uint8, rows*k)
		ra, rg := make([]float32, rows), make([]float32, rows)
		quantizeRows(a, rows, k, qa, ra)
		quantizeRowsGo(a, rows, k, qg, rg)
		for i := range qa {
			if qa[i] != qg[i] {
				t.Fatalf("k=%d: q[%d] = %d, Go %d", k, i, qa[i], qg[i])
			}
		}
		if d := tensor.MaxAbsDiff(ra, rg); d != 0 {
			t.Fatalf("k=%d: row scales differ by %g", k, d)
		}
		w := make([]float32, k*32)
		for i := range w {
			w[i] = rng.Float32()*2 - 1
		}
		b := make([]float32, 32)
		for i := range b {
			b[i] = rng.Float32() - 0.5
		}
		l := packLayer(w, k, 32, b, k, 32)
		ql := quantize(&l)
		got, want, ref := make([]float32, rows*32), make([]float32, rows*32), make([]float32, rows*32)
		for p := 0; p < 2; p++ {
			gemmPanelInt8(qa, rows, k, ql.w[p*k*panelW:], ra, ql.cs[p*panelW:], ql.b[p*panelW:], got[p*panelW:], 32, true)
			gemmPanelInt8Go(qa, rows, k, ql.w[p*k*panelW:], ra, ql.cs[p*panelW:], ql.b[p*panelW:], want[p*panelW:], 32, true)
			gemmPanelGo(a, rows, k, l.w[p*k*panelW:], l.b[p*panelW:], ref[p*panelW:], 32, true)
		}
		if d := tensor.MaxAbsDiff(got, want); d > 1e-6 {
			t.Errorf("k=%d: int8 kernel vs Go: %g (kernels %s)", k, d, Kernels())
		}
		if d := tensor.MaxAbsDiff(got, ref); d > 0.01*math.Sqrt(float64(k)) {
			t.Errorf("k=%d: int8 vs float32 layer: %g", k, d)
		}
	}
}

func TestInt8Decoder(t *testing.T) {
	needRuntime(t)
	dir := filepath.Join("..", "testdata", "tiny-model")
	m32 := loadTest(t, dir, ModelOptions{Device: "cpu"})
	m8 := loadTest(t, dir, ModelOptions{Device: "cpu", Int8: true})
	if !int8Kernels {
		if m8.Decoder != "native" || m8.Note == "" {
			t.Errorf("without VNNI: decoder %s, note %q", m8.Decoder, m8.Note)
		}
		t.Skip("skipping: no AVX-512 VNNI")
	}
	if m8.Decoder != "native-int8" {
		t.Fatalf("decoder %s", m8.Decoder)
	}
	vol := rampVolume(t, volume.Shape{Z: 6, Y: 4, X: 20}, 7, 3, 1)
	ctx := context.Background()
	a, err := NewNiiv(m32, nil).Render(ctx, FullPlane(vol, volume.XZ, 2, 40, 24))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewNiiv(m8, nil).Render(ctx, FullPlane(vol, volume.XZ, 2, 40, 24))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := NewNiiv(m32, nil).NormRange(vol)
	if d := tensor.MaxAbsDiff(a.Pix, b.Pix) / (hi - lo); d > 0.01 || d == 0 {
		t.Errorf("int8 vs float32: max difference %.3g of the normalisation range", d)
	} else {
		t.Logf("int8 vs float32: max difference %.3g of the normalisation range", d)
	}
}

// TestIsotropicCancelMidway cancels a whole-volume reconstruction from its
// first progress report: it must stop with context.Canceled.
func TestIsotropicCancelMidway(t *testing.T) {
	needRuntime(t)
	m := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "cpu", Threads: 2})
	vol := rampVolume(t, volume.Shape{Z: 8, Y: 64, X: 64}, 7, 3, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	_, err := Isotropic(ctx, NewNiiv(m, nil), vol, VolumeOptions{ZScale: 4, Progress: func(d, n int) {
		calls++
		cancel()
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls >= 128 {
		t.Errorf("%d planes decoded after cancelling", calls)
	}
}

func TestFactorRange(t *testing.T) {
	for _, c := range []struct {
		name   string
		card   Card
		lo, hi int
	}{
		{"unknown", Card{}, 0, 0},
		{"single", Card{Factor: 8}, 8, 8},
		{"multi", Card{Factor: 8, Factors: []int{12, 4, 5, 6, 8}}, 4, 12},
	} {
		m := &Model{Card: c.card}
		if lo, hi := m.FactorRange(); lo != c.lo || hi != c.hi {
			t.Errorf("%s: FactorRange = %d, %d; want %d, %d", c.name, lo, hi, c.lo, c.hi)
		}
	}
}

// TestDecodesOn checks where a model says its frames are decoded: the
// native decoders on the CPU whatever the encoder's provider, the ONNX
// decoder with the encoder, an accelerator on the GPU.
func TestDecodesOn(t *testing.T) {
	for _, c := range []struct{ provider, decoder, want string }{
		{"cpu", "native", "cpu"},
		{"cuda", "native", "cpu"},
		{"cpu", "native-int8", "cpu"},
		{"cuda", "onnx", "cuda"},
		{"gl", "gl", "gl"},
		{"cpu", "gl", "gl"}, // OpenGL 3.3: encoder on the CPU
	} {
		m := &Model{Provider: c.provider, Decoder: c.decoder}
		if got := m.DecodesOn(); got != c.want {
			t.Errorf("provider %s, decoder %s: DecodesOn %q, want %q", c.provider, c.decoder, got, c.want)
		}
	}
}

// fakeAccel is an Accelerator that only names its device (and, with
// cpuEnc, encodes on the CPU like an OpenGL 3.3 one).
type fakeAccel struct {
	Accelerator
	cpuEnc bool
}

func (fakeAccel) Device() string       { return "fake GPU" }
func (f fakeAccel) EncoderOnCPU() bool { return f.cpuEnc }

// TestSetAccelerator checks what a model says of its devices with an
// accelerator, and that removing it restores what it said before.
func TestSetAccelerator(t *testing.T) {
	for _, c := range []struct {
		a                   fakeAccel
		provider, decodesOn string
		note                string
	}{
		{fakeAccel{}, "gl", "gl", "int8 unavailable; encoder and decoder on fake GPU"},
		{fakeAccel{cpuEnc: true}, "cpu", "gl", "int8 unavailable; decoder on fake GPU"},
	} {
		m := &Model{Provider: "cpu", Decoder: "native", Note: "int8 unavailable"}
		for range 2 { // installing twice says it once
			m.SetAccelerator(c.a)
		}
		if m.Provider != c.provider || m.DecodesOn() != c.decodesOn || m.Note != c.note {
			t.Errorf("with %+v: provider %s, decodes on %s, note %q; want %s, %s, %q", c.a, m.Provider, m.DecodesOn(), m.Note, c.provider, c.decodesOn, c.note)
		}
		m.SetAccelerator(nil)
		if m.Provider != "cpu" || m.Decoder != "native" || m.Note != "int8 unavailable" || m.Accelerator() != nil {
			t.Errorf("after SetAccelerator(nil): provider %s, decoder %s, note %q", m.Provider, m.Decoder, m.Note)
		}
	}
}

// TestViewCroppedEncodeExact checks that xz views of a plane larger than
// cropAbove encode only what they show (grown by half the view) and give
// what encoding the whole plane gives, also after a pan that the cached
// part covers and one that it does not.
func TestViewCroppedEncodeExact(t *testing.T) {
	needRuntime(t)
	m := loadTest(t, filepath.Join("..", "testdata", "tiny-model"), ModelOptions{Device: "cpu"})
	defer func(v int) { cropAbove = v }(cropAbove)
	cropAbove = 2000
	rng := rand.New(rand.NewPCG(9, 10))
	s := volume.Shape{Z: 8, Y: 3, X: 600} // xz planes of 4800 pixels
	data := make([]float32, s.Len())
	for i := range data {
		data[i] = rng.Float32() * 100
	}
	vol, _ := volume.New(s, data, volume.Unknown())
	ctx := context.Background()
	views := NewNiiv(m, NewCache(1<<22))
	for _, c := range []struct {
		req     Request
		cropped bool
	}{
		{Request{Vol: vol, Axis: volume.XZ, Index: 1, R0: 0, R1: 8, C0: 300, C1: 340, W: 40, H: 32}, true},
		{Request{Vol: vol, Axis: volume.XZ, Index: 1, R0: 2, R1: 6, C0: 310, C1: 350, W: 40, H: 32}, true}, // pan within
		{Request{Vol: vol, Axis: volume.XZ, Index: 1, R0: 0, R1: 8, C0: 0, C1: 30, W: 30, H: 32}, true},    // pan beyond, at the edge
		{Request{Vol: vol, Axis: volume.XZ, Index: 2, R0: 0, R1: 8, C0: 0, C1: 600, W: 300, H: 32}, false}, // the whole plane
	} {
		got, err := views.Render(ctx, c.req)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := views.cache.get(cacheKey{vol, volume.XZ, c.req.plane(), m})
		if p == nil || (p.h*p.w < s.Z*s.X) != c.cropped {
			t.Errorf("view %+v: encoded %v, want cropped %v", c.req, p, c.cropped)
		}
		full := NewNiiv(m, NewCache(1<<22))
		if _, err := full.planes(ctx, vol, volume.XZ, []int{c.req.plane()}, true, false, nil); err != nil {
			t.Fatal(err)
		}
		want, err := full.Render(ctx, c.req)
		if err != nil {
			t.Fatal(err)
		}
		if d := tensor.MaxAbsDiff(got.Pix, want.Pix); d > 1e-4 {
			t.Errorf("view %+v: cropped vs whole-plane encode differ by %g", c.req, d)
		}
	}
}
