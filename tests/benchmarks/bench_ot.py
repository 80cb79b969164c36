"""Optimal-transport lab benchmark (a script, not a test):

    python tests/benchmarks/bench_ot.py

Prints, last, as `name: value` lines:
  color_transfer_512_seconds              two 512x512 images, exact OT (ot.emd) on a 1,000-pixel
                                          sample of each, mapped to all 262,144 pixels (median of 3)
  sinkhorn_200_seconds_max_over_lambda    200 random points per side, costs scaled to max 1: the
                                          slowest Sinkhorn solve over every lambda of the page's slider
  sinkhorn_relative_gap_at_max_lambda     (Sinkhorn cost - exact cost) / exact cost at the slider's
                                          largest lambda, same problem
Targets (issue 5): <= 2 s, <= 1 s, <= 0.01.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import core  # noqa: E402,F401  (first: the app's settings, see core/__init__.py)
import numpy as np  # noqa: E402

from core.transport import color, plans  # noqa: E402


def median_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    print(f"device: cpu (NumPy/POT; BLAS limited to one thread inside the solvers), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    a = color.resize(color.sample_image("china.jpg"), (512, 512))
    b = color.resize(color.sample_image("flower.jpg"), (512, 512))
    color.transfer(a, b, "emd", 1000)  # warm-up (imports, caches)
    t_ct = median_time(lambda: color.transfer(a, b, "emd", n_samples=1000, random_state=0))
    out, _ = color.transfer(a, b, "emd", 1000)
    print(f"colour transfer 512x512, exact OT on 1000 pixels: {t_ct:.3f} s; W2 to target colours "
          f"{color.color_distance(a, b):.1f} -> {color.color_distance(out, b):.1f} grey levels")
    t_both = median_time(lambda: (color.transfer(a, b, "emd", 1000), color.transfer(b, a, "emd", 1000)), 1)
    print(f"both directions: {t_both:.3f} s")

    rng = np.random.default_rng(0)
    xs, xt = rng.random((200, 2)), rng.random((200, 2))
    M = plans.cost_matrix(xs, xt)  # squared distances / max
    w = np.full(200, 1 / 200)
    exact = plans.exact_cost(w, w, M)
    worst, rows = 0.0, []
    for lam in plans.LAMBDAS:
        t0 = time.perf_counter()
        r = plans.sinkhorn(w, w, M, lam)
        dt = time.perf_counter() - t0
        worst = max(worst, dt)
        assert np.all(np.isfinite(r.plan)), lam
        rows.append((lam, dt, r))
        print(f"  lambda {lam:>8g}: {dt:6.3f} s  {r.method:26s} iterations {r.iterations:>5}  "
              f"gap {(r.cost - exact) / exact:+.4f}  marginal error {r.marginal_error:.1e}")
    gap = (rows[-1][2].cost - exact) / exact
    print(f"exact cost (ot.emd): {exact:.6f}; lambda range {plans.LAMBDAS[0]:g} .. {plans.LAMBDAS[-1]:g}")
    print(f"color_transfer_512_seconds: {t_ct:.3f}")
    print(f"sinkhorn_200_seconds_max_over_lambda: {worst:.3f}")
    print(f"sinkhorn_relative_gap_at_max_lambda: {gap:.5f}")


if __name__ == "__main__":
    main()
