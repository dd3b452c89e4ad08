package volio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/niiv/niiv/internal/atomicfile"
	"github.com/niiv/niiv/io/zarr"
	"github.com/niiv/niiv/volume"
)

var (
	// "4x4x50nm", "34x34x150nm", "0.1x0.1x0.5um": x × y × z, as such names
	// are written.
	nameXYZ = regexp.MustCompile(`(?i)(?:^|[^0-9.])(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)\s*(nm|um|µm)`)
	// "10nm-iso", "8nm_iso": isotropic.
	nameIso = regexp.MustCompile(`(?i)(?:^|[^0-9.])(\d+(?:\.\d+)?)\s*(nm|um|µm)[-_ ]?iso`)
)

// voxelFromName reads a voxel size written into a file name, such as
// "stack-4x4x50nm.npy" (x, y, z) or "cells-10nm-iso.npy"; for a URL, the
// last element of its path.
func voxelFromName(path string) (volume.Voxel, bool) {
	base := filepath.Base(path)
	if zarr.IsURL(path) {
		u, err := url.Parse(path)
		if err != nil {
			return volume.Voxel{}, false
		}
		base = pathpkg.Base(u.Path)
	}
	unit := func(u string) string {
		if strings.EqualFold(u, "nm") {
			return "nm"
		}
		return "µm"
	}
	if m := nameXYZ.FindStringSubmatch(base); m != nil {
		x, _ := strconv.ParseFloat(m[1], 64)
		y, _ := strconv.ParseFloat(m[2], 64)
		z, _ := strconv.ParseFloat(m[3], 64)
		if x > 0 && y > 0 && z > 0 {
			return volume.Voxel{Z: z, Y: y, X: x, Unit: unit(m[4]), Known: true, Source: "file name"}, true
		}
	}
	if m := nameIso.FindStringSubmatch(base); m != nil {
		s, _ := strconv.ParseFloat(m[1], 64)
		if s > 0 {
			return volume.Voxel{Z: s, Y: s, X: s, Unit: unit(m[2]), Known: true, Source: "file name"}, true
		}
	}
	return volume.Voxel{}, false
}

// sidecar is the JSON file niiv writes beside a .npy to keep its voxel
// size, which the .npy format cannot hold: "vol.npy" → "vol.npy.json".
type sidecar struct {
	VoxelZYX [3]float64 `json:"voxel_size_zyx"`
	Unit     string     `json:"unit"`
}

func sidecarPath(npyPath string) string { return npyPath + ".json" }

// ErrSidecar is wrapped by errors about a voxel-size sidecar that cannot be
// read or holds an invalid size.
var ErrSidecar = errors.New("voxel-size sidecar")

// voxelForNPY finds a .npy file's voxel size: its sidecar, else its name.
// A sidecar that cannot be used is an error, or, when o.VoxelGiven, a
// warning.
func voxelForNPY(path string, o Options) (volume.Voxel, error) {
	v, err := readSidecar(sidecarPath(path))
	switch {
	case err == nil && v.Known:
		return v, nil
	case err != nil && !o.VoxelGiven:
		return volume.Voxel{}, err
	case err != nil:
		o.warn(&Error{"read", path, err})
	}
	if v, ok := voxelFromName(path); ok {
		return v, nil
	}
	return volume.Unknown(), nil
}

// readSidecar reads the voxel size in a sidecar; a missing sidecar gives an
// unknown size and no error, and so does a URL: sidecars are local files.
func readSidecar(p string) (volume.Voxel, error) {
	if zarr.IsURL(p) {
		return volume.Voxel{}, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return volume.Voxel{}, nil
	}
	if err != nil {
		return volume.Voxel{}, fmt.Errorf("%w %s: %v", ErrSidecar, p, unwrapPath(err))
	}
	var sc sidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return volume.Voxel{}, fmt.Errorf("%w %s: %v", ErrSidecar, p, err)
	}
	v := volume.Voxel{Z: sc.VoxelZYX[0], Y: sc.VoxelZYX[1], X: sc.VoxelZYX[2], Unit: sc.Unit, Known: true, Source: "sidecar " + filepath.Base(p)}
	if err := v.Validate(); err != nil {
		return volume.Voxel{}, fmt.Errorf("%w %s: %v", ErrSidecar, p, err)
	}
	return v, nil
}

// unwrapPath drops the file name of an *fs.PathError, which the caller
// names itself.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writeSidecar records v's voxel size beside a .npy file; unknown sizes
// remove a stale sidecar instead.
func writeSidecar(npyPath string, vox volume.Voxel) error {
	p, t, err := startSidecar(npyPath, vox)
	if err != nil {
		return err
	}
	return commitSidecar(p, t)
}

// startSidecar begins writing the sidecar p that records vox beside the
// .npy file npyPath (beside the file written, for a symbolic link), to be
// put in place by commitSidecar once the .npy is. For an unknown voxel
// size there is nothing to write (t is nil), and commitSidecar removes a
// stale sidecar.
func startSidecar(npyPath string, vox volume.Voxel) (p string, t *atomicfile.File, err error) {
	if err := refuseURL(npyPath); err != nil {
		return "", nil, err
	}
	if dest, err := atomicfile.Resolve(npyPath); err == nil {
		npyPath = dest
	}
	p = sidecarPath(npyPath)
	if !vox.Known {
		return p, nil, nil
	}
	b, _ := json.MarshalIndent(sidecar{VoxelZYX: [3]float64{vox.Z, vox.Y, vox.X}, Unit: vox.Unit}, "", "  ")
	b = append(b, '\n')
	if t, err = atomicfile.Create(p, int64(len(b))); err != nil {
		return "", nil, &Error{"write", p, err}
	}
	if _, err := t.Write(b); err != nil {
		return "", nil, &Error{"write", p, err}
	}
	return p, t, nil
}

// commitSidecar puts the sidecar p begun by startSidecar in place, or
// removes a stale one when t is nil.
func commitSidecar(p string, t *atomicfile.File) error {
	if t == nil {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return &Error{"write", p, err}
		}
		return nil
	}
	if err := t.Commit(); err != nil {
		return &Error{"write", p, err}
	}
	return nil
}
