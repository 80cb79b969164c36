"""GAN Lab's single steps (Kahng et al., 2019) on a copy of a finished run: one discriminator (critic) step, one
generator step or one full iteration at a time, with D's view of real and fake images after each.

    steps = SingleSteps(result, data)      # a copy of the run: the result (e.g. a cached run) never changes
    steps.take("D step")                   # one D update; then D(x) should rise and D(G(z)) fall
    steps.log                              # one row per action: the action, the counts and D's view (GANTrainer.probe)

D's view is measured on the same 256 real training images and 256 fakes of the same noise after every action
(`GANTrainer.probe`, seed 0), so two rows differ only by what the action changed.
"""
from __future__ import annotations

import numpy as np

from core import data as datasets
from core.gan.images import to_unit
from core.gan.train import can_continue, trainer_from

ACTIONS = ("D step", "G step", "iteration")  # what `SingleSteps.take` does


class SingleSteps:
    """A copy of a finished (or partial) GAN or conditional GAN run that takes single steps (see the module
    docstring). A shipped run cannot: it carries no optimiser state (`core.gan.train.can_continue`)."""

    def __init__(self, result: dict, data: datasets.ImageData, device=None):
        if not can_continue(result):
            raise ValueError("a shipped run carries no optimiser state: it cannot take single steps")
        self.trainer = trainer_from(result, data, device=device)
        self.log: list[dict] = [self.row("trained model")]

    def row(self, action: str) -> dict:
        """The action, the D and G steps taken so far, and D's view now (GANTrainer.probe)."""
        tr = self.trainer
        return {"action": action, "d_steps": tr.d_updates, "g_steps": tr.iters, **tr.probe()}

    def take(self, action: str) -> dict:
        """One of `ACTIONS`: "D step" (one D update), "G step" (one G update) or "iteration" (d_steps D steps, then
        one G step). Returns the new row of `log`."""
        tr = self.trainer
        if action == "D step":
            tr.d_step()
        elif action == "G step":
            tr.g_step()
        elif action == "iteration":
            tr.iteration()
        else:
            raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
        tr.pop_metrics()
        self.log.append(self.row(action))
        return self.log[-1]

    @property
    def d_steps_per_iteration(self) -> int:
        return int(self.trainer.cfg.d_steps)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, S, S) of the generated images (the trained size)."""
        return tuple(int(s) for s in self.trainer.shape)

    def images(self) -> np.ndarray:
        """G of the run's fixed noise now, flat in [0, 1] at the trained size."""
        return to_unit(self.trainer.fixed_samples())
