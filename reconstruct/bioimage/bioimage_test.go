package bioimage

import (
	"archive/zip"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/internal/tensor"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/volume"
	"gopkg.in/yaml.v3"
)

var tinyModel = filepath.Join("..", "..", "testdata", "tiny-model")

func needRuntime(t testing.TB) {
	t.Helper()
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found: %v", err)
	}
}

func loadModel(t testing.TB, ref string) *reconstruct.Model {
	t.Helper()
	m, err := reconstruct.LoadModel(ref, reconstruct.ModelOptions{Device: "cpu", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// testVolume is a small 8-bit-like volume with structure along every axis.
func testVolume(t testing.TB) *volume.Volume {
	t.Helper()
	s := volume.Shape{Z: 6, Y: 5, X: 24}
	data := make([]float32, s.Len())
	for z := 0; z < s.Z; z++ {
		for y := 0; y < s.Y; y++ {
			for x := 0; x < s.X; x++ {
				data[(z*s.Y+y)*s.X+x] = float32((x*37+z*91+y*13)%200 + 20)
			}
		}
	}
	v, err := volume.New(s, data, volume.Unknown())
	if err != nil {
		t.Fatal(err)
	}
	v.Name = "test.npy"
	return v
}

// buildTiny exports the tiny test model at factor 4 from testVolume.
func buildTiny(t testing.TB) (map[string][]byte, *Report) {
	t.Helper()
	m := loadModel(t, tinyModel)
	files, rep, err := Build(context.Background(), ExportOptions{Model: m, Factor: 4, Volume: testVolume(t), License: "CC-BY-4.0", Now: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return files, rep
}

// TestExportOpens writes a package as a zip and as a folder, opens both as
// a consumer would (validate, run the test input), and loads them as niiv
// models.
func TestExportOpens(t *testing.T) {
	needRuntime(t)
	files, rep := buildTiny(t)
	t.Logf("max |package − niiv| = %.3g (%.3g normalised), range [%g, %g]", rep.MaxDiff, rep.MaxDiffNorm, rep.Lo, rep.Hi)
	if !(rep.MaxDiffNorm <= 1e-4) {
		t.Errorf("package differs from niiv by %.3g of the range", rep.MaxDiffNorm)
	}
	if rep.TestShape != [2]int{6, 24} {
		t.Errorf("test shape %v", rep.TestShape)
	}
	dir := t.TempDir()
	for _, out := range []string{filepath.Join(dir, "pkg.zip"), filepath.Join(dir, "pkg")} {
		if err := Write(context.Background(), out, files, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		pk, d, res, err := Open(context.Background(), out, "")
		if err != nil {
			t.Fatal(err)
		}
		if res.Elements != 6*4*24 || res.Mismatched != 0 {
			t.Errorf("%s: check %+v", out, res)
		}
		if d.Opset != 16 || d.ONNX != weightsFile || len(pk.Files) != len(files) {
			t.Errorf("%s: opset %d, weights %s, %d files", out, d.Opset, d.ONNX, len(pk.Files))
		}
		m := loadModel(t, out)
		if m.Name != "pkg" || m.Source != out || m.Factor() != 4 {
			t.Errorf("loaded %s as %q from %q, factor %d", out, m.Name, m.Source, m.Factor())
		}
	}
	// A second export of the same model and options is byte-identical.
	again, _ := buildTiny(t)
	for name, b := range files {
		if string(again[name]) != string(b) {
			t.Errorf("%s differs between two exports", name)
		}
	}
}

// mutate returns a copy of files with rdf.yaml edited by fn.
func mutate(t *testing.T, files map[string][]byte, fn func(r map[string]any)) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for k, v := range files {
		out[k] = v
	}
	var r map[string]any
	if err := yaml.Unmarshal(files["rdf.yaml"], &r); err != nil {
		t.Fatal(err)
	}
	fn(r)
	b, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	out["rdf.yaml"] = b
	return out
}

func at(r map[string]any, keys ...any) any {
	var v any = r
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

// TestValidateRejects breaks a valid package in the ways a consumer must
// catch and checks the error names the problem.
func TestValidateRejects(t *testing.T) {
	needRuntime(t)
	files, _ := buildTiny(t)
	corrupt := func(name string, fn func([]byte)) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range files {
			out[k] = v
		}
		b := append([]byte(nil), files[name]...)
		fn(b)
		out[name] = b
		return out
	}
	without := func(name string) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range files {
			if k != name {
				out[k] = v
			}
		}
		return out
	}
	for _, c := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"no licence", mutate(t, files, func(r map[string]any) { delete(r, "license") }), "license is missing"},
		{"name not a string", mutate(t, files, func(r map[string]any) { r["name"] = 5 }), "name is int"},
		{"name with a dot", mutate(t, files, func(r map[string]any) { r["name"] = "my.model" }), "want 5 to 128 letters"},
		{"old format", mutate(t, files, func(r map[string]any) { r["format_version"] = "0.4.10" }), "want 0.5.x"},
		{"no authors", mutate(t, files, func(r map[string]any) { r["authors"] = []any{} }), "authors is empty"},
		{"author without name", mutate(t, files, func(r map[string]any) { r["authors"] = []any{map[string]any{"affiliation": "x"}} }), "authors[0].name is missing"},
		{"cite without doi", mutate(t, files, func(r map[string]any) { r["cite"] = []any{map[string]any{"text": "x"}} }), "doi or url"},
		{"no weights", mutate(t, files, func(r map[string]any) { r["weights"] = map[string]any{} }), "weights has no format"},
		{"no opset", mutate(t, files, func(r map[string]any) { delete(at(r, "weights", "onnx").(map[string]any), "opset_version") }), "opset_version"},
		{"unknown step", mutate(t, files, func(r map[string]any) {
			at(r, "inputs", 0, "preprocessing", 1).(map[string]any)["id"] = "sharpen"
		}), "not a processing step"},
		{"bad axis type", mutate(t, files, func(r map[string]any) { at(r, "inputs", 0, "axes", 2).(map[string]any)["type"] = "depth" }), "want batch, channel"},
		{"output scale", mutate(t, files, func(r map[string]any) { at(r, "outputs", 0, "axes", 2).(map[string]any)["scale"] = 2 }), "declared input.z"},
		{"input step", mutate(t, files, func(r map[string]any) {
			at(r, "inputs", 0, "axes", 3).(map[string]any)["size"] = map[string]any{"min": 16, "step": 16}
		}), "is not 16 + k·16"},
		{"dangling reference", mutate(t, files, func(r map[string]any) {
			at(r, "outputs", 0, "axes", 3, "size").(map[string]any)["axis_id"] = "y"
		}), "does not exist"},
		{"sha256 of test input", corrupt(testInputFile, func(b []byte) { b[len(b)-1] ^= 1 }), "test_tensor is corrupt: sha256 of test_input.npy"},
		{"sha256 of weights", corrupt(weightsFile, func(b []byte) { b[len(b)/2] ^= 1 }), "weights.onnx is corrupt"},
		{"missing cover", without(coverFile), "cover.png, which is not in the package"},
		{"missing attachment", without("encoder.onnx"), "encoder.onnx, which is not in the package"},
		{"no rdf", without("rdf.yaml"), "no rdf.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pk, err := Parse(c.files)
			if err == nil {
				_, err = pk.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestCheckCatchesWrongOutput changes the test output within its sha256
// (rewritten) and expects the ONNX Runtime check to fail, and a package
// niiv did not write (no niiv model attached) to be refused by LoadModel.
func TestCheckCatchesWrongOutput(t *testing.T) {
	needRuntime(t)
	files, rep := buildTiny(t)
	want, shape, err := tensor.DecodeNPY(files[testOutputFile])
	if err != nil {
		t.Fatal(err)
	}
	want[7] += float32(0.01 * (rep.Hi - rep.Lo))
	bad := map[string][]byte{}
	for k, v := range files {
		bad[k] = v
	}
	bad[testOutputFile] = tensor.EncodeNPY(want, shape...)
	bad = mutate(t, bad, func(r map[string]any) {
		at(r, "outputs", 0, "test_tensor").(map[string]any)["sha256"] = sha(bad[testOutputFile])
	})
	dir := t.TempDir()
	out := filepath.Join(dir, "bad.zip")
	if err := Write(context.Background(), out, bad, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	_, err = reconstruct.LoadModel(out, reconstruct.ModelOptions{})
	if err == nil || !strings.Contains(err.Error(), "1 of 576 elements differ") || !strings.Contains(err.Error(), "bad.zip") {
		t.Errorf("LoadModel: %v", err)
	}
	// Without the niiv model: the package passes, niiv cannot view with it.
	plain := map[string][]byte{}
	for k, v := range files {
		plain[k] = v
	}
	delete(plain, "card.json")
	plain = mutate(t, plain, func(r map[string]any) {
		var keep []any
		for _, a := range r["attachments"].([]any) {
			if a.(map[string]any)["source"] != "card.json" {
				keep = append(keep, a)
			}
		}
		r["attachments"] = keep
	})
	out = filepath.Join(dir, "plain")
	if err := Write(context.Background(), out, plain, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Open(context.Background(), out, ""); err != nil {
		t.Fatalf("plain package: %v", err)
	}
	_, err = reconstruct.LoadModel(out, reconstruct.ModelOptions{})
	if err == nil || !strings.Contains(err.Error(), "holds no niiv model") {
		t.Errorf("LoadModel of a package without a niiv model: %v", err)
	}
	// An opset_version that is not the graph's.
	wrongOpset := mutate(t, files, func(r map[string]any) { at(r, "weights", "onnx").(map[string]any)["opset_version"] = 17 })
	if pk, err := Parse(wrongOpset); err != nil {
		t.Fatal(err)
	} else if d, err := pk.Validate(); err != nil {
		t.Fatal(err)
	} else if _, err := Check(context.Background(), pk, d, ""); err == nil || !strings.Contains(err.Error(), "imports opset 16; rdf.yaml's weights.onnx.opset_version says 17") {
		t.Errorf("wrong opset_version: %v", err)
	}
	// A zip whose names leave the package.
	evil := filepath.Join(dir, "evil.zip")
	f, _ := os.Create(evil)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("../rdf.yaml")
	w.Write([]byte("type: model"))
	zw.Close()
	f.Close()
	if _, err := Read(evil); err == nil || !strings.Contains(err.Error(), "leaves the package") {
		t.Errorf("zip with ../: %v", err)
	}
	// Not a zip.
	junk := filepath.Join(dir, "junk.zip")
	os.WriteFile(junk, []byte("PK not really"), 0o644)
	if _, err := reconstruct.LoadModel(junk, reconstruct.ModelOptions{}); err == nil || !strings.Contains(err.Error(), "not a zip archive") {
		t.Errorf("junk zip: %v", err)
	}
}

// TestExportAdapted exports a model whose card records an adaptation and
// checks that the description says which volume taught it and takes its
// normalisation range.
func TestExportAdapted(t *testing.T) {
	needRuntime(t)
	dir := filepath.Join(t.TempDir(), "fly-brain.tif.adapted-tiny")
	os.Mkdir(dir, 0o755)
	ents, _ := os.ReadDir(tinyModel)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(tinyModel, e.Name()))
		if e.Name() == "card.json" {
			var c map[string]any
			json.Unmarshal(b, &c)
			c["adaptation"] = map[string]any{
				"parent":              map[string]any{"name": "tiny"},
				"volume":              map[string]any{"name": "fly-brain.tif", "shape": []int{20, 64, 64}, "sha256": strings.Repeat("ab", 32)},
				"normalisation_range": []float64{12.5, 180},
				"steps":               40,
			}
			b, _ = json.Marshal(c)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	m := loadModel(t, dir)
	files, rep, err := Build(context.Background(), ExportOptions{Model: m, Factor: 4, License: "MIT", Authors: []string{"A. Person"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lo != 12.5 || rep.Hi != 180 || rep.Adapted != "fly-brain.tif" || !strings.Contains(rep.NormSource, "fly-brain.tif") {
		t.Errorf("report %+v", rep)
	}
	var r map[string]any
	yaml.Unmarshal(files["rdf.yaml"], &r)
	if d := r["description"].(string); !strings.Contains(d, "Adapted (decoder fine-tuned) to the volume fly-brain.tif") {
		t.Errorf("description %q", d)
	}
	if a := at(r, "config", "niiv", "adaptation"); !strings.Contains(a.([]any)[0].(string), "fly-brain.tif") {
		t.Errorf("config.niiv.adaptation %v", a)
	}
	if r["name"] != "niiv fly-brain-tif-adapted-tiny isotropic reconstruction x4" {
		t.Errorf("name %q", r["name"])
	}
	if a := at(r, "authors", 0, "name"); a != "A. Person" || r["license"] != "MIT" {
		t.Errorf("authors %v, license %v", a, r["license"])
	}
	if !strings.Contains(string(files[docFile]), "## Adaptation") {
		t.Error("README.md has no adaptation section")
	}
	// The test slice is the card's, mapped to the range.
	if rep.TestShape[0] < 1 || !strings.Contains(rep.SliceSource, "test slice") {
		t.Errorf("slice %v from %s", rep.TestShape, rep.SliceSource)
	}
}

// TestExportErrors checks the options Build refuses.
func TestExportErrors(t *testing.T) {
	needRuntime(t)
	m := loadModel(t, tinyModel)
	vol := testVolume(t)
	for _, c := range []struct {
		name string
		opt  ExportOptions
		want string
	}{
		{"factor", ExportOptions{Model: m, Factor: 9, Volume: vol, License: "MIT"}, "factor 9 outside the model's trained range 4–4"},
		{"no range", ExportOptions{Model: m, Factor: 4, License: "MIT"}, "no normalisation range"},
		{"no licence", ExportOptions{Model: m, Factor: 4, Volume: vol}, "names no licence"},
		{"size", ExportOptions{Model: m, Factor: 4, Volume: vol, License: "MIT", Size: [2]int{7, 8}}, "does not fit"},
	} {
		_, _, err := Build(context.Background(), c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestPackageONNXChecker runs Debian's python3-onnx checker (full check)
// on a package's weights and reads its opset.
func TestPackageONNXChecker(t *testing.T) {
	needRuntime(t)
	py := reftest.Python(t, "onnx")
	files, _ := buildTiny(t)
	p := filepath.Join(t.TempDir(), weightsFile)
	os.WriteFile(p, files[weightsFile], 0o644)
	out, err := exec.Command(py, "-c", `import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), [i.name for i in m.graph.input], [o.name for o in m.graph.output])`, p).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "16 ['input'] ['output']" {
		t.Errorf("checker printed %q", got)
	}
}

// TestPackageInNumPy checks a package the way a Python consumer would,
// independently of the Go code: PyYAML reads rdf.yaml, hashlib checks the
// files' sha256, the declared scale_linear steps are applied with NumPy,
// and the ONNX graph runs in reconstruct/train's NumPy interpreter of the
// ONNX operators (written from the operator specification, float64); the
// result must match the test output within the declared tolerance, with
// the output's z size given by the input's z size times the scales.
func TestPackageInNumPy(t *testing.T) {
	needRuntime(t)
	py := reftest.Python(t, "onnx", "numpy", "yaml")
	files, _ := buildTiny(t)
	dir := filepath.Join(t.TempDir(), "pkg")
	if err := Write(context.Background(), dir, files, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	train, _ := filepath.Abs(filepath.Join("..", "train"))
	out, err := exec.Command(py, "-c", `import sys, os, hashlib, numpy as np, yaml
sys.path.insert(0, sys.argv[2])
import onnx_numpy
d = sys.argv[1]
r = yaml.safe_load(open(os.path.join(d, "rdf.yaml")))
assert r["type"] == "model" and r["format_version"].startswith("0.5."), r["format_version"]
def check(ref):
    b = open(os.path.join(d, ref["source"]), "rb").read()
    assert hashlib.sha256(b).hexdigest() == ref["sha256"], ref["source"]
for ref in [r["weights"]["onnx"]] + r["attachments"] + [t["test_tensor"] for t in r["inputs"] + r["outputs"]]:
    check(ref)
(i,), (o,) = r["inputs"], r["outputs"]
x = np.load(os.path.join(d, i["test_tensor"]["source"])).astype(np.float64)
for s in i["preprocessing"]:
    if s["id"] == "scale_linear":
        x = x * s["kwargs"]["gain"] + s["kwargs"]["offset"]
    else:
        assert s["id"] == "ensure_dtype" and s["kwargs"]["dtype"] == "float32", s
y = onnx_numpy.run(os.path.join(d, r["weights"]["onnx"]["source"]), {i["id"]: x.astype(np.float32)})[o["id"]].astype(np.float64)
for s in o["postprocessing"]:
    assert s["id"] == "scale_linear", s
    y = y * s["kwargs"]["gain"] + s["kwargs"]["offset"]
want = np.load(os.path.join(d, o["test_tensor"]["source"]))
zi = [a for a in i["axes"] if a.get("id") == "z"][0]
zo = [a for a in o["axes"] if a.get("id") == "z"][0]
assert zo["size"]["tensor_id"] == i["id"] and zo["size"]["axis_id"] == "z"
assert y.shape == want.shape == (1, 1, x.shape[2] * zi["scale"] // zo["scale"], x.shape[3]), (y.shape, want.shape)
tol = r["config"]["bioimageio"]["reproducibility_tolerance"][0]
diff = np.abs(y - want).max()
assert diff <= tol["absolute_tolerance"], (diff, tol)
print("ok %.3g" % diff)
`, dir, train).CombinedOutput()
	if err != nil {
		t.Fatalf("python consumer: %v\n%s", err, out)
	}
	t.Logf("NumPy consumer: %s", strings.TrimSpace(string(out)))
}
