"""Speed side of the lite size choice: PyTorch CPU time to encode + decode a 512x512 view.

  /usr/bin/python3 reconstruct/train/bench_sizes.py [--threads 2]

For each candidate size: parameters, MAC per output pixel at factor 8, and the median wall
time of encoding a 64x512 low-resolution slice and decoding it at 512x512. The quality side
(validation CF-PSNR after the same short training) is in README.md.
"""

import argparse
import json
import time

import torch

import blascheck
import model as M

CANDIDATES = [
    dict(feats=16, blocks=2, mlp_depth=2, mlp_width=32),
    dict(feats=32, blocks=4, mlp_depth=3, mlp_width=64),  # lite
    dict(feats=48, blocks=6, mlp_depth=3, mlp_width=96),
    dict(feats=64, blocks=16, mlp_depth=5, mlp_width=256),  # paper
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    blascheck.warn_if_slow("bench_sizes")  # the times below would measure a reference BLAS
    low = torch.rand(1, 1, 64, 512)
    for cfg in CANDIDATES:
        net = M.Niiv(**cfg).eval()
        times = []
        with torch.no_grad():
            for i in range(args.repeats + 1):
                t = time.perf_counter()
                net.decode_grid(low, 512, 512, chunk=1 << 18)
                if i:
                    times.append(time.perf_counter() - t)
        times.sort()
        print(json.dumps(dict(cfg, params=M.count_params(net), macs_per_px=round(M.macs_per_output_pixel(cfg, 8)),
                              view512_ms=round(1000 * times[len(times) // 2], 1))), flush=True)


if __name__ == "__main__":
    main()
