// Package assets holds the files shipped inside the niiv binary, among them
// the trained models (one folder per model under models/, see
// models/README.md).
package assets

import (
	"embed"
	"io/fs"
)

//go:embed models
var files embed.FS

// Models holds one folder per shipped model (card.json, encoder.onnx,
// decoder.onnx, test tensors): lite (factors 4–12, for interactive use)
// and paper (factor 8, the paper's configuration). Pass it as
// reconstruct.ModelOptions.Embedded; reconstruct.EmbeddedNames(Models)
// lists those present.
var Models fs.FS = mustSub(files, "models")

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dir is a constant embedded above
	}
	return s
}
