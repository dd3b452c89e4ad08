package adapt

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
)

// TestOptionsRefused checks that Adapt refuses options that mean nothing
// instead of replacing them with the defaults or training forever.
func TestOptionsRefused(t *testing.T) {
	cases := []struct {
		name string
		opt  Options
		want string // "" for options that check accepts
	}{
		{"defaults", Options{}, ""},
		{"every pixel", Options{Points: -1, Seconds: -1, Steps: 2}, ""},
		{"negative factor", Options{Factor: -4}, "factor -4"},
		{"negative crop", Options{Crop: -1}, "crop -1"},
		{"negative batch", Options{Batch: -1}, "batch -1"},
		{"points -2", Options{Points: -2}, "points -2"},
		{"negative pool", Options{Pool: -3}, "pool -3"},
		{"negative lr", Options{LR: -1}, "learning rate -1"},
		{"NaN lr", Options{LR: math.NaN()}, "learning rate NaN"},
		{"infinite lr", Options{LR: math.Inf(1)}, "learning rate +Inf"},
		{"NaN seconds", Options{Seconds: math.NaN()}, "seconds NaN"},
		{"infinite seconds", Options{Seconds: math.Inf(1)}, "seconds +Inf"},
		{"-Inf seconds", Options{Seconds: math.Inf(-1), Steps: 3}, "seconds -Inf"},
		{"seconds past MaxSeconds", Options{Seconds: 2 * MaxSeconds}, "seconds 2e+09"},
		{"negative steps", Options{Steps: -5}, "steps -5"},
		{"negative threads", Options{Threads: -1}, "threads -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.opt.check()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
				t.Fatalf("error %v, want one starting %q", err, c.want)
			}
		})
	}
}

// TestAdaptRefusesCropsThatDoNotFit checks that a crop given must fit the
// xy planes and hold two rows at the factor (the default shrinks to fit),
// and that Adapt checks its options.
func TestAdaptRefusesCropsThatDoNotFit(t *testing.T) {
	p := openTiny(t, reconstruct.ModelOptions{Threads: 1})
	vol := testVolume(t, 4) // 8×32×32
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{Crop: 33, Steps: 1, Seconds: -1, Batch: 1}, "adapt: crop 33: want 8 (twice the factor) to 32"},
		{Options{Crop: 7, Steps: 1, Seconds: -1, Batch: 1}, "adapt: crop 7: want 8 (twice the factor) to 32"},
		{Options{Batch: -1, Steps: 1, Seconds: -1}, "adapt: batch -1"},
		{Options{Seconds: math.NaN()}, "adapt: seconds NaN"},
	} {
		if _, err := Adapt(context.Background(), p, vol, c.opt); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opt, err, c.want)
		}
	}
	res, err := Adapt(context.Background(), p, vol, Options{Steps: 1, Seconds: -1, Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Options.Crop != 32 {
		t.Errorf("default crop %d on 32×32 planes, want 32", res.Options.Crop)
	}
}

// lazySource serves an in-memory volume as a volume.Source.
type lazySource struct{ v *volume.Volume }

func (l lazySource) Meta() volume.Meta { return l.v.Meta() }
func (l lazySource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	return l.v.Read(ctx, b)
}

func TestDescribeLazy(t *testing.T) {
	mk := func(seed float32) *volume.Volume {
		d := make([]float32, 20*32*32)
		for i := range d {
			d[i] = float32(i%31) * seed
		}
		v, err := volume.New(volume.Shape{Z: 20, Y: 32, X: 32}, d, volume.Voxel{Z: 4, Y: 1, X: 1, Unit: "nm", Known: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := mk(1), mk(2)
	la, _ := volume.NewLazy(lazySource{a})
	lb, _ := volume.NewLazy(lazySource{b})
	la2, _ := volume.NewLazy(lazySource{a})
	ia, err := describe(context.Background(), la)
	if err != nil {
		t.Fatal(err)
	}
	ib, _ := describe(context.Background(), lb)
	ia2, _ := describe(context.Background(), la2)
	im, _ := describe(context.Background(), a)
	switch {
	case !strings.HasPrefix(ia.SHA256, "sample-"):
		t.Errorf("lazy hash %q lacks the sample- prefix", ia.SHA256)
	case ia.SHA256 == ib.SHA256:
		t.Error("two lazy volumes with different voxels hash the same")
	case ia.SHA256 != ia2.SHA256:
		t.Error("the same lazy volume hashes differently")
	case ia.SHA256 == im.SHA256:
		t.Error("a sample hash equals a whole-volume hash")
	}
}
