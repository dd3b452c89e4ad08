// Package bioimage writes and reads niiv models as bioimage.io model
// packages (resource description format 0.5): one ONNX graph that
// reconstructs a whole axial slice at a fixed factor (reconstruct.
// SliceGraph), with the model's normalisation declared as the spec's
// pre- and postprocessing, test tensors, cover, documentation and the niiv
// model itself attached so that niiv opens the package again. Validate
// applies the rules a bioimage.io consumer applies to a package; Check
// runs its test input through ONNX Runtime.
package bioimage

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
	"gopkg.in/yaml.v3"
)

// ExportOptions configure Build.
type ExportOptions struct {
	// Model is the loaded niiv model to export (it has passed its own
	// self-check).
	Model *reconstruct.Model
	// Factor is the package's fixed anisotropy factor: output rows per
	// input row. It must lie in the model's trained range.
	Factor int
	// Volume, when set, gives the test slice (its middle xz plane) and
	// the normalisation range (niiv's percentiles of the whole volume).
	Volume *volume.Volume
	// Size, when not zero, crops the test slice to Size[0] rows (z) ×
	// Size[1] columns (x), from its centre (default: at most
	// DefaultTestRows × DefaultTestCols).
	Size [2]int
	// Lo and Hi, when Hi > Lo, are the normalisation range (intensities
	// that map to 0 and 1), overriding the volume's and the card's.
	Lo, Hi float64
	// License is the SPDX licence id of the package; "" takes the card's
	// "license".
	License string
	// Authors name the package's authors; empty takes the card's
	// "authors", else "niiv contributors".
	Authors []string
	// Library is the ONNX Runtime library ("" finds it).
	Library string
	// Now dates the package (zero: the current time).
	Now time.Time
}

// Report says what Build made.
type Report struct {
	// Lo, Hi are the normalisation range and NormSource where it came
	// from.
	Lo, Hi     float64
	NormSource string
	// TestShape is the test input's [z, x]; SliceSource where it came
	// from.
	TestShape   [2]int
	SliceSource string
	// MaxDiff is max |package output − niiv's reconstruction| over the
	// test slice, in the volume's units (the package's test output is
	// niiv's reconstruction); MaxDiffNorm the same over Hi − Lo.
	MaxDiff, MaxDiffNorm float64
	Opset                int
	// Adapted names the volume an adapted model was taught by ("" for a
	// model that was not adapted).
	Adapted string
}

// DefaultTestRows and DefaultTestCols bound the test slice when no size
// is given: the test output is the slice at F times its rows, and the
// graph decodes every output pixel at once.
const (
	DefaultTestRows = 32
	DefaultTestCols = 256
)

// Citation is the niiv paper.
const (
	citeText = "Troidl J, Liang Y, Beyer J, Tavakoli M, Danzl J, Hadwiger M, Pfister H, Tompkin J. niiv: Fast Self-supervised Neural Implicit Isotropic Volume Reconstruction. bioRxiv 2024."
	citeDOI  = "10.1101/2024.09.07.611785"
)

// File names inside a package.
const (
	weightsFile    = "niiv_slice.onnx"
	testInputFile  = "test_input.npy"
	testOutputFile = "test_output.npy"
	coverFile      = "cover.png"
	docFile        = "README.md"
)

// Build makes the files of a package for opt.Model at opt.Factor, checks
// them as Open would (Validate, then the test input through ONNX Runtime
// against niiv's own reconstruction of the test slice, which is the test
// output) and returns them.
func Build(ctx context.Context, opt ExportOptions) (map[string][]byte, *Report, error) {
	m := opt.Model
	if m == nil || m.Files() == nil {
		return nil, nil, fmt.Errorf("bioimage: export: no model files")
	}
	fail := func(err error) (map[string][]byte, *Report, error) {
		return nil, nil, fmt.Errorf("bioimage: export %s: %w", m.Name, err)
	}
	f := opt.Factor
	if lo, hi := m.FactorRange(); lo > 0 && (f < lo || f > hi) {
		return fail(fmt.Errorf("factor %d outside the model's trained range %d–%d", f, lo, hi))
	}
	if f < 1 || f > 64 {
		return fail(fmt.Errorf("factor %d outside 1–64", f))
	}
	src := m.Files()
	cardRaw, err := fs.ReadFile(src, "card.json")
	if err != nil {
		return fail(err)
	}
	var card map[string]any
	if err := json.Unmarshal(cardRaw, &card); err != nil {
		return fail(fmt.Errorf("card.json: %w", err))
	}
	rep := &Report{}
	n := reconstruct.NewNiiv(m, nil)

	// Normalisation range.
	switch {
	case opt.Hi > opt.Lo:
		rep.Lo, rep.Hi, rep.NormSource = opt.Lo, opt.Hi, "given when the package was exported"
	case opt.Volume != nil:
		rep.Lo, rep.Hi = n.NormRange(opt.Volume)
		rep.NormSource = fmt.Sprintf("niiv's percentiles of the whole volume %s", volumeLabel(opt.Volume))
	default:
		lo, hi, where, ok := cardNorm(card)
		if !ok {
			return fail(fmt.Errorf("the model card gives no normalisation range: give a volume or the range"))
		}
		rep.Lo, rep.Hi, rep.NormSource = lo, hi, where
	}
	if !(rep.Hi > rep.Lo) || math.IsInf(rep.Hi-rep.Lo, 0) {
		return fail(fmt.Errorf("normalisation range [%g, %g] is empty", rep.Lo, rep.Hi))
	}

	// Test slice, in the volume's units: the size asked, else the whole
	// slice up to DefaultTestRows × DefaultTestCols, from its centre.
	var slice []float32
	var h, w int
	crop := func(full [2]int) (r0, c0, sh, sw int, err error) {
		sh, sw = opt.Size[0], opt.Size[1]
		if sh == 0 && sw == 0 {
			sh, sw = min(full[0], DefaultTestRows), min(full[1], DefaultTestCols)
		}
		if sh < 1 || sw < 1 || sh > full[0] || sw > full[1] {
			return 0, 0, 0, 0, fmt.Errorf("size %d×%d does not fit the %d×%d test slice", sh, sw, full[0], full[1])
		}
		return (full[0] - sh) / 2, (full[1] - sw) / 2, sh, sw, nil
	}
	if v := opt.Volume; v != nil {
		s := v.Shape()
		y := s.Y / 2
		r0, c0, sh, sw, err := crop([2]int{s.Z, s.X})
		if err != nil {
			return fail(fmt.Errorf("%w (xz plane of %s)", err, volumeLabel(v)))
		}
		h, w = sh, sw
		slice, err = v.PlaneRect(ctx, volume.XZ, y, r0, r0+h, c0, c0+w, nil)
		if err != nil {
			return fail(err)
		}
		rep.SliceSource = fmt.Sprintf("xz plane y = %d of %s", y, volumeLabel(v))
		if h < s.Z || w < s.X {
			rep.SliceSource += fmt.Sprintf(", rows %d–%d, columns %d–%d", r0, r0+h-1, c0, c0+w-1)
		}
	} else {
		tt := m.Card.TestTensors
		if tt == nil {
			return fail(fmt.Errorf("the model card has no test tensors: give a volume for the test slice"))
		}
		b, err := fs.ReadFile(src, tt.Lowres)
		if err != nil {
			return fail(err)
		}
		low, shape, err := tensor.DecodeNPY(b)
		if err != nil || len(shape) != 4 || shape[0] != 1 || shape[1] != 1 {
			return fail(fmt.Errorf("test tensor %s: shape %v, %v", tt.Lowres, shape, err))
		}
		r0, c0, sh, sw, err := crop([2]int{shape[2], shape[3]})
		if err != nil {
			return fail(fmt.Errorf("%w (the model's test slice %s)", err, tt.Lowres))
		}
		h, w = sh, sw
		slice = make([]float32, 0, h*w)
		for r := r0; r < r0+h; r++ {
			for _, v := range low[r*shape[3]+c0 : r*shape[3]+c0+w] {
				slice = append(slice, float32(float64(v)*(rep.Hi-rep.Lo)+rep.Lo))
			}
		}
		rep.SliceSource = fmt.Sprintf("the model's test slice %s, mapped from [0, 1] to the normalisation range", tt.Lowres)
		if h < shape[2] || w < shape[3] {
			rep.SliceSource += fmt.Sprintf(", rows %d–%d, columns %d–%d", r0, r0+h-1, c0, c0+w-1)
		}
	}
	rep.TestShape = [2]int{h, w}
	want, err := n.Plane(ctx, slice, h, w, h*f, rep.Lo, rep.Hi)
	if err != nil {
		return fail(err)
	}

	// The graph.
	enc, err := fs.ReadFile(src, "encoder.onnx")
	if err != nil {
		return fail(err)
	}
	dec, err := fs.ReadFile(src, "decoder.onnx")
	if err != nil {
		return fail(err)
	}
	graph, err := reconstruct.SliceGraph(enc, dec, f)
	if err != nil {
		return fail(err)
	}
	if rep.Opset, err = reconstruct.Opset(graph); err != nil {
		return fail(err)
	}
	if a, ok := card["adaptation"].(map[string]any); ok {
		if v, ok := a["volume"].(map[string]any); ok {
			rep.Adapted = fmt.Sprint(v["name"])
		}
	}

	files := map[string][]byte{
		weightsFile:    graph,
		testInputFile:  tensor.EncodeNPY(slice, 1, 1, h, w),
		testOutputFile: tensor.EncodeNPY(want, 1, 1, h*f, w),
		coverFile:      cover(slice, want, h, w, f, rep.Lo, rep.Hi),
		"card.json":    cardRaw,
		"encoder.onnx": enc,
		"decoder.onnx": dec,
	}
	if tt := m.Card.TestTensors; tt != nil {
		for _, name := range []string{tt.Lowres, tt.Latent, tt.Coords, tt.Values} {
			b, err := fs.ReadFile(src, name)
			if err != nil {
				return fail(err)
			}
			files[name] = b
		}
	}
	license := opt.License
	if license == "" {
		license, _ = card["license"].(string)
	}
	if license == "" {
		return fail(fmt.Errorf("the model card names no licence: give one (an SPDX id such as CC-BY-4.0)"))
	}
	authors := opt.Authors
	if len(authors) == 0 {
		if l, ok := card["authors"].([]any); ok {
			for _, a := range l {
				if s, ok := a.(string); ok {
					authors = append(authors, s)
				}
			}
		}
	}
	if len(authors) == 0 {
		authors = []string{"niiv contributors"}
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	// Check it as a consumer would, twice: the first check measures the
	// graph against niiv, for the documentation and description; the
	// second checks the package as written.
	for range 2 {
		files[docFile] = []byte(documentation(m, card, rep, f))
		rdf, err := describe(m, card, rep, f, license, authors, now, files)
		if err != nil {
			return fail(err)
		}
		files["rdf.yaml"] = rdf
		pk, err := Parse(files)
		if err != nil {
			return fail(err)
		}
		d, err := pk.Validate()
		if err != nil {
			return fail(err)
		}
		res, err := Check(ctx, pk, d, opt.Library)
		if res != nil {
			rep.MaxDiff = res.MaxAbsDiff
			rep.MaxDiffNorm = res.MaxAbsDiff / (rep.Hi - rep.Lo)
		}
		if err != nil {
			return fail(err)
		}
	}
	return files, rep, nil
}

// Write writes a package's files to out: a zip archive when out ends in
// .zip, else a folder. Either appears complete or not at all.
func Write(ctx context.Context, out string, files map[string][]byte, now time.Time) error {
	if !strings.EqualFold(filepath.Ext(out), ".zip") {
		if st, err := os.Stat(out); err == nil {
			if !st.IsDir() || !IsPackage(out) {
				return fmt.Errorf("bioimage: write %s: exists and is not a package folder", out)
			}
		}
		if err := atomicfile.WriteDir(ctx, out, files); err != nil {
			return fmt.Errorf("bioimage: write %s: %w", out, err)
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	// rdf.yaml first: consumers that stream the archive find it at once.
	for i, n := range names {
		if n == "rdf.yaml" {
			copy(names[1:i+1], names[:i])
			names[0] = n
		}
	}
	err := atomicfile.Write(out, func(fh *os.File) error {
		zw := zip.NewWriter(fh)
		for _, n := range names {
			hdr := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: now.UTC()}
			wr, err := zw.CreateHeader(hdr)
			if err != nil {
				return err
			}
			if _, err := wr.Write(files[n]); err != nil {
				return err
			}
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("bioimage: write %s: %w", out, err)
	}
	return nil
}

func volumeLabel(v *volume.Volume) string {
	s := v.Shape()
	name := v.Name
	if name == "" {
		name = "(unnamed)"
	}
	return fmt.Sprintf("%s (%d×%d×%d, z y x)", name, s.Z, s.Y, s.X)
}

// cardNorm returns the normalisation range a card records: an adapted
// model's volume range, else the mean of the training volumes' ranges.
func cardNorm(card map[string]any) (lo, hi float64, where string, ok bool) {
	if a, okA := card["adaptation"].(map[string]any); okA {
		if r, okR := a["normalisation_range"].([]any); okR && len(r) == 2 {
			lo, ok1 := r[0].(float64)
			hi, ok2 := r[1].(float64)
			if ok1 && ok2 {
				name := ""
				if v, ok := a["volume"].(map[string]any); ok {
					name = fmt.Sprint(v["name"])
				}
				return lo, hi, fmt.Sprintf("the model card: percentiles of the volume %s that taught the adapted model", name), true
			}
		}
	}
	nm, _ := card["normalisation"].(map[string]any)
	vols, _ := nm["training_volumes"].([]any)
	var sl, sh float64
	k := 0
	for _, v := range vols {
		vm, _ := v.(map[string]any)
		l, ok1 := vm["p_low"].(float64)
		h, ok2 := vm["p_high"].(float64)
		if ok1 && ok2 {
			sl, sh = sl+l, sh+h
			k++
		}
	}
	if k == 0 {
		return 0, 0, "", false
	}
	return sl / float64(k), sh / float64(k), fmt.Sprintf("the model card: mean percentiles of its %d training volumes", k), true
}

// pathWords matches file paths in card text, whose folders name the
// machine the model was trained on and say nothing to a user.
var pathWords = regexp.MustCompile(`\S*/([^/\s]+)`)

func stripPaths(s string) string { return pathWords.ReplaceAllString(s, "$1") }

// trainingData describes the card's training data in a few lines.
func trainingData(card map[string]any) []string {
	var out []string
	tr, _ := card["training"].(map[string]any)
	if l, ok := tr["data"].([]any); ok {
		for _, d := range l {
			out = append(out, stripPaths(fmt.Sprint(d)))
		}
	}
	if s, ok := tr["self_supervision"].(string); ok {
		out = append(out, "self-supervision: "+s)
	}
	if s, ok := tr["never_trained_on"].(string); ok {
		out = append(out, "never trained on: "+stripPaths(s))
	}
	return out
}

// adaptationLines describes an adapted model's volume and parent.
func adaptationLines(card map[string]any) []string {
	a, ok := card["adaptation"].(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	if v, ok := a["volume"].(map[string]any); ok {
		out = append(out, fmt.Sprintf("adapted to the volume %v (shape z y x %v, sha256 of its voxels %v)", v["name"], v["shape"], v["sha256"]))
	}
	if p, ok := a["parent"].(map[string]any); ok {
		out = append(out, fmt.Sprintf("parent model: %v", p["name"]))
	}
	if s, ok := a["method"].(string); ok {
		out = append(out, "adaptation: "+s)
	}
	if st, ok := a["steps"]; ok {
		out = append(out, fmt.Sprintf("adaptation steps: %v in %v s; loss %v (parent %v)", st, a["seconds"], a["loss"], a["parent_loss"]))
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// rdf is the resource description niiv writes, in the spec's field order.
type rdf struct {
	Type          string           `yaml:"type"`
	FormatVersion string           `yaml:"format_version"`
	Name          string           `yaml:"name"`
	Description   string           `yaml:"description"`
	Version       string           `yaml:"version"`
	Timestamp     string           `yaml:"timestamp"`
	Authors       []map[string]any `yaml:"authors"`
	Cite          []map[string]any `yaml:"cite"`
	License       string           `yaml:"license"`
	Documentation string           `yaml:"documentation"`
	Covers        []string         `yaml:"covers"`
	Tags          []string         `yaml:"tags"`
	Inputs        []map[string]any `yaml:"inputs"`
	Outputs       []map[string]any `yaml:"outputs"`
	Weights       map[string]any   `yaml:"weights"`
	Attachments   []map[string]any `yaml:"attachments"`
	Config        map[string]any   `yaml:"config"`
}

// packageName is the package's name: letters, digits, spaces and _+-()
// only, as the spec asks (a model folder's name may hold others).
func packageName(model string, f int) string {
	clean := strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+- ()", r)) {
			return r
		}
		return '-'
	}, model)
	if len(clean) > 64 {
		clean = clean[:64]
	}
	return fmt.Sprintf("niiv %s isotropic reconstruction x%d", clean, f)
}

func fileRef(files map[string][]byte, name string) map[string]any {
	return map[string]any{"source": name, "sha256": sha(files[name])}
}

// describe writes rdf.yaml.
func describe(m *reconstruct.Model, card map[string]any, rep *Report, f int, license string, authors []string, now time.Time, files map[string][]byte) ([]byte, error) {
	desc := fmt.Sprintf("niiv isotropic reconstruction of anisotropic 3-D microscopy (model %s) at a fixed factor of %d: "+
		"from an axial slice [z, x] whose z is %d× coarser than x, a slice of %d× the rows. Self-supervised on lateral (xy) planes only.", m.Name, f, f, f)
	if rep.Adapted != "" {
		desc += fmt.Sprintf(" Adapted (decoder fine-tuned) to the volume %s.", rep.Adapted)
	}
	var au []map[string]any
	for _, a := range authors {
		au = append(au, map[string]any{"name": a})
	}
	space := func(id string, size any, scale float64, desc string) map[string]any {
		return map[string]any{"type": "space", "id": id, "size": size, "scale": scale, "description": desc}
	}
	batch := map[string]any{"type": "batch"}
	channel := map[string]any{"type": "channel", "channel_names": []string{"intensity"}}
	span := rep.Hi - rep.Lo
	niivCfg := map[string]any{
		"factor":        f,
		"model":         m.Name,
		"normalisation": map[string]any{"low": rep.Lo, "high": rep.Hi, "source": rep.NormSource},
		"test_slice":    rep.SliceSource,
		"max_abs_diff_to_niiv": map[string]any{
			"volume_units": rep.MaxDiff,
			"normalised":   rep.MaxDiffNorm,
			"note":         "the test output is niiv's own reconstruction of the test input (native decoder); this is the graph's largest difference from it with ONNX Runtime on the CPU",
		},
		"training_data": trainingData(card),
	}
	if a := adaptationLines(card); a != nil {
		niivCfg["adaptation"] = a
	}
	r := rdf{
		Type:          "model",
		FormatVersion: SpecVersion,
		Name:          packageName(m.Name, f),
		Description:   desc,
		Version:       "1.0.0",
		Timestamp:     now.UTC().Format(time.RFC3339),
		Authors:       au,
		Cite:          []map[string]any{{"text": citeText, "doi": citeDOI}},
		License:       license,
		Documentation: docFile,
		Covers:        []string{coverFile},
		Tags:          []string{"isotropic-reconstruction", "super-resolution", "anisotropic", "electron-microscopy", "2d", "onnx", "niiv"},
		Inputs: []map[string]any{{
			"id":          "input",
			"description": fmt.Sprintf("an axial slice (xz or yz) of an anisotropic volume in its own units, z rows %d× coarser than x columns", f),
			"axes": []any{batch, channel,
				space("z", map[string]any{"min": 1, "step": 1}, float64(f), "the coarse axis"),
				space("x", map[string]any{"min": 1, "step": 1}, 1, "a lateral axis"),
			},
			"test_tensor": fileRef(files, testInputFile),
			"data":        map[string]any{"type": "float32"},
			"preprocessing": []any{
				map[string]any{"id": "ensure_dtype", "kwargs": map[string]any{"dtype": "float32"}},
				map[string]any{"id": "scale_linear", "kwargs": map[string]any{"gain": 1 / span, "offset": -rep.Lo / span}},
			},
		}},
		Outputs: []map[string]any{{
			"id":          "output",
			"description": fmt.Sprintf("the slice reconstructed at isotropic resolution: %d× the rows, in the input's units", f),
			"axes": []any{batch, channel,
				space("z", map[string]any{"tensor_id": "input", "axis_id": "z"}, 1, fmt.Sprintf("%d× the input's rows", f)),
				space("x", map[string]any{"tensor_id": "input", "axis_id": "x"}, 1, "as the input"),
			},
			"test_tensor": fileRef(files, testOutputFile),
			"data":        map[string]any{"type": "float32"},
			"postprocessing": []any{
				map[string]any{"id": "scale_linear", "kwargs": map[string]any{"gain": span, "offset": rep.Lo}},
			},
		}},
		Weights: map[string]any{"onnx": map[string]any{
			"source":        weightsFile,
			"sha256":        sha(files[weightsFile]),
			"opset_version": rep.Opset,
		}},
		Config: map[string]any{
			"bioimageio": map[string]any{"reproducibility_tolerance": []any{map[string]any{
				"relative_tolerance":              0.0,
				"absolute_tolerance":              1e-4 * span,
				"mismatched_elements_per_million": 0,
				"output_ids":                      []string{"output"},
				"weights_formats":                 []string{"onnx"},
			}}},
			"niiv": niivCfg,
		},
	}
	var att []string
	for n := range files {
		switch n {
		case weightsFile, testInputFile, testOutputFile, coverFile, docFile, "rdf.yaml":
		default:
			att = append(att, n)
		}
	}
	sort.Strings(att)
	for _, n := range att {
		r.Attachments = append(r.Attachments, fileRef(files, n))
	}
	var buf bytes.Buffer
	buf.WriteString("# bioimage.io model description (format " + SpecVersion + "), written by niiv export-model\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// cover draws the test input (each row repeated f times) beside the
// output, intensities [lo, hi] mapped to black–white.
func cover(in, out []float32, h, w, f int, lo, hi float64) []byte {
	const gap = 4
	img := image.NewGray(image.Rect(0, 0, 2*w+gap, h*f))
	g := func(v float32) color.Gray {
		t := (float64(v) - lo) / (hi - lo)
		return color.Gray{uint8(math.Round(255 * min(max(t, 0), 1)))}
	}
	for r := 0; r < h*f; r++ {
		for c := 0; c < w; c++ {
			img.SetGray(c, r, g(in[(r/f)*w+c]))
			img.SetGray(w+gap+c, r, g(out[r*w+c]))
		}
		for c := w; c < w+gap; c++ {
			img.SetGray(c, r, color.Gray{255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// documentation writes the package's README.md.
func documentation(m *reconstruct.Model, card map[string]any, rep *Report, f int) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# niiv %s: isotropic reconstruction ×%d\n\n", m.Name, f)
	p("This package reconstructs an axial slice of an anisotropic 3-D microscopy volume (an xz or yz\n")
	p("slice whose z is %d× coarser than x) at isotropic resolution: %d output rows per input row.\n", f, f)
	p("It is niiv's model (an EDSR encoder and an MLP decoder of continuous coordinates, trained\n")
	p("self-supervised on lateral planes), exported as one ONNX graph (opset %d) that builds the\n", rep.Opset)
	p("coordinate grid of the output from the input's shape. It reproduces niiv's own\n")
	p("reconstruction of the same slice: the test output is niiv's, and the graph matches it to\n")
	p("%.2g (%.2g of the normalisation range).\n\n", rep.MaxDiff, rep.MaxDiffNorm)
	p("## Input and output\n\n")
	p("- input `[batch, channel, z, x]`, float32, any size, in the volume's own units;\n")
	p("- output `[batch, channel, z·%d, x]`, float32, in the same units.\n\n", f)
	p("Normalisation is fixed, declared as `scale_linear` pre- and postprocessing: intensities\n")
	p("%g and %g map to 0 and 1 before the network and back after it (%s).\n", rep.Lo, rep.Hi, rep.NormSource)
	p("niiv normalises each volume by its own 0.5 and 99.5 percentiles; for another volume, export\n")
	p("again with it (`niiv export-model MODEL OUT.zip --factor %d --volume V`) so that its package\n", f)
	p("carries its range.\n\n")
	p("## Limits\n\n")
	p("- one fixed factor (%d) per package; niiv itself decodes any continuous zoom;\n", f)
	p("- slices, not volumes: run each xz (or yz) slice; a volume is the average of both passes in niiv;\n")
	p("- give whole slices: the encoder sees %d pixels around each pixel, so tiles join with seams.\n\n", m.ReceptiveField())
	p("## Use\n\n")
	p("Fiji with deepImageJ: install this .zip with deepImageJ's model installer, open the volume,\n")
	p("make a stack of slices whose rows are z (Image > Stacks > Reslice) and run the model.\n\n")
	p("Python with bioimageio.core (`pip install \"bioimageio.core[onnx]\"`):\n\n")
	p("```python\nfrom bioimageio.core import predict\n")
	p("sample = predict(model=\"package.zip\", inputs={\"input\": slice_zx[None, None]})  # slice_zx: [z, x] float32\n")
	p("iso = sample.members[\"output\"].data  # [1, 1, z*%d, x]\n```\n\n", f)
	p("niiv: `niiv view VOLUME --model package.zip` (the niiv model is attached).\n\n")
	if tr := trainingData(card); len(tr) > 0 {
		p("## Training data\n\n")
		for _, l := range tr {
			p("- %s\n", l)
		}
		p("\n")
	}
	if a := adaptationLines(card); a != nil {
		p("## Adaptation\n\n")
		for _, l := range a {
			p("- %s\n", l)
		}
		p("\n")
	}
	p("## Cite\n\n%s doi:%s\n", citeText, citeDOI)
	return b.String()
}
