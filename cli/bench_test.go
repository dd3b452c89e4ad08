package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchRefusesUnknownLists checks that bench refuses, before timing
// anything, lists that name nothing or something it does not know.
func TestBenchRefusesUnknownLists(t *testing.T) {
	notModel := t.TempDir()
	file := filepath.Join(notModel, "f.npy")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	impls := "(want go-native, go-int8, go-ort, torch"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown impl", []string{"--impls", "bogus"}, `--impls: unknown implementation "bogus" ` + impls},
		{"one unknown impl", []string{"--impls", "go-native,bogus,nope"}, `--impls: unknown implementations "bogus", "nope" ` + impls},
		{"go-gl", []string{"--impls", "go-gl"}, "go-gl is timed in place of go-native with --device gl"},
		{"empty impls", []string{"--impls", ""}, `--impls "": name one or more of go-native, go-int8, go-ort, torch`},
		{"unknown case", []string{"--cases", "bogus"}, `--cases: unknown case "bogus" (want matmul2048, view512`},
		{"empty cases", []string{"--cases", ""}, `--cases "": name one or more of matmul2048, view512`},
		{"commas only", []string{"--cases", " , "}, `--cases " , ": name one or more of`},
		{"unknown model", []string{"--models", "bogus"}, `--models: unknown model "bogus" (want a model folder or an embedded model`},
		{"file as model", []string{"--models", file}, `--models: unknown model "` + file + `"`},
		{"no model", []string{"--models", ","}, `--models ",": no model named`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, o, e := run(append([]string{"bench"}, c.args...)...)
			if code != 2 || !strings.Contains(e, c.want) || o != "" {
				t.Fatalf("exit %d (want 2)\nstdout: %s\nstderr: %s\nwant %q", code, o, e, c.want)
			}
		})
	}
}

// TestBLASWarning checks when bench calls PyTorch's BLAS too slow to be a
// reference: below a quarter of the Go kernel's throughput, each side taken
// at the better of its wall and CPU-second figures.
func TestBLASWarning(t *testing.T) {
	const lib = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"
	kernel := throughput{Wall: 105, CPU: 55}
	cases := []struct {
		name          string
		kernel, torch throughput
		want          []string // in the warning; nil: no warning
	}{
		{"OpenBLAS, idle", kernel, throughput{98.5, 50}, nil},
		{"OpenBLAS faster than the kernel", kernel, throughput{190, 96}, nil},
		{"OpenBLAS descheduled: wall slow, CPU time fine", kernel, throughput{22.7, 54}, nil},
		{"one thread OpenBLAS", throughput{190, 95}, throughput{90, 90}, nil},
		{"at the threshold", kernel, throughput{26.25, 10}, nil},
		{"just below the threshold", kernel, throughput{26.2, 10}, []string{"26.2 GFLOP/s", "1/4 of the Go kernel's 105.0"}},
		{"reference BLAS", kernel, throughput{5.7, 5.8}, []string{"5.8 GFLOP/s, 1/18 of the Go kernel's 105.0 GFLOP/s", "reference BLAS (it loaded " + lib + ")",
			`"vs torch" ratios are left out`, "apt-get install libopenblas0-pthread", "scripts/setup.sh test", "update-alternatives --auto libblas.so.3-"}},
		{"reference BLAS under load", throughput{60, 40}, throughput{1.4, 3}, []string{"3.0 GFLOP/s, 1/20 of the Go kernel's 60.0"}},
		{"portable Go kernel", throughput{6, 6}, throughput{5.7, 5.8}, nil},
		{"kernel not measured", throughput{}, throughput{5.7, 5.8}, nil},
		{"torch not measured", kernel, throughput{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := blasWarning(c.kernel, c.torch, lib)
			if (got != "") != (c.want != nil) {
				t.Fatalf("blasWarning(%v, %v) = %q, want a warning: %v", c.kernel, c.torch, got, c.want != nil)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("warning %q lacks %q", got, w)
				}
			}
		})
	}
	if got := blasWarning(kernel, throughput{5.7, 5.8}, ""); strings.Contains(got, "loaded") {
		t.Errorf("warning without a library names one: %q", got)
	}
}

// TestBenchTableLeavesOutRatiosOnSlowBLAS checks that the table prints the
// speed-up over torch only when PyTorch's BLAS is a fair reference, and
// says why it left them out.
func TestBenchTableLeavesOutRatiosOnSlowBLAS(t *testing.T) {
	recs := []benchRecord{
		{Case: blasCase, Impl: "go-kernel", MS: 20, CPUMS: 39, GFLOPS: 107.3},
		{Case: blasCase, Impl: "torch", MS: 376, CPUMS: 370, GFLOPS: 5.7},
		{Case: "view512", Model: "lite", Impl: "go-native", MS: 30, CPUMS: 55},
		{Case: "view512", Model: "lite", Impl: "torch", MS: 900, CPUMS: 1000},
	}
	for _, slow := range []bool{false, true} {
		var o bytes.Buffer
		b := &bench{env: &Env{Stdout: &o, Stderr: &o}, asJSON: true}
		if slow {
			b.slowBLAS = blasWarning(throughput{107.3, 55}, throughput{5.7, 5.8}, "")
		}
		for _, r := range recs {
			b.emit(r)
		}
		o.Reset()
		b.table()
		ratios := strings.Contains(o.String(), "30.0×")
		note := strings.Contains(o.String(), "note: PyTorch's matrix product ran at 5.8 GFLOP/s")
		if ratios == slow || note != slow {
			t.Errorf("slow BLAS %v: ratios printed %v, note %v:\n%s", slow, ratios, note, o.String())
		}
	}
	b := &bench{env: &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}, asJSON: true, slowBLAS: "slow"}
	b.emit(recs[3])
	b.emit(recs[1])
	if !strings.Contains(b.recs[0].Note, "not a meaningful reference") || b.recs[1].Note != "" {
		t.Errorf("torch notes with a slow BLAS: %q, %q (want the case's marked, not %s's)", b.recs[0].Note, b.recs[1].Note, blasCase)
	}
}
