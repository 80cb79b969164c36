"""Between two measures on a line: displacement interpolation along the exact plan (McCann), the naive mixture
(1 - t) a + t b, and the entropic barycenter (POT's ot.bregman.barycenter), with the helpers that put moved
mass back on the grid (`deposit`, `smooth`). Plans and costs come from core.transport.plans.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import ot

from core.transport.plans import normalize, one_thread


def deposit(positions: np.ndarray, masses: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Put point masses at arbitrary positions onto the grid x, splitting each between its two
    neighbouring grid points in proportion to closeness (mass preserving; exact on grid points)."""
    pos = np.clip(np.asarray(positions, dtype=np.float64).ravel(), x[0], x[-1])
    m = np.asarray(masses, dtype=np.float64).ravel()
    j = np.clip(np.searchsorted(x, pos, side="right") - 1, 0, len(x) - 2)
    w = (pos - x[j]) / (x[j + 1] - x[j])  # 0 at x[j], 1 at x[j+1]
    out = np.zeros(len(x))
    np.add.at(out, j, m * (1 - w))
    np.add.at(out, j + 1, m * w)
    return out


def smooth(w: np.ndarray, sigma: float) -> np.ndarray:
    """Convolve grid weights with a Gaussian of `sigma` grid steps, each column of the kernel
    normalised so that no mass is lost at the ends. sigma <= 0 returns w unchanged."""
    if sigma <= 1e-9:
        return w
    idx = np.arange(len(w))
    r = int(np.ceil(4 * sigma))
    K = np.exp(-0.5 * ((idx[:, None] - idx[None, :]) / sigma) ** 2) * (np.abs(idx[:, None] - idx[None, :]) <= r)
    return (K / K.sum(0, keepdims=True)) @ w


def displacement_interpolation(x: np.ndarray, P: np.ndarray, t: float, y: np.ndarray | None = None,
                               antialias: bool = True) -> np.ndarray:
    """McCann's interpolant: each bit of mass P_ij travels in a straight line from x_i to y_j;
    at time t it sits at (1 - t) x_i + t y_j. Returned as weights on the grid x.

    In between, those positions fall on a grid twice as fine as x (at t = 1/2, on half-steps), and
    putting them back on x aliases into a zigzag; with antialias the result is smoothed by a
    Gaussian of 1.5 grid steps (measured to bring the roughness back to that of smooth inputs),
    ramped down to none at t = 0 and 1, so the ends are a and b exactly."""
    y = x if y is None else y
    i, j = np.nonzero(P > 0)
    out = deposit((1 - t) * x[i] + t * y[j], P[i, j], x)
    return smooth(out, 1.5 * min(1.0, 10 * min(t, 1 - t))) if antialias else out


def mixture_interpolation(a, b, t: float) -> np.ndarray:
    """The naive (vertical) interpolation (1 - t) a + t b: mass fades out and in, never moves."""
    return (1 - t) * np.asarray(a, dtype=np.float64) + t * np.asarray(b, dtype=np.float64)


@dataclass
class Barycenter:
    weights: np.ndarray  # the barycenter on the grid
    method: str  # the POT solver used
    iterations: int
    note: str = ""


def entropic_barycenter(a, b, M, t: float, lam: float) -> Barycenter:
    """argmin_q (1 - t) W_lambda(q, a) + t W_lambda(q, b) by POT's ot.bregman.barycenter (reg = 1/lambda).

    Plain Sinkhorn first; where it under/overflows (NaN, lost mass) the log-domain solver."""
    A = np.vstack([normalize(a), normalize(b)]).T  # (n, 2)
    A = np.maximum(A, 1e-300)  # the log-domain solver takes log(A)
    A /= A.sum(0, keepdims=True)
    w = np.array([1 - t, t], dtype=np.float64)
    reg = 1.0 / lam
    for method, itmax in (("sinkhorn", 5000), ("sinkhorn_log", 2000)):
        with warnings.catch_warnings(record=True) as caught, one_thread(), np.errstate(all="ignore"):
            warnings.simplefilter("always")
            q, log = ot.bregman.barycenter(A, M, reg, weights=w, method=method, numItermax=itmax, stopThr=1e-7,
                                           log=True)
        if np.all(np.isfinite(q)) and abs(q.sum() - 1) < 1e-3:
            note = "" if method == "sinkhorn" else "plain Sinkhorn underflowed; log-domain solver used"
            if any("converge" in str(c.message) for c in caught):
                note = (note + "; " if note else "") + "not fully converged"
            return Barycenter(q / q.sum(), method, int(log.get("niter", 0)), note)
    raise FloatingPointError("the entropic barycenter could not be computed at this lambda")
