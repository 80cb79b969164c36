"""The mixture-density lab's run: the least-squares MLP, the heteroscedastic Gaussian and the MDN trained side by
side on the same mini-batches (`MDNSteps`, see core.training), held-out NLL of each after every few epochs.

    python -m core.mdn.lab --m 3 --epochs 200                 # Bishop's inverse problem, the page's default run
    python -m core.mdn.lab --problem sinusoid --noise 1 --m 5

Every model is trained with Adam (cosine decay of the step size to 0 over the run) on standardised inputs and
targets; held-out NLLs are in the data's units (nats per point). The least-squares network minimises the squared
error; its likelihood uses one width for all inputs, the RMS of its training residuals (the maximum-likelihood
width). The Gaussian is the MDN with m = 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from core import training
from core.mdn import problems
from core.mdn.models import MDN, Scaler, gaussian, mlp

MODELS = ("ls", "gauss", "mdn")
NAMES = {"ls": "least squares", "gauss": "Gaussian", "mdn": "MDN"}


@dataclass
class MDNRun:
    """One side-by-side run: the data, the models and their training (the cache key)."""

    problem: str = "bishop"  # "bishop", "sinusoid" (core.mdn.problems.PROBLEMS) or "csv" (an upload, see csv_sha256)
    direction: str = "inverse"  # "inverse": predict x from t (multi-valued); "forward": t from x
    n_train: int = 1000  # training pairs (Bishop used 1,000)
    n_test: int = 5000  # held-out pairs for the NLL curves
    noise: float = 0.1  # noise width w: half-width of the uniform noise (bishop), standard deviation (sinusoid)
    data_seed: int = 0  # draws of the training and held-out pairs
    csv_sha256: str = ""  # an upload's fingerprint (problem "csv"): the pairs themselves come with the Steps
    models: tuple = MODELS  # which of MODELS to train
    m: int = 3  # MDN kernels
    hidden: int = 32  # tanh units per hidden layer (every model)
    layers: int = 1  # hidden layers (every model)
    epochs: int = 200  # passes over the training pairs
    batch_size: int = 200  # pairs per Adam step
    lr: float = 0.02  # Adam's initial step size (cosine decay to 0)
    measure_every: int = 5  # epochs between held-out measurements
    seed: int = 0  # initial weights and mini-batch order


def data_of(run: MDNRun) -> problems.XYData:
    """The pairs of a toy problem's run (an upload's pairs are given to MDNSteps instead)."""
    if run.problem == "csv":
        raise ValueError("an uploaded data set comes with its pairs: MDNSteps(run, data)")
    return problems.toy_data(run.problem, run.direction, run.n_train, run.n_test, run.noise, run.data_seed)


def references(run: MDNRun) -> dict[str, float]:
    """The Bayes limit and the two ideal baselines (core.mdn.problems.references); {} for an upload."""
    if run.problem == "csv":
        return {}
    return problems.references(run.problem, run.direction, run.noise)


def _net(run: MDNRun, kind: str, d: int, c: int) -> torch.nn.Module:
    if kind == "ls":
        return mlp(d, c, run.hidden, run.layers)
    return MDN(d, c, 1 if kind == "gauss" else run.m, run.hidden, run.layers)


class MDNSteps(training.TorchSteps):
    """One epoch of every chosen model per unit (the same mini-batches); every `measure_every` epochs each
    model's held-out and training NLL. One torch thread (the networks are tiny). Snapshot (core.training.TorchSteps):
    "nets" and "opts" {model: state}, "rng", and for the pages "scaler" (the standardisation, recomputed from the
    data on restore) and "ls_sigma" (the least-squares width, standardised units)."""

    kind = "mdn"
    threads = 0

    def __init__(self, run: MDNRun, data: problems.XYData | None = None):
        models = [k for k in MODELS if k in tuple(run.models)]
        if not models:
            raise ValueError(f"choose at least one of {MODELS}")
        if run.problem == "csv" and data is None:
            raise ValueError("an uploaded data set comes with its pairs: MDNSteps(run, data)")
        self.config, self.data, self.models = run, data, models

    @property
    def title(self) -> str:
        """The data in words (for the command line)."""
        return self.data.title if self.data is not None else data_of(self.config).title

    def total(self) -> int:
        return int(self.config.epochs)

    def due(self, done: int) -> bool:
        return done % max(1, int(self.config.measure_every)) == 0

    def _prepare(self) -> None:
        d = self.data if self.data is not None else data_of(self.config)
        self.data = d
        self.scaler = Scaler.fit(d.x_train, d.t_train)
        s = self.scaler
        self.X, self.T = s.x(d.x_train), s.t(d.t_train)  # (n, d), (n, c) standardised
        self.Xe, self.Te = s.x(d.x_test), s.t(d.t_test)

    def build(self) -> None:
        run = self.config
        self._prepare()
        d, c = self.X.shape[1], self.T.shape[1]
        self.nets = {k: training.seeded(int(run.seed) * 101 + MODELS.index(k), lambda k=k: _net(run, k, d, c))
                     for k in self.models}
        self.opts = {k: torch.optim.Adam(n.parameters(), lr=float(run.lr)) for k, n in self.nets.items()}
        self.gen = torch.Generator().manual_seed(int(run.seed))

    def extra_state(self) -> dict:
        out = {"scaler": self.scaler.state()}
        if "ls" in self.nets:
            out["ls_sigma"] = self.ls_sigma()
        return out

    def loss(self, kind: str, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The training loss: the squared error (least squares), else the mean NLL of the standardised targets."""
        net = self.nets[kind]
        if kind == "ls":
            return 0.5 * ((net(x) - t) ** 2).sum(1).mean()
        return -net.distribution(x).log_prob(t).mean()

    def advance(self, done: int) -> None:
        run = self.config
        n, B = len(self.X), int(run.batch_size)
        lr = 0.5 * float(run.lr) * (1 + math.cos(math.pi * done / max(1, self.total())))  # cosine decay
        perm = torch.randperm(n, generator=self.gen)
        for opt in self.opts.values():
            for group in opt.param_groups:
                group["lr"] = lr
        for s in range(0, n, B):
            idx = perm[s:s + B]
            x, t = self.X[idx], self.T[idx]
            for k in self.models:
                loss = self.loss(k, x, t)
                self.opts[k].zero_grad(set_to_none=True)
                loss.backward()
                self.opts[k].step()

    @torch.no_grad()
    def ls_sigma(self) -> float:
        """The least-squares model's one width (standardised units): the RMS of its training residuals."""
        r = self.nets["ls"](self.X) - self.T
        return float(r.pow(2).mean().sqrt())

    @torch.no_grad()
    def nll(self, kind: str, x: torch.Tensor, t: torch.Tensor) -> float:
        """Mean NLL in the data's units (nats per point)."""
        net = self.nets[kind]
        dist = gaussian(net(x), self.ls_sigma()) if kind == "ls" else net.distribution(x)
        return float(-dist.log_prob(t).mean()) + self.scaler.log_jacobian

    def measure(self, done: int) -> dict[str, float]:
        row = {}
        for k in self.models:
            row[f"nll_{k}"] = self.nll(k, self.Xe, self.Te)
            row[f"train_nll_{k}"] = self.nll(k, self.X, self.T)
        return row

    def data_arrays(self) -> tuple:
        return (self.data if self.data is not None else data_of(self.config)).arrays()


def m_sweep(run: MDNRun, ms=range(1, 11)) -> list[MDNRun]:
    """The MDN alone with m = 1 .. 10 kernels, every other setting as in `run`."""
    return [replace(run, models=("mdn",), m=int(m)) for m in ms]


# ----------------------------------------------------------------------------- a trained run, for the pages

class Fitted:
    """The models of a finished (or stopped) run, in the data's units. Nothing here changes the run's tensors."""

    def __init__(self, result: dict):
        self.run = MDNRun(**{**result["config"], "models": tuple(result["config"]["models"])})
        self.scaler = Scaler.from_state(result["scaler"])
        d, c = len(self.scaler.x_mean), len(self.scaler.t_mean)
        self.nets = {}
        for k, sd in result["nets"].items():
            net = _net(self.run, k, d, c)
            net.load_state_dict(sd)
            self.nets[k] = net.eval()
        self.ls_sigma = float(result.get("ls_sigma", 1.0))

    @torch.no_grad()
    def mixture_params(self, x: np.ndarray, kind: str = "mdn") -> dict[str, np.ndarray]:
        """alpha (n, m), mu (n, m, c) and sigma (n, m) at inputs x (n, d), in the data's units."""
        s = self.scaler
        za, zs, zm = self.nets[kind](s.x(x))
        mu = zm.double().numpy() * s.t_std + s.t_mean
        sigma = zs.double().exp().numpy() * float(s.t_std[0])  # one width per kernel (one target scale)
        return {"alpha": torch.softmax(za.double(), -1).numpy(), "mu": mu, "sigma": sigma}

    @torch.no_grad()
    def mean(self, x: np.ndarray, kind: str) -> np.ndarray:
        """The model's conditional average (n, c): the network (least squares) or sum_i alpha_i mu_i."""
        s = self.scaler
        if kind == "ls":
            return self.nets["ls"](s.x(x)).double().numpy() * s.t_std + s.t_mean
        p = self.mixture_params(x, kind)
        return (p["alpha"][..., None] * p["mu"]).sum(1)

    @torch.no_grad()
    def density(self, x: np.ndarray, t: np.ndarray, kind: str = "mdn") -> np.ndarray:
        """p(t | x) on a grid, (len(t), len(x)), for one-dimensional targets t (data units)."""
        s = self.scaler
        ts = s.t(np.asarray(t, np.float64).reshape(-1, 1))[:, None, :]  # (n_t, 1, 1): broadcasts over inputs
        xs = s.x(x)
        if kind == "ls":
            dist = gaussian(self.nets["ls"](xs), self.ls_sigma)
        else:
            dist = self.nets[kind].distribution(xs)
        return dist.log_prob(ts).double().exp().numpy() / float(np.prod(s.t_std))

    @torch.no_grad()
    def most_probable(self, x: np.ndarray, kind: str = "mdn") -> np.ndarray:
        """Bishop's 'most probable branch': the mean of the kernel with the largest alpha_i(x), (n, c)."""
        p = self.mixture_params(x, kind)
        return p["mu"][np.arange(len(x)), p["alpha"].argmax(1)]

    @torch.no_grad()
    def sample(self, x: np.ndarray, seed: int, kind: str = "mdn") -> np.ndarray:
        """One draw t ~ p(t | x) per input (n, c), from a local generator (the run is not changed)."""
        p = self.mixture_params(x, kind)
        g = torch.Generator().manual_seed(int(seed))
        alpha = torch.as_tensor(p["alpha"])
        i = torch.multinomial(alpha, 1, generator=g)[:, 0].numpy()  # (n,) the kernel of each draw
        rows = np.arange(len(x))
        noise = torch.randn(p["mu"].shape[0], p["mu"].shape[2], generator=g, dtype=torch.float64).numpy()
        return p["mu"][rows, i] + p["sigma"][rows, i, None] * noise

    def outputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The MDN's z^alpha (m,), z^sigma (m,), z^mu (m, c) at one input, converted to the data's units
        (z^mu = mu, z^sigma = log sigma; softmax is shift-invariant, so z^alpha is as the network gives it)."""
        p = self.mixture_params(np.asarray(x, np.float64).reshape(1, -1))
        return np.log(p["alpha"][0]), np.log(p["sigma"][0]), p["mu"][0]


def main(argv=None):
    return training.main(MDNSteps, MDNRun(), argv, "Train the least-squares MLP, the Gaussian and the MDN side by "
                         "side; print their held-out NLLs.")


if __name__ == "__main__":
    main()
