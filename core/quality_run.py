"""The quality classifier (core.quality's) and its run kind: the small classifier trained through the one loop
(core.training), so that it has progress, Stop, resume, a command line and shipped runs like every lab.

    python -m core.quality --dataset mnist --out assets/quality/mnist

`SmallClassifier` is the network, `augment` the random redrawing of a batch, `ClassifierConfig` its training
settings. A run is `QualityRun`: the dataset's identity (its name, the number of training images, `data_digest` of
the images) and a ClassifierConfig. One unit is one epoch: a fresh order of the training images (and, with
`augment`, every batch redrawn), Adam on mini-batches of cross-entropy. Every measurement is the accuracy on the
held-out images ("test_accuracy"; after an epoch also the epoch's mean training loss "loss"). Every random draw
comes from the run's generator and the initial weights from `core.training.seeded(seed)`, so the run is the same
whether it is trained at once, stopped and resumed, on a page or on the command line.

`finished_run(data, cfg, cache)` is the finished run (the disk cache under the run's key, else the run shipped
with the app in assets/quality/<dataset>, else trained now and cached). core.quality turns a run into a
QualityModel (`classifier`: enough to read images; `quality_model`: with the reference statistics) and holds the
command line. Everything here is re-exported by core.quality, which imports this module (never the reverse).
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import assets, training
from core import data as datasets
from core.cache import DiskCache, make_key

ASSET = "quality"  # shipped runs: assets/quality/<dataset name as a folder name>
N_FEATURES = 64  # width of the feature layer


@dataclass
class ClassifierConfig:
    epochs: int = 4  # passes over the training split
    batch_size: int = 128  # examples per Adam step
    lr: float = 2e-3  # Adam step size
    seed: int = 0  # initial weights and batch order
    version: int = 1  # bump when the classifier's architecture or training changes
    augment: bool = False  # redraw every batch (random affine map, stroke width, contrast): a reader of many writers


class SmallClassifier(nn.Module):
    """Two conv blocks (16 and 32 channels, 3x3, ReLU, 2x2 max-pool), adaptive 4x4 pooling,
    a 64-unit ReLU feature layer, a linear layer to the class logits."""

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(32 * 16, N_FEATURES), nn.ReLU())
        self.head = nn.Linear(N_FEATURES, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) in [0, 1] -> (B, 64)
        return self.body(x * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Images x (B, C, H, W) in [0, 1], each redrawn as another writer or scanner might have drawn it: a random
    affine map about the centre (rotation within 0.2 rad, width 0.7-1.4x, height 0.85-1.2x, shear within 0.25),
    then a shift within 6 % of the side each way, then, for a quarter of the images each, its strokes kept,
    thickened (3x3 max), thinned (3x3 min) or blurred (3x3 mean), then a contrast gain in [0.6, 1.6] clipped to
    [0, 1]. A new tensor; x is not modified."""
    n = len(x)

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    ang, sx, sy, sh, tx, ty = u(-0.2, 0.2), u(0.7, 1.4), u(0.85, 1.2), u(-0.25, 0.25), u(-0.12, 0.12), u(-0.12, 0.12)
    c, s = torch.cos(ang), torch.sin(ang)
    lin = torch.stack([torch.stack([c / sx, (sh - s) / sx], 1), torch.stack([s / sy, c / sy], 1)], 1)  # (n, 2, 2)
    shift = -(lin @ torch.stack([tx, ty], 1).unsqueeze(2))  # (n, 2, 1): the content moves by (tx, ty)
    grid = F.affine_grid(torch.cat([lin, shift], 2), list(x.shape), align_corners=False)  # where to read the input
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    kind = torch.randint(0, 4, (n,), generator=gen).view(-1, 1, 1, 1)
    x = torch.where(kind == 1, F.max_pool2d(x, 3, 1, 1), x)
    x = torch.where(kind == 2, -F.max_pool2d(-x, 3, 1, 1), x)
    x = torch.where(kind == 3, F.avg_pool2d(x, 3, 1, 1, count_include_pad=False), x)
    return (x * u(0.6, 1.6).view(-1, 1, 1, 1)).clamp(0, 1)


def data_digest(data: datasets.ImageData) -> str:
    """16 hex digits of SHA-256 over every 97th training image, all training labels and every 97th held-out image:
    the data's identity in a classifier's run (core.quality_run.QualityRun; cheap enough for every page run)."""
    h = hashlib.sha256()
    for a in (data.X_train[::97], data.y_train, data.X_test[::97]):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]



@dataclass
class QualityRun:
    dataset: str = "mnist"  # the images' name (core.data, or a derived set such as the CycleGAN judges')
    n_train: int = 0  # training images (the first n_train; 0 on the command line: all of them)
    digest: str = ""  # data_digest of the images ("" on the command line: filled in from the data)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)  # the classifier's settings


def quality_run(data: datasets.ImageData, cfg: ClassifierConfig | None = None) -> QualityRun:
    """The run of a classifier with settings cfg (default ClassifierConfig()) on all of `data`."""
    return QualityRun(data.name, len(data.X_train), data_digest(data), cfg or ClassifierConfig())


def class_names(data: datasets.ImageData) -> list[str]:
    """The data's class names, or "0", "1", ... when it has none."""
    return list(data.classes) or [str(i) for i in range(int(data.y_train.max()) + 1)]


class QualitySteps(training.TorchSteps):
    """One epoch per unit; a held-out accuracy row before the first and after every epoch. Snapshot
    (core.training.TorchSteps): nets {"classifier"}, opts {"classifier"}, rng, and the images' "shape" and
    "classes" (so a run rebuilds its classifier without the data); a shipped run keeps the network."""

    kind = "quality"

    def __init__(self, run: QualityRun, data: datasets.ImageData):
        if int(run.n_train) != len(data.X_train) or run.digest != data_digest(data):
            raise ValueError(f"the run {run.dataset!r} ({run.n_train} images, digest {run.digest}) is not of these "
                             f"images ({len(data.X_train)}, digest {data_digest(data)}): make it with quality_run")
        c = run.classifier
        if int(c.epochs) < 1 or int(c.batch_size) < 1 or not float(c.lr) > 0:
            raise ValueError("epochs and the batch size must be at least 1, the learning rate positive")
        self.config, self.data = run, data

    @classmethod
    def of(cls, data: datasets.ImageData, cfg: ClassifierConfig | None = None) -> "QualitySteps":
        """The steps of `quality_run(data, cfg)`."""
        return cls(quality_run(data, cfg), data)

    @property
    def title(self) -> str:
        return self.data.title

    def total(self) -> int:
        return int(self.config.classifier.epochs)

    def build(self) -> None:
        d, c = self.data, self.config.classifier
        self.net = training.seeded(c.seed, lambda: SmallClassifier(d.shape[0], len(class_names(d))))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=float(c.lr))
        self.nets, self.opts = {"classifier": self.net}, {"classifier": self.opt}
        self.gen = torch.Generator().manual_seed(int(c.seed))
        self.X, self.y = torch.as_tensor(d.X_train).reshape(-1, *d.shape), torch.as_tensor(d.y_train)
        self.stats = {}

    def extra_state(self) -> dict:
        return {"shape": list(self.data.shape), "classes": class_names(self.data)}

    def advance(self, done: int):
        c, X, y = self.config.classifier, self.X, self.y
        B = int(c.batch_size)
        n_batches = math.ceil(len(X) / B)
        perm = torch.randperm(len(X), generator=self.gen)
        self.net.train()
        total = 0.0
        for i in range(n_batches):
            idx = perm[i * B:(i + 1) * B]
            xb = augment(X[idx], self.gen) if c.augment else X[idx]
            loss = F.cross_entropy(self.net(xb), y[idx])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += float(loss.detach()) * len(idx)
            if i + 1 < n_batches and (i + 1) % 20 == 0:
                yield (i + 1) / n_batches
        self.stats = {"loss": total / len(X)}

    def measure(self, done: int) -> dict[str, float]:
        """The held-out accuracy: the share of held-out images whose most probable class is their label."""
        d = self.data
        self.net.eval()
        with torch.no_grad():
            pred = self.net(torch.as_tensor(d.X_test).reshape(-1, *d.shape)).argmax(1)
        stats, self.stats = self.stats, {}
        return {"test_accuracy": float((pred == torch.as_tensor(d.y_test)).float().mean()), **stats}

    def data_arrays(self) -> tuple:
        d = self.data
        return d.X_train, d.y_train, d.X_test, d.y_test

    def asset_folder(self):
        """assets/quality/<dataset>, the name's other characters than letters, digits and _ as "-"
        ("mnist", "mnist-digits28", "mnist-digits28-domain")."""
        return assets.folder(ASSET) / re.sub(r"[^A-Za-z0-9_]+", "-", self.config.dataset)


def finished_run(data: datasets.ImageData, cfg: ClassifierConfig | None = None,
                 cache: DiskCache | None = None) -> dict:
    """The finished run of `quality_run(data, cfg)`: from the disk cache (under the run's key, where a page and the
    command line put it), else the run shipped with the app for exactly this run, else trained now (no progress:
    pages train it with explorer.live.train_cached) and stored in the cache."""
    cache = cache or DiskCache()
    steps = QualitySteps.of(data, cfg)
    key = make_key(steps.kind, steps.config)
    hit = cache.get(key)
    if hit is not None:
        return hit
    ship = steps.shipped()
    if ship is not None:
        return ship
    result = training.run_to_end(steps)
    cache.put(key, result)
    return result


def for_command_line(run: QualityRun, data: datasets.ImageData) -> QualitySteps:
    """The steps of the command line's run: the first run.n_train training images (0: all), the digest filled in
    (a digest given on the command line must be the data's)."""
    n = int(run.n_train) or len(data.X_train)
    if n < len(data.X_train):
        data = replace(data, X_train=data.X_train[:n], y_train=data.y_train[:n])
    full = quality_run(data, run.classifier)
    if run.digest and run.digest != full.digest:
        raise ValueError(f"--digest {run.digest} is not the data's ({full.digest})")
    return QualitySteps(full, data)
