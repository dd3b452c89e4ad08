package zarr

// bloscDecode decodes a Blosc frame to exactly size bytes; nil while
// package codec has no Blosc decoder, and arrays compressed with Blosc are
// then refused with a clear error when opened.
var bloscDecode decoder
