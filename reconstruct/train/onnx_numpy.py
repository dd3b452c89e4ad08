"""A minimal NumPy interpreter for the operators niiv's ONNX graphs use.

onnxruntime and onnx.reference are not installed on every machine that runs the training
tests; this independent implementation (written from the ONNX operator specification, not
from PyTorch) lets the tests check that the exported graphs compute what PyTorch computes.
Only the operators and attributes that niiv's exporter emits are supported; anything else
raises NotImplementedError.
"""

import numpy as np
from onnx import numpy_helper


def _attrs(node):
    import onnx
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        out[a.name] = v
    return out


def _conv(x, w, b, a):
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("Conv with groups/dilations")
    sh, sw = a.get("strides", [1, 1])
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, hp, wp = xp.shape
    oh = (hp - kh) // sh + 1
    ow = (wp - kw) // sw + 1
    out = np.zeros((n, w.shape[0], oh, ow), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out


def _grid_sample(x, grid, a):
    if a.get("mode", "bilinear") != "bilinear" or a.get("align_corners", 0) != 0:
        raise NotImplementedError("GridSample mode/align_corners")
    pad = a.get("padding_mode", "zeros")
    n, c, h, w = x.shape
    gx = grid[..., 0]
    gy = grid[..., 1]
    # align_corners=0: -1 and 1 are the outer edges of the outermost pixels.
    fx = ((gx + 1) * w - 1) / 2
    fy = ((gy + 1) * h - 1) / 2
    if pad == "border":
        fx = np.clip(fx, 0, w - 1)
        fy = np.clip(fy, 0, h - 1)
    elif pad != "zeros":
        raise NotImplementedError("GridSample padding " + pad)
    x0 = np.floor(fx).astype(np.int64)
    y0 = np.floor(fy).astype(np.int64)
    wx1 = fx - x0
    wy1 = fy - y0
    out = np.zeros((n, c) + gx.shape[1:], np.float64)
    for dy, wy in ((0, 1 - wy1), (1, wy1)):
        for dx, wx in ((0, 1 - wx1), (1, wx1)):
            yi = y0 + dy
            xi = x0 + dx
            valid = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
            yc = np.clip(yi, 0, h - 1)
            xc = np.clip(xi, 0, w - 1)
            for bi in range(n):
                v = x[bi][:, yc[bi], xc[bi]]  # [C, Ho, Wo]
                out[bi] += v * (wy[bi] * wx[bi] * valid[bi])[None]
    return out


def _slice(x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else [int(a) % x.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    sl = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        dim = x.shape[ax]
        s, e, st = int(s), int(e), int(st)
        if st > 0:
            s = max(0, min(dim, s + dim if s < 0 else s))
            e = max(0, min(dim, e + dim if e < 0 else e))
        else:
            s = max(-1, min(dim - 1, s + dim if s < 0 else s))
            e = max(-1, min(dim - 1, e + dim if e < 0 else e))
            if e == -1:
                e = None
        sl[ax] = slice(s, e, st)
    return x[tuple(sl)]


def run(model_path, feeds):
    """Evaluate the graph at model_path on feeds (name -> array); returns name -> float32 array."""
    import onnx
    m = onnx.load(model_path)
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) if numpy_helper.to_array(t).dtype.kind == "f"
           else numpy_helper.to_array(t) for t in m.graph.initializer}
    env.update({k: np.asarray(v, np.float64) for k, v in feeds.items()})
    for node in m.graph.node:
        a = _attrs(node)
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            t = numpy_helper.to_array(a["value"]) if not isinstance(a["value"], np.ndarray) else a["value"]
            r = t.astype(np.float64) if t.dtype.kind == "f" else t
        elif op == "Conv":
            r = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "GridSample":
            r = _grid_sample(ins[0], ins[1], a)
        elif op == "Relu":
            r = np.maximum(ins[0], 0)
        elif op == "Add":
            r = ins[0] + ins[1]
        elif op == "Sub":
            r = ins[0] - ins[1]
        elif op == "Mul":
            r = ins[0] * ins[1]
        elif op == "Div":
            r = ins[0] / ins[1]
        elif op == "Sin":
            r = np.sin(ins[0])
        elif op == "Cos":
            r = np.cos(ins[0])
        elif op == "Sigmoid":
            r = 1 / (1 + np.exp(-ins[0]))
        elif op == "MatMul":
            r = np.matmul(ins[0], ins[1])
        elif op == "Concat":
            r = np.concatenate(ins, axis=a["axis"])
        elif op == "Transpose":
            r = np.transpose(ins[0], a.get("perm"))
        elif op == "Unsqueeze":
            r = ins[0]
            for ax in sorted(int(v) % (r.ndim + len(ins[1])) for v in ins[1]):
                r = np.expand_dims(r, ax)
        elif op == "Squeeze":
            r = np.squeeze(ins[0], axis=tuple(int(v) for v in ins[1])) if len(ins) > 1 else np.squeeze(ins[0])
        elif op == "Slice":
            r = _slice(ins[0], ins[1], ins[2], ins[3] if len(ins) > 3 else None, ins[4] if len(ins) > 4 else None)
        elif op == "Identity":
            r = ins[0]
        elif op == "Shape":
            r = np.array(ins[0].shape, np.int64)
        elif op == "Gather":
            r = np.take(ins[0], ins[1].astype(np.int64), axis=a.get("axis", 0))
        elif op == "Range":
            r = np.arange(ins[0], ins[1], ins[2]).astype(ins[0].dtype)
        elif op == "Cast":
            to = a["to"]
            if to == 1:  # float32, kept as float64 values like every float here
                r = ins[0].astype(np.float32).astype(np.float64)
            elif to == 11:
                r = ins[0].astype(np.float64)
            elif to == 7:
                r = ins[0].astype(np.int64)
            else:
                raise NotImplementedError("Cast to type %d" % to)
        elif op == "Expand":
            shape = np.broadcast_shapes(ins[0].shape, tuple(int(v) for v in ins[1]))
            r = np.broadcast_to(ins[0], shape).copy()
        elif op == "Reshape":
            if a.get("allowzero", 0):
                raise NotImplementedError("Reshape with allowzero")
            shape = [int(ins[0].shape[i]) if int(v) == 0 else int(v) for i, v in enumerate(ins[1])]
            r = ins[0].reshape(shape)
        else:
            raise NotImplementedError("operator " + op)
        env[node.output[0]] = np.asarray(r)
    return {o.name: env[o.name].astype(np.float32) for o in m.graph.output}
