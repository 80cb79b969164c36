"""The conditional RBM's identities by brute force (core.boltzmann.crbm, exercise sheet 10, exercise 2): every state
(x, y, h) of a model small enough to list, with its energy, and the sums of the sheet done literally

    p(h_k = 1 | x, y)   = sum_h h_k exp(-E(x, y, h)) / sum_h exp(-E(x, y, h))         `brute_hidden`
    p(y_j = 1 | h, x)   = sum_y y_j exp(-E(x, y, h)) / sum_y exp(-E(x, y, h))         `brute_output`
    F(x, y)             = -log sum_h exp(-E(x, y, h))                                 `brute_free_energy`
    p(y | x)            = sum_h exp(-E(x, y, h)) / sum_{y', h} exp(-E(x, y', h))      `brute_p_y_given_x`

so that the closed forms of `CRBM` (hidden_probs, output_bit_probs, free_energy, predict_proba) are checked against
them (tests, and the page's Derivations tab); `tiny_model` draws such a model.
"""
from __future__ import annotations

import numpy as np
import torch

from core.boltzmann.crbm import CRBM, all_binary


def enumerate_states(model: CRBM) -> dict[str, torch.Tensor]:
    """Every (x, y, h) of a tiny model with its energy: X (S, d), Y (S, c), H (S, K), E (S,), S = 2^(d+c+K)."""
    d, c, K = model.W_.shape[0], model.U_.shape[0], model.W_.shape[1]
    if d + c + K > 20:
        raise ValueError(f"2^{d + c + K} states are too many to enumerate (at most 2^20)")
    S = all_binary(d + c + K)
    X, Y, H = S[:, :d], S[:, d:d + c], S[:, d + c:]
    return {"X": X, "Y": Y, "H": H, "E": model.energy(X, Y, H)}


def _rows(A: torch.Tensor, a) -> torch.Tensor:
    return (A == torch.as_tensor(np.asarray(a, np.float64))[None, :]).all(1)


def brute_hidden(model: CRBM, x, y) -> np.ndarray:
    """p(h_k = 1 | x, y) = sum_h h_k exp(-E(x, y, h)) / sum_h exp(-E(x, y, h)), by listing every h."""
    s = enumerate_states(model)
    sel = _rows(s["X"], x) & _rows(s["Y"], y)
    w = torch.softmax(-s["E"][sel], 0)
    return (w[:, None] * s["H"][sel]).sum(0).numpy()


def brute_output(model: CRBM, x, h) -> np.ndarray:
    """p(y_j = 1 | h, x) = sum_y y_j exp(-E(x, y, h)) / sum_y exp(-E(x, y, h)), over all y in {0,1}^c."""
    s = enumerate_states(model)
    sel = _rows(s["X"], x) & _rows(s["H"], h)
    w = torch.softmax(-s["E"][sel], 0)
    return (w[:, None] * s["Y"][sel]).sum(0).numpy()


def brute_free_energy(model: CRBM, x, y) -> float:
    """F(x, y) = -log sum_h exp(-E(x, y, h))."""
    s = enumerate_states(model)
    sel = _rows(s["X"], x) & _rows(s["Y"], y)
    return float(-torch.logsumexp(-s["E"][sel], 0))


def brute_p_y_given_x(model: CRBM, x) -> np.ndarray:
    """p(y | x) for every y in {0,1}^c (rows of all_binary(c)): sum over h of exp(-E), normalised over (y, h)."""
    s = enumerate_states(model)
    sel = _rows(s["X"], x)
    c = model.U_.shape[0]
    ys = all_binary(c)
    logw = torch.stack([torch.logsumexp(-s["E"][sel & _rows(s["Y"], y)], 0) for y in ys])
    return torch.softmax(logw, 0).numpy()


def tiny_model(d: int = 4, c: int = 2, K: int = 3, seed: int = 0, scale: float = 1.0, biases: bool = False) -> CRBM:
    """A random model small enough to enumerate (weights ~ N(0, scale^2); biases 0 unless asked)."""
    rng = np.random.default_rng(seed)
    W, U = rng.normal(0, scale, (d, K)), rng.normal(0, scale, (c, K))
    if not biases:
        return CRBM.from_arrays(W, U)
    return CRBM.from_arrays(W, U, rng.normal(0, scale, d), rng.normal(0, scale, K), rng.normal(0, scale, c))
