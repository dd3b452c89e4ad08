// Package hdf5 reads 2-D and 3-D image datasets from HDF5 files, in pure Go:
// the .h5, .hdf5 and .hdf volumes that h5py, CREMI, ilastik, Fiji and
// BigDataViewer write. It is a reader of the subset of the format these
// programs use, not a general HDF5 library.
//
// Open reads the file's metadata (superblock, groups, the dataset's object
// header); Dataset.Read then reads only the chunks (or, for contiguous
// datasets, the rows) a region needs, so that files far larger than memory
// open at once. Decoded chunks are kept in a cache shared by every open
// dataset (CacheBytes).
//
// # Supported
//
//   - Superblock versions 0 to 3, found at offset 0 or after a user block
//     (512, 1024, 2048 … bytes).
//   - Object headers versions 1 and 2, with continuation blocks; committed
//     (shared) datatypes.
//   - Groups stored as symbol tables (a v1 B-tree and a local heap, h5py's
//     default), as link messages in the header, and as dense link storage
//     (a fractal heap indexed by a v2 B-tree, used by libver="latest" for
//     groups of more than 8 links); hard and soft links. Attributes in the
//     header and in dense attribute storage.
//   - Datasets of rank 2 or 3, and of rank 4 or 5 whose dimensions beyond
//     three are 1 (leading, as t and c of tczyx, or trailing, as the
//     channel of ilastik's zyxc); a 2-D dataset is read as one z plane.
//   - Fixed-point and floating-point elements of either byte order: uint8
//     is read as Uint8, int8 and int16 as Int16, uint16 as Uint16, float16
//     and float32 as Float32, float64 as Float64. uint32 and int32 are read
//     as Float32, exact up to 2^24 in magnitude, and uint64 and int64 as
//     Float64, exact up to 2^53: Dataset.Notes says so.
//   - Contiguous, compact and chunked layouts (layout messages versions 1
//     to 4). Chunks are found through a v1 B-tree (h5py's default), or in
//     version 4 layouts (libver="latest") through a single-chunk index, an
//     implicit index, a fixed array, an extensible array or a v2 B-tree.
//   - Filters deflate (gzip), shuffle, fletcher32 (verified), lzf (h5py's
//     own), and, from the hdf5plugin filters, Blosc (1.x frames) and zstd.
//     Chunks never written read as the dataset's fill value (0 unless the
//     file sets one).
//   - BigDataViewer's images (/tTTTTT/sSS/L/cells), whose uint16 values
//     BigDataViewer stores as int16, are read as Uint16.
//   - The voxel size from a dataset's "resolution" attribute (z, y, x in
//     nm, as CREMI writes it) or "element_size_um" (z, y, x in µm, as
//     ilastik and Fiji write it).
//
// # Not supported
//
// Other element classes (compound, string, enum, array, reference,
// bitfield, opaque, variable-length), integer types with padding bits,
// virtual datasets, external storage, the szip, nbit, scale-offset, lz4,
// bzip2 and bitshuffle filters and other third-party filters, shared
// messages other than committed datatypes, fractal heaps with I/O filters
// and "huge" heap objects. Each gives an error that wraps ErrUnsupported
// and names what is missing.
package hdf5

import (
	"bytes"
	"errors"
	"fmt"
)

// Signature is the 8 bytes every HDF5 superblock starts with.
const Signature = "\x89HDF\r\n\x1a\n"

// Sniff reports whether head, the first bytes of a file, starts with the
// HDF5 signature. Files with a user block have their superblock at offset
// 512, 1024, 2048… instead; Open finds those too.
func Sniff(head []byte) bool { return bytes.HasPrefix(head, []byte(Signature)) }

var (
	// ErrFormat is wrapped by errors for files that are not HDF5 files or
	// whose structures are corrupt or truncated.
	ErrFormat = errors.New("not a valid HDF5 file")
	// ErrUnsupported is wrapped by errors for valid files that use a
	// feature this package does not implement (a filter, an element type, a
	// storage layout).
	ErrUnsupported = errors.New("HDF5 feature not supported")
	// ErrNotFound is wrapped by Open's error when the file holds no
	// dataset of the name given, or no single volume when no name is given.
	ErrNotFound = errors.New("no such dataset")
)

// Error is a failure to open, list or read one file.
type Error struct {
	Op      string // "open", "list", "read"
	Path    string // the file
	Dataset string // the dataset's path inside the file; "" when not known
	Err     error
}

// Error formats the failure as "hdf5: read crop.hdf:/volumes/raw: problem".
func (e *Error) Error() string {
	where := e.Path
	if e.Dataset != "" {
		where += ":" + e.Dataset
	}
	return fmt.Sprintf("hdf5: %s %s: %v", e.Op, where, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// kindError is an error message that also matches one of the sentinel
// errors with errors.Is, without repeating its text.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// corrupt returns an error wrapping ErrFormat.
func corrupt(format string, a ...any) error {
	return &kindError{ErrFormat, fmt.Errorf(format, a...)}
}

// unsupported returns an error wrapping ErrUnsupported.
func unsupported(format string, a ...any) error {
	return &kindError{ErrUnsupported, fmt.Errorf(format, a...)}
}

// humanBytes formats a byte count as "1.5 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
