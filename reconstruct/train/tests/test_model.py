"""Shapes, coordinate conventions, degradation, positional encoding."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import data as D
import metrics as Mt
import model as M


def test_shapes():
    net = M.build("lite")
    low = torch.rand(2, 1, 16, 40)
    lat = net.encoder(low)
    assert lat.shape == (2, 32, 16, 40)
    coords = torch.rand(2, 77, 2) * 2 - 1
    assert net.decoder(lat, low, coords).shape == (2, 77)
    assert net.decode_grid(low, 128, 40).shape == (2, 128, 40)


def test_paper_preset_size():
    n = M.count_params(M.build("paper"))
    assert 1.3e6 < n < 1.7e6, n


def test_lite_macs():
    assert abs(M.macs_per_output_pixel(M.PRESETS["lite"], 8) - 21e3) < 1.5e3


def test_pixel_centres():
    c = M.pixel_centres(4)
    assert torch.allclose(c, torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    g = M.grid_coords(2, 3)
    assert g.shape == (6, 2)
    assert torch.allclose(g[1], torch.tensor([-0.5, 0.0]))  # row 0, col 1: (row, col) order


def test_sample_hits_pixel_centres_row_col_order():
    img = torch.arange(12, dtype=torch.float32).reshape(1, 1, 3, 4)
    coords = M.grid_coords(3, 4).unsqueeze(0)
    s = M.sample(img, coords)
    assert torch.allclose(s[0, :, 0], img.reshape(-1), atol=1e-5)


def test_border_padding_keeps_edge_value():
    img = torch.full((1, 1, 2, 2), 0.8)
    coords = torch.tensor([[[-1.0, -1.0], [1.0, 1.0], [-1.0, 0.3]]])
    assert torch.allclose(M.sample(img, coords, "border"), torch.full((1, 3, 1), 0.8))
    assert M.sample(img, coords, "zeros")[0, 0, 0] < 0.8  # zero padding darkens the outer half pixel


def test_untrained_residual_model_is_bilinear():
    torch.manual_seed(0)
    net = M.build("lite")
    low = torch.rand(1, 1, 4, 8)
    out = net.decode_grid(low, 32, 8)
    ref = F.interpolate(low, size=(32, 8), mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(out, ref, atol=1e-6)


def test_decoder_coordinates_consistent_with_resolution():
    # Decoding at the low-res size (factor 1) samples exactly the low-res pixels.
    torch.manual_seed(0)
    net = M.build("tiny")
    low = torch.rand(1, 1, 5, 6)
    lat = net.encoder(low)
    coords = M.grid_coords(5, 6).unsqueeze(0)
    z = M.sample(lat, coords)
    assert torch.allclose(z[0].T.reshape(lat.shape[1:]), lat[0], atol=1e-6)


def test_positional_encoding():
    c = torch.tensor([[-1.0, 0.0], [0.5, 1.0]])
    pe = M.positional_encoding(c)
    assert pe.shape == (2, 8)
    p = (c + 1) / 2
    for i in range(2):
        want = []
        for ax in range(2):
            x = p[i, ax].item()
            want += [math.sin(2 * math.pi * x), math.cos(2 * math.pi * x),
                     math.sin(4 * math.pi * x), math.cos(4 * math.pi * x)]
        assert np.allclose(pe[i].numpy(), want, atol=1e-6)


def test_degradation_is_average_pooling():
    x = torch.rand(3, 1, 24, 10)
    ref = F.avg_pool2d(x, kernel_size=(8, 1))
    assert torch.allclose(D.degrade(x, 8, axis=2), ref, atol=1e-6)
    vol = np.random.default_rng(0).random((16, 5, 7)).astype(np.float32)
    dv = D.degrade_volume_z(vol, 4)
    assert dv.shape == (4, 5, 7)
    assert np.allclose(dv[1], vol[4:8].mean(0), atol=1e-6)


def test_sampler_pools_rows():
    vol = np.random.default_rng(1).random((3, 40, 40)).astype(np.float32)
    s = D.LateralSampler([dict(data=vol)], factor=4, seed=0)
    low, tgt = s.batch(5, 16)
    assert low.shape == (5, 1, 4, 16) and tgt.shape == (5, 1, 16, 16)
    assert torch.allclose(low, F.avg_pool2d(tgt, (4, 1)), atol=1e-6)


@pytest.mark.parametrize("factor,rows", [(4, 16), (5, 15), (6, 12), (12, 12)])
def test_sampler_other_factor_keeps_whole_groups(factor, rows):
    # Multi-factor training: the target keeps the largest multiple of the factor rows, and
    # every low-resolution row is the mean of exactly `factor` target rows.
    vol = np.random.default_rng(2).random((3, 40, 40)).astype(np.float32)
    s = D.LateralSampler([dict(data=vol)], factor=8, seed=0)
    low, tgt = s.batch(3, 16, factor)
    assert tgt.shape == (3, 1, rows, 16) and low.shape == (3, 1, rows // factor, 16)
    assert torch.allclose(low, F.avg_pool2d(tgt, (factor, 1)), atol=1e-6)


def test_parse_factors():
    import train
    assert train.parse_factors("4-6,8,12") == [4, 5, 6, 8, 12]
    assert train.parse_factors("") is None
    with pytest.raises(SystemExit):
        train.parse_factors("1-3")


def test_cf_psnr_full_mask_equals_psnr():
    rng = np.random.default_rng(0)
    a, b = rng.random((32, 32)), rng.random((32, 32))
    assert abs(Mt.cf_psnr(a, b, 1000) - Mt.psnr(a, b)) < 1e-9
    assert Mt.cf_psnr(a, b, 5) > Mt.psnr(a, b)


def test_ssim_identity():
    a = np.random.default_rng(0).random((32, 32))
    assert abs(Mt.ssim(a, a) - 1) < 1e-9


@pytest.mark.parametrize("factor", [4, 5, 6, 8, 12])
def test_evaluation_keeps_whole_pooling_groups(factor):
    # At a factor that does not divide the slice height, the ground truth is cut to the rows
    # the pooled slice covers; a smooth ramp along rows is then reconstructed by bilinear
    # interpolation almost exactly away from the clamped border rows.
    import evaluate
    ramp = np.tile(np.linspace(50, 200, 128, dtype=np.float32)[:, None], (1, 16))[None]
    gt = evaluate.whole_groups(ramp, factor)
    assert gt.shape[1] == 128 // factor * factor
    rec = evaluate.reconstruct_slices(None, gt, factor, 0.0, 255.0)
    inner = slice(factor, gt.shape[1] - factor)
    assert np.abs(rec["bilinear"][0, inner] - gt[0, inner] / 255.0).max() < 1e-4
    if 128 % factor:
        with pytest.raises(ValueError):
            evaluate.reconstruct_slices(None, ramp, factor, 0.0, 255.0)
