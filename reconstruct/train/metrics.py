"""Image metrics for intensities in [0, 1]: PSNR, SSIM, clipped-Fourier PSNR.

CF-PSNR (the niiv paper's): F = fftshift(fft2(img)), unnormalised, for prediction and target;
keep the coefficients within distance r of the centre (H//2, W//2), inclusive;
SSE = sum |Fp - Fg|^2; CF-PSNR = 20 log10(H W) - 10 log10(SSE). With the full mask it equals
PSNR (Parseval).
"""

import numpy as np
import torch
import torch.nn.functional as F


def radius_mask(h, w, r):
    yy, xx = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    return (yy * yy + xx * xx) <= r * r


def cf_psnr(pred, gt, r):
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    h, w = gt.shape[-2:]
    fp = np.fft.fftshift(np.fft.fft2(pred), axes=(-2, -1))
    fg = np.fft.fftshift(np.fft.fft2(gt), axes=(-2, -1))
    m = radius_mask(h, w, r)
    sse = np.sum(np.abs(fp - fg)[..., m] ** 2, axis=-1)
    return 20 * np.log10(h * w) - 10 * np.log10(np.maximum(sse, 1e-30))


def psnr(pred, gt):
    mse = np.mean((np.asarray(pred, np.float64) - np.asarray(gt, np.float64)) ** 2, axis=(-2, -1))
    return -10 * np.log10(np.maximum(mse, 1e-30))


def _gauss(size=11, sigma=1.5):
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    g = g / g.sum()
    return g


def ssim(pred, gt, data_range=1.0):
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5, K1 0.01, K2 0.03, valid region)."""
    p = torch.as_tensor(np.asarray(pred, np.float64))
    g = torch.as_tensor(np.asarray(gt, np.float64))
    squeeze = p.dim() == 2
    if squeeze:
        p, g = p[None], g[None]
    p, g = p[:, None], g[:, None]
    k = _gauss()
    kx = k.view(1, 1, 1, -1)
    ky = k.view(1, 1, -1, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, kx), ky)

    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mp, mg = blur(p), blur(g)
    spp = blur(p * p) - mp * mp
    sgg = blur(g * g) - mg * mg
    spg = blur(p * g) - mp * mg
    s = ((2 * mp * mg + c1) * (2 * spg + c2)) / ((mp * mp + mg * mg + c1) * (spp + sgg + c2))
    out = s.mean(dim=(1, 2, 3)).numpy()
    return out[0] if squeeze else out


RADII = (10, 24, 44, 90)


def table_row(pred, gt):
    """Mean over slices of PSNR, SSIM and CF-PSNR at RADII (pred, gt: [M,H,W] in [0,1])."""
    row = dict(psnr=float(np.mean(psnr(pred, gt))), ssim=float(np.mean(ssim(pred, gt))))
    for r in RADII:
        row["cf_r%d" % r] = float(np.mean(cf_psnr(pred, gt, r)))
    return row


def lowpass_mse(pred, target, r_frac):
    """Torch loss: mean squared error of the low-passed difference (radius r_frac * size)."""
    d = (pred - target).float()
    h, w = d.shape[-2:]
    fd = torch.fft.fft2(d, norm="ortho")
    fy = torch.fft.fftfreq(h, device=d.device) * h
    fx = torch.fft.fftfreq(w, device=d.device) * w
    r = r_frac * min(h, w)
    m = (fy[:, None] ** 2 + fx[None, :] ** 2) <= r * r
    return (fd.abs() ** 2 * m).sum(dim=(-2, -1)).mean() / (h * w)
