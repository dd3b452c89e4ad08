package zarr

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/io/codec"
)

// Test writers: small Zarr v2, v3 and N5 arrays of uint16 voxels written
// from Go, for the tests that damage files and for the benchmark.

// pattern returns n deterministic uint16 voxels.
func pattern(n int) []uint16 {
	v := make([]uint16, n)
	for i := range v {
		v[i] = uint16(i*7 + i/13)
	}
	return v
}

// chunkOf cuts the chunk at grid position idx out of data (C order, shape),
// padding past the edge with zeros.
func chunkOf(data []uint16, shape, chunks, idx []int) []uint16 {
	out := make([]uint16, prod(chunks))
	origin := make([]int, len(idx))
	for i, x := range idx {
		origin[i] = x * chunks[i]
	}
	copyRegion(out, origin, chunks, data, make([]int, len(shape)), shape)
	return out
}

// gridOf lists the chunk grid positions of an array.
func gridOf(shape, chunks []int) [][]int {
	n := len(shape)
	counts := make([]int, n)
	total := 1
	for i := range n {
		counts[i] = (shape[i] + chunks[i] - 1) / chunks[i]
		total *= counts[i]
	}
	out := make([][]int, 0, total)
	for k := range total {
		idx := make([]int, n)
		for i := n - 1; i >= 0; i-- {
			idx[i] = k % counts[i]
			k /= counts[i]
		}
		out = append(out, idx)
	}
	return out
}

func le16(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data)
}

// writeV2 writes a little-endian uint16 Zarr v2 array, C order, "."
// separator, compressed with zstd (or nothing when comp is "").
func writeV2(t testing.TB, dir string, shape, chunks []int, data []uint16, comp string) {
	t.Helper()
	m := ArrayV2{ZarrFormat: 2, Shape: shape, Chunks: chunks, DType: "<u2", FillValue: json.RawMessage("0"), Order: "C"}
	if comp != "" {
		m.Compressor = map[string]any{"id": comp, "level": 1}
	}
	writeJSON(t, filepath.Join(dir, ".zarray"), m)
	for _, idx := range gridOf(shape, chunks) {
		raw := le16(chunkOf(data, shape, chunks, idx))
		if comp == "zstd" {
			var err error
			if raw, err = codec.ZstdEncode(raw, 1); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(dir, joinInts(idx, ".")), raw)
	}
}

// zstdCRC encodes like the codecs [bytes little, zstd, crc32c].
func zstdCRC(t testing.TB, v []uint16) []byte {
	t.Helper()
	z, err := codec.ZstdEncode(le16(v), 1)
	if err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.AppendUint32(z, crc32.Checksum(z, crc32c))
}

var v3Codecs = []NamedConfig{
	{Name: "bytes", Configuration: json.RawMessage(`{"endian":"little"}`)},
	{Name: "zstd", Configuration: json.RawMessage(`{"level":1,"checksum":false}`)},
	{Name: "crc32c"},
}

// writeV3 writes a uint16 Zarr v3 array with the codecs bytes, zstd and
// crc32c; with inner set, as shards of such inner chunks whose index
// (bytes, crc32c) is at the end.
func writeV3(t testing.TB, dir string, shape, chunks, inner []int, data []uint16) {
	t.Helper()
	grid, _ := json.Marshal(RegularGrid{ChunkShape: chunks})
	m := NodeV3{
		ZarrFormat: 3, NodeType: "array", Shape: shape, DataType: "uint16",
		ChunkGrid: &NamedConfig{Name: "regular", Configuration: grid},
		FillValue: json.RawMessage("0"), Codecs: v3Codecs,
	}
	if inner != nil {
		cfg, _ := json.Marshal(ShardingCodec{ChunkShape: inner, Codecs: v3Codecs, IndexCodecs: []NamedConfig{v3Codecs[0], v3Codecs[2]}})
		m.Codecs = []NamedConfig{{Name: "sharding_indexed", Configuration: cfg}}
	}
	writeJSON(t, filepath.Join(dir, "zarr.json"), m)
	for _, idx := range gridOf(shape, chunks) {
		c := chunkOf(data, shape, chunks, idx)
		var raw []byte
		if inner == nil {
			raw = zstdCRC(t, c)
		} else {
			var index []byte
			for _, j := range gridOf(chunks, inner) {
				b := zstdCRC(t, chunkOf(c, chunks, inner, j))
				index = binary.LittleEndian.AppendUint64(index, uint64(len(raw)))
				index = binary.LittleEndian.AppendUint64(index, uint64(len(b)))
				raw = append(raw, b...)
			}
			index = binary.LittleEndian.AppendUint32(index, crc32.Checksum(index, crc32c))
			raw = append(raw, index...)
		}
		writeFile(t, filepath.Join(dir, "c", joinInts(idx, "/")), raw)
	}
}

// writeN5 writes a raw uint16 N5 dataset with edge blocks cropped.
func writeN5(t testing.TB, dir string, shape, block []int, data []uint16) {
	t.Helper()
	writeJSON(t, filepath.Join(dir, "attributes.json"), N5Attributes{
		Dimensions: reversed(shape), BlockSize: reversed(block), DataType: "uint16",
		Compression: &N5Compression{Type: "raw"},
	})
	for _, idx := range gridOf(shape, block) {
		ext := make([]int, len(shape))
		origin := make([]int, len(shape))
		for i := range ext {
			origin[i] = idx[i] * block[i]
			ext[i] = min(block[i], shape[i]-origin[i])
		}
		writeFile(t, filepath.Join(dir, joinInts(reversed(idx), "/")), n5Block(data, shape, origin, ext))
	}
}

// n5Block encodes a raw N5 block of extent ext at origin.
func n5Block(data []uint16, shape, origin, ext []int) []byte {
	c := make([]uint16, prod(ext))
	copyRegion(c, origin, ext, data, make([]int, len(shape)), shape)
	b := binary.BigEndian.AppendUint16(nil, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ext)))
	for _, e := range reversed(ext) {
		b = binary.BigEndian.AppendUint32(b, uint32(e))
	}
	for _, x := range c {
		b = binary.BigEndian.AppendUint16(b, x)
	}
	return b
}
