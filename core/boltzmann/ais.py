"""Annealed importance sampling (AIS) of the partition function of RBMs and two-layer DBMs.

Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks". AIS moves
`n_runs` independent chains from a tractable base model p_0 (beta = 0) to the model p_1 (beta = 1)
through intermediate models p_beta, and accumulates importance weights

    log w = sum_k [ log p*_{beta_k}(x_{k-1}) - log p*_{beta_{k-1}}(x_{k-1}) ],   x_k ~ T_{beta_k}(. | x_{k-1}),

whose mean estimates Z_1 / Z_0 without bias (its log is a stochastic lower bound of log Z on average).

RBM (state v, hiddens summed out): the base model is the "base-rate" RBM with zero weights and
visible biases b_A = logit of the data's (smoothed) pixel means, so p_0 is the independent-pixel
model of the data. With x = W v + c,

    log p*_beta(v) = (1 - beta) b_A.v + beta b.v + sum_i softplus(beta x_i),
    log Z_0       = n_h log 2 + sum_j softplus(b_A_j).

DBM v - h1 - h2 (state h1, v and h2 summed out): the base model has zero weights, visible biases
b_A and zero hidden biases; with a = b + W1^T h1 and t = c2 + W2 h1,

    log p*_beta(h1) = beta c1.h1 + sum_j softplus((1 - beta) b_A_j + beta a_j) + sum_k softplus(beta t_k),
    log Z_0        = (n1 + n2) log 2 + sum_j softplus(b_A_j).

The transitions are Gibbs steps of p_beta (RBM: h | v then v | h; DBM: v, h2 | h1 then h1 | v, h2).
Products run in float32; the log weights are accumulated in float64 from the float32
pre-activations (their rounding enters multiplied by beta_k - beta_{k-1}, so it stays negligible).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.device import pick_device, torch_threads

DEFAULT_BETAS = 14_500  # Salakhutdinov & Murray: 500 in [0, .5), 4,000 in [.5, .9), 10,000 in [.9, 1]
DEFAULT_RUNS = 100


@dataclass
class AISResult:
    log_z: float  # estimate of log Z: log Z_0 + log mean(w)
    log_z_low: float  # log(mean(w) - 3 standard errors) + log Z_0 (-inf when the band reaches 0)
    log_z_high: float  # log(mean(w) + 3 standard errors) + log Z_0
    log_z_base: float  # log Z_0 of the base model
    log_weights: np.ndarray  # (n_runs,) log importance weights
    n_betas: int  # intermediate distributions, including beta = 0 and 1
    seconds: float  # wall-clock time of the annealing

    @property
    def n_runs(self) -> int:
        return len(self.log_weights)

    @property
    def ess(self) -> float:
        """Effective sample size of the importance weights, in [1, n_runs]."""
        lw = self.log_weights - self.log_weights.max()
        w = np.exp(lw)
        return float(w.sum() ** 2 / (w ** 2).sum())

    @property
    def width(self) -> float:
        """Width of the band in nats (inf when its lower end reaches 0)."""
        return self.log_z_high - self.log_z_low

    def log_likelihood(self, unnormalized_log_prob) -> tuple[float, float, float]:
        """(estimate, low, high) of mean log p(v) = mean log p*(v) - log Z; note that low uses log_z_high."""
        m = float(np.mean(np.asarray(unnormalized_log_prob, dtype=np.float64)))
        return m - self.log_z, m - self.log_z_high, m - self.log_z_low

    def as_dict(self) -> dict:
        return {"log_z": self.log_z, "log_z_low": self.log_z_low, "log_z_high": self.log_z_high,
                "log_z_base": self.log_z_base, "n_runs": self.n_runs, "n_betas": self.n_betas,
                "seconds": self.seconds, "ess": self.ess}


def betas_schedule(n: int = DEFAULT_BETAS) -> np.ndarray:
    """n inverse temperatures from 0 to 1, spaced as Salakhutdinov & Murray (500/4,000/10,000 of 14,500
    in [0, .5), [.5, .9), [.9, 1]): finer where the distributions change fastest."""
    n = int(n)
    if n < 2:
        raise ValueError("AIS needs at least 2 betas (0 and 1)")
    n1 = max(1, round(n * 500 / 14_500))
    n2 = max(1, round(n * 4_000 / 14_500))
    n3 = n - n1 - n2
    if n3 < 1:
        return np.linspace(0.0, 1.0, n)
    return np.concatenate([np.linspace(0.0, 0.5, n1, endpoint=False), np.linspace(0.5, 0.9, n2, endpoint=False),
                           np.linspace(0.9, 1.0, n3)])


def base_rate_biases(X, pseudo_count: float = 0.05) -> np.ndarray:
    """Visible biases of the base-rate model: logit of the pixel means of X, smoothed by `pseudo_count`
    examples' worth of 0.5 on both sides (so that never-inked pixels get a large finite negative bias)."""
    X = np.asarray(X, dtype=np.float64)
    n = max(1, X.shape[0])
    k = pseudo_count * n if pseudo_count < 1 else pseudo_count
    p = (X.sum(0) + k) / (n + 2 * k)
    return np.log(p) - np.log1p(-p)


def _result(logw: torch.Tensor, log_z0: float, n_betas: int, seconds: float) -> AISResult:
    lw = logw.cpu().numpy().astype(np.float64)
    m = lw.max()
    w = np.exp(lw - m)  # weights scaled by exp(-m)
    mean = w.mean()
    se = w.std(ddof=1) / math.sqrt(len(w)) if len(w) > 1 else 0.0
    log_mean = math.log(mean) + m
    high = math.log(mean + 3 * se) + m
    low = math.log(mean - 3 * se) + m if mean - 3 * se > 0 else -math.inf
    return AISResult(log_mean + log_z0, low + log_z0, high + log_z0, log_z0, lw, n_betas, seconds)


def _prepare(betas, n_runs, random_state, device):
    betas = betas_schedule(betas) if np.isscalar(betas) else np.asarray(betas, dtype=np.float64)
    if betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) < 0):
        raise ValueError("betas must increase from 0 to 1")
    if int(n_runs) < 1:
        raise ValueError("n_runs must be positive")
    dev = pick_device(device)
    gen = torch.Generator(device=dev).manual_seed(int(random_state))
    return betas, dev, gen


def _bern(P: torch.Tensor, gen: torch.Generator, out: torch.Tensor) -> torch.Tensor:
    out.uniform_(generator=gen)
    return out.lt_(P)


def _base(base_visible_bias, X, n_v: int) -> torch.Tensor:
    if base_visible_bias is None:
        if X is None:
            return torch.zeros(n_v, dtype=torch.float64)
        base_visible_bias = base_rate_biases(X)
    bA = torch.as_tensor(np.asarray(base_visible_bias, dtype=np.float64))
    if bA.shape != (n_v,):
        raise ValueError(f"base visible biases must have shape ({n_v},), got {tuple(bA.shape)}")
    return bA


def rbm_log_likelihood(W, b, c, V_bin, X_base, betas=14_500, n_runs=100, random_state=0, device=None) -> dict:
    """Mean held-out log p(v) of an RBM with log Z by AIS: {"ll", "ll_low", "ll_high", "ais": {...}}."""
    from core.boltzmann.likelihood import free_energy

    r = ais_rbm(W, b, c, X=X_base, betas=betas, n_runs=n_runs, random_state=random_state, device=device)
    W64, b64, c64 = (torch.as_tensor(t).detach().double().cpu() for t in (W, b, c))
    unnorm = (-free_energy(torch.as_tensor(V_bin).double(), W64, b64, c64)).numpy()
    ll, lo, hi = r.log_likelihood(unnorm)
    return {"ll": ll, "ll_low": lo, "ll_high": hi, "ais": r.as_dict()}


def ais_rbm(W, b, c, *, X=None, base_visible_bias=None, betas=DEFAULT_BETAS, n_runs: int = DEFAULT_RUNS,
            random_state: int = 0, device=None, callback=None, threads: int | None = None) -> AISResult:
    """AIS estimate of log Z of a binary RBM (W: (n_h, n_v), b: (n_v,), c: (n_h,)).

    The base model's visible biases are `base_visible_bias`, else the base rates of X (training data),
    else zero. `betas`: a number of temperatures (schedule of `betas_schedule`) or the array itself.
    `callback(k, n_betas)` is called every 500 temperatures (for progress bars). `threads`: see
    `torch_threads`.
    """
    with torch_threads(threads):
        return _ais_rbm(W, b, c, X, base_visible_bias, betas, n_runs, random_state, device, callback)


@torch.no_grad()
def _ais_rbm(W, b, c, X, base_visible_bias, betas, n_runs, random_state, device, callback) -> AISResult:
    t0 = time.perf_counter()
    betas, dev, gen = _prepare(betas, n_runs, random_state, device)
    W = torch.as_tensor(W).detach().to(dev, torch.float32)  # (n_h, n_v)
    n_h, n_v = W.shape
    b64 = torch.as_tensor(b).detach().to(torch.float64).reshape(n_v)
    c = torch.as_tensor(c).detach().to(dev, torch.float32).reshape(n_h)
    bA64 = _base(base_visible_bias, X, n_v)
    log_z0 = n_h * math.log(2.0) + float(F.softplus(bA64).sum())
    db = (b64 - bA64).to(dev)  # (n_v,) float64: b - b_A
    bA, b32 = bA64.to(dev, torch.float32), b64.to(dev, torch.float32)
    R = int(n_runs)
    V = _bern(torch.sigmoid(bA).expand(R, n_v), gen, torch.empty(R, n_v, device=dev))  # x_0 ~ p_0
    logw = torch.zeros(R, dtype=torch.float64, device=dev)
    X_ = torch.empty(R, n_h, device=dev)
    Hp, H = torch.empty(R, n_h, device=dev), torch.empty(R, n_h, device=dev)
    Vp = torch.empty(R, n_v, device=dev)
    for k in range(1, len(betas)):
        bk, bk1 = float(betas[k]), float(betas[k - 1])
        torch.addmm(c, V, W.T, out=X_)  # (R, n_h): W v + c
        x64 = X_.double()
        logw += (bk - bk1) * (V.double() @ db)
        logw += (F.softplus(bk * x64) - F.softplus(bk1 * x64)).sum(1)
        if k == len(betas) - 1:
            break
        torch.mul(X_, bk, out=Hp).sigmoid_()  # P(h | v) at beta_k
        _bern(Hp, gen, H)
        torch.addmm(b32, H, W, beta=bk, alpha=bk, out=Vp)  # beta (b + W^T h)
        Vp.add_(bA, alpha=1.0 - bk).sigmoid_()  # + (1 - beta) b_A
        _bern(Vp, gen, V)
        if callback is not None and k % 500 == 0:
            callback(k, len(betas))
    return _result(logw, log_z0, len(betas), time.perf_counter() - t0)


def ais_dbm(W1, W2, b, c1, c2, *, X=None, base_visible_bias=None, betas=DEFAULT_BETAS,
            n_runs: int = DEFAULT_RUNS, random_state: int = 0, device=None, callback=None,
            threads: int | None = None) -> AISResult:
    """AIS estimate of log Z of a binary DBM v - h1 - h2 (W1: (n1, n_v), W2: (n2, n1)); h1 is annealed,
    v and h2 are summed out analytically. Base model, betas, callback and threads as in `ais_rbm`."""
    with torch_threads(threads):
        return _ais_dbm(W1, W2, b, c1, c2, X, base_visible_bias, betas, n_runs, random_state, device, callback)


@torch.no_grad()
def _ais_dbm(W1, W2, b, c1, c2, X, base_visible_bias, betas, n_runs, random_state, device, callback) -> AISResult:
    t0 = time.perf_counter()
    betas, dev, gen = _prepare(betas, n_runs, random_state, device)
    W1 = torch.as_tensor(W1).detach().to(dev, torch.float32)  # (n1, n_v)
    W2 = torch.as_tensor(W2).detach().to(dev, torch.float32)  # (n2, n1)
    n1, n_v = W1.shape
    n2 = W2.shape[0]
    if W2.shape[1] != n1:
        raise ValueError(f"W2 must have shape (n2, {n1}), got {tuple(W2.shape)}")
    b = torch.as_tensor(b).detach().to(dev, torch.float32).reshape(n_v)
    c1_64 = torch.as_tensor(c1).detach().to(dev, torch.float64).reshape(n1)
    c1 = c1_64.float()
    c2 = torch.as_tensor(c2).detach().to(dev, torch.float32).reshape(n2)
    bA64 = _base(base_visible_bias, X, n_v)
    log_z0 = (n1 + n2) * math.log(2.0) + float(F.softplus(bA64).sum())
    bA64 = bA64.to(dev)
    bA = bA64.float()
    R = int(n_runs)
    H1 = _bern(torch.full((R, n1), 0.5, device=dev), gen, torch.empty(R, n1, device=dev))  # uniform under p_0
    logw = torch.zeros(R, dtype=torch.float64, device=dev)
    A, T = torch.empty(R, n_v, device=dev), torch.empty(R, n2, device=dev)
    V, H2 = torch.empty(R, n_v, device=dev), torch.empty(R, n2, device=dev)
    P1 = torch.empty(R, n1, device=dev)

    def log_p(beta: float, a64, t64, h1c1):
        return beta * h1c1 + F.softplus(bA64 + beta * (a64 - bA64)).sum(1) + F.softplus(beta * t64).sum(1)

    for k in range(1, len(betas)):
        bk, bk1 = float(betas[k]), float(betas[k - 1])
        torch.addmm(b, H1, W1, out=A)  # (R, n_v): b + W1^T h1
        torch.addmm(c2, H1, W2.T, out=T)  # (R, n2): c2 + W2 h1
        a64, t64, h1c1 = A.double(), T.double(), H1.double() @ c1_64
        logw += log_p(bk, a64, t64, h1c1) - log_p(bk1, a64, t64, h1c1)
        if k == len(betas) - 1:
            break
        _bern(A.mul_(bk).add_(bA, alpha=1.0 - bk).sigmoid_(), gen, V)  # v | h1 at beta_k
        _bern(T.mul_(bk).sigmoid_(), gen, H2)  # h2 | h1
        torch.addmm(c1, V, W1.T, out=P1)  # c1 + W1 v
        P1.addmm_(H2, W2).mul_(bk).sigmoid_()  # + W2^T h2, times beta
        _bern(P1, gen, H1)
        if callback is not None and k % 500 == 0:
            callback(k, len(betas))
    return _result(logw, log_z0, len(betas), time.perf_counter() - t0)
