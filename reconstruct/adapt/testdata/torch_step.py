"""Reference for reconstruct/adapt's Go trainer: Adam steps of the PyTorch decoder on one batch.

  /usr/bin/python3 torch_step.py DIR

DIR holds config.json (feats, depth, width, residual, padding, lr, steps), latent.npy [B,F,h,w],
lowres.npy [B,1,h,w], coords.npy [B,Q,2], target.npy [B,Q] and the decoder MLP's weights
w<i>.npy ([out, in], PyTorch Linear layout) and b<i>.npy. The script builds model.Decoder from
reconstruct/train, runs `steps` steps of torch.optim.Adam (defaults but lr) on the L1 loss of that
batch, as reconstruct/train/train.py does, and writes loss.npy (the loss before each step) and
the updated weights as out_w<i>.npy and out_b<i>.npy.

With "blocks" in config.json it trains the whole network (model.Niiv: encoder and decoder) on
lowres.npy instead of a fixed latent: the encoder's convolutions come from enc_w<i>.npy
([out, in, 3, 3]) and enc_b<i>.npy in the order head, blocks (conv1, conv2), tail, and their
updated values are written as out_enc_w<i>.npy and out_enc_b<i>.npy.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "train"))
import model as M  # noqa: E402


def main(d):
    torch.set_num_threads(1)
    cfg = json.load(open(os.path.join(d, "config.json")))
    whole = "blocks" in cfg
    convs = []
    if whole:
        net = M.Niiv(cfg["feats"], cfg["blocks"], cfg["depth"], cfg["width"], residual=cfg["residual"], padding_mode=cfg["padding"])
        dec = net.decoder
        enc = net.encoder
        convs = [enc.head] + [c for b in enc.body for c in (b.conv1, b.conv2)] + [enc.tail]
        with torch.no_grad():
            for i, c in enumerate(convs):
                c.weight.copy_(torch.from_numpy(np.load(os.path.join(d, "enc_w%d.npy" % i))))
                c.bias.copy_(torch.from_numpy(np.load(os.path.join(d, "enc_b%d.npy" % i))))
        params = net.parameters()
    else:
        dec = M.Decoder(cfg["feats"], cfg["depth"], cfg["width"], residual=cfg["residual"], padding_mode=cfg["padding"])
        params = dec.parameters()
    linears = [m for m in dec.mlp if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for i, lin in enumerate(linears):
            lin.weight.copy_(torch.from_numpy(np.load(os.path.join(d, "w%d.npy" % i))))
            lin.bias.copy_(torch.from_numpy(np.load(os.path.join(d, "b%d.npy" % i))))
    load = lambda name: torch.from_numpy(np.load(os.path.join(d, name + ".npy")))
    lowres, coords, target = load("lowres"), load("coords"), load("target")
    latent = None if whole else load("latent")
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    losses = []
    for _ in range(cfg["steps"]):
        pred = net(lowres, coords) if whole else dec(latent, lowres, coords)
        loss = F.l1_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.save(os.path.join(d, "loss.npy"), np.array(losses, dtype=np.float32))
    for i, lin in enumerate(linears):
        np.save(os.path.join(d, "out_w%d.npy" % i), lin.weight.detach().numpy().astype(np.float32))
        np.save(os.path.join(d, "out_b%d.npy" % i), lin.bias.detach().numpy().astype(np.float32))
    for i, c in enumerate(convs):
        np.save(os.path.join(d, "out_enc_w%d.npy" % i), c.weight.detach().numpy().astype(np.float32))
        np.save(os.path.join(d, "out_enc_b%d.npy" % i), c.bias.detach().numpy().astype(np.float32))


if __name__ == "__main__":
    main(sys.argv[1])
