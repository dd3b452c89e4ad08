"""Writes the MRC test fixtures with mrcfile, the reference implementation.

Usage: fixtures.py OUTDIR BOXES_JSON

For every fixture it writes NAME.mrc (or .mrcs), NAME.expect (the volume
niiv should read, as little-endian float64 in z, y, x order) and an entry
of OUTDIR/manifest.json. For the boxes given (a list of [z0, z1, y0, y1,
x0, x1]) it also writes the NumPy slice of each "regions" fixture as
NAME.box.K.expect.
"""

import json
import os
import sys
import warnings

import mrcfile
import numpy as np
from mrcfile.dtypes import get_ext_header_dtype

out, boxes = sys.argv[1], json.loads(sys.argv[2])
rng = np.random.default_rng(7)
warnings.simplefilter("ignore")  # NaN in the data, a stampless header
manifest = []


def add(name, data, expect=None, ext=".mrc", voxel=None, known=None, setup=None,
        patch=None, dtype=None, regions=False, big=None):
    """Writes data with mrcfile, then lets setup change it through mrcfile
    and patch change its bytes; expect is the volume niiv should read
    (default: what mrcfile reads back, transposed by MAPC/MAPR/MAPS)."""
    path = os.path.join(out, name + ext)
    with mrcfile.new(path, overwrite=True) as m:
        m.set_data(data)
        if setup:
            setup(m)
        if voxel is not None:
            m.voxel_size = voxel  # (x, y, z) in Å
    if patch:
        with open(path, "r+b") as f:
            patch(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.open(path, permissive=True) as m:
            h = m.header
            ref = None if m.data is None else np.array(m.data)
            vs = m.voxel_size
            axes = [int(h.maps), int(h.mapr), int(h.mapc)]
            entry = dict(
                name=name, file=os.path.basename(path), mode=int(h.mode),
                big=h.mode.dtype.byteorder == ">" or (h.mode.dtype.byteorder == "=" and sys.byteorder == "big"),
                nsymbt=int(h.nsymbt), exttyp=bytes(h.exttyp).decode("ascii", "replace").strip("\x00 "),
                ispg=int(h.ispg), labels=[bytes(l).decode("ascii", "replace").rstrip("\x00 ") for l in h.label[: int(h.nlabl)]],
                voxel=[float(vs.z), float(vs.y), float(vs.x)], known=known,
                mrcfile_dtype=None if ref is None else str(ref.dtype), dtype=dtype)
    if big is not None:  # a header mrcfile cannot read
        entry["big"], entry["ispg"], entry["labels"] = big, 1, None
    if expect is None:
        expect = ref
        if ref.ndim == 4:  # a volume stack: its volumes one after the other
            expect = ref.reshape((-1,) + ref.shape[2:])
        # File axes (sections, rows, columns) to (z, y, x): axis k of the
        # result is the file axis whose map value is 3 - k.
        expect = expect.transpose([axes.index(3), axes.index(2), axes.index(1)])
    if entry["known"] is None:
        v = entry["voxel"]
        entry["known"] = all(x > 0 for x in v) and not all(x == 1 for x in v)
    entry["shape"] = list(expect.shape)
    np.ascontiguousarray(expect, dtype="<f8").tofile(os.path.join(out, name + ".expect"))
    if regions:
        entry["boxes"] = boxes
        for k, (z0, z1, y0, y1, x0, x1) in enumerate(boxes):
            np.ascontiguousarray(expect[z0:z1, y0:y1, x0:x1], dtype="<f8").tofile(
                os.path.join(out, "%s.box.%d.expect" % (name, k)))
    manifest.append(entry)


def put(off, fmt, *values):
    """Returns a patch writing values at byte off."""
    def patch(f):
        f.seek(off)
        f.write(np.array(values, dtype=fmt).tobytes())
    return patch


def both(*patches):
    def patch(f):
        for p in patches:
            p(f)
    return patch


shape = (9, 33, 47)  # big enough for boxes that are not whole planes
i8 = rng.integers(-128, 128, shape).astype(np.int8)
i8.flat[:2] = (-128, 127)
i16 = rng.integers(-32768, 32768, shape).astype(np.int16)
u16 = rng.integers(0, 65536, shape).astype(np.uint16)
u16.flat[0] = 65535
f32 = rng.normal(100, 30, shape).astype(np.float32)
f16 = rng.normal(0, 1000, shape).astype(np.float16)
f16.flat[:9] = [np.inf, -np.inf, np.nan, 6e-8, -6e-8, 65504, -0.0, 6.1e-5, 1e-6]

# Every mode; int16 also anisotropic (40, 4, 4) Å (z, y, x) and with regions.
add("int8", i8, dtype="int16", regions=True)
add("int16_aniso", i16, voxel=(4, 4, 40), dtype="int16", regions=True)
add("float32_ones", f32, voxel=1.0, dtype="float32")
add("uint16", u16, voxel=(5.25, 5.25, 5.25), dtype="uint16")
add("float16", f16, voxel=(2, 3, 7), dtype="float32", regions=True)
# mrcfile widens uint8 to mode 6.
add("uint8_by_mrcfile", (u16 % 256).astype(np.uint8), dtype="uint16")
# Partly set voxel size: unknown.
add("voxel_z_zero", i16, voxel=(4, 4, 0), dtype="int16", known=False)

# Big-endian files, written big-endian by mrcfile.
add("int16_big", i16.astype(">i2"), voxel=(4, 4, 40), dtype="int16", regions=True)
add("float16_big", f16.astype(">f2"), dtype="float32", regions=True)
# Big-endian with the machine stamp zeroed, and with a little-endian stamp.
add("float32_big_nostamp", f32.astype(">f4"), dtype="float32", patch=put(212, "u1", 0, 0, 0, 0))
add("float32_big_wrongstamp", f32.astype(">f4"), dtype="float32", patch=put(212, "u1", 0x44, 0x44, 0, 0))
add("int16_little_nostamp", i16, dtype="int16", patch=put(212, "u1", 0, 0, 0, 0))


def big_header_no_stamp(f):
    """Rewrites a little-endian header big-endian, machine stamp zeroed."""
    f.seek(0)
    h = np.frombuffer(f.read(1024), dtype=mrcfile.dtypes.HEADER_DTYPE).byteswap()
    h["machst"] = 0
    f.seek(0)
    f.write(h.tobytes())


# Mode 0 reads the same in both byte orders: only the sizes tell the order.
# mrcfile, taking the stampless header for little-endian, cannot read it.
add("int8_big_nostamp", i8[:, :, :32], expect=i8[:, :, :32], dtype="int16", patch=big_header_no_stamp,
    known=False, big=True)

def fei(m):
    eh = np.zeros(2, dtype=get_ext_header_dtype(b"FEI1", "<"))
    eh["Metadata size"] = 768
    eh["Pixel size X"] = 4e-10
    m.set_extended_header(eh)
    m.header.exttyp = b"FEI1"


add("extended_fei1", f32, voxel=4.0, dtype="float32", setup=fei)
# More data than the header needs: allowed.
add("trailing_bytes", i16, dtype="int16", patch=lambda f: (f.seek(0, 2), f.write(b"\x01" * 100)))

# Stacks: an image stack (.mrcs, space group 0) and a volume stack (401).
add("stack", f32[:5], ext=".mrcs", voxel=2.5, dtype="float32", setup=lambda m: m.set_image_stack())
add("volume_stack", i16[:8].reshape(2, 4, 33, 47), voxel=3.0, dtype="int16")

# Mode 0 signedness: IMOD's stamp with the signed flag clear (unsigned) or
# set (signed); no stamp but statistics only unsigned bytes can have.
IMOD = 1146047817
add("imod_unsigned", i8, expect=i8.view(np.uint8), dtype="uint8", patch=put(152, "<i4", IMOD, 0))
add("imod_signed", i8, dtype="int16", patch=put(152, "<i4", IMOD, 1))
add("unsigned_by_stats", i8, expect=i8.view(np.uint8), dtype="uint8",
    setup=lambda m: (setattr(m.header, "dmin", 0), setattr(m.header, "dmax", 255)))


# Axis orders other than 1, 2, 3: (MAPC, MAPR, MAPS) and the extents
# (MX, MY, MZ) and cell along X, Y and Z.
def axes(mapc, mapr, maps, vox):
    def setup(m):
        h = m.header
        h.mapc, h.mapr, h.maps = mapc, mapr, maps
        n = {mapc: int(h.nx), mapr: int(h.ny), maps: int(h.nz)}
        h.mx, h.my, h.mz = n[1], n[2], n[3]
        h.cella = (vox[0] * n[1], vox[1] * n[2], vox[2] * n[3])
    return setup


add("axes_321", f32[:, :20, :25], dtype="float32", setup=axes(3, 2, 1, (2, 3, 5)))
add("axes_231", i16[:7, :11, :13], dtype="int16", setup=axes(2, 3, 1, (4, 4, 40)))
add("axes_213", u16[:5, :6, :8], dtype="uint16", setup=axes(2, 1, 3, (1, 2, 3)))

with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f)
