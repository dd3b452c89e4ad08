"""ONNX export (opset 16, GridSample), test tensors and the model card.

Layout of a model folder (assets/models/<name>/, testdata/tiny-model/):

  encoder.onnx        lowres [N,1,H,W] -> latent [N,F,H,W]
  decoder.onnx        latent [N,F,H,W], lowres [N,1,H,W], coords [N,Q,2] -> values [N,Q]
  test_lowres.npy     [1,1,H,W] float32 input slice (normalised)
  test_latent.npy     [1,F,H,W] float32 encoder output for it
  test_coords.npy     [1,Q,2]   float32 query coordinates (row, col), pixel-centre convention
  test_values.npy     [1,Q]     float32 decoder output
  weights.npz         the PyTorch state dict (float32) and config, for PyTorch reference runs
  card.json           model card; "files" holds the sha256 of every other file

Usage: python3 export.py --checkpoint CKPT --out DIR   (see train.py, which calls it)
"""

import argparse
import hashlib
import json
import os

import numpy as np
import torch

import model as M

OPSET = 16


class _Enc(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, lowres):
        return self.net.encoder(lowres)


class _Dec(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, latent, lowres, coords):
        return self.net.decoder(latent, lowres, coords)


def _export_kwargs():
    # PyTorch >= 2.5 has a second (dynamo) exporter, the default in recent versions; the
    # TorchScript exporter gives the plain opset-16 graph (with GridSample) described above.
    import inspect
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def export_onnx(net, out_dir):
    net = net.cpu().eval()
    f = net.config["feats"]
    lowres = torch.rand(1, 1, 5, 7)
    latent = torch.rand(1, f, 5, 7)
    coords = torch.rand(1, 11, 2) * 2 - 1
    torch.onnx.export(
        _Enc(net), (lowres,), os.path.join(out_dir, "encoder.onnx"), opset_version=OPSET,
        input_names=["lowres"], output_names=["latent"],
        dynamic_axes={"lowres": {0: "N", 2: "H", 3: "W"}, "latent": {0: "N", 2: "H", 3: "W"}},
        do_constant_folding=True, **_export_kwargs(),
    )
    torch.onnx.export(
        _Dec(net), (latent, lowres, coords), os.path.join(out_dir, "decoder.onnx"), opset_version=OPSET,
        input_names=["latent", "lowres", "coords"], output_names=["values"],
        dynamic_axes={"latent": {0: "N", 2: "H", 3: "W"}, "lowres": {0: "N", 2: "H", 3: "W"},
                      "coords": {0: "N", 1: "Q"}, "values": {0: "N", 1: "Q"}},
        do_constant_folding=True, **_export_kwargs(),
    )


def save_weights(net, out_dir):
    arrays = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    arrays["__config__"] = np.frombuffer(json.dumps(net.config).encode(), dtype=np.uint8)
    np.savez(os.path.join(out_dir, "weights.npz"), **arrays)


def load_weights(model_dir):
    """Rebuild the PyTorch model from <model_dir>/weights.npz."""
    z = np.load(os.path.join(model_dir, "weights.npz"))
    cfg = json.loads(bytes(z["__config__"]).decode())
    net = M.Niiv(**cfg)
    net.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files if k != "__config__"})
    return net.eval()


def test_coords(h, w, factor, extra=64, seed=0):
    """Query set: pixel centres of the full-resolution grid (h*factor x w) for a few rows and
    all columns, the four corners exactly at +-1, and random points."""
    rows = M.pixel_centres(h * factor)
    cols = M.pixel_centres(w)
    pick = rows[torch.tensor([0, 1, factor // 2, h * factor // 2, h * factor - 1])]
    rr, cc = torch.meshgrid(pick, cols, indexing="ij")
    grid = torch.stack([rr.reshape(-1), cc.reshape(-1)], -1)
    corners = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    g = torch.Generator().manual_seed(seed)
    rnd = torch.rand(extra, 2, generator=g) * 2 - 1
    return torch.cat([grid, corners, rnd]).unsqueeze(0).float()


def write_test_tensors(net, lowres, factor, out_dir):
    net = net.eval()
    with torch.no_grad():
        latent = net.encoder(lowres)
        coords = test_coords(lowres.shape[2], lowres.shape[3], factor)
        values = net.decoder(latent, lowres, coords)
    for name, t in (("lowres", lowres), ("latent", latent), ("coords", coords), ("values", values)):
        np.save(os.path.join(out_dir, "test_%s.npy" % name), t.detach().numpy().astype(np.float32))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_card(out_dir, card):
    files = {}
    for name in sorted(os.listdir(out_dir)):
        if name == "card.json" or name.startswith("."):
            continue
        p = os.path.join(out_dir, name)
        if os.path.isfile(p):
            files[name] = dict(sha256=sha256(p), bytes=os.path.getsize(p))
    card = dict(card)
    card["files"] = files
    with open(os.path.join(out_dir, "card.json"), "w") as f:
        json.dump(card, f, indent=2, sort_keys=False)
        f.write("\n")
    return card


def base_card(net, preset, factor):
    cfg = net.config
    return dict(
        name="niiv-%s" % preset,
        preset=preset,
        format_version=1,
        architecture=dict(
            encoder="EDSR without upsampling (conv3x3 1->F, N residual blocks conv-ReLU-conv, "
                    "conv3x3 F->F, global skip from the first conv; zero padding in convs)",
            decoder="bilinear samples of latent (F) and lowres (1) + positional encoding (8) -> MLP",
            feats=cfg["feats"], blocks=cfg["blocks"], mlp_depth=cfg["mlp_depth"], mlp_width=cfg["mlp_width"],
            head="residual: values = v + MLP" if cfg["residual"] else "sigmoid(MLP)",
            sample_padding=cfg["padding_mode"],
            positional_encoding="p=(c+1)/2 per axis; [sin 2pi p, cos 2pi p, sin 4pi p, cos 4pi p] for row then col",
            parameters=M.count_params(net),
            macs_per_output_pixel=round(M.macs_per_output_pixel(cfg, factor)),
        ),
        factor=factor,
        degraded_axis="rows of the low-resolution slice (z of an xz or yz slice); degradation = average pooling",
        onnx=dict(
            opset=OPSET,
            encoder=dict(inputs={"lowres": "[N,1,H,W] float32"}, outputs={"latent": "[N,F,H,W] float32"}),
            decoder=dict(inputs={"latent": "[N,F,H,W] float32", "lowres": "[N,1,H,W] float32",
                                 "coords": "[N,Q,2] float32 (row, col) in [-1,1], pixel centres, align_corners=False"},
                         outputs={"values": "[N,Q] float32"}),
        ),
        test_tensors=dict(lowres="test_lowres.npy", latent="test_latent.npy", coords="test_coords.npy",
                          values="test_values.npy", tolerance=1e-4),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    ck = torch.load(args.checkpoint, map_location="cpu")
    net = M.Niiv(**ck["config"])
    net.load_state_dict(ck["model"])
    os.makedirs(args.out, exist_ok=True)
    export_onnx(net, args.out)
    save_weights(net, args.out)
    lowres = torch.rand(1, 1, 16, 32, generator=torch.Generator().manual_seed(1))
    write_test_tensors(net, lowres, ck["factor"], args.out)
    card = base_card(net, ck["preset"], ck["factor"])
    card.update(ck.get("card", {}))
    write_card(args.out, card)


if __name__ == "__main__":
    main()
