package reconstruct

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

// benchModels returns the model folders to benchmark: $NIIV_BENCH_MODELS
// (comma-separated) or the shipped models, else the tiny test model.
func benchModels(b *testing.B) []string {
	if env := os.Getenv("NIIV_BENCH_MODELS"); env != "" {
		return strings.Split(env, ",")
	}
	d := modelDirs(b)
	if len(d) > 1 {
		return d[1:]
	}
	return d
}

// benchVolume is a 16×128×128 random volume: a 128³ volume pooled ×8.
func benchVolume(b testing.TB) *volume.Volume {
	return randomVolume(b, volume.Shape{Z: 16, Y: 128, X: 128}, volume.Voxel{Z: 64, Y: 8, X: 8, Unit: "nm", Known: true}, 5)
}

// randomVolume is a uint8 volume of random voxels (speed does not depend
// on them).
func randomVolume(b testing.TB, s volume.Shape, vox volume.Voxel, seed uint64) *volume.Volume {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	data := make([]uint8, s.Len())
	for i := range data {
		data[i] = uint8(rng.IntN(256))
	}
	v, err := volume.New(s, data, vox)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkView512 decodes one xz slice of a 128³ volume (factor 8) at
// 512×512 with its latent cached: the viewer's interactive case.
func BenchmarkView512(b *testing.B) {
	needRuntime(b)
	vol := benchVolume(b)
	for _, dir := range benchModels(b) {
		b.Run(filepath.Base(dir), func(b *testing.B) {
			m := loadTest(b, dir, ModelOptions{Device: "cpu", Int8: os.Getenv("NIIV_BENCH_INT8") != ""})
			n := NewNiiv(m, nil)
			req := FullPlane(vol, volume.XZ, 64, 512, 512)
			if _, err := n.Render(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := n.Render(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVolume128 reconstructs a whole 128³ volume from factor 8 with
// the xz pass (encode 128 slices, decode 128×128 each).
func BenchmarkVolume128(b *testing.B) {
	needRuntime(b)
	vol := benchVolume(b)
	for _, dir := range benchModels(b) {
		b.Run(filepath.Base(dir), func(b *testing.B) {
			m := loadTest(b, dir, ModelOptions{Device: "cpu"})
			n := NewNiiv(m, nil)
			for b.Loop() {
				if _, err := Isotropic(context.Background(), n, vol, VolumeOptions{ZScale: 8, Axes: []volume.Axis{volume.XZ}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkXY128 renders the xy plane at a fractional z of a 128² volume
// from cold (every xz plane encoded).
func BenchmarkXY128(b *testing.B) {
	needRuntime(b)
	vol := benchVolume(b)
	for _, dir := range benchModels(b) {
		b.Run(filepath.Base(dir), func(b *testing.B) {
			m := loadTest(b, dir, ModelOptions{Device: "cpu"})
			for b.Loop() {
				n := NewNiiv(m, nil)
				req := FullPlane(vol, volume.XY, 7.375, 128, 128)
				if _, err := n.Render(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGemm measures the MLP kernel on a 64→64 and a 256→256 layer
// (b.SetBytes reports flops as bytes: read MB/s as MFLOP/s).
func BenchmarkGemm(b *testing.B) {
	for _, k := range []int{64, 256} {
		b.Run(strings.Repeat("k", 1)+itoa(k), func(b *testing.B) {
			rows := 960
			a := make([]float32, rows*k)
			for i := range a {
				a[i] = float32(i%7) * 0.1
			}
			l := packLayer(make([]float32, k*k), k, k, make([]float32, k), k, k)
			c := make([]float32, rows*k)
			b.SetBytes(int64(2 * rows * k * k))
			for b.Loop() {
				gemm(a, rows, k, &l, c, k, true)
			}
		})
	}
}

func itoa(i int) string {
	s := ""
	for {
		s = string(rune('0'+i%10)) + s
		if i /= 10; i == 0 {
			return s
		}
	}
}

// BenchmarkXYLarge renders, from cold, the xy plane between slices of a
// 30×512×512 volume (the ISBI ssTEM stack's shape): the whole plane at
// 512×512 and a 4× zoomed 128×128 region at 512×512.
func BenchmarkXYLarge(b *testing.B) {
	needRuntime(b)
	rng := rand.New(rand.NewPCG(9, 10))
	s := volume.Shape{Z: 30, Y: 512, X: 512}
	data := make([]uint8, s.Len())
	for i := range data {
		data[i] = uint8(rng.IntN(256))
	}
	vol, _ := volume.New(s, data, volume.Unknown())
	for _, dir := range benchModels(b) {
		m := loadTest(b, dir, ModelOptions{Device: "cpu"})
		for _, c := range []struct {
			name string
			req  Request
		}{
			{"full", FullPlane(vol, volume.XY, 14.5, 512, 512)},
			{"zoom4", Request{Vol: vol, Axis: volume.XY, Index: 14.5, R0: 192, R1: 320, C0: 192, C1: 320, W: 512, H: 512}},
		} {
			b.Run(filepath.Base(dir)+"/"+c.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := NewNiiv(m, nil).Render(context.Background(), c.req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkZoomedLargePlane renders a new 256×256 xz view zoomed on a
// 64×8192 plane (a 512-slice volume pooled ×8, 8192 px wide): "crop"
// encodes what the view shows (grown by half the view), "whole" the whole
// plane, as every view did before cropAbove.
func BenchmarkZoomedLargePlane(b *testing.B) {
	needRuntime(b)
	s := volume.Shape{Z: 64, Y: 2, X: 8192}
	data := make([]uint8, s.Len())
	for i := range data {
		data[i] = uint8(i*7 + i/8192*13)
	}
	vol, err := volume.New(s, data, volume.Voxel{Z: 64, Y: 8, X: 8, Unit: "nm", Known: true})
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Vol: vol, Axis: volume.XZ, Index: 1, R0: 16, R1: 48, C0: 4000, C1: 4256, W: 256, H: 256}
	for _, dir := range benchModels(b) {
		m := loadTest(b, dir, ModelOptions{Device: "cpu"})
		for _, c := range []struct {
			name  string
			above int
		}{{"crop", cropAbove}, {"whole", 1 << 62}} {
			b.Run(filepath.Base(dir)+"/"+c.name, func(b *testing.B) {
				defer func(v int) { cropAbove = v }(cropAbove)
				cropAbove = c.above
				for b.Loop() {
					if _, err := NewNiiv(m, nil).Render(context.Background(), req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkXYNewZ renders a 444×444 xy view of a 30×512×512 stack (12.5×
// anisotropic, as the ISBI 2012 ssTEM stack): the first view encodes the
// 512 xz planes it crosses (cold), a later z decodes from the latent cache
// (warm; CacheBudget bytes, which hold them on a machine of 8 GB or more).
func BenchmarkXYNewZ(b *testing.B) {
	needRuntime(b)
	vol := randomVolume(b, volume.Shape{Z: 30, Y: 512, X: 512}, volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true}, 7)
	req := func(z float64) Request {
		return Request{Vol: vol, Axis: volume.XY, Index: z, R0: 0, R1: 512, C0: 0, C1: 512, W: 444, H: 444}
	}
	for _, dir := range benchModels(b) {
		m := loadTest(b, dir, ModelOptions{Device: "cpu"})
		b.Run(filepath.Base(dir)+"/cold", func(b *testing.B) {
			for b.Loop() {
				if _, err := NewNiiv(m, nil).Render(context.Background(), req(14)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(filepath.Base(dir)+"/warm", func(b *testing.B) {
			n := NewNiiv(m, nil)
			if _, err := n.Render(context.Background(), req(14)); err != nil {
				b.Fatal(err)
			}
			z := 14.0
			for b.Loop() {
				z += 0.125 // an isotropic step: a new frame, the same planes
				if z > 16 {
					z = 14
				}
				if _, err := n.Render(context.Background(), req(z)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
