package zarr

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/niiv/niiv/io/codec"
)

// The fuzz targets feed arbitrary metadata and blocks to the parsers: they
// must return errors, never panic, and what they accept must be usable.

func FuzzZarrayJSON(f *testing.F) {
	for _, s := range []string{
		goodZarray,
		zarray("dtype", `">f8"`),
		zarray("order", `"F"`),
		zarray("fill_value", `"NaN"`),
		zarray("compressor", `{"id": "zstd", "level": 3}`),
		zarray("compressor", `{"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}`),
		zarray("dimension_separator", `"/"`),
		zarray("filters", `[]`),
		strings.Replace(zarray("shape", "[13, 17]"), "[2, 3, 4]", "[4, 5]", 1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseArrayV2(data)
		if err != nil {
			return
		}
		l, err := m.check()
		if err != nil {
			t.Fatalf("ParseArrayV2 accepted what check refuses: %v", err)
		}
		useLayout(t, m.Shape, m.Chunks, l.elem, nil)
		if l.sep != "." && l.sep != "/" {
			t.Fatalf("separator %q", l.sep)
		}
	})
}

func FuzzZarrJSON(f *testing.F) {
	for _, s := range []string{
		goodZarrJSON,
		zarrJSON(`"uint16"`, `"float32"`),
		zarrJSON(`"fill_value": 0`, `"fill_value": "0x7fc00000"`),
		zarrJSON(`{"endian": "little"}}]`, `{"endian": "little"}}, {"name": "zstd", "configuration": {"level": 1}}, {"name": "crc32c"}]`),
		zarrJSON(`[{"name": "bytes"`, `[{"name": "transpose", "configuration": {"order": [2, 0, 1]}}, {"name": "bytes"`),
		zarrJSON(`"name": "default", "configuration": {"separator": "/"}`, `"name": "v2", "configuration": {"separator": "."}`),
		sharded("[1, 3, 2]", `[{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]`, "end"),
		sharded("[2, 3, 4]", `[{"name": "bytes", "configuration": {"endian": "big"}}]`, "start"),
		`{"zarr_format": 3, "node_type": "group", "attributes": {"ome": {"version": "0.5", "multiscales": []}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseZarrJSON(data)
		if err != nil || m.NodeType != "array" {
			return
		}
		a, err := openV3(t.TempDir(), m, "fuzz")
		if err != nil {
			t.Fatalf("ParseZarrJSON accepted what openV3 refuses: %v", err)
		}
		useLayout(t, a.shape, a.chunk, a.elem, a.store)
	})
}

func FuzzN5Attributes(f *testing.F) {
	for _, s := range []string{
		goodN5,
		n5Attrs(`{"type": "raw"}`, `{"type": "gzip", "level": -1, "useZlib": true}`),
		n5Attrs(`"uint16"`, `"float64"`),
		`{"dimensions": [8, 6, 4], "blockSize": [4, 3, 2], "dataType": "int8", "compressionType": "gzip"}`,
		`{"n5": "2.5.1", "scales": [[1, 1, 1], [2, 2, 1]], "pixelResolution": {"unit": "um", "dimensions": [0.008, 0.008, 0.05]}}`,
		`{"downsamplingFactors": [[1, 1, 1], [2, 2, 2]], "dataType": "uint16"}`,
		`{"resolution": [4, 4, 40], "units": ["nm", "nm", "nm"], "downsamplingFactors": [2, 2, 1]}`,
		`{"multiscales": [{"datasets": [{"path": "s0", "transform": {"axes": ["z", "y", "x"], "scale": [40, 4, 4], "units": ["nm", "nm", "nm"]}}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseN5Attributes(data)
		if err != nil {
			return
		}
		rank := 3
		if a.IsDataset() {
			l, err := a.layout()
			if err != nil {
				t.Fatalf("ParseN5Attributes accepted what layout refuses: %v", err)
			}
			useLayout(t, l.shape, l.block, l.elem, nil)
			rank = len(l.shape)
		}
		am, err := plainAxes(rank)
		if err != nil {
			return
		}
		for i := -1; i < 3; i++ {
			if ls, err := n5LevelScale(a, a, i, rank); err == nil {
				if ls.scale != nil && len(ls.scale) != rank {
					t.Fatalf("scale %v for rank %d", ls.scale, rank)
				}
				ls.voxel(am, "fuzz")
			}
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(data, &top) == nil {
			if ms, err := multiscalesOf(top); err == nil {
				useMultiscales(t, ms)
			}
		}
	})
}

func FuzzOMEMultiscales(f *testing.F) {
	for _, s := range []string{
		`{"multiscales": ` + ome(goodAxes, `[{"path": "0", "coordinateTransformations": `+scale1+`}, {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [40, 8, 8]}, {"type": "translation", "translation": [0, 2, 2]}]}]`) + `}`,
		`{"ome": {"version": "0.5", "multiscales": ` + ome(`[{"name": "c", "type": "channel"}, {"name": "z", "type": "space", "unit": "micrometer"}, {"name": "y", "type": "space", "unit": "micrometer"}, {"name": "x", "type": "space", "unit": "micrometer"}]`, `[{"path": "s0", "coordinateTransformations": [{"type": "scale", "scale": [1, 0.5, 0.1, 0.1]}]}]`) + `}}`,
		`{"multiscales": [{"version": "0.3", "axes": ["z", "y", "x"], "datasets": [{"path": "0"}]}]}`,
		`{"multiscales": [{"axes": [{"name": "t", "type": "time"}, {"name": "c"}, {"name": "z"}, {"name": "y"}, {"name": "x"}], "datasets": [{"path": "0"}], "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 2, 2, 2]}]}]}`,
		`{"bioformats2raw.layout": 3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseMultiscales(data)
		if err != nil {
			return
		}
		useMultiscales(t, ms)
	})
}

// useMultiscales computes the axes and voxel sizes of every dataset.
func useMultiscales(t *testing.T, ms []Multiscale) {
	for _, m := range ms {
		rank := len(m.Axes)
		am, err := checkOMEAxes(m.Axes)
		if err != nil {
			if am, err = plainAxes(3); err != nil {
				t.Fatal(err)
			}
			rank = 3
		}
		for i := range m.Datasets {
			d := &m.Datasets[i]
			if _, err := cleanKey(d.Path); err != nil {
				t.Fatalf("accepted dataset path %q: %v", d.Path, err)
			}
			ls, err := m.datasetScale(d, rank)
			if err != nil {
				continue
			}
			if ls.scale != nil && len(ls.scale) != rank {
				t.Fatalf("scale %v for rank %d", ls.scale, rank)
			}
			v, _ := ls.voxel(am, "fuzz")
			if v.Known && v.Validate() != nil {
				t.Fatalf("known voxel %v is invalid", v)
			}
		}
	}
}

// useLayout checks an accepted array's sizes and, where a chunk is small,
// reads one through the store.
func useLayout(t *testing.T, shape, chunks []int, e elemType, store chunkStore) {
	if len(shape) != len(chunks) || len(shape) == 0 {
		t.Fatalf("shape %v, chunks %v", shape, chunks)
	}
	n := e.size
	for i := range shape {
		if shape[i] <= 0 || chunks[i] <= 0 {
			t.Fatalf("shape %v, chunks %v", shape, chunks)
		}
		n *= chunks[i]
		if n > maxChunkBytes {
			t.Fatalf("chunks %v of %d bytes accepted", chunks, n)
		}
	}
	if store != nil && n < 1<<16 {
		idx := make([]int, len(shape))
		store.key(idx)
		if _, err := store.load(NewCache(1<<20), "fuzz", idx); err != nil {
			t.Fatalf("missing chunk: %v", err)
		}
	}
}

func FuzzN5Block(f *testing.F) {
	layouts := []n5Layout{
		{elem: elemType{kind: 'u', size: 2, big: true}, shape: []int{4, 6, 8}, block: []int{2, 3, 4}},
		{elem: elemType{kind: 'f', size: 8, big: true}, shape: []int{5, 7, 9}, block: []int{2, 3, 4}, comp: codec.GzipDecode},
		{elem: elemType{kind: 'i', size: 1, big: true}, shape: []int{3, 5}, block: []int{2, 4}, comp: codec.ZstdDecode},
	}
	origins := [][]int{{0, 0, 0}, {4, 6, 8}, {2, 4}}
	data := pattern(4 * 6 * 8)
	f.Add(uint8(0), n5Block(data, []int{4, 6, 8}, []int{0, 0, 0}, []int{2, 3, 4}))
	f.Add(uint8(0), n5Block(data, []int{4, 6, 8}, []int{2, 3, 4}, []int{2, 3, 4}))
	raw := make([]byte, 8*1*1*1)
	z, _ := codec.GzipEncode(raw, 1)
	hdr := []byte{0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}
	f.Add(uint8(129), append(append([]byte(nil), hdr...), z...))
	z, _ = codec.ZstdEncode(make([]byte, 8), 1)
	f.Add(uint8(2), append([]byte{0, 1, 0, 2, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 8}, z...))
	var varlen []byte
	varlen = binary.BigEndian.AppendUint16(varlen, 1)
	varlen = binary.BigEndian.AppendUint16(varlen, 3)
	for range 3 {
		varlen = binary.BigEndian.AppendUint32(varlen, 1)
	}
	varlen = binary.BigEndian.AppendUint32(varlen, 2)
	f.Add(uint8(0), append(varlen, 0, 1, 0, 2))
	f.Fuzz(func(t *testing.T, which uint8, block []byte) {
		k := int(which) % len(layouts)
		l := &layouts[k]
		origin := make([]int, len(l.shape))
		if which >= 128 {
			copy(origin, origins[k])
		}
		c, err := decodeN5Block(block, l, origin)
		if err != nil {
			return
		}
		if elemLen(c.data) != prod(c.shape) {
			t.Fatalf("%d elements for shape %v", elemLen(c.data), c.shape)
		}
		for i, s := range c.shape {
			if s < 1 || s > l.block[i] {
				t.Fatalf("block shape %v accepted for blocks %v", c.shape, l.block)
			}
		}
	})
}
