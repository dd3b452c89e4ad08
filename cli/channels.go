package cli

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	volio "github.com/niiv/niiv/io"
	"github.com/niiv/niiv/viewer"
	"github.com/niiv/niiv/volume"
	"github.com/niiv/niiv/volume/sample"
)

// Channels and time points on the command line: --axes names the
// dimensions of a .npy/.npz array (every command that opens files);
// --channel N and --time N pick one channel and time point for commands
// that work on one volume (eval, adapt); --channels and --time choose which
// ones the commands that carry them all (convert, reconstruct) keep.

// axesUsage is the help of --axes.
const axesUsage = "axes of a .npy/.npz array of more than 3 dimensions, e.g. czyx or tczyx (letters t, c, z, y, x; never guessed)"

// registerPick adds --channel and --time, which pick the channel and time
// point a one-volume command reads from a file that has several.
func (v *voxelFlags) registerPick(fs *flag.FlagSet) {
	v.pickable = true
	fs.StringVar(&v.channel, "channel", "", "channel `N` (from 0) of a multi-channel file")
	fs.StringVar(&v.time, "time", "", "time point `N` (from 0) of a time series")
}

// picking reports whether the file is opened as a hyperstack to pick its
// channel and time point: always for commands with --channel and --time
// (a file of several asks which), else when --axes is given.
func (v *voxelFlags) picking() bool {
	return v != nil && (v.pickable || v.axes != "" || v.channel != "" || v.time != "")
}

// parseIndex parses a --channel or --time value ("" is -1: not given).
func parseIndex(flagName, s string) (int, error) {
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, usageErrorf("--%s %q: want an index from 0", flagName, s)
	}
	return n, nil
}

// pick returns the volume of the channel and time point the flags choose
// from h: an axis of one element needs no choice; one of more must be
// chosen.
func (v *voxelFlags) pick(path string, h *volume.Hyperstack) (*volume.Volume, error) {
	c, err := parseIndex("channel", v.channel)
	if err != nil {
		return nil, err
	}
	t, err := parseIndex("time", v.time)
	if err != nil {
		return nil, err
	}
	switch {
	case c < 0 && h.Channels() > 1:
		return nil, usageErrorf("%s has %d channels (%s): this command reads one; choose it with --channel N", path, h.Channels(), channelList(h))
	case t < 0 && h.Times() > 1:
		return nil, usageErrorf("%s has %d time points: this command reads one; choose it with --time N (0 to %d)", path, h.Times(), h.Times()-1)
	case c >= h.Channels():
		return nil, usageErrorf("--channel %d: %s has %s (%s)", c, path, plural(h.Channels(), "channel"), channelList(h))
	case t >= h.Times():
		return nil, usageErrorf("--time %d: %s has %s (0 to %d)", t, path, plural(h.Times(), "time point"), h.Times()-1)
	}
	return h.At(max(t, 0), max(c, 0)), nil
}

// channelList names the channels of h: "0 DAPI, 1 GFP".
func channelList(h *volume.Hyperstack) string {
	parts := make([]string, h.Channels())
	for c := range parts {
		parts[c] = fmt.Sprintf("%d %s", c, h.Channel(c).Label(c))
		if h.Channel(c).Name == "" {
			parts[c] = strconv.Itoa(c)
		}
	}
	return strings.Join(parts, ", ")
}

// selectFlags are --channels and --time of the commands that carry every
// channel and time point of their input into their output.
type selectFlags struct {
	channels string
	times    string
}

func (s *selectFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.channels, "channels", "", "channels to keep, e.g. `0,2` (default: all)")
	fs.StringVar(&s.times, "time", "", "time points to keep, e.g. `3` or 0,2,4 (default: all)")
}

// given reports whether a selection was asked for.
func (s *selectFlags) given() bool { return s != nil && (s.channels != "" || s.times != "") }

// parse returns the chosen channels and time points (nil: all).
func (s *selectFlags) parse() (channels, times []int, err error) {
	list := func(name, v string) ([]int, error) {
		if v == "" {
			return nil, nil
		}
		var out []int
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 0 {
				return nil, usageErrorf("--%s %q: want indices from 0, comma-separated", name, v)
			}
			out = append(out, n)
		}
		return out, nil
	}
	if channels, err = list("channels", s.channels); err != nil {
		return nil, nil, err
	}
	if times, err = list("time", s.times); err != nil {
		return nil, nil, err
	}
	return channels, times, nil
}

// openHyper opens every channel and time point of path (the bundled
// sample is one volume), applies the voxel flags and keeps the channels
// and time points sel chooses.
func openHyper(path string, vf *voxelFlags, sel *selectFlags) (*volume.Hyperstack, error) {
	if vf != nil {
		if err := vf.check(); err != nil {
			return nil, err
		}
	}
	var chs, tms []int
	if sel != nil {
		var err error
		if chs, tms, err = sel.parse(); err != nil {
			return nil, err
		}
	}
	var h *volume.Hyperstack
	if path == SampleName {
		v, err := sample.Anisotropic(sample.Options{}, 8)
		if err != nil {
			return nil, err
		}
		h = volume.Single(v)
	} else {
		var err error
		if h, err = volio.OpenHyperstack(path, vf.openOptions()); err != nil {
			return nil, err
		}
	}
	if vf != nil {
		vox, err := vf.voxelFor(h.Voxel())
		if err != nil {
			return nil, err
		}
		h.SetVoxel(vox)
	}
	if chs != nil || tms != nil {
		sel, err := h.Select(chs, tms)
		if err != nil {
			return nil, usageErrorf("%s: %v", path, strings.TrimPrefix(err.Error(), "volume: "))
		}
		h = sel
	}
	return h, nil
}

// isMulti reports whether path holds more than one channel or time point
// (from its header), or the flags ask for its channels and time points.
func isMulti(path string, vf *voxelFlags, sel *selectFlags) bool {
	if path == SampleName {
		return false
	}
	if sel.given() || vf != nil && vf.axes != "" {
		return true
	}
	in, err := volio.InspectWith(path, volio.Options{VoxelGiven: true, Warn: func(error) {}})
	return err == nil && (in.Channels > 1 || in.Times > 1)
}

// hyperSummary describes h's channels for messages: "3 channels × 5 time
// points".
func hyperSummary(h *volume.Hyperstack) string {
	return fmt.Sprintf("%s × %s", plural(h.Channels(), "channel"), plural(h.Times(), "time point"))
}

// openModel opens path for view, figure and movie: a file of several
// channels or time points as a hyperstack (channels, "0,2", chooses some;
// time, "5", the time point shown first), else its one volume. More than
// volume.MaxShown channels without a choice is an error saying how to
// choose.
func openModel(path string, vf *voxelFlags, channels, time string) (*viewer.Model, error) {
	h, err := openStack(path, vf, channels)
	if err != nil {
		return nil, err
	}
	t, err := parseIndex("time", time)
	if err != nil {
		return nil, err
	}
	if t >= h.Times() {
		return nil, usageErrorf("--time %d: %s has %s (0 to %d)", t, path, plural(h.Times(), "time point"), h.Times()-1)
	}
	m := viewer.NewStack(h)
	m.SetTime(max(t, 0))
	return m, nil
}

// openStack opens path as a hyperstack: a file of one channel and time
// point (or a format without them) as its one volume (volume.Single), a
// multi-channel or time-series file with the channels chosen.
func openStack(path string, vf *voxelFlags, channels string) (*volume.Hyperstack, error) {
	sel := &selectFlags{channels: channels}
	if !isMulti(path, vf, sel) {
		vol, err := openVolume(path, vf)
		if err != nil {
			return nil, err
		}
		if vol.Name == "" {
			vol.Name = path
		}
		return volume.Single(vol), nil
	}
	h, err := openHyper(path, vf, sel)
	if err != nil {
		return nil, err
	}
	if h.Name == "" {
		h.Name = path
	}
	if err := h.CheckShown(); err != nil {
		return nil, usageErrorf("%v", err)
	}
	return h, nil
}

// openStackAll opens every channel and time point of path for the
// viewer's Open dialog, which asks which channels to show when there are
// more than a composite draws.
func openStackAll(path string) (*volume.Hyperstack, error) {
	if !isMulti(path, nil, nil) {
		vol, err := openVolume(path, nil)
		if err != nil {
			return nil, err
		}
		if vol.Name == "" {
			vol.Name = path
		}
		return volume.Single(vol), nil
	}
	h, err := openHyper(path, nil, nil)
	if err != nil {
		return nil, err
	}
	if h.Name == "" {
		h.Name = path
	}
	return h, nil
}
