"""The two-hidden-layer binary deep Boltzmann machine itself (its training run is core.boltzmann.dbm).

    E(v, h1, h2) = -b.v - c1.h1 - c2.h2 - h1.W1 v - h2.W2 h1        W1: (n1, n_v), W2: (n2, n1)

`DBMConfig` (every hyper-parameter of a run), `DBM` (parameters, mean field, the variational bound of
log p*(v), Gibbs sampling, AIS of log Z), `bernoulli` and `entropy`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.boltzmann.ais import (DEFAULT_BETAS, DEFAULT_COMPONENTS, DEFAULT_RUNS, AISResult, BernoulliMixture, ais_dbm,
                                dbm_model_base)
from core.device import pick_device

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


def bernoulli(P: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Binary samples of independent Bernoulli(P) units (0/1 floats), drawn from `gen`."""
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
        mu1 = torch.sigmoid(bottom + V @ self.W1.T)
        mu2 = torch.sigmoid(torch.addmm(self.c2, mu1, self.W2.T))
        for _ in range(steps):
            mu1 = torch.sigmoid(torch.addmm(bottom, mu2, self.W2))
            mu2 = torch.sigmoid(torch.addmm(self.c2, mu1, self.W2.T))
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

    def gibbs(self, V, H1, H2, steps, gen, frames=None, record=()):
        """`steps` alternating sweeps: h1 | v, h2 (odd layer) then v, h2 | h1 (even layers)."""
        Pv = None
        for s in range(1, int(steps) + 1):
            H1 = bernoulli(torch.sigmoid(torch.addmm(torch.addmm(self.c1, V, self.W1.T), H2, self.W2)), gen)
            Pv = torch.sigmoid(torch.addmm(self.b, H1, self.W1))
            V = bernoulli(Pv, gen)
            H2 = bernoulli(torch.sigmoid(torch.addmm(self.c2, H1, self.W2.T)), gen)
            if frames is not None and s in record:
                frames[s] = Pv.cpu().numpy()
        return V, H1, H2, Pv

    @torch.no_grad()
    def sample(self, n: int = 16, steps: int = 1000, random_state: int = 0, record=(), init=None) -> dict[int, np.ndarray]:
        """Run n chains for `steps` alternating Gibbs sweeps from random visibles (or `init`), h2 = 0.
        Returns {step: P(v=1 | h1) (n, n_v)} for each step in `record` and the last one. The model is not changed."""
        gen = torch.Generator(device=self.device).manual_seed(int(random_state))
        n_v, n1, n2 = self.shape
        V = self._tensor(init) if init is not None else bernoulli(torch.full((n, n_v), 0.5, device=self.device), gen)
        H2 = torch.zeros(V.shape[0], n2, device=self.device)
        frames: dict[int, np.ndarray] = {}
        record = set(int(r) for r in record) | {int(steps)}
        if 0 in record:
            frames[0] = V.cpu().numpy()
        self.gibbs(V, None, H2, steps, gen, frames, record)
        return frames

    def model_base(self, X_train, n_components: int = DEFAULT_COMPONENTS, random_state: int = 0) -> BernoulliMixture:
        """The AIS base model of this DBM: a mixture fit to P(v | h1) at the end of its own Gibbs chains started at
        the training digits (core.boltzmann.ais.dbm_model_base), closer to the model than one fit to the digits."""
        return dbm_model_base(self.W1, self.W2, self.b, self.c1, self.c2, X_train, n_components,
                              random_state=random_state)

    def log_partition_ais(self, X_base=None, betas=DEFAULT_BETAS, n_runs: int = DEFAULT_RUNS, random_state: int = 0,
                          callback=None, base=None) -> AISResult:
        """log Z by AIS (core.boltzmann.ais.ais_dbm) from `base` (see `model_base`), else the base rates of X_base."""
        return ais_dbm(self.W1, self.W2, self.b, self.c1, self.c2, X=X_base, base=base, betas=betas, n_runs=n_runs,
                       random_state=random_state, device=self.device, callback=callback)

    def second_layer_filters(self) -> np.ndarray:
        """Each h2 unit's filter in pixel space as a combination of first-layer filters: W2 W1, (n2, n_v)."""
        return (self.W2 @ self.W1).cpu().numpy()


# ----------------------------------------------------------------------------- training
