package reconstruct

import (
	"context"
	"math"
	"testing"

	"github.com/niiv/niiv/volume"
)

// TestIsotropicSourceMatches reads the block-by-block reconstruction of a
// volume, in blocks of several sizes (edge blocks included; blocks of all
// slices and of part of them), and compares it with the whole-volume
// Isotropic: voxel for voxel the same, for every method, from the volume in
// memory and read lazily.
func TestIsotropicSourceMatches(t *testing.T) {
	mem := bigVolume(t, 6, 40, 52)
	lz, err := volume.NewLazy(&countingSource{v: mem})
	if err != nil {
		t.Fatal(err)
	}
	methods := allMethods(t, 64<<20)
	opt := VolumeOptions{ZScale: 4}
	for _, m := range methods {
		want, err := Isotropic(context.Background(), m, mem, opt)
		if err != nil {
			t.Fatal(err)
		}
		ws := want.Shape()
		wv := voxels(want)
		for _, tc := range []struct {
			name  string
			vol   *volume.Volume
			block volume.Shape
		}{
			{"in memory, 24×16×16 blocks", mem, volume.Shape{Z: 24, Y: 16, X: 16}},
			{"lazy, 24×7×19 blocks", lz, volume.Shape{Z: 24, Y: 7, X: 19}},
			{"lazy, 5×40×11 blocks", lz, volume.Shape{Z: 5, Y: 40, X: 11}},
		} {
			t.Run(m.Name()+"/"+tc.name, func(t *testing.T) {
				src, err := IsotropicSource(m, tc.vol, opt, volume.Float32)
				if err != nil {
					t.Fatal(err)
				}
				if src.Meta().Shape != ws || src.Meta().Voxel.Z != want.Voxel.Z {
					t.Fatalf("meta %+v, want shape %v voxel %v", src.Meta(), ws, want.Voxel)
				}
				bs := tc.block
				for z0 := 0; z0 < ws.Z; z0 += bs.Z {
					for y0 := 0; y0 < ws.Y; y0 += bs.Y {
						for x0 := 0; x0 < ws.X; x0 += bs.X {
							b := volume.Box{Z0: z0, Z1: min(z0+bs.Z, ws.Z), Y0: y0, Y1: min(y0+bs.Y, ws.Y), X0: x0, X1: min(x0+bs.X, ws.X)}
							got, err := src.Read(context.Background(), b)
							if err != nil {
								t.Fatal(err)
							}
							g := voxels(got)
							i := 0
							for z := b.Z0; z < b.Z1; z++ {
								for y := b.Y0; y < b.Y1; y++ {
									for x := b.X0; x < b.X1; x++ {
										if w := wv[(z*ws.Y+y)*ws.X+x]; g[i] != w {
											t.Fatalf("voxel (%d,%d,%d) of block %v: %v, whole volume %v (diff %g)", z, y, x, b, g[i], w, math.Abs(float64(g[i]-w)))
										}
										i++
									}
								}
							}
						}
					}
				}
			})
		}
	}
}

// TestIsotropicSourceTypes: integer outputs are rounded and clamped.
func TestIsotropicSourceTypes(t *testing.T) {
	mem := bigVolume(t, 4, 8, 8)
	for _, dt := range []volume.DType{volume.Uint8, volume.Uint16, volume.Int16} {
		src, err := IsotropicSource(Linear, mem, VolumeOptions{ZScale: 2}, dt)
		if err != nil {
			t.Fatal(err)
		}
		v, err := src.Read(context.Background(), volume.Whole(src.Meta().Shape))
		if err != nil {
			t.Fatal(err)
		}
		f, _ := Isotropic(context.Background(), Linear, mem, VolumeOptions{ZScale: 2})
		a, b := voxels(v), voxels(f)
		for i := range a {
			if a[i] != float32(math.Round(float64(b[i]))) && b[i] >= 0 && b[i] <= 255 {
				t.Fatalf("%v voxel %d: %v, want round(%v)", dt, i, a[i], b[i])
			}
		}
	}
	if _, err := IsotropicSource(Linear, mem, VolumeOptions{}, volume.Float64); err == nil {
		t.Error("float64 output accepted")
	}
}

// voxels returns v's voxels as float32.
func voxels(v *volume.Volume) []float32 {
	s := v.Shape()
	out := make([]float32, 0, s.Len())
	for z := range s.Z {
		for y := range s.Y {
			for x := range s.X {
				out = append(out, float32(v.At(z, y, x)))
			}
		}
	}
	return out
}
