"""Two-hidden-layer binary deep Boltzmann machine (Salakhutdinov & Hinton, AISTATS 2009).

    E(v, h1, h2) = -b.v - c1.h1 - c2.h2 - h1.W1 v - h2.W2 h1        W1: (n1, n_v), W2: (n2, n1)

    P(h1=1 | v, h2) = sigm(c1 + W1 v + W2^T h2)    (the middle layer hears both neighbours)
    P(v=1 | h1)     = sigm(b + W1^T h1),   P(h2=1 | h1) = sigm(c2 + W2 h1)

Training, as in the paper:
1. Greedy pre-training of two RBMs with the doubling trick, so that composing them does not count
   the evidence twice: the bottom RBM doubles its input (P(h1|v) = sigm(c + 2 W1 v), P(v|h1) =
   sigm(b + W1^T h1)); the top RBM, trained on the bottom one's hidden samples, doubles its top
   layer (P(h2|h1) = sigm(c2 + W2 h1), P(h1|h2) = sigm(b2 + 2 W2^T h2)). The composed DBM keeps W1
   and W2 and averages the two biases of h1: in the DBM h1 hears W1 v + W2^T h2, half of each.
2. Joint training of all parameters: the data-dependent statistics come from mean-field
   (fixed-point updates of factorial q(h1) q(h2) with v clamped, started by a doubled bottom-up
   pass), the model statistics from persistent Gibbs chains (fantasy particles) that alternate
   between the odd layer (h1) and the even layers (v, h2), which are conditionally independent.

Sampling alternates odd and even layers the same way. Training is an iterator of
`core.progress.Progress`, resumable from any epoch boundary (`train`); the command line trains the
model shipped in assets/dbm together with an RBM given the same training time, and writes the
provenance:

    python -m core.dbm --pretrain-epochs 10 --epochs 25 --lr 0.001 --out assets/dbm   # the shipped model
    python -m core.dbm --hidden1 500 --hidden2 1000 --pretrain-epochs 100 --epochs 300 --out runs/full
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from core.boltzmann.ais import AISResult, ais_dbm, base_rate_biases, rbm_log_likelihood
from core.device import threaded
from core.data import binarize
from core.device import describe, pick_device
from core.progress import Progress

REPO = Path(__file__).resolve().parents[2]
ASSET_DIR = REPO / "assets" / "dbm"
PHASES = ("pretrain1", "pretrain2", "joint")


@dataclass
class DBMConfig:
    """Every hyper-parameter of a DBM run; what the cache key is made of."""

    n_hidden1: int = 500  # units of the first hidden layer
    n_hidden2: int = 500  # units of the second hidden layer
    pretrain_epochs: int = 10  # epochs of each greedy RBM (CD-1 with the doubling trick)
    pretrain_lr: float = 0.05  # learning rate of the pre-training RBMs
    epochs: int = 25  # epochs of joint training
    learning_rate: float = 0.001  # joint training, decayed linearly to a tenth of it at the end (0.005: worse)
    batch_size: int = 100  # examples per update
    n_chains: int = 100  # persistent fantasy particles of the joint training
    k: int = 5  # Gibbs sweeps of the fantasy particles per update
    mean_field_steps: int = 10  # fixed-point iterations of the positive phase
    momentum: float = 0.9  # heavy-ball momentum (0.5 during the first epoch of each phase)
    weight_decay: float = 0.0002  # L2 penalty on W1, W2
    random_state: int = 0  # seed of initial weights, data binarisation, chains


def _sig(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


def _bern(P: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(P.shape, generator=gen, device=P.device) < P).float()


def entropy(P: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of independent Bernoulli(P) units, summed over the last axis."""
    P = P.double().clamp(1e-12, 1 - 1e-12)
    return -(P * P.log() + (1 - P) * (1 - P).log()).sum(-1)


class DBM:
    """A trained (or training) two-layer DBM. Parameters are plain float32 tensors on `device`."""

    def __init__(self, config: DBMConfig | None = None, device=None):
        self.config = config or DBMConfig()
        self.device = pick_device(device)

    # ------------------------------------------------------------------ parameters

    def init_params(self, n_visible: int, gen: torch.Generator) -> None:
        cfg, dev = self.config, self.device
        n1, n2 = int(cfg.n_hidden1), int(cfg.n_hidden2)
        self.W1 = torch.randn(n1, n_visible, generator=gen, device=dev) * 0.01  # (n1, n_v)
        self.W2 = torch.randn(n2, n1, generator=gen, device=dev) * 0.01  # (n2, n1)
        self.b = torch.zeros(n_visible, device=dev)
        self.c1 = torch.zeros(n1, device=dev)
        self.c2 = torch.zeros(n2, device=dev)

    @property
    def params(self) -> dict[str, torch.Tensor]:
        return {"W1": self.W1, "W2": self.W2, "b": self.b, "c1": self.c1, "c2": self.c2}

    def state_dict(self, dtype=torch.float32) -> dict:
        return {"config": asdict(self.config), **{k: v.detach().cpu().to(dtype).clone() for k, v in self.params.items()}}

    @classmethod
    def from_state_dict(cls, state: dict, device=None) -> "DBM":
        m = cls(DBMConfig(**state["config"]), device)
        for k in ("W1", "W2", "b", "c1", "c2"):
            setattr(m, k, state[k].to(m.device, torch.float32).clone())
        return m

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.W1.shape[1], self.W1.shape[0], self.W2.shape[0]

    # ------------------------------------------------------------------ inference

    def _tensor(self, V) -> torch.Tensor:
        V = torch.as_tensor(np.asarray(V, dtype=np.float32) if not isinstance(V, torch.Tensor) else V)
        return V.detach().to(self.device, torch.float32).reshape(-1, self.W1.shape[1])

    @torch.no_grad()
    def mean_field(self, V, steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Factorial posterior q(h1) q(h2) given v by fixed-point iteration, started bottom-up with doubled
        input to h1 (which stands in for the missing top-down input). Returns (mu1 (n, n1), mu2 (n, n2))."""
        V = self._tensor(V)
        steps = self.config.mean_field_steps if steps is None else int(steps)
        bottom = torch.addmm(self.c1, V, self.W1.T)  # c1 + W1 v, fixed
        mu1 = _sig(bottom + V @ self.W1.T)
        mu2 = _sig(torch.addmm(self.c2, mu1, self.W2.T))
        for _ in range(steps):
            mu1 = _sig(torch.addmm(bottom, mu2, self.W2))
            mu2 = _sig(torch.addmm(self.c2, mu1, self.W2.T))
        return mu1, mu2

    @torch.no_grad()
    def unnormalized_log_prob_bound(self, V, steps: int = 30) -> np.ndarray:
        """Variational lower bound of log p*(v) (per row, nats), h1 summed out exactly given q(h2):
            b.v + c2.mu2 + H(mu2) + sum_j softplus(c1 + W1 v + W2^T mu2)_j  <=  log p*(v),
        (Jensen, softplus being convex), with mu2 from mean-field. Subtract log Z for a log-likelihood bound."""
        V = self._tensor(V)
        _, mu2 = self.mean_field(V, steps)
        pre = torch.addmm(torch.addmm(self.c1, V, self.W1.T), mu2, self.W2).double()
        out = V.double() @ self.b.double() + mu2.double() @ self.c2.double() + entropy(mu2) + F.softplus(pre).sum(1)
        return out.cpu().numpy()

    def _gibbs(self, V, H1, H2, steps, gen, frames=None, record=()):
        """`steps` alternating sweeps: h1 | v, h2 (odd layer) then v, h2 | h1 (even layers)."""
        Pv = None
        for s in range(1, int(steps) + 1):
            H1 = _bern(_sig(torch.addmm(torch.addmm(self.c1, V, self.W1.T), H2, self.W2)), gen)
            Pv = _sig(torch.addmm(self.b, H1, self.W1))
            V = _bern(Pv, gen)
            H2 = _bern(_sig(torch.addmm(self.c2, H1, self.W2.T)), gen)
            if frames is not None and s in record:
                frames[s] = Pv.cpu().numpy()
        return V, H1, H2, Pv

    @torch.no_grad()
    def sample(self, n: int = 16, steps: int = 1000, random_state: int = 0, record=(), init=None) -> dict[int, np.ndarray]:
        """Run n chains for `steps` alternating Gibbs sweeps from random visibles (or `init`), h2 = 0.
        Returns {step: P(v=1 | h1) (n, n_v)} for each step in `record` and the last one. The model is not changed."""
        gen = torch.Generator(device=self.device).manual_seed(int(random_state))
        n_v, n1, n2 = self.shape
        V = self._tensor(init) if init is not None else _bern(torch.full((n, n_v), 0.5, device=self.device), gen)
        H2 = torch.zeros(V.shape[0], n2, device=self.device)
        frames: dict[int, np.ndarray] = {}
        record = set(int(r) for r in record) | {int(steps)}
        if 0 in record:
            frames[0] = V.cpu().numpy()
        self._gibbs(V, None, H2, steps, gen, frames, record)
        return frames

    def log_partition_ais(self, X_base=None, betas=14_500, n_runs: int = 100, random_state: int = 0,
                          callback=None) -> AISResult:
        return ais_dbm(self.W1, self.W2, self.b, self.c1, self.c2, X=X_base, betas=betas, n_runs=n_runs,
                       random_state=random_state, device=self.device, callback=callback)

    def second_layer_filters(self) -> np.ndarray:
        """Each h2 unit's filter in pixel space as a combination of first-layer filters: W2 W1, (n2, n_v)."""
        return (self.W2 @ self.W1).cpu().numpy()


# ----------------------------------------------------------------------------- training

class _Trainer:
    """All mutable training state: parameters, velocities, chains, generator, phase and epoch."""

    def __init__(self, cfg: DBMConfig, n_visible: int, device):
        self.cfg, self.dev = cfg, device
        self.gen = torch.Generator(device=device).manual_seed(int(cfg.random_state))
        self.model = DBM(cfg, device)
        self.model.init_params(n_visible, self.gen)
        self.phase, self.epoch = PHASES[0], 0  # next epoch to run
        self.rbm1_c = None  # bottom RBM's bias of h1 while the top RBM pre-trains
        self.c1_top = None  # top RBM's bias of h1
        self.vel = {k: torch.zeros_like(v) for k, v in self.model.params.items()}
        self.chains = None  # (V, H1, H2) fantasy particles of joint training
        self.seconds = 0.0

    # snapshots are storable dicts (tensors, numbers, strings)
    def state(self) -> dict:
        s = {"model": self.model.state_dict(), "phase": self.phase, "epoch": self.epoch,
             "vel": {k: v.cpu().clone() for k, v in self.vel.items()}, "rng": self.gen.get_state().clone(),
             "seconds": self.seconds}
        if self.c1_top is not None:
            s["c1_top"] = self.c1_top.cpu().clone()
        if self.chains is not None:
            s["chains"] = [t.cpu().clone() for t in self.chains]
        return s

    @classmethod
    def restore(cls, cfg: DBMConfig, n_visible: int, device, s: dict) -> "_Trainer":
        t = cls(cfg, n_visible, device)
        t.model = DBM.from_state_dict(s["model"], device)
        t.phase, t.epoch, t.seconds = s["phase"], int(s["epoch"]), float(s.get("seconds", 0.0))
        t.vel = {k: v.to(device) for k, v in s["vel"].items()}
        if t.gen.device.type == "cpu":
            t.gen.set_state(s["rng"])
        if "c1_top" in s:
            t.c1_top = s["c1_top"].to(device)
        if "chains" in s:
            t.chains = [c.to(device) for c in s["chains"]]
        return t

    def _step(self, names, grads, lr, mom):
        wd = float(self.cfg.weight_decay)
        for name, g in zip(names, grads):
            p = self.model.params[name]
            if name in ("W1", "W2") and wd:
                g = g - wd * p
            self.vel[name].mul_(mom).add_(g, alpha=lr)
            p.add_(self.vel[name])

    def pretrain_epoch(self, X: torch.Tensor, top: bool):
        """One CD-1 epoch of the bottom (doubled input) or top (doubled top layer) RBM."""
        m, cfg, gen = self.model, self.cfg, self.gen
        B = int(cfg.batch_size)
        mom = 0.5 if self.epoch == 0 else cfg.momentum
        lr = float(cfg.pretrain_lr)
        if not top:
            W, vb, hb, names = m.W1, m.b, m.c1, ("W1", "b", "c1")
            up, down = 2.0, 1.0
            data = X
        else:  # data: h1 samples of the bottom RBM (doubled input), with the top RBM's own h1 bias
            W, hb, names = m.W2, m.c2, ("W2", "c1", "c2")
            vb = m.c1
            up, down = 1.0, 2.0
            data = _bern(_sig(torch.addmm(self.rbm1_c, X, m.W1.T, alpha=2.0)), gen)
        perm = torch.randperm(len(data), generator=gen, device=data.device)
        for i in range(0, len(data), B):
            v0 = data[perm[i:i + B]]
            h0 = _sig(torch.addmm(hb, v0, W.T, alpha=up))
            v1 = _sig(torch.addmm(vb, _bern(h0, gen), W, alpha=down))
            h1 = _sig(torch.addmm(hb, v1, W.T, alpha=up))
            n = len(v0)
            gW = (h0.T @ v0 - h1.T @ v1) / n
            gv, gh = (v0 - v1).mean(0), (h0 - h1).mean(0)
            self._step(names, (gW, gv, gh), lr, mom)

    def joint_epoch(self, X: torch.Tensor, total_updates: int, done_updates: int):
        m, cfg, gen = self.model, self.cfg, self.gen
        B = int(cfg.batch_size)
        mom = 0.5 if self.epoch == 0 else cfg.momentum
        n_v, n1, n2 = m.shape
        if self.chains is None:
            nc = int(cfg.n_chains)
            V = _bern(_sig(m.b).expand(nc, n_v), gen)
            self.chains = [V, torch.zeros(nc, n1, device=self.dev), torch.zeros(nc, n2, device=self.dev)]
        perm = torch.randperm(len(X), generator=gen, device=X.device)
        u = done_updates
        for i in range(0, len(X), B):
            v0 = X[perm[i:i + B]]
            mu1, mu2 = m.mean_field(v0)
            V, H1, H2 = self.chains
            V, H1, H2, _ = m._gibbs(V, H1, H2, cfg.k, gen)
            self.chains = [V, H1, H2]
            n, nc = len(v0), len(V)
            P1 = _sig(torch.addmm(torch.addmm(m.c1, V, m.W1.T), H2, m.W2))  # Rao-Blackwellised h1 of the chains
            gW1 = mu1.T @ v0 / n - P1.T @ V / nc
            gW2 = mu2.T @ mu1 / n - H2.T @ P1 / nc
            gb = v0.mean(0) - V.mean(0)
            gc1 = mu1.mean(0) - P1.mean(0)
            gc2 = mu2.mean(0) - H2.mean(0)
            lr = float(cfg.learning_rate) * (1.0 - 0.9 * u / max(1, total_updates))
            self._step(("W1", "W2", "b", "c1", "c2"), (gW1, gW2, gb, gc1, gc2), lr, mom)
            u += 1


def _metrics(m: DBM, ev: dict) -> dict[str, float]:
    """Cheap held-out numbers for live curves (no AIS): reconstruction error through mean-field and the
    unnormalised bound (its changes are not a log-likelihood: log Z moves too)."""
    Vv = ev["val"]
    mu1, _ = m.mean_field(Vv)
    rec = _sig(torch.addmm(m.b, mu1, m.W1))
    return {"recon_error": float(((rec - Vv) ** 2).sum(1).mean()),
            "weight_norm": float(m.W1.norm() / math.sqrt(m.W1.numel()))}


def train(cfg: DBMConfig, X_train: np.ndarray, X_val: np.ndarray | None = None, partial: dict | None = None,
          device=None, n_eval: int = 500) -> Iterator[Progress]:
    """Pre-train both RBMs, then train jointly; one Progress record per epoch (of any phase).

    Every record's extra["snapshot"]() is the run so far (storable; "history" rows carry "epoch", the
    epochs done over all phases); `partial` is such a snapshot to resume from. Runs with `GME_THREADS`
    threads (see core.ais.torch_threads).
    """
    return threaded(_train(cfg, X_train, X_val, partial, device, n_eval))


@torch.no_grad()
def _train(cfg, X_train, X_val, partial, device, n_eval):
    dev = pick_device(device)
    Xtr = np.asarray(X_train, dtype=np.float32)
    n_v = Xtr.shape[1]
    Xva = np.asarray(X_val if X_val is not None else X_train, dtype=np.float32)[:n_eval]
    ev = {"val": torch.as_tensor(Xva, device=dev)}
    if partial is not None:
        t = _Trainer.restore(cfg, n_v, dev, partial["trainer"])
        history = list(partial["history"])
    else:
        t, history = _Trainer(cfg, n_v, dev), []
        t.model.b.copy_(torch.as_tensor(base_rate_biases(Xtr), dtype=torch.float32))  # visible biases at base rates
    pe, je = int(cfg.pretrain_epochs), int(cfg.epochs)
    total_epochs = 2 * pe + je
    n_batches = math.ceil(len(Xtr) / int(cfg.batch_size))
    t_start = time.perf_counter() - t.seconds

    def done_epochs():
        return {"pretrain1": 0, "pretrain2": pe, "joint": 2 * pe}[t.phase] + t.epoch

    def record(msg, final=False):
        t.seconds = time.perf_counter() - t_start
        e = done_epochs()
        row = {"epoch": e, "seconds": t.seconds, "phase": PHASES.index(t.phase), **_metrics(t.model, ev)}
        history.append(row)
        snap = t.state()
        hist = list(history)
        return Progress(e * n_batches, total_epochs * n_batches, e, {k: row[k] for k in ("recon_error", "weight_norm")},
                        msg, done=final, elapsed=t.seconds,
                        extra={"snapshot": lambda: {"config": asdict(cfg), "trainer": snap, "history": hist,
                                                    "epochs": e, "seconds": snap["seconds"]}})

    def batches_of(epoch_seed):  # a fresh binarisation of the training digits for every epoch
        return torch.as_tensor(binarize(Xtr, int(cfg.random_state) * 100_003 + epoch_seed), device=dev)

    if partial is None:
        yield record("initial weights")
    while True:
        if t.phase == "pretrain1" and t.epoch < pe:
            t.pretrain_epoch(batches_of(t.epoch), top=False)
            t.epoch += 1
            yield record(f"pre-training layer 1: epoch {t.epoch}/{pe}")
            continue
        if t.phase == "pretrain1":
            t.phase, t.epoch = "pretrain2", 0
            t.c1_top = torch.zeros_like(t.model.c1)
            t.vel = {k: torch.zeros_like(v) for k, v in t.model.params.items()}
        if t.phase == "pretrain2" and t.epoch < pe:
            t.rbm1_c = t.model.c1.clone()  # between epochs (and in a snapshot) c1 is the bottom RBM's bias
            t.model.c1.copy_(t.c1_top)  # the top RBM trains its own bias of h1
            t.pretrain_epoch(batches_of(pe + t.epoch), top=True)
            t.c1_top = t.model.c1.clone()
            t.model.c1.copy_(t.rbm1_c)
            t.epoch += 1
            yield record(f"pre-training layer 2: epoch {t.epoch}/{pe}")
            continue
        if t.phase == "pretrain2":
            # compose: h1 hears W1 v + W2^T h2 (each half of what the doubled RBMs used); average h1's biases
            t.model.c1.copy_(0.5 * (t.model.c1 + t.c1_top))
            t.phase, t.epoch = "joint", 0
            t.vel = {k: torch.zeros_like(v) for k, v in t.model.params.items()}
        if t.phase == "joint" and t.epoch < je:
            t.joint_epoch(batches_of(2 * pe + t.epoch), je * n_batches, t.epoch * n_batches)
            t.epoch += 1
            yield record(f"joint training: epoch {t.epoch}/{je}", final=t.epoch == je)
            continue
        return


def model(result: dict, device=None) -> DBM:
    """The DBM of a (partial) training snapshot or of the shipped asset."""
    state = result["trainer"]["model"] if "trainer" in result else result["dbm"]
    return DBM.from_state_dict(state, device)


# ----------------------------------------------------------------------------- evaluation, baseline RBM, assets

def held_out_binary(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """The fixed binarisation of held-out digits on which log-likelihoods are reported."""
    return binarize(np.asarray(X, dtype=np.float32), 10_000 + seed)


def dbm_log_likelihood(m: DBM, V_bin, X_base, betas=14_500, n_runs=100, random_state=0) -> dict:
    """Mean held-out variational lower bound of log p(v) of a DBM with log Z by AIS (same keys as above)."""
    r = m.log_partition_ais(X_base, betas, n_runs, random_state)
    ll, lo, hi = r.log_likelihood(m.unnormalized_log_prob_bound(V_bin))
    return {"ll": ll, "ll_low": lo, "ll_high": hi, "ais": r.as_dict()}


def _baseline_rbm(n_hidden, lr, batch_size, random_state, device, X_train):
    """PCD-1 RBM with visible biases started at the data's base rates (as the DBM's): without that, PCD
    tends to park every hidden unit in the 'on' state and stall near the independent-pixel model."""
    from core.boltzmann.rbm import RBM

    rbm = RBM(n_hidden, learning_rate=lr, batch_size=batch_size, n_iter=1, random_state=random_state,
              method="pcd", k=1, momentum=0.5, weight_decay=0.0002, shuffle=True, device=device)
    rbm._init_state(np.asarray(X_train).shape[1])
    rbm.intercept_visible_ = base_rate_biases(X_train)
    return rbm


def train_with_baseline(cfg: DBMConfig, X_train: np.ndarray, X_val: np.ndarray | None = None,
                        partial: dict | None = None, device=None, rbm_lr: float = 0.02) -> Iterator[Progress]:
    """Train the DBM (`train`), then an RBM of the same first-layer size for the same wall-clock time (PCD-1,
    whole epochs). One resumable iterator for the app: snapshots carry "trainer" (the DBM run), and once
    the RBM phase has started "rbm" (its state), "rbm_epochs" and "rbm_seconds"."""
    return threaded(_train_with_baseline(cfg, X_train, X_val, partial, device, rbm_lr))


def _train_with_baseline(cfg, X_train, X_val, partial, device, rbm_lr):
    from core.boltzmann.rbm import RBM

    dev = pick_device(device)
    snap = partial
    if partial is None or "rbm" not in partial and partial["epochs"] < 2 * cfg.pretrain_epochs + cfg.epochs:
        for rec in _train(cfg, X_train, X_val, partial, dev, 500):
            snap = rec.extra["snapshot"]()
            rec.extra["snapshot"] = (lambda s=snap: s)
            rec.done = False
            yield rec
    budget = float(snap["seconds"])
    n_total = 2 * cfg.pretrain_epochs + cfg.epochs
    if "rbm" in snap:
        rbm = RBM.from_state_dict(snap["rbm"], device=dev)
        epochs, spent = int(snap["rbm_epochs"]), float(snap["rbm_seconds"])
    else:
        rbm = _baseline_rbm(cfg.n_hidden1, rbm_lr, cfg.batch_size, cfg.random_state, dev, X_train)
        epochs, spent = 0, 0.0
    base = dict(snap)
    rbm.n_iter = 1_000_000  # epochs: the budget stops the loop first
    fit = rbm.fit_iter(X_train, n_eval=50, warm_start=True)  # one record per epoch
    next(fit)  # the initial metrics are not training time
    while spent < budget:
        t0 = time.perf_counter()
        next(fit)
        spent += time.perf_counter() - t0
        epochs += 1
        state = {**base, "rbm": rbm.state_dict(), "rbm_epochs": epochs, "rbm_seconds": spent}
        yield Progress(n_total + 1, n_total + 1, n_total, {"rbm_seconds": spent},
                       f"comparison RBM: epoch {epochs}, {spent:.0f} of {budget:.0f} s", done=spent >= budget,
                       elapsed=budget + spent, extra={"snapshot": (lambda s=state: s)})


def save_asset(out: Path, dbm_state: dict, rbm_state: dict, provenance: dict) -> Path:
    """assets/dbm: model.pt (float16 weights, loadable with weights_only=True) + provenance.json."""
    out.mkdir(parents=True, exist_ok=True)
    half = lambda d: {k: (v.half() if isinstance(v, torch.Tensor) else v) for k, v in d.items()}  # noqa: E731
    torch.save({"dbm": half(dbm_state), "rbm": half(rbm_state), "provenance": json.dumps(provenance)}, out / "model.pt")
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return out / "model.pt"


def load_asset(folder: Path = ASSET_DIR) -> dict | None:
    """The shipped model: {"dbm": DBM state, "rbm": {"W", "b", "c"}, "provenance": dict}, or None if absent."""
    p = Path(folder) / "model.pt"
    if not p.is_file():
        return None
    obj = torch.load(p, map_location="cpu", weights_only=True)
    f32 = lambda d: {k: (v.float() if isinstance(v, torch.Tensor) else v) for k, v in d.items()}  # noqa: E731
    return {"dbm": f32(obj["dbm"]), "rbm": f32(obj["rbm"]), "provenance": json.loads(obj["provenance"])}


def main(argv=None) -> dict:
    from core import data as datasets
    from core.boltzmann.rbm import RBM

    d = DBMConfig()
    ap = argparse.ArgumentParser(description="Train a two-layer DBM (and an RBM given the same time), estimate both "
                                             "held-out log-likelihoods by AIS, write the model and its provenance.")
    ap.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist", "digits"])
    ap.add_argument("--n-train", type=int, default=0, help="first n training images (0: all)")
    ap.add_argument("--hidden1", type=int, default=d.n_hidden1)
    ap.add_argument("--hidden2", type=int, default=d.n_hidden2)
    ap.add_argument("--pretrain-epochs", type=int, default=d.pretrain_epochs)
    ap.add_argument("--pretrain-lr", type=float, default=d.pretrain_lr)
    ap.add_argument("--epochs", type=int, default=d.epochs)
    ap.add_argument("--lr", type=float, default=d.learning_rate)
    ap.add_argument("--batch", type=int, default=d.batch_size)
    ap.add_argument("--chains", type=int, default=d.n_chains)
    ap.add_argument("--k", type=int, default=d.k)
    ap.add_argument("--mf-steps", type=int, default=d.mean_field_steps)
    ap.add_argument("--seed", type=int, default=d.random_state)
    ap.add_argument("--rbm-lr", type=float, default=0.02, help="learning rate of the comparison RBM (PCD-1)")
    ap.add_argument("--ais-betas", type=int, default=14_500)
    ap.add_argument("--ais-runs", type=int, default=100)
    ap.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    ap.add_argument("--out", default=str(ASSET_DIR), help="folder for model.pt and provenance.json")
    a = ap.parse_args(argv)
    cfg = DBMConfig(a.hidden1, a.hidden2, a.pretrain_epochs, a.pretrain_lr, a.epochs, a.lr, a.batch, a.chains, a.k,
                    a.mf_steps, d.momentum, d.weight_decay, a.seed)
    dev = pick_device(a.device)
    data = datasets.load(a.dataset)
    Xtr = data.X_train[: a.n_train] if a.n_train else data.X_train
    V_test = held_out_binary(data.X_test)
    print(f"device: {describe(dev)}; data: {data.title}, {len(Xtr):,} train / {len(data.X_test):,} held out", flush=True)
    last = None
    for rec in train_with_baseline(cfg, Xtr, data.X_test, device=dev, rbm_lr=a.rbm_lr):  # the DBM, then the RBM
        last = rec
        print(rec.line(), flush=True)
    snap = last.extra["snapshot"]()
    dbm_seconds, m = snap["seconds"], model(snap, dev)
    rbm, rbm_epochs, rbm_seconds = RBM.from_state_dict(snap["rbm"], device=dev), snap["rbm_epochs"], snap["rbm_seconds"]
    print(f"RBM: {rbm_epochs} epochs in {rbm_seconds:.0f} s; AIS ({a.ais_runs} runs x {a.ais_betas} betas)…", flush=True)
    ll_dbm = dbm_log_likelihood(m, V_test, Xtr, a.ais_betas, a.ais_runs)
    ll_rbm = rbm_log_likelihood(rbm.W, rbm.b, rbm.c, V_test, Xtr, a.ais_betas, a.ais_runs, device=dev)
    print(f"held-out log-likelihood (nats): DBM >= {ll_dbm['ll']:.2f} [{ll_dbm['ll_low']:.2f}, {ll_dbm['ll_high']:.2f}]"
          f"  RBM {ll_rbm['ll']:.2f} [{ll_rbm['ll_low']:.2f}, {ll_rbm['ll_high']:.2f}]", flush=True)
    prov = {
        "command": "python -m core.dbm " + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": {"dataset": data.title, "n_train": len(Xtr), "n_held_out": len(data.X_test), "source_note": data.note,
                 "training input": "a fresh stochastic binarisation of the gray digits every epoch",
                 "held-out input": "one fixed stochastic binarisation (seed 10000)"},
        "dbm": asdict(cfg), "dbm_seconds": dbm_seconds,
        "rbm": {"n_hidden": cfg.n_hidden1, "method": "pcd", "k": 1, "learning_rate": a.rbm_lr, "batch_size": cfg.batch_size,
                "momentum": 0.5, "weight_decay": 0.0002, "epochs": rbm_epochs, "seconds": rbm_seconds},
        "log_likelihood": {"dbm_lower_bound": ll_dbm, "rbm": ll_rbm,
                           "note": "held-out nats per image; log Z by AIS; the DBM's value is a variational lower bound"},
        "device": describe(dev), "torch": torch.__version__, "python": platform.python_version(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    path = save_asset(Path(a.out), m.state_dict(), {"W": rbm.W.cpu().clone(), "b": rbm.b.cpu().clone(),
                                                     "c": rbm.c.cpu().clone()}, prov)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) and provenance.json", flush=True)
    return prov


if __name__ == "__main__":
    main()
