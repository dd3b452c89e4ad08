"""Writes the seed files of FuzzOpen into testdata/seeds with h5py: small
files of every structure the package reads. Run it from io/hdf5 when the
reader learns a new structure; the files are committed, so that fuzzing
needs no Python.
"""

import os

import h5py
import numpy as np

out = os.path.join("testdata", "seeds")
os.makedirs(out, exist_ok=True)
a = np.arange(60, dtype="<u2").reshape(3, 4, 5)


def p(name):
    return os.path.join(out, name)


with h5py.File(p("earliest.h5"), "w", libver="earliest") as f:
    ds = f.create_dataset("g/raw", data=a, chunks=(2, 2, 3), compression="gzip", shuffle=True)
    ds.attrs["resolution"] = np.array([40.0, 4.0, 4.0])
    f.create_dataset("g/be", data=a.astype(">f4")[:2])
    ds = f.create_dataset("partial", shape=(3, 4, 5), dtype="i1", chunks=(2, 2, 2), fillvalue=-3)
    ds[0, 0, :2] = [1, 2]
    f["link"] = h5py.SoftLink("/g/raw")

with h5py.File(p("latest.h5"), "w", libver="latest") as f:
    f.create_dataset("fixed", data=a, chunks=(2, 2, 3), compression="gzip")
    ds = f.create_dataset("ext", shape=(3, 4, 5), maxshape=(None, 4, 5), dtype="u2", chunks=(1, 2, 5))
    ds[...] = a
    ds = f.create_dataset("bt2", shape=(3, 4, 5), maxshape=(None, None, 5), dtype="u2", chunks=(1, 2, 5))
    ds[...] = a
    f.create_dataset("single", data=a, chunks=a.shape, compression="gzip")
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    dsid = h5py.h5d.create(f.id, b"compact", h5py.h5t.py_create(a.dtype), h5py.h5s.create_simple(a.shape), dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, a)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((2, 2, 5))
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dsid = h5py.h5d.create(f.id, b"implicit", h5py.h5t.py_create(a.dtype), h5py.h5s.create_simple(a.shape), dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, a)

with h5py.File(p("dense.h5"), "w", libver="latest") as f:
    g = f.create_group("d")
    for i in range(9):
        g.create_dataset("v%d" % i, data=np.full((2, 2, 2), i, dtype="u1"))
    ds = g["v3"]
    for i in range(9):
        ds.attrs["a%d" % i] = i
    ds.attrs["element_size_um"] = np.array([0.5, 0.1, 0.1])

with h5py.File(p("v108_userblock.h5"), "w", libver=("v108", "v108"), userblock_size=512) as f:
    f.create_dataset("x", data=a.astype("f2"), chunks=(3, 2, 2), compression="lzf")
    f.create_dataset("y", data=a.astype(">i4"), chunks=(3, 2, 2), fletcher32=True)
