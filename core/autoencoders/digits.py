"""The run protocol's common part for the autoencoder labs that train by epochs on binary digits."""
from __future__ import annotations

import torch

from core import training
from core import data as datasets
from core.device import pick_device


def check_schedule(run, data: datasets.ImageData) -> None:
    """One-line errors for the settings the epoch-based digit labs share (`lr`, `lr_decay`, `n_train`, `shift`):
    a positive step size decayed by a factor in (0, 1] every epoch, at least one training digit, a shift below half
    the image."""
    if not (float(run.lr) > 0) or not (0 < float(run.lr_decay) <= 1):
        raise ValueError(f"the step size must be positive and its decay in (0, 1], got {run.lr}, {run.lr_decay}")
    if min(int(run.n_train), len(data.X_train)) < 1:
        raise ValueError("no training digits")
    if not 0 <= int(run.shift) < min(data.shape[1:]) // 2:
        raise ValueError(f"the shift must be between 0 and half the image size, got {run.shift}")


class DigitEpochs(training.TorchSteps):
    """One epoch per unit on the first `n_train` training digits; measurements on the first `n_eval` held-out
    digits in the one binarisation every lab scores (core.data.held_out_binary). The run needs `epochs`,
    `n_train` and `n_eval`; a subclass checks its settings before calling this __init__, and its `build` calls
    `prepare` (the tensors) before making the networks."""

    def __init__(self, run, data: datasets.ImageData, device=None):
        self.config, self.data, self.device = run, data, device
        self.stats: dict[str, float] = {}

    def total(self) -> int:
        return int(self.config.epochs)

    def data_arrays(self) -> tuple:
        n_eval = min(int(self.config.n_eval), len(self.data.X_test))
        return self.data.X_train[: int(self.config.n_train)], self.data.X_test[:n_eval]

    def prepare(self) -> None:
        """The run's tensors on its device: `Xtr` (the training digits in [0, 1]), `Xev` (the held-out ones, binary)."""
        run = self.config
        self.dev = pick_device(self.device)
        self.Xtr = torch.as_tensor(self.data.X_train[: int(run.n_train)], device=self.dev)  # (n, n_v) in [0, 1]
        n_eval = min(int(run.n_eval), len(self.data.X_test))
        self.Xev = torch.as_tensor(datasets.held_out_binary(self.data.X_test)[:n_eval], device=self.dev)  # binary


class Stack:
    """What a run of 1-3 stacked layers shares (its config has `layers`, `hidden1`, `hidden2`, `hidden3`, `epochs`,
    `batch_size`): the layer sizes in use and their checks."""

    @property
    def sizes(self) -> list[int]:
        return [int(self.hidden1), int(self.hidden2), int(self.hidden3)][: int(self.layers)]

    def check_layers(self, what: str) -> None:
        """ValueError unless there are 1-3 layers of positive sizes, epochs and batch size."""
        if int(self.layers) not in (1, 2, 3):
            raise ValueError(f"{what} here has 1, 2 or 3 layers, got {self.layers}")
        if min(self.sizes) < 1 or int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError("layer sizes, epochs and the batch size must be positive")
