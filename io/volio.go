// Package volio reads and writes the volumes microscopists have: NumPy .npy
// arrays, multi-page TIFF stacks (ImageJ and OME metadata), folders of 2-D
// slices and one array of a NumPy .npz archive; and, read region by region
// so that volumes far larger than memory open at once, MRC files, HDF5
// datasets, Zarr and OME-Zarr images and N5 datasets (large TIFF stacks are
// read by region too). Formats are recognised by their content, not by
// extension.
//
// Every error names the file and the problem. Sizes are checked from the
// header before any voxel memory is allocated, and writers never leave a
// partial file behind: they write to a temporary file and rename it.
package volio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/internal/sysmem"
	"github.com/niiv/niiv/io/mrc"
	"github.com/niiv/niiv/io/omezarr"
	"github.com/niiv/niiv/io/zarr"
	"github.com/niiv/niiv/volume"
)

// Format names a file format.
type Format string

// Known formats.
const (
	NPY  Format = "npy"
	TIFF Format = "tiff"
	// NPZ is a NumPy .npz archive, of which one array is read: the only
	// one, else the first named volume, data, arr_0 or image, or the one a
	// ":NAME" suffix picks, as in "cells.npz:stack".
	NPZ    Format = "npz"
	Folder Format = "folder of 2-D slices"
)

// Info is what a header says about a volume, read without loading voxels.
type Info struct {
	Path   string
	Format Format
	Shape  volume.Shape
	DType  volume.DType
	Voxel  volume.Voxel
	// Detail is a format-specific note, e.g. "C order" or "LZW, 3 strips".
	Detail string
	// Channels and Times count the channels and time points of a
	// hyperstack (OpenHyperstack); 0 or 1 for one. Shape is then the shape
	// of one channel at one time point.
	Channels, Times int
}

// Bytes returns the size of the voxel data in bytes.
func (i Info) Bytes() int64 { return int64(i.Shape.Len()) * int64(i.DType.Size()) }

// Error is a read or write failure for one file.
type Error struct {
	Op   string // "read", "write", "inspect"
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("volio: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("volio: %s %s: %v", e.Op, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTooLarge is wrapped by errors for volumes that exceed the memory limit.
var ErrTooLarge = errors.New("volume too large")

// ErrFormat is wrapped by errors for files that are not a supported volume.
var ErrFormat = errors.New("unsupported or corrupt file")

// MaxBytes is the largest voxel buffer a reader will allocate. It defaults to
// 3/4 of physical memory (or 8 GiB when that cannot be read) and may be set
// lower by callers and tests.
var MaxBytes = sysmem.MaxAlloc()

// checkAlloc refuses a voxel buffer larger than MaxBytes, before allocating.
func checkAlloc(shape volume.Shape, dt volume.DType) error {
	if !shape.Valid() {
		return fmt.Errorf("%w: shape %v has an empty or negative axis", ErrFormat, shape)
	}
	const maxDim = 1 << 31
	if shape.Z > maxDim || shape.Y > maxDim || shape.X > maxDim {
		return fmt.Errorf("%w: shape %v is absurd", ErrTooLarge, shape)
	}
	n := int64(shape.Z) * int64(shape.Y)
	if n > maxDim*maxDim/int64(shape.X) {
		return fmt.Errorf("%w: shape %v overflows", ErrTooLarge, shape)
	}
	n *= int64(shape.X)
	if n > (1<<62)/8 || n*int64(dt.Size()) > MaxBytes {
		return fmt.Errorf("%w: %v %v needs %s, limit is %s", ErrTooLarge, shape, dt, HumanBytes(n*int64(dt.Size())), HumanBytes(MaxBytes))
	}
	return nil
}

// inMemory returns v, or, for a lazy volume (volume.NewLazy), all its
// voxels read into memory; a lazy volume larger than MaxBytes is refused.
func inMemory(v *volume.Volume) (*volume.Volume, error) {
	if !v.Lazy() {
		return v, nil
	}
	if err := checkAlloc(v.Shape(), v.DType()); err != nil {
		return nil, fmt.Errorf("%s is read lazily and too large to write as one array: %w", v.Name, err)
	}
	m, err := v.Read(context.Background(), volume.Whole(v.Shape()))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", v.Name, err)
	}
	return m, nil
}

// HumanBytes formats a byte count as "1.5 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// sniff returns the format of a file from its first bytes.
func sniff(head []byte) (Format, bool) {
	switch {
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return NPY, true
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")),
		bytes.HasPrefix(head, []byte("II+\x00")), bytes.HasPrefix(head, []byte("MM\x00+")):
		return TIFF, true
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return NPZ, true
	}
	return "", false
}

// Detect returns the format of path: a directory or glob pattern is a folder
// of slices; a file is recognised by its magic bytes; "x.npz:NAME", where
// x.npz exists and the whole path does not, is an array of an archive. An
// http:// or https:// URL is a Zarr or N5 folder served over HTTP,
// recognised by the metadata files the server has; nothing else is read
// from URLs.
func Detect(path string) (Format, error) {
	if zarr.IsURL(path) {
		return detectURL(path)
	}
	if strings.ContainsAny(path, "*?[") {
		return Folder, nil
	}
	if file, _, ok := splitDataset(path); ok {
		fm, err := Detect(file)
		if err == nil && fm != NPZ && fm != HDF5 {
			return "", &Error{"open", path, fmt.Errorf("%w: a :NAME suffix picks an array of a .npz archive or a dataset of an HDF5 file, and %s is a .%s file", ErrFormat, file, fm)}
		}
		return fm, err
	}
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == path {
			err = pe.Err // the path is in the message already
		}
		return "", &Error{"open", path, err}
	}
	if st.IsDir() {
		if fm, ok := chunkedFormat(path); ok {
			return fm, nil
		}
		return Folder, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", &Error{"open", path, err}
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	if fm, ok := sniff(head[:n]); ok {
		return fm, nil
	}
	if fm, ok := sniffSource(head[:n]); ok {
		return fm, nil
	}
	if n == 0 {
		return "", &Error{"read", path, fmt.Errorf("%w: file is empty", ErrFormat)}
	}
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".h5", ".hdf5", ".hdf", ".he5":
		return HDF5, nil // the superblock may follow a large user block
	}
	return "", &Error{"read", path, fmt.Errorf("%w: not a .npy, TIFF, MRC or HDF5 file or a .npz archive (extension %q, first bytes % x)", ErrFormat, ext, head[:min(n, 8)])}
}

// detectURL recognises a Zarr or N5 folder served at the URL path.
func detectURL(path string) (Format, error) {
	kind, err := zarr.Kind(path)
	switch {
	case err != nil:
		return "", &Error{"open", path, err}
	case kind == "zarr":
		return Zarr, nil
	case kind == "n5":
		return N5, nil
	}
	return "", &Error{"open", path, fmt.Errorf("%w: no .zattrs, .zgroup, .zarray, zarr.json or attributes.json at this URL (the server answered 404 or 403): over HTTP niiv reads Zarr, OME-Zarr and N5 only", ErrFormat)}
}

// errURLWrite is returned for an output path that is a URL.
var errURLWrite = errors.New("cannot write to a URL: give a local path")

// refuseURL refuses to write to path when it is an http(s) URL.
func refuseURL(path string) error {
	if zarr.IsURL(path) {
		return &Error{"write", path, errURLWrite}
	}
	return nil
}

// Options adjust how OpenWith and InspectWith read a volume.
type Options struct {
	// VoxelGiven says that the caller sets the voxel size itself, as niiv's
	// --voxel does. A voxel-size sidecar that cannot be used (unreadable,
	// not JSON, an invalid size) then does not fail the read: it is passed
	// to Warn, and the size comes from the file name if it has one.
	VoxelGiven bool
	// Warn receives problems that do not stop the read; nil drops them.
	Warn func(error)
	// Lazy says when a region-readable file (TIFF, MRC, HDF5, Zarr, N5)
	// stays on disk, read region by region (LazyAuto: above LazyAbove
	// bytes; a URL is read by region unless LazyNever).
	Lazy Lazy
	// Axes names the dimensions of a .npy or .npz array for
	// OpenHyperstack, e.g. "czyx" or "tczyx" (letters t, c, z, y, x; z, y
	// and x required). Arrays of more than three dimensions are never
	// guessed; other formats name their own axes and refuse it.
	Axes string
}

func (o Options) warn(err error) {
	if o.Warn != nil {
		o.Warn(err)
	}
}

// Inspect reads only the header of path and reports its shape, type and
// voxel size.
func Inspect(path string) (Info, error) { return InspectWith(path, Options{}) }

// InspectWith is Inspect with options.
func InspectWith(path string, o Options) (Info, error) {
	fm, err := Detect(path)
	if err != nil {
		return Info{}, err
	}
	switch fm {
	case NPY:
		return inspectNPY(path, o)
	case NPZ:
		return inspectNPZ(path, o)
	case TIFF:
		return inspectTIFF(path)
	case MRC, Zarr, N5, HDF5:
		return inspectSource(path, fm)
	default:
		return inspectFolder(path)
	}
}

// Open reads a whole volume. Floating-point volumes with NaN or Inf voxels,
// or with float64 values beyond the range of float32 (in which niiv
// computes), are refused. The voxel size comes from the file when it has
// one; otherwise Voxel.Known is false.
func Open(path string) (*volume.Volume, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, o Options) (*volume.Volume, error) {
	fm, err := Detect(path)
	if err != nil {
		return nil, err
	}
	var v *volume.Volume
	switch fm {
	case NPY:
		v, err = readNPY(path, o)
	case NPZ:
		v, err = readNPZ(path, o)
	case TIFF, MRC, Zarr, N5, HDF5:
		v, err = readSource(path, fm, o)
	default:
		v, err = readFolder(path)
	}
	if err != nil {
		return nil, err
	}
	if err := v.CheckFinite(); err != nil {
		return nil, &Error{"read", path, err}
	}
	if err := checkFloat32Range(v); err != nil {
		return nil, &Error{"read", path, err}
	}
	if v.Name == "" {
		v.Name = filepath.Base(path)
	}
	return v, nil
}

// checkFloat32Range refuses float64 voxels that float32, in which niiv
// computes, cannot hold: converted, they would become ±Inf. The error names
// the first such voxel, as CheckFinite does for NaN and Inf.
func checkFloat32Range(v *volume.Volume) error {
	d, ok := v.Data().([]float64)
	if !ok {
		return nil
	}
	for i, f := range d {
		if math.IsInf(float64(float32(f)), 0) {
			s := v.Shape()
			x, y, z := i%s.X, (i/s.X)%s.Y, i/(s.X*s.Y)
			return fmt.Errorf("voxel (z=%d, y=%d, x=%d) is %g, beyond the float32 range (±%.4g) niiv computes in: rescale the data", z, y, x, f, math.MaxFloat32)
		}
	}
	return nil
}

// Save writes v to path; the format follows the extension (.npy, .tif,
// .tiff, .zarr for an OME-Zarr image, .mrc). The file appears only when
// complete. When the disk has no room
// for it, the error matches syscall.ENOSPC and says how much is needed
// and free (atomicfile.NoSpaceError), and an older file at path, with
// its voxel-size sidecar, is left as it was.
func Save(path string, v *volume.Volume) error {
	if path == "" {
		return &Error{"write", path, atomicfile.ErrEmptyPath}
	}
	if err := refuseURL(path); err != nil {
		return err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return WriteNPY(path, v)
	case ".tif", ".tiff":
		return WriteTIFF(path, v)
	case ".zarr":
		return SaveZarr(context.Background(), path, v, omezarr.Options{})
	case ".mrc", ".mrcs", ".rec", ".map", ".st":
		v, err := inMemory(v)
		if err != nil {
			return &Error{"write", path, err}
		}
		return mrc.Write(path, v)
	}
	return &Error{"write", path, fmt.Errorf("unknown output format %q (use %s)", filepath.Ext(path), saveFormats)}
}

// saveFormats lists the extensions Save knows.
const saveFormats = ".npy, .tif, .tiff, .zarr (OME-Zarr) or .mrc"

// SaveZarr writes v as an OME-Zarr image (a folder, by convention ending
// in .zarr; 0.4, or 0.5 as o.Version says), streaming: a lazy volume is
// read chunk by chunk, never whole. The image appears only when complete.
func SaveZarr(ctx context.Context, path string, v *volume.Volume, o omezarr.Options) error {
	if err := refuseURL(path); err != nil {
		return err
	}
	if err := omezarr.Write(ctx, path, v, o); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &Error{"write", path, err}
	}
	return nil
}

// CheckSave reports, before any work, whether Save could write path: a
// .npy, .tif or .tiff name whose folder exists and takes new files, and
// which is not a folder.
func CheckSave(path string) error {
	if err := refuseURL(path); err != nil {
		return err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy", ".tif", ".tiff", ".mrc", ".mrcs", ".rec", ".map", ".st":
	case ".zarr":
		if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
			return &Error{"write", path, fmt.Errorf("folder %s does not exist", filepath.Dir(path))}
		}
		return nil
	default:
		return &Error{"write", path, fmt.Errorf("unknown output format %q (use %s)", filepath.Ext(path), saveFormats)}
	}
	if err := atomicfile.Check(path); err != nil {
		return &Error{"write", path, err}
	}
	return nil
}
