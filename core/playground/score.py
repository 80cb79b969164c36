"""A denoising autoencoder's score field on a 2-D target (Alain & Bengio 2014).

Trained to undo Gaussian noise, r = argmin E ||r(x + sigma e) - x||^2, the reconstruction points up the density:

    r(x) - x ~= sigma^2 grad log p(x)        (small sigma)

so the arrows r(x) - x are compared with the exact score grad log p(x) of the target (a Gaussian mixture, closed
form): mean cosine over the grid points where the target's density is above 10 % of its peak (`agreement`). For
larger sigma the DAE learns the score of the *noised* density p * N(0, sigma^2 I) instead (Tweedie), whose arrows
are smoother and point at the modes from further away: the cosine with grad log p falls as sigma grows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core import training
from core.device import adam
from core.playground import targets as tg
from core.playground import theory
from core.playground.objectives import MLP


@dataclass
class DAEConfig:
    """A small DAE on a 2-D target (the cache key of a trained one)."""

    target: str = "ring"  # see core.playground.targets.TARGETS
    sigma: float = 0.1  # standard deviation of the corruption noise (the target's own widths are 0.05-0.4)
    hidden: int = 64  # units of each of the two hidden layers
    steps: int = 2000  # Adam updates (2 s on one CPU thread)
    batch_size: int = 256  # points per update
    lr: float = 2e-3  # Adam step size
    seed: int = 0  # initial weights, points and noise


def train_dae(cfg: DAEConfig, target: tg.Mixture | None = None) -> MLP:
    """The DAE r: R^2 -> R^2 (an MLP, trained on fresh target points and noise every update), in eval mode."""
    target = target if target is not None else tg.make(cfg.target)
    net = training.seeded(cfg.seed, lambda: MLP(2, 2, int(cfg.hidden), 2))
    opt = adam(net.parameters(), lr=float(cfg.lr))
    gen = torch.Generator().manual_seed(int(cfg.seed))
    for _ in range(int(cfg.steps)):
        x = target.sample(int(cfg.batch_size), gen)
        noisy = x + float(cfg.sigma) * torch.randn(x.shape, generator=gen)
        loss = (net(noisy) - x).pow(2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def field(net: MLP, points) -> np.ndarray:
    """r(x) - x at points (P, 2)."""
    x = torch.as_tensor(np.asarray(points, np.float32))
    return (net(x) - x).numpy()


def agreement(net: MLP, target: tg.Mixture, points, share: float = 0.1) -> dict:
    """{"cosine": mean cosine between r(x) - x and grad log p(x) where p > share * peak, "n": such points,
    "mask": (P,) those points, "dae": (P, 2) r(x) - x, "score": (P, 2) the exact score}."""
    pts = np.asarray(points, np.float64)
    dae, exact = field(net, pts), target.score(pts)
    mask = target.density(pts) >= share * target.peak_density()
    cos = theory.cosine(dae[mask], exact[mask])
    return {"cosine": float(cos.mean()) if mask.any() else float("nan"), "n": int(mask.sum()), "mask": mask,
            "dae": dae, "score": exact}
