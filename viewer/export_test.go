package viewer

import (
	"context"
	"image"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

func TestTitle(t *testing.T) {
	m, _ := newTestModel(t)
	m.SetCrosshair(Point{Z: 2.5, Y: 10, X: 3})
	tests := []struct {
		axis volume.Axis
		want string
	}{
		{volume.XY, "XY · z 2.50 / 16 · 160 nm"},
		{volume.XZ, "XZ · y 10 / 128 · 80 nm"},
		{volume.YZ, "YZ · x 3 / 128 · 24 nm"},
	}
	for _, tc := range tests {
		if got := m.Title(tc.axis); got != tc.want {
			t.Errorf("Title(%v) = %q, want %q", tc.axis, got, tc.want)
		}
	}
}

func TestSnapshotScales(t *testing.T) {
	m, _ := newTestModel(t) // three 256×256 views
	ms, _, _ := fakeMethods()
	m.SetCaption("sample · linear")
	tests := []struct {
		scale float64
		want  image.Point
	}{
		{1, image.Pt(2*256+2, 2*256+2)},
		{2, image.Pt(2*512+4, 2*512+4)},
	}
	for _, tc := range tests {
		s := m.Snapshot(tc.scale)
		for _, r := range s.Requests {
			if r.Caption != "" {
				t.Error("per-view caption in a layout snapshot")
			}
		}
		img, err := s.Render(context.Background(), ms)
		if err != nil {
			t.Fatal(err)
		}
		if got := img.Bounds().Size(); got != tc.want {
			t.Errorf("scale %v: layout %v, want %v", tc.scale, got, tc.want)
		}
		v, err := s.View(context.Background(), ms, volume.XZ)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Bounds().Dx(); got != int(256*tc.scale) {
			t.Errorf("scale %v: view width %d", tc.scale, got)
		}
	}
	// A higher scale decodes more pixels instead of upscaling.
	s1, s3 := m.Snapshot(1), m.Snapshot(3)
	if s3.Requests[0].W != 3*s1.Requests[0].W || s3.Requests[0].PerPixel()*3 != s1.Requests[0].PerPixel() {
		t.Errorf("3× request %d px at %v; 1× %d px at %v", s3.Requests[0].W, s3.Requests[0].PerPixel(),
			s1.Requests[0].W, s1.Requests[0].PerPixel())
	}
	if d := strings.Join(m.Describe(), "\n"); !strings.Contains(d, "anisotropy 8×") {
		t.Errorf("description lacks the anisotropy: %s", d)
	}
}

func TestGrid(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 10, 20))
	b := image.NewRGBA(image.Rect(5, 5, 35, 15))
	g := Grid([]*image.RGBA{a, b, nil}, 2, 3)
	if got := g.Bounds().Size(); got != image.Pt(2*30+3, 2*20+3) {
		t.Errorf("grid %v", got)
	}
}
