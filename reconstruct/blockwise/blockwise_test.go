package blockwise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/niiv/niiv/volume"
)

func TestShardFor(t *testing.T) {
	tests := []struct {
		name   string
		flag   string
		shards int
		env    map[string]string
		want   Shard
		err    string
	}{
		{"one process", "", 0, nil, Shard{0, 1, ""}, ""},
		{"flag", "3/8", 0, map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2"}, Shard{3, 8, "--shard"}, ""},
		{"bad flag", "8/8", 0, nil, Shard{}, "0 ≤ I < N"},
		{"slurm", "", 0, map[string]string{"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "8"}, Shard{5, 8, "SLURM_ARRAY_TASK_ID"}, ""},
		{"slurm from 1", "", 0, map[string]string{"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "1"}, Shard{7, 8, "SLURM_ARRAY_TASK_ID"}, ""},
		{"slurm without count", "", 0, map[string]string{"SLURM_ARRAY_TASK_ID": "5"}, Shard{}, "SLURM_ARRAY_TASK_COUNT"},
		{"slurm sparse array", "", 0, map[string]string{"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, "contiguous array"},
		{"kubernetes", "", 4, map[string]string{"JOB_COMPLETION_INDEX": "2"}, Shard{2, 4, "JOB_COMPLETION_INDEX"}, ""},
		{"kubernetes without --shards", "", 0, map[string]string{"JOB_COMPLETION_INDEX": "2"}, Shard{}, "--shards"},
		{"--shards alone", "", 4, nil, Shard{}, "JOB_COMPLETION_INDEX"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ShardFor(tc.flag, tc.shards, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestAssignmentCoversOnce: every block goes to exactly one shard, for
// both assignments and any number of shards.
func TestAssignmentCoversOnce(t *testing.T) {
	for _, a := range []Assignment{RoundRobin, Contiguous} {
		for _, n := range []int{1, 2, 3, 7, 8, 20} {
			seen := make([]int, 17)
			for i := range n {
				for _, b := range a.Blocks(17, Shard{I: i, N: n}) {
					seen[b]++
				}
			}
			for b, c := range seen {
				if c != 1 {
					t.Fatalf("%s, %d shards: block %d assigned %d times", a, n, b, c)
				}
			}
		}
	}
}

// memStore is a Store in memory whose writes can be made to fail.
type memStore struct {
	mu     sync.Mutex
	shape  volume.Shape
	blocks map[int][]byte
	fail   int // WriteBlock of this block fails (-1: none)
}

func (m *memStore) Blocks() int { return m.shape.Z }
func (m *memStore) Box(i int) volume.Box {
	return volume.Box{Z0: i, Z1: i + 1, Y1: m.shape.Y, X1: m.shape.X}
}
func (m *memStore) WriteBlock(i int, v *volume.Volume) (string, error) {
	if i == m.fail {
		return "", errors.New("disk full")
	}
	b := []byte(fmt.Sprint(v.Data()))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocks[i] = b
	return Sum(b), nil
}
func (m *memStore) BlockSum(i int) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[i]
	if !ok {
		return "", false, nil
	}
	return Sum(b), true, nil
}

// countSource counts the boxes read.
type countSource struct {
	v     *volume.Volume
	mu    sync.Mutex
	reads int
}

func (c *countSource) Meta() volume.Meta { return c.v.Meta() }
func (c *countSource) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.v.Read(ctx, b)
}

// TestRunResumes: shards run, one fails part way; the status lists what is
// missing; a rerun computes only that, and a block whose stored bytes no
// longer match its marker is computed again.
func TestRunResumes(t *testing.T) {
	s := volume.Shape{Z: 12, Y: 3, X: 4}
	d := make([]float32, s.Len())
	for i := range d {
		d[i] = float32(i)
	}
	v, _ := volume.New(s, d, volume.Voxel{})
	st := &memStore{shape: s, blocks: map[int][]byte{}, fail: 7}
	src := &countSource{v: v}
	m := MarkerDir(t.TempDir())
	ctx := context.Background()
	var failed error
	for i := range 3 {
		sh := Shard{I: i, N: 3, From: "--shard"}
		if _, err := Run(ctx, src, st, m, sh, RoundRobin.Blocks(12, sh), nil); err != nil {
			failed = err
		}
	}
	if failed == nil || !strings.Contains(failed.Error(), "block 7") {
		t.Fatalf("the failing block: %v", failed)
	}
	status, err := Summarise(m, 12, st)
	if err != nil {
		t.Fatal(err)
	}
	// Shard 1 (blocks 1, 4, 7, 10) stopped at 7: 7 and 10 are missing.
	if status.Done != 10 || !slices.Equal(status.Missing, []int{7, 10}) || !strings.Contains(status.String(), "10 of 12 done") {
		t.Fatalf("status %+v\n%s", status, status)
	}
	st.fail = -1
	st.blocks[4] = []byte("damaged") // no longer what its marker says
	src.reads = 0
	var computed int
	for i := range 3 {
		sh := Shard{I: i, N: 3, From: "--shard"}
		r, err := Run(ctx, src, st, m, sh, RoundRobin.Blocks(12, sh), nil)
		if err != nil {
			t.Fatal(err)
		}
		computed += r.Computed
	}
	if computed != 3 || src.reads != 3 {
		t.Errorf("rerun computed %d blocks, read %d boxes; want 3 (7, 10 and the damaged 4)", computed, src.reads)
	}
	if status, _ := Summarise(m, 12, st); status.Done != 12 || len(status.Missing) != 0 {
		t.Errorf("after the rerun: %+v", status)
	}
}

func TestJobCheck(t *testing.T) {
	dir := t.TempDir()
	j := Job{Input: "16×128×128 uint8", Method: "niiv-lite", Output: "128×128×128 float32, chunks 128×32×32", ZScale: 8, Axes: "xz,yz"}
	if err := j.Check(dir); err != nil {
		t.Fatal(err)
	}
	if err := j.Check(dir); err != nil {
		t.Fatalf("the same job again: %v", err)
	}
	k := j
	k.Method = "linear"
	if err := k.Check(dir); err == nil || !strings.Contains(err.Error(), "another reconstruction") {
		t.Errorf("another method into the same output: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".niiv", "job.json")); err != nil {
		t.Error(err)
	}
}
