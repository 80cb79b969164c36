"""Inpainting lab: fill a 6x6 hole in a digit by PCA, or by an energy network trained with a generator.

The exercise's mask process: a 6x6 patch, rows and columns 11-16 of a 28x28 digit, shifted by a random
offset in -4..4 (each direction independently, integers, both ends included), is set to a gray value.

Two reconstructions of the hole:

* PCA (scikit-learn): either the plain projection of the incomplete image on the first d principal
  components (the gray patch takes part in the projection), or the least-squares fit of those d
  components to the *observed* pixels only, read out on the hole (the fair linear baseline).
* An energy network E and a generator G trained together with ONE optimizer:

      fake = known pixels of x  +  G(incomplete x) on the hole          (G's gradient: hole only)
      loss = mean E(real) - mean E(GradReverse(fake))
             + gp * mean (||grad E(x_t)|| - 1)^2      x_t = t real + (1 - t) fake, t ~ U(0, 1)
             + alpha * mean(E(real)^2 + E(fake)^2)     [+ rec_weight * masked MSE(fake, real); 0 by default]

  Minimising the loss, E lowers the energy of real digits and raises it on completions; the gradient
  reversal (identity forward, gradient times -1 backward) makes the same step move G so as to *lower*
  the energy of its completions. The gradient penalty (WGAN-GP) and the tiny alpha only act on E:
  they keep its energy landscape smooth, so that its slope tells the generator where real strokes are.
  E scores the whole image plus a 14x14 window around the hole; G's output is linear (no sigmoid)
  and clipped to [0, 1] where a completion is used. Evaluation uses a running average of G's weights.

Everything is scored by the mean squared error on the missing pixels only, on held-out digits.

    python -m core.inpainting --epochs 15                      # train, print held-out masked MSE
    python -m core.inpainting --out assets/inpainting          # the shipped default run
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn

from core import data as datasets
from core.device import pick_device
from core.progress import Clock, Progress

PATCH = 6  # side of the square hole
PATCH_START = 11  # first row/column of the unshifted hole (rows and columns 11..16)
MAX_SHIFT = 4  # the hole moves by an integer offset in -MAX_SHIFT..MAX_SHIFT in each direction
FILL = 0.5  # gray value written into the hole
SIDE = 28  # image side the process is defined for
CONTEXT = 4  # pixels of context on each side of the hole that the local energy sees
WINDOW = PATCH + 2 * CONTEXT  # side of the window around the hole (14)
ASSET_DIR = Path(__file__).resolve().parents[2] / "assets" / "inpainting"


# ----------------------------------------------------------------------------- the mask process

def patch_offsets(n: int, random_state=None) -> np.ndarray:
    """(n, 2) integer offsets (row, column), uniform on -MAX_SHIFT..MAX_SHIFT inclusive."""
    rng = np.random.default_rng(random_state)
    return rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(int(n), 2))


def patch_masks(offsets, side: int = SIDE, size: int = PATCH, start: int = PATCH_START) -> np.ndarray:
    """(n, side*side) bool masks, True on the missing patch: rows start+dy .. start+dy+size-1, same for columns."""
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    if offsets.size and (start + offsets.min() < 0 or start + offsets.max() + size > side):
        raise ValueError(f"offsets {offsets.min()}..{offsets.max()} put the patch outside a {side}x{side} image")
    idx = np.arange(side)
    rows = (idx[None, :] >= start + offsets[:, :1]) & (idx[None, :] < start + offsets[:, :1] + size)  # (n, side)
    cols = (idx[None, :] >= start + offsets[:, 1:]) & (idx[None, :] < start + offsets[:, 1:] + size)
    return (rows[:, :, None] & cols[:, None, :]).reshape(len(offsets), side * side)


def apply_mask(X, mask, fill: float = FILL) -> np.ndarray:
    """A copy of X with the masked pixels set to `fill`; X itself is never modified."""
    X = np.array(X, dtype=np.float32, copy=True)
    X[np.broadcast_to(np.asarray(mask, dtype=bool), X.shape)] = fill
    return X


@dataclass
class MaskedSet:
    """Images, the same images with their hole filled with gray, and the holes."""

    X: np.ndarray  # (n, 784) originals in [0, 1]
    X_in: np.ndarray  # (n, 784) incomplete images (hole = FILL)
    mask: np.ndarray  # (n, 784) bool, True = missing
    offsets: np.ndarray  # (n, 2) (row, column) shift of each hole


def make_masked(X, random_state=0, fill: float = FILL) -> MaskedSet:
    """Holes for every row of X, drawn with a fixed seed (the same seed gives the same holes)."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != SIDE * SIDE:
        raise ValueError(f"the patch process is defined for {SIDE}x{SIDE} images, got {X.shape[1:]} features")
    off = patch_offsets(len(X), random_state)
    mask = patch_masks(off)
    return MaskedSet(X, apply_mask(X, mask, fill), mask, off)


def compose(X_in, X_fill, mask):
    """Known pixels from X_in, missing ones from X_fill (NumPy or torch; gradients reach X_fill on the hole only)."""
    if isinstance(X_in, torch.Tensor):
        return torch.where(mask, X_fill, X_in)
    return np.where(mask, X_fill, X_in).astype(np.float32)


def masked_mse(X_hat, X, mask) -> float:
    """Mean squared error over the missing pixels only (all images pooled)."""
    X_hat, X, mask = np.asarray(X_hat, np.float64), np.asarray(X, np.float64), np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("the mask has no missing pixel")
    return float(((X_hat - X) ** 2)[mask].mean())


# ----------------------------------------------------------------------------- PCA

class PCAInpainter:
    """Principal components of the training digits (scikit-learn), used two ways to fill a hole.

    "project": the incomplete image (gray hole included) projected on the first d components.
    "lstsq": the d coefficients that best fit the observed pixels only (least squares), read out on
    the hole. Either way the known pixels are returned exactly and the hole is clipped to [0, 1].
    """

    def __init__(self, n_components: int = 400, random_state: int | None = 0):
        self.n_components = n_components  # components kept (d can be anything from 1 to this)
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA

        X = np.asarray(X, dtype=np.float32)
        k = min(int(self.n_components), *X.shape)
        try:  # eigen-decomposition of the p x p covariance: fast when n_samples >> n_features
            pca = PCA(n_components=k, svd_solver="covariance_eigh", random_state=self.random_state).fit(X)
        except ValueError:  # scikit-learn < 1.5
            pca = PCA(n_components=k, svd_solver="full", random_state=self.random_state).fit(X)
        self.pca_ = pca
        self.components_ = pca.components_.astype(np.float64)  # (k, n_features), orthonormal rows
        self.mean_ = pca.mean_.astype(np.float64)  # (n_features,)
        return self

    @property
    def max_d(self) -> int:
        return self.components_.shape[0]

    def _check_d(self, d) -> int:
        if not 1 <= int(d) <= self.max_d:
            raise ValueError(f"d must be in 1..{self.max_d}, got {d}")
        return int(d)

    def project(self, X, d: int) -> np.ndarray:
        """mean + V_d^T V_d (x - mean): the plain projection of whole images on d components."""
        V = self.components_[: self._check_d(d)]
        Xc = np.asarray(X, np.float64) - self.mean_
        return (self.mean_ + (Xc @ V.T) @ V).astype(np.float32)

    def inpaint(self, X_in, mask, d: int, method: str = "project", clip: bool = True) -> np.ndarray:
        """Known pixels of X_in kept exactly; the hole from the projection or from the least-squares fit."""
        return self.inpaint_many(X_in, mask, [d], method, clip)[int(d)]

    def inpaint_many(self, X_in, mask, ds: Sequence[int], method: str = "project",
                     clip: bool = True) -> dict[int, np.ndarray]:
        """{d: inpainted images} for several d at the cost of about one (sums over components are cumulative)."""
        if method not in ("project", "lstsq"):
            raise ValueError(f"method must be 'project' or 'lstsq', got {method!r}")
        X_in = np.asarray(X_in, np.float32)
        if X_in.ndim != 2 or X_in.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X_in must be (n, {self.mean_.shape[0]}), got {X_in.shape}")
        mask = np.broadcast_to(np.asarray(mask, bool), X_in.shape)
        ds = sorted({self._check_d(d) for d in ds})
        h = mask.sum(1)
        out = {d: X_in.copy() for d in ds}
        if len(X_in) == 0 or h.max() == 0:
            return out
        for size in np.unique(h[h > 0]):  # the patch process gives one size; other masks are grouped
            rows = np.nonzero(h == size)[0]
            holes = self._hole_values(X_in[rows], mask[rows], ds, method, int(size))
            miss = mask[rows]
            for d in ds:
                vals = np.clip(holes[d], 0.0, 1.0) if clip else holes[d]
                block = out[d][rows]
                block[miss] = vals.reshape(-1).astype(np.float32)
                out[d][rows] = block
        return out

    def _hole_values(self, X_in, mask, ds, method, h, chunk: int = 500) -> dict[int, np.ndarray]:
        """{d: (n, h) values on the hole} in row-major pixel order of each hole.

        project: mean_hole + sum_{k<d} V[k, hole] c_k with c = V (x_in - mean).
        lstsq:   minimise ||(mean + V_d^T z - x)_observed||^2. With orthonormal rows the normal
        matrix is I_d - M M^T (M = V_d on the hole, d x h); by Woodbury the hole values are
        mean_hole + rhs + (I_h - A) A^-1 rhs with A = I_h - M^T M and rhs = M^T r_d,
        r = V (x - mean) on observed pixels: h x h solves, and A, rhs are sums over components.
        Fits that are singular (d too large for the observed pixels) use the minimum-norm solution.
        """
        V = torch.from_numpy(self.components_)  # (K, p)
        mean = torch.from_numpy(self.mean_)
        K = max(ds)
        res = {d: np.empty((len(X_in), h)) for d in ds}
        for s in range(0, len(X_in), chunk):
            Mk = torch.from_numpy(mask[s:s + chunk].copy())  # (b, p)
            b = len(Mk)
            Xc = torch.from_numpy(X_in[s:s + chunk].astype(np.float64)) - mean  # (b, p)
            miss = Mk.nonzero()[:, 1].reshape(b, h)  # (b, h) hole pixel indices
            Vh = V[:K][:, miss].permute(1, 0, 2)  # (b, K, h): components on each hole
            mean_h = mean[miss]  # (b, h)
            if method == "project":
                c = Xc @ V[:K].T  # (b, K) coefficients of the whole incomplete image
                acc, k0 = mean_h.clone(), 0
                for d in ds:
                    acc += (c[:, k0:d].unsqueeze(1) @ Vh[:, k0:d]).squeeze(1)
                    res[d][s:s + b] = acc.numpy()
                    k0 = d
                continue
            r = (Xc * ~Mk) @ V[:K].T  # (b, K) = V (x - mean) on observed pixels
            A = torch.eye(h, dtype=V.dtype).repeat(b, 1, 1)  # (b, h, h) = I - M^T M
            rhs = torch.zeros(b, h, dtype=V.dtype)  # M^T r_d
            k0 = 0
            for d in ds:
                Mb = Vh[:, k0:d]  # (b, d - k0, h)
                A -= Mb.transpose(1, 2) @ Mb
                rhs += (r[:, k0:d].unsqueeze(1) @ Mb).squeeze(1)
                k0 = d
                L, info = torch.linalg.cholesky_ex(A)
                ok = info == 0
                sol = torch.cholesky_solve(rhs.unsqueeze(2), L).squeeze(2)  # A^-1 rhs (garbage where not ok)
                vals = mean_h + rhs + sol - (A @ sol.unsqueeze(2)).squeeze(2)
                bad = (~ok).nonzero().flatten()
                for i in bad.tolist():  # singular fit: minimum-norm least squares on the observed pixels
                    obs = ~Mk[i]
                    z = torch.linalg.lstsq(V[:d][:, obs].T, Xc[i, obs].unsqueeze(1), driver="gelsd").solution
                    vals[i] = mean_h[i] + (z.squeeze(1) @ V[:d][:, miss[i]])
                res[d][s:s + b] = vals.numpy()
        return res

    def mse_curve(self, ms: "MaskedSet", ds: Sequence[int], method: str = "project") -> list[float]:
        """Masked MSE of the method for each d (e.g. on held-out images)."""
        many = self.inpaint_many(ms.X_in, ms.mask, ds, method)
        return [masked_mse(many[int(d)], ms.X, ms.mask) for d in ds]


D_GRID = (1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50, 60, 80, 100, 150, 200, 300, 400)  # d values of the curves
# ----------------------------------------------------------------------------- gradient reversal

class GradReverse(torch.autograd.Function):
    """Identity forward; backward multiplies the incoming gradient by -scale (the "gradient flip")."""

    @staticmethod
    def forward(ctx, x, scale: float = 1.0):
        ctx.scale = float(scale)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    return GradReverse.apply(x, scale)


# ----------------------------------------------------------------------------- networks

def hole_window(img: torch.Tensor, mask: torch.Tensor, size: int = WINDOW) -> torch.Tensor:
    """(B, C, 28, 28) images -> (B, C, size, size): the window centred on each image's hole (kept inside the image)."""
    B = len(img)
    m = mask.reshape(B, SIDE, SIDE)
    top = m.any(2).to(torch.uint8).argmax(1)  # (B,) first hole row (0 if there is no hole)
    left = m.any(1).to(torch.uint8).argmax(1)  # (B,) first hole column
    hole = m.sum((1, 2)).clamp(min=1).sqrt().round().long()  # side of a square hole
    r0 = (top + (hole - size) // 2).clamp(0, SIDE - size)  # (B,)
    c0 = (left + (hole - size) // 2).clamp(0, SIDE - size)
    ar = torch.arange(size, device=img.device)
    C = img.shape[1]
    rows = (r0[:, None] + ar)[:, None, :, None].expand(B, C, size, SIDE)
    img = img.gather(2, rows)  # (B, C, size, 28)
    cols = (c0[:, None] + ar)[:, None, None, :].expand(B, C, size, size)
    return img.gather(3, cols)  # (B, C, size, size)


class EnergyNet(nn.Module):
    """E(x, hole) = E_global(image, mask) + E_local(14x14 window around the hole): one number, low = a real digit.

    The global part judges the whole digit; the local part sees the hole and 4 pixels of context on each
    side at full resolution, so a stroke that does not continue through the hole costs energy there.
    Real digits are scored with the same holes as the completions they are compared with.
    """

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(  # global
            nn.Conv2d(2, w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * w * 49, 128), nn.LeakyReLU(0.2),  # (B, 128)
            nn.Linear(128, 1),  # (B, 1)
        )
        self.local = nn.Sequential(
            nn.Conv2d(2, w, 3, 1, 1), nn.LeakyReLU(0.2),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Conv2d(2 * w, 2 * w, 3, 1, 1), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * w * 49, 1),  # (B, 1)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x, mask: (B, 784) -> (B,) energies."""
        inp = torch.stack([x, mask.to(x.dtype)], 1).reshape(-1, 2, SIDE, SIDE)  # (B, 2, 28, 28)
        return (self.net(inp) + self.local(hole_window(inp, mask))).squeeze(1)


class Generator(nn.Module):
    """G(incomplete image, mask) -> a full 28x28 image; only its hole is used.

    A convolutional encoder and a fully connected bottleneck (the whole digit informs the hole) draw
    a coarse image; two 3x3 convolutions that also see the incomplete image and the mask refine it,
    so that strokes entering the hole can be continued. The output is linear around gray 0.5 (a
    sigmoid saturates at black or white, where the energy's gradient no longer reaches G); training
    lets the energy network see it as it is, evaluation clips it to [0, 1].
    """

    def __init__(self, width: int = 32, bottleneck: int = 256):
        super().__init__()
        w = width
        self.coarse = nn.Sequential(
            nn.Conv2d(2, w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * w * 49, bottleneck), nn.LeakyReLU(0.2),  # (B, bottleneck)
            nn.Linear(bottleneck, SIDE * SIDE),  # (B, 784) coarse image
        )
        self.refine = nn.Sequential(
            nn.Conv2d(3, w // 2, 3, 1, 1), nn.LeakyReLU(0.2),  # (B, w/2, 28, 28)
            nn.Conv2d(w // 2, 1, 3, 1, 1),  # (B, 1, 28, 28) correction
        )

    def forward(self, x_in: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x_in, mask: (B, 784) -> (B, 784); in [0, 1] in eval mode."""
        inp = torch.stack([x_in, mask.to(x_in.dtype)], 1).reshape(-1, 2, SIDE, SIDE)  # (B, 2, 28, 28)
        c = self.coarse(inp).reshape(-1, 1, SIDE, SIDE)  # (B, 1, 28, 28)
        y = (FILL + c + self.refine(torch.cat([c, inp], 1))).reshape(-1, SIDE * SIDE)  # (B, 784)
        return y if self.training else y.clamp(0.0, 1.0)


def complete(G: Generator, x_in: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The composed output: x_in's known pixels (exactly), G's pixels on the hole."""
    return compose(x_in, G(x_in, mask), mask)


def gradient_penalty(E: EnergyNet, x: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor,
                     t: torch.Tensor) -> torch.Tensor:
    """mean_i (||d E(x_t) / d x_t|| - 1)^2 at x_t = t x + (1 - t) fake (WGAN-GP); fake is detached: E only."""
    xt = (t * x + (1 - t) * fake.detach()).requires_grad_(True)  # (B, 784)
    (g,) = torch.autograd.grad(E(xt, mask).sum(), xt, create_graph=True)  # (B, 784)
    return ((g.norm(dim=1) - 1) ** 2).mean()


def ebm_loss(E: EnergyNet, G: Generator, x: torch.Tensor, x_in: torch.Tensor, mask: torch.Tensor,
             alpha: float, rec_weight: float = 0.0, flip: float = 1.0, gp: float = 0.0,
             t: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """The one loss both networks descend (see the module docstring).

    E(GradReverse(fake)) makes the generator climb what the energy network descends: E raises the
    energy of completions, G lowers it. The energy and gradient penalties are taken on detached
    copies of the fakes so that they only shape E and never push the generator. `t` (B, 1): the
    interpolation weights of the gradient penalty (uniform draws; random if not given).
    """
    fake = complete(G, x_in, mask)  # (B, 784): gradient to G through the hole only
    e_real = E(x, mask)  # (B,)
    e_fake = E(grad_reverse(fake, flip), mask)  # (B,)
    loss = e_real.mean() - e_fake.mean()
    if alpha:
        loss = loss + alpha * (e_real.pow(2).mean() + E(fake.detach(), mask).pow(2).mean())
    pen = torch.zeros(())
    if gp:
        pen = gradient_penalty(E, x, fake, mask, torch.rand(len(x), 1, device=x.device) if t is None else t)
        loss = loss + gp * pen
    rec = ((fake - x) ** 2)[mask].mean()
    if rec_weight:
        loss = loss + rec_weight * rec
    return loss, {"e_real": e_real.mean().item(), "e_fake": e_fake.mean().item(), "rec": rec.item(), "gp": pen.item()}


# ----------------------------------------------------------------------------- training run

@dataclass
class EBMRun:
    """Everything that changes a trained energy network + generator (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS (28x28 images only)
    n_train: int = 8000  # training digits (the first n of the training split)
    epochs: int = 15  # passes over the training digits
    batch_size: int = 64  # digits per update
    lr: float = 5e-4  # Adam step size, shared by both networks (one optimizer, betas 0.5, 0.9)
    alpha: float = 1e-3  # energy penalty alpha*(E_real^2 + E_fake^2): stops energies drifting
    gp: float = 10.0  # gradient penalty weight: E's slope between real digits and completions stays near 1
    rec_weight: float = 0.0  # weight of a squared error on the hole (0 = energies only, as the exercise asks)
    flip: float = 1.0  # scale of the reversed gradient the generator receives (matters only against rec_weight)
    ema: float = 0.999  # evaluated generator = running average of the weights with this decay (0 = raw weights)
    width: int = 32  # channels of the first layer of both networks
    seed: int = 0  # initial weights, batch order and training holes
    mask_seed: int = 0  # holes of the held-out digits (fixed: every method sees the same ones)
    n_eval: int = 2000  # held-out digits scored after each epoch
    n_show: int = 16  # held-out digits whose completions are kept at every epoch


def held_out(run_or_data, data: datasets.ImageData | None = None, n: int | None = None, mask_seed: int = 0) -> MaskedSet:
    """The fixed held-out set every method is scored on: the first n test digits with seeded holes."""
    if isinstance(run_or_data, EBMRun):
        n, mask_seed = run_or_data.n_eval, run_or_data.mask_seed
    else:
        data = run_or_data
    X = data.X_test[: n or len(data.X_test)]
    return make_masked(X, mask_seed)


def _tensor(a, dev) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), device=dev)


@torch.no_grad()
def complete_array(G: Generator, X_in, mask, batch: int = 1000) -> np.ndarray:
    """Completions of NumPy images (known pixels exact), in evaluation batches."""
    dev = next(G.parameters()).device
    out = []
    for s in range(0, len(X_in), batch):
        xi, m = _tensor(X_in[s:s + batch], dev).float(), _tensor(mask[s:s + batch], dev).bool()
        out.append(complete(G, xi, m).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, SIDE * SIDE), np.float32)


def train_ebm(run: EBMRun, data: datasets.ImageData, partial: dict | None = None,
              device=None) -> Iterator[Progress]:
    """Train (or resume `partial`) epoch by epoch; records with metrics carry extra["snapshot"]()."""
    if data.shape != (1, SIDE, SIDE):
        raise ValueError(f"the inpainting lab needs {SIDE}x{SIDE} gray images; {data.title} has shape {data.shape}")
    dev = pick_device(device)
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, without touching the global generator
        torch.manual_seed(run.seed)
        G, E = Generator(run.width).to(dev), EnergyNet(run.width).to(dev)
    G_avg = copy.deepcopy(G).eval().requires_grad_(False)  # the evaluated generator: running average of G
    opt = torch.optim.Adam(list(G.parameters()) + list(E.parameters()), lr=run.lr, betas=(0.5, 0.9))
    gen = torch.Generator().manual_seed(run.seed)
    history, samples, done = [], {}, 0
    if partial is not None:
        G.load_state_dict(partial["G"])
        G_avg.load_state_dict(partial["G_avg"])
        E.load_state_dict(partial["E"])
        opt.load_state_dict(partial["opt"])
        gen.set_state(partial["rng"])
        history, samples, done = list(partial["history"]), dict(partial["samples"]), int(partial["epochs"])
    if done >= run.epochs:
        return
    Xtr = torch.as_tensor(data.X_train[: run.n_train], device=dev)
    ev = held_out(run, data)
    n, B = len(Xtr), int(run.batch_size)
    n_batches = math.ceil(n / B)
    total = n_batches * run.epochs
    clock = Clock()
    t_before = history[-1]["seconds"] if history else 0.0

    def snapshot(epochs):
        hist, samp = list(history), dict(samples)
        g, ga, e, o, r = (copy.deepcopy(G.state_dict()), copy.deepcopy(G_avg.state_dict()),
                          copy.deepcopy(E.state_dict()), copy.deepcopy(opt.state_dict()), gen.get_state().clone())
        return lambda: {"run": asdict(run), "G": g, "G_avg": ga, "E": e, "opt": o, "rng": r, "history": hist,
                        "samples": samp, "epochs": epochs}

    def evaluate(epoch, train_stats):
        G.eval()
        filled = complete_array(G_avg if run.ema else G, ev.X_in, ev.mask)
        with torch.no_grad():
            m500 = _tensor(ev.mask[:500], dev)
            e_te = E(_tensor(ev.X[:500], dev), m500).mean().item()
            e_fk = E(_tensor(filled[:500], dev), m500).mean().item()
        G.train()
        samples[str(epoch)] = torch.from_numpy(filled[: run.n_show].copy())
        row = {"epoch": epoch, "seconds": t_before + clock(), "masked_mse": masked_mse(filled, ev.X, ev.mask),
               "energy_real": e_te, "energy_fake": e_fk, **train_stats}
        history.append(row)
        return row

    if partial is None:
        row = evaluate(0, {})
        yield Progress(0, total, 0.0, {k: v for k, v in row.items() if k not in ("epoch", "seconds")},
                       "initial networks", elapsed=clock(), extra={"snapshot": snapshot(0)})
    step = done * n_batches
    for epoch in range(done, run.epochs):
        perm = torch.randperm(n, generator=gen)
        off = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (n, 2), generator=gen).numpy()
        masks = torch.from_numpy(patch_masks(off)).to(dev)
        sums = {"loss": 0.0, "e_real": 0.0, "e_fake": 0.0, "rec": 0.0, "gp": 0.0}
        for i in range(n_batches):
            idx = perm[i * B:(i + 1) * B]
            x, m = Xtr[idx.to(dev)], masks[idx.to(dev)]
            x_in = torch.where(m, torch.full_like(x, FILL), x)
            t = torch.rand(len(x), 1, generator=gen).to(dev)  # gradient-penalty interpolation weights
            loss, st = ebm_loss(E, G, x, x_in, m, run.alpha, run.rec_weight, run.flip, run.gp, t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():  # G_avg <- d G_avg + (1 - d) G, with a short warm-up of the decay
                d = min(run.ema, (1 + step) / (10 + step))
                torch._foreach_lerp_(list(G_avg.parameters()), list(G.parameters()), 1 - d)
            sums["loss"] += loss.item()
            for k in st:
                sums[k] += st[k]
            step += 1
            if i + 1 < n_batches and (i + 1) % 25 == 0:
                yield Progress(step, total, epoch + (i + 1) / n_batches, {}, f"epoch {epoch + 1}/{run.epochs}",
                               elapsed=clock())
        stats = {"loss": sums["loss"] / n_batches, "train_e_real": sums["e_real"] / n_batches,
                 "train_e_fake": sums["e_fake"] / n_batches, "train_rec": sums["rec"] / n_batches,
                 "train_gp": sums["gp"] / n_batches}
        row = evaluate(epoch + 1, stats)
        yield Progress(step, total, epoch + 1, {k: v for k, v in row.items() if k not in ("epoch", "seconds")},
                       f"epoch {epoch + 1}/{run.epochs}", done=epoch + 1 == run.epochs, elapsed=clock(),
                       extra={"snapshot": snapshot(epoch + 1)})


def generator(result: dict, device=None) -> Generator:
    """The evaluated generator of a finished or partial run (averaged weights unless ema = 0; a fresh module in eval mode)."""
    run = EBMRun(**result["run"])
    G = Generator(run.width)
    G.load_state_dict(result["G_avg" if run.ema else "G"])
    return G.to(pick_device(device)).eval()


def energy_net(result: dict, device=None) -> EnergyNet:
    run = EBMRun(**result["run"])
    E = EnergyNet(run.width)
    E.load_state_dict(result["E"])
    return E.to(pick_device(device)).eval()


# ----------------------------------------------------------------------------- the shipped default run

def data_fingerprint(run: EBMRun, data: datasets.ImageData) -> str:
    """SHA-256 of the training digits and the scored held-out digits a run sees (a shipped run must match it)."""
    import hashlib

    h = hashlib.sha256()
    for a in (data.X_train[: run.n_train], data.X_test[: run.n_eval]):
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()


def save_asset(result: dict, provenance: dict, out: Path = ASSET_DIR) -> Path:
    """out/ebm.pt: run, evaluated generator and energy network (float16), history and samples; no optimizer state.

    Loadable with weights_only=True; out/provenance.json repeats the provenance for people.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run = EBMRun(**result["run"])
    half = lambda d: {k: v.half() for k, v in d.items()}  # noqa: E731
    obj = {"run": result["run"], "G_avg" if run.ema else "G": half(result["G_avg" if run.ema else "G"]),
           "E": half(result["E"]), "history": result["history"], "epochs": result["epochs"], "done": True,
           "samples": {k: v.half() for k, v in result["samples"].items()}, "provenance": json.dumps(provenance)}
    tmp = out / "ebm.pt.tmp"
    torch.save(obj, tmp)
    tmp.replace(out / "ebm.pt")
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return out / "ebm.pt"


def shipped(run: EBMRun, data: datasets.ImageData, folder: Path = ASSET_DIR) -> dict | None:
    """The shipped result (float32 again) if it was trained with exactly `run` on the same digits; else None."""
    p = Path(folder) / "ebm.pt"
    if not p.is_file():
        return None
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # a damaged asset is no asset
        return None
    if obj.get("run") != asdict(run) or json.loads(obj["provenance"]).get("data_sha256") != data_fingerprint(run, data):
        return None
    f32 = lambda d: {k: v.float() for k, v in d.items()}  # noqa: E731
    return dict(obj, **{k: f32(obj[k]) for k in ("G", "G_avg", "E", "samples") if k in obj},
                provenance=json.loads(obj["provenance"]))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train the inpainting energy network + generator; print held-out masked MSE.")
    for f in EBMRun.__dataclass_fields__.values():
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--out", type=Path, default=None, help="write the finished run there as the shipped asset")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    run = EBMRun(**{k: getattr(a, k) for k in EBMRun.__dataclass_fields__})
    data = datasets.load(run.dataset)
    last = None
    for rec in train_ebm(run, data):
        if rec.metrics:
            last = rec
            print(rec.line(), flush=True)
    if a.out is not None and last is not None:
        import platform
        import sys

        from core import CODE_VERSION
        from core.device import describe

        result = last.extra["snapshot"]()
        row = result["history"][-1]
        prov = {"command": "python -m core.inpainting " + " ".join(sys.argv[1:] if argv is None else argv),
                "run": result["run"], "code_version": CODE_VERSION, "data": data.title, "note": data.note,
                "data_sha256": data_fingerprint(run, data),
                "heldout_masked_mse": round(row["masked_mse"], 5), "train_seconds": round(row["seconds"], 1),
                "device": describe(pick_device()), "threads": torch.get_num_threads(), "torch": torch.__version__,
                "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}
        print(f"wrote {save_asset(result, prov, a.out)}")


if __name__ == "__main__":
    main()
