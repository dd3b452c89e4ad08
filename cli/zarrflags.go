package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/io/omezarr"
	"github.com/niiv/niiv/volume"
)

// zarrFlags are the OME-Zarr output flags shared by the commands that
// write volumes.
type zarrFlags struct {
	chunk      string
	compressor string
	levels     int
	version    string
	shard      string
	threads    int // chunks compressed in parallel (0: all cores); not a flag
}

func (z *zarrFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&z.chunk, "chunk", "128,128,128", "OME-Zarr output: chunk shape `z,y,x` (clipped to the volume)")
	fs.StringVar(&z.compressor, "compressor", "zstd", "OME-Zarr output: zstd, blosc-zstd (read by the most Zarr libraries), gzip or none")
	fs.IntVar(&z.levels, "levels", 0, "OME-Zarr output: pyramid levels, full resolution included (0: halve x/y until 256 px)")
	fs.StringVar(&z.version, "ome-zarr", "0.4", "OME-Zarr output: version 0.4 (Zarr v2) or 0.5 (Zarr v3)")
	fs.StringVar(&z.shard, "zarr-shard", "", "OME-Zarr 0.5 output: shard shape `z,y,x`, a multiple of --chunk (default: no sharding)")
}

// options checks the flags and returns the writer's options.
func (z *zarrFlags) options() (omezarr.Options, error) {
	var o omezarr.Options
	c, err := parseInts(z.chunk, 3)
	if err != nil {
		return o, usageErrorf("--chunk %q: %v", z.chunk, err)
	}
	o.Chunk = volume.Shape{Z: c[0], Y: c[1], X: c[2]}
	if int64(c[0])*int64(c[1])*int64(c[2]) > 1<<28 {
		return o, usageErrorf("--chunk %q: at most 2^28 voxels per chunk", z.chunk)
	}
	switch z.compressor {
	case "zstd", "blosc-zstd", "gzip", "none":
	default:
		return o, usageErrorf("--compressor %q: want zstd, blosc-zstd, gzip or none", z.compressor)
	}
	if z.levels < 0 || z.levels > 20 {
		return o, usageErrorf("--levels %d: want 0 to 20", z.levels)
	}
	switch z.version {
	case "0.4", "0.5":
	default:
		return o, usageErrorf("--ome-zarr %q: want 0.4 or 0.5", z.version)
	}
	if z.shard != "" {
		if z.version != "0.5" {
			return o, usageErrorf("--zarr-shard needs --ome-zarr 0.5 (OME-Zarr 0.4 has no shards)")
		}
		s, err := parseInts(z.shard, 3)
		if err != nil {
			return o, usageErrorf("--zarr-shard %q: %v", z.shard, err)
		}
		if s[0]%c[0] != 0 || s[1]%c[1] != 0 || s[2]%c[2] != 0 {
			return o, usageErrorf("--zarr-shard %q: not a multiple of --chunk %q along every axis", z.shard, z.chunk)
		}
		if float64(s[0]/c[0])*float64(s[1]/c[1])*float64(s[2]/c[2]) > 1<<20 {
			return o, usageErrorf("--zarr-shard %q: more than 2^20 chunks of --chunk %q per shard", z.shard, z.chunk)
		}
		o.Shard = volume.Shape{Z: s[0], Y: s[1], X: s[2]}
	}
	o.Compressor, o.Levels, o.Version, o.Threads = z.compressor, z.levels, z.version, z.threads
	return o, nil
}

// parseInts parses n positive comma-separated integers.
func parseInts(s string, n int) ([]int, error) {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("want %d comma-separated numbers", n)
	}
	out := make([]int, n)
	for i, p := range parts {
		var v int
		if _, err := fmt.Sscanf(strings.TrimSpace(p), "%d", &v); err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", p)
		}
		out[i] = v
	}
	return out, nil
}

// save writes vol to path: an OME-Zarr image (streamed, with a progress bar
// on stderr) when path ends in .zarr, else volio.Save.
func save(ctx context.Context, env *Env, path string, vol *volume.Volume, zf *zarrFlags) error {
	if !strings.EqualFold(strings.TrimSuffix(path, "/")[max(0, len(strings.TrimSuffix(path, "/"))-5):], ".zarr") {
		return volio.Save(path, vol)
	}
	o, err := zf.options()
	if err != nil {
		return err
	}
	bar := newProgress(env.Stderr, "write "+path)
	var mu sync.Mutex
	o.Progress = func(done, total int) {
		mu.Lock()
		bar.update(done, total)
		mu.Unlock()
	}
	err = volio.SaveZarr(ctx, strings.TrimSuffix(path, "/"), vol, o)
	bar.finish()
	return err
}
