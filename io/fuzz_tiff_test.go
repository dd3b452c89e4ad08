package volio

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/volume"
)

// FuzzTIFF feeds arbitrary bytes to the TIFF reader through a file: it must
// never panic or allocate past MaxBytes, and whenever readTIFF succeeds,
// inspectTIFF must agree with it.
//
//	go test ./io -run '^$' -fuzz FuzzTIFF -fuzztime 60s
func FuzzTIFF(f *testing.F) {
	old := MaxBytes
	MaxBytes = 16 << 20
	f.Cleanup(func() { MaxBytes = old })

	// Seeds: niiv's own output and fixtures covering every decoder path.
	for _, dt := range []volume.DType{volume.Uint8, volume.Int16, volume.Float32} {
		v := tifTestVolume(f, dt, volume.Shape{Z: 2, Y: 3, X: 5}, volume.Voxel{Z: 50, Y: 4, X: 4, Unit: "nm", Known: true})
		var b bytes.Buffer
		if err := writeTIFFTo(&b, v, dt == volume.Float32); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	const ome = `<?xml version="1.0"?><OME><Image><Pixels SizeC="1" PhysicalSizeX="0.1" PhysicalSizeZ="40" PhysicalSizeZUnit="nm"/></Image></OME>`
	for _, fx := range []fixture{
		{w: 9, h: 5, z: 2, bps: 8, comp: compLZW, pred: predHorizontal},
		{w: 9, h: 5, z: 2, bps: 16, comp: compPackBits, order: binary.BigEndian},
		{w: 9, h: 5, z: 1, bps: 32, format: fmtFloat, comp: compDeflate, pred: predFloatingPt, rps: 2},
		{w: 20, h: 18, z: 1, bps: 16, comp: compDeflateOld, tile: 16, big: true},
		{w: 6, h: 4, z: 2, bps: 16, format: fmtFloat, desc: ome},
		{w: 6, h: 4, z: 1, bps: 8, desc: "ImageJ=1.11a\nimages=3\nslices=3\nunit=micron\nspacing=0.5\n", xres: [2]uint32{10, 1}, yres: [2]uint32{10, 1}},
	} {
		f.Add(fx.build())
	}
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Add([]byte("MM\x00+\x00\x08\x00\x00\x00\x00\x00\x00\x00\x10"))

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.tif")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		info, ierr := inspectTIFF(p)
		v, rerr := readTIFF(p)
		readTIFFPlane(p)
		if rerr != nil {
			return
		}
		if ierr != nil {
			t.Fatalf("readTIFF succeeded but inspectTIFF failed: %v", ierr)
		}
		if info.Shape != v.Shape() || info.DType != v.DType() || info.Voxel != v.Voxel {
			t.Fatalf("inspect %v %v %+v, read %v %v %+v", info.Shape, info.DType, info.Voxel, v.Shape(), v.DType(), v.Voxel)
		}
		if v.Bytes() > MaxBytes {
			t.Fatalf("read %d bytes, limit %d", v.Bytes(), MaxBytes)
		}
	})
}
