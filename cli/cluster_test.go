package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	volio "github.com/niiv/niiv/io"
)

// TestReconstructShards: the tasks of a job array (Slurm's environment, or
// --shard) each compute their blocks; a task stopped part way is resumed
// by rerunning it, computing only what is missing; --status and --finish
// report and complete the output, which equals the one-process
// reconstruction voxel for voxel.
func TestReconstructShards(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.zarr")
	if code, o, e := run("sample", in, "--size", "64", "--factor", "4", "--dtype", "uint8"); code != 0 {
		t.Fatalf("sample: exit %d\n%s%s", code, o, e)
	}
	ref := filepath.Join(dir, "ref.npy")
	if code, o, e := run("reconstruct", in, ref, "--method", "cubic"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, o, e)
	}
	out := filepath.Join(dir, "out.zarr")
	args := []string{"reconstruct", in, out, "--method", "cubic", "--chunk", "64,24,24"} // 3×3 blocks, edge ones smaller
	if code, o, e := run(append(args, "--plan", "--shards", "3")...); code != 0 || !strings.Contains(o, "9 (1×3×3 grid)") || !strings.Contains(o, "3 to 3 blocks each") {
		t.Fatalf("--plan: exit %d\n%s%s", code, o, e)
	}
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "3")
	for _, id := range []string{"0", "2"} {
		t.Setenv("SLURM_ARRAY_TASK_ID", id)
		if code, o, e := run(args...); code != 0 || !strings.Contains(o, "shard "+id+"/3 (SLURM_ARRAY_TASK_ID): 3 blocks computed, 0 already done") {
			t.Fatalf("task %s: exit %d\n%s%s", id, code, o, e)
		}
	}
	os.Unsetenv("SLURM_ARRAY_TASK_ID")
	os.Unsetenv("SLURM_ARRAY_TASK_COUNT")
	// Task 1 did not run: the output is incomplete, and says which blocks.
	if code, o, _ := run("reconstruct", "--status", out); code != 0 || !strings.Contains(o, "6 of 9 done") || !strings.Contains(o, "missing     1, 4, 7") {
		t.Fatalf("--status: exit %d\n%s", code, o)
	}
	if code, _, e := run("reconstruct", "--finish", out); code != 1 || !strings.Contains(e, "not complete") {
		t.Fatalf("--finish of an incomplete output: exit %d\n%s", code, e)
	}
	// Another reconstruction into the same output is refused.
	if code, _, e := run("reconstruct", in, out, "--method", "linear", "--chunk", "64,24,24", "--shard", "1/3"); code != 1 || !strings.Contains(e, "another reconstruction") {
		t.Fatalf("another method: exit %d\n%s", code, e)
	}
	// Rerunning all three computes only task 1's blocks.
	computed := 0
	for _, s := range []string{"0/3", "1/3", "2/3"} {
		code, o, e := run(append(args, "--shard", s)...)
		if code != 0 {
			t.Fatalf("rerun %s: exit %d\n%s%s", s, code, o, e)
		}
		if strings.Contains(o, "3 blocks computed") {
			computed += 3
		} else if !strings.Contains(o, "0 blocks computed, 3 already done") {
			t.Fatalf("rerun %s: %s", s, o)
		}
	}
	if computed != 3 {
		t.Errorf("the rerun computed %d blocks, want the 3 missing", computed)
	}
	if code, o, e := run("reconstruct", "--finish", out); code != 0 || !strings.Contains(o, "9 blocks checked") {
		t.Fatalf("--finish: exit %d\n%s%s", code, o, e)
	}
	a, err := volio.Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	b, err := volio.OpenWith(out, volio.Options{Lazy: volio.LazyNever})
	if err != nil {
		t.Fatal(err)
	}
	x, y := a.Data().([]float32), b.Data().([]float32)
	if a.Shape() != b.Shape() || len(x) != len(y) {
		t.Fatalf("shapes %v, %v", a.Shape(), b.Shape())
	}
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("voxel %d: one process %v, shards %v", i, x[i], y[i])
		}
	}
	for _, bad := range [][]string{
		{"reconstruct", in, filepath.Join(dir, "x.npy"), "--shard", "0/2"},
		{"reconstruct", in, out, "--shard", "2/2"},
		{"reconstruct", "--finish"},
		{"reconstruct", "--status", in, out},
		{"reconstruct", in, out, "--assign", "random"},
	} {
		if code, _, _ := run(bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}
