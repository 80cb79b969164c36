"""The three conditional models of the lab and the sheet's gradients of the mixture's error.

    least squares:   t = y(x) + e,  one fitted width:   E = 1/2 ||t - y(x)||^2        (the conditional average)
    Gaussian:        p(t|x) = N(t; mu(x), sigma(x)^2 I)                             (= the MDN with m = 1)
    MDN:             p(t|x) = sum_i alpha_i(x) phi_i(t|x),  phi_i = N(t; mu_i(x), sigma_i(x)^2 I),
                     alpha = softmax(z^alpha),  sigma_i = exp(z^sigma_i),  mu_i = z^mu_i      (Bishop 1994)

Every likelihood is a `torch.distributions` object (`MixtureSameFamily` of `Independent(Normal)`): nothing here
writes a log-density by hand. The networks see standardised inputs and targets (`Scaler`); likelihoods are
reported in the data's own units (the Jacobian of the target scaling is added back).

The sheet's derivatives of E^q = -log sum_i alpha_i phi_i(t) (`analytic_gradients`), with the posterior
pi_i = alpha_i phi_i / sum_j alpha_j phi_j and c the target dimension:

    dE/d alpha_i = -pi_i / alpha_i         dE/d mu_ik = pi_i (mu_ik - t_k) / sigma_i^2
    dE/d z^alpha_i = alpha_i - pi_i        dE/d z^sigma_i = -pi_i (||t - mu_i||^2 / sigma_i^2 - c)

`autograd_gradients` differentiates the same E through torch.distributions in float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal


def mlp(n_in: int, n_out: int, hidden: int, layers: int = 1) -> nn.Sequential:
    """tanh hidden layers of `hidden` units, a linear output."""
    mods, width = [], n_in
    for _ in range(int(layers)):
        mods += [nn.Linear(width, int(hidden)), nn.Tanh()]
        width = int(hidden)
    return nn.Sequential(*mods, nn.Linear(width, n_out))


class MDN(nn.Module):
    """x (B, d) -> (z^alpha (B, m), z^sigma (B, m), z^mu (B, m, c)): one network, Bishop's output layout."""

    def __init__(self, n_in: int, n_out: int, m: int, hidden: int, layers: int = 1):
        super().__init__()
        self.m, self.c = int(m), int(n_out)
        self.net = mlp(n_in, self.m * (2 + self.c), hidden, layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.net(x)  # (B, m (2 + c))
        m = self.m
        return z[:, :m], z[:, m:2 * m], z[:, 2 * m:].reshape(len(x), m, self.c)

    def distribution(self, x: torch.Tensor) -> MixtureSameFamily:
        return mixture(*self(x))


def mixture(z_alpha: torch.Tensor, z_sigma: torch.Tensor, z_mu: torch.Tensor) -> MixtureSameFamily:
    """p(t|x) = sum_i softmax(z^alpha)_i N(t; z^mu_i, exp(z^sigma_i)^2 I): batch (B,), event (c,)."""
    sigma = z_sigma.exp().unsqueeze(-1).expand_as(z_mu)  # (B, m, c): one width per kernel
    return MixtureSameFamily(Categorical(logits=z_alpha, validate_args=False),
                             Independent(Normal(z_mu, sigma, validate_args=False), 1, validate_args=False),
                             validate_args=False)


def gaussian(mu: torch.Tensor, sigma: torch.Tensor) -> Independent:
    """N(t; mu, sigma^2 I): batch (B,), event (c,); sigma broadcasts (a scalar: one fitted width)."""
    return Independent(Normal(mu, torch.as_tensor(sigma, dtype=mu.dtype).expand_as(mu)), 1)


@dataclass
class Scaler:
    """Standardisation of inputs and targets, fitted on the training pairs."""

    x_mean: np.ndarray
    x_std: np.ndarray
    t_mean: np.ndarray
    t_std: np.ndarray  # (c,) all equal: one scale for every target dimension

    @classmethod
    def fit(cls, x: np.ndarray, t: np.ndarray) -> "Scaler":
        """Inputs per column; targets by one common scale (so a spherical kernel stays spherical in data units)."""
        sd = lambda a: np.where(a.std(0) > 0, a.std(0), 1.0)  # noqa: E731
        common = float(np.sqrt(np.mean(t.var(0)))) or 1.0
        return cls(x.mean(0), sd(x), t.mean(0), np.full(t.shape[1], common))

    def x(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((np.asarray(x, np.float64) - self.x_mean) / self.x_std, dtype=torch.float32)

    def t(self, t: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((np.asarray(t, np.float64) - self.t_mean) / self.t_std, dtype=torch.float32)

    @property
    def log_jacobian(self) -> float:
        """sum_k log std_k: NLL in data units = NLL of standardised targets + this."""
        return float(np.log(self.t_std).sum())

    def state(self) -> dict:
        return {k: torch.as_tensor(np.asarray(v, np.float64)) for k, v in vars(self).items()}

    @classmethod
    def from_state(cls, s: dict) -> "Scaler":
        return cls(**{k: np.asarray(s[k], np.float64) for k in ("x_mean", "x_std", "t_mean", "t_std")})


# ----------------------------------------------------------------------------- the sheet's gradients

def _as64(*arrays) -> list[torch.Tensor]:
    return [torch.as_tensor(np.asarray(a, np.float64)) for a in arrays]


def analytic_gradients(z_alpha, z_sigma, z_mu, t) -> dict[str, np.ndarray]:
    """The sheet's formulas at one point, in NumPy float64. z_alpha, z_sigma: (m,); z_mu: (m, c); t: (c,).

    Returns E, the mixture's alpha, sigma and posterior pi, and dE/d alpha (m,), dE/d mu (m, c),
    dE/d z^alpha (m,), dE/d z^sigma (m,). The kernels' densities come from torch.distributions."""
    za, zs, zm, tt = _as64(z_alpha, z_sigma, z_mu, t)
    c = zm.shape[-1]
    alpha, sigma = torch.softmax(za, -1), zs.exp()
    log_phi = Independent(Normal(zm, sigma[:, None].expand_as(zm)), 1).log_prob(tt)  # (m,)
    log_w = alpha.log() + log_phi
    E = -torch.logsumexp(log_w, -1)
    pi = torch.softmax(log_w, -1)  # alpha_i phi_i / sum_j alpha_j phi_j
    sq = ((tt - zm) ** 2).sum(-1)  # ||t - mu_i||^2
    out = {"E": E, "alpha": alpha, "sigma": sigma, "pi": pi,
           "dE_dalpha": -pi / alpha,
           "dE_dmu": pi[:, None] * (zm - tt) / sigma[:, None] ** 2,
           "dE_dzalpha": alpha - pi,
           "dE_dzsigma": -pi * (sq / sigma ** 2 - c)}
    return {k: v.numpy() for k, v in out.items()}


def random_outputs(m: int, c: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Network outputs z^alpha (m,), z^sigma (m,), z^mu (m, c) and a target t (c,) drawn at random (float64),
    with t near the kernels so that every posterior pi_i is visibly non-zero."""
    rng = np.random.default_rng(seed)
    z_mu = rng.normal(0.0, 1.0, (m, c))
    return rng.normal(0.0, 1.0, m), rng.normal(-0.3, 0.3, m), z_mu, z_mu.mean(0) + rng.normal(0.0, 0.5, c)


def autograd_gradients(z_alpha, z_sigma, z_mu, t) -> dict[str, np.ndarray]:
    """The same derivatives by autograd in float64.

    d/d z: E = -MixtureSameFamily(...).log_prob(t) of the network's outputs. d/d alpha and d/d mu: alpha_i and
    mu_i as free variables in E = -log sum_i alpha_i phi_i(t) (the sheet's (a)(i) treats alpha_i as free: a
    Categorical would renormalise alpha and add the constraint's +1 to every component)."""
    za, zs, zm, tt = (a.requires_grad_(True) for a in _as64(z_alpha, z_sigma, z_mu, t))
    E = -mixture(za[None], zs[None], zm[None]).log_prob(tt[None])[0]
    g_za, g_zs = torch.autograd.grad(E, (za, zs))
    alpha = torch.softmax(za.detach(), -1).requires_grad_(True)
    mu = zm.detach().clone().requires_grad_(True)
    sigma = zs.detach().exp()
    comp = Independent(Normal(mu, sigma[:, None].expand_as(mu)), 1)
    E2 = -torch.logsumexp(alpha.log() + comp.log_prob(tt.detach()), -1)
    g_alpha, g_mu = torch.autograd.grad(E2, (alpha, mu))
    return {"E": E.detach().numpy(), "dE_dalpha": g_alpha.numpy(), "dE_dmu": g_mu.numpy(),
            "dE_dzalpha": g_za.numpy(), "dE_dzsigma": g_zs.numpy()}
