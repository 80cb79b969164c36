"""Our RBM against scikit-learn's BernoulliRBM on the real MNIST split (8,000 train / 2,000 held out).

Same algorithm (PCD-1, as scikit-learn uses), hidden units, batch size, learning rate and epochs.
scikit-learn gets the data as float64, as `X / 255.0` gives in its notebooks; its float32 speed is
printed too. Held-out quality uses one estimator for both models (our pseudo-log-likelihood with the
same random bit flips, 10 flips per image), so the difference is not sampling noise of two estimators.

    python tests/benchmarks/bench_rbm.py [--epochs 10] [--repeats 3]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first: OpenMP wait policy)
from sklearn.neural_network import BernoulliRBM  # noqa: E402

from core import data  # noqa: E402
from core.device import describe, pick_device  # noqa: E402
from core.rbm import RBM  # noqa: E402

SETTINGS = [(100, 10), (500, 100)]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - t)
    return best, out


def heldout_pll(components, hidden_b, visible_b, X, flips=10):
    r = RBM(components.shape[0])
    r.components_, r.intercept_hidden_, r.intercept_visible_ = components, hidden_b, visible_b
    return float(np.mean([r.score_samples(X, random_state=s).mean() for s in range(flips)]))


def gemm_rate(n=2048, repeats=10):
    dev = pick_device()
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    for _ in range(3):
        a @ b
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync()
    return 2 * n**3 * repeats / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    d = data.load("mnist")
    X, Xte = d.X_train, d.X_test
    X64 = X.astype(np.float64)
    print(f"device: {describe(pick_device())}; data: {d.title}, {len(X)} train / {len(Xte)} held out; "
          f"{a.epochs} epochs, learning rate {a.lr}, best of {a.repeats}")
    results = {}
    for nh, B in SETTINGS:
        kw = dict(n_components=nh, batch_size=B, n_iter=a.epochs, learning_rate=a.lr, random_state=0)
        t_sk64, sk = best_time(lambda: BernoulliRBM(**kw).fit(X64), a.repeats)
        t_sk32, _ = best_time(lambda: BernoulliRBM(**kw).fit(X), a.repeats)
        t_ours, ours = best_time(lambda: RBM(**kw).fit(X), a.repeats)
        n_batches = int(np.ceil(len(X) / B)) * a.epochs
        flops = 5 * 2 * B * X.shape[1] * nh * n_batches  # PCD-1: 5 products of B x n_v x n_h per batch
        pll_sk = heldout_pll(sk.components_, sk.intercept_hidden_, sk.intercept_visible_, Xte)
        pll_ours = heldout_pll(ours.components_, ours.intercept_hidden_, ours.intercept_visible_, Xte)
        results[(nh, B)] = dict(speed64=t_sk64 / t_ours, speed32=t_sk32 / t_ours, rate=flops / t_ours,
                                dpll=pll_ours - pll_sk)
        print(f"h{nh} b{B}: sklearn float64 {t_sk64:.2f} s, sklearn float32 {t_sk32:.2f} s, ours {t_ours:.2f} s "
              f"({flops / t_ours / 1e9:.0f} GFLOP/s); held-out PLL sklearn {pll_sk:.2f}, ours {pll_ours:.2f}")
    peak = gemm_rate()
    print(f"one 2048x2048 float32 matrix product: {peak / 1e9:.0f} GFLOP/s")
    for (nh, B), r in results.items():
        print(f"speedup_vs_sklearn_float32_h{nh}_b{B}: {r['speed32']:.2f}")
    for (nh, B), r in results.items():
        print(f"heldout_pll_ours_minus_sklearn_h{nh}_b{B}: {r['dpll']:.2f}")
    print(f"speedup_vs_sklearn_h100_b10: {results[(100, 10)]['speed64']:.2f}")
    print(f"speedup_vs_sklearn_h500_b100: {results[(500, 100)]['speed64']:.2f}")
    print(f"heldout_pll_ours_minus_sklearn: {min(r['dpll'] for r in results.values()):.2f}")
    print(f"gemm_fraction_h500_b100: {results[(500, 100)]['rate'] / peak:.2f}")


if __name__ == "__main__":
    main()
