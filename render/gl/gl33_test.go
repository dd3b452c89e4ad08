//go:build linux && cgo

package glrender

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	npyt "github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
)

// strictEnv makes the test binary load only the OpenGL 3.3 functions the
// package declares (gl33Funcs) and fail when any other is called; it is
// set by TestGL33Process for a child run with the context forced to 3.3.
const strictEnv = "NIIV_GL33_STRICT"

func TestMain(m *testing.M) {
	if os.Getenv(strictEnv) == "1" {
		strictGL33 = true
	}
	code := m.Run()
	if n := missingCalls(); n > 0 {
		fmt.Printf("FAIL: %d calls to OpenGL functions outside the 3.3 set on a 3.3 context\n", n)
		code = 1
	}
	os.Exit(code)
}

var dev33 struct {
	sync.Once
	d   *Device
	err error
}

// glDev is a device under test: the shared device and, where that is an
// OpenGL 4.3 device, a second device forced to OpenGL 3.3.
type glDev struct {
	name string
	d    *Device
}

// glDevices returns the devices the tests run on, skipping when there is
// none: the shared device ("gl4.3", or "gl3.3" under NIIV_GL_VERSION=3.3)
// and a 3.3 device made beside a 4.3 one ("gl3.3").
func glDevices(t testing.TB) []glDev {
	t.Helper()
	d := device(t)
	devs := []glDev{{"gl" + d.Info().API, d}}
	if d.Info().Fallback() {
		return devs
	}
	dev33.Do(func() { dev33.d, dev33.err = open([]string{api33}) })
	if dev33.err != nil {
		t.Logf("no OpenGL 3.3 context beside the 4.3 one (the fallback is not tested here): %v", dev33.err)
		return devs
	}
	return append(devs, glDev{"gl3.3", dev33.d})
}

// device33 returns an OpenGL 3.3 device or skips.
func device33(t testing.TB) *Device {
	t.Helper()
	for _, g := range glDevices(t) {
		if g.d.Info().Fallback() {
			return g.d
		}
	}
	t.Skip("skipping: no OpenGL 3.3 context")
	return nil
}

// accelerator makes m's accelerator on d; on an OpenGL 3.3 device it
// encodes with a second CPU model of dir, so that it can be installed on
// m.
func accelerator(t testing.TB, d *Device, m *reconstruct.Model, dir string) *Accelerator {
	t.Helper()
	a, err := d.NewAccelerator(m)
	if err != nil {
		t.Fatal(err)
	}
	if a.EncoderOnCPU() != d.Info().Fallback() {
		t.Errorf("EncoderOnCPU %v on OpenGL %s", a.EncoderOnCPU(), d.Info().API)
	}
	if a.EncoderOnCPU() {
		a.cpuEnc = loadModel(t, dir) // closed by the test's cleanup
	}
	return a
}

func TestGL33Info(t *testing.T) {
	d := device33(t)
	info := d.Info()
	t.Logf("%s", info)
	if !strings.Contains(info.String(), "fragment-shader decoder, encoder on the CPU") {
		t.Errorf("Info.String %q does not name the fallback path", info)
	}
	for _, c := range []struct {
		env  string
		want []string
		ok   bool
	}{
		{"", []string{api43, api33}, true},
		{"4.3", []string{api43}, true},
		{" 3.3", []string{api33}, true},
		{"2.1", nil, false},
	} {
		got, err := wantedAPIs(c.env)
		if (err == nil) != c.ok || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("wantedAPIs(%q) = %v, %v", c.env, got, err)
		}
	}
}

// TestFragDecodeGrid decodes non-square grids, odd point counts and grids
// spread over many framebuffer blocks on the OpenGL 3.3 decoder and
// compares them with the model's CPU decoder.
func TestFragDecodeGrid(t *testing.T) {
	d := device33(t)
	ctx := context.Background()
	dir := modelDirs()[len(modelDirs())-1] // a shipped model where there is one
	m := loadModel(t, dir)
	a := accelerator(t, d, m, dir)
	defer a.Close()
	const h, w = 9, 14
	rng := rand.New(rand.NewPCG(15, 16))
	latent, low := make([]float32, m.Feats()*h*w), make([]float32, h*w)
	for i := range latent {
		latent[i] = float32(rng.NormFloat64())
	}
	for i := range low {
		low[i] = rng.Float32()
	}
	axis := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = -1.05 + 2.1*(float64(i)+0.5)/float64(n)
		}
		return v
	}
	for _, c := range []struct {
		name       string
		rows, cols int
		fbW, fbH   int // framebuffer block (0: the default)
	}{
		{"37x53", 37, 53, 0, 0},
		{"1x1", 1, 1, 0, 0},
		{"3x1", 3, 1, 0, 0},
		{"1x1025 (beyond a framebuffer row)", 1, 1025, 0, 0},
		{"37x53 in 7x3 blocks", 37, 53, 7, 3},
		{"5x11 in 4x1 blocks", 5, 11, 4, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.fbW > 0 {
				w0, h0 := a.frag.fbW, a.frag.fbH
				a.frag.fbW, a.frag.fbH = c.fbW, c.fbH
				defer func() { a.frag.fbW, a.frag.fbH = w0, h0 }()
			}
			rows, cols := axis(c.rows), axis(c.cols)
			var coords []float32
			for _, r := range rows {
				for _, col := range cols {
					coords = append(coords, float32(r), float32(col))
				}
			}
			want, err := m.DecodePoints(ctx, latent, low, h, w, coords)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(want))
			if err := a.DecodeGrid(ctx, latent, low, h, w, reconstruct.Whole(h, w), rows, cols, got); err != nil {
				t.Fatal(err)
			}
			e := npyt.MaxAbsDiff(got, want)
			pts, err := a.DecodePoints(ctx, latent, low, h, w, coords)
			if err != nil {
				t.Fatal(err)
			}
			ep := npyt.MaxAbsDiff(pts, want)
			t.Logf("grid: max abs %.3g, points: max abs %.3g over %d points", e, ep, len(want))
			if !(e <= 1e-5) || !(ep <= 1e-5) {
				t.Errorf("differs from the CPU decoder: grid %.3g, points %.3g", e, ep)
			}
			// Two planes in one call, as an xy view decodes.
			eps := []reconstruct.EncodedPlane{{Latent: latent, Low: low}, {Latent: latent, Low: low}}
			two := make([]float32, 2*len(want))
			if err := a.DecodeGrids(ctx, eps, h, w, reconstruct.Whole(h, w), rows, cols, two); err != nil {
				t.Fatal(err)
			}
			if e := max(npyt.MaxAbsDiff(two[:len(want)], got), npyt.MaxAbsDiff(two[len(want):], got)); e != 0 {
				t.Errorf("DecodeGrids differs from DecodeGrid by %.3g", e)
			}
		})
	}
}

// TestGL33Process runs the OpenGL tests again in a child process with the
// context forced to 3.3 (NIIV_GL_VERSION) and only the OpenGL 3.3
// functions loaded: the renderer, the fragment decoder, the CPU encoder's
// wiring and LoadModel, with a failure if anything calls another
// function.
func TestGL33Process(t *testing.T) {
	if os.Getenv(strictEnv) == "1" {
		t.Skip("skipping: already the child")
	}
	if testing.Short() {
		t.Skip("skipping: runs the test binary again")
	}
	device(t)
	run := "^(TestOpenInfo|TestGL33Info|TestDrawMatchesCPU|TestDrawOffsetAndErrors|TestExactness|TestNiivMatchesCPU|TestCancel|TestLoadModel|TestPlaneCache|TestDecoderVariants|TestIsotropicMatchesCPU|TestFragDecodeGrid)$"
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v")
	cmd.Env = append(os.Environ(), VersionEnv+"=3.3", strictEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests with %s=3.3: %v\n%s", VersionEnv, err, out)
	}
	s := string(out)
	if !strings.Contains(s, "fragment-shader decoder, encoder on the CPU") || strings.Contains(s, "--- SKIP: TestGL33Info") {
		t.Errorf("the child did not run on the OpenGL 3.3 path:\n%s", s)
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "max abs") || strings.Contains(l, "OpenGL") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

func TestContextError(t *testing.T) {
	apis := []string{api43, api33}
	same := contextError(apis, []error{errors.New("EGL: no display"), errors.New("EGL: no display")})
	if same.Error() != "EGL: no display" {
		t.Errorf("alike failures: %v", same)
	}
	diff := contextError(apis, []error{errors.New("EGL: eglCreateContext failed"), errors.New("load OpenGL 3.3 functions: glTexBuffer missing")})
	if want := "OpenGL 4.3: EGL: eglCreateContext failed; OpenGL 3.3: load OpenGL 3.3 functions: glTexBuffer missing"; diff.Error() != want {
		t.Errorf("different failures: %v, want %s", diff, want)
	}
}
