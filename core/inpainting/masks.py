"""The inpainting exercise's mask process: a 6x6 hole near the centre of a 28x28 digit, set to gray.

The hole covers rows and columns 11-16, shifted by a random offset in -4..4 (each direction
independently, integers, both ends included). Every method is scored by the mean squared error on
the missing pixels only (`masked_mse`), on the same seeded holes of the held-out digits (`masked_held_out`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

PATCH = 6  # side of the square hole
PATCH_START = 11  # first row/column of the unshifted hole (rows and columns 11..16)
MAX_SHIFT = 4  # the hole moves by an integer offset in -MAX_SHIFT..MAX_SHIFT in each direction
FILL = 0.5  # gray value written into the hole
SIDE = 28  # image side the process is defined for


def patch_offsets(n: int, random_state=None) -> np.ndarray:
    """(n, 2) integer offsets (row, column), uniform on -MAX_SHIFT..MAX_SHIFT inclusive."""
    rng = np.random.default_rng(random_state)
    return rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(int(n), 2))


def patch_masks(offsets, side: int = SIDE, size: int = PATCH, start: int = PATCH_START) -> np.ndarray:
    """(n, side*side) bool masks, True on the missing patch: rows start+dy .. start+dy+size-1, same for columns."""
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    if offsets.size and (start + offsets.min() < 0 or start + offsets.max() + size > side):
        raise ValueError(f"offsets {offsets.min()}..{offsets.max()} put the patch outside a {side}x{side} image")
    idx = np.arange(side)
    rows = (idx[None, :] >= start + offsets[:, :1]) & (idx[None, :] < start + offsets[:, :1] + size)  # (n, side)
    cols = (idx[None, :] >= start + offsets[:, 1:]) & (idx[None, :] < start + offsets[:, 1:] + size)
    return (rows[:, :, None] & cols[:, None, :]).reshape(len(offsets), side * side)


def apply_mask(X, mask, fill: float = FILL) -> np.ndarray:
    """A copy of X with the masked pixels set to `fill`; X itself is never modified."""
    X = np.array(X, dtype=np.float32, copy=True)
    X[np.broadcast_to(np.asarray(mask, dtype=bool), X.shape)] = fill
    return X


@dataclass
class MaskedSet:
    """Images, the same images with their hole filled with gray, and the holes."""

    X: np.ndarray  # (n, 784) originals in [0, 1]
    X_in: np.ndarray  # (n, 784) incomplete images (hole = FILL)
    mask: np.ndarray  # (n, 784) bool, True = missing
    offsets: np.ndarray  # (n, 2) (row, column) shift of each hole


def make_masked(X, random_state=0, fill: float = FILL) -> MaskedSet:
    """Holes for every row of X, drawn with a fixed seed (the same seed gives the same holes)."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != SIDE * SIDE:
        raise ValueError(f"the patch process is defined for {SIDE}x{SIDE} images, got {X.shape[1:]} features")
    off = patch_offsets(len(X), random_state)
    mask = patch_masks(off)
    return MaskedSet(X, apply_mask(X, mask, fill), mask, off)


def compose(X_in, X_fill, mask):
    """Known pixels from X_in, missing ones from X_fill (NumPy or torch; gradients reach X_fill on the hole only)."""
    if isinstance(X_in, torch.Tensor):
        return torch.where(mask, X_fill, X_in)
    return np.where(mask, X_fill, X_in).astype(np.float32)

def masked_mse(X_hat, X, mask) -> float:
    """Mean squared error over the missing pixels only, all images pooled (mask: one per image, or one for
    all, broadcast). Raises ValueError when nothing is missing."""
    X_hat, X = np.asarray(X_hat, np.float64), np.asarray(X, np.float64)
    mask = np.broadcast_to(np.asarray(mask, bool), X.shape)
    if not mask.any():
        raise ValueError("the mask has no missing pixel")
    return float(((X_hat - X) ** 2)[mask].mean())


def masked_held_out(data, n: int | None = None, mask_seed: int = 0) -> MaskedSet:
    """The fixed held-out set every method is scored on: the first n test digits with seeded holes."""
    X = data.X_test[: n or len(data.X_test)]
    return make_masked(X, mask_seed)
