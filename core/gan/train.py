"""GAN training for the lab: minimax, non-saturating, WGAN (weight clipping) and WGAN-GP, as a run of
core.training (`GANSteps`), resumable from a snapshot, with fixed-noise sample grids over training,
quality rows and failure flags in plain words.

    python -m core.gan.train --arch dcgan --loss nonsat --n-iters 300

`GANTrainer` holds one run's networks, optimisers and random state; it can do one discriminator
(critic) step, one generator step or one full iteration (`d_steps` D steps then one G step), which
is what the page's single-step controls use. `GANSteps` is the run the app caches: a run resumed from
a snapshot continues exactly as an uninterrupted one (same weights, same random draws), also when only
the number of iterations was raised (`GANSteps.continues`). How often a run logs, keeps a grid and
scores quality follows from its length (`schedule`), so the page and the command line train the same run.

Images are scaled to [-1, 1] for the networks. DCGAN works at 32x32 (MNIST and Fashion-MNIST are
padded from 28x28 by 2 pixels, the 8x8 digits upsampled x4) or 64x64 (the 32x32 image upsampled
x2); `to_native` maps generated images back to the dataset's own shape in [0, 1] for the
quality metrics.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import assets, training
from core import data as datasets
from core.device import pick_device
from core.gan.diffaug import diff_augment, parse as parse_policy
from core.gan.losses import discriminator_loss, gradient_penalty
from core.gan.models import build

LOSSES = ("minimax", "nonsat", "wgan", "wgan-gp")
LOSS_NAMES = {"minimax": "minimax GAN (saturating G loss)", "nonsat": "GAN, non-saturating G loss",
              "wgan": "WGAN (weight clipping)", "wgan-gp": "WGAN-GP (gradient penalty)"}


@dataclass
class GANConfig:
    """Every hyper-parameter of a GAN run (the cache key is made of these)."""

    arch: str = "dcgan"  # "dcgan" (Radford et al.) or "mlp" (the seed's fully connected G and D)
    loss: str = "nonsat"  # one of LOSSES
    image_size: int = 32  # DCGAN: 32 or 64 (the MLP always works at the dataset's own size)
    nz: int = 100  # noise dimension
    noise: str = "normal"  # "normal" N(0, 1) or "uniform" U(-1, 1) (the seed's MLP GAN)
    width: float = 32  # DCGAN: channels of the last hidden map (x2 per layer); MLP: scale of the hidden sizes
    batch_size: int = 64  # images per D step and per G step
    lr_g: float = 2e-4  # generator learning rate
    lr_d: float = 2e-4  # discriminator / critic learning rate
    optimizer: str = "adam"  # "adam" or "rmsprop" (the original WGAN)
    beta1: float = 0.5  # Adam's first moment decay (Radford: 0.5)
    beta2: float = 0.999  # Adam's second moment decay (WGAN-GP: 0.9)
    d_steps: int = 1  # D (critic) steps per G step
    clip: float = 0.01  # WGAN: critic weights clipped to [-clip, clip]
    gp_weight: float = 10.0  # WGAN-GP: lambda of the gradient penalty
    diffaug: str = ""  # DiffAugment policy, e.g. "color,translation,cutout" ("" = off)
    n_iters: int = 400  # generator iterations
    log_every: int = 0  # iterations per metrics row (0: from n_iters, see `schedule`)
    grid_every: int = 0  # iterations per fixed-noise sample grid, the timeline (0: from n_iters)
    quality_every: int = 0  # iterations per quality evaluation, also at 0 and at the end (0: from n_iters)
    n_grid: int = 64  # images in each fixed-noise grid
    seed: int = 0  # initial weights, noise, batch order, dropout, augmentation
    channels_last: bool = True  # NHWC memory layout for the DCGAN convolutions (faster on CPU)


@dataclass
class GANRun:
    """Which data (all classes or one) and the GAN's settings."""

    dataset: str = "mnist"  # see core.data.DATASETS
    label: int = -1  # train on this class only (-1: all classes)
    n_train: int = 8000  # at most this many training images (the first ones of the class)
    gan: GANConfig = field(default_factory=GANConfig)


ITERATIONS = (20, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 5000, 10000, 20000)  # the pages' lengths


@dataclass(frozen=True)
class Schedule:
    """When a run of n_iters iterations logs a metrics row, keeps a fixed-noise grid and scores quality."""

    n_iters: int
    log_every: int  # iterations per metrics row
    grid_every: int  # iterations per grid; 0: log-spaced (1, 2, 5, 10, 20, 50, ... and every tenth of the run)
    quality_every: int  # iterations per quality evaluation; 0: log-spaced from 10 on (and every tenth of the run)

    def _log_spaced(self, it: int, start: int = 1) -> bool:
        n = self.n_iters
        on_ladder = it >= start and any(it == s * 10 ** k for k in range(8) for s in (1, 2, 5))
        return on_ladder or it % max(1, n // 10) == 0

    def grid_at(self, it: int) -> bool:
        """A fixed-noise grid after iteration `it` (always at the end)."""
        if it == self.n_iters:
            return True
        return it % self.grid_every == 0 if self.grid_every else self._log_spaced(it)

    def quality_at(self, it: int) -> bool:
        """A quality evaluation after iteration `it` (always at 0 and at the end)."""
        if it in (0, self.n_iters):
            return True
        return it % self.quality_every == 0 if self.quality_every else self._log_spaced(it, start=10)


def schedule(cfg: GANConfig) -> Schedule:
    """The config's own intervals, or (0) ones from its length: short runs often; runs of more than 1,000
    iterations keep their grids and quality rows at log-spaced iterations (a few dozen), so the timeline of a
    10,000-iteration run shows its first iterations as well as its last and stays small."""
    n = int(cfg.n_iters)
    log = int(cfg.log_every) or (5 if n <= 100 else 10 if n <= 1000 else 25)
    grid = int(cfg.grid_every) or (5 if n <= 100 else 25 if n <= 1000 else 0)
    quality = int(cfg.quality_every) or (50 if n <= 500 else 100 if n <= 1000 else 0)
    return Schedule(n, log, grid, quality)


def mlp_config(n_iters: int = 10_000, width: float = 1.0, batch_size: int = 64, d_steps: int = 1, loss: str = "nonsat",
               lr: float = 2e-4, seed: int = 0) -> GANConfig:
    """The seed's fully connected GAN: noise U(-1, 1) of size 100, Adam 2e-4 / beta1 0.5, k D steps per G step."""
    return GANConfig(arch="mlp", loss=loss, noise="uniform", width=float(width), batch_size=int(batch_size),
                     lr_g=float(lr), lr_d=float(lr), d_steps=int(d_steps), n_iters=int(n_iters), seed=int(seed),
                     channels_last=False)


def dcgan_config(**changes) -> GANConfig:
    """The DCGAN page's run: width 32, batch 32, Adam 2e-4 (0.5, 0.999), one D step per G step, 2,000 iterations."""
    return replace(GANConfig(arch="dcgan", width=32, batch_size=32, n_iters=2000), **changes)


def comparison_configs(n_iters: int = 10_000, width: float = 0.5, batch_size: int = 64, seed: int = 0,
                       gan_loss: str = "minimax", lr_gan: float = 2e-4, clip: float = 0.01, lr_wgan: float = 5e-5,
                       gp_weight: float = 10.0, lr_gp: float = 1e-4, n_critic: int = 5) -> dict[str, GANConfig]:
    """The minimax-vs-WGAN page's three runs: the same fully connected G, each loss with its published optimiser."""
    base = mlp_config(n_iters, width, batch_size, 1, "minimax", lr_gan, seed)
    return {"minimax": replace(wgan_defaults(base, gan_loss), lr_g=float(lr_gan), lr_d=float(lr_gan)),
            "wgan": replace(wgan_defaults(base, "wgan"), clip=float(clip), lr_g=float(lr_wgan), lr_d=float(lr_wgan),
                            d_steps=int(n_critic)),
            "wgan-gp": replace(wgan_defaults(base, "wgan-gp"), gp_weight=float(gp_weight), lr_g=float(lr_gp),
                               lr_d=float(lr_gp), d_steps=int(n_critic))}


def wgan_defaults(cfg: GANConfig, loss: str) -> GANConfig:
    """The published settings of each loss: WGAN RMSprop 5e-5, 5 critic steps, clip 0.01;
    WGAN-GP Adam 1e-4 with betas (0.5, 0.9), 5 critic steps, lambda 10; GANs Adam 2e-4, beta1 0.5."""
    if loss == "wgan":
        return replace(cfg, loss=loss, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, d_steps=5)
    if loss == "wgan-gp":
        return replace(cfg, loss=loss, optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9, d_steps=5)
    return replace(cfg, loss=loss, optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, d_steps=1)


# ----------------------------------------------------------------------------- data

def image_shape(run: GANRun, data_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    C, H, W = data_shape
    if run.gan.arch == "mlp":
        return (C, H, W)
    return (C, run.gan.image_size, run.gan.image_size)


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


# ----------------------------------------------------------------------------- losses

@contextlib.contextmanager
def _eval_batch_stats(module: nn.Module):
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
    with _eval_batch_stats(G):
        return torch.cat([G(z[i:i + batch]) for i in range(0, len(z), batch)])


# ----------------------------------------------------------------------------- the trainer

class GANTrainer:
    """One run's G, D, optimisers and random state; d_step / g_step / iteration advance it."""

    def __init__(self, run: GANRun, data: datasets.ImageData, device=None, X: torch.Tensor | None = None):
        cfg = run.gan
        if cfg.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {cfg.loss!r}")
        if cfg.arch == "dcgan" and cfg.image_size not in (32, 64):
            raise ValueError("DCGAN image size must be 32 or 64")
        parse_policy(cfg.diffaug)
        self.run, self.cfg = run, cfg
        self.device = torch.device(device) if device is not None else pick_device()
        self.data_shape = tuple(data.shape)
        self.X = (X if X is not None else prepare(run, data)).to(self.device)
        self.shape = tuple(self.X.shape[1:])
        self.cl = cfg.channels_last and cfg.arch == "dcgan" and self.device.type == "cpu"
        if self.cl:
            self.X = self.X.contiguous(memory_format=torch.channels_last)
        self.gen = torch.Generator().manual_seed(cfg.seed)  # batches, noise, dropout, augmentation
        critic = {"minimax": "gan", "nonsat": "gan"}.get(cfg.loss, cfg.loss)
        self.G, self.D = build(cfg.arch, nz=cfg.nz, shape=self.shape, width=cfg.width, critic=critic,
                               generator=self.gen)
        self.G.to(self.device)
        self.D.to(self.device)
        if self.cl:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        for m in self.D.modules():
            if hasattr(m, "generator"):
                m.generator = self.gen
        self.opt_g, self.opt_d = self._optimizer(self.G, cfg.lr_g), self._optimizer(self.D, cfg.lr_d)
        g_fixed = torch.Generator().manual_seed(10_000 + cfg.seed)
        self.z_fixed = self._noise(cfg.n_grid, g_fixed)
        self.iters = 0  # generator steps done
        self.d_updates = 0  # discriminator steps done
        self.perm = torch.randperm(len(self.X), generator=self.gen)
        self.pos = 0  # position in the current epoch's permutation
        self.seen = 0  # real images drawn so far (for the epoch count)
        self._acc: dict[str, list] = {}

    # -- plumbing
    def _optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.cfg.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=lr)
        if self.cfg.optimizer == "adam":
            return torch.optim.Adam(net.parameters(), lr=lr, betas=(self.cfg.beta1, self.cfg.beta2))
        raise ValueError(f"optimizer must be adam or rmsprop, not {self.cfg.optimizer!r}")

    def _noise(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor:
        gen = gen or self.gen
        if self.cfg.noise == "uniform":
            z = torch.rand(n, self.cfg.nz, generator=gen) * 2 - 1
        else:
            z = torch.randn(n, self.cfg.nz, generator=gen)
        return z.to(self.device)

    def _real_batch(self) -> torch.Tensor:
        B = min(self.cfg.batch_size, len(self.X))
        if self.pos + B > len(self.X):
            self.perm = torch.randperm(len(self.X), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + B]
        self.pos += B
        self.seen += B
        return self.X[idx.to(self.device)]

    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.cfg.diffaug, self.gen) if self.cfg.diffaug else x

    def _fake(self, n: int) -> torch.Tensor:
        x = self.G(self._noise(n))
        return x.contiguous(memory_format=torch.channels_last) if self.cl else x

    def _log(self, **vals: torch.Tensor) -> None:
        for k, v in vals.items():
            self._acc.setdefault(k, []).append(v.detach())

    @property
    def epoch(self) -> float:
        return self.seen / len(self.X)

    @property
    def wasserstein(self) -> bool:
        return self.cfg.loss in ("wgan", "wgan-gp")

    # -- the steps
    def d_step(self) -> dict[str, float]:
        """One discriminator (critic) update on a real batch and as many fresh fakes."""
        cfg = self.cfg
        real = self._real_batch()
        with torch.no_grad():
            fake = self._fake(len(real))
        out_r, out_f = self.D(self._aug(real)), self.D(self._aug(fake))
        if self.wasserstein:
            w = out_r.mean() - out_f.mean()
            loss = -w
            if cfg.loss == "wgan-gp":
                eps = torch.rand(len(real), 1, 1, 1, generator=self.gen).to(self.device)
                gp = gradient_penalty(self.D, real, fake, eps)
                loss = loss + cfg.gp_weight * gp
                self._log(gp=gp)
            self._log(d_loss=loss, w_estimate=w, critic_real=out_r.mean(), critic_fake=out_f.mean())
        else:
            loss, logged = discriminator_loss(out_r, out_f)
            self._log(**logged)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if cfg.loss == "wgan":
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-cfg.clip, cfg.clip)
        self.d_updates += 1
        return {"d_loss": float(loss.detach())}

    def g_step(self) -> dict[str, float]:
        """One generator update on a fresh batch of noise."""
        fake = self._fake(min(self.cfg.batch_size, max(2, len(self.X))))
        out = self.D(self._aug(fake))
        if self.wasserstein:
            loss = -out.mean()
        elif self.cfg.loss == "minimax":
            loss = -F.softplus(out).mean()  # log(1 - D(G(z))) = -softplus(logit), minimised (saturates)
        else:
            loss = F.softplus(-out).mean()  # -log D(G(z)), the non-saturating loss
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.iters += 1
        self._log(g_loss=loss, **({} if self.wasserstein else {"d_fake_g": torch.sigmoid(out).mean()}))
        return {"g_loss": float(loss.detach())}

    def iteration(self) -> None:
        for _ in range(self.cfg.d_steps):
            self.d_step()
        self.g_step()

    def pop_metrics(self) -> dict[str, float]:
        """Means of everything logged since the last call."""
        out = {k: float(torch.stack(v).float().mean()) for k, v in self._acc.items() if v}
        self._acc = {}
        return out

    # -- looking at it
    def fixed_samples(self) -> torch.Tensor:
        """G of the fixed noise, (n_grid, C, S, S) in [-1, 1], CPU."""
        return generate(self.G, self.z_fixed).float().cpu().contiguous()

    def samples(self, n: int, random_state: int = 0) -> torch.Tensor:
        return generate(self.G, self._noise(n, torch.Generator().manual_seed(random_state))).float().cpu().contiguous()

    @torch.no_grad()
    def probe(self, n: int = 256, random_state: int = 0) -> dict[str, float]:
        """D on a fixed real batch and fixed fakes, without training anything (for the step view)."""
        g = torch.Generator().manual_seed(random_state)
        real = self.X[torch.randperm(len(self.X), generator=g)[:n].to(self.device)]
        fake = generate(self.G, self._noise(n, g))
        if self.cl:
            fake = fake.contiguous(memory_format=torch.channels_last)
        with _eval_batch_stats(self.D):
            r, f = self.D(real), self.D(fake)
        if self.wasserstein:
            return {"critic_real": float(r.mean()), "critic_fake": float(f.mean()), "w_estimate": float(r.mean() - f.mean())}
        return {"d_real": float(torch.sigmoid(r).mean()), "d_fake": float(torch.sigmoid(f).mean()),
                "acc_real": float((r > 0).float().mean()), "acc_fake": float((f < 0).float().mean())}

    # -- snapshots
    def state_dict(self) -> dict:
        """Storable copy of everything that determines the rest of the run."""
        clone = lambda sd: {k: (v.detach().cpu().clone() if isinstance(v, torch.Tensor) else v) for k, v in sd.items()}  # noqa: E731

        def opt_state(opt):
            sd = opt.state_dict()
            return {"state": {int(k): clone(v) for k, v in sd["state"].items()}, "param_groups": sd["param_groups"]}

        return {"G": clone(self.G.state_dict()), "D": clone(self.D.state_dict()), "opt_g": opt_state(self.opt_g),
                "opt_d": opt_state(self.opt_d), "gen": self.gen.get_state().clone(), "perm": self.perm.clone(),
                "pos": self.pos, "seen": self.seen, "iters": self.iters, "d_updates": self.d_updates}

    def load_state_dict(self, state: dict) -> "GANTrainer":
        """Continue from `state` (copied first: the caller's dict, e.g. a cached run, is never modified)."""
        state = copy.deepcopy(state)
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        for opt, key in ((self.opt_g, "opt_g"), (self.opt_d, "opt_d")):
            sd = state[key]
            opt.load_state_dict({"state": {int(k): v for k, v in sd["state"].items()}, "param_groups": sd["param_groups"]})
        self.gen.set_state(state["gen"])
        self.perm, self.pos, self.seen = state["perm"].clone(), int(state["pos"]), int(state["seen"])
        self.iters, self.d_updates = int(state["iters"]), int(state["d_updates"])
        self._acc = {}
        return self


# ----------------------------------------------------------------------------- failure flags

def diagnose(history: list[dict], quality: list[dict] | None = None, loss: str = "nonsat",
             n_classes: int = 10, one_class: bool = False, window: int = 8) -> list[tuple[str, str]]:
    """Failure flags as (name, sentence), judged on the last `window` metric rows and the last
    quality evaluation. Empty when nothing looks wrong."""
    flags: list[tuple[str, str]] = []
    rows = [r for r in history if "d_loss" in r][-window:]
    if not rows:
        return flags
    last = lambda k: np.array([r[k] for r in rows if k in r and r[k] is not None], dtype=float)  # noqa: E731
    if any(not np.isfinite(v) for r in rows for v in r.values() if isinstance(v, (int, float))):
        flags.append(("diverged", "Training diverged: a loss became infinite or NaN. Lower the learning rates."))
        return flags
    if loss in ("minimax", "nonsat"):
        acc_r, acc_f, d_fake = last("acc_real"), last("acc_fake"), last("d_fake")
        if len(acc_r) and acc_r.mean() > 0.95 and acc_f.mean() > 0.95 and d_fake.mean() < 0.05:
            flags.append(("d_overpowers", "The discriminator is overpowering the generator: it tells real from fake "
                          f"almost always (accuracy {acc_r.mean():.0%} on real, {acc_f.mean():.0%} on fake) and "
                          f"D(G(z)) ≈ {d_fake.mean():.2f}, so the generator gets little useful gradient"
                          + (" (worst with the saturating minimax loss)." if loss == "minimax" else ".")))
        if len(d_fake) >= 4 and d_fake.std() > 0.12:
            flags.append(("oscillation", f"Oscillation: D(G(z)) swings by ±{d_fake.std():.2f} from one logging point "
                          "to the next, the two players keep overshooting each other."))
        acc_f = last("acc_fake")
        if len(acc_f) and acc_f.mean() < 0.1 and last("acc_real").mean() < 0.6:
            flags.append(("g_fools", "The generator fools the discriminator almost always: D may be too weak "
                          "(raise its learning rate or D steps)."))
    else:
        w = last("w_estimate")
        if len(w) >= 4 and np.abs(np.diff(w)).mean() > 0.5 * max(1e-6, np.abs(w).mean()) and np.abs(w).mean() > 1e-3:
            flags.append(("oscillation", "Oscillation: the critic's Wasserstein estimate jumps from one logging point "
                          "to the next by more than half its size."))
    if quality:
        q = quality[-1]
        if q.get("fid_scaled") is not None and q["fid_scaled"] > 0.7:
            where = ("further from the training images than uniform noise is" if q["fid_scaled"] >= 1 else
                     f"far from the training images ({q['fid_scaled']:.0%} of the way from the floor, what real "
                     "training images score, to noise)")
            flags.append(("early", f"Too early to judge variety: by the Frechet distance the samples are still {where}. "
                          "Train longer."))
        elif q.get("diversity") is not None and q["diversity"] < 0.4:
            flags.append(("mode_collapse", f"Mode collapse: the samples are much less varied than real images "
                          f"(diversity {q['diversity']:.2f}, real data = 1)."))
        elif not one_class and q.get("classes_covered") is not None and q["classes_covered"] < max(2, int(0.7 * n_classes)):
            flags.append(("mode_collapse", f"Mode collapse: the samples cover only {int(q['classes_covered'])} of the "
                          f"{n_classes} classes."))
    return flags


# ----------------------------------------------------------------------------- the loop

def _quality_row(trainer: GANTrainer, quality, step: int) -> dict:
    from core.quality import N_EVAL

    imgs = trainer.samples(N_EVAL, random_state=20_000 + trainer.cfg.seed)
    rep = quality.report(to_native(imgs, trainer.run, trainer.data_shape),
                         trainer.run.label if trainer.run.label >= 0 else None)
    row = {"step": step, "epoch": round(trainer.epoch, 3)}
    row.update({k: float(v) for k, v in rep.items() if k not in ("class_hist", "n")})
    row["class_hist"] = [float(v) for v in rep["class_hist"]]
    return row


def _grid(trainer: GANTrainer) -> dict:
    imgs = ((trainer.fixed_samples() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return {"step": trainer.iters, "images": imgs}


class GANSteps(training.Steps):
    """One generator iteration (d_steps D steps, then one G step) per unit. A metrics row every log_every
    iterations; a fixed-noise grid every grid_every ("grids", uint8); with a quality model
    (core.quality.QualityModel), a quality row at 0, every quality_every iterations and at the end
    ("quality"). Snapshot: the trainer's "state", "grids" and "quality"."""

    kind = "gan"
    x = "step"
    unit = "iteration"
    measure_initial = False
    trainer_class = GANTrainer  # a subclass (e.g. the conditional GAN's) steps its own trainer through the same loop

    def __init__(self, run: GANRun, data: datasets.ImageData, quality=None, device=None):
        """quality: a core.quality.QualityModel, or a function returning one (asked only when training starts)."""
        self.config, self.data, self._quality, self.device = run, data, quality, device
        self.every = schedule(run.gan)

    @property
    def quality(self):
        if callable(self._quality) and not hasattr(self._quality, "report"):
            self._quality = self._quality()
        return self._quality

    def total(self) -> int:
        return int(self.config.gan.n_iters)

    def start(self) -> None:
        self.trainer = self.trainer_class(self.config, self.data, device=self.device)
        self.grids, self.qrows = [self.grid()], []
        if self.quality is not None:
            self.qrows.append(self.quality_row(0))

    def restore(self, snapshot: dict) -> None:
        self.trainer = self.trainer_class(self.config, self.data, device=self.device).load_state_dict(snapshot["state"])
        self.grids, self.qrows = list(snapshot["grids"]), list(snapshot.get("quality", []))

    def advance(self, done: int) -> None:
        self.trainer.iteration()
        it = done + 1
        if self.every.grid_at(it):
            self.grids.append(self.grid())
        if self.quality is not None and self.every.quality_at(it):
            self.qrows.append(self.quality_row(it))

    def grid(self) -> dict:
        return _grid(self.trainer)

    def quality_row(self, step: int) -> dict:
        return _quality_row(self.trainer, self.quality, step)

    def due(self, done: int) -> bool:
        return done % self.every.log_every == 0

    def measure(self, done: int) -> dict[str, float]:
        m = {"epoch": round(self.trainer.epoch, 4), **self.trainer.pop_metrics()}
        if self.qrows and self.qrows[-1]["step"] == done:
            m.update({k: self.qrows[-1][k] for k in ("fid", "classes_covered", "diversity")})
        return m

    def epoch(self, done: float) -> float:
        return self.trainer.epoch

    def message(self, done: int) -> str:
        return f"iteration {done}/{self.total()} · epoch {self.trainer.epoch:.1f}"

    def show(self) -> dict:
        return {"images": self.grids[-1]["images"]}

    def state(self) -> dict:
        return {"state": self.trainer.state_dict(), "grids": list(self.grids), "quality": list(self.qrows)}

    def continues(self) -> list:
        """The same run with fewer iterations (the pages' lengths), longest first."""
        n = self.config.gan.n_iters
        return [replace(self.config, gan=replace(self.config.gan, n_iters=m)) for m in sorted(ITERATIONS, reverse=True)
                if m < n]

    def data_arrays(self) -> tuple:
        return (self.trainer.X.cpu().numpy() if hasattr(self, "trainer") else prepare(self.config, self.data).numpy(),)

    def shippable(self, snapshot: dict) -> dict:
        """G (and D when both fit in the 5 MB of an asset), grids, history and quality; no optimiser or generator
        states (so a shipped run cannot be continued: a longer run trains from the start)."""
        st = snapshot["state"]
        keep = {"G": st["G"], "iters": st["iters"], "d_updates": st["d_updates"], "seen": st["seen"]}
        n = sum(v.numel() for part in ("G", "D") for v in st[part].values() if isinstance(v, torch.Tensor))
        if n * 2 < 3.5e6:  # float16 bytes of G and D together
            keep["D"] = st["D"]
        return {**{k: v for k, v in snapshot.items() if k != "state"}, "state": keep}


def train(run: GANRun, data: datasets.ImageData, partial: dict | None = None, quality=None, device=None):
    """The run's training iterator (core.training.train of GANSteps)."""
    return training.train(GANSteps(run, data, quality, device), partial)


def generator(result: dict) -> nn.Module:
    """The generator of a (partial, finished or shipped) run, on the CPU, in eval mode (a fresh module)."""
    cfg = run_from_dict(result["config"]).gan
    shape = tuple(int(s) for s in result["grids"][0]["images"].shape[1:])
    G, _ = build(cfg.arch, nz=cfg.nz, shape=shape, width=cfg.width, critic="gan", generator=torch.Generator())
    G.load_state_dict(result["state"]["G"])
    return G.eval()


def trainer_from(result: dict, data: datasets.ImageData, device=None) -> GANTrainer:
    """A fresh trainer holding the state of a (partial or finished) run: free to step further."""
    run = run_from_dict(result["config"])
    return GANTrainer(run, data, device=device).load_state_dict(result["state"])


def run_from_dict(d: dict) -> GANRun:
    d = dict(d)
    return GANRun(**{**d, "gan": GANConfig(**d["gan"])})


def grid_at(result: dict, step: int) -> torch.Tensor:
    """The stored fixed-noise grid at the largest iteration <= step, as (n, C, S, S) in [-1, 1]."""
    grids = result["grids"]
    best = max((g for g in grids if g["step"] <= step), key=lambda g: g["step"], default=grids[0])
    return best["images"].float() / 127.5 - 1


def presets() -> dict[str, GANRun]:
    """Each GAN page's default run, by name (for `--preset` on the command line, and the shipped runs' folders)."""
    cmp = comparison_configs()
    return {"dcgan": GANRun("mnist", 3, 8000, dcgan_config()), "mlp": GANRun("mnist", -1, 8000, mlp_config()),
            **{f"compare-{k}": GANRun("mnist", -1, 8000, c) for k, c in cmp.items()}}


ASSET_DIR = assets.folder("gan")  # assets/gan/<preset>/run.pt: each page's default run, trained with --preset


def shipped(run: GANRun, data: datasets.ImageData, folder=ASSET_DIR) -> dict | None:
    """The shipped run of a page's default (float32 again) if `run` is exactly that default on the same images."""
    name = next((k for k, v in presets().items() if v == run), None)
    if name is None:
        return None
    return assets.shipped(Path(folder) / name, run, assets.fingerprint(prepare(run, data).numpy()))


def can_continue(result: dict) -> bool:
    """True when the run carries what training further needs (a shipped run does not: no optimiser state)."""
    return "opt_g" in result["state"]


def main(argv=None):
    from core.quality import quality_model

    return training.main(lambda run, data: GANSteps(run, data, quality_model(data)), GANRun(), argv,
                         "Train a GAN of the lab (with its quality scores) and print its progress.", presets=presets())


if __name__ == "__main__":
    main()
