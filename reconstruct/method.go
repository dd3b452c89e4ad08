// Package reconstruct turns an anisotropic volume into images and volumes
// sampled at any resolution: the classical baselines (nearest, linear,
// cubic) and the niiv method (an EDSR encoder run through ONNX Runtime and an
// MLP decoder evaluated natively in Go), behind one Method interface. It
// also holds the evaluation metrics (PSNR, SSIM, clipped-Fourier PSNR).
//
// # Coordinates
//
// A plane of a volume (volume.Plane) has rows and columns: XY → (y, x),
// XZ → (z, x), YZ → (z, y). A Request names a region of a plane in
// continuous voxel coordinates: voxel k of an axis spans [k, k+1), so its
// centre is k+0.5, and the whole plane is rows [0, rows), columns
// [0, cols). The output image samples the region at W×H pixel centres:
// output pixel (i, j) lies at row R0+(i+0.5)(R1−R0)/H and column
// C0+(j+0.5)(C1−C0)/W. The zoom level therefore only decides W and H.
//
// Request.Index is a plane index, not a continuous coordinate: k is the
// centre of plane k. For XY planes it may be fractional (2.5 lies halfway
// between the acquired slices z=2 and z=3); for XZ and YZ it is rounded to
// the nearest plane.
//
// Values are returned in the volume's own intensity units (the niiv
// method normalises with the volume's percentiles and converts back).
//
// # Use
//
// Classical methods are values: Nearest, Linear, Cubic (or Classical(name)).
// The niiv method needs a model:
//
//	model, err := reconstruct.LoadModel("lite", reconstruct.ModelOptions{
//		Device: "auto", Embedded: assets.Models}) // or a model folder
//	if err != nil { /* errors.Is(err, ErrNoRuntime): no ONNX Runtime; use Linear */ }
//	defer model.Close()
//	log.Print(model.Summary()) // library, provider actually used, fallbacks
//	niiv := reconstruct.NewNiiv(model, reconstruct.NewCache(512<<20))
//	img, err := niiv.Render(ctx, reconstruct.Request{Vol: vol, Axis: volume.XZ,
//		Index: 64, R0: 0, R1: 16, C0: 0, C1: 128, W: 512, H: 512})
//
// A Niiv and a Cache may be shared by all views and goroutines; Render
// encodes each axial plane once (cached) and decodes only the requested
// region at the requested size. Niiv.Prefetch warms the cache.
// Isotropic reconstructs a whole volume, Evaluate runs the paper's
// protocol, and PSNR, SSIM and CFPSNR are the metrics.
package reconstruct

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/niiv/niiv/volume"
)

// Request asks a Method for an image of a region of one plane. It is plain
// data; build a new one for each frame.
type Request struct {
	Vol *volume.Volume
	// Axis is the plane's orientation.
	Axis volume.Axis
	// Index is the plane index (z for XY, y for XZ, x for YZ); k is the
	// centre of plane k. Fractional values are allowed for XY.
	Index float64
	// R0, R1, C0, C1 bound the visible region in the plane's continuous
	// voxel coordinates (rows run along z for XZ and YZ planes). The region
	// may extend beyond the plane: values are clamped to the border.
	R0, R1, C0, C1 float64
	// W and H are the output size in pixels.
	W, H int
}

// FullPlane returns the request for the whole plane (axis, index) of vol
// at w×h pixels.
func FullPlane(vol *volume.Volume, axis volume.Axis, index float64, w, h int) Request {
	rows, cols := planeSize(vol.Shape(), axis)
	return Request{Vol: vol, Axis: axis, Index: index, R0: 0, R1: float64(rows), C0: 0, C1: float64(cols), W: w, H: h}
}

// Validate checks a request's fields.
func (r Request) Validate() error {
	if r.Vol == nil {
		return errors.New("reconstruct: request without a volume")
	}
	if r.Axis != volume.XY && r.Axis != volume.XZ && r.Axis != volume.YZ {
		return fmt.Errorf("reconstruct: unknown axis %v", r.Axis)
	}
	if r.W <= 0 || r.H <= 0 || r.W > 1<<15 || r.H > 1<<15 {
		return fmt.Errorf("reconstruct: output size %d×%d out of range", r.W, r.H)
	}
	for _, f := range []float64{r.Index, r.R0, r.R1, r.C0, r.C1} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("reconstruct: request has a non-finite coordinate")
		}
	}
	if !(r.R1 > r.R0) || !(r.C1 > r.C0) {
		return fmt.Errorf("reconstruct: empty region rows [%g,%g) cols [%g,%g)", r.R0, r.R1, r.C0, r.C1)
	}
	n := r.Vol.Count(r.Axis)
	if r.Index < -0.5 || r.Index > float64(n)-0.5 {
		return fmt.Errorf("reconstruct: %v plane %g outside [0,%d)", r.Axis, r.Index, n)
	}
	return nil
}

// plane returns the integer plane index for XZ/YZ requests.
func (r Request) plane() int {
	n := r.Vol.Count(r.Axis)
	k := int(math.Round(r.Index))
	return min(max(k, 0), n-1)
}

// Method reconstructs images of planes. Implementations are safe for
// concurrent use.
type Method interface {
	// Name identifies the method: "nearest", "linear", "cubic",
	// "niiv-lite", ...
	Name() string
	// Render returns the W×H image of the request's region, in the volume's
	// intensity units. It returns ctx.Err() when cancelled.
	Render(ctx context.Context, req Request) (*volume.Image, error)
}

// Classical returns the classical baseline of that name: "nearest",
// "linear" (alias "bilinear", "trilinear") or "cubic" (alias "bicubic").
func Classical(name string) (Method, error) {
	switch strings.ToLower(name) {
	case "nearest":
		return Nearest, nil
	case "linear", "bilinear", "trilinear":
		return Linear, nil
	case "cubic", "bicubic", "tricubic":
		return Cubic, nil
	}
	return nil, fmt.Errorf("reconstruct: unknown method %q (classical methods: %s)", name, strings.Join(ClassicalNames(), ", "))
}

// ClassicalNames lists the classical methods.
func ClassicalNames() []string {
	n := []string{Nearest.Name(), Linear.Name(), Cubic.Name()}
	sort.Strings(n)
	return n
}

func planeSize(s volume.Shape, axis volume.Axis) (rows, cols int) {
	switch axis {
	case volume.XY:
		return s.Y, s.X
	case volume.XZ:
		return s.Z, s.X
	default:
		return s.Z, s.Y
	}
}

// pixelCentre returns the continuous coordinate of output pixel i of n
// over [a0, a1).
func pixelCentre(a0, a1 float64, i, n int) float64 {
	return a0 + (float64(i)+0.5)*(a1-a0)/float64(n)
}
