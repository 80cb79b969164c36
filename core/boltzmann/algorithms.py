"""Training algorithms compared: CD-k, PCD-k and FPCD-k on the same data, held-out log-likelihood
against parameter updates.

Every algorithm starts from the same initial weights (same seed) and sees the same mini-batches in
the same order; only the negative phase differs. Every `eval_every` updates each model's mean
held-out log-likelihood (nats per image, on one fixed binarisation of the held-out digits) is
measured: exactly by enumerating the hidden layer when it has at most `exact_limit` units (the
slides' "modeling MNIST with 25 hidden units, exact log-likelihood"), otherwise with log Z by AIS
(a Bernoulli-mixture base model of the training digits, `ais_runs` x `ais_betas`; see core.boltzmann.ais), which
errs high on average; its effective sample size is kept beside it, and its band only when that ESS makes it mean
something (`AISResult.band_meaningful`).

    python -m core.boltzmann.algorithms --hidden 16 --updates 3000
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core import data as datasets
from core import training
from core.boltzmann.ais import base_rate_biases, default_base, rbm_log_likelihood
from core.boltzmann.rbm import RBM

ALGORITHMS = ("cd", "pcd", "fpcd")
NAMES = {"cd": "CD-k", "pcd": "PCD-k", "fpcd": "FPCD-k"}
N_PARTICLES = 16  # negative-phase particles kept for display at every evaluation


@dataclass
class BMRun:
    """One comparison: the data, the algorithms, their shared settings, and how to measure."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # training examples (the first n of the training split)
    algorithms: tuple = ALGORITHMS  # which of ALGORITHMS to train
    hidden: int = 16  # hidden units (exact log-likelihood up to exact_limit)
    lr: float = 0.1  # learning rate of the regular weights, all algorithms
    batch_size: int = 100  # examples per update
    k: int = 1  # Gibbs steps of the negative phase
    n_chains: int = 100  # persistent chains (PCD, FPCD)
    fast_lr: float = 0.1  # learning rate of FPCD's fast weights
    fast_decay: float = 0.95  # FPCD fast-weight decay per update
    updates: int = 3000  # parameter updates per algorithm
    eval_every: int = 500  # updates between log-likelihood measurements
    n_eval: int = 2000  # held-out images measured (at most the held-out split)
    exact_limit: int = 20  # enumerate 2^hidden states up to this; AIS above
    ais_betas: int = 1000  # AIS temperatures (large models only)
    ais_runs: int = 50  # AIS runs (large models only)
    seed: int = 0  # initial weights, chains, mini-batch order

    @property
    def exact(self) -> bool:
        return int(self.hidden) <= int(self.exact_limit)


def _rbm(run: BMRun, method: str) -> RBM:
    return RBM(int(run.hidden), learning_rate=float(run.lr), batch_size=int(run.batch_size),
               n_iter=1, random_state=int(run.seed), method=method, k=int(run.k),
               n_chains=int(run.n_chains) if method != "cd" else 0,
               fast_learning_rate=float(run.fast_lr), fast_decay=float(run.fast_decay), device="cpu")


def held_out_binary(run: BMRun, data: datasets.ImageData) -> np.ndarray:
    """The first n_eval held-out digits in the one binarisation every lab's log-likelihood uses."""
    return datasets.held_out_binary(data.X_test)[: int(run.n_eval)]


def batch(Xtr: torch.Tensor, run: BMRun, u: int) -> torch.Tensor:
    """The u-th mini-batch (0-based): the same for every algorithm, reshuffled every epoch by the seed."""
    n, B = len(Xtr), int(run.batch_size)
    per_epoch = max(1, n // B)
    epoch, i = divmod(u, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(run.seed) * 7919 + epoch))
    return Xtr[perm[i * B:(i + 1) * B]]


def shown_batch(run: BMRun, data: datasets.ImageData, u: int, n: int = N_PARTICLES) -> np.ndarray:
    """The first n digits of mini-batch u as training saw them (what CD's negative phase started from)."""
    return batch(torch.as_tensor(np.ascontiguousarray(data.X_train[: int(run.n_train)], dtype=np.float32)), run, u)[:n].numpy()


def log_likelihood(rbm: RBM, V: torch.Tensor, run: BMRun, X_base: np.ndarray, base=None) -> dict[str, float]:
    """{"ll", "ll_low", "ll_high", "ess"}: mean held-out log p(v) in nats; low = high = ll and ess = nan when exact.
    AIS (large models): base model `base`, else `default_base(X_base)`; low/high are nan when the ESS is too small
    for a band to mean anything."""
    if run.exact:
        ll = float(rbm.log_likelihood(V).mean())
        return {"ll": ll, "ll_low": ll, "ll_high": ll, "ess": float("nan")}
    r = rbm_log_likelihood(rbm.W, rbm.b, rbm.c, V, X_base, int(run.ais_betas), int(run.ais_runs), random_state=0,
                           base=default_base(X_base) if base is None else base)
    ok = r["ais"]["band_meaningful"]
    return {"ll": r["ll"], "ll_low": r["ll_low"] if ok else float("nan"), "ll_high": r["ll_high"] if ok else float("nan"),
            "ess": r["ais"]["ess"]}


def negative_particles(rbm: RBM, Vdata: torch.Tensor, n: int = N_PARTICLES) -> np.ndarray:
    """What the negative phase currently averages over, as P(v=1 | h) images (n, n_v): the persistent
    chains' states for PCD/FPCD (FPCD's chains run on regular + fast weights), CD-k's reconstructions of
    the mini-batch for CD."""
    if rbm.method == "cd":
        return rbm.reconstruct(Vdata[:n].numpy(), k=int(rbm.k), random_state=0)
    return rbm.negative_particles(n)


def _u8(X: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.clip(np.asarray(X) * 255 + 0.5, 0, 255).astype(np.uint8))


class AlgorithmSteps(training.Steps):
    """One parameter update of every chosen algorithm per unit (same mini-batch); every `eval_every`
    updates each model's held-out log-likelihood and its negative particles. One thread (the products are
    small; see core.device.default_threads). Snapshot: "nets" (RBM states, each with its generator) and "particles" (uint8)."""

    kind = "bm-algorithms"
    x = "updates"
    unit = "update"
    tick = 100
    threads = 0

    def __init__(self, run: BMRun, data: datasets.ImageData):
        algs = [a for a in ALGORITHMS if a in tuple(run.algorithms)]
        if not algs:
            raise ValueError(f"choose at least one of {ALGORITHMS}")
        self.config, self.data, self.algs = run, data, algs

    def total(self) -> int:
        return int(self.config.updates)

    def due(self, done: int) -> bool:
        return done % max(1, int(self.config.eval_every)) == 0

    def message(self, done: int) -> str:
        return f"{done}/{self.total()} updates"

    def _prepare(self) -> None:
        run, data = self.config, self.data
        self.Xtr = torch.as_tensor(np.ascontiguousarray(data.X_train[: int(run.n_train)], dtype=np.float32))
        self.V = torch.as_tensor(held_out_binary(run, data), dtype=torch.float64)
        self.Xbase = data.X_train[: int(run.n_train)]
        self.base = None if run.exact else default_base(self.Xbase)  # AIS's base model, fit once

    @torch.no_grad()
    def start(self) -> None:
        self._prepare()
        b0 = base_rate_biases(self.Xbase)  # visible biases start at the data's base rates (Hinton's practical guide):
        self.models = {}  # without it PCD tends to park every hidden unit "on"; same seed, same weights
        for a in self.algs:
            self.models[a] = _rbm(self.config, a).initialize(self.Xtr.shape[1])
            self.models[a].intercept_visible_ = b0
        self.particles = {a: [] for a in self.algs}

    def restore(self, snapshot: dict) -> None:
        self._prepare()
        self.models = {a: RBM.from_state_dict(snapshot["nets"][a], device="cpu") for a in self.algs}
        self.particles = {a: list(snapshot["particles"][a]) for a in self.algs}

    def advance(self, done: int) -> None:
        Vb = batch(self.Xtr, self.config, done)
        for m in self.models.values():
            m.update(Vb)

    @torch.no_grad()
    def measure(self, done: int) -> dict[str, float]:
        run, row = self.config, {}
        Vb = batch(self.Xtr, run, done)
        for a, m in self.models.items():
            ll = log_likelihood(m, self.V, run, self.Xbase, self.base)
            row[f"ll_{a}"] = ll["ll"]
            if not run.exact:
                row[f"ll_{a}_low"], row[f"ll_{a}_high"], row[f"ess_{a}"] = ll["ll_low"], ll["ll_high"], ll["ess"]
            self.particles[a].append(_u8(negative_particles(m, Vb)))
        return row

    def state(self) -> dict:
        return {"nets": {a: m.state_dict() for a, m in self.models.items()},
                "particles": {a: list(p) for a, p in self.particles.items()}}


def train(run: BMRun, data: datasets.ImageData, partial: dict | None = None):
    """The comparison's training iterator (core.training.train of AlgorithmSteps)."""
    return training.train(AlgorithmSteps(run, data), partial)


def curves(result: dict) -> list[str]:
    return [c for c in result["history"][0] if c.startswith("ll_") and not c.endswith(("_low", "_high"))]


def particles(result: dict, alg: str, index: int = -1) -> np.ndarray:
    """Negative-phase images of `alg` at the index-th measurement, floats in [0, 1]."""
    return result["particles"][alg][index].float().numpy() / 255.0


def main(argv=None):
    return training.main(AlgorithmSteps, BMRun(), argv, "Compare CD, PCD and FPCD by held-out log-likelihood.")


if __name__ == "__main__":
    main()
