"""Losses shared by the adversarial labs (GANs, and the inpainting lab's energy network)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     t: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's E_i (||grad_x f(x_i)||_2 - 1)^2 at x_i = t_i real_i + (1 - t_i) fake_i (Gulrajani et al. 2017).

    t broadcasts against the images ((B, 1) for flat, (B, 1, 1, 1) for (B, C, H, W)); fake is detached, so
    the penalty shapes the critic only; the graph is kept (create_graph) so that it can be descended.
    """
    x = (t * real + (1 - t) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def discriminator_loss(out_real: torch.Tensor, out_fake: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The GAN discriminator's loss on logits, -log D(x) - log(1 - D(G(z))) averaged, and what to log of it:
    D's mean output on real and fake and its accuracy on each."""
    loss = (F.binary_cross_entropy_with_logits(out_real, torch.ones_like(out_real))
            + F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake)))
    return loss, {"d_loss": loss, "d_real": torch.sigmoid(out_real).mean(), "d_fake": torch.sigmoid(out_fake).mean(),
                  "acc_real": (out_real > 0).float().mean(), "acc_fake": (out_fake < 0).float().mean()}
