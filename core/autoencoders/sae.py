"""Stacked autoencoders (Bengio, Lamblin, Popovici & Larochelle 2007): pre-trained greedily, layer by layer, beside
the same deep autoencoder trained end to end from random weights.

Greedy: autoencoder 1 (784 - h1 - 784, sigmoid units, cross-entropy on the gray pixels), then autoencoder 2
(h1 - h2 - h1) trained on autoencoder 1's codes (fixed), ...; stacked, they encode 784 - h1 - h2 and decode
h2 - h1 - 784, and may then be fine-tuned end to end (`fine_tune` epochs). End to end: the same net from random
weights, trained on the pixels for as many epochs as the greedy stack's layers and fine-tuning together.

Compared: held-out reconstruction error (squared, per image), and the held-out error of a logistic regression
trained on the top codes (`classification_error`, standardised features), next to raw pixels and the DBN's
features (the experiment: core.autoencoders.features).

    python -m core.autoencoders.sae --layers 2 --epochs 5
    python -m core.autoencoders.sae --out assets/sae                  # the shipped default run
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import data as datasets
from core.autoencoders.digits import Stack
from core import training
from core.device import pick_device


class DeepAutoencoder(nn.Module):
    """Encoder 784 - h1 - ... - h_L and the mirror decoder, sigmoid units; encoder[l] / decoder[l] are layer l's halves
    (decoder[l] maps h_{l+1} back to h_l), so a greedy stack and an end-to-end net have the same parts."""

    def __init__(self, sizes: list[int]):
        super().__init__()
        self.sizes = list(sizes)  # [784, h1, h2, ...]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        self.dec = nn.ModuleList(nn.Linear(b, a) for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    def encode(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """(B, 784) -> (B, h_upto) codes (sigmoid units), through layers 0 .. upto-1 (all by default)."""
        for lin in self.enc[: len(self.enc) if upto is None else upto]:
            x = torch.sigmoid(lin(x))
        return x

    def decode_logits(self, h: torch.Tensor, frm: int | None = None) -> torch.Tensor:
        """(B, h_frm) -> (B, 784) logits of the reconstruction, from layer `frm` (the top by default) down."""
        frm = len(self.dec) if frm is None else frm
        for lin in reversed(self.dec[1:frm]):
            h = torch.sigmoid(lin(h))
        return self.dec[0](h)

    def forward(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """Logits of the reconstruction of x through the first `depth` layers (all by default)."""
        depth = len(self.enc) if depth is None else depth
        return self.decode_logits(self.encode(x, depth), depth)


@dataclass
class SAERun(Stack):
    """A stacked autoencoder pre-trained greedily beside the same net trained end to end (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # training digits
    layers: int = 2  # autoencoders stacked (2 or 3)
    hidden1: int = 500  # units of the first code
    hidden2: int = 200  # units of the second code
    hidden3: int = 100  # units of the third code (three layers only)
    epochs: int = 5  # greedy epochs per layer; the end-to-end net trains layers x epochs (+ fine_tune) epochs
    fine_tune: int = 0  # epochs of end-to-end fine-tuning of the greedy stack after pre-training (0: none)
    lr: float = 1e-3  # Adam step size
    batch_size: int = 100  # digits per Adam step
    seed: int = 0  # initial weights and batch order
    n_eval: int = 2000  # held-out digits of the reconstruction error


def check_sae(run: SAERun, data: datasets.ImageData) -> None:
    run.check_layers("a stack")
    if int(run.fine_tune) < 0:
        raise ValueError(f"fine-tuning epochs must be >= 0, got {run.fine_tune}")
    if min(int(run.n_train), len(data.X_train)) < 1:
        raise ValueError("no training digits")


def _bce_sum(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)


class SAESteps(training.TorchSteps):
    """One epoch of both stacks per unit. Greedy: autoencoder l (its encoder and decoder halves only) on the codes of
    the layers below for `epochs` units each, then (fine_tune) the whole stack end to end. End to end: the whole net
    from random weights every unit. After each epoch: held-out reconstruction error (squared, per image) of each
    stack through the layers trained so far.

    Snapshot (core.training.TorchSteps): "nets" {"greedy", "e2e"}, their Adam states "opts", "rng", and
    "greedy_phase" (the layer the greedy stack trained last; `layers` = fine-tuning). The greedy stack's Adam
    holds all its weights, but only the current layer's receive gradients (Adam skips the others), and it starts
    afresh with every phase; a shipped run (assets/sae) keeps the networks."""

    kind = "sae"
    asset = "sae"

    def __init__(self, run: SAERun, data: datasets.ImageData, device=None):
        check_sae(run, data)
        self.config, self.data, self.device = run, data, device

    def total(self) -> int:
        return int(self.config.layers) * int(self.config.epochs) + int(self.config.fine_tune)

    def prepare(self) -> None:
        run = self.config
        self.dev = pick_device(self.device)
        self.Xtr = torch.as_tensor(np.asarray(self.data.X_train[: int(run.n_train)], dtype=np.float32), device=self.dev)
        self.Xev = torch.as_tensor(np.asarray(self.data.X_test[: int(run.n_eval)], dtype=np.float32), device=self.dev)

    def phase(self, done: int) -> int:
        """Layer (0-based) the greedy stack trains in unit `done`; `layers` = the end-to-end fine-tuning."""
        return min(int(done) // int(self.config.epochs), int(self.config.layers))

    def build(self) -> None:
        run = self.config
        self.prepare()
        sizes = [self.Xtr.shape[1]] + run.sizes
        greedy = training.seeded(run.seed, lambda: DeepAutoencoder(sizes)).to(self.dev)
        e2e = training.seeded(int(run.seed) + 1, lambda: DeepAutoencoder(sizes)).to(self.dev)
        self.nets = {"greedy": greedy, "e2e": e2e}
        self.opts = {"greedy": self._adam(greedy), "e2e": self._adam(e2e)}
        self.gen = torch.Generator().manual_seed(int(run.seed))
        self.greedy_phase = 0

    def _adam(self, net: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(net.parameters(), lr=float(self.config.lr))

    def extra_state(self) -> dict:
        return {"greedy_phase": int(self.greedy_phase)}

    def restore_extra(self, snapshot: dict) -> None:
        self.greedy_phase = int(snapshot["greedy_phase"])

    def advance(self, done: int):
        run = self.config
        ph = self.phase(done)
        g, e = self.nets["greedy"], self.nets["e2e"]
        if ph != self.greedy_phase:
            self.opts["greedy"] = self._adam(g)  # a new layer (or fine-tuning): a fresh optimiser
        self.greedy_phase = ph
        opt_g, opt_e = self.opts["greedy"], self.opts["e2e"]
        n, B = len(self.Xtr), int(run.batch_size)
        perm = torch.randperm(n, generator=self.gen).to(self.dev)
        with torch.no_grad():
            below = g.encode(self.Xtr, ph) if ph < len(g.enc) else self.Xtr  # the greedy layer's input, fixed
        n_batches = math.ceil(n / B)
        for i in range(n_batches):
            idx = perm[i * B:(i + 1) * B]
            if ph < len(g.enc):  # autoencoder `ph` on the codes below: only its halves get gradients
                x = below[idx]
                logits = g.dec[ph](torch.sigmoid(g.enc[ph](x)))
                loss = _bce_sum(logits, x).mean()
            else:
                x = self.Xtr[idx]
                loss = _bce_sum(g(x), x).mean()
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            x = self.Xtr[idx]
            loss = _bce_sum(e(x), x).mean()
            opt_e.zero_grad(set_to_none=True)
            loss.backward()
            opt_e.step()
            if i + 1 < n_batches and (i + 1) % 40 == 0:
                yield (i + 1) / n_batches

    @torch.no_grad()
    def measure(self, done: int) -> dict[str, float]:
        g, e = self.nets["greedy"], self.nets["e2e"]
        depth = min(len(g.enc), max(1, math.ceil(done / int(self.config.epochs))))
        X = self.Xev
        rg = torch.sigmoid(g(X, depth))
        re = torch.sigmoid(e(X))
        return {"recon_greedy": float(((rg - X) ** 2).sum(1).mean()), "recon_e2e": float(((re - X) ** 2).sum(1).mean()),
                "greedy_depth": depth}

    def data_arrays(self) -> tuple:
        return self.data.X_train[: int(self.config.n_train)], self.data.X_test[: int(self.config.n_eval)]


def models(result: dict, device=None) -> dict[str, DeepAutoencoder]:
    """{"greedy": ..., "e2e": ...} of a finished or partial run (fresh modules in eval mode)."""
    run = SAERun(**result["config"])
    sizes = [result["nets"]["greedy"]["enc.0.weight"].shape[1]] + run.sizes
    out = {}
    for name in ("greedy", "e2e"):
        net = DeepAutoencoder(sizes)
        net.load_state_dict(result["nets"][name])
        out[name] = net.to(pick_device(device)).eval()
    return out


@torch.no_grad()
def codes(net: DeepAutoencoder, X, batch: int = 2000) -> np.ndarray:
    """Top codes of rows X (the features a classifier sees)."""
    X = np.asarray(X, dtype=np.float32)
    return np.concatenate([net.encode(torch.as_tensor(X[s:s + batch])).numpy() for s in range(0, len(X), batch)])


@torch.no_grad()
def reconstruct(net: DeepAutoencoder, X) -> np.ndarray:
    return torch.sigmoid(net(torch.as_tensor(np.asarray(X, dtype=np.float32)))).numpy()


def classification_error(features_train: np.ndarray, y_train, features_test: np.ndarray, y_test,
                         C: float = 1.0, max_iter: int = 300) -> float:
    """Held-out error of a multinomial logistic regression (standardised features, L2 weight 1/C)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=int(max_iter)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few hundred iterations are plenty to compare features
        clf.fit(features_train, y_train)
    return float((clf.predict(features_test) != np.asarray(y_test)).mean())


def main(argv=None):
    return training.main(SAESteps, SAERun(), argv, "Train a stacked autoencoder greedily beside the same net trained "
                         "end to end; print both held-out reconstruction errors every epoch.")


if __name__ == "__main__":
    main()
