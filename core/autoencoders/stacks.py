"""Greedy layer-wise stacks: the deep belief network (Hinton, Osindero & Teh 2006), trained as the slides'
Algorithm 1, sampled, and scored by a variational bound of its held-out log-likelihood (Salakhutdinov & Murray 2008).
Stacked autoencoders, the other greedy stack, are in core.autoencoders.sae.

Greedy training: an RBM on the data (v, h1); then an RBM on samples h1 ~ P(h1 | v) of the first one's hidden
layer given the data (never on the data itself); for three layers, an RBM on samples h2 ~ P(h2 | h1). The DBN is
the top RBM (an undirected model of its two layers) above directed sigmoid layers, each lower RBM lending its
generative conditional P(h_{l-1} | h_l) = sigm(b_l + W_l^T h_l):

    p(v, h1, ..., h_L) = p(v | h1) ... p(h_{L-2} | h_{L-1}) p_top(h_{L-1}, h_L)

Sampling: Gibbs in the top RBM, then one downward pass (h_{l-1} ~ P(h_{l-1} | h_l); P(v = 1 | h1) is shown).

Held-out log-likelihood: with the recognition distribution q(h1 | v) = prod sigm(c_1 + W_1 v) (and
q(h_l | h_{l-1}) = sigm(c_l + W_l h_{l-1}) above it),

    log p(v) >= E_q[log p(v | h1) + ... + log p(h_{L-2} | h_{L-1}) + log p*_top(h_{L-1})] + H(q) - log Z_top,

with log p*_top(h) = b_L.h + sum_i softplus(c_L + W_L h)_i (h_L summed out), the expectation estimated from
`samples` draws of q per digit (its Monte-Carlo standard error reported), and log Z_top by AIS
(core.boltzmann.ais) on the top RBM. With an exact log Z_top the figure is a lower bound of log p(v). With AIS's
estimate, which is low on average (so it flatters the model), it is not a bound: the variational gap pulls the
figure down, the AIS error pushes it up. The single RBM of the same size is the DBN's first layer, scored by AIS.

    python -m core.autoencoders.stacks --layers 2 --epochs 20
    python -m core.autoencoders.stacks --out assets/dbn          # the shipped default run (+ its AIS scores)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core import assets, training
from core import data as datasets
from core.autoencoders.digits import Stack
from core.boltzmann import ais
from core.boltzmann.ais import (DEFAULT_BETAS, DEFAULT_COMPONENTS, DEFAULT_RUNS, ais_rbm, base_rate_biases, default_base,
                                rbm_log_likelihood, rbm_model_base)
from core.boltzmann.rbm import RBM
from core.device import pick_device

ASSET_DIR = assets.folder("dbn")


# ----------------------------------------------------------------------------- the deep belief network

def entropy_bernoulli(P: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of independent Bernoulli(P) units, summed over the last axis."""
    P = P.double().clamp(1e-12, 1 - 1e-12)
    return -(P * P.log() + (1 - P) * (1 - P).log()).sum(-1)


def up_probs(rbm: RBM, V: torch.Tensor) -> torch.Tensor:
    """P(h = 1 | v) = sigm(c + W v) of an RBM, for rows V (n, n_v)."""
    return torch.sigmoid(torch.addmm(rbm.c, V.to(rbm.W.dtype), rbm.W.T))


def down_logits(rbm: RBM, H: torch.Tensor) -> torch.Tensor:
    """b + W^T h: the logits of P(v = 1 | h) of an RBM, for rows H (n, n_h)."""
    return torch.addmm(rbm.b, H.to(rbm.W.dtype), rbm.W)


def _bern(P: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(P.shape, generator=gen).to(P.device) < P).to(P.dtype)


def upward(rbms: list[RBM], V, upto: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """The input of RBM `upto` (0-based) for visible rows V: V itself for 0, else the hidden layer below sampled
    layer by layer (h_l ~ P(h_l | h_{l-1}) with `gen`), or its probabilities when gen is None (a mean-field pass)."""
    H = torch.as_tensor(np.asarray(V, dtype=np.float32)) if not isinstance(V, torch.Tensor) else V.float()
    for rbm in rbms[:upto]:
        P = up_probs(rbm, H.to(rbm.W.device))
        H = _bern(P, gen) if gen is not None else P
    return H


@torch.no_grad()
def dbn_sample(rbms: list[RBM], n: int, steps: int, seed: int = 0, record=()) -> dict[int, np.ndarray]:
    """n samples of the DBN: `steps` Gibbs steps in the top RBM from random states (each pixel of its visible layer
    a fair coin), then one downward pass. Returns {t: P(v = 1 | h1) (n, 784)} for every t in `record` and `steps`."""
    gen = torch.Generator().manual_seed(int(seed))
    top = rbms[-1]
    H = _bern(torch.full((int(n), top.W.shape[1]), 0.5), gen)  # (n, n_{L-1}) the top RBM's visible layer
    record = set(int(r) for r in record) | {int(steps)}
    out: dict[int, np.ndarray] = {}

    def down(Hv: torch.Tensor) -> np.ndarray:
        for rbm in reversed(rbms[:-1]):
            P = torch.sigmoid(down_logits(rbm, Hv))
            Hv = P if rbm is rbms[0] else _bern(P, gen)
        return (Hv if len(rbms) > 1 else torch.sigmoid(down_logits(top, Hv))).cpu().numpy()

    if 0 in record:
        out[0] = down(H)
    for t in range(1, int(steps) + 1):
        Ht = _bern(up_probs(top, H), gen)
        H = _bern(torch.sigmoid(down_logits(top, Ht)), gen)
        if t in record:
            out[t] = down(H)
    return out


def layer_filters(rbms: list[RBM], layer: int) -> np.ndarray:
    """Filters of layer `layer` (1-based) in pixel space: W_1 for the first, W_l ... W_1 (each unit's weights on the
    layer below, pushed down linearly) above it; (n_l, 784)."""
    F_ = rbms[0].W.detach().cpu()
    for rbm in rbms[1:layer]:
        F_ = rbm.W.detach().cpu() @ F_
    return F_.numpy()


@torch.no_grad()
def dbn_bound_terms(rbms: list[RBM], V, samples: int = 10, seed: int = 0) -> dict:
    """The variational bound of log p*(v) = log p(v) + log Z_top per digit, before log Z_top is subtracted:
    {"per_digit": (n,) mean over the samples, "per_digit_se": (n,) its Monte-Carlo standard error}."""
    gen = torch.Generator().manual_seed(int(seed))
    V = torch.as_tensor(np.asarray(V, dtype=np.float32))
    n, top = len(V), rbms[-1]
    per_block = max(1, 20_000 // max(1, n))  # samples drawn together: about 20,000 rows at a time
    vals = []
    for s in range(0, int(samples), per_block):
        reps = min(per_block, int(samples) - s)
        below = V.repeat(reps, 1)  # (reps * n, n_v): sample r of digit i is row r * n + i
        total = torch.zeros(len(below), dtype=torch.float64)
        for rbm in rbms[:-1]:  # recognition q(h | below), generative log p(below | h)
            Q = up_probs(rbm, below)
            total += entropy_bernoulli(Q)
            H = _bern(Q, gen)
            logits = down_logits(rbm, H).double()
            total += (below.double() * logits - F.softplus(logits)).sum(1)
            below = H
        pre = torch.addmm(top.c, below, top.W.T).double()  # the top RBM's free energy of its visible layer
        total += below.double() @ top.b.double() + F.softplus(pre).sum(1)
        vals.append(total.reshape(reps, n))
    S = torch.cat(vals)  # (samples, n)
    se = S.std(0, unbiased=True) / math.sqrt(len(S)) if len(S) > 1 else torch.zeros(S.shape[1], dtype=torch.float64)
    return {"per_digit": S.mean(0).numpy(), "per_digit_se": se.numpy()}


def top_rbm_input(rbms: list[RBM], X_train, seed: int = 0) -> np.ndarray:
    """The top RBM's visible layer for the training digits (sampled upward), where its AIS base's chains start."""
    return upward(rbms, X_train, len(rbms) - 1, torch.Generator().manual_seed(int(seed))).numpy()


def dbn_log_likelihood(rbms: list[RBM], V, X_train, betas: int = DEFAULT_BETAS, runs: int = DEFAULT_RUNS,
                       samples: int = 10, seed: int = 0, log_z: float | None = None,
                       n_components: int = DEFAULT_COMPONENTS) -> dict:
    """Mean held-out variational bound of log p*(v) minus log Z_top, log Z_top by AIS (base: a `n_components`
    Bernoulli mixture fit to the top RBM's own Gibbs chains from its training input, core.boltzmann.ais.rbm_model_base)
    or `log_z` when given (e.g. exact): {"ll", "ll_low", "ll_high" (AIS band), "se_mc" (of the bound's
    expectation), "ais": {...} | None}. With an exact log Z it is a lower bound of log p(v); with AIS's estimate
    (low on average, which flatters) it is neither a bound nor known to err one way."""
    terms = dbn_bound_terms(rbms, V, samples, seed)
    m = float(terms["per_digit"].mean())
    se = float(np.sqrt((terms["per_digit_se"] ** 2).sum()) / len(terms["per_digit"]))
    if log_z is not None:
        return {"ll": m - log_z, "ll_low": m - log_z, "ll_high": m - log_z, "se_mc": se, "ais": None}
    top = rbms[-1]
    base = rbm_model_base(top.W, top.b, top.c, top_rbm_input(rbms, X_train, seed), n_components)
    r = ais_rbm(top.W, top.b, top.c, base=base, betas=betas, n_runs=runs, random_state=seed)
    return {"ll": m - r.log_z, "ll_low": m - r.log_z_high, "ll_high": m - r.log_z_low, "se_mc": se,
            "ais": r.as_dict()}


def rbm_alone_log_likelihood(rbms: list[RBM], V, X_train, betas: int = DEFAULT_BETAS, runs: int = DEFAULT_RUNS,
                             n_components: int = DEFAULT_COMPONENTS) -> dict:
    """The first layer as an RBM on its own (the single RBM of the same size): held-out log p(v) with log Z by AIS
    (errs high on average)."""
    r = rbms[0]
    return rbm_log_likelihood(r.W, r.b, r.c, np.asarray(V), X_train, betas, runs, n_components=n_components)


@dataclass
class DBNRun(Stack):
    """A deep belief network trained greedily, layer by layer (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # training digits (the first n of the training split)
    layers: int = 2  # RBMs stacked (2 or 3)
    hidden1: int = 500  # units of h1
    hidden2: int = 500  # units of h2
    hidden3: int = 500  # units of h3 (three layers only)
    epochs: int = 20  # epochs of each layer's RBM
    lr: float = 0.05  # learning rate of every RBM
    batch_size: int = 100  # examples per update
    method: str = "pcd"  # "cd" or "pcd" (persistent chains, 100 of them)
    k: int = 1  # Gibbs steps of the negative phase
    momentum: float = 0.5  # heavy-ball momentum of the RBM updates
    weight_decay: float = 0.0002  # L2 penalty on the weights
    seed: int = 0  # initial weights, binarisations and upward samples
    n_eval: int = 500  # held-out digits of the live reconstruction error


def check_dbn(run: DBNRun, data: datasets.ImageData) -> None:
    run.check_layers("a DBN")
    if run.method not in ("cd", "pcd"):
        raise ValueError(f"method must be 'cd' or 'pcd', got {run.method!r}")
    if min(int(run.n_train), len(data.X_train)) < 2:
        raise ValueError("not enough training digits")


class DBNSteps(training.Steps):
    """One epoch of the current layer's RBM per unit: layer 1 for `epochs` units on a fresh binarisation of the
    digits each epoch, then layer 2 on fresh samples h1 ~ P(h1 | v) of those digits, ... After each epoch: the
    layer being trained (1-based), its own held-out reconstruction error on its input, and the pixel-space
    reconstruction error through every layer trained so far (mean-field up, then down). Snapshot: "rbms" (state
    dicts of the trained and current RBMs), "rng"."""

    kind = "dbn"
    asset = "dbn"
    threads = 0
    measure_initial = False  # nothing to measure before the first RBM exists

    def __init__(self, run: DBNRun, data: datasets.ImageData, device=None):
        check_dbn(run, data)
        self.config, self.data, self.device = run, data, device

    def total(self) -> int:
        return int(self.config.layers) * int(self.config.epochs)

    def _prepare(self) -> None:
        run = self.config
        self.dev = pick_device(self.device)
        self.Xtr = torch.as_tensor(np.asarray(self.data.X_train[: int(run.n_train)], dtype=np.float32))
        self.Xev = torch.as_tensor(datasets.held_out_binary(self.data.X_test)[: int(run.n_eval)])

    def _rbm(self, layer: int) -> RBM:
        run = self.config
        return RBM(run.sizes[layer], learning_rate=float(run.lr), batch_size=int(run.batch_size),
                   n_iter=1, random_state=int(run.seed) * 101 + layer, method=run.method, k=int(run.k),
                   momentum=float(run.momentum), weight_decay=float(run.weight_decay), shuffle=True,
                   n_chains=100 if run.method == "pcd" else 0, device="cpu")

    def start(self) -> None:
        self._prepare()
        self.rbms: list[RBM] = []
        self.gen = torch.Generator().manual_seed(int(self.config.seed))

    def restore(self, snapshot: dict) -> None:
        self.start()
        self.rbms = [RBM.from_state_dict(s, device="cpu") for s in snapshot["rbms"]]
        self.gen.set_state(snapshot["rng"])

    def layer_input(self, layer: int) -> torch.Tensor:
        """A fresh training input of RBM `layer` (0-based): the digits binarised anew, then pushed up through the
        layers below by sampling h_l ~ P(h_l | h_{l-1}) (never the data itself above the first layer)."""
        return upward(self.rbms, _bern(self.Xtr, self.gen), layer, self.gen)

    @torch.no_grad()
    def advance(self, done: int) -> None:
        run = self.config
        layer = done // int(run.epochs)  # 0-based layer trained in this unit
        X = self.layer_input(layer)
        if len(self.rbms) == layer:  # a new layer: its RBM, visible biases at the base rates of its input
            rbm = self._rbm(layer).initialize(X.shape[1])
            rbm.intercept_visible_ = base_rate_biases(X.numpy())
            self.rbms.append(rbm)
        self.rbms[layer].fit_epoch(X)

    @torch.no_grad()
    def measure(self, done: int) -> dict[str, float]:
        if not self.rbms:
            return {}
        top = len(self.rbms) - 1
        below = upward(self.rbms, self.Xev, top)  # the top layer's input, mean-field
        rbm = self.rbms[top]
        rec = torch.sigmoid(down_logits(rbm, up_probs(rbm, below)))
        H = upward(self.rbms, self.Xev, len(self.rbms))
        for r in reversed(self.rbms):
            H = torch.sigmoid(down_logits(r, H))
        return {"layer": top + 1, "recon_layer": float(((rec - below) ** 2).sum(1).mean()),
                "recon_pixels": float(((H - self.Xev) ** 2).sum(1).mean())}

    def message(self, done: int) -> str:
        if done == 0:
            return "initial state"
        e = int(self.config.epochs)
        return f"layer {(done - 1) // e + 1}: epoch {(done - 1) % e + 1}/{e}"

    def state(self) -> dict:
        return {"rbms": [r.state_dict() for r in self.rbms], "rng": self.gen.get_state().clone()}

    def data_arrays(self) -> tuple:
        return self.data.X_train[: int(self.config.n_train)], self.data.X_test

    def shippable(self, snapshot: dict) -> dict:
        """The RBMs' weights (no chains or generator states) and the history."""
        out = {k: v for k, v in snapshot.items() if k not in ("rbms", "rng")}
        out["rbms"] = [{k: s[k] for k in ("config", "P", "n_updates")} for s in snapshot["rbms"]]
        return out


@torch.no_grad()
def dbn_features(rbms: list[RBM], X) -> np.ndarray:
    """Mean-field top-layer features of rows X: P(h_L | ...) pushed up with probabilities."""
    return upward(rbms, X, len(rbms)).numpy()



def dbn_rbms(result: dict) -> list[RBM]:
    """The RBMs of a finished or partial DBN run, bottom first (fresh objects)."""
    return [RBM.from_state_dict(s, device="cpu") for s in result["rbms"]]


def dbn_finish(result: dict, data: datasets.ImageData, betas: int = DEFAULT_BETAS, runs: int = DEFAULT_RUNS,
               components: int = DEFAULT_COMPONENTS) -> dict:
    """Scores for the provenance: the DBN's figure and its first layer alone, both with AIS, on the held-out digits,
    and log Z of both RBMs against the number of temperatures (betas / 8 ... 2 betas: the doubling check)."""
    from core.boltzmann.dbm import curve_temperatures

    rbms = dbn_rbms(result)
    Xtr = data.X_train[: result["config"]["n_train"]]
    V = datasets.held_out_binary(data.X_test)
    t = time.perf_counter()
    dbn = dbn_log_likelihood(rbms, V, Xtr, betas, runs, n_components=components)
    one = rbm_alone_log_likelihood(rbms, V, Xtr, betas, runs, n_components=components)
    curves = {}
    top = rbms[-1]
    for name, rbm, base in (("dbn_top", top, rbm_model_base(top.W, top.b, top.c, top_rbm_input(rbms, Xtr), components)),
                            ("rbm1", rbms[0], default_base(Xtr, components))):
        curves[name] = [{"n_betas": K, "log_z": r.log_z, "ess": r.ess, "cpu_seconds": r.cpu_seconds}
                        for K in curve_temperatures(betas)
                        for r in [ais_rbm(rbm.W, rbm.b, rbm.c, base=base, betas=K, n_runs=runs)]]
    return {"log_likelihood": {"dbn": dbn, "rbm1": one, "log_z_curve": curves,
                               "seconds": round(time.perf_counter() - t, 1),
                               "note": "held-out nats per image on core.data.held_out_binary(X_test); log Z by AIS "
                                       f"({runs} runs x {int(betas):,} temperatures, a {components}-component "
                                       "Bernoulli-mixture base, for the top RBM fit to its own Gibbs chains), "
                                       "which is low on average, so each figure errs high. "
                                       "The DBN's figure is a variational lower bound of log p*(v) minus that "
                                       "estimate: not a bound of log p(v) (the two errors point opposite ways). "
                                       "rbm1 is the first layer alone"}}


# why the shipped scores were recomputed (--rescore)
RESCORE_WHY = "AIS had not converged at 14,500 temperatures and the DBN's figure is no bound (issue 19)"


def main(argv=None):
    return training.main(DBNSteps, DBNRun(), argv, "Train a deep belief network greedily (Algorithm 1); with --out "
                         "estimate its held-out log-likelihood bound (AIS on the top RBM) and write the run.",
                         finish=dbn_finish, rescore=(ASSET_DIR, RESCORE_WHY), finish_args=ais.CLI_FLAGS)


if __name__ == "__main__":
    main()
