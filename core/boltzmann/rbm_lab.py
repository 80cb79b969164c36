"""The RBM lab's runs: data + RBM config in, a training run (`RBMSteps`, see core.training) out.

One run serves the app (live and cached), the tests and the command line:

    python -m core.boltzmann.rbm_lab --dataset mnist --n-components 100 --n-iter 10
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from core import data as datasets
from core import training
from core.boltzmann.likelihood import free_energy
from core.boltzmann.rbm import RBM, FitSteps, RBMConfig
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


class RBMSteps(FitSteps):
    """One epoch of the RBM per unit (the estimator's own `FitSteps` on the run's arrays); after each, the held-out
    metrics (RBM.metrics) and the training objective "fe_objective" = mean F(v) - mean F(v^) on the fixed training
    rows of the monitor set (up to 500 digits as training sees them) with v^ their negative-phase samples
    (RBM.free_energy_objective, one seeded draw; "fe_objective_se" its Monte-Carlo standard error).
    Snapshot: {"nets": {"rbm": RBM state (weights, persistent chains, its generator)}}."""

    kind = "rbm"

    def __init__(self, run: RBMRun, data: datasets.ImageData):
        super().__init__(RBM.from_config(run.rbm), *arrays(run, data))
        self.config, self.data = run, data

    def measure(self, done: int) -> dict[str, float]:
        obj = self.rbm.free_energy_objective(self.ev["train"], random_state=0)
        return {**super().measure(done), "fe_objective": obj["objective"], "fe_objective_se": obj["se"]}

    def data_arrays(self) -> tuple:
        return arrays(self.config, self.data)


def train(run: RBMRun, data: datasets.ImageData, partial: dict | None = None):
    """The run's training iterator (core.training.train of RBMSteps)."""
    return training.train(RBMSteps(run, data), partial)


def model(result: dict) -> RBM:
    """The RBM of a finished or partial run (a fresh object: callers may use it freely)."""
    return RBM.from_state_dict(result["nets"]["rbm"])


# ----------------------------------------------------------------------------- one digit: energy, free energy, P(h|v)

def digit_energies(rbm: RBM, v, top: int = 8) -> dict:
    """One binary digit v (n_v,) under the RBM, exactly (float64; nothing is sampled):

        p_h          P(h_j = 1 | v) = sigm(c_j + W_j.v), (n_h,)
        h            the most probable hidden state h* = argmax_h P(h | v): h*_j = 1 when P(h_j = 1 | v) > 1/2
                     (P(h | v) factorises over the units), (n_h,)
        energy       E(v, h*) = -b.v - c.h* - h*.W v, and its three terms in "terms"
        free_energy  F(v) = -b.v - sum_j softplus(c_j + W_j.v) = -log sum_h exp(-E(v, h))
        gap          E(v, h*) - F(v) = -log P(h* | v) >= 0 (F is a soft minimum of E over h)
        top          the `top` units with the largest P(h_j = 1 | v), largest first
    """
    v = np.asarray(v, dtype=np.float64).ravel()
    W, b, c = (np.asarray(a, dtype=np.float64) for a in (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
    pre = c + W @ v
    p_h = 1.0 / (1.0 + np.exp(-pre))
    h = (p_h > 0.5).astype(np.float64)
    terms = {"-b.v": float(-b @ v), "-c.h": float(-c @ h), "-h.Wv": float(-h @ pre + h @ c)}
    energy = float(rbm.energy(v, h)[0])
    fe = float(free_energy(*(torch.as_tensor(a) for a in (v[None], W, b, c)))[0])
    return {"p_h": p_h, "h": h, "energy": energy, "terms": terms, "free_energy": fe, "gap": energy - fe,
            "top": np.argsort(-p_h, kind="stable")[: int(top)]}


def hidden_square(p: np.ndarray) -> np.ndarray:
    """n values as a side x side picture, side = ceil(sqrt(n)), row by row; the unused cells are NaN."""
    p = np.asarray(p, dtype=np.float64).ravel()
    side = max(1, math.ceil(math.sqrt(len(p))))
    out = np.full(side * side, np.nan)
    out[: len(p)] = p
    return out.reshape(side, side)


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
