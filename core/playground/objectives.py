"""The networks and the six objectives of the playground (one small MLP generator, one small MLP critic).

With D's raw output a(x) (a logit for the first two, a score for the others) and fakes x~ = G(z):

    minimax   L_D = -E log sigm a(x) - E log(1 - sigm a(x~))     L_G =  E log(1 - sigm a(x~))   (Goodfellow 2014)
    nonsat    L_D as minimax                                    L_G = -E log sigm a(x~)        (the usual proxy)
    lsgan     L_D = 1/2 E (a(x) - 1)^2 + 1/2 E a(x~)^2          L_G = 1/2 E (a(x~) - 1)^2      (Mao et al. 2017)
    wgan-clip L_D = E f(x~) - E f(x), every weight clipped to [-c, c] after each step   L_G = -E f(x~)   (Arjovsky 2017)
    wgan-gp   L_D = E f(x~) - E f(x) + lambda E (||grad f(x^)|| - 1)^2,  x^ = e x + (1 - e) x~, e ~ U(0, 1)  (Gulrajani)
    energy    L_E = E E(x) - E E(x~) + rho (E E(x)^2 + E E(x~)^2)  L_G = E E(x~) - beta H(G)    (Kim & Bengio 2016)

The energy model's generator entropy H(G) is estimated as the HSE slides do: each hidden unit's pre-activation over a
batch is taken to be Gaussian with the variance batch normalisation would compute, so

    H ~= sum_units 1/2 log(2 pi e sigma_i^2)     (`gaussian_entropy`; beta = 0 switches it off)

and rho keeps E bounded (without it E is lowered on data without limit). For minimax, nonsat and LSGAN (0/1 coding)
the best D for a fixed G is D*(x) = p_data / (p_data + p_g) (core.playground.theory).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OBJECTIVES = {  # name -> label
    "minimax": "Minimax (saturating)",
    "nonsat": "Non-saturating",
    "lsgan": "Least squares (LSGAN)",
    "wgan-clip": "WGAN, weight clipping",
    "wgan-gp": "WGAN-GP (gradient penalty)",
    "energy": "Energy model + entropy (Kim & Bengio)",
}
WASSERSTEIN = ("wgan-clip", "wgan-gp")
PROBABILITY = ("minimax", "nonsat")  # D's output is a probability sigm(a)
LOG_4 = math.log(4.0)


class MLP(nn.Module):
    """in -> [Linear -> LeakyReLU(0.2)] x layers -> Linear -> out."""

    def __init__(self, n_in: int, n_out: int, hidden: int = 64, layers: int = 2):
        super().__init__()
        sizes = [int(n_in)] + [int(hidden)] * int(layers)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(sizes[-1], int(n_out))

    def forward_with_hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The output and every hidden layer's pre-activations (what the entropy estimate looks at)."""
        pre = []
        for lin in self.hidden:
            a = lin(x)
            pre.append(a)
            x = F.leaky_relu(a, 0.2)
        return self.out(x), pre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_hidden(x)[0]


class AffineGenerator(nn.Module):
    """G(z) = A z + m with z ~ N(0, I) in 2-D: p_g = N(m, A A^T) is known exactly (`log_density`), so D* needs no
    density estimate (a frozen G for checking that D approaches D*)."""

    def __init__(self, A, m):
        super().__init__()
        self.register_buffer("A", torch.as_tensor(A, dtype=torch.float32).reshape(2, 2))
        self.register_buffer("m", torch.as_tensor(m, dtype=torch.float32).reshape(2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.A.T + self.m

    def log_density(self, x) -> np.ndarray:
        """log N(x; m, A A^T) at points (P, 2)."""
        C = (self.A @ self.A.T).double().numpy()
        d = np.asarray(x, np.float64).reshape(-1, 2) - self.m.double().numpy()
        sol = np.linalg.solve(C, d.T).T
        return -0.5 * (d * sol).sum(1) - 0.5 * np.log(np.linalg.det(C)) - math.log(2 * math.pi)


class MixtureGenerator(nn.Module):
    """A G of 2-D noise whose density is a known Gaussian mixture (`log_density`), so D* needs no density estimate:

        t = (atan2(z2, z1) + pi) / 2 pi ~ U[0, 1)   picks component k with c_(k-1) <= t < c_k (c: cumulative weights),
        u = (t - c_(k-1)) / w_k ~ U[0, 1),  r = |z| ~ Rayleigh, independent of t,
        G(z) = mu_k + s r (cos 2 pi u, sin 2 pi u)   (Box-Muller: r (cos, sin) of a uniform angle is N(0, I)).

    A frozen G of this kind imitates what a GAN gives (modes shifted, too narrow, dropped or doubled) while D* stays
    exact (a G for checking that D approaches D*)."""

    def __init__(self, mixture):
        super().__init__()
        self.mixture = mixture
        self.register_buffer("mu", torch.as_tensor(mixture.means, dtype=torch.float32))  # (K, 2)
        self.register_buffer("cw", torch.as_tensor(np.cumsum(mixture.weights), dtype=torch.float32))  # (K,)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        t = ((torch.atan2(z[:, 1], z[:, 0]) + math.pi) / (2 * math.pi)).contiguous()  # (n,) uniform on [0, 1)
        k = torch.searchsorted(self.cw, t, right=True).clamp(max=len(self.cw) - 1)
        lo = torch.cat([self.cw.new_zeros(1), self.cw])[k]
        u = (t - lo) / (self.cw[k] - lo).clamp_min(1e-12)
        eps = z.norm(dim=1, keepdim=True) * torch.stack([torch.cos(2 * math.pi * u), torch.sin(2 * math.pi * u)], 1)
        return self.mu[k] + float(self.mixture.std) * eps  # (n, 2)

    def log_density(self, x) -> np.ndarray:
        """log p_g at points (P, 2): the mixture's exact log-density."""
        return self.mixture.log_density(x)


def d_loss(objective: str, a_real: torch.Tensor, a_fake: torch.Tensor, energy_reg: float = 0.0) -> torch.Tensor:
    """D's (critic's, energy's) loss from its raw outputs on real and fake points (penalties aside)."""
    if objective in PROBABILITY:
        return F.softplus(-a_real).mean() + F.softplus(a_fake).mean()  # -log sigm(a) = softplus(-a)
    if objective == "lsgan":
        return 0.5 * (a_real - 1).pow(2).mean() + 0.5 * a_fake.pow(2).mean()
    if objective in WASSERSTEIN:
        return a_fake.mean() - a_real.mean()
    if objective == "energy":
        return a_real.mean() - a_fake.mean() + float(energy_reg) * (a_real.pow(2).mean() + a_fake.pow(2).mean())
    raise ValueError(f"unknown objective {objective!r}; choose one of {sorted(OBJECTIVES)}")


def g_loss(objective: str, a_fake: torch.Tensor) -> torch.Tensor:
    """G's loss from D's raw outputs on its points (the entropy bonus aside)."""
    if objective == "minimax":
        return -F.softplus(a_fake).mean()  # log(1 - sigm a) = -softplus(a)
    if objective == "nonsat":
        return F.softplus(-a_fake).mean()
    if objective == "lsgan":
        return 0.5 * (a_fake - 1).pow(2).mean()
    if objective in WASSERSTEIN:
        return -a_fake.mean()
    if objective == "energy":
        return a_fake.mean()
    raise ValueError(f"unknown objective {objective!r}; choose one of {sorted(OBJECTIVES)}")


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """E (||grad_x f(x^)|| - 1)^2 at x^ = eps x + (1 - eps) x~ (eps (n, 1)), differentiable in the critic's weights."""
    mix = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    grad, = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return (grad.norm(dim=1) - 1).pow(2).mean()


@torch.no_grad()
def clip_weights(net: nn.Module, c: float) -> None:
    """Every parameter clamped into [-c, c] (WGAN's crude way to keep the critic Lipschitz)."""
    for p in net.parameters():
        p.clamp_(-float(c), float(c))


def gaussian_entropy(pre_activations: list[torch.Tensor], eps: float = 1e-6) -> torch.Tensor:
    """sum over layers and units of 1/2 log(2 pi e sigma_i^2), sigma_i^2 the unit's batch variance (biased, as batch
    normalisation computes it; eps keeps the log finite when a unit collapses)."""
    total = torch.zeros(())
    for a in pre_activations:
        var = a.var(0, unbiased=False)
        total = total + 0.5 * torch.log(2 * math.pi * math.e * (var + eps)).sum()
    return total


def field_value(objective: str, a: torch.Tensor) -> torch.Tensor:
    """What the page draws over the plane: D(x) = sigm a for minimax and nonsat, the raw output otherwise (LSGAN's D,
    the critic's f, the energy E)."""
    return torch.sigmoid(a) if objective in PROBABILITY else a


def field_name(objective: str) -> str:
    return {"lsgan": "D(x) (least squares)", "wgan-clip": "critic f(x)", "wgan-gp": "critic f(x)",
            "energy": "energy E(x)"}.get(objective, "D(x)")
