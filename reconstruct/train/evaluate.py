"""Evaluate a model folder with the niiv paper's protocol.

  /usr/bin/python3 reconstruct/train/evaluate.py --model assets/models/lite \
      --png reconstruct/train/lite-hemibrain-xz.png --update-card

Hemibrain (hemibrain-fibsem-8nm-iso-128.npy, never trained on) is average-pooled along z by
the model's factor; every xz slice (128 of them, 128x128) is reconstructed by nearest,
bilinear (pixel centres, edge clamped) and niiv and compared with the original. The same is
done on xz slices of the held-out medulla blocks (planes z >= data.HOLDOUT_Z, 128x128 crops).
Intensities: the model sees the volume normalised with the percentiles of the degraded volume
(as the card says) and its output is mapped back; every method is scored on raw/255 clipped
to [0, 1]. Reported: mean over slices of CF-PSNR at r = 10, 24, 44, 90, PSNR and SSIM.
"""

import argparse
import json
import os

import numpy as np
import torch

import blascheck
import data as D
import export as E
import metrics as Mt


def whole_groups(gt, factor):
    """Slices [M,H,W] cut to the largest multiple of the factor rows (what pooling keeps)."""
    return gt[:, :gt.shape[1] // factor * factor]


def reconstruct_slices(net, gt_raw, factor, lo, hi, batch=16):
    """gt_raw [M,H,W] raw intensities, H a multiple of the factor -> dict of method -> [M,H,W]
    in raw/255, clipped."""
    if gt_raw.shape[1] % factor:
        raise ValueError("reconstruct_slices: %d rows is not a multiple of factor %d" % (gt_raw.shape[1], factor))
    gt = torch.from_numpy(gt_raw.astype(np.float32))[:, None]
    low_raw = D.degrade(gt, factor, axis=2)
    h, w = gt.shape[-2:]
    out = dict(
        nearest=D.nearest(low_raw, h, w)[:, 0].numpy(),
        bilinear=D.bilinear(low_raw, h, w)[:, 0].numpy(),
    )
    if net is not None:
        low = (low_raw - lo) / (hi - lo)
        res = []
        with torch.no_grad():
            for s in range(0, len(low), batch):
                res.append(net.decode_grid(low[s:s + batch], h, w).numpy())
        out["niiv"] = np.concatenate(res) * (hi - lo) + lo
    return {k: np.clip(v / 255.0, 0, 1) for k, v in out.items()}


def hemibrain_slices(data_dir, factor):
    vol = np.load(os.path.join(data_dir, D.TEST_VOLUME)).astype(np.float32)
    lo, hi = D.percentiles(D.degrade_volume_z(vol, factor))
    gt = np.stack([vol[:, y, :] for y in range(vol.shape[1])])  # xz slices, rows = z
    return gt, lo, hi


def evaluate(net, data_dir, factor):
    results = {}
    gt, lo, hi = hemibrain_slices(data_dir, factor)
    gt = whole_groups(gt, factor)
    rec = reconstruct_slices(net, gt, factor, lo, hi)
    results["hemibrain"] = dict(slices=len(gt), **{m: Mt.table_row(v, gt / 255.0) for m, v in rec.items()})
    picture = (gt[len(gt) // 2] / 255.0, {m: v[len(gt) // 2] for m, v in rec.items()})
    rows = {}
    n = 0
    for vol in D.heldout_medulla_slices(data_dir):
        lo, hi = D.percentiles(D.degrade_volume_z(vol["block"], factor))
        gt = whole_groups(vol["gt"], factor)
        rec = reconstruct_slices(net, gt, factor, lo, hi)
        for m, v in rec.items():
            rows.setdefault(m, []).append((len(v), Mt.table_row(v, gt / 255.0)))
        n += len(gt)
    med = {}
    for m, parts in rows.items():
        tot = sum(k for k, _ in parts)
        med[m] = {key: sum(k * r[key] for k, r in parts) / tot for key in parts[0][1]}
    results["medulla_heldout"] = dict(slices=n, **med)
    return results, picture


def write_png(path, panels, scale=2):
    """Grey PNG of panels side by side (each [H,W] in [0,1]), nearest-upscaled."""
    from PIL import Image
    gap = np.ones((panels[0].shape[0], 4))
    img = np.concatenate(sum([[p, gap] for p in panels], [])[:-1], axis=1)
    img = np.kron(img, np.ones((scale, scale)))
    Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8), mode="L").save(path)


def format_table(results):
    lines = []
    for ds in ("hemibrain", "medulla_heldout"):
        r = results[ds]
        lines.append("%s (%d xz slices)" % (ds, r["slices"]))
        lines.append("| method | r=10 | r=24 | r=44 | r=90 | PSNR | SSIM |")
        lines.append("|---|---|---|---|---|---|---|")
        for m in ("nearest", "bilinear", "niiv"):
            if m in r:
                x = r[m]
                lines.append("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.4f |" % (
                    m, x["cf_r10"], x["cf_r24"], x["cf_r44"], x["cf_r90"], x["psnr"], x["ssim"]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder with weights.npz and card.json (omit: baselines only)")
    ap.add_argument("--factor", type=int, default=None)
    ap.add_argument("--data", default=D.default_data_dir())
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--png", default=None, help="write ground truth | bilinear | niiv for one hemibrain xz slice")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--update-card", action="store_true", help="store the results in the model's card.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    blascheck.warn_if_slow("evaluate")
    net, card, factor = None, None, args.factor or 8
    if args.model:
        net = E.load_weights(args.model)
        card = json.load(open(os.path.join(args.model, "card.json")))
        factor = args.factor or card["factor"]
    results, (gt, rec) = evaluate(net, args.data, factor)
    results["factor"] = factor
    results["protocol"] = ("xz slices, volume average-pooled along z by the factor; metrics on raw/255 "
                           "clipped to [0,1]; CF-PSNR as in metrics.py; mean over slices")
    print(format_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.png:
        panels = [gt, rec["bilinear"]] + ([rec["niiv"]] if "niiv" in rec else [])
        write_png(args.png, panels)
    if args.update_card and card is not None:
        card["evaluation"] = results
        card.pop("files", None)
        E.write_card(args.model, card)


if __name__ == "__main__":
    main()
