"""The RBM lab's runs: data + RBM config in, a training run (`RBMSteps`, see core.training) out.

One run serves the app (live and cached), the tests and the command line:

    python -m core.boltzmann.rbm_lab --dataset mnist --n-components 100 --n-iter 10
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core import data as datasets
from core import training
from core.boltzmann.rbm import RBM, RBMConfig
from core.inpainting.masks import masked_mse


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


class RBMSteps(training.Steps):
    """One epoch of the RBM per unit; held-out metrics (RBM.metrics) after each. Snapshot: {"model": RBM state}."""

    kind = "rbm"

    def __init__(self, run: RBMRun, data: datasets.ImageData):
        self.config, self.data = run, data

    def total(self) -> int:
        return int(self.config.rbm.n_iter)

    def _prepare(self, rbm: RBM) -> None:
        self.rbm = rbm
        self.Xtr, Xte = arrays(self.config, self.data)
        self.ev = rbm.monitor_set(self.Xtr, Xte)

    def start(self) -> None:
        self._prepare(RBM.from_config(self.config.rbm).initialize(self.data.X_train.shape[1]))

    def restore(self, snapshot: dict) -> None:
        self._prepare(RBM.from_state_dict(snapshot["model"]))

    def advance(self, done: int) -> None:
        self.rbm.fit_epoch(self.Xtr)

    def measure(self, done: int) -> dict[str, float]:
        return self.rbm.metrics(self.ev)

    def state(self) -> dict:
        return {"model": self.rbm.state_dict()}

    def data_arrays(self) -> tuple:
        return arrays(self.config, self.data)


def train(run: RBMRun, data: datasets.ImageData, partial: dict | None = None):
    """The run's training iterator (core.training.train of RBMSteps)."""
    return training.train(RBMSteps(run, data), partial)


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
    return training.main(RBMSteps, RBMRun(), argv, "Train an RBM of the lab and print its held-out metrics.")


if __name__ == "__main__":
    main()
