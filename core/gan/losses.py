"""Losses shared by the adversarial labs (GANs, and the inpainting lab's energy network)."""
from __future__ import annotations

from typing import Callable

import torch


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     t: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's E_i (||grad_x f(x_i)||_2 - 1)^2 at x_i = t_i real_i + (1 - t_i) fake_i (Gulrajani et al. 2017).

    t broadcasts against the images ((B, 1) for flat, (B, 1, 1, 1) for (B, C, H, W)); fake is detached, so
    the penalty shapes the critic only; the graph is kept (create_graph) so that it can be descended.
    """
    x = (t * real + (1 - t) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
