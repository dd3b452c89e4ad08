package movie

import (
	"math"
	"strings"
	"testing"

	"github.com/niiv/niiv/volume"
)

func TestParseSweep(t *testing.T) {
	tests := []struct {
		in      string
		want    Sweep
		wantErr string
	}{
		{"xz:y=0..511", Sweep{volume.XZ, Range{0, 511}}, ""},
		{"xy:z=3..5", Sweep{volume.XY, Range{3, 5}}, ""},
		{"yz:x=100..0", Sweep{volume.YZ, Range{100, 0}}, ""},
		{"xz:z=0..5", Sweep{}, "moves along y"},
		{"xz:y=0-5", Sweep{}, "FROM..TO"},
		{"xz", Sweep{}, "VIEW:COORD"},
		{"ab:y=0..5", Sweep{}, "ab"},
		{"xy:z=a..5", Sweep{}, "two numbers"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSweep(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPathAt(t *testing.T) {
	shape := volume.Shape{Z: 16, Y: 128, X: 128}
	tests := []struct {
		name  string
		path  Path
		k     int
		index float64
		zoom  float64
		div   float64
	}{
		{"sweep start", Path{Axis: volume.XZ, Sweep: &Sweep{volume.XZ, Range{0, 127}}, Frames: 100}, 0, 0, 0, 0},
		{"sweep end", Path{Axis: volume.XZ, Sweep: &Sweep{volume.XZ, Range{0, 127}}, Frames: 100}, 99, 127, 0, 0},
		{"xz sweep lands on planes", Path{Axis: volume.XZ, Sweep: &Sweep{volume.XZ, Range{0, 10}}, Frames: 4}, 1, 3, 0, 0},
		{"xy sweep between slices", Path{Axis: volume.XY, Sweep: &Sweep{volume.XY, Range{3, 5}}, Frames: 5}, 1, 3.5, 0, 0},
		{"backwards", Path{Axis: volume.YZ, Sweep: &Sweep{volume.YZ, Range{10, 0}}, Frames: 11}, 3, 7, 0, 0},
		{"zoom is exponential", Path{Axis: volume.XZ, Zoom: &Range{1, 16}, Frames: 5}, 2, 0, 4, 0},
		{"zoom end", Path{Axis: volume.XZ, Zoom: &Range{1, 16}, Frames: 5}, 4, 0, 16, 0},
		{"wipe", Path{Axis: volume.XY, Wipe: true, Frames: 5}, 1, 0, 0, 0.25},
		{"one frame", Path{Axis: volume.XY, Wipe: true, Zoom: &Range{2, 8}, Frames: 1}, 0, 0, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.path.Check(shape); err != nil {
				t.Fatal(err)
			}
			s := tc.path.At(tc.k)
			if s.HasIndex != (tc.path.Sweep != nil) || s.HasZoom != (tc.path.Zoom != nil) || s.Wipe != tc.path.Wipe {
				t.Fatalf("state %+v sets the wrong parts", s)
			}
			if math.Abs(s.Index-tc.index) > 1e-9 || math.Abs(s.Zoom-tc.zoom) > 1e-9 || math.Abs(s.Divider-tc.div) > 1e-9 {
				t.Errorf("frame %d: %+v, want index %g zoom %g divider %g", tc.k, s, tc.index, tc.zoom, tc.div)
			}
		})
	}
}

func TestPathCheck(t *testing.T) {
	shape := volume.Shape{Z: 16, Y: 128, X: 64}
	tests := []struct {
		name, want string
		path       Path
	}{
		{"no frames", "at least one frame", Path{Axis: volume.XY}},
		{"out of range", "outside the volume", Path{Axis: volume.YZ, Sweep: &Sweep{volume.YZ, Range{0, 64}}, Frames: 2}},
		{"negative", "outside the volume", Path{Axis: volume.XY, Sweep: &Sweep{volume.XY, Range{-1, 3}}, Frames: 2}},
		{"other view", "moves the", Path{Axis: volume.XY, Sweep: &Sweep{volume.XZ, Range{0, 3}}, Frames: 2}},
		{"zoom zero", "positive", Path{Axis: volume.XY, Zoom: &Range{0, 3}, Frames: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.path.Check(shape)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
