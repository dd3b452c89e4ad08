package engine

import (
	"context"
	"math"
	"path/filepath"
	"strings"

	"github.com/niiv/niiv/reconstruct"
	"github.com/niiv/niiv/reconstruct/adapt"
	"github.com/niiv/niiv/volume"
)

// AdaptModel fine-tunes the decoder of the model o names (DefaultModel when
// empty) on the xy planes of vol, read from path, and saves the adapted
// model to adapt.DefaultDir, where Remembered finds it again; it returns
// that folder and the adaptation's result. opt.Factor defaults to the voxel anisotropy (else the
// model's factor). The encoder runs on the CPU when o.Device is "gl". A
// cancelled run returns ctx's error and writes nothing.
func AdaptModel(ctx context.Context, o Options, path string, vol *volume.Volume, opt adapt.Options) (string, *adapt.Result, error) {
	dev := o.Device
	if dev == "" || dev == "gl" { // the trainer runs on the CPU, the encoder through ONNX Runtime
		dev = "cpu"
	}
	p, err := adapt.OpenParent(modelRef(o), reconstruct.ModelOptions{Device: dev, Threads: o.Threads, Embedded: o.Embedded})
	if err != nil {
		return "", nil, err
	}
	defer p.Close()
	if opt.Factor == 0 && vol.Voxel.Known && vol.Voxel.Anisotropy() > 1.01 {
		opt.Factor = int(math.Round(vol.Voxel.Anisotropy()))
	}
	res, err := adapt.Adapt(ctx, p, vol, opt)
	if err != nil {
		return "", nil, err
	}
	dir := adapt.DefaultDir(path, p.Name())
	if err := adapt.Save(ctx, dir, p, res); err != nil {
		return "", nil, err
	}
	return dir, res, nil
}

// Remembered returns the folder of the model adapted from the model o
// names to vol (read from path) by an earlier AdaptModel or `niiv adapt`
// that saved to the default folder, when there is one.
func Remembered(o Options, path string, vol *volume.Volume) (string, bool) {
	if dir, ok := adapt.Remembered(path, vol, ParentName(o)); ok || o.Model != "" {
		return dir, ok
	}
	// Adaptations made before general was the default started from lite.
	return adapt.Remembered(path, vol, "lite")
}

// ParentName returns the short name of the model o names, as adapted
// models' default folders use it: "lite" for the shipped lite, the folder
// name for a model folder.
func ParentName(o Options) string {
	ref := strings.TrimRight(filepath.ToSlash(modelRef(o)), "/")
	return reconstruct.ModelName(filepath.Base(ref))
}

func modelRef(o Options) string {
	if o.Model == "" {
		return DefaultModel
	}
	return o.Model
}
