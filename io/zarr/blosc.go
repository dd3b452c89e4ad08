package zarr

import "github.com/niiv/niiv/io/codec"

// bloscDecode decodes a Blosc frame to exactly size bytes. It is a
// variable so that a build without a Blosc decoder could leave it nil: the
// arrays compressed with Blosc are then refused with a clear error when
// opened, and their tests are skipped.
var bloscDecode decoder = codec.BloscDecode
