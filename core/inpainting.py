"""Inpainting lab: fill a 6x6 hole in a digit by PCA, or by an energy network trained with a generator.

The exercise's mask process: a 6x6 patch, rows and columns 11-16 of a 28x28 digit, shifted by a random
offset in -4..4 (each direction independently, integers, both ends included), is set to a gray value.

Two reconstructions of the hole:

* PCA (scikit-learn): either the plain projection of the incomplete image on the first d principal
  components (the gray patch takes part in the projection), or the least-squares fit of those d
  components to the *observed* pixels only, read out on the hole (the fair linear baseline).
* An energy network E and a generator G trained together with ONE optimizer:

      fake = known pixels of x  +  G(incomplete x) on the hole          (G's gradient: hole only)
      loss = mean E(real) - mean E(GradReverse(fake)) + alpha * mean(E(real)^2 + E(fake)^2)
             [+ rec_weight * masked MSE(fake, real)]

  Minimising the loss, E lowers the energy of real digits and raises it on completions; the gradient
  reversal (identity forward, gradient times -1 backward) makes the same step move G so as to *lower*
  the energy of its completions.

Everything is scored by the mean squared error on the missing pixels only, on held-out digits.

    python -m core.inpainting --epochs 10
"""
from __future__ import annotations

import argparse
import copy
import math
from dataclasses import asdict, dataclass
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

class EnergyNet(nn.Module):
    """E(x, hole): a 28x28 image and the mask of its hole -> one number; low energy = a real digit.

    Seeing the mask tells the network where a completion could be; real digits are scored with the
    same holes as the completions they are compared with.
    """

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(2, w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * w * 49, 128), nn.LeakyReLU(0.2),  # (B, 128)
            nn.Linear(128, 1),  # (B, 1)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x, mask: (B, 784) -> (B,) energies."""
        inp = torch.stack([x, mask.to(x.dtype)], 1).reshape(-1, 2, SIDE, SIDE)  # (B, 2, 28, 28)
        return self.net(inp).squeeze(1)


class Generator(nn.Module):
    """G(incomplete image, mask) -> a full 28x28 image in [0, 1]; only its hole is used.

    A convolutional encoder and a fully connected bottleneck (the whole digit informs the hole) draw
    a coarse image; two 3x3 convolutions that also see the incomplete image and the mask refine it,
    so that strokes entering the hole can be continued.
    """

    def __init__(self, width: int = 32, bottleneck: int = 256):
        super().__init__()
        w = width
        self.coarse = nn.Sequential(
            nn.Conv2d(2, w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * w * 49, bottleneck), nn.LeakyReLU(0.2),  # (B, bottleneck)
            nn.Linear(bottleneck, SIDE * SIDE),  # (B, 784) coarse logits
        )
        self.refine = nn.Sequential(
            nn.Conv2d(3, w // 2, 3, 1, 1), nn.LeakyReLU(0.2),  # (B, w/2, 28, 28)
            nn.Conv2d(w // 2, 1, 3, 1, 1),  # (B, 1, 28, 28) correction of the logits
        )

    def forward(self, x_in: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x_in, mask: (B, 784) -> (B, 784) in [0, 1]."""
        inp = torch.stack([x_in, mask.to(x_in.dtype)], 1).reshape(-1, 2, SIDE, SIDE)  # (B, 2, 28, 28)
        c = self.coarse(inp).reshape(-1, 1, SIDE, SIDE)  # (B, 1, 28, 28)
        y = c + self.refine(torch.cat([c, inp], 1))  # (B, 1, 28, 28)
        return torch.sigmoid(y).reshape(-1, SIDE * SIDE)


def complete(G: Generator, x_in: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The composed output: x_in's known pixels (exactly), G's pixels on the hole."""
    return compose(x_in, G(x_in, mask), mask)


def ebm_loss(E: EnergyNet, G: Generator, x: torch.Tensor, x_in: torch.Tensor, mask: torch.Tensor,
             alpha: float, rec_weight: float = 0.0, flip: float = 1.0) -> tuple[torch.Tensor, dict]:
    """The one loss both networks descend (see the module docstring).

    E(GradReverse(fake)) makes the generator climb what the energy network descends: E raises the
    energy of completions, G lowers it. The energy penalty is taken on a detached copy of the fakes
    so that it only bounds E and never pushes the generator.
    """
    fake = complete(G, x_in, mask)  # (B, 784): gradient to G through the hole only
    e_real = E(x, mask)  # (B,)
    e_fake = E(grad_reverse(fake, flip), mask)  # (B,)
    e_fake_d = E(fake.detach(), mask)
    loss = e_real.mean() - e_fake.mean() + alpha * (e_real.pow(2).mean() + e_fake_d.pow(2).mean())
    rec = ((fake - x) ** 2)[mask].mean()
    if rec_weight:
        loss = loss + rec_weight * rec
    return loss, {"e_real": e_real.mean().item(), "e_fake": e_fake.mean().item(), "rec": rec.item()}


# ----------------------------------------------------------------------------- training run

@dataclass
class EBMRun:
    """Everything that changes a trained energy network + generator (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS (28x28 images only)
    n_train: int = 8000  # training digits (the first n of the training split)
    epochs: int = 3  # passes over the training digits
    batch_size: int = 64  # digits per update
    lr: float = 1e-3  # Adam step size, shared by both networks (one optimizer)
    alpha: float = 0.1  # energy penalty alpha*(E_real^2 + E_fake^2): keeps energies near +-1/(2 alpha)
    rec_weight: float = 1.0  # weight of the masked MSE term (0 = energies only: slow and unstable)
    flip: float = 0.01  # scale of the reversed gradient the generator receives (its weight against rec_weight)
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
    dev = pick_device(device) if not isinstance(device, torch.device) else device
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, without touching the global generator
        torch.manual_seed(run.seed)
        G, E = Generator(run.width).to(dev), EnergyNet(run.width).to(dev)
    opt = torch.optim.Adam(list(G.parameters()) + list(E.parameters()), lr=run.lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(run.seed)
    history, samples, done = [], {}, 0
    if partial is not None:
        G.load_state_dict(partial["G"])
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
        g, e, o, r = (copy.deepcopy(G.state_dict()), copy.deepcopy(E.state_dict()),
                      copy.deepcopy(opt.state_dict()), gen.get_state().clone())
        return lambda: {"run": asdict(run), "G": g, "E": e, "opt": o, "rng": r, "history": hist,
                        "samples": samp, "epochs": epochs}

    def evaluate(epoch, train_stats):
        G.eval()
        filled = complete_array(G, ev.X_in, ev.mask)
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
        sums = {"loss": 0.0, "e_real": 0.0, "e_fake": 0.0, "rec": 0.0}
        for i in range(n_batches):
            idx = perm[i * B:(i + 1) * B]
            x, m = Xtr[idx.to(dev)], masks[idx.to(dev)]
            x_in = torch.where(m, torch.full_like(x, FILL), x)
            loss, st = ebm_loss(E, G, x, x_in, m, run.alpha, run.rec_weight, run.flip)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums["loss"] += loss.item()
            for k in st:
                sums[k] += st[k]
            step += 1
            if i + 1 < n_batches and (i + 1) % 25 == 0:
                yield Progress(step, total, epoch + (i + 1) / n_batches, {}, f"epoch {epoch + 1}/{run.epochs}",
                               elapsed=clock())
        stats = {"loss": sums["loss"] / n_batches, "train_e_real": sums["e_real"] / n_batches,
                 "train_e_fake": sums["e_fake"] / n_batches, "train_rec": sums["rec"] / n_batches}
        row = evaluate(epoch + 1, stats)
        yield Progress(step, total, epoch + 1, {k: v for k, v in row.items() if k not in ("epoch", "seconds")},
                       f"epoch {epoch + 1}/{run.epochs}", done=epoch + 1 == run.epochs, elapsed=clock(),
                       extra={"snapshot": snapshot(epoch + 1)})


def generator(result: dict, device=None) -> Generator:
    """The generator of a finished or partial run (a fresh module in eval mode)."""
    run = EBMRun(**result["run"])
    G = Generator(run.width)
    G.load_state_dict(result["G"])
    return G.to(pick_device(device) if not isinstance(device, torch.device) else device).eval()


def energy_net(result: dict, device=None) -> EnergyNet:
    run = EBMRun(**result["run"])
    E = EnergyNet(run.width)
    E.load_state_dict(result["E"])
    return E.to(pick_device(device) if not isinstance(device, torch.device) else device).eval()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train the inpainting energy network + generator; print held-out masked MSE.")
    for f in EBMRun.__dataclass_fields__.values():
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    a = ap.parse_args(argv)
    run = EBMRun(**{k: getattr(a, k) for k in EBMRun.__dataclass_fields__})
    data = datasets.load(run.dataset)
    for rec in train_ebm(run, data):
        if rec.metrics:
            print(f"{rec.message:>16}  {rec.elapsed:6.1f}s  " + "  ".join(f"{k}={v:.4g}" for k, v in rec.metrics.items()),
                  flush=True)


if __name__ == "__main__":
    main()
