"""Discrete optimal transport with POT: 1-D measures, exact plans, Sinkhorn over lambda (interpolation between
two measures: core.transport.interpolation).

Every plan is computed by POT (`import ot`); this module only prepares the measures and costs,
chooses a numerically safe solver, and measures the result.

Notation follows the handout: measures r (supplies, a) and k (demands, b), cost matrix M, plan P
with P 1 = r and P^T 1 = k, transport cost <P, M>, entropy h(P) = -sum P log P, and the entropic
cost d_M^lambda(r, k) = <P_lambda, M> - h(P_lambda) / lambda.  POT's ``reg`` is 1 / lambda.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import ot
from threadpoolctl import threadpool_limits


def one_thread():
    """Sinkhorn's matrix-vector products are memory-bound: several BLAS threads on a busy 2-core
    machine only fight each other (10x slower measured), so the solvers run on one."""
    return threadpool_limits(limits=1, user_api="blas")


# ----------------------------------------------------------------------------- Measures and costs


@dataclass(frozen=True)
class Mixture1D:
    """A Gaussian mixture on the line (weights need not sum to one)."""
    means: tuple[float, ...] = (0.25, 0.6)  # component centres, in [0, 1]
    stds: tuple[float, ...] = (0.05, 0.08)  # component widths
    weights: tuple[float, ...] = (0.5, 0.5)  # relative masses


def grid(n: int = 200, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """n equally spaced support points on [lo, hi]."""
    return np.linspace(lo, hi, int(n))


def normalize(w) -> np.ndarray:
    """Non-negative weights scaled to total mass one (float64)."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("a measure needs a non-empty 1-D vector of weights")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    s = w.sum()
    if s <= 0:
        raise ValueError("a measure needs some positive mass")
    return w / s


def mixture(x: np.ndarray, mix: Mixture1D) -> np.ndarray:
    """The mixture's density at the grid points x, as weights of total mass one."""
    x = np.asarray(x, dtype=np.float64)
    d = np.zeros_like(x)
    for m, s, w in zip(mix.means, mix.stds, mix.weights):
        s = max(float(s), 1e-6)
        d += float(w) * np.exp(-0.5 * ((x - m) / s) ** 2) / s
    return normalize(d)


def piecewise_linear(x: np.ndarray, knots, heights) -> np.ndarray:
    """A hand-drawn density: heights at knots joined by straight lines (zero outside), as weights
    on the grid x of total mass one. Raises ValueError on negative, missing or all-zero heights."""
    k = np.asarray(knots, dtype=np.float64).ravel()
    h = np.asarray(heights, dtype=np.float64).ravel()
    if k.size != h.size or k.size < 2:
        raise ValueError("a drawn measure needs at least two (position, height) points")
    if not (np.all(np.isfinite(k)) and np.all(np.isfinite(h))):
        raise ValueError("a position or height is empty or not a number")
    if np.any(h < 0):
        raise ValueError("heights must be non-negative")
    order = np.argsort(k, kind="stable")
    return normalize(np.interp(np.asarray(x, dtype=np.float64), k[order], h[order], left=0.0, right=0.0))


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)", re.IGNORECASE)


def parse_values(text: str, max_values: int = 1_000_000) -> np.ndarray:
    """Numbers from free text (commas, spaces, new lines, a CSV column...). Raises ValueError."""
    if text is None or not str(text).strip():
        raise ValueError("no values given")
    vals = np.array([float(t) for t in _NUMBER.findall(str(text))[: max_values + 1]], dtype=np.float64)
    if vals.size == 0:
        raise ValueError("no numbers found in the values")
    if vals.size > max_values:
        raise ValueError(f"too many values (more than {max_values:,})")
    vals = vals[np.isfinite(vals)]
    if vals.size < 2:
        raise ValueError("at least two finite numbers are needed")
    return vals


def histogram(values, x: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
    """Samples -> weights on the grid x, smoothed by a Gaussian kernel (Scott's rule by default).

    Values outside the grid's range are clipped to its ends (the page says so)."""
    v = np.clip(np.asarray(values, dtype=np.float64), x[0], x[-1])
    if bandwidth is None:
        sd = v.std() if v.size > 1 else 0.0
        bandwidth = 1.06 * (sd if sd > 0 else (x[-1] - x[0]) / 20) * v.size ** (-1 / 5)
    bandwidth = max(float(bandwidth), 1.5 * (x[1] - x[0]))
    counts, _ = np.histogram(v, bins=np.r_[x[0] - 0.5 * (x[1] - x[0]), 0.5 * (x[1:] + x[:-1]), x[-1] + 0.5 * (x[1] - x[0])])
    kern = np.exp(-0.5 * ((x[:, None] - x[None, :]) / bandwidth) ** 2)
    return normalize(kern @ counts.astype(np.float64))


@dataclass(frozen=True)
class Drawn:
    """A hand-drawn density: heights at positions, joined by straight lines (see `piecewise_linear`)."""
    positions: tuple[float, ...]
    heights: tuple[float, ...]

    def __post_init__(self):  # fail early, with the reason, on a table that cannot make a density
        piecewise_linear(np.linspace(min(self.positions, default=0.0), max(self.positions, default=1.0), 50),
                         self.positions, self.heights)


def measures_on_grid(specs: dict, n: int = 200) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """Several 1-D measures on one grid of n points: each spec is a Mixture1D, a Drawn density or an array of
    values (smoothed by `histogram`). The grid covers [0, 1] and every drawn position or value, with 5% margins.
    Returns (x, {name: weights}, notes)."""
    ends = [np.asarray(v, float) for v in specs.values() if isinstance(v, np.ndarray)]
    ends += [np.asarray(v.positions, float) for v in specs.values() if isinstance(v, Drawn)]
    lo, hi = 0.0, 1.0
    if ends:
        allv = np.concatenate(ends)
        lo, hi = min(lo, float(allv.min())), max(hi, float(allv.max()))
        pad = 0.05 * (hi - lo)
        lo, hi = lo - pad, hi + pad
    x = grid(n, lo, hi)
    out, notes = {}, []
    for name, spec in specs.items():
        if isinstance(spec, Drawn):
            out[name] = piecewise_linear(x, spec.positions, spec.heights)
        elif isinstance(spec, np.ndarray):
            out[name] = histogram(spec, x)
            notes.append(f"{name}: {len(spec)} values, smoothed by a Gaussian kernel (Scott's rule)")
        else:
            out[name] = mixture(x, spec)
    return x, out, notes


def random_clouds(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two clouds of n points in the plane: uniform on [0, 1]^2 and on [0.2, 1]^2, each sorted by x (so that a
    plan's heatmap shows some order)."""
    rng = np.random.default_rng(seed)
    P1, P2 = rng.random((n, 2)), rng.random((n, 2)) * 0.8 + 0.2
    return P1[np.argsort(P1[:, 0])], P2[np.argsort(P2[:, 0])]


def cost_matrix(xs: np.ndarray, xt: np.ndarray | None = None, metric: str = "sqeuclidean",
                scale: bool = True) -> np.ndarray:
    """Pairwise costs between support points (rows: source, columns: target), by POT's ot.dist.

    With scale=True the matrix is divided by its maximum, so costs lie in [0, 1] and a given
    lambda means the same thing whatever the units."""
    xs = np.asarray(xs, dtype=np.float64)
    xs = xs[:, None] if xs.ndim == 1 else xs
    xt = xs if xt is None else np.asarray(xt, dtype=np.float64)
    xt = xt[:, None] if xt.ndim == 1 else xt
    M = ot.dist(xs, xt, metric=metric)
    if scale and M.max() > 0:
        M = M / M.max()
    return M


def entropy(P: np.ndarray) -> float:
    """h(P) = -sum_ij P_ij log P_ij (0 log 0 = 0)."""
    P = np.asarray(P, dtype=np.float64)
    nz = P[P > 0]
    return float(-(nz * np.log(nz)).sum())


def plan_cost(P: np.ndarray, M: np.ndarray) -> float:
    """<P, M> = sum_ij P_ij M_ij: the cost of shipping by plan P at costs M (the transport cost)."""
    return float((np.asarray(P, dtype=np.float64) * np.asarray(M, dtype=np.float64)).sum())


def routes_used(P: np.ndarray, rel: float = 1e-12) -> int:
    """Entries of P that carry mass: above `rel` times its largest entry (the solver's zeros are not exact)."""
    P = np.asarray(P, dtype=np.float64)
    return int((P > rel * P.max()).sum()) if P.size else 0


def mean(x: np.ndarray, w: np.ndarray) -> float:
    """The mean sum_i w_i x_i of a measure with weights w (summing to 1) on points x."""
    return float(np.dot(np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)))


def marginal_error(P: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """||P 1 - a||_1 + ||P^T 1 - b||_1."""
    return float(np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum())


# ----------------------------------------------------------------------------- Exact transport


def exact_plan(a, b, M) -> np.ndarray:
    """The optimal plan of min <P, M> s.t. P 1 = a, P^T 1 = b (POT's network simplex, ot.emd)."""
    a, b = normalize(a), normalize(b)
    with one_thread():
        return ot.emd(a, b, np.ascontiguousarray(M, dtype=np.float64), numItermax=10_000_000)


def exact_cost(a, b, M) -> float:
    """d_M(a, b) = min <P, M> over plans with marginals a, b (= POT's ot.emd2)."""
    return plan_cost(exact_plan(a, b, M), M)


@dataclass
class Assignment:
    r: np.ndarray  # supplies actually used (balanced)
    k: np.ndarray  # demands actually used (balanced)
    M: np.ndarray  # cost matrix
    plan: np.ndarray  # optimal plan, shape (len(r), len(k))
    cost: float  # d_M(r, k) = <plan, M>
    notes: list[str] = field(default_factory=list)  # what was changed in the input, in words


def balance(r, k) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Supplies and demands with equal totals: demands are rescaled to the supplies' total."""
    r = np.asarray(r, dtype=np.float64).ravel()
    k = np.asarray(k, dtype=np.float64).ravel()
    notes = []
    for name, v in (("supplies", r), ("demands", k)):
        if v.size == 0:
            raise ValueError(f"there are no {name}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"the {name} contain an empty or non-numeric cell")
        if np.any(v < 0):
            raise ValueError(f"the {name} must be non-negative")
        if v.sum() <= 0:
            raise ValueError(f"the {name} must have a positive total")
    if not np.isclose(r.sum(), k.sum(), rtol=1e-9, atol=0):
        notes.append(f"Total supply {r.sum():g} ≠ total demand {k.sum():g}: the demands were scaled by "
                     f"{r.sum() / k.sum():.4g} so that they balance.")
        k = k * (r.sum() / k.sum())
    return r, k, notes


def assignment(r, k, M) -> Assignment:
    """The factories-and-stores problem: ship supplies r to demands k at least total cost M."""
    r, k, notes = balance(r, k)
    M = np.asarray(M, dtype=np.float64)
    if M.shape != (r.size, k.size):
        raise ValueError(f"the cost matrix is {M.shape[0]}x{M.shape[1]} but there are {r.size} supplies "
                         f"and {k.size} demands")
    if not np.all(np.isfinite(M)):
        raise ValueError("the cost matrix contains an empty or non-numeric cell")
    P = exact_plan(r, k, M) * r.sum()  # balanced: r.sum() == k.sum()
    return Assignment(r, k, M, P, plan_cost(P, M), notes)


def random_problem(n_factories: int = 5, n_stores: int = 7, seed: int = 0):
    """Factories and stores at random places in the unit square, with random supplies/demands.

    Returns (factory_xy, store_xy, supplies, demands); supplies and demands are whole units with
    equal totals."""
    rng = np.random.default_rng(seed)
    fx = rng.random((n_factories, 2))
    sx = rng.random((n_stores, 2))
    r = rng.integers(1, 10, n_factories).astype(np.float64)
    total = int(r.sum())
    # demands: a random composition of the same total into n_stores positive parts when possible
    if total >= n_stores:
        cuts = np.sort(rng.choice(np.arange(1, total), n_stores - 1, replace=False))
        k = np.diff(np.r_[0, cuts, total]).astype(np.float64)
    else:
        k = np.full(n_stores, total / n_stores)
    return fx, sx, r, k


# ----------------------------------------------------------------------------- Sinkhorn over lambda

PLAIN_MAX_RATIO = 200.0  # plain Sinkhorn while max(M) * lambda <= this (exp(-200) is still a normal float)
STABILIZED_MAX_RATIO = 2000.0  # log-stabilised Sinkhorn up to here, epsilon scaling beyond
SOLVER_NAMES = {"sinkhorn": "plain Sinkhorn", "sinkhorn_stabilized": "log-stabilised Sinkhorn",
                "sinkhorn_epsilon_scaling": "log-stabilised Sinkhorn with ε-scaling",
                "sinkhorn_log": "log-domain Sinkhorn"}


@dataclass
class SinkhornResult:
    lam: float  # lambda of the handout
    reg: float  # POT's reg = 1 / lambda
    plan: np.ndarray  # P_lambda
    cost: float  # <P, M>
    entropy: float  # h(P)
    objective: float  # d_M^lambda = <P, M> - h(P) / lambda
    method: str  # POT method actually used
    iterations: int  # Sinkhorn iterations (epsilon scaling: outer rounds)
    marginal_error: float  # ||P 1 - a||_1 + ||P^T 1 - b||_1
    converged: bool
    notes: list[str] = field(default_factory=list)

    @property
    def solver(self) -> str:
        return SOLVER_NAMES.get(self.method, self.method)

    def row(self) -> dict:
        """The scalars of this solve, for a table over lambda."""
        return {"lambda": float(self.lam), "reg": self.reg, "cost": self.cost, "entropy": self.entropy,
                "objective": self.objective, "iterations": self.iterations, "solver": self.solver,
                "marginal_error": self.marginal_error}


def choose_method(M: np.ndarray, lam: float) -> str:
    """The cheapest POT solver that cannot underflow at this lambda."""
    ratio = float(np.max(M)) * lam
    if ratio <= PLAIN_MAX_RATIO:
        return "sinkhorn"
    if ratio <= STABILIZED_MAX_RATIO:
        return "sinkhorn_stabilized"
    return "sinkhorn_epsilon_scaling"


def _run(a, b, M, reg, method, max_iter, tol):
    kw = dict(numItermax=max_iter, stopThr=tol, log=True)
    if method == "sinkhorn_epsilon_scaling":
        kw.update(numItermax=100, numInnerItermax=100)
    with warnings.catch_warnings(record=True) as caught, one_thread():
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            P, log = ot.sinkhorn(a, b, M, reg, method=method, **kw)
    its = int(log.get("niter", log.get("n_iter", 0)) or 0)
    return np.asarray(P, dtype=np.float64), its, [str(c.message) for c in caught]


def sinkhorn(a, b, M, lam: float, max_iter: int = 10_000, tol: float = 1e-9, tolerance: float = 1e-3,
             method: str | None = None) -> SinkhornResult:
    """The entropic plan P_lambda = argmin <P, M> - h(P) / lambda, by POT's ot.sinkhorn with reg = 1/lambda.

    The solver is chosen from max(M) * lambda (plain, then log-stabilised, then epsilon scaling);
    if a solver still returns NaN/inf or loses mass, the next (more stable) one is tried, ending with
    the log-domain solver: the result is always finite. `converged` is False when the marginals are
    off by more than `tolerance` (L1)."""
    if not (lam > 0 and np.isfinite(lam)):
        raise ValueError("lambda must be a positive number")
    a, b = normalize(a), normalize(b)
    M = np.ascontiguousarray(M, dtype=np.float64)
    first = method or choose_method(M, lam)
    order = ["sinkhorn", "sinkhorn_stabilized", "sinkhorn_epsilon_scaling", "sinkhorn_log"]
    chain = [first] + order[order.index(first) + 1:] if first in order else [first, "sinkhorn_log"]
    notes: list[str] = []
    reg = 1.0 / lam
    for k, meth in enumerate(chain):
        P, its, msgs = _run(a, b, M, reg, meth, max_iter if meth != "sinkhorn_log" else min(max_iter, 3000), tol)
        finite = bool(np.all(np.isfinite(P))) and P.sum() > 0.5
        if finite:
            err = marginal_error(P, a, b)
            if err < 0.5 or k == len(chain) - 1:
                break
        notes.append(f"{SOLVER_NAMES.get(meth, meth)} failed numerically at λ = {lam:g}; switched to a more stable solver")
    else:  # pragma: no cover - the log-domain solver does not produce NaN
        raise FloatingPointError(f"no Sinkhorn solver gave a finite plan at lambda = {lam:g}")
    converged = err <= tolerance
    if meth in ("sinkhorn", "sinkhorn_stabilized") and its >= max_iter - 1:
        notes.append(f"iteration limit ({max_iter:,}) reached before the stopping threshold {tol:g}")
    if not converged:
        notes.append(f"not converged: marginals off by {err:.2g} (L1)")
    cost = plan_cost(P, M)
    h = entropy(P)
    return SinkhornResult(lam, reg, P, cost, h, cost - h / lam, meth, its, err, converged, notes)


def sinkhorn_sweep(a, b, M, lams) -> list[dict]:
    """One row per lambda: cost, entropy, entropic cost, iterations, solver, marginal error."""
    return [sinkhorn(a, b, M, float(lam)).row() for lam in lams]


# 1-2-5 steps from 0.1 to 10,000 (the slider's values): from the uniform plan to within 1% of the exact cost
LAMBDAS = [float(f"{s}e{e}") for e in range(-1, 4) for s in (1, 2, 5)] + [10_000.0]
