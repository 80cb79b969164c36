"""One GAN run's networks, optimisers and random state, stepped by hand: `GANTrainer` does one discriminator (critic)
step, one generator step or one full iteration (`d_steps` D steps, then one G step), for minimax, non-saturating, WGAN
(weight clipping) and WGAN-GP. core.gan.train.GANSteps runs it through the one training loop; the step-by-step
panel (core.gan.single_steps) steps a copy of a finished run.

A subclass whose networks take more than the image (the conditional GAN's, core.gan.conditional) refines the
documented hooks: `real_batch` (what a real batch is), `fake` (how fakes are made), and `d_step` / `g_step`, using
`noise`, `make_optimizer` and `log`.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core import data as datasets
from core.device import pick_device
from core.gan.config import LOSSES, GANRun
from core.gan.diffaug import diff_augment, parse as parse_policy
from core.gan.images import eval_batch_stats, generate, prepare
from core.gan.losses import discriminator_loss, gradient_penalty
from core.gan.models import build


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
        self.opt_g, self.opt_d = self.make_optimizer(self.G, cfg.lr_g), self.make_optimizer(self.D, cfg.lr_d)
        g_fixed = torch.Generator().manual_seed(10_000 + cfg.seed)
        self.z_fixed = self.noise(cfg.n_grid, g_fixed)
        self.iters = 0  # generator steps done
        self.d_updates = 0  # discriminator steps done
        self.perm = torch.randperm(len(self.X), generator=self.gen)
        self.pos = 0  # position in the current epoch's permutation
        self.seen = 0  # real images drawn so far (for the epoch count)
        self._acc: dict[str, list] = {}

    # -- plumbing
    def make_optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        """The config's optimiser (Adam with beta1, beta2; or RMSprop) over `net`'s parameters."""
        if self.cfg.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=lr)
        if self.cfg.optimizer == "adam":
            return torch.optim.Adam(net.parameters(), lr=lr, betas=(self.cfg.beta1, self.cfg.beta2))
        raise ValueError(f"optimizer must be adam or rmsprop, not {self.cfg.optimizer!r}")

    def noise(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor:
        """n noise vectors of the config's prior, (n, nz), drawn from `gen` (default: the run's generator)."""
        gen = gen or self.gen
        if self.cfg.noise == "uniform":
            z = torch.rand(n, self.cfg.nz, generator=gen) * 2 - 1
        else:
            z = torch.randn(n, self.cfg.nz, generator=gen)
        return z.to(self.device)

    def real_batch(self) -> torch.Tensor:
        """The next real batch of the run's epoch order (a new permutation from the run's generator per epoch)."""
        B = min(self.cfg.batch_size, len(self.X))
        if self.pos + B > len(self.X):
            self.perm = torch.randperm(len(self.X), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + B]
        self.pos += B
        self.seen += B
        return self.X[idx.to(self.device)]

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment (the config's policy) of a batch before D sees it; the batch itself when off."""
        return diff_augment(x, self.cfg.diffaug, self.gen) if self.cfg.diffaug else x

    def fake(self, n: int) -> torch.Tensor:
        """G of n fresh noise vectors (with gradients; in the layout D expects)."""
        x = self.G(self.noise(n))
        return x.contiguous(memory_format=torch.channels_last) if self.cl else x

    def log(self, **vals: torch.Tensor) -> None:
        """Add values to the metrics of the current row (`pop_metrics` averages and clears them)."""
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
        real = self.real_batch()
        with torch.no_grad():
            fake = self.fake(len(real))
        out_r, out_f = self.D(self.augment(real)), self.D(self.augment(fake))
        if self.wasserstein:
            w = out_r.mean() - out_f.mean()
            loss = -w
            if cfg.loss == "wgan-gp":
                eps = torch.rand(len(real), 1, 1, 1, generator=self.gen).to(self.device)
                gp = gradient_penalty(self.D, real, fake, eps)
                loss = loss + cfg.gp_weight * gp
                self.log(gp=gp)
            self.log(d_loss=loss, w_estimate=w, critic_real=out_r.mean(), critic_fake=out_f.mean())
        else:
            loss, logged = discriminator_loss(out_r, out_f)
            self.log(**logged)
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
        fake = self.fake(min(self.cfg.batch_size, max(2, len(self.X))))
        out = self.D(self.augment(fake))
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
        self.log(g_loss=loss, **({} if self.wasserstein else {"d_fake_g": torch.sigmoid(out).mean()}))
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
        return generate(self.G, self.noise(n, torch.Generator().manual_seed(random_state))).float().cpu().contiguous()

    @torch.no_grad()
    def probe(self, n: int = 256, random_state: int = 0) -> dict[str, float]:
        """D on a fixed real batch and fixed fakes, without training anything (for the step view)."""
        g = torch.Generator().manual_seed(random_state)
        real = self.X[torch.randperm(len(self.X), generator=g)[:n].to(self.device)]
        fake = generate(self.G, self.noise(n, g))
        if self.cl:
            fake = fake.contiguous(memory_format=torch.channels_last)
        with eval_batch_stats(self.D):
            r, f = self.D(real), self.D(fake)
        if self.wasserstein:
            return {"critic_real": float(r.mean()), "critic_fake": float(f.mean()), "w_estimate": float(r.mean() - f.mean())}
        return {"d_real": float(torch.sigmoid(r).mean()), "d_fake": float(torch.sigmoid(f).mean()),
                "acc_real": float((r > 0).float().mean()), "acc_fake": float((f < 0).float().mean())}

    # -- what a snapshot holds besides the networks, optimisers and generator (core.gan.train.GANSteps)
    def counters(self) -> dict:
        """The epoch order and the step counts: with the networks, optimisers and generator, the rest of the run."""
        return {"perm": self.perm.clone(), "pos": self.pos, "seen": self.seen, "iters": self.iters,
                "d_updates": self.d_updates}

    def restore_counters(self, state: dict) -> None:
        """The inverse of `counters` (a shipped run has no epoch order: it keeps the fresh one)."""
        if "perm" in state:
            self.perm, self.pos = state["perm"].clone(), int(state["pos"])
        self.seen, self.iters, self.d_updates = int(state["seen"]), int(state["iters"]), int(state["d_updates"])
        self._acc = {}
