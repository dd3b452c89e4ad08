package hdf5

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/niiv/niiv/volume"
)

// bdvCells matches the paths of the images of a BigDataViewer HDF5 file:
// time point, setup and resolution level.
var bdvCells = regexp.MustCompile(`^/t\d+/s\d+/\d+/cells$`)

// DatasetInfo describes one dataset of a file, as List finds it.
type DatasetInfo struct {
	// Name is the dataset's path inside the file: "/volumes/raw".
	Name string
	// Dims are its dimensions as stored, slowest first.
	Dims []uint64
	// Type names its element type as stored: "uint8", "uint16 big-endian",
	// "float32", or the class of an unsupported type ("compound", "string").
	Type string
	// Shape and DType are the volume Open reads it as, when it can
	// (Problem is empty).
	Shape volume.Shape
	DType volume.DType
	// Problem says why Open cannot read the dataset as a volume; "" when
	// it can.
	Problem string
}

// String formats the dataset as "/volumes/raw (uint8 125×1250×1250)".
func (d DatasetInfo) String() string {
	dims := make([]string, len(d.Dims))
	for i, v := range d.Dims {
		dims[i] = fmt.Sprint(v)
	}
	s := fmt.Sprintf("%s (%s %s)", d.Name, d.Type, strings.Join(dims, "×"))
	if len(d.Dims) == 0 {
		s = fmt.Sprintf("%s (%s scalar)", d.Name, d.Type)
	}
	return s
}

// Dataset is one dataset of an open HDF5 file, read by region. It
// implements volume.Source and is safe for concurrent use.
type Dataset struct {
	osf   *os.File // nil for a Dataset over another reader (tests)
	path  string
	ds    *dataset
	meta  volume.Meta
	id    uint64      // key of its chunks in the cache
	cache *chunkCache // the shared cache; tests set their own
}

var _ volume.Source = (*Dataset)(nil)

// nextID numbers open datasets for the chunk cache.
var nextID atomic.Uint64

// dataset is a dataset's metadata, as needed to read it.
type dataset struct {
	f       *file
	name    string // path inside the file
	dims    []uint64
	maxDims []uint64
	dt      dtype
	out     volume.DType
	notes   []string
	shape   volume.Shape
	axes    [3]int // file dimension of z, y and x; -1 for none
	lay     *layout
	filters []filter
	fill    []byte // one element in the file's form; nil for zeros
	voxel   volume.Voxel
	chunkN  []uint64 // chunks along each dimension
	index   chunkIndex
	cbytes  int // bytes of a chunk
}

// Open opens the dataset at path name inside the HDF5 file at path p
// ("/volumes/raw"; the leading slash may be left out). With name "" it
// opens the file's only 3-D dataset (of more than one z plane), or its
// only 2-D dataset when it has no 3-D one; otherwise the error, which
// wraps ErrNotFound, lists the datasets. Only metadata is read.
func Open(p, name string) (*Dataset, error) {
	osf, size, err := openOS(p, "open")
	if err != nil {
		return nil, err
	}
	d, err := openReader(osf, size, p, name)
	if err != nil {
		osf.Close()
		return nil, err
	}
	d.osf = osf
	return d, nil
}

// openOS opens the file at p and returns its size.
func openOS(p, op string) (*os.File, int64, error) {
	osf, err := os.Open(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == p {
			err = pe.Err // the path is in the message already
		}
		return nil, 0, &Error{Op: op, Path: p, Err: err}
	}
	st, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, 0, &Error{Op: op, Path: p, Err: err}
	}
	if st.IsDir() {
		osf.Close()
		return nil, 0, &Error{Op: op, Path: p, Err: errors.New("is a directory")}
	}
	return osf, st.Size(), nil
}

// openReader opens dataset name of the HDF5 file r of size bytes; p names
// the file in errors and in the volume's name.
func openReader(r io.ReaderAt, size int64, p, name string) (*Dataset, error) {
	f, err := openFile(r, size)
	if err != nil {
		return nil, &Error{Op: "open", Path: p, Err: err}
	}
	if name == "" {
		if name, err = f.pick(); err != nil {
			return nil, &Error{Op: "open", Path: p, Err: err}
		}
	}
	name = "/" + strings.Join(splitPath(name), "/")
	ds, err := f.openDataset(name)
	if err != nil {
		return nil, &Error{Op: "open", Path: p, Dataset: name, Err: err}
	}
	d := &Dataset{path: p, ds: ds, id: nextID.Add(1), cache: sharedCache()}
	d.meta = volume.Meta{Name: filepath.Base(p) + ":" + name, Shape: ds.shape, DType: ds.out, Voxel: ds.voxel}
	return d, nil
}

// List returns the datasets of the HDF5 file at p, in path order, with
// their dimensions and types and whether Open can read them.
func List(p string) ([]DatasetInfo, error) {
	osf, size, err := openOS(p, "list")
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	f, err := openFile(osf, size)
	if err != nil {
		return nil, &Error{Op: "list", Path: p, Err: err}
	}
	infos, err := f.list()
	if err != nil {
		return nil, &Error{Op: "list", Path: p, Err: err}
	}
	return infos, nil
}

// list describes every dataset of f.
func (f *file) list() ([]DatasetInfo, error) {
	var out []DatasetInfo
	err := f.walk(func(p string, o *object) error {
		if isDataset(o) {
			out = append(out, f.describe(p, o))
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// describe returns what List says of the dataset at p.
func (f *file) describe(p string, o *object) DatasetInfo {
	info := DatasetInfo{Name: p}
	if m := o.find(msgDataspace); m != nil {
		info.Dims, _, _ = f.dataspace(m.data)
	}
	if m := o.find(msgDatatype); m != nil {
		if m, err := f.resolveShared(m, "datatype"); err == nil {
			_, info.Type, _ = datatype(m.data)
		}
	}
	if info.Type == "" {
		info.Type = "unknown"
	}
	ds, err := f.parseDataset(p, o, false)
	if err != nil {
		info.Problem = err.Error()
		return info
	}
	info.Shape, info.DType = ds.shape, ds.out
	return info
}

// pick returns the name of the file's only 3-D dataset (of more than one
// z plane), or of its only 2-D dataset (one plane) when it has no 3-D one.
func (f *file) pick() (string, error) {
	infos, err := f.list()
	if err != nil {
		return "", err
	}
	var vols, planes []string
	for _, in := range infos {
		if in.Problem != "" {
			continue
		}
		if in.Shape.Z > 1 {
			vols = append(vols, in.Name)
		} else {
			planes = append(planes, in.Name)
		}
	}
	switch {
	case len(vols) == 1:
		return vols[0], nil
	case len(vols) == 0 && len(planes) == 1:
		return planes[0], nil
	}
	all := make([]string, len(infos))
	for i, in := range infos {
		all[i] = in.String()
		if in.Problem != "" {
			all[i] += " (not readable: " + in.Problem + ")"
		}
	}
	switch {
	case len(infos) == 0:
		return "", &kindError{ErrNotFound, errors.New("the file holds no datasets")}
	case len(vols)+len(planes) == 0:
		return "", &kindError{ErrNotFound, fmt.Errorf("no dataset can be read as a volume: %s", strings.Join(all, "; "))}
	}
	n := len(vols)
	if n == 0 {
		n = len(planes)
	}
	return "", &kindError{ErrNotFound, fmt.Errorf("%d datasets can be read as volumes; name one: %s", n, strings.Join(all, "; "))}
}

// openDataset resolves name and reads its metadata and chunk index.
func (f *file) openDataset(name string) (*dataset, error) {
	addr, err := f.resolve(name)
	if err != nil {
		return nil, err
	}
	o, err := f.readObject(addr)
	if err != nil {
		return nil, err
	}
	if !isDataset(o) {
		if isGroup(o) {
			return nil, &kindError{ErrNotFound, errors.New("is a group, not a dataset")}
		}
		return nil, &kindError{ErrNotFound, errors.New("is not a dataset")}
	}
	return f.parseDataset(name, o, true)
}

// parseDataset reads a dataset's metadata from its object header o; with
// index it also opens its chunk index.
func (f *file) parseDataset(name string, o *object, index bool) (*dataset, error) {
	ds := &dataset{f: f, name: name}
	var err error
	m := o.find(msgDataspace)
	if m.flags&msgShared != 0 {
		return nil, unsupported("shared dataspace messages are not supported")
	}
	if ds.dims, ds.maxDims, err = f.dataspace(m.data); err != nil {
		return nil, err
	}
	tm := o.find(msgDatatype)
	if tm == nil {
		return nil, corrupt("dataset has no datatype message")
	}
	if tm, err = f.resolveShared(tm, "datatype"); err != nil {
		return nil, err
	}
	if ds.dt, _, err = datatype(tm.data); err != nil {
		return nil, err
	}
	var note string
	if ds.dt == (dtype{class: 0, size: 2, signed: true}) && bdvCells.MatchString(name) {
		// BigDataViewer writes its uint16 images as int16 and reads them
		// back as uint16.
		ds.dt.signed = false
		ds.notes = append(ds.notes, "int16 values of a BigDataViewer image are read as the uint16 values BigDataViewer stores in them")
	}
	ds.out, note = ds.dt.out()
	if note != "" {
		ds.notes = append(ds.notes, note)
	}
	if err := ds.setShape(); err != nil {
		return nil, err
	}
	if ds.lay, err = f.dataLayout(o.find(msgLayout).data, len(ds.dims)); err != nil {
		return nil, err
	}
	if o.find(msgExternal) != nil {
		return nil, unsupported("data in external files is not supported")
	}
	if fm := o.find(msgFilters); fm != nil {
		if ds.filters, err = f.pipeline(fm.data); err != nil {
			return nil, err
		}
		for _, fl := range ds.filters {
			if !fl.supported() {
				return nil, unsupported("compressed with the %v filter, which is not supported (deflate, shuffle, fletcher32, lzf, blosc and zstd are)", fl)
			}
		}
	}
	fm := o.find(msgFill)
	if fm == nil {
		fm = o.find(msgFillOld)
	}
	if fm != nil && fm.flags&msgShared == 0 {
		if ds.fill, err = fillValue(fm, ds.dt.size); err != nil {
			return nil, err
		}
	}
	if err := ds.checkLayout(); err != nil {
		return nil, err
	}
	if attrs, err := f.attributes(o); err == nil {
		ds.voxel = voxelFrom(attrs, len(ds.dims), ds.axes)
	} else {
		ds.voxel = volume.Unknown()
	}
	if index && ds.lay.class == 2 {
		if ds.index, err = ds.openIndex(); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// setShape maps the dataset's dimensions to z, y and x: a 2-D dataset is
// one z plane, and dimensions of 1 beyond three are dropped, at the end
// (ilastik's zyxc with one channel) and then at the start (tczyx).
func (ds *dataset) setShape() error {
	r := len(ds.dims)
	lo, hi := 0, r
	for hi-lo > 3 && ds.dims[hi-1] == 1 {
		hi--
	}
	for hi-lo > 3 && ds.dims[lo] == 1 {
		lo++
	}
	switch {
	case r < 2 || r > 5:
		return unsupported("rank-%d datasets are not supported (2-D and 3-D datasets are)", r)
	case r == 2:
		ds.axes = [3]int{-1, 0, 1}
	case hi-lo > 3:
		return unsupported("rank-%d dataset of dimensions %v is not supported: of rank 4 and 5, only datasets whose dimensions beyond three are 1 are", r, ds.dims)
	default:
		ds.axes = [3]int{lo, lo + 1, lo + 2}
	}
	// Every extent must be positive, and the whole dataset addressable.
	total := uint64(ds.dt.size)
	for _, v := range ds.dims {
		if v == 0 {
			return unsupported("dataset of dimensions %v has no elements", ds.dims)
		}
		hi, lo := bits.Mul64(total, v)
		if hi != 0 || lo > math.MaxInt64/2 {
			return corrupt("dataset of dimensions %v is too large to address", ds.dims)
		}
		total = lo
	}
	ext := [3]int{1, 1, 1}
	for k, a := range ds.axes {
		if a >= 0 {
			ext[k] = int(ds.dims[a])
		}
	}
	ds.shape = volume.Shape{Z: ext[0], Y: ext[1], X: ext[2]}
	return nil
}

// checkLayout checks that the layout fits the dataspace and the file.
func (ds *dataset) checkLayout() error {
	l := ds.lay
	f := ds.f
	total := uint64(ds.dt.size)
	for _, v := range ds.dims {
		total *= v
	}
	switch l.class {
	case 0:
		if uint64(len(l.compact)) < total {
			return corrupt("compact data of %d bytes for a %v dataset of %d bytes", len(l.compact), ds.shape, total)
		}
	case 1:
		if l.addr == undef {
			return nil // never written: all fill value
		}
		if l.size != sizeUnknown && l.size < total {
			return corrupt("dataspace %v of %s needs %d bytes; the contiguous storage holds %d", ds.dims, ds.dt, total, l.size)
		}
		if !f.inFile(l.addr, total) {
			return corrupt("dataspace %v of %s needs %d bytes at address %d, past the end of the %d-byte file", ds.dims, ds.dt, total, l.addr, f.size)
		}
	case 2:
		if len(ds.filters) > 32 {
			return corrupt("%d filters", len(ds.filters))
		}
		n := uint64(ds.dt.size)
		for _, c := range l.chunk {
			hi, lo := bits.Mul64(n, c)
			if hi != 0 || lo > uint64(maxChunkBytes) {
				return unsupported("chunks of %v elements of %s are more than the %s supported per chunk", l.chunk, ds.dt, humanBytes(maxChunkBytes))
			}
			n = lo
		}
		ds.cbytes = int(n)
		for _, c := range l.chunk[ds.axes[2]+1:] {
			if c != 1 {
				return unsupported("chunks of %v elements are not supported: dimensions of 1 after x must have chunks of 1", l.chunk)
			}
		}
		ds.chunkN = make([]uint64, len(ds.dims))
		for i, v := range ds.dims {
			ds.chunkN[i] = (v + l.chunk[i] - 1) / l.chunk[i]
		}
	}
	return nil
}

// openIndex opens the chunk index of a chunked dataset.
func (ds *dataset) openIndex() (chunkIndex, error) {
	l, f := ds.lay, ds.f
	cb := uint64(ds.cbytes)
	rank := len(ds.dims)
	// The grid of chunks the index was made for: the maximum dimensions,
	// where they are limited.
	grid := make([]uint64, rank)
	unlim := -1
	for i := range grid {
		grid[i] = ds.chunkN[i]
		if ds.maxDims != nil {
			if ds.maxDims[i] == unlimited {
				unlim = i
			} else if ds.maxDims[i] >= ds.dims[i] {
				grid[i] = (ds.maxDims[i] + l.chunk[i] - 1) / l.chunk[i]
			}
		}
	}
	down := func(g []uint64) ([]uint64, error) {
		out := make([]uint64, len(g))
		n := uint64(1)
		for i := len(g) - 1; i >= 0; i-- {
			out[i] = n
			hi, lo := bits.Mul64(n, max(g[i], 1))
			if hi != 0 {
				return nil, corrupt("grid of %v chunks is too large to address", g)
			}
			n = lo
		}
		return out, nil
	}
	switch l.index {
	case idxBTree1:
		if l.version > 3 {
			return nil, corrupt("layout version %d with a v1 B-tree chunk index", l.version)
		}
		return &btree1Index{f: f, root: l.addr, chunk: l.chunk}, nil
	case idxSingle:
		loc := chunkLoc{addr: l.addr, size: cb}
		if l.flags&layoutSingleFiltered != 0 {
			loc.size, loc.mask = l.singleSize, l.singleMask
		}
		return &singleIndex{loc}, nil
	case idxImplicit:
		dn, err := down(grid)
		if err != nil {
			return nil, err
		}
		return &implicitIndex{addr: l.addr, bytes: cb, down: dn}, nil
	case idxFixedArray:
		dn, err := down(grid)
		if err != nil {
			return nil, err
		}
		if l.addr == undef {
			return &singleIndex{chunkLoc{addr: undef}}, nil
		}
		return f.newFixedArray(l.addr, cb, dn)
	case idxExtArray:
		if unlim < 0 {
			unlim = 0
		}
		sw := append([]uint64{grid[unlim]}, grid[:unlim]...)
		sw = append(sw, grid[unlim+1:]...)
		sw[0] = 1 // the slowest dimension's extent does not matter
		dn, err := down(sw)
		if err != nil {
			return nil, err
		}
		if l.addr == undef {
			return &singleIndex{chunkLoc{addr: undef}}, nil
		}
		return f.newExtArray(l.addr, cb, dn, unlim)
	case idxBTree2:
		if l.addr == undef {
			return &singleIndex{chunkLoc{addr: undef}}, nil
		}
		return f.newBTree2Index(l.addr, rank, cb)
	}
	return nil, corrupt("chunk index type %d", l.index)
}

// voxelFrom returns the voxel size that a dataset's attributes give: its
// "resolution" (z, y, x in nm, as CREMI writes it) or "element_size_um"
// (z, y, x in µm, as ilastik and Fiji write it), in nm; unknown without
// either. The attribute has one size per dimension of the dataset (rank
// of them, axes picking z, y and x), or three.
func voxelFrom(attrs []attribute, rank int, axes [3]int) volume.Voxel {
	for _, c := range []struct {
		name  string
		scale float64
	}{{"resolution", 1}, {"element_size_um", 1000}} {
		for _, a := range attrs {
			if a.name != c.name {
				continue
			}
			var zyx [3]float64
			switch len(a.values) {
			case rank:
				for k, ax := range axes {
					if ax < 0 {
						ax = axes[1] // a 2-D dataset's z: its y size
					}
					zyx[k] = a.values[ax]
				}
			case 3:
				copy(zyx[:], a.values)
			default:
				continue
			}
			vx := volume.Voxel{Z: zyx[0] * c.scale, Y: zyx[1] * c.scale, X: zyx[2] * c.scale, Unit: "nm", Known: true, Source: "HDF5 attribute " + c.name}
			if vx.Validate() == nil {
				return vx
			}
		}
	}
	return volume.Unknown()
}

// Meta returns the dataset's name ("crop.hdf:/volumes/raw"), shape, element
// type and voxel size.
func (d *Dataset) Meta() volume.Meta { return d.meta }

// Notes says where the values read differ from the type stored: 32- and
// 64-bit integers read as floating point, BigDataViewer's int16 read as
// uint16. It is empty for most datasets.
func (d *Dataset) Notes() []string { return append([]string(nil), d.ds.notes...) }

// Name returns the dataset's path inside the file: "/volumes/raw".
func (d *Dataset) Name() string { return d.ds.name }

// Close closes the file and drops the dataset's chunks from the cache;
// Read fails afterwards.
func (d *Dataset) Close() error {
	d.cache.Drop(func(k chunkKey) bool { return k.ds == d.id })
	if d.osf == nil {
		return nil
	}
	return d.osf.Close()
}
