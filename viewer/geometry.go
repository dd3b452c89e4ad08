package viewer

import (
	"image"
	"math"

	"github.com/niiv/niiv/volume"
)

// Views lists the three orthogonal views in layout order.
var Views = [3]volume.Axis{volume.XY, volume.XZ, volume.YZ}

// Point is the crosshair: a continuous position in voxel index units (k is
// the centre of voxel k; z may lie between acquired slices).
type Point struct{ Z, Y, X float64 }

// ViewState is the per-view navigation state.
type ViewState struct {
	// Zoom is the magnification relative to "fit" (the whole plane fits
	// the widget): 2 shows half the extent at twice the resolution.
	Zoom float64
	// Row and Col are the plane point shown at the widget's centre, in the
	// plane's continuous coordinates (voxel k spans [k, k+1)).
	Row, Col float64
	// Size is the widget's size in device pixels.
	Size image.Point
}

// Zoom limits.
const (
	MinZoom = 0.25
	MaxZoom = 64
)

// Geometry is everything needed to draw one view: which plane, which part of
// it, at which resolution, and where the picture goes in the widget. It is
// derived from the model; see Model.Geometry.
type Geometry struct {
	Axis volume.Axis
	// Index is the plane index (z for XY, y for XZ, x for YZ) in voxel
	// index units.
	Index float64
	// R0, R1, C0, C1 bound the visible part of the plane in continuous
	// coordinates, clipped to the plane and snapped to whole output pixels.
	R0, R1, C0, C1 float64
	// W and H are the output image size in pixels (0 when nothing of the
	// plane is visible).
	W, H int
	// Offset is the widget pixel where the image's top-left corner goes.
	Offset image.Point
	// Widget is the widget size the geometry was computed for.
	Widget image.Point
	// RowSize and ColSize are the physical sizes of one plane row and
	// column (e.g. 64 and 8 nm for an XZ plane of a 64×8×8 nm volume).
	RowSize, ColSize float64
	// Scale is the number of pixels per physical unit; both axes share it,
	// so axial views are shown at their physical aspect.
	Scale float64
	// Unit is the physical unit of RowSize, ColSize and PerPixel.
	Unit string
	// Rows and Cols are the plane's size in voxels.
	Rows, Cols int
}

// PerPixel returns the physical size of one output pixel.
func (g Geometry) PerPixel() float64 { return 1 / g.Scale }

// Empty reports whether nothing of the plane is visible.
func (g Geometry) Empty() bool { return g.W <= 0 || g.H <= 0 }

// PlaneAt returns the plane coordinates (row, col) under widget pixel
// position (x, y) (pixel centres at +0.5).
func (g Geometry) PlaneAt(x, y float64) (row, col float64) {
	rowPx := g.RowSize * g.Scale
	colPx := g.ColSize * g.Scale
	return g.R0 + (y-float64(g.Offset.Y))/rowPx, g.C0 + (x-float64(g.Offset.X))/colPx
}

// WidgetAt returns the widget pixel position of plane coordinates (row, col).
func (g Geometry) WidgetAt(row, col float64) (x, y float64) {
	return float64(g.Offset.X) + (col-g.C0)*g.ColSize*g.Scale,
		float64(g.Offset.Y) + (row-g.R0)*g.RowSize*g.Scale
}

// planeAxes returns the plane's rows, columns and their physical sizes.
func planeAxes(s volume.Shape, v volume.Voxel, axis volume.Axis) (rows, cols int, rowSize, colSize float64) {
	switch axis {
	case volume.XY:
		return s.Y, s.X, v.Y, v.X
	case volume.XZ:
		return s.Z, s.X, v.Z, v.X
	default:
		return s.Z, s.Y, v.Z, v.Y
	}
}

// fitScale returns the pixels per physical unit at which a rows×cols plane
// fits a widget of size sz.
func fitScale(sz image.Point, rows, cols int, rowSize, colSize float64) float64 {
	sw := float64(sz.X) / (float64(cols) * colSize)
	sh := float64(sz.Y) / (float64(rows) * rowSize)
	return math.Min(sw, sh)
}

// geometry computes a view's geometry. index is the fixed coordinate.
func geometry(s volume.Shape, vox volume.Voxel, axis volume.Axis, index float64, vs ViewState) Geometry {
	rows, cols, rs, cs := planeAxes(s, vox, axis)
	g := Geometry{Axis: axis, Index: index, RowSize: rs, ColSize: cs, Unit: vox.Unit, Rows: rows, Cols: cols, Widget: vs.Size}
	if vs.Size.X <= 0 || vs.Size.Y <= 0 {
		return g
	}
	zoom := vs.Zoom
	if !(zoom > 0) {
		zoom = 1
	}
	g.Scale = fitScale(vs.Size, rows, cols, rs, cs) * zoom
	// The plane → widget map: x = W/2 + (col − Col)·cs·scale.
	cx, cy := float64(vs.Size.X)/2, float64(vs.Size.Y)/2
	colPx, rowPx := cs*g.Scale, rs*g.Scale
	x0 := math.Round(math.Max(0, cx+(0-vs.Col)*colPx))
	x1 := math.Round(math.Min(float64(vs.Size.X), cx+(float64(cols)-vs.Col)*colPx))
	y0 := math.Round(math.Max(0, cy+(0-vs.Row)*rowPx))
	y1 := math.Round(math.Min(float64(vs.Size.Y), cy+(float64(rows)-vs.Row)*rowPx))
	if x1 <= x0 || y1 <= y0 {
		return g
	}
	g.W, g.H = int(x1-x0), int(y1-y0)
	g.Offset = image.Pt(int(x0), int(y0))
	// Snap the region to the whole output pixels.
	g.C0 = vs.Col + (x0-cx)/colPx
	g.C1 = vs.Col + (x1-cx)/colPx
	g.R0 = vs.Row + (y0-cy)/rowPx
	g.R1 = vs.Row + (y1-cy)/rowPx
	return g
}
