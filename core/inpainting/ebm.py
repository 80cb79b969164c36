"""Inpainting by an energy network E and a generator G trained together with ONE optimizer:

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

Everything is scored by the mean squared error on the missing pixels only, on held-out digits (the hole
process is in core.inpainting.masks, the PCA fills in core.inpainting.pca).

    python -m core.inpainting.ebm --epochs 15                  # train, print held-out masked MSE
    python -m core.inpainting.ebm --out assets/inpainting      # the shipped default run
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from core import training
from core import data as datasets
from core.device import pick_device
from core.gan.losses import gradient_penalty
from core.inpainting.masks import FILL, MAX_SHIFT, PATCH, SIDE, compose, masked_held_out, masked_mse, patch_masks

CONTEXT = 4  # pixels of context on each side of the hole that the local energy sees
WINDOW = PATCH + 2 * CONTEXT  # side of the window around the hole (14)


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
        pen = gradient_penalty(lambda z: E(z, mask), x, fake,
                               torch.rand(len(x), 1, device=x.device) if t is None else t)
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


class EBMSteps(training.TorchSteps):
    """One epoch of the one-optimizer energy/generator training per unit; after each, the evaluated
    generator's masked MSE on the held-out holes and both energies. Snapshot (core.training.TorchSteps):
    "nets" {"G", "G_avg" (the running average), "E"}, "opts" {"GE": the one Adam of G and E}, "rng", and
    "samples": the completions of the first n_show held-out digits after every epoch. A shipped run
    (assets/inpainting) keeps the evaluated generator (G_avg, or G when ema = 0), E and the samples."""

    kind = "inpaint-ebm"
    asset = "inpainting"

    def __init__(self, run: EBMRun, data: datasets.ImageData, device=None):
        if data.shape != (1, SIDE, SIDE):
            raise ValueError(f"the inpainting lab needs {SIDE}x{SIDE} gray images; {data.title} has shape {data.shape}")
        self.config, self.data, self.device = run, data, device

    def total(self) -> int:
        return int(self.config.epochs)

    def build(self) -> None:
        run, dev = self.config, pick_device(self.device)
        self.dev = dev
        G, E = training.seeded(run.seed, lambda: (Generator(run.width), EnergyNet(run.width)))
        self.G, self.E = G.to(dev), E.to(dev)
        self.G_avg = copy.deepcopy(self.G).eval().requires_grad_(False)  # the evaluated generator: running average
        self.opt = torch.optim.Adam(list(self.G.parameters()) + list(self.E.parameters()), lr=run.lr, betas=(0.5, 0.9))
        self.nets, self.opts = {"G": self.G, "G_avg": self.G_avg, "E": self.E}, {"GE": self.opt}
        self.gen = torch.Generator().manual_seed(run.seed)
        self.samples: dict[str, torch.Tensor] = {}
        self.stats: dict[str, float] = {}
        self.Xtr = torch.as_tensor(self.data.X_train[: run.n_train], device=dev)
        self.ev = masked_held_out(self.data, run.n_eval, run.mask_seed)

    def extra_state(self) -> dict:
        return {"samples": dict(self.samples)}

    def restore_extra(self, snapshot: dict) -> None:
        self.samples = dict(snapshot["samples"])

    def advance(self, done: int):
        run, dev, gen = self.config, self.dev, self.gen
        n, B = len(self.Xtr), int(run.batch_size)
        n_batches = math.ceil(n / B)
        step = done * n_batches
        perm = torch.randperm(n, generator=gen)
        off = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (n, 2), generator=gen).numpy()
        masks = torch.from_numpy(patch_masks(off)).to(dev)
        sums = {"loss": 0.0, "e_real": 0.0, "e_fake": 0.0, "rec": 0.0, "gp": 0.0}
        for i in range(n_batches):
            idx = perm[i * B:(i + 1) * B]
            x, m = self.Xtr[idx.to(dev)], masks[idx.to(dev)]
            x_in = torch.where(m, torch.full_like(x, FILL), x)
            t = torch.rand(len(x), 1, generator=gen).to(dev)  # gradient-penalty interpolation weights
            loss, st = ebm_loss(self.E, self.G, x, x_in, m, run.alpha, run.rec_weight, run.flip, run.gp, t)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            with torch.no_grad():  # G_avg <- d G_avg + (1 - d) G, with a short warm-up of the decay
                d = min(run.ema, (1 + step) / (10 + step))
                torch._foreach_lerp_(list(self.G_avg.parameters()), list(self.G.parameters()), 1 - d)
            sums["loss"] += loss.item()
            for k in st:
                sums[k] += st[k]
            step += 1
            if i + 1 < n_batches and (i + 1) % 25 == 0:
                yield (i + 1) / n_batches
        self.stats = {"loss": sums["loss"] / n_batches, "train_e_real": sums["e_real"] / n_batches,
                      "train_e_fake": sums["e_fake"] / n_batches, "train_rec": sums["rec"] / n_batches,
                      "train_gp": sums["gp"] / n_batches}

    def measure(self, done: int) -> dict[str, float]:
        run, dev, ev = self.config, self.dev, self.ev
        self.G.eval()
        filled = complete_array(self.G_avg if run.ema else self.G, ev.X_in, ev.mask)
        with torch.no_grad():
            m500 = _tensor(ev.mask[:500], dev)
            e_te = self.E(_tensor(ev.X[:500], dev), m500).mean().item()
            e_fk = self.E(_tensor(filled[:500], dev), m500).mean().item()
        self.G.train()
        self.samples[str(done)] = torch.from_numpy(filled[: run.n_show].copy())
        stats, self.stats = self.stats, {}
        return {"masked_mse": masked_mse(filled, ev.X, ev.mask), "energy_real": e_te, "energy_fake": e_fk, **stats}

    def data_arrays(self) -> tuple:
        return self.data.X_train[: self.config.n_train], self.data.X_test[: self.config.n_eval]

    def shippable(self, snapshot: dict) -> dict:
        """The evaluated generator and the energy network, history and samples; no optimizer state."""
        out = super().shippable(snapshot)
        unused = "G" if self.config.ema else "G_avg"
        return {**out, "nets": {k: v for k, v in out["nets"].items() if k != unused}}


def train(run: EBMRun, data: datasets.ImageData, partial: dict | None = None, device=None):
    """The run's training iterator (core.training.train of EBMSteps)."""
    return training.train(EBMSteps(run, data, device), partial)


def generator(result: dict, device=None) -> Generator:
    """The evaluated generator of a finished or partial run (averaged weights unless ema = 0; a fresh module in eval mode)."""
    run = EBMRun(**result["config"])
    G = Generator(run.width)
    G.load_state_dict(result["nets"]["G_avg" if run.ema else "G"])
    return G.to(pick_device(device)).eval()


def energy_net(result: dict, device=None) -> EnergyNet:
    run = EBMRun(**result["config"])
    E = EnergyNet(run.width)
    E.load_state_dict(result["nets"]["E"])
    return E.to(pick_device(device)).eval()


def main(argv=None):
    return training.main(EBMSteps, EBMRun(), argv, "Train the inpainting energy network + generator; print the "
                         "held-out masked MSE after every epoch.")


if __name__ == "__main__":
    main()
