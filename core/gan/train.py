"""GAN training for the lab as a run of core.training (`GANSteps`): minimax, non-saturating, WGAN (weight
clipping) and WGAN-GP, resumable from a snapshot, with fixed-noise sample grids over training, quality rows and
(core.gan.diagnosis) failure flags in plain words.

    python -m core.gan.train --arch dcgan --loss nonsat --n-iters 300
    python -m core.gan.train --preset dcgan --out assets/gan/dcgan       # a page's default run, shipped

`GANSteps` is the run the app caches; it steps a `core.gan.trainer.GANTrainer` (G, D, their optimisers and one
generator) through the one loop. A run resumed from a snapshot continues exactly as an uninterrupted one (same
weights, same random draws), also when only the number of iterations was raised (`GANSteps.continues`). How often a
run logs, keeps a grid and scores quality follows from its length (core.gan.config.schedule), so the page and the
command line train the same run. Each GAN page's default run (core.gan.config.presets) ships in assets/gan/<name>.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from core import assets, training
from core import data as datasets
from core.gan.config import GANRun, presets, run_from_dict, schedule, shorter_runs
from core.gan.images import prepare, to_native
from core.gan.models import build
from core.gan.trainer import GANTrainer

ASSET_DIR = assets.folder("gan")  # assets/gan/<preset>/run.pt: each page's default run, trained with --preset


def quality_row(trainer: GANTrainer, quality, step: int) -> dict:
    """A quality row of the trainer's generator now: core.quality.QualityModel.report of N_EVAL seeded samples
    (against the run's class when it has one), with the step and the epoch."""
    from core.quality import N_EVAL

    imgs = trainer.samples(N_EVAL, random_state=20_000 + trainer.cfg.seed)
    rep = quality.report(to_native(imgs, trainer.run, trainer.data_shape),
                         trainer.run.label if trainer.run.label >= 0 else None)
    row = {"step": step, "epoch": round(trainer.epoch, 3)}
    row.update({k: float(v) for k, v in rep.items() if k not in ("class_hist", "n")})
    row["class_hist"] = [float(v) for v in rep["class_hist"]]
    return row


def grid_row(trainer: GANTrainer) -> dict:
    """The fixed-noise grid now, as uint8 (n_grid, C, S, S), with the iteration."""
    imgs = ((trainer.fixed_samples() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return {"step": trainer.iters, "images": imgs}


class GANSteps(training.TorchSteps):
    """One generator iteration (d_steps D steps, then one G step) per unit. A metrics row every log_every
    iterations; a fixed-noise grid every grid_every ("grids", uint8); with a quality model
    (core.quality.QualityModel), a quality row at 0, every quality_every iterations and at the end
    ("quality"). Snapshot (core.training.TorchSteps): nets {"G", "D"}, opts {"G", "D"}, rng, and the trainer's
    epoch order and counts ("perm", "pos", "seen", "iters", "d_updates"), "grids" and "quality"."""

    kind = "gan"
    x = "step"
    unit = "iteration"
    measure_initial = False
    trainer_class = GANTrainer  # a subclass (e.g. the conditional GAN's) steps its own trainer through the same loop
    ship_drop = ("opts", "rng", "perm", "pos")  # a shipped run cannot be continued: a longer run trains from the start

    def __init__(self, run: GANRun, data: datasets.ImageData, quality=None, device=None):
        """quality: a core.quality.QualityModel, or a function returning one (asked only when training starts)."""
        self.config, self.data, self._quality, self.device = run, data, quality, device
        self.every = schedule(run.gan)

    @property
    def quality(self):
        if callable(self._quality) and not hasattr(self._quality, "report"):
            self._quality = self._quality()
        return self._quality

    @staticmethod
    def config_from(d: dict) -> GANRun:
        """The run config of a snapshot's "config" (a dict)."""
        return run_from_dict(d)

    def total(self) -> int:
        return int(self.config.gan.n_iters)

    def build(self) -> None:
        self.trainer = tr = self.trainer_class(self.config, self.data, device=self.device)
        self.nets, self.opts, self.gen = {"G": tr.G, "D": tr.D}, {"G": tr.opt_g, "D": tr.opt_d}, tr.gen

    def start(self) -> None:
        self.build()
        self.grids, self.qrows = [self.grid()], []
        if self.quality is not None:
            self.qrows.append(self.quality_row(0))

    def extra_state(self) -> dict:
        return {**self.trainer.counters(), "grids": list(self.grids), "quality": list(self.qrows)}

    def restore_extra(self, snapshot: dict) -> None:
        self.trainer.restore_counters(snapshot)
        self.grids, self.qrows = list(snapshot["grids"]), list(snapshot.get("quality", []))

    def advance(self, done: int) -> None:
        self.trainer.iteration()
        it = done + 1
        if self.every.grid_at(it):
            self.grids.append(self.grid())
        if self.quality is not None and self.every.quality_at(it):
            self.qrows.append(self.quality_row(it))

    def grid(self) -> dict:
        return grid_row(self.trainer)

    def quality_row(self, step: int) -> dict:
        return quality_row(self.trainer, self.quality, step)

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

    def continues(self) -> list:
        return shorter_runs(self.config, "gan")

    def data_arrays(self) -> tuple:
        return (self.trainer.X.cpu().numpy() if hasattr(self, "trainer") else prepare(self.config, self.data).numpy(),)

    def asset_folder(self):
        """assets/gan/<name> when the config is exactly a page's default run (core.gan.config.presets), else None."""
        name = next((k for k, v in presets().items() if v == self.config), None)
        return ASSET_DIR / name if name else None

    def shippable(self, snapshot: dict) -> dict:
        """G (and D when both fit in the 5 MB of an asset), the counts, grids, history and quality; no optimiser or
        generator states and no epoch order (`ship_drop`)."""
        out = super().shippable(snapshot)
        n = sum(v.numel() for net in snapshot["nets"].values() for v in net.values() if isinstance(v, torch.Tensor))
        if n * 2 >= 3.5e6:  # float16 bytes of G and D together
            out["nets"] = {"G": snapshot["nets"]["G"]}
        return out


def train(run: GANRun, data: datasets.ImageData, partial: dict | None = None, quality=None, device=None):
    """The run's training iterator (core.training.train of GANSteps)."""
    return training.train(GANSteps(run, data, quality, device), partial)


def generator(result: dict) -> nn.Module:
    """The generator of a (partial, finished or shipped) run, on the CPU, in eval mode (a fresh module)."""
    cfg = run_from_dict(result["config"]).gan
    shape = tuple(int(s) for s in result["grids"][0]["images"].shape[1:])
    G, _ = build(cfg.arch, nz=cfg.nz, shape=shape, width=cfg.width, critic="gan", generator=torch.Generator())
    G.load_state_dict(result["nets"]["G"])
    return G.eval()


def can_continue(result: dict) -> bool:
    """True when the run carries what training further needs (a shipped run does not: no optimiser state)."""
    return "opts" in result


def trainer_from(result: dict, data: datasets.ImageData, device=None) -> GANTrainer:
    """A fresh trainer holding the state of a (partial or finished, not shipped) run of GANSteps or a subclass (its
    kind says which): free to step further."""
    kinds = {cls.kind: cls for cls in [GANSteps, *GANSteps.__subclasses__()]}
    steps = kinds[result["kind"]](kinds[result["kind"]].config_from(result["config"]), data, device=device)
    steps.restore(copy.deepcopy(result))  # the trainer's steps never touch the caller's (e.g. a cached) run
    return steps.trainer


def main(argv=None):
    from core.quality import quality_model

    return training.main(lambda run, data: GANSteps(run, data, quality_model(data)), GANRun(), argv,
                         "Train a GAN of the lab (with its quality scores) and print its progress.", presets=presets())


if __name__ == "__main__":
    main()
