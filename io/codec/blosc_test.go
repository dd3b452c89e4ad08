package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

var bloscCompressorNames = []string{"blosclz", "lz4", "lz4hc", "zlib", "zstd"}

// bloscDataCase is one kind of chunk in the Blosc tests.
type bloscDataCase struct {
	name      string
	kind      string
	n         int
	blocksize int // 0: automatic
	level     int
}

// bloscDataCases covers whole and partial elements, frames below one
// block and below Blosc's 128-byte minimum (stored uncompressed), several
// forced blocks with a short last block whose element count is not a
// multiple of 8 (left unshuffled by the bit shuffle), automatic blocks of a
// 1 MiB chunk, and levels 0 (stored) and 9.
var bloscDataCases = []bloscDataCase{
	{"zeros", "zeros", 65536, 0, 5},
	{"ramp", "ramp", 40000, 0, 5},
	{"noise", "noise", 30000, 0, 5},
	{"partial-element", "ramp", 40003, 0, 5},
	{"tiny", "ramp", 96, 0, 5},
	{"one-block", "ramp", 1000, 0, 5},
	{"multi-block", "ramp", 50003, 4096, 5},
	{"multi-block-noise", "noise", 20000, 2048, 3},
	{"big", "ramp", 1 << 20, 0, 5},
	{"level0", "ramp", 5000, 0, 0},
	{"level9", "ramp", 70000, 0, 9},
}

// bloscCase is one cell of the interoperability table.
type bloscCase struct {
	name string
	opt  BloscOptions
	raw  []byte
}

// bloscCases is every compressor × shuffle × type size × data case.
func bloscCases() []bloscCase {
	var cases []bloscCase
	for _, cname := range bloscCompressorNames {
		for shuffle := 0; shuffle <= 2; shuffle++ {
			for _, ts := range []int{1, 2, 4, 8} {
				for _, d := range bloscDataCases {
					if d.name == "big" && (ts == 8 || shuffle == 0) {
						continue // keeps the table fast; big chunks are covered elsewhere
					}
					cases = append(cases, bloscCase{
						name: fmt.Sprintf("%s-s%d-t%d-%s", cname, shuffle, ts, d.name),
						opt:  BloscOptions{Compressor: cname, Level: d.level, Shuffle: shuffle, TypeSize: ts, BlockSize: d.blocksize},
						raw:  testData(d.kind, d.n),
					})
				}
			}
		}
	}
	// Type sizes outside 1, 2, 4, 8: odd, the largest that splits (16)
	// and one that never splits (32).
	for _, cname := range []string{"lz4", "zstd", "blosclz"} {
		for shuffle := 1; shuffle <= 2; shuffle++ {
			for _, ts := range []int{3, 16, 32} {
				cases = append(cases, bloscCase{
					name: fmt.Sprintf("%s-s%d-t%d-multi-block", cname, shuffle, ts),
					opt:  BloscOptions{Compressor: cname, Level: 5, Shuffle: shuffle, TypeSize: ts, BlockSize: 20000},
					raw:  testData("image", 100000+ts/2),
				})
			}
		}
	}
	return cases
}

// TestBloscNumcodecs checks both directions against numcodecs' Blosc
// (c-blosc 1.x): numcodecs' frames decode with BloscDecode to the raw
// bytes, BloscEncode's frames decode in numcodecs to the raw bytes, and
// BloscEncode's headers (block size, split flag, shuffle flags) equal
// numcodecs' for the same options.
func TestBloscNumcodecs(t *testing.T) {
	cases := bloscCases()
	py := make([]pyCase, len(cases))
	for i, c := range cases {
		enc, err := BloscEncode(c.raw, c.opt)
		if err != nil {
			t.Fatalf("%s: BloscEncode: %v", c.name, err)
		}
		py[i] = pyCase{
			Name: c.name,
			Codec: map[string]any{"id": "blosc", "cname": c.opt.Compressor, "clevel": c.opt.Level,
				"shuffle": c.opt.Shuffle, "blocksize": c.opt.BlockSize},
			TypeSize: c.opt.TypeSize, Go: true, raw: c.raw, goEnc: enc,
		}
	}
	results, encoded := runNumcodecs(t, py)
	for _, c := range py {
		t.Run(c.Name, func(t *testing.T) {
			r := results[c.Name]
			if r.DecodeError != "" || r.DecodedEqual == nil || !*r.DecodedEqual {
				t.Errorf("numcodecs decoding BloscEncode's frame: equal=%v error=%q", r.DecodedEqual, r.DecodeError)
			}
			if r.EncodeError != "" {
				t.Fatalf("numcodecs encode: %s", r.EncodeError)
			}
			ref := encoded[c.Name]
			got, err := BloscDecode(ref, len(c.raw))
			if err != nil {
				t.Fatalf("BloscDecode of numcodecs' frame (header % x): %v", ref[:min(16, len(ref))], err)
			}
			if !bytes.Equal(got, c.raw) {
				t.Fatalf("BloscDecode of numcodecs' frame (header % x) gave other bytes", ref[:16])
			}
			// Headers agree but for the cbytes and, as the
			// compressors differ, the stored-uncompressed flag.
			g, p := c.goEnc[:12], ref[:12]
			if g[0] != p[0] || g[2]&^bloscFlagMemcpyed != p[2]&^bloscFlagMemcpyed || !bytes.Equal(g[3:12], p[3:12]) {
				t.Errorf("header % x, numcodecs writes % x", g, p)
			}
		})
	}
}

func TestBloscRoundTrip(t *testing.T) {
	for _, c := range bloscCases() {
		t.Run(c.name, func(t *testing.T) {
			enc, err := BloscEncode(c.raw, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := BloscDecode(enc, len(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.raw) {
				t.Fatal("round trip changed the data")
			}
		})
	}
	// Type sizes beyond the interoperability table: odd ones, ones above
	// the 16 streams a block splits into, and the largest.
	for _, ts := range []int{3, 5, 12, 16, 17, 255} {
		for shuffle := 0; shuffle <= 2; shuffle++ {
			raw := testData("ramp", 100000+ts)
			opt := BloscOptions{Compressor: "lz4", Level: 5, Shuffle: shuffle, TypeSize: ts, BlockSize: 8192}
			enc, err := BloscEncode(raw, opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := BloscDecode(enc, len(raw))
			if err != nil || !bytes.Equal(got, raw) {
				t.Errorf("%+v: round trip failed: %v", opt, err)
			}
		}
	}
}

func TestBloscEncodeErrors(t *testing.T) {
	good := BloscOptions{Compressor: "zstd", Level: 5, Shuffle: 1, TypeSize: 2}
	for _, tc := range []struct {
		name   string
		change func(*BloscOptions)
		want   string
	}{
		{"unknown compressor", func(o *BloscOptions) { o.Compressor = "brotli" }, "unknown compressor"},
		{"snappy", func(o *BloscOptions) { o.Compressor = "snappy" }, "not supported"},
		{"level 10", func(o *BloscOptions) { o.Level = 10 }, "level"},
		{"level -1", func(o *BloscOptions) { o.Level = -1 }, "level"},
		{"shuffle 3", func(o *BloscOptions) { o.Shuffle = 3 }, "shuffle"},
		{"type size 0", func(o *BloscOptions) { o.TypeSize = 0 }, "type size"},
		{"type size 256", func(o *BloscOptions) { o.TypeSize = 256 }, "type size"},
		{"negative block size", func(o *BloscOptions) { o.BlockSize = -1 }, "block size"},
	} {
		o := good
		tc.change(&o)
		_, err := BloscEncode([]byte("some data"), o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

// corruptFrame returns a copy of frame changed by f.
func corruptFrame(frame []byte, f func([]byte) []byte) []byte {
	return f(bytes.Clone(frame))
}

// put32 sets the little-endian uint32 at i.
func put32(b []byte, i int, v uint32) []byte {
	binary.LittleEndian.PutUint32(b[i:], v)
	return b
}

func TestBloscDecodeCorrupt(t *testing.T) {
	raw := testData("ramp", 50003)
	frames := map[string][]byte{}
	for _, o := range []BloscOptions{
		{Compressor: "lz4", Level: 5, Shuffle: 1, TypeSize: 4, BlockSize: 4096},
		{Compressor: "zstd", Level: 5, Shuffle: 2, TypeSize: 2, BlockSize: 4096},
		{Compressor: "blosclz", Level: 5, Shuffle: 1, TypeSize: 2, BlockSize: 4096},
		{Compressor: "zlib", Level: 5, Shuffle: 0, TypeSize: 8, BlockSize: 4096},
		{Compressor: "lz4", Level: 0, Shuffle: 1, TypeSize: 4},
	} {
		enc, err := BloscEncode(raw, o)
		if err != nil {
			t.Fatal(err)
		}
		frames[fmt.Sprintf("%s-%d", o.Compressor, o.Level)] = enc
	}
	n := len(raw)
	for fname, frame := range frames {
		bs := int(binary.LittleEndian.Uint32(frame[8:]))
		nblocks := (n + bs - 1) / bs
		first := int(binary.LittleEndian.Uint32(frame[16:]))
		tests := []struct {
			name string
			src  []byte
			size int
			want string
		}{
			{"empty", nil, n, "shorter than the 16-byte header"},
			{"header only", frame[:16], n, "have 16"},
			{"truncated to 15", frame[:15], n, "header"},
			{"truncated to 20", frame[:20], n, ""},
			{"truncated by 1", frame[:len(frame)-1], n, ""},
			{"truncated to half", frame[:len(frame)/2], n, ""},
			{"size too small", frame, n - 1, "header says 50003 bytes, want 50002"},
			{"size too large", frame, n + 1, "want 50004"},
			{"size zero", frame, 0, "want 0"},
			{"negative size", frame, -5, "negative"},
			{"version 0", corruptFrame(frame, func(b []byte) []byte { b[0] = 0; return b }), n, "version"},
			{"version 3", corruptFrame(frame, func(b []byte) []byte { b[0] = 3; return b }), n, "version"},
			{"reserved flag", corruptFrame(frame, func(b []byte) []byte { b[2] |= 0x08; return b }), n, "reserved"},
			{"both shuffles", corruptFrame(frame, func(b []byte) []byte { b[2] |= 0x05; return b }), n, "Blosc 2"},
			{"type size 0", corruptFrame(frame, func(b []byte) []byte { b[3] = 0; return b }), n, "type size"},
			{"nbytes lies up", corruptFrame(frame, func(b []byte) []byte { return put32(b, 4, uint32(n+1)) }), n, "header says"},
			{"nbytes huge", corruptFrame(frame, func(b []byte) []byte { return put32(b, 4, 0xffffffff) }), n, "limit"},
			{"cbytes beyond input", corruptFrame(frame, func(b []byte) []byte { return put32(b, 12, uint32(len(b)+1)) }), n, "have"},
			{"cbytes below header", corruptFrame(frame, func(b []byte) []byte { return put32(b, 12, 15) }), n, "shorter than its header"},
			{"cbytes short", corruptFrame(frame, func(b []byte) []byte { return put32(b, 12, uint32(len(b)-10)) }), n, ""},
		}
		if frame[2]&bloscFlagMemcpyed == 0 {
			tests = append(tests, []struct {
				name string
				src  []byte
				size int
				want string
			}{
				{"blocksize 0", corruptFrame(frame, func(b []byte) []byte { return put32(b, 8, 0) }), n, "block size is 0"},
				{"blocksize 1", corruptFrame(frame, func(b []byte) []byte { return put32(b, 8, 1) }), n, "offset table"},
				{"blocksize smaller", corruptFrame(frame, func(b []byte) []byte { return put32(b, 8, 2048) }), n, ""},
				{"blocksize larger", corruptFrame(frame, func(b []byte) []byte { return put32(b, 8, 8192) }), n, ""},
				{"blocksize huge", corruptFrame(frame, func(b []byte) []byte { return put32(b, 8, 0xffffffff) }), n, ""},
				{"bstart zero", corruptFrame(frame, func(b []byte) []byte { return put32(b, 16, 0) }), n, "outside"},
				{"bstart in table", corruptFrame(frame, func(b []byte) []byte { return put32(b, 16, uint32(16+4*nblocks-1)) }), n, "outside"},
				{"bstart past end", corruptFrame(frame, func(b []byte) []byte { return put32(b, 16+4*(nblocks-1), uint32(len(b))) }), n, "outside"},
				{"bstart last byte", corruptFrame(frame, func(b []byte) []byte { return put32(b, 16+4*(nblocks-1), uint32(len(b)-1)) }), n, "outside"},
				{"bstart last 4 bytes", corruptFrame(frame, func(b []byte) []byte { return put32(b, 16+4*(nblocks-1), uint32(len(b)-4)) }), n, ""},
				{"stream length negative", corruptFrame(frame, func(b []byte) []byte { return put32(b, first, 0xfffffff0) }), n, "runs past"},
				{"stream length huge", corruptFrame(frame, func(b []byte) []byte { return put32(b, first, 1<<30) }), n, "runs past"},
				{"stream length short", corruptFrame(frame, func(b []byte) []byte { return put32(b, first, binary.LittleEndian.Uint32(b[first:])-1) }), n, ""},
				{"stream garbage", corruptFrame(frame, func(b []byte) []byte {
					for i := first + 4; i < first+24; i++ {
						b[i] ^= 0x5a
					}
					return b
				}), n, ""},
				{"snappy", corruptFrame(frame, func(b []byte) []byte { b[2] = b[2]&0x1f | bloscSnappy<<5; return b }), n, "not supported"},
				{"compressor 6", corruptFrame(frame, func(b []byte) []byte { b[2] = b[2]&0x1f | 6<<5; return b }), n, "unknown compressor"},
				{"split flag flipped", corruptFrame(frame, func(b []byte) []byte { b[2] ^= bloscFlagDontSplit; return b }), n, ""},
			}...)
		} else {
			tests = append(tests, struct {
				name string
				src  []byte
				size int
				want string
			}{"stored frame short", corruptFrame(frame, func(b []byte) []byte { return put32(b, 12, uint32(len(b)-1)) }), n, "uncompressed frame"})
		}
		for _, tc := range tests {
			t.Run(fname+"/"+tc.name, func(t *testing.T) {
				got, err := BloscDecode(tc.src, tc.size)
				if err == nil {
					if tc.name == "split flag flipped" && bytes.Equal(got, raw) {
						return // blocks whose streams are all stored read the same either way
					}
					t.Fatalf("no error; decoded %d bytes", len(got))
				}
				if !strings.HasPrefix(err.Error(), "codec: blosc: ") || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q, want the prefix \"codec: blosc: \" and %q", err, tc.want)
				}
				if strings.Contains(tc.want, "not supported") && !errors.Is(err, ErrUnsupported) {
					t.Errorf("error %q does not wrap ErrUnsupported", err)
				}
			})
		}
	}
}

// TestBloscDecodeAllocBound checks that frames whose headers claim far
// more data than they hold are rejected without allocating the claimed
// size.
func TestBloscDecodeAllocBound(t *testing.T) {
	const size = 256 << 20
	header := func(flags byte, blocksize, cbytes uint32) []byte {
		b := make([]byte, 64)
		b[0], b[1], b[2], b[3] = 2, 1, flags, 4
		put32(b, 4, size)
		put32(b, 8, blocksize)
		put32(b, 12, cbytes)
		return b
	}
	for _, tc := range []struct {
		name string
		src  []byte
	}{
		{"stored", header(bloscFlagMemcpyed, size, 64)},
		{"tiny blocks", header(bloscLZ4<<5, 1, 64)},
		{"one block, short table", header(bloscZstd<<5, size, 64)},
		{"one block, stream too long", func() []byte {
			b := header(bloscZstd<<5|bloscFlagDontSplit, size, 64)
			put32(b, 16, 20)
			put32(b, 20, 1000)
			return b
		}()},
		{"one block, too little data", func() []byte {
			b := header(bloscZstd<<5|bloscFlagDontSplit, size, 64)
			put32(b, 16, 20)
			put32(b, 20, 40)
			return b
		}()},
		{"many blocks, too little data", func() []byte {
			b := make([]byte, 16+4*64+64*8)
			copy(b, header(bloscLZ4<<5, size/64, uint32(len(b))))
			for j := range 64 {
				put32(b, 16+4*j, uint32(16+4*64+8*j))
				put32(b, 16+4*64+8*j, 4)
			}
			return b
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := BloscDecode(tc.src, size)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("no error")
			}
			const limit = 1 << 20
			if grew := after.TotalAlloc - before.TotalAlloc; grew > limit {
				t.Errorf("allocated %d bytes", grew)
			}
		})
	}
}

// TestBloscStoredFrames checks frames whose blocks or streams are stored:
// nbytes 0, frames stored whole, and streams stored within a compressed
// frame (noise that the compressor cannot shrink).
func TestBloscStoredFrames(t *testing.T) {
	empty, err := BloscEncode(nil, BloscOptions{Compressor: "lz4", Level: 5, Shuffle: 1, TypeSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := BloscDecode(empty, 0); err != nil || len(got) != 0 {
		t.Errorf("empty frame: %v, %d bytes", err, len(got))
	}
	noise := testData("noise", 100000)
	enc, err := BloscEncode(noise, BloscOptions{Compressor: "zstd", Level: 5, TypeSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if enc[2]&bloscFlagMemcpyed == 0 {
		t.Errorf("incompressible data not stored uncompressed: flags 0x%02x", enc[2])
	}
	if len(enc) != len(noise)+16 {
		t.Errorf("stored frame is %d bytes, want %d", len(enc), len(noise)+16)
	}
	if got, err := BloscDecode(enc, len(noise)); err != nil || !bytes.Equal(got, noise) {
		t.Errorf("stored frame: %v", err)
	}
	// Half noise, half zeros: the noise streams are stored, the others
	// compressed.
	mixed := append(testData("noise", 65536), make([]byte, 65536)...)
	enc, err = BloscEncode(mixed, BloscOptions{Compressor: "lz4", Level: 5, Shuffle: 1, TypeSize: 2, BlockSize: 8192})
	if err != nil {
		t.Fatal(err)
	}
	if enc[2]&bloscFlagMemcpyed != 0 {
		t.Fatal("mixed data stored whole")
	}
	if got, err := BloscDecode(enc, len(mixed)); err != nil || !bytes.Equal(got, mixed) {
		t.Errorf("mixed frame: %v", err)
	}
}

func TestBlosclzDecompressCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  []byte
		n    int
		want error
	}{
		{"empty", nil, 4, errBlosclzTruncated},
		{"literal past input", []byte{5, 1, 2}, 6, errBlosclzTruncated},
		{"literal past output", []byte{5, 1, 2, 3, 4, 5, 6}, 4, errBlosclzOverrun},
		{"match before start", []byte{0, 'a', 0x20, 5, 0, 'b'}, 10, errBlosclzDistance},
		{"match past output", []byte{0, 'a', 0xe0, 200, 0, 0, 'b'}, 20, errBlosclzOverrun},
		{"match last", []byte{0, 'a', 0x20, 0}, 10, errBlosclzTruncated},
		{"long length cut", []byte{0, 'a', 0xe0, 255}, 1000, errBlosclzTruncated},
		{"far distance cut", []byte{0, 'a', 0x3f, 255, 0}, 1000, errBlosclzTruncated},
	} {
		dst := make([]byte, tc.n)
		_, err := blosclzDecompress(tc.src, dst)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	// A run: literal 'a', then a match of 9 at distance 1, then a literal.
	dst := make([]byte, 11)
	n, err := blosclzDecompress([]byte{0, 'a', 0xe0, 0, 0, 0, 'b'}, dst)
	if err != nil || n != 11 || string(dst) != "aaaaaaaaaab" {
		t.Errorf("run: %d bytes %q, %v", n, dst, err)
	}
}

func TestBlosclzRoundTrip(t *testing.T) {
	htab := make([]int32, 1<<blosclzHashLog)
	for _, d := range []struct {
		kind string
		n    int
	}{{"zeros", 1}, {"zeros", 13}, {"zeros", 100000}, {"ramp", 5000}, {"noise", 3000}, {"ramp", 300000}} {
		raw := testData(d.kind, d.n)
		// A far match: the same noise twice, 20000 bytes apart.
		if d.kind == "noise" {
			raw = append(append(raw, make([]byte, 17000)...), raw...)
		}
		enc := blosclzCompress(raw, nil, htab)
		got := make([]byte, len(raw))
		n, err := blosclzDecompress(enc, got)
		if err != nil || n != len(raw) || !bytes.Equal(got, raw) {
			t.Errorf("%s %d: round trip failed: %v (%d bytes)", d.kind, len(raw), err, n)
		}
	}
}
