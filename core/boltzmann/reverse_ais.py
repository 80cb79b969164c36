"""Reverse annealing (RAISE, Burda, Grosse & Salakhutdinov 2015): the conservative side of an RBM's held-out
log-likelihood, on the annealing path of core.boltzmann.ais (`RBMPath`, the same base models and temperatures).

From a held-out v, the reverse chain x_K = v, x_{k-1} ~ T_k(. | x_k), gives

    log p_hat(v) = log f_K(v) - log Z_0 - sum_k [log f_k(x_{k-1}) - log f_{k-1}(x_{k-1})],

unbiased in p_hat for the annealing model's p_fwd(v): a stochastic lower bound of log p_fwd(v), which tends to
log p(v) as K grows. Conservative in practice, not a strict bound on log p(v). Measured on the shipped RBM: see
core.boltzmann.ais.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from core.boltzmann.ais import (DEFAULT_BETAS, DEFAULT_RAISE_BETAS, BernoulliMixture, RBMPath, checked_base, prepare,
                                rbm_unnormalized_log_prob)
from core.device import torch_threads


@dataclass
class RAISEResult:
    """Reverse annealing (RAISE) of held-out rows: per-row log p_hat(v), whose exp is unbiased for the annealing
    model's p_fwd(v), so that log p_hat is a stochastic lower bound of log p_fwd(v) (and of its mean)."""

    log_p: np.ndarray  # (n,) log p_hat(v) per row
    n_betas: int  # temperatures of the reverse path
    seconds: float  # wall-clock time
    cpu_seconds: float  # CPU time of the process (all threads)
    n_components: int  # components of the base model

    @property
    def mean(self) -> float:
        return float(np.mean(self.log_p))

    @property
    def se(self) -> float:
        """Standard error of the mean over rows (digits differ; the annealing noise is inside it)."""
        return float(np.std(self.log_p, ddof=1) / math.sqrt(len(self.log_p))) if len(self.log_p) > 1 else 0.0

    def as_dict(self) -> dict:
        return {"ll": self.mean, "se": self.se, "n": len(self.log_p), "n_betas": self.n_betas,
                "n_components": self.n_components, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds}


def raise_rbm(W, b, c, V, *, X=None, base: BernoulliMixture | None = None, betas=DEFAULT_BETAS,
              random_state: int = 0, device=None, callback=None, threads: int | None = None) -> RAISEResult:
    """RAISE (Burda, Grosse & Salakhutdinov 2015): the conservative side of an RBM's held-out log p(v).

    From each row v of V, the reverse chain x_K = v, x_{k-1} ~ T_k(. | x_k) for k = K..1 (the Gibbs steps of
    `ais_rbm`, reversible with respect to f_k), and

        log p_hat(v) = log f_K(v) - log Z_0 - sum_{k=1..K} [log f_k(x_{k-1}) - log f_{k-1}(x_{k-1})],

    where f_K(v) = M p*(v) (the mixture's index m is uniform and decoupled at beta = 1) and Z_0 = 2^n_h. E[p_hat(v)]
    is the probability p_fwd(v) that forward annealing ends at v, so log p_hat is below log p_fwd on average
    (Jensen); p_fwd -> p as K grows. Not a strict bound on log p(v): conservative in practice. Base model as in
    `ais_rbm` (X: base rates).
    """
    W = torch.as_tensor(W).detach()
    with torch_threads(threads):
        return _raise_rbm(W, b, c, V, checked_base(base, None, X, W.shape[1]), betas, random_state, device, callback)


@torch.no_grad()
def _raise_rbm(W, b, c, V, base, betas, random_state, device, callback) -> RAISEResult:
    t0 = time.perf_counter(), time.process_time()
    betas, dev, gen = prepare(betas, 1, random_state, device)
    path = RBMPath(W, b, c, base, dev)
    V = torch.as_tensor(np.asarray(V, dtype=np.float32)).to(dev).reshape(-1, path.W.shape[1])
    x, G, bv = path.terms(V)
    lp = path.log_f(1.0, x.double(), G, bv) - path.log_z0  # log f_K(v) - log Z_0
    t = (x, G, bv)
    K = len(betas) - 1
    for k in range(K, 0, -1):
        V = path.step(float(betas[k]), V, t, gen)  # x_{k-1} ~ T_k(. | x_k)
        t = path.terms(V)
        lp -= path.increment(float(betas[k]), float(betas[k - 1]), t)
        if callback is not None and (K - k + 1) % 500 == 0:
            callback(K - k + 1, len(betas))
    return RAISEResult(lp.cpu().numpy(), len(betas), time.perf_counter() - t0[0], time.process_time() - t0[1],
                       path.mix.M)


def rbm_sandwich(W, b, c, V, base: BernoulliMixture, *, log_z: float, betas=DEFAULT_RAISE_BETAS,
                 random_state: int = 0, threads: int | None = None) -> dict:
    """The RBM's mean held-out log p(v) on rows V between its two sides: "ais" (mean log p*(v) - log_z, errs high
    on average) and "conservative" (RAISE, errs low on average, see `raise_rbm`), and "width" = ais - conservative."""
    r = raise_rbm(W, b, c, V, base=base, betas=betas, random_state=random_state, threads=threads)
    ais = float(np.mean(rbm_unnormalized_log_prob(W, b, c, V))) - float(log_z)
    return {"ais": ais, "conservative": r.mean, "width": ais - r.mean, "raise": r.as_dict()}
