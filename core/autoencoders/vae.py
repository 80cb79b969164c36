"""Variational autoencoder with a Bernoulli decoder (Kingma & Welling 2014), its beta-weighted and importance-weighted
(IWAE, Burda et al. 2016) training bounds, and the held-out log-likelihood by importance sampling.

    p(z) = N(0, I_d),   p(x | z) = prod_j Bernoulli(x_j; sigm(f(z)_j)),   q(z | x) = N(mu(x), diag sigma(x)^2)

f, mu and log sigma^2 are MLPs with two hidden layers of `hidden` units (encoder 784-h-h-2d, decoder d-h-h-784).

    ELBO(x)    = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)
    KL         = 1/2 sum_i (mu_i^2 + sigma_i^2 - 1 - log sigma_i^2)                    (closed form)
    beta-ELBO  = E_q[log p(x|z)] - beta KL                                              (k = 1: what training maximises)
    L_k        = E[log 1/k sum_i w_i],  w_i = p(x|z_i) (p(z_i) / q(z_i|x))^beta,  z_i ~ q(z|x)    (k > 1: IWAE)
    log p(x)  ~= log 1/K sum_i p(x|z_i) p(z_i) / q(z_i|x)       (importance sampling, K up to 5,000, in chunks)

The importance-sampled estimate is a stochastic lower bound: its expectation is L_K (beta = 1), which increases with K
towards log p(x) (Burda et al., Theorem 1). Its Monte-Carlo standard error (delta method) is sqrt(1/ESS - 1/K), with
ESS = (sum w)^2 / sum w^2 the effective number of samples.

Training (`VAESteps`, a core.training run): binarised MNIST with a fresh stochastic binarisation of the training
digits every epoch, each digit first moved by a random offset of up to `shift` pixels (8,000 digits are few: without
it the held-out ELBO stalls ~13 nats below the training ELBO after 60 epochs; with a 1-pixel shift the gap is ~5 and
the held-out numbers keep improving); held-out numbers always on `core.data.held_out_binary(X_test)` (the digits and binarisation of
every held-out log-likelihood in the app: the RBM's and DBM's AIS numbers are comparable). Adam, the KL weight raised
linearly from 0 to beta over the first `warmup` epochs.

    python -m core.autoencoders.vae --latent 32 --epochs 200         # train, print held-out ELBO every epoch
    python -m core.autoencoders.vae --latent 32 --out assets/vae_z32  # the shipped run (+ its k = 5,000 likelihood)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import assets, training
from core import data as datasets
from core.autoencoders.digits import DigitEpochs, check_schedule
from core.device import adam, pick_device

LOG_2PI = math.log(2 * math.pi)
EPOCHS = (1, 2, 5, 10, 20, 30, 50, 100, 130, 150, 200, 300, 500)  # page lengths: a longer run continues a shorter one
LATENTS = (2, 4, 8, 16, 32, 64)
ASSET_DIRS = {2: assets.folder("vae_z2"), 32: assets.folder("vae_z32")}  # shipped default runs, by latent size


# ----------------------------------------------------------------------------- the model

class VAE(nn.Module):
    """Encoder x -> (mu, log sigma^2), decoder z -> logits of p(x|z); two hidden layers each."""

    def __init__(self, n_visible: int = 784, latent: int = 2, hidden: int = 500):
        super().__init__()
        self.n_visible, self.latent, self.hidden = int(n_visible), int(latent), int(hidden)
        h, d = self.hidden, self.latent
        self.encoder = nn.Sequential(nn.Linear(n_visible, h), nn.Softplus(), nn.Linear(h, h), nn.Softplus(),
                                     nn.Linear(h, 2 * d))  # (B, 2d): mu, log sigma^2
        self.decoder = nn.Sequential(nn.Linear(d, h), nn.Softplus(), nn.Linear(h, h), nn.Softplus(),
                                     nn.Linear(h, n_visible))  # (B, n_v) logits

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_v) -> mu (B, d), log sigma^2 (B, d)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(..., d) -> logits (..., n_v) of p(x = 1 | z)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean reconstruction sigm(f(mu(x)))."""
        return torch.sigmoid(self.decode(self.encode(x)[0]))


def log_bernoulli(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) summed over the last axis: sum_j x_j l_j - softplus(l_j); broadcasts x over leading axes."""
    return (x * logits - F.softplus(logits)).sum(-1)


def log_normal_std(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last axis."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) = 1/2 sum (mu^2 + e^logvar - 1 - logvar), summed over the last axis."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def elbo_terms(model: VAE, x: torch.Tensor, eps: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-example ELBO pieces with the noise eps (S, B, d) (z = mu + sigma eps): reconstruction E_q[log p(x|z)] (mean
    over the S samples), the closed-form KL and elbo = reconstruction - KL; each (B,)."""
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * eps  # (S, B, d)
    rec = log_bernoulli(x, model.decode(z)).mean(0)  # (B,)
    kl = gaussian_kl(mu, logvar)
    return {"recon": rec, "kl": kl, "elbo": rec - kl}


def log_weights(model: VAE, x: torch.Tensor, eps: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """log w = log p(x|z) + beta (log p(z) - log q(z|x)) for z = mu + sigma eps; eps (S, B, d) -> (S, B)."""
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * eps  # (S, B, d)
    log_q = -0.5 * (eps.pow(2) + LOG_2PI + logvar).sum(-1)  # (S, B)
    return log_bernoulli(x, model.decode(z)) + beta * (log_normal_std(z) - log_q)


def training_bound(model: VAE, x: torch.Tensor, k: int, beta: float, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """The per-example objective maximised in training: the beta-ELBO (k = 1, closed-form KL) or the IWAE bound L_k
    (k > 1, log-mean-exp of k importance weights), with the ELBO pieces of the same samples for the curves."""
    eps = torch.randn((int(k), *x.shape[:-1], model.latent), generator=gen, device=x.device)  # (k, B, d)
    if k == 1:
        t = elbo_terms(model, x, eps)
        return {**t, "bound": t["recon"] - beta * t["kl"]}
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * eps
    log_px = log_bernoulli(x, model.decode(z))  # (k, B)
    log_q = -0.5 * (eps.pow(2) + LOG_2PI + logvar).sum(-1)
    lw = log_px + beta * (log_normal_std(z) - log_q)
    kl = gaussian_kl(mu, logvar)
    rec = log_px.mean(0)
    return {"recon": rec, "kl": kl, "elbo": rec - kl, "bound": torch.logsumexp(lw, 0) - math.log(k)}


# ----------------------------------------------------------------------------- held-out numbers

def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _as_input(model: nn.Module, X) -> torch.Tensor:
    """Rows X as a tensor of the model's device and dtype (a copy when converted: the caller's array is untouched)."""
    p = next(model.parameters())
    return torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X).to(p.device, p.dtype)


def _digit_noise(seed: int, rows: range, k: int, d: int, device) -> torch.Tensor:
    """(k, len(rows), d) standard normal noise; digit i's draws depend only on (seed, i): any batching gives the same."""
    out = torch.empty(k, len(rows), d)
    for j, i in enumerate(rows):
        out[:, j] = torch.randn(k, d, generator=torch.Generator().manual_seed(int(seed) * 1_000_003 + int(i)))
    return out.to(device)


@torch.no_grad()
def log_likelihood_is(model: VAE, X, k: int = 5000, seed: int = 0, max_rows: int = 8192,
                      callback=None) -> dict:
    """Importance-sampled log p(x) of each row of binary X with K = k samples from q(z|x) (see the module docstring).

    Memory stays at `max_rows` decoder rows at a time (digits x samples), whatever k. Returns {"ll": mean over rows,
    "se_mc": Monte-Carlo standard error of that mean, "se_digits": standard error over the rows (their spread),
    "ess": mean effective sample size, "per_digit": (n,) estimates, "per_digit_se": (n,), "k", "n", "seconds"}.
    callback(done_rows, n) is called after every batch of rows (progress)."""
    t0 = time.perf_counter()
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    model.eval()
    dev = _device_of(model)
    X = _as_input(model, X)
    n = len(X)
    if n == 0:
        raise ValueError("no digits to score")
    chunk = min(k, int(max_rows))
    per_batch = max(1, int(max_rows) // chunk)
    ll = np.empty(n)
    se = np.empty(n)
    ess = np.empty(n)
    for s in range(0, n, per_batch):
        rows = range(s, min(n, s + per_batch))
        x = X[rows.start:rows.stop]
        eps = _digit_noise(seed, rows, k, model.latent, dev).to(X.dtype)  # (k, b, d)
        m = torch.full((len(rows),), -math.inf, dtype=torch.float64, device=dev)
        s1 = torch.zeros(len(rows), dtype=torch.float64, device=dev)
        s2 = torch.zeros_like(s1)
        for c in range(0, k, chunk):
            lw = log_weights(model, x, eps[c:c + chunk]).double()  # (c, b)
            new_m = torch.maximum(m, lw.max(0).values)
            scale = torch.exp(m - new_m)
            s1 = s1 * scale + torch.exp(lw - new_m).sum(0)
            s2 = s2 * scale.pow(2) + torch.exp(2 * (lw - new_m)).sum(0)
            m = new_m
        ll[rows.start:rows.stop] = (m + torch.log(s1) - math.log(k)).cpu().numpy()
        e = (s1.pow(2) / s2).cpu().numpy()
        ess[rows.start:rows.stop] = e
        se[rows.start:rows.stop] = np.sqrt(np.clip(1.0 / e - 1.0 / k, 0.0, None))
        if callback is not None:
            callback(rows.stop, n)
    return {"ll": float(ll.mean()), "se_mc": float(np.sqrt((se ** 2).sum()) / n),
            "se_digits": float(ll.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0, "ess": float(ess.mean()),
            "per_digit": ll, "per_digit_se": se, "k": k, "n": n, "seconds": time.perf_counter() - t0}


@torch.no_grad()
def elbo_of(model: VAE, X, seed: int = 0, samples: int = 1, batch: int = 1000) -> dict[str, float]:
    """Mean held-out ELBO, reconstruction and KL of binary X (nats per image), `samples` draws of z per digit (seeded)."""
    model.eval()
    X = _as_input(model, X)
    gen = torch.Generator().manual_seed(int(seed))
    sums = {"elbo": 0.0, "recon": 0.0, "kl": 0.0}
    for s in range(0, len(X), batch):
        x = X[s:s + batch]
        eps = torch.randn((int(samples), len(x), model.latent), generator=gen).to(X)
        for key, v in elbo_terms(model, x, eps).items():
            sums[key] += float(v.sum())
    return {key: v / max(1, len(X)) for key, v in sums.items()}


@torch.no_grad()
def encode_means(model: VAE, X, batch: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of q(z|x) for each row of X, as (n, d) arrays."""
    model.eval()
    mus, sds = [], []
    for s in range(0, len(X), batch):
        mu, logvar = model.encode(_as_input(model, X[s:s + batch]))
        mus.append(mu.cpu().numpy())
        sds.append((0.5 * logvar).exp().cpu().numpy())
    return np.concatenate(mus), np.concatenate(sds)


@torch.no_grad()
def decode_means(model: VAE, Z) -> np.ndarray:
    """P(x = 1 | z) for each row of Z (n, d): the decoder's mean image."""
    model.eval()
    z = _as_input(model, Z).reshape(-1, model.latent)
    return torch.sigmoid(model.decode(z)).cpu().numpy()


@torch.no_grad()
def sample_prior(model: VAE, n: int, seed: int = 0) -> np.ndarray:
    """Decoder means of n codes z ~ N(0, I) (seeded)."""
    z = torch.randn(int(n), model.latent, generator=torch.Generator().manual_seed(int(seed)))
    return decode_means(model, z)


def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies across digits: Var_x E_q[z_i] > threshold (Burda et al.)."""
    return int((np.var(np.asarray(mu), axis=0) > threshold).sum())


def manifold_grid(n: int = 20, span: float = 0.95) -> np.ndarray:
    """(n*n, 2) latent points on the Gaussian quantiles of a regular grid of [1-span, span]^2 (Kingma & Welling's
    figure: equal probability mass between neighbours); rows top to bottom = z2 high to low, columns = z1 low to high."""
    from scipy.stats import norm

    q = norm.ppf(np.linspace(1 - span, span, int(n)))
    z1, z2 = np.meshgrid(q, q[::-1])
    return np.stack([z1.ravel(), z2.ravel()], 1).astype(np.float32)


def latent_plane(mu: np.ndarray) -> dict:
    """A 2-D view of codes mu (n, d): the codes themselves when d = 2, else their first two principal components
    (scikit-learn's PCA). Returns {"xy": (n, 2), "mean": (d,), "components": (2, d), "explained": (2,) variance
    ratios (1, 0 for d = 2)}; `plane_to_code` maps a point of the view back to a code."""
    mu = np.asarray(mu, np.float64)
    d = mu.shape[1]
    if d == 2:
        return {"xy": mu.astype(np.float32), "mean": np.zeros(2), "components": np.eye(2), "explained": np.array([1.0, 0.0])}
    from sklearn.decomposition import PCA

    pca = PCA(2, random_state=0).fit(mu)
    return {"xy": pca.transform(mu).astype(np.float32), "mean": pca.mean_, "components": pca.components_,
            "explained": pca.explained_variance_ratio_}


def plane_to_code(xy, plane: dict) -> np.ndarray:
    """Points (m, 2) of the view -> codes (m, d): mean + xy @ components (the code itself when d = 2)."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    return (plane["mean"] + xy @ plane["components"]).astype(np.float32)


def interpolate(z_a, z_b, steps: int = 10) -> np.ndarray:
    """Codes on the straight line from z_a to z_b, both ends included: (steps, d)."""
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    return ((1 - t) * np.asarray(z_a, np.float32)[None] + t * np.asarray(z_b, np.float32)[None]).astype(np.float32)


# ----------------------------------------------------------------------------- training run

@dataclass
class VAERun:
    """Everything that changes a trained VAE (the cache key)."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # training digits (the first n of the training split)
    latent: int = 2  # dimensions of z (2: the latent plane can be drawn)
    hidden: int = 500  # units of each of the two hidden layers of the encoder and of the decoder (softplus)
    beta: float = 1.0  # weight of the KL term (1: the ELBO; < 1 sharper reconstructions, > 1 a smoother latent space)
    k: int = 1  # importance samples of the training bound (1: the ELBO; > 1: the IWAE bound L_k)
    epochs: int = 130  # passes over the training digits (fresh binarisation each; 32-d: 269 CPU s, -99.73 nats)
    batch_size: int = 100  # digits per Adam step
    lr: float = 1e-3  # Adam step size in the first epoch
    lr_decay: float = 0.99  # the step size is multiplied by this every epoch (lr * lr_decay^epoch: 0.27 lr at 130)
    warmup: int = 10  # epochs over which the KL weight rises linearly from 0 to beta (0: none)
    shift: int = 1  # training digits moved by up to this many pixels each epoch (augmentation against overfitting)
    seed: int = 0  # initial weights, binarisations, batch order and noise
    n_eval: int = 2000  # held-out digits measured after every epoch


def shifted(X: torch.Tensor, shape: tuple[int, int, int], s: int, gen: torch.Generator) -> torch.Tensor:
    """Every image of X (n, C*H*W) moved by its own random offset in {-s, ..., s}^2 (rows, columns), zeros shifted in."""
    s = int(s)
    if s <= 0:
        return X
    C, H, W = shape
    imgs = X.reshape(-1, C, H, W)
    off = torch.randint(-s, s + 1, (len(X), 2), generator=gen)
    padded = F.pad(imgs, (s, s, s, s))  # (n, C, H + 2s, W + 2s)
    out = torch.empty_like(imgs)
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            idx = torch.nonzero((off[:, 0] == dy) & (off[:, 1] == dx)).squeeze(1).to(X.device)
            if len(idx):
                out[idx] = padded[idx, :, s - dy: s - dy + H, s - dx: s - dx + W]
    return out.reshape(len(X), -1)


def kl_weight(run: VAERun, epoch: int) -> float:
    """The KL weight during epoch `epoch` (0-based): beta * min(1, (epoch + 1) / warmup)."""
    w = int(run.warmup)
    return float(run.beta) * (1.0 if w <= 0 else min(1.0, (epoch + 1) / w))


def check_run(run: VAERun, data: datasets.ImageData) -> None:
    """One-line errors for settings that cannot train."""
    if int(run.latent) < 1 or int(run.hidden) < 1:
        raise ValueError("latent and hidden sizes must be positive")
    if not (float(run.beta) >= 0 and math.isfinite(float(run.beta))):
        raise ValueError(f"beta must be a non-negative number, got {run.beta}")
    if int(run.k) < 1 or int(run.batch_size) < 1 or int(run.epochs) < 0:
        raise ValueError("k and the batch size must be at least 1, epochs at least 0")
    check_schedule(run, data)


class VAESteps(DigitEpochs):
    """One epoch per unit (Adam on mini-batches of a fresh binarisation); after each, the held-out ELBO, its
    reconstruction and KL terms and the active units, plus the epoch's training averages. Snapshot: the network
    "vae" with its Adam state and the generator (core.training.TorchSteps); a shipped run keeps the network."""

    kind = "vae"

    def __init__(self, run: VAERun, data: datasets.ImageData, device=None):
        check_run(run, data)
        super().__init__(run, data, device)

    def build(self) -> None:
        run = self.config
        self.prepare()
        self.model = training.seeded(run.seed, lambda: VAE(self.Xtr.shape[1], int(run.latent), int(run.hidden))).to(self.dev)
        self.opt = adam(self.model.parameters(), lr=float(run.lr))
        self.nets, self.opts = {"vae": self.model}, {"vae": self.opt}
        self.gen = torch.Generator().manual_seed(int(run.seed))
        self.stats = {}

    def advance(self, done: int):
        run, gen, model = self.config, self.gen, self.model
        n, B = len(self.Xtr), int(run.batch_size)
        X = shifted(self.Xtr, self.data.shape, int(run.shift), gen)  # a fresh small move of every digit
        Xb = (torch.rand(X.shape, generator=gen).to(self.dev) < X).float()  # and a fresh binarisation
        perm = torch.randperm(n, generator=gen).to(self.dev)
        beta = kl_weight(run, done)
        for group in self.opt.param_groups:
            group["lr"] = float(run.lr) * float(run.lr_decay) ** done
        model.train()
        sums = {"bound": 0.0, "elbo": 0.0, "recon": 0.0, "kl": 0.0}
        n_batches = math.ceil(n / B)
        for i in range(n_batches):
            x = Xb[perm[i * B:(i + 1) * B]]
            t = training_bound(model, x, int(run.k), beta, gen)
            loss = -t["bound"].mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            for key in sums:
                sums[key] += float(t[key].detach().sum())
            if i + 1 < n_batches and (i + 1) % 40 == 0:
                yield (i + 1) / n_batches
        self.stats = {f"train_{key}": v / n for key, v in sums.items()}
        self.stats["kl_weight"] = beta

    def measure(self, done: int) -> dict[str, float]:
        model = self.model
        ev = elbo_of(model, self.Xev, seed=0)
        mu, _ = encode_means(model, self.Xev)
        out = {"elbo": ev["elbo"], "recon": ev["recon"], "kl": ev["kl"], "active_units": active_units(mu)}
        stats, self.stats = self.stats, {}
        return {**out, **stats}

    def continues(self) -> list:
        """The same run with fewer epochs (the page's lengths), longest first."""
        return [replace(self.config, epochs=m) for m in sorted(EPOCHS, reverse=True) if m < int(self.config.epochs)]

    def asset_folder(self):
        """assets/vae_z2 or vae_z32: the page's default run of each latent size."""
        return ASSET_DIRS.get(int(self.config.latent))


def model(result: dict, device=None) -> VAE:
    """The VAE of a finished or partial run (a fresh module in eval mode)."""
    run = VAERun(**result["config"])
    state = result["nets"]["vae"]
    m = VAE(state["encoder.0.weight"].shape[1], int(run.latent), int(run.hidden))
    m.load_state_dict(state)
    return m.to(pick_device(device)).eval()


def train(run: VAERun, data: datasets.ImageData, partial: dict | None = None, device=None):
    """The run's training iterator (core.training.train of VAESteps)."""
    return training.train(VAESteps(run, data, device), partial)


# ----------------------------------------------------------------------------- shipped runs

def shipped_scores(latent: int) -> dict | None:
    """The provenance scores of the shipped run with this latent size (its k = 5,000 likelihood), or None."""
    where = ASSET_DIRS.get(int(latent))
    run = assets.load(where) if where is not None else None
    return run["provenance"].get("scores") if run else None


def finish(result: dict, data: datasets.ImageData, is_k: int = 5000, is_n: int = 2000) -> dict:
    """Scores of a finished run for its provenance: held-out ELBO and importance-sampled log-likelihood."""
    m = model(result)
    V = datasets.held_out_binary(data.X_test)[: int(is_n)]
    t = time.perf_counter()
    ll = log_likelihood_is(m, V, k=int(is_k))
    return {"heldout_elbo": elbo_of(m, V, samples=10), "heldout_ll_is": {key: ll[key] for key in
            ("ll", "se_mc", "se_digits", "ess", "k", "n")}, "is_seconds": round(time.perf_counter() - t, 1),
            "note": "held-out nats per image on core.data.held_out_binary(X_test); log p(x) by importance sampling "
                    "with k samples from q(z|x) (a stochastic lower bound)"}


def main(argv=None):
    return training.main(VAESteps, VAERun(), argv,
                         "Train a VAE on binarised digits; with --out also estimate the held-out log-likelihood by "
                         "importance sampling and write the run with its provenance.", finish=finish,
                         finish_args={"is_k": (int, 5000, "importance samples per digit (with --out)"),
                                      "is_n": (int, 2000, "held-out digits scored (with --out)")})


if __name__ == "__main__":
    main()
