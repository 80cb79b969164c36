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

Sampling alternates odd and even layers the same way (the model itself: core.boltzmann.dbm_model). Training is
a run of core.training (`DBMSteps`),
resumable from any epoch boundary; the command line trains the model shipped in assets/dbm together
with an RBM given the same training time and, with --out, scores both by AIS and writes the provenance:

    python -m core.boltzmann.dbm --out assets/dbm                     # the shipped model (the defaults)
    python -m core.boltzmann.dbm --n-train 0 --n-hidden2 1000 --pretrain-epochs 100 --epochs 300 --out runs/full
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from core import assets, training
from core.boltzmann import ais
from core.boltzmann.ais import (DEFAULT_BETAS, DEFAULT_COMPONENTS, DEFAULT_RAISE_BETAS, DEFAULT_RUNS, AISResult, ais_rbm, base_rate_biases, default_base,
                                rbm_unnormalized_log_prob)
from core.boltzmann.dbm_model import DBM, DBMConfig, bernoulli, entropy  # noqa: F401 (DBM, DBMConfig, entropy: re-exported)
from core.boltzmann.reverse_ais import rbm_sandwich
from core.boltzmann.rbm import RBM
from core.data import binarize, held_out_binary
from core.device import pick_device
from core.progress import Stopwatch

ASSET_DIR = assets.folder("dbm")
PHASES = ("pretrain1", "pretrain2", "joint")


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

    # snapshots are storable dicts (tensors, numbers, strings)
    def state(self) -> dict:
        s = {"model": self.model.state_dict(), "phase": self.phase, "epoch": self.epoch,
             "vel": {k: v.cpu().clone() for k, v in self.vel.items()}, "rng": self.gen.get_state().clone()}
        if self.c1_top is not None:
            s["c1_top"] = self.c1_top.cpu().clone()
        if self.chains is not None:
            s["chains"] = [t.cpu().clone() for t in self.chains]
        return s

    @classmethod
    def restore(cls, cfg: DBMConfig, n_visible: int, device, s: dict) -> "_Trainer":
        t = cls(cfg, n_visible, device)
        t.model = DBM.from_state_dict(s["model"], device)
        t.phase, t.epoch = s["phase"], int(s["epoch"])
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
            data = bernoulli(torch.sigmoid(torch.addmm(self.rbm1_c, X, m.W1.T, alpha=2.0)), gen)
        perm = torch.randperm(len(data), generator=gen, device=data.device)
        for i in range(0, len(data), B):
            v0 = data[perm[i:i + B]]
            h0 = torch.sigmoid(torch.addmm(hb, v0, W.T, alpha=up))
            v1 = torch.sigmoid(torch.addmm(vb, bernoulli(h0, gen), W, alpha=down))
            h1 = torch.sigmoid(torch.addmm(hb, v1, W.T, alpha=up))
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
            V = bernoulli(torch.sigmoid(m.b).expand(nc, n_v), gen)
            self.chains = [V, torch.zeros(nc, n1, device=self.dev), torch.zeros(nc, n2, device=self.dev)]
        perm = torch.randperm(len(X), generator=gen, device=X.device)
        u = done_updates
        for i in range(0, len(X), B):
            v0 = X[perm[i:i + B]]
            mu1, mu2 = m.mean_field(v0)
            V, H1, H2 = self.chains
            V, H1, H2, _ = m.gibbs(V, H1, H2, cfg.k, gen)
            self.chains = [V, H1, H2]
            n, nc = len(v0), len(V)
            P1 = torch.sigmoid(torch.addmm(torch.addmm(m.c1, V, m.W1.T), H2, m.W2))  # Rao-Blackwellised h1 of the chains
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
    rec = torch.sigmoid(torch.addmm(m.b, mu1, m.W1))
    return {"recon_error": float(((rec - Vv) ** 2).sum(1).mean()),
            "weight_norm": float(m.W1.norm() / math.sqrt(m.W1.numel()))}


@dataclass
class DBMRun:
    """A DBM run of the lab: which data, the DBM's settings, and the comparison RBM trained after it."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # the first n training images (0: all of them)
    dbm: DBMConfig = field(default_factory=DBMConfig)
    baseline: bool = True  # then train an RBM of the first layer's size for the DBM's training time
    rbm_lr: float = 0.02  # learning rate of that RBM (PCD-1, momentum 0.5, weight decay 2e-4)
    n_eval: int = 500  # held-out images of the live reconstruction error


def comparison_rbm(n_hidden, lr, batch_size, random_state, device, X_train) -> RBM:
    """PCD-1 RBM with visible biases started at the data's base rates (as the DBM's): without that, PCD
    tends to park every hidden unit in the 'on' state and stall near the independent-pixel model."""
    rbm = RBM(n_hidden, learning_rate=lr, batch_size=batch_size, n_iter=1, random_state=random_state,
              method="pcd", k=1, momentum=0.5, weight_decay=0.0002, shuffle=True, device=device)
    rbm.initialize(np.asarray(X_train).shape[1])
    rbm.intercept_visible_ = base_rate_biases(X_train)
    return rbm


class DBMSteps(training.Steps):
    """One epoch per unit, over all phases: pre-training of the bottom RBM, of the top RBM, then joint
    training; then (baseline) epochs of an RBM of the first layer's size until it has trained as long as the
    DBM did (training time only, not the measurements). A history row per DBM epoch (mean-field
    reconstruction error, weight norm, phase); the RBM epochs add no row. Snapshot: "nets" {"dbm", and once the
    RBM phase has started "rbm"}, "rng", "trainer" (phase, epoch, velocities, chains), "dbm_seconds", and with the
    RBM "rbm_epochs", "rbm_seconds". Its shipped run is assets/dbm."""

    kind = "dbm"
    asset = "dbm"
    threads = 0

    def __init__(self, run: DBMRun, data, device=None):
        self.config, self.data, self.device = run, data, device
        cfg = run.dbm
        self.n_dbm = 2 * int(cfg.pretrain_epochs) + int(cfg.epochs)
        self.rbm = None

    def _prepare(self) -> None:
        run = self.config
        self.dev = pick_device(self.device)
        self.Xtr = self.data.X_train[: run.n_train] if run.n_train else self.data.X_train
        self.ev = {"val": torch.as_tensor(np.asarray(self.data.X_test[: run.n_eval], dtype=np.float32), device=self.dev)}
        self.n_batches = math.ceil(len(self.Xtr) / int(run.dbm.batch_size))

    def total(self) -> int:
        if not self.config.baseline or self.rbm is None or not self.rbm_seconds:
            return self.n_dbm + (1 if self.config.baseline else 0)
        left = max(0.0, self.dbm_seconds - self.rbm_seconds) / (self.rbm_seconds / self.rbm_epochs)
        return self.n_dbm + self.rbm_epochs + max(1, math.ceil(left))  # an estimate, for the progress bar

    def finished(self, done: int) -> bool:
        if done < self.n_dbm:
            return False
        return not self.config.baseline or (self.rbm is not None and self.rbm_seconds >= self.dbm_seconds)

    @torch.no_grad()
    def start(self) -> None:
        self._prepare()
        self.t = _Trainer(self.config.dbm, self.Xtr.shape[1], self.dev)
        self.t.model.b.copy_(torch.as_tensor(base_rate_biases(self.Xtr), dtype=torch.float32))  # base rates
        self.clock, self.rbm, self.rbm_epochs = Stopwatch(), None, 0

    def restore(self, snapshot: dict) -> None:
        self._prepare()
        state = {**snapshot["trainer"], "model": snapshot["nets"]["dbm"], "rng": snapshot["rng"]}
        self.t = _Trainer.restore(self.config.dbm, self.Xtr.shape[1], self.dev, state)
        self.clock = Stopwatch({"dbm": float(snapshot["dbm_seconds"]), "rbm": float(snapshot.get("rbm_seconds", 0.0))})
        rbm = snapshot["nets"].get("rbm")
        self.rbm = RBM.from_state_dict(rbm, device=self.dev) if rbm is not None else None
        self.rbm_epochs = int(snapshot.get("rbm_epochs", 0))

    @property
    def dbm_seconds(self) -> float:  # the DBM's training seconds so far (not its measurements)
        return self.clock["dbm"]

    @property
    def rbm_seconds(self) -> float:  # the comparison RBM's training seconds so far
        return self.clock["rbm"]

    def _binarised(self, epoch_seed: int) -> torch.Tensor:  # a fresh binarisation of the training digits every epoch
        return torch.as_tensor(binarize(self.Xtr, int(self.config.dbm.random_state) * 100_003 + epoch_seed),
                               device=self.dev)

    @torch.no_grad()
    def advance(self, done: int) -> None:
        if done < self.n_dbm:
            with self.clock("dbm"):
                self._dbm_epoch()
            return
        if self.rbm is None:
            run = self.config
            self.rbm = comparison_rbm(run.dbm.n_hidden1, run.rbm_lr, run.dbm.batch_size, run.dbm.random_state, self.dev,
                                     self.Xtr)
        with self.clock("rbm"):
            self.rbm.fit_epoch(self.Xtr)
        self.rbm_epochs += 1

    def _dbm_epoch(self) -> None:
        """The next epoch of whichever phase is on, after any phase change due before it."""
        t, cfg = self.t, self.config.dbm
        pe, je = int(cfg.pretrain_epochs), int(cfg.epochs)
        if t.phase == "pretrain1" and t.epoch >= pe:
            t.phase, t.epoch = "pretrain2", 0
            t.c1_top = torch.zeros_like(t.model.c1)
            t.vel = {k: torch.zeros_like(v) for k, v in t.model.params.items()}
        if t.phase == "pretrain2" and t.epoch >= pe:
            # compose: h1 hears W1 v + W2^T h2 (each half of what the doubled RBMs used); average h1's biases
            t.model.c1.copy_(0.5 * (t.model.c1 + t.c1_top))
            t.phase, t.epoch = "joint", 0
            t.vel = {k: torch.zeros_like(v) for k, v in t.model.params.items()}
        if t.phase == "pretrain1":
            t.pretrain_epoch(self._binarised(t.epoch), top=False)
        elif t.phase == "pretrain2":
            t.rbm1_c = t.model.c1.clone()  # between epochs (and in a snapshot) c1 is the bottom RBM's bias
            t.model.c1.copy_(t.c1_top)  # the top RBM trains its own bias of h1
            t.pretrain_epoch(self._binarised(pe + t.epoch), top=True)
            t.c1_top = t.model.c1.clone()
            t.model.c1.copy_(t.rbm1_c)
        else:
            t.joint_epoch(self._binarised(2 * pe + t.epoch), je * self.n_batches, t.epoch * self.n_batches)
        t.epoch += 1

    @torch.no_grad()
    def measure(self, done: int) -> dict[str, float]:
        if done > self.n_dbm:
            return {}
        return {"phase": PHASES.index(self.t.phase), **_metrics(self.t.model, self.ev)}

    def message(self, done: int) -> str:
        if done == 0:
            return "initial weights"
        if done > self.n_dbm:
            return f"comparison RBM: epoch {self.rbm_epochs}, {self.rbm_seconds:.0f} of {self.dbm_seconds:.0f} s"
        t, pe = self.t, int(self.config.dbm.pretrain_epochs)
        if t.phase == "joint":
            return f"joint training: epoch {t.epoch}/{self.config.dbm.epochs}"
        return f"pre-training layer {1 if t.phase == 'pretrain1' else 2}: epoch {t.epoch}/{pe}"

    def state(self) -> dict:
        trainer = self.t.state()
        out = {"nets": {"dbm": trainer.pop("model")}, "rng": trainer.pop("rng"), "trainer": trainer,
               "dbm_seconds": self.dbm_seconds}
        if self.rbm is not None:
            out["nets"]["rbm"] = self.rbm.state_dict()
            out.update(rbm_epochs=self.rbm_epochs, rbm_seconds=self.rbm_seconds)
        return out

    def data_arrays(self) -> tuple:
        n = self.config.n_train
        return (self.data.X_train[:n] if n else self.data.X_train), self.data.X_test

    def shippable(self, snapshot: dict) -> dict:
        """The DBM's and the RBM's weights (no velocities, chains or generator states): enough to sample and score."""
        out = {k: v for k, v in snapshot.items() if k not in ("nets", "trainer", "rng")}
        out["nets"] = {"dbm": snapshot["nets"]["dbm"]}
        if "rbm" in snapshot["nets"]:
            out["nets"]["rbm"] = {k: snapshot["nets"]["rbm"][k] for k in ("config", "P", "n_updates")}
        return out


def train(run: DBMRun, data, partial: dict | None = None, device=None):
    """The run's training iterator (core.training.train of DBMSteps)."""
    return training.train(DBMSteps(run, data, device), partial)


def model(result: dict, device=None) -> DBM:
    """The DBM of a (partial) training snapshot or of the shipped run."""
    return DBM.from_state_dict(result["nets"]["dbm"], device)


def baseline_rbm(result: dict, device=None) -> RBM:
    """The comparison RBM of a finished run (shipped or trained)."""
    return RBM.from_state_dict(result["nets"]["rbm"], device=device)


# ----------------------------------------------------------------------------- evaluation, sampling both, the shipped run

def dbm_log_likelihood(m: DBM, V_bin, X_base, betas=DEFAULT_BETAS, n_runs=DEFAULT_RUNS, random_state=0,
                       n_components: int = DEFAULT_COMPONENTS) -> dict:
    """Mean held-out variational lower bound of log p*(v) of a DBM minus log Z by AIS (mixture base of X_base):
    {"ll", "ll_low", "ll_high", "ais"}. Not a bound of log p(v): the bound part errs low, AIS's log Z errs low on
    average (which flatters the model); which wins is not known."""
    r = m.log_partition_ais(betas=betas, n_runs=n_runs, random_state=random_state, base=default_base(X_base, n_components))
    ll, lo, hi = r.log_likelihood(m.unnormalized_log_prob_bound(V_bin))
    return {"ll": ll, "ll_low": lo, "ll_high": hi, "ais": r.as_dict()}


def both_log_likelihoods(result: dict, X_base, X_test, betas=DEFAULT_BETAS, n_runs=DEFAULT_RUNS,
                         n_components: int = DEFAULT_COMPONENTS) -> dict:
    """Held-out log-likelihoods of the run's DBM (bound minus AIS log Z) and RBM (AIS), on the one binarisation of
    the held-out digits (core.data.held_out_binary): {"dbm": {...}, "rbm": {...}}."""
    from core.boltzmann.ais import rbm_log_likelihood

    V = held_out_binary(X_test)
    rbm = baseline_rbm(result)
    return {"dbm": dbm_log_likelihood(model(result), V, X_base, betas, n_runs, n_components=n_components),
            "rbm": rbm_log_likelihood(rbm.W, rbm.b, rbm.c, V, X_base, betas, n_runs, n_components=n_components)}


def chains(dbm: DBM, rbm: RBM, n: int, steps: int, seed: int) -> dict:
    """Gibbs chains of both models from the same random images, recorded at about geometric steps:
    {"steps": [...], "dbm": {step: P(v=1|h1)}, "rbm": {step: P(v=1|h)}} (step 0: the start images)."""
    record = sorted({0, *np.unique(np.geomspace(1, steps, 24).astype(int)).tolist(), int(steps)})
    start = (np.random.default_rng(int(seed)).random((int(n), dbm.shape[0])) < 0.5).astype(np.float32)
    dbm_frames = dbm.sample(n, steps, random_state=seed, record=record, init=start)
    rbm_frames = {0: start, **rbm.reconstruct_many(start, [s for s in record if s > 0], random_state=seed)}
    dbm_frames[0] = start
    return {"steps": record, "dbm": dbm_frames, "rbm": rbm_frames}


SHIPPED_BETAS = 8000  # AIS temperatures of the shipped run's scores (the doubling check then runs 16,000)


def curve_temperatures(betas: int) -> list[int]:
    """The temperatures of the convergence curve: betas / 8 ... betas and 2 betas (the doubling check)."""
    return [max(2, int(betas) // d) for d in (8, 4, 2, 1)] + [2 * int(betas)]


def _ll(r: AISResult, unnorm) -> dict:
    ll, lo, hi = r.log_likelihood(unnorm)
    return {"ll": ll, "ll_low": lo, "ll_high": hi, "ais": r.as_dict()}


def finish(result: dict, data, betas: int = SHIPPED_BETAS, runs: int = DEFAULT_RUNS,
           components: int = DEFAULT_COMPONENTS, raise_betas: int = DEFAULT_RAISE_BETAS) -> dict:
    """Scores of a finished run for its provenance: both held-out log-likelihoods (AIS from a `components`-Bernoulli
    mixture base of the training digits; `DBM.model_base` measured no better, see core.boltzmann.ais), log Z
    against the number of temperatures (`curve_temperatures`), and the RBM's sandwich [RAISE, AIS] on all held-out
    digits."""
    Xtr = data.X_train[: result["config"]["n_train"]] if result["config"]["n_train"] else data.X_train
    V = held_out_binary(data.X_test)
    base = default_base(Xtr, components)
    m, rbm = model(result), baseline_rbm(result)
    out, curves = {}, {}
    for name, est, unnorm in (
            ("dbm", lambda K: m.log_partition_ais(betas=K, n_runs=runs, base=base),
             m.unnormalized_log_prob_bound(V)),
            ("rbm", lambda K: ais_rbm(rbm.W, rbm.b, rbm.c, base=base, betas=K, n_runs=runs),
             rbm_unnormalized_log_prob(rbm.W, rbm.b, rbm.c, V))):
        rs = {K: est(K) for K in curve_temperatures(betas)}
        out[name] = _ll(rs[int(betas)], unnorm)
        out[name]["ais_double"] = rs[2 * int(betas)].as_dict()
        curves[name] = [{"n_betas": K, "log_z": r.log_z, "ess": r.ess, "cpu_seconds": r.cpu_seconds}
                        for K, r in rs.items()]
    sandwich = rbm_sandwich(rbm.W, rbm.b, rbm.c, V, base, log_z=out["rbm"]["ais"]["log_z"], betas=raise_betas)
    return {"log_likelihood": {
        **out, "log_z_curve": curves, "rbm_sandwich": sandwich,
        "note": f"held-out nats per image on core.data.held_out_binary (2,000 digits); log Z by AIS ({runs} runs x "
                f"{int(betas):,} temperatures, base: a {components}-component Bernoulli mixture of the training "
                "digits). AIS underestimates log Z on average, so each AIS figure errs high (optimistic). The DBM's "
                "figure is a variational lower bound of log p*(v) minus that estimate: the two errors point opposite "
                "ways, so it is neither a bound nor known to err one way. The RBM's conservative side is RAISE "
                f"({raise_betas:,} temperatures), which errs low on average."}}


# why the shipped scores were recomputed (--rescore)
RESCORE_WHY = ("issue 19: at 4,000 temperatures the DBM's log Z_hat moved +1.9 nats when they doubled (400 runs); at "
               "8,000 it moves about 0.1 (measured: 784.44 -> 784.54), and 2,000 runs at 4,000 gave 784.48: the 4,000 "
               "figure was low from too few runs, not too few temperatures. The shipped scores now use 8,000")


def main(argv=None):
    return training.main(DBMSteps, DBMRun(), argv, "Train a two-layer DBM and an RBM given the same time; with --out "
                         "estimate both held-out log-likelihoods by AIS and write the run and its provenance.",
                         finish=finish, rescore=(ASSET_DIR, RESCORE_WHY), finish_args={
                             **ais.CLI_FLAGS, "raise_betas": (int, DEFAULT_RAISE_BETAS, "RAISE temperatures (with --out)")})


if __name__ == "__main__":
    main()
