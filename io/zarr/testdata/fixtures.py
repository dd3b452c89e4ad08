"""Writes the Zarr v2, N5 and OME-Zarr 0.4 fixtures of the zarr package's
tests with zarr-python 2 and numcodecs, and a manifest.json describing them.

Usage: python3 fixtures.py OUT_DIR [blosc]

Every case lists the expected voxels of each level (after picking the
channel and time point, as z, y, x) in a .f64 file of little-endian
float64 values. With "blosc", arrays compressed with Blosc are written too.
"""
import gzip
import warnings
import json
import os
import struct
import sys

import numcodecs
import numpy as np
import zarr

warnings.simplefilter("ignore", RuntimeWarning)

out = sys.argv[1]
with_blosc = len(sys.argv) > 2 and sys.argv[2] == "blosc"
cases = []
skipped = []


def values(shape, dtype, seed=0):
    """Deterministic voxels spanning much of dtype's range."""
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.int64) + seed
    dt = np.dtype(dtype)
    if dt.kind == "b":
        v = (i * 7 + i // 3) % 3 == 0
    elif dt.kind == "f":
        v = np.sin(i * 0.37) * 1000.0 + i * 0.25
        v[::11] = -v[::11] * 0.001
    elif dt.kind == "u":
        iu = i.astype(np.uint64)
        top = np.uint64(min(int(np.iinfo(dt).max), 2**62) + 1)
        v = (iu * np.uint64(2654435761) + np.uint64(12345)) % top
        v[::7] = np.iinfo(dt).max - iu[::7] if dt.itemsize == 8 else np.iinfo(dt).max
    else:
        info = np.iinfo(dt)
        span = min(int(info.max) - int(info.min), 2**62)
        v = (i * 2654435761 + 777) % span + max(int(info.min), -(2**61))
        v[::5] = info.min
        v[::13] = info.max
    return np.asarray(v).astype(dt).reshape(shape)


def expect(name, a):
    """Writes the expected voxels of a level as float64."""
    p = os.path.join(out, "expect", name + ".f64")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    np.ascontiguousarray(a, dtype="<f8").tofile(p)
    return os.path.relpath(p, out)


def zyx(a):
    """The z, y, x volume of a 2-D or 3-D array."""
    return a[None] if a.ndim == 2 else a


def add(name, path, levels, dtype, fill=0.0, voxel=None, channels=1, times=1,
        channel=0, time=0, blosc=False, notes=0, chunk_keys=None):
    cases.append({
        "name": name, "path": path, "dtype": dtype, "fill": repr(float(fill)),
        "levels": [{"expect": expect(f"{name}/{i}", lv), "shape": list(lv.shape),
                    "name": lvname, "voxel": voxel[i] if voxel else None}
                   for i, (lvname, lv) in enumerate(levels)],
        "channels": channels, "times": times,
        "channel": channel, "time": time, "blosc": blosc, "notes": notes,
    })


def out_dtype(dt):
    dt = np.dtype(dt)
    if dt.kind == "b" or dt.kind == "u" and dt.itemsize == 1:
        return "uint8"
    if dt.kind == "u" and dt.itemsize == 2:
        return "uint16"
    if dt.kind == "i" and dt.itemsize <= 2:
        return "int16"
    if dt.itemsize <= 4:
        return "float32"
    return "float64"


shape, chunks = (5, 13, 17), (2, 5, 6)

# Every compressor, uint16.
comps = {"none": None, "zstd": numcodecs.Zstd(level=3), "gzip": numcodecs.GZip(level=5),
         "zlib": numcodecs.Zlib(level=4)}
if with_blosc:
    for cname in ["lz4", "lz4hc", "zlib", "zstd", "blosclz"]:
        for sname, shuf in [("noshuffle", numcodecs.Blosc.NOSHUFFLE),
                            ("shuffle", numcodecs.Blosc.SHUFFLE),
                            ("bitshuffle", numcodecs.Blosc.BITSHUFFLE)]:
            comps[f"blosc_{cname}_{sname}"] = numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuf)
for cname, comp in comps.items():
    for dt in ["<u2", "<f4"] if cname.startswith("blosc") else ["<u2"]:
        name = f"v2_{cname}_{np.dtype(dt).name}"
        p = os.path.join(out, name + ".zarr")
        a = zarr.open_array(p, mode="w", shape=shape, chunks=chunks, dtype=dt, compressor=comp)
        v = values(shape, dt, seed=len(cases))
        a[...] = v
        add(name, os.path.basename(p), [(os.path.basename(p), v)], out_dtype(dt),
            blosc=cname.startswith("blosc"))

# Every dtype, both orders and separators.
dtypes = ["<u2", "|u1", ">f4", "<i2", "<f8", "|b1", "<i4", "<u4", "<f2", "<i8",
          "|i1", ">u2", ">i8", "<u8", ">f8", ">i4"]
for k, dt in enumerate(dtypes):
    for order in ["C", "F"]:
        sep = "/" if k % 2 else "."
        name = f"v2_{np.dtype(dt).str.replace('<', 'le').replace('>', 'be').replace('|', '')}_{order}"
        p = os.path.join(out, name + ".zarr")
        a = zarr.open_array(p, mode="w", shape=shape, chunks=chunks, dtype=dt, order=order,
                            compressor=numcodecs.Zstd(level=1), dimension_separator=sep)
        v = values(shape, dt, seed=k)
        a[...] = v
        notes = 1 if np.dtype(dt).kind in "iu" and np.dtype(dt).itemsize >= 4 else 0
        add(name, os.path.basename(p), [(os.path.basename(p), v)], out_dtype(dt), notes=notes)

# Fill values with chunks left unwritten.
fills = [("u16_7", "<u2", 7), ("f4_nan", "<f4", float("nan")), ("f8_inf", "<f8", float("inf")),
         ("f4_neginf", ">f4", float("-inf")), ("i2_neg", "<i2", -3), ("u1_null", "|u1", None),
         ("b1_true", "|b1", True), ("f2_half", "<f2", 0.5)]
for fname, dt, fv in fills:
    name = f"v2_fill_{fname}"
    p = os.path.join(out, name + ".zarr")
    a = zarr.open_array(p, mode="w", shape=shape, chunks=chunks, dtype=dt, fill_value=fv,
                        compressor=numcodecs.GZip(level=1), dimension_separator="/")
    v = values(shape, dt, seed=3)
    a[1:3, 4:9, 5:13] = v[1:3, 4:9, 5:13]
    a[4, 12, 16] = v[4, 12, 16]
    got = np.full(shape, 0 if fv is None else fv, dtype=dt)
    got[1:3, 4:9, 5:13] = v[1:3, 4:9, 5:13]
    got[4, 12, 16] = v[4, 12, 16]
    add(name, os.path.basename(p), [(os.path.basename(p), got)], out_dtype(dt),
        fill=0.0 if fv is None else float(fv))

# 2-D, and a 4-D (c, z, y, x) array read at channel 1.
p = os.path.join(out, "v2_2d.zarr")
v = values((13, 17), "<u2", seed=9)
zarr.open_array(p, mode="w", shape=v.shape, chunks=(4, 5), dtype="<u2", compressor=None)[...] = v
add("v2_2d", "v2_2d.zarr", [("v2_2d.zarr", zyx(v))], "uint16")
p = os.path.join(out, "v2_czyx.zarr")
v = values((3, 4, 9, 11), "<i2", seed=10)
zarr.open_array(p, mode="w", shape=v.shape, chunks=(2, 3, 4, 5), dtype="<i2",
                compressor=numcodecs.Zlib(level=1))[...] = v
add("v2_czyx", "v2_czyx.zarr", [("v2_czyx.zarr", v[1])], "int16", channels=3, channel=1)

# An OME-Zarr 0.4 group written by hand: 3 levels, units, per-level scales
# and a multiscale-level scale.
g = os.path.join(out, "ome04.zarr")
root = zarr.open_group(g, mode="w")
full = values((6, 24, 30), "<u2", seed=11)
levels, datasets = [], []
for lv in range(3):
    f = 2 ** lv
    d = full[:, ::f, ::f]
    root.create_dataset(str(lv), data=d, chunks=(4, 7, 8), compressor=numcodecs.Zstd(level=2),
                        dimension_separator="/")
    levels.append((f"ome04.zarr/{lv}", d))
    datasets.append({"path": str(lv), "coordinateTransformations": [
        {"type": "scale", "scale": [0.05, 4.0 * f, 4.0 * f]},
        {"type": "translation", "translation": [0.0, 2.0 * (f - 1), 2.0 * (f - 1)]}]})
root.attrs["multiscales"] = [{
    "version": "0.4", "name": "em",
    "axes": [{"name": "z", "type": "space", "unit": "micrometer"},
             {"name": "y", "type": "space", "unit": "nanometer"},
             {"name": "x", "type": "space", "unit": "nanometer"}],
    "datasets": datasets,
    "coordinateTransformations": [{"type": "scale", "scale": [2.0, 1.0, 1.0]}],
}]
add("ome04", "ome04.zarr", levels, "uint16", voxel=[[100.0, 4.0, 4.0], [100.0, 8.0, 8.0], [100.0, 16.0, 16.0]])
# One level of it opened directly takes its scale from the group.
add("ome04_level1", "ome04.zarr/1", [levels[1]], "uint16", voxel=[[100.0, 8.0, 8.0]])

# OME-Zarr 0.4 with t, c, z, y, x: t of size 1 is squeezed, 2 channels.
g = os.path.join(out, "ome04_tczyx.zarr")
root = zarr.open_group(g, mode="w")
v = values((1, 2, 3, 10, 12), "<f4", seed=12)
root.create_dataset("0", data=v, chunks=(1, 1, 2, 4, 5), compressor=numcodecs.GZip(level=1))
root.attrs["multiscales"] = [{
    "version": "0.4",
    "axes": [{"name": "t", "type": "time", "unit": "second"}, {"name": "c", "type": "channel"},
             {"name": "z", "type": "space", "unit": "angstrom"},
             {"name": "y", "type": "space", "unit": "angstrom"},
             {"name": "x", "type": "space", "unit": "angstrom"}],
    "datasets": [{"path": "0", "coordinateTransformations": [
        {"type": "scale", "scale": [1.0, 1.0, 300.0, 40.0, 40.0]}]}],
}]
add("ome04_tczyx", "ome04_tczyx.zarr", [("ome04_tczyx.zarr/0", v[0, 1])], "float32",
    voxel=[[30.0, 4.0, 4.0]], channels=2, channel=1)

# N5 through zarr's N5Store and N5FSStore: every compression it writes.
n5comps = {"raw": None, "gzip": numcodecs.GZip(level=5), "zlib": numcodecs.Zlib(level=5),
           "zstd": numcodecs.Zstd(level=3)}
if with_blosc:
    n5comps["blosc"] = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
stores = [("n5store", zarr.N5Store)]
try:
    import fsspec  # noqa: F401  (N5FSStore needs it)
    stores.append(("n5fsstore", zarr.N5FSStore))
except ImportError:
    skipped.append("N5FSStore cases: python3-fsspec is not installed")
for k, (cname, comp) in enumerate(n5comps.items()):
    for store_name, Store in stores:
        for dt in ["<u2", "<i1", "<f8", "<u4"]:
            name = f"n5_{store_name}_{cname}_{np.dtype(dt).name}"
            p = os.path.join(out, name + ".n5")
            st = Store(p)
            a = zarr.open_array(st, mode="w", path="data", shape=shape, chunks=chunks, dtype=dt,
                                compressor=comp)
            v = values(shape, dt, seed=k)
            a[...] = v
            notes = 1 if np.dtype(dt).itemsize >= 4 and np.dtype(dt).kind in "iu" else 0
            add(name, name + ".n5/data", [(name + ".n5/data", v)], out_dtype(dt),
                blosc=cname == "blosc", notes=notes)


# N5 written by hand as N5's own libraries write it: edge blocks cropped,
# a multiscale group (s0, s1) with scales and pixelResolution, a missing
# block, varlength mode.
def n5_block(d, comp, mode=0):
    hdr = struct.pack(">HH", mode, d.ndim) + b"".join(struct.pack(">I", s) for s in d.shape[::-1])
    if mode == 1:
        hdr += struct.pack(">I", d.size)
    raw = d.astype(d.dtype.newbyteorder(">")).tobytes()
    if comp == "gzip":
        raw = gzip.compress(raw)
    return hdr + raw


def n5_dataset(path, v, block, comp, skip=(), varlen=()):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "attributes.json"), "w") as f:
        json.dump({"dimensions": list(v.shape[::-1]), "blockSize": list(block[::-1]),
                   "dataType": v.dtype.name, "compression": {"type": comp, "useZlib": False}}, f)
    grid = [(s + b - 1) // b for s, b in zip(v.shape, block)]
    got = np.zeros_like(v)
    for idx in np.ndindex(*grid):
        if idx in skip:
            continue
        sl = tuple(slice(i * b, min((i + 1) * b, s)) for i, b, s in zip(idx, block, v.shape))
        got[sl] = v[sl]
        bp = os.path.join(path, *[str(i) for i in idx[::-1]])
        os.makedirs(os.path.dirname(bp), exist_ok=True)
        with open(bp, "wb") as f:
            f.write(n5_block(v[sl], comp, mode=1 if idx in varlen else 0))
    return got


g = os.path.join(out, "cropped.n5")
os.makedirs(g)
with open(os.path.join(g, "attributes.json"), "w") as f:
    json.dump({"n5": "2.5.1", "scales": [[1, 1, 1], [2, 2, 1]],
               "pixelResolution": {"unit": "um", "dimensions": [0.008, 0.008, 0.05]}}, f)
full = values((7, 22, 26), "<u2", seed=13)
s0 = n5_dataset(os.path.join(g, "s0"), full, (3, 8, 10), "gzip", skip={(1, 1, 1)}, varlen={(0, 0, 0)})
s1 = n5_dataset(os.path.join(g, "s1"), full[:, ::2, ::2], (3, 8, 10), "raw")
add("n5_cropped", "cropped.n5", [("cropped.n5/s0", s0), ("cropped.n5/s1", s1)], "uint16",
    voxel=[[50.0, 8.0, 8.0], [50.0, 16.0, 16.0]])
add("n5_cropped_s1", "cropped.n5/s1", [("cropped.n5/s1", s1)], "uint16", voxel=[[50.0, 16.0, 16.0]])

# A BigDataViewer-style container: setup0/timepoint0/s0, factors on setup0.
g = os.path.join(out, "bdv.n5")
os.makedirs(os.path.join(g, "setup0", "timepoint0"))
with open(os.path.join(g, "attributes.json"), "w") as f:
    json.dump({"n5": "2.5.1"}, f)
with open(os.path.join(g, "setup0", "attributes.json"), "w") as f:
    json.dump({"downsamplingFactors": [[1, 1, 1], [2, 2, 2]], "dataType": "uint16"}, f)
with open(os.path.join(g, "setup0", "timepoint0", "attributes.json"), "w") as f:
    json.dump({"resolution": [0.5, 0.5, 2.0], "unit": "micrometer"}, f)
full = values((6, 10, 12), "<u2", seed=14)
b0 = n5_dataset(os.path.join(g, "setup0", "timepoint0", "s0"), full, (4, 4, 4), "gzip")
b1 = n5_dataset(os.path.join(g, "setup0", "timepoint0", "s1"), full[::2, ::2, ::2], (4, 4, 4), "raw")
add("n5_bdv", "bdv.n5/setup0/timepoint0", [("bdv.n5/setup0/timepoint0/s0", b0),
                                           ("bdv.n5/setup0/timepoint0/s1", b1)],
    "uint16", voxel=[[2000.0, 500.0, 500.0], [4000.0, 1000.0, 1000.0]])
add("n5_bdv_s0", "bdv.n5/setup0/timepoint0/s0", [("bdv.n5/setup0/timepoint0/s0", b0)], "uint16",
    voxel=[[2000.0, 500.0, 500.0]])

with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump({"cases": cases, "skipped": skipped}, f, indent=1)
