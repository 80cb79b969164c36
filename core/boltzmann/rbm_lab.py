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
from core.boltzmann.rbm import RBM, RBMConfig


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
        per_epoch = rec.total // rbm.n_iter  # batches per epoch (n_iter > 0 here)
        epochs = done + round(rec.epoch)
        rec.epoch, rec.step, rec.total = epochs, rec.step + done * per_epoch, run.rbm.n_iter * per_epoch
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


# ----------------------------------------------------------------------------- inpainting by rows

LOCATIONS = ("top", "middle", "bottom")


def start_row(location: str | int, n_rows: int, height: int) -> int:
    """First missing row for 'top' / 'middle' / 'bottom' or an explicit row, clipped to the image."""
    n_rows = max(0, min(int(n_rows), height))
    if location == "top":
        s = 0
    elif location == "middle":
        s = (height - n_rows) // 2
    elif location == "bottom":
        s = height - n_rows
    else:
        s = int(location)
    return max(0, min(s, height - n_rows))


def row_mask(shape: tuple[int, int, int], n_rows: int, start: int) -> np.ndarray:
    """(C*H*W,) bool, True on rows start .. start+n_rows-1 of every channel (the missing pixels)."""
    C, H, W = shape
    m = np.zeros((C, H, W), bool)
    m[:, start: start + n_rows, :] = True
    return m.ravel()


def recon_error(X: np.ndarray, Y: np.ndarray) -> float:
    """Squared error per image, averaged over images."""
    return float(((np.asarray(X) - np.asarray(Y)) ** 2).sum(1).mean())


def masked_mse(X: np.ndarray, Y: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared error over the missing pixels only (pixels in [0, 1])."""
    if not mask.any():
        return 0.0
    return float(((X[:, mask] - Y[:, mask]) ** 2).mean())


def mean_fill(X: np.ndarray, mask: np.ndarray, mean_image: np.ndarray) -> np.ndarray:
    """Baseline: missing pixels replaced by the training set's mean image."""
    out = X.copy()
    out[:, mask] = mean_image[mask]
    return out


def inpainting_sweep(rbm: RBM, X: np.ndarray, shape, mean_image: np.ndarray, *, k: int,
                     rows: list[int] | None = None, n_rows: int = 8,
                     location: str | int = "middle", seed: int = 0) -> list[dict]:
    """Masked MSE of the RBM and of the mean-image baseline, against rows removed (at `location`)
    or against the start row (with n_rows removed)."""
    H = shape[1]
    out = []
    if rows is not None:
        cases = [(n, start_row(location, n, H)) for n in rows]
    else:
        cases = [(n_rows, s) for s in range(0, H - n_rows + 1, max(1, (H - n_rows) // 10))]
    for n, s in cases:
        m = row_mask(shape, n, s)
        out.append({"rows_removed": n, "start_row": s,
                    "rbm": masked_mse(X, rbm.inpaint(X, m, k=k, random_state=seed), m),
                    "mean_image": masked_mse(X, mean_fill(X, m, mean_image), m)})
    return out


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
            print(rec.line())


if __name__ == "__main__":
    main()
