"""The images a GAN run learns from and makes: its class and size (`training_images`, `prepare`), the way back to
the dataset's own shape (`to_native`), and a generator's output with BatchNorm on batch statistics (`generate`).

Images are scaled to [-1, 1] for the networks. DCGAN works at 32x32 (MNIST and Fashion-MNIST are padded from 28x28
by 2 pixels, the 8x8 digits upsampled x4) or 64x64 (the 32x32 image upsampled x2); `to_native` maps generated images
back to the dataset's own shape in [0, 1] for the quality metrics.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import data as datasets
from core.gan.config import GANRun


def _to_32(X: torch.Tensor) -> torch.Tensor:
    """(n, C, H, W) native -> (n, C, 32, 32): 28 padded by 2 (background), 8 upsampled x4, 32 as is."""
    H = X.shape[2]
    if H == 32:
        return X
    if H == 28:
        return F.pad(X, (2, 2, 2, 2), value=0.0)
    if H == 8:
        return F.interpolate(X, scale_factor=4, mode="bilinear", align_corners=False).clamp(0, 1)
    raise ValueError(f"cannot bring {H}x{H} images to 32x32")


def _from_32(X: torch.Tensor, H: int) -> torch.Tensor:
    if H == 32:
        return X
    if H == 28:
        return X[:, :, 2:30, 2:30]
    if H == 8:
        return F.avg_pool2d(X, 4)
    raise ValueError(f"cannot bring 32x32 images to {H}x{H}")


def training_images(run: GANRun, data: datasets.ImageData, split: str = "train") -> np.ndarray:
    """The images a run learns from (its class only, the first n_train), flat in [0, 1], the dataset's own shape;
    split="test": the held-out images of the same class."""
    X, y = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
    if run.label >= 0:
        X = X[y == run.label]
        if len(X) == 0:
            raise ValueError(f"class {run.label} has no {split} images in {data.title}")
    return X[: run.n_train]


def prepare(run: GANRun, data: datasets.ImageData) -> torch.Tensor:
    """Training images of the run as a (n, C, S, S) float tensor in [-1, 1]."""
    X = torch.as_tensor(training_images(run, data)).reshape(-1, *data.shape)
    if run.gan.arch == "dcgan":
        X = _to_32(X)
        if run.gan.image_size == 64:
            X = F.interpolate(X, scale_factor=2, mode="bilinear", align_corners=False).clamp(0, 1)
    return (X * 2 - 1).contiguous()


def to_native(images: torch.Tensor | np.ndarray, run: GANRun, data_shape: tuple[int, int, int]) -> np.ndarray:
    """Generated images (n, C, S, S) in [-1, 1] -> flat (n, C*H*W) in [0, 1] in the dataset's shape."""
    X = torch.as_tensor(images, dtype=torch.float32)
    X = ((X + 1) / 2).clamp(0, 1)
    if run.gan.arch == "dcgan":
        if X.shape[2] == 64:
            X = F.avg_pool2d(X, 2)
        X = _from_32(X, data_shape[1])
    return X.reshape(len(X), -1).numpy()


def to_unit(images: torch.Tensor) -> np.ndarray:
    """(n, C, S, S) in [-1, 1] -> flat (n, C*S*S) in [0, 1] (for showing grids at the trained size)."""
    return ((torch.as_tensor(images, dtype=torch.float32) + 1) / 2).clamp(0, 1).reshape(len(images), -1).numpy()


@contextlib.contextmanager
def eval_batch_stats(module: nn.Module):
    """Context: `module` in eval mode, but its BatchNorm layers use the batch's statistics (as during
    training) and leave their running averages alone; mode and averages are restored afterwards."""
    was = module.training
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.running_mean, m.running_var) for m in bns]
    module.eval()
    for m in bns:
        m.running_mean, m.running_var = None, None
    try:
        yield module
    finally:
        for m, (mean, var) in zip(bns, saved):
            m.running_mean, m.running_var = mean, var
        module.train(was)


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """G(z) with BatchNorm on batch statistics (as during training), without changing G."""
    with eval_batch_stats(G):
        return torch.cat([G(z[i:i + batch]) for i in range(0, len(z), batch)])



def grid_at(result: dict, step: int) -> torch.Tensor:
    """The stored fixed-noise grid at the largest iteration <= step, as (n, C, S, S) in [-1, 1]."""
    grids = result["grids"]
    best = max((g for g in grids if g["step"] <= step), key=lambda g: g["step"], default=grids[0])
    return best["images"].float() / 127.5 - 1

