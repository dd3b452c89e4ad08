package zarr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/niiv/niiv/volume"
)

// Multiscale is one entry of the "multiscales" list of OME-Zarr (0.4 in a
// group's .zattrs, 0.5 under "ome" in its zarr.json attributes), and of the
// similar lists some N5 writers keep in attributes.json.
type Multiscale struct {
	Version string `json:"version,omitempty"`
	Name    string `json:"name,omitempty"`
	Type    string `json:"type,omitempty"`
	// Axes name the array's dimensions in order: t, c, z, y, x, each
	// optional but y and x.
	Axes []Axis `json:"axes,omitempty"`
	// Datasets are the pyramid levels, full resolution first.
	Datasets []Dataset `json:"datasets"`
	// CoordinateTransformations apply to every dataset, after the
	// dataset's own.
	CoordinateTransformations []Transformation `json:"coordinateTransformations,omitempty"`
	Metadata                  json.RawMessage  `json:"metadata,omitempty"`
}

// Axis is an OME-Zarr axis. A bare JSON string (OME-Zarr 0.3) is read as
// a name.
type Axis struct {
	Name string `json:"name"`
	// Type is "time", "channel" or "space".
	Type string `json:"type,omitempty"`
	// Unit is a UDUNITS-2 name: "nanometer", "micrometer"...
	Unit string `json:"unit,omitempty"`
}

// UnmarshalJSON reads {"name": …, "type": …, "unit": …} or "name".
func (a *Axis) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*a = Axis{}
		return json.Unmarshal(b, &a.Name)
	}
	type plain Axis
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*a = Axis(p)
	return nil
}

// Dataset is one level of a Multiscale.
type Dataset struct {
	// Path is the level's array, relative to the group.
	Path                      string           `json:"path"`
	CoordinateTransformations []Transformation `json:"coordinateTransformations,omitempty"`
	// Transform is the form some N5 writers use instead of
	// CoordinateTransformations.
	Transform *N5Transform `json:"transform,omitempty"`
}

// Transformation is an OME-Zarr coordinate transformation: "identity",
// "scale" (with Scale) or "translation" (with Translation); Path, where a
// writer gives one, names a file of values, which is not read.
type Transformation struct {
	Type        string    `json:"type"`
	Scale       []float64 `json:"scale,omitempty"`
	Translation []float64 `json:"translation,omitempty"`
	Path        string    `json:"path,omitempty"`
}

// N5Transform is a dataset's "transform" in the multiscales of N5
// containers written by some tools: axis names, scale, translation and
// units, in the order Ordering says ("C", the default, or "F").
type N5Transform struct {
	Axes      []string  `json:"axes"`
	Scale     []float64 `json:"scale"`
	Translate []float64 `json:"translate,omitempty"`
	Units     []string  `json:"units,omitempty"`
	Ordering  string    `json:"ordering,omitempty"`
}

// OME is the "ome" attribute of an OME-Zarr 0.5 group.
type OME struct {
	Version     string       `json:"version"`
	Multiscales []Multiscale `json:"multiscales,omitempty"`
}

// ParseMultiscales reads the multiscales of a group's attributes (the
// .zattrs document, the "attributes" of a zarr.json or an N5
// attributes.json): under "ome" (OME-Zarr 0.5) or at the top (0.4 and
// earlier). It returns nil and no error when there are none.
func ParseMultiscales(attrs []byte) ([]Multiscale, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(attrs, &top); err != nil {
		return nil, fmt.Errorf("attributes are not a JSON object: %w", err)
	}
	return multiscalesOf(top)
}

func multiscalesOf(top map[string]json.RawMessage) ([]Multiscale, error) {
	raw, ok := top["multiscales"]
	if o, isOME := top["ome"]; isOME {
		var ome struct {
			Multiscales json.RawMessage `json:"multiscales"`
		}
		if err := json.Unmarshal(o, &ome); err != nil {
			return nil, fmt.Errorf("ome: not a JSON object: %w", err)
		}
		if len(ome.Multiscales) > 0 {
			raw, ok = ome.Multiscales, true
		}
	}
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var ms []Multiscale
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, fmt.Errorf("multiscales: %w", err)
	}
	if len(ms) == 0 {
		return nil, errors.New("multiscales is an empty list")
	}
	for i, m := range ms {
		if len(m.Datasets) == 0 {
			return nil, fmt.Errorf("multiscales[%d] has no datasets", i)
		}
		for j, d := range m.Datasets {
			if _, err := cleanKey(d.Path); err != nil {
				return nil, fmt.Errorf("multiscales[%d].datasets[%d]: %w", i, j, err)
			}
		}
	}
	return ms, nil
}

// axisMap places the t, c, z, y and x axes among an array's dimensions.
type axisMap struct {
	t, c, z, y, x int // dimension index, -1 when absent
	rank          int
}

// OME axis order: each present axis must follow those before it.
var axisOrder = []string{"t", "c", "z", "y", "x"}

// axesFromNames maps dimension names (OME axes, v3 dimension_names) that
// must be an ordered subset of t, c, z, y, x with y and x.
func axesFromNames(names []string) (axisMap, error) {
	m := axisMap{t: -1, c: -1, z: -1, y: -1, x: -1, rank: len(names)}
	next := 0
	for i, raw := range names {
		n := strings.ToLower(strings.TrimSpace(raw))
		k := -1
		for j := next; j < len(axisOrder); j++ {
			if axisOrder[j] == n {
				k = j
				break
			}
		}
		if k < 0 {
			return m, fmt.Errorf("axes %q: niiv reads axes named t, c, z, y, x in that order (y and x required)", names)
		}
		next = k + 1
		*[]*int{&m.t, &m.c, &m.z, &m.y, &m.x}[k] = i
	}
	if m.y < 0 || m.x < 0 {
		return m, fmt.Errorf("axes %q: niiv reads axes named t, c, z, y, x in that order (y and x required)", names)
	}
	return m, nil
}

// plainAxes guesses the axes of an array without names: y,x; z,y,x;
// c,z,y,x; t,c,z,y,x.
func plainAxes(rank int) (axisMap, error) {
	if rank < 2 || rank > 5 {
		return axisMap{}, fmt.Errorf("%d-D array without axis names: niiv reads 2-D (y, x) to 5-D (t, c, z, y, x) arrays", rank)
	}
	return axesFromNames(axisOrder[5-rank:])
}

// checkOMEAxes validates OME axes and returns their map.
func checkOMEAxes(axes []Axis) (axisMap, error) {
	if len(axes) < 2 || len(axes) > 5 {
		return axisMap{}, fmt.Errorf("%d axes: OME-Zarr has 2 to 5", len(axes))
	}
	names := make([]string, len(axes))
	for i, a := range axes {
		names[i] = a.Name
	}
	m, err := axesFromNames(names)
	if err != nil {
		return m, err
	}
	want := map[int]string{m.t: "time", m.c: "channel", m.z: "space", m.y: "space", m.x: "space"}
	for i, a := range axes {
		if a.Type != "" && a.Type != want[i] {
			return m, fmt.Errorf("axis %q has type %q, want %q", a.Name, a.Type, want[i])
		}
	}
	return m, nil
}

// levelScale is the physical size of one element along each dimension of
// a level, with the unit of each; nil scale when the metadata gives none.
type levelScale struct {
	scale []float64
	units []string
	// note explains a scale that could not be used.
	note string
}

// datasetScale composes the scale of dataset d with the multiscale-level
// transformations, for an array of rank dimensions.
func (m *Multiscale) datasetScale(d *Dataset, rank int) (levelScale, error) {
	var ls levelScale
	if len(m.Axes) > 0 {
		ls.units = make([]string, len(m.Axes))
		for i, a := range m.Axes {
			ls.units[i] = a.Unit
		}
	}
	if d.Transform != nil {
		return n5TransformScale(d.Transform, m.Axes, rank)
	}
	scale := make([]float64, rank)
	for i := range scale {
		scale[i] = 1
	}
	seen := false
	for _, list := range [][]Transformation{d.CoordinateTransformations, m.CoordinateTransformations} {
		for _, t := range list {
			switch t.Type {
			case "scale":
				if t.Path != "" && t.Scale == nil {
					ls.note = fmt.Sprintf("dataset %s: the scale is in %s, which is not read", d.Path, t.Path)
					return ls, nil
				}
				if len(t.Scale) != rank {
					return ls, fmt.Errorf("dataset %s: scale %v has %d entries, the array has %d axes", d.Path, t.Scale, len(t.Scale), rank)
				}
				for i, s := range t.Scale {
					scale[i] *= s
				}
				seen = true
			case "translation":
				if t.Translation != nil && len(t.Translation) != rank {
					return ls, fmt.Errorf("dataset %s: translation %v has %d entries, the array has %d axes", d.Path, t.Translation, len(t.Translation), rank)
				}
			case "identity":
			default:
				return ls, fmt.Errorf("dataset %s: coordinate transformation %q is not supported (scale, translation and identity are)", d.Path, t.Type)
			}
		}
	}
	if seen {
		ls.scale = scale
	}
	return ls, nil
}

// n5TransformScale reads an N5Transform, whose axes name the dimensions.
func n5TransformScale(t *N5Transform, axes []Axis, rank int) (levelScale, error) {
	var ls levelScale
	if len(t.Scale) != rank {
		return ls, fmt.Errorf("transform scale %v has %d entries, the array has %d axes", t.Scale, len(t.Scale), rank)
	}
	if len(t.Units) != 0 && len(t.Units) != rank {
		return ls, fmt.Errorf("transform units %q have %d entries, the array has %d axes", t.Units, len(t.Units), rank)
	}
	ls.scale = append([]float64(nil), t.Scale...)
	ls.units = append([]string(nil), t.Units...)
	switch t.Ordering {
	case "", "C":
	case "F":
		ls.scale = reversedF(ls.scale)
		ls.units = reversedS(ls.units)
	default:
		return ls, fmt.Errorf("transform ordering %q is not \"C\" or \"F\"", t.Ordering)
	}
	return ls, nil
}

func reversedF(v []float64) []float64 {
	r := make([]float64, len(v))
	for i, x := range v {
		r[len(v)-1-i] = x
	}
	return r
}

func reversedS(v []string) []string {
	r := make([]string, len(v))
	for i, x := range v {
		r[len(v)-1-i] = x
	}
	return r
}

// nmPer gives the nanometres in one unit; keys are lower case.
var nmPer = map[string]float64{
	"femtometer": 1e-6, "femtometre": 1e-6, "fm": 1e-6,
	"picometer": 1e-3, "picometre": 1e-3, "pm": 1e-3,
	"angstrom": 0.1, "ångström": 0.1, "å": 0.1,
	"nanometer": 1, "nanometre": 1, "nm": 1,
	"micrometer": 1e3, "micrometre": 1e3, "micron": 1e3, "microns": 1e3, "um": 1e3, "µm": 1e3, "μm": 1e3,
	"millimeter": 1e6, "millimetre": 1e6, "mm": 1e6,
	"centimeter": 1e7, "centimetre": 1e7, "cm": 1e7,
	"decimeter": 1e8, "decimetre": 1e8, "dm": 1e8,
	"meter": 1e9, "metre": 1e9, "m": 1e9,
}

// toNM returns the nanometres in one unit, false when the unit is unknown.
func toNM(unit string) (float64, bool) {
	f, ok := nmPer[strings.ToLower(strings.TrimSpace(unit))]
	return f, ok
}

// voxel turns a level's scale into the volume's voxel size in nm. It
// returns the unknown size and a note when a spatial scale or unit is
// missing or unusable.
func (ls levelScale) voxel(am axisMap, source string) (volume.Voxel, string) {
	if ls.scale == nil {
		return volume.Unknown(), ls.note
	}
	var size [3]float64
	var raw []string
	dims := [3]int{am.z, am.y, am.x}
	for _, dim := range dims {
		if dim >= 0 {
			raw = append(raw, strconv.FormatFloat(ls.scale[dim], 'g', 6, 64))
		}
	}
	all := strings.Join(raw, "×")
	for k, dim := range dims {
		if dim < 0 {
			continue
		}
		s := ls.scale[dim]
		if !(s > 0) || !finite(s) {
			return volume.Unknown(), fmt.Sprintf("scale %s has %g along %c, not a positive size: voxel size unknown", all, s, "zyx"[k])
		}
		unit := ""
		if dim < len(ls.units) {
			unit = ls.units[dim]
		}
		f, ok := toNM(unit)
		if !ok {
			desc := fmt.Sprintf("unit %q", unit)
			if unit == "" {
				desc = "no unit"
			}
			return volume.Unknown(), fmt.Sprintf("scale %s has %s along %c: voxel size unknown", all, desc, "zyx"[k])
		}
		size[k] = s * f
		if !(size[k] > 0) || !finite(size[k]) {
			return volume.Unknown(), fmt.Sprintf("scale %s: %g %s along %c is not a usable size: voxel size unknown", all, s, unit, "zyx"[k])
		}
	}
	if am.z < 0 {
		size[0] = (size[1] + size[2]) / 2
	}
	return volume.Voxel{Z: size[0], Y: size[1], X: size[2], Unit: "nm", Known: true, Source: source}, ""
}
