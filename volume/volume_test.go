package volume

import (
	"math"
	"testing"
)

func ramp(shape Shape) []float32 {
	d := make([]float32, shape.Len())
	for i := range d {
		d[i] = float32(i)
	}
	return d
}

func TestPlanesAreViews(t *testing.T) {
	s := Shape{Z: 3, Y: 4, X: 5}
	v, err := New(s, ramp(s), Unknown())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		axis       Axis
		index      int
		rows, cols int
		r, c       int
		want       float64 // flat index of (r, c)
	}{
		{XY, 2, 4, 5, 1, 3, float64((2*4+1)*5 + 3)},
		{XZ, 1, 3, 5, 2, 4, float64((2*4+1)*5 + 4)},
		{YZ, 4, 3, 4, 1, 2, float64((1*4+2)*5 + 4)},
	}
	for _, c := range cases {
		p, err := v.Plane(c.axis, c.index)
		if err != nil {
			t.Fatal(err)
		}
		if r, cc := p.Size(); r != c.rows || cc != c.cols {
			t.Errorf("%v: size %d×%d", c.axis, r, cc)
		}
		if got := p.At(c.r, c.c); got != c.want {
			t.Errorf("%v At(%d,%d) = %v, want %v", c.axis, c.r, c.c, got, c.want)
		}
		if got := p.Float32(nil)[c.r*c.cols+c.c]; float64(got) != c.want {
			t.Errorf("%v Float32 = %v, want %v", c.axis, got, c.want)
		}
	}
	if _, err := v.Plane(XZ, 4); err == nil {
		t.Error("plane outside the volume accepted")
	}
	if _, err := New(s, make([]uint8, 7), Unknown()); err == nil {
		t.Error("short data accepted")
	}
}

func TestStats(t *testing.T) {
	d := make([]uint16, 1000)
	for i := range d {
		d[i] = uint16(i)
	}
	v, _ := New(Shape{Z: 10, Y: 10, X: 10}, d, Unknown())
	st := v.Stats()
	if st.Min != 0 || st.Max != 999 || math.Abs(st.Mean-499.5) > 1e-9 {
		t.Fatalf("min %v max %v mean %v", st.Min, st.Max, st.Mean)
	}
	for _, c := range []struct{ p, want float64 }{{0, 0}, {50, 499}, {100, 999}, {0.35, 3}} {
		if got := st.Percentile(c.p); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	f := []float32{1, 2, float32(math.NaN()), 4}
	fv, _ := New(Shape{Z: 1, Y: 1, X: 4}, f, Unknown())
	if fs := fv.Stats(); fs.Min != 1 || fs.Max != 4 {
		t.Errorf("NaN not skipped: min %v max %v", fs.Min, fs.Max)
	}
	if fv.CheckFinite() == nil {
		t.Error("CheckFinite passed a NaN")
	}
}

func TestPoolZAndAnisotropy(t *testing.T) {
	s := Shape{Z: 5, Y: 1, X: 2}
	v, _ := New(s, ramp(s), Voxel{Z: 8, Y: 8, X: 8, Unit: "nm", Known: true})
	p, err := PoolZ(v, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Shape() != (Shape{Z: 2, Y: 1, X: 2}) || p.Voxel.Z != 16 || p.Voxel.Anisotropy() != 2 {
		t.Fatalf("shape %v voxel %+v", p.Shape(), p.Voxel)
	}
	// Slices 2 and 3, x = 1: values 5 and 7.
	if got := p.At(1, 0, 1); got != 6 {
		t.Fatalf("pooled %v, want 6", got)
	}
	if _, err := PoolZ(v, 6); err == nil {
		t.Error("pooling 5 slices by 6 accepted")
	}
}

func BenchmarkStats(b *testing.B) {
	s := Shape{Z: 64, Y: 256, X: 256}
	d := make([]uint8, s.Len())
	for i := range d {
		d[i] = uint8(i * 7)
	}
	for b.Loop() {
		v, _ := New(s, d, Unknown())
		v.Stats()
	}
}
