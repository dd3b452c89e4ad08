//go:build linux && cgo

package glrender

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-gl/gl/v4.3-core/gl"

	npyt "github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// device returns the shared device or skips the test when no OpenGL 4.3
// context can be made here (no EGL, no driver).
func device(t testing.TB) *Device {
	t.Helper()
	d, err := Shared()
	if err != nil {
		t.Skipf("skipping: no OpenGL context (install Mesa: libegl1, libgl1-mesa-dri): %v", err)
	}
	return d
}

func TestOpenInfo(t *testing.T) {
	d := device(t)
	info := d.Info()
	t.Logf("OpenGL: vendor %q renderer %q version %q platform %s software %v, used as %s: %s", info.Vendor, info.Renderer, info.Version, info.Platform, info.Software(), info.API, info)
	if info.Renderer == "" || info.Version == "" {
		t.Errorf("empty GL strings: %+v", info)
	}
}

func TestSoftware(t *testing.T) {
	for _, c := range []struct {
		renderer string
		want     bool
	}{
		{"llvmpipe (LLVM 15.0.6, 256 bits)", true},
		{"softpipe", true},
		{"NVIDIA H100 PCIe/PCIe/SSE2", false},
		{"Mesa Intel(R) UHD Graphics 620 (KBL GT2)", false},
		{"AMD Radeon RX 6800 (radeonsi, navi21, LLVM 15.0.7, DRM 3.49)", false},
	} {
		if got := (Info{Renderer: c.renderer}).Software(); got != c.want {
			t.Errorf("Software(%q) = %v, want %v", c.renderer, got, c.want)
		}
	}
}

// testImage is a w×h image with a ramp, noise, NaN and ±Inf.
func testImage(w, h int) *volume.Image {
	rng := rand.New(rand.NewPCG(1, 2))
	img := volume.NewImage(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := float32(x)/float32(w)*1200 - 100 + float32(rng.NormFloat64()*30)
			if y%17 == 3 {
				v = rng.Float32()*1000 + 0.37
			}
			img.Pix[y*w+x] = v
		}
	}
	img.Pix[5] = float32(math.NaN())
	img.Pix[6] = float32(math.Inf(1))
	img.Pix[7] = float32(math.Inf(-1))
	return img
}

// The GL renderer's tolerance: at least 99.9 % of pixels within 1/255 of
// the CPU renderer in every channel. The remaining pixels lie within
// float32 rounding of a level boundary, where one neighbouring colormap
// entry is chosen instead of the other.
const (
	drawChannelTol = 1
	drawFracTol    = 0.001
)

func TestDrawMatchesCPU(t *testing.T) {
	for _, g := range glDevices(t) {
		t.Run(g.name, func(t *testing.T) { testDrawMatchesCPU(t, g.d) })
	}
}

func testDrawMatchesCPU(t *testing.T, d *Device) {
	src := testImage(301, 203)
	for _, c := range []struct {
		name  string
		style render.Style
	}{
		{"gray", render.DefaultStyle(0, 1000)},
		{"narrow window", render.DefaultStyle(400, 410)},
		{"gamma viridis", render.Style{Min: -50, Max: 900, Gamma: 0.45, Map: render.Viridis}},
		{"gamma 2.2 invert magma", render.Style{Min: 0, Max: 1000, Gamma: 2.2, Invert: true, Map: render.Magma}},
		{"reversed window inferno", render.Style{Min: 1000, Max: 0, Gamma: 1, Map: render.Inferno}},
		{"empty window diverging", render.Style{Min: 300, Max: 300, Gamma: 1, Map: render.Diverging}},
		{"nil map, zero gamma", render.Style{Min: 0, Max: 500}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := render.Image(src, c.style)
			got, err := d.Image(src, c.style)
			if err != nil {
				t.Fatal(err)
			}
			bad, worst := compareRGBA(got, want)
			frac := float64(bad) / float64(src.W*src.H)
			t.Logf("%d of %d pixels differ by more than %d/255 (worst %d/255)", bad, src.W*src.H, drawChannelTol, worst)
			if frac > drawFracTol {
				t.Errorf("%.3f%% of pixels differ by more than %d/255 (worst %d), tolerance %.1f%%", 100*frac, drawChannelTol, worst, 100*drawFracTol)
			}
		})
	}
}

// compareRGBA counts the pixels of a and b differing by more than
// drawChannelTol in any channel and returns the largest difference.
func compareRGBA(a, b *image.RGBA) (bad, worst int) {
	for i := 0; i < len(a.Pix); i += 4 {
		over := false
		for c := 0; c < 4; c++ {
			e := int(a.Pix[i+c]) - int(b.Pix[i+c])
			e = max(e, -e)
			worst = max(worst, e)
			if e > drawChannelTol {
				over = true
			}
		}
		if over {
			bad++
		}
	}
	return bad, worst
}

func TestDrawOffsetAndErrors(t *testing.T) {
	for _, g := range glDevices(t) {
		t.Run(g.name, func(t *testing.T) { testDrawOffsetAndErrors(t, g.d) })
	}
}

func testDrawOffsetAndErrors(t *testing.T, d *Device) {
	src := testImage(40, 30)
	s := render.DefaultStyle(0, 1000)
	dst := image.NewRGBA(image.Rect(10, 20, 60, 60))
	if err := d.Draw(dst, src, s); err != nil {
		t.Fatal(err)
	}
	want := render.Image(src, s)
	got := dst.SubImage(image.Rect(10, 20, 50, 50)).(*image.RGBA)
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			if g, w := got.RGBAAt(10+x, 20+y), want.RGBAAt(x, y); g != w && !near(g.R, w.R) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, g, w)
			}
		}
	}
	for _, c := range []struct {
		name string
		dst  *image.RGBA
		src  *volume.Image
	}{
		{"small destination", image.NewRGBA(image.Rect(0, 0, 10, 10)), src},
		{"short image", image.NewRGBA(image.Rect(0, 0, 40, 30)), &volume.Image{W: 40, H: 30, Pix: make([]float32, 10)}},
	} {
		if err := d.Draw(c.dst, c.src, s); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func near(a, b uint8) bool { return int(a)-int(b) <= 1 && int(b)-int(a) <= 1 }

// modelDirs returns the tiny test model, every shipped model and the
// model folders in $NIIV_TEST_MODELS (comma-separated).
func modelDirs() []string {
	dirs := []string{filepath.Join("..", "..", "testdata", "tiny-model")}
	shipped, _ := filepath.Glob(filepath.Join("..", "..", "assets", "models", "*", "card.json"))
	for _, c := range shipped {
		dirs = append(dirs, filepath.Dir(c))
	}
	if env := os.Getenv("NIIV_TEST_MODELS"); env != "" {
		for _, d := range strings.Split(env, ",") {
			if !slices.ContainsFunc(dirs, func(x string) bool { return filepath.Clean(x) == filepath.Clean(d) }) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// loadModel loads a model folder on the CPU, skipping without ONNX Runtime.
func loadModel(t testing.TB, dir string) *reconstruct.Model {
	t.Helper()
	m, err := reconstruct.LoadModel(dir, reconstruct.ModelOptions{Device: "cpu", Threads: 2})
	if errors.Is(err, reconstruct.ErrNoRuntime) {
		t.Skipf("skipping: ONNX Runtime not found: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// readNPY reads a float32 .npy test tensor.
func readNPY(t testing.TB, path string) ([]float32, []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, shape, err := npyt.DecodeNPY(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v, shape
}

// exactTol is the bound for GPU inference against the models'
// PyTorch/ORT test tensors (max abs).
const exactTol = 1e-3

// TestExactness runs every model's test tensors through the GL encoder
// and decoder.
func TestExactness(t *testing.T) {
	devs := glDevices(t)
	ctx := context.Background()
	for _, dir := range modelDirs() {
		t.Run(filepath.Base(filepath.Clean(dir)), func(t *testing.T) {
			m := loadModel(t, dir)
			for _, g := range devs {
				t.Run(g.name, func(t *testing.T) { testExactness(t, ctx, g.d, m, dir) })
			}
		})
	}
}

func testExactness(t *testing.T, ctx context.Context, d *Device, m *reconstruct.Model, dir string) {
	a, err := d.NewAccelerator(m)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	low, ls := readNPY(t, filepath.Join(dir, "test_lowres.npy"))
	lat, _ := readNPY(t, filepath.Join(dir, "test_latent.npy"))
	coords, _ := readNPY(t, filepath.Join(dir, "test_coords.npy"))
	want, _ := readNPY(t, filepath.Join(dir, "test_values.npy"))
	h, w := ls[2], ls[3]
	pxs := convPixels[:]
	if a.EncoderOnCPU() {
		pxs = []int{a.ConvPixels()}
	}
	var gotLat []float32
	var e float64
	for _, px := range pxs { // the batches below use the last
		if err := a.SetConvPixels(px); err != nil {
			t.Fatal(err)
		}
		var err error
		if gotLat, err = a.Encode(ctx, low, 1, h, w); err != nil {
			t.Fatal(err)
		}
		e = npyt.MaxAbsDiff(gotLat, lat)
		t.Logf("encoder (%d px a thread): max abs %.3g over %d values", px, e, len(lat))
		if !(e <= exactTol) {
			t.Errorf("encoder (%d px a thread) differs from test_latent by %.3g (tolerance %g)", px, e, exactTol)
		}
	}
	for _, k := range kernelsOf(a) {
		if err := a.SetKernel(k); err != nil && k != "fragment" {
			t.Fatal(err)
		}
		got, err := a.DecodePoints(ctx, lat, low, h, w, coords)
		if err != nil {
			t.Fatal(err)
		}
		e = npyt.MaxAbsDiff(got, want)
		t.Logf("decoder (%s kernel): max abs %.3g over %d points", k, e, len(want))
		if !(e <= exactTol) {
			t.Errorf("decoder kernel %s differs from test_values by %.3g (tolerance %g)", k, e, exactTol)
		}
	}
	if a.EncoderOnCPU() {
		return // the batching below is the GPU encoder's
	}
	// A batch of three identical planes encodes like one, in one
	// pass or a plane at a time; a plane whose activations exceed the
	// storage limit is refused as beyond the device.
	three := append(append(append([]float32(nil), low...), low...), low...)
	one := a.widestConv() * h * w
	a.maxOut = one - 1
	if _, err := a.Encode(ctx, three, 3, h, w); !errors.Is(err, reconstruct.ErrDeviceLimit) {
		t.Errorf("encode beyond the storage limit: error %v, want ErrDeviceLimit", err)
	}
	for _, maxOut := range []int{maxOutput, one} {
		a.maxOut = maxOut
		lats, err := a.Encode(ctx, three, 3, h, w)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 3; k++ {
			if e := npyt.MaxAbsDiff(lats[k*len(gotLat):(k+1)*len(gotLat)], gotLat); e != 0 {
				t.Errorf("plane %d of a batch (at most %d values a pass) differs by %.3g", k, maxOut, e)
			}
		}
	}
}

// testVolume is a small random volume, coarse in z.
func testVolume(t testing.TB, z, y, x int) *volume.Volume {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, z*y*x)
	for i := range data {
		data[i] = float32(rng.IntN(200)) + 10*float32(i%x)
	}
	v, err := volume.New(volume.Shape{Z: z, Y: y, X: x}, data, volume.Voxel{Z: 4, Y: 1, X: 1, Unit: "px", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestNiivMatchesCPU renders views with the niiv method on the CPU and
// through the GL accelerator (installed with SetAccelerator) and compares
// them: xz, yz zoomed beyond the border (padding), xy at fractional z, and
// zoomed xy views whose xz planes are encoded in bands (cropped planes).
func TestNiivMatchesCPU(t *testing.T) {
	ctx := context.Background()
	for _, g := range glDevices(t) {
		for i, dir := range modelDirs() {
			t.Run(g.name+"/"+filepath.Base(filepath.Clean(dir)), func(t *testing.T) {
				d := g.d
				if i > 0 && testing.Short() {
					t.Skip("skipping in short mode: TestExactness covers this model; llvmpipe is slow")
				}
				cpu := loadModel(t, dir)
				gpu := loadModel(t, dir)
				gpu.SetAccelerator(accelerator(t, d, gpu, dir))
				if gpu.DecodesOn() != "gl" || !strings.Contains(gpu.Summary(), "gl: ") {
					t.Errorf("summary does not name the GL device: %s", gpu.Summary())
				}
				vol := testVolume(t, 6, 20, 24)
				// Zoomed xy views of a larger volume encode only a band of
				// each xz plane; the fourth view reuses some cached bands
				// and encodes others, cropped differently.
				big := testVolume(t, 40, 12, 130)
				nc, ng := reconstruct.NewNiiv(cpu, nil), reconstruct.NewNiiv(gpu, nil)
				reqs := []reconstruct.Request{
					reconstruct.FullPlane(vol, volume.XZ, 3, 48, 24),
					{Vol: vol, Axis: volume.YZ, Index: 7, R0: -1.5, R1: 7.25, C0: -2, C1: 23, W: 33, H: 41},
					{Vol: vol, Axis: volume.XY, Index: 2.4, R0: 0, R1: 20, C0: 0, C1: 24, W: 24, H: 40},
				}
				if i == 0 { // cropping does not depend on the model
					reqs = append(reqs,
						reconstruct.Request{Vol: big, Axis: volume.XY, Index: 20.3, R0: 2, R1: 9, C0: 40.5, C1: 61, W: 37, H: 15},
						reconstruct.Request{Vol: big, Axis: volume.XY, Index: 21.6, R0: 2, R1: 9, C0: 40.5, C1: 61, W: 37, H: 15},
						reconstruct.Request{Vol: big, Axis: volume.XY, Index: 21.6, R0: 0, R1: 12, C0: 40.5, C1: 61, W: 37, H: 24},
						reconstruct.Request{Vol: big, Axis: volume.XY, Index: 38.9, R0: 0, R1: 12, C0: 100, C1: 130, W: 31, H: 24})
				}
				for _, req := range reqs {
					want, err := nc.Render(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					got, err := ng.Render(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					lo, hi := nc.NormRange(vol)
					// Compare in the model's normalised units.
					e := npyt.MaxAbsDiff(got.Pix, want.Pix) / (hi - lo)
					t.Logf("%v %dx%d: max abs %.3g (normalised)", req.Axis, req.W, req.H, e)
					if !(e <= exactTol) {
						t.Errorf("%v view differs from the CPU by %.3g (normalised)", req.Axis, e)
					}
				}
			})
		}
	}
}

func TestCancel(t *testing.T) {
	m := loadModel(t, modelDirs()[0])
	for _, g := range glDevices(t) {
		a, err := g.d.NewAccelerator(m)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		lat := make([]float32, m.Feats()*4*4)
		if err := a.DecodeGrid(ctx, lat, make([]float32, 16), 4, 4, reconstruct.Whole(4, 4), []float64{0}, []float64{0}, make([]float32, 1)); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: cancelled decode: %v", g.name, err)
		}
		if _, err := a.Encode(ctx, make([]float32, 16), 1, 4, 4); !errors.Is(err, context.Canceled) && !a.EncoderOnCPU() {
			t.Errorf("%s: cancelled encode: %v", g.name, err)
		}
	}
}

func TestLoadModel(t *testing.T) {
	d := device(t)
	dir := modelDirs()[0]
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime not found: %v", err)
	}
	for _, c := range []struct {
		device   string
		wantGL   bool
		provider string
	}{
		{"gl", true, "gl"},
		{"GL", true, "gl"},
		{"cpu", false, "cpu"},
		{"auto", !d.Info().Software(), map[bool]string{true: "cpu", false: "gl"}[d.Info().Software()]},
	} {
		t.Run(c.device, func(t *testing.T) {
			m, gd, err := LoadModel(dir, reconstruct.ModelOptions{Device: c.device, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			t.Logf("%s", m.Summary())
			if (gd != nil) != c.wantGL || (m.Accelerator() != nil) != c.wantGL {
				t.Errorf("device %s: GL device %v, accelerator %v, want GL %v", c.device, gd != nil, m.Accelerator() != nil, c.wantGL)
			}
			if m.DecodesOn() != c.provider && !(c.device == "auto" && !c.wantGL) {
				t.Errorf("device %s: decodes on %s, want %s", c.device, m.DecodesOn(), c.provider)
			}
			// The encoder is on the GPU only with compute shaders.
			if wantEnc := map[bool]string{true: "cpu", false: "gl"}[d.Info().Fallback()]; c.wantGL && m.Provider != wantEnc {
				t.Errorf("device %s on OpenGL %s: encoder provider %s, want %s", c.device, d.Info().API, m.Provider, wantEnc)
			}
			if c.device == "auto" && d.Info().Software() && !strings.Contains(m.Note, "software renderer") {
				t.Errorf("auto on %s does not say why GL was not used: %q", d.Info(), m.Note)
			}
			if a, ok := m.Accelerator().(*Accelerator); ok && a.EncoderOnCPU() != d.Info().Fallback() {
				t.Errorf("device %s on OpenGL %s: EncoderOnCPU %v", c.device, d.Info().API, a.EncoderOnCPU())
			}
			if c.wantGL && d.Info().Fallback() && !strings.Contains(m.Summary(), "encoder on the CPU") {
				t.Errorf("summary on OpenGL 3.3 does not say the encoder is on the CPU: %s", m.Summary())
			}
		})
	}
	if _, _, err := LoadModel(dir, reconstruct.ModelOptions{Device: "quantum"}); err == nil {
		t.Error("unknown device accepted")
	}
}

// convCPU is the reference convolution: zero padding, size kept, W
// [cout][cin][k][k], then res added and a ReLU.
func convCPU(in, wt, bias, res []float32, n, cin, cout, k, h, w int, relu bool) []float32 {
	out := make([]float32, n*cout*h*w)
	for b := 0; b < n; b++ {
		for o := 0; o < cout; o++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					acc := float64(bias[o])
					for i := 0; i < cin; i++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								yy, xx := y+ky-k/2, x+kx-k/2
								if yy >= 0 && yy < h && xx >= 0 && xx < w {
									acc += float64(in[((b*cin+i)*h+yy)*w+xx]) * float64(wt[((o*cin+i)*k+ky)*k+kx])
								}
							}
						}
					}
					idx := ((b*cout+o)*h+y)*w + x
					if res != nil {
						acc += float64(res[idx])
					}
					if relu {
						acc = max(acc, 0)
					}
					out[idx] = float32(acc)
				}
			}
		}
	}
	return out
}

// TestConvShaders checks the tiled and the fallback convolution shaders
// against convCPU over shapes that exercise partial tiles, channel chunks
// and both shaders.
func TestConvShaders(t *testing.T) {
	d := device(t)
	if d.Info().Fallback() {
		t.Skip("skipping: no compute shaders on OpenGL 3.3")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for _, c := range []struct {
		name            string
		n, cin, cout, k int
		h, w            int
		relu, residual  bool
	}{
		{"head 1→4", 1, 1, 4, 3, 9, 13, false, false},
		{"tiled 12→16 relu", 2, 12, 16, 3, 10, 17, true, false},
		{"tiled 16→8 residual", 1, 16, 8, 3, 8, 8, false, true},
		{"fallback 3→5", 2, 3, 5, 3, 7, 11, true, true},
		{"5x5 kernel 4→4", 1, 4, 4, 5, 9, 9, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &Accelerator{dev: d, convProg: map[[4]int]uint32{}, pool: map[int][]uint32{}}
			defer a.Close()
			in, wt, bias := rnd(c.n*c.cin*c.h*c.w), rnd(c.cout*c.cin*c.k*c.k), rnd(c.cout)
			var res []float32
			if c.residual {
				res = rnd(c.n * c.cout * c.h * c.w)
			}
			want := convCPU(in, wt, bias, res, c.n, c.cin, c.cout, c.k, c.h, c.w, c.relu)
			got := make([]float32, len(want))
			err := d.Do(func() error {
				a.dummy = newBuffer(make([]float32, 4))
				if err := a.addConv(&reconstruct.Conv{In: c.cin, Out: c.cout, K: c.k, W: wt, B: bias}); err != nil {
					return err
				}
				x, o := newBuffer(in), a.buffer(len(want))
				a.pool[len(in)] = append(a.pool[len(in)], x)
				var r uint32
				if res != nil {
					r = newBuffer(res)
					a.pool[len(res)] = append(a.pool[len(res)], r)
				}
				a.pool[len(want)] = append(a.pool[len(want)], o)
				for _, px := range convPixels {
					if err := a.SetConvPixels(px); err != nil {
						return err
					}
					clear(got)
					if err := a.runConv(context.Background(), a.convs[0], x, r, o, c.n, c.h, c.w, c.relu); err != nil {
						return err
					}
					gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, o)
					gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(got), gl.Ptr(got))
					if e := npyt.MaxAbsDiff(got, want); !(e <= 1e-4) {
						t.Errorf("%d px a thread: max abs %.3g from the CPU convolution", px, e)
					}
				}
				return glError("conv test")
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPlaneCache decodes three planes in turn through a cache that holds
// two, and checks every result against an uncached decode.
func TestPlaneCache(t *testing.T) {
	for _, g := range glDevices(t) {
		t.Run(g.name, func(t *testing.T) { testPlaneCache(t, g.d) })
	}
}

func testPlaneCache(t *testing.T, d *Device) {
	m := loadModel(t, modelDirs()[0])
	a, err := d.NewAccelerator(m)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	const h, w = 5, 7
	rng := rand.New(rand.NewPCG(11, 12))
	type plane struct{ latent, low []float32 }
	planes := make([]plane, 3)
	for i := range planes {
		planes[i] = plane{make([]float32, m.Feats()*h*w), make([]float32, h*w)}
		for j := range planes[i].latent {
			planes[i].latent[j] = float32(rng.NormFloat64())
		}
		for j := range planes[i].low {
			planes[i].low[j] = rng.Float32()
		}
	}
	per := 4 * (4*((m.Feats()+3)/4)*h*w + h*w)
	a.budget = 2 * per
	a.maxOut = 5 // grids are decoded a row at a time
	rows, cols := []float64{-0.9, 0.1, 0.95}, []float64{-1, -0.2, 0.5, 1.1}
	var coords []float32
	for _, r := range rows {
		for _, c := range cols {
			coords = append(coords, float32(r), float32(c))
		}
	}
	for _, i := range []int{0, 1, 0, 2, 1, 2, 0} {
		p := planes[i]
		got := make([]float32, len(rows)*len(cols))
		if err := a.DecodeGrid(ctx, p.latent, p.low, h, w, reconstruct.Whole(h, w), rows, cols, got); err != nil {
			t.Fatal(err)
		}
		want, err := a.DecodePoints(ctx, p.latent, p.low, h, w, coords)
		if err != nil {
			t.Fatal(err)
		}
		if e := npyt.MaxAbsDiff(got, want); e > 1e-6 {
			t.Errorf("plane %d: cached decode differs by %.3g", i, e)
		}
		if a.lruBytes > a.budget || len(a.planes) > 2 {
			t.Errorf("cache holds %d bytes in %d planes, budget %d", a.lruBytes, len(a.planes), a.budget)
		}
	}
	// All three planes in one call: in one batch, in batches of two, and
	// a plane (and a row) at a time.
	eps := make([]reconstruct.EncodedPlane, len(planes))
	var want []float32
	for i, p := range planes {
		eps[i] = reconstruct.EncodedPlane{Latent: p.latent, Low: p.low}
		v, err := a.DecodePoints(ctx, p.latent, p.low, h, w, coords)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, v...)
	}
	for _, maxOut := range []int{maxOutput, 2 * len(coords) / 2, 5} {
		a.maxOut = maxOut
		got := make([]float32, len(want))
		if err := a.DecodeGrids(ctx, eps, h, w, reconstruct.Whole(h, w), rows, cols, got); err != nil {
			t.Fatal(err)
		}
		if e := npyt.MaxAbsDiff(got, want); e > 1e-6 {
			t.Errorf("DecodeGrids with at most %d values a pass differs by %.3g", maxOut, e)
		}
	}
}

// TestUnavailable runs this test binary again without a usable EGL
// library or platform and checks that opening fails with a clear error
// and that LoadModel keeps the model on the CPU, saying why.
func TestUnavailable(t *testing.T) {
	if os.Getenv("NIIV_GL_CHILD") == "1" {
		_, err := Open()
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Open: %v, want ErrUnavailable", err)
		}
		fmt.Println("open error:", err)
		if _, ferr := reconstruct.FindLibrary(); ferr != nil {
			return
		}
		m, gd, err := LoadModel(modelDirs()[0], reconstruct.ModelOptions{Device: "gl", Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if gd != nil || m.Provider != "cpu" || !strings.Contains(m.Note, "OpenGL unavailable") {
			t.Fatalf("LoadModel without GL: device %v, provider %s, note %q", gd, m.Provider, m.Note)
		}
		fmt.Println("note:", m.Note)
		return
	}
	if testing.Short() {
		t.Skip("skipping: runs the test binary again")
	}
	for _, c := range []struct{ name, env, want string }{
		{"no library", LibraryEnv + "=/nonexistent/libEGL.so.1", "EGL library not found"},
		{"no platform", PlatformEnv + "=nonexistent", "no display on platform nonexistent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailable$", "-test.v")
			cmd.Env = append(os.Environ(), "NIIV_GL_CHILD=1", c.env)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), c.want) {
				t.Errorf("%s: %v\n%s", c.env, err, out)
			}
		})
	}
}

// decodeRef is a float64 reference of the decoder: GridSample bilinear
// (align_corners=False, border or zeros padding) of latent and low at
// (row, col), the positional encoding, the MLP and the head.
func decodeRef(d *reconstruct.DecoderMLP, latent, low []float32, h, w int, r, c float64) float64 {
	sample := func(img []float32, off int) float64 {
		at := func(n int, x float64) (i0, i1 int, w0, w1 float64) {
			u := ((x+1)*float64(n) - 1) / 2
			if d.Border {
				u = min(max(u, 0), float64(n-1))
			}
			f := math.Floor(u)
			return int(f), int(f) + 1, 1 - (u - f), u - f
		}
		y0, y1, wy0, wy1 := at(h, r)
		x0, x1, wx0, wx1 := at(w, c)
		px := func(y, x int) float64 {
			if y < 0 || y >= h || x < 0 || x >= w {
				if d.Border {
					y, x = min(max(y, 0), h-1), min(max(x, 0), w-1)
				} else {
					return 0
				}
			}
			return float64(img[off+y*w+x])
		}
		return wy0*(wx0*px(y0, x0)+wx1*px(y0, x1)) + wy1*(wx0*px(y1, x0)+wx1*px(y1, x1))
	}
	in := make([]float64, 0, d.Feats+9)
	for f := 0; f < d.Feats; f++ {
		in = append(in, sample(latent, f*h*w))
	}
	v := sample(low, 0)
	in = append(in, v)
	for _, x := range []float64{r, c} {
		p := (x + 1) / 2
		in = append(in, math.Sin(2*math.Pi*p), math.Cos(2*math.Pi*p), math.Sin(4*math.Pi*p), math.Cos(4*math.Pi*p))
	}
	for li, l := range d.Layers {
		out := make([]float64, l.Out)
		for o := range out {
			acc := float64(l.B[o])
			for i := 0; i < l.In; i++ {
				acc += in[i] * float64(l.W[i*l.Out+o])
			}
			if li < len(d.Layers)-1 {
				acc = max(acc, 0)
			}
			out[o] = acc
		}
		in = out
	}
	switch d.Head {
	case "residual":
		return v + in[0]
	case "sigmoid":
		return 1 / (1 + math.Exp(-in[0]))
	}
	return in[0]
}

// TestDecoderVariants checks the decoder shader against decodeRef for
// every head and padding mode, odd widths (not multiples of 4 or of the
// work group) and points outside the plane.
func TestDecoderVariants(t *testing.T) {
	for _, g := range glDevices(t) {
		t.Run(g.name, func(t *testing.T) { testDecoderVariants(t, g.d) })
	}
}

func testDecoderVariants(t *testing.T, d *Device) {
	rng := rand.New(rand.NewPCG(13, 14))
	rnd := func(n int, s float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * s)
		}
		return v
	}
	eg := &reconstruct.EncoderGraph{Input: "lowres", Output: "latent"}
	for _, c := range []struct {
		feats  int
		widths []int
		head   string
		border bool
	}{
		{4, []int{8, 8}, "residual", true},
		{5, []int{7, 13}, "sigmoid", false},
		{6, []int{5}, "plain", true},
		{3, []int{65, 3, 9}, "residual", false},
		// The paper preset's size: F = 64, 5 × 256 (about 280k weights).
		{64, []int{256, 256, 256, 256, 256}, "residual", true},
	} {
		name := fmt.Sprintf("F%d %v %s border=%v", c.feats, c.widths, c.head, c.border)
		t.Run(name, func(t *testing.T) {
			if c.feats == 64 && testing.Short() {
				t.Skip("skipping in short mode: llvmpipe compiles the paper-sized fragment decoder for seconds")
			}
			mlp := &reconstruct.DecoderMLP{Feats: c.feats, Head: c.head, Border: c.border}
			in := c.feats + 9
			for _, wd := range append(slices.Clone(c.widths), 1) {
				mlp.Layers = append(mlp.Layers, reconstruct.DecoderLayer{In: in, Out: wd,
					W: rnd(in*wd, 1/math.Sqrt(float64(in))), B: rnd(wd, 0.1)})
				in = wd
			}
			a, err := d.newAccelerator(mlp, eg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			const h, w = 6, 9
			latent, low := rnd(c.feats*h*w, 1), rnd(h*w, 1)
			coords := rnd(2*150, 0.7) // about 15 % beyond ±1
			for _, k := range kernelsOf(a) {
				if err := a.SetKernel(k); err != nil && k != "fragment" {
					t.Fatal(err)
				}
				got, err := a.DecodePoints(context.Background(), latent, low, h, w, coords)
				if err != nil {
					t.Fatal(err)
				}
				var worst float64
				for i := range got {
					want := decodeRef(mlp, latent, low, h, w, float64(coords[2*i]), float64(coords[2*i+1]))
					worst = max(worst, math.Abs(float64(got[i])-want))
				}
				t.Logf("%s: max abs %.3g", k, worst)
				if !(worst <= 1e-5) {
					t.Errorf("decoder kernel %s differs from the reference by %.3g", k, worst)
				}
			}
		})
	}
}

// kernelsOf returns the decoder kernels of a to test: every compiled
// compute kernel, or "fragment" on an OpenGL 3.3 device.
func kernelsOf(a *Accelerator) []string {
	if k := a.Kernels(); len(k) > 0 {
		return k
	}
	return []string{a.Kernel()}
}

// TestIsotropicMatchesCPU reconstructs a small volume on the CPU and
// through the GL accelerator (xz and yz passes, batched decoding).
func TestIsotropicMatchesCPU(t *testing.T) {
	for _, g := range glDevices(t) {
		t.Run(g.name, func(t *testing.T) { testIsotropicMatchesCPU(t, g.d) })
	}
}

func testIsotropicMatchesCPU(t *testing.T, d *Device) {
	dir := modelDirs()[0]
	cpu, gpu := loadModel(t, dir), loadModel(t, dir)
	gpu.SetAccelerator(accelerator(t, d, gpu, dir))
	vol := testVolume(t, 5, 11, 13)
	opt := reconstruct.VolumeOptions{ZScale: 3}
	want, err := reconstruct.Isotropic(context.Background(), reconstruct.NewNiiv(cpu, nil), vol, opt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := reconstruct.Isotropic(context.Background(), reconstruct.NewNiiv(gpu, nil), vol, opt)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := reconstruct.NewNiiv(cpu, nil).NormRange(vol)
	e := npyt.MaxAbsDiff(got.Data().([]float32), want.Data().([]float32)) / (hi - lo)
	t.Logf("max abs %.3g (normalised) over %v", e, got.Shape())
	if got.Shape() != want.Shape() || !(e <= exactTol) {
		t.Errorf("GL volume %v differs from the CPU's %v by %.3g", got.Shape(), want.Shape(), e)
	}
}

// TestTune times the decoder kernels on the device and checks that the
// fastest is kept, that KernelEnv forces one and that an unknown name is
// refused with the available ones listed.
func TestTune(t *testing.T) {
	d := device(t)
	if d.Info().Fallback() {
		t.Skip("skipping: OpenGL 3.3 has one decoder (fragment shader)")
	}
	dir := modelDirs()[0]
	m := loadModel(t, dir)
	a := accelerator(t, d, m, dir)
	defer a.Close()
	if len(a.Kernels()) < 2 {
		t.Fatalf("kernels %v: want the broadcast and at least one tiled kernel", a.Kernels())
	}
	times, err := a.Tune(context.Background(), 512)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernels %v: %v; kept %s", a.Kernels(), times, a.Kernel())
	if len(times) != len(a.Kernels()) {
		t.Fatalf("%d times for %d kernels", len(times), len(a.Kernels()))
	}
	for i, k := range a.Kernels() {
		if times[i] <= 0 {
			t.Errorf("kernel %s: time %v", k, times[i])
		}
		if times[i] < times[slices.Index(a.Kernels(), a.Kernel())] {
			t.Errorf("kept %s, but %s was faster (%v)", a.Kernel(), k, times)
		}
	}
	if !strings.Contains(a.Device(), "decoder kernel "+a.Kernel()+" (fastest of") {
		t.Errorf("Device() = %q does not name the tuned kernel", a.Device())
	}
	if err := a.SetKernel("no-such"); err == nil || !strings.Contains(err.Error(), "broadcast") {
		t.Errorf("SetKernel(no-such) = %v, want an error listing the kernels", err)
	}

	t.Setenv(KernelEnv, "tiled-16x64")
	b := accelerator(t, d, m, dir)
	defer b.Close()
	if got := b.Kernels(); len(got) != 1 || b.Kernel() != "tiled-16x64" {
		t.Errorf("with %s=tiled-16x64: kernels %v, in use %s", KernelEnv, got, b.Kernel())
	}
	t.Setenv(KernelEnv, "tiled-1x1")
	if _, err := d.NewAccelerator(m); err == nil || !strings.Contains(err.Error(), "tiled-16x64") {
		t.Errorf("with %s=tiled-1x1: error %v, want one listing the kernels", KernelEnv, err)
	}
}

// TestTuneEncoder times the encoder's conv variants and checks that the
// fastest is kept and every variant encodes the test tensors alike.
func TestTuneEncoder(t *testing.T) {
	d := device(t)
	if d.Info().Fallback() {
		t.Skip("skipping: the CPU encodes on OpenGL 3.3")
	}
	dir := modelDirs()[0]
	a := accelerator(t, d, loadModel(t, dir), dir)
	defer a.Close()
	times, err := a.TuneEncoder(context.Background(), 2, 5, 19)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("conv variants %v px a thread: %v; kept %d", convPixels, times, a.ConvPixels())
	for i, px := range convPixels {
		if times[i] <= 0 || times[i] < times[slices.Index(convPixels[:], a.ConvPixels())] {
			t.Errorf("%d px: %v; kept %d px (%v)", px, times[i], a.ConvPixels(), times)
		}
	}
	if !strings.Contains(a.Device(), fmt.Sprintf("encoder convolutions %d px a thread", a.ConvPixels())) {
		t.Errorf("Device() = %q does not name the tuned conv variant", a.Device())
	}
	if err := a.SetConvPixels(3); err == nil {
		t.Error("SetConvPixels(3) accepted")
	}
}

// TestTuneRejects breaks two decoder kernels and two conv variants, as a
// faulty driver might: one of each that does not compile and one that
// computes a wrong value. The accelerator must leave them out, say so, and
// keep decoding correctly.
func TestTuneRejects(t *testing.T) {
	d := device(t)
	if d.Info().Fallback() {
		t.Skip("skipping: OpenGL 3.3 has one decoder (fragment shader)")
	}
	kernelSourceHook = func(k decoderKernel, src string) string {
		switch k.name {
		case "tiled-32x128":
			return strings.Replace(src, "void main() {", "void main() { this does not compile;", 1)
		case "direct-32x128":
			return strings.Replace(src, "float y = 0.0;", "float y = 0.5;", 1)
		}
		return src
	}
	convSourceHook = func(px int, src string) string {
		switch px {
		case 2:
			return strings.Replace(src, "void main() {", "void main() { this does not compile;", 1)
		case 4:
			return strings.Replace(src, "float r = a[e]", "float r = 0.5 + a[e]", 1)
		}
		return src
	}
	defer func() { kernelSourceHook, convSourceHook = nil, nil }()
	dir := modelDirs()[0]
	m := loadModel(t, dir)
	a := accelerator(t, d, m, dir)
	defer a.Close()
	if a.ConvPixels() != 4 {
		t.Errorf("untuned conv variant %d px, want 4 (it compiled)", a.ConvPixels())
	}
	if _, err := a.TuneEncoder(context.Background(), 1, 5, 19); err != nil {
		t.Fatal(err)
	}
	if a.ConvPixels() != 1 || a.SetConvPixels(2) == nil || a.SetConvPixels(4) == nil {
		t.Errorf("after TuneEncoder: %d px a thread, want 1 (the others left out)", a.ConvPixels())
	}
	if slices.Contains(a.Kernels(), "tiled-32x128") {
		t.Errorf("a kernel that does not compile was kept: %v", a.Kernels())
	}
	times, err := a.Tune(context.Background(), 256)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", a.Device())
	if slices.Contains(a.Kernels(), "direct-32x128") || len(times) != len(a.Kernels()) {
		t.Errorf("after Tune: kernels %v, times %v; want the wrong one left out", a.Kernels(), times)
	}
	for _, want := range []string{"tiled-32x128 (does not compile)", "direct-32x128 (differs from broadcast by 0.5)",
		"convolutions with 2 px a thread (does not compile)", "convolutions with 4 px a thread (differs from 1 px by",
		"encoder convolutions 1 px a thread (fastest of 1)"} {
		if !strings.Contains(a.Device(), want) {
			t.Errorf("Device() = %q does not say %q", a.Device(), want)
		}
	}
	low, ls := readNPY(t, filepath.Join(dir, "test_lowres.npy"))
	lat, _ := readNPY(t, filepath.Join(dir, "test_latent.npy"))
	coords, _ := readNPY(t, filepath.Join(dir, "test_coords.npy"))
	want, _ := readNPY(t, filepath.Join(dir, "test_values.npy"))
	for _, k := range a.Kernels() {
		if err := a.SetKernel(k); err != nil {
			t.Fatal(err)
		}
		got, err := a.DecodePoints(context.Background(), lat, low, ls[2], ls[3], coords)
		if err != nil {
			t.Fatal(err)
		}
		if e := npyt.MaxAbsDiff(got, want); !(e <= exactTol) {
			t.Errorf("kept kernel %s differs from test_values by %.3g", k, e)
		}
	}
}

// TestTunePoints checks the size of the tuning decode: about 1e9
// multiply-adds, between a 128×128 and a 512×512 view.
func TestTunePoints(t *testing.T) {
	for _, c := range []struct {
		widths []int
		want   int
	}{
		{[]int{41, 64, 64, 1}, 1_000_000_000 / 6784},  // lite
		{[]int{73, 256, 256, 256, 256, 1}, 128 * 128}, // paper: floor
		{[]int{13, 8, 1}, 512 * 512},                  // tiny: ceiling
		{[]int{1, 100000, 1}, 128 * 128},              // huge
	} {
		if got := tunePoints(c.widths); got != c.want {
			t.Errorf("tunePoints(%v) = %d, want %d", c.widths, got, c.want)
		}
	}
}

// TestChooseAuto measures a model on the CPU and through GL as LoadModel
// does under --device auto. On a software renderer the CPU must win and the
// model must be left on the CPU, saying why with both times.
func TestChooseAuto(t *testing.T) {
	d := device(t)
	if !d.Info().Software() {
		t.Skip("skipping: on a hardware GPU either may win")
	}
	dir := modelDirs()[0]
	m := loadModel(t, dir)
	a := accelerator(t, d, m, dir)
	defer a.Close()
	useGL, why, err := chooseAuto(m, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("use GL %v: %s", useGL, why)
	if useGL || m.Accelerator() != nil || m.DecodesOn() != "cpu" {
		t.Errorf("llvmpipe chosen over the CPU (use GL %v, accelerator %v, decodes on %s)", useGL, m.Accelerator() != nil, m.DecodesOn())
	}
	if !strings.Contains(why, "slower than the CPU here (a new 256×256 slice: ") || !strings.Contains(why, " ms against ") {
		t.Errorf("reason %q does not give both times", why)
	}
}

// TestDeviceLimitFallback renders a volume wider than the GPU's largest
// texture, and encodes with storage buffers too small for a plane: the
// accelerator refuses those planes as beyond the device and the model
// decodes or encodes them on the CPU, with the CPU's results.
func TestDeviceLimitFallback(t *testing.T) {
	ctx := context.Background()
	for _, g := range glDevices(t) {
		t.Run(g.name, func(t *testing.T) {
			dir := modelDirs()[0]
			cpu, gpu := loadModel(t, dir), loadModel(t, dir)
			a := accelerator(t, g.d, gpu, dir)
			gpu.SetAccelerator(a)
			wide := testVolume(t, 8, 3, a.maxTex+100)
			nc, ng := reconstruct.NewNiiv(cpu, nil), reconstruct.NewNiiv(gpu, nil)
			lo, hi := nc.NormRange(wide)
			compare := func(what string, got, want []float32) {
				t.Helper()
				if e := npyt.MaxAbsDiff(got, want) / (hi - lo); !(e <= exactTol) {
					t.Errorf("%s differs from the CPU by %.3g (normalised)", what, e)
				}
			}
			req := reconstruct.Request{Vol: wide, Axis: volume.XZ, Index: 1, R0: 0, R1: 8, C0: float64(a.maxTex) - 50, C1: float64(a.maxTex) + 50, W: 100, H: 32}
			want, err := nc.Render(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			uctx, use := reconstruct.WithDeviceUse(ctx)
			got, err := ng.Render(uctx, req)
			if err != nil {
				t.Fatalf("a plane %d wide on a GPU whose textures stop at %d: %v", a.maxTex+100, a.maxTex, err)
			}
			compare("xz view of a too-wide plane", got.Pix, want.Pix)
			if use.CPUFallbacks() == 0 {
				t.Error("the too-wide plane's CPU decode was not recorded (the frame would be labelled as made on the GPU)")
			}
			narrow := testVolume(t, 8, 3, 64)
			uctx, use = reconstruct.WithDeviceUse(ctx)
			if _, err := ng.Render(uctx, reconstruct.FullPlane(narrow, volume.XZ, 1, 64, 32)); err != nil {
				t.Fatal(err)
			}
			if n := use.CPUFallbacks(); n != 0 {
				t.Errorf("a plane within the GPU's limits recorded %d CPU fallbacks", n)
			}
			opt := reconstruct.VolumeOptions{ZScale: 4, Axes: []volume.Axis{volume.XZ}}
			wantV, err := reconstruct.Isotropic(ctx, nc, wide, opt)
			if err != nil {
				t.Fatal(err)
			}
			gotV, err := reconstruct.Isotropic(ctx, ng, wide, opt)
			if err != nil {
				t.Fatalf("whole volume with planes too wide for the GPU: %v", err)
			}
			compare("whole volume with too-wide planes", gotV.Data().([]float32), wantV.Data().([]float32))
			if !a.EncoderOnCPU() {
				// Storage buffers too small for one plane's activations:
				// the CPU encodes.
				a.maxOut = a.widestConv() * 8 * 100
				vol := testVolume(t, 8, 5, 120)
				req := reconstruct.FullPlane(vol, volume.XZ, 2, 120, 64)
				want, err := nc.Render(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := reconstruct.NewNiiv(gpu, nil).Render(ctx, req)
				if err != nil {
					t.Fatalf("encoding beyond the storage limit: %v", err)
				}
				compare("xz view encoded beyond the storage limit", got.Pix, want.Pix)
			}
		})
	}
}
