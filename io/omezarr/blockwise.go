package omezarr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/niiv/niiv/volume"
)

// Blockwise writing: several processes (array tasks of a cluster job, on
// hosts sharing a file system without locks) write the level-0 chunks of
// one OME-Zarr 0.4 image at once, and a final step builds the pyramid.
//
// Every file is written under a unique temporary name in its own folder and
// renamed, which is atomic on the file systems clusters share (NFS, Lustre,
// GPFS, BeeGFS): a reader sees a whole file or none, and writers of the
// same file (two processes creating the image, a task run twice) write the
// same bytes, so whichever rename comes last changes nothing.
//
// Until Finish, the group's multiscales list level 0 only, and its
// attributes hold blockwiseKey (the number of levels Finish builds), so the
// image is readable from the start and OpenBlockwise knows what to build.

// blockwiseKey is the group attribute of an unfinished blockwise image.
const blockwiseKey = "niiv_blockwise"

// finishMark begins the name of the folder Finish builds levels in.
const finishMark = ".finish-"

// Blockwise is an OME-Zarr 0.4 image whose full-resolution level is written
// chunk by chunk ("blocks"), possibly by several processes at once.
// WriteBlock and BlockSum may be called from several goroutines at once;
// Finish runs once every block is written.
type Blockwise struct {
	path   string
	meta   volume.Meta
	o      Options     // filled; Levels is the number of levels
	levels []levelSpec // the pyramid Finish builds
	a      *array      // level 0
	g      [3]int      // level 0's chunks along z, y and x
}

// CreateBlockwise creates the image at path for a level 0 of m's shape,
// type and voxel size, chunked by o.Chunk (o.Compressor, o.Level, o.Levels
// and o.Name as for Write; o.Threads for Finish), or opens it when it
// exists with the same metadata. Several processes may call it at once:
// each metadata file is written under a unique temporary name in its
// folder and renamed, and all of them write identical bytes. An existing
// image with another shape, type, chunk, compressor, voxel size, name or
// number of levels, or a path that is not such an image, is an error
// naming the path and the differences. Sharding and OME-Zarr 0.5 are
// refused. Until Finish, the group's multiscales list level 0 only, so the
// image is readable from the start.
func CreateBlockwise(path string, m volume.Meta, o Options) (*Blockwise, error) {
	fail := func(err error) (*Blockwise, error) {
		return nil, fmt.Errorf("omezarr: blockwise image %s: %w", path, err)
	}
	if o.Version != "" && o.Version != "0.4" {
		return fail(fmt.Errorf("OME-Zarr %s: blockwise writing makes OME-Zarr 0.4 (Zarr v2) only", o.Version))
	}
	if o.Shard != (volume.Shape{}) {
		return fail(fmt.Errorf("shard %v: blockwise writing makes OME-Zarr 0.4 (Zarr v2), which has no shards", o.Shard))
	}
	if !m.Shape.Valid() {
		return fail(fmt.Errorf("invalid shape %v", m.Shape))
	}
	if _, err := dtypeCode(m.DType); err != nil {
		return fail(err)
	}
	o, err := o.fill(path, m.Shape)
	if err != nil {
		return fail(err)
	}
	levels := pyramid(m, o.Levels)
	o.Levels = len(levels)
	b := newBlockwise(path, volume.Meta{Name: o.Name, Shape: m.Shape, DType: m.DType, Voxel: m.Voxel}, o, levels)
	parent := filepath.Dir(path)
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return fail(fmt.Errorf("folder %s does not exist", parent))
	}
	if err := b.create(); err != nil {
		return fail(err)
	}
	return b, nil
}

// OpenBlockwise opens an image made by CreateBlockwise, finished or not
// (an OME-Zarr 0.4 image made by Write opens as a finished one).
func OpenBlockwise(path string) (*Blockwise, error) {
	fail := func(err error) (*Blockwise, error) {
		return nil, fmt.Errorf("omezarr: blockwise image %s: %w", path, err)
	}
	if err := notImage(path); err != nil {
		return fail(err)
	}
	for _, f := range []string{".zgroup", ".zattrs", filepath.Join("0", ".zarray")} {
		if _, err := os.Stat(filepath.Join(path, f)); err != nil {
			return fail(fmt.Errorf("not an OME-Zarr 0.4 image made by CreateBlockwise: no %s", f))
		}
	}
	if err := readGroup(path); err != nil {
		return fail(err)
	}
	arr, err := readLevel0(path)
	if err != nil {
		return fail(err)
	}
	at, err := readAttrs(path)
	if err != nil {
		return fail(err)
	}
	m := volume.Meta{Name: at.name, Shape: arr.shape, DType: arr.dtype, Voxel: at.voxel()}
	o := Options{Version: "0.4", Chunk: arr.chunk, Compressor: arr.compressor, Level: arr.level, Levels: at.levels, Name: at.name}
	if o, err = o.fill(path, m.Shape); err != nil {
		return fail(err)
	}
	levels := pyramid(m, o.Levels)
	if len(levels) != o.Levels {
		return fail(fmt.Errorf("%d levels in the metadata, but a %v image has %d", o.Levels, m.Shape, len(levels)))
	}
	return newBlockwise(path, m, o, levels), nil
}

func newBlockwise(path string, m volume.Meta, o Options, levels []levelSpec) *Blockwise {
	a := o.array(filepath.Join(path, "0"), m.Shape, m.DType)
	return &Blockwise{path: path, meta: m, o: o, levels: levels, a: a, g: grid(a.shape, a.chunk)}
}

// Meta returns the image name and level 0's shape, type and voxel size (as
// given to CreateBlockwise, or as read from the metadata by OpenBlockwise).
func (b *Blockwise) Meta() volume.Meta { return b.meta }

// Chunk returns level 0's chunk shape: the shape of every block but those
// cut by the image's far edges.
func (b *Blockwise) Chunk() volume.Shape { return b.a.chunk }

// Levels returns the number of pyramid levels Finish makes, full
// resolution included.
func (b *Blockwise) Levels() int { return len(b.levels) }

// Blocks returns the number of level-0 chunks.
func (b *Blockwise) Blocks() int { return b.g[0] * b.g[1] * b.g[2] }

// Box returns block i's box in level 0, blocks numbered in z-major order of
// their chunk positions (cz, cy, cx). It panics when i is not in
// [0, Blocks()).
func (b *Blockwise) Box(i int) volume.Box {
	if i < 0 || i >= b.Blocks() {
		panic(fmt.Sprintf("omezarr: block %d of %d", i, b.Blocks()))
	}
	cz, cy, cx := b.pos(i)
	c, s := b.a.chunk, b.a.shape
	return volume.Box{
		Z0: cz * c.Z, Z1: min((cz+1)*c.Z, s.Z),
		Y0: cy * c.Y, Y1: min((cy+1)*c.Y, s.Y),
		X0: cx * c.X, X1: min((cx+1)*c.X, s.X),
	}
}

// pos returns block i's chunk position.
func (b *Blockwise) pos(i int) (cz, cy, cx int) {
	return i / (b.g[1] * b.g[2]), i / b.g[2] % b.g[1], i % b.g[2]
}

// WriteBlock encodes v (of exactly Box(i)'s shape and the image's type,
// else an error) as block i's chunk, writes it under a unique temporary
// name in the chunk's folder and renames it (a killed writer leaves no
// partial chunk; readers ignore a leftover temporary file and Finish
// removes it), and returns the SHA-256 (hex) of the chunk file's bytes.
// A block of zeros is written too: every block has its file.
func (b *Blockwise) WriteBlock(i int, v *volume.Volume) (string, error) {
	if i < 0 || i >= b.Blocks() {
		return "", fmt.Errorf("omezarr: %s: block %d: the image has blocks 0 to %d", b.path, i, b.Blocks()-1)
	}
	box := b.Box(i)
	if v == nil {
		return "", fmt.Errorf("omezarr: %s: block %d (%v): no volume", b.path, i, box)
	}
	if v.Shape() != box.Shape() || v.DType() != b.meta.DType {
		return "", fmt.Errorf("omezarr: %s: block %d (%v): got %v %v, want %v %v", b.path, i, box, v.Shape(), v.DType(), box.Shape(), b.meta.DType)
	}
	if v.Lazy() {
		var err error
		if v, err = v.Read(context.Background(), volume.Whole(v.Shape())); err != nil {
			return "", fmt.Errorf("omezarr: %s: block %d: %w", b.path, i, err)
		}
	}
	cz, cy, cx := b.pos(i)
	enc, err := b.a.writeChunk(cz, cy, cx, v)
	if err != nil {
		return "", fmt.Errorf("omezarr: %s: block %d: %w", b.path, i, err)
	}
	sum := sha256.Sum256(enc)
	return hex.EncodeToString(sum[:]), nil
}

// BlockSum returns the SHA-256 (hex) of block i's chunk file, and false
// when the file does not exist.
func (b *Blockwise) BlockSum(i int) (string, bool, error) {
	if i < 0 || i >= b.Blocks() {
		return "", false, fmt.Errorf("omezarr: %s: block %d: the image has blocks 0 to %d", b.path, i, b.Blocks()-1)
	}
	data, err := os.ReadFile(b.a.key(b.pos(i)))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("omezarr: %s: block %d: %w", b.path, i, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), true, nil
}

// Finish builds pyramid levels 1.. from level 0 as Write does (the same
// downsampling, level shapes and metadata) and rewrites the group metadata
// with every level. It requires every level-0 block (else an error saying
// how many are missing and naming the first few), so it runs once the
// writers are done; it removes their leftover temporary files. The levels
// are built in a temporary folder inside the image and renamed into place;
// calling Finish again rebuilds them, and a reader sees level 0 alone
// meanwhile. ctx cancels; progress (may be nil) gets the chunks written
// and their total. One process at a time may call Finish.
func (b *Blockwise) Finish(ctx context.Context, progress func(done, total int)) error {
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("omezarr: finish %s: %w", b.path, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	temps, err := b.checkBlocks(ctx)
	if err != nil {
		return fail(err)
	}
	for _, t := range temps {
		if err := os.Remove(t); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
	}
	if err := removeLeftovers(b.path); err != nil {
		return fail(err)
	}
	if len(b.levels) > 1 {
		tmp := filepath.Join(b.path, fmt.Sprintf("%s%d-%016x", finishMark, os.Getpid(), rand.Uint64()))
		if err := os.Mkdir(tmp, 0o755); err != nil {
			return fail(err)
		}
		defer os.RemoveAll(tmp)
		count := counter(b.levels[1:], b.o.Chunk, progress)
		if err := writeLevels(ctx, tmp, b.a, b.levels, b.o, count); err != nil {
			return fail(err)
		}
		if err := b.swapLevels(tmp); err != nil {
			return fail(err)
		}
	}
	if err := writeGroup(b.path, b.meta, b.o, b.levels, nil); err != nil {
		return fail(err)
	}
	return nil
}

// checkBlocks lists every level-0 block's folder and returns the temporary
// files found there, or an error when blocks are missing.
func (b *Blockwise) checkBlocks(ctx context.Context) ([]string, error) {
	var missing []int
	var temps []string
	for cz := range b.g[0] {
		for cy := range b.g[1] {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			dir := filepath.Join(b.a.dir, strconv.Itoa(cz), strconv.Itoa(cy))
			ents, err := os.ReadDir(dir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			have := map[string]bool{}
			for _, e := range ents {
				switch {
				case strings.Contains(e.Name(), tempMark):
					temps = append(temps, filepath.Join(dir, e.Name()))
				case e.Type().IsRegular():
					have[e.Name()] = true
				}
			}
			for cx := range b.g[2] {
				if !have[strconv.Itoa(cx)] {
					missing = append(missing, (cz*b.g[1]+cy)*b.g[2]+cx)
				}
			}
		}
	}
	if len(missing) == 0 {
		return temps, nil
	}
	const shown = 5
	var list []string
	for _, i := range missing[:min(shown, len(missing))] {
		cz, cy, cx := b.pos(i)
		list = append(list, fmt.Sprintf("%d (chunk 0/%d/%d/%d, %v)", i, cz, cy, cx, b.Box(i)))
	}
	more := ""
	if len(missing) > shown {
		more = fmt.Sprintf(" and %d more", len(missing)-shown)
	}
	return nil, fmt.Errorf("%d of %d level-0 blocks are missing: %s%s", len(missing), b.Blocks(), strings.Join(list, ", "), more)
}

// removeLeftovers removes what killed writers left in the image's folder
// and in level 0's: temporary metadata files and Finish folders.
func removeLeftovers(path string) error {
	for _, dir := range []string{path, filepath.Join(path, "0")} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			n := e.Name()
			if strings.Contains(n, tempMark) || dir == path && strings.HasPrefix(n, finishMark) {
				if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// swapLevels moves the levels built in tmp into the image, in place of
// those a previous Finish built; the group lists level 0 alone meanwhile.
func (b *Blockwise) swapLevels(tmp string) error {
	rebuilt := false
	for i := 1; i < len(b.levels); i++ {
		if _, err := os.Stat(filepath.Join(b.path, strconv.Itoa(i))); err == nil {
			rebuilt = true
		}
	}
	if rebuilt {
		if err := b.writeUnfinishedGroup(); err != nil {
			return err
		}
	}
	for i := 1; i < len(b.levels); i++ {
		dst := filepath.Join(b.path, strconv.Itoa(i))
		if _, err := os.Stat(dst); err == nil {
			if err := os.Rename(dst, filepath.Join(tmp, fmt.Sprintf("old-%d", i))); err != nil {
				return err
			}
		}
		if err := os.Rename(filepath.Join(tmp, strconv.Itoa(i)), dst); err != nil {
			return err
		}
	}
	return nil
}

// writeUnfinishedGroup writes the group metadata of the unfinished image:
// level 0 only, and the number of levels to build.
func (b *Blockwise) writeUnfinishedGroup() error {
	extra := map[string]any{blockwiseKey: map[string]any{"levels": len(b.levels), "pyramid": "not built yet"}}
	return writeGroup(b.path, b.meta, b.o, b.levels[:1], extra)
}

// create makes the image's folder and metadata, or checks those that exist
// against b's, writing those missing (another process may be creating the
// same image at the same time).
func (b *Blockwise) create() error {
	if err := os.Mkdir(b.path, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := notImage(b.path); err != nil {
		return err
	}
	// One listing decides what exists: another process may be adding
	// metadata files meanwhile.
	ents, err := os.ReadDir(b.path)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	for _, e := range ents {
		listed[e.Name()] = true
	}
	_, err = os.Stat(filepath.Join(b.a.dir, ".zarray"))
	hasGroup, hasAttrs, hasArray := listed[".zgroup"], listed[".zattrs"], err == nil
	if !hasGroup && !hasAttrs && !hasArray {
		if err := onlyOurs(ents); err != nil {
			return err
		}
	}
	if hasGroup {
		if err := readGroup(b.path); err != nil {
			return err
		}
	}
	var diffs []string
	differ := func(what string, got, want any) {
		if got != want {
			diffs = append(diffs, fmt.Sprintf("%s %v, want %v", what, got, want))
		}
	}
	if hasArray {
		arr, err := readLevel0(b.path)
		if err != nil {
			return err
		}
		differ("shape", arr.shape, b.a.shape)
		differ("type", arr.dtype, b.a.dtype)
		differ("chunk", arr.chunk, b.a.chunk)
		differ("compressor", compressorName(arr.compressor, arr.level), compressorName(b.o.Compressor, b.o.Level))
	}
	if hasAttrs {
		at, err := readAttrs(b.path)
		if err != nil {
			return err
		}
		differ("voxel size", scaleString(at.scale, at.unit), scaleString(b.levels[0].voxel, b.unit()))
		differ("name", strconv.Quote(at.name), strconv.Quote(b.o.Name))
		differ("levels", at.levels, len(b.levels))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("exists with other metadata: %s", strings.Join(diffs, "; "))
	}
	if !hasArray {
		if err := os.Mkdir(b.a.dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := b.a.writeMeta(); err != nil {
			return err
		}
	}
	if !hasAttrs {
		return b.writeUnfinishedGroup() // .zgroup too
	}
	if !hasGroup {
		return writeJSON(filepath.Join(b.path, ".zgroup"), map[string]any{"zarr_format": 2})
	}
	return nil
}

// unit returns the NGFF unit of the image's axes ("" when none).
func (b *Blockwise) unit() string {
	if !b.meta.Voxel.Known {
		return ""
	}
	return ngffUnit(b.meta.Voxel.Unit)
}

// compressorName describes a compressor and its level as the metadata
// does.
func compressorName(c string, level int) string {
	switch c {
	case "zstd":
		return fmt.Sprintf("zstd level %d", orDefault(level, 3))
	case "gzip":
		return fmt.Sprintf("gzip level %d", orDefault(level, 5))
	case "blosc-zstd":
		return fmt.Sprintf("blosc-zstd level %d", orDefault(level, 5))
	}
	return c
}

func scaleString(s [3]float64, unit string) string {
	if unit == "" {
		unit = "(no unit)"
	}
	return fmt.Sprintf("%g×%g×%g %s", s[0], s[1], s[2], unit)
}

// notImage returns an error when path is not a folder, or holds another
// kind of Zarr node than an OME-Zarr 0.4 group.
func notImage(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("exists and is not a folder")
	}
	if _, err := os.Stat(filepath.Join(path, "zarr.json")); err == nil {
		return errors.New("is a Zarr v3 node (OME-Zarr 0.5): blockwise writing makes OME-Zarr 0.4 only")
	}
	if _, err := os.Stat(filepath.Join(path, ".zarray")); err == nil {
		return errors.New("is a Zarr array, not an OME-Zarr image")
	}
	return nil
}

// onlyOurs returns an error when the entries of a folder without Zarr
// metadata hold anything but what CreateBlockwise writes before that
// metadata: a level-0 folder and temporary files.
func onlyOurs(ents []fs.DirEntry) error {
	for _, e := range ents {
		if e.Name() == "0" && e.IsDir() || strings.Contains(e.Name(), tempMark) {
			continue
		}
		return fmt.Errorf("exists and is not an OME-Zarr image (it holds %s and no Zarr metadata); not writing into it", e.Name())
	}
	return nil
}

// readGroup checks the folder's .zgroup.
func readGroup(path string) error {
	var g struct {
		ZarrFormat int `json:"zarr_format"`
	}
	if err := loadJSON(filepath.Join(path, ".zgroup"), &g); err != nil {
		return err
	}
	if g.ZarrFormat != 2 {
		return fmt.Errorf(".zgroup: zarr_format %d, want 2", g.ZarrFormat)
	}
	return nil
}

// storedArray is what the .zarray of level 0 says.
type storedArray struct {
	shape, chunk volume.Shape
	dtype        volume.DType
	compressor   string
	level        int
}

// readLevel0 reads level 0's .zarray; it must describe an array as Write
// stores it.
func readLevel0(path string) (storedArray, error) {
	file := filepath.Join(path, "0", ".zarray")
	var z struct {
		ZarrFormat int             `json:"zarr_format"`
		Shape      []int           `json:"shape"`
		Chunks     []int           `json:"chunks"`
		DType      string          `json:"dtype"`
		Compressor json.RawMessage `json:"compressor"`
		FillValue  any             `json:"fill_value"`
		Order      string          `json:"order"`
		Filters    []any           `json:"filters"`
		Separator  string          `json:"dimension_separator"`
	}
	var s storedArray
	if err := loadJSON(file, &z); err != nil {
		return s, err
	}
	bad := func(format string, a ...any) (storedArray, error) {
		return s, fmt.Errorf("%s: %s (not an image made by CreateBlockwise)", file, fmt.Sprintf(format, a...))
	}
	if z.ZarrFormat != 2 || len(z.Shape) != 3 || len(z.Chunks) != 3 {
		return bad("zarr_format %d, shape %v, chunks %v: want a 3-D Zarr v2 array", z.ZarrFormat, z.Shape, z.Chunks)
	}
	if z.Order != "C" || len(z.Filters) > 0 || z.Separator != "/" || z.FillValue != float64(0) {
		return bad(`order %q, filters %v, dimension_separator %q, fill_value %v: want "C", none, "/", 0`, z.Order, z.Filters, z.Separator, z.FillValue)
	}
	s.shape = volume.Shape{Z: z.Shape[0], Y: z.Shape[1], X: z.Shape[2]}
	s.chunk = volume.Shape{Z: z.Chunks[0], Y: z.Chunks[1], X: z.Chunks[2]}
	if !s.shape.Valid() || !s.chunk.Valid() || chunkOf(s.chunk, s.shape) != s.chunk {
		return bad("shape %v, chunks %v", s.shape, s.chunk)
	}
	for _, dt := range []volume.DType{volume.Uint8, volume.Uint16, volume.Int16, volume.Float32, volume.Float64} {
		if c, _ := dtypeCode(dt); c == z.DType {
			s.dtype = dt
		}
	}
	if s.dtype == 0 {
		return bad("dtype %q", z.DType)
	}
	var c struct {
		ID      string `json:"id"`
		Level   int    `json:"level"`
		CName   string `json:"cname"`
		CLevel  int    `json:"clevel"`
		Shuffle int    `json:"shuffle"`
	}
	if string(z.Compressor) == "null" || len(z.Compressor) == 0 {
		s.compressor = "none"
		return s, nil
	}
	if err := json.Unmarshal(z.Compressor, &c); err != nil {
		return bad("compressor %s", z.Compressor)
	}
	switch {
	case c.ID == "zstd" || c.ID == "gzip":
		s.compressor, s.level = c.ID, c.Level
	case c.ID == "blosc" && c.CName == "zstd" && c.Shuffle == 1:
		s.compressor, s.level = "blosc-zstd", c.CLevel
	default:
		return bad("compressor %s", z.Compressor)
	}
	return s, nil
}

// storedAttrs is what the group's .zattrs says.
type storedAttrs struct {
	name   string
	scale  [3]float64 // level 0's
	unit   string     // NGFF unit, "" when none
	levels int        // the levels listed, or to build when unfinished
}

// voxel returns the voxel size the scale and unit were written from.
func (at storedAttrs) voxel() volume.Voxel {
	v := volume.Voxel{Z: at.scale[0], Y: at.scale[1], X: at.scale[2], Known: true}
	for _, u := range []string{"nm", "µm", "mm", "Å", "m"} {
		if ngffUnit(u) == at.unit && at.unit != "" {
			v.Unit = u
		}
	}
	if at.unit == "" && at.scale == [3]float64{1, 1, 1} {
		return volume.Unknown()
	}
	return v
}

// readAttrs reads the group's .zattrs: OME-Zarr 0.4 multiscales with z, y
// and x axes and levels "0", "1"...
func readAttrs(path string) (storedAttrs, error) {
	file := filepath.Join(path, ".zattrs")
	var z struct {
		Multiscales []struct {
			Version string `json:"version"`
			Name    string `json:"name"`
			Axes    []struct {
				Name string `json:"name"`
				Unit string `json:"unit"`
			} `json:"axes"`
			Datasets []struct {
				Path       string `json:"path"`
				Transforms []struct {
					Type  string    `json:"type"`
					Scale []float64 `json:"scale"`
				} `json:"coordinateTransformations"`
			} `json:"datasets"`
		} `json:"multiscales"`
		Blockwise *struct {
			Levels int `json:"levels"`
		} `json:"niiv_blockwise"`
	}
	var at storedAttrs
	if err := loadJSON(file, &z); err != nil {
		return at, err
	}
	bad := func(format string, a ...any) (storedAttrs, error) {
		return at, fmt.Errorf("%s: %s (not an OME-Zarr 0.4 image made by CreateBlockwise)", file, fmt.Sprintf(format, a...))
	}
	if len(z.Multiscales) != 1 {
		return bad("%d multiscales, want 1", len(z.Multiscales))
	}
	ms := z.Multiscales[0]
	if ms.Version != "0.4" {
		return bad("version %q, want 0.4", ms.Version)
	}
	if len(ms.Axes) != 3 || ms.Axes[0].Name != "z" || ms.Axes[1].Name != "y" || ms.Axes[2].Name != "x" ||
		ms.Axes[0].Unit != ms.Axes[1].Unit || ms.Axes[1].Unit != ms.Axes[2].Unit {
		return bad("axes are not z, y, x of one unit")
	}
	if len(ms.Datasets) == 0 {
		return bad("no datasets")
	}
	for i, d := range ms.Datasets {
		if d.Path != strconv.Itoa(i) {
			return bad("dataset %d has path %q", i, d.Path)
		}
	}
	t := ms.Datasets[0].Transforms
	if len(t) != 1 || t[0].Type != "scale" || len(t[0].Scale) != 3 {
		return bad("level 0's coordinateTransformations are not one scale")
	}
	at.name, at.unit, at.levels = ms.Name, ms.Axes[0].Unit, len(ms.Datasets)
	copy(at.scale[:], t[0].Scale)
	if z.Blockwise != nil {
		if len(ms.Datasets) != 1 || z.Blockwise.Levels < 1 {
			return bad("unfinished, with %d datasets and %d levels to build", len(ms.Datasets), z.Blockwise.Levels)
		}
		at.levels = z.Blockwise.Levels
	}
	return at, nil
}

// loadJSON decodes the JSON file at path into v.
func loadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
