"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", 2020).

The same random, differentiable transformations are applied to real and generated images before
the discriminator sees them (in both the D and the G step), so that D cannot memorise a small
training set, while gradients still flow through the augmentation to G.

Policies (comma-separated in `policy`): "color" (brightness, saturation, contrast), "translation"
(shift by up to 1/8 of the image, zero padding), "cutout" (a zeroed square of half the image side).
Images are (B, C, H, W) in [-1, 1]; a torch.Generator makes every draw reproducible.
"""
from __future__ import annotations

import torch

POLICIES = ("color", "translation", "cutout")


def _rand(shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)


def _randint(lo: int, hi: int, shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randint(lo, hi, shape, generator=generator, device=x.device)


def brightness(x, generator=None):
    return x + (_rand((x.shape[0], 1, 1, 1), x, generator) - 0.5)


def saturation(x, generator=None):
    mean = x.mean(dim=1, keepdim=True)  # grey value of each pixel (a no-op for one channel)
    return (x - mean) * (_rand((x.shape[0], 1, 1, 1), x, generator) * 2) + mean


def contrast(x, generator=None):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand((x.shape[0], 1, 1, 1), x, generator) + 0.5) + mean


def translation(x, generator=None, ratio: float = 0.125):
    """Shift each image by an integer (dy, dx) in [-ratio*H, ratio*H]; pixels shifted in are 0."""
    B, C, H, W = x.shape
    sy, sx = int(H * ratio + 0.5), int(W * ratio + 0.5)
    ty = _randint(-sy, sy + 1, (B, 1, 1), x, generator)
    tx = _randint(-sx, sx + 1, (B, 1, 1), x, generator)
    gy, gx = torch.meshgrid(torch.arange(H, device=x.device), torch.arange(W, device=x.device), indexing="ij")
    src_y = gy.unsqueeze(0) - ty  # output pixel (y, x) shows input pixel (y - ty, x - tx)
    src_x = gx.unsqueeze(0) - tx
    valid = (src_y >= 0) & (src_y < H) & (src_x >= 0) & (src_x < W)  # (B, H, W)
    flat = (src_y.clamp(0, H - 1) * W + src_x.clamp(0, W - 1)).view(B, 1, H * W).expand(B, C, H * W)
    out = torch.gather(x.reshape(B, C, H * W), 2, flat).view(B, C, H, W)
    return out * valid.unsqueeze(1).to(x.dtype)


def cutout(x, generator=None, ratio: float = 0.5):
    """Zero a square of side ratio*H (clipped at the border) at a random centre of each image."""
    B, C, H, W = x.shape
    ch, cw = int(H * ratio + 0.5), int(W * ratio + 0.5)
    oy = _randint(0, H + (1 - ch % 2), (B, 1, 1), x, generator)
    ox = _randint(0, W + (1 - cw % 2), (B, 1, 1), x, generator)
    gy = torch.arange(H, device=x.device).view(1, H, 1)
    gx = torch.arange(W, device=x.device).view(1, 1, W)
    inside = (gy >= oy - ch // 2) & (gy < oy - ch // 2 + ch) & (gx >= ox - cw // 2) & (gx < ox - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_FUNCS = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}


def parse(policy: str) -> list[str]:
    names = [p.strip() for p in (policy or "").split(",") if p.strip()]
    bad = [p for p in names if p not in _FUNCS]
    if bad:
        raise ValueError(f"unknown DiffAugment policy {bad}; choose from {POLICIES}")
    return names


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the policy's transformations in order; returns a new tensor (x is not modified)."""
    for name in parse(policy):
        for f in _FUNCS[name]:
            x = f(x, generator)
    return x
