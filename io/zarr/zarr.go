// Package zarr reads chunked volumes lazily: Zarr v2 and v3 arrays
// (sharded or not), OME-Zarr 0.4 and 0.5 multiscale images and N5 datasets
// and multiscale groups, by region, for files far larger than memory.
//
// Open recognises the format from a folder's content (a local folder, or
// one served over HTTP(S) as static files) and returns an Image, a
// volume.Multiscale whose levels read the chunks a box overlaps, decoding
// each once through a Cache of decoded chunks shared by every Image that
// uses it. Metadata that cannot be read or contradicts itself fails Open; a
// chunk that fails to decode leaves its voxels at the fill value and Read
// returns the volume with a *ChunkErrors naming it.
//
// The exported metadata types (ArrayV2, NodeV3, Multiscale, N5Attributes)
// are the documents as stored, for writers as well as readers.
package zarr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/niiv/niiv/internal/sysmem"
	"github.com/niiv/niiv/volume"
)

// Options adjust Open.
type Options struct {
	// Cache keeps decoded chunks; nil uses a cache shared by every Image
	// opened without one, of an eighth of physical memory.
	Cache *Cache
	// Channel and Time pick the channel and time point of images with c
	// and t axes of more than one element (Image.Channels, Image.Times).
	Channel, Time int
}

// Image is an opened Zarr or N5 array or multiscale group: level 0 at full
// resolution, then the downsampled levels. It is safe for concurrent use.
type Image struct {
	levels   []*Level
	notes    []string
	channels int
	times    int
	closed   atomic.Bool
}

var _ volume.Multiscale = (*Image)(nil)

// Level is one array of an Image's pyramid, a volume.Source.
type Level struct {
	img   *Image
	arr   *array
	ax    axisMap
	meta  volume.Meta
	cache *Cache
	ch    int // the channel and time point Read reads
	tm    int
}

var _ volume.Source = (*Level)(nil)

// Meta returns the full-resolution level's name, shape, type and voxel
// size.
func (im *Image) Meta() volume.Meta { return im.levels[0].meta }

// Read reads box b of the full-resolution level.
func (im *Image) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	return im.levels[0].Read(ctx, b)
}

// Levels returns the pyramid, full resolution first; a plain array has
// one level.
func (im *Image) Levels() []volume.Source {
	s := make([]volume.Source, len(im.levels))
	for i, l := range im.levels {
		s[i] = l
	}
	return s
}

// Level returns level i of the pyramid, full resolution first.
func (im *Image) Level(i int) *Level { return im.levels[i] }

// Channels returns the number of channels (1 without a c axis).
func (im *Image) Channels() int { return im.channels }

// Times returns the number of time points (1 without a t axis).
func (im *Image) Times() int { return im.times }

// Notes returns what the reader could not represent exactly: integer types
// read as floats that are exact only up to a magnitude, voxel sizes that
// could not be used, metadata that was ignored.
func (im *Image) Notes() []string { return append([]string(nil), im.notes...) }

// Close ends reading: later reads fail with ErrClosed. Decoded chunks stay
// in the cache for other Images of the same files.
func (im *Image) Close() error {
	im.closed.Store(true)
	return nil
}

// Meta returns the level's name, shape (z, y, x), type and voxel size.
func (l *Level) Meta() volume.Meta { return l.meta }

// Read reads box b (z, y, x) of the level, for the channel and time point
// of the Image's Options.
func (l *Level) Read(ctx context.Context, b volume.Box) (*volume.Volume, error) {
	return l.ReadTC(ctx, l.tm, l.ch, b)
}

// ReadTC reads box b (z, y, x) of time point t and channel c. Chunks that
// cannot be decoded are filled with the fill value and reported by a
// *ChunkErrors returned with the volume.
func (l *Level) ReadTC(ctx context.Context, t, c int, b volume.Box) (*volume.Volume, error) {
	if l.img.closed.Load() {
		return nil, fmt.Errorf("zarr: read %s: %w", l.meta.Name, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !b.In(l.meta.Shape) {
		return nil, fmt.Errorf("zarr: read %s: box %v is not inside %v", l.meta.Name, b, l.meta.Shape)
	}
	if t < 0 || t >= l.img.times || c < 0 || c >= l.img.channels {
		return nil, fmt.Errorf("zarr: read %s: time %d, channel %d outside %d time points, %d channels", l.meta.Name, t, c, l.img.times, l.img.channels)
	}
	bs := b.Shape()
	need := int64(bs.Z) * int64(bs.Y) * int64(bs.X) * int64(l.meta.DType.Size())
	if limit := sysmem.MaxAlloc(); need > limit {
		return nil, fmt.Errorf("zarr: read %s: box %v needs %d MiB, more than the %d MiB limit", l.meta.Name, b, need>>20, limit>>20)
	}
	n := l.ax.rank
	lo, hi := make([]int, n), make([]int, n)
	set := func(dim, a, z int) {
		if dim >= 0 {
			lo[dim], hi[dim] = a, z
		}
	}
	set(l.ax.t, t, t+1)
	set(l.ax.c, c, c+1)
	set(l.ax.z, b.Z0, b.Z1)
	set(l.ax.y, b.Y0, b.Y1)
	set(l.ax.x, b.X0, b.X1)
	data, bad, err := l.arr.read(ctx, l.cache, lo, hi)
	if err != nil {
		return nil, err
	}
	v, err := volume.New(bs, data, l.meta.Voxel)
	if err != nil {
		return nil, fmt.Errorf("zarr: read %s: %w", l.meta.Name, err)
	}
	v.Name = l.meta.Name
	if len(bad) > 0 {
		return v, &ChunkErrors{Array: l.meta.Name, Fill: l.arr.fill, Chunks: bad}
	}
	return v, nil
}

// level is a level found in the metadata, before its Level is made.
type level struct {
	dir   string
	arr   *array
	scale levelScale
}

// plan is what the metadata of a path says: its levels and their axes.
type plan struct {
	levels []level
	axes   []Axis // OME axes; nil when the metadata has none
	source string // where voxel sizes come from
	notes  []string
}

// Open opens the Zarr or N5 array or multiscale group at path, a folder:
// a Zarr v2 array (.zarray) or group with OME-Zarr multiscales (.zattrs), a
// Zarr v3 array or group (zarr.json, OME-Zarr 0.5), an N5 dataset or group
// (attributes.json). path may name an array inside a container, as in
// "a.zarr/0" or "b.n5/setup0/timepoint0/s0".
//
// path may also be an http:// or https:// URL of such a folder served as
// static files ("https://host/data/img.zarr", "…/img.zarr/0"), read with
// GET and Range requests and without listing folders; a key the server
// answers with 404 or 403 does not exist. Requests failing with a server
// error or a broken connection are retried a few times before a chunk
// counts as unreadable.
func Open(path string, o Options) (*Image, error) {
	fail := func(err error) (*Image, error) { return nil, fmt.Errorf("zarr: open %s: %w", path, err) }
	var dir string
	if IsURL(path) {
		u, err := cleanURL(path)
		if err != nil {
			return fail(err)
		}
		dir = u
	} else {
		dir = filepath.Clean(path)
		st, err := os.Stat(dir)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is in the message already
			}
			return fail(err)
		}
		if !st.IsDir() {
			return fail(errors.New("not a folder: Zarr arrays and groups and N5 datasets are folders"))
		}
	}
	p, err := discover(dir)
	if err != nil {
		return fail(err)
	}
	im, err := build(dir, p, o)
	if err != nil {
		return fail(err)
	}
	return im, nil
}

// Kind reports which chunked format the folder or URL path holds, from its
// metadata files as Open finds them: "zarr" (.zarray, .zgroup, .zattrs or
// zarr.json), "n5" (attributes.json) or "" for neither. The error is that
// of a server that could not be asked, naming the URL.
func Kind(path string) (string, error) {
	dir := path
	if IsURL(path) {
		u, err := cleanURL(path)
		if err != nil {
			return "", fmt.Errorf("zarr: %s: %w", path, err)
		}
		dir = u
	}
	for _, f := range []string{".zarray", ".zgroup", ".zattrs", "zarr.json", "attributes.json"} {
		ok, err := has(dir, f)
		if err != nil {
			return "", err // names the file and the URL
		}
		if ok && f == "attributes.json" {
			return "n5", nil
		}
		if ok {
			return "zarr", nil
		}
	}
	return "", nil
}

// discover reads the metadata of dir.
func discover(dir string) (*plan, error) {
	var found [4]bool // .zarray, zarr.json, .zgroup or .zattrs, attributes.json
	for i, names := range [][]string{{".zarray"}, {"zarr.json"}, {".zgroup", ".zattrs"}, {"attributes.json"}} {
		for _, name := range names {
			ok, err := has(dir, name)
			if err != nil {
				return nil, err
			}
			if ok {
				found[i] = true
				break
			}
		}
		if found[i] {
			break
		}
	}
	switch {
	case found[0]:
		a, err := openV2(dir)
		if err != nil {
			return nil, err
		}
		return arrayPlan(dir, a)
	case found[1]:
		data, stamp, err := readMeta(dir, "zarr.json")
		if err != nil {
			return nil, err
		}
		m, err := ParseZarrJSON(data)
		if err != nil {
			return nil, fmt.Errorf("zarr.json: %w", err)
		}
		if m.NodeType == "array" {
			a, err := openV3(dir, m, stamp)
			if err != nil {
				return nil, fmt.Errorf("zarr.json: %w", err)
			}
			return arrayPlan(dir, a)
		}
		return groupPlan(dir, m.Attributes, "zarr.json", 0)
	case found[2]:
		var attrs map[string]json.RawMessage
		if _, err := readJSON(dir, ".zattrs", &attrs); err != nil {
			return nil, err
		}
		return groupPlan(dir, attrs, ".zattrs", 0)
	case found[3]:
		return n5Plan(dir)
	}
	if IsURL(dir) {
		return nil, errors.New("no .zarray, .zgroup, .zattrs, zarr.json or attributes.json at this URL (the server answered 404 or 403): not a Zarr array or group or an N5 dataset")
	}
	return nil, errors.New("no .zarray, .zgroup, zarr.json or attributes.json: not a Zarr array or group or an N5 dataset")
}

// arrayPlan is the plan of an array opened directly: one level, with the
// axes and scale of a multiscale group above it that lists it.
func arrayPlan(dir string, a *array) (*plan, error) {
	p := &plan{levels: []level{{dir: dir, arr: a}}}
	g, ms, rel := enclosingMultiscale(dir)
	if ms == nil {
		return p, nil
	}
	for i := range ms.Datasets {
		d := &ms.Datasets[i]
		if c, _ := cleanKey(d.Path); c != rel {
			continue
		}
		if len(ms.Axes) > 0 {
			p.axes = ms.Axes
		}
		ls, err := ms.datasetScale(d, len(a.shape))
		if err != nil {
			return nil, fmt.Errorf("multiscales of %s: %w", storeFor(g).base(g), err)
		}
		p.levels[0].scale = ls
		p.source = "OME-Zarr multiscales"
		return p, nil
	}
	return p, nil
}

// enclosingMultiscale finds the nearest group above dir (within its
// container) whose multiscales list dir, returning the group folder, the
// multiscale and dir's path relative to it.
func enclosingMultiscale(dir string) (string, *Multiscale, string) {
	st := storeFor(dir)
	g := dir
	for range 8 {
		parent := st.dir(g)
		if parent == g {
			break
		}
		g = parent
		top, ok := groupAttrs(g)
		if !ok {
			break
		}
		ms, err := multiscalesOf(top)
		if err != nil || len(ms) == 0 {
			continue
		}
		rel, err := st.rel(g, dir)
		if err != nil {
			break
		}
		return g, &ms[0], rel
	}
	return "", nil, ""
}

// groupAttrs reads the attributes of the group at dir; false when dir is
// not a Zarr or N5 group.
func groupAttrs(dir string) (map[string]json.RawMessage, bool) {
	var top map[string]json.RawMessage
	switch {
	case exists(dir, "zarr.json"):
		var m struct {
			NodeType   string                     `json:"node_type"`
			Attributes map[string]json.RawMessage `json:"attributes"`
		}
		if ok, err := readJSON(dir, "zarr.json", &m); !ok || err != nil || m.NodeType != "group" {
			return nil, false
		}
		return m.Attributes, true
	case exists(dir, ".zgroup"):
		if _, err := readJSON(dir, ".zattrs", &top); err != nil {
			return nil, true
		}
		return top, true
	case exists(dir, "attributes.json"):
		if ok, err := readJSON(dir, "attributes.json", &top); !ok || err != nil {
			return nil, false
		}
		return top, true
	}
	return nil, false
}

// groupPlan reads the multiscales of a Zarr group, or, for a
// bioformats2raw container without them, of its first image "0".
func groupPlan(dir string, attrs map[string]json.RawMessage, file string, depth int) (*plan, error) {
	ms, err := multiscalesOf(attrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if ms == nil {
		_, b2r := attrs["bioformats2raw.layout"]
		if !b2r {
			if o, ok := attrs["ome"]; ok {
				var ome map[string]json.RawMessage
				if json.Unmarshal(o, &ome) == nil {
					_, b2r = ome["bioformats2raw.layout"]
				}
			}
		}
		sub := storeFor(dir).join(dir, "0")
		if b2r && depth == 0 {
			if top, ok := groupAttrs(sub); ok {
				p, err := groupPlan(sub, top, "0/"+file, depth+1)
				if err != nil {
					return nil, err
				}
				p.notes = append(p.notes, "bioformats2raw container: image 0 is shown")
				return p, nil
			}
		}
		return nil, fmt.Errorf("%s: a group without OME-Zarr multiscales: open one of its arrays%s", file, childList(dir))
	}
	return multiscalePlan(dir, ms, openZarrArray)
}

// maxLevels bounds the levels of a pyramid (a 2^64 downsampling).
const maxLevels = 64

// multiscalePlan opens the datasets of the first multiscale.
func multiscalePlan(dir string, ms []Multiscale, open func(string) (*array, error)) (*plan, error) {
	m := &ms[0]
	if len(m.Datasets) > maxLevels {
		return nil, fmt.Errorf("multiscales: %d datasets, more than the %d levels a pyramid may have", len(m.Datasets), maxLevels)
	}
	p := &plan{source: "OME-Zarr multiscales"}
	if len(ms) > 1 {
		p.notes = append(p.notes, fmt.Sprintf("%d multiscale images in the group: the first is shown", len(ms)))
	}
	if len(m.Axes) > 0 {
		p.axes = m.Axes
	}
	for i := range m.Datasets {
		d := &m.Datasets[i]
		rel, _ := cleanKey(d.Path)
		sub := storeFor(dir).join(dir, rel)
		a, err := open(sub)
		if err != nil {
			return nil, fmt.Errorf("level %d (%s): %w", i, rel, err)
		}
		ls, err := m.datasetScale(d, len(a.shape))
		if err != nil {
			return nil, fmt.Errorf("multiscales: %w", err)
		}
		p.levels = append(p.levels, level{dir: sub, arr: a, scale: ls})
	}
	return p, nil
}

// openZarrArray opens the v2 or v3 array at dir.
func openZarrArray(dir string) (*array, error) {
	if exists(dir, ".zarray") {
		return openV2(dir)
	}
	if !exists(dir, "zarr.json") {
		return nil, errors.New("no .zarray or zarr.json: not a Zarr array")
	}
	data, stamp, err := readMeta(dir, "zarr.json")
	if err != nil {
		return nil, err
	}
	m, err := ParseZarrJSON(data)
	if err != nil {
		return nil, fmt.Errorf("zarr.json: %w", err)
	}
	if m.NodeType != "array" {
		return nil, fmt.Errorf("zarr.json: node_type is %q, want \"array\"", m.NodeType)
	}
	a, err := openV3(dir, m, stamp)
	if err != nil {
		return nil, fmt.Errorf("zarr.json: %w", err)
	}
	return a, nil
}

// openN5Dir opens the N5 dataset at dir.
func openN5Dir(dir string) (*array, error) {
	data, stamp, err := readMeta(dir, "attributes.json")
	if err != nil {
		return nil, err
	}
	a, err := ParseN5Attributes(data)
	if err != nil {
		return nil, fmt.Errorf("attributes.json: %w", err)
	}
	if !a.IsDataset() {
		return nil, errors.New("attributes.json: a group, not a dataset (no dimensions)")
	}
	arr, err := openN5(dir, a, stamp)
	if err != nil {
		return nil, fmt.Errorf("attributes.json: %w", err)
	}
	return arr, nil
}

var scaleLevel = regexp.MustCompile(`^s([0-9]{1,4})$`)

// n5Plan reads an N5 dataset or multiscale group.
func n5Plan(dir string) (*plan, error) {
	data, _, err := readMeta(dir, "attributes.json")
	if err != nil {
		return nil, err
	}
	attrs, err := ParseN5Attributes(data)
	if err != nil {
		return nil, fmt.Errorf("attributes.json: %w", err)
	}
	if attrs.IsDataset() {
		a, err := openN5Dir(dir)
		if err != nil {
			return nil, err
		}
		p := &plan{levels: []level{{dir: dir, arr: a}}, source: "N5 attributes"}
		// The group above may hold the resolution and the level's factors.
		var group *N5Attributes
		i := -1
		st := storeFor(dir)
		if gd, _, err := readMeta(st.dir(dir), "attributes.json"); err == nil {
			if g, err := ParseN5Attributes(gd); err == nil && !g.IsDataset() {
				group = g
				if m := scaleLevel.FindStringSubmatch(st.base(dir)); m != nil {
					i, _ = strconv.Atoi(m[1])
				}
			}
		}
		if _, ms, rel := enclosingMultiscale(dir); ms != nil {
			for k := range ms.Datasets {
				d := &ms.Datasets[k]
				if c, _ := cleanKey(d.Path); c == rel {
					ls, err := ms.datasetScale(d, len(a.shape))
					if err != nil {
						return nil, fmt.Errorf("multiscales: %w", err)
					}
					p.levels[0].scale = ls
					if len(ms.Axes) > 0 {
						p.axes = ms.Axes
					}
					return p, nil
				}
			}
		}
		ls, err := n5LevelScale(attrs, group, i, len(a.shape))
		if err != nil {
			p.notes = append(p.notes, "voxel size: "+err.Error())
		}
		p.levels[0].scale = ls
		return p, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("attributes.json: %w", err)
	}
	ms, err := multiscalesOf(top)
	if err != nil {
		return nil, fmt.Errorf("attributes.json: %w", err)
	}
	if ms != nil {
		p, err := multiscalePlan(dir, ms, openN5Dir)
		if err != nil {
			return nil, err
		}
		p.source = "N5 multiscales"
		return p, nil
	}
	// s0, s1, … with factors in the group (or in the group above, as
	// BigDataViewer's setupN/timepointN layout has them) or the datasets.
	var levels []string
	for i := range maxLevels {
		sub := storeFor(dir).join(dir, "s"+strconv.Itoa(i))
		if !exists(sub, "attributes.json") {
			break
		}
		levels = append(levels, sub)
	}
	if len(levels) == 0 {
		return nil, fmt.Errorf("attributes.json: an N5 group without multiscales or datasets s0, s1, …: open one of its datasets%s", childList(dir))
	}
	group := attrs
	if len(attrs.Scales) == 0 && len(attrs.DownsamplingFactors) == 0 {
		if gd, _, err := readMeta(storeFor(dir).dir(dir), "attributes.json"); err == nil {
			if g, err := ParseN5Attributes(gd); err == nil && !g.IsDataset() && (len(g.Scales) > 0 || len(g.DownsamplingFactors) > 0) {
				merged := *attrs
				merged.Scales, merged.DownsamplingFactors = g.Scales, g.DownsamplingFactors
				group = &merged
			}
		}
	}
	p := &plan{source: "N5 attributes"}
	var voxelErr error
	for i, sub := range levels {
		a, err := openN5Dir(sub)
		if err != nil {
			return nil, fmt.Errorf("level %d (s%d): %w", i, i, err)
		}
		var ds N5Attributes
		if _, err := readJSON(sub, "attributes.json", &ds); err != nil {
			return nil, fmt.Errorf("level %d (s%d): %w", i, i, err)
		}
		ls, err := n5LevelScale(&ds, group, i, len(a.shape))
		if err != nil && voxelErr == nil {
			voxelErr = fmt.Errorf("level %d: %w", i, err)
		}
		p.levels = append(p.levels, level{dir: sub, arr: a, scale: ls})
	}
	if voxelErr != nil {
		p.notes = append(p.notes, "voxel size: "+voxelErr.Error())
	}
	return p, nil
}

// childList names up to 8 arrays or groups in dir, for error messages;
// where folders cannot be listed (over HTTP) it says so.
func childList(dir string) string {
	st := storeFor(dir)
	ents, err := st.subfolders(dir)
	if errors.Is(err, errNoListing) {
		return " by its URL, as " + st.join(dir, "0") + " (" + err.Error() + ")"
	}
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range ents {
		sub := st.join(dir, e)
		if exists(sub, ".zarray") || exists(sub, ".zgroup") || exists(sub, "zarr.json") || exists(sub, "attributes.json") {
			names = append(names, e)
		}
	}
	switch {
	case len(names) == 0:
		return ""
	case len(names) > 8:
		names = append(names[:8], "…")
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// build makes the Image of a plan.
func build(dir string, p *plan, o Options) (*Image, error) {
	a0 := p.levels[0].arr
	var am axisMap
	var err error
	switch {
	case p.axes != nil:
		if am, err = checkOMEAxes(p.axes); err != nil {
			return nil, err
		}
	case a0.names != nil:
		if am, err = axesFromNames(a0.names); err != nil {
			if am, err = plainAxes(len(a0.shape)); err != nil {
				return nil, err
			}
			p.notes = append(p.notes, fmt.Sprintf("dimension names %q are not t, c, z, y, x: read as %s", a0.names, strings.Join(axisOrder[5-len(a0.shape):], ",")))
		}
	default:
		if am, err = plainAxes(len(a0.shape)); err != nil {
			return nil, err
		}
	}
	im := &Image{channels: 1, times: 1}
	if am.c >= 0 {
		im.channels = a0.shape[am.c]
	}
	if am.t >= 0 {
		im.times = a0.shape[am.t]
	}
	if o.Channel < 0 || o.Channel >= im.channels {
		return nil, fmt.Errorf("channel %d does not exist: the image has %d", o.Channel, im.channels)
	}
	if o.Time < 0 || o.Time >= im.times {
		return nil, fmt.Errorf("time point %d does not exist: the image has %d", o.Time, im.times)
	}
	cache := o.Cache
	if cache == nil {
		cache = defaultCache()
	}
	root := containerRoot(dir)
	im.notes = append(im.notes, p.notes...)
	if n := a0.elem.note(); n != "" {
		im.notes = append(im.notes, n)
	}
	for i, lv := range p.levels {
		a := lv.arr
		if len(a.shape) != am.rank {
			return nil, fmt.Errorf("level %d (%s) has %d dimensions, the multiscale names %d axes", i, displayName(root, lv.dir), len(a.shape), am.rank)
		}
		if am.c >= 0 && a.shape[am.c] != im.channels || am.t >= 0 && a.shape[am.t] != im.times {
			return nil, fmt.Errorf("level %d (%s) has a different number of channels or time points than level 0", i, displayName(root, lv.dir))
		}
		if i > 0 && a.elem.out() != a0.elem.out() {
			im.notes = append(im.notes, fmt.Sprintf("level %d is %s, level 0 %s", i, a.elem.typeName(), a0.elem.typeName()))
		}
		ext := func(d int) int {
			if d < 0 {
				return 1
			}
			return a.shape[d]
		}
		vox, note := lv.scale.voxel(am, p.source)
		if note != "" && (i == 0 || len(p.levels) == 1) {
			im.notes = append(im.notes, note)
		}
		im.levels = append(im.levels, &Level{
			img:   im,
			arr:   a,
			ax:    am,
			cache: cache,
			ch:    o.Channel,
			tm:    o.Time,
			meta: volume.Meta{
				Name:  displayName(root, lv.dir),
				Shape: volume.Shape{Z: ext(am.z), Y: ext(am.y), X: ext(am.x)},
				DType: a.elem.out(),
				Voxel: vox,
			},
		})
	}
	return im, nil
}

// containerRoot is the topmost folder of the Zarr or N5 hierarchy holding
// dir: its ancestors as long as they are groups. N5 groups need no
// attributes.json, so in an N5 hierarchy the root is rather the nearest
// folder above whose attributes.json has the "n5" version key.
func containerRoot(dir string) string {
	st := storeFor(dir)
	root := st.abs(dir)
	n5 := exists(root, "attributes.json")
	for range 64 {
		parent := st.dir(root)
		if parent == root {
			break
		}
		if !exists(parent, ".zgroup") && !exists(parent, "zarr.json") && !exists(parent, "attributes.json") {
			break
		}
		root = parent
	}
	if n5 && !isN5Root(root) {
		p := root
		for range 8 {
			parent := st.dir(p)
			if parent == p {
				break
			}
			p = parent
			if isN5Root(p) {
				return p
			}
		}
	}
	return root
}

// isN5Root reports whether dir's attributes.json has the N5 version.
func isN5Root(dir string) bool {
	var a struct {
		N5 string `json:"n5"`
	}
	ok, err := readJSON(dir, "attributes.json", &a)
	return ok && err == nil && a.N5 != ""
}

// displayName is the container's base name plus the path of dir in it:
// "a.zarr/0".
func displayName(root, dir string) string {
	st := storeFor(dir)
	abs := st.abs(dir)
	rel, err := st.rel(root, abs)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return st.base(abs)
	}
	return st.base(root) + "/" + rel
}
