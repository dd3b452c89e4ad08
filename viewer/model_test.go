package viewer

import (
	"image"
	"math"
	"testing"

	"github.com/niiv/niiv/volume"
)

// testVolume returns a 16×128×128 volume at 64×8×8 nm, the sample's shape.
func testVolume(t testing.TB) *volume.Volume {
	t.Helper()
	s := volume.Shape{Z: 16, Y: 128, X: 128}
	data := make([]uint8, s.Len())
	for i := range data {
		data[i] = uint8(i * 7)
	}
	v, err := volume.New(s, data, volume.Voxel{Z: 64, Y: 8, X: 8, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestGeometry(t *testing.T) {
	vol := testVolume(t)
	tests := []struct {
		name       string
		axis       volume.Axis
		vs         ViewState
		w, h       int
		offset     image.Point
		r0, r1     float64
		c0, c1     float64
		perPixelNM float64
	}{
		{"xy fit", volume.XY, ViewState{Zoom: 1, Row: 64, Col: 64, Size: image.Pt(256, 256)},
			256, 256, image.Pt(0, 0), 0, 128, 0, 128, 4},
		{"xy fit in a wide widget is centred", volume.XY, ViewState{Zoom: 1, Row: 64, Col: 64, Size: image.Pt(512, 256)},
			256, 256, image.Pt(128, 0), 0, 128, 0, 128, 4},
		{"xy zoom 2 shows the middle half", volume.XY, ViewState{Zoom: 2, Row: 64, Col: 64, Size: image.Pt(256, 256)},
			256, 256, image.Pt(0, 0), 32, 96, 32, 96, 2},
		{"xz at physical aspect: 16 slices of 64 nm are as tall as 128 columns of 8 nm", volume.XZ,
			ViewState{Zoom: 1, Row: 8, Col: 64, Size: image.Pt(512, 256)},
			256, 256, image.Pt(128, 0), 0, 16, 0, 128, 4},
		{"yz zoom 4 about a corner", volume.YZ, ViewState{Zoom: 4, Row: 0, Col: 0, Size: image.Pt(256, 256)},
			128, 128, image.Pt(128, 128), 0, 2, 0, 16, 1},
		{"panned off the plane", volume.XY, ViewState{Zoom: 1, Row: 64, Col: 400, Size: image.Pt(256, 256)},
			0, 0, image.Pt(0, 0), 0, 0, 0, 0, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := geometry(vol.Shape(), vol.Voxel, tc.axis, 3, tc.vs)
			if g.W != tc.w || g.H != tc.h {
				t.Fatalf("size %d×%d, want %d×%d", g.W, g.H, tc.w, tc.h)
			}
			if !near(g.PerPixel(), tc.perPixelNM) {
				t.Errorf("per pixel %v, want %v", g.PerPixel(), tc.perPixelNM)
			}
			if g.Empty() {
				return
			}
			if g.Offset != tc.offset {
				t.Errorf("offset %v, want %v", g.Offset, tc.offset)
			}
			if !near(g.R0, tc.r0) || !near(g.R1, tc.r1) || !near(g.C0, tc.c0) || !near(g.C1, tc.c1) {
				t.Errorf("region rows [%v,%v) cols [%v,%v), want [%v,%v) [%v,%v)", g.R0, g.R1, g.C0, g.C1, tc.r0, tc.r1, tc.c0, tc.c1)
			}
			// The pixel grid is square in physical units.
			if rw, rh := (g.C1-g.C0)*g.ColSize/float64(g.W), (g.R1-g.R0)*g.RowSize/float64(g.H); !near(rw, rh) {
				t.Errorf("pixels are %v × %v: not square", rw, rh)
			}
			// Widget ↔ plane round trip.
			r, c := g.PlaneAt(float64(g.Offset.X)+10, float64(g.Offset.Y)+20)
			x, y := g.WidgetAt(r, c)
			if !near(x, float64(g.Offset.X)+10) || !near(y, float64(g.Offset.Y)+20) {
				t.Errorf("round trip gave %v,%v", x, y)
			}
		})
	}
}

func newTestModel(t testing.TB) (*Model, *[]Change) {
	m := New(testVolume(t))
	for _, a := range Views {
		m.SetSize(a, image.Pt(256, 256))
	}
	var changes []Change
	m.OnChange(func(c Change) { changes = append(changes, c) })
	return m, &changes
}

func TestSettersNotifyOnlyOnChange(t *testing.T) {
	m, changes := newTestModel(t)
	steps := []struct {
		name string
		do   func()
		want Change // 0: no notification
	}{
		{"same crosshair", func() { m.SetCrosshair(m.Crosshair()) }, 0},
		{"new crosshair", func() { m.SetCrosshair(Point{Z: 2.5, Y: 10, X: 11}) }, ChangeCrosshair},
		{"clamped crosshair", func() { m.SetCrosshair(Point{Z: 99, Y: -5, X: 500}) }, ChangeCrosshair},
		{"clamped again is no change", func() { m.SetCrosshair(Point{Z: 98, Y: -4, X: 400}) }, 0},
		{"same mode", func() { m.SetMode(m.Mode()) }, 0},
		{"mode", func() { m.SetMode(Linear) }, ChangeMode},
		{"invalid mode", func() { m.SetMode(Mode(42)) }, 0},
		{"same contrast", func() { m.SetContrast(m.Contrast()) }, 0},
		{"gamma", func() { c := m.Contrast(); c.Gamma = 2; m.SetContrast(c) }, ChangeContrast},
		{"zoom", func() { m.SetZoom(volume.XY, 2) }, ChangeView},
		{"same zoom", func() { m.SetZoom(volume.XY, 2) }, 0},
		{"zoom clamps", func() { m.SetZoom(volume.XY, 1e9) }, ChangeView},
		{"size", func() { m.SetSize(volume.XZ, image.Pt(300, 200)) }, ChangeView},
		{"split", func() { m.SetSplit(Nearest, Niiv, 0.3) }, ChangeMode},
		{"split with an invalid side", func() { m.SetSplit(Difference, Niiv, 0.3) }, 0},
	}
	for _, s := range steps {
		*changes = nil
		s.do()
		var got Change
		for _, c := range *changes {
			got |= c
		}
		if got != s.want || len(*changes) > 1 {
			t.Errorf("%s: notified %v (%d times), want %v", s.name, got, len(*changes), s.want)
		}
	}
}

func TestClickAndStep(t *testing.T) {
	m, _ := newTestModel(t)
	// Clicking the XZ view half-way down its 256-pixel height lands on z = 8
	// rows → index 7.5, between acquired slices 7 and 8.
	m.Click(volume.XZ, 100.5, 128)
	p := m.Crosshair()
	if !near(p.Z, 7.5) || p.X != 50 {
		t.Fatalf("after XZ click crosshair = %+v, want z 7.5, x 50", p)
	}
	tests := []struct {
		name string
		axis volume.Axis
		n    int
		fine bool
		want float64
	}{
		{"up from a fractional z lands on the next slice", volume.XY, 1, false, 8},
		{"up", volume.XY, 1, false, 9},
		{"down ten clamps", volume.XY, -10, false, 0},
		{"fine step is one lateral voxel", volume.XY, 1, true, 0.125},
		{"down from fractional", volume.XY, -1, false, 0},
		{"xz steps y", volume.XZ, 10, false, float64(63 + 10)},
	}
	for _, tc := range tests {
		m.Step(tc.axis, tc.n, tc.fine)
		if got := m.Index(tc.axis); !near(got, tc.want) {
			t.Errorf("%s: index %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestZoomAboutAndPan(t *testing.T) {
	m, _ := newTestModel(t)
	g0 := m.Geometry(volume.XY)
	r0, c0 := g0.PlaneAt(40, 200)
	m.ZoomAbout(volume.XY, 3, 40, 200)
	g1 := m.Geometry(volume.XY)
	r1, c1 := g1.PlaneAt(40, 200)
	if !near(r0, r1) || !near(c0, c1) {
		t.Errorf("point under cursor moved from %v,%v to %v,%v", r0, c0, r1, c1)
	}
	if !near(g1.PerPixel(), g0.PerPixel()/3) {
		t.Errorf("zoom 3 gave %v nm/px from %v", g1.PerPixel(), g0.PerPixel())
	}
	// Dragging 30 px right moves the content right: the plane point that was
	// under x=100 is now under x=130.
	rb, cb := m.Geometry(volume.XY).PlaneAt(100, 100)
	m.Pan(volume.XY, 30, 0)
	ra, ca := m.Geometry(volume.XY).PlaneAt(130, 100)
	if !near(rb, ra) || !near(cb, ca) {
		t.Errorf("pan: %v,%v vs %v,%v", rb, cb, ra, ca)
	}
	// Centring on the crosshair puts it in the middle of the widget.
	m.SetCrosshair(Point{Z: 3, Y: 20, X: 100})
	m.CenterOnCrosshair(volume.XY)
	if r := m.Request(volume.XY, 1); !near(r.Cross[0]+float64(r.Offset.X), 128) || !near(r.Cross[1]+float64(r.Offset.Y), 128) {
		t.Errorf("centred crosshair drawn at %v + %v", r.Cross, r.Offset)
	}
	m.ResetView(volume.XY)
	if g := m.Geometry(volume.XY); g.W != 256 || !near(g.C0, 0) || !near(g.C1, 128) {
		t.Errorf("reset view: %+v", g)
	}
}

func TestRequest(t *testing.T) {
	m, _ := newTestModel(t)
	m.SetCrosshair(Point{Z: 4, Y: 31, X: 63})
	r := m.Request(volume.XY, 1)
	r2 := m.Request(volume.XY, 3)
	if r2.ID <= r.ID {
		t.Errorf("ids not increasing: %d then %d", r.ID, r2.ID)
	}
	if r.W != 256 || r2.W != 768 || !near(r2.PerPixel()*3, r.PerPixel()) {
		t.Errorf("export at 3×: %d px at %v nm/px; screen %d px at %v", r2.W, r2.PerPixel(), r.W, r.PerPixel())
	}
	// Crosshair at voxel centre x=63 → column 63.5 → pixel 127 of 256.
	if r.Cross == nil || !near(r.Cross[0], 127) || !near(r.Cross[1], 63) {
		t.Errorf("crosshair at %v", r.Cross)
	}
	if r.Index != 4 {
		t.Errorf("XY index %v", r.Index)
	}
	m.ShowCrosshair(false)
	if m.Request(volume.XY, 1).Cross != nil {
		t.Error("crosshair drawn while hidden")
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("cubic-spline"); err == nil {
		t.Error("ParseMode accepted nonsense")
	}
}

func TestProbe(t *testing.T) {
	m, _ := newTestModel(t)
	m.SetCrosshair(Point{Z: 4, Y: 10, X: 20})
	tests := []struct {
		name      string
		axis      volume.Axis
		x, y      float64
		z, yy, xx int
		ok        bool
	}{
		// XY at 256 px for 128 voxels: 2 px per voxel.
		{"xy", volume.XY, 21, 41, 4, 20, 10, true},
		// XZ: 16 rows of 16 px each, 128 columns of 2 px.
		{"xz", volume.XZ, 7, 40, 2, 10, 3, true},
		{"yz", volume.YZ, 255, 255, 15, 127, 20, true},
		{"outside", volume.XY, -3, 10, 0, 0, 0, false},
	}
	for _, tc := range tests {
		z, y, x, v, ok := m.Probe(tc.axis, tc.x, tc.y)
		if ok != tc.ok || z != tc.z || y != tc.yy || x != tc.xx {
			t.Errorf("%s: Probe = %d,%d,%d ok %v; want %d,%d,%d ok %v", tc.name, z, y, x, ok, tc.z, tc.yy, tc.xx, tc.ok)
		}
		if ok && v != m.Volume().At(z, y, x) {
			t.Errorf("%s: value %v", tc.name, v)
		}
	}
}

// TestZoomAtCrosshair checks that zooming keeps the crosshair's screen
// position when it is in view.
func TestZoomAtCrosshair(t *testing.T) {
	m, _ := newTestModel(t)
	m.SetCrosshair(Point{Z: 3, Y: 10, X: 40})
	g := m.Geometry(volume.XY)
	x0, y0 := g.WidgetAt(m.planePoint(volume.XY))
	m.ZoomAtCrosshair(volume.XY, 4)
	g = m.Geometry(volume.XY)
	x1, y1 := g.WidgetAt(m.planePoint(volume.XY))
	if m.View(volume.XY).Zoom != 4 || math.Abs(x1-x0) > 1 || math.Abs(y1-y0) > 1 {
		t.Errorf("zoom %v, crosshair moved from (%.1f, %.1f) to (%.1f, %.1f) on screen", m.View(volume.XY).Zoom, x0, y0, x1, y1)
	}
}
