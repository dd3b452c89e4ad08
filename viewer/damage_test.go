package viewer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/niiv/niiv/render"
	"github.com/niiv/niiv/volume"
)

// damagedSource is a lazy volume's source with one unreadable chunk: reads
// touching z 0–3, y 0–7 return the voxels (that region zero) with an error
// wrapping volume.ErrPartial, as the Zarr reader does for a corrupt chunk.
type damagedSource struct{ meta volume.Meta }

func (d damagedSource) Meta() volume.Meta { return d.meta }

func (d damagedSource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	s := b.Shape()
	data := make([]uint8, s.Len())
	bad := false
	i := 0
	for z := b.Z0; z < b.Z1; z++ {
		for y := b.Y0; y < b.Y1; y++ {
			for x := b.X0; x < b.X1; x++ {
				if z < 4 && y < 8 {
					bad = true
				} else {
					data[i] = 100
				}
				i++
			}
		}
	}
	v, err := volume.New(s, data, volume.Voxel{})
	if err != nil {
		return nil, err
	}
	if bad {
		return v, fmt.Errorf("chunk 0/0/0: zstd: corrupt input: %w", volume.ErrPartial)
	}
	return v, nil
}

// planeProbe renders the mean of the slice's plane, read with PlaneCtx as
// the reconstruction methods read lazy volumes.
type planeProbe struct{}

func (planeProbe) Name() string { return "probe" }
func (planeProbe) Render(ctx context.Context, s Slice) (*volume.Image, error) {
	p, err := s.Vol.PlaneCtx(ctx, s.Axis, int(s.Index))
	if err != nil {
		return nil, err
	}
	img := volume.NewImage(s.W, s.H)
	f := p.Float32(nil)
	sum := float32(0)
	for _, v := range f {
		sum += v
	}
	for i := range img.Pix {
		img.Pix[i] = sum / float32(len(f))
	}
	return img, nil
}

// TestDamagedChunkShownAsMissing: a view whose region has a corrupt chunk
// draws the rest, with the label naming the chunk and the error; a read
// outside any viewer context (a command) still fails.
func TestDamagedChunkShownAsMissing(t *testing.T) {
	vol, err := volume.NewLazy(damagedSource{volume.Meta{Name: "d.zarr", Shape: volume.Shape{Z: 8, Y: 16, X: 16}, DType: volume.Uint8}})
	if err != nil {
		t.Fatal(err)
	}
	ms := Methods{Nearest: planeProbe{}, Linear: planeProbe{}}
	for _, tc := range []struct {
		index   int
		damaged bool
	}{{2, true}, {12, false}} {
		rec := newRecorder()
		p := NewPipeline(ms, rec.deliver, true)
		g := Geometry{Axis: volume.XZ, Index: float64(tc.index), R1: 8, C1: 16, W: 16, H: 8, Rows: 8, Cols: 16, Unit: "nm", Scale: 1, RowSize: 1, ColSize: 1}
		p.Submit(Request{ID: 1, Vol: vol, Geometry: g, Mode: Linear, Style: render.Style{Min: 0, Max: 255, Gamma: 1}})
		f := <-rec.final
		p.Close()
		if f.Err != nil {
			t.Fatalf("y=%d: %v (a damaged chunk must not fail the view)", tc.index, f.Err)
		}
		label := f.Label()
		if got := strings.Contains(label, "damaged: ") && strings.Contains(label, "chunk 0/0/0: zstd: corrupt input"); got != tc.damaged {
			t.Errorf("y=%d: label %q (want the damaged chunk named: %v)", tc.index, label, tc.damaged)
		}
	}
	if _, err := vol.PlaneCtx(context.Background(), volume.XZ, 2); err == nil || !strings.Contains(err.Error(), "chunk 0/0/0") {
		t.Errorf("a partial read outside a view: %v, want the error", err)
	}
}

// slowSource serves zeros after a delay, as a cold disk would.
type slowSource struct {
	meta  volume.Meta
	delay time.Duration
}

func (s slowSource) Meta() volume.Meta { return s.meta }
func (s slowSource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return volume.New(b.Shape(), make([]uint8, b.Shape().Len()), volume.Voxel{})
}

// TestPipelineSaysLoading: a view of a lazy volume whose chunks are slow to
// read says "loading" (keeping its picture) before the frame arrives; a fast
// one does not.
func TestPipelineSaysLoading(t *testing.T) {
	for _, tc := range []struct {
		delay   time.Duration
		loading bool
	}{{3 * LoadingAfter, true}, {0, false}} {
		vol, err := volume.NewLazy(slowSource{volume.Meta{Name: "slow.zarr", Shape: volume.Shape{Z: 8, Y: 16, X: 16}, DType: volume.Uint8}, tc.delay})
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		p := NewPipeline(Methods{Nearest: planeProbe{}, Linear: planeProbe{}}, rec.deliver, false)
		g := Geometry{Axis: volume.XZ, Index: 3, R1: 8, C1: 16, W: 16, H: 8, Rows: 8, Cols: 16, Unit: "nm", Scale: 1, RowSize: 1, ColSize: 1}
		p.Submit(Request{ID: 1, Vol: vol, Geometry: g, Mode: Linear, Style: render.Style{Min: 0, Max: 255, Gamma: 1}})
		select {
		case f := <-rec.final:
			if f.Err != nil || f.Image == nil {
				t.Fatalf("delay %v: final frame %v", tc.delay, f.Err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no frame")
		}
		time.Sleep(2 * LoadingAfter) // a late "loading" would show now
		p.Close()
		fs := rec.take()
		var loading []int
		for i, f := range fs {
			if f.Loading {
				loading = append(loading, i)
				if f.Image != nil || !strings.Contains(f.Label(), "loading 16×8 px from slow.zarr") {
					t.Errorf("loading frame: image %v, label %q", f.Image != nil, f.Label())
				}
			}
		}
		switch {
		case tc.loading && (len(loading) != 1 || loading[0] != 0):
			t.Errorf("delay %v: loading frames at %v of %d, want one, first", tc.delay, loading, len(fs))
		case !tc.loading && len(loading) > 0:
			t.Errorf("delay %v: a fast read said loading", tc.delay)
		}
	}
}
