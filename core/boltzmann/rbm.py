"""Bernoulli-Bernoulli restricted Boltzmann machine in PyTorch, a scikit-learn estimator.

    E(v, h) = -b.v - c.h - h.W.v,   P(h_i=1|v) = sigm(c_i + W_i.v),   P(v_j=1|h) = sigm(b_j + W_:j.h)

A drop-in for `sklearn.neural_network.BernoulliRBM`: a `TransformerMixin` + `BaseEstimator` that passes
`sklearn.utils.estimator_checks.check_estimator` (fit, partial_fit, transform, fit_transform, gibbs,
score_samples, get_feature_names_out, components_, intercept_hidden_, intercept_visible_, h_samples_;
dense or sparse input; float32 or float64 outputs as the input; random_state an int, None or a
numpy RandomState; it goes in a Pipeline and GridSearchCV; verbose prints its per-iteration line) plus energy,
free_energy, negative_samples, free_energy_objective (the CD/PCD objective), reconstruct, inpaint,
exact log-likelihood for small layers, and the training steps core's loops use (initialize, update,
fit_epoch, fit_iter: the training loop as an iterator of `core.progress.Progress` records).

Speed: weights and both biases live in one (n_h+1) x (n_v+1) matrix, so that a mini-batch of
CD/PCD is four matrix products and two samplers (the ones-column of the data carries the biases).
"""
from __future__ import annotations

import math
import time
import zlib
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from core.device import pick_device
from core.boltzmann.likelihood import can_enumerate, exact_log_likelihood, log_partition_exact
from core.progress import Progress, timed

METHODS = ("cd", "pcd", "fpcd")


@dataclass
class RBMConfig:
    """Every hyper-parameter of an RBM; what the cache key is made of."""

    n_components: int = 256  # hidden units
    learning_rate: float = 0.1  # step on the mean gradient of a mini-batch
    batch_size: int = 10  # examples per update (and persistent chains for PCD)
    n_iter: int = 10  # epochs
    random_state: int | None = None  # seed of initial weights, chains and samplers
    method: str = "pcd"  # "cd" (chains restart at the data) or "pcd" (persistent chains)
    k: int = 1  # Gibbs steps of the negative phase
    momentum: float = 0.0  # heavy-ball momentum on the parameter updates
    weight_decay: float = 0.0  # L2 penalty on W (not on biases)
    shuffle: bool = False  # reshuffle examples each epoch (scikit-learn does not)
    n_chains: int = 0  # persistent chains of PCD/FPCD (0: batch_size)
    fast_learning_rate: float = 0.1  # FPCD: step of the fast weights (only the negative chains use them)
    fast_decay: float = 0.95  # FPCD: fast weights are multiplied by this every update


def _seed(random_state) -> int:
    """The integer seed of the torch generator: an int as it is, one draw from a RandomState, fresh entropy for None."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return int(random_state)


class RBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Bernoulli RBM; hyper-parameters as scikit-learn's BernoulliRBM plus method, k, momentum,
    weight_decay, shuffle, device and the FPCD settings. Learned state (ending in ``_``) is created by fit."""

    def __init__(self, n_components=256, *, learning_rate=0.1, batch_size=10, n_iter=10, verbose=0,
                 random_state=None, method="pcd", k=1, momentum=0.0, weight_decay=0.0, shuffle=False,
                 device=None, n_chains=0, fast_learning_rate=0.1, fast_decay=0.95):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.shuffle = shuffle
        self.device = device
        self.n_chains = n_chains
        self.fast_learning_rate = fast_learning_rate
        self.fast_decay = fast_decay

    # ------------------------------------------------------------------ configuration

    @classmethod
    def from_config(cls, cfg: RBMConfig, device=None) -> "RBM":
        return cls(**asdict(cfg), device=device)

    def config(self) -> RBMConfig:
        """The hyper-parameters as a storable config (a RandomState random_state is stored as None)."""
        cfg = {k: getattr(self, k) for k in RBMConfig.__dataclass_fields__}
        if cfg["random_state"] is not None and not isinstance(cfg["random_state"], (int, np.integer)):
            cfg["random_state"] = None
        return RBMConfig(**cfg)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "_P")

    @property
    def _n_features_out(self) -> int:  # for get_feature_names_out: rbm0, rbm1, ...
        return int(self._P.shape[0] - 1)

    def __getstate__(self):
        """Picklable: the torch generator is kept as its state, work arrays are dropped."""
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns the live __dict__
        for k in ("_buf", "_epoch_data"):
            state.pop(k, None)
        if "_gen" in state:
            state["_gen"] = ("generator", str(self._gen.device), self._gen.get_state())
        return state

    def __setstate__(self, state):
        gen = state.get("_gen")
        if isinstance(gen, tuple):
            g = torch.Generator(device=gen[1])
            g.set_state(gen[2])
            state = dict(state, _gen=g, _buf=None, _epoch_data=None)
        super().__setstate__(state)

    def _validate(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if int(self.n_components) < 1 or int(self.batch_size) < 1 or int(self.k) < 1:
            raise ValueError("n_components, batch_size and k must be positive")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not (0 <= self.fast_decay <= 1 and self.fast_learning_rate >= 0 and int(self.n_chains) >= 0):
            raise ValueError("fast_decay must be in [0, 1], fast_learning_rate and n_chains non-negative")

    # ------------------------------------------------------------------ state

    @property
    def _dev(self) -> torch.device:
        return pick_device(self.device)

    def _init_state(self, n_features: int):
        self._validate()
        dev = self._dev
        self.device_ = dev
        self._gen = torch.Generator(device=dev)
        self._gen.manual_seed(_seed(self.random_state))
        nh, nv = int(self.n_components), int(n_features)
        self._P = torch.zeros(nh + 1, nv + 1, device=dev)  # [[W, c], [b, 0]]
        self._P[:nh, :nv].normal_(0.0, 0.01, generator=self._gen)
        self._chains = torch.zeros(int(self.n_chains or self.batch_size), nh + 1, device=dev)  # persistent [h, 1]
        self._chains[:, nh] = 1.0
        self._velocity = torch.zeros_like(self._P) if self.momentum else None
        self._fast = torch.zeros_like(self._P) if self.method == "fpcd" else None  # FPCD fast weights
        self.n_features_in_ = nv
        self.n_updates_ = 0
        self._buf = None  # work arrays of an update (see _buffers_for)
        self._epoch_data = None  # (X, [X, 1]) of the last fit_epoch

    def _check_fitted(self):
        check_is_fitted(self, msg="This RBM is not fitted yet: call fit or partial_fit first.")

    @property
    def components_(self) -> np.ndarray:
        self._check_fitted()
        return self._P[:-1, :-1].cpu().numpy().copy()

    @components_.setter
    def components_(self, value):
        self._set_block(value, slice(None, -1), slice(None, -1))

    @property
    def intercept_hidden_(self) -> np.ndarray:
        self._check_fitted()
        return self._P[:-1, -1].cpu().numpy().copy()

    @intercept_hidden_.setter
    def intercept_hidden_(self, value):
        self._set_block(value, slice(None, -1), -1)

    @property
    def intercept_visible_(self) -> np.ndarray:
        self._check_fitted()
        return self._P[-1, :-1].cpu().numpy().copy()

    @intercept_visible_.setter
    def intercept_visible_(self, value):
        self._set_block(value, -1, slice(None, -1))

    @property
    def h_samples_(self) -> np.ndarray:
        self._check_fitted()
        return self._chains[:, :-1].cpu().numpy().copy()

    def _set_block(self, value, rows, cols):
        value = torch.as_tensor(np.asarray(value), dtype=torch.float32)
        if not hasattr(self, "_P"):
            if value.ndim != 2:
                raise RuntimeError("set components_ first: it fixes the layer sizes")
            self.n_components = value.shape[0]
            self._init_state(value.shape[1])
        self._P[rows, cols] = value.to(self._P.device)

    @property
    def W(self) -> torch.Tensor:  # (n_h, n_v) view
        return self._P[:-1, :-1]

    @property
    def b(self) -> torch.Tensor:  # (n_v,) visible bias, view
        return self._P[-1, :-1]

    @property
    def c(self) -> torch.Tensor:  # (n_h,) hidden bias, view
        return self._P[:-1, -1]

    def state_dict(self) -> dict:
        """Weights plus the config that made them (and persistent chains, momentum velocity), for the disk cache."""
        self._check_fitted()
        return {"config": asdict(self.config()), "P": self._P.detach().cpu().clone(),
                "chains": self._chains.detach().cpu().clone(), "n_updates": self.n_updates_,
                "rng": self._gen.get_state().clone(),
                **({"fast": self._fast.detach().cpu().clone()} if getattr(self, "_fast", None) is not None else {}),
                **({"velocity": self._velocity.detach().cpu().clone()}
                   if getattr(self, "_velocity", None) is not None else {})}

    @classmethod
    def from_state_dict(cls, state: dict, device=None) -> "RBM":
        rbm = cls(**state["config"], device=device)
        P = state["P"]
        rbm._init_state(P.shape[1] - 1)
        rbm._P.copy_(P.to(rbm._P.device))
        chains = state.get("chains")
        if chains is not None and chains.shape == rbm._chains.shape:
            rbm._chains.copy_(chains.to(rbm._P.device))
        rbm.n_updates_ = int(state.get("n_updates", 0))
        if state.get("fast") is not None and rbm._fast is not None:
            rbm._fast.copy_(state["fast"].to(rbm._P.device))
        if state.get("velocity") is not None and rbm._velocity is not None:  # resuming momentum exactly
            rbm._velocity.copy_(state["velocity"].to(rbm._P.device))
        if state.get("rng") is not None and rbm._gen.device.type == "cpu":
            rbm._gen.set_state(state["rng"])
        return rbm

    # ------------------------------------------------------------------ input

    def _checked(self, X, reset: bool) -> np.ndarray:
        """scikit-learn's input validation (2-D, finite, numeric, n_features, feature names; sparse accepted and
        densified), as float64 or float32 like the input (other dtypes become float64)."""
        X = validate_data(self, X, accept_sparse=("csr", "csc", "coo"), dtype=(np.float64, np.float32), reset=reset)
        return X.toarray() if sp.issparse(X) else X

    def _tensor(self, X, name="X") -> torch.Tensor:
        """(n, n_v) float32 tensor on the model's device; a copy, so the caller's array is never touched."""
        if isinstance(X, torch.Tensor):
            T = X.detach().to(self._P.device if hasattr(self, "_P") else self._dev, torch.float32)
        else:
            arr = np.asarray(X)
            if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
                raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
            T = torch.as_tensor(arr.astype(np.float32, copy=True),
                                device=self._P.device if hasattr(self, "_P") else self._dev)
        if T.ndim == 1:
            T = T.unsqueeze(0)
        if T.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(T.shape)}")
        if hasattr(self, "n_features_in_") and T.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {T.shape[1]} features, the RBM was fitted with {self.n_features_in_}")
        if T.shape[0] and not torch.isfinite(T).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return T

    # ------------------------------------------------------------------ conditionals

    def _mean_hiddens(self, V: torch.Tensor) -> torch.Tensor:
        """P(h=1|v) = sigm(c + W v), (n, n_h)."""
        return torch.sigmoid(torch.addmm(self.c, V, self.W.T))

    def _mean_visibles(self, H: torch.Tensor) -> torch.Tensor:
        """P(v=1|h) = sigm(b + W^T h), (n, n_v)."""
        return torch.sigmoid(torch.addmm(self.b, H, self.W))

    def _sample(self, P: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """A Bernoulli(P) sample as 0/1 floats."""
        return self._bernoulli_into(torch.empty_like(P), P, gen)

    def _free_energy(self, V: torch.Tensor) -> torch.Tensor:
        """F(v) = -b.v - sum_i softplus(c_i + W_i.v)."""
        return -(V @ self.b) - F.softplus(torch.addmm(self.c, V, self.W.T)).sum(1)

    # ------------------------------------------------------------------ public inference

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Hidden-unit probabilities P(h=1|v) = sigm(c + W v), (n, n_components), in X's float dtype."""
        self._check_fitted()
        X = self._checked(X, reset=False)
        dt = torch.float64 if X.dtype == np.float64 else torch.float32
        V = torch.as_tensor(np.require(X, requirements=("W", "C")), dtype=dt, device=self._P.device)
        return torch.sigmoid(torch.addmm(self.c.to(dt), V, self.W.T.to(dt))).cpu().numpy()

    @torch.no_grad()
    def gibbs(self, V, random_state=None) -> np.ndarray:
        """One Gibbs step v -> h ~ P(h|v) -> v' ~ P(v|h); returns the sampled v' as 0/1 floats."""
        self._check_fitted()
        g = self._rng(random_state)
        H = self._sample(self._mean_hiddens(self._tensor(V, "V")), g)
        return self._sample(self._mean_visibles(H), g).cpu().numpy()

    @torch.no_grad()
    def free_energy(self, V) -> np.ndarray:
        """F(v) for each row; lower means more probable (p(v) = exp(-F(v)) / Z)."""
        self._check_fitted()
        return self._free_energy(self._tensor(V, "V")).cpu().numpy()

    @torch.no_grad()
    def energy(self, V, H) -> np.ndarray:
        """E(v, h) = -b.v - c.h - h.W.v for each row of V (n, n_v) with the same row of H (n, n_h), in float64."""
        self._check_fitted()
        V, H = np.atleast_2d(np.asarray(V, dtype=np.float64)), np.atleast_2d(np.asarray(H, dtype=np.float64))
        W, b, c = (t.detach().cpu().double().numpy() for t in (self.W, self.b, self.c))
        return -(V @ b) - H @ c - np.einsum("ni,ij,nj->n", H, W, V)

    @torch.no_grad()
    def negative_samples(self, V, random_state=0) -> np.ndarray:
        """Visible samples v^ of the negative phase an update on the mini-batch V would use, one per row of V, drawn
        with a local generator (the model is untouched): CD-k: k Gibbs steps from each row of V; PCD/FPCD: k Gibbs
        steps from the persistent chains' hidden states (chain i % n_chains for row i; under the regular plus fast
        weights for FPCD). Returns the last sampled v (0/1 floats), (n, n_v)."""
        self._check_fitted()
        g = self._rng(random_state)
        V = self._tensor(V, "V")
        P = self._P + (self._fast if getattr(self, "_fast", None) is not None else 0.0)
        W, b, c = P[:-1, :-1], P[-1, :-1], P[:-1, -1]
        if self.method == "cd":
            H = self._sample(torch.sigmoid(torch.addmm(c, V, W.T)), g)
        else:
            H = self._chains[torch.arange(len(V), device=V.device) % self._chains.shape[0], :-1]
        for step in range(int(self.k)):
            Vs = self._sample(torch.sigmoid(torch.addmm(b, H, W)), g)
            if step < int(self.k) - 1:
                H = self._sample(torch.sigmoid(torch.addmm(c, Vs, W.T)), g)
        return Vs.cpu().numpy()

    @torch.no_grad()
    def free_energy_objective(self, V, random_state=0) -> dict[str, float]:
        """The CD/PCD training objective on the rows V: mean F(v) - mean F(v^), v^ = negative_samples(V) (held fixed,
        its gradient is minus the update's direction). {"objective", "se": its Monte-Carlo standard error from the
        spread of F(v^) over the samples}. Lower: the model puts the data below its own samples in free energy."""
        V = self._tensor(V, "V")
        Fd = self._free_energy(V).double()
        Fn = self._free_energy(self._tensor(self.negative_samples(V, random_state))).double()
        se = float(Fn.std() / math.sqrt(len(Fn))) if len(Fn) > 1 else 0.0
        return {"objective": float(Fd.mean() - Fn.mean()), "se": se}

    @torch.no_grad()
    def score_samples(self, X, random_state=None) -> np.ndarray:
        """Pseudo-log-likelihood as scikit-learn: n_v * log sigm(F(v~) - F(v)), one random bit of each row flipped.

        The bit of a row is drawn from the seed and the row's own values, so a row scores the same alone, in
        any batch and in any order (scikit-learn's draws depend on the row's position)."""
        self._check_fitted()
        X = self._checked(X, reset=False)
        V = torch.as_tensor(np.require(X, requirements=("W", "C")), dtype=torch.float32, device=self._P.device)
        return self._score_rows(V, random_state).cpu().numpy()

    def _score_rows(self, V: torch.Tensor, random_state=None) -> torch.Tensor:
        """score_samples of the float32 rows V (n, n_v) on the model's device."""
        seed = _seed(self.random_state if random_state is None else random_state) % 2**32
        rows32 = np.ascontiguousarray(V.cpu().numpy(), dtype=np.float32)
        pick = [zlib.crc32(r.tobytes(), seed) for r in rows32]
        idx = torch.as_tensor(np.asarray(pick, dtype=np.int64) % V.shape[1], device=V.device)
        rows = torch.arange(V.shape[0], device=V.device)
        V_ = V.clone()
        V_[rows, idx] = 1 - V_[rows, idx]
        return V.shape[1] * F.logsigmoid(self._free_energy(V_) - self._free_energy(V))

    @torch.no_grad()
    def pseudo_log_likelihood(self, X, chunk: int = 64) -> np.ndarray:
        """score_samples averaged over every bit instead of one random bit (its exact expectation):
        sum_i log sigm(F(v with bit i flipped) - F(v)), per row. Deterministic, n_v times the work."""
        self._check_fitted()
        V = self._tensor(X)
        out = []
        for s in range(0, V.shape[0], chunk):
            v = V[s: s + chunk]  # (m, n_v)
            pre = torch.addmm(self.c, v, self.W.T)  # (m, n_h)
            delta = 1 - 2 * v  # (m, n_v): change of bit i when flipped
            pre_flip = pre[:, None, :] + delta[:, :, None] * self.W.T[None]  # (m, n_v, n_h)
            dF = -(delta * self.b) - (F.softplus(pre_flip).sum(-1) - F.softplus(pre).sum(-1)[:, None])  # F(v~) - F(v)
            out.append(F.logsigmoid(dF).sum(1))
        return torch.cat(out).cpu().numpy()

    @torch.no_grad()
    def reconstruct(self, V, k: int = 1, sample_last: bool = False, random_state=None) -> np.ndarray:
        """Run k Gibbs steps from V; return P(v=1|h) of the last step (or a sample)."""
        self._check_fitted()
        g = self._rng(random_state)
        V = self._tensor(V, "V")
        for step in range(int(k)):
            Pv = self._mean_visibles(self._sample(self._mean_hiddens(V), g))
            V = self._sample(Pv, g) if (step < k - 1 or sample_last) else Pv
        return V.cpu().numpy()

    @torch.no_grad()
    def reconstruct_many(self, V, ks, random_state=None) -> dict[int, np.ndarray]:
        """{k: reconstruct(V, k)} for increasing ks along one chain (one pass of max(ks) steps)."""
        self._check_fitted()
        g = self._rng(random_state)
        ks = sorted(set(int(k) for k in ks))
        out, Vs = {}, self._tensor(V, "V")
        for step in range(1, ks[-1] + 1):
            Pv = self._mean_visibles(self._sample(self._mean_hiddens(Vs), g))
            if step in ks:
                out[step] = Pv.cpu().numpy()
            Vs = self._sample(Pv, g)
        return out

    @torch.no_grad()
    def inpaint(self, V, mask, k: int = 100, init: str = "noise", random_state=None) -> np.ndarray:
        """Fill the pixels where mask is True by Gibbs sampling with the others clamped.

        Returns an array equal to V on known pixels (exactly) and P(v=1|h) on missing ones after
        k steps. mask: bool array broadcastable to V, True = missing.
        """
        self._check_fitted()
        V0 = self._tensor(V, "V")
        M = torch.as_tensor(np.broadcast_to(np.asarray(mask, dtype=bool), tuple(V0.shape)).copy(), device=V0.device)
        g = self._rng(random_state)
        X = V0.clone()
        if init == "noise":
            X[M] = torch.rand(int(M.sum()), generator=g, device=V0.device)
        else:
            X[M] = 0.5
        Pv = X
        for _ in range(int(k)):
            Pv = self._mean_visibles(self._sample(self._mean_hiddens(X), g))
            X = torch.where(M, self._sample(Pv, g), V0)
        out = torch.where(M, Pv, V0) if k > 0 else X
        return out.cpu().numpy()

    @torch.no_grad()
    def log_likelihood(self, V, log_z: float | None = None) -> np.ndarray:
        """Exact log p(v) in nats (binary V) by enumerating the smaller layer; small models only."""
        self._check_fitted()
        return exact_log_likelihood(self._tensor(V, "V").double().cpu(), self.W.cpu(), self.b.cpu(),
                                    self.c.cpu(), log_z).numpy()

    @torch.no_grad()
    def log_partition(self) -> float:
        self._check_fitted()
        return log_partition_exact(self.W, self.b, self.c)

    # ------------------------------------------------------------------ training

    def fit(self, X, y=None):
        """Train for n_iter epochs from scratch."""
        X = self._checked(X, reset=True)
        for _ in self.fit_iter(X):
            pass
        return self

    @torch.no_grad()
    def partial_fit(self, X, y=None):
        """One update with X as the mini-batch (scikit-learn semantics; the first call initialises)."""
        first = not hasattr(self, "_P")
        X = self._checked(X, reset=first)
        Xt = self._tensor(X)
        if first:
            self._init_state(Xt.shape[1])
        self.update(Xt)
        return self

    def _buffers(self, B: int) -> dict:
        """Work arrays of one update, allocated once per fit.

        VV stacks the data rows over the negative-chain rows, HH their hidden probabilities, so
        that the whole gradient <h v>_data - <h v>_model is one matrix product HH^T VV.
        """
        nh, nv = self._P.shape[0] - 1, self._P.shape[1] - 1
        n_c = self._chains.shape[0] if self.method in ("pcd", "fpcd") else B
        dev = self._P.device
        return {"VV": torch.empty(B + n_c, nv + 1, device=dev), "HH": torch.empty(B + n_c, nh + 1, device=dev),
                "vp": torch.empty(n_c, nv + 1, device=dev), "hs": torch.empty(n_c, nh + 1, device=dev)}

    def _bernoulli_into(self, out: torch.Tensor, P: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """out <- (U < P) with U ~ Uniform[0, 1): a Bernoulli(P) sample as 0/1 floats.

        Four times faster than torch.bernoulli on a CPU; a ones-column of P stays 1 since U < 1.
        """
        out.uniform_(generator=gen or self._gen)
        return out.lt_(P)

    def _rng(self, random_state) -> torch.Generator:
        """The training generator, or a fresh one seeded by random_state (leaves the model untouched)."""
        if random_state is None:
            return self._gen
        return torch.Generator(device=self._P.device).manual_seed(int(random_state))

    def _hidden_probs(self, V: torch.Tensor, out: torch.Tensor, P: torch.Tensor | None = None) -> torch.Tensor:
        """out <- [P(h=1|v), 1] for rows V = [v, 1] (under the parameters P, default the model's)."""
        torch.mm(V, (self._P if P is None else P).T, out=out)  # (n, nh+1): [c + W v, junk]
        out.sigmoid_()
        out[:, -1] = 1.0
        return out

    def _visible_sample(self, H: torch.Tensor, prob: torch.Tensor, out: torch.Tensor,
                        P: torch.Tensor | None = None) -> torch.Tensor:
        """out <- [v, 1] with v ~ P(v|h) for rows H = [h, 1] (under the parameters P, default the model's)."""
        torch.mm(H, self._P if P is None else P, out=prob)  # (n, nv+1): [b + W^T h, junk]
        prob.sigmoid_()
        prob[:, -1] = 1.0
        return self._bernoulli_into(out, prob)

    def _update(self, Va: torch.Tensor, buf: dict) -> None:
        """One CD-k / PCD-k update from the mini-batch Va = [v, 1] (B, n_v+1)."""
        if self._fast is not None:
            return self._update_fpcd(Va, buf)
        P, B, k = self._P, Va.shape[0], int(self.k)
        pcd = self.method == "pcd"
        n = self._chains.shape[0] if pcd else B  # negative chains
        VV, HH = buf["VV"][: B + n], buf["HH"][: B + n]  # rows [:B] data, [B:] model
        VV[:B].copy_(Va)
        vs, hn, hs, vp = VV[B:], HH[B:], buf["hs"][:n], buf["vp"][:n]
        if pcd and k == 1:  # chains do not depend on this batch: one product gives both phases
            self._visible_sample(self._chains, vp, vs)
            self._hidden_probs(VV, HH)
            self._bernoulli_into(self._chains, hn)
        else:
            self._hidden_probs(VV[:B], HH[:B])
            H = self._chains if pcd else self._bernoulli_into(hs, HH[:B])
            for step in range(k):
                self._visible_sample(H, vp, vs)
                self._hidden_probs(vs, hn)
                if pcd:
                    H = self._bernoulli_into(self._chains, hn)
                elif step < k - 1:
                    H = self._bernoulli_into(hs, hn)
        hn.mul_(-B / n)  # so that HH^T VV / B = <h v>_data - <h v>_model
        if self._velocity is None and not self.weight_decay:  # the common case: one fused product
            P.addmm_(HH.T, VV, alpha=float(self.learning_rate) / B)
            self.n_updates_ += 1
        else:
            self._step(torch.mm(HH.T, VV).mul_(1.0 / B))

    def _step(self, G: torch.Tensor) -> None:
        """P += learning_rate * (G - weight_decay * W), through momentum when it is on. G: (n_h+1, n_v+1)."""
        P, lr = self._P, float(self.learning_rate)
        if self.weight_decay:
            G[:-1, :-1].add_(P[:-1, :-1], alpha=-float(self.weight_decay))
        if self._velocity is not None:
            self._velocity.mul_(self.momentum).add_(G, alpha=lr)
            P.add_(self._velocity)
        else:
            P.add_(G, alpha=lr)
        self.n_updates_ += 1

    def _update_fpcd(self, Va: torch.Tensor, buf: dict) -> None:
        """One FPCD-k update (Tieleman & Hinton 2009) from the mini-batch Va = [v, 1].

        The persistent chains run on P + F (regular + fast weights); the gradient
        G = <h v>_data - <h v>_chains (hidden probabilities of both under the regular weights) moves P by
        learning_rate (with momentum and weight decay) and F by fast_learning_rate, F decaying by fast_decay
        every update. With fast_learning_rate = 0 this is PCD-k exactly.
        """
        P, Fw, B, k = self._P, self._fast, Va.shape[0], int(self.k)
        n = self._chains.shape[0]
        VV, HH = buf["VV"][: B + n], buf["HH"][: B + n]  # rows [:B] data, [B:] chains
        VV[:B].copy_(Va)
        vs, hn, vp = VV[B:], HH[B:], buf["vp"][:n]
        Pn = P + Fw  # (n_h+1, n_v+1): the negative chains' weights
        for _ in range(k):  # Gibbs steps under P + F
            self._visible_sample(self._chains, vp, vs, Pn)
            self._bernoulli_into(self._chains, self._hidden_probs(vs, hn, Pn))
        self._hidden_probs(VV, HH)  # statistics under the regular weights
        hn.mul_(-B / n)
        G = torch.mm(HH.T, VV).mul_(1.0 / B)  # <h v>_data - <h v>_chains
        Fw.mul_(float(self.fast_decay)).add_(G, alpha=float(self.fast_learning_rate))
        self._step(G)

    def _eval_tensors(self, X, X_val, n_eval: int, seed: int = 0) -> dict:
        """Fixed subsets (and a fixed binarisation for log-likelihoods) used by the live metrics."""
        g = torch.Generator().manual_seed(seed)
        tr = X[torch.randperm(len(X), generator=g)[:n_eval]]
        out = {"train": tr}
        if X_val is not None:
            va = X_val[torch.randperm(len(X_val), generator=g)[:n_eval]]
            out["val"] = va
            out["val_bin"] = torch.bernoulli(va.cpu(), generator=g).double()
        return out

    @torch.no_grad()
    def metrics(self, ev: dict) -> dict[str, float]:
        """Held-out reconstruction error, pseudo-log-likelihood, free-energy gap, exact LL if small."""
        m = {}
        V = ev.get("val", ev["train"])
        Pv = self._mean_visibles(self._mean_hiddens(V))
        m["recon_error"] = float(((Pv - V) ** 2).sum(1).mean())  # squared error per image, mean-field
        m["pseudo_ll"] = float(np.mean(self.score_samples(V, random_state=0)))
        if "val" in ev:
            m["fe_gap"] = float(self._free_energy(ev["val"]).mean() - self._free_energy(ev["train"]).mean())
            if can_enumerate(*self._P.shape):
                logz = self.log_partition()
                m["exact_ll"] = float(exact_log_likelihood(ev["val_bin"], self.W.cpu(), self.b.cpu(), self.c.cpu(), logz).mean())
        return m

    def fit_iter(self, X, X_val=None, *, warm_start: bool = False, n_eval: int = 500, records_per_epoch: int = 1):
        """Train for n_iter epochs, yielding a Progress record `records_per_epoch` times an epoch.

        Records at epoch ends carry held-out metrics (see `metrics`) when X_val is given,
        training-subset metrics otherwise. warm_start continues from the current weights.
        """
        return timed(self._fit_iter(X, X_val, warm_start, n_eval, records_per_epoch))

    @torch.no_grad()
    def _fit_iter(self, X, X_val, warm_start, n_eval, records_per_epoch):
        Xt = self._tensor(X)
        if not (warm_start and hasattr(self, "_P")):
            self.initialize(Xt.shape[1])
        self._validate()
        Xv = self._tensor(X_val, "X_val") if X_val is not None else None
        Xa = self._with_ones(Xt)
        n_batches = math.ceil(Xt.shape[0] / int(self.batch_size))
        total = n_batches * int(self.n_iter)
        ev = self.monitor_set(Xt, Xv, n_eval)
        marks = {int(round(n_batches * (j + 1) / records_per_epoch)) for j in range(records_per_epoch)}
        yield Progress(0, total, 0.0, self.metrics(ev), "initial weights")
        step = 0
        for epoch in range(int(self.n_iter)):
            begin = time.time()
            for i in self._epoch(Xa):
                step += 1
                if (i + 1) in marks:
                    end = i + 1 == n_batches  # always among the marks
                    if end and self.verbose:
                        self._say(epoch + 1, Xt, time.time() - begin)
                    yield Progress(step, total, epoch + (i + 1) / n_batches,
                                   self.metrics(ev) if end else {},
                                   f"epoch {epoch + 1}/{self.n_iter}", done=step == total)

    def _say(self, iteration: int, X: torch.Tensor, seconds: float) -> None:
        """verbose: one line per epoch as scikit-learn's BernoulliRBM prints it (the mean score_samples of the
        training rows; the seconds of the epoch's updates)."""
        pll = float(self._score_rows(X).mean())
        print(f"[{type(self).__name__}] Iteration {iteration}, pseudo-likelihood = {pll:.2f}, time = {seconds:.2f}s")

    # ------------------------------------------------------------------ training steps (for core's training loops)

    def initialize(self, n_features: int) -> "RBM":
        """Fresh weights (N(0, 0.01)), zero biases, persistent chains and the seeded generator: what fit does first."""
        self._init_state(int(n_features))
        return self

    @torch.no_grad()
    def update(self, V: torch.Tensor) -> None:
        """One CD-k / PCD-k / FPCD-k update on the mini-batch V (n, n_v): a float32 tensor on the model's
        device, used as it is (no copy, no checks: the training loops' fast path; see partial_fit)."""
        Va = self._with_ones(V)
        self._update(Va, self._buffers_for(len(Va)))

    @torch.no_grad()
    def fit_epoch(self, X) -> None:
        """One pass over X in mini-batches of batch_size, in order (reshuffled by the RBM's generator if shuffle)."""
        self._check_fitted()
        cached = getattr(self, "_epoch_data", None)
        if cached is None or cached[0] is not X:
            self._epoch_data = (X, self._with_ones(self._tensor(X)))
        for _ in self._epoch(self._epoch_data[1]):
            pass

    def _epoch(self, Xa: torch.Tensor):
        """Updates over the rows of Xa = [X, 1]; yields the batch index after each."""
        n, B = Xa.shape[0], int(self.batch_size)
        if n == 0:
            raise ValueError("X is empty")
        data = Xa[torch.randperm(n, generator=self._gen, device=Xa.device)] if self.shuffle else Xa
        buf = self._buffers_for(B)
        for i in range(math.ceil(n / B)):
            self._update(data[i * B: (i + 1) * B], buf)
            yield i

    def _with_ones(self, V: torch.Tensor) -> torch.Tensor:
        return torch.cat([V, torch.ones(len(V), 1, device=V.device, dtype=V.dtype)], 1)  # ones carry the biases

    def _buffers_for(self, B: int) -> dict:
        """Work arrays for batches of up to B rows, kept between updates."""
        buf = getattr(self, "_buf", None)
        if buf is None or buf["VV"].shape[0] < B + (self._chains.shape[0] if self.method != "cd" else B):
            buf = self._buf = self._buffers(B)
        return buf

    @torch.no_grad()
    def negative_particles(self, n: int) -> np.ndarray:
        """P(v=1|h) of the first n persistent chains (under the regular plus fast weights for FPCD), (n, n_v)."""
        self._check_fitted()
        P = self._P + (self._fast if self._fast is not None else 0.0)
        return torch.sigmoid(self._chains[:n] @ P[:, :-1]).cpu().numpy()

    def monitor_set(self, X, X_val=None, n_eval: int = 500, seed: int = 0) -> dict:
        """Fixed subsets for the live metrics (`metrics`): up to n_eval training and held-out rows, and one
        binarisation of the held-out rows for log-likelihoods."""
        return self._eval_tensors(self._tensor(X), self._tensor(X_val, "X_val") if X_val is not None else None,
                                  n_eval, seed)
