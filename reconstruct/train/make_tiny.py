"""Writes testdata/tiny-model/: a few-KB random-weight niiv model with test tensors.

Same file layout as assets/models/<name>/ (see export.py). The weights are random (seeded), so
its outputs mean nothing; it exists so the inference engine's tests can check loading,
shapes, coordinate conventions and exactness against PyTorch without a trained model.

Run from the repository root:  /usr/bin/python3 reconstruct/train/make_tiny.py
"""

import argparse
import os
import shutil

import torch

import export as E
import model as M

FACTOR = 4


def build_tiny(seed=0):
    torch.manual_seed(seed)
    net = M.build("tiny")
    # The residual head starts at zero; give it random weights so the MLP path is exercised.
    torch.nn.init.normal_(net.decoder.mlp[-1].weight, std=0.3)
    torch.nn.init.normal_(net.decoder.mlp[-1].bias, std=0.1)
    return net.eval()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "testdata", "tiny-model"))
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    net = build_tiny()
    E.export_onnx(net, out)
    E.save_weights(net, out)
    lowres = torch.rand(1, 1, 4, 6, generator=torch.Generator().manual_seed(1))
    E.write_test_tensors(net, lowres, FACTOR, out)
    card = E.base_card(net, "tiny", FACTOR)
    card.update(dict(
        name="niiv-tiny-random",
        note="random weights (seed 0), for engine tests only; not a trained model",
        normalisation=None,
        generated_by="reconstruct/train/make_tiny.py",
    ))
    E.write_card(out, card)
    print("wrote", out, sorted(os.listdir(out)))


if __name__ == "__main__":
    main()
