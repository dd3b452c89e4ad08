package volume

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"
)

// counting is a Source over an in-memory volume that counts voxels read.
type counting struct {
	v     *Volume
	read  atomic.Int64
	calls atomic.Int64
}

func (c *counting) Meta() Meta { return c.v.Meta() }
func (c *counting) Read(ctx context.Context, b Box) (*Volume, error) {
	c.calls.Add(1)
	c.read.Add(int64(b.Shape().Len()))
	return c.v.Read(ctx, b)
}

// pyramid adds a coarse level to a counting source.
type pyramid struct {
	*counting
	coarse *Volume
}

func (p pyramid) Levels() []Source { return []Source{p.counting, p.coarse} }

func rampVolume(t *testing.T, s Shape) *Volume {
	t.Helper()
	data := make([]float32, s.Len())
	for i := range data {
		data[i] = float32(i%97) + float32(i/(s.Y*s.X))
	}
	v, err := New(s, data, Voxel{Z: 8, Y: 1, X: 1, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	v.Name = "ramp"
	return v
}

func TestLazyPlanes(t *testing.T) {
	s := Shape{6, 20, 30}
	mem := rampVolume(t, s)
	src := &counting{v: mem}
	lz, err := NewLazy(src)
	if err != nil {
		t.Fatal(err)
	}
	if !lz.Lazy() || lz.Data() != nil || lz.Meta() != mem.Meta() {
		t.Fatalf("lazy volume: lazy %v, data %T, meta %+v", lz.Lazy(), lz.Data(), lz.Meta())
	}
	tests := []struct {
		axis  Axis
		index int
	}{{XY, 0}, {XY, 5}, {XZ, 7}, {XZ, 19}, {YZ, 0}, {YZ, 29}}
	for _, tc := range tests {
		before := src.read.Load()
		p, err := lz.PlaneCtx(context.Background(), tc.axis, tc.index)
		if err != nil {
			t.Fatalf("%v %d: %v", tc.axis, tc.index, err)
		}
		want, _ := mem.Plane(tc.axis, tc.index)
		rows, cols := want.Size()
		if r, c := p.Size(); r != rows || c != cols || p.Index != tc.index || p.Axis != tc.axis {
			t.Fatalf("%v %d: plane %d×%d index %d, want %d×%d", tc.axis, tc.index, r, c, p.Index, rows, cols)
		}
		if got := src.read.Load() - before; got != int64(rows*cols) {
			t.Errorf("%v %d: read %d voxels, want the plane's %d", tc.axis, tc.index, got, rows*cols)
		}
		a, b := p.Float32(nil), want.Float32(nil)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%v %d: value %d is %v, want %v", tc.axis, tc.index, i, a[i], b[i])
			}
		}
	}
	if got, want := lz.At(3, 4, 5), mem.At(3, 4, 5); got != want {
		t.Errorf("At: %v, want %v", got, want)
	}
	if _, err := lz.PlaneCtx(context.Background(), XZ, 20); err == nil {
		t.Error("plane beyond the volume: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lz.PlaneCtx(ctx, XY, 1); err == nil {
		t.Error("cancelled read: no error")
	}
}

func TestLazyStats(t *testing.T) {
	s := Shape{40, 64, 64}
	mem := rampVolume(t, s)
	exact := mem.Stats()
	coarse, err := mem.Read(context.Background(), Box{0, 40, 0, 32, 0, 32})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		src    Source
		says   string
		maxErr float64 // on the mean, relative to the range
	}{
		{"planes", &counting{v: mem}, "from 40 of 40 xy planes", 1e-9},
		{"pyramid", pyramid{&counting{v: mem}, coarse}, "from pyramid level 1", 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lz, err := NewLazy(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			st := lz.Stats()
			if !strings.Contains(st.Estimated, tc.says) {
				t.Errorf("Estimated = %q, want it to say %q", st.Estimated, tc.says)
			}
			if d := math.Abs(st.Mean-exact.Mean) / (exact.Max - exact.Min); d > tc.maxErr {
				t.Errorf("mean %v, exact %v", st.Mean, exact.Mean)
			}
			if exact.Estimated != "" {
				t.Errorf("in-memory stats say %q", exact.Estimated)
			}
		})
	}
}

func TestPlaneRect(t *testing.T) {
	s := Shape{6, 20, 30}
	mem := rampVolume(t, s)
	src := &counting{v: mem}
	lz, err := NewLazy(src)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		axis           Axis
		index          int
		r0, r1, c0, c1 int
	}{
		{XY, 2, 3, 9, 4, 30},
		{XZ, 11, 0, 6, 5, 6},
		{YZ, 29, 1, 4, 0, 20},
	}
	for _, tc := range tests {
		full, _ := mem.Plane(tc.axis, tc.index)
		_, cols := full.Size()
		want := full.Float32(nil)
		for _, v := range []*Volume{mem, lz} {
			before := src.read.Load()
			got, err := v.PlaneRect(context.Background(), tc.axis, tc.index, tc.r0, tc.r1, tc.c0, tc.c1, nil)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.c1 - tc.c0
			if len(got) != (tc.r1-tc.r0)*w {
				t.Fatalf("%v: %d values", tc.axis, len(got))
			}
			for r := tc.r0; r < tc.r1; r++ {
				for c := tc.c0; c < tc.c1; c++ {
					if g, e := got[(r-tc.r0)*w+c-tc.c0], want[r*cols+c]; g != e {
						t.Fatalf("%v lazy=%v (%d,%d): %v, want %v", tc.axis, v.Lazy(), r, c, g, e)
					}
				}
			}
			if n := src.read.Load() - before; v.Lazy() && n != int64(len(got)) {
				t.Errorf("%v: read %d voxels for a %d-voxel rectangle", tc.axis, n, len(got))
			}
		}
	}
	if _, err := lz.PlaneRect(context.Background(), XY, 0, 0, 21, 0, 5, nil); err == nil {
		t.Error("rectangle beyond the plane: no error")
	}
}

// TestScanStats: the statistics of a lazy volume scanned slab by slab are
// those of the same voxels in memory (percentiles exactly), for every type.
func TestScanStats(t *testing.T) {
	s := Shape{Z: 9, Y: 300, X: 250}
	defer func(b int64) { scanSlabBytes = b }(scanSlabBytes)
	scanSlabBytes = 2 * 300 * 250 // slabs of 2 planes (1 of the wide types), the last shorter
	for _, dt := range []DType{Uint8, Uint16, Int16, Float32, Float64} {
		mem := randomVolume(t, s, dt)
		lz, err := NewLazy(mem)
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		if err := lz.ScanStats(context.Background(), func(done, total int) { calls++ }); err != nil {
			t.Fatal(err)
		}
		a, b := lz.Stats(), mem.Stats()
		if a.Estimated != "" || calls < 10 {
			t.Errorf("%v: estimated %q, %d progress calls", dt, a.Estimated, calls)
		}
		for _, p := range []float64{0, 0.35, 1, 50, 99, 99.65, 100} {
			if x, y := a.Percentile(p), b.Percentile(p); x != y {
				t.Errorf("%v: percentile %v: scanned %v, in memory %v", dt, p, x, y)
			}
		}
		if a.Min != b.Min || a.Max != b.Max || math.Abs(a.Mean-b.Mean) > 1e-9*math.Abs(b.Mean)+1e-12 {
			t.Errorf("%v: min/max/mean %v %v %v, in memory %v %v %v", dt, a.Min, a.Max, a.Mean, b.Min, b.Max, b.Mean)
		}
		if err := lz.ScanStats(context.Background(), nil); err == nil {
			t.Errorf("%v: a second ScanStats after Stats was accepted", dt)
		}
	}
}

// randomVolume is a volume of type dt with pseudo-random values spanning
// more than the histogram's bins for the wide types.
func randomVolume(t *testing.T, s Shape, dt DType) *Volume {
	t.Helper()
	n := s.Len()
	var data any
	switch dt {
	case Uint8:
		d := make([]uint8, n)
		for i := range d {
			d[i] = uint8(i * 7919 % 251)
		}
		data = d
	case Uint16:
		d := make([]uint16, n)
		for i := range d {
			d[i] = uint16(i * 7919 % 65521)
		}
		data = d
	case Int16:
		d := make([]int16, n)
		for i := range d {
			d[i] = int16(i*7919%60000 - 30000)
		}
		data = d
	case Float32:
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(math.Sin(float64(i)*0.37)) * 1e3
		}
		data = d
	case Float64:
		d := make([]float64, n)
		for i := range d {
			d[i] = math.Cos(float64(i)*0.11) * 1e-3
		}
		data = d
	}
	v, err := New(s, data, Voxel{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
