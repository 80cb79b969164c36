"""The conditional RBM (exercise sheet 10, exercise 2): binary inputs x in {0,1}^d, outputs y in {0,1}^c,
hidden units h in {0,1}^K,

    E(x, y, h) = -x^T W h - y^T U h   [- b^T x - d^T y - c^T h with biases]

    (a)(i)  p(h_k = 1 | x, y) = sigm(x^T W_:k + y^T U_:k + c_k)
    (a)(ii) p(y_j = 1 | h, x) = sigm(U_j: h + d_j)
    (b)     F(x, y) = -log sum_h exp(-E(x, y, h)) = -sum_k softplus(x^T W_:k + y^T U_:k + c_k) - b^T x - d^T y

p(y | x) = exp(-F(x, y)) / sum_{y'} exp(-F(x, y')) is exact: the sum runs over the candidate outputs (the 10
one-hot codes, or all 2^c binary codes), so a prediction is argmax_y p(y | x). Training ascends

    generative:      log p(x, y)       CD-k (chains restart at the data) or PCD-k (persistent chains)
    discriminative:  log p(y | x)      its exact gradient (`discriminative_gradient`; the tests check it
                                       against autograd)
    hybrid:          log p(y | x) + alpha log p(x, y)                                 (Larochelle & Bengio 2008)

Gibbs sampling alternates h ~ p(h | x, y), x ~ p(x | h) and y ~ p(y | h) restricted to the candidate codes
(a softmax over the 10 one-hot codes; independent bits, (a)(ii), for all 2^c codes). Class-conditional
generation clamps y and samples x and h only.

The tiny-model identities are checked by brute force in `core.boltzmann.crbm_enumeration` (every (x, y, h) of a
model small enough to list).

    python -m core.boltzmann.crbm                     # the page's default run: MNIST, 8,000 train / 2,000 held out
    python -m core.boltzmann.crbm --out assets/crbm   # the shipped default run
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core import data as datasets
from core import training
from core.progress import Stopwatch

OUTPUTS = ("onehot", "binary")  # y as a one-hot code (c = 10) or as the digit's 4-bit binary code (c = 4)
MODES = ("discriminative", "hybrid", "generative")


def codes(output: str, n_classes: int = 10) -> torch.Tensor:
    """The candidate outputs (n_codes, c): the one-hot codes of the classes, or every c-bit code for
    c = ceil(log2 n_classes), row j = the binary digits of j (most significant first)."""
    if output == "onehot":
        return torch.eye(n_classes)
    if output == "binary":
        c = max(1, math.ceil(math.log2(n_classes)))
        j = torch.arange(2 ** c)[:, None]
        return ((j >> torch.arange(c - 1, -1, -1)[None, :]) & 1).float()
    raise ValueError(f"output must be one of {OUTPUTS}, not {output!r}")


def all_binary(n: int) -> torch.Tensor:
    """Every state of n binary units, (2^n, n), float64 (row j = the binary digits of j)."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64).reshape(-1, n)


class CRBM:
    """A conditional RBM over the candidate codes of `output` (see the module docstring).

    Learned state: W_ (d, K), U_ (c, K), b_ (d,), c_ (K,), d_ (c,) (biases stay 0 unless `biases`)."""

    def __init__(self, n_hidden: int = 500, output: str = "onehot", n_classes: int = 10, biases: bool = True,
                 init_scale: float = 0.01, random_state: int = 0, dtype=torch.float32):
        self.n_hidden = n_hidden
        self.output = output
        self.n_classes = n_classes
        self.biases = biases
        self.init_scale = init_scale
        self.random_state = random_state
        self.dtype = dtype

    # ------------------------------------------------------------------ state

    def initialize(self, n_inputs: int) -> "CRBM":
        self.codes_ = codes(self.output, self.n_classes).to(self.dtype)  # (n_codes, c)
        c, K = self.codes_.shape[1], int(self.n_hidden)
        g = torch.Generator().manual_seed(int(self.random_state))
        self.W_ = (torch.randn(n_inputs, K, generator=g) * self.init_scale).to(self.dtype)
        self.U_ = (torch.randn(c, K, generator=g) * self.init_scale).to(self.dtype)
        self.b_ = torch.zeros(n_inputs, dtype=self.dtype)
        self.c_ = torch.zeros(K, dtype=self.dtype)
        self.d_ = torch.zeros(c, dtype=self.dtype)
        return self

    def params(self) -> dict[str, torch.Tensor]:
        """The learned tensors by name (W, U, and the biases when they are learned)."""
        p = {"W": self.W_, "U": self.U_}
        if self.biases:
            p.update(b=self.b_, c=self.c_, d=self.d_)
        return p

    def state_dict(self) -> dict:
        return {"config": {"n_hidden": int(self.n_hidden), "output": self.output, "n_classes": int(self.n_classes),
                           "biases": bool(self.biases), "init_scale": float(self.init_scale),
                           "random_state": int(self.random_state)},
                "W": self.W_.clone(), "U": self.U_.clone(), "b": self.b_.clone(), "c": self.c_.clone(),
                "d": self.d_.clone()}

    def load_state_dict(self, state: dict) -> "CRBM":
        """Copy the tensors of `state_dict()` into this model's own, in place (an optimiser built on `params()`
        keeps working); the sizes must match."""
        for k in ("W", "U", "b", "c", "d"):
            getattr(self, f"{k}_").copy_(state[k])
        return self

    @classmethod
    def from_state_dict(cls, state: dict, dtype=torch.float32) -> "CRBM":
        m = cls(**state["config"], dtype=dtype)
        m.codes_ = codes(m.output, m.n_classes).to(dtype)
        for k in ("W", "U", "b", "c", "d"):
            setattr(m, f"{k}_", state[k].to(dtype).clone())
        return m

    @classmethod
    def from_arrays(cls, W, U, b=None, c=None, d=None, output: str = "binary") -> "CRBM":
        """A model with given weights (float64), e.g. a tiny one to enumerate; `output` only names the codes."""
        W, U = torch.as_tensor(np.asarray(W, np.float64)), torch.as_tensor(np.asarray(U, np.float64))
        m = cls(W.shape[1], output, 2 ** U.shape[0], True, dtype=torch.float64)
        m.codes_ = all_binary(U.shape[0]) if output == "binary" else torch.eye(U.shape[0], dtype=torch.float64)
        m.W_, m.U_ = W, U
        zeros = lambda n: torch.zeros(n, dtype=torch.float64)  # noqa: E731
        m.b_ = zeros(W.shape[0]) if b is None else torch.as_tensor(np.asarray(b, np.float64))
        m.c_ = zeros(W.shape[1]) if c is None else torch.as_tensor(np.asarray(c, np.float64))
        m.d_ = zeros(U.shape[0]) if d is None else torch.as_tensor(np.asarray(d, np.float64))
        return m

    def _t(self, a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).to(self.dtype)

    # ------------------------------------------------------------------ the identities

    def energy(self, x, y, h) -> torch.Tensor:
        """E(x, y, h) = -x^T W h - y^T U h - b^T x - d^T y - c^T h, (B,)."""
        x, y, h = self._t(x), self._t(y), self._t(h)
        return -((x @ self.W_) * h).sum(-1) - ((y @ self.U_) * h).sum(-1) - x @ self.b_ - y @ self.d_ - h @ self.c_

    def hidden_input(self, x, y) -> torch.Tensor:
        """x^T W_:k + y^T U_:k + c_k, (B, K)."""
        return self._t(x) @ self.W_ + self._t(y) @ self.U_ + self.c_

    def hidden_probs(self, x, y) -> torch.Tensor:
        """(a)(i) p(h_k = 1 | x, y) = sigm(x^T W_:k + y^T U_:k + c_k), (B, K)."""
        return torch.sigmoid(self.hidden_input(x, y))

    def output_bit_probs(self, h) -> torch.Tensor:
        """(a)(ii) p(y_j = 1 | h, x) = sigm(U_j: h + d_j), (B, c): every y in {0,1}^c allowed."""
        return torch.sigmoid(self._t(h) @ self.U_.T + self.d_)

    def input_probs(self, h) -> torch.Tensor:
        """p(x_i = 1 | h, y) = sigm(W_i: h + b_i), (B, d)."""
        return torch.sigmoid(self._t(h) @ self.W_.T + self.b_)

    def free_energy(self, x, y) -> torch.Tensor:
        """(b) F(x, y) = -sum_k softplus(x^T W_:k + y^T U_:k + c_k) - b^T x - d^T y, (B,)."""
        x, y = self._t(x), self._t(y)
        return -F.softplus(self.hidden_input(x, y)).sum(-1) - x @ self.b_ - y @ self.d_

    def _acts(self, x: torch.Tensor) -> torch.Tensor:
        """x^T W + y'^T U + c for every candidate y', (B, n_codes, K)."""
        return (x @ self.W_ + self.c_)[:, None, :] + (self.codes_ @ self.U_)[None, :, :]

    def free_energies(self, x) -> torch.Tensor:
        """F(x, y') for every candidate code y' (up to -b^T x, the same for all), (B, n_codes)."""
        x = self._t(x)
        return -F.softplus(self._acts(x)).sum(-1) - (self.codes_ @ self.d_)[None, :]

    def log_p_y_given_x(self, x, batch: int = 500) -> torch.Tensor:
        """log p(y' | x) for every candidate code y', (B, n_codes): exact, by enumerating the codes."""
        x = self._t(x)
        return torch.cat([torch.log_softmax(-self.free_energies(x[s:s + batch]), -1) for s in range(0, len(x), batch)])

    def code_index(self, labels) -> torch.Tensor:
        """The candidate row of each class label: the label itself (one-hot codes and binary codes alike)."""
        return torch.as_tensor(np.asarray(labels)).long()

    def targets(self, labels) -> torch.Tensor:
        """y of each label, (B, c)."""
        return self.codes_[self.code_index(labels)]

    @torch.no_grad()
    def predict_proba(self, x) -> np.ndarray:
        return self.log_p_y_given_x(x).exp().numpy()

    @torch.no_grad()
    def predict(self, x) -> np.ndarray:
        """argmax_y p(y | x) as a code index (binary codes 10-15 name no digit and count as errors)."""
        return self.log_p_y_given_x(x).argmax(1).numpy()

    # ------------------------------------------------------------------ gradients (ascent directions)

    def discriminative_gradient(self, x, labels) -> dict[str, torch.Tensor]:
        """The exact gradient of mean log p(y | x) over the batch:

            dW = x^T (s(y) - E_p(y'|x)[s(y')]),  dU = y^T s(y) - E_p(y'|x)[y'^T s(y')],  s(y) = sigm(x^T W + y^T U + c)
            dc = s(y) - E[s(y')],  dd = y - E[y'],  db = 0."""
        x = self._t(x)
        B = len(x)
        idx = self.code_index(labels)
        acts = self._acts(x)  # (B, n_codes, K)
        s = torch.sigmoid(acts)
        p = torch.softmax(F.softplus(acts).sum(-1) + (self.codes_ @ self.d_)[None, :], -1)  # (B, n_codes) p(y'|x)
        s_true = s[torch.arange(B), idx]  # (B, K)
        s_mean = torch.einsum("bn,bnk->bk", p, s)  # (B, K) E_p[s(y')]
        y_true = self.codes_[idx]  # (B, c)
        dU = (y_true.T @ s_true - torch.einsum("bn,nc,bnk->ck", p, self.codes_, s)) / B
        g = {"W": x.T @ (s_true - s_mean) / B, "U": dU}
        if self.biases:
            g.update(b=torch.zeros_like(self.b_), c=(s_true - s_mean).mean(0), d=(y_true - p @ self.codes_).mean(0))
        return g

    def sample_outputs(self, h: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """y ~ p(y | h) over the candidate codes, (B, c)."""
        logits = (h @ self.U_.T + self.d_) @ self.codes_.T  # (B, n_codes)
        return self.codes_[torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)[:, 0]]

    def _bern(self, p: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return (torch.rand(p.shape, generator=gen, dtype=p.dtype) < p).to(p.dtype)

    def gibbs(self, x: torch.Tensor, y: torch.Tensor, k: int, gen: torch.Generator, clamp_y: bool = False):
        """k steps of (x, y) -> h -> (x, y); returns (x, y, p(x | h) of the last step)."""
        px = x
        for _ in range(int(k)):
            h = self._bern(self.hidden_probs(x, y), gen)
            px = self.input_probs(h)
            x = self._bern(px, gen)
            if not clamp_y:
                y = self.sample_outputs(h, gen)
        return x, y, px

    def generative_gradient(self, x, labels, chains: tuple[torch.Tensor, torch.Tensor] | None, k: int,
                            gen: torch.Generator) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """CD-k (chains None: start at the data) or PCD-k (persistent chains (x, y)) estimate of the gradient of
        mean log p(x, y); returns it and the chains' new state."""
        x = self._t(x)
        y = self.targets(labels)
        h_pos = self.hidden_probs(x, y)
        xn, yn = (x, y) if chains is None else chains
        xn, yn, _ = self.gibbs(xn, yn, k, gen)
        h_neg = self.hidden_probs(xn, yn)
        B, N = len(x), len(xn)
        g = {"W": x.T @ h_pos / B - xn.T @ h_neg / N, "U": y.T @ h_pos / B - yn.T @ h_neg / N}
        if self.biases:
            g.update(b=x.mean(0) - xn.mean(0), c=h_pos.mean(0) - h_neg.mean(0), d=y.mean(0) - yn.mean(0))
        return g, (xn, yn)

    @torch.no_grad()
    def generate(self, labels, steps: int = 500, random_state: int = 0, init=None) -> np.ndarray:
        """Class-conditional samples: y clamped to each label's code, x Gibbs-sampled for `steps` steps from
        `init` (default: uniform noise); returns p(x | h) of the last step, (n, d)."""
        gen = torch.Generator().manual_seed(int(random_state))
        y = self.targets(labels)
        d = self.W_.shape[0]
        x = self._t(init) if init is not None else self._bern(torch.full((len(y), d), 0.5, dtype=self.dtype), gen)
        return self.gibbs(x, y, steps, gen, clamp_y=True)[2].numpy()


# ----------------------------------------------------------------------------- the MNIST run: three training modes side by side

@dataclass
class CRBMRun:
    """The conditional RBMs trained side by side on the same mini-batches (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS (x = the binarised image, y = its label)
    n_train: int = 8000  # training examples (the first n of the training split)
    n_eval: int = 2000  # held-out examples scored (the first n of the held-out split)
    output: str = "onehot"  # "onehot": y in the 10 one-hot codes; "binary": the label's 4-bit code, all 16 codes
    modes: tuple = MODES  # which of MODES to train
    hidden: int = 500  # hidden units K
    biases: bool = True  # learn b, c, d (the sheet's energy has none; without them p(y|x) lacks a class prior)
    epochs: int = 30  # passes over the training examples
    batch_size: int = 100  # examples per update
    lr: float = 0.01  # Adam's initial step size (cosine decay to 0 over the run)
    alpha: float = 0.01  # hybrid: log p(y|x) + alpha log p(x, y)
    k: int = 1  # Gibbs steps of the negative phase (generative, hybrid)
    persistent: bool = True  # PCD-k (persistent chains) instead of CD-k
    n_chains: int = 100  # persistent chains (PCD)
    weight_decay: float = 0.0  # L2 penalty on W and U
    seed: int = 0  # initial weights, mini-batch order, binarisation of the training images, chains


def arrays(run: CRBMRun, data: datasets.ImageData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(gray training images, training labels, binarised held-out images, held-out labels): training images are
    binarised afresh every epoch (pixel ~ Bernoulli(gray)); held-out ones once, by data.held_out_binary."""
    n_eval = min(int(run.n_eval), len(data.X_test))
    return (data.X_train[: int(run.n_train)], data.y_train[: int(run.n_train)],
            datasets.held_out_binary(data.X_test)[:n_eval], data.y_test[:n_eval])


class CRBMSteps(training.TorchSteps):
    """One epoch of every chosen training mode per unit (the same mini-batches and the same binarisation); after
    each, every model's held-out error and mean log p(y | x), and the seconds each mode has trained (its own updates,
    wall clock: core.progress.Stopwatch). Snapshot (core.training.TorchSteps): "nets" {mode: CRBM state},
    "opts" {mode: Adam state}, "rng", and "chains" (persistent, per mode) and "mode_seconds"; a shipped run keeps
    the models, the history and the seconds."""

    kind = "crbm"
    asset = "crbm"  # the page's default run
    ship_drop = ("opts", "rng", "chains")

    def __init__(self, run: CRBMRun, data: datasets.ImageData):
        modes = [m for m in MODES if m in tuple(run.modes)]
        if not modes:
            raise ValueError(f"choose at least one of {MODES}")
        if run.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, not {run.output!r}")
        n_classes = len(data.classes) or int(data.y_train.max()) + 1
        if run.output == "onehot" and n_classes != 10:
            raise ValueError(f"{data.title} has {n_classes} classes; the lab's codes are for 10")
        self.config, self.data, self.modes = run, data, modes

    def total(self) -> int:
        return int(self.config.epochs)

    def build(self) -> None:
        run = self.config
        Xtr, ytr, Xte, yte = arrays(run, self.data)
        self.Xtr, self.ytr = torch.as_tensor(Xtr), torch.as_tensor(ytr)
        self.Xte, self.yte = torch.as_tensor(Xte), yte
        self.Xtr_eval = torch.as_tensor(datasets.binarize(Xtr[:2000], 1))  # training error on a fixed subset
        d = self.Xtr.shape[1]
        self.nets = {m: CRBM(run.hidden, run.output, 10, run.biases, random_state=run.seed).initialize(d)
                     for m in self.modes}  # the same initial weights for every mode
        self.opts = {m: torch.optim.Adam(list(self.nets[m].params().values()), lr=float(run.lr)) for m in self.modes}
        self.gen = torch.Generator().manual_seed(int(run.seed))
        self.chains = {}
        for m in self.modes:
            if m != "discriminative" and run.persistent:
                x = (torch.rand(int(run.n_chains), d, generator=self.gen) < 0.5).float()
                y = self.nets[m].codes_[torch.randint(0, 10, (int(run.n_chains),), generator=self.gen)]
                self.chains[m] = (x, y)
        self.clock = Stopwatch({m: 0.0 for m in self.modes})

    def extra_state(self) -> dict:
        return {"chains": {m: {"x": c[0].clone(), "y": c[1].clone()} for m, c in self.chains.items()},
                "mode_seconds": self.clock.state()}

    def restore_extra(self, snapshot: dict) -> None:
        self.chains = {m: (c["x"].clone(), c["y"].clone()) for m, c in snapshot["chains"].items()}
        self.clock = Stopwatch(snapshot["mode_seconds"])

    def gradient(self, mode: str, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The ascent direction of the mode's objective on a mini-batch (PCD chains advance)."""
        run, model = self.config, self.nets[mode]
        g = model.discriminative_gradient(x, labels) if mode != "generative" else {}
        if mode != "discriminative":
            gg, chains = model.generative_gradient(x, labels, self.chains.get(mode), run.k, self.gen)
            if run.persistent:
                self.chains[mode] = chains
            w = 1.0 if mode == "generative" else float(run.alpha)
            g = {n: g[n] + w * gg[n] for n in gg} if g else gg
        return g

    def advance(self, done: int):
        run = self.config
        n, B = len(self.Xtr), int(run.batch_size)
        lr = 0.5 * float(run.lr) * (1 + math.cos(math.pi * done / max(1, self.total())))  # cosine decay
        for opt in self.opts.values():
            for group in opt.param_groups:
                group["lr"] = lr
        perm = torch.randperm(n, generator=self.gen)
        X = (torch.rand(self.Xtr.shape, generator=self.gen) < self.Xtr).float()  # this epoch's binarisation
        n_batches = math.ceil(n / B)
        for i in range(n_batches):
            idx = perm[i * B:(i + 1) * B]
            x, labels = X[idx], self.ytr[idx]
            for mode in self.modes:
                with self.clock(mode):
                    params = self.nets[mode].params()
                    g = self.gradient(mode, x, labels)
                    for name, p in params.items():
                        p.grad = -g[name] + (float(run.weight_decay) * p if name in ("W", "U") else 0.0)
                    self.opts[mode].step()
            if (i + 1) % 20 == 0 and i + 1 < n_batches:
                yield (i + 1) / n_batches

    @torch.no_grad()
    def measure(self, done: int) -> dict[str, float]:
        row = {}
        ytr_eval = self.ytr[: len(self.Xtr_eval)].numpy()
        for mode, model in self.nets.items():
            logp = model.log_p_y_given_x(self.Xte)
            pred = logp.argmax(1).numpy()
            row[f"error_{mode}"] = float((pred != self.yte).mean())
            row[f"log_p_{mode}"] = float(logp[torch.arange(len(self.yte)), torch.as_tensor(self.yte)].mean())
            row[f"train_error_{mode}"] = float((model.predict(self.Xtr_eval) != ytr_eval).mean())
            if model.output == "binary":
                row[f"invalid_{mode}"] = float((pred >= 10).mean())
            row[f"seconds_{mode}"] = self.clock[mode]
        return row

    def data_arrays(self) -> tuple:
        return arrays(self.config, self.data)


def model(result: dict, mode: str) -> CRBM:
    """One trained model of a run (a fresh object)."""
    return CRBM.from_state_dict(result["nets"][mode])


def confusion(labels: np.ndarray, pred: np.ndarray, n_codes: int) -> np.ndarray:
    """(10, n_codes) counts: row = true class, column = predicted code."""
    out = np.zeros((10, n_codes), np.int64)
    np.add.at(out, (np.asarray(labels), np.asarray(pred)), 1)
    return out


def main(argv=None):
    return training.main(CRBMSteps, CRBMRun(), argv, "Train conditional RBMs (discriminative, hybrid, generative) "
                         "side by side; print their held-out error.")


if __name__ == "__main__":
    main()
