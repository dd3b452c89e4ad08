package sample

import (
	"context"
	"testing"

	"github.com/niiv/niiv/volume"
)

func TestConfocal(t *testing.T) {
	h, err := Confocal(context.Background(), ConfocalOptions{Options: Options{Size: 32}, Factor: 4})
	if err != nil {
		t.Fatal(err)
	}
	if h.Channels() != 3 || h.Times() != 5 || h.Shape() != (volume.Shape{Z: 8, Y: 32, X: 32}) || h.DType() != volume.Uint16 {
		t.Fatalf("got %v", h)
	}
	if v := h.Voxel(); v.Z != 0.4 || v.X != 0.1 || v.Unit != "µm" {
		t.Errorf("voxel %v", v)
	}
	want := []volume.Color{volume.Green, volume.Magenta, volume.Cyan}
	for c := range 3 {
		if ch := h.Channel(c); ch.Color != want[c] || !ch.ColorKnown || ch.Name == "" {
			t.Errorf("channel %d: %+v", c, ch)
		}
	}
	// Channels differ from each other, and time points from the first.
	diff := func(a, b *volume.Volume) float64 {
		var d float64
		da, db := a.Data().([]uint16), b.Data().([]uint16)
		for i := range da {
			d += float64(max(da[i], db[i]) - min(da[i], db[i]))
		}
		return d / float64(len(da))
	}
	for c := 1; c < 3; c++ {
		if d := diff(h.At(0, 0), h.At(0, c)); d < 50 {
			t.Errorf("channel %d is too like channel 0 (mean difference %.1f)", c, d)
		}
	}
	if d := diff(h.At(0, 0), h.At(4, 0)); d < 20 {
		t.Errorf("time point 4 is too like time point 0 (mean difference %.1f)", d)
	}
	again, _ := Confocal(context.Background(), ConfocalOptions{Options: Options{Size: 32}, Factor: 4})
	if diff(h.At(2, 1), again.At(2, 1)) != 0 {
		t.Error("not deterministic")
	}
	if _, err := Confocal(context.Background(), ConfocalOptions{Channels: 9}); err == nil {
		t.Error("9 channels accepted")
	}
}
