package viewer_test

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/niiv/niiv/assets"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/viewer/engine"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

// The benchmarks run the pipeline the GUI runs (model → request → worker →
// decode → colour → overlays) on the bundled sample (16×128×128 at
// 64×8×8 nm) in a 512×512 view, synchronously so that each iteration is one
// finished frame.
//
//	go test ./viewer -run '^$' -bench . -benchtime 20x
//	NIIV_BENCH_MODEL=lite|paper|DIR selects the niiv model (default lite,
//	else testdata/tiny-model).

func benchSetup(b *testing.B, axis volume.Axis, mode viewer.Mode) (*viewer.Model, *viewer.Worker, *viewer.Frame) {
	b.Helper()
	vol, err := sample.Anisotropic(sample.Options{}, 8)
	if err != nil {
		b.Fatal(err)
	}
	m := viewer.New(vol)
	m.SetSize(axis, image.Pt(512, 512))
	m.SetMode(mode)
	methods := engine.Classical(nil)
	if mode != viewer.Linear && mode != viewer.Nearest {
		methods = niivMethods(b)
	}
	var last viewer.Frame
	w := viewer.NewWorker(methods, func(f viewer.Frame) { last = f }, true)
	return m, w, &last
}

func niivMethods(b *testing.B) viewer.Methods {
	b.Helper()
	ref := os.Getenv("NIIV_BENCH_MODEL")
	refs := []string{ref}
	if ref == "" {
		refs = []string{engine.DefaultModel, filepath.Join("..", "testdata", "tiny-model")}
	}
	for _, r := range refs {
		ms, closeModel, info := engine.Load(context.Background(), engine.Options{Model: r, Embedded: assets.Models})
		if ms.Niiv != nil {
			b.Cleanup(closeModel)
			b.Logf("%s", info)
			return ms
		}
		b.Logf("model %s: %v", r, ms.NiivError)
	}
	b.Skip("no niiv model could be loaded (ONNX Runtime missing?)")
	return viewer.Methods{}
}

// submit runs one request and checks its final frame.
func submit(b *testing.B, w *viewer.Worker, last *viewer.Frame, req viewer.Request) {
	w.Submit(req)
	if last.Err != nil || last.Image == nil || last.Request.ID != req.ID {
		b.Fatalf("no frame: %+v", last.Err)
	}
}

// BenchmarkFirstFrameNewSlice is the cheap frame shown at once when the user
// steps to a new XZ slice: linear decode of 512×512, colour, overlays.
func BenchmarkFirstFrameNewSlice(b *testing.B) {
	m, w, last := benchSetup(b, volume.XZ, viewer.Linear)
	i := 0
	for b.Loop() {
		m.SetIndex(volume.XZ, float64(i%128))
		i++
		submit(b, w, last, m.Request(volume.XZ, 1))
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/frame")
}

// BenchmarkFirstFrameFractionalXY is the linear frame of an XY plane between
// acquired slices.
func BenchmarkFirstFrameFractionalXY(b *testing.B) {
	m, w, last := benchSetup(b, volume.XY, viewer.Linear)
	i := 0
	for b.Loop() {
		m.SetIndex(volume.XY, 0.25+float64(i%14))
		i++
		submit(b, w, last, m.Request(volume.XY, 1))
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/frame")
}

// BenchmarkRecolour is a contrast change: the decoded image is cached, so
// only colouring and overlays run.
func BenchmarkRecolour(b *testing.B) {
	m, w, last := benchSetup(b, volume.XZ, viewer.Linear)
	submit(b, w, last, m.Request(volume.XZ, 1))
	i := 0
	for b.Loop() {
		c := m.Contrast()
		c.Gamma = 1 + float64(i%10)/10
		i++
		m.SetContrast(c)
		submit(b, w, last, m.Request(volume.XZ, 1))
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1e3, "ms/frame")
}

// BenchmarkNiivZoom is the niiv frame of a 512×512 XZ view after a zoom or
// pan: the plane's latent is cached, only the decoder runs, at the view's
// resolution.
func BenchmarkNiivZoom(b *testing.B) {
	m, w, last := benchSetup(b, volume.XZ, viewer.Niiv)
	submit(b, w, last, m.Request(volume.XZ, 1)) // encode once
	i := 0
	for b.Loop() {
		m.SetZoom(volume.XZ, 1+float64(i%20)/100)
		i++
		submit(b, w, last, m.Request(volume.XZ, 1))
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/frame")
	b.ReportMetric(float64(last.Decode.Microseconds())/1e3, "decode-ms")
}

// BenchmarkNiivNewSlice is the niiv frame of a new XZ slice: encode the
// plane and decode 512×512.
func BenchmarkNiivNewSlice(b *testing.B) {
	m, w, last := benchSetup(b, volume.XZ, viewer.Niiv)
	i := 0
	for b.Loop() {
		m.SetIndex(volume.XZ, float64((i*37)%128))
		i++
		submit(b, w, last, m.Request(volume.XZ, 1))
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/frame")
}

// BenchmarkInteractive measures, with the asynchronous pipeline the GUI
// uses, how long after a slice step the first (linear) frame and the niiv
// frame arrive.
func BenchmarkInteractive(b *testing.B) {
	vol, err := sample.Anisotropic(sample.Options{}, 8)
	if err != nil {
		b.Fatal(err)
	}
	m := viewer.New(vol)
	m.SetSize(volume.XZ, image.Pt(512, 512))
	m.SetMode(viewer.Niiv)
	frames := make(chan viewer.Frame, 8)
	w := viewer.NewWorker(niivMethods(b), func(f viewer.Frame) { frames <- f }, false)
	defer w.Close()
	var first, final time.Duration
	i := 0
	for b.Loop() {
		m.SetIndex(volume.XZ, float64((i*37)%128))
		i++
		t0 := time.Now()
		w.Submit(m.Request(volume.XZ, 1))
		for f := range frames {
			if f.Err != nil {
				b.Fatal(f.Err)
			}
			if !f.Final {
				first += time.Since(t0)
				continue
			}
			final += time.Since(t0)
			break
		}
	}
	b.ReportMetric(float64(first.Microseconds())/1e3/float64(b.N), "first-ms")
	b.ReportMetric(float64(final.Microseconds())/1e3/float64(b.N), "niiv-ms")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// BenchmarkNiivFractionalXY is the niiv frame of a 512×512 XY view between
// acquired slices, after a zoom (the planes it needs are encoded once).
func BenchmarkNiivFractionalXY(b *testing.B) {
	m, w, last := benchSetup(b, volume.XY, viewer.Niiv)
	m.SetIndex(volume.XY, 7.5)
	submit(b, w, last, m.Request(volume.XY, 1)) // encode once
	i := 0
	for b.Loop() {
		m.SetZoom(volume.XY, 1+float64(i%20)/100)
		i++
		submit(b, w, last, m.Request(volume.XY, 1))
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/frame")
}

// BenchmarkChannels is a frame of a 512×512 XZ view of the confocal-like
// sample with 1 and 3 channels: linear, a new slice each frame (decode,
// colour or composite, overlays), whose budget is channels × the
// one-channel cost + 2 ms; and niiv after a zoom (each channel's latents
// cached, its decoder run).
//
//	go test ./viewer -run '^$' -bench Channels/linear -benchtime 200x
//	go test ./viewer -run '^$' -bench Channels/niiv -benchtime 10x
func BenchmarkChannels(b *testing.B) {
	h, err := sample.Confocal(context.Background(), sample.ConfocalOptions{Channels: 3, Times: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []viewer.Mode{viewer.Linear, viewer.Niiv} {
		for _, n := range []int{1, 3} {
			b.Run(fmt.Sprintf("%v/channels=%d", mode, n), func(b *testing.B) {
				sel, err := h.Select([]int{0, 1, 2}[:n], nil)
				if err != nil {
					b.Fatal(err)
				}
				m := viewer.NewStack(sel)
				m.SetSize(volume.XZ, image.Pt(512, 512))
				m.SetMode(mode)
				methods := engine.Classical(nil)
				if mode == viewer.Niiv {
					methods = niivMethods(b)
				}
				var last viewer.Frame
				w := viewer.NewWorker(methods, func(f viewer.Frame) { last = f }, true)
				submit(b, w, &last, m.Request(volume.XZ, 1)) // niiv: the latents
				ny := sel.Shape().Y
				i := 0
				for b.Loop() {
					i++
					if mode == viewer.Niiv {
						m.SetZoom(volume.XZ, 1+float64(i)/128) // never the same: no cached frame
					} else {
						m.SetIndex(volume.XZ, float64(i%ny))
					}
					submit(b, w, &last, m.Request(volume.XZ, 1))
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1e3, "ms/frame")
			})
		}
	}
}
