"""Writes the HDF5 test fixtures with h5py, the reference implementation.

Usage: fixtures.py OUTDIR

OUTDIR/codec holds chunks the Go test compressed with Blosc and zstd,
which h5py cannot compress without hdf5plugin; they are written as they
are.

Writes the files into OUTDIR and OUTDIR/manifest.json, a list of cases.
Each case names a file and a dataset in it, what niiv should make of it
(volume shape, element type, voxel size, whether it notes inexact types,
the chunk index and superblock version the file must use) and NAME.expect,
the values niiv should read: little-endian float64 in z, y, x order, after
the conversion to niiv's element types. Cases with "error" must fail to
open with an error containing that text.
"""

import json
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(11)
cases = []

# The element type niiv reads each file type as.
READ_AS = {"u1": "u1", "i1": "i2", "u2": "u2", "i2": "i2", "u4": "f4", "i4": "f4",
           "u8": "f8", "i8": "f8", "f2": "f4", "f4": "f4", "f8": "f8"}
NAMES = {"u1": "uint8", "i2": "int16", "u2": "uint16", "f4": "float32", "f8": "float64"}


def values(shape, code):
    """Test values of NumPy type code: the type's extremes, negatives, and
    for floats NaN and infinities."""
    dt = np.dtype(code)
    n = int(np.prod(shape))
    if dt.kind == "f":
        a = rng.normal(0, 1000, n).astype(dt)
        a[:4] = [np.nan, np.inf, -np.inf, -0.0]
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, n, dtype=dt.newbyteorder("="), endpoint=True).astype(dt)
        a[:3] = [info.min, info.max, 0]
        if dt.kind == "i":
            a[3] = -1
    return a.reshape(shape)


def add(name, path, dataset, expect, *, voxel=None, notes=False, index=None, sb=None, squeeze=0, dims=None):
    """Adds a case: expect is the array as h5py reads it (leading size-1
    dimensions squeezed when squeeze is set)."""
    exp = np.asarray(expect)
    if squeeze:
        exp = exp.reshape(exp.shape[squeeze:])
    code = exp.dtype.str[1:]
    want = np.dtype(READ_AS[code])
    vol = exp.astype(want)
    if vol.ndim == 2:
        vol = vol[None]
    efile = name + ".expect"
    vol.astype("<f8").tofile(os.path.join(out, efile))
    cases.append(dict(name=name, file=os.path.basename(path), dataset=dataset, expect=efile,
                      shape=list(vol.shape), dtype=NAMES[READ_AS[code]], voxel=voxel, notes=notes,
                      index=index, sb=sb, dims=dims))


def fail(name, path, dataset, error):
    cases.append(dict(name=name, file=os.path.basename(path), dataset=dataset, error=error))


def p(name):
    return os.path.join(out, name)


# Chunked with gzip at levels 1 and 9, shuffle + gzip, no compression,
# and contiguous; shapes not multiples of the chunk shape.
with h5py.File(p("basic.h5"), "w") as f:
    shape, chunks = (13, 33, 47), (4, 16, 16)
    for name, code, kw in [
        ("gzip1", "u1", dict(compression="gzip", compression_opts=1)),
        ("gzip9", "u2", dict(compression="gzip", compression_opts=9)),
        ("shuffle_gzip", "i2", dict(compression="gzip", shuffle=True)),
        ("plain", "f4", {}),
    ]:
        a = values(shape, code)
        f.create_dataset(name, data=a, chunks=chunks, **kw)
        add(name, f.filename, "/" + name, a, index="v1 B-tree", sb=0)
    a = values(shape, "f8")
    f.create_dataset("contiguous", data=a)
    add("contiguous", f.filename, "/contiguous", a, sb=0)
    a = values((30, 41), "u2")
    f.create_dataset("plane2d", data=a, chunks=(8, 8), compression="gzip")
    add("plane2d", f.filename, "/plane2d", a, index="v1 B-tree")

# Every element type, both byte orders, chunked and contiguous.
with h5py.File(p("dtypes.h5"), "w") as f:
    for i, code in enumerate(["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"]):
        for order in "<>":
            a = values((5, 9, 11), order + code)
            name = ("le_" if order == "<" else "be_") + code
            kw = dict(chunks=(2, 4, 4), compression="gzip", shuffle=True) if (i % 2 == 0) == (order == "<") else {}
            f.create_dataset(name, data=a, **kw)
            add(name, f.filename, "/" + name, a, notes=code in ("u4", "i4", "u8", "i8"),
                index="v1 B-tree" if kw else None)

# Partially written datasets: unwritten chunks read as the fill value.
for lib in ["earliest", "latest"]:
    with h5py.File(p("partial_%s.h5" % lib), "w", libver=lib) as f:
        for name, code, fill in [("zero", "u1", None), ("seven", "u2", 7), ("neg", "f4", -1.5), ("big", ">i2", -300)]:
            shape = (9, 20, 30)
            kw = {} if fill is None else dict(fillvalue=fill)
            ds = f.create_dataset(name, shape=shape, dtype=code, chunks=(4, 8, 8), compression="gzip", **kw)
            a = values((3, 7, 9), code)
            ds[2:5, 3:10, 5:14] = a
            add("partial_%s_%s" % (lib, name), f.filename, "/" + name, ds[...],
                index="v1 B-tree" if lib == "earliest" else "fixed array")
        ds = f.create_dataset("untouched", shape=(4, 5, 6), dtype="f4", fillvalue=2.5)
        add("partial_%s_untouched" % lib, f.filename, "/untouched", ds[...])

# CREMI: nested groups, resolution in nm, labels as uint64.
with h5py.File(p("sample_A.hdf"), "w") as f:
    raw = values((12, 40, 40), "u1")
    ds = f.create_dataset("volumes/raw", data=raw, chunks=(4, 20, 20), compression="gzip")
    ds.attrs["resolution"] = np.array([40.0, 4.0, 4.0])
    lab = rng.integers(0, 2**40, (12, 40, 40), dtype="u8")
    ds = f.create_dataset("volumes/labels/neuron_ids", data=lab, chunks=(4, 20, 20), compression="gzip")
    ds.attrs["resolution"] = np.array([40.0, 4.0, 4.0], dtype="f4")
    f["volumes/raw_link"] = h5py.SoftLink("/volumes/raw")
    add("cremi_raw", f.filename, "/volumes/raw", raw, voxel=[40, 4, 4])
    add("cremi_labels", f.filename, "/volumes/labels/neuron_ids", lab, voxel=[40, 4, 4], notes=True)
    add("cremi_softlink", f.filename, "/volumes/raw_link", raw, voxel=[40, 4, 4])
    add("cremi_relative", f.filename, "volumes/raw", raw, voxel=[40, 4, 4])

# ilastik and Fiji: element_size_um; 4-D and 5-D with leading 1s.
with h5py.File(p("ilastik.h5"), "w") as f:
    a = values((1, 6, 20, 25), "f4")
    ds = f.create_dataset("exported_data", data=a, chunks=(1, 3, 10, 10), compression="gzip")
    ds.attrs["element_size_um"] = np.array([1.0, 0.05, 0.008, 0.008])
    add("ilastik_4d", f.filename, "/exported_data", a, voxel=[50, 8, 8], squeeze=1, dims=[1, 6, 20, 25])
    b = values((1, 1, 5, 7, 9), "u2")
    ds = f.create_dataset("t5", data=b)
    ds.attrs["element_size_um"] = np.array([0.5, 0.25, 0.25])
    add("fiji_5d", f.filename, "/t5", b, voxel=[500, 250, 250], squeeze=2)
    f.create_dataset("channels", data=values((2, 4, 5, 6), "u1"))
    fail("rank4_channels", f.filename, "/channels", "dimensions beyond three are 1")
    c = values((6, 20, 25, 1), "u1")
    ds = f.create_dataset("zyxc", data=c, chunks=(3, 8, 8, 1), compression="gzip")
    ds.attrs["element_size_um"] = np.array([0.04, 0.004, 0.004, 1.0])
    add("ilastik_zyxc", f.filename, "/zyxc", c[..., 0], voxel=[40, 4, 4], dims=[6, 20, 25, 1])
    e = values((1, 7, 9, 1), "u2")
    f.create_dataset("tyxc", data=e)
    add("tyxc_plane", f.filename, "/tyxc", e[0, ..., 0], dims=[1, 7, 9, 1])

# BigDataViewer: uint16 images stored as int16, a pyramid of levels.
with h5py.File(p("bdv.h5"), "w") as f:
    f["s00/resolutions"] = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    f["s00/subdivisions"] = np.array([[16, 16, 16], [16, 16, 16]], dtype="i4")
    u = values((10, 20, 30), "u2")
    f.create_dataset("t00000/s00/0/cells", data=u.view("i2"), chunks=(8, 16, 16), compression="gzip")
    f.create_dataset("t00000/s00/1/cells", data=u[::2, ::2, ::2].view("i2"), chunks=(4, 8, 8), compression="gzip")
    add("bdv_level0", f.filename, "/t00000/s00/0/cells", u, notes=True)
    add("bdv_level1", f.filename, "/t00000/s00/1/cells", u[::2, ::2, ::2].copy(), notes=True)

# libver="latest": superblock 3, v2 object headers, version 4 layouts and
# their chunk indexes.
with h5py.File(p("latest.h5"), "w", libver="latest") as f:
    a = values((13, 33, 47), "u2")
    f.create_dataset("fixed", data=a, chunks=(4, 16, 16), compression="gzip")
    add("latest_fixed", f.filename, "/fixed", a, index="fixed array", sb=3)
    f.create_dataset("fixed_raw", data=a, chunks=(4, 16, 16))
    add("latest_fixed_raw", f.filename, "/fixed_raw", a, index="fixed array")
    ds = f.create_dataset("fixed_maxshape", shape=(13, 33, 47), maxshape=(20, 40, 60), dtype="u2", chunks=(4, 16, 16))
    ds[...] = a
    add("latest_fixed_maxshape", f.filename, "/fixed_maxshape", a, index="fixed array")
    ds = f.create_dataset("ext", shape=(0, 33, 47), maxshape=(None, 33, 47), dtype="u2", chunks=(2, 16, 16), compression="gzip")
    ds.resize((13, 33, 47))
    ds[...] = a
    add("latest_ext", f.filename, "/ext", a, index="extensible array")
    ds = f.create_dataset("ext_y", shape=(13, 33, 47), maxshape=(13, None, 47), dtype="u2", chunks=(2, 3, 16))
    ds[...] = a
    add("latest_ext_unlimited_y", f.filename, "/ext_y", a, index="extensible array")
    ds = f.create_dataset("bt2", shape=(13, 33, 47), maxshape=(None, None, 47), dtype="u2", chunks=(2, 4, 8), compression="gzip", shuffle=True)
    ds[...] = a
    add("latest_btree2", f.filename, "/bt2", a, index="v2 B-tree")
    ds = f.create_dataset("bt2_raw", shape=(13, 33, 47), maxshape=(None, None, None), dtype="u2", chunks=(1, 2, 3))
    ds[...] = a
    add("latest_btree2_raw", f.filename, "/bt2_raw", a, index="v2 B-tree")
    f.create_dataset("single", data=a, chunks=a.shape)
    add("latest_single", f.filename, "/single", a, index="single chunk")
    f.create_dataset("single_gzip", data=a, chunks=a.shape, compression="gzip")
    add("latest_single_gzip", f.filename, "/single_gzip", a, index="single chunk")
    f.create_dataset("contiguous", data=a)
    add("latest_contiguous", f.filename, "/contiguous", a)
    # Implicit index: chunks allocated early, no filters.
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((4, 16, 16))
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    sid = h5py.h5s.create_simple(a.shape)
    dsid = h5py.h5d.create(f.id, b"implicit", h5py.h5t.py_create(a.dtype), sid, dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, a)
    add("latest_implicit", f.filename, "/implicit", a, index="implicit")
    # Compact layout.
    c = values((3, 4, 5), "i2")
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    dsid = h5py.h5d.create(f.id, b"compact", h5py.h5t.py_create(c.dtype), h5py.h5s.create_simple(c.shape), dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, c)
    add("latest_compact", f.filename, "/compact", c)
    # A paged fixed array (more than 1024 chunks), half written.
    ds = f.create_dataset("fixed_paged", shape=(4, 40, 40), dtype="u1", chunks=(1, 2, 2), compression="gzip", fillvalue=3)
    ds[:2] = values((2, 40, 40), "u1")
    add("latest_fixed_paged", f.filename, "/fixed_paged", ds[...], index="fixed array")
    # An extensible array with super blocks (more than 244 chunks).
    ds = f.create_dataset("ext_super", shape=(0, 8, 8), maxshape=(None, 8, 8), dtype="i2", chunks=(1, 8, 8))
    ds.resize((400, 8, 8))
    ds[:390] = values((390, 8, 8), "i2")
    add("latest_ext_super", f.filename, "/ext_super", ds[...], index="extensible array")
    # Dense attribute storage: more than 8 attributes.
    ds = f.create_dataset("many_attrs", data=a[:2])
    for i in range(20):
        ds.attrs["a%02d" % i] = i
    ds.attrs["resolution"] = np.array([30.0, 6.0, 6.0])
    add("latest_dense_attrs", f.filename, "/many_attrs", a[:2], voxel=[30, 6, 6])
    # Dense link storage: a group of more than 8 links.
    g = f.create_group("dense")
    for i in range(30):
        g.create_dataset("d%02d" % i, data=np.full((2, 3, 4), i, dtype="u1"))
    add("latest_dense_links", f.filename, "/dense/d17", np.full((2, 3, 4), 17, dtype="u1"))
    # Creation order tracked: message headers with creation order fields,
    # links and attributes with creation order indexes.
    g = f.create_group("ordered", track_order=True)
    ds = g.create_dataset("data", data=a[:3], track_order=True)
    ds.attrs["zeta"] = 1
    ds.attrs["resolution"] = np.array([8.0, 8.0, 8.0])
    add("latest_track_order", f.filename, "/ordered/data", a[:3], voxel=[8, 8, 8])
    for i in range(12):
        g["link%02d" % i] = h5py.SoftLink("/ordered/data")
    add("latest_track_order_dense", f.filename, "/ordered/link11", a[:3], voxel=[8, 8, 8])
    # A group of 600 links: a v2 B-tree of more than one level, a fractal
    # heap with indirect blocks.
    g = f.create_group("wide")
    for i in range(300):
        g["soft_%03d_with_a_long_name_to_fill_the_heap" % i] = h5py.SoftLink("/fixed")
        g["hard_%03d_with_a_long_name_to_fill_the_heap" % i] = f["fixed"]
    add("latest_wide_soft", f.filename, "/wide/soft_250_with_a_long_name_to_fill_the_heap", a, index="fixed array")
    add("latest_wide_hard", f.filename, "/wide/hard_007_with_a_long_name_to_fill_the_heap", a, index="fixed array")

# An extensible array with paged data blocks (more than 131060 chunks),
# written sparsely: unallocated super blocks, data blocks and pages.
with h5py.File(p("ext_paged.h5"), "w", libver="latest") as f:
    ds = f.create_dataset("z", shape=(0, 1, 1), maxshape=(None, 1, 1), dtype="u2", chunks=(1, 1, 1), fillvalue=9)
    ds.resize((140000, 1, 1))
    for lo, hi in [(0, 100), (600, 700), (131000, 131200), (133000, 133100), (139900, 140000)]:
        ds[lo:hi] = values((hi - lo, 1, 1), "u2")
    add("ext_paged", f.filename, "/z", ds[...], index="extensible array")

# libver v108: superblock 2, layouts version 3.
with h5py.File(p("v108.h5"), "w", libver=("v108", "v108")) as f:
    a = values((7, 20, 30), "f4")
    f.create_dataset("g/data", data=a, chunks=(3, 8, 8), compression="gzip")
    add("v108", f.filename, "/g/data", a, index="v1 B-tree", sb=2)

# libver="earliest" with a user block: the superblock at 512.
with h5py.File(p("userblock.h5"), "w", libver="earliest", userblock_size=512) as f:
    a = values((6, 10, 12), "u1")
    f.create_dataset("data", data=a, chunks=(2, 5, 5), compression="gzip")
    add("userblock", f.filename, "/data", a, index="v1 B-tree", sb=0)
with open(p("userblock.h5"), "r+b") as fh:
    fh.write(b"a user block, as some programs write one")

# A v1 B-tree of several levels (4096 chunks), lzf, fletcher32, a
# committed datatype.
with h5py.File(p("more.h5"), "w") as f:
    a = values((16, 64, 64), "u1")
    f.create_dataset("deep", data=a, chunks=(1, 4, 4))
    add("btree_deep", f.filename, "/deep", a, index="v1 B-tree")
    b = values((9, 30, 31), "f4")
    f.create_dataset("lzf", data=b, chunks=(3, 10, 10), compression="lzf", shuffle=True)
    add("lzf", f.filename, "/lzf", b, index="v1 B-tree")
    f.create_dataset("fletcher", data=b, chunks=(3, 10, 10), fletcher32=True, compression="gzip")
    add("fletcher32", f.filename, "/fletcher", b, index="v1 B-tree")
    f["int_type"] = np.dtype(">i2")
    c = values((4, 5, 6), ">i2")
    f.create_dataset("committed", data=c, dtype=f["int_type"])
    add("committed_type", f.filename, "/committed", c)
    f.create_dataset("scaleoffset", data=values((4, 5, 6), "i2"), scaleoffset=0)
    fail("scaleoffset", f.filename, "/scaleoffset", "scaleoffset")
    f.create_dataset("compound", data=np.zeros((4, 5, 6), dtype=[("a", "i4"), ("b", "f8")]))
    fail("compound", f.filename, "/compound", "compound")
    f.create_dataset("vector", data=np.arange(10))
    fail("rank1", f.filename, "/vector", "rank-1")
    fail("missing", f.filename, "/nothing/here", "no member")
    f.create_group("grp")
    fail("group", f.filename, "/grp", "is a group")
    f["loop1"] = h5py.SoftLink("/loop2")
    f["loop2"] = h5py.SoftLink("/loop1")
    fail("softlink_loop", f.filename, "/loop1", "nest more than 16 deep")
    # Many attributes make the object header continue in another block.
    ds = f.create_dataset("continued", data=a[:2, :5, :5])
    for i in range(40):
        ds.attrs["attribute_%02d" % i] = np.arange(i + 1)
    add("continued_header", f.filename, "/continued", a[:2, :5, :5])

# hdf5plugin's Blosc and zstd filters: chunks the test compressed with
# package codec (OUTDIR/codec), written as they are; chunk 1 is left
# unwritten. The filters are optional, so HDF5 accepts them unregistered.
codec = os.path.join(out, "codec")
with h5py.File(p("plugins.h5"), "w") as f:
    data = np.fromfile(os.path.join(codec, "data.bin"), dtype="<u2").reshape(6, 20, 24)
    for name, fid, cd in [("blosc", 32001, (2, 2, 2, 960, 5, 1, 4)), ("zstd", 32015, (3,))]:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((2, 20, 24))
        dcpl.set_filter(fid, h5py.h5z.FLAG_OPTIONAL, cd)
        dsid = h5py.h5d.create(f.id, name.encode(), h5py.h5t.py_create(data.dtype), h5py.h5s.create_simple(data.shape), dcpl=dcpl)
        for k in (0, 2):
            with open(os.path.join(codec, "%s_%d.bin" % (name, k)), "rb") as fh:
                dsid.write_direct_chunk((2 * k, 0, 0), fh.read(), filter_mask=0)
        exp = data.copy()
        exp[2:4] = 0
        add("plugin_" + name, f.filename, "/" + name, exp, index="v1 B-tree")

# A file with one volume and a hard-link cycle between groups.
with h5py.File(p("single.h5"), "w") as f:
    a = values((5, 6, 7), "u1")
    f.create_dataset("a/b/vol", data=a)
    f.create_dataset("a/plane", data=values((6, 7), "u1"))
    f["a/b/up"] = f["a"]
    add("pick_single", f.filename, "", a)

with h5py.File(p("planes.h5"), "w") as f:
    a = values((6, 7), "u2")
    f.create_dataset("only", data=a)
    f.create_dataset("attrs_only", data=np.arange(3))
    add("pick_plane", f.filename, "", a)

with open(os.path.join(out, "manifest.json"), "w") as fh:
    json.dump(cases, fh, indent=1)
