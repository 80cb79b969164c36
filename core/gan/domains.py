"""The two domains of digits the CycleGAN translates between, and the sets its judges learn from.

Domain A: MNIST digits (28x28). Domain B: scikit-learn's bundled 8x8 digits, another set of writers scanned another
way, upscaled (bilinear) to 20x20 and centred in 28x28 as MNIST's digits are (`upscaled_digits`). `render_as_b` draws
any 28x28 digit the way B is made (a hand-made translation that keeps every class). `reader_digits` and
`domain_digits` are the training and held-out sets of the judges (core.gan.judges): both domains' digits, labelled by
class or by domain. `to_pm` and `to_unit` convert flat images in [0, 1] to the networks' (n, 1, 28, 28) in [-1, 1]
and back.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core import data as datasets

SIDE = 28
INNER = 20  # the 8x8 digits are upscaled to INNER x INNER and padded to SIDE x SIDE (MNIST's layout)


def upscaled_digits() -> datasets.ImageData:
    """scikit-learn's 8x8 digits, upscaled to 20x20 (bilinear) and centred in 28x28: domain B, with its own split."""
    d = datasets.load("digits")
    pad = (SIDE - INNER) // 2

    def up(X):
        T = torch.as_tensor(X).reshape(-1, 1, 8, 8)
        T = F.interpolate(T, size=(INNER, INNER), mode="bilinear", align_corners=False).clamp(0, 1)
        return F.pad(T, (pad, pad, pad, pad)).reshape(len(X), -1).numpy()  # (n, 784)

    return datasets.ImageData("digits28", up(d.X_train), d.y_train, up(d.X_test), d.y_test, (1, SIDE, SIDE),
                              list(d.classes), "scikit-learn's 8x8 digits, upscaled to 20x20 in a 28x28 frame",
                              "8x8 digits upscaled to 28x28 (domain B)")


def render_as_b(X) -> np.ndarray:
    """28x28 digits (n, 784) in [0, 1] drawn the way domain B is made: the central 20x20 box averaged down to 8x8,
    scaled to a maximum of 1, upscaled bilinearly to 20x20 and centred in 28x28. A hand-made translation that keeps
    every class: what the judge of A -> B reads of it is a reference for a good A -> B translation."""
    T = torch.as_tensor(np.asarray(X, np.float32)).reshape(-1, 1, SIDE, SIDE)
    pad = (SIDE - INNER) // 2
    small = F.adaptive_avg_pool2d(T[:, :, pad:pad + INNER, pad:pad + INNER], 8)  # (n, 1, 8, 8)
    small = small / small.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    up = F.interpolate(small, size=(INNER, INNER), mode="bilinear", align_corners=False).clamp(0, 1)
    return F.pad(up, (pad, pad, pad, pad)).reshape(len(T), -1).numpy()


def to_pm(X) -> torch.Tensor:
    """Flat images in [0, 1] (n, 784) -> (n, 1, 28, 28) in [-1, 1] (float32)."""
    return torch.as_tensor(np.asarray(X, np.float32)).reshape(-1, 1, SIDE, SIDE) * 2 - 1


def to_unit(T: torch.Tensor) -> np.ndarray:
    """The inverse of `to_pm`: (n, 1, 28, 28) in [-1, 1] -> flat (n, 784) in [0, 1] (clipped), NumPy, CPU."""
    return ((T.detach().float().cpu() + 1) / 2).clamp(0, 1).reshape(len(T), -1).numpy()


def reader_digits(data_a: datasets.ImageData, data_b: datasets.ImageData) -> datasets.ImageData:
    """The training digits of both domains in one set (B's 1,437 repeated three times, so each domain weighs about as
    much), held out: both domains' held-out digits. The translators' evaluation digits are held out here too."""
    reps = max(1, round(len(data_a.X_train) / len(data_b.X_train) / 2))
    return datasets.ImageData(
        f"{data_a.name}+{data_b.name}", np.concatenate([data_a.X_train] + [data_b.X_train] * reps),
        np.concatenate([data_a.y_train] + [data_b.y_train] * reps), np.concatenate([data_a.X_test, data_b.X_test]),
        np.concatenate([data_a.y_test, data_b.y_test]), data_a.shape, list(data_a.classes),
        f"{data_a.title} and {data_b.title}, read by one classifier")



def domain_digits(data_a: datasets.ImageData, data_b: datasets.ImageData,
                  d: datasets.ImageData | None = None) -> datasets.ImageData:
    """The same images as `reader_digits` (or `d`, its result), labelled by domain: 0 for A, 1 for B."""
    d = d if d is not None else reader_digits(data_a, data_b)
    n_a, n_a_test = len(data_a.X_train), len(data_a.X_test)
    y = (np.arange(len(d.X_train)) >= n_a).astype(np.int64)
    y_test = (np.arange(len(d.X_test)) >= n_a_test).astype(np.int64)
    return datasets.ImageData(f"{d.name}:domain", d.X_train, y, d.X_test, y_test, d.shape,
                              [data_a.title, data_b.title], f"{data_a.title} or {data_b.title}?")
