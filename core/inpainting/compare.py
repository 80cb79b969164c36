"""The inpainting lab's method comparison: every method fills the same holes of the same held-out digits
(core.inpainting.masks.masked_held_out) and is scored by the masked MSE; its cost is counted in seconds.

    clock = Stopwatch()
    curves = pca_curves(PCAInpainter(400).fit(X_train), ms, D_GRID, clock)   # masked MSE against d, timed
    rows = comparison(ms, curves, {"fit": ..., "project": ..., "lstsq": ...},
                      [Entry("Energy model + generator", filled, train_seconds, fill_seconds), ...])

Rows: the gray fill (nothing learnt: the hole as given), PCA projection and PCA least squares each at its best d,
then the learnt models in the order given. PCA's d is chosen on the scored digits themselves, so its two rows err
low (optimistic) by the gap between the best d on these digits and a d chosen on others; the learnt models'
rows are plain held-out errors. Seconds are wall-clock (core.progress.Stopwatch): they grow on a shared machine.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from core.inpainting.masks import MaskedSet, masked_mse
from core.inpainting.pca import PCAInpainter
from core.progress import Stopwatch

METHODS = ("project", "lstsq")  # the two PCA fills (PCAInpainter.inpaint's method)
NAMES = {"project": "PCA projection", "lstsq": "PCA least squares"}
COLUMNS = ("method", "masked_mse", "train_seconds", "fill_seconds")  # a row of `comparison`


@dataclass
class Entry:
    """A learnt model's completions of the scored digits and what they cost."""

    name: str  # the row's label, e.g. "RBM, 200 hidden, k = 100"
    filled: np.ndarray  # (n, 784) completions of ms.X_in (known pixels as given)
    train_seconds: float = 0.0  # training as recorded by its run
    fill_seconds: float = 0.0  # completing every scored digit once


def pca_curves(model: PCAInpainter, ms: MaskedSet, ds: Sequence[int], clock: Stopwatch | None = None) -> dict:
    """{"d": ds, "mse_project": [...], "mse_lstsq": [...]}: the masked MSE on ms's holes of both PCA fills at every
    d (d above the model's components left out). With `clock`, each method's whole sweep is timed under its name."""
    clock = clock if clock is not None else Stopwatch()
    ds = [int(d) for d in ds if int(d) <= model.max_d]
    out: dict = {"d": ds}
    for method in METHODS:
        with clock(method):
            out[f"mse_{method}"] = model.mse_curve(ms, ds, method)
    return out


def best_d(curves: Mapping[str, Sequence], method: str) -> tuple[int, float]:
    """(d, masked MSE) of the method's smallest error in `curves` (the first such d on a tie)."""
    errors = list(curves[f"mse_{method}"])
    i = int(np.argmin(errors))
    return int(curves["d"][i]), float(errors[i])


def gray_mse(ms: MaskedSet) -> float:
    """The masked MSE of the hole as given (gray): what any method must beat."""
    return masked_mse(ms.X_in, ms.X, ms.mask)


def comparison(ms: MaskedSet, curves: Mapping[str, Sequence], pca_seconds: Mapping[str, float],
               learnt: Sequence[Entry]) -> list[dict]:
    """One row {"method", "masked_mse", "train_seconds", "fill_seconds"} per method (see the module docstring).

    pca_seconds: "fit" (the components), and per method the seconds of one fill of every scored digit (its sweep's
    seconds divided by the number of d). The PCA rows take their error from `curves` at the best d; every learnt
    entry is scored here on ms's holes."""
    rows = [{"method": "Gray fill (nothing learnt)", "masked_mse": gray_mse(ms), "train_seconds": 0.0,
             "fill_seconds": 0.0}]
    for method in METHODS:
        d, mse = best_d(curves, method)
        rows.append({"method": f"{NAMES[method]}, best d = {d}", "masked_mse": mse,
                     "train_seconds": float(pca_seconds.get("fit", 0.0)), "fill_seconds": float(pca_seconds.get(method, 0.0))})
    for e in learnt:
        rows.append({"method": e.name, "masked_mse": masked_mse(e.filled, ms.X, ms.mask),
                     "train_seconds": float(e.train_seconds), "fill_seconds": float(e.fill_seconds)})
    return rows
