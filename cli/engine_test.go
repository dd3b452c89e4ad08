package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/volume"
)

func TestEvalCSVAndPlot(t *testing.T) {
	dir := t.TempDir()
	csvPath, png := filepath.Join(dir, "e.csv"), filepath.Join(dir, "e.png")
	code, o, e := run("eval", "sample", "--factor", "8", "--methods", "nearest,linear", "--csv", csvPath, "--plot", png)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "method,psnr,ssim,cf_r10,cf_r24,cf_r44,cf_r90" {
		t.Fatalf("csv:\n%s", b)
	}
	if !strings.HasPrefix(lines[1], "nearest,") || !strings.HasPrefix(lines[2], "linear,") {
		t.Errorf("csv rows:\n%s", b)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("plot not written: %v", err)
	}
	if !strings.Contains(o, "r=24") {
		t.Errorf("no table on stdout:\n%s", o)
	}
}

func TestEngineUsage(t *testing.T) {
	dir := t.TempDir()
	aniso := filepath.Join(dir, "aniso.npy") // 32 × 8 × 8 nm
	if code, o, e := run("sample", aniso, "--size", "16", "--factor", "4"); code != 0 {
		t.Fatalf("sample: exit %d\n%s%s", code, o, e)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"eval bad factor", []string{"eval", "sample", "--factor", "1"}, 2, "at least 2"},
		{"eval bad method", []string{"eval", "sample", "--methods", "magic"}, 2, "unknown method"},
		{"eval bad device", []string{"eval", "sample", "--device", "tpu"}, 2, "--device"},
		{"negative threads", []string{"eval", "sample", "--threads", "-1"}, 2, "--threads"},
		{"reconstruct to jpg", []string{"reconstruct", "sample", filepath.Join(dir, "o.jpg")}, 2, ".npy, .tif, .tiff, .zarr (OME-Zarr) or .mrc"},
		{"reconstruct into a missing folder", []string{"reconstruct", "sample", filepath.Join(dir, "no", "o.npy")}, 1, "does not exist"},
		{"sample to npz", []string{"sample", filepath.Join(dir, "s.npz")}, 2, ".npy, .tif, .tiff, .zarr (OME-Zarr) or .mrc"},
		{"figure into a missing folder", []string{"figure", "sample", "--mode", "linear", "--out", filepath.Join(dir, "no", "f.png")}, 1, "does not exist"},
		{"figure too narrow", []string{"figure", "sample", "--mode", "linear,nearest,linear", "--size", "50x50"}, 2, "too narrow"},
		{"absurd threads", []string{"reconstruct", "sample", filepath.Join(dir, "o.npy"), "--threads", "100000"}, 2, "--threads"},
		{"eval bad plot", []string{"eval", "sample", "--plot", filepath.Join(dir, "x.jpg")}, 2, ".png"},
		{"eval csv and plot alike", []string{"eval", "sample", "--csv", filepath.Join(dir, "x.png"), "--plot", filepath.Join(dir, "x.png")}, 2, "same file"},
		{"eval csv in a missing folder", []string{"eval", "sample", "--csv", filepath.Join(dir, "no", "x.csv")}, 2, "does not exist"},
		{"eval anisotropic volume", []string{"eval", aniso, "--methods", "linear"}, 1, "anisotropic"},
		{"lateral on an isotropic volume", []string{"eval", "--lateral", "sample", "--methods", "linear"}, 2, "--factor"},
		{"lateral with yz", []string{"eval", "--lateral", "--yz", aniso}, 2, "--yz"},
		{"lateral crops", []string{"eval", "--lateral", "--crops", "0", aniso}, 2, "--crops"},
		{"lateral of an anisotropic volume", []string{"eval", "--lateral", "--crops", "2", "--methods", "nearest,linear", aniso}, 0, "lateral check, 2 crops of 16×16 from its xy planes pooled along y by 4"},
		{"reconstruct bad axes", []string{"reconstruct", "sample", filepath.Join(dir, "o.npy"), "--axes", "xy"}, 2, "--axes"},
		{"bench bad case", []string{"bench", "--cases", "nope"}, 2, "unknown case"},
		{"missing model folder", []string{"reconstruct", "sample", filepath.Join(dir, "o.npy"), "--method", filepath.Join(dir, "nomodel"), "--zscale", "2"}, 2, "unknown method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := run(c.args...)
			if code != c.code || !strings.Contains(o+e, c.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, c.code, o, e, c.want)
			}
		})
	}
}

func TestReconstructLinear(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "iso.npy")
	code, o, e := run("reconstruct", "sample", out, "--method", "linear", "--zscale", "2.5")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	if !strings.Contains(o, "40×128×128") {
		t.Errorf("output: %s", o)
	}
}

func TestReconstructNamedModelMustLoad(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "iso.npy")
	code, o, e := run("reconstruct", "sample", out, "--method", "niiv-nothing", "--zscale", "2")
	if code != 1 || !strings.Contains(e, "niiv-nothing") {
		t.Fatalf("exit %d, want 1 naming the model\n%s%s", code, o, e)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed reconstruction wrote %s", out)
	}
}

// TestReconstructFactor checks the anisotropy reconstruct works with: the
// file's, --factor's, or a refusal that says what to give.
func TestReconstructFactor(t *testing.T) {
	dir := t.TempDir()
	iso := filepath.Join(dir, "iso.npy")
	if code, o, e := run("sample", iso, "--factor", "1", "--size", "16"); code != 0 {
		t.Fatalf("sample: exit %d\n%s%s", code, o, e)
	}
	bare := filepath.Join(dir, "bare.npy") // no voxel size
	v, err := volume.New(volume.Shape{Z: 2, Y: 16, X: 16}, make([]uint8, 2*16*16), volume.Voxel{})
	if err != nil {
		t.Fatal(err)
	}
	if err := volio.Save(bare, v); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.npy")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"anisotropic file", []string{"sample"}, 0, "128×128×128"},
		{"isotropic file", []string{iso}, 1, "already isotropic"},
		{"isotropic file, --zscale", []string{iso, "--zscale", "2"}, 0, "32×16×16"},
		{"no voxel size", []string{bare}, 1, "--factor"},
		{"no voxel size, --factor", []string{bare, "--factor", "4"}, 0, "8×16×16"},
		{"factor NaN", []string{"sample", "--factor", "NaN"}, 2, "--factor"},
		{"factor huge", []string{"sample", "--factor", "1e6"}, 2, "--factor"},
		{"factor below 1", []string{"sample", "--factor", "0.5"}, 2, "--factor"},
		{"zscale Inf", []string{"sample", "--zscale", "Inf"}, 2, "--zscale"},
		{"output is the input", []string{iso, "--zscale", "2", "OUT=IN"}, 2, "input file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(out)
			dst := out
			if c.args[len(c.args)-1] == "OUT=IN" {
				dst, c.args = c.args[0], c.args[:len(c.args)-1]
			}
			args := append([]string{"reconstruct", c.args[0], dst, "--method", "linear"}, c.args[1:]...)
			code, o, e := run(args...)
			if code != c.code || !strings.Contains(o+e, c.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, c.code, o, e, c.want)
			}
		})
	}
}

func TestBenchJSON(t *testing.T) {
	code, o, e := run("bench", "--json", "--cases", "matmul2048", "--impls", "go-native", "--reps", "1", "--models", filepath.Join("..", "testdata", "tiny-model"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		for _, k := range []string{"case", "model", "impl", "ms"} {
			if _, ok := r[k]; !ok {
				t.Errorf("line %q lacks %q", line, k)
			}
		}
	}
}

func TestProgressLines(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, "job")
	p.update(1, 4)
	if b.Len() != 0 {
		t.Errorf("a run under a second printed %q", b.String())
	}
	p.start = p.start.Add(-2 * time.Second)
	p.update(2, 4)
	p.update(2, 4)
	p.update(4, 4)
	p.finish()
	if got := strings.Count(b.String(), "\n"); got != 2 || !strings.Contains(b.String(), "job:  50% (2/4)") || !strings.Contains(b.String(), "job: 100% (4/4)") {
		t.Errorf("lines %q, want one at 50%% and one at 100%%", b.String())
	}
}

// TestReconstructRefusesFromHeader checks that an output too large for
// memory is refused from the input's header, before its voxels are read:
// the voxels here are NaN, which reading would refuse first.
func TestReconstructRefusesFromHeader(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "nan-8x8x64nm.npy") // voxel size from the name: 8× anisotropic
	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (16, 64, 64), }"
	hdr += strings.Repeat(" ", 127-(10+len(hdr))%128) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), byte(len(hdr)>>8))
	b = append(b, hdr...)
	for i := 0; i < 16*64*64; i++ {
		b = append(b, 0x00, 0x00, 0xc0, 0x7f) // NaN
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	old := volio.MaxBytes
	volio.MaxBytes = 1 << 20 // the input (256 KiB) fits, its ×8 output (2 MiB) does not
	defer func() { volio.MaxBytes = old }()
	code, o, e := run("reconstruct", in, filepath.Join(dir, "out.npy"), "--method", "linear")
	if code != 1 || !strings.Contains(e, "memory limit") {
		t.Errorf("exit %d\nstdout %s\nstderr %s\nwant 1 and the memory limit, from the header", code, o, e)
	}
	// With room for the output, reading the voxels finds the NaN.
	volio.MaxBytes = old
	code, _, e = run("reconstruct", in, filepath.Join(dir, "out.npy"), "--method", "linear")
	if code != 1 || !strings.Contains(e, "NaN") {
		t.Errorf("exit %d, stderr %s; want 1 and NaN", code, e)
	}
}

// TestReconstructStreamed: a .zarr output is computed block by block (here
// from an input read lazily, in blocks smaller than the volume) and holds
// the same voxels as the whole-volume reconstruction written as .npy;
// --dtype input keeps the input's type.
func TestReconstructStreamed(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.zarr")
	if code, o, e := run("sample", in, "--size", "64", "--factor", "4", "--dtype", "uint8"); code != 0 {
		t.Fatalf("sample: exit %d\n%s%s", code, o, e)
	}
	for _, method := range []string{"linear", "cubic"} {
		whole := filepath.Join(dir, method+".npy")
		if code, o, e := run("reconstruct", in, whole, "--method", method, "--lazy", "never"); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, o, e)
		}
		blocks := filepath.Join(dir, method+".zarr")
		code, o, e := run("reconstruct", in, blocks, "--method", method, "--lazy", "always", "--chunk", "64,24,40")
		if code != 0 || !strings.Contains(o, "block by block") {
			t.Fatalf("exit %d\n%s%s", code, o, e)
		}
		a, err := volio.Open(whole)
		if err != nil {
			t.Fatal(err)
		}
		b, err := volio.OpenWith(blocks, volio.Options{Lazy: volio.LazyNever})
		if err != nil {
			t.Fatal(err)
		}
		if a.Shape() != b.Shape() || a.DType() != b.DType() || a.Voxel.Z != b.Voxel.Z {
			t.Fatalf("%s: .npy %v %v %v, .zarr %v %v %v", method, a.Shape(), a.DType(), a.Voxel, b.Shape(), b.DType(), b.Voxel)
		}
		x, y := a.Data().([]float32), b.Data().([]float32)
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("%s: voxel %d: whole %v, blocks %v", method, i, x[i], y[i])
			}
		}
	}
	out := filepath.Join(dir, "u8.zarr")
	if code, o, e := run("reconstruct", in, out, "--method", "linear", "--dtype", "input"); code != 0 || !strings.Contains(o, "uint8") {
		t.Fatalf("--dtype input: exit %d\n%s%s", code, o, e)
	}
	if code, _, e := run("reconstruct", in, out, "--dtype", "int64"); code != 2 || !strings.Contains(e, "--dtype") {
		t.Errorf("--dtype int64: exit %d %s", code, e)
	}
}
