"""The RBM lab's runs: data + RBM config in, a live training iterator out, results as plain dicts.

One function serves the app (live and cached), the tests and the command line:

    python -m core.rbm_lab --dataset mnist --hidden 100 --epochs 10
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np

from core import data as datasets
from core.progress import Progress
from core.rbm import RBM, RBMConfig


@dataclass
class RBMRun:
    """A training run of the lab: which data, how much of it, and the RBM's settings."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # training examples used (the first n of the training split)
    binarize: bool = False  # train on 0/1 pixels (threshold 0.5) instead of gray values
    rbm: RBMConfig = field(default_factory=lambda: RBMConfig(n_components=100, learning_rate=0.05, batch_size=20,
                                                             n_iter=10, random_state=0, method="pcd", k=1))


def arrays(run: RBMRun, data: datasets.ImageData) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) arrays of the run, binarised when asked."""
    Xtr, Xte = data.X_train[: run.n_train], data.X_test
    if run.binarize:
        Xtr, Xte = (Xtr > 0.5).astype(np.float32), (Xte > 0.5).astype(np.float32)
    return Xtr, Xte


def train(run: RBMRun, data: datasets.ImageData, partial: dict | None = None) -> Iterator[Progress]:
    """Train (or continue `partial`) epoch by epoch; every record's extra["snapshot"]() is the run so far."""
    Xtr, Xte = arrays(run, data)
    if partial is not None:
        rbm = RBM.from_state_dict(partial["model"])
        history, done = list(partial["history"]), int(partial["epochs"])
    else:
        rbm, history, done = RBM.from_config(run.rbm), [], 0
    rbm.n_iter = run.rbm.n_iter - done
    if rbm.n_iter <= 0:
        return
    t_before = history[-1]["seconds"] if history else 0.0
    for rec in rbm.fit_iter(Xtr, Xte, warm_start=partial is not None):
        if partial is not None and rec.step == 0:
            continue  # the resumed model's initial metrics are already in the history
        epochs = done + round(rec.epoch)
        rec.epoch, rec.step, rec.total = epochs, rec.step + done * (rec.total // max(1, rbm.n_iter)), \
            run.rbm.n_iter * (rec.total // max(1, rbm.n_iter))
        rec.message = f"epoch {epochs}/{run.rbm.n_iter}"
        if rec.metrics:
            history.append({"epoch": epochs, "seconds": t_before + rec.elapsed, **rec.metrics})
        rec.extra["snapshot"] = _snapshotter(run, rbm, history, epochs)
        yield rec


def _snapshotter(run, rbm, history, epochs):
    return lambda: {"run": asdict(run), "model": rbm.state_dict(), "history": list(history), "epochs": epochs}


def model(result: dict) -> RBM:
    """The RBM of a finished or partial run (a fresh object: callers may use it freely)."""
    return RBM.from_state_dict(result["model"])


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train an RBM of the lab and print its progress.")
    ap.add_argument("--dataset", default="mnist", choices=sorted(datasets.DATASETS))
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--method", default="pcd", choices=["cd", "pcd"])
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    run = RBMRun(a.dataset, rbm=RBMConfig(a.hidden, a.lr, a.batch, a.epochs, a.seed, a.method, a.k))
    data = datasets.load(a.dataset)
    for rec in train(run, data):
        if rec.metrics:
            print(f"{rec.message:>14}  {rec.elapsed:6.2f}s  " + "  ".join(f"{k}={v:.4g}" for k, v in rec.metrics.items()))


if __name__ == "__main__":
    main()
