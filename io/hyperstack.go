package volio

// Channels and time points: OpenHyperstack reads every channel and time
// point of an ImageJ hyperstack, an OME-TIFF, an OME-Zarr image with c and
// t axes, or a .npy/.npz array whose axes the caller names, as a
// volume.Hyperstack of 3-D volumes. Each channel and time point is its own
// volume.Source over the planes that hold it (volume.Planes for TIFF pages,
// zarr's ReadTC for chunked arrays), so that lazily opened files read only
// the planes of the channel and time point asked for.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"

	"github.com/niiv/niiv/io/zarr"
	"github.com/niiv/niiv/volume"
)

// OpenHyperstack reads all channels and time points of path. Files with one
// channel and one time point, and formats without such axes, give the
// volume OpenWith gives, as volume.Single. o.Axes names the dimensions of a
// .npy or .npz array (e.g. "czyx"); other formats name their own and
// refuse it. The lazy rule of OpenWith applies to the whole hyperstack.
func OpenHyperstack(path string, o Options) (*volume.Hyperstack, error) {
	fm, err := Detect(path)
	if err != nil {
		return nil, err
	}
	if o.Axes != "" && fm != NPY && fm != NPZ {
		return nil, &Error{"read", path, fmt.Errorf("axes %q given, but a %s file names its own axes: axes are for .npy and .npz arrays", o.Axes, fm)}
	}
	var h *volume.Hyperstack
	switch fm {
	case TIFF:
		h, err = openTIFFHyper(path, o)
	case Zarr, N5:
		h, err = openZarrHyper(path, o)
	case NPY, NPZ:
		if o.Axes != "" {
			h, err = openNPYHyper(path, fm, o)
			break
		}
		fallthrough
	default:
		var v *volume.Volume
		if v, err = OpenWith(path, o); err == nil {
			h = volume.Single(v)
		}
	}
	if err != nil {
		return nil, err
	}
	if h.Name == "" {
		h.Name = filepath.Base(path)
	}
	return h, nil
}

// elementName names the volume of time point t and channel c of a
// hyperstack with nt time points and channels chs: "x.tif [GFP, t 3]".
func elementName(base string, t, nt, c int, chs []volume.Channel) string {
	var parts []string
	if len(chs) > 1 {
		parts = append(parts, chs[c].Label(c))
	}
	if nt > 1 {
		parts = append(parts, fmt.Sprintf("t %d", t))
	}
	if len(parts) == 0 {
		return base
	}
	return base + " [" + strings.Join(parts, ", ") + "]"
}

// wantLazy says whether a hyperstack of bytes in all is read lazily.
func wantLazy(path string, bytes int64, o Options) bool {
	return o.Lazy == LazyAlways || o.Lazy == LazyAuto && (bytes > LazyAbove || zarr.IsURL(path))
}

// buildHyper makes the hyperstack of nt × len(chs) sources src(t, c): lazy
// volumes over them, or, when not lazy, their voxels read into memory
// (each checked as OpenWith checks a volume).
func buildHyper(path string, nt int, chs []volume.Channel, lazy bool, src func(t, c int, name string) (volume.Source, error)) (*volume.Hyperstack, error) {
	base := filepath.Base(path)
	vols := make([][]*volume.Volume, nt)
	for t := range vols {
		vols[t] = make([]*volume.Volume, len(chs))
		for c := range chs {
			name := elementName(base, t, nt, c, chs)
			s, err := src(t, c, name)
			if err != nil {
				return nil, &Error{"read", path, err}
			}
			var v *volume.Volume
			if lazy {
				v, err = volume.NewLazy(s)
			} else {
				v, err = s.Read(context.Background(), volume.Whole(s.Meta().Shape))
				if err == nil {
					err = v.CheckFinite()
				}
				if err == nil {
					err = checkFloat32Range(v)
				}
			}
			if err != nil {
				return nil, &Error{"read", path, fmt.Errorf("time %d, channel %d: %w", t, c, err)}
			}
			v.Name = name
			vols[t][c] = v
		}
	}
	h, err := volume.NewHyperstack(base, vols, chs)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	return h, nil
}

// tiffHyper is where the planes of each channel and time point of an
// ImageJ hyperstack or OME-TIFF lie among its pages.
type tiffHyper struct {
	t, c, z  int
	order    string // "z", "c" and "t", fastest-varying first
	channels []volume.Channel
	timeStep float64
	timeUnit string
}

// planes returns the page of each z plane of time point t, channel c.
func (h *tiffHyper) planes(t, c int) []int {
	stride := map[byte]int{}
	n := 1
	for i := 0; i < len(h.order); i++ {
		stride[h.order[i]] = n
		switch h.order[i] {
		case 'z':
			n *= h.z
		case 'c':
			n *= h.c
		case 't':
			n *= h.t
		}
	}
	p := make([]int, h.z)
	for z := range p {
		p[z] = t*stride['t'] + c*stride['c'] + z*stride['z']
	}
	return p
}

// dimOrder checks that s (after dropping "xy" and a "(default)" note) is
// an order of the letters z, c and t, and returns it in lower case.
func dimOrder(s string) (string, bool) {
	o := strings.ToLower(strings.TrimSpace(s))
	o = strings.TrimSuffix(o, "(default)")
	o = strings.TrimPrefix(o, "xy")
	if len(o) != 3 || !strings.ContainsRune(o, 'z') || !strings.ContainsRune(o, 'c') || !strings.ContainsRune(o, 't') {
		return "", false
	}
	return o, true
}

// setHyper finds the channels and time points of a parsed TIFF from its
// ImageJ or OME metadata, keeps the pages they take and sets s.hyper (one
// channel and time point for a plain stack).
func (s *tiffStack) setHyper(firstTags map[uint16]ifdEntry, ij imagejMeta, isIJ bool, ome omeMeta, isOME bool, forRead bool) error {
	h := &tiffHyper{t: 1, c: 1, z: len(s.pages), order: "zct"}
	pages := len(s.pages)
	switch {
	case isOME:
		h.c, h.z, h.t = max(ome.sizeC, 1), max(ome.sizeZ, 1), max(ome.sizeT, 1)
		o, ok := dimOrder(ome.dimOrder)
		if !ok {
			if ome.dimOrder != "" {
				return tiffFormatErr("OME-XML DimensionOrder %q: want XY followed by Z, C and T in some order", ome.dimOrder)
			}
			o = "zct" // the OME default, XYZCT
		}
		h.order = o
		if len(ome.channels) == h.c {
			for _, c := range ome.channels {
				if c.samples > 1 {
					return tiffFormatErr("OME-TIFF channel %q has %d samples per pixel: RGB images are not microscopy channels niiv reads", c.name, c.samples)
				}
			}
		}
		need := h.c * h.z * h.t
		if pages < need {
			return tiffFormatErr("OME-XML says SizeZ=%d × SizeC=%d × SizeT=%d = %d planes but the file has %d pages: the channel or time count disagrees with the data", h.z, h.c, h.t, need, pages)
		}
		s.pages = s.pages[:need]
		h.channels = make([]volume.Channel, h.c)
		if len(ome.channels) == h.c {
			for i, c := range ome.channels {
				h.channels[i] = volume.Channel{Name: c.name, Color: c.color, ColorKnown: c.hasColor}
			}
		}
		h.timeStep, h.timeUnit = ome.timeStep, ome.timeUnit
	case isIJ:
		h.c, h.t = max(ij.channels, 1), max(ij.frames, 1)
		h.order = "czt"
		if ij.order != "" {
			o, ok := dimOrder(ij.order)
			if !ok {
				return tiffFormatErr("ImageJ description order=%q: want an order of c, z and t", ij.order)
			}
			h.order = o
		}
		h.z = ij.slices
		if h.z == 0 {
			n := ij.images
			if n == 0 {
				n = pages
			}
			if n%(h.c*h.t) != 0 {
				return tiffFormatErr("ImageJ description says %d images, not a multiple of %d channels × %d frames", n, h.c, h.t)
			}
			h.z = max(n/(h.c*h.t), 1)
		}
		need := h.c * h.z * h.t
		if ij.images > 0 && ij.images != need {
			return tiffFormatErr("ImageJ description says images=%d but channels=%d × slices=%d × frames=%d = %d: the channel count disagrees with the data", ij.images, h.c, h.z, h.t, need)
		}
		switch {
		case need > 1 && pages == 1:
			if err := s.setContiguous(need, forRead); err != nil {
				return err
			}
		case pages < need:
			return tiffFormatErr("ImageJ description says %d channels × %d slices × %d frames = %d images but the file has %d pages: the channel count disagrees with the data", h.c, h.z, h.t, need, pages)
		default:
			s.pages = s.pages[:need]
		}
		h.channels = make([]volume.Channel, h.c)
		ranges, luts, labels := s.t.imagejExtra(firstTags)
		for i := range h.channels {
			// ImageJ keeps slice labels, one per image; niiv writes the
			// channel's name as the label of each of its planes.
			if len(labels) == need {
				h.channels[i].Name = strings.TrimSpace(labels[h.planes(0, i)[0]])
			}
			if len(ranges) == 2*h.c && ranges[2*i] < ranges[2*i+1] {
				h.channels[i].Min, h.channels[i].Max, h.channels[i].HasRange = ranges[2*i], ranges[2*i+1], true
			}
			if len(luts) == h.c {
				l := luts[i]
				col := volume.Color{R: l[255], G: l[256+255], B: l[512+255]}
				if col != (volume.Color{}) {
					h.channels[i].Color, h.channels[i].ColorKnown = col, true
				}
			}
		}
		if h.c == 1 && ij.hasRange && ij.min < ij.max && !h.channels[0].HasRange {
			h.channels[0].Min, h.channels[0].Max, h.channels[0].HasRange = ij.min, ij.max, true
		}
		if ij.finterval > 0 {
			h.timeStep, h.timeUnit = ij.finterval, "s"
		}
	default:
		h.channels = make([]volume.Channel, 1)
	}
	if !s.contiguous {
		s.shape.Z = len(s.pages)
	}
	s.hyper = h
	return nil
}

// ImageJ metadata (tags 50838 and 50839): the types niiv reads.
const (
	tagIJMetaCounts = 50838
	tagIJMeta       = 50839
	ijMagic         = 0x494a494a // "IJIJ"
	ijRanges        = 0x72616e67 // "rang"
	ijLUTs          = 0x6c757473 // "luts"
	ijLabels        = 0x6c61626c // "labl"
	maxIJMeta       = 16 << 20
)

// imagejExtra reads the display ranges (min, max per channel) and the
// lookup tables (256 red, 256 green, 256 blue values per channel) of
// ImageJ's private metadata tags; nil for what is absent or malformed
// (these are display hints, never worth failing a read).
func (t *tiffReader) imagejExtra(tags map[uint16]ifdEntry) (ranges []float64, luts [][]byte, labels []string) {
	ce, ok1 := tags[tagIJMetaCounts]
	de, ok2 := tags[tagIJMeta]
	if !ok1 || !ok2 || ce.count < 1 || ce.count > 1<<16 || de.count > maxIJMeta {
		return nil, nil, nil
	}
	counts, err := t.uints(tagIJMetaCounts, ce, ce.count)
	if err != nil {
		return nil, nil, nil
	}
	data, err := t.valueBytes(tagIJMeta, de, maxIJMeta)
	if err != nil || len(data) < 4 || counts[0] < 4 || counts[0] > uint64(len(data)) {
		return nil, nil, nil
	}
	head := data[:counts[0]]
	if t.order.Uint32(head) != ijMagic {
		return nil, nil, nil
	}
	pos := counts[0]
	entry := 1
	for i := 4; i+8 <= len(head); i += 8 {
		typ, n := t.order.Uint32(head[i:]), int(t.order.Uint32(head[i+4:]))
		for k := 0; k < n; k++ {
			if entry >= len(counts) || counts[entry] > uint64(len(data))-pos {
				return ranges, luts, labels
			}
			b := data[pos : pos+counts[entry]]
			switch typ {
			case ijRanges:
				for j := 0; j+8 <= len(b); j += 8 {
					ranges = append(ranges, math.Float64frombits(t.order.Uint64(b[j:])))
				}
			case ijLUTs:
				if len(b) == 768 {
					luts = append(luts, b)
				}
			case ijLabels:
				u := make([]uint16, len(b)/2)
				for j := range u {
					u[j] = t.order.Uint16(b[2*j:])
				}
				labels = append(labels, string(utf16.Decode(u)))
			}
			pos += counts[entry]
			entry++
		}
	}
	return ranges, luts, labels
}

// openTIFFHyper reads the channels and time points of a TIFF file.
func openTIFFHyper(path string, o Options) (*volume.Hyperstack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &Error{"read", path, err}
	}
	src, err := newTIFFSourceOf(f, st.Size(), path, true)
	if err != nil {
		f.Close()
		return nil, err
	}
	src.f = f
	h := src.st.hyper
	if h == nil || h.t*h.c == 1 {
		src.Close()
		v, err := OpenWith(path, o)
		if err != nil {
			return nil, err
		}
		hs := volume.Single(v)
		if h != nil && (h.channels[0].HasRange || h.channels[0].ColorKnown || h.channels[0].Name != "") {
			hs, _ = volume.NewHyperstack(hs.Name, [][]*volume.Volume{{v}}, h.channels)
		}
		return hs, nil
	}
	m := src.Meta()
	total := volume.Shape{Z: m.Shape.Z, Y: m.Shape.Y, X: m.Shape.X}
	lazy := wantLazy(path, int64(total.Len())*int64(m.DType.Size()), o)
	if !lazy {
		defer src.Close()
		if err := checkAlloc(total, m.DType); err != nil {
			return nil, &Error{"read", path, fmt.Errorf("%w; open it lazily instead (the default above %s)", err, HumanBytes(LazyAbove))}
		}
	}
	hs, err := buildHyper(path, h.t, h.channels, lazy, func(t, c int, name string) (volume.Source, error) {
		return volume.Planes(src, h.planes(t, c), name)
	})
	if err != nil {
		if lazy {
			src.Close()
		}
		return nil, err
	}
	hs.TimeStep, hs.TimeUnit = h.timeStep, h.timeUnit
	return hs, nil
}

// zarrTC is one channel and time point of a Zarr image, with its pyramid.
type zarrTC struct {
	im   *zarr.Image
	lv   int
	t, c int
	name string
}

func (z *zarrTC) Meta() volume.Meta {
	m := z.im.Level(z.lv).Meta()
	m.Name = z.name
	return m
}

func (z *zarrTC) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	v, err := z.im.Level(z.lv).ReadTC(ctx, z.t, z.c, b)
	if v != nil {
		v.Name = z.name
	}
	return v, err
}

// Levels returns the channel's and time point's pyramid, full resolution
// first.
func (z *zarrTC) Levels() []volume.Source {
	n := len(z.im.Levels())
	out := make([]volume.Source, n)
	for i := range out {
		out[i] = &zarrTC{im: z.im, lv: i, t: z.t, c: z.c, name: z.name}
	}
	return out
}

// openZarrHyper reads the channels and time points of a Zarr or N5 image.
func openZarrHyper(path string, o Options) (*volume.Hyperstack, error) {
	im, err := zarr.Open(path, zarr.Options{Cache: chunkCache()})
	if err != nil {
		return nil, &Error{"read", path, err}
	}
	nc, nt := im.Channels(), im.Times()
	if nc*nt == 1 {
		im.Close()
		v, err := OpenWith(path, o)
		if err != nil {
			return nil, err
		}
		return volume.Single(v), nil
	}
	chs := make([]volume.Channel, nc)
	om, step, unit, err := readOmero(path)
	if err == nil && len(om) == nc {
		chs = om
	}
	m := im.Meta()
	lazy := wantLazy(path, int64(m.Shape.Len())*int64(m.DType.Size())*int64(nc*nt), o)
	if !lazy {
		defer im.Close()
		total := m.Shape
		total.Z *= nc * nt
		if err := checkAlloc(total, m.DType); err != nil {
			return nil, &Error{"read", path, fmt.Errorf("%w; open it lazily instead (the default above %s)", err, HumanBytes(LazyAbove))}
		}
	}
	h, err := buildHyper(path, nt, chs, lazy, func(t, c int, name string) (volume.Source, error) {
		return &zarrTC{im: im, t: t, c: c, name: name}, nil
	})
	if err != nil {
		return nil, err
	}
	h.TimeStep, h.TimeUnit = step, unit
	return h, nil
}

// omeMultiscale is what readOmero uses of the multiscales metadata: the
// time axis's unit and scale.
type omeMultiscale struct {
	Axes []struct {
		Name string `json:"name"`
		Unit string `json:"unit"`
	} `json:"axes"`
	Datasets []struct {
		Transforms []struct {
			Type  string    `json:"type"`
			Scale []float64 `json:"scale"`
		} `json:"coordinateTransformations"`
	} `json:"datasets"`
}

// timeStep returns the interval of the t axis, when the metadata has one
// with a unit.
func (m *omeMultiscale) timeStep() (float64, string) {
	units := map[string]string{"second": "s", "millisecond": "ms", "minute": "min", "hour": "h"}
	for i, a := range m.Axes {
		if a.Name != "t" || units[a.Unit] == "" || len(m.Datasets) == 0 {
			continue
		}
		for _, tr := range m.Datasets[0].Transforms {
			if tr.Type == "scale" && len(tr.Scale) == len(m.Axes) && tr.Scale[i] > 0 && !math.IsInf(tr.Scale[i], 0) {
				return tr.Scale[i], units[a.Unit]
			}
		}
	}
	return 0, ""
}

// omeroChannel is one channel of OME-Zarr's omero metadata.
type omeroChannel struct {
	Label  string `json:"label"`
	Color  string `json:"color"`
	Window *struct {
		Start *float64 `json:"start"`
		End   *float64 `json:"end"`
	} `json:"window"`
}

// readOmero reads the channel names, colours and display windows of a
// local OME-Zarr image (0.4's .zattrs or 0.5's zarr.json), and the
// interval of its time axis.
func readOmero(path string) (_ []volume.Channel, step float64, unit string, _ error) {
	if zarr.IsURL(path) {
		return nil, 0, "", errors.New("omero metadata is read from local images only")
	}
	type omero struct {
		Channels []omeroChannel `json:"channels"`
	}
	var attrs struct {
		Omero       *omero          `json:"omero"`
		Multiscales []omeMultiscale `json:"multiscales"`
		Attributes  struct {
			OME struct {
				Omero       *omero          `json:"omero"`
				Multiscales []omeMultiscale `json:"multiscales"`
			} `json:"ome"`
		} `json:"attributes"`
	}
	var chs []omeroChannel
	for _, name := range []string{".zattrs", "zarr.json"} {
		b, err := os.ReadFile(filepath.Join(path, name))
		if err != nil || len(b) > 16<<20 {
			continue
		}
		if json.Unmarshal(b, &attrs) != nil {
			continue
		}
		ms := attrs.Multiscales
		if attrs.Omero != nil {
			chs = attrs.Omero.Channels
		} else if attrs.Attributes.OME.Omero != nil {
			chs = attrs.Attributes.OME.Omero.Channels
			ms = attrs.Attributes.OME.Multiscales
		}
		if len(ms) > 0 {
			step, unit = ms[0].timeStep()
		}
		if chs != nil {
			break
		}
	}
	if chs == nil {
		return nil, step, unit, errors.New("no omero channels")
	}
	out := make([]volume.Channel, len(chs))
	for i, c := range chs {
		out[i].Name = c.Label
		if col, err := volume.ParseColor(c.Color); err == nil {
			out[i].Color, out[i].ColorKnown = col, true
		}
		if w := c.Window; w != nil && w.Start != nil && w.End != nil && *w.Start < *w.End {
			out[i].Min, out[i].Max, out[i].HasRange = *w.Start, *w.End, true
		}
	}
	return out, step, unit, nil
}

// parseAxes checks an axes string for a .npy or .npz array of rank n:
// the letters t, c, z, y and x, each at most once, z, y and x required,
// one per dimension.
func parseAxes(axes string, n int) error {
	a := strings.ToLower(axes)
	seen := map[rune]bool{}
	for _, r := range a {
		if !strings.ContainsRune("tczyx", r) {
			return fmt.Errorf("axes %q: unknown axis letter %q (use t, c, z, y and x)", axes, r)
		}
		if seen[r] {
			return fmt.Errorf("axes %q: axis %q named twice", axes, r)
		}
		seen[r] = true
	}
	if !seen['z'] || !seen['y'] || !seen['x'] {
		return fmt.Errorf("axes %q: z, y and x are required", axes)
	}
	if len(a) != n {
		return fmt.Errorf("axes %q name %d dimensions, the array has %d", axes, len(a), n)
	}
	return nil
}

// setAxesShape checks the dimensions of an array whose axes h.axes names
// and sets h.shape to the flat (prod of all but the last two, last two)
// array its data is read as.
func (h *npyHeader) setAxesShape(dims []int) error {
	if err := parseAxes(h.axes, len(dims)); err != nil {
		return fmt.Errorf("%w: shape %v: %v", ErrFormat, dims, err)
	}
	if h.fortran {
		return fmt.Errorf("%w: %d-D Fortran-order array %v: save it in C order (numpy.ascontiguousarray)", ErrFormat, len(dims), dims)
	}
	n := len(dims)
	z := 1
	for _, d := range dims {
		if d <= 0 {
			return fmt.Errorf("%w: shape %v has an empty axis", ErrFormat, dims)
		}
	}
	for _, d := range dims[:n-2] {
		if z > math.MaxInt32/d {
			return fmt.Errorf("%w: shape %v is absurd", ErrTooLarge, dims)
		}
		z *= d
	}
	h.shape = volume.Shape{Z: z, Y: dims[n-2], X: dims[n-1]}
	return checkAlloc(h.shape, h.dtype)
}

// openNPYHyper reads a .npy or .npz array whose axes o.Axes names.
func openNPYHyper(path string, fm Format, o Options) (*volume.Hyperstack, error) {
	axes := strings.ToLower(o.Axes)
	var h npyHeader
	var data any
	var vox volume.Voxel
	var err error
	if fm == NPY {
		h, data, vox, err = readNPYAxes(path, axes, o)
	} else {
		h, data, vox, err = readNPZAxes(path, axes, o)
	}
	if err != nil {
		return nil, err
	}
	size := map[rune]int{'t': 1, 'c': 1}
	stride := map[rune]int{'t': 0, 'c': 0}
	st := 1
	for i := len(axes) - 1; i >= 0; i-- {
		r := rune(axes[i])
		size[r], stride[r] = h.dims[i], st
		st *= h.dims[i]
	}
	shape := volume.Shape{Z: size['z'], Y: size['y'], X: size['x']}
	chs := make([]volume.Channel, size['c'])
	hs, err := buildHyper(path, size['t'], chs, false, func(t, c int, name string) (volume.Source, error) {
		base := t*stride['t'] + c*stride['c']
		v, err := volume.New(shape, gather(data, base, shape, stride['z'], stride['y'], stride['x']), vox)
		if err != nil {
			return nil, err
		}
		v.Name = name
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	if h.bool {
		for t := range hs.Times() {
			for c := range hs.Channels() {
				d := hs.At(t, c).Data().([]uint8)
				for i, b := range d {
					if b != 0 {
						d[i] = 1
					}
				}
			}
		}
	}
	return hs, nil
}

// gather copies the z, y, x volume at element base with the given strides
// out of a flat array.
func gather(data any, base int, s volume.Shape, sz, sy, sx int) any {
	switch d := data.(type) {
	case []uint8:
		return gatherT(d, base, s, sz, sy, sx)
	case []uint16:
		return gatherT(d, base, s, sz, sy, sx)
	case []int16:
		return gatherT(d, base, s, sz, sy, sx)
	case []float32:
		return gatherT(d, base, s, sz, sy, sx)
	case []float64:
		return gatherT(d, base, s, sz, sy, sx)
	}
	return nil
}

func gatherT[T any](d []T, base int, s volume.Shape, sz, sy, sx int) []T {
	out := make([]T, 0, s.Len())
	for z := range s.Z {
		for y := range s.Y {
			i := base + z*sz + y*sy
			if sx == 1 {
				out = append(out, d[i:i+s.X]...)
				continue
			}
			for x := range s.X {
				out = append(out, d[i+x*sx])
			}
		}
	}
	return out
}

// readNPYAxes reads the whole flat array of a .npy file whose axes are
// named.
func readNPYAxes(path, axes string, o Options) (npyHeader, any, volume.Voxel, error) {
	var h npyHeader
	f, err := os.Open(path)
	if err != nil {
		return h, nil, volume.Voxel{}, &Error{"read", path, err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return h, nil, volume.Voxel{}, &Error{"read", path, err}
	}
	if h, err = parseNPYHeaderAxes(f, st.Size(), axes); err != nil {
		return h, nil, volume.Voxel{}, &Error{"read", path, err}
	}
	vox, err := voxelForNPY(path, o)
	if err != nil {
		return h, nil, volume.Voxel{}, &Error{"read", path, err}
	}
	data := makeData(h.dtype, h.shape.Len())
	r := io.NewSectionReader(f, h.offset, st.Size()-h.offset)
	if err := readFull(r, data, h.big); err != nil {
		return h, nil, volume.Voxel{}, &Error{"read", path, fmt.Errorf("%w: %v", ErrFormat, err)}
	}
	return h, data, vox, nil
}

// readNPZAxes reads the whole flat array of a .npz member whose axes are
// named.
func readNPZAxes(path, axes string, o Options) (npyHeader, any, volume.Voxel, error) {
	r, err := openNPZArrayAxes(path, axes)
	if err != nil {
		return npyHeader{}, nil, volume.Voxel{}, &Error{"read", path, err}
	}
	defer r.Close()
	vox, err := voxelForNPY(r.archive, o)
	if err != nil {
		return npyHeader{}, nil, volume.Voxel{}, &Error{"read", path, err}
	}
	data := makeData(r.h.dtype, r.h.shape.Len())
	err = readFull(r.m.data, data, r.h.big)
	if err == nil {
		// Read to the end, where the zip reader checks the CRC.
		var one [1]byte
		switch n, rerr := io.ReadFull(r.m.data, one[:]); {
		case n > 0:
			err = errors.New("the member holds more data than its header says")
		case rerr != io.EOF:
			err = fmt.Errorf("reading voxel data: %v", rerr)
		}
	}
	if err != nil {
		return npyHeader{}, nil, volume.Voxel{}, &Error{"read", path, fmt.Errorf("array %q: %w: %v", r.m.name, ErrFormat, err)}
	}
	return r.h, data, vox, nil
}
