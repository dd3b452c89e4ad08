package viewer

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// pyramidSource is a three-level pyramid of a 8×256×256 volume, 8×
// anisotropic, downsampled 2× and 4× in x and y only (as OME-Zarr pyramids
// of EM stacks are); every voxel of level n holds the value n.
type pyramidSource struct{ levels []*volume.Volume }

func newPyramid(t *testing.T) pyramidSource {
	t.Helper()
	var p pyramidSource
	for n, f := range []int{1, 2, 4} {
		s := volume.Shape{Z: 8, Y: 256 / f, X: 256 / f}
		d := make([]float32, s.Len())
		for i := range d {
			d[i] = float32(n)
		}
		v, err := volume.New(s, d, volume.Voxel{Z: 8, Y: float64(f), X: float64(f), Unit: "nm", Known: true})
		if err != nil {
			t.Fatal(err)
		}
		p.levels = append(p.levels, v)
	}
	return p
}

func (p pyramidSource) Meta() volume.Meta { return p.levels[0].Meta() }
func (p pyramidSource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	return p.levels[0].Read(ctx, b)
}
func (p pyramidSource) Levels() []volume.Source {
	out := []volume.Source{p}
	for _, l := range p.levels[1:] {
		out = append(out, l)
	}
	return out
}

// ranged is a fake niiv renderer trained for factors 4–12.
type ranged struct{ *fake }

func (ranged) FactorRange() (int, int) { return 4, 12 }

func TestPyramidLevel(t *testing.T) {
	vol, err := volume.NewLazy(newPyramid(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		s     Slice
		level int
		want  Slice // the slice on that level (Vol not compared)
	}{
		{"xy at one voxel per pixel", Slice{Axis: volume.XY, Index: 3, R1: 256, C1: 256, W: 256, H: 256}, 0,
			Slice{Axis: volume.XY, Index: 3, R1: 256, C1: 256, W: 256, H: 256}},
		{"xy zoomed in", Slice{Axis: volume.XY, Index: 3, R0: 10, R1: 20, C0: 10, C1: 20, W: 100, H: 100}, 0,
			Slice{Axis: volume.XY, Index: 3, R0: 10, R1: 20, C0: 10, C1: 20, W: 100, H: 100}},
		{"xy at 2 voxels per pixel", Slice{Axis: volume.XY, Index: 3, R1: 256, C1: 256, W: 128, H: 128}, 1,
			Slice{Axis: volume.XY, Index: 3, R1: 128, C1: 128, W: 128, H: 128}},
		{"xy at 5 voxels per pixel", Slice{Axis: volume.XY, Index: 5, R1: 250, C1: 250, W: 50, H: 50}, 2,
			Slice{Axis: volume.XY, Index: 5, R1: 62.5, C1: 62.5, W: 50, H: 50}},
		{"xz at 4 voxels per pixel", Slice{Axis: volume.XZ, Index: 101, R1: 8, C1: 256, W: 64, H: 32}, 2,
			Slice{Axis: volume.XZ, Index: 25, R1: 8, C1: 64, W: 64, H: 32}},
		{"yz at 2 voxels per pixel", Slice{Axis: volume.YZ, Index: 255, R0: 2, R1: 6, C1: 256, W: 128, H: 16}, 1,
			Slice{Axis: volume.YZ, Index: 127, R0: 2, R1: 6, C1: 128, W: 128, H: 16}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.Vol = vol
			l := pyramidLevel(tc.s)
			if l.n != tc.level {
				t.Fatalf("level %d, want %d", l.n, tc.level)
			}
			got := l.Slice
			got.Vol = nil
			if got != tc.want {
				t.Errorf("slice on the level %+v, want %+v", got, tc.want)
			}
			if want := 8 / math.Pow(2, float64(tc.level)); l.aniso != want {
				t.Errorf("anisotropy %v, want %v", l.aniso, want)
			}
		})
	}
}

// TestPipelineReadsLevels renders a zoomed-out XZ view of a lazy pyramid
// through the pipeline: the frame comes from the coarse level, and niiv
// gives way to linear where the level is below the model's factors.
func TestPipelineReadsLevels(t *testing.T) {
	vol, err := volume.NewLazy(newPyramid(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := func(name string, value float32) Renderer {
		return levelProbe{name: name, value: value}
	}
	ms := Methods{Nearest: seen("nearest", 0), Linear: seen("linear", 100), Niiv: ranged{&fake{name: "niiv-test"}}}
	ms.Niiv = rangedProbe{levelProbe{name: "niiv-test", value: 200}}
	tests := []struct {
		name   string
		mode   Mode
		w      int
		value  float32 // renderer offset + the level read
		inName []string
	}{
		{"niiv at full resolution", Niiv, 256, 200, []string{"niiv-test"}},
		{"niiv on level 1 (4× anisotropic)", Niiv, 128, 201, []string{"niiv-test · pyramid level 1 (1/2 in xy)"}},
		{"niiv on level 2 falls back to linear", Niiv, 64, 102, []string{"linear · pyramid level 2", "below niiv-test's 4–12×"}},
		{"linear on level 2", Linear, 64, 102, []string{"linear · pyramid level 2 (1/4 in xy)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			p := NewPipeline(ms, rec.deliver, true)
			defer p.Close()
			g := Geometry{Axis: volume.XZ, Index: 40, R1: 8, C1: 256, W: tc.w, H: 32, Rows: 8, Cols: 256, Unit: "nm", Scale: 1, RowSize: 8, ColSize: 1}
			p.Submit(Request{ID: 1, Vol: vol, Geometry: g, Mode: tc.mode, Style: render.Style{Min: 0, Max: 255, Gamma: 1}})
			f := <-rec.final
			if f.Err != nil {
				t.Fatal(f.Err)
			}
			if f.Image == nil {
				t.Fatal("no image")
			}
			if got := f.Image.Pix[0]; math.Abs(float64(got)-float64(tc.value)) > 1 {
				t.Errorf("grey %d, want %v (renderer offset + level)", got, tc.value)
			}
			for _, s := range tc.inName {
				if !strings.Contains(f.Method, s) {
					t.Errorf("method %q lacks %q", f.Method, s)
				}
			}
		})
	}
}

// levelProbe renders the value of the slice's volume at its origin plus
// value: which level was read shows in the image.
type levelProbe struct {
	name  string
	value float32
}

func (l levelProbe) Name() string { return l.name }
func (l levelProbe) Render(ctx context.Context, s Slice) (*volume.Image, error) {
	img := volume.NewImage(s.W, s.H)
	v := l.value + float32(s.Vol.At(0, 0, 0))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	return img, nil
}

type rangedProbe struct{ levelProbe }

func (rangedProbe) FactorRange() (int, int) { return 4, 12 }

// TestZoomedOutWithoutPyramid: zoomed out on a lazy volume with no coarser
// level (a large TIFF stack), niiv gives way to linear where a screen pixel
// spans so many voxels that the view is below the model's anisotropy; close
// up, niiv draws.
func TestZoomedOutWithoutPyramid(t *testing.T) {
	vol, err := volume.NewLazy(newPyramid(t).levels[0]) // 8× anisotropic, no levels
	if err != nil {
		t.Fatal(err)
	}
	ms := Methods{Nearest: levelProbe{name: "nearest"}, Linear: levelProbe{name: "linear", value: 100}, Niiv: rangedProbe{levelProbe{name: "niiv-test", value: 200}}}
	for _, tc := range []struct {
		w     int
		value float32
		name  string
	}{
		{256, 200, "niiv-test"}, // one voxel per pixel
		{128, 200, "niiv-test"}, // 2 voxels per pixel: 4×, in range
		{64, 100, "linear · zoomed out: a screen pixel spans 4 voxels, so the view is 2× anisotropic, below niiv-test's 4–12×"},
	} {
		rec := newRecorder()
		p := NewPipeline(ms, rec.deliver, true)
		g := Geometry{Axis: volume.XZ, Index: 40, R1: 8, C1: 256, W: tc.w, H: 32, Rows: 8, Cols: 256, Unit: "nm", Scale: 1, RowSize: 8, ColSize: 1}
		p.Submit(Request{ID: 1, Vol: vol, Geometry: g, Mode: Niiv, Style: render.Style{Min: 0, Max: 255, Gamma: 1}})
		f := <-rec.final
		p.Close()
		if f.Err != nil {
			t.Fatal(f.Err)
		}
		if got := f.Image.Pix[0]; math.Abs(float64(got)-float64(tc.value)) > 1 || !strings.Contains(f.Method, tc.name) {
			t.Errorf("w=%d: grey %d, method %q; want %v, %q", tc.w, got, f.Method, tc.value, tc.name)
		}
	}
}
