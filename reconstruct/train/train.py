"""Self-supervised niiv training: resumable, seeded, logs loss and validation CF-PSNR.

  /usr/bin/python3 reconstruct/train/train.py --preset lite --run runs/lite --minutes 80 \
      --export assets/models/lite

Checkpoints and the log (log.jsonl) go to --run (default reconstruct/train/runs/<preset>,
git-ignored). Re-running the same command resumes from <run>/last.pt. The schedule (crop size,
batch, cosine learning rate) is defined over --steps; --minutes stops early (the checkpoint
remains, so the run can be continued later with the same command).

Validation: xz slices of the held-out medulla blocks (planes z >= data.HOLDOUT_Z, never used for
training), degraded x factor along z, CF-PSNR at r = 24 in raw intensity units / 255.
"""

import argparse
import json
import math
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

import blascheck
import data as D
import metrics as Mt
import model as M

HERE = os.path.dirname(os.path.abspath(__file__))


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="lite", choices=sorted(M.PRESETS))
    ap.add_argument("--factor", type=int, default=8, help="the factor validated and recorded as the model's own")
    ap.add_argument("--factors", default=None,
                    help="train one model for a range of factors, e.g. 4-12 or 4,5,6,8,12: a random factor per batch")
    ap.add_argument("--init", default=None, help="start from the weights of this model folder (weights.npz)")
    ap.add_argument("--data", default=D.default_data_dir())
    ap.add_argument("--run", default=None, help="checkpoint/log folder (default reconstruct/train/runs/<preset>)")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--minutes", type=float, default=1e9, help="stop after this much wall time in this process")
    ap.add_argument("--budget-minutes", type=float, default=None,
                    help="define the schedule (phases, cosine) over this much training wall time instead of "
                         "--steps, and stop when it is spent (for a shared, unpredictable CPU)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-min", type=float, default=2e-5)
    ap.add_argument("--warm-crop", type=int, default=64, help="crop size in the first phase")
    ap.add_argument("--warm-batch", type=int, default=32)
    ap.add_argument("--warm-frac", type=float, default=0.5, help="fraction of steps in the first phase")
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--loss", default="l1", choices=["l1", "l2", "l1+lowpass"])
    ap.add_argument("--lowpass-weight", type=float, default=10.0)
    ap.add_argument("--lowpass-frac", type=float, default=44 / 128)
    ap.add_argument("--no-residual", action="store_true")
    ap.add_argument("--padding", default="border", choices=["border", "zeros"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--noise", type=float, default=0.0,
                    help="noise augmentation: Gaussian noise, sigma uniform in [0, noise] (normalised units)")
    ap.add_argument("--zoom", type=float, default=0.0,
                    help="scale augmentation: crops resampled by a random zoom in [1/(1+z), 1+z] (0: off)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--val-slices", type=int, default=32)
    ap.add_argument("--ckpt-every-s", type=float, default=120)
    ap.add_argument("--export", default=None, help="export ONNX + card + test tensors here at the end")
    ap.add_argument("--export-only", action="store_true", help="skip training; export the run's best checkpoint")
    ap.add_argument("--override", default="{}", help="JSON dict of model config overrides")
    return ap.parse_args(argv)


def parse_factors(spec):
    """'4-12' or '4,5,6,8' -> sorted list of integer factors >= 2 (None -> None)."""
    if not spec:
        return None
    out = set()
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (int(x) for x in part.split("-", 1))
            out.update(range(a, b + 1))
        else:
            out.add(int(part))
    if not out or min(out) < 2:
        raise SystemExit("train: --factors %r: factors must be integers >= 2" % spec)
    return sorted(out)


def load_ckpt(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # older torch without weights_only
        return torch.load(path, map_location="cpu")


def loss_fn(kind, pred, target, lp_weight, lp_frac):
    if kind == "l1":
        return F.l1_loss(pred, target)
    if kind == "l2":
        return F.mse_loss(pred, target)
    return F.l1_loss(pred, target) + lp_weight * Mt.lowpass_mse(pred, target, lp_frac)


class Validator:
    """Held-out medulla xz slices, degraded along z; CF-PSNR r=24 in raw units / 255."""

    def __init__(self, data_dir, factor, n_slices):
        self.items = []
        for vol in D.heldout_medulla_slices(data_dir):
            gt = vol["gt"]
            idx = np.linspace(0, len(gt) - 1, max(1, n_slices // 2)).round().astype(int)
            gt = torch.from_numpy(gt[idx])[:, None]
            low_raw = D.degrade(gt, factor, axis=2)
            lo, hi = D.percentiles(D.degrade_volume_z(vol["block"], factor))
            self.items.append(dict(gt=gt[:, 0].numpy() / 255.0, low=(low_raw - lo) / (hi - lo), lo=lo, hi=hi,
                                   bil=D.bilinear(low_raw, gt.shape[2], gt.shape[3])[:, 0].numpy() / 255.0))
        self.bilinear_cf24 = float(np.mean([Mt.cf_psnr(it["bil"], it["gt"], 24).mean() for it in self.items]))
        self.cross = None
        cd = D.cross_domain_crops(data_dir)
        if cd is not None:
            crops, vol = cd
            gt = torch.from_numpy(crops)[:, None]
            low_raw = D.degrade(gt, factor, axis=2)
            lo, hi = D.percentiles(vol)
            self.cross = dict(gt=crops / 255.0, low=(low_raw - lo) / (hi - lo), lo=lo, hi=hi,
                              bil=D.bilinear(low_raw, gt.shape[2], gt.shape[3])[:, 0].numpy() / 255.0)
            self.cross_bilinear_cf24 = float(Mt.cf_psnr(self.cross["bil"], self.cross["gt"], 24).mean())

    @torch.no_grad()
    def __call__(self, net):
        net.eval()
        cf, ps = [], []
        for it in self.items + ([self.cross] if self.cross else []):
            h, w = it["gt"].shape[-2:]
            dev = next(net.parameters()).device
            out = net.decode_grid(it["low"].to(dev), h, w).cpu().numpy()
            out = np.clip((out * (it["hi"] - it["lo"]) + it["lo"]) / 255.0, 0, 1)
            cf.append(Mt.cf_psnr(out, it["gt"], 24).mean())
            ps.append(Mt.psnr(out, it["gt"]).mean())
        net.train()
        cross = float(cf.pop()) if self.cross else None
        if self.cross:
            ps.pop()
        return float(np.mean(cf)), float(np.mean(ps)), cross


def progress(args, step, wall):
    if args.budget_minutes:
        return min(1.0, wall / (60 * args.budget_minutes))
    return min(1.0, step / max(1, args.steps))


def phase(args, t):
    if t < args.warm_frac:
        return args.warm_crop, args.warm_batch
    return args.crop, args.batch


def lr_at(args, t):
    return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + math.cos(math.pi * t))


def train(args):
    torch.set_num_threads(args.threads)
    if torch.device(args.device).type == "cpu":
        blascheck.warn_if_slow("train")  # a reference BLAS makes the budget's steps 15-50x fewer
    run = args.run or os.path.join(HERE, "runs", args.preset)
    os.makedirs(run, exist_ok=True)
    ckpt_path = os.path.join(run, "last.pt")
    torch.manual_seed(args.seed)
    overrides = json.loads(args.override)
    overrides.setdefault("residual", not args.no_residual)
    overrides.setdefault("padding_mode", args.padding)
    net = M.build(args.preset, **overrides)
    factors = parse_factors(args.factors)
    if args.init and not os.path.exists(ckpt_path):
        import export as E
        init = E.load_weights(args.init)
        if init.config != net.config:
            raise SystemExit("train: --init %s: its configuration %s differs from %s" % (args.init, init.config, net.config))
        net.load_state_dict(init.state_dict())
        print("initialised from %s" % args.init, flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    vols = D.load_training_volumes(args.data, args.factor)
    sampler = D.LateralSampler(vols, args.factor, seed=args.seed, zoom=args.zoom, noise=args.noise)
    step, wall, best, ck_opt = 0, 0.0, None, None
    if os.path.exists(ckpt_path):
        ck = load_ckpt(ckpt_path)
        net.load_state_dict(ck["model"])
        ck_opt = ck["opt"]
        sampler.rng.bit_generator.state = ck["sampler_rng"]
        torch.set_rng_state(ck["torch_rng"])
        step, wall, best = ck["step"], ck["wall_s"], ck.get("best")
        print("resumed from step %d (%.0f s)" % (step, wall), flush=True)
    validator = Validator(args.data, args.factor, args.val_slices)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    net.to(dev)
    if ck_opt is not None:
        opt.load_state_dict(ck_opt)
    log = open(os.path.join(run, "log.jsonl"), "a")

    def save(path, extra=None):
        ck = dict(model={k: v.detach().cpu() for k, v in net.state_dict().items()}, opt=opt.state_dict(), sampler_rng=sampler.rng.bit_generator.state,
                  torch_rng=torch.get_rng_state(), step=step, wall_s=wall, best=best, config=net.config,
                  preset=args.preset, factor=args.factor, args=vars(args),
                  norm=[dict(name=v["name"], p_low=v["lo"], p_high=v["hi"]) for v in vols])
        if extra:
            ck.update(extra)
        torch.save(ck, path + ".tmp")
        os.replace(path + ".tmp", path)

    t_start = time.time()
    t_last_save = t_start
    t_seg = time.time()
    losses = []
    def done():
        if args.budget_minutes:
            return wall >= 60 * args.budget_minutes
        return step >= args.steps

    while not done() and (time.time() - t_start) < args.minutes * 60:
        t = progress(args, step, wall)
        size, bs = phase(args, t)
        for g in opt.param_groups:
            g["lr"] = lr_at(args, t)
        f = factors[sampler.rng.integers(len(factors))] if factors else args.factor
        lowres, target = sampler.batch(bs, size, f)
        lowres, target = lowres.to(dev), target.to(dev)
        rows = target.shape[2]
        coords = M.grid_coords(rows, size, dev).unsqueeze(0).expand(bs, -1, -1)
        pred = net(lowres, coords).reshape(bs, 1, rows, size)
        loss = loss_fn(args.loss, pred, target, args.lowpass_weight, args.lowpass_frac)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        now = time.time()
        wall += now - t_seg
        t_seg = now
        if step % args.val_every == 0 or done():
            cf24, ps, cross24 = validator(net)
            if best is None or cf24 > best["cf24"]:
                best = dict(step=step, cf24=cf24)
                save(os.path.join(run, "best.pt"))
            rec = dict(step=step, wall_s=round(wall, 1), loss=float(np.mean(losses)), lr=lr_at(args, progress(args, step, wall)),
                       crop=size, batch=bs, val_cf24=round(cf24, 3), val_psnr=round(ps, 3),
                       val_bilinear_cf24=round(validator.bilinear_cf24, 3))
            if cross24 is not None:
                rec.update(xdomain_cf24=round(cross24, 3), xdomain_bilinear_cf24=round(validator.cross_bilinear_cf24, 3))
            losses = []
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            t_seg = time.time()
        if time.time() - t_last_save > args.ckpt_every_s:
            save(ckpt_path)
            t_last_save = time.time()
    save(ckpt_path)
    print("stopped at step %d, wall %.0f s" % (step, wall), flush=True)
    return run


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def card_training(args, ck):
    return dict(
        normalisation=dict(D.NORMALISATION,
                           note="percentiles of the input (z-coarse) volume; the training volumes were "
                                "normalised with percentiles of themselves average-pooled along z by the factor",
                           training_volumes=ck["norm"]),
        training=dict(
            data=["../shared/data/" + n + " planes z < %d (xy planes only; z >= %d held out)" % (D.HOLDOUT_Z, D.HOLDOUT_Z)
                  for n in D.TRAIN_VOLUMES],
            never_trained_on=D.TEST_VOLUME,
            self_supervision="random xy crops, 8 dihedral symmetries, rows average-pooled by the factor"
                             + (" (a random factor in %s per batch)" % parse_factors(args.factors) if getattr(args, "factors", None) else "")
                             + (", random zoom in [1/%g, %g]" % (1 + args.zoom, 1 + args.zoom) if args.zoom else ""),
            loss=args.loss, optimizer="Adam", lr=("cosine %g -> %g over %g minutes of training wall time" % (args.lr, args.lr_min, args.budget_minutes))
            if args.budget_minutes else ("cosine %g -> %g over %d steps" % (args.lr, args.lr_min, args.steps)),
            schedule="crop %d batch %d for the first %d%% of the schedule, then crop %d batch %d"
                     % (args.warm_crop, args.warm_batch, round(100 * args.warm_frac), args.crop, args.batch),
            seed=args.seed, steps=ck["step"], planned_steps=None if args.budget_minutes else args.steps, wall_time_s=round(ck["wall_s"]),
            hardware=("%s, %d CPU threads (shared machine), torch %s" % (cpu_name(), args.threads,
                                                        torch.__version__)) if args.device == "cpu" else
                     ("%s, torch %s" % (torch.cuda.get_device_name(0), torch.__version__)),
            checkpoint="best validation CF-PSNR r=24 at step %s" % (ck.get("best") or {}).get("step"),
        ),
    )


def export_run(args, run, out_dir, which="best.pt"):
    import export as E
    path = os.path.join(run, which)
    if not os.path.exists(path):
        path = os.path.join(run, "last.pt")
    ck = load_ckpt(path)
    last = load_ckpt(os.path.join(run, "last.pt"))
    net = M.Niiv(**ck["config"])
    net.load_state_dict(ck["model"])
    net.eval()
    os.makedirs(out_dir, exist_ok=True)
    E.export_onnx(net, out_dir)
    E.save_weights(net, out_dir)
    # Test tensors from a held-out medulla xz slice (normalised as the engine would).
    val = Validator(args.data, args.factor, 2)
    lowres = val.items[0]["low"][:1].float()
    E.write_test_tensors(net, lowres, args.factor, out_dir)
    card = E.base_card(net, args.preset, args.factor)
    factors = parse_factors(last.get("args", {}).get("factors"))
    if factors:
        card["factors"] = factors
    targs = vars(parse([]))
    targs.update(last.get("args", {}))  # the training run's own settings
    targs["data"] = args.data
    card.update(card_training(argparse.Namespace(**targs), last))
    if last.get("args", {}).get("init"):
        card["training"]["initialised_from"] = last["args"]["init"]
    card["training"]["exported_checkpoint"] = dict(step=ck["step"], wall_time_s=round(ck["wall_s"]))
    log_path = os.path.join(run, "log.jsonl")
    if os.path.exists(log_path):
        recs = [json.loads(l) for l in open(log_path) if l.strip()]
        if recs:
            card["training"]["final_loss"] = recs[-1]["loss"]
            card["training"]["final_val_cf24"] = recs[-1]["val_cf24"]
    E.write_card(out_dir, card)
    return net


def main(argv=None):
    args = parse(argv)
    if args.export_only:
        run = args.run or os.path.join(HERE, "runs", args.preset)
    else:
        run = train(args)
    if args.export:
        export_run(args, run, args.export)


if __name__ == "__main__":
    main()
