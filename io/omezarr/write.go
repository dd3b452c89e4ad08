// Package omezarr writes volumes as OME-Zarr images: a Zarr group with one
// array per pyramid level, chunked and compressed, and the `multiscales`
// metadata (axes with types and units, one scale per level) that napari,
// neuroglancer, Fiji's MoBIE/BigDataViewer and ome-zarr-py read. It writes
// OME-Zarr 0.4 (Zarr v2) by default, and OME-Zarr 0.5 (Zarr v3, optionally
// sharded with the sharding_indexed codec) when asked.
//
// Write streams: it reads its source one chunk at a time and builds each
// pyramid level from the level written before it, so a volume far larger
// than memory converts in the memory of a few chunks per core. The image
// is written into a temporary folder beside the output and renamed into
// place when complete, so a reader never sees a partial image, and a
// failed, cancelled or killed write leaves nothing at the output path.
package omezarr

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unicode/utf16"

	"github.com/niiv/niiv/io/codec"
	"github.com/niiv/niiv/volume"
)

// Options configure Write. The zero value writes 128³ chunks (clipped to
// the volume), zstd level 3, and pyramid levels down to 256 pixels in x/y,
// as OME-Zarr 0.4.
type Options struct {
	// Version is the OME-Zarr version written: "0.4" (default; Zarr v2) or
	// "0.5" (Zarr v3).
	Version string
	// Chunk is the chunk shape (zero axes: 128, clipped to the volume).
	// With Shard, it is the shape of the inner chunks of each shard.
	Chunk volume.Shape
	// Shard, when not zero, is the shard shape of OME-Zarr 0.5 output: each
	// stored file holds a shard of inner chunks (Chunk) and an index at its
	// end (the sharding_indexed codec). Every axis must be a multiple of
	// Chunk's (after Chunk's defaults, before clipping to the volume);
	// shards are clipped to each level. Inner chunks of only zeros (the
	// fill value) are not stored. OME-Zarr 0.4 cannot be sharded.
	Shard volume.Shape
	// Compressor is "zstd" (default), "blosc-zstd" (Blosc with zstd and
	// byte shuffle, which Zarr readers without a zstd codec of their own
	// still read), "gzip" or "none".
	Compressor string
	// Level is the compression level (0: the compressor's default).
	Level int
	// Levels is the number of pyramid levels, full resolution included
	// (0: halve x and y until both fit in 256 pixels, at most 10 levels).
	Levels int
	// Name is the image name in the metadata (default: the output's base
	// name without .zarr).
	Name string
	// Threads compress chunks in parallel (0: all cores).
	Threads int
	// Progress, when set, is called after each chunk with the chunks
	// written and the total, over all levels; calls never overlap and
	// done only increases.
	Progress func(done, total int)

	// hyper, set by WriteHyperstack, adds the t and c dimensions.
	hyper *hyperSpec
}

// Write writes src to path (a folder, by convention ending in .zarr) as an
// OME-Zarr image of o.Version. An existing image at path is replaced only
// once the new one is complete. It returns ctx's error when cancelled.
func Write(ctx context.Context, path string, src volume.Source, o Options) error {
	return writeImage(ctx, path, src.Meta(), o, func(ctx context.Context, tmp string, m volume.Meta, o Options) error {
		return write(ctx, tmp, src, m, o)
	})
}

// writeImage checks m and o, then has body write the image into a
// temporary folder beside path and swaps it in when complete.
func writeImage(ctx context.Context, path string, m volume.Meta, o Options, body func(ctx context.Context, tmp string, m volume.Meta, o Options) error) error {
	if !m.Shape.Valid() {
		return fmt.Errorf("omezarr: write %s: invalid shape %v", path, m.Shape)
	}
	if _, err := dtypeCode(m.DType); err != nil {
		return fmt.Errorf("omezarr: write %s: %w", path, err)
	}
	o, err := o.fill(path, m.Shape)
	if err != nil {
		return fmt.Errorf("omezarr: write %s: %w", path, err)
	}
	parent := filepath.Dir(path)
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return fmt.Errorf("omezarr: write %s: folder %s does not exist", path, parent)
	}
	if st, err := os.Stat(path); err == nil && !isImage(path, st) {
		return fmt.Errorf("omezarr: write %s: exists and is not a Zarr image; not replacing it", path)
	}
	removeStale(path)
	tmp := fmt.Sprintf("%s.partial-%d", path, os.Getpid())
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("omezarr: write %s: %w", path, err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("omezarr: write %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := body(ctx, tmp, m, o); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("omezarr: write %s: %w", path, err)
	}
	if err := swapIn(tmp, path); err != nil {
		return fmt.Errorf("omezarr: write %s: %w", path, err)
	}
	ok = true
	return nil
}

// fill applies the defaults.
func (o Options) fill(path string, s volume.Shape) (Options, error) {
	def := func(v, n int) int {
		if v <= 0 {
			v = 128
		}
		return min(v, n)
	}
	switch o.Version {
	case "", "0.4":
		o.Version = "0.4"
	case "0.5":
	default:
		return o, fmt.Errorf("OME-Zarr version %q: want 0.4 or 0.5", o.Version)
	}
	if o.Shard != (volume.Shape{}) {
		if err := checkShard(o.Shard, o.Chunk, o.Version); err != nil {
			return o, err
		}
	}
	o.Chunk = volume.Shape{Z: def(o.Chunk.Z, s.Z), Y: def(o.Chunk.Y, s.Y), X: def(o.Chunk.X, s.X)}
	if int64(o.Chunk.Len()) > 1<<28 {
		return o, fmt.Errorf("chunk %v is too large (at most 2^28 voxels)", o.Chunk)
	}
	switch o.Compressor {
	case "":
		o.Compressor = "zstd"
	case "zstd", "blosc-zstd", "gzip", "none":
	default:
		return o, fmt.Errorf("unknown compressor %q (zstd, blosc-zstd, gzip or none)", o.Compressor)
	}
	if o.Levels < 0 || o.Levels > 20 {
		return o, fmt.Errorf("%d pyramid levels: want 1 to 20", o.Levels)
	}
	if o.Name == "" {
		o.Name = strings.TrimSuffix(filepath.Base(path), ".zarr")
	}
	if o.Threads <= 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	return o, nil
}

// levelSpec is one pyramid level: its shape and its downsampling from the
// level before it.
type levelSpec struct {
	shape      volume.Shape
	fz, fy, fx int // factor from the previous level (1 or 2)
	voxel      [3]float64
}

// pyramid plans the levels: x and y halve at each level; z halves too once
// the level's x/y voxel has reached the z voxel (an anisotropic stack keeps
// its z planes until its lateral voxels are as coarse).
func pyramid(m volume.Meta, n int) []levelSpec {
	vz, vy, vx := m.Voxel.Z, m.Voxel.Y, m.Voxel.X
	if !m.Voxel.Known || vz <= 0 || vy <= 0 || vx <= 0 {
		vz, vy, vx = 1, 1, 1
	}
	ls := []levelSpec{{shape: m.Shape, fz: 1, fy: 1, fx: 1, voxel: [3]float64{vz, vy, vx}}}
	for len(ls) < max(n, 1) || n == 0 && len(ls) < 10 {
		p := ls[len(ls)-1]
		if n == 0 && p.shape.Y <= 256 && p.shape.X <= 256 {
			break
		}
		if p.shape.Y == 1 && p.shape.X == 1 && p.shape.Z == 1 {
			break
		}
		l := levelSpec{fz: 1, fy: 2, fx: 2, voxel: p.voxel}
		if p.voxel[0] <= 1.01*math.Max(p.voxel[1], p.voxel[2]) && p.shape.Z > 1 {
			l.fz = 2
		}
		l.shape = volume.Shape{Z: ceilDiv(p.shape.Z, l.fz), Y: ceilDiv(p.shape.Y, l.fy), X: ceilDiv(p.shape.X, l.fx)}
		l.voxel = [3]float64{p.voxel[0] * float64(l.fz), p.voxel[1] * float64(l.fy), p.voxel[2] * float64(l.fx)}
		ls = append(ls, l)
	}
	return ls
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// grid returns the number of chunks along each axis.
func grid(s, c volume.Shape) [3]int {
	return [3]int{ceilDiv(s.Z, c.Z), ceilDiv(s.Y, c.Y), ceilDiv(s.X, c.X)}
}

// write writes every level into dir, then the group's metadata.
func write(ctx context.Context, dir string, src volume.Source, m volume.Meta, o Options) error {
	levels := pyramid(m, o.Levels)
	progress := counter(levels, o.Chunk, o.Progress)
	a := o.array(filepath.Join(dir, "0"), levels[0].shape, m.DType)
	if err := os.Mkdir(a.dir, 0o755); err != nil {
		return err
	}
	if err := a.writeChunks(ctx, src.Read, o.Threads, progress); err != nil {
		return fmt.Errorf("level 0: %w", err)
	}
	if err := a.writeMeta(); err != nil {
		return err
	}
	if err := writeLevels(ctx, dir, a, levels, o, progress); err != nil {
		return err
	}
	return writeGroup(dir, m, o, levels, nil)
}

// counter returns the progress callback of writing the given levels: each
// call counts one chunk written and reports it to report (may be nil), one
// call at a time, counts in order.
func counter(levels []levelSpec, chunk volume.Shape, report func(done, total int)) func() {
	total := 0
	for _, l := range levels {
		g := grid(l.shape, chunkOf(chunk, l.shape))
		total += g[0] * g[1] * g[2]
	}
	var (
		mu   sync.Mutex
		done int
	)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		done++
		if report != nil {
			report(done, total)
		}
	}
}

// writeLevels writes pyramid levels 1.. of levels into dir/1, dir/2...,
// each downsampled from the one before it, level 1 from level0 (written).
func writeLevels(ctx context.Context, dir string, level0 *array, levels []levelSpec, o Options, progress func()) error {
	prev := level0
	for i := 1; i < len(levels); i++ {
		l := levels[i]
		a := o.array(filepath.Join(dir, strconv.Itoa(i)), l.shape, level0.dtype)
		if err := os.MkdirAll(a.dir, 0o755); err != nil {
			return err
		}
		from := prev
		read := func(ctx context.Context, b volume.Box) (*volume.Volume, error) {
			return downsample(ctx, from, b, l.fz, l.fy, l.fx)
		}
		if err := a.writeChunks(ctx, read, o.Threads, progress); err != nil {
			return fmt.Errorf("level %d: %w", i, err)
		}
		if err := a.writeMeta(); err != nil {
			return err
		}
		prev = a // the next level reads this one back
	}
	return nil
}

// array returns the array of a level of shape s stored in dir, chunked,
// sharded and compressed as o says.
func (o Options) array(dir string, s volume.Shape, dt volume.DType) *array {
	c := chunkOf(o.Chunk, s)
	a := &array{dir: dir, shape: s, chunk: c, shard: shardOf(o.Shard, c, s), v3: o.Version == "0.5",
		dtype: dt, compressor: o.Compressor, level: o.Level}
	if o.hyper != nil {
		a.lead, a.at = o.hyper.lead, o.hyper.at
	}
	return a
}

// chunkOf clips the chunk shape to a level's shape.
func chunkOf(c, s volume.Shape) volume.Shape {
	return volume.Shape{Z: min(c.Z, s.Z), Y: min(c.Y, s.Y), X: min(c.X, s.X)}
}

// array is one level being written; once written it is a volume.Source
// over its own chunks (for the next level's downsampling).
type array struct {
	dir        string
	shape      volume.Shape
	chunk      volume.Shape // the (inner) chunk shape
	shard      volume.Shape // zero: not sharded
	v3         bool         // Zarr v3 (OME-Zarr 0.5), else v2
	dtype      volume.DType
	compressor string
	level      int
	// lead are the sizes of dimensions before z (t and c of a
	// hyperstack; nil for a 3-D array), at the index of this array's
	// (t, c) volume along them: chunks are 1 along each.
	lead, at []int
}

// dims returns the array's shape, or its chunk or shard shape, with the
// leading dimensions (their chunks are 1).
func (a *array) dims(s volume.Shape, chunk bool) []int {
	var d []int
	for _, n := range a.lead {
		if chunk {
			n = 1
		}
		d = append(d, n)
	}
	return append(d, s.Z, s.Y, s.X)
}

// sharded reports whether the array's chunks are stored in shards.
func (a *array) sharded() bool { return a.shard != (volume.Shape{}) }

// writeChunks reads every chunk's box with read and writes it, on threads
// workers; a sharded array is written a shard at a time per worker.
func (a *array) writeChunks(ctx context.Context, read func(context.Context, volume.Box) (*volume.Volume, error), threads int, progress func()) error {
	unit := a.chunk
	if a.sharded() {
		unit = a.shard
	}
	g := grid(a.shape, unit)
	n := g[0] * g[1] * g[2]
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	fail := func(err error) {
		once.Do(func() { first = err; cancel() })
	}
	var wg sync.WaitGroup
	for range threads {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				cz, cy, cx := i/(g[1]*g[2]), i/g[2]%g[1], i%g[2]
				if a.sharded() {
					if err := a.writeShard(ctx, cz, cy, cx, read, progress); err != nil {
						fail(err)
						return
					}
					continue
				}
				b := volume.Box{Z0: cz * a.chunk.Z, Y0: cy * a.chunk.Y, X0: cx * a.chunk.X}
				b.Z1, b.Y1, b.X1 = min(b.Z0+a.chunk.Z, a.shape.Z), min(b.Y0+a.chunk.Y, a.shape.Y), min(b.X0+a.chunk.X, a.shape.X)
				v, err := read(ctx, b)
				if err != nil {
					fail(fmt.Errorf("read %v: %w", b, err))
					return
				}
				if _, err := a.writeChunk(cz, cy, cx, v); err != nil {
					fail(err)
					return
				}
				progress()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// key returns the file of a chunk (of a shard, when sharded), with "/" as
// the dimension separator (as OME-Zarr 0.4 requires), under "c/" in Zarr
// v3 (the default chunk key encoding).
func (a *array) key(cz, cy, cx int) string {
	parts := []string{a.dir}
	if a.v3 {
		parts = append(parts, "c")
	}
	for _, i := range a.at {
		parts = append(parts, strconv.Itoa(i))
	}
	parts = append(parts, strconv.Itoa(cz), strconv.Itoa(cy), strconv.Itoa(cx))
	return filepath.Join(parts...)
}

// padded returns v (the chunk's box, smaller than the chunk at the
// volume's far edges) as the little-endian bytes of the full chunk, padded
// with zeros, as Zarr stores edge chunks.
func (a *array) padded(cz, cy, cx int, v *volume.Volume) ([]byte, error) {
	raw := make([]byte, a.chunk.Len()*a.dtype.Size())
	vs := v.Shape()
	if vs.Z > a.chunk.Z || vs.Y > a.chunk.Y || vs.X > a.chunk.X || v.DType() != a.dtype {
		return nil, fmt.Errorf("chunk %d/%d/%d: source gave %v %v", cz, cy, cx, vs, v.DType())
	}
	es := a.dtype.Size()
	src := rawBytes(v)
	row := vs.X * es
	for z := range vs.Z {
		for y := range vs.Y {
			d := ((z*a.chunk.Y + y) * a.chunk.X) * es
			s := (z*vs.Y + y) * row
			copy(raw[d:d+row], src[s:s+row])
		}
	}
	return raw, nil
}

// writeChunk encodes v padded to the full chunk and writes it (through a
// temporary file, renamed); it returns the bytes written.
func (a *array) writeChunk(cz, cy, cx int, v *volume.Volume) ([]byte, error) {
	raw, err := a.padded(cz, cy, cx, v)
	if err != nil {
		return nil, err
	}
	enc, err := encode(raw, a.compressor, a.level, a.dtype.Size())
	if err != nil {
		return nil, fmt.Errorf("chunk %d/%d/%d: %w", cz, cy, cx, err)
	}
	path := a.key(cz, cy, cx)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return enc, writeFile(path, enc)
}

// writeFile writes data to a temporary file in path's folder, named
// path.tmp-PID-RANDOM (unique among processes, on every host sharing the
// folder), and renames it to path: readers and writers of path never see
// a partial file, and concurrent writers of the same bytes do not clash.
func writeFile(path string, data []byte) error {
	tmp := tempName(path)
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// tempName returns the unique temporary name writeFile writes path under.
func tempName(path string) string {
	return fmt.Sprintf("%s%s%d-%016x", path, tempMark, os.Getpid(), rand.Uint64())
}

// tempMark is in the names of temporary files, and of no stored file.
const tempMark = ".tmp-"

// encode compresses one chunk.
func encode(raw []byte, compressor string, level, typeSize int) ([]byte, error) {
	switch compressor {
	case "zstd":
		if level == 0 {
			level = 3
		}
		return codec.ZstdEncode(raw, level)
	case "gzip":
		if level == 0 {
			level = 5
		}
		return codec.GzipEncode(raw, level)
	case "blosc-zstd":
		if level == 0 {
			level = 5
		}
		return codec.BloscEncode(raw, codec.BloscOptions{Compressor: "zstd", Level: level, Shuffle: 1, TypeSize: typeSize})
	}
	return raw, nil
}

// decode undoes encode.
func decode(data []byte, compressor string, size int) ([]byte, error) {
	switch compressor {
	case "zstd":
		return codec.ZstdDecode(data, size)
	case "gzip":
		return codec.GzipDecode(data, size)
	case "blosc-zstd":
		return codec.BloscDecode(data, size)
	}
	if len(data) != size {
		return nil, fmt.Errorf("raw chunk of %d bytes, want %d", len(data), size)
	}
	return data, nil
}

// Meta implements volume.Source over the written level.
func (a *array) Meta() volume.Meta { return volume.Meta{Shape: a.shape, DType: a.dtype} }

// Read implements volume.Source over the written level's chunks.
func (a *array) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	if !b.In(a.shape) {
		return nil, fmt.Errorf("box %v outside %v", b, a.shape)
	}
	bs := b.Shape()
	es := a.dtype.Size()
	out := make([]byte, bs.Len()*es)
	var shards map[[3]int][]uint64 // the indexes of the shards read
	if a.sharded() {
		shards = map[[3]int][]uint64{}
	}
	for cz := b.Z0 / a.chunk.Z; cz*a.chunk.Z < b.Z1; cz++ {
		for cy := b.Y0 / a.chunk.Y; cy*a.chunk.Y < b.Y1; cy++ {
			for cx := b.X0 / a.chunk.X; cx*a.chunk.X < b.X1; cx++ {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				var data []byte
				var err error
				if a.sharded() {
					data, err = a.readInner(cz, cy, cx, shards)
				} else {
					data, err = os.ReadFile(a.key(cz, cy, cx))
				}
				if err != nil {
					return nil, err
				}
				if data == nil { // an empty inner chunk: zeros
					continue
				}
				raw, err := decode(data, a.compressor, a.chunk.Len()*es)
				if err != nil {
					return nil, err
				}
				z0, y0, x0 := cz*a.chunk.Z, cy*a.chunk.Y, cx*a.chunk.X
				for z := max(b.Z0, z0); z < min(b.Z1, z0+a.chunk.Z); z++ {
					for y := max(b.Y0, y0); y < min(b.Y1, y0+a.chunk.Y); y++ {
						xs, xe := max(b.X0, x0), min(b.X1, x0+a.chunk.X)
						s := (((z-z0)*a.chunk.Y+(y-y0))*a.chunk.X + xs - x0) * es
						d := (((z-b.Z0)*bs.Y+(y-b.Y0))*bs.X + xs - b.X0) * es
						copy(out[d:d+(xe-xs)*es], raw[s:])
					}
				}
			}
		}
	}
	return fromBytes(bs, a.dtype, out)
}

// downsample reads the box b of the level below src (b in the new level's
// voxels) as the mean of fz×fy×fx blocks of src; blocks cut by src's far
// edges average the voxels they have. Integers are rounded to nearest.
func downsample(ctx context.Context, src volume.Source, b volume.Box, fz, fy, fx int) (*volume.Volume, error) {
	ss := src.Meta().Shape
	sb := volume.Box{Z0: b.Z0 * fz, Z1: min(b.Z1*fz, ss.Z), Y0: b.Y0 * fy, Y1: min(b.Y1*fy, ss.Y), X0: b.X0 * fx, X1: min(b.X1*fx, ss.X)}
	v, err := src.Read(ctx, sb)
	if err != nil {
		return nil, err
	}
	vs := v.Shape()
	bs := b.Shape()
	sum := make([]float64, bs.Len())
	cnt := make([]int32, bs.Len())
	var plane []float32
	for z := range vs.Z {
		p, err := v.Plane(volume.XY, z)
		if err != nil {
			return nil, err
		}
		plane = p.Float32(plane)
		for y := range vs.Y {
			o := ((z/fz)*bs.Y + y/fy) * bs.X
			row := plane[y*vs.X : (y+1)*vs.X]
			for x, f := range row {
				sum[o+x/fx] += float64(f)
				cnt[o+x/fx]++
			}
		}
	}
	for i := range sum {
		sum[i] /= float64(cnt[i])
	}
	return convert(bs, v.DType(), sum)
}

// convert builds a volume of type dt from float64 values.
func convert(s volume.Shape, dt volume.DType, f []float64) (*volume.Volume, error) {
	var data any
	switch dt {
	case volume.Uint8:
		d := make([]uint8, len(f))
		for i, x := range f {
			d[i] = uint8(math.Round(x))
		}
		data = d
	case volume.Uint16:
		d := make([]uint16, len(f))
		for i, x := range f {
			d[i] = uint16(math.Round(x))
		}
		data = d
	case volume.Int16:
		d := make([]int16, len(f))
		for i, x := range f {
			d[i] = int16(math.Round(x))
		}
		data = d
	case volume.Float32:
		d := make([]float32, len(f))
		for i, x := range f {
			d[i] = float32(x)
		}
		data = d
	default:
		data = f
	}
	return volume.New(s, data, volume.Voxel{})
}

// rawBytes returns v's voxels as little-endian bytes (copied).
func rawBytes(v *volume.Volume) []byte {
	switch d := v.Data().(type) {
	case []uint8:
		return d
	case []uint16:
		b := make([]byte, 2*len(d))
		for i, x := range d {
			binary.LittleEndian.PutUint16(b[2*i:], x)
		}
		return b
	case []int16:
		b := make([]byte, 2*len(d))
		for i, x := range d {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(x))
		}
		return b
	case []float32:
		b := make([]byte, 4*len(d))
		for i, x := range d {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	case []float64:
		b := make([]byte, 8*len(d))
		for i, x := range d {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
		return b
	}
	return nil
}

// fromBytes builds a volume from little-endian bytes.
func fromBytes(s volume.Shape, dt volume.DType, b []byte) (*volume.Volume, error) {
	var data any
	switch dt {
	case volume.Uint8:
		data = b
	case volume.Uint16:
		d := make([]uint16, len(b)/2)
		for i := range d {
			d[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		data = d
	case volume.Int16:
		d := make([]int16, len(b)/2)
		for i := range d {
			d[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		data = d
	case volume.Float32:
		d := make([]float32, len(b)/4)
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		data = d
	case volume.Float64:
		d := make([]float64, len(b)/8)
		for i := range d {
			d[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		data = d
	}
	return volume.New(s, data, volume.Voxel{})
}

// dtypeCode returns the Zarr v2 dtype of dt.
func dtypeCode(dt volume.DType) (string, error) {
	switch dt {
	case volume.Uint8:
		return "|u1", nil
	case volume.Uint16:
		return "<u2", nil
	case volume.Int16:
		return "<i2", nil
	case volume.Float32:
		return "<f4", nil
	case volume.Float64:
		return "<f8", nil
	}
	return "", fmt.Errorf("element type %v cannot be written", dt)
}

// writeMeta writes the level's .zarray (zarr.json in Zarr v3).
func (a *array) writeMeta() error {
	if a.v3 {
		return a.writeMetaV3()
	}
	dt, _ := dtypeCode(a.dtype)
	var comp any
	switch a.compressor {
	case "zstd":
		comp = map[string]any{"id": "zstd", "level": orDefault(a.level, 3)}
	case "gzip":
		comp = map[string]any{"id": "gzip", "level": orDefault(a.level, 5)}
	case "blosc-zstd":
		comp = map[string]any{"id": "blosc", "cname": "zstd", "clevel": orDefault(a.level, 5), "shuffle": 1, "blocksize": 0}
	}
	meta := map[string]any{
		"zarr_format": 2, "shape": a.dims(a.shape, false),
		"chunks": a.dims(a.chunk, true), "dtype": dt, "compressor": comp,
		"fill_value": 0, "order": "C", "filters": nil, "dimension_separator": "/",
	}
	return writeJSON(filepath.Join(a.dir, ".zarray"), meta)
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// ngffUnit returns the OME-NGFF (UDUNITS-2) name of a voxel unit, "" when
// it has none.
func ngffUnit(u string) string {
	switch u {
	case "nm":
		return "nanometer"
	case "µm", "um":
		return "micrometer"
	case "mm":
		return "millimeter"
	case "Å", "A", "angstrom":
		return "angstrom"
	case "m":
		return "meter"
	}
	return ""
}

// writeGroup writes .zgroup and the .zattrs with the multiscales metadata
// and the attributes of extra (for OME-Zarr 0.5, zarr.json with the
// multiscales under "ome"; extra must be nil).
func writeGroup(dir string, m volume.Meta, o Options, levels []levelSpec, extra map[string]any) error {
	unit := ""
	if m.Voxel.Known {
		unit = ngffUnit(m.Voxel.Unit)
	}
	var axes []map[string]string
	var lead []float64
	if h := o.hyper; h != nil {
		axes = h.axes
		lead = h.scale
	}
	for _, n := range []string{"z", "y", "x"} {
		ax := map[string]string{"name": n, "type": "space"}
		if unit != "" {
			ax["unit"] = unit
		}
		axes = append(axes, ax)
	}
	var datasets []map[string]any
	for i, l := range levels {
		scale := append(append([]float64(nil), lead...), l.voxel[:]...)
		datasets = append(datasets, map[string]any{
			"path":                      strconv.Itoa(i),
			"coordinateTransformations": []map[string]any{{"type": "scale", "scale": scale}},
		})
	}
	ms := map[string]any{
		"name": o.Name, "axes": axes, "datasets": datasets,
		"type":     "mean",
		"metadata": map[string]any{"description": "mean of 2x2 blocks in x/y (2x2x2 once x/y voxels reach the z voxel)", "writer": "niiv"},
	}
	var omero map[string]any
	if o.hyper != nil {
		omero = o.hyper.omero
	}
	if o.Version == "0.5" {
		return writeGroupV3(dir, ms, omero)
	}
	ms["version"] = "0.4"
	attrs := map[string]any{"multiscales": []map[string]any{ms}}
	if omero != nil {
		attrs["omero"] = omero
	}
	for k, v := range extra {
		attrs[k] = v
	}
	if err := writeJSON(filepath.Join(dir, ".zgroup"), map[string]any{"zarr_format": 2}); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, ".zattrs"), attrs)
}

// writeJSON writes v as indented JSON in ASCII, other characters escaped
// (Zarr readers in a C locale decode metadata as ASCII), with writeFile.
func writeJSON(path string, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	var out strings.Builder
	for _, r := range b.String() { // non-ASCII occurs only inside strings
		switch {
		case r < 0x80:
			out.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&out, "\\u%04x", r)
		default:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, "\\u%04x\\u%04x", r1, r2)
		}
	}
	return writeFile(path, []byte(out.String()))
}

// isImage reports whether an existing path is a Zarr group or array this
// writer may replace.
func isImage(path string, st os.FileInfo) bool {
	if !st.IsDir() {
		return false
	}
	for _, f := range []string{".zgroup", ".zarray", "zarr.json"} {
		if _, err := os.Stat(filepath.Join(path, f)); err == nil {
			return true
		}
	}
	ents, err := os.ReadDir(path)
	return err == nil && len(ents) == 0
}

// swapIn moves the finished image tmp to path, replacing an older image.
func swapIn(tmp, path string) error {
	if _, err := os.Stat(path); err != nil {
		return os.Rename(tmp, path)
	}
	old := fmt.Sprintf("%s.old-%d", path, os.Getpid())
	if err := os.Rename(path, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Rename(old, path)
		return err
	}
	return os.RemoveAll(old)
}

// removeStale removes what killed writers of path left: path.partial-PID
// and path.old-PID folders whose process no longer runs.
func removeStale(path string) {
	for _, pat := range []string{".partial-", ".old-"} {
		ms, _ := filepath.Glob(path + pat + "*")
		for _, m := range ms {
			pid, err := strconv.Atoi(m[len(path)+len(pat):])
			if err != nil || pid == os.Getpid() {
				continue
			}
			if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
				os.RemoveAll(m)
			}
		}
	}
}
