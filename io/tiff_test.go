package volio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/volume"
)

// ---- a small TIFF builder for fixtures -------------------------------------

// fixTag is one IFD entry of a fixture: integer or rational values (vals)
// or raw bytes (ASCII).
type fixTag struct {
	tag, typ uint16
	vals     []uint64
	raw      []byte
}

// tifOrder is a byte order that can also append (binary.LittleEndian or
// binary.BigEndian).
type tifOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// fixture describes a TIFF file to build: every combination of byte order,
// classic/BigTIFF, sample type, compression, predictor and strip/tile
// layout the reader supports.
type fixture struct {
	order       tifOrder // default little-endian
	big         bool
	w, h, z     int
	bps, format int // default 16-bit unsigned
	comp, pred  int // default uncompressed, no predictor
	rps         int // rows per strip; 0: one strip per page
	tile        int // square tile side; 0: strips
	desc        string
	xres, yres  [2]uint32
	resUnit     int
	spp, photo  int // default 1 sample, BlackIsZero
	extra       []fixTag
	noCounts    bool
	// sample returns the raw bits of the sample at (z, y, x); default
	// tifSample.
	sample func(z, y, x int) uint64
}

// tifSample is the default test pattern: runs (for PackBits and LZW) on the
// left, varying values elsewhere. It returns the raw bits for the type and
// the value the reader must produce.
func tifSample(bps, format, z, y, x int) (uint64, float64) {
	base := z*1000 + y*37 + x*11
	if x < 5 {
		base = z * 7
	}
	switch {
	case bps == 8 && format == fmtInt:
		v := int8(base)
		return uint64(uint8(v)), float64(v)
	case bps == 8:
		return uint64(uint8(base)), float64(uint8(base))
	case bps == 16 && format == fmtInt:
		v := int16(base*13 - 20000)
		return uint64(uint16(v)), float64(v)
	case bps == 16 && format == fmtFloat:
		v := float32(base%200-100) * 0.25
		return uint64(tifHalfBits(v)), float64(v)
	case bps == 16:
		v := uint16(base * 13)
		return uint64(v), float64(v)
	case bps == 32 && format == fmtInt:
		v := int32(base*100003 - 1<<30)
		return uint64(uint32(v)), float64(float32(v))
	case bps == 32 && format == fmtFloat:
		v := float32(base)*0.37 - 3
		return uint64(math.Float32bits(v)), float64(v)
	case bps == 32:
		v := uint32(base * 100003)
		return uint64(v), float64(float32(v))
	case bps == 64:
		v := float64(base)*0.37 - 3
		return math.Float64bits(v), v
	}
	return uint64(base), float64(base)
}

// tifHalfBits encodes a float32 that is exactly representable as a normal
// half-precision number (or zero).
func tifHalfBits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	if f == 0 {
		return sign
	}
	exp := int(b>>23&0xff) - 127 + 15
	return sign | uint16(exp)<<10 | uint16(b>>13)&0x3ff
}

func (f fixture) defaults() fixture {
	if f.order == nil {
		f.order = binary.LittleEndian
	}
	if f.w == 0 {
		f.w, f.h = 37, 23
	}
	if f.z == 0 {
		f.z = 3
	}
	if f.bps == 0 {
		f.bps = 16
	}
	if f.format == 0 {
		f.format = fmtUint
	}
	if f.comp == 0 {
		f.comp = compNone
	}
	if f.spp == 0 {
		f.spp = 1
	}
	if f.photo == 0 {
		f.photo = photoBlackIsZ
	}
	if f.sample == nil {
		bps, format := f.bps, f.format
		f.sample = func(z, y, x int) uint64 { b, _ := tifSample(bps, format, z, y, x); return b }
	}
	return f
}

func tifPutBits(o binary.ByteOrder, b []byte, bps int, v uint64) {
	switch bps {
	case 8:
		b[0] = byte(v)
	case 16:
		o.PutUint16(b, uint16(v))
	case 32:
		o.PutUint32(b, uint32(v))
	case 64:
		o.PutUint64(b, v)
	}
}

// encodeChunk predicts and compresses one strip or tile.
func (f fixture) encodeChunk(z, y0, x0, cw, ch int) []byte {
	B := f.bps / 8 * f.spp
	var raw []byte
	for r := 0; r < ch; r++ {
		row := make([]byte, cw*B)
		for c := 0; c < cw; c++ {
			y, x := y0+r, x0+c
			if y < f.h && x < f.w {
				for s := 0; s < f.spp; s++ {
					tifPutBits(f.order, row[c*B+s*f.bps/8:], f.bps, f.sample(z, y, x))
				}
			}
		}
		switch f.pred {
		case predHorizontal:
			n := f.bps / 8
			for i := len(row)/n - 1; i > 0; i-- {
				var cur, prev uint64
				switch n {
				case 1:
					cur, prev = uint64(row[i]), uint64(row[i-1])
				case 2:
					cur, prev = uint64(f.order.Uint16(row[2*i:])), uint64(f.order.Uint16(row[2*i-2:]))
				case 4:
					cur, prev = uint64(f.order.Uint32(row[4*i:])), uint64(f.order.Uint32(row[4*i-4:]))
				case 8:
					cur, prev = f.order.Uint64(row[8*i:]), f.order.Uint64(row[8*i-8:])
				}
				tifPutBits(f.order, row[n*i:], f.bps, cur-prev)
			}
		case predFloatingPt:
			n := f.bps / 8
			w := len(row) / n
			sh := make([]byte, len(row))
			for i := 0; i < w; i++ {
				for k := 0; k < n; k++ { // k = 0 is the most significant byte
					src := i*n + k
					if f.order == binary.ByteOrder(binary.LittleEndian) {
						src = i*n + n - 1 - k
					}
					sh[k*w+i] = row[src]
				}
			}
			for i := len(sh) - 1; i > 0; i-- {
				sh[i] -= sh[i-1]
			}
			row = sh
		}
		raw = append(raw, row...)
	}
	switch f.comp {
	case compLZW:
		return tifLZW(raw)
	case compDeflate, compDeflateOld:
		var b bytes.Buffer
		zw := zlib.NewWriter(&b)
		zw.Write(raw)
		zw.Close()
		return b.Bytes()
	case compPackBits:
		return tifPackBits(raw)
	}
	return raw
}

// tifLZW compresses src with TIFF's LZW (MSB first, early code-width change).
func tifLZW(src []byte) []byte {
	var out []byte
	var acc uint32
	var nbits, width uint
	put := func(code int) {
		acc = acc<<width | uint32(code)
		nbits += width
		for nbits >= 8 {
			out = append(out, byte(acc>>(nbits-8)))
			nbits -= 8
		}
		acc &= 1<<nbits - 1
	}
	dict := map[int]int{}
	hi := 0
	width = 9
	reset := func() { width, hi = 9, 257; clear(dict) }
	grow := func() {
		hi++
		if hi+1 >= 1<<width && width < 12 {
			width++
		}
	}
	put(256)
	reset()
	prefix := -1
	for _, c := range src {
		if prefix < 0 {
			prefix = int(c)
			continue
		}
		if code, ok := dict[prefix<<8|int(c)]; ok {
			prefix = code
			continue
		}
		put(prefix)
		grow()
		dict[prefix<<8|int(c)] = hi
		prefix = int(c)
		if hi >= 4093 {
			put(256)
			reset()
		}
	}
	if prefix >= 0 {
		put(prefix)
		grow()
	}
	put(257)
	if nbits > 0 {
		out = append(out, byte(acc<<(8-nbits)))
	}
	return out
}

// tifPackBits compresses src with PackBits.
func tifPackBits(src []byte) []byte {
	var out []byte
	for i := 0; i < len(src); {
		j := i + 1
		for j < len(src) && src[j] == src[i] && j-i < 128 {
			j++
		}
		if j-i >= 3 {
			out = append(out, byte(int8(1-(j-i))), src[i])
			i = j
			continue
		}
		k := i
		for k < len(src) && k-i < 128 {
			if k+2 < len(src) && src[k] == src[k+1] && src[k] == src[k+2] {
				break
			}
			k++
		}
		out = append(out, byte(k-i-1))
		out = append(out, src[i:k]...)
		i = k
	}
	return out
}

// tifIFD encodes an IFD at off (entries sorted by tag) with out-of-line
// values after the entries.
func tifIFD(o tifOrder, big bool, tags []fixTag, off, next int) []byte {
	sort.Slice(tags, func(i, j int) bool { return tags[i].tag < tags[j].tag })
	entry, cnt, inline := 12, 2, 4
	if big {
		entry, cnt, inline = 20, 8, 8
	}
	extra := off + cnt + len(tags)*entry + inline
	var b, tail []byte
	if big {
		b = o.AppendUint64(b, uint64(len(tags)))
	} else {
		b = o.AppendUint16(b, uint16(len(tags)))
	}
	for _, t := range tags {
		var data []byte
		count := uint64(len(t.vals))
		switch t.typ {
		case tASCII, tUndefined:
			data, count = t.raw, uint64(len(t.raw))
		case tByte:
			for _, v := range t.vals {
				data = append(data, byte(v))
			}
		case tShort:
			for _, v := range t.vals {
				data = o.AppendUint16(data, uint16(v))
			}
		case tLong, tIFD:
			for _, v := range t.vals {
				data = o.AppendUint32(data, uint32(v))
			}
		case tRational:
			for _, v := range t.vals {
				data = o.AppendUint32(data, uint32(v))
			}
			count /= 2
		default:
			for _, v := range t.vals {
				data = o.AppendUint64(data, v)
			}
		}
		b = o.AppendUint16(b, t.tag)
		b = o.AppendUint16(b, t.typ)
		if big {
			b = o.AppendUint64(b, count)
		} else {
			b = o.AppendUint32(b, uint32(count))
		}
		field := make([]byte, inline)
		if len(data) <= inline {
			copy(field, data)
		} else {
			pos := uint64(extra + len(tail))
			if big {
				o.PutUint64(field, pos)
			} else {
				o.PutUint32(field, uint32(pos))
			}
			tail = append(tail, data...)
			if len(tail)%2 == 1 {
				tail = append(tail, 0)
			}
		}
		b = append(b, field...)
	}
	if big {
		b = o.AppendUint64(b, uint64(next))
	} else {
		b = o.AppendUint32(b, uint32(next))
	}
	return append(b, tail...)
}

// build returns the bytes of the fixture: header, pixel data, then one IFD
// per page.
func (f fixture) build() []byte {
	f = f.defaults()
	o := f.order
	var buf []byte
	if o == binary.ByteOrder(binary.BigEndian) {
		buf = append(buf, 'M', 'M')
	} else {
		buf = append(buf, 'I', 'I')
	}
	if f.big {
		buf = o.AppendUint16(buf, 43)
		buf = o.AppendUint16(buf, 8)
		buf = o.AppendUint16(buf, 0)
		buf = o.AppendUint64(buf, 0) // patched below
	} else {
		buf = o.AppendUint16(buf, 42)
		buf = o.AppendUint32(buf, 0)
	}
	offType := uint16(tLong)
	if f.big {
		offType = tLong8
	}
	var pages [][]fixTag
	for z := 0; z < f.z; z++ {
		var offs, counts []uint64
		cw, ch := f.w, f.rps
		if ch == 0 {
			ch = f.h
		}
		if f.tile > 0 {
			cw, ch = f.tile, f.tile
		}
		for y0 := 0; y0 < f.h; y0 += ch {
			for x0 := 0; x0 < f.w; x0 += cw {
				rows := ch
				if f.tile == 0 {
					rows = min(ch, f.h-y0)
				}
				c := f.encodeChunk(z, y0, x0, cw, rows)
				offs = append(offs, uint64(len(buf)))
				counts = append(counts, uint64(len(c)))
				buf = append(buf, c...)
				if len(buf)%2 == 1 {
					buf = append(buf, 0)
				}
			}
		}
		bpsVals := make([]uint64, f.spp)
		for i := range bpsVals {
			bpsVals[i] = uint64(f.bps)
		}
		tags := []fixTag{
			{tag: tagImageWidth, typ: tLong, vals: []uint64{uint64(f.w)}},
			{tag: tagImageLength, typ: tLong, vals: []uint64{uint64(f.h)}},
			{tag: tagBitsPerSample, typ: tShort, vals: bpsVals},
			{tag: tagCompression, typ: tShort, vals: []uint64{uint64(f.comp)}},
			{tag: tagPhotometric, typ: tShort, vals: []uint64{uint64(f.photo)}},
			{tag: tagSamplesPerPixel, typ: tShort, vals: []uint64{uint64(f.spp)}},
			{tag: tagSampleFormat, typ: tShort, vals: []uint64{uint64(f.format)}},
		}
		offTag, countTag := uint16(tagStripOffsets), uint16(tagStripByteCounts)
		if f.tile > 0 {
			offTag, countTag = tagTileOffsets, tagTileByteCounts
			tags = append(tags,
				fixTag{tag: tagTileWidth, typ: tShort, vals: []uint64{uint64(f.tile)}},
				fixTag{tag: tagTileLength, typ: tShort, vals: []uint64{uint64(f.tile)}})
		} else {
			tags = append(tags, fixTag{tag: tagRowsPerStrip, typ: tLong, vals: []uint64{uint64(ch)}})
		}
		tags = append(tags, fixTag{tag: offTag, typ: offType, vals: offs})
		if !f.noCounts {
			tags = append(tags, fixTag{tag: countTag, typ: offType, vals: counts})
		}
		if f.pred != 0 {
			tags = append(tags, fixTag{tag: tagPredictor, typ: tShort, vals: []uint64{uint64(f.pred)}})
		}
		if z == 0 && f.desc != "" {
			tags = append(tags, fixTag{tag: tagImageDescription, typ: tASCII, raw: append([]byte(f.desc), 0)})
		}
		if f.xres[1] != 0 {
			tags = append(tags, fixTag{tag: tagXResolution, typ: tRational, vals: []uint64{uint64(f.xres[0]), uint64(f.xres[1])}})
		}
		if f.yres[1] != 0 {
			tags = append(tags, fixTag{tag: tagYResolution, typ: tRational, vals: []uint64{uint64(f.yres[0]), uint64(f.yres[1])}})
		}
		if f.resUnit != 0 {
			tags = append(tags, fixTag{tag: tagResolutionUnit, typ: tShort, vals: []uint64{uint64(f.resUnit)}})
		}
		for _, e := range f.extra {
			replaced := false
			for i := range tags {
				if tags[i].tag == e.tag {
					tags[i], replaced = e, true
				}
			}
			if !replaced {
				tags = append(tags, e)
			}
		}
		pages = append(pages, tags)
	}
	// Lay out the IFDs one after another.
	offsets := make([]int, len(pages)+1)
	offsets[0] = len(buf)
	for i, tags := range pages {
		offsets[i+1] = offsets[i] + len(tifIFD(o, f.big, tags, offsets[i], 0))
	}
	for i, tags := range pages {
		next := 0
		if i+1 < len(pages) {
			next = offsets[i+1]
		}
		buf = append(buf, tifIFD(o, f.big, tags, offsets[i], next)...)
	}
	if f.big {
		o.PutUint64(buf[8:], uint64(offsets[0]))
	} else {
		o.PutUint32(buf[4:], uint32(offsets[0]))
	}
	return buf
}

func tifTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkPattern compares v with the fixture's default pattern.
func checkPattern(t *testing.T, v *volume.Volume, f fixture) {
	t.Helper()
	f = f.defaults()
	if got, want := v.Shape(), (volume.Shape{Z: f.z, Y: f.h, X: f.w}); got != want {
		t.Fatalf("shape %v, want %v", got, want)
	}
	for z := 0; z < f.z; z++ {
		for y := 0; y < f.h; y++ {
			for x := 0; x < f.w; x++ {
				_, want := tifSample(f.bps, f.format, z, y, x)
				if got := v.At(z, y, x); got != want {
					t.Fatalf("(z=%d,y=%d,x=%d) = %v, want %v", z, y, x, got, want)
				}
			}
		}
	}
}

// ---- reading ---------------------------------------------------------------

func TestTIFFReadMatrix(t *testing.T) {
	types := []struct {
		name        string
		bps, format int
		want        volume.DType
	}{
		{"u8", 8, fmtUint, volume.Uint8},
		{"i8", 8, fmtInt, volume.Int16},
		{"u16", 16, fmtUint, volume.Uint16},
		{"i16", 16, fmtInt, volume.Int16},
		{"f16", 16, fmtFloat, volume.Float32},
		{"u32", 32, fmtUint, volume.Float32},
		{"i32", 32, fmtInt, volume.Float32},
		{"f32", 32, fmtFloat, volume.Float32},
		{"f64", 64, fmtFloat, volume.Float64},
	}
	comps := []struct {
		name string
		comp int
	}{
		{"raw", compNone}, {"lzw", compLZW}, {"deflate", compDeflate}, {"zip", compDeflateOld}, {"packbits", compPackBits},
	}
	layouts := []struct {
		name      string
		rps, tile int
	}{
		{"strip", 0, 0}, {"rps3", 3, 0}, {"tile16", 0, 16},
	}
	files := []struct {
		name  string
		order tifOrder
		big   bool
	}{
		{"II", binary.LittleEndian, false}, {"MM", binary.BigEndian, false},
		{"II-big", binary.LittleEndian, true}, {"MM-big", binary.BigEndian, true},
	}
	n := 0
	for _, ty := range types {
		for _, c := range comps {
			for li, l := range layouts {
				for _, fl := range files {
					// Predictors only mean something with LZW and Deflate.
					pred := 0
					if c.comp == compLZW || c.comp == compDeflate || c.comp == compDeflateOld {
						switch {
						case li == 1:
							pred = predHorizontal
						case li == 2 && ty.format == fmtFloat:
							pred = predFloatingPt
						case li == 2:
							pred = predHorizontal
						}
					}
					f := fixture{order: fl.order, big: fl.big, bps: ty.bps, format: ty.format, comp: c.comp, pred: pred, rps: l.rps, tile: l.tile}
					name := fmt.Sprintf("%s/%s/%s/pred%d/%s", ty.name, c.name, l.name, pred, fl.name)
					n++
					t.Run(name, func(t *testing.T) {
						p := tifTemp(t, "x.tif", f.build())
						v, err := readTIFF(p)
						if err != nil {
							t.Fatal(err)
						}
						if v.DType() != ty.want {
							t.Fatalf("dtype %v, want %v", v.DType(), ty.want)
						}
						checkPattern(t, v, f)
						info, err := inspectTIFF(p)
						if err != nil {
							t.Fatal(err)
						}
						if info.Shape != v.Shape() || info.DType != v.DType() || info.Format != TIFF {
							t.Fatalf("inspect says %v %v, read gave %v %v", info.Shape, info.DType, v.Shape(), v.DType())
						}
						if fl.big != strings.Contains(info.Detail, "BigTIFF") {
							t.Errorf("detail %q", info.Detail)
						}
						if !strings.Contains(info.Detail, compressionName(c.comp)) {
							t.Errorf("detail %q does not name the compression", info.Detail)
						}
					})
				}
			}
		}
	}
	t.Logf("%d combinations", n)
}

func TestTIFFLZWLong(t *testing.T) {
	// Enough varied data to pass 4096 codes, exercising width changes and
	// clear codes in both the test encoder and the reader.
	f := fixture{w: 300, h: 200, z: 2, bps: 8, comp: compLZW, sample: func(z, y, x int) uint64 {
		return uint64((x*x + y*7 + z + x*y/5) % 256)
	}}
	v, err := readTIFF(tifTemp(t, "lzw.tif", f.build()))
	if err != nil {
		t.Fatal(err)
	}
	d := v.Data().([]uint8)
	for i, got := range d {
		z, y, x := i/(300*200), i/300%200, i%300
		if want := uint8((x*x + y*7 + z + x*y/5) % 256); got != want {
			t.Fatalf("(%d,%d,%d) = %d, want %d", z, y, x, got, want)
		}
	}
}

func TestTIFFWhiteIsZero(t *testing.T) {
	f := fixture{bps: 8, z: 1, sample: func(z, y, x int) uint64 { return uint64(x) },
		extra: []fixTag{{tag: tagPhotometric, typ: tShort, vals: []uint64{photoWhiteIsZ}}}}
	p := tifTemp(t, "w.tif", f.build())
	v, err := readTIFF(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.At(0, 0, 3); got != 252 {
		t.Errorf("inverted value %v, want 252", got)
	}
	info, _ := inspectTIFF(p)
	if !strings.Contains(info.Detail, "WhiteIsZero") {
		t.Errorf("detail %q", info.Detail)
	}
}

func TestTIFFSkipsReducedResolution(t *testing.T) {
	// Every page carries NewSubfileType=1 (reduced resolution): the reader
	// keeps page 0 and skips later reduced-resolution pages.
	f := fixture{z: 2, extra: []fixTag{{tag: tagNewSubfileType, typ: tLong, vals: []uint64{1}}}}
	info, err := inspectTIFF(tifTemp(t, "b.tif", f.build()))
	if err != nil {
		t.Fatal(err)
	}
	if info.Shape.Z != 1 || !strings.Contains(info.Detail, "skipped") {
		t.Errorf("%v %q", info.Shape, info.Detail)
	}
}

func TestTIFFMissingByteCounts(t *testing.T) {
	f := fixture{noCounts: true}
	v, err := readTIFF(tifTemp(t, "n.tif", f.build()))
	if err != nil {
		t.Fatal(err)
	}
	checkPattern(t, v, f)
	// Compressed and one strip: the decoder stops when the strip is full.
	f = fixture{noCounts: true, comp: compDeflate}
	if v, err = readTIFF(tifTemp(t, "n2.tif", f.build())); err != nil {
		t.Fatal(err)
	}
	checkPattern(t, v, f)
}

func TestTIFFHalfFloat(t *testing.T) {
	for h, want := range map[uint16]float32{
		0x0000: 0, 0x8000: float32(math.Copysign(0, -1)), 0x3c00: 1, 0xc000: -2, 0x7bff: 65504,
		0x0001: 1.0 / (1 << 24), 0x0400: 1.0 / (1 << 14), 0x3555: 0.333251953125,
	} {
		if got := halfToFloat32(h); got != want || math.Signbit(float64(got)) != math.Signbit(float64(want)) {
			t.Errorf("half %#04x = %v, want %v", h, got, want)
		}
	}
	if !math.IsInf(float64(halfToFloat32(0x7c00)), 1) || !math.IsNaN(float64(halfToFloat32(0x7e00))) {
		t.Error("half inf/nan")
	}
}

func TestTIFFVoxelMetadata(t *testing.T) {
	const ome = `<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SizeX="37" SizeY="23" SizeC="1" SizeZ="3" SizeT="1" PhysicalSizeX="0.004" PhysicalSizeY="0.004" PhysicalSizeZ="50" PhysicalSizeZUnit="nm"><TiffData/></Pixels></Image></OME>`
	cases := []struct {
		name          string
		f             fixture
		want          volume.Voxel
		detail, notIn string
	}{
		{"imagej micron", fixture{desc: "ImageJ=1.53t\nimages=3\nslices=3\nunit=micron\nspacing=0.5\nloop=false\n", xres: [2]uint32{10, 1}, yres: [2]uint32{10, 1}},
			volume.Voxel{Z: 0.5, Y: 0.1, X: 0.1, Unit: "µm", Known: true}, "ImageJ", ""},
		{"imagej escaped µ", fixture{desc: "ImageJ=1.53t\nunit=\\u00B5m\nspacing=2\n", xres: [2]uint32{4, 1}, yres: [2]uint32{4, 1}},
			volume.Voxel{Z: 2, Y: 0.25, X: 0.25, Unit: "µm", Known: true}, "ImageJ", ""},
		{"imagej nm", fixture{desc: "ImageJ=1.11a\nimages=3\nslices=3\nunit=nm\nspacing=50\n", xres: [2]uint32{1, 4}, yres: [2]uint32{1, 4}},
			volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true}, "ImageJ", ""},
		{"imagej no spacing", fixture{desc: "ImageJ=1.11a\nunit=nm\n", xres: [2]uint32{1, 4}, yres: [2]uint32{1, 4}},
			volume.Voxel{Z: 1, Y: 4, X: 4, Unit: "nm", Known: true}, "z size 1", ""},
		{"imagej no unit", fixture{desc: "ImageJ=1.11a\nspacing=2\n"},
			volume.Voxel{Z: 2, Y: 1, X: 1, Unit: "", Known: true}, "ImageJ", ""},
		{"imagej uncalibrated", fixture{desc: "ImageJ=1.11a\nimages=3\n"}, volume.Unknown(), "no voxel size", ""},
		{"imagej pixel units", fixture{desc: "ImageJ=1.11a\nimages=3\nunit=pixel\n", xres: [2]uint32{1, 1}, yres: [2]uint32{1, 1}}, volume.Unknown(), "no voxel size", ""},
		{"imagej no unit with resolution", fixture{desc: "ImageJ=1.11a\nimages=3\n", xres: [2]uint32{1, 1}, yres: [2]uint32{1, 1}}, volume.Unknown(), "no voxel size", ""},
		{"ome wins over resolution", fixture{desc: ome, xres: [2]uint32{10000, 1}, yres: [2]uint32{10000, 1}, resUnit: resUnitCm},
			volume.Voxel{Z: 0.05, Y: 0.004, X: 0.004, Unit: "µm", Known: true}, "OME-XML", ""},
		{"resolution cm", fixture{xres: [2]uint32{10000, 1}, yres: [2]uint32{20000, 1}, resUnit: resUnitCm},
			volume.Unknown(), "x/y 1 µm from X/YResolution but no z spacing: voxel size unknown", ""},
		{"resolution inch", fixture{xres: [2]uint32{25400, 1}, yres: [2]uint32{25400, 1}, resUnit: resUnitInch},
			volume.Unknown(), "no z spacing", ""},
		{"72 dpi is not a pixel size", fixture{xres: [2]uint32{72, 1}, yres: [2]uint32{72, 1}, resUnit: resUnitInch}, volume.Unknown(), "no voxel size", ""},
		{"resolution without unit", fixture{xres: [2]uint32{10, 1}, yres: [2]uint32{10, 1}, resUnit: resUnitNone}, volume.Unknown(), "no voxel size", ""},
		{"nothing", fixture{}, volume.Unknown(), "no voxel size", ""},
		{"negative spacing ignored", fixture{desc: "ImageJ=1.11a\nunit=nm\nspacing=-3\n", xres: [2]uint32{1, 4}, yres: [2]uint32{1, 4}},
			volume.Voxel{Z: 1, Y: 4, X: 4, Unit: "nm", Known: true}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := tifTemp(t, "m.tif", c.f.build())
			info, err := inspectTIFF(p)
			if err != nil {
				t.Fatal(err)
			}
			got := info.Voxel
			if got.Known != c.want.Known || got.Unit != c.want.Unit || math.Abs(got.Z-c.want.Z) > 1e-9 || math.Abs(got.Y-c.want.Y) > 1e-9 || math.Abs(got.X-c.want.X) > 1e-9 {
				t.Errorf("voxel %+v, want %+v (detail %q)", got, c.want, info.Detail)
			}
			if !strings.Contains(info.Detail, c.detail) {
				t.Errorf("detail %q lacks %q", info.Detail, c.detail)
			}
			if got.Known != (got.Source != "") || got.Known && !strings.Contains(info.Detail, "voxel size from "+got.Source) {
				t.Errorf("voxel source %q (detail %q)", got.Source, info.Detail)
			}
			v, err := readTIFF(p)
			if err != nil {
				t.Fatal(err)
			}
			if v.Voxel != got {
				t.Errorf("read voxel %+v, inspect %+v", v.Voxel, got)
			}
		})
	}
}

func TestTIFFImageJContiguous(t *testing.T) {
	// One IFD, images=4, data of all four pages back to back after page 0.
	const w, h, n = 10, 6, 4
	one := fixture{z: 1, w: w, h: h, bps: 16, desc: fmt.Sprintf("ImageJ=1.11a\nimages=%d\nslices=%d\nunit=nm\nspacing=40\n", n, n),
		sample: func(z, y, x int) uint64 { return uint64(y*w + x) }}.build()
	// Find page 0's data (it starts right after the 8-byte header) and
	// insert pages 1..3 after it, moving the IFD.
	var extra []byte
	for z := 1; z < n; z++ {
		for i := 0; i < w*h; i++ {
			extra = binary.LittleEndian.AppendUint16(extra, uint16(z*1000+i))
		}
	}
	ifd := binary.LittleEndian.Uint32(one[4:])
	dataEnd := 8 + w*h*2
	file := append(append(append([]byte{}, one[:dataEnd]...), extra...), one[dataEnd:]...)
	// Shift the IFD offset and its out-of-line value offsets.
	shift := uint32(len(extra))
	binary.LittleEndian.PutUint32(file[4:], ifd+shift)
	at := int(ifd + shift)
	cnt := int(binary.LittleEndian.Uint16(file[at:]))
	for i := 0; i < cnt; i++ {
		e := file[at+2+12*i:]
		typ, count := binary.LittleEndian.Uint16(e[2:]), binary.LittleEndian.Uint32(e[4:])
		if int(count)*tiffTypeSize[typ] > 4 {
			binary.LittleEndian.PutUint32(e[8:], binary.LittleEndian.Uint32(e[8:])+shift)
		}
	}
	p := tifTemp(t, "ij.tif", file)
	v, err := readTIFF(p)
	if err != nil {
		t.Fatal(err)
	}
	if v.Shape() != (volume.Shape{Z: n, Y: h, X: w}) {
		t.Fatalf("shape %v", v.Shape())
	}
	if v.At(0, 1, 2) != 12 || v.At(2, 1, 2) != 2012 || v.At(3, 5, 9) != 3059 {
		t.Errorf("values %v %v %v", v.At(0, 1, 2), v.At(2, 1, 2), v.At(3, 5, 9))
	}
	if v.Voxel.Z != 40 || v.Voxel.Unit != "nm" {
		t.Errorf("voxel %+v", v.Voxel)
	}
	info, _ := inspectTIFF(p)
	if info.Shape.Z != n || !strings.Contains(info.Detail, "contiguous") {
		t.Errorf("inspect %v %q", info.Shape, info.Detail)
	}
	// Claiming more images than the file holds is refused.
	bad := bytes.Replace(file, []byte("images=4"), []byte("images=9"), 1)
	_, err = readTIFF(tifTemp(t, "ij9.tif", bad))
	wantErr(t, err, ErrFormat, "images=9", "truncated?")
}

func TestTIFFReadPlane(t *testing.T) {
	f := fixture{bps: 8, z: 3, comp: compLZW}
	data, rows, cols, dt, err := readTIFFPlane(tifTemp(t, "p.tif", f.build()))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 23 || cols != 37 || dt != volume.Uint8 {
		t.Fatalf("%d×%d %v", rows, cols, dt)
	}
	d := data.([]uint8)
	for i, got := range d {
		if _, want := tifSample(8, fmtUint, 0, i/37, i%37); float64(got) != want {
			t.Fatalf("pixel %d = %d, want %v", i, got, want)
		}
	}
	_, _, _, _, err = readTIFFPlane(tifTemp(t, "rgb.tif", fixture{spp: 3, photo: photoRGB, bps: 8}.build()))
	wantErr(t, err, ErrFormat, "RGB TIFF not supported: convert to grayscale")
}

// ---- writing ---------------------------------------------------------------

func tifTestVolume(t testing.TB, dt volume.DType, shape volume.Shape, vox volume.Voxel) *volume.Volume {
	t.Helper()
	n := shape.Len()
	var data any
	switch dt {
	case volume.Uint8:
		d := make([]uint8, n)
		for i := range d {
			d[i] = uint8(i * 7)
		}
		data = d
	case volume.Uint16:
		d := make([]uint16, n)
		for i := range d {
			d[i] = uint16(i * 263)
		}
		data = d
	case volume.Int16:
		d := make([]int16, n)
		for i := range d {
			d[i] = int16(i*263 - 30000)
		}
		data = d
	case volume.Float32:
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(i)*0.125 - 7
		}
		data = d
	case volume.Float64:
		d := make([]float64, n)
		for i := range d {
			d[i] = float64(i)*0.125 - 7 // exact in float32
		}
		data = d
	}
	v, err := volume.New(shape, data, vox)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWriteTIFFRoundTrip(t *testing.T) {
	nm := volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true}
	cases := []struct {
		name   string
		dt     volume.DType
		shape  volume.Shape
		vox    volume.Voxel
		wantDT volume.DType
	}{
		{"uint8 odd plane", volume.Uint8, volume.Shape{Z: 5, Y: 7, X: 9}, nm, volume.Uint8},
		{"uint16", volume.Uint16, volume.Shape{Z: 4, Y: 16, X: 20}, nm, volume.Uint16},
		{"int16", volume.Int16, volume.Shape{Z: 3, Y: 10, X: 11}, nm, volume.Int16},
		{"float32 µm", volume.Float32, volume.Shape{Z: 6, Y: 8, X: 8}, volume.Voxel{Z: 0.35, Y: 0.1, X: 0.12, Unit: "µm", Known: true}, volume.Float32},
		{"float64 as float32", volume.Float64, volume.Shape{Z: 2, Y: 5, X: 6}, nm, volume.Float32},
		{"single page", volume.Uint16, volume.Shape{Z: 1, Y: 9, X: 9}, nm, volume.Uint16},
		{"unknown voxel", volume.Uint8, volume.Shape{Z: 3, Y: 4, X: 4}, volume.Unknown(), volume.Uint8},
		{"odd voxel", volume.Uint8, volume.Shape{Z: 3, Y: 4, X: 4}, volume.Voxel{Z: 1.0 / 3, Y: 0.0123456, X: 7e-5, Unit: "mm", Known: true}, volume.Uint8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := tifTestVolume(t, c.dt, c.shape, c.vox)
			p := filepath.Join(t.TempDir(), "out.tif")
			if err := WriteTIFF(p, v); err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(p)
			if want := tiffFileSize(v, false); st.Size() != want {
				t.Errorf("file is %d bytes, size estimate %d", st.Size(), want)
			}
			got, err := readTIFF(p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Shape() != c.shape || got.DType() != c.wantDT {
				t.Fatalf("read back %v %v", got.Shape(), got.DType())
			}
			for z := 0; z < c.shape.Z; z++ {
				for y := 0; y < c.shape.Y; y++ {
					for x := 0; x < c.shape.X; x++ {
						if a, b := got.At(z, y, x), v.At(z, y, x); a != b {
							t.Fatalf("(%d,%d,%d) = %v, want %v", z, y, x, a, b)
						}
					}
				}
			}
			gv := got.Voxel
			if gv.Known != c.vox.Known || gv.Unit != c.vox.Unit && c.vox.Known {
				t.Fatalf("voxel %+v, want %+v", gv, c.vox)
			}
			if c.vox.Known {
				for _, p := range [][2]float64{{gv.Z, c.vox.Z}, {gv.Y, c.vox.Y}, {gv.X, c.vox.X}} {
					if math.Abs(p[0]-p[1]) > 1e-9*p[1] {
						t.Errorf("voxel %+v, want %+v", gv, c.vox)
					}
				}
			}
			ents, _ := os.ReadDir(filepath.Dir(p))
			if len(ents) != 1 {
				t.Errorf("%d files in output folder, want 1 (temporary file left?)", len(ents))
			}
		})
	}
}

func TestWriteTIFFBig(t *testing.T) {
	// BigTIFF is chosen automatically above 4 GiB; write one explicitly.
	v := tifTestVolume(t, volume.Uint16, volume.Shape{Z: 3, Y: 5, X: 7}, volume.Voxel{Z: 8, Y: 2, X: 2, Unit: "nm", Known: true})
	var b bytes.Buffer
	if err := writeTIFFTo(&b, v, true); err != nil {
		t.Fatal(err)
	}
	if int64(b.Len()) != tiffFileSize(v, true) {
		t.Errorf("BigTIFF is %d bytes, estimate %d", b.Len(), tiffFileSize(v, true))
	}
	p := tifTemp(t, "big.tif", b.Bytes())
	got, err := readTIFF(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.At(2, 4, 6) != v.At(2, 4, 6) || got.Voxel.Z != 8 {
		t.Errorf("BigTIFF round trip: %v %+v", got.At(2, 4, 6), got.Voxel)
	}
	info, _ := inspectTIFF(p)
	if !strings.HasPrefix(info.Detail, "BigTIFF") {
		t.Errorf("detail %q", info.Detail)
	}
}

func TestWriteTIFFFails(t *testing.T) {
	v := tifTestVolume(t, volume.Uint8, volume.Shape{Z: 1, Y: 2, X: 2}, volume.Unknown())
	p := filepath.Join(t.TempDir(), "missing", "x.tif")
	err := WriteTIFF(p, v)
	var e *Error
	if !errors.As(err, &e) || e.Op != "write" {
		t.Fatalf("err %v", err)
	}
	if err := WriteTIFF(filepath.Join(t.TempDir(), "n.tif"), nil); err == nil {
		t.Error("nil volume written")
	}
}

func TestTIFFRational(t *testing.T) {
	for _, r := range []float64{0.25, 10, 1.0 / 3, 1 / 0.12, 250000, 1 / 7e-5, 3e-9, 4e9, math.Pi} {
		q := rational(r)
		if q[1] == 0 {
			t.Fatalf("rational(%v) = %v", r, q)
		}
		if got := float64(q[0]) / float64(q[1]); math.Abs(got-r) > 1e-9*r && math.Abs(got-r) > 1.0/math.MaxUint32 {
			t.Errorf("rational(%v) = %d/%d = %v", r, q[0], q[1], got)
		}
	}
	if rational(0.25) != [2]uint32{1, 4} || rational(10) != [2]uint32{10, 1} {
		t.Errorf("rational(0.25) = %v, rational(10) = %v", rational(0.25), rational(10))
	}
}

// ---- bad input -------------------------------------------------------------

// wantErr checks that err is a one-line *Error wrapping target whose
// message contains every fragment.
func wantErr(t *testing.T, err, target error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", target)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error %T is not *volio.Error: %v", err, err)
	}
	if !errors.Is(err, target) {
		t.Errorf("error does not wrap %v: %v", target, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error %q lacks %q", msg, f)
		}
	}
}

func TestTIFFBadInput(t *testing.T) {
	good := fixture{z: 3, comp: compDeflate}.build()
	le := binary.LittleEndian
	ifd0 := ifdOffset(good)
	entrySpan := 2 + 12*int(le.Uint16(good[ifd0:])) // count + entries of IFD 0
	patch := func(src []byte, tag uint16, val uint32) []byte { return patchAt(t, src, ifdOffset(src), tag, val) }

	loop := append([]byte{}, good...)
	{ // Make the last IFD point back to the first.
		off := ifd0
		for {
			n := int(le.Uint16(loop[off:]))
			next := int(le.Uint32(loop[off+2+12*n:]))
			if next == 0 {
				le.PutUint32(loop[off+2+12*n:], uint32(ifd0))
				break
			}
			off = next
		}
	}
	mixed := fixture{z: 2}.build()
	{ // Page 1 claims another width.
		off := ifdOffset(mixed)
		n := int(le.Uint16(mixed[off:]))
		mixed = patchAt(t, mixed, int(le.Uint32(mixed[off+2+12*n:])), tagImageWidth, 36)
	}
	// A file as niiv writes it (IFD before each page's data), cut short.
	v := tifTestVolume(t, volume.Uint16, volume.Shape{Z: 3, Y: 10, X: 10}, volume.Unknown())
	var written bytes.Buffer
	if err := writeTIFFTo(&written, v, false); err != nil {
		t.Fatal(err)
	}
	w := written.Bytes()

	cases := []struct {
		name      string
		data      []byte
		target    error
		fragments []string
	}{
		{"empty", nil, ErrFormat, []string{"too short"}},
		{"header only", good[:8], ErrFormat, []string{"first IFD offset"}},
		{"not tiff", []byte("IX*\x00\x08\x00\x00\x00"), ErrFormat, []string{"not a TIFF"}},
		{"version", []byte("II\x2b\x01\x08\x00\x00\x00"), ErrFormat, []string{"unknown TIFF version"}},
		{"first IFD offset past end", append(append([]byte{}, good[:4]...), 0xff, 0xff, 0xff, 0x7f), ErrFormat, []string{"first IFD offset"}},
		{"truncated in IFD", good[:ifd0+entrySpan/2], ErrFormat, []string{"IFD at offset"}},
		{"truncated in last page", w[:len(w)-50], ErrFormat, []string{"page 2: strip 0", "runs past end of file", "truncated?"}},
		{"truncated after first page", w[:len(w)/3], ErrFormat, []string{"next IFD offset", "beyond end of file"}},
		{"strip offset past end", patch(good, tagStripOffsets, 123456), ErrFormat, []string{"page 0: strip 0 offset 123456 beyond end of file (size"}},
		{"strip count past end", patch(good, tagStripByteCounts, 1<<30), ErrFormat, []string{"page 0: strip 0 byte count", "beyond end of file"}},
		{"IFD loop", loop, ErrFormat, []string{"IFD loop"}},
		{"absurd entry count", patchRaw(good, ifd0, []byte{0xff, 0xff}), ErrFormat, []string{"claims 65535 entries"}},
		{"rgb", fixture{spp: 3, photo: photoRGB, bps: 8}.build(), ErrFormat, []string{"RGB TIFF not supported: convert to grayscale"}},
		{"rgb as 3 samples", fixture{spp: 3, bps: 8}.build(), ErrFormat, []string{"RGB TIFF not supported: convert to grayscale"}},
		{"gray+alpha", fixture{spp: 2, bps: 8}.build(), ErrFormat, []string{"2 samples per pixel not supported"}},
		{"palette", fixture{photo: photoPalette, bps: 8}.build(), ErrFormat, []string{"palette"}},
		{"jpeg", patch(good, tagCompression, 7), ErrFormat, []string{"page 0: JPEG compression not supported"}},
		{"1-bit", fixture{bps: 8, extra: []fixTag{{tag: tagBitsPerSample, typ: tShort, vals: []uint64{1}}}}.build(), ErrFormat, []string{"1-bit unsigned samples not supported"}},
		{"12-bit", fixture{bps: 16, extra: []fixTag{{tag: tagBitsPerSample, typ: tShort, vals: []uint64{12}}}}.build(), ErrFormat, []string{"12-bit"}},
		{"mixed page sizes", mixed, ErrFormat, []string{"page 1 is 36×23", "page 0 is 37×23"}},
		{"corrupt deflate", corrupt(good, 60), ErrFormat, []string{"page 0: strip 0", "Deflate"}},
		{"short lzw strip", patch(fixture{comp: compLZW, z: 1}.build(), tagStripByteCounts, 5), ErrFormat, []string{"page 0: strip 0: LZW data ends after 0 of 23 rows"}},
		{"short uncompressed strip", patch(fixture{z: 1}.build(), tagStripByteCounts, 10), ErrFormat, []string{"strip 0 has 10 bytes, needs"}},
		{"imagej channels", fixture{desc: "ImageJ=1.11a\nimages=6\nchannels=2\nslices=3\n"}.build(), ErrFormat, []string{"2 channels"}},
		{"few strip offsets", fixture{rps: 3, extra: []fixTag{{tag: tagStripOffsets, typ: tLong, vals: []uint64{8}}}}.build(), ErrFormat, []string{"1 strip offsets, need 8"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := tifTemp(t, "bad.tif", c.data)
			_, err := readTIFF(p)
			wantErr(t, err, c.target, c.fragments...)
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			if v, err := Open(p); err == nil {
				t.Errorf("Open succeeded: %v", v.Shape())
			}
		})
	}
}

// ifdOffset returns the offset of the first IFD of a classic little-endian
// TIFF.
func ifdOffset(b []byte) int { return int(binary.LittleEndian.Uint32(b[4:])) }

// patchAt sets the inline value of tag in the IFD at off.
func patchAt(t *testing.T, src []byte, off int, tag uint16, val uint32) []byte {
	b := append([]byte{}, src...)
	le := binary.LittleEndian
	n := int(le.Uint16(b[off:]))
	for i := 0; i < n; i++ {
		e := b[off+2+12*i:]
		if le.Uint16(e) == tag {
			le.PutUint32(e[4:], 1)
			le.PutUint32(e[8:], val)
			return b
		}
	}
	t.Fatalf("tag %d not in IFD at %d", tag, off)
	return nil
}

func patchRaw(src []byte, off int, with []byte) []byte {
	b := append([]byte{}, src...)
	copy(b[off:], with)
	return b
}

// corrupt flips bytes of the first strip's compressed data.
func corrupt(src []byte, n int) []byte {
	b := append([]byte{}, src...)
	for i := 8; i < 8+n && i < len(b); i++ {
		b[i] ^= 0x5a
	}
	return b
}

func TestTIFFTooLarge(t *testing.T) {
	old := MaxBytes
	defer func() { MaxBytes = old }()
	MaxBytes = 1 << 20
	// 2000×2000 uint16 × 3 pages = 24 MB declared, tiny file: refused before
	// allocating.
	f := fixture{w: 2000, h: 2000, z: 1, comp: compDeflate}
	one := f.build()
	_, err := readTIFF(tifTemp(t, "big.tif", one))
	wantErr(t, err, ErrTooLarge, "limit is 1.0 MiB")
	// Inspect still reports the size.
	info, err := inspectTIFF(tifTemp(t, "big2.tif", one))
	if err != nil || info.Shape != (volume.Shape{Z: 1, Y: 2000, X: 2000}) {
		t.Errorf("inspect: %v %v", info.Shape, err)
	}
	// Absurd dimensions in a 200-byte file, with the default limit.
	MaxBytes = old
	huge := fixture{w: 4, h: 4, z: 1, extra: []fixTag{
		{tag: tagImageWidth, typ: tLong, vals: []uint64{math.MaxInt32}},
		{tag: tagImageLength, typ: tLong, vals: []uint64{math.MaxInt32}},
	}}.build()
	_, err = readTIFF(tifTemp(t, "huge.tif", huge))
	if err == nil {
		t.Fatal("absurd image read")
	}
	if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrFormat) {
		t.Errorf("err %v", err)
	}
	// The same for a tiled page whose tiles are absurd.
	tiled := fixture{tile: 16, extra: []fixTag{{tag: tagTileWidth, typ: tLong, vals: []uint64{1 << 30}}}}.build()
	_, err = readTIFF(tifTemp(t, "tile.tif", tiled))
	wantErr(t, err, ErrFormat, "tile size")
}

// ---- interoperability with Python's tifffile --------------------------------

// tifffilePython returns a Python that can import tifffile and numpy: $PYTHON,
// python3 on PATH, or Debian's /usr/bin/python3 (python3-tifffile); it skips
// the test when none can.
func tifffilePython(t *testing.T) string { return reftest.Python(t, "tifffile", "numpy") }

const tifffileReadScript = `
import json, sys, tifffile, numpy as np
out = []
for p in sys.argv[1:]:
    with tifffile.TiffFile(p) as tf:
        a = tf.asarray()
        pg = tf.pages[0]
        ij = tf.imagej_metadata or {}
        out.append(dict(shape=list(a.shape), dtype=str(a.dtype), sum=float(a.astype('float64').sum()),
            first=float(a.flat[0]), last=float(a.flat[-1]), imagej=tf.is_imagej,
            spacing=ij.get('spacing'), unit=ij.get('unit'), images=ij.get('images'),
            xres=list(pg.tags['XResolution'].value) if 'XResolution' in pg.tags else None,
            yres=list(pg.tags['YResolution'].value) if 'YResolution' in pg.tags else None,
            bigtiff=tf.is_bigtiff))
print(json.dumps(out))
`

func TestTIFFReadByTifffile(t *testing.T) {
	py := tifffilePython(t)
	dir := t.TempDir()
	type tc struct {
		dt     volume.DType
		vox    volume.Voxel
		path   string
		v      *volume.Volume
		pyType string
	}
	cases := []*tc{
		{dt: volume.Uint8, vox: volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true}, pyType: "uint8"},
		{dt: volume.Uint16, vox: volume.Voxel{Z: 0.5, Y: 0.1, X: 0.1, Unit: "µm", Known: true}, pyType: "uint16"},
		{dt: volume.Int16, vox: volume.Voxel{Z: 64, Y: 8, X: 8, Unit: "nm", Known: true}, pyType: "int16"},
		{dt: volume.Float32, vox: volume.Voxel{Z: 30, Y: 6, X: 5, Unit: "nm", Known: true}, pyType: "float32"},
		{dt: volume.Float64, vox: volume.Voxel{Z: 30, Y: 6, X: 6, Unit: "nm", Known: true}, pyType: "float32"},
	}
	var args []string
	for i, c := range cases {
		c.v = tifTestVolume(t, c.dt, volume.Shape{Z: 4, Y: 6, X: 9}, c.vox)
		c.path = filepath.Join(dir, fmt.Sprintf("n%d.tif", i))
		if err := WriteTIFF(c.path, c.v); err != nil {
			t.Fatal(err)
		}
		args = append(args, c.path)
	}
	// And one BigTIFF.
	big := tifTestVolume(t, volume.Uint16, volume.Shape{Z: 4, Y: 6, X: 9}, volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true})
	var b bytes.Buffer
	if err := writeTIFFTo(&b, big, true); err != nil {
		t.Fatal(err)
	}
	bigPath := filepath.Join(dir, "big.tif")
	os.WriteFile(bigPath, b.Bytes(), 0o644)
	cases = append(cases, &tc{dt: volume.Uint16, vox: big.Voxel, path: bigPath, v: big, pyType: "uint16"})
	args = append(args, bigPath)

	out, err := exec.Command(py, append([]string{"-c", tifffileReadScript}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tifffile: %v\n%s", err, out)
	}
	var res []struct {
		Shape       []int
		Dtype       string
		Sum         float64
		First, Last float64
		ImageJ      bool
		Spacing     *float64
		Unit        *string
		Images      *int
		Xres, Yres  []float64
		BigTIFF     bool
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i, c := range cases {
		r := res[i]
		name := fmt.Sprintf("%v → %s", c.dt, filepath.Base(c.path))
		s := c.v.Shape()
		if fmt.Sprint(r.Shape) != fmt.Sprint([]int{s.Z, s.Y, s.X}) || r.Dtype != c.pyType {
			t.Errorf("%s: tifffile sees %v %s", name, r.Shape, r.Dtype)
		}
		var sum float64
		for z := 0; z < s.Z; z++ {
			for y := 0; y < s.Y; y++ {
				for x := 0; x < s.X; x++ {
					sum += c.v.At(z, y, x)
				}
			}
		}
		if math.Abs(r.Sum-sum) > 1e-6*math.Abs(sum)+1e-6 || r.First != c.v.At(0, 0, 0) || r.Last != c.v.At(s.Z-1, s.Y-1, s.X-1) {
			t.Errorf("%s: tifffile data sum %v first %v last %v, want %v %v %v", name, r.Sum, r.First, r.Last, sum, c.v.At(0, 0, 0), c.v.At(s.Z-1, s.Y-1, s.X-1))
		}
		if !r.ImageJ || r.Spacing == nil || math.Abs(*r.Spacing-c.vox.Z) > 1e-12 || r.Images == nil || *r.Images != s.Z {
			t.Errorf("%s: tifffile imagej=%v spacing=%v images=%v, want spacing %v", name, r.ImageJ, r.Spacing, r.Images, c.vox.Z)
		}
		wantUnit := map[string]string{"nm": "nm", "µm": "micron"}[c.vox.Unit]
		if r.Unit == nil || *r.Unit != wantUnit {
			t.Errorf("%s: tifffile unit %v, want %q", name, r.Unit, wantUnit)
		}
		if len(r.Xres) != 2 || len(r.Yres) != 2 || math.Abs(r.Xres[1]/r.Xres[0]-c.vox.X) > 1e-9 || math.Abs(r.Yres[1]/r.Yres[0]-c.vox.Y) > 1e-9 {
			t.Errorf("%s: tifffile X/YResolution %v %v, want 1/%v 1/%v", name, r.Xres, r.Yres, c.vox.X, c.vox.Y)
		}
		if r.BigTIFF != (c.path == bigPath) {
			t.Errorf("%s: bigtiff=%v", name, r.BigTIFF)
		}
	}
}

const tifffileWriteScript = `
import sys, os, tifffile, numpy as np
d = sys.argv[1]
Z, Y, X = 5, 20, 33
base = (np.arange(Z*Y*X) * 7 % 251).reshape(Z, Y, X)
def arr(dt):
    if dt in ('uint8', 'uint32'): return base.astype(dt)
    if dt == 'uint16': return (base * 100).astype(dt)
    if dt == 'int8': return (base - 125).astype(dt)
    if dt == 'int16': return (base * 100 - 12000).astype(dt)
    return (base * 0.5 - 60).astype(dt)
gray = dict(photometric='minisblack')
cases = {
    'zlib_u16': ('uint16', dict(compression='zlib', **gray)),
    'adobe_u8': ('uint8', dict(compression='adobe_deflate', **gray)),
    'zlib_pred_u16': ('uint16', dict(compression='zlib', predictor=True, **gray)),
    'zlib_pred_i16_be': ('int16', dict(compression='zlib', predictor=True, byteorder='>', **gray)),
    'tiles_zlib_u16': ('uint16', dict(tile=(16, 16), compression='zlib', **gray)),
    'bigtiff_be_f32': ('float32', dict(bigtiff=True, byteorder='>', compression='zlib', **gray)),
    'rows3_u16': ('uint16', dict(rowsperstrip=3, **gray)),
    'f16': ('float16', gray),
    'f64': ('float64', gray),
    'i8': ('int8', gray),
    'u32': ('uint32', gray),
    'imagej_u16': ('uint16', dict(imagej=True, resolution=(1/0.1, 1/0.1), metadata={'spacing': 0.5, 'unit': 'um', 'axes': 'ZYX'})),
    'imagej_f32': ('float32', dict(imagej=True, resolution=(1/0.004, 1/0.004), metadata={'spacing': 0.05, 'unit': 'micron', 'axes': 'ZYX'})),
    'imagej_truncated_u16': ('uint16', dict(imagej=True, truncate=True, metadata={'spacing': 40, 'unit': 'nm', 'axes': 'ZYX'})),
    'ome_u16': ('uint16', dict(ome=True, metadata={'axes': 'ZYX', 'PhysicalSizeX': 4, 'PhysicalSizeXUnit': 'nm', 'PhysicalSizeY': 4, 'PhysicalSizeYUnit': 'nm', 'PhysicalSizeZ': 0.05, 'PhysicalSizeZUnit': 'µm'}, **gray)),
    'lzma_u16': ('uint16', dict(compression='lzma', **gray)),
    'rgb_u8': (None, None),
}
for name, (dt, kw) in cases.items():
    p = os.path.join(d, name + '.tif')
    try:
        if name == 'rgb_u8':
            tifffile.imwrite(p, np.zeros((4, 5, 3), 'uint8'), photometric='rgb')
        else:
            tifffile.imwrite(p, arr(dt), **kw)
    except Exception as e:
        print('skip', name, type(e).__name__, str(e).replace('\n', ' '))
`

func TestTIFFReadsTifffileOutput(t *testing.T) {
	py := tifffilePython(t)
	dir := t.TempDir()
	out, err := exec.Command(py, "-c", tifffileWriteScript, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("tifffile: %v\n%s", err, out)
	}
	skipped := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "skip" {
			skipped[f[1]] = line
		}
	}
	const Z, Y, X = 5, 20, 33
	value := func(dt string, i int) float64 {
		b := float64(i * 7 % 251)
		switch dt {
		case "uint8", "uint32":
			return b
		case "uint16":
			return b * 100
		case "int8":
			return b - 125
		case "int16":
			return b*100 - 12000
		}
		return b*0.5 - 60
	}
	nm := func(z, y, x float64, unit string) volume.Voxel {
		return volume.Voxel{Z: z, Y: y, X: x, Unit: unit, Known: true}
	}
	cases := []struct {
		name, dt string
		want     volume.DType
		vox      volume.Voxel
		errFrag  string
		detail   string
	}{
		{"zlib_u16", "uint16", volume.Uint16, volume.Unknown(), "", ""},
		{"adobe_u8", "uint8", volume.Uint8, volume.Unknown(), "", ""},
		{"zlib_pred_u16", "uint16", volume.Uint16, volume.Unknown(), "", "Deflate + horizontal predictor"},
		{"zlib_pred_i16_be", "int16", volume.Int16, volume.Unknown(), "", ""},
		{"tiles_zlib_u16", "uint16", volume.Uint16, volume.Unknown(), "", "16×16 tiles"},
		{"bigtiff_be_f32", "float32", volume.Float32, volume.Unknown(), "", "BigTIFF, big-endian"},
		{"rows3_u16", "uint16", volume.Uint16, volume.Unknown(), "", ""},
		{"f16", "float16", volume.Float32, volume.Unknown(), "", ""},
		{"f64", "float64", volume.Float64, volume.Unknown(), "", ""},
		{"i8", "int8", volume.Int16, volume.Unknown(), "", ""},
		{"u32", "uint32", volume.Float32, volume.Unknown(), "", ""},
		{"imagej_u16", "uint16", volume.Uint16, nm(0.5, 0.1, 0.1, "µm"), "", "ImageJ metadata"},
		{"imagej_f32", "float32", volume.Float32, nm(0.05, 0.004, 0.004, "µm"), "", ""},
		{"imagej_truncated_u16", "uint16", volume.Uint16, nm(40, 1, 1, "nm"), "", "ImageJ contiguous"},
		{"ome_u16", "uint16", volume.Uint16, nm(50, 4, 4, "nm"), "", "voxel size from OME-XML"},
		{"lzma_u16", "", 0, volume.Voxel{}, "LZMA compression not supported", ""},
		{"rgb_u8", "", 0, volume.Voxel{}, "RGB TIFF not supported: convert to grayscale", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := skipped[c.name]; ok {
				t.Skipf("tifffile could not write this case: %s", why)
			}
			p := filepath.Join(dir, c.name+".tif")
			v, err := readTIFF(p)
			if c.errFrag != "" {
				wantErr(t, err, ErrFormat, c.errFrag)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Shape() != (volume.Shape{Z: Z, Y: Y, X: X}) || v.DType() != c.want {
				t.Fatalf("read %v %v, want %v", v.Shape(), v.DType(), c.want)
			}
			for i := 0; i < Z*Y*X; i++ {
				if got, want := v.At(i/(Y*X), i/X%Y, i%X), value(c.dt, i); got != want {
					t.Fatalf("voxel %d = %v, want %v", i, got, want)
				}
			}
			if info, _ := inspectTIFF(p); !strings.Contains(info.Detail, c.detail) {
				t.Errorf("detail %q lacks %q", info.Detail, c.detail)
			}
			g := v.Voxel
			if g.Known != c.vox.Known || g.Unit != c.vox.Unit || math.Abs(g.Z-c.vox.Z) > 1e-9 || math.Abs(g.Y-c.vox.Y) > 1e-9 || math.Abs(g.X-c.vox.X) > 1e-9 {
				info, _ := inspectTIFF(p)
				t.Errorf("voxel %+v, want %+v (%s)", g, c.vox, info.Detail)
			}
		})
	}
}

func BenchmarkTIFF(b *testing.B) {
	shape := volume.Shape{Z: 64, Y: 256, X: 256}
	for _, dt := range []volume.DType{volume.Uint8, volume.Uint16} {
		v := tifTestVolume(b, dt, shape, volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true})
		p := filepath.Join(b.TempDir(), "b.tif")
		b.Run("write/"+dt.String(), func(b *testing.B) {
			b.SetBytes(v.Bytes())
			for range b.N {
				if err := WriteTIFF(p, v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("read/"+dt.String(), func(b *testing.B) {
			b.SetBytes(v.Bytes())
			for range b.N {
				if _, err := readTIFF(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	f := fixture{w: 256, h: 256, z: 16, bps: 16, comp: compDeflate, pred: predHorizontal, rps: 16}
	p := tifTemp(b, "d.tif", f.build())
	b.Run("read/deflate-pred-uint16", func(b *testing.B) {
		b.SetBytes(16 * 256 * 256 * 2)
		for range b.N {
			if _, err := readTIFF(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestTIFFImageJTimeSeries checks that an ImageJ hyperstack of several time
// points reads as its first z-stack, and says so.
func TestTIFFImageJTimeSeries(t *testing.T) {
	const slices, frames = 3, 2
	f := fixture{z: slices * frames, w: 5, h: 4, bps: 16,
		desc:   fmt.Sprintf("ImageJ=1.11a\nimages=%d\nslices=%d\nframes=%d\nunit=nm\nspacing=50\n", slices*frames, slices, frames),
		sample: func(z, y, x int) uint64 { return uint64(1000*z + 10*y + x) }}
	p := tifTemp(t, "ts.tif", f.build())
	info, err := inspectTIFF(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Shape.Z != slices || !strings.Contains(info.Detail, "time point 1 of 2") {
		t.Errorf("inspect: shape %v, detail %q", info.Shape, info.Detail)
	}
	v, err := readTIFF(p)
	if err != nil {
		t.Fatal(err)
	}
	if v.Shape() != (volume.Shape{Z: slices, Y: 4, X: 5}) {
		t.Fatalf("shape %v, want the first time point's %d slices", v.Shape(), slices)
	}
	if v.At(2, 3, 4) != 2034 {
		t.Errorf("value at (2, 3, 4) %v, want 2034 (first time point)", v.At(2, 3, 4))
	}
}
