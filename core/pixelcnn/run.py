"""The PixelCNN lab's run (`PixelCNNSteps`, see core.training) and what a page or the scoreboard asks of a run.

Training: the first `n_train` digits of the split, each moved by a random offset of up to `shift` pixels every epoch
(``core.autoencoders.vae.shifted``, as the VAE does), then a fresh stochastic binarisation
(``core.data.binarize(X, seed * 100_003 + epoch)``, pixel ~ Bernoulli(gray), as the DBM does), mini-batches in an order
drawn from the run's generator, Adam on the mean exact NLL, the step size lr * lr_decay^epoch. After every epoch the
exact held-out NLL on the first `n_eval` held-out digits in the one binarisation every lab scores
(``core.data.held_out_binary``: the RBM's, DBM's and VAE's held-out log-likelihoods are on the same digits), its
standard error over digits, bits per pixel, and the epoch's training NLL (the running mean over its batches, the
network changing meanwhile).

    python -m core.pixelcnn.run --epochs 2 --width 16      # train, print the held-out NLL every epoch
    python -m core.pixelcnn.run --threads 1 --out assets/pixelcnn   # the shipped default run (one thread)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from core import data as datasets
from core import training
from core.autoencoders.digits import check_schedule
from core.autoencoders.vae import shifted
from core.pixelcnn.model import PixelCNN, bits_per_pixel, n_params, nll, nll_per_image, timed_sample

EPOCHS = (1, 2, 3, 5, 8, 10, 12, 15, 20, 30)  # page lengths: a longer run continues a shorter one


@dataclass
class PixelCNNRun:
    """Everything that changes a trained PixelCNN (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS (one-channel images)
    n_train: int = 8000  # training digits (the first n of the training split)
    depth: int = 5  # residual mask-B 3x3 blocks after the 7x7 mask-A layer
    width: int = 32  # channels of every layer
    epochs: int = 12  # passes over the training digits (fresh binarisation each; 12: under 95 nats in ~440 CPU s)
    batch_size: int = 16  # digits per Adam step (16: 4x the steps of 64 for about the same CPU time; 64 was ~2 nats worse)
    lr: float = 2e-3  # Adam step size in the first epoch
    lr_decay: float = 0.85  # the step size is multiplied by this every epoch
    shift: int = 1  # training digits moved by up to this many pixels each epoch (without: held-out NLL ~0.75 nats worse at epoch 3)
    seed: int = 0  # initial weights and batch order (and the binarisations: seed * 100,003 + epoch)
    n_eval: int = 2000  # held-out digits scored after every epoch


def check_run(run: PixelCNNRun, data: datasets.ImageData) -> None:
    """One-line errors for settings that cannot train."""
    if data.shape[0] != 1:
        raise ValueError(f"this PixelCNN models one-channel images; {data.title} has {data.shape[0]} channels")
    if int(run.depth) < 0 or int(run.width) < 1:
        raise ValueError("the depth must be at least 0 and the width at least 1")
    if int(run.epochs) < 0 or int(run.batch_size) < 1 or int(run.n_eval) < 1:
        raise ValueError("epochs must be at least 0, the batch size and held-out digits at least 1")
    check_schedule(run, data)


class PixelCNNSteps(training.TorchSteps):
    """One epoch per unit; after each, the exact held-out NLL ("nll", nats per image), its standard error over the
    digits ("nll_se"), bits per pixel ("bpp") and the epoch's training NLL ("train_nll"). Snapshot: the network
    "pixelcnn", its Adam state and the generator; a shipped run keeps the network."""

    kind = "pixelcnn"
    asset = "pixelcnn"

    def __init__(self, run: PixelCNNRun, data: datasets.ImageData):
        check_run(run, data)
        self.config, self.data = run, data
        self.stats: dict[str, float] = {}

    def total(self) -> int:
        return int(self.config.epochs)

    def data_arrays(self) -> tuple:
        run = self.config
        return self.data.X_train[: int(run.n_train)], self.data.X_test[: min(int(run.n_eval), len(self.data.X_test))]

    def build(self) -> None:
        run = self.config
        self.Xtr, Xte = self.data_arrays()
        self.Xev = datasets.held_out_binary(Xte)  # the first n_eval rows of the one held-out binarisation
        self.hw = tuple(self.data.shape[1:])
        self.model = training.seeded(run.seed, lambda: PixelCNN(int(run.depth), int(run.width)))
        self.nets = {"pixelcnn": self.model}
        self.opts = {"pixelcnn": torch.optim.Adam(self.model.parameters(), lr=float(run.lr))}
        self.gen = torch.Generator().manual_seed(int(run.seed))
        self.stats = {}

    def advance(self, done: int):
        run, opt, model = self.config, self.opts["pixelcnn"], self.model
        Xg = shifted(torch.as_tensor(self.Xtr), self.data.shape, int(run.shift), self.gen).numpy()  # moved, gray
        X = torch.as_tensor(datasets.binarize(Xg, int(run.seed) * 100_003 + int(done))).reshape(-1, 1, *self.hw)
        perm = torch.randperm(len(X), generator=self.gen)
        for group in opt.param_groups:
            group["lr"] = float(run.lr) * float(run.lr_decay) ** int(done)
        model.train()
        B, total = int(run.batch_size), 0.0
        n_batches = math.ceil(len(X) / B)
        for b in range(n_batches):
            x = X[perm[b * B:(b + 1) * B]]
            loss = nll(model, x)
            opt.zero_grad(set_to_none=True)
            loss.mean().backward()
            opt.step()
            total += float(loss.detach().sum())
            if b + 1 < n_batches and (b + 1) % 25 == 0:
                yield (b + 1) / n_batches
        self.stats = {"train_nll": total / len(X)}

    def measure(self, done: int) -> dict[str, float]:
        per = nll_per_image(self.model, self.Xev, self.hw)
        out = {"nll": float(per.mean()), "nll_se": float(per.std(ddof=1) / math.sqrt(len(per))) if len(per) > 1 else 0.0,
               "bpp": bits_per_pixel(per.mean(), self.hw[0] * self.hw[1])}
        stats, self.stats = self.stats, {}
        return {**out, **stats}

    def continues(self) -> list:
        """The same run with fewer epochs (the page's lengths), longest first."""
        return [replace(self.config, epochs=m) for m in sorted(EPOCHS, reverse=True) if m < int(self.config.epochs)]


# ----------------------------------------------------------------------------- what pages and the scoreboard ask

def model(result: dict) -> PixelCNN:
    """The PixelCNN of a finished or partial run (a fresh module in eval mode, float32, on the CPU)."""
    run = PixelCNNRun(**result["config"])
    m = PixelCNN(int(run.depth), int(run.width))
    m.load_state_dict({k: v.float() for k, v in result["nets"]["pixelcnn"].items()})
    return m.eval()


def side(X) -> tuple[int, int]:
    """(H, W) of square images given as rows of H*W pixels."""
    n = int(np.shape(X)[-1])
    s = math.isqrt(n)
    if s * s != n:
        raise ValueError(f"rows of {n} pixels are not square images: give the shape")
    return s, s


def heldout_nll(model: PixelCNN, X_binary, shape=None) -> np.ndarray:
    """Exact -log p(x) in nats of every row of binary X_binary (n, H*W) (square images unless `shape` (H, W))."""
    return nll_per_image(model, X_binary, shape or side(X_binary))


def sample(model: PixelCNN, n: int, generator: torch.Generator, shape=(28, 28)) -> np.ndarray:
    """n images drawn pixel by pixel in raster order: (n, H*W) float32 in {0, 1} (every draw from `generator`)."""
    from core.pixelcnn.model import sample as draw

    return draw(model, n, generator, shape)


def finish(result: dict, data: datasets.ImageData, n_samples: int = 16) -> dict:
    """Scores of a finished run for its provenance, on the weights as shipped (float16-rounded): the exact held-out
    NLL with its standard error over digits, bits per pixel, the parameter count and the seconds per sample."""
    m = model({**result, "nets": {"pixelcnn": {k: v.half().float() for k, v in result["nets"]["pixelcnn"].items()}}})
    run = PixelCNNRun(**result["config"])
    V = datasets.held_out_binary(data.X_test[: int(run.n_eval)])
    per = heldout_nll(m, V, data.shape[1:])
    t = timed_sample(m, int(n_samples), torch.Generator().manual_seed(0), data.shape[1:])
    return {"heldout_nll": float(per.mean()), "heldout_nll_se": float(per.std(ddof=1) / math.sqrt(len(per))),
            "bits_per_pixel": bits_per_pixel(per.mean(), int(np.prod(data.shape))), "n": len(per),
            "params": n_params(m), "sample_seconds_per_image": round(t["seconds_per_image"], 4),
            "sample_batch": int(n_samples), "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"),
            "note": "exact held-out nats per image on core.data.held_out_binary(X_test) with the float16 weights as "
                    "shipped; standard error over digits; sampling time of one batch on this machine"}


def main(argv=None):
    return training.main(PixelCNNSteps, PixelCNNRun(), argv,
                         "Train a PixelCNN on binarised digits; print its exact held-out NLL every epoch; with --out "
                         "write the run with its provenance.", finish=finish)


if __name__ == "__main__":
    main()
