package hdf5

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/niiv/niiv/volume"
)

// FuzzOpen feeds mutated small HDF5 files (testdata/seeds, written by
// seeds.py) to List, Open and Read, with metadata checksums verified and
// then not. Nothing may panic or loop, an opened
// dataset must have a valid shape and type, and reads inside it must
// succeed or fail with an error. Sizes are bounded (structures of 1 MiB,
// chunks of 4 MiB, reads of 1 Mi voxels) so that each input runs fast.
func FuzzOpen(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "seeds", "*.h5"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/seeds: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(Signature))
	oldMeta, oldChunk, oldRead := maxMeta, maxChunkBytes, MaxReadBytes
	maxMeta, maxChunkBytes, MaxReadBytes = 1<<20, 4<<20, 8<<20
	f.Cleanup(func() { maxMeta, maxChunkBytes, MaxReadBytes = oldMeta, oldChunk, oldRead })
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzOne(t, b)
		// Again without metadata checksums, which stop most mutations of
		// the structures of version 2 headers, heaps and indexes.
		skipChecksums = true
		defer func() { skipChecksums = false }()
		fuzzOne(t, b)
	})
}

// fuzzOne is the body of FuzzOpen.
func fuzzOne(t *testing.T, b []byte) {
	ctx := context.Background()
	if len(b) > 1<<17 {
		return
	}
	Sniff(b)
	r := bytes.NewReader(b)
	fl, err := openFile(r, int64(len(b)))
	if err != nil {
		return
	}
	infos, _ := fl.list()
	names := []string{""}
	for _, in := range infos {
		if len(names) < 6 {
			names = append(names, in.Name)
		}
	}
	for _, name := range names {
		d, err := openReader(r, int64(len(b)), "fuzz.h5", name)
		if err != nil {
			continue
		}
		d.cache = newCache(1 << 20)
		m := d.Meta()
		if !m.Shape.Valid() || m.DType.Size() == 0 {
			t.Fatalf("%s: opened with shape %v type %v", name, m.Shape, m.DType)
		}
		s := m.Shape
		if s.Len() <= 1<<16 {
			if v, err := d.Read(ctx, volume.Whole(s)); err == nil && (v.Shape() != s || v.DType() != m.DType) {
				t.Fatalf("%s: read %v %v, want %v %v", name, v.Shape(), v.DType(), s, m.DType)
			}
		}
		c := volume.Box{Z0: s.Z / 2, Z1: s.Z/2 + 1, Y0: s.Y / 2, Y1: min(s.Y, s.Y/2+2), X0: 0, X1: min(s.X, 3)}
		d.Read(ctx, c)
	}
}
