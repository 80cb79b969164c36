"""Our RBM against scikit-learn's BernoulliRBM on the real MNIST split (8,000 train / 2,000 held out).

Same algorithm (PCD-1, as scikit-learn uses), hidden units, batch size, learning rate and epochs.
scikit-learn gets the data as float64, as `X / 255.0` gives in its notebooks; its float32 speed is
printed too. Held-out quality uses one estimator for both models: the pseudo-log-likelihood that
scikit-learn's score_samples estimates with one random bit, computed exactly over all 784 bits, and
averaged over the models of every repeat (seeds 0, 1, ...), so the difference is not noise of the
estimator. Ratios are medians over repeats of contenders timed back to back.

    python tests/benchmarks/bench_rbm.py [--epochs 10] [--repeats 3]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first, before torch: the app's OpenMP setting, see core/__init__.py)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402

from core import data  # noqa: E402
from core.device import describe, pick_device  # noqa: E402
from core.boltzmann.rbm import RBM  # noqa: E402

SETTINGS = [(100, 10), (500, 100)]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn):
    t = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t, out


def fmt(ts) -> str:
    return "/".join(f"{t:.2f}" for t in ts)


def heldout_pll(models, X):
    """Mean exact pseudo-log-likelihood of X over the models (any with components_ and intercepts)."""
    vals = []
    for m in models:
        r = RBM(m.components_.shape[0])
        r.components_, r.intercept_hidden_, r.intercept_visible_ = m.components_, m.intercept_hidden_, m.intercept_visible_
        vals.append(r.pseudo_log_likelihood(X).mean())
    return float(np.mean(vals))


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
          f"{a.epochs} epochs, learning rate {a.lr}, {a.repeats} repeats")
    results = {}
    for nh, B in SETTINGS:
        kw = dict(n_components=nh, batch_size=B, n_iter=a.epochs, learning_rate=a.lr)
        rows, sk_models, our_models = [], [], []
        for seed in range(a.repeats):  # back to back, so a slow moment of the machine hits both sides
            t64, m = timed(lambda: BernoulliRBM(**kw, random_state=seed).fit(X64))
            sk_models.append(m)
            t32, _ = timed(lambda: BernoulliRBM(**kw, random_state=seed).fit(X))
            t_ours, m = timed(lambda: RBM(**kw, random_state=seed).fit(X))
            our_models.append(m)
            peak = gemm_rate()
            rows.append((t64, t32, t_ours, peak))
        n_batches = int(np.ceil(len(X) / B)) * a.epochs
        flops = 5 * 2 * B * X.shape[1] * nh * n_batches  # PCD-1: 5 products of B x n_v x n_h per batch
        t64, t32, t_ours, peak = (np.array(c) for c in zip(*rows))
        pll_sk, pll_ours = heldout_pll(sk_models, Xte), heldout_pll(our_models, Xte)
        results[(nh, B)] = dict(speed64=float(np.median(t64 / t_ours)), speed32=float(np.median(t32 / t_ours)),
                                gemm=float(np.median(flops / t_ours / peak)), dpll=pll_ours - pll_sk)
        print(f"h{nh} b{B}: sklearn float64 {fmt(t64)} s, sklearn float32 {fmt(t32)} s, ours {fmt(t_ours)} s "
              f"({flops / t_ours.min() / 1e9:.0f} GFLOP/s at best; one 2048^2 product {peak.max() / 1e9:.0f} GFLOP/s); "
              f"held-out PLL sklearn {pll_sk:.2f}, ours {pll_ours:.2f}")
    for (nh, B), r in results.items():
        print(f"speedup_vs_sklearn_float32_h{nh}_b{B}: {r['speed32']:.2f}")
    for (nh, B), r in results.items():
        print(f"heldout_pll_ours_minus_sklearn_h{nh}_b{B}: {r['dpll']:.2f}")
    print(f"speedup_vs_sklearn_h100_b10: {results[(100, 10)]['speed64']:.2f}")
    print(f"speedup_vs_sklearn_h500_b100: {results[(500, 100)]['speed64']:.2f}")
    print(f"heldout_pll_ours_minus_sklearn: {min(r['dpll'] for r in results.values()):.2f}")
    print(f"gemm_fraction_h500_b100: {results[(500, 100)]['gemm']:.2f}")


if __name__ == "__main__":
    main()
