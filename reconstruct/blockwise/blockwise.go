// Package blockwise runs a whole-volume reconstruction as independent
// blocks, split among the tasks of a cluster job (a Slurm job array, a
// Kubernetes Indexed Job) or run in one process: which blocks a task owns,
// a record of every finished block (so that a rerun redoes only the
// unfinished ones, and a killed task loses nothing but its block in
// flight), and a summary of the progress of all tasks.
//
// A block is one chunk of the output image; it is computed from the input
// region it needs (reconstruct.IsotropicSource reads it), so the output is
// the same voxel for voxel whatever the blocks and the number of tasks.
package blockwise

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/niiv/niiv/volume"
)

// Store is the output image, written block by block (omezarr.Blockwise).
type Store interface {
	// Blocks is the number of blocks.
	Blocks() int
	// Box is block i's box in the output.
	Box(i int) volume.Box
	// WriteBlock writes block i (temp name + rename) and returns the sha256
	// (hex) of what it wrote.
	WriteBlock(i int, v *volume.Volume) (string, error)
	// BlockSum returns the sha256 (hex) of block i as stored, and false
	// when it is not stored.
	BlockSum(i int) (string, bool, error)
}

// Shard is the part of the blocks one task computes: shard I of N.
type Shard struct {
	I, N int
	// From says where I and N came from: "--shard", "SLURM_ARRAY_TASK_ID",
	// "JOB_COMPLETION_INDEX", or "" for a single process.
	From string
}

// String returns "3/8 (SLURM_ARRAY_TASK_ID)".
func (s Shard) String() string {
	if s.From == "" {
		return fmt.Sprintf("%d/%d", s.I, s.N)
	}
	return fmt.Sprintf("%d/%d (%s)", s.I, s.N, s.From)
}

// ShardFor returns the shard of this task: flag ("I/N", from --shard) when
// given; else Slurm's SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT
// (task ids offset by SLURM_ARRAY_TASK_MIN); else Kubernetes'
// JOB_COMPLETION_INDEX with shards (--shards, which an Indexed Job needs);
// else the whole volume in one process (0/1). env reads the environment
// (os.Getenv).
func ShardFor(flag string, shards int, env func(string) string) (Shard, error) {
	if flag != "" {
		i, n, ok := strings.Cut(flag, "/")
		I, err1 := strconv.Atoi(strings.TrimSpace(i))
		N, err2 := strconv.Atoi(strings.TrimSpace(n))
		if !ok || err1 != nil || err2 != nil || N < 1 || I < 0 || I >= N {
			return Shard{}, fmt.Errorf("--shard %q: want I/N with 0 ≤ I < N, e.g. 3/8", flag)
		}
		return Shard{I, N, "--shard"}, nil
	}
	if id := env("SLURM_ARRAY_TASK_ID"); id != "" {
		I, err := strconv.Atoi(id)
		if err != nil {
			return Shard{}, fmt.Errorf("SLURM_ARRAY_TASK_ID=%q is not a number", id)
		}
		N, err := strconv.Atoi(env("SLURM_ARRAY_TASK_COUNT"))
		if err != nil || N < 1 {
			return Shard{}, fmt.Errorf("SLURM_ARRAY_TASK_ID=%s but SLURM_ARRAY_TASK_COUNT=%q: run as a job array (sbatch --array=0-N)", id, env("SLURM_ARRAY_TASK_COUNT"))
		}
		if m := env("SLURM_ARRAY_TASK_MIN"); m != "" {
			if lo, err := strconv.Atoi(m); err == nil {
				I -= lo
			}
		}
		if I < 0 || I >= N {
			return Shard{}, fmt.Errorf("SLURM_ARRAY_TASK_ID=%s is outside the %d tasks of the array: use a contiguous array (--array=0-%d)", id, N, N-1)
		}
		return Shard{I, N, "SLURM_ARRAY_TASK_ID"}, nil
	}
	if id := env("JOB_COMPLETION_INDEX"); id != "" {
		I, err := strconv.Atoi(id)
		if err != nil {
			return Shard{}, fmt.Errorf("JOB_COMPLETION_INDEX=%q is not a number", id)
		}
		if shards < 1 {
			return Shard{}, fmt.Errorf("JOB_COMPLETION_INDEX=%s: give --shards N, the Indexed Job's completions", id)
		}
		if I < 0 || I >= shards {
			return Shard{}, fmt.Errorf("JOB_COMPLETION_INDEX=%s is outside --shards %d", id, shards)
		}
		return Shard{I, shards, "JOB_COMPLETION_INDEX"}, nil
	}
	if shards > 1 {
		return Shard{}, fmt.Errorf("--shards %d without JOB_COMPLETION_INDEX: give --shard I/%d", shards, shards)
	}
	return Shard{0, 1, ""}, nil
}

// Assignment says how blocks are dealt to shards.
type Assignment string

const (
	// RoundRobin gives shard I the blocks I, I+N, I+2N, …: the small edge
	// blocks and the costly ones spread over all shards.
	RoundRobin Assignment = "round-robin"
	// Contiguous gives shard I one run of consecutive blocks.
	Contiguous Assignment = "contiguous"
)

// Blocks returns the blocks (of n) that shard s computes.
func (a Assignment) Blocks(n int, s Shard) []int {
	var out []int
	switch a {
	case Contiguous:
		for i := s.I * n / s.N; i < (s.I+1)*n/s.N; i++ {
			out = append(out, i)
		}
	default:
		for i := s.I; i < n; i += s.N {
			out = append(out, i)
		}
	}
	return out
}

// Marker records a finished block: written once the block is stored, so
// that a block with a marker whose checksum matches what is stored is
// never computed again.
type Marker struct {
	Block   int     `json:"block"`
	SHA256  string  `json:"sha256"`
	Shard   string  `json:"shard"`
	Host    string  `json:"host,omitempty"`
	Seconds float64 `json:"seconds"`
	Voxels  int64   `json:"voxels"`
	Written string  `json:"written"`
}

// Markers is the folder of block markers of one output.
type Markers string

// MarkerDir returns the markers' folder of the output image at path: a
// hidden folder inside it, which Zarr readers ignore.
func MarkerDir(path string) Markers { return Markers(filepath.Join(path, ".niiv", "blocks")) }

func (m Markers) file(i int) string { return filepath.Join(string(m), strconv.Itoa(i)+".json") }

// Read returns block i's marker, and false when it has none (or an
// unreadable one, which counts as none).
func (m Markers) Read(i int) (Marker, bool) {
	b, err := os.ReadFile(m.file(i))
	if err != nil {
		return Marker{}, false
	}
	var k Marker
	if json.Unmarshal(b, &k) != nil || k.Block != i || k.SHA256 == "" {
		return Marker{}, false
	}
	return k, true
}

// Write records k (temp name + rename).
func (m Markers) Write(k Marker) error {
	if err := os.MkdirAll(string(m), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-%d-%d", m.file(k.Block), os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, m.file(k.Block)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// All returns every readable marker, by block.
func (m Markers) All() (map[int]Marker, error) {
	out := map[int]Marker{}
	ents, err := os.ReadDir(string(m))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if k, ok := m.Read(i); ok {
			out[i] = k
		}
	}
	return out, nil
}

// Done reports whether block i is finished: its marker exists and the
// stored block has the marker's checksum.
func Done(st Store, m Markers, i int) (bool, error) {
	k, ok := m.Read(i)
	if !ok {
		return false, nil
	}
	sum, ok, err := st.BlockSum(i)
	if err != nil || !ok {
		return false, err
	}
	return sum == k.SHA256, nil
}

// Result sums up one task's run.
type Result struct {
	Computed, Skipped int
	Voxels            int64 // output voxels computed
	Elapsed           time.Duration
}

// Run computes the given blocks of st from src (the whole output, read one
// block at a time), skipping finished ones, and records each as it is
// stored. progress (may be nil) gets each block as it is done. It stops at
// the first error or when ctx is cancelled; what was finished stays
// recorded.
func Run(ctx context.Context, src volume.Source, st Store, m Markers, shard Shard, blocks []int, progress func(done, total int, r Result)) (Result, error) {
	t0 := time.Now()
	var r Result
	host, _ := os.Hostname()
	for n, i := range blocks {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		ok, err := Done(st, m, i)
		if err != nil {
			return r, fmt.Errorf("block %d: %w", i, err)
		}
		if ok {
			r.Skipped++
		} else {
			tb := time.Now()
			b := st.Box(i)
			v, err := src.Read(ctx, b)
			if err != nil {
				return r, fmt.Errorf("block %d %v: %w", i, b, err)
			}
			sum, err := st.WriteBlock(i, v)
			if err != nil {
				return r, fmt.Errorf("block %d: %w", i, err)
			}
			vox := int64(b.Shape().Len())
			if err := m.Write(Marker{Block: i, SHA256: sum, Shard: shard.String(), Host: host, Seconds: time.Since(tb).Seconds(), Voxels: vox, Written: time.Now().UTC().Format(time.RFC3339)}); err != nil {
				return r, fmt.Errorf("block %d: marker: %w", i, err)
			}
			r.Computed++
			r.Voxels += vox
		}
		r.Elapsed = time.Since(t0)
		if progress != nil {
			progress(n+1, len(blocks), r)
		}
	}
	r.Elapsed = time.Since(t0)
	return r, nil
}

// Status sums up the markers of an output of n blocks.
type Status struct {
	Blocks, Done int
	// Missing lists the blocks without a marker (or with a bad one).
	Missing []int
	// Shards counts finished blocks by the shard that computed them.
	Shards map[string]int
	// Seconds and Voxels sum the finished blocks' compute time and size.
	Seconds float64
	Voxels  int64
}

// Summarise reads the markers of an output of n blocks; with st it also
// checks each block's checksum (a block whose stored bytes differ from its
// marker's counts as missing).
func Summarise(m Markers, n int, st Store) (Status, error) {
	all, err := m.All()
	if err != nil {
		return Status{}, err
	}
	s := Status{Blocks: n, Shards: map[string]int{}}
	for i := range n {
		k, ok := all[i]
		if ok && st != nil {
			sum, stored, err := st.BlockSum(i)
			if err != nil {
				return Status{}, fmt.Errorf("block %d: %w", i, err)
			}
			ok = stored && sum == k.SHA256
		}
		if !ok {
			s.Missing = append(s.Missing, i)
			continue
		}
		s.Done++
		s.Shards[k.Shard]++
		s.Seconds += k.Seconds
		s.Voxels += k.Voxels
	}
	return s, nil
}

// String returns a few lines: done/total, throughput, blocks per shard,
// the first missing blocks.
func (s Status) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "blocks      %d of %d done (%.1f%%)\n", s.Done, s.Blocks, 100*float64(s.Done)/float64(max(1, s.Blocks)))
	if s.Seconds > 0 {
		fmt.Fprintf(&b, "compute     %.1f s in blocks, %.3g output voxels/s per task\n", s.Seconds, float64(s.Voxels)/s.Seconds)
	}
	names := make([]string, 0, len(s.Shards))
	for k := range s.Shards {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "shard       %s: %d blocks\n", k, s.Shards[k])
	}
	if len(s.Missing) > 0 {
		show := s.Missing[:min(10, len(s.Missing))]
		parts := make([]string, len(show))
		for i, v := range show {
			parts[i] = strconv.Itoa(v)
		}
		more := ""
		if len(s.Missing) > len(show) {
			more = fmt.Sprintf(" and %d more", len(s.Missing)-len(show))
		}
		fmt.Fprintf(&b, "missing     %s%s\n", strings.Join(parts, ", "), more)
	}
	return b.String()
}

// Sum returns the sha256 (hex) of b, as stores report block checksums.
func Sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Job describes a reconstruction, recorded beside the markers by the first
// task: a rerun, or another task, with different settings would mix two
// reconstructions in one output, and is refused.
type Job struct {
	Input  string  `json:"input"` // the input's shape and type, e.g. "16×128×128 uint8"
	Method string  `json:"method"`
	Output string  `json:"output"` // the output's shape, type and chunk
	ZScale float64 `json:"zscale"`
	Axes   string  `json:"axes"`
}

// Check records j for the output at path, or, when a job is recorded
// there already, checks that it is j.
func (j Job) Check(path string) error {
	dir := filepath.Join(path, ".niiv")
	file := filepath.Join(dir, "job.json")
	if b, err := os.ReadFile(file); err == nil {
		var old Job
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if old != j {
			return fmt.Errorf("%s holds another reconstruction (%+v); this one is %+v: write to a new output, or rerun with the same settings", path, old, j)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(j, "", "  ")
	tmp := fmt.Sprintf("%s.tmp-%d-%d", file, os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, file) // tasks starting together write the same bytes
}
