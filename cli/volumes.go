package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

// SampleName is the pseudo-file name that opens the bundled sample volume.
const SampleName = "sample"

// voxelFlags are the --voxel, --unit and --lazy flags shared by commands
// that open volumes.
type voxelFlags struct {
	voxel string
	unit  string
	lazy  string
	// axes names the dimensions of a .npy/.npz array (--axes, or
	// axesFlag's name where the command has an --axes of its own).
	axes     string
	axesFlag string
	// channel and time pick one channel and time point (registerPick);
	// "" when not given.
	channel, time string
	pickable      bool // registerPick was called
}

func (v *voxelFlags) register(fs *flag.FlagSet) {
	name := v.axesFlag
	if name == "" {
		name = "axes"
	}
	fs.StringVar(&v.axes, name, "", axesUsage)
	fs.StringVar(&v.voxel, "voxel", "", "voxel size `z,y,x` (or z,xy) overriding the file's, e.g. 50,4,4")
	fs.StringVar(&v.unit, "unit", "", "unit of --voxel: nm, µm (um), mm or px; default: the file's, else nm")
	fs.StringVar(&v.lazy, "lazy", "auto", "how a Zarr, N5, HDF5, MRC or TIFF file is opened: auto (on disk, read by region, above "+volio.HumanBytes(volio.LazyAbove)+"), always or never (into memory)")
}

// lazyMode parses --lazy.
func (v *voxelFlags) lazyMode() (volio.Lazy, error) {
	switch v.lazy {
	case "", "auto":
		return volio.LazyAuto, nil
	case "always":
		return volio.LazyAlways, nil
	case "never":
		return volio.LazyNever, nil
	}
	return 0, usageErrorf("--lazy %q: want auto, always or never", v.lazy)
}

// check validates the flags without a volume, so that a wrong value is
// reported before a file is read.
func (v *voxelFlags) check() error {
	if _, err := v.lazyMode(); err != nil {
		return err
	}
	if v.voxel == "" {
		if v.unit != "" {
			return usageErrorf("--unit needs --voxel")
		}
		return nil
	}
	if _, err := ParseVoxel(v.voxel, v.unit); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

// voxel returns the voxel size the flags give for a file whose own is
// fileVox (the file's unit applies when --unit is not given), or fileVox.
func (v *voxelFlags) voxelFor(fileVox volume.Voxel) (volume.Voxel, error) {
	if err := v.check(); err != nil || v.voxel == "" {
		return fileVox, err
	}
	vox, _ := ParseVoxel(v.voxel, v.unit)
	if v.unit == "" && fileVox.Known && fileVox.Unit != "" {
		vox.Unit = fileVox.Unit
	}
	return vox, nil
}

// apply overrides vol's voxel size when the flags ask for it.
func (v *voxelFlags) apply(vol *volume.Volume) error {
	vox, err := v.voxelFor(vol.Voxel)
	if err != nil {
		return err
	}
	vol.Voxel = vox
	return nil
}

// ParseVoxel parses "z,y,x" or "z,xy" sizes with a unit ("" means nm).
func ParseVoxel(s, unit string) (volume.Voxel, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 2 && len(parts) != 3 {
		return volume.Voxel{}, fmt.Errorf("--voxel %q: want z,y,x or z,xy", s)
	}
	vals := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(f > 0) || f > 1e12 {
			return volume.Voxel{}, fmt.Errorf("--voxel %q: %q is not a positive size", s, p)
		}
		vals[i] = f
	}
	if len(vals) == 2 {
		vals = []float64{vals[0], vals[1], vals[1]}
	}
	u, err := normUnit(unit)
	if err != nil {
		return volume.Voxel{}, err
	}
	return volume.Voxel{Z: vals[0], Y: vals[1], X: vals[2], Unit: u, Known: true}, nil
}

func normUnit(u string) (string, error) {
	switch strings.ToLower(u) {
	case "", "nm", "nanometer", "nanometre":
		return "nm", nil
	case "um", "µm", "μm", "micron", "micrometer", "micrometre":
		return "µm", nil
	case "mm":
		return "mm", nil
	case "px", "pixel":
		return "px", nil
	}
	return "", fmt.Errorf("--unit %q: use nm, µm (um), mm or px", u)
}

// openVolume opens a file, folder or the bundled sample ("sample") and applies
// the voxel flags.
func openVolume(path string, vf *voxelFlags) (*volume.Volume, error) {
	if vf != nil {
		if err := vf.check(); err != nil {
			return nil, err // before the file is read
		}
	}
	var vol *volume.Volume
	var err error
	switch {
	case path == SampleName:
		vol, err = sample.Anisotropic(sample.Options{}, 8)
	case vf.picking():
		var h *volume.Hyperstack
		if h, err = volio.OpenHyperstack(path, vf.openOptions()); err == nil {
			vol, err = vf.pick(path, h)
		}
	default:
		vol, err = volio.OpenWith(path, vf.openOptions())
	}
	if err != nil {
		return nil, err
	}
	if vf != nil {
		if err := vf.apply(vol); err != nil {
			return nil, err
		}
	}
	return vol, nil
}

// openOptions makes a voxel-size sidecar that cannot be read a warning, not
// an error, when --voxel gives the size.
func (v *voxelFlags) openOptions() volio.Options {
	if v == nil {
		return volio.Options{}
	}
	lz, _ := v.lazyMode() // checked before
	if v.voxel == "" {
		return volio.Options{Lazy: lz, Axes: v.axes}
	}
	return volio.Options{Lazy: lz, Axes: v.axes, VoxelGiven: true, Warn: func(err error) {
		fmt.Fprintf(os.Stderr, "niiv: warning: %v (ignored: --voxel %s given)\n", err, v.voxel)
	}}
}

// checkOutput checks a volume output path before any work is done: a
// format Save writes (else a usage error), a folder that takes the file,
// and not the input file (the same file, under any name: writing it would
// replace the data being read). in may be "" when there is no input file.
func checkOutput(in, out string) error {
	switch strings.ToLower(filepath.Ext(strings.TrimSuffix(out, "/"))) {
	case ".npy", ".tif", ".tiff", ".zarr", ".mrc":
	default:
		return usageErrorf("%s: niiv writes volumes as .npy, .tif, .tiff, .zarr (OME-Zarr) or .mrc", out)
	}
	if err := checkNotInput(in, out); err != nil {
		return err
	}
	return volio.CheckSave(out)
}

// checkNotInput refuses an output path that names the input file in,
// under any name.
func checkNotInput(in, out string) error {
	if in == "" {
		return nil
	}
	a, err1 := os.Stat(in)
	b, err2 := os.Stat(out)
	if err1 == nil && err2 == nil && os.SameFile(a, b) {
		return usageErrorf("%s is the input file: write the result to another file", out)
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
