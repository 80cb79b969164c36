"""The settings of a GAN run: its config (`GANConfig`, `GANRun`), when it logs, keeps grids and scores quality
(`schedule`), the published settings of each loss (`wgan_defaults`) and each GAN page's default run (`presets`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

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


def shorter_runs(run, part: str) -> list:
    """The same run with fewer iterations (the pages' lengths, ITERATIONS), longest first: `run.<part>.n_iters`
    replaced (a run kind's `continues`)."""
    inner = getattr(run, part)
    return [replace(run, **{part: replace(inner, n_iters=m)}) for m in sorted(ITERATIONS, reverse=True)
            if m < inner.n_iters]


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


def presets() -> dict[str, GANRun]:
    """Each GAN page's default run, by name (for `--preset` on the command line, and the shipped runs' folders)."""
    cmp = comparison_configs()
    return {"dcgan": GANRun("mnist", 3, 8000, dcgan_config()), "mlp": GANRun("mnist", -1, 8000, mlp_config()),
            **{f"compare-{k}": GANRun("mnist", -1, 8000, c) for k, c in cmp.items()}}



def run_from_dict(d: dict) -> GANRun:
    d = dict(d)
    return GANRun(**{**d, "gan": GANConfig(**d["gan"])})

