"""A quick check that PyTorch's matrix products run on an optimised BLAS.

Debian's python3-torch links the generic libblas.so.3; installed without recommended packages,
only the reference BLAS (libblas3) provides it, and every matrix product runs 15-50x slower
(a 2048^3 float32 product at 2.5-4 GFLOP/s on 2 cores instead of 45-130 with OpenBLAS): training
would take days instead of the README's 85 minutes. scripts/setup.sh test installs
libopenblas0-pthread, which takes over libblas.so.3. train.py, evaluate.py and bench_sizes.py
call warn_if_slow() first; `niiv bench` makes the same check against its Go kernel.

  /usr/bin/python3 reconstruct/train/blascheck.py [--threads 2]
"""

import argparse
import os
import sys
import time

import torch

# An optimised BLAS runs a 512^3 float32 product at 40-130 GFLOP/s on one or two cores of any
# x86-64 CPU with AVX (and arm64 with NEON) of the last decade, the reference BLAS at 2-6. The
# figure compared is the better of wall-clock and CPU-second throughput, so that waiting for a
# core on a shared machine does not count; 20 leaves a 2x margin on both sides.
MIN_GFLOPS = 20.0

FIX = ("install OpenBLAS: sudo apt-get install libopenblas0-pthread (or scripts/setup.sh test); "
       "if it is installed, sudo update-alternatives --auto libblas.so.3-<multiarch> (e.g. x86_64-linux-gnu)")


def matmul_gflops(n=512, reps=20, budget_s=0.3):
    """PyTorch's float32 n^3 matrix-product throughput: (GFLOP/s of wall time, GFLOP per
    CPU-second), each from the fastest of up to reps runs after a warm-up run, stopping once
    budget_s has passed. Takes well under a second even on the reference BLAS."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    torch.mm(a, b)
    walls, cpus = [], []
    start = time.perf_counter()
    for i in range(reps):
        if i and time.perf_counter() - start > budget_s:
            break
        c0, t0 = time.process_time(), time.perf_counter()
        torch.mm(a, b)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    flops = 2.0 * n ** 3
    wall, cpu = min(walls), min(cpus)
    return flops / wall / 1e9 if wall > 0 else 0.0, flops / cpu / 1e9 if cpu > 0 else 0.0


def blas_libraries():
    """The BLAS libraries mapped into this process (Linux; empty elsewhere): the generic
    libblas.so.3 that Debian's PyTorch links, whose path tells the implementation behind it,
    else any other BLAS or MKL library."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if len(line.split()) >= 6}
    except OSError:
        return []
    names = {p: os.path.basename(p).lower() for p in paths}
    generic = sorted(p for p, n in names.items() if n.startswith("libblas."))
    return generic or sorted(p for p, n in names.items() if "blas" in n or "mkl" in n)


def slow_blas_warning(wall_gflops, cpu_gflops, libs=(), threshold=MIN_GFLOPS):
    """The warning to print when the better of the two throughputs is below threshold GFLOP/s,
    else None (also when neither was measured)."""
    best = max(wall_gflops, cpu_gflops)
    if best <= 0 or best >= threshold:
        return None
    loaded = " (it loaded %s)" % ", ".join(libs) if libs else ""
    return ("warning: PyTorch's matrix product runs at %.1f GFLOP/s, far below the %g or more an "
            "optimised BLAS gives on this class of CPU: PyTorch most likely runs on the reference BLAS%s, "
            "and training, evaluation and timings will be 15-50x slower than they should. Fix: %s"
            % (best, threshold, loaded, FIX))


def warn_if_slow(where="train", stream=None):
    """Measures PyTorch's matrix-product throughput (with the threads already set) and prints
    a warning prefixed with where on stream (stderr) if its BLAS is too slow. Returns the
    (wall, CPU-second) GFLOP/s figures."""
    wall, cpu = matmul_gflops()
    msg = slow_blas_warning(wall, cpu, blas_libraries())
    if msg:
        print("%s: %s" % (where, msg), file=stream or sys.stderr, flush=True)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wall, cpu = warn_if_slow("blascheck")
    print("512^3 float32 product, %d threads: %.1f GFLOP/s (%.1f per CPU-second); BLAS: %s"
          % (args.threads, wall, cpu, ", ".join(blas_libraries()) or "unknown"))


if __name__ == "__main__":
    main()
