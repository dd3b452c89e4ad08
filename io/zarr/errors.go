package zarr

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/niiv/niiv/volume"
)

// ErrClosed is returned by reads of an Image after Close.
var ErrClosed = errors.New("image is closed")

// ChunkError is a chunk that could not be read or decoded.
type ChunkError struct {
	// Key is the chunk's key inside its array: "0.1.2" or "0/1/2" (Zarr
	// v2), "c/0/1/2" (Zarr v3), "2/1/0" (N5, x first); an inner chunk of a
	// shard adds its position in the shard: "c/0/0/0[1,0,2]".
	Key string
	Err error
}

// ChunkErrors is returned by Read, with the volume, when some chunks could
// not be decoded (bad compressed data, a wrong decoded size, a checksum
// mismatch, an unreadable file). Their voxels hold the fill value; the rest
// of the volume is good.
type ChunkErrors struct {
	// Array names the level read, as Meta().Name does: "a.zarr/0".
	Array string
	// Fill is the value the bad chunks' voxels were given.
	Fill float64
	// Chunks lists the bad chunks, sorted by key.
	Chunks []ChunkError
}

// Error names the array and the first few bad chunks.
func (e *ChunkErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "zarr: %s: ", e.Array)
	if len(e.Chunks) == 1 {
		b.WriteString("1 chunk")
	} else {
		fmt.Fprintf(&b, "%d chunks", len(e.Chunks))
	}
	fmt.Fprintf(&b, " could not be read (shown as the fill value %s)", strconv.FormatFloat(e.Fill, 'g', -1, 64))
	const shown = 3
	for i, c := range e.Chunks {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Chunks)-shown)
			break
		}
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%schunk %s: %v", sep, c.Key, c.Err)
	}
	return b.String()
}

// Unwrap returns the chunks' errors, for errors.Is.
func (e *ChunkErrors) Unwrap() []error {
	errs := make([]error, len(e.Chunks))
	for i, c := range e.Chunks {
		errs[i] = c.Err
	}
	return errs
}

// Is reports that the read was partial (volume.ErrPartial): the volume
// returned with the error is complete but for the bad chunks.
func (e *ChunkErrors) Is(target error) bool { return target == volume.ErrPartial }

// Keys returns the keys of the bad chunks, sorted.
func (e *ChunkErrors) Keys() []string {
	keys := make([]string, len(e.Chunks))
	for i, c := range e.Chunks {
		keys[i] = c.Key
	}
	slices.Sort(keys)
	return keys
}
