package volume

import (
	"context"
	"strings"
	"testing"
)

func testVol(t *testing.T, s Shape, base uint16) *Volume {
	t.Helper()
	d := make([]uint16, s.Len())
	for i := range d {
		d[i] = base + uint16(i)
	}
	v, err := New(s, d, Voxel{Z: 2, Y: 1, X: 1, Unit: "µm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewHyperstack(t *testing.T) {
	s := Shape{Z: 2, Y: 3, X: 4}
	a, b := testVol(t, s, 0), testVol(t, s, 100)
	other := testVol(t, Shape{Z: 1, Y: 3, X: 4}, 0)
	vox := testVol(t, s, 0)
	vox.Voxel.Z = 3
	cases := []struct {
		name string
		vols [][]*Volume
		chs  []Channel
		err  string
	}{
		{"ok", [][]*Volume{{a, b}, {b, a}}, make([]Channel, 2), ""},
		{"no time points", nil, make([]Channel, 1), "at least one"},
		{"channel count", [][]*Volume{{a, b}}, make([]Channel, 3), "time point 0 has 2 channels, the metadata names 3"},
		{"shape", [][]*Volume{{a, other}}, make([]Channel, 2), "all must match"},
		{"voxel", [][]*Volume{{a}, {vox}}, make([]Channel, 1), "voxel size"},
		{"missing", [][]*Volume{{a, nil}}, make([]Channel, 2), "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := NewHyperstack("x.tif", c.vols, c.chs)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "x.tif") {
					t.Fatalf("err = %v, want one naming x.tif and containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Times() != 2 || h.Channels() != 2 || h.At(1, 0) != b || h.Channel(0).Color != Green || h.Channel(1).Color != Magenta {
				t.Errorf("got %v, colours %v %v", h, h.Channel(0).Color, h.Channel(1).Color)
			}
		})
	}
	if s := Single(a); s.Times() != 1 || s.Channels() != 1 || s.At(0, 0) != a || s.Channel(0).Color != White {
		t.Errorf("Single: %v", s)
	}
}

func TestHyperstackSelect(t *testing.T) {
	s := Shape{Z: 1, Y: 1, X: 2}
	var vols [][]*Volume
	for ti := range 3 {
		var row []*Volume
		for c := range 4 {
			row = append(row, testVol(t, s, uint16(10*ti+c)))
		}
		vols = append(vols, row)
	}
	h, err := NewHyperstack("h", vols, make([]Channel, 4))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := h.Select([]int{3, 1}, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Channels() != 2 || sel.Times() != 1 || sel.At(0, 0).At(0, 0, 0) != 23 || sel.At(0, 1).At(0, 0, 0) != 21 || sel.Channel(0).Color != h.Channel(3).Color {
		t.Errorf("select: %v, first voxel %v", sel, sel.At(0, 0).At(0, 0, 0))
	}
	for _, bad := range []struct {
		c, t []int
		want string
	}{{[]int{4}, nil, "channel 4 does not exist: it has 4 channels"}, {nil, []int{-1}, "time point -1"}, {[]int{}, nil, "at least one"}} {
		if _, err := h.Select(bad.c, bad.t); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Select(%v, %v): %v, want %q", bad.c, bad.t, err, bad.want)
		}
	}
	many := make([][]*Volume, 1)
	for range 9 {
		many[0] = append(many[0], testVol(t, s, 0))
	}
	h9, _ := NewHyperstack("x.tif", many, make([]Channel, 9))
	if err := h9.CheckShown(); err == nil || !strings.Contains(err.Error(), "x.tif has 9 channels: choose up to 8 with --channels") {
		t.Errorf("CheckShown: %v", err)
	}
	if err := h.CheckShown(); err != nil {
		t.Error(err)
	}
}

func TestPlanes(t *testing.T) {
	src := testVol(t, Shape{Z: 6, Y: 2, X: 2}, 0) // voxel (z, y, x) = 4z + 2y + x
	p, err := Planes(src, []int{1, 2, 3, 5, 0}, "sel")
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Meta(); m.Shape != (Shape{Z: 5, Y: 2, X: 2}) || m.Name != "sel" || m.Voxel != src.Voxel {
		t.Fatalf("meta %+v", m)
	}
	v, err := p.Read(context.Background(), Box{1, 5, 1, 2, 0, 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2, 3, 5, 0}
	for z := range 4 {
		for x := range 2 {
			if got := v.At(z, 0, x); got != 4*want[z]+2+float64(x) {
				t.Errorf("(z %d, x %d) = %v, want plane %v", z, x, got, want[z])
			}
		}
	}
	if _, err := Planes(src, []int{6}, "bad"); err == nil {
		t.Error("plane outside the source accepted")
	}
	if _, err := p.Read(context.Background(), Box{0, 6, 0, 2, 0, 2}); err == nil {
		t.Error("box outside accepted")
	}
}

func TestParseColor(t *testing.T) {
	for in, want := range map[string]Color{"00FF00": Green, "#ff00ff": Magenta, " FF8000 ": Orange} {
		if c, err := ParseColor(in); err != nil || c != want {
			t.Errorf("ParseColor(%q) = %v, %v", in, c, err)
		}
	}
	for _, bad := range []string{"", "FFF", "GG0000", "#12345678"} {
		if _, err := ParseColor(bad); err == nil {
			t.Errorf("ParseColor(%q) accepted", bad)
		}
	}
	if Green.Hex() != "00FF00" || Green.String() != "#00FF00" {
		t.Error(Green.Hex(), Green.String())
	}
}
