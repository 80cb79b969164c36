"""Inpainting benchmark: held-out masked MSE of PCA (projection, least squares), the RBM and the energy model.

    python tests/benchmarks/bench_inpainting.py [--epochs 15] [--threads 2]

MNIST split (8,000 train / 2,000 held out); the holes of the held-out digits are drawn with seed 0.
Prints its figures last, as `name: value` lines.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first: it tunes OpenMP's spinning before torch loads)
import torch  # noqa: E402

from core import data as datasets  # noqa: E402
from core import training  # noqa: E402
from core.boltzmann import rbm_lab  # noqa: E402
from core.device import describe, pick_device  # noqa: E402
from core.inpainting import compare  # noqa: E402
from core.inpainting import ebm as ip  # noqa: E402
from core.inpainting.masks import masked_held_out, masked_mse  # noqa: E402
from core.inpainting.pca import D_GRID, PCAInpainter  # noqa: E402
from core.progress import Stopwatch  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=ip.EBMRun().epochs, help="epochs of the energy model")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default, all cores)")
    ap.add_argument("--rbm-k", type=int, default=100, help="clamped Gibbs steps of the RBM")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = pick_device()
    data = datasets.load("mnist")
    ms = masked_held_out(data, n=2000, mask_seed=0)
    print(f"data: {data.title}, {len(data.X_train):,} train / {len(ms.X):,} held out. {data.note}")
    print(f"gray fill: masked MSE {masked_mse(ms.X_in, ms.X, ms.mask):.4f}")

    clock = Stopwatch()
    with clock("fit"):
        pca = PCAInpainter(400).fit(data.X_train)
    curves = compare.pca_curves(pca, ms, D_GRID, clock)
    best = {}
    for method in compare.METHODS:
        d_best, best[method] = compare.best_d(curves, method)
        print(f"PCA {method:7s}: best d = {d_best}, masked MSE {best[method]:.4f} "
              f"(fit {clock['fit']:.1f} s, {len(curves['d'])} values of d in {clock[method]:.1f} s); "
              + " ".join(f"d={d}:{v:.3f}" for d, v in zip(curves["d"], curves[f"mse_{method}"])))

    run = rbm_lab.RBMRun("mnist")
    res = training.run_to_end(rbm_lab.RBMSteps(run, data))
    rbm = rbm_lab.model(res)
    t = time.perf_counter()
    filled = rbm.inpaint(ms.X_in, ms.mask, k=a.rbm_k, random_state=0)
    rbm_mse = masked_mse(filled, ms.X, ms.mask)
    print(f"RBM: {run.rbm.n_components} hidden, {run.rbm.n_iter} epochs PCD-1 in {res['history'][-1]['seconds']:.1f} s; "
          f"k = {a.rbm_k} clamped Gibbs steps in {time.perf_counter() - t:.1f} s: masked MSE {rbm_mse:.4f}")

    ebm_run = replace(ip.EBMRun(), epochs=a.epochs)
    print(f"energy model (energies only: rec_weight = {ebm_run.rec_weight}), {torch.get_num_threads()} threads: {ebm_run}")
    t0 = time.perf_counter()
    train_s = 0.0
    hist = []
    for rec in ip.train(ebm_run, data, device=dev):
        if rec.metrics:
            snap = rec.extra["snapshot"]()
            hist = snap["history"]
            row = hist[-1]
            print(f"  epoch {row['epoch']}: masked MSE {row['masked_mse']:.4f}  energies real {row['energy_real']:+.3f} "
                  f"fake {row['energy_fake']:+.3f}  {row['seconds']:.1f} s", flush=True)
    wall = time.perf_counter() - t0
    ebm_mse = hist[-1]["masked_mse"]
    target = min(best.values())
    first = next((h for h in hist if h["masked_mse"] < min(target, 0.10)), None)
    print(f"energy model beats every PCA variant and 0.10 first at epoch "
          f"{first['epoch'] if first else 'never'}" + (f" ({first['seconds']:.1f} s)" if first else ""))
    train_s = hist[-1]["seconds"]

    print(f"device: {describe(dev)}")
    print(f"masked_mse_pca_best: {best['project']:.4f}")
    print(f"masked_mse_pca_lstsq_best: {best['lstsq']:.4f}")
    print(f"masked_mse_rbm: {rbm_mse:.4f}")
    print(f"masked_mse_ebm: {ebm_mse:.4f}")
    print(f"ebm_train_seconds: {train_s:.1f}")
    return wall


if __name__ == "__main__":
    main()
