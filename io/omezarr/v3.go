package omezarr

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/niiv/niiv/volume"
)

// OME-Zarr 0.5: Zarr v3 arrays (zarr.json, chunks under c/), optionally
// sharded with the sharding_indexed codec, in a group whose zarr.json keeps
// the multiscales under attributes.ome.

// maxShardChunks bounds the inner chunks of one shard (its index is 16
// bytes per inner chunk, held by each writer).
const maxShardChunks = 1 << 20

// emptyEntry marks an inner chunk that is not stored (it reads as the fill
// value, 0) in both its offset and its size.
const emptyEntry = math.MaxUint64

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkShard checks a shard shape against the chunk shape asked for (zero
// axes: 128, the default) and the version.
func checkShard(shard, chunk volume.Shape, version string) error {
	if version != "0.5" {
		return fmt.Errorf("shard %v: sharding needs OME-Zarr 0.5 (Zarr v3); OME-Zarr %s has no shards", shard, version)
	}
	def := func(v int) int {
		if v <= 0 {
			return 128
		}
		return v
	}
	c := volume.Shape{Z: def(chunk.Z), Y: def(chunk.Y), X: def(chunk.X)}
	if shard.Z <= 0 || shard.Y <= 0 || shard.X <= 0 || shard.Z%c.Z != 0 || shard.Y%c.Y != 0 || shard.X%c.X != 0 {
		return fmt.Errorf("shard %v is not a multiple of the chunk %v along every axis", shard, c)
	}
	if n := float64(shard.Z/c.Z) * float64(shard.Y/c.Y) * float64(shard.X/c.X); n > maxShardChunks {
		return fmt.Errorf("shard %v holds %.0f chunks of %v: at most 2^20", shard, n, c)
	}
	return nil
}

// shardOf returns the shard shape of a level of shape s with chunks c
// (clipped to s): sh clipped to the chunks covering s, which keeps it a
// multiple of c. A zero sh stays zero (no sharding).
func shardOf(sh, c, s volume.Shape) volume.Shape {
	if sh == (volume.Shape{}) {
		return sh
	}
	f := func(sh, c, n int) int { return min(sh, ceilDiv(n, c)*c) }
	return volume.Shape{Z: f(sh.Z, c.Z, s.Z), Y: f(sh.Y, c.Y, s.Y), X: f(sh.X, c.X, s.X)}
}

// perShard returns the inner chunks per shard along z, y and x.
func (a *array) perShard() [3]int {
	return [3]int{a.shard.Z / a.chunk.Z, a.shard.Y / a.chunk.Y, a.shard.X / a.chunk.X}
}

// writeShard writes the shard at shard grid position (sz, sy, sx): its
// inner chunks in C order, each read with read and encoded as writeChunk
// encodes chunks, then the index (offset and size of each inner chunk,
// little-endian uint64, then its CRC-32C). Inner chunks outside the array
// or holding only zeros (the fill value) are not stored; a shard of only
// such chunks is not written. The shard goes to a temporary file, renamed
// once complete; only one inner chunk is in memory at a time.
func (a *array) writeShard(ctx context.Context, sz, sy, sx int, read func(context.Context, volume.Box) (*volume.Volume, error), progress func()) (err error) {
	per := a.perShard()
	n := per[0] * per[1] * per[2]
	index := make([]byte, 16*n+4)
	path := a.key(sz, sy, sx)
	tmp := path + ".tmp"
	var f *os.File
	defer func() {
		if f != nil && err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var off uint64
	for j := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		cz := sz*per[0] + j/(per[1]*per[2])
		cy := sy*per[1] + j/per[2]%per[1]
		cx := sx*per[2] + j%per[2]
		b := volume.Box{Z0: cz * a.chunk.Z, Y0: cy * a.chunk.Y, X0: cx * a.chunk.X}
		entry := index[16*j : 16*j+16]
		binary.LittleEndian.PutUint64(entry, emptyEntry)
		binary.LittleEndian.PutUint64(entry[8:], emptyEntry)
		if b.Z0 >= a.shape.Z || b.Y0 >= a.shape.Y || b.X0 >= a.shape.X {
			continue // past the array's far edges
		}
		b.Z1, b.Y1, b.X1 = min(b.Z0+a.chunk.Z, a.shape.Z), min(b.Y0+a.chunk.Y, a.shape.Y), min(b.X0+a.chunk.X, a.shape.X)
		v, err := read(ctx, b)
		if err != nil {
			return fmt.Errorf("read %v: %w", b, err)
		}
		raw, err := a.padded(cz, cy, cx, v)
		if err != nil {
			return err
		}
		if !allZero(raw) {
			enc, err := encode(raw, a.compressor, a.level, a.dtype.Size())
			if err != nil {
				return fmt.Errorf("chunk %d/%d/%d: %w", cz, cy, cx, err)
			}
			if f == nil {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					return err
				}
				if f, err = os.Create(tmp); err != nil {
					return err
				}
			}
			if _, err := f.Write(enc); err != nil {
				return err
			}
			binary.LittleEndian.PutUint64(entry, off)
			binary.LittleEndian.PutUint64(entry[8:], uint64(len(enc)))
			off += uint64(len(enc))
		}
		progress()
	}
	if f == nil {
		return nil // every inner chunk is empty: the shard reads as zeros
	}
	binary.LittleEndian.PutUint32(index[16*n:], crc32.Checksum(index[:16*n], castagnoli))
	if _, err := f.Write(index); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// readInner returns the encoded inner chunk (cz, cy, cx) of a sharded
// array, nil when it is not stored. shards keeps the indexes read.
func (a *array) readInner(cz, cy, cx int, shards map[[3]int][]uint64) ([]byte, error) {
	per := a.perShard()
	s := [3]int{cz / per[0], cy / per[1], cx / per[2]}
	path := a.key(s[0], s[1], s[2])
	ent, ok := shards[s]
	if !ok {
		var err error
		if ent, err = readIndex(path, per[0]*per[1]*per[2]); err != nil {
			return nil, err
		}
		shards[s] = ent
	}
	if ent == nil {
		return nil, nil // no shard file: all its inner chunks are empty
	}
	j := ((cz%per[0])*per[1]+cy%per[1])*per[2] + cx%per[2]
	off, nb := ent[2*j], ent[2*j+1]
	if off == emptyEntry && nb == emptyEntry {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, nb)
	if _, err := f.ReadAt(data, int64(off)); err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	return data, nil
}

// readIndex reads the index of n inner chunks at the end of the shard at
// path and checks its CRC-32C; nil when the shard is not stored.
func readIndex(path string, n int) ([]uint64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := int64(16*n + 4)
	if st.Size() < size {
		return nil, fmt.Errorf("shard %s: %d bytes, too few for its index", path, st.Size())
	}
	raw := make([]byte, size)
	if _, err := f.ReadAt(raw, st.Size()-size); err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	if crc32.Checksum(raw[:16*n], castagnoli) != binary.LittleEndian.Uint32(raw[16*n:]) {
		return nil, fmt.Errorf("shard %s: index checksum mismatch", path)
	}
	ent := make([]uint64, 2*n)
	for i := range ent {
		ent[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	return ent, nil
}

// dataTypeV3 returns the Zarr v3 data type of dt.
func dataTypeV3(dt volume.DType) string {
	switch dt {
	case volume.Uint8:
		return "uint8"
	case volume.Uint16:
		return "uint16"
	case volume.Int16:
		return "int16"
	case volume.Float32:
		return "float32"
	}
	return "float64"
}

// named is a Zarr v3 extension point: a codec, chunk grid or chunk key
// encoding.
type named struct {
	Name          string `json:"name"`
	Configuration any    `json:"configuration,omitempty"`
}

// arrayV3 is the zarr.json of a Zarr v3 array.
type arrayV3 struct {
	ZarrFormat       int            `json:"zarr_format"`
	NodeType         string         `json:"node_type"`
	Shape            []int          `json:"shape"`
	DataType         string         `json:"data_type"`
	ChunkGrid        named          `json:"chunk_grid"`
	ChunkKeyEncoding named          `json:"chunk_key_encoding"`
	FillValue        int            `json:"fill_value"`
	Codecs           []named        `json:"codecs"`
	DimensionNames   []string       `json:"dimension_names"`
	Attributes       map[string]any `json:"attributes"`
}

// codecsV3 returns the codecs of one (inner) chunk: bytes, little-endian,
// then the compressor.
func (a *array) codecsV3() []named {
	cs := []named{{Name: "bytes", Configuration: map[string]any{"endian": "little"}}}
	switch a.compressor {
	case "zstd":
		cs = append(cs, named{"zstd", map[string]any{"level": orDefault(a.level, 3), "checksum": false}})
	case "gzip":
		cs = append(cs, named{"gzip", map[string]any{"level": orDefault(a.level, 5)}})
	case "blosc-zstd":
		cs = append(cs, named{"blosc", map[string]any{"cname": "zstd", "clevel": orDefault(a.level, 5),
			"shuffle": "shuffle", "typesize": a.dtype.Size(), "blocksize": 0}})
	}
	return cs
}

// writeMetaV3 writes the level's zarr.json.
func (a *array) writeMetaV3() error {
	grid, codecs := a.chunk, a.codecsV3()
	if a.sharded() {
		grid = a.shard
		codecs = []named{{Name: "sharding_indexed", Configuration: map[string]any{
			"chunk_shape": a.dims(a.chunk, true),
			"codecs":      codecs,
			"index_codecs": []named{
				{Name: "bytes", Configuration: map[string]any{"endian": "little"}},
				{Name: "crc32c"},
			},
			"index_location": "end",
		}}}
	}
	meta := arrayV3{
		ZarrFormat: 3, NodeType: "array", Shape: a.dims(a.shape, false), DataType: dataTypeV3(a.dtype),
		ChunkGrid:        named{"regular", map[string]any{"chunk_shape": a.dims(grid, true)}},
		ChunkKeyEncoding: named{"default", map[string]any{"separator": "/"}},
		Codecs:           codecs, DimensionNames: a.dimNames(), Attributes: map[string]any{},
	}
	return writeJSON(filepath.Join(a.dir, "zarr.json"), meta)
}

// groupV3 is the zarr.json of a Zarr v3 group.
type groupV3 struct {
	ZarrFormat int            `json:"zarr_format"`
	NodeType   string         `json:"node_type"`
	Attributes map[string]any `json:"attributes"`
}

// writeGroupV3 writes the group's zarr.json with the multiscale ms under
// attributes.ome, as OME-Zarr 0.5 keeps it.
func writeGroupV3(dir string, ms map[string]any, omero map[string]any) error {
	ome := map[string]any{"version": "0.5", "multiscales": []map[string]any{ms}}
	if omero != nil {
		ome["omero"] = omero
	}
	g := groupV3{ZarrFormat: 3, NodeType: "group", Attributes: map[string]any{"ome": ome}}
	return writeJSON(filepath.Join(dir, "zarr.json"), g)
}

// dimNames returns the array's dimension names: z, y, x after c (and t)
// for a hyperstack's arrays.
func (a *array) dimNames() []string {
	names := []string{"z", "y", "x"}
	switch len(a.lead) {
	case 1:
		return append([]string{"c"}, names...)
	case 2:
		return append([]string{"t", "c"}, names...)
	}
	return names
}
