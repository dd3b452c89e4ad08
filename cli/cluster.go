package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/io/omezarr"
	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/blockwise"
	"github.com/niiv/niiv/volume"
)

// clusterFlags are reconstruct's flags for running on a cluster.
type clusterFlags struct {
	shard  string
	shards int
	assign string
	plan   bool
	finish bool
	status bool
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.shard, "shard", "", "OME-Zarr output on a cluster: compute only shard `I/N` of the blocks (default: from SLURM_ARRAY_TASK_ID/COUNT, or JOB_COMPLETION_INDEX with --shards)")
	fs.IntVar(&c.shards, "shards", 0, "number of shards of a Kubernetes Indexed Job (its completions), with JOB_COMPLETION_INDEX")
	fs.StringVar(&c.assign, "assign", string(blockwise.RoundRobin), "how blocks are dealt to shards: round-robin or contiguous")
	fs.BoolVar(&c.plan, "plan", false, "print the block grid, halo, work and memory per block, and exit without computing")
	fs.BoolVar(&c.finish, "finish", false, "with OUT.zarr alone: check every block is done and build the pyramid levels")
	fs.BoolVar(&c.status, "status", false, "with OUT.zarr alone: summarise the blocks done by all shards")
}

// check validates the flags and returns the shard of this process (N = 0:
// not sharded).
func (c *clusterFlags) check() (blockwise.Shard, error) {
	switch blockwise.Assignment(c.assign) {
	case blockwise.RoundRobin, blockwise.Contiguous:
	default:
		return blockwise.Shard{}, usageErrorf("--assign %q: want round-robin or contiguous", c.assign)
	}
	if c.shards < 0 {
		return blockwise.Shard{}, usageErrorf("--shards %d: want a positive number", c.shards)
	}
	if c.plan && c.shard == "" && os.Getenv("SLURM_ARRAY_TASK_ID") == "" && os.Getenv("JOB_COMPLETION_INDEX") == "" {
		return blockwise.Shard{}, nil // --shards only sizes the plan
	}
	s, err := blockwise.ShardFor(c.shard, c.shards, os.Getenv)
	if err != nil {
		return blockwise.Shard{}, usageErrorf("%v", err)
	}
	if s.From == "" {
		s.N = 0 // one process, no markers: the atomic whole-image write
	}
	return s, nil
}

// runSharded computes shard sh's blocks of src into the OME-Zarr image at
// path, creating it (and recording the job) when this is the first shard
// to start.
func runSharded(ctx context.Context, env *Env, src volume.Source, m reconstruct.Method, path string, o omezarr.Options, job blockwise.Job, sh blockwise.Shard, assign blockwise.Assignment) error {
	img, err := omezarr.CreateBlockwise(path, src.Meta(), o)
	if err != nil {
		return err
	}
	if err := job.Check(path); err != nil {
		return err
	}
	marks := blockwise.MarkerDir(path)
	blocks := assign.Blocks(img.Blocks(), sh)
	c := img.Chunk()
	fmt.Fprintf(env.Stderr, "niiv reconstruct: shard %s: %d of %d blocks (%s), blocks of %d×%d×%d, %s\n",
		sh, len(blocks), img.Blocks(), assign, c.Z, c.Y, c.X, m.Name())
	last := time.Now()
	res, err := blockwise.Run(ctx, src, img, marks, sh, blocks, func(done, total int, r blockwise.Result) {
		if time.Since(last) < 2*time.Second && done < total {
			return
		}
		last = time.Now()
		fmt.Fprintf(env.Stderr, "niiv reconstruct: shard %s: %d/%d blocks (%d computed, %d already done), %.3g voxels/s\n",
			sh, done, total, r.Computed, r.Skipped, float64(r.Voxels)/max(1e-9, r.Elapsed.Seconds()))
	})
	fmt.Fprintf(env.Stdout, "shard %s: %d blocks computed, %d already done, %.1f s, %.3g output voxels/s\n",
		sh, res.Computed, res.Skipped, res.Elapsed.Seconds(), float64(res.Voxels)/max(1e-9, res.Elapsed.Seconds()))
	if err != nil {
		return fmt.Errorf("shard %s: %w (finished blocks are recorded: rerun to resume)", sh, err)
	}
	if sh.N == 1 {
		return finishOutput(ctx, env, path)
	}
	return nil
}

// finishOutput checks that every block of the image at path is done and
// builds its pyramid levels.
func finishOutput(ctx context.Context, env *Env, path string) error {
	img, err := omezarr.OpenBlockwise(path)
	if err != nil {
		return err
	}
	st, err := blockwise.Summarise(blockwise.MarkerDir(path), img.Blocks(), img)
	if err != nil {
		return err
	}
	if len(st.Missing) > 0 {
		return fmt.Errorf("%s is not complete:\n%s(rerun the shards that computed them; finished blocks are skipped)", path, st)
	}
	bar := newProgress(env.Stderr, "pyramid of "+path)
	err = img.Finish(ctx, bar.update)
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "finished %s: %d blocks checked, pyramid built\n", path, st.Blocks)
	return nil
}

// statusOutput prints the progress of all shards on the image at path.
func statusOutput(env *Env, path string) error {
	img, err := omezarr.OpenBlockwise(path)
	if err != nil {
		return err
	}
	st, err := blockwise.Summarise(blockwise.MarkerDir(path), img.Blocks(), nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n%s", path, st)
	return nil
}

// printPlan prints the block grid of a reconstruction into blocks of
// chunk c, the halo each block reads beyond itself, the work and the
// memory per block.
func printPlan(env *Env, m reconstruct.Method, vol *volume.Volume, out volume.Meta, c volume.Shape, shards int, assign blockwise.Assignment, axes int) {
	s := out.Shape
	c = volume.Shape{Z: min(c.Z, s.Z), Y: min(c.Y, s.Y), X: min(c.X, s.X)}
	g := [3]int{ceil(s.Z, c.Z), ceil(s.Y, c.Y), ceil(s.X, c.X)}
	n := g[0] * g[1] * g[2]
	fmt.Fprintf(env.Stdout, "output      %v %v, voxel %v\n", s, out.DType, out.Voxel)
	fmt.Fprintf(env.Stdout, "blocks      %d (%d×%d×%d grid) of %d×%d×%d voxels, the edge ones smaller\n", n, g[0], g[1], g[2], c.Z, c.Y, c.X)
	halo, what := 0, ""
	switch mm := m.(type) {
	case *reconstruct.Niiv:
		halo = mm.Model().ReceptiveField() + 16
		what = fmt.Sprintf("the encoder's receptive field (%d px) and a 16 px margin", mm.Model().ReceptiveField())
	default:
		halo, what = 2, "the interpolation's support"
	}
	in := vol.Shape()
	// Input columns encoded per block (x for xz parts, y for yz parts),
	// against the block's own.
	var own, read float64
	for by := range g[1] {
		for bx := range g[2] {
			w := float64(min(c.X, s.X-bx*c.X))
			h := float64(min(c.Y, s.Y-by*c.Y))
			rw := float64(min(in.X, bx*c.X+int(w)+halo) - max(0, bx*c.X-halo))
			rh := float64(min(in.Y, by*c.Y+int(h)+halo) - max(0, by*c.Y-halo))
			own += h*w + w*h
			read += h*rw + w*rh
		}
	}
	fmt.Fprintf(env.Stdout, "halo        %d px each side of a block in x/y (%s): %.1f%% more input encoded than the blocks cover\n", halo, what, 100*(read/own-1))
	fmt.Fprintf(env.Stdout, "work        %d axial pass(es): %.3g output voxels, %d plane parts decoded per full block\n", axes, float64(s.Len()), c.Y+c.X)
	colBytes := int64(s.Z) * int64(c.Y) * int64(c.X) * 4
	inBytes := int64(in.Z) * int64(c.X+2*halo) * 4 * 8
	mem := colBytes + colBytes/4*int64(out.DType.Size()) + inBytes
	if nv, ok := m.(*reconstruct.Niiv); ok {
		mem += int64(nv.Model().Feats()) * int64(in.Z) * int64(c.X+2*halo) * 4 * 8
	}
	fmt.Fprintf(env.Stdout, "memory      about %s per block in flight (float32 column, encoder batch of 8 plane parts), plus the model and the input's chunk cache\n", volio.HumanBytes(mem))
	if shards > 0 {
		lo, hi := n, 0
		for i := range shards {
			k := len(assign.Blocks(n, blockwise.Shard{I: i, N: shards}))
			lo, hi = min(lo, k), max(hi, k)
		}
		fmt.Fprintf(env.Stdout, "shards      %d, %d to %d blocks each (%s)\n", shards, lo, hi, assign)
	}
}

func ceil(a, b int) int { return (a + b - 1) / b }
