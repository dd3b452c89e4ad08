"""Smoke training, ONNX export and the shipped models' test tensors."""

import glob
import json
import os

import numpy as np
import pytest
import torch

import data as D
import export as E
import make_tiny
import model as M
import onnx_numpy

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
MODEL_DIRS = sorted(d for d in glob.glob(os.path.join(REPO, "assets", "models", "*")) if os.path.isdir(d)) + [os.path.join(REPO, "testdata", "tiny-model")]


def synthetic_volume(seed=0, n=48):
    """Blobby, smooth structure (random low-frequency field, thresholded softly)."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(n)
    kz, ky, kx = np.meshgrid(f, f, f, indexing="ij")
    spec = (rng.normal(size=(n, n, n)) + 1j * rng.normal(size=(n, n, n))) * np.exp(-(kz**2 + ky**2 + kx**2) / 0.004)
    v = np.real(np.fft.ifftn(spec))
    v = 1 / (1 + np.exp(-v / v.std() * 3))
    return v.astype(np.float32)


def test_smoke_training_lowers_loss():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    net = M.build("lite")
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    s = D.LateralSampler([dict(data=synthetic_volume())], factor=8, seed=0)
    low_v, tgt_v = s.batch(8, 32)  # fixed batch to measure
    coords = M.grid_coords(32, 32).unsqueeze(0)

    def loss_on(low, tgt):
        return torch.nn.functional.l1_loss(net(low, coords.expand(len(low), -1, -1)).reshape(tgt.shape), tgt)

    with torch.no_grad():
        before = loss_on(low_v, tgt_v).item()
    for _ in range(20):
        low, tgt = s.batch(8, 32)
        loss = loss_on(low, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = loss_on(low_v, tgt_v).item()
    assert after < 0.97 * before, (before, after)


def test_export_reproduces_pytorch(tmp_path):
    net = make_tiny.build_tiny(seed=3)
    E.export_onnx(net, str(tmp_path))
    low = torch.rand(2, 1, 3, 5)
    coords = torch.rand(2, 17, 2) * 2.2 - 1.1  # also a little outside [-1, 1]
    with torch.no_grad():
        lat = net.encoder(low)
        val = net.decoder(lat, low, coords)
    z = onnx_numpy.run(str(tmp_path / "encoder.onnx"), {"lowres": low.numpy()})["latent"]
    v = onnx_numpy.run(str(tmp_path / "decoder.onnx"),
                       {"latent": lat.numpy(), "lowres": low.numpy(), "coords": coords.numpy()})["values"]
    assert np.abs(z - lat.numpy()).max() < 1e-5
    assert np.abs(v - val.numpy()).max() < 1e-5


def _ort():
    try:
        import onnxruntime  # noqa: F401
        return onnxruntime
    except ImportError:
        return None


@pytest.mark.parametrize("model_dir", MODEL_DIRS, ids=[os.path.basename(d) for d in MODEL_DIRS])
def test_shipped_model(model_dir):
    import onnx
    card = json.load(open(os.path.join(model_dir, "card.json")))
    for name, info in card["files"].items():
        assert E.sha256(os.path.join(model_dir, name)) == info["sha256"], name
    enc = onnx.load(os.path.join(model_dir, "encoder.onnx"))
    dec = onnx.load(os.path.join(model_dir, "decoder.onnx"))
    onnx.checker.check_model(enc)
    onnx.checker.check_model(dec)
    assert [i.name for i in enc.graph.input] == ["lowres"] and [o.name for o in enc.graph.output] == ["latent"]
    assert [i.name for i in dec.graph.input] == ["latent", "lowres", "coords"]
    assert [o.name for o in dec.graph.output] == ["values"]
    assert any(o.domain in ("", "ai.onnx") and o.version == 16 for o in dec.opset_import)
    t = {k: np.load(os.path.join(model_dir, "test_%s.npy" % k)) for k in ("lowres", "latent", "coords", "values")}
    assert t["lowres"].dtype == np.float32 and t["coords"].shape[-1] == 2
    assert t["latent"].shape[2:] == t["lowres"].shape[2:]
    ort = _ort()
    if ort is not None:
        z = ort.InferenceSession(os.path.join(model_dir, "encoder.onnx")).run(None, {"lowres": t["lowres"]})[0]
        v = ort.InferenceSession(os.path.join(model_dir, "decoder.onnx")).run(
            None, {"latent": t["latent"], "lowres": t["lowres"], "coords": t["coords"]})[0]
    else:  # independent NumPy interpreter of the graph
        z = onnx_numpy.run(os.path.join(model_dir, "encoder.onnx"), {"lowres": t["lowres"]})["latent"]
        v = onnx_numpy.run(os.path.join(model_dir, "decoder.onnx"),
                           {"latent": t["latent"], "lowres": t["lowres"], "coords": t["coords"]})["values"]
    assert np.abs(z - t["latent"]).max() <= 1e-4
    assert np.abs(v - t["values"]).max() <= 1e-4
    if os.path.exists(os.path.join(model_dir, "weights.npz")):
        net = E.load_weights(model_dir)
        with torch.no_grad():
            lat = net.encoder(torch.from_numpy(t["lowres"]))
            val = net.decoder(lat, torch.from_numpy(t["lowres"]), torch.from_numpy(t["coords"]))
        assert np.abs(lat.numpy() - t["latent"]).max() <= 1e-4
        assert np.abs(val.numpy() - t["values"]).max() <= 1e-4


def test_tiny_model_is_reproducible(tmp_path):
    """testdata/tiny-model is what make_tiny.py writes (same ONNX outputs on its test tensors)."""
    d = os.path.join(REPO, "testdata", "tiny-model")
    net = make_tiny.build_tiny()
    t = {k: np.load(os.path.join(d, "test_%s.npy" % k)) for k in ("lowres", "latent", "coords", "values")}
    with torch.no_grad():
        lat = net.encoder(torch.from_numpy(t["lowres"]))
        val = net.decoder(lat, torch.from_numpy(t["lowres"]), torch.from_numpy(t["coords"]))
    assert np.abs(val.numpy() - t["values"]).max() <= 1e-6
