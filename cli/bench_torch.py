"""PyTorch reference timings for `niiv bench` (embedded in the niiv binary).

Builds the training package's own model (reconstruct/train/model.py) with the weights of an
exported model folder (read from its ONNX files), checks it against the folder's test tensors,
and times the same cases as the Go engine. Prints one JSON object per line:
{"case": ..., "model": ..., "impl": "torch", "ms": ..., "cpu_ms": ...} (the fields of benchRecord in
bench.go).

The case blas1024 (a 1024^3 float32 product, best of a few runs within about a second) tells the
Go side how fast PyTorch's BLAS is; its note names the BLAS library the process loaded.

Usage: python3 bench_torch.py --train DIR --model DIR --name NAME --threads N --reps N --cases LIST
"""

import argparse
import json
import os
import sys
import time


def cpu_s():
    """The process's CPU time (all threads), to the nanosecond where the system allows
    (os.times counts 10 ms ticks, too coarse for a 20 ms matrix product)."""
    return time.process_time()


def timed(fn, reps):
    """Median wall and CPU milliseconds of reps runs after a warm-up run; a warm-up run
    longer than 2 s is itself the measurement (long cases are not repeated)."""
    c0, t0 = cpu_s(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    if wall > 2:
        return 1000 * wall, 1000 * cpu
    walls, cpus = [], []
    for _ in range(reps):
        c0, t0 = cpu_s(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_s() - c0)
    walls.sort()
    cpus.sort()
    return 1000 * walls[len(walls) // 2], 1000 * cpus[len(cpus) // 2]


def fastest(fn, reps=20, budget_s=1.0):
    """The shortest wall and the shortest CPU milliseconds of up to reps runs after a warm-up
    run, stopping once budget_s has passed (a slow BLAS is measured once). The Go kernel's side
    of blas1024 is timed the same way (kernelRecord in bench.go)."""
    fn()
    walls, cpus = [], []
    start = time.perf_counter()
    for i in range(reps):
        if i and time.perf_counter() - start > budget_s:
            break
        c0, t0 = cpu_s(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_s() - c0)
    return 1000 * min(walls), 1000 * min(cpus)


def blas_libraries():
    """The BLAS libraries mapped into this process (Linux; empty elsewhere): the generic
    libblas.so.3 that Debian's PyTorch links (its path tells the implementation behind the
    alternative), else any other BLAS or MKL library."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if len(line.split()) >= 6}
    except OSError:
        return []
    names = {p: os.path.basename(p).lower() for p in paths}
    generic = sorted(p for p, n in names.items() if n.startswith("libblas."))
    return generic or sorted(p for p, n in names.items() if "blas" in n or "mkl" in n)


def load(model_dir, M):
    import numpy as np
    import onnx
    from onnx import numpy_helper
    import torch

    card = json.load(open(os.path.join(model_dir, "card.json")))
    a = card["architecture"]
    head = a.get("head", "residual")
    net = M.Niiv(a["feats"], a["blocks"], a["mlp_depth"], a["mlp_width"],
                 residual=head.startswith("residual"), padding_mode=a.get("sample_padding", "border"))
    sd = net.state_dict()
    enc = onnx.load(os.path.join(model_dir, "encoder.onnx"))
    for t in enc.graph.initializer:
        k = t.name.replace("net.", "", 1)
        if k in sd:
            sd[k] = torch.from_numpy(numpy_helper.to_array(t).copy())
    dec = onnx.load(os.path.join(model_dir, "decoder.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in dec.graph.initializer}
    linears = [i for i, m in enumerate(net.decoder.mlp) if isinstance(m, torch.nn.Linear)]
    mats = [n.input[1] for n in dec.graph.node if n.op_type == "MatMul"]
    for li, name in zip(linears, mats):
        sd["decoder.mlp.%d.weight" % li] = torch.from_numpy(inits[name].T.copy())
    for li in linears:
        b = "net.decoder.mlp.%d.bias" % li
        if b in inits:
            sd["decoder.mlp.%d.bias" % li] = torch.from_numpy(inits[b].copy())
    net.load_state_dict(sd)
    net.eval()
    tt = card.get("test_tensors")
    if tt:
        with torch.no_grad():
            low = torch.from_numpy(np.load(os.path.join(model_dir, tt["lowres"])))
            coords = torch.from_numpy(np.load(os.path.join(model_dir, tt["coords"])))
            want = np.load(os.path.join(model_dir, tt["values"]))
            got = net(low, coords).numpy()
        err = float(abs(got - want).max())
        if err > 1e-4:
            sys.exit("bench_torch: weights do not reproduce the test tensors (max error %g)" % err)
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--model", default="")
    ap.add_argument("--name", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cases", default="view512,view512cold,volume128,xy128,matmul2048,blas1024")
    args = ap.parse_args()
    sys.path.insert(0, args.train)
    import torch
    import model as M

    torch.set_num_threads(args.threads)
    cases = args.cases.split(",")

    def emit(case, ms, cpu, **kw):
        rec = dict(case=case, model=args.name, impl="torch", ms=round(ms, 2), cpu_ms=round(cpu, 2))
        rec.update(kw)
        print(json.dumps(rec), flush=True)

    if "blas1024" in cases:
        n = 1024
        a, b = torch.rand(n, n), torch.rand(n, n)
        ms, cpu = fastest(lambda: torch.mm(a, b))
        libs = blas_libraries()
        rec = dict(gflops=round(2 * n ** 3 / ms / 1e6, 1), gflops_per_cpu_s=round(2 * n ** 3 / cpu / 1e6, 1) if cpu > 0 else 0)
        if libs:
            rec["note"] = "BLAS: " + ", ".join(libs)
        emit("blas1024", ms, cpu, **rec)
    if "matmul2048" in cases:
        a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
        ms, cpu = timed(lambda: torch.mm(a, b), max(args.reps, 5))
        emit("matmul2048", ms, cpu, gflops=round(2 * 2048 ** 3 / ms / 1e6, 1))
    if not args.model:
        return
    net = load(args.model, M)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        if "view512" in cases:
            low = torch.rand(1, 1, 16, 128, generator=g)
            lat = net.encoder(low)
            coords = M.grid_coords(512, 512).unsqueeze(0)
            ms, cpu = timed(lambda: net.decoder(lat, low, coords), args.reps)
            emit("view512", ms, cpu)
        if "view512cold" in cases:
            low = torch.rand(1, 1, 16, 128, generator=g)
            coords = M.grid_coords(512, 512).unsqueeze(0)
            ms, cpu = timed(lambda: net.decoder(net.encoder(low), low, coords), args.reps)
            emit("view512cold", ms, cpu)
        if "volume128" in cases:
            low = torch.rand(128, 1, 16, 128, generator=g)

            def vol():
                for i in range(0, 128, 8):
                    net.decode_grid(low[i:i + 8], 128, 128)
            ms, cpu = timed(vol, args.reps)
            emit("volume128", ms, cpu)
            ms, cpu = timed(lambda: [net.encoder(low[i:i + 8]) for i in range(0, 128, 8)], args.reps)
            emit("volume128/encoder", ms, cpu)
        if "xy128" in cases:
            low = torch.rand(128, 1, 16, 128, generator=g)
            coords = torch.stack([torch.full((128,), 2 * (7.375 + 0.5) / 16 - 1), M.pixel_centres(128)], -1)

            def xy():
                for i in range(0, 128, 8):
                    b = low[i:i + 8]
                    net.decoder(net.encoder(b), b, coords.unsqueeze(0).expand(b.shape[0], -1, -1))
            ms, cpu = timed(xy, args.reps)
            emit("xy128", ms, cpu)


if __name__ == "__main__":
    main()
