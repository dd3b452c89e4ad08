package bioimage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/niiv/niiv/internal/tensor"
	"gopkg.in/yaml.v3"
)

// The rules Validate applies are those of the bioimage.io model resource
// description, format 0.5 (bioimageio.spec's model v0_5, as documented in
// spec-bioimage-io user_docs/model_descr_latest.md), that a consumer
// (bioimageio.core, deepImageJ, ilastik) relies on before it runs a model:
//
//   - required fields and their types: type "model"; format_version
//     "0.5.x"; name (5 to 128 letters, digits, spaces or _+-()),
//     description, license (strings, not empty); authors
//     (a non-empty list, each with a name); cite (a non-empty list, each
//     with a text and a doi or url); documentation (a file); inputs and
//     outputs (non-empty lists of tensors); weights (a map with at least
//     one known format, each with a source; onnx also with opset_version);
//   - tensors: a unique lower-case id; axes, a list whose entries have a
//     type among batch, channel, index, time and space, unique ids, at most
//     one batch axis, channel_names on a channel axis and a size on index,
//     time and space axes (an integer > 0, {min, step} on inputs, or
//     {tensor_id, axis_id, offset} naming an existing tensor's axis); a
//     test_tensor (source, sha256); pre- and postprocessing steps with a
//     known id;
//   - files: every file named (documentation, covers, attachments, test
//     tensors, weights) is in the package, and its sha256, when given,
//     matches;
//   - axes against the test tensors: each test tensor is a float32 .npy
//     whose rank is the number of axes, a channel axis as long as its
//     names, a fixed size equal, a {min, step} size reached from min in
//     whole steps, and a referenced size equal to
//     size(reference) · scale(reference) / scale(axis) + offset;
//   - config.bioimageio.reproducibility_tolerance, when given, a list of
//     maps with non-negative tolerances.
//
// Running the test input through the weights (Check) is the last rule.

// SpecVersion is the RDF format version niiv writes.
const SpecVersion = "0.5.4"

// MaxFileBytes bounds one file of a package (and a package's total): a
// larger one is refused rather than read.
const MaxFileBytes = 1 << 30

// MaxTestElements bounds a test tensor that Check runs (a package is
// checked whenever niiv opens it).
const MaxTestElements = 1 << 22

// Package is a bioimage.io model package read into memory: its files by
// name (rdf.yaml among them) and the parsed description.
type Package struct {
	Files map[string][]byte
	RDF   map[string]any
}

// Tensor is one input or output tensor of a validated description.
type Tensor struct {
	ID   string
	Axes []Axis
	// Test is the test tensor's file, TestShape and TestData its content.
	Test      string
	TestShape []int
	TestData  []float32
	Pre, Post []Step
}

// Axis is one axis of a tensor.
type Axis struct {
	Type, ID string
	// Size: Fixed > 0, or Min and Step, or a reference (RefTensor, RefAxis,
	// Offset); Scale is the axis's scale (1 when not given).
	Fixed, Min, Step   int
	RefTensor, RefAxis string
	Offset             int
	Scale              float64
	Channels           int
}

// Step is a pre- or postprocessing step.
type Step struct {
	ID     string
	Kwargs map[string]any
}

// Tolerance is a reproducibility tolerance of the outputs.
type Tolerance struct {
	Relative, Absolute   float64
	MismatchedPerMillion float64
}

// Description is what Validate found in a package.
type Description struct {
	Name            string
	FormatVersion   string
	Inputs, Outputs []Tensor
	// ONNX is the onnx weights file, Opset its declared opset_version.
	ONNX      string
	Opset     int
	Tolerance Tolerance
}

var (
	tensorID  = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.-]*$`)
	sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	versionRe = regexp.MustCompile(`^0\.5\.[0-9]+$`)
	nameRe    = regexp.MustCompile(`^[A-Za-z0-9_+\- ()]{5,128}$`)
)

// knownSteps are the pre- and postprocessing ids of RDF 0.5.
var knownSteps = []string{"binarize", "clip", "ensure_dtype", "scale_linear", "sigmoid", "fixed_zero_mean_unit_variance", "zero_mean_unit_variance", "scale_range", "scale_mean_variance"}

// knownWeights are the weights formats of RDF 0.5.
var knownWeights = []string{"keras_hdf5", "onnx", "pytorch_state_dict", "tensorflow_js", "tensorflow_saved_model_bundle", "torchscript"}

// Parse reads rdf.yaml of a package's files.
func Parse(files map[string][]byte) (*Package, error) {
	b, ok := files["rdf.yaml"]
	if !ok {
		return nil, errors.New("no rdf.yaml")
	}
	var rdf map[string]any
	if err := yaml.Unmarshal(b, &rdf); err != nil {
		return nil, fmt.Errorf("rdf.yaml: %w", err)
	}
	if rdf == nil {
		return nil, errors.New("rdf.yaml is empty")
	}
	return &Package{Files: files, RDF: rdf}, nil
}

// problems collects validation failures.
type problems []string

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Sprintf(format, a...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	if len(p) > 8 {
		p = append(p[:8:8], fmt.Sprintf("and %d more", len(p)-8))
	}
	return errors.New("rdf.yaml: " + strings.Join(p, "; "))
}

// Validate applies the rules above (all but running the model) and
// returns the description's tensors and weights.
func (pk *Package) Validate() (*Description, error) {
	var bad problems
	r := pk.RDF
	d := &Description{}
	str := func(m map[string]any, key, where string, required bool) string {
		v, ok := m[key]
		if !ok {
			if required {
				bad.add("%s%s is missing", where, key)
			}
			return ""
		}
		s, ok := v.(string)
		if !ok {
			bad.add("%s%s is %T, want a string", where, key, v)
			return ""
		}
		if required && strings.TrimSpace(s) == "" {
			bad.add("%s%s is empty", where, key)
		}
		return s
	}
	if t := str(r, "type", "", true); t != "" && t != "model" {
		bad.add("type is %q, want model", t)
	}
	d.FormatVersion = str(r, "format_version", "", true)
	if d.FormatVersion != "" && !versionRe.MatchString(d.FormatVersion) {
		bad.add("format_version is %q, want 0.5.x", d.FormatVersion)
	}
	d.Name = str(r, "name", "", true)
	if d.Name != "" && !nameRe.MatchString(d.Name) {
		bad.add("name %q: want 5 to 128 letters, digits, spaces or _+-()", d.Name)
	}
	str(r, "description", "", true)
	str(r, "license", "", true)
	for i, a := range list(r, "authors", "", true, &bad) {
		if m := asMap(a, fmt.Sprintf("authors[%d]", i), &bad); m != nil {
			str(m, "name", fmt.Sprintf("authors[%d].", i), true)
		}
	}
	for i, c := range list(r, "cite", "", true, &bad) {
		if m := asMap(c, fmt.Sprintf("cite[%d]", i), &bad); m != nil {
			where := fmt.Sprintf("cite[%d].", i)
			str(m, "text", where, true)
			if str(m, "doi", where, false) == "" && str(m, "url", where, false) == "" {
				bad.add("%sneeds a doi or url", where)
			}
		}
	}
	pk.file(str(r, "documentation", "", true), "", "documentation", &bad)
	for i, c := range list(r, "covers", "", false, &bad) {
		s, ok := c.(string)
		if !ok {
			bad.add("covers[%d] is %T, want a file name", i, c)
			continue
		}
		ext := strings.ToLower(path.Ext(s))
		if !slices.Contains([]string{".gif", ".jpeg", ".jpg", ".png", ".svg", ".tif", ".tiff"}, ext) {
			bad.add("covers[%d] %s is not a gif, jpeg, png, svg or tiff", i, s)
		}
		pk.file(s, "", fmt.Sprintf("covers[%d]", i), &bad)
	}
	for i, a := range list(r, "attachments", "", false, &bad) {
		if m := asMap(a, fmt.Sprintf("attachments[%d]", i), &bad); m != nil {
			where := fmt.Sprintf("attachments[%d].", i)
			pk.file(str(m, "source", where, true), str(m, "sha256", where, false), where+"source", &bad)
		}
	}
	if tags, ok := r["tags"]; ok {
		if l, ok := tags.([]any); !ok {
			bad.add("tags is %T, want a list", tags)
		} else {
			for i, t := range l {
				if _, ok := t.(string); !ok {
					bad.add("tags[%d] is %T, want a string", i, t)
				}
			}
		}
	}
	d.Inputs = pk.tensors(r, "inputs", &bad)
	d.Outputs = pk.tensors(r, "outputs", &bad)
	ids := map[string]bool{}
	for _, t := range append(append([]Tensor(nil), d.Inputs...), d.Outputs...) {
		if ids[t.ID] {
			bad.add("tensor id %q appears twice", t.ID)
		}
		ids[t.ID] = true
	}
	pk.weights(r, d, &bad)
	d.Tolerance = tolerance(r, &bad)
	if len(bad) == 0 {
		checkShapes(d, &bad)
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	return d, nil
}

func list(m map[string]any, key, where string, required bool, bad *problems) []any {
	v, ok := m[key]
	if !ok {
		if required {
			bad.add("%s%s is missing", where, key)
		}
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		bad.add("%s%s is %T, want a list", where, key, v)
		return nil
	}
	if required && len(l) == 0 {
		bad.add("%s%s is empty", where, key)
	}
	return l
}

func asMap(v any, where string, bad *problems) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		bad.add("%s is %T, want a map", where, v)
		return nil
	}
	return m
}

// file checks that name is a file of the package (a relative path, not a
// URL) with the given sha256 when one is given.
func (pk *Package) file(name, sum, where string, bad *problems) []byte {
	if name == "" {
		return nil
	}
	if strings.Contains(name, "://") {
		bad.add("%s is a URL (%s); a package must hold its files", where, name)
		return nil
	}
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	b, ok := pk.Files[clean]
	if !ok {
		bad.add("%s names %s, which is not in the package", where, name)
		return nil
	}
	if sum != "" {
		if !sha256Hex.MatchString(sum) {
			bad.add("%s: sha256 %q is not 64 hex digits", where, sum)
			return nil
		}
		got := sha256.Sum256(b)
		if !strings.EqualFold(hex.EncodeToString(got[:]), sum) {
			bad.add("%s is corrupt: sha256 of %s differs from rdf.yaml's", where, name)
			return nil
		}
	}
	return b
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func integer(v any) (int, bool) {
	i, ok := v.(int)
	return i, ok
}

// tensors checks the inputs or outputs.
func (pk *Package) tensors(r map[string]any, key string, bad *problems) []Tensor {
	var out []Tensor
	for i, v := range list(r, key, "", true, bad) {
		where := fmt.Sprintf("%s[%d]", key, i)
		m := asMap(v, where, bad)
		if m == nil {
			continue
		}
		t := Tensor{}
		id, ok := m["id"].(string)
		if !ok || !tensorID.MatchString(id) {
			bad.add("%s.id %v is not a lower-case identifier", where, m["id"])
		}
		t.ID = id
		where = fmt.Sprintf("%s %q", key, id)
		axisIDs := map[string]bool{}
		batches := 0
		for j, a := range list(m, "axes", where+".", true, bad) {
			am := asMap(a, fmt.Sprintf("%s.axes[%d]", where, j), bad)
			if am == nil {
				continue
			}
			ax := Axis{Scale: 1}
			ax.Type, _ = am["type"].(string)
			aw := fmt.Sprintf("%s axis %d", where, j)
			switch ax.Type {
			case "batch", "channel", "index", "time", "space":
			default:
				bad.add("%s has type %v, want batch, channel, index, time or space", aw, am["type"])
				continue
			}
			ax.ID = ax.Type
			if ax.Type == "space" {
				ax.ID = "x"
			}
			if s, ok := am["id"].(string); ok {
				ax.ID = s
			} else if _, ok := am["id"]; ok {
				bad.add("%s id is %T, want a string", aw, am["id"])
			}
			if axisIDs[ax.ID] {
				bad.add("%s: axis id %q appears twice", where, ax.ID)
			}
			axisIDs[ax.ID] = true
			if s, ok := am["scale"]; ok {
				f, ok := number(s)
				if !ok || !(f > 0) {
					bad.add("%s scale %v is not a positive number", aw, s)
				} else {
					ax.Scale = f
				}
			}
			switch ax.Type {
			case "batch":
				batches++
				if s, ok := am["size"]; ok && s != nil && s != 1 {
					bad.add("%s: a batch axis's size is 1 or not given, not %v", aw, s)
				}
			case "channel":
				names := list(am, "channel_names", aw+" ", true, bad)
				ax.Channels = len(names)
			default:
				s, ok := am["size"]
				if !ok {
					bad.add("%s has no size", aw)
					break
				}
				switch s := s.(type) {
				case int:
					if s <= 0 {
						bad.add("%s size %d is not positive", aw, s)
					}
					ax.Fixed = s
				case map[string]any:
					if tid, ok := s["tensor_id"].(string); ok {
						ax.RefTensor = tid
						ax.RefAxis, _ = s["axis_id"].(string)
						if ax.RefAxis == "" {
							bad.add("%s size references tensor %q without an axis_id", aw, tid)
						}
						if o, ok := s["offset"]; ok {
							if ax.Offset, ok = integer(o); !ok {
								bad.add("%s size offset %v is not an integer", aw, o)
							}
						}
					} else {
						mn, ok1 := integer(s["min"])
						st, ok2 := integer(s["step"])
						if !ok1 || !ok2 || mn <= 0 || st < 0 {
							bad.add("%s size %v is neither {min, step} with min > 0, step ≥ 0 nor {tensor_id, axis_id}", aw, s)
						}
						if key == "outputs" {
							bad.add("%s: an output axis's size is fixed or a reference, not {min, step}", aw)
						}
						ax.Min, ax.Step = mn, st
					}
				default:
					bad.add("%s size is %T, want an integer or a map", aw, s)
				}
			}
			t.Axes = append(t.Axes, ax)
		}
		if batches > 1 {
			bad.add("%s has %d batch axes", where, batches)
		}
		if dt, ok := m["data"].(map[string]any); ok {
			if ty, ok := dt["type"]; ok && ty != "float32" {
				bad.add("%s data type %v: niiv checks float32 tensors only", where, ty)
			}
		}
		tt := asMap(m["test_tensor"], where+".test_tensor", bad)
		if tt != nil {
			src, _ := tt["source"].(string)
			sum, _ := tt["sha256"].(string)
			if src == "" {
				bad.add("%s.test_tensor has no source", where)
			} else if b := pk.file(src, sum, where+".test_tensor", bad); b != nil {
				data, shape, err := tensor.DecodeNPY(b)
				if err != nil {
					bad.add("%s.test_tensor %s: %v", where, src, err)
				} else if len(data) > MaxTestElements {
					bad.add("%s.test_tensor %s has %d elements; niiv checks test tensors of at most %d", where, src, len(data), MaxTestElements)
				}
				t.Test, t.TestShape, t.TestData = src, shape, data
			}
		}
		steps := func(key string) []Step {
			var out []Step
			for k, s := range list(m, key, where+".", false, bad) {
				sm := asMap(s, fmt.Sprintf("%s.%s[%d]", where, key, k), bad)
				if sm == nil {
					continue
				}
				st := Step{}
				st.ID, _ = sm["id"].(string)
				if !slices.Contains(knownSteps, st.ID) {
					bad.add("%s.%s[%d] id %v is not a processing step of RDF 0.5", where, key, k, sm["id"])
				}
				if kw, ok := sm["kwargs"]; ok {
					st.Kwargs = asMap(kw, fmt.Sprintf("%s.%s[%d].kwargs", where, key, k), bad)
				}
				out = append(out, st)
			}
			return out
		}
		t.Pre = steps("preprocessing")
		t.Post = steps("postprocessing")
		out = append(out, t)
	}
	return out
}

// weights checks the weights map and finds the onnx entry.
func (pk *Package) weights(r map[string]any, d *Description, bad *problems) {
	w, ok := r["weights"].(map[string]any)
	if !ok {
		bad.add("weights is missing or not a map")
		return
	}
	n := 0
	for k, v := range w {
		if !slices.Contains(knownWeights, k) {
			bad.add("weights has an unknown format %q", k)
			continue
		}
		if v == nil {
			continue
		}
		n++
		m := asMap(v, "weights."+k, bad)
		if m == nil {
			continue
		}
		src, _ := m["source"].(string)
		sum, _ := m["sha256"].(string)
		if src == "" {
			bad.add("weights.%s has no source", k)
			continue
		}
		pk.file(src, sum, "weights."+k, bad)
		if k == "onnx" {
			d.ONNX = path.Clean(src)
			op, ok := integer(m["opset_version"])
			if !ok || op < 7 {
				bad.add("weights.onnx.opset_version %v is not an opset (an integer ≥ 7)", m["opset_version"])
			}
			d.Opset = op
		}
	}
	if n == 0 {
		bad.add("weights has no format")
	}
}

// tolerance reads config.bioimageio.reproducibility_tolerance (the first
// entry that applies to onnx weights), else the spec's defaults
// (relative 1e-3, absolute 1e-4).
func tolerance(r map[string]any, bad *problems) Tolerance {
	tol := Tolerance{Relative: 1e-3, Absolute: 1e-4}
	cfg, _ := r["config"].(map[string]any)
	bio, _ := cfg["bioimageio"].(map[string]any)
	l, ok := bio["reproducibility_tolerance"]
	if !ok {
		return tol
	}
	entries, ok := l.([]any)
	if !ok {
		bad.add("config.bioimageio.reproducibility_tolerance is %T, want a list", l)
		return tol
	}
	for i, e := range entries {
		m := asMap(e, fmt.Sprintf("config.bioimageio.reproducibility_tolerance[%d]", i), bad)
		if m == nil {
			continue
		}
		if wf, ok := m["weights_formats"].([]any); ok && len(wf) > 0 && !slices.Contains(wf, any("onnx")) {
			continue
		}
		t := Tolerance{Relative: 1e-3, Absolute: 1e-4}
		for key, dst := range map[string]*float64{"relative_tolerance": &t.Relative, "absolute_tolerance": &t.Absolute, "mismatched_elements_per_million": &t.MismatchedPerMillion} {
			if v, ok := m[key]; ok {
				f, ok := number(v)
				if !ok || f < 0 || math.IsNaN(f) {
					bad.add("config.bioimageio.reproducibility_tolerance[%d].%s %v is not a number ≥ 0", i, key, v)
				}
				*dst = f
			}
		}
		return t
	}
	return tol
}

// checkShapes checks the axes against the test tensors' shapes.
func checkShapes(d *Description, bad *problems) {
	all := map[string]Tensor{}
	for _, t := range append(append([]Tensor(nil), d.Inputs...), d.Outputs...) {
		all[t.ID] = t
	}
	size := func(tid, aid string) (int, float64, bool) {
		t, ok := all[tid]
		if !ok {
			return 0, 0, false
		}
		for i, a := range t.Axes {
			if a.ID == aid && i < len(t.TestShape) {
				return t.TestShape[i], a.Scale, true
			}
		}
		return 0, 0, false
	}
	for _, t := range all {
		if len(t.TestShape) != len(t.Axes) {
			bad.add("tensor %q: test tensor %s has shape %v, rank %d, but %d axes", t.ID, t.Test, t.TestShape, len(t.TestShape), len(t.Axes))
			continue
		}
		for i, a := range t.Axes {
			n := t.TestShape[i]
			where := fmt.Sprintf("tensor %q axis %q", t.ID, a.ID)
			switch {
			case a.Type == "batch":
			case a.Type == "channel":
				if n != a.Channels {
					bad.add("%s: test tensor has %d channels, channel_names %d", where, n, a.Channels)
				}
			case a.Fixed > 0:
				if n != a.Fixed {
					bad.add("%s: test tensor size %d, declared %d", where, n, a.Fixed)
				}
			case a.RefTensor != "":
				rs, rscale, ok := size(a.RefTensor, a.RefAxis)
				if !ok {
					bad.add("%s: size references %s.%s, which does not exist", where, a.RefTensor, a.RefAxis)
					continue
				}
				want := float64(rs)*rscale/a.Scale + float64(a.Offset)
				if math.Abs(float64(n)-want) > 1e-9*want {
					bad.add("%s: test tensor size %d, declared %s.%s (%d) × %g / %g + %d = %g", where, n, a.RefTensor, a.RefAxis, rs, rscale, a.Scale, a.Offset, want)
				}
			default:
				if n < a.Min || a.Step == 0 && n != a.Min || a.Step > 0 && (n-a.Min)%a.Step != 0 {
					bad.add("%s: test tensor size %d is not %d + k·%d", where, n, a.Min, a.Step)
				}
			}
		}
	}
}
