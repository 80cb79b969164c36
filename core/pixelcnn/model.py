"""PixelCNN (van den Oord, Kalchbrenner and Kavukcuoglu 2016) for binary images: masked convolutions, the exact
log-likelihood, sampling and completion pixel by pixel, and the receptive field of one pixel.

The chain rule in raster order (row by row, left to right) writes any distribution of an image x of n = H W pixels
exactly as

    p(x) = prod_i p(x_i | x_<i),      p(x_i = 1 | x_<i) = sigm(f_i(x_<i))

and the network gives all n logits f_i in one pass, because every convolution is *masked*: a k x k kernel with
centre (c, c) keeps the taps above the centre row and left of the centre in its row,

    mask A (first layer):  tap (u, v) kept  iff  u < c  or  (u = c and v < c)      (pixel i cannot see itself)
    mask B (every later):  tap (u, v) kept  iff  u < c  or  (u = c and v <= c)     (feature i sees feature i)

so output i depends only on inputs at positions < i. The negative log-likelihood is exact and cheap (one pass):

    -log p(x) = sum_i BCE(f_i, x_i) = sum_i softplus(f_i) - x_i f_i        (nats per image; / (n ln 2): bits per pixel)

Sampling is the price: pixel i needs the pixels before it, so an image takes n passes (`sample`); a pass for pixel
(r, c) needs only the window of rows r - R..r and columns c - R..c + R, R = 3 + depth (`logit_at`), which cuts the
cost of a 28x28 pass about 3-fold. Completion (`complete`) is the
same loop started at a given row with the rows above it clamped to a real digit.

Stacking 3x3 mask-B layers grows the field up and to the left but leaves a *blind spot*: the pixels up and to the
right of i beyond the layers' reach (a triangle above-right) never reach output i, though they come before i
(`receptive_field` finds it by autograd; the Gated PixelCNN of van den Oord et al. 2016b removes it with separate
vertical and horizontal stacks).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def causal_mask(k: int, kind: str) -> torch.Tensor:
    """(k, k) float mask of a k x k kernel, k odd: kind "A" keeps the taps strictly before the centre in raster
    order, "B" also the centre."""
    if kind not in ("A", "B") or k < 1 or k % 2 == 0:
        raise ValueError(f"a mask is 'A' or 'B' on an odd kernel, got {kind!r} on {k}")
    c = k // 2
    m = torch.zeros(k, k)
    m[:c, :] = 1.0
    m[c, : c + (kind == "B")] = 1.0
    return m


class MaskedConv2d(nn.Conv2d):
    """A same-padded k x k convolution whose weights are multiplied by `causal_mask(k, kind)` in every forward pass
    (the masked taps get zero gradient too, so they never matter)."""

    def __init__(self, c_in: int, c_out: int, k: int, kind: str):
        super().__init__(c_in, c_out, k, padding=k // 2)
        self.kind = kind
        self.register_buffer("mask", causal_mask(k, kind)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ResidualB(nn.Module):
    """x + W_1x1 relu(W_B3x3 relu(x)): one residual block of mask-B convolutions (the 1x1 only mixes channels)."""

    def __init__(self, width: int, k: int = 3):
        super().__init__()
        self.conv = MaskedConv2d(width, width, k, "B")
        self.mix = nn.Conv2d(width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(F.relu(self.conv(F.relu(x))))


class PixelCNN(nn.Module):
    """Binary images (B, 1, H, W) -> one Bernoulli logit per pixel (B, 1, H, W): a 7x7 mask-A layer of `width`
    channels, `depth` residual mask-B 3x3 blocks and a 1x1 head (relu, 1x1, relu, 1x1 to one channel)."""

    def __init__(self, depth: int = 5, width: int = 32, first: int = 7):
        super().__init__()
        self.depth, self.width, self.first = int(depth), int(width), int(first)
        self.inp = MaskedConv2d(1, self.width, self.first, "A")
        self.blocks = nn.ModuleList([ResidualB(self.width) for _ in range(self.depth)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(self.width, self.width, 1), nn.ReLU(),
                                  nn.Conv2d(self.width, 1, 1))

    @property
    def reach(self) -> int:
        """How far (rows up, columns either side) an output can see: first // 2 + depth (each 3x3 block adds one)."""
        return self.first // 2 + self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


def n_params(m: nn.Module) -> int:
    return int(sum(p.numel() for p in m.parameters()))


def _images(m: PixelCNN, X, shape) -> torch.Tensor:
    """Rows X (n, H*W) of 0/1 values as a float tensor (n, 1, H, W) of the model's device and dtype."""
    p = next(m.parameters())
    x = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    return x.to(p.device, p.dtype).reshape(-1, 1, int(shape[0]), int(shape[1]))


def pixel_nll(m: PixelCNN, x: torch.Tensor) -> torch.Tensor:
    """-log p(x_i | x_<i) of every pixel of binary images x (B, 1, H, W): BCE with logits, (B, H*W) nats."""
    logits = m(x)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1)


def nll(m: PixelCNN, x: torch.Tensor) -> torch.Tensor:
    """-log p(x) of binary images x (B, 1, H, W), exactly: the sum of the per-pixel BCEs, (B,) nats."""
    return pixel_nll(m, x).sum(1)


@torch.no_grad()
def nll_per_image(m: PixelCNN, X, shape, batch: int = 500) -> np.ndarray:
    """Exact -log p(x) in nats of every row of binary X (n, H*W) (images of `shape` (H, W)): (n,) float64."""
    was = m.training
    m.eval()
    out = [nll(m, _images(m, X[s:s + batch], shape)).double().cpu() for s in range(0, len(X), batch)]
    m.train(was)
    return torch.cat(out).numpy() if out else np.zeros(0)


def bits_per_pixel(nats: float, n_pixels: int) -> float:
    """Nats per image -> bits per pixel: nats / (n ln 2)."""
    return float(nats) / (int(n_pixels) * math.log(2.0))


def logit_at(m: PixelCNN, x: torch.Tensor, row: int, col: int) -> torch.Tensor:
    """The logits f_(row, col) of images x (B, 1, H, W), (B,), from the window of rows row - R .. row and columns
    col - R .. col + R (R = m.reach, clipped to the image) alone: nothing outside it reaches that output (every
    intermediate feature the output needs sees only inside the window), so this equals m(x)[:, 0, row, col] at a
    fraction of the cost (the step of sampling)."""
    R, W = m.reach, x.shape[-1]
    r0, c0, c1 = max(0, int(row) - R), max(0, int(col) - R), min(W, int(col) + R + 1)
    return m(x[:, :, r0: int(row) + 1, c0:c1])[:, 0, int(row) - r0, int(col) - c0]


@torch.no_grad()
def fill(m: PixelCNN, x: torch.Tensor, start: int, generator: torch.Generator, frames: int = 0) -> tuple:
    """Sample pixels start, start+1, ..., n-1 of images x (B, 1, H, W) (raster order; pixels before `start` kept) in
    place, each from p(x_i = 1 | x_<i) = sigm(f_i) with one uniform of `generator`. Returns (x, snapshots): with
    frames > 0, about `frames` copies (B, H*W) of the images as they fill in, unsampled pixels at 0.5."""
    was = m.training
    m.eval()
    B, _, H, W = x.shape
    n = H * W
    shots = []
    every = max(1, (n - start) // frames) if frames else 0
    if frames:  # the pixels still to draw shown gray: they never reach an earlier pixel's logit, so nothing changes
        x.view(B, -1)[:, start:] = 0.5
        shots.append(x.reshape(B, -1).cpu().numpy().copy())
    for i in range(int(start), n):
        r, c = divmod(i, W)
        logit = logit_at(m, x, r, c)  # the window the output sees: rows below r never matter (masks never look down)
        u = torch.rand(B, generator=generator, device=x.device, dtype=x.dtype)
        x[:, 0, r, c] = (u < torch.sigmoid(logit)).to(x.dtype)
        if frames and ((i - start + 1) % every == 0 or i == n - 1):
            shots.append(x.reshape(B, -1).cpu().numpy().copy())
    m.train(was)
    return x, shots


def sample(m: PixelCNN, n: int, generator: torch.Generator, shape=(28, 28), frames: int = 0):
    """n images drawn from the model, pixel by pixel in raster order: (n, H*W) float32 in {0, 1}; with frames > 0,
    (images, snapshots as they fill in). Reproducible: every draw comes from `generator`."""
    p = next(m.parameters())
    x = torch.zeros(int(n), 1, int(shape[0]), int(shape[1]), device=p.device, dtype=p.dtype)
    x, shots = fill(m, x, 0, generator, frames)
    out = x.reshape(int(n), -1).cpu().numpy().astype(np.float32)
    return (out, shots) if frames else out


def timed_sample(m: PixelCNN, n: int, generator: torch.Generator, shape=(28, 28), frames: int = 0) -> dict:
    """`sample` with its cost: {"images", "frames", "seconds", "seconds_per_image", "passes"} (wall clock of the
    whole batch; one pass of the network per pixel, batched over the n images)."""
    t = time.perf_counter()
    out = sample(m, n, generator, shape, frames=frames)
    images, shots = out if frames else (out, [])
    secs = time.perf_counter() - t
    return {"images": images, "frames": shots, "seconds": secs, "seconds_per_image": secs / max(1, int(n)),
            "passes": int(shape[0]) * int(shape[1])}


def complete(m: PixelCNN, X, shape, start_row: int, generator: torch.Generator) -> np.ndarray:
    """Rows start_row.. of binary images X (n, H*W) sampled given the rows above (kept exactly): (n, H*W) in {0, 1}."""
    x = _images(m, X, shape).clone()
    x, _ = fill(m, x, int(start_row) * int(shape[1]), generator)
    return x.reshape(len(x), -1).cpu().numpy().astype(np.float32)


@torch.no_grad()
def conditional_nll(m: PixelCNN, X, shape, start_row: int) -> np.ndarray:
    """-log p(rows start_row.. | rows above) of binary images X, exactly: the per-pixel BCEs of those rows summed,
    (n,) nats. (The RBM has no such number: its conditional needs the partition function of the clamped model.)"""
    was = m.training
    m.eval()
    per = pixel_nll(m, _images(m, X, shape)).double().cpu().numpy()
    m.train(was)
    return per[:, int(start_row) * int(shape[1]):].sum(1)


def receptive_field(m: PixelCNN, shape, row: int, col: int, n_inputs: int = 4, seed: int = 0) -> np.ndarray:
    """Which input pixels output logit (row, col) depends on, by autograd: |d f_(row,col) / d x| summed over
    `n_inputs` random binary images (seeded; several so that no dead ReLU hides a dependence), (H, W) float64;
    nonzero = in the field."""
    was = m.training
    m.eval()
    p = next(m.parameters())
    g = torch.Generator().manual_seed(int(seed))
    x = (torch.rand(int(n_inputs), 1, int(shape[0]), int(shape[1]), generator=g) < 0.5).to(p.device, p.dtype)
    x.requires_grad_(True)
    m(x)[:, 0, int(row), int(col)].sum().backward()
    m.train(was)
    return x.grad.abs().sum((0, 1)).double().cpu().numpy()


def field_picture(field: np.ndarray, row: int, col: int) -> np.ndarray:
    """(H, W) codes of a receptive field: 0 after the pixel in raster order (never allowed), 1 before it and seen,
    2 the blind spot (before it, unseen, yet inside the rows and columns that the seen pixels span: the wedge up and
    to the right), 3 the pixel itself, 4 before it but beyond the stack's reach (outside that span)."""
    H, W = field.shape
    order = np.arange(H * W).reshape(H, W)
    i = int(row) * W + int(col)
    seen = (field > 0) & (order < i)
    box = np.zeros((H, W), bool)
    if seen.any():
        rows, cols = np.nonzero(seen)
        box[rows.min(): int(row) + 1, cols.min(): cols.max() + 1] = True
    out = np.where(order < i, np.where(seen, 1, np.where(box, 2, 4)), 0)
    out[int(row), int(col)] = 3
    return out
