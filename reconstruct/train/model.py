"""The niiv model: an EDSR encoder (no upsampling) and an MLP decoder.

Conventions shared with the ONNX graphs and the Go engine:

* A low-resolution slice is ``lowres`` [N,1,H,W] of normalised intensities. Its ROW axis is
  the degraded (z) axis: an xz slice of a volume that is coarse in z.
* ``latent`` [N,F,H,W] has the low-resolution slice's size.
* ``coords`` [N,Q,2] are (row, col) in [-1, 1] over the slice's extent, pixel-centre
  convention (``align_corners=False``): the centre of output pixel i of n along an axis is
  (2i+1)/n - 1, whatever n is.
* ``values`` [N,Q] are normalised intensities.

The decoder samples the latent grid and the low-resolution slice bilinearly at each coordinate
(border padding: coordinates beyond the outermost pixel centre take the edge value instead of
fading to zero), appends the positional encoding of p = (c+1)/2 per axis
[sin 2πp, cos 2πp, sin 4πp, cos 4πp] (row axis first, then column axis), and maps the F+9
values through an MLP. With the residual head the output is v + MLP(...), v being the
bilinearly sampled low-resolution value.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # The paper's configuration: about 1.5 M parameters.
    "paper": dict(feats=64, blocks=16, mlp_depth=5, mlp_width=256),
    # Small enough for interactive CPU decoding (about 21 k MAC per output pixel at factor 8).
    "lite": dict(feats=32, blocks=4, mlp_depth=3, mlp_width=64),
    # A few-KB random-weight model for engine tests (testdata/tiny-model).
    "tiny": dict(feats=4, blocks=1, mlp_depth=2, mlp_width=8),
}


class ResBlock(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.conv1 = nn.Conv2d(f, f, 3, padding=1)
        self.conv2 = nn.Conv2d(f, f, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


class Encoder(nn.Module):
    """EDSR without upsampling: head conv, N residual blocks, body conv, global skip."""

    def __init__(self, feats, blocks):
        super().__init__()
        self.head = nn.Conv2d(1, feats, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(feats) for _ in range(blocks)])
        self.tail = nn.Conv2d(feats, feats, 3, padding=1)

    def forward(self, lowres):
        h = self.head(lowres)
        return h + self.tail(self.body(h))


def positional_encoding(coords):
    """coords [..., 2] in [-1, 1] -> [..., 8]: per axis (row, then col) sin/cos of 2πp, 4πp."""
    p = (coords + 1.0) * 0.5
    pr = p[..., 0:1]
    pc = p[..., 1:2]
    two_pi = 2.0 * math.pi
    four_pi = 4.0 * math.pi
    return torch.cat(
        [
            torch.sin(two_pi * pr), torch.cos(two_pi * pr), torch.sin(four_pi * pr), torch.cos(four_pi * pr),
            torch.sin(two_pi * pc), torch.cos(two_pi * pc), torch.sin(four_pi * pc), torch.cos(four_pi * pc),
        ],
        dim=-1,
    )


def sample(grid_nchw, coords, padding_mode="border"):
    """Bilinear sample [N,C,H,W] at coords [N,Q,2] (row, col) -> [N,Q,C]."""
    g = torch.flip(coords, dims=[-1]).unsqueeze(1)  # grid_sample wants (x=col, y=row)
    s = F.grid_sample(grid_nchw, g, mode="bilinear", padding_mode=padding_mode, align_corners=False)
    return s.squeeze(2).permute(0, 2, 1)


class Decoder(nn.Module):
    def __init__(self, feats, mlp_depth, mlp_width, residual=True, padding_mode="border"):
        super().__init__()
        layers = []
        d = feats + 9
        for _ in range(mlp_depth):
            layers += [nn.Linear(d, mlp_width), nn.ReLU()]
            d = mlp_width
        layers.append(nn.Linear(d, 1))
        self.mlp = nn.Sequential(*layers)
        self.residual = residual
        self.padding_mode = padding_mode
        if residual:
            # Start as plain bilinear interpolation: the MLP learns the correction.
            nn.init.zeros_(self.mlp[-1].weight)
            nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, latent, lowres, coords):
        z = sample(latent, coords, self.padding_mode)
        v = sample(lowres, coords, self.padding_mode)
        h = torch.cat([z, v, positional_encoding(coords)], dim=-1)
        out = self.mlp(h)
        if self.residual:
            out = v + out
        else:
            out = torch.sigmoid(out)
        return out.squeeze(-1)


class Niiv(nn.Module):
    def __init__(self, feats, blocks, mlp_depth, mlp_width, residual=True, padding_mode="border"):
        super().__init__()
        self.config = dict(feats=feats, blocks=blocks, mlp_depth=mlp_depth, mlp_width=mlp_width,
                           residual=residual, padding_mode=padding_mode)
        self.encoder = Encoder(feats, blocks)
        self.decoder = Decoder(feats, mlp_depth, mlp_width, residual, padding_mode)

    def forward(self, lowres, coords):
        return self.decoder(self.encoder(lowres), lowres, coords)

    def decode_grid(self, lowres, out_h, out_w, latent=None, chunk=1 << 16):
        """Decode the whole slice at out_h x out_w -> [N,out_h,out_w]."""
        if latent is None:
            latent = self.encoder(lowres)
        n = lowres.shape[0]
        coords = grid_coords(out_h, out_w, lowres.device).unsqueeze(0).expand(n, -1, -1)
        outs = []
        for s in range(0, coords.shape[1], chunk):
            outs.append(self.decoder(latent, lowres, coords[:, s:s + chunk]))
        return torch.cat(outs, dim=1).reshape(n, out_h, out_w)


def build(preset="lite", **overrides):
    cfg = dict(PRESETS[preset])
    cfg.update(overrides)
    return Niiv(**cfg)


def pixel_centres(n, device=None):
    """Pixel-centre coordinates of n pixels over [-1, 1] (align_corners=False)."""
    return (2.0 * torch.arange(n, dtype=torch.float32, device=device) + 1.0) / n - 1.0


def grid_coords(h, w, device=None):
    """[h*w, 2] (row, col) pixel-centre coordinates of an h x w image, row-major."""
    r = pixel_centres(h, device)
    c = pixel_centres(w, device)
    rr, cc = torch.meshgrid(r, c, indexing="ij")
    return torch.stack([rr.reshape(-1), cc.reshape(-1)], dim=-1)


def count_params(m):
    return sum(p.numel() for p in m.parameters())


def macs_per_output_pixel(cfg, factor):
    """Multiply-accumulates per output pixel (encoder amortised over factor output rows)."""
    f, b, d, w = cfg["feats"], cfg["blocks"], cfg["mlp_depth"], cfg["mlp_width"]
    enc = 9 * f + (2 * b + 1) * 9 * f * f
    dec = (f + 9) * w + (d - 1) * w * w + w
    return enc / factor + dec
