package zarr

import (
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (path → content, "/"-separated) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, s := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), []byte(s))
	}
}

const goodZarray = `{"zarr_format": 2, "shape": [4, 6, 8], "chunks": [2, 3, 4], "dtype": "<u2",
 "compressor": null, "fill_value": 0, "order": "C", "filters": null}`

// zarray returns goodZarray with one key replaced.
func zarray(key, value string) string {
	var b strings.Builder
	b.WriteString("{")
	fields := map[string]string{
		"zarr_format": "2", "shape": "[4, 6, 8]", "chunks": "[2, 3, 4]", "dtype": `"<u2"`,
		"compressor": "null", "fill_value": "0", "order": `"C"`, "filters": "null",
	}
	if value == "" {
		delete(fields, key)
	} else {
		fields[key] = value
	}
	first := true
	for _, k := range []string{"zarr_format", "shape", "chunks", "dtype", "compressor", "fill_value", "order", "filters", "dimension_separator"} {
		v, ok := fields[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(`"` + k + `": ` + v)
	}
	b.WriteString("}")
	return b.String()
}

const goodZarrJSON = `{"zarr_format": 3, "node_type": "array", "shape": [4, 6, 8], "data_type": "uint16",
 "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 3, 4]}},
 "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
 "fill_value": 0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}`

// zarrJSON returns goodZarrJSON with old replaced by new.
func zarrJSON(old, new string) string { return strings.Replace(goodZarrJSON, old, new, 1) }

func sharded(inner, index, loc string) string {
	return zarrJSON(`"codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]`,
		`"codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": `+inner+
			`, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}], "index_codecs": `+index+
			`, "index_location": "`+loc+`"}}]`)
}

const goodN5 = `{"dimensions": [8, 6, 4], "blockSize": [4, 3, 2], "dataType": "uint16", "compression": {"type": "raw"}}`

func n5Attrs(old, new string) string { return strings.Replace(goodN5, old, new, 1) }

// omeGroup is a v2 group with the given multiscales JSON and arrays 0 and
// 1 of shape [4, 6, 8].
func omeGroup(multiscales string) map[string]string {
	return map[string]string{
		".zgroup": `{"zarr_format": 2}`, ".zattrs": `{"multiscales": ` + multiscales + `}`,
		"0/.zarray": goodZarray, "1/.zarray": goodZarray,
	}
}

const goodAxes = `[{"name": "z", "type": "space", "unit": "nanometer"}, {"name": "y", "type": "space", "unit": "nanometer"}, {"name": "x", "type": "space", "unit": "nanometer"}]`

func ome(axes, datasets string) string {
	return `[{"version": "0.4", "axes": ` + axes + `, "datasets": ` + datasets + `}]`
}

const scale1 = `[{"type": "scale", "scale": [40, 4, 4]}]`

// TestOpenMetadataErrors checks that metadata that cannot be read, or
// contradicts itself, fails Open with an error naming the file and the
// problem.
func TestOpenMetadataErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		open  string // path opened, relative to the tree; "" for its root
		want  []string
	}{
		{"v2 not JSON", map[string]string{".zarray": `{"shape": [4,`}, "", []string{".zarray", "not valid .zarray JSON"}},
		{"v2 chunks rank", map[string]string{".zarray": zarray("chunks", "[2, 3]")}, "", []string{".zarray: chunks [2 3] has 2 dimensions, shape [4 6 8] has 3"}},
		{"v2 negative shape", map[string]string{".zarray": zarray("shape", "[4, -6, 8]")}, "", []string{"negative"}},
		{"v2 empty axis", map[string]string{".zarray": zarray("shape", "[4, 0, 8]")}, "", []string{"empty axis"}},
		{"v2 zero chunk", map[string]string{".zarray": zarray("chunks", "[2, 0, 4]")}, "", []string{"zero or negative"}},
		{"v2 absurd chunk", map[string]string{".zarray": zarray("chunks", "[4096, 4096, 4096]")}, "", []string{"GiB per chunk"}},
		{"v2 absurd shape", map[string]string{".zarray": zarray("shape", "[4611686018427387904, 4611686018427387904, 8]")}, "", []string{"absurd"}},
		{"v2 huge number", map[string]string{".zarray": zarray("shape", "[1e300, 6, 8]")}, "", []string{".zarray"}},
		{"v2 scalar", map[string]string{".zarray": zarray("shape", "[]")}, "", []string{"scalar"}},
		{"v2 no dtype", map[string]string{".zarray": zarray("dtype", "")}, "", []string{"no dtype"}},
		{"v2 complex", map[string]string{".zarray": zarray("dtype", `"<c8"`)}, "", []string{`"<c8"`, "complex"}},
		{"v2 text", map[string]string{".zarray": zarray("dtype", `"<U4"`)}, "", []string{"text"}},
		{"v2 unknown dtype", map[string]string{".zarray": zarray("dtype", `"<x3"`)}, "", []string{`"<x3"`, "not supported"}},
		{"v2 structured", map[string]string{".zarray": zarray("dtype", `[["a", "<u2"]]`)}, "", []string{".zarray", "dtype"}},
		{"v2 no byte order", map[string]string{".zarray": zarray("dtype", `"|u2"`)}, "", []string{"byte order"}},
		{"v2 order", map[string]string{".zarray": zarray("order", `"K"`)}, "", []string{`order "K"`}},
		{"v2 separator", map[string]string{".zarray": zarray("dimension_separator", `"-"`)}, "", []string{"dimension_separator"}},
		{"v2 compressor", map[string]string{".zarray": zarray("compressor", `{"id": "lzma"}`)}, "", []string{`compressor "lzma" is not supported`}},
		{"v2 compressor without id", map[string]string{".zarray": zarray("compressor", `{"level": 1}`)}, "", []string{"no id"}},
		{"v2 filters", map[string]string{".zarray": zarray("filters", `[{"id": "delta", "dtype": "<u2"}]`)}, "", []string{"filters", "delta"}},
		{"v2 fill out of range", map[string]string{".zarray": zarray("fill_value", "70000")}, "", []string{"fill_value 70000 is outside the range of uint16"}},
		{"v2 fill fraction", map[string]string{".zarray": zarray("fill_value", "1.5")}, "", []string{"fill_value 1.5"}},
		{"v2 fill NaN int", map[string]string{".zarray": zarray("fill_value", `"NaN"`)}, "", []string{`fill_value "NaN"`}},
		{"v2 zarr_format", map[string]string{".zarray": zarray("zarr_format", "3")}, "", []string{"zarr_format is 3"}},

		{"v3 chunks rank", map[string]string{"zarr.json": zarrJSON("[2, 3, 4]", "[2, 3]")}, "", []string{"zarr.json: chunk_shape [2 3] has 2 dimensions"}},
		{"v3 data type", map[string]string{"zarr.json": zarrJSON(`"uint16"`, `"complex64"`)}, "", []string{"complex"}},
		{"v3 raw bits", map[string]string{"zarr.json": zarrJSON(`"uint16"`, `"r16"`)}, "", []string{`"r16" is not supported`}},
		{"v3 negative shape", map[string]string{"zarr.json": zarrJSON("[4, 6, 8]", "[4, -6, 8]")}, "", []string{"negative"}},
		{"v3 absurd chunk", map[string]string{"zarr.json": zarrJSON("[2, 3, 4]", "[65536, 65536, 4]")}, "", []string{"GiB per chunk"}},
		{"v3 grid", map[string]string{"zarr.json": zarrJSON(`"regular"`, `"rectilinear"`)}, "", []string{`chunk_grid "rectilinear"`}},
		{"v3 key encoding", map[string]string{"zarr.json": zarrJSON(`"name": "default"`, `"name": "hash"`)}, "", []string{`chunk_key_encoding "hash"`}},
		{"v3 unknown codec", map[string]string{"zarr.json": zarrJSON(`"name": "bytes"`, `"name": "bitround"`)}, "", []string{`codec "bitround" is not supported`}},
		{"v3 no fill", map[string]string{"zarr.json": zarrJSON(`"fill_value": 0,`, ``)}, "", []string{"no fill_value"}},
		{"v3 endian", map[string]string{"zarr.json": zarrJSON(`"little"`, `"middle"`)}, "", []string{`endian "middle"`}},
		{"v3 no array-bytes codec", map[string]string{"zarr.json": zarrJSON(`[{"name": "bytes", "configuration": {"endian": "little"}}]`, `[{"name": "zstd"}]`)}, "", []string{"zstd comes before"}},
		{"v3 two compressors", map[string]string{"zarr.json": zarrJSON(`{"endian": "little"}}]`, `{"endian": "little"}}, {"name": "zstd"}, "gzip"]`)}, "", []string{"chains of compressors"}},
		{"v3 transpose order", map[string]string{"zarr.json": zarrJSON(`[{"name": "bytes"`, `[{"name": "transpose", "configuration": {"order": [0, 0, 1]}}, {"name": "bytes"`)}, "", []string{"not a permutation"}},
		{"v3 transpose rank", map[string]string{"zarr.json": zarrJSON(`[{"name": "bytes"`, `[{"name": "transpose", "configuration": {"order": [1, 0]}}, {"name": "bytes"`)}, "", []string{"has 2 axes"}},
		{"v3 storage transformer", map[string]string{"zarr.json": zarrJSON(`"fill_value": 0,`, `"fill_value": 0, "storage_transformers": [{"name": "offset"}],`)}, "", []string{"storage transformer"}},
		{"v3 node type", map[string]string{"zarr.json": zarrJSON(`"array"`, `"bag"`)}, "", []string{`node_type "bag"`}},
		{"v3 dimension names", map[string]string{"zarr.json": zarrJSON(`"fill_value": 0,`, `"fill_value": 0, "dimension_names": ["y", "x"],`)}, "", []string{"dimension_names has 2 names"}},
		{"v3 shard divides", map[string]string{"zarr.json": sharded("[2, 2, 4]", `[{"name": "bytes", "configuration": {"endian": "little"}}]`, "end")}, "", []string{"does not divide"}},
		{"v3 shard rank", map[string]string{"zarr.json": sharded("[2, 3]", `[{"name": "bytes", "configuration": {"endian": "little"}}]`, "end")}, "", []string{"chunk_shape [2 3] has 2 dimensions"}},
		{"v3 shard index codec", map[string]string{"zarr.json": sharded("[1, 3, 2]", `[{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}]`, "end")}, "", []string{"index_codecs", "fixed size"}},
		{"v3 shard location", map[string]string{"zarr.json": sharded("[1, 3, 2]", `[{"name": "bytes", "configuration": {"endian": "little"}}]`, "middle")}, "", []string{`index_location "middle"`}},

		{"n5 block rank", map[string]string{"attributes.json": n5Attrs("[4, 3, 2]", "[4, 3]")}, "", []string{"attributes.json: blockSize [4 3] has 2 dimensions, dimensions [8 6 4] has 3"}},
		{"n5 data type", map[string]string{"attributes.json": n5Attrs(`"uint16"`, `"complex64"`)}, "", []string{"complex"}},
		{"n5 float16", map[string]string{"attributes.json": n5Attrs(`"uint16"`, `"float16"`)}, "", []string{"not an N5 type"}},
		{"n5 compression", map[string]string{"attributes.json": n5Attrs(`"raw"`, `"bzip2"`)}, "", []string{`compression "bzip2" is not supported`}},
		{"n5 old compression", map[string]string{"attributes.json": `{"dimensions": [8, 6, 4], "blockSize": [4, 3, 2], "dataType": "uint16", "compressionType": "xz"}`}, "", []string{`compression "xz"`}},
		{"n5 negative", map[string]string{"attributes.json": n5Attrs("[8, 6, 4]", "[8, -6, 4]")}, "", []string{"dimensions [8 -6 4] has a negative extent"}},
		{"n5 absurd block", map[string]string{"attributes.json": n5Attrs("[4, 3, 2]", "[100000, 100000, 2]")}, "", []string{"GiB per chunk"}},
		{"n5 no block size", map[string]string{"attributes.json": `{"dimensions": [8, 6, 4], "dataType": "uint16"}`}, "", []string{"no blockSize"}},
		{"n5 empty group", map[string]string{"attributes.json": `{"n5": "2.0.0"}`}, "", []string{"N5 group without multiscales"}},

		{"ome axis order", omeGroup(ome(`[{"name": "x"}, {"name": "y"}, {"name": "z"}]`, `[{"path": "0", "coordinateTransformations": `+scale1+`}]`)), "", []string{"t, c, z, y, x in that order"}},
		{"ome unknown axis", omeGroup(ome(`[{"name": "q"}, {"name": "y"}, {"name": "x"}]`, `[{"path": "0"}]`)), "", []string{`"q"`}},
		{"ome axis type", omeGroup(ome(`[{"name": "z", "type": "channel"}, {"name": "y"}, {"name": "x"}]`, `[{"path": "0"}]`)), "", []string{`axis "z" has type "channel"`}},
		{"ome axes count", omeGroup(ome(`[{"name": "y"}, {"name": "x"}]`, `[{"path": "0"}]`)), "", []string{"level 0 (a.zarr/0) has 3 dimensions, the multiscale names 2 axes"}},
		{"ome scale length", omeGroup(ome(goodAxes, `[{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [4, 4]}]}]`)), "", []string{"scale [4 4] has 2 entries"}},
		{"ome transformation", omeGroup(ome(goodAxes, `[{"path": "0", "coordinateTransformations": [{"type": "affine"}]}]`)), "", []string{`"affine" is not supported`}},
		{"ome escaping path", omeGroup(ome(goodAxes, `[{"path": "../0"}]`)), "", []string{"not inside the group"}},
		{"ome missing level", omeGroup(ome(goodAxes, `[{"path": "0"}, {"path": "7"}]`)), "", []string{"level 1 (7)", "not a Zarr array"}},
		{"ome no datasets", omeGroup(`[{"axes": []}]`), "", []string{"no datasets"}},
		{"ome empty", omeGroup(`[]`), "", []string{"empty list"}},
		{"ome not a list", omeGroup(`{"datasets": []}`), "", []string{"multiscales"}},
		{"ome level contradicts", map[string]string{
			".zgroup": `{"zarr_format": 2}`, ".zattrs": `{"multiscales": ` + ome(goodAxes, `[{"path": "0"}, {"path": "1"}]`) + `}`,
			"0/.zarray": goodZarray, "1/.zarray": zarray("chunks", "[2]"),
		}, "", []string{"level 1 (1): .zarray: chunks [2] has 1 dimensions"}},
		{"group without multiscales", map[string]string{".zgroup": `{"zarr_format": 2}`, "a/.zarray": goodZarray}, "", []string{"without OME-Zarr multiscales", "(a)"}},
		{"6-D array", map[string]string{".zarray": strings.Replace(zarray("shape", "[1, 1, 1, 4, 6, 8]"), "[2, 3, 4]", "[1, 1, 1, 2, 3, 4]", 1)}, "", []string{"6-D array"}},
		{"1-D array", map[string]string{".zarray": strings.Replace(zarray("shape", "[4]"), "[2, 3, 4]", "[2]", 1)}, "", []string{"1-D array"}},
		{"not zarr", map[string]string{"readme.txt": "hello"}, "", []string{"not a Zarr array or group"}},
		{"a file", map[string]string{"x.zarr": "hello"}, "x.zarr", []string{"not a folder"}},
		{"missing", map[string]string{}, "nope.zarr", []string{"zarr: open ", "nope.zarr: no such file or directory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a.zarr")
			writeTree(t, dir, c.files)
			path := dir
			if c.open != "" {
				path = filepath.Join(filepath.Dir(dir), c.open)
				if _, ok := c.files[c.open]; ok {
					path = filepath.Join(dir, c.open)
				}
			}
			im, err := Open(path, Options{Cache: NewCache(1 << 20)})
			if err == nil {
				im.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "zarr: open ") {
				t.Errorf("error %q does not start with zarr: open", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}
