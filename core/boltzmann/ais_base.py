"""Base models of annealed importance sampling (core.boltzmann.ais): normalised mixtures of M Bernoulli vectors,
fit by EM either to the training data or to samples of the model itself.

    p_0(x) = sum_m pi_m prod_j mu_mj^x_j (1 - mu_mj)^(1 - x_j)

M = 1 with the data's pixel means is Salakhutdinov & Murray's base-rate model. AIS's variance is set by how much
mass the model puts where p_0 has little, so the base should be close to the MODEL, not the data: `rbm_model_base`
fits it to P(v | h) at the end of Gibbs chains of the RBM started at training digits (the chains drift from the
digits toward what the model draws), `dbm_model_base` to P(v | h1) at the end of Gibbs chains of a two-layer DBM.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_COMPONENTS = 20  # components of the Bernoulli-mixture base model (1: the base-rate model)
DEFAULT_CHAINS = 2_000  # Gibbs chains whose end states a model base is fit to
DEFAULT_CHAIN_STEPS = 200  # Gibbs sweeps of those chains from the training digits


@dataclass
class BernoulliMixture:
    """A normalised mixture of M independent-pixel models, p(v) = sum_m pi_m prod_j mu_mj^v_j (1 - mu_mj)^(1 - v_j):
    the base model p_0 of AIS. M = 1 with mu = the data's pixel means is the base-rate model."""

    log_pi: np.ndarray  # (M,) log mixing weights (sum of exp = 1)
    mu: np.ndarray  # (M, n_v) pixel probabilities, strictly inside (0, 1)

    @property
    def n_components(self) -> int:
        return len(self.log_pi)

    def log_joint(self, V) -> np.ndarray:
        """log pi_m + log p(v | m) for rows V: (n, M), float64."""
        V = np.asarray(V, dtype=np.float64)
        mu = np.asarray(self.mu, dtype=np.float64)
        return self.log_pi[None, :] + V @ np.log(mu).T + (1.0 - V) @ np.log1p(-mu).T

    def log_prob(self, V) -> np.ndarray:
        """log p(v) for rows V: (n,), float64."""
        G = self.log_joint(V)
        m = G.max(1, keepdims=True)
        return (m + np.log(np.exp(G - m).sum(1, keepdims=True)))[:, 0]


def base_rates(X, pseudo_count: float = 0.05) -> BernoulliMixture:
    """The one-component base-rate model of X (pixel means smoothed as in `base_rate_biases`)."""
    return BernoulliMixture(np.zeros(1), 1.0 / (1.0 + np.exp(-base_rate_biases(X, pseudo_count)))[None, :])


def fit_bernoulli_mixture(X, n_components: int = 20, n_iter: int = 20, pseudo_count: float = 1.0,
                          random_state: int = 0) -> BernoulliMixture:
    """EM for a mixture of `n_components` Bernoulli images on rows X (gray values in [0, 1] count as expected
    binarisations). Responsibilities start from `n_components` random rows of X; every M-step smooths the
    pixel means by `pseudo_count` examples' worth of 0.5 (mu_mj = (sum_i r_im x_ij + a) / (sum_i r_im + 2 a))."""
    X = np.asarray(X, dtype=np.float64)
    n, M = len(X), int(n_components)
    if M < 1 or n < M:
        raise ValueError(f"need at least {M} rows for {M} components")
    rng = np.random.default_rng(int(random_state))
    a = float(pseudo_count)
    mu = (X[rng.choice(n, M, replace=False)] + a) / (1 + 2 * a)
    log_pi = np.full(M, -math.log(M))
    for _ in range(int(n_iter)):
        G = BernoulliMixture(log_pi, mu).log_joint(X)  # E-step
        G -= G.max(1, keepdims=True)
        R = np.exp(G)
        R /= R.sum(1, keepdims=True)
        Nm = R.sum(0)  # M-step
        mu = (R.T @ X + a) / (Nm[:, None] + 2 * a)
        log_pi = np.log((Nm + 1e-3) / (n + 1e-3 * M))
    return BernoulliMixture(log_pi, mu)


def default_base(X, n_components: int = DEFAULT_COMPONENTS, random_state: int = 0) -> BernoulliMixture:
    """The base model the app's AIS uses by default: a `n_components` Bernoulli mixture fit to X by 20 EM steps
    (about a CPU second on 8,000 digits); n_components = 1: the base-rate model of X."""
    if int(n_components) <= 1:
        return base_rates(X)
    return fit_bernoulli_mixture(X, int(n_components), n_iter=20, random_state=random_state)


def base_rate_biases(X, pseudo_count: float = 0.05) -> np.ndarray:
    """Visible biases of the base-rate model: logit of the pixel means of X, smoothed by `pseudo_count`
    examples' worth of 0.5 on both sides (so that never-inked pixels get a large finite negative bias)."""
    X = np.asarray(X, dtype=np.float64)
    n = max(1, X.shape[0])
    k = pseudo_count * n if pseudo_count < 1 else pseudo_count
    p = (X.sum(0) + k) / (n + 2 * k)
    return np.log(p) - np.log1p(-p)



def _bern(P: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(P.shape, generator=gen, device=P.device) < P).float()


def _starts(X, n_chains: int, rng: np.random.Generator) -> torch.Tensor:
    """n_chains rows of X (without replacement when there are enough), binarised by a draw (gray values as
    probabilities), float32."""
    X = np.asarray(X, dtype=np.float32)
    idx = rng.choice(len(X), size=min(int(n_chains), len(X)), replace=len(X) < int(n_chains))
    return torch.as_tensor((rng.random(X[idx].shape) < X[idx]).astype(np.float32))


@torch.no_grad()
def rbm_model_samples(W, b, c, X, n_chains: int = DEFAULT_CHAINS, steps: int = DEFAULT_CHAIN_STEPS,
                      random_state: int = 0) -> np.ndarray:
    """P(v = 1 | h) at the end of `n_chains` Gibbs chains (h | v, then v | h) of a binary RBM (W: (n_h, n_v)),
    started at rows of X and run `steps` sweeps: (n_chains, n_v) float32."""
    rng = np.random.default_rng(int(random_state))
    gen = torch.Generator().manual_seed(int(random_state))
    W, b, c = (torch.as_tensor(t).detach().cpu().float() for t in (W, b, c))
    V, P = _starts(X, n_chains, rng), None
    for _ in range(int(steps)):
        P = torch.sigmoid(torch.addmm(b, _bern(torch.sigmoid(torch.addmm(c, V, W.T)), gen), W))
        V = _bern(P, gen)
    return (V if P is None else P).numpy()


@torch.no_grad()
def dbm_model_samples(W1, W2, b, c1, c2, X, n_chains: int = DEFAULT_CHAINS, steps: int = DEFAULT_CHAIN_STEPS,
                      random_state: int = 0) -> np.ndarray:
    """P(v = 1 | h1) at the end of `n_chains` Gibbs chains of a two-layer DBM v - h1 - h2 (W1: (n1, n_v),
    W2: (n2, n1)), started at rows of X with h2 = 0 and run `steps` sweeps (h1 | v, h2, then v, h2 | h1):
    (n_chains, n_v) float32."""
    rng = np.random.default_rng(int(random_state))
    gen = torch.Generator().manual_seed(int(random_state))
    W1, W2, b, c1, c2 = (torch.as_tensor(t).detach().cpu().float() for t in (W1, W2, b, c1, c2))
    V, P = _starts(X, n_chains, rng), None
    H2 = torch.zeros(len(V), W2.shape[0])
    for _ in range(int(steps)):
        H1 = _bern(torch.sigmoid(torch.addmm(torch.addmm(c1, V, W1.T), H2, W2)), gen)
        P = torch.sigmoid(torch.addmm(b, H1, W1))
        V = _bern(P, gen)
        H2 = _bern(torch.sigmoid(torch.addmm(c2, H1, W2.T)), gen)
    return (V if P is None else P).numpy()


def rbm_model_base(W, b, c, X, n_components: int = DEFAULT_COMPONENTS, n_chains: int = DEFAULT_CHAINS,
                   steps: int = DEFAULT_CHAIN_STEPS, random_state: int = 0) -> BernoulliMixture:
    """A base model over v close to the RBM: `default_base` of `rbm_model_samples` (chains from rows of X)."""
    return default_base(rbm_model_samples(W, b, c, X, n_chains, steps, random_state), n_components, random_state)


def dbm_model_base(W1, W2, b, c1, c2, X, n_components: int = DEFAULT_COMPONENTS, n_chains: int = DEFAULT_CHAINS,
                   steps: int = DEFAULT_CHAIN_STEPS, random_state: int = 0) -> BernoulliMixture:
    """A base model over v close to the DBM: `default_base` of `dbm_model_samples` (chains from rows of X)."""
    return default_base(dbm_model_samples(W1, W2, b, c1, c2, X, n_chains, steps, random_state), n_components,
                        random_state)
