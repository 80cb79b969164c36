"""The toy problems of the mixture-density lab, and their Bayes limit computed from the exact conditional.

Generating process of both problems: x ~ U(lo, hi), t = g(x) + e, with

    bishop:   g(x) = x + 0.3 sin(2 pi x),     x in [0, 1],          e ~ U(-w, w),   w = 0.1   (Bishop 1994)
    sinusoid: g(x) = 7 sin(0.75 x) + 0.5 x,   x in [-10.5, 10.5],   e ~ N(0, w^2),  w = 1

The *forward* problem predicts t from x (one branch); the *inverse* problem predicts x from t, which has up
to three branches. The exact conditional of the inverse problem is

    p(x | t) = k(t - g(x)) / ((hi - lo) p(t)),    p(t) = 1/(hi - lo) * integral_lo^hi k(t - g(x)) dx,

k the noise density: for uniform noise p(x | t) is uniform on the x-intervals where |g(x) - t| <= w (the
branches' intervals). The Bayes limit is the smallest expected held-out negative log-likelihood,

    inverse:  E[-log p(x | t)] = log(hi - lo) + H(e) - H(t),        forward:  E[-log p(t | x)] = H(e),

with H(e) in closed form and the entropy of the marginal H(t) = -integral p(t) log p(t) dt computed
numerically (p(t) from a fine midpoint grid of x, the integral by the trapezoid rule). `bayes_nll_mc` is an
independent Monte-Carlo estimate of the same number (the tests compare the two).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DIRECTIONS = ("inverse", "forward")


@dataclass(frozen=True)
class Problem:
    """A generating process x ~ U(lo, hi), t = g(x) + noise."""

    name: str
    title: str
    lo: float
    hi: float
    noise: str  # "uniform": e ~ U(-w, w); "gaussian": e ~ N(0, w^2)
    width: float  # the default w
    widths: tuple  # the noise widths a page offers
    formula: str  # g(x) in LaTeX

    def g(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.name == "bishop":
            return x + 0.3 * np.sin(2 * np.pi * x)
        return 7.0 * np.sin(0.75 * x) + 0.5 * x

    def noise_density(self, e: np.ndarray, width: float) -> np.ndarray:
        """k(e): the noise's density."""
        e = np.asarray(e, dtype=np.float64)
        if self.noise == "uniform":
            return (np.abs(e) <= width) / (2.0 * width)
        return np.exp(-0.5 * (e / width) ** 2) / (math.sqrt(2 * math.pi) * width)

    def noise_entropy(self, width: float) -> float:
        """H(e) in nats."""
        if self.noise == "uniform":
            return math.log(2.0 * width)
        return 0.5 * math.log(2 * math.pi * math.e * width ** 2)

    def noise_words(self, width: float) -> str:
        return f"U(−{width:g}, {width:g})" if self.noise == "uniform" else f"N(0, {width:g}²)"


PROBLEMS = {
    "bishop": Problem("bishop", "Bishop's inverse problem", 0.0, 1.0, "uniform", 0.1,
                      (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3), r"x + 0.3\sin(2\pi x)"),
    "sinusoid": Problem("sinusoid", "A noisy sinusoid of larger range", -10.5, 10.5, "gaussian", 1.0,
                        (0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 3.0), r"7\sin(0.75x) + 0.5x"),
}


def problem(name: str) -> Problem:
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose one of {sorted(PROBLEMS)}")
    return PROBLEMS[name]


def sample(name: str, n: int, width: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n draws (x, t) of the generating process, float64, reproducible from `seed`."""
    p = problem(name)
    rng = np.random.default_rng(seed)
    x = rng.uniform(p.lo, p.hi, int(n))
    e = rng.uniform(-width, width, int(n)) if p.noise == "uniform" else rng.normal(0.0, width, int(n))
    return x, p.g(x) + e


# ----------------------------------------------------------------------------- data as the models see it

@dataclass
class XYData:
    """Training and held-out pairs: inputs (n, d) and targets (n, c), float64, with names for the axes."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    input_name: str = "input"
    target_name: str = "target"
    title: str = ""
    note: str = ""

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.x_train, self.t_train, self.x_test, self.t_test


def toy_data(name: str, direction: str, n_train: int, n_test: int, width: float, seed: int) -> XYData:
    """The problem's pairs; inverse: input t, target x (the multi-valued direction); forward: input x, target t.
    Training and held-out draws come from independent streams of the same seed."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    p = problem(name)
    xa, ta = sample(name, n_train, width, seed)
    xb, tb = sample(name, n_test, width, seed + 1_000_003)
    col = lambda a: a.reshape(-1, 1)  # noqa: E731
    if direction == "inverse":
        return XYData(col(ta), col(xa), col(tb), col(xb), "t", "x", f"{p.title} (inverse: x from t)")
    return XYData(col(xa), col(ta), col(xb), col(tb), "x", "t", f"{p.title} (forward: t from x)")


def split_columns(a: np.ndarray, b: np.ndarray, test_fraction: float, seed: int, names=("input", "target"),
                  title: str = "") -> XYData:
    """Two columns (input a, target b) split at random into training and held-out rows."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 1), np.asarray(b, dtype=np.float64).reshape(-1, 1)
    n = len(a)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = min(n - 1, max(1, int(round(test_fraction * n))))
    te, tr = perm[:n_test], perm[n_test:]
    return XYData(a[tr], b[tr], a[te], b[te], names[0], names[1], title)


# ----------------------------------------------------------------------------- the exact conditional, the Bayes limit

N_GRID = 200_000  # midpoints of x for p(t)
N_T = 4001  # points of t for the entropy integral


def _x_grid(p: Problem, n: int = N_GRID) -> np.ndarray:
    return p.lo + (np.arange(n) + 0.5) * (p.hi - p.lo) / n


def marginal_density(name: str, width: float, t: np.ndarray, n_grid: int = N_GRID) -> np.ndarray:
    """p(t) = mean over a midpoint grid of x of k(t - g(x)) (the midpoint rule for the integral over x).

    Uniform noise: the fraction of grid points with |g(x) - t| <= w, over 2w (sorted g, two binary searches)."""
    p = problem(name)
    t = np.asarray(t, dtype=np.float64)
    gx = p.g(_x_grid(p, n_grid))
    if p.noise == "uniform":
        gs = np.sort(gx)
        inside = np.searchsorted(gs, t + width, "right") - np.searchsorted(gs, t - width, "left")
        return inside / n_grid / (2.0 * width)
    slope = float(np.abs(np.diff(gx)).max()) * n_grid  # ~ max |g'| (hi - lo)
    n = int(min(n_grid, max(1000, 20 * slope / width)))  # a smooth kernel: grid steps of g below width / 20
    gs = p.g(_x_grid(p, n))
    out = np.empty(t.shape)
    flat, res = t.ravel(), out.ravel()
    for s in range(0, len(flat), 256):
        res[s:s + 256] = p.noise_density(flat[s:s + 256, None] - gs[None, :], width).mean(1)
    return out


def t_range(name: str, width: float) -> tuple[float, float]:
    """Where p(t) > 0 (uniform noise) or is above 1e-15 of its scale (8 widths beyond g's range)."""
    p = problem(name)
    gx = p.g(_x_grid(p, 20_000))
    pad = width if p.noise == "uniform" else 8.0 * width
    return float(gx.min() - pad), float(gx.max() + pad)


def conditional_density(name: str, width: float, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The exact p(x | t) on a grid: (len(t), len(x)); zero outside [lo, hi]."""
    p = problem(name)
    t, x = np.asarray(t, np.float64), np.asarray(x, np.float64)
    pt = marginal_density(name, width, t)
    joint = p.noise_density(t[:, None] - p.g(x)[None, :], width) / (p.hi - p.lo)
    joint *= ((x >= p.lo) & (x <= p.hi))[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pt[:, None] > 0, joint / pt[:, None], 0.0)


def exact_conditional(name: str, direction: str, width: float, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """p(target | input) of the generating process on a grid, (len(targets), len(inputs)) (a page's heatmap)."""
    p = problem(name)
    if direction == "forward":
        return p.noise_density(np.asarray(targets, np.float64)[:, None] - p.g(inputs)[None, :], width)
    return conditional_density(name, width, inputs, targets).T


def entropy_of_t(name: str, width: float, n_t: int = N_T) -> float:
    """H(t) = -integral p(t) log p(t) dt (trapezoid rule over t's support)."""
    a, b = t_range(name, width)
    t = np.linspace(a, b, n_t)
    pt = marginal_density(name, width, t)
    f = np.where(pt > 0, -pt * np.log(np.where(pt > 0, pt, 1.0)), 0.0)
    return float(np.sum((f[1:] + f[:-1]) * np.diff(t)) / 2)


def bayes_nll(name: str, direction: str, width: float) -> float:
    """The Bayes limit: the expected held-out NLL (nats per point) of the exact conditional."""
    p = problem(name)
    if direction == "forward":
        return p.noise_entropy(width)
    if direction != "inverse":
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    return math.log(p.hi - p.lo) + p.noise_entropy(width) - entropy_of_t(name, width)


def references(name: str, direction: str, width: float) -> dict[str, float]:
    """Expected held-out NLLs of three ideal predictors built from the exact conditional p(target | input):

    "bayes": the conditional itself; "gaussian": the best single Gaussian per input (its mean and variance
    m(input), v(input) matched to the conditional's: E[log 2 pi e v]/2); "least_squares": the conditional
    average with one width for all inputs (log(2 pi e E[v])/2, what least squares can reach at best)."""
    p = problem(name)
    bayes = bayes_nll(name, direction, width)
    if direction == "forward":
        var = width ** 2 / 3 if p.noise == "uniform" else width ** 2
        best = 0.5 * math.log(2 * math.pi * math.e * var)
        return {"bayes": bayes, "gaussian": best, "least_squares": best}
    a, b = t_range(name, width)
    t, x = np.linspace(a, b, 2001), _x_grid(p, 20_000)
    pt = marginal_density(name, width, t)
    mean, var = np.zeros(len(t)), np.zeros(len(t))
    for s in range(0, len(t), 100):
        k = p.noise_density(t[s:s + 100, None] - p.g(x)[None, :], width)  # (100, n_x) ~ p(x | t) on the grid
        z = np.maximum(k.sum(1), 1e-300)
        mean[s:s + 100] = (k * x).sum(1) / z
        var[s:s + 100] = np.maximum((k * x * x).sum(1) / z - mean[s:s + 100] ** 2, 1e-300)
    integral = lambda f: float(np.sum((f[1:] + f[:-1]) * np.diff(t)) / 2)  # noqa: E731
    return {"bayes": bayes, "gaussian": integral(pt * 0.5 * np.log(2 * math.pi * math.e * var)),
            "least_squares": 0.5 * math.log(2 * math.pi * math.e * integral(pt * var))}


def bayes_nll_mc(name: str, width: float, n: int = 4000, n_inner: int = 20_000, seed: int = 0) -> tuple[float, float]:
    """Monte-Carlo estimate of the inverse problem's Bayes limit and its standard error.

    Draw (x_i, t_i); -log p(x_i|t_i) = log(hi - lo) - log k(t_i - g(x_i)) + log p(t_i), with p(t_i) estimated
    by its own average of k(t_i - g(x_j)) over n_inner fresh draws x_j ~ U(lo, hi) (no grid, no quadrature).
    """
    p = problem(name)
    rng = np.random.default_rng(seed)
    x, t = sample(name, n, width, seed)
    xs = rng.uniform(p.lo, p.hi, n_inner)
    gs = p.g(xs)
    pt = np.empty(n)
    for s in range(0, n, 200):
        pt[s:s + 200] = p.noise_density(t[s:s + 200, None] - gs[None, :], width).mean(1)
    nll = math.log(p.hi - p.lo) - np.log(p.noise_density(t - p.g(x), width)) + np.log(pt)
    return float(nll.mean()), float(nll.std(ddof=1) / math.sqrt(n))
