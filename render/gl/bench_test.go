//go:build linux && cgo

package glrender

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// benchModels returns the model folders to benchmark: $NIIV_BENCH_MODELS
// (comma-separated), else the shipped models, else the tiny test model.
func benchModels() []string {
	if env := os.Getenv("NIIV_BENCH_MODELS"); env != "" {
		return strings.Split(env, ",")
	}
	if d := modelDirs(); len(d) > 1 {
		return d[1:]
	}
	return modelDirs()
}

// benchVolume is a 16×128×128 random volume: a 128³ volume pooled ×8, as
// in package reconstruct's benchmarks.
func benchVolume(b testing.TB) *volume.Volume {
	rng := rand.New(rand.NewPCG(5, 6))
	data := make([]uint8, 16*128*128)
	for i := range data {
		data[i] = uint8(rng.IntN(256))
	}
	v, err := volume.New(volume.Shape{Z: 16, Y: 128, X: 128}, data, volume.Voxel{Z: 64, Y: 8, X: 8, Unit: "nm", Known: true})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// benchNiiv returns the niiv method of dir on the CPU ("cpu") or through
// the GL accelerator ("gl": the shared device, compute shaders where it
// is OpenGL 4.3; "gl33": an OpenGL 3.3 device, fragment-shader decoder and
// CPU encoder), also returned, with GPU timing on.
func benchNiiv(b *testing.B, d *Device, dir, dev string) (*reconstruct.Niiv, *Accelerator) {
	m := loadModel(b, dir)
	var a *Accelerator
	switch dev {
	case "gl":
		a = accelerator(b, d, m, dir)
	case "gl33":
		a = accelerator(b, device33(b), m, dir)
	}
	if a != nil {
		m.SetAccelerator(a)
		a.timing.Store(true)
	}
	return reconstruct.NewNiiv(m, nil), a
}

// gpuTime reports gpu-ms/op for a (nil: nothing), the GPU time of the
// encoder's and decoder's dispatches since reset (the rest of ns/op is
// transfers, synchronisation and CPU work). Timer queries may read 0 on
// software renderers.
func gpuTime(b *testing.B, a *Accelerator, reset bool) {
	switch {
	case a == nil:
	case reset:
		a.gpuNS.Store(0)
	case b.N > 0:
		b.ReportMetric(float64(a.gpuNS.Load())/1e6/float64(b.N), "gpu-ms/op")
	}
}

var benchDevices = []string{"cpu", "gl", "gl33"}

// BenchmarkDraw512 colours a 512×512 float image with the CPU reference
// renderer and with OpenGL (upload, draw, read back).
func BenchmarkDraw512(b *testing.B) {
	d := device(b)
	src := testImage(512, 512)
	s := render.Style{Min: 0, Max: 1000, Gamma: 0.8, Map: render.Viridis}
	b.Run("cpu", func(b *testing.B) {
		for b.Loop() {
			render.Image(src, s)
		}
	})
	b.Run("gl", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.Image(src, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTransfer512 times the two copies a GPU-decoded 512×512 frame
// makes between GPU and CPU memory before it is coloured: the decoder's
// output read back (readback: glGetBufferSubData of 1 MiB) and the float
// image uploaded to the colouring texture (upload: glTexSubImage2D, then
// glFinish so that the copy is done, not queued). Their sum is what
// colouring straight from the decoder's buffer would save a frame.
func BenchmarkTransfer512(b *testing.B) {
	d := device(b)
	const n = 512
	pix := testImage(n, n).Pix
	var buf, tex uint32
	if err := d.Do(func() error {
		gl.GenBuffers(1, &buf)
		gl.BindBuffer(gl.ARRAY_BUFFER, buf)
		gl.BufferData(gl.ARRAY_BUFFER, 4*n*n, unsafe.Pointer(&pix[0]), gl.DYNAMIC_COPY)
		gl.GenTextures(1, &tex)
		gl.BindTexture(gl.TEXTURE_2D, tex)
		gl.TexImage2D(gl.TEXTURE_2D, 0, gl.R32F, n, n, 0, gl.RED, gl.FLOAT, nil)
		return glError("transfer set-up")
	}); err != nil {
		b.Fatal(err)
	}
	defer d.Do(func() error {
		gl.DeleteBuffers(1, &buf)
		gl.DeleteTextures(1, &tex)
		return nil
	})
	out := make([]float32, n*n)
	b.Run("readback", func(b *testing.B) {
		b.SetBytes(4 * n * n)
		for b.Loop() {
			if err := d.Do(func() error {
				gl.BindBuffer(gl.ARRAY_BUFFER, buf)
				gl.GetBufferSubData(gl.ARRAY_BUFFER, 0, 4*n*n, unsafe.Pointer(&out[0]))
				return glError("readback")
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(4 * n * n)
		for b.Loop() {
			if err := d.Do(func() error {
				gl.BindTexture(gl.TEXTURE_2D, tex)
				gl.PixelStorei(gl.UNPACK_ALIGNMENT, 4)
				gl.TexSubImage2D(gl.TEXTURE_2D, 0, 0, 0, n, n, gl.RED, gl.FLOAT, unsafe.Pointer(&pix[0]))
				gl.Finish()
				return glError("upload")
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if out[n*n-1] != pix[n*n-1] {
		b.Errorf("read back %v, uploaded %v", out[n*n-1], pix[n*n-1])
	}
}

// BenchmarkView512 decodes one xz slice of a 128³ volume (factor 8) at
// 512×512 with its latent cached: the viewer's interactive case.
func BenchmarkView512(b *testing.B) {
	benchView(b, volume.XZ, 64)
}

// BenchmarkViewXY512 decodes the xy plane at a fractional z of a 128³
// volume (factor 8) at 512×512 with the xz planes' latents cached: one
// decode of one row per xz plane crossed.
func BenchmarkViewXY512(b *testing.B) {
	benchView(b, volume.XY, 7.375)
}

// benchKernels runs bench for each decoder kernel of dev's accelerator:
// for "gl", the kernel Tune picked (named "gl") and then every compiled
// kernel by name ("gl/tiled-32x128"); for the other devices, bench alone.
// The kernels' sub-benchmarks are skipped when NIIV_BENCH_KERNELS=0.
func benchKernels(b *testing.B, d *Device, dir, dev string, bench func(b *testing.B, n *reconstruct.Niiv, a *Accelerator)) {
	name := filepath.Base(filepath.Clean(dir)) + "/" + dev
	b.Run(name, func(b *testing.B) {
		n, a := benchNiiv(b, d, dir, dev)
		if a != nil {
			b.Logf("%s: decoder kernel %s of %v (tuning times %v; encoder convolutions %d px a thread, times %v for %v)", name, a.Kernel(), a.Kernels(), a.tuned, a.ConvPixels(), a.encTuned, convPixels)
		}
		bench(b, n, a)
	})
	if dev != "gl" || os.Getenv("NIIV_BENCH_KERNELS") == "0" {
		return
	}
	n, a := benchNiiv(b, d, dir, dev)
	for _, k := range a.Kernels() {
		b.Run(name+"/"+k, func(b *testing.B) {
			if err := a.SetKernel(k); err != nil {
				b.Fatal(err)
			}
			bench(b, n, a)
		})
	}
}

// benchView times a 512×512 view of plane index of axis, for every model,
// device and decoder kernel, after one untimed render that fills the
// latent cache.
func benchView(b *testing.B, axis volume.Axis, index float64) {
	d := device(b)
	vol := benchVolume(b)
	for _, dir := range benchModels() {
		for _, dev := range benchDevices {
			benchKernels(b, d, dir, dev, func(b *testing.B, n *reconstruct.Niiv, a *Accelerator) {
				req := reconstruct.FullPlane(vol, axis, index, 512, 512)
				if _, err := n.Render(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				gpuTime(b, a, true)
				for b.Loop() {
					if _, err := n.Render(context.Background(), req); err != nil {
						b.Fatal(err)
					}
				}
				gpuTime(b, a, false)
			})
		}
	}
}

// BenchmarkVolume128 reconstructs a whole 128³ volume from factor 8 with
// the xz pass (encode 128 slices, decode 128×128 each), as package
// reconstruct's benchmark of that name does.
func BenchmarkVolume128(b *testing.B) {
	d := device(b)
	vol := benchVolume(b)
	for _, dir := range benchModels() {
		for _, dev := range benchDevices {
			benchKernels(b, d, dir, dev, func(b *testing.B, n *reconstruct.Niiv, a *Accelerator) {
				gpuTime(b, a, true)
				for b.Loop() {
					if _, err := reconstruct.Isotropic(context.Background(), n, vol, reconstruct.VolumeOptions{ZScale: 8, Axes: []volume.Axis{volume.XZ}}); err != nil {
						b.Fatal(err)
					}
				}
				gpuTime(b, a, false)
			})
		}
	}
}

// BenchmarkEncode128 encodes the 128 xz slices of a 128³ volume pooled ×8
// (128 planes of 16×128) with each variant of the tiled convolutions
// (output pixels a thread): the encoder's share of BenchmarkVolume128.
func BenchmarkEncode128(b *testing.B) {
	d := device(b)
	if d.Info().Fallback() {
		b.Skip("skipping: the CPU encodes on OpenGL 3.3")
	}
	low := make([]float32, 128*16*128)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range low {
		low[i] = rng.Float32()
	}
	for _, dir := range benchModels() {
		_, a := benchNiiv(b, d, dir, "gl")
		for _, px := range convPixels {
			b.Run(fmt.Sprintf("%s/gl/%dpx", filepath.Base(filepath.Clean(dir)), px), func(b *testing.B) {
				if err := a.SetConvPixels(px); err != nil {
					b.Fatal(err)
				}
				gpuTime(b, a, true)
				for b.Loop() {
					if _, err := a.Encode(context.Background(), low, 128, 16, 128); err != nil {
						b.Fatal(err)
					}
				}
				gpuTime(b, a, false)
			})
		}
	}
}
