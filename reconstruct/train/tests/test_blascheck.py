"""The check that PyTorch runs on an optimised BLAS (blascheck.py)."""

import io
import time

import pytest

import blascheck

REF = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"


@pytest.mark.parametrize("wall, cpu, warn", [
    (98.5, 97.0, False),   # OpenBLAS, idle machine (2 threads)
    (172.7, 86.4, False),  # OpenBLAS, both threads busy
    (13.7, 43.3, False),   # OpenBLAS while another job held a core: wall time suffers, CPU time does not
    (20.0, 5.0, False),    # at the threshold
    (19.9, 5.0, True),     # just below it
    (1.7, 2.6, True),      # the reference BLAS under load
    (5.7, 5.8, True),      # the reference BLAS, idle
    (0.0, 0.0, False),     # nothing measured: no verdict
])
def test_slow_blas_warning(wall, cpu, warn):
    msg = blascheck.slow_blas_warning(wall, cpu, [REF])
    assert (msg is not None) == warn, msg
    if warn:
        assert "%.1f GFLOP/s" % max(wall, cpu) in msg
        assert "apt-get install libopenblas0-pthread" in msg and "scripts/setup.sh test" in msg
        assert "(it loaded %s)" % REF in msg
        assert "loaded" not in blascheck.slow_blas_warning(wall, cpu, [])


def test_threshold_is_a_parameter():
    assert blascheck.slow_blas_warning(50, 50, threshold=60) is not None
    assert blascheck.slow_blas_warning(50, 50) is None


def test_matmul_gflops_is_quick_and_positive():
    t = time.perf_counter()
    wall, cpu = blascheck.matmul_gflops(n=128, budget_s=0.05)
    assert time.perf_counter() - t < 1
    assert wall > 0 and cpu >= 0


def test_warn_if_slow_prints_only_when_slow(monkeypatch):
    for figures, printed in [((2.5, 2.5), True), ((100.0, 60.0), False)]:
        monkeypatch.setattr(blascheck, "matmul_gflops", lambda f=figures: f)
        out = io.StringIO()
        assert blascheck.warn_if_slow("train", out) == figures
        assert out.getvalue().startswith("train: warning: PyTorch's matrix product runs at 2.5 GFLOP/s") == printed
        assert (out.getvalue() != "") == printed
