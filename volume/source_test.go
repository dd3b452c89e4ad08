package volume

import (
	"context"
	"testing"
)

func TestVolumeRead(t *testing.T) {
	s := Shape{3, 4, 5}
	data := make([]uint16, s.Len())
	for i := range data {
		data[i] = uint16(i)
	}
	v, err := New(s, data, Voxel{Z: 4, Y: 1, X: 1, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	v.Name = "v"
	var src Source = v
	tests := []struct {
		box Box
		ok  bool
	}{
		{Whole(s), true},
		{Box{1, 3, 1, 2, 2, 5}, true},
		{Box{2, 3, 3, 4, 4, 5}, true},
		{Box{0, 0, 0, 4, 0, 5}, false}, // empty
		{Box{0, 4, 0, 4, 0, 5}, false}, // beyond z
		{Box{-1, 1, 0, 4, 0, 5}, false},
	}
	for _, tc := range tests {
		r, err := src.Read(context.Background(), tc.box)
		if !tc.ok {
			if err == nil {
				t.Errorf("box %v: no error", tc.box)
			}
			continue
		}
		if err != nil {
			t.Fatalf("box %v: %v", tc.box, err)
		}
		if r.Meta() != (Meta{Name: "v", Shape: tc.box.Shape(), DType: Uint16, Voxel: v.Voxel}) {
			t.Errorf("box %v: meta %+v", tc.box, r.Meta())
		}
		bs := tc.box.Shape()
		for z := range bs.Z {
			for y := range bs.Y {
				for x := range bs.X {
					if got, want := r.At(z, y, x), v.At(tc.box.Z0+z, tc.box.Y0+y, tc.box.X0+x); got != want {
						t.Fatalf("box %v at %d,%d,%d: %v, want %v", tc.box, z, y, x, got, want)
					}
				}
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Read(ctx, Whole(s)); err == nil {
		t.Error("cancelled read: no error")
	}
}

func TestMirrored(t *testing.T) {
	s := Shape{2, 3, 4}
	d := make([]uint8, s.Len())
	for i := range d {
		d[i] = uint8(i)
	}
	v, _ := New(s, d, Voxel{Z: 8, Y: 1, X: 1, Unit: "nm", Known: true})
	src, err := Mirrored(v, Shape{5, 7, 9})
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Read(context.Background(), Box{1, 5, 2, 7, 3, 9})
	if err != nil {
		t.Fatal(err)
	}
	refl := func(i, n int) int { // the definition, written out
		for i >= 2*n {
			i -= 2 * n
		}
		if i >= n {
			return 2*n - 1 - i
		}
		return i
	}
	for z := 1; z < 5; z++ {
		for y := 2; y < 7; y++ {
			for x := 3; x < 9; x++ {
				if got, want := r.At(z-1, y-2, x-3), v.At(refl(z, 2), refl(y, 3), refl(x, 4)); got != want {
					t.Fatalf("(%d,%d,%d): %v, want %v", z, y, x, got, want)
				}
			}
		}
	}
	if src.Meta().Shape != (Shape{5, 7, 9}) || src.Meta().Voxel != v.Voxel {
		t.Errorf("meta %+v", src.Meta())
	}
}
