"""Self-supervised data: lateral (xy) crops degraded along one in-plane axis.

Volumes are .npy arrays with axes (z, y, x). Only xy planes are used for training: a random
crop is rotated/flipped (the 8 symmetries of the square), then its ROW axis is average-pooled
by the anisotropy factor, which is exactly how an xz slice of a z-coarse volume looks. The
model learns to undo that pooling.

Held-out region: xy planes with z >= HOLDOUT_Z are never used for training; validation and
evaluation use xz slices from that block (z in [HOLDOUT_Z, HOLDOUT_Z + 128)).
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

TRAIN_VOLUMES = ("medulla-a-fibsem-10nm-iso.npy", "medulla-b-fibsem-10nm-iso.npy")
TEST_VOLUME = "hemibrain-fibsem-8nm-iso-128.npy"  # never trained on
HOLDOUT_Z = 122  # planes z >= 122 of each medulla volume are held out (a 128-deep block)

NORMALISATION = dict(kind="percentile", low_percentile=0.5, high_percentile=99.5, scope="volume",
                     formula="x_norm = (x - p_low) / (p_high - p_low); output x = x_norm * (p_high - p_low) + p_low")


def default_data_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "data"))


def percentiles(vol, low=NORMALISATION["low_percentile"], high=NORMALISATION["high_percentile"]):
    lo, hi = np.percentile(vol, [low, high])
    if hi <= lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def normalise(vol, lo, hi):
    return ((vol.astype(np.float32) - lo) / (hi - lo)).astype(np.float32)


def degrade(x, factor, axis=-2):
    """Average-pool a tensor along one axis by an integer factor (remainder dropped)."""
    x = torch.as_tensor(x)
    axis = axis % x.dim()
    n = x.shape[axis] // factor
    x = x.narrow(axis, 0, n * factor)
    shape = list(x.shape)
    shape[axis:axis + 1] = [n, factor]
    return x.reshape(shape).mean(dim=axis + 1)


def degrade_volume_z(vol, factor):
    """(z, y, x) numpy volume -> average-pooled along z."""
    return degrade(torch.from_numpy(np.ascontiguousarray(vol, dtype=np.float32)), factor, axis=0).numpy()


def load_training_volumes(data_dir, factor=8):
    """Training part of each medulla volume, normalised with the percentiles of that part
    average-pooled along z by the factor (what the engine sees on a z-coarse volume)."""
    vols = []
    for name in TRAIN_VOLUMES:
        path = os.path.join(data_dir, name)
        raw = np.load(path, mmap_mode="r")
        train = np.asarray(raw[:HOLDOUT_Z])
        lo, hi = percentiles(degrade_volume_z(train, factor))
        vols.append(dict(name=name, data=normalise(train, lo, hi), lo=lo, hi=hi))
    return vols


class LateralSampler:
    """Random xy crops -> (lowres [B,1,S/f,S], target [B,1,S,S]), seeded."""

    def __init__(self, volumes, factor=8, seed=0, zoom=0.0, noise=0.0):
        self.volumes = volumes
        self.factor = factor
        self.zoom = zoom
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def batch(self, batch_size, size, factor=None):
        """One batch at the sampler's factor, or at `factor` when given. The target keeps the
        largest multiple of the factor rows that fits the crop, so every low-resolution row is
        the mean of exactly `factor` target rows."""
        factor = factor or self.factor
        crops = np.empty((batch_size, size, size), np.float32)
        for i in range(batch_size):
            v = self.volumes[self.rng.integers(len(self.volumes))]["data"]
            src = size
            if self.zoom > 0:  # resample a crop of src pixels to size pixels
                s = float(np.exp(self.rng.uniform(-1, 1) * np.log1p(self.zoom)))
                src = min(int(round(size / s)), v.shape[1], v.shape[2])
            z = self.rng.integers(v.shape[0])
            y = self.rng.integers(v.shape[1] - src + 1)
            x = self.rng.integers(v.shape[2] - src + 1)
            c = v[z, y:y + src, x:x + src]
            if src != size:
                t = torch.from_numpy(np.ascontiguousarray(c))[None, None]
                c = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False,
                                  antialias=src > size)[0, 0].numpy()
            c = np.rot90(c, self.rng.integers(4))
            if self.rng.integers(2):
                c = c[:, ::-1]
            if self.noise > 0:  # acquisition-like noise in the full-resolution crop (input and target)
                c = c + self.rng.normal(0, self.rng.uniform(0, self.noise), c.shape)
            crops[i] = c
        rows = (size // factor) * factor
        target = torch.from_numpy(crops[:, :rows]).unsqueeze(1)
        lowres = degrade(target, factor, axis=2)
        return lowres, target


def xz_slices(vol, ys, x0, width, z0=0, depth=None):
    """Ground-truth xz slices [len(ys), depth, width] (rows = z) from a (z, y, x) volume."""
    depth = vol.shape[0] - z0 if depth is None else depth
    return np.stack([vol[z0:z0 + depth, y, x0:x0 + width] for y in ys]).astype(np.float32)


def heldout_medulla_slices(data_dir, size=128, step=16):
    """Held-out medulla xz slices [M, size, size] in raw units plus per-volume normalisation.

    Returns a list of dicts (name, gt, lo, hi); lo/hi are computed on the held-out block itself,
    as the engine would on a user's volume.
    """
    out = []
    for name in TRAIN_VOLUMES:
        raw = np.load(os.path.join(data_dir, name), mmap_mode="r")
        block = np.asarray(raw[HOLDOUT_Z:HOLDOUT_Z + size]).astype(np.float32)
        lo, hi = percentiles(block)
        slices = []
        for x0 in (0, block.shape[2] - size):
            ys = list(range(step // 2, block.shape[1], step))
            slices.append(xz_slices(block, ys, x0, size))
        out.append(dict(name=name, block=block, gt=np.concatenate(slices), lo=lo, hi=hi))
    return out


CROSS_DOMAIN_VOLUME = "isbi2012-sstem-4x4x50nm.npy"


def cross_domain_crops(data_dir, size=128, n=16):
    """xy crops of a volume never trained on (ssTEM, another modality and scale), raw units.

    A generalisation check that does not touch the Hemibrain test set: the crops are degraded
    along rows like xz slices."""
    path = os.path.join(data_dir, CROSS_DOMAIN_VOLUME)
    if not os.path.exists(path):
        return None
    vol = np.load(path).astype(np.float32)
    rng = np.random.default_rng(123)
    crops = []
    for i in range(n):
        z = i * vol.shape[0] // n
        y = rng.integers(vol.shape[1] - size + 1)
        x = rng.integers(vol.shape[2] - size + 1)
        crops.append(vol[z, y:y + size, x:x + size])
    return np.stack(crops), vol


def bilinear(lowres, out_h, out_w):
    return F.interpolate(lowres, size=(out_h, out_w), mode="bilinear", align_corners=False)


def nearest(lowres, out_h, out_w):
    return F.interpolate(lowres, size=(out_h, out_w), mode="nearest")
