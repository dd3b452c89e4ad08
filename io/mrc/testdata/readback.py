"""Reads MRC files niiv wrote with mrcfile, the reference implementation.

Usage: readback.py FILE...

Prints a JSON list with, for every file, what mrcfile makes of its header
and whether mrcfile.validate accepts it, and writes the data mrcfile reads
to FILE.mrcfile as little-endian float64.
"""

import io
import json
import sys
import warnings

import mrcfile
import numpy as np

warnings.simplefilter("ignore")
out = []
for path in sys.argv[1:]:
    report = io.StringIO()
    valid = mrcfile.validate(path, print_file=report)
    with mrcfile.open(path) as m:
        h, d, vs = m.header, m.data, m.voxel_size
        fin = d[np.isfinite(d)].astype(np.float64)
        out.append(dict(
            valid=bool(valid), report=report.getvalue(),
            mode=int(h.mode), dtype=str(d.dtype), shape=list(d.shape),
            big=d.dtype.byteorder == ">", ispg=int(h.ispg), nversion=int(h.nversion),
            voxel=[float(vs.z), float(vs.y), float(vs.x)],
            dmin=float(h.dmin), dmax=float(h.dmax), dmean=float(h.dmean), rms=float(h.rms),
            min=float(fin.min()) if fin.size else None, max=float(fin.max()) if fin.size else None,
            mean=float(fin.mean()) if fin.size else None, std=float(fin.std()) if fin.size else None,
        ))
        np.ascontiguousarray(d, dtype="<f8").tofile(path + ".mrcfile")
print(json.dumps(out))
