"""2-D targets whose density is known exactly: every target is a Gaussian mixture with one shared isotropic width,

    p(x) = sum_k w_k N(x; mu_k, s^2 I),      grad log p(x) = sum_k r_k(x) (mu_k - x) / s^2,
    r_k(x) = w_k N(x; mu_k, s^2 I) / p(x)    (the responsibilities).

The ring of 8 and the 5x5 grid are mixtures of 8 and 25 modes; the single Gaussian has one; the two moons, the swiss
roll and the line segment are mixtures of many narrow Gaussians centred on points along their curves (spaced closer
than their width, so the density is a smooth band, and sampling one centre then adding noise *is* the target's
generative process: the density below is exact, not an estimate). Points a student draws or uploads become the same
kind of target: their kernel density (one Gaussian per point, Scott's bandwidth), after centring and scaling them
into the plane the networks work in (`from_points`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

TARGETS = {  # name -> label
    "ring": "Ring of 8 Gaussians",
    "grid": "5x5 grid of Gaussians",
    "moons": "Two moons",
    "swissroll": "Swiss roll",
    "segment": "Line segment",
    "gaussian": "Single Gaussian",
}
MAX_POINTS = 2000  # drawn or uploaded points kept at most (a seeded subsample beyond)
MIN_POINTS = 5  # fewer points cannot make a target
SPREAD = 1.5  # drawn or uploaded points are scaled so that their largest standard deviation is this


@dataclass
class Mixture:
    """A 2-D Gaussian mixture with one isotropic width `std` (see the module docstring)."""

    name: str  # what the page calls it
    means: np.ndarray  # (K, 2) float64 centres
    std: float  # the width s of every component
    weights: np.ndarray | None = None  # (K,) summing to 1 (None: equal)
    has_modes: bool = False  # separated modes that a mode counter can count (ring, grid, single Gaussian)
    note: str = ""  # how the points were prepared (drawn or uploaded targets)
    _w: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.means = np.asarray(self.means, np.float64).reshape(-1, 2)
        k = len(self.means)
        w = np.full(k, 1.0 / k) if self.weights is None else np.asarray(self.weights, np.float64)
        self._w = w / w.sum()
        self.weights = self._w

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n, 2) float32 points: a component drawn by its weight, plus N(0, s^2 I) noise (all draws from gen)."""
        idx = torch.multinomial(torch.as_tensor(self._w), int(n), replacement=True, generator=gen)
        noise = torch.randn(int(n), 2, generator=gen, dtype=torch.float64)
        return (torch.as_tensor(self.means)[idx] + self.std * noise).float()

    def _log_terms(self, x: torch.Tensor) -> torch.Tensor:
        """(P, K) log w_k + log N(x_p; mu_k, s^2 I), float64."""
        x = torch.as_tensor(np.asarray(x, np.float64) if not isinstance(x, torch.Tensor) else x, dtype=torch.float64)
        d2 = torch.cdist(x.reshape(-1, 2), torch.as_tensor(self.means)).pow(2)
        return torch.log(torch.as_tensor(self._w))[None] - d2 / (2 * self.std ** 2) - math.log(2 * math.pi * self.std ** 2)

    def log_density(self, x) -> np.ndarray:
        """log p(x) of points (P, 2)."""
        return torch.logsumexp(self._log_terms(x), 1).numpy()

    def density(self, x) -> np.ndarray:
        return np.exp(self.log_density(x))

    def score(self, x) -> np.ndarray:
        """grad log p(x) (P, 2) of points (P, 2), in closed form (responsibility-weighted pulls towards the centres)."""
        x = torch.as_tensor(np.asarray(x, np.float64)).reshape(-1, 2)
        r = torch.softmax(self._log_terms(x), 1)  # (P, K)
        return ((r @ torch.as_tensor(self.means) - x) / self.std ** 2).numpy()

    def peak_density(self) -> float:
        """The largest density over the plane, searched on the centres (where a mixture of narrow modes peaks)."""
        return float(self.density(self.means).max())

    def extent(self, margin: float = 0.6) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1): a square around the centres +- 3 widths, plus a margin."""
        lo, hi = self.means.min(0) - 3 * self.std - margin, self.means.max(0) + 3 * self.std + margin
        mid, half = (lo + hi) / 2, float((hi - lo).max()) / 2
        return float(mid[0] - half), float(mid[0] + half), float(mid[1] - half), float(mid[1] + half)


def _curve(points: np.ndarray, std: float, name: str) -> Mixture:
    return Mixture(name, points, std)


def make(name: str) -> Mixture:
    """One of `TARGETS` by name."""
    if name == "ring":
        a = 2 * np.pi * np.arange(8) / 8
        return Mixture(TARGETS[name], 2.0 * np.c_[np.cos(a), np.sin(a)], 0.1, has_modes=True)
    if name == "grid":
        g = np.arange(-2, 3, dtype=np.float64)
        gx, gy = np.meshgrid(g, g)
        return Mixture(TARGETS[name], np.c_[gx.ravel(), gy.ravel()], 0.08, has_modes=True)
    if name == "gaussian":
        return Mixture(TARGETS[name], np.array([[1.0, 0.5]]), 0.4, has_modes=True)
    if name == "moons":
        t = np.linspace(0, np.pi, 150)
        upper = np.c_[np.cos(t), np.sin(t)]
        lower = np.c_[1 - np.cos(t), 0.5 - np.sin(t)]
        pts = (np.r_[upper, lower] - [0.5, 0.25]) * 1.6
        return _curve(pts, 0.1, TARGETS[name])
    if name == "swissroll":
        t = np.linspace(1.5 * np.pi, 4.5 * np.pi, 400)
        pts = np.c_[t * np.cos(t), t * np.sin(t)] / (4.5 * np.pi) * 2.5
        return _curve(pts, 0.08, TARGETS[name])
    if name == "segment":
        t = np.linspace(-1, 1, 120)[:, None]
        return _curve(t * np.array([[2.0, 1.0]]), 0.05, TARGETS[name])
    raise ValueError(f"unknown target {name!r}; choose one of {sorted(TARGETS)}")


def imperfect(t: Mixture, degrees: float = 8.0, scale: float = 1.05, narrow: float = 0.6) -> Mixture:
    """The target with the flaws a trained GAN typically shows, as a mixture of known density: every centre rotated
    by `degrees` about the centres' mean and moved out by `scale`, every width times `narrow` (G squeezes its points
    together), the first component's weight doubled and, with more than one component, the last dropped."""
    a = math.radians(float(degrees))
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    mid = t.means.mean(0)
    w = np.array(t.weights, np.float64)
    w[0] *= 2
    if len(w) > 1:
        w[-1] = 0.0
    return Mixture(f"{t.name}, as a flawed G", mid + scale * (t.means - mid) @ R.T, float(t.std) * float(narrow),
                   w / w.sum(), has_modes=t.has_modes)


def from_points(points, name: str = "your points", seed: int = 0) -> Mixture:
    """The kernel density of drawn or uploaded points (P, 2) as a target: centred, scaled so that the larger standard
    deviation is SPREAD, at most MAX_POINTS (a seeded subsample), one Gaussian of Scott's width n^(-1/6) * SPREAD per
    point. Raises ValueError (one line) for too few points, non-finite values or points that all coincide."""
    P = np.asarray(points, np.float64)
    if P.ndim != 2 or P.shape[1] != 2:
        raise ValueError(f"points must be pairs (x, y); got an array of shape {P.shape}")
    P = P[np.isfinite(P).all(1)]
    if len(P) < MIN_POINTS:
        raise ValueError(f"{len(P)} usable points; at least {MIN_POINTS} are needed")
    notes = []
    if len(P) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(len(P), MAX_POINTS, replace=False))
        notes.append(f"{MAX_POINTS:,} of {len(P):,} points used (a random subsample)")
        P = P[keep]
    sd = P.std(0).max()
    if not sd > 0:
        raise ValueError("all points are the same: there is no spread to learn")
    centre, scale = P.mean(0), SPREAD / sd
    notes.append(f"centred at ({centre[0]:.3g}, {centre[1]:.3g}) and scaled by {scale:.3g}")
    width = SPREAD * len(P) ** (-1 / 6)
    notes.append(f"density: one Gaussian of width {width:.3g} per point (Scott's rule)")
    return Mixture(name, (P - centre) * scale, width, note="; ".join(notes))


def grid(extent: tuple[float, float, float, float], n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs (n,), ys (n,), points (n*n, 2) float32) of an n x n grid over the extent, rows = ys."""
    x0, x1, y0, y1 = extent
    xs, ys = np.linspace(x0, x1, int(n)), np.linspace(y0, y1, int(n))
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
