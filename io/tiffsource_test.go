package volio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/niiv/niiv/internal/reftest"
	"github.com/niiv/niiv/volume"
)

// bx is the box [z0,z1)×[y0,y1)×[x0,x1).
func bx(z0, z1, y0, y1, x0, x1 int) volume.Box {
	return volume.Box{Z0: z0, Z1: z1, Y0: y0, Y1: y1, X0: x0, X1: x1}
}

// sourceBoxes returns the boxes every test reads from a stack of shape s:
// the whole stack, a corner, the interior, one row across all pages (an xz
// view), part of such a row, one column across all pages (a yz view) and
// one voxel.
func sourceBoxes(s volume.Shape) map[string]volume.Box {
	mid := func(n int) (int, int) { return n / 4, max(n/4+1, n-n/4) }
	z0, z1 := mid(s.Z)
	y0, y1 := mid(s.Y)
	x0, x1 := mid(s.X)
	y, x := s.Y*2/3, s.X/3
	return map[string]volume.Box{
		"whole":    volume.Whole(s),
		"corner":   bx(0, min(2, s.Z), 0, min(17, s.Y), 0, min(23, s.X)),
		"interior": bx(z0, z1, y0, y1, x0, x1),
		"xz":       bx(0, s.Z, y, y+1, 0, s.X),
		"xz part":  bx(0, s.Z, y, y+1, x0, x1),
		"yz":       bx(0, s.Z, 0, s.Y, x, x+1),
		"voxel":    bx(s.Z-1, s.Z, s.Y-1, s.Y, s.X-1, s.X),
	}
}

// checkSource compares what src reads of every box of sourceBoxes with the
// same box of ref (readTIFF's volume), bit for bit, and src's Meta with
// ref's. It reads each box twice: through a cache of decoded strips and
// tiles, and with none (decoding only down to the rows a box needs).
func checkSource(t *testing.T, src *tiffSource, ref *volume.Volume, path string) {
	t.Helper()
	want := volume.Meta{Name: filepath.Base(path), Shape: ref.Shape(), DType: ref.DType(), Voxel: ref.Voxel}
	if got := src.Meta(); got != want {
		t.Fatalf("Meta %+v, want %+v", got, want)
	}
	ctx := context.Background()
	for _, cache := range []int64{64 << 20, 0} {
		src.cache = newTIFFCache(cache)
		checkBoxes(t, ctx, src, ref, fmt.Sprintf("cache %d", cache))
	}
}

// checkBoxes compares every box of sourceBoxes read from src with ref's.
func checkBoxes(t *testing.T, ctx context.Context, src *tiffSource, ref *volume.Volume, what string) {
	t.Helper()
	want := src.Meta()
	for name, b := range sourceBoxes(ref.Shape()) {
		name = what + ", " + name
		got, err := src.Read(ctx, b)
		if err != nil {
			t.Fatalf("%s %v: %v", name, b, err)
		}
		w, err := ref.Read(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Shape() != b.Shape() || got.DType() != ref.DType() || got.Voxel != ref.Voxel || got.Name != want.Name {
			t.Fatalf("%s %v: read %v %v %+v %q", name, b, got.Shape(), got.DType(), got.Voxel, got.Name)
		}
		if g, w := rawBytes(got.Data()), rawBytes(w.Data()); !bytes.Equal(g, w) {
			i := 0
			for i < len(g) && g[i] == w[i] {
				i++
			}
			t.Fatalf("%s %v: voxels differ from readTIFF's from byte %d of %d", name, b, i, len(g))
		}
	}
}

// openBoth reads path whole with readTIFF and opens it as a tiffSource.
func openBoth(t *testing.T, path string) (*tiffSource, *volume.Volume) {
	t.Helper()
	ref, err := readTIFF(path)
	if err != nil {
		t.Fatalf("readTIFF: %v", err)
	}
	src, err := openTIFFSource(path)
	if err != nil {
		t.Fatalf("openTIFFSource: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src, ref
}

// TestTIFFSourceMatchesReader reads every sample type, compression,
// predictor, strip and tile layout, byte order and BigTIFF by region and
// compares with readTIFF, with the Go fixture builder (which, unlike
// tifffile without imagecodecs, also writes LZW, PackBits and the
// floating-point predictor).
func TestTIFFSourceMatchesReader(t *testing.T) {
	types := []struct {
		name        string
		bps, format int
	}{
		{"u8", 8, fmtUint}, {"i8", 8, fmtInt}, {"u16", 16, fmtUint}, {"i16", 16, fmtInt}, {"f16", 16, fmtFloat},
		{"u32", 32, fmtUint}, {"i32", 32, fmtInt}, {"f32", 32, fmtFloat}, {"f64", 64, fmtFloat},
	}
	comps := []struct {
		name string
		comp int
	}{{"raw", compNone}, {"lzw", compLZW}, {"deflate", compDeflate}, {"packbits", compPackBits}}
	layouts := []struct {
		name      string
		rps, tile int
	}{{"strip", 0, 0}, {"rps1", 1, 0}, {"rps3", 3, 0}, {"tile16", 0, 16}}
	files := []struct {
		name  string
		order tifOrder
		big   bool
	}{{"II", binary.LittleEndian, false}, {"MM", binary.BigEndian, false}, {"II-big", binary.LittleEndian, true}, {"MM-big", binary.BigEndian, true}}
	for _, ty := range types {
		for _, c := range comps {
			for _, l := range layouts {
				if l.rps == 1 && c.comp != compNone {
					continue // one row per strip: uncompressed suffices
				}
				for _, fl := range files {
					pred := 0
					if c.comp == compLZW || c.comp == compDeflate || c.comp == compDeflateOld {
						pred = predHorizontal
						if ty.format == fmtFloat && l.tile > 0 {
							pred = predFloatingPt
						}
					}
					f := fixture{order: fl.order, big: fl.big, w: 37, h: 35, z: 4, bps: ty.bps, format: ty.format, comp: c.comp, pred: pred, rps: l.rps, tile: l.tile}
					t.Run(fmt.Sprintf("%s/%s/%s/%s", ty.name, c.name, l.name, fl.name), func(t *testing.T) {
						p := tifTemp(t, "x.tif", f.build())
						src, ref := openBoth(t, p)
						checkSource(t, src, ref, p)
					})
				}
			}
		}
	}
}

// TestTIFFSourceSpecialPages covers what the reader does beyond plain
// stacks: inverted WhiteIsZero values, missing byte counts, ImageJ stacks
// of one directory, ImageJ time series, skipped reduced-resolution pages,
// voxel sizes from ImageJ, OME-XML and X/YResolution.
func TestTIFFSourceSpecialPages(t *testing.T) {
	white := []fixTag{{tag: tagPhotometric, typ: tShort, vals: []uint64{photoWhiteIsZ}}}
	cases := []struct {
		name string
		f    fixture
		// edit changes the built file (nil: none).
		edit func(b []byte) []byte
	}{
		{name: "white is zero u8", f: fixture{bps: 8, extra: white}},
		{name: "white is zero u16 rps3", f: fixture{bps: 16, rps: 3, extra: white}},
		{name: "white is zero u32 lzw", f: fixture{bps: 32, comp: compLZW, extra: white}},
		{name: "old-style Deflate", f: fixture{rps: 4, comp: compDeflateOld, pred: predHorizontal}},
		{name: "no byte counts", f: fixture{rps: 4, noCounts: true}},
		{name: "no byte counts deflate one strip", f: fixture{comp: compDeflate, noCounts: true}},
		{name: "imagej one directory", f: fixture{z: 1, w: 9, h: 7, bps: 16, desc: "ImageJ=1.11a\nimages=4\nslices=4\nunit=micron\nspacing=0.5\n",
			xres: [2]uint32{10, 1}, yres: [2]uint32{10, 1}}, edit: imagejContiguous(4)},
		{name: "imagej time series", f: fixture{z: 6, w: 9, h: 7, rps: 2, comp: compDeflate,
			desc: "ImageJ=1.11a\nimages=6\nslices=3\nframes=2\nunit=nm\nspacing=50\n"}},
		{name: "imagej time series, later time point broken", f: fixture{z: 4, w: 9, h: 7, comp: compDeflate,
			desc: "ImageJ=1.11a\nimages=4\nslices=2\nframes=2\n"}, edit: breakLastStrip},
		{name: "reduced resolution skipped", f: fixture{z: 3, extra: []fixTag{{tag: tagNewSubfileType, typ: tLong, vals: []uint64{1}}}}},
		{name: "ome", f: fixture{z: 3, bps: 32, format: fmtFloat, tile: 16, comp: compDeflate,
			desc: `<?xml version="1.0"?><OME><Image><Pixels SizeC="1" PhysicalSizeX="0.1" PhysicalSizeY="0.1" PhysicalSizeZ="40" PhysicalSizeZUnit="nm"/></Image></OME>`}},
		{name: "resolution in cm", f: fixture{xres: [2]uint32{10000, 1}, yres: [2]uint32{10000, 1}, resUnit: resUnitCm}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.f.build()
			if c.edit != nil {
				b = c.edit(b)
			}
			p := tifTemp(t, "s.tif", b)
			src, ref := openBoth(t, p)
			checkSource(t, src, ref, p)
		})
	}
}

// breakLastStrip points the strip of the last page of a classic
// little-endian fixture with one strip per page past the end of the file.
func breakLastStrip(b []byte) []byte {
	le := binary.LittleEndian
	off := ifdOffset(b)
	for {
		n := int(le.Uint16(b[off:]))
		next := int(le.Uint32(b[off+2+12*n:]))
		if next == 0 {
			break
		}
		off = next
	}
	b = append([]byte{}, b...)
	n := int(le.Uint16(b[off:]))
	for i := 0; i < n; i++ {
		if e := b[off+2+12*i:]; le.Uint16(e) == tagStripOffsets {
			le.PutUint32(e[8:], 1<<30)
		}
	}
	return b
}

// imagejContiguous appends n-1 more planes after the single page of a
// classic little-endian fixture with one strip, so that it becomes an
// ImageJ stack of n images described by one directory. The fixture's data
// comes first, so the new planes go between the data and the directory.
func imagejContiguous(n int) func([]byte) []byte {
	return func(b []byte) []byte {
		le := binary.LittleEndian
		ifd := ifdOffset(b)
		cnt := int(le.Uint16(b[ifd:]))
		var off, size int
		for i := 0; i < cnt; i++ {
			e := b[ifd+2+12*i:]
			switch le.Uint16(e) {
			case tagStripOffsets:
				off = int(le.Uint32(e[8:]))
			case tagStripByteCounts:
				size = int(le.Uint32(e[8:]))
			}
		}
		data := b[off : off+size]
		var planes []byte
		for k := 1; k < n; k++ {
			pl := append([]byte{}, data...)
			for i := range pl {
				pl[i] += byte(k * 31)
			}
			planes = append(planes, pl...)
		}
		// Shift the directory (and its out-of-line values) by the planes
		// inserted before it.
		shift := len(planes)
		out := append(append(append([]byte{}, b[:off+size]...), planes...), b[off+size:]...)
		le.PutUint32(out[4:], uint32(ifd+shift))
		base := ifd + shift
		for i := 0; i < cnt; i++ {
			e := out[base+2+12*i:]
			typ, count := le.Uint16(e[2:]), le.Uint32(e[4:])
			if int(count)*tiffTypeSize[typ] > 4 {
				le.PutUint32(e[8:], le.Uint32(e[8:])+uint32(shift))
			}
		}
		return out
	}
}

// tifffileStacksScript writes the stacks TestTIFFSourceTifffile reads, one
// per case, and prints "skip NAME why" for what this tifffile cannot write
// (LZW and PackBits need imagecodecs).
const tifffileStacksScript = `
import sys, os, tifffile, numpy as np
d = sys.argv[1]
Z, Y, X = 6, 150, 140
z, y, x = np.mgrid[0:Z, 0:Y, 0:X]
base = (z * 7919 + y * 131 + x * 17) % 251
base[:, :, :20] = z[:, :, :20] * 3
def arr(dt):
    if dt in ('uint8', 'uint32'): return base.astype(dt)
    if dt == 'uint16': return (base * 257).astype(dt)
    if dt == 'int8': return (base - 125).astype(dt)
    if dt == 'int16': return (base * 100 - 12000).astype(dt)
    if dt == 'int32': return (base * 100003 - 2**30).astype(dt)
    return (base * 0.5 - 60).astype(dt)
g = dict(photometric='minisblack')
ij = dict(imagej=True, resolution=(1/0.1, 1/0.1), metadata={'spacing': 0.5, 'unit': 'um', 'axes': 'ZYX'})
cases = {
    'raw_u8': ('uint8', g), 'raw_u16': ('uint16', g), 'raw_i16': ('int16', g), 'raw_f32': ('float32', g),
    'raw_f64': ('float64', g), 'raw_f16': ('float16', g), 'raw_i8': ('int8', g), 'raw_u32': ('uint32', g),
    'raw_i32': ('int32', g),
    'rps1_u16': ('uint16', dict(rowsperstrip=1, **g)),
    'rps16_u16': ('uint16', dict(rowsperstrip=16, **g)),
    'rps16_zlib_u16': ('uint16', dict(rowsperstrip=16, compression='zlib', **g)),
    'zlib_u16': ('uint16', dict(compression='zlib', **g)),
    'zlib_pred_u16': ('uint16', dict(compression='zlib', predictor=True, **g)),
    'zlib_pred_f32': ('float32', dict(compression='zlib', predictor=True, **g)),
    'adobe_pred_i16_be': ('int16', dict(compression='adobe_deflate', predictor=True, byteorder='>', **g)),
    'tiles64_u16': ('uint16', dict(tile=(64, 64), **g)),
    'tiles64_zlib_u8': ('uint8', dict(tile=(64, 64), compression='zlib', **g)),
    'tiles64_zlib_pred_f32': ('float32', dict(tile=(64, 64), compression='zlib', predictor=True, **g)),
    'bigtiff_u16': ('uint16', dict(bigtiff=True, **g)),
    'bigtiff_tiles64_zlib_i16_be': ('int16', dict(bigtiff=True, tile=(64, 64), compression='zlib', byteorder='>', **g)),
    'imagej_u16': ('uint16', ij),
    'imagej_f32_rps16': ('float32', dict(rowsperstrip=16, **ij)),
    'imagej_one_ifd_u16': ('uint16', dict(truncate=True, **ij)),
    'imagej_hyperstack_u16': ('uint16', None),
    'ome_u16': ('uint16', dict(ome=True, metadata={'axes': 'ZYX', 'PhysicalSizeX': 4, 'PhysicalSizeXUnit': 'nm', 'PhysicalSizeY': 4, 'PhysicalSizeYUnit': 'nm', 'PhysicalSizeZ': 0.05, 'PhysicalSizeZUnit': 'µm'}, **g)),
    'ome_bigtiff_tiles64_zlib_f32': ('float32', dict(ome=True, bigtiff=True, tile=(64, 64), compression='zlib', metadata={'axes': 'ZYX', 'PhysicalSizeX': 0.1, 'PhysicalSizeY': 0.1, 'PhysicalSizeZ': 0.3}, **g)),
    'lzw_u16': ('uint16', dict(compression='lzw', **g)),
    'lzw_pred_u16': ('uint16', dict(compression='lzw', predictor=True, **g)),
    'packbits_u8': ('uint8', dict(compression='packbits', **g)),
}
for name, (dt, kw) in cases.items():
    p = os.path.join(d, name + '.tif')
    try:
        if name == 'imagej_hyperstack_u16':
            a = np.stack([arr('uint16'), arr('uint16')[::-1]])
            tifffile.imwrite(p, a, imagej=True, metadata={'spacing': 2.5, 'unit': 'um', 'axes': 'TZYX'})
        else:
            tifffile.imwrite(p, arr(dt), **kw)
    except Exception as e:
        if os.path.exists(p): os.remove(p)
        print('skip', name, type(e).__name__, str(e).replace('\n', ' '))
`

// TestTIFFSourceTifffile reads stacks that tifffile writes (strips of 1,
// 16 and all rows, 64×64 tiles, Deflate with and without predictors,
// BigTIFF, big-endian, ImageJ and OME metadata, every sample type) by
// region and compares with readTIFF.
func TestTIFFSourceTifffile(t *testing.T) {
	py := tifffilePython(t)
	dir := t.TempDir()
	out, err := exec.Command(py, "-c", tifffileStacksScript, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("tifffile: %v\n%s", err, out)
	}
	skipped := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "skip" {
			skipped[f[1]] = line
		}
	}
	cases := []struct {
		name   string
		dtype  volume.DType
		voxel  bool   // the file has a voxel size
		detail string // a fragment of the layout's description
	}{
		{"raw_u8", volume.Uint8, false, "uncompressed"},
		{"raw_u16", volume.Uint16, false, ""},
		{"raw_i16", volume.Int16, false, ""},
		{"raw_f32", volume.Float32, false, ""},
		{"raw_f64", volume.Float64, false, ""},
		{"raw_f16", volume.Float32, false, "float16"},
		{"raw_i8", volume.Int16, false, "int8"},
		{"raw_u32", volume.Float32, false, "uint32"},
		{"raw_i32", volume.Float32, false, "int32"},
		{"rps1_u16", volume.Uint16, false, "150 strips/page"},
		{"rps16_u16", volume.Uint16, false, "10 strips/page"},
		{"rps16_zlib_u16", volume.Uint16, false, "10 strips/page"},
		{"zlib_u16", volume.Uint16, false, "Deflate"},
		{"zlib_pred_u16", volume.Uint16, false, "horizontal predictor"},
		{"zlib_pred_f32", volume.Float32, false, "predictor"},
		{"adobe_pred_i16_be", volume.Int16, false, "big-endian"},
		{"tiles64_u16", volume.Uint16, false, "64×64 tiles"},
		{"tiles64_zlib_u8", volume.Uint8, false, "64×64 tiles"},
		{"tiles64_zlib_pred_f32", volume.Float32, false, "64×64 tiles"},
		{"bigtiff_u16", volume.Uint16, false, "BigTIFF"},
		{"bigtiff_tiles64_zlib_i16_be", volume.Int16, false, "BigTIFF, big-endian"},
		{"imagej_u16", volume.Uint16, true, "ImageJ metadata"},
		{"imagej_f32_rps16", volume.Float32, true, "ImageJ metadata"},
		{"imagej_one_ifd_u16", volume.Uint16, true, "ImageJ contiguous"},
		{"imagej_hyperstack_u16", volume.Uint16, true, "time point 1 of 2"},
		{"ome_u16", volume.Uint16, true, "OME-XML"},
		{"ome_bigtiff_tiles64_zlib_f32", volume.Float32, true, "OME-XML"},
		{"lzw_u16", volume.Uint16, false, "LZW"},
		{"lzw_pred_u16", volume.Uint16, false, "LZW + horizontal predictor"},
		{"packbits_u8", volume.Uint8, false, "PackBits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := skipped[c.name]; ok {
				t.Skipf("tifffile could not write this case (LZW and PackBits are covered by TestTIFFSourceMatchesReader): %s", why)
			}
			p := filepath.Join(dir, c.name+".tif")
			src, ref := openBoth(t, p)
			if ref.Shape() != (volume.Shape{Z: 6, Y: 150, X: 140}) || ref.DType() != c.dtype || ref.Voxel.Known != c.voxel {
				t.Fatalf("readTIFF: %v %v %+v, want 6×150×140 %v, voxel known %v", ref.Shape(), ref.DType(), ref.Voxel, c.dtype, c.voxel)
			}
			if !strings.Contains(src.Detail(), c.detail) {
				t.Errorf("detail %q lacks %q", src.Detail(), c.detail)
			}
			checkSource(t, src, ref, p)
		})
	}
}

// TestTIFFSourceDecodesOnlyWhatBoxNeeds counts the strips and tiles each
// Read decodes (or, uncompressed, reads): only those the box covers, and
// none again that the cache holds.
func TestTIFFSourceDecodesOnlyWhatBoxNeeds(t *testing.T) {
	xz := func(y int) volume.Box { return volume.Box{Z0: 0, Z1: 5, Y0: y, Y1: y + 1, X0: 0, X1: 70} }
	cases := []struct {
		name  string
		f     fixture
		cache int64 // bytes; 0: 1 GiB
		boxes []volume.Box
		want  []int64 // chunks read or decoded by each box in turn
	}{
		{"deflate one strip per page", fixture{z: 5, w: 70, h: 50, comp: compDeflate},
			0, []volume.Box{xz(20), xz(21), xz(49)}, []int64{5, 0, 0}},
		{"deflate rps16", fixture{z: 5, w: 70, h: 50, rps: 16, comp: compDeflate, pred: predHorizontal},
			0, []volume.Box{xz(20), xz(21), xz(40), bx(0, 5, 10, 20, 0, 70)}, []int64{5, 0, 5, 5}},
		{"raw rps1", fixture{z: 5, w: 70, h: 50, rps: 1},
			0, []volume.Box{xz(20), xz(21), bx(1, 3, 10, 14, 5, 9)}, []int64{5, 5, 8}},
		{"raw one strip per page", fixture{z: 5, w: 70, h: 50},
			0, []volume.Box{xz(20), bx(0, 5, 0, 50, 33, 34)}, []int64{5, 5}},
		{"lzw tiles", fixture{z: 5, w: 70, h: 50, tile: 16, comp: compLZW},
			0, []volume.Box{bx(0, 5, 20, 21, 20, 40), bx(0, 5, 21, 22, 20, 40), bx(0, 5, 0, 50, 33, 34), bx(2, 3, 49, 50, 69, 70)},
			[]int64{10, 0, 15, 1}},
		{"raw tiles", fixture{z: 5, w: 70, h: 50, tile: 16},
			0, []volume.Box{bx(0, 5, 20, 21, 20, 40), bx(0, 5, 0, 50, 33, 34)}, []int64{10, 20}},
		// A cache of eight decoded pages (8×7000 bytes) keeps the first
		// eight pages an xz view needs and decodes the other twelve each
		// time.
		{"cache smaller than the view", fixture{z: 20, w: 70, h: 50, comp: compDeflate},
			56000, []volume.Box{bx(0, 20, 10, 11, 0, 70), bx(0, 20, 11, 12, 0, 70), bx(0, 20, 12, 13, 5, 9)}, []int64{20, 12, 12}},
		// Strips larger than an eighth of the cache are decoded for each
		// Read, down to the row it needs.
		{"strips too large to keep", fixture{z: 5, w: 70, h: 50, comp: compLZW, pred: predHorizontal},
			50000, []volume.Box{xz(10), xz(11), bx(1, 2, 49, 50, 3, 4)}, []int64{5, 5, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := tifTemp(t, "c.tif", c.f.build())
			src, ref := openBoth(t, p)
			src.cache = newTIFFCache(1 << 30)
			if c.cache > 0 {
				src.cache = newTIFFCache(c.cache)
			}
			for i, b := range c.boxes {
				before := src.chunks.Load()
				got, err := src.Read(context.Background(), b)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := ref.Read(context.Background(), b)
				if !bytes.Equal(rawBytes(got.Data()), rawBytes(want.Data())) {
					t.Fatalf("box %v: voxels differ from readTIFF's", b)
				}
				if n := src.chunks.Load() - before; n != c.want[i] {
					t.Errorf("box %v: %d strips/tiles read, want %d", b, n, c.want[i])
				}
			}
			if c.cache > 0 && src.cache.bytes() > c.cache {
				t.Errorf("cache holds %d bytes, budget %d", src.cache.bytes(), c.cache)
			}
		})
	}
}

// countingReader counts ReadAt calls.
type countingReader struct {
	r io.ReaderAt
	n int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n++
	return c.r.ReadAt(p, off)
}

// TestTIFFSourceOpenReadsFew checks that opening reads the directories in
// few system calls: about one per directory when each lies before its
// page's data, far fewer when they lie together, with their strip tables.
func TestTIFFSourceOpenReadsFew(t *testing.T) {
	const pages = 300
	v := tifTestVolume(t, volume.Uint16, volume.Shape{Z: pages, Y: 20, X: 30}, volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true})
	var interleaved bytes.Buffer
	if err := writeTIFFTo(&interleaved, v, true); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		data     []byte
		maxReads int
	}{
		{"directory before each page", interleaved.Bytes(), pages + 5},
		{"directories together, 20 strips each", fixture{z: pages, w: 30, h: 20, rps: 1}.build(), pages/10 + 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &countingReader{r: bytes.NewReader(c.data)}
			src, err := newTIFFSource(r, int64(len(c.data)), "x.tif")
			if err != nil {
				t.Fatal(err)
			}
			if src.Meta().Shape.Z != pages {
				t.Fatalf("shape %v", src.Meta().Shape)
			}
			if r.n > c.maxReads {
				t.Errorf("%d reads to open %d pages, want at most %d", r.n, pages, c.maxReads)
			}
			for z := range pages {
				if src.tables[z].Load() == nil {
					t.Fatalf("page %d's strip table not read at open", z)
				}
			}
			t.Logf("%d reads for %d pages", r.n, pages)
		})
	}
}

// TestTIFFSourceTablesOnDemand reads a stack whose strip tables exceed the
// budget kept at open: the pages past it read their table at each Read.
func TestTIFFSourceTablesOnDemand(t *testing.T) {
	old := tiffTableBudget
	tiffTableBudget = 50
	defer func() { tiffTableBudget = old }()
	f := fixture{z: 5, w: 37, h: 35, rps: 2, comp: compDeflate} // 18 strips per page
	p := tifTemp(t, "t.tif", f.build())
	src, ref := openBoth(t, p)
	kept := 0
	for z := range src.tables {
		if src.tables[z].Load() != nil {
			kept++
		}
	}
	if kept != 2 {
		t.Errorf("%d tables kept at open, want 2 (of 18 entries each, budget 50)", kept)
	}
	checkSource(t, src, ref, p)
}

// TestTIFFSourceBadInput feeds broken files: the open or the Read fails
// with an error that names the file, the page and the problem, and
// nothing panics.
func TestTIFFSourceBadInput(t *testing.T) {
	good := fixture{z: 3, comp: compDeflate}.build()
	le := binary.LittleEndian
	ifd0 := ifdOffset(good)
	patch := func(src []byte, tag uint16, val uint32) []byte { return patchAt(t, src, ifdOffset(src), tag, val) }
	loop := append([]byte{}, good...)
	for off := ifd0; ; {
		n := int(le.Uint16(loop[off:]))
		next := int(le.Uint32(loop[off+2+12*n:]))
		if next == 0 {
			le.PutUint32(loop[off+2+12*n:], uint32(ifd0))
			break
		}
		off = next
	}
	mixed := fixture{z: 2}.build()
	{
		off := ifdOffset(mixed)
		n := int(le.Uint16(mixed[off:]))
		mixed = patchAt(t, mixed, int(le.Uint32(mixed[off+2+12*n:])), tagImageWidth, 36)
	}
	mixedType := fixture{z: 2}.build()
	{
		off := ifdOffset(mixedType)
		n := int(le.Uint16(mixedType[off:]))
		mixedType = patchAt(t, mixedType, int(le.Uint32(mixedType[off+2+12*n:])), tagSampleFormat, fmtInt)
	}
	v := tifTestVolume(t, volume.Uint16, volume.Shape{Z: 3, Y: 10, X: 10}, volume.Unknown())
	var written bytes.Buffer
	if err := writeTIFFTo(&written, v, false); err != nil {
		t.Fatal(err)
	}
	w := written.Bytes()
	// Page 1's strip offset past the end (pages 0 and 2 are fine).
	page1Past := func() []byte {
		off := ifdOffset(good)
		n := int(le.Uint16(good[off:]))
		return patchAt(t, good, int(le.Uint32(good[off+2+12*n:])), tagStripOffsets, 1<<30)
	}()

	cases := []struct {
		name      string
		data      []byte
		atRead    bool // the open succeeds and reading the whole stack fails
		fragments []string
	}{
		{"empty", nil, false, []string{"too short"}},
		{"not tiff", []byte("IX*\x00\x08\x00\x00\x00"), false, []string{"not a TIFF"}},
		{"truncated in IFD", good[:ifd0+20], false, []string{"IFD at offset"}},
		{"truncated in last page", w[:len(w)-50], false, []string{"page 2: strip 0", "runs past end of file", "truncated?"}},
		{"truncated after first page", w[:len(w)/3], false, []string{"next IFD offset", "beyond end of file"}},
		{"strip offset past end", patch(good, tagStripOffsets, 123456), false, []string{"page 0: strip 0 offset 123456 beyond end of file (size"}},
		{"page 1 strip offset past end", page1Past, false, []string{"page 1: strip 0 offset 1073741824 beyond end of file"}},
		{"strip count past end", patch(good, tagStripByteCounts, 1<<30), false, []string{"page 0: strip 0 byte count", "beyond end of file"}},
		{"IFD loop", loop, false, []string{"IFD loop"}},
		{"pages of different sizes", mixed, false, []string{"page 1 is 36×23", "page 0 is 37×23", "all pages must match"}},
		{"pages of different types", mixedType, false, []string{"page 1 is 37×23 int16", "all pages must match"}},
		{"rgb", fixture{spp: 3, photo: photoRGB, bps: 8}.build(), false, []string{"RGB TIFF not supported"}},
		{"jpeg", patch(good, tagCompression, 7), false, []string{"page 0: JPEG compression not supported"}},
		{"few strip offsets", fixture{rps: 3, extra: []fixTag{{tag: tagStripOffsets, typ: tLong, vals: []uint64{8}}}}.build(), false, []string{"1 strip offsets, need 8"}},
		{"short uncompressed strip", patch(fixture{z: 1}.build(), tagStripByteCounts, 10), false, []string{"page 0: strip 0 has 10 bytes, needs"}},
		{"corrupt deflate", corrupt(good, 60), true, []string{"page 0: strip 0", "Deflate"}},
		{"short lzw strip", patch(fixture{comp: compLZW, z: 1}.build(), tagStripByteCounts, 5), true, []string{"page 0: strip 0: LZW data ends after 0 of 23 rows"}},
		{"truncated packbits tile", patch(fixture{comp: compPackBits, z: 1, tile: 64}.build(), tagTileByteCounts, 3), true, []string{"page 0: tile 0: PackBits data ends after"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := tifTemp(t, "bad.tif", c.data)
			src, err := openTIFFSource(p)
			if !c.atRead {
				wantErr(t, err, ErrFormat, c.fragments...)
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer src.Close()
			for name, b := range sourceBoxes(src.Meta().Shape) {
				if name != "whole" && name != "corner" {
					continue
				}
				_, err := src.Read(context.Background(), b)
				wantErr(t, err, ErrFormat, c.fragments...)
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not name the file", err)
				}
			}
			if _, err := readTIFF(p); err == nil {
				t.Error("readTIFF succeeded where the source fails")
			}
		})
	}
}

// TestTIFFSourceMisuse checks boxes outside the stack, cancelled contexts,
// boxes above MaxBytes and reads after Close.
func TestTIFFSourceMisuse(t *testing.T) {
	p := tifTemp(t, "m.tif", fixture{z: 3, rps: 5}.build())
	src, err := openTIFFSource(p)
	if err != nil {
		t.Fatal(err)
	}
	s := src.Meta().Shape
	for _, b := range []volume.Box{bx(0, 4, 0, 1, 0, 1), bx(0, 1, 0, 0, 0, 1), bx(-1, 1, 0, 1, 0, 1), bx(0, 1, 0, 1, 30, 38)} {
		if _, err := src.Read(context.Background(), b); err == nil || !strings.Contains(err.Error(), "outside") {
			t.Errorf("box %v: err %v", b, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Read(ctx, volume.Whole(s)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
	old := MaxBytes
	MaxBytes = 100
	_, err = src.Read(context.Background(), volume.Whole(s))
	MaxBytes = old
	wantErr(t, err, ErrTooLarge)
	if _, err := src.Read(context.Background(), bx(0, 1, 0, 1, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(context.Background(), bx(0, 1, 0, 1, 0, 1)); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("read after Close: err %v", err)
	}
	if _, err := openTIFFSource(filepath.Join(t.TempDir(), "none.tif")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err %v", err)
	}
}

// cancelAfter is a context whose Err reports cancellation from its n-th
// call on.
type cancelAfter struct {
	context.Context
	n atomic.Int32
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) <= 0 {
		return context.Canceled
	}
	return nil
}

// TestTIFFSourceCancelBetweenPages cancels a Read while it runs: it stops
// before the next page with ctx's error.
func TestTIFFSourceCancelBetweenPages(t *testing.T) {
	p := tifTemp(t, "c.tif", fixture{z: 4, comp: compDeflate}.build())
	src, err := openTIFFSource(p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.cache = newTIFFCache(1 << 20)
	ctx := &cancelAfter{Context: context.Background()}
	ctx.n.Store(3) // the check on entry, before page 0 and before page 1
	if _, err := src.Read(ctx, volume.Whole(src.Meta().Shape)); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if n := src.chunks.Load(); n != 1 {
		t.Errorf("%d strips decoded, want 1 (page 0's)", n)
	}
}

// TestTIFFSourceConcurrent reads random boxes from many goroutines through
// a cache too small for the stack (evictions, waits on decodes in
// progress); every box equals readTIFF's.
func TestTIFFSourceConcurrent(t *testing.T) {
	for _, f := range []fixture{
		{z: 6, w: 70, h: 50, tile: 16, comp: compDeflate, pred: predHorizontal},
		{z: 6, w: 70, h: 50, rps: 7, comp: compLZW},
		{z: 6, w: 70, h: 50, rps: 3},
	} {
		p := tifTemp(t, "r.tif", f.build())
		src, ref := openBoth(t, p)
		src.cache = newTIFFCache(20000)
		s := ref.Shape()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 7))
				for range 40 {
					z0, y0, x0 := rng.IntN(s.Z), rng.IntN(s.Y), rng.IntN(s.X)
					b := bx(z0, z0+1+rng.IntN(s.Z-z0), y0, y0+1+rng.IntN(s.Y-y0), x0, x0+1+rng.IntN(s.X-x0))
					got, err := src.Read(context.Background(), b)
					if err != nil {
						errs <- err
						return
					}
					want, _ := ref.Read(context.Background(), b)
					if !bytes.Equal(rawBytes(got.Data()), rawBytes(want.Data())) {
						errs <- fmt.Errorf("box %v differs from readTIFF's", b)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if src.cache.bytes() > 20000 {
			t.Errorf("cache holds %d bytes, budget 20000", src.cache.bytes())
		}
	}
}

// TestTIFFSourceLazyVolume views a stack through volume.NewLazy: planes
// along every axis equal those of the stack in memory.
func TestTIFFSourceLazyVolume(t *testing.T) {
	p := tifTemp(t, "lazy.tif", fixture{z: 5, w: 40, h: 30, tile: 16, comp: compDeflate,
		desc: "ImageJ=1.11a\nimages=5\nslices=5\nunit=nm\nspacing=50\n", xres: [2]uint32{1, 4}, yres: [2]uint32{1, 4}}.build())
	src, ref := openBoth(t, p)
	v, err := volume.NewLazy(src)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Lazy() || v.Name != "lazy.tif" || v.Voxel != ref.Voxel || v.Shape() != ref.Shape() {
		t.Fatalf("lazy volume %q %v %+v", v.Name, v.Shape(), v.Voxel)
	}
	for _, axis := range []volume.Axis{volume.XY, volume.XZ, volume.YZ} {
		for _, i := range []int{0, 3} {
			got, err := v.PlaneCtx(context.Background(), axis, i)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.Plane(axis, i)
			if err != nil {
				t.Fatal(err)
			}
			a, b := got.Float32(nil), want.Float32(nil)
			for k := range b {
				if a[k] != b[k] {
					t.Fatalf("%v plane %d: value %d is %v, want %v", axis, i, k, a[k], b[k])
				}
			}
		}
	}
}

// tifffileBenchScript writes a stack of Z 512×512 uint16 pages, one at a
// time, as BigTIFF with tifffile: uncompressed or zlib.
const tifffileBenchScript = `
import sys, numpy as np, tifffile
p, Z, comp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ramp = (np.arange(512 * 512, dtype=np.uint32).reshape(512, 512) * 7)
def pages():
    for z in range(Z):
        yield ((ramp + z * 13) % 4093).astype(np.uint16)
tifffile.imwrite(p, pages(), shape=(Z, 512, 512), dtype='uint16', bigtiff=True, photometric='minisblack',
    compression=None if comp == 'none' else comp)
`

// BenchmarkTIFFSource opens a 2000-page BigTIFF of 512×512 uint16 (about
// 1 GB, written by tifffile at the start) and reads one xz plane, one yz
// plane and one xy plane from it; and reads xz planes of a 200-page
// Deflate stack, with an empty cache and with the pages cached.
func BenchmarkTIFFSource(b *testing.B) {
	py := reftest.Python(b, "tifffile", "numpy")
	dir := b.TempDir()
	write := func(name string, z int, comp string) string {
		p := filepath.Join(dir, name)
		if out, err := exec.Command(py, "-c", tifffileBenchScript, p, fmt.Sprint(z), comp).CombinedOutput(); err != nil {
			b.Fatalf("tifffile: %v\n%s", err, out)
		}
		return p
	}
	raw := write("raw.tif", 2000, "none")
	ctx := context.Background()
	b.Run("open/2000-pages", func(b *testing.B) {
		for range b.N {
			src, err := openTIFFSource(raw)
			if err != nil {
				b.Fatal(err)
			}
			src.Close()
		}
	})
	b.Run("inspectTIFF/2000-pages", func(b *testing.B) {
		for range b.N {
			if _, err := inspectTIFF(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	src, err := openTIFFSource(raw)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	s := src.Meta().Shape
	planes := []struct {
		name string
		box  func(i int) volume.Box
	}{
		{"xz", func(i int) volume.Box { return bx(0, s.Z, i%s.Y, i%s.Y+1, 0, s.X) }},
		{"yz", func(i int) volume.Box { return bx(0, s.Z, 0, s.Y, i%s.X, i%s.X+1) }},
		{"xy", func(i int) volume.Box { return bx(i%s.Z, i%s.Z+1, 0, s.Y, 0, s.X) }},
	}
	for _, pl := range planes {
		b.Run("read/"+pl.name+"/2000-pages-raw", func(b *testing.B) {
			for i := range b.N {
				if _, err := src.Read(ctx, pl.box(i*37)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	zp := write("zlib.tif", 200, "zlib")
	zsrc, err := openTIFFSource(zp)
	if err != nil {
		b.Fatal(err)
	}
	defer zsrc.Close()
	zs := zsrc.Meta().Shape
	b.Run("read/xz/200-pages-deflate-cold", func(b *testing.B) {
		for i := range b.N {
			zsrc.cache = newTIFFCache(1 << 30)
			if _, err := zsrc.Read(ctx, bx(0, zs.Z, i%zs.Y, i%zs.Y+1, 0, zs.X)); err != nil {
				b.Fatal(err)
			}
		}
	})
	zsrc.cache = newTIFFCache(1 << 30)
	b.Run("read/xz/200-pages-deflate-cached", func(b *testing.B) {
		for i := range b.N {
			if _, err := zsrc.Read(ctx, bx(0, zs.Z, i%zs.Y, i%zs.Y+1, 0, zs.X)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzTIFFSource feeds arbitrary bytes to the region reader. It must never
// panic or allocate past MaxBytes, and it must agree with the in-memory
// reader: when readTIFF's parse and decode succeed, the source opens with
// the same shape, type and voxel size and reads the same voxels in every
// box, with and without a cache; when the source reads the whole stack, so
// does readTIFF.
//
//	go test ./io -run '^$' -fuzz FuzzTIFFSource -fuzztime 60s
func FuzzTIFFSource(f *testing.F) {
	old := MaxBytes
	MaxBytes = 16 << 20
	f.Cleanup(func() { MaxBytes = old })

	for _, dt := range []volume.DType{volume.Uint8, volume.Float32} {
		v := tifTestVolume(f, dt, volume.Shape{Z: 3, Y: 5, X: 4}, volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true})
		var b bytes.Buffer
		if err := writeTIFFTo(&b, v, dt == volume.Float32); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	for _, fx := range []fixture{
		{w: 9, h: 5, z: 2, bps: 8, comp: compLZW, pred: predHorizontal, rps: 2},
		{w: 9, h: 5, z: 2, bps: 16, comp: compPackBits, order: binary.BigEndian, rps: 1},
		{w: 9, h: 5, z: 2, bps: 32, format: fmtFloat, comp: compDeflate, pred: predFloatingPt, tile: 16},
		{w: 20, h: 18, z: 2, bps: 16, format: fmtInt, comp: compDeflate, tile: 16, big: true},
		{w: 20, h: 18, z: 2, bps: 8, format: fmtInt, tile: 16},
		{w: 6, h: 4, z: 3, rps: 3, desc: "ImageJ=1.11a\nimages=3\nslices=3\nunit=micron\nspacing=0.5\n"},
		{w: 6, h: 4, z: 4, comp: compLZW, desc: "ImageJ=1.11a\nimages=4\nslices=2\nframes=2\n"},
		{w: 6, h: 4, z: 2, bps: 32, extra: []fixTag{{tag: tagPhotometric, typ: tShort, vals: []uint64{photoWhiteIsZ}}}},
	} {
		f.Add(fx.build())
	}
	f.Add(imagejContiguous(3)(fixture{z: 1, w: 5, h: 3, bps: 16, desc: "ImageJ=1.11a\nimages=3\nslices=3\n"}.build()))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		size := int64(len(data))
		var ref *volume.Volume
		st, werr := parseTIFF(r, size, false, true)
		if werr == nil {
			var d any
			if d, werr = st.decode(); werr == nil {
				if ref, werr = volume.New(st.shape, d, st.voxel); werr != nil {
					return // not a reader's concern
				}
			}
		}
		src, err := newTIFFSource(r, size, "fuzz.tif")
		if err != nil {
			if ref != nil {
				t.Fatalf("readTIFF read the stack, the source does not open: %v", err)
			}
			return
		}
		m := src.Meta()
		if ref != nil && (m.Shape != ref.Shape() || m.DType != ref.DType() || m.Voxel != ref.Voxel) {
			t.Fatalf("source %v %v %+v, readTIFF %v %v %+v", m.Shape, m.DType, m.Voxel, ref.Shape(), ref.DType(), ref.Voxel)
		}
		for _, cache := range []int64{1 << 20, 0} {
			src.cache = newTIFFCache(cache)
			for name, b := range sourceBoxes(m.Shape) {
				got, err := src.Read(ctx, b)
				if err == nil && got.Bytes() > MaxBytes {
					t.Fatalf("%s: read %d bytes, limit %d", name, got.Bytes(), MaxBytes)
				}
				if name == "whole" && err == nil && ref == nil && !errors.Is(werr, ErrTooLarge) {
					t.Fatalf("the source reads the whole stack, readTIFF fails: %v", werr)
				}
				if ref == nil {
					continue
				}
				if err != nil {
					t.Fatalf("%s %v: readTIFF read the stack, the source fails: %v", name, b, err)
				}
				want, _ := ref.Read(ctx, b)
				if !bytes.Equal(rawBytes(got.Data()), rawBytes(want.Data())) {
					t.Fatalf("%s %v (cache %d): voxels differ from readTIFF's", name, b, cache)
				}
			}
		}
	})
}
