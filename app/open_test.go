package app

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestOpenDialogFiles: Open… lists every format niiv reads, and choosing
// a Zarr or N5 image's metadata file opens the image (a folder).
func TestOpenDialogFiles(t *testing.T) {
	for _, e := range []string{".npy", ".tif", ".mrc", ".h5", ".hdf", ".zattrs", ".json", ".MRC"} {
		if !slices.Contains(openExtensions, e) {
			t.Errorf("Open… does not list %s files", e)
		}
	}
	img := filepath.Join("data", "em.zarr")
	for _, tc := range []struct{ pick, want string }{
		{filepath.Join(img, ".zattrs"), img},
		{filepath.Join(img, "zarr.json"), img},
		{filepath.Join("data", "em.n5", "attributes.json"), filepath.Join("data", "em.n5")},
		{filepath.Join("data", "stack.tif"), filepath.Join("data", "stack.tif")},
		{filepath.Join("data", "tomo.mrc"), filepath.Join("data", "tomo.mrc")},
	} {
		if got := chunkedImage(tc.pick); got != tc.want {
			t.Errorf("picking %s opens %s, want %s", tc.pick, got, tc.want)
		}
	}
}
