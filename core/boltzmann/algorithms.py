"""Training algorithms compared: CD-k, PCD-k and FPCD-k on the same data, held-out log-likelihood
against parameter updates.

Every algorithm starts from the same initial weights (same seed) and sees the same mini-batches in
the same order; only the negative phase differs. Every `eval_every` updates each model's mean
held-out log-likelihood (nats per image, on one fixed binarisation of the held-out digits) is
measured: exactly by enumerating the hidden layer when it has at most `exact_limit` units (the
slides' "modeling MNIST with 25 hidden units, exact log-likelihood"), otherwise with log Z by AIS
(base-rate start model, `ais_runs` x `ais_betas`), with the AIS band.

    python -m core.bm_lab --hidden 16 --updates 3000
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import torch

from core import data as datasets
from core.boltzmann.ais import base_rate_biases, rbm_log_likelihood
from core.device import threaded
from core.progress import Clock, Progress
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
    n_hidden: int = 16  # hidden units (exact log-likelihood up to exact_limit)
    learning_rate: float = 0.1  # regular weights, all algorithms
    batch_size: int = 100  # examples per update
    k: int = 1  # Gibbs steps of the negative phase
    n_chains: int = 100  # persistent chains (PCD, FPCD)
    fast_learning_rate: float = 0.1  # FPCD fast weights
    fast_decay: float = 0.95  # FPCD fast-weight decay per update
    updates: int = 3000  # parameter updates per algorithm
    eval_every: int = 500  # updates between log-likelihood measurements
    n_eval: int = 2000  # held-out images measured (at most the held-out split)
    exact_limit: int = 20  # enumerate 2^n_hidden states up to this; AIS above
    ais_betas: int = 1000  # AIS temperatures (large models only)
    ais_runs: int = 50  # AIS runs (large models only)
    random_state: int = 0  # initial weights, chains, mini-batch order

    @property
    def exact(self) -> bool:
        return int(self.n_hidden) <= int(self.exact_limit)


def _rbm(run: BMRun, method: str) -> RBM:
    return RBM(int(run.n_hidden), learning_rate=float(run.learning_rate), batch_size=int(run.batch_size),
               n_iter=1, random_state=int(run.random_state), method=method, k=int(run.k),
               n_chains=int(run.n_chains) if method != "cd" else 0,
               fast_learning_rate=float(run.fast_learning_rate), fast_decay=float(run.fast_decay), device="cpu")


def held_out(run: BMRun, data: datasets.ImageData) -> np.ndarray:
    """The fixed binarisation (pixel ~ Bernoulli(gray), seed 0) of the held-out digits measured."""
    return datasets.binarize(data.X_test[: int(run.n_eval)], 0)


def batch(Xtr: torch.Tensor, run: BMRun, u: int) -> torch.Tensor:
    """The u-th mini-batch (0-based): the same for every algorithm, reshuffled every epoch by the seed."""
    n, B = len(Xtr), int(run.batch_size)
    per_epoch = max(1, n // B)
    epoch, i = divmod(u, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(run.random_state) * 7919 + epoch))
    return Xtr[perm[i * B:(i + 1) * B]]


def shown_batch(run: BMRun, data: datasets.ImageData, u: int, n: int = N_PARTICLES) -> np.ndarray:
    """The first n digits of mini-batch u as training saw them (what CD's negative phase started from)."""
    return batch(torch.as_tensor(np.ascontiguousarray(data.X_train[: int(run.n_train)], dtype=np.float32)), run, u)[:n].numpy()


def log_likelihood(rbm: RBM, V: torch.Tensor, run: BMRun, X_base: np.ndarray) -> dict[str, float]:
    """{"ll", "ll_low", "ll_high"}: mean held-out log p(v) in nats; low = high = ll when exact."""
    if run.exact:
        ll = float(rbm.log_likelihood(V).mean())
        return {"ll": ll, "ll_low": ll, "ll_high": ll}
    r = rbm_log_likelihood(rbm.W, rbm.b, rbm.c, V, X_base, int(run.ais_betas), int(run.ais_runs), random_state=0)
    return {k: r[k] for k in ("ll", "ll_low", "ll_high")}


@torch.no_grad()
def negative_particles(rbm: RBM, Vdata: torch.Tensor, n: int = N_PARTICLES) -> np.ndarray:
    """What the negative phase currently averages over, as P(v=1 | h) images (n, n_v): the persistent
    chains' states for PCD/FPCD (FPCD's chains run on regular + fast weights), CD-k's reconstructions of
    the mini-batch for CD."""
    if rbm.method == "cd":
        return rbm.reconstruct(Vdata[:n].numpy(), k=int(rbm.k), random_state=0)
    P = rbm._P + (rbm._fast if rbm._fast is not None else 0.0)
    H = rbm._chains[:n]  # (n, n_h + 1) = [h, 1]
    return torch.sigmoid(H @ P[:, :-1]).cpu().numpy()


def _u8(X: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.clip(np.asarray(X) * 255 + 0.5, 0, 255).astype(np.uint8))


def train(run: BMRun, data: datasets.ImageData, partial: dict | None = None) -> Iterator[Progress]:
    """Train every chosen algorithm side by side; a record with metrics every `eval_every` updates.

    Resumable: `partial` is a snapshot (extra["snapshot"]()) of an earlier call. One thread (see
    core.ais.torch_threads): the products are small.
    """
    return threaded(_train(run, data, partial))


@torch.no_grad()
def _train(run: BMRun, data: datasets.ImageData, partial: dict | None):
    algs = [a for a in ALGORITHMS if a in tuple(run.algorithms)]
    if not algs:
        raise ValueError(f"choose at least one of {ALGORITHMS}")
    Xtr = torch.as_tensor(np.ascontiguousarray(data.X_train[: int(run.n_train)], dtype=np.float32))
    V = torch.as_tensor(held_out(run, data), dtype=torch.float64)
    Xbase = data.X_train[: int(run.n_train)]
    clock = Clock()
    if partial is not None:
        models = {a: RBM.from_state_dict(partial["models"][a], device="cpu") for a in algs}
        history, particles, u = list(partial["history"]), {a: list(partial["particles"][a]) for a in algs}, int(partial["updates"])
        t_before = float(partial.get("seconds", 0.0))
    else:
        models = {a: _rbm(run, a) for a in algs}
        b0 = base_rate_biases(Xbase)  # visible biases start at the data's base rates (Hinton's practical guide):
        for m in models.values():  # without it PCD tends to park every hidden unit "on"; same seed, same weights
            m._init_state(Xtr.shape[1])
            m.intercept_visible_ = b0
        history, particles, u, t_before = [], {a: [] for a in algs}, 0, 0.0
    total, every = int(run.updates), max(1, int(run.eval_every))
    bufs: dict = {}

    def measure():
        row = {"updates": u, "seconds": t_before + clock()}
        Vb = batch(Xtr, run, u)
        for a, m in models.items():
            ll = log_likelihood(m, V, run, Xbase)
            row[f"ll_{a}"] = ll["ll"]
            if not run.exact:
                row[f"ll_{a}_low"], row[f"ll_{a}_high"] = ll["ll_low"], ll["ll_high"]
            particles[a].append(_u8(negative_particles(m, Vb)))
        history.append(row)
        snap = {"run": asdict(run), "models": {a: m.state_dict() for a, m in models.items()}, "history": list(history),
                "particles": {a: list(p) for a, p in particles.items()}, "updates": u, "seconds": row["seconds"]}
        metrics = {f"ll_{a}": row[f"ll_{a}"] for a in algs}
        return Progress(u, total, 0.0, metrics, f"{u}/{total} updates", done=u >= total, elapsed=row["seconds"],
                        extra={"snapshot": lambda: snap})

    if partial is None:
        yield measure()
    while u < total:
        stop = min(total, (u // every + 1) * every)
        while u < stop:
            Xa = batch(Xtr, run, u)
            Xa = torch.cat([Xa, torch.ones(len(Xa), 1)], 1)
            for a, m in models.items():
                if a not in bufs:
                    bufs[a] = m._buffers(len(Xa))  # every batch has batch_size rows (see `batch`)
                m._update(Xa, bufs[a])
            u += 1
            if u % 100 == 0 and u < stop:
                yield Progress(u, total, 0.0, {}, f"{u}/{total} updates", elapsed=t_before + clock())
        yield measure()


def curves(result: dict) -> list[str]:
    return [c for c in result["history"][0] if c.startswith("ll_") and not c.endswith(("_low", "_high"))]


def particles(result: dict, alg: str, index: int = -1) -> np.ndarray:
    """Negative-phase images of `alg` at the index-th measurement, floats in [0, 1]."""
    return result["particles"][alg][index].float().numpy() / 255.0


def main(argv=None):
    d = BMRun()
    ap = argparse.ArgumentParser(description="Compare CD, PCD and FPCD by held-out log-likelihood.")
    ap.add_argument("--dataset", default=d.dataset, choices=sorted(datasets.DATASETS))
    ap.add_argument("--hidden", type=int, default=d.n_hidden)
    ap.add_argument("--updates", type=int, default=d.updates)
    ap.add_argument("--eval-every", type=int, default=d.eval_every)
    ap.add_argument("--lr", type=float, default=d.learning_rate)
    ap.add_argument("--k", type=int, default=d.k)
    ap.add_argument("--fast-lr", type=float, default=d.fast_learning_rate)
    ap.add_argument("--fast-decay", type=float, default=d.fast_decay)
    a = ap.parse_args(argv)
    run = BMRun(a.dataset, n_hidden=a.hidden, updates=a.updates, eval_every=a.eval_every, learning_rate=a.lr, k=a.k,
                fast_learning_rate=a.fast_lr, fast_decay=a.fast_decay)
    for rec in train(run, datasets.load(a.dataset)):
        if rec.metrics:
            print(rec.line(".2f"), flush=True)


if __name__ == "__main__":
    main()
