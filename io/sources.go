package volio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/niiv/niiv/internal/sysmem"
	"github.com/niiv/niiv/io/hdf5"
	"github.com/niiv/niiv/io/mrc"
	"github.com/niiv/niiv/io/zarr"
	"github.com/niiv/niiv/volume"
)

// Formats read by region.
const (
	// MRC is an MRC/MRCS file (cryo-ET, FIB-SEM, IMOD).
	MRC Format = "mrc"
	// Zarr is a Zarr v2 or v3 array or an OME-Zarr image (a folder).
	Zarr Format = "zarr"
	// N5 is an N5 dataset or multiscale group (a folder).
	N5 Format = "n5"
	// HDF5 is a dataset of an HDF5 file (.h5, .hdf5, .hdf): "file.h5"
	// for its only 3-D dataset, "file.h5:/group/dataset" for a chosen one.
	HDF5 Format = "hdf5"
)

// Lazy says when OpenWith keeps a region-readable file (MRC, TIFF, HDF5
// and the chunked formats) on disk instead of reading it into memory.
type Lazy int

const (
	// LazyAuto reads a volume into memory when it is at most LazyAbove
	// bytes, and lazily otherwise.
	LazyAuto Lazy = iota
	// LazyAlways keeps every region-readable volume on disk.
	LazyAlways
	// LazyNever reads the whole volume into memory (refused above
	// MaxBytes).
	LazyNever
)

// LazyAbove is the size above which LazyAuto opens a volume lazily: 2 GiB,
// or an eighth of memory when that is smaller. Smaller volumes are read
// whole, where every view and method is fastest.
var LazyAbove = lazyAbove()

func lazyAbove() int64 {
	const cap = 2 << 30
	if t := sysmem.Total(); t > 0 && t/8 < cap {
		return t / 8
	}
	return cap
}

// ChunkCacheBytes is the budget of the decoded-chunk cache that every
// chunked volume opened by this package shares: a sixteenth of memory, at
// most 256 MiB (the chunks behind three 512×512 views at full resolution
// take about 100 MiB with 128³ chunks of 8-bit voxels, 200 MiB of 16-bit
// ones). Set it before the first open.
var ChunkCacheBytes = chunkCacheBytes()

func chunkCacheBytes() int64 {
	const cap = 256 << 20
	if t := sysmem.Total(); t > 0 && t/16 < cap {
		return t / 16
	}
	return cap
}

// chunkCache is the cache shared by the chunked volumes.
var chunkCache = sync.OnceValue(func() *zarr.Cache { return zarr.NewCache(ChunkCacheBytes) })

// source is a volume read by region, with the file it holds open.
type source interface {
	volume.Source
	io.Closer
}

// openSource opens a region-readable file of format fm.
func openSource(path string, fm Format) (source, error) {
	switch fm {
	case MRC:
		f, err := mrc.Open(path)
		if err != nil {
			return nil, err
		}
		return f, nil
	case Zarr, N5:
		im, err := zarr.Open(path, zarr.Options{Cache: chunkCache()})
		if err != nil {
			return nil, err
		}
		return im, nil
	case TIFF:
		s, err := openTIFFSource(path)
		if err != nil {
			return nil, err
		}
		return s, nil
	case HDF5:
		file, name, ok := splitDataset(path)
		if !ok {
			file, name = path, ""
		}
		hdf5Budget()
		d, err := hdf5.Open(file, name)
		if err != nil {
			if name == "" && errors.Is(err, hdf5.ErrNotFound) {
				err = fmt.Errorf("%w; open one as %s:/PATH/TO/DATASET", err, file)
			}
			return nil, err
		}
		return d, nil
	}
	return nil, &Error{"open", path, fmt.Errorf("%w: %s is not read by region", ErrFormat, fm)}
}

// inspectSource reports what the header of a region-readable file says.
func inspectSource(path string, fm Format) (Info, error) {
	src, err := openSource(path, fm)
	if err != nil {
		return Info{}, err
	}
	defer src.Close()
	m := src.Meta()
	info := Info{Path: path, Format: fm, Shape: m.Shape, DType: m.DType, Voxel: m.Voxel}
	switch f := src.(type) {
	case *mrc.File:
		info.Detail = f.Header().Summary()
	case *zarr.Image:
		info.Detail = describeImage(f)
		info.Channels, info.Times = f.Channels(), f.Times()
	case *hdf5.Dataset:
		info.Detail = strings.Join(append([]string{"dataset " + f.Name()}, f.Notes()...), "; ")
	}
	return info, nil
}

// readSource opens a region-readable file: lazily (volume.NewLazy, the file
// kept open for the life of the process) or whole, as o.Lazy and the
// volume's size say. A URL is read lazily unless o.Lazy is LazyNever.
func readSource(path string, fm Format, o Options) (*volume.Volume, error) {
	src, err := openSource(path, fm)
	if err != nil {
		return nil, err
	}
	m := src.Meta()
	bytes := int64(m.Shape.Len()) * int64(m.DType.Size())
	lazy := o.Lazy == LazyAlways || o.Lazy == LazyAuto && (bytes > LazyAbove || zarr.IsURL(path))
	if lazy {
		v, err := volume.NewLazy(src)
		if err != nil {
			src.Close()
			return nil, &Error{"read", path, err}
		}
		if v.Name == "" {
			v.Name = filepath.Base(path)
		}
		return v, nil
	}
	defer src.Close()
	if fm == TIFF {
		return readTIFF(path) // whole stacks: the stack reader is faster
	}
	if err := checkAlloc(m.Shape, m.DType); err != nil {
		return nil, &Error{"read", path, fmt.Errorf("%w; open it lazily instead (the default above %s)", err, HumanBytes(LazyAbove))}
	}
	v, err := src.Read(context.Background(), volume.Whole(m.Shape))
	if err != nil {
		return nil, err
	}
	return v, nil
}

// sniffSource recognises the region-readable formats from a file's first
// bytes (up to 1024).
func sniffSource(head []byte) (Format, bool) {
	if mrc.Sniff(head) {
		return MRC, true
	}
	// HDF5 files start with their signature, or have it after a user
	// block of 512 bytes (larger user blocks are found by the extension).
	if hdf5.Sniff(head) || len(head) > 512 && hdf5.Sniff(head[512:]) {
		return HDF5, true
	}
	return "", false
}

// hdf5Budget gives the HDF5 reader's decoded-chunk cache the budget of the
// other chunked formats, once, before the first HDF5 file opens.
var hdf5Budget = sync.OnceFunc(func() { hdf5.CacheBytes = ChunkCacheBytes })

// splitDataset splits "file.h5:/group/dataset" (or "file.h5:dataset") into
// the file and the dataset's path inside it, when the whole path is not a
// file itself and the part before a colon is one.
func splitDataset(path string) (file, name string, ok bool) {
	if _, err := os.Stat(path); err == nil {
		return "", "", false
	}
	for i := 1; i < len(path)-1; i++ {
		if path[i] != ':' {
			continue
		}
		if st, err := os.Stat(path[:i]); err == nil && st.Mode().IsRegular() {
			return path[:i], path[i+1:], true
		}
	}
	return "", "", false
}

// describeImage sums up a Zarr/N5 image for Info.Detail: its pyramid, and
// channels, time points and notes when it has them.
func describeImage(im *zarr.Image) string {
	var parts []string
	lv := im.Levels()
	shapes := make([]string, len(lv))
	for i, l := range lv {
		shapes[i] = l.Meta().Shape.String()
	}
	parts = append(parts, fmt.Sprintf("%d pyramid level(s): %s", len(lv), strings.Join(shapes, ", ")))
	if c := im.Channels(); c > 1 {
		parts = append(parts, fmt.Sprintf("%d channels (channel 0 shown)", c))
	}
	if t := im.Times(); t > 1 {
		parts = append(parts, fmt.Sprintf("%d time points (time 0 shown)", t))
	}
	parts = append(parts, im.Notes()...)
	return strings.Join(parts, "; ")
}

// chunkedFormat recognises a Zarr or N5 folder by its metadata files.
func chunkedFormat(dir string) (Format, bool) {
	for _, f := range []string{".zarray", ".zgroup", ".zattrs", "zarr.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return Zarr, true
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "attributes.json")); err == nil {
		return N5, true
	}
	return "", false
}
