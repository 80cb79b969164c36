"""Bernoulli-Bernoulli restricted Boltzmann machine in PyTorch, a scikit-learn estimator.

    E(v, h) = -b.v - c.h - h.W.v,   P(h_i=1|v) = sigm(c_i + W_i.v),   P(v_j=1|h) = sigm(b_j + W_:j.h)

A drop-in for `sklearn.neural_network.BernoulliRBM`: a `TransformerMixin` + `BaseEstimator` that passes
`sklearn.utils.estimator_checks.check_estimator` (fit, partial_fit, transform, fit_transform, gibbs,
score_samples, get_feature_names_out, components_, intercept_hidden_, intercept_visible_, h_samples_;
dense or sparse input; float32 or float64 outputs as the input; random_state an int, None or a
numpy RandomState; it goes in a Pipeline and GridSearchCV; verbose prints its per-iteration line) plus energy,
free_energy, negative_samples, free_energy_objective (the CD/PCD objective), reconstruct, inpaint,
exact log-likelihood for small layers, and the training steps core's loops use (initialize, update,
fit_epoch; fit_iter: the training loop as an iterator of `core.progress.Progress` records).

`fit` and `fit_iter` are `core.training`'s one loop over `FitSteps` (one `fit_epoch` per unit), the loop every
lab trains with; verbose prints scikit-learn's line from its records.

The class is written in three modules: this one (the estimator: configuration, state, input checks, the
conditionals, transform, score_samples, fitting), `core.boltzmann.rbm_sampling` (`RBMSampling`: Gibbs chains,
reconstruction, inpainting, energies, likelihoods, live metrics) and `core.boltzmann.rbm_updates` (`RBMUpdates`:
the CD-k, PCD-k and FPCD-k updates and the epoch over mini-batches).

Speed: weights and both biases live in one (n_h+1) x (n_v+1) matrix, so that a mini-batch of
CD/PCD is four matrix products and two samplers (the ones-column of the data carries the biases).
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from core import training
from core.boltzmann.rbm_sampling import RBMSampling
from core.boltzmann.rbm_updates import RBMUpdates
from core.device import pick_device
from core.progress import Progress

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


class RBM(RBMSampling, RBMUpdates, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
        """The RBM of `state_dict()` (a fresh object)."""
        return cls(**state["config"], device=device).load_state_dict(state)

    def load_state_dict(self, state: dict) -> "RBM":
        """Set the weights, persistent chains, update count, momentum velocity, fast weights and generator of
        `state_dict()`; this RBM's hyper-parameters must be the ones that made it (its sizes from P)."""
        P = state["P"]
        self._init_state(P.shape[1] - 1)
        self._P.copy_(P.to(self._P.device))
        chains = state.get("chains")
        if chains is not None and chains.shape == self._chains.shape:
            self._chains.copy_(chains.to(self._P.device))
        self.n_updates_ = int(state.get("n_updates", 0))
        if state.get("fast") is not None and self._fast is not None:
            self._fast.copy_(state["fast"].to(self._P.device))
        if state.get("velocity") is not None and self._velocity is not None:  # resuming momentum exactly
            self._velocity.copy_(state["velocity"].to(self._P.device))
        if state.get("rng") is not None and self._gen.device.type == "cpu":
            self._gen.set_state(state["rng"])
        return self

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

    # ------------------------------------------------------------------ training

    def fit(self, X, y=None):
        """Train for n_iter epochs from scratch (`fit_iter` without live metrics)."""
        X = self._checked(X, reset=True)
        for _ in self.fit_iter(X, n_eval=0):
            pass
        return self

    def fit_iter(self, X, X_val=None, *, warm_start: bool = False, n_eval: int = 500) -> Iterator[Progress]:
        """Train for n_iter epochs through core.training's loop (`FitSteps`), yielding its records: one after each
        epoch with the live metrics (`metrics`) of up to n_eval rows of X_val (of X without X_val), and one before the
        first; none of either when n_eval is 0. warm_start continues from the current weights."""
        return self._say(training.train(FitSteps(self, X, X_val, warm_start=warm_start, n_eval=n_eval)))

    def _say(self, records: Iterator[Progress]) -> Iterator[Progress]:
        """The records, and with verbose scikit-learn's BernoulliRBM line after each iteration: the mean score_samples
        of the training rows and the seconds since the previous line (that iteration's updates and the previous
        line's scoring, as scikit-learn counts them)."""
        last = 0.0
        for rec in records:
            if "pseudo_likelihood" in rec.metrics:
                print(f"[{type(self).__name__}] Iteration {rec.step}, pseudo-likelihood = "
                      f"{rec.metrics['pseudo_likelihood']:.2f}, time = {rec.elapsed - last:.2f}s")
            if "snapshot" in rec.extra:
                last = rec.elapsed
            yield rec
        self._epoch_data = None  # fit_epoch's copy of X: not kept after fitting

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


class FitSteps(training.Steps):
    """`RBM.fit` and `fit_iter` as a run of core.training's loop: one `RBM.fit_epoch` over X per unit, n_iter units.
    After each (and before the first when n_eval > 0): the live metrics `RBM.metrics` of up to n_eval rows of X_val
    (of X without X_val), and with verbose "pseudo_likelihood", the mean score_samples of X (scikit-learn's
    printed figure). Snapshot: {"nets": {"rbm": RBM.state_dict()}} (the RBM's generator included). No `kind`: the
    estimator's own runs are not cached; the RBM lab's run kind (core.boltzmann.rbm_lab.RBMSteps) extends it."""

    x = "epoch"
    unit = "epoch"

    def __init__(self, rbm: RBM, X, X_val=None, *, warm_start: bool = False, n_eval: int = 500):
        self.rbm, self.X, self.X_val, self.warm_start, self.n_eval = rbm, X, X_val, bool(warm_start), int(n_eval)
        self.config = rbm.config()
        self.measure_initial = self.n_eval > 0

    def total(self) -> int:
        return int(self.rbm.n_iter)

    def _monitor(self) -> None:
        """The fixed rows the live metrics are measured on (RBM.monitor_set), none when n_eval is 0."""
        Xv = self.rbm._tensor(self.X_val, "X_val") if self.X_val is not None else None
        self.ev = self.rbm.monitor_set(self.Xt, Xv, self.n_eval) if self.n_eval else None

    def start(self) -> None:
        self.Xt = self.rbm._tensor(self.X)
        if not (self.warm_start and hasattr(self.rbm, "_P")):
            self.rbm.initialize(self.Xt.shape[1])
        self.rbm._validate()
        self._monitor()

    def restore(self, snapshot: dict) -> None:
        self.rbm.load_state_dict(snapshot["nets"]["rbm"])
        self.Xt = self.rbm._tensor(self.X)
        self._monitor()

    def advance(self, done: int) -> None:
        self.rbm.fit_epoch(self.Xt)

    @torch.no_grad()
    def measure(self, done: int) -> dict[str, float]:
        m = self.rbm.metrics(self.ev) if self.ev is not None else {}
        if self.rbm.verbose and done:
            m["pseudo_likelihood"] = float(self.rbm._score_rows(self.Xt).mean())
        return m

    def state(self) -> dict:
        return {"nets": {"rbm": self.rbm.state_dict()}}
