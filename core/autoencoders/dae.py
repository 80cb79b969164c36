"""Denoising autoencoders as generative models (Bengio, Yao, Alain & Vincent 2013, "Generalized denoising
auto-encoders as generative models"), beside a plain autoencoder.

A corruption process C(x~ | x) and a reconstruction distribution P(x | x~) = prod_j Bernoulli(x_j; sigm(g(x~))_j)
(an MLP g with one hidden layer) trained by maximum likelihood on pairs (x, x~ ~ C(x~ | x)) define a Markov chain

    x~_t ~ C(x~ | x_t),    x_{t+1} ~ P(x | x~_t)

whose stationary distribution estimates the data distribution when P is a consistent estimator of the true
conditional (Theorem 1 of the paper). A plain autoencoder (no corruption in training) only learns to copy, so the
same chain barely moves from its start: corruption is what makes the reconstruction a denoiser that points back
to the data.

Corruption (`corrupt`):
    salt-and-pepper, level rho: every pixel independently, with probability rho, is replaced by 0 or 1 with equal
        chance (so a fraction rho of the pixels is *reset*, and on a binary image a fraction rho/2 actually *flips*);
    Gaussian, level sigma: x~ = x + sigma * N(0, 1) per pixel (noise variance sigma^2, no clipping).

Walkback (the paper's Algorithm 2): from each training digit x, x* = x, x~ ~ C(x~ | x*), and the pair (x, x~) is an
example; then, while U(0, 1) < p, x* ~ P(x | x~) (the model's own sample, no gradient through it), x~ ~ C(x~ | x*),
and (x, x~) is one more example. The number of examples per digit is L = 1 + G with G geometric:
P(L = n) = p^(n-1) (1 - p), mean 1/(1 - p). Walkback trains the reconstruction on the far-from-data points the
chain itself visits, so that spurious modes near the data are removed and the chain mixes better.

`DAESteps` (a core.training run) trains the plain autoencoder, the denoising autoencoder and, on a switch, the
walkback DAE side by side (same initial weights, same digits, same batches; a fresh binarisation every epoch).

    python -m core.autoencoders.dae                 # the page's default run (1,000 tied units, level 0.5, 50 epochs)
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import training
from core import data as datasets
from core.autoencoders.digits import DigitEpochs
from core.device import pick_device

CORRUPTIONS = ("salt_pepper", "gaussian")
NAMES = {"ae": "plain autoencoder", "dae": "denoising autoencoder", "walkback": "DAE + walkback"}
EPOCHS = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200)  # the page's lengths: a longer run continues a shorter one


# ----------------------------------------------------------------------------- corruption and walkback

def corrupt(x: torch.Tensor, kind: str, level: float, gen: torch.Generator) -> torch.Tensor:
    """A sample x~ ~ C(x~ | x) (see the module docstring); a new tensor, x is not modified."""
    level = float(level)
    if kind == "salt_pepper":
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"the salt-and-pepper level is a probability in [0, 1], got {level}")
        u = torch.rand(x.shape, generator=gen).to(x.device)  # one uniform decides both: reset? and to what
        reset = u < level
        value = (u < level / 2).to(x.dtype)  # half of the reset pixels get 1, half 0
        return torch.where(reset, value, x)
    if kind == "gaussian":
        if not level >= 0.0:
            raise ValueError(f"the Gaussian noise level is a standard deviation >= 0, got {level}")
        return x + level * torch.randn(x.shape, generator=gen).to(x.device)
    raise ValueError(f"unknown corruption {kind!r}; choose one of {CORRUPTIONS}")


def walkback_lengths(n: int, p: float, gen: torch.Generator) -> torch.Tensor:
    """(n,) numbers of (x, x~) examples per digit: L = 1 + G, P(L = k) = p^(k-1) (1 - p) (inverse-CDF sampling)."""
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"the walkback probability must be in [0, 1), got {p}")
    if p == 0.0:
        return torch.ones(int(n), dtype=torch.long)
    u = torch.rand(int(n), generator=gen, dtype=torch.float64).clamp_min(1e-300)
    return 1 + torch.floor(torch.log(u) / math.log(p)).long()  # P(G >= g) = p^g


# ----------------------------------------------------------------------------- the model

class Autoencoder(nn.Module):
    """x~ (B, n_v) -> logits (B, n_v) of P(x | x~) = b' + W' tanh(b + W x~): one tanh hidden layer of `hidden` units;
    tied: W' = W^T (Vincent et al.'s tied weights, half the parameters)."""

    def __init__(self, n_visible: int = 784, hidden: int = 1000, tied: bool = False):
        super().__init__()
        self.tied = bool(tied)
        self.encoder = nn.Sequential(nn.Linear(n_visible, hidden), nn.Tanh())  # (B, h)
        if self.tied:
            self.decoder_bias = nn.Parameter(torch.zeros(n_visible))
        else:
            self.decoder = nn.Linear(hidden, n_visible)  # (B, n_v) logits

    @property
    def n_visible(self) -> int:
        return self.encoder[0].weight.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        if self.tied:
            return torch.addmm(self.decoder_bias, h, self.encoder[0].weight)  # (B, n_v)
        return self.decoder(h)


def nll(model: Autoencoder, x_in: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log P(x | x_in) per example (B,): the Bernoulli cross-entropy summed over pixels."""
    return F.binary_cross_entropy_with_logits(model(x_in), x, reduction="none").sum(1)


def walkback_pairs(model: Autoencoder, x: torch.Tensor, kind: str, level: float, p: float,
                   gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The walkback examples of a batch: (inputs x~ (N, n_v), targets x (N, n_v), lengths (B,)), N = sum of lengths."""
    lengths = walkback_lengths(len(x), p, gen).to(x.device)
    xt = corrupt(x, kind, level, gen)
    inputs, targets = [xt], [x]
    idx = torch.arange(len(x), device=x.device)
    step = 1
    while True:
        alive = lengths[idx] > step  # digits whose walk continues
        if not bool(alive.any()):
            break
        idx, xt = idx[alive], xt[alive]
        with torch.no_grad():
            probs = torch.sigmoid(model(xt))
            x_star = (torch.rand(probs.shape, generator=gen).to(x.device) < probs).to(x.dtype)  # x* ~ P(x | x~)
        xt = corrupt(x_star, kind, level, gen)
        inputs.append(xt)
        targets.append(x[idx])
        step += 1
    return torch.cat(inputs), torch.cat(targets), lengths


@torch.no_grad()
def chain(model: Autoencoder, x0, steps: int, kind: str, level: float, seed: int = 0,
          record=()) -> dict[int, np.ndarray]:
    """Run x~_t ~ C(x~ | x_t), x_{t+1} ~ P(x | x~_t) from the binary images x0 (n, n_v) for `steps` steps.

    Returns {t: P(x | x~_{t-1}) (n, n_v)} for each t in `record` (and `steps`); t = 0 gives x0 itself. The mean
    images are shown (as the RBM pages show P(v | h)); the chain itself continues from binary samples."""
    model.eval()
    dev = next(model.parameters()).device
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.as_tensor(np.asarray(x0, dtype=np.float32), device=dev)
    record = set(int(r) for r in record) | {int(steps)}
    out: dict[int, np.ndarray] = {}
    if 0 in record:
        out[0] = x.cpu().numpy()
    for t in range(1, int(steps) + 1):
        probs = torch.sigmoid(model(corrupt(x, kind, level, gen)))
        if t in record:
            out[t] = probs.cpu().numpy()
        x = (torch.rand(probs.shape, generator=gen).to(dev) < probs).to(x.dtype)
    return out


def noise_start(n: int, n_visible: int, seed: int = 0) -> np.ndarray:
    """n images of independent fair coin flips (the chains' start "from noise")."""
    g = torch.Generator().manual_seed(int(seed))
    return (torch.rand(int(n), int(n_visible), generator=g) < 0.5).float().numpy()


def chain_samples(model: Autoencoder, kind: str, level: float, n_chains: int = 100, burn_in: int = 100,
                  thin: int = 10, per_chain: int = 10, seed: int = 0, x0=None) -> dict:
    """Samples for scoring: n_chains chains from noise (or x0), after `burn_in` steps one picture every `thin` steps,
    `per_chain` pictures each. Returns {"images": (n_chains * per_chain, n_v) in chain-major order, "steps": [...]}."""
    n_v = model.n_visible
    start = noise_start(n_chains, n_v, seed) if x0 is None else np.asarray(x0, np.float32)
    steps = [int(burn_in) + int(thin) * i for i in range(int(per_chain))]
    frames = chain(model, start, steps[-1], kind, level, seed=seed, record=steps)
    imgs = np.stack([frames[s] for s in steps], 1)  # (n_chains, per_chain, n_v)
    return {"images": imgs.reshape(-1, imgs.shape[-1]), "steps": steps, "n_chains": len(start)}


@torch.no_grad()
def denoise_panel(models: dict[str, Autoencoder], X, kind: str, level: float, seed: int = 0) -> dict:
    """One seeded corruption of the binary rows X and every model's mean reconstruction of it:
    {"corrupted": (n, n_v) clipped to [0, 1] for display, name: (n, n_v) P(x | x~), "errors": {name: mean -log P(x | x~)}}."""
    x = torch.as_tensor(np.asarray(X, dtype=np.float32))
    xt = corrupt(x, kind, level, torch.Generator().manual_seed(int(seed)))
    out: dict = {"corrupted": xt.clamp(0.0, 1.0).numpy(), "errors": {}}
    for m, net in models.items():
        net.eval()
        out[m] = torch.sigmoid(net(xt)).numpy()
        out["errors"][m] = float(nll(net, xt, x).mean())
    return out


def mixing(labels: np.ndarray) -> dict[str, float]:
    """How chains move between classes, from the predicted classes (n_chains, T) of their recorded pictures:
    mean distinct classes visited per chain and the fraction of consecutive recorded pictures that change class."""
    labels = np.asarray(labels)
    distinct = float(np.mean([len(set(row.tolist())) for row in labels]))
    changes = float((labels[:, 1:] != labels[:, :-1]).mean()) if labels.shape[1] > 1 else 0.0
    return {"classes_per_chain": distinct, "class_change_rate": changes}


# ----------------------------------------------------------------------------- training run

@dataclass
class DAERun:
    """The plain AE, the DAE and (walkback) the walkback DAE trained side by side (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # training digits (the first n of the training split)
    hidden: int = 1000  # tanh units of the one hidden layer (3 tied models of 1,000 units ship in 4.7 MB)
    tied: bool = True  # decoder weights = encoder weights transposed (half the parameters)
    corruption: str = "salt_pepper"  # "salt_pepper" or "gaussian"
    level: float = 0.5  # salt-and-pepper: probability a pixel is reset to 0/1; Gaussian: the noise's standard deviation
    walkback: bool = True  # also train a DAE with walkback
    walkback_p: float = 0.5  # walkback: probability of one more corrupt-sample step (mean examples per digit 1/(1-p))
    epochs: int = 50  # passes over the training digits (a fresh binarisation each)
    batch_size: int = 100  # digits per Adam step
    lr: float = 1e-3  # Adam step size
    seed: int = 0  # initial weights (the same for every model), binarisations, batches, corruption
    n_eval: int = 500  # held-out digits measured after every epoch

    @property
    def models(self) -> tuple[str, ...]:
        return ("ae", "dae", "walkback") if self.walkback else ("ae", "dae")


def check_run(run: DAERun, data: datasets.ImageData) -> None:
    if run.corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {run.corruption!r}; choose one of {CORRUPTIONS}")
    if run.corruption == "salt_pepper" and not 0.0 <= float(run.level) <= 1.0:
        raise ValueError(f"the salt-and-pepper level is a probability in [0, 1], got {run.level}")
    if run.corruption == "gaussian" and not float(run.level) >= 0.0:
        raise ValueError(f"the Gaussian noise level must be >= 0, got {run.level}")
    if not 0.0 <= float(run.walkback_p) < 1.0:
        raise ValueError(f"the walkback probability must be in [0, 1), got {run.walkback_p}")
    if int(run.hidden) < 1 or int(run.batch_size) < 1 or min(int(run.n_train), len(data.X_train)) < 1:
        raise ValueError("hidden units, batch size and training digits must be positive")


class DAESteps(DigitEpochs):
    """One epoch of every model per unit; after each, every model's held-out denoising error -log P(x | x~)
    (fixed corruption of the held-out digits) and clean reconstruction error -log P(x | x), and the epoch's
    training loss. Snapshot (core.training.TorchSteps): "nets" and "opts" {name: ...} of every model, "rng"."""

    asset = "dae"

    kind = "dae"

    def __init__(self, run: DAERun, data: datasets.ImageData, device=None):
        check_run(run, data)
        super().__init__(run, data, device)

    def prepare(self) -> None:
        super().prepare()
        run = self.config
        self.Xev_in = corrupt(self.Xev, run.corruption, run.level, torch.Generator().manual_seed(12_345))  # fixed

    def build(self) -> None:
        run = self.config
        self.prepare()
        first = training.seeded(run.seed, lambda: Autoencoder(self.Xtr.shape[1], int(run.hidden), bool(run.tied)))
        self.models = {m: copy.deepcopy(first).to(self.dev) for m in run.models}  # the same initial weights
        self.opts = {m: torch.optim.Adam(net.parameters(), lr=float(run.lr)) for m, net in self.models.items()}
        self.nets = self.models
        self.gen = torch.Generator().manual_seed(int(run.seed))
        self.stats = {}

    def advance(self, done: int):
        run, gen = self.config, self.gen
        n, B = len(self.Xtr), int(run.batch_size)
        Xb = (torch.rand(self.Xtr.shape, generator=gen).to(self.dev) < self.Xtr).float()
        perm = torch.randperm(n, generator=gen).to(self.dev)
        sums = {m: 0.0 for m in self.models}
        pairs = 0
        n_batches = math.ceil(n / B)
        for net in self.models.values():
            net.train()
        for i in range(n_batches):
            x = Xb[perm[i * B:(i + 1) * B]]
            for m, net in self.models.items():
                if m == "ae":
                    x_in, target = x, x
                elif m == "dae":
                    x_in, target = corrupt(x, run.corruption, run.level, gen), x
                else:
                    x_in, target, lengths = walkback_pairs(net, x, run.corruption, run.level, run.walkback_p, gen)
                    pairs += int(lengths.sum())
                loss = nll(net, x_in, target).mean()
                self.opts[m].zero_grad(set_to_none=True)
                loss.backward()
                self.opts[m].step()
                sums[m] += float(loss.detach()) * len(x)
            if i + 1 < n_batches and (i + 1) % 40 == 0:
                yield (i + 1) / n_batches
        self.stats = {f"train_loss_{m}": v / n for m, v in sums.items()}
        if "walkback" in self.models:
            self.stats["walkback_examples_per_digit"] = pairs / n

    @torch.no_grad()
    def measure(self, done: int) -> dict[str, float]:
        out = {}
        for m, net in self.models.items():
            net.eval()
            out[f"denoise_{m}"] = float(nll(net, self.Xev_in, self.Xev).mean())
            out[f"recon_{m}"] = float(nll(net, self.Xev, self.Xev).mean())
        stats, self.stats = self.stats, {}
        return {**out, **stats}

    def continues(self) -> list:
        return [replace(self.config, epochs=m) for m in sorted(EPOCHS, reverse=True) if m < int(self.config.epochs)]

def models(result: dict, device=None) -> dict[str, Autoencoder]:
    """{name: Autoencoder in eval mode} of a finished or partial run (fresh modules)."""
    run = DAERun(**result["config"])
    out = {}
    for m, state in result["nets"].items():
        net = Autoencoder(state["encoder.0.weight"].shape[1], int(run.hidden), bool(run.tied))
        net.load_state_dict(state)
        out[m] = net.to(pick_device(device)).eval()
    return out


def train(run: DAERun, data: datasets.ImageData, partial: dict | None = None, device=None):
    return training.train(DAESteps(run, data, device), partial)


def score_chains(result: dict, data: datasets.ImageData, quality, n_chains: int = 100, burn_in: int = 100,
                 thin: int = 10, per_chain: int = 10, seed: int = 0) -> dict:
    """Every model's chain samples from noise scored by the quality classifier (core.quality.QualityModel.report):
    {name: {**report, "classes_per_chain", "class_change_rate"}}."""
    run = DAERun(**result["config"])
    out = {}
    for m, net in models(result).items():
        s = chain_samples(net, run.corruption, run.level, n_chains, burn_in, thin, per_chain, seed)
        rep = quality.report(s["images"])
        labels = quality.predict_proba(s["images"]).argmax(1).reshape(s["n_chains"], -1)
        out[m] = {**rep, **mixing(labels)}
    return out


def finish(result: dict, data: datasets.ImageData) -> dict:
    """Scores for the provenance: every model's chain quality from noise."""
    from core.quality import quality_model

    scores = score_chains(result, data, quality_model(data))
    keep = ("fid", "fid_floor", "fid_floor_sd", "fid_heldout", "fid_heldout_floor", "fid_ceiling", "classes_covered",
            "diversity", "classes_per_chain", "class_change_rate")
    return {"chains_from_noise": {m: {k: s[k] for k in keep} for m, s in scores.items()},
            "note": "100 chains from noise, 100 burn-in steps, then 10 pictures 10 steps apart each (1,000 images)"}


def main(argv=None):
    return training.main(DAESteps, DAERun(), argv, "Train a plain autoencoder, a denoising autoencoder and a walkback "
                         "DAE side by side; with --out score their chains and write the run.", finish=finish)


if __name__ == "__main__":
    main()
