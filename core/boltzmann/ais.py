"""Annealed importance sampling (AIS) of the partition function of RBMs and two-layer DBMs (its reverse, RAISE, is
in core.boltzmann.reverse_ais, the base models in core.boltzmann.ais_base).

Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks". AIS moves
`n_runs` independent chains from a tractable base model p_0 (beta = 0) to the model p_1 (beta = 1)
through intermediate models p_beta, and accumulates importance weights

    log w = sum_k [ log f_{beta_k}(x_{k-1}) - log f_{beta_{k-1}}(x_{k-1}) ],   x_k ~ T_{beta_k}(. | x_{k-1}),

whose mean estimates Z_1 / Z_0 without bias; its log therefore underestimates log Z on average (Jensen), and a
log-likelihood computed with it errs high (optimistic).

Base model: a mixture of M Bernoulli images (`BernoulliMixture`, fit by EM to the training digits, or for the DBM to
P(v | h1) of its own Gibbs chains, `dbm_model_base`; M = 1 with the pixel means is Salakhutdinov & Murray's base-rate
model), with its component index m as one more latent:

    f_beta(v, h, m) = [pi_m prod_j Bern(v_j; mu_mj)]^(1 - beta) exp(-E(v, h))^beta.

Z_0 = 2^(hidden units) (the mixture is normalised) and Z_1 = M Z (m is uniform and decoupled at beta = 1): the
estimate of log Z subtracts log M.

RBM (state v; h and m summed out), x = W v + c:

    log f_beta(v) = logsumexp_m (1 - beta) [log pi_m + log p(v | m)] + beta b.v + sum_i softplus(beta x_i).

Gibbs step at beta: m | v ~ softmax_m (1 - beta)(log pi_m + log p(v | m)) and h | v ~ sigm(beta x) (independent given
v), then v | h, m ~ sigm((1 - beta) logit mu_m + beta (b + W^T h)): a two-block data-augmentation step, reversible
with respect to f_beta(v), which RAISE needs.

DBM v - h1 - h2 (state (h1, m); v and h2 summed out), a = b + W1^T h1, t = c2 + W2 h1:

    log f_beta(h1, m) = (1 - beta)[log pi_m + sum_j log(1 - mu_mj)] + beta c1.h1
                        + sum_j softplus((1 - beta) logit mu_mj + beta a_j) + sum_k softplus(beta t_k),

Z_0 = 2^(n1 + n2). Step: v | h1, m and h2 | h1, then h1 | v, h2 and m | v (h1 and m are independent given v, h2),
which leaves f_beta(h1, m) invariant. With M = 1 both paths are exactly the base-rate AIS of the paper.

Measured on the shipped 784-500 RBM and 784-500-500 DBM (assets/dbm; seed 0, one CPU thread; log Z_hat):

    base               runs  temperatures:  1,000   2,000   4,000   8,000  14,500  16,000   ESS at 8,000
    RBM base rates     100                  408.2           423.1*          427.8*                  1-7
    RBM mixture M=20   100                  436.1   437.1   438.4   438.5           437.8    3.2
    RBM mixture M=20   100 (seed 1)                                 437.9                    4.8
    RBM mixture M=50   100                                          437.4                    2.1
    DBM base rates     100                          770.7           779.8   779.0*
    DBM mixture M=20   100                          781.3           782.0                    3.1
    (* from the issue; 4,000 with the S&M spacing, 14,500 the old default)

The base-rate path is far from converged at the old default (log Z_hat 10 nats low for the RBM, the RBM's
held-out figure 10 nats optimistic); the mixture path reaches its plateau by about 4,000 temperatures, after which
what moves log Z_hat is the noise of a few heavy runs (log-weight s.d. about 27 nats: most runs end in modes the RBM
weighs little), not the path. Spacing the 4,000 temperatures evenly in thirds or linearly changed log Z_hat by
< 1 nat (437.4, 437.7), within that noise. Hence the defaults: M = 20, 4,000 temperatures, 400 runs (the runs cut
the noise); the shipped models' convergence curves at 400 runs are in their provenance (scores.log_likelihood.
log_z_curve) and tests/benchmarks/bench_yardsticks.py measures the doubling. RAISE with the same base on 200
held-out digits: -134.07 (500 temperatures), -134.74 (2,000) against AIS -134.65 on the same digits.

A base close to the MODEL, not the data. Fit to the training digits, the DBM's base left log Z_hat at 783.19, 782.51,
784.44 at 2,000, 4,000, 8,000 temperatures (ESS 1-4 of 400): most runs start in modes the DBM weighs little. Fit to
P(v | h1) at the end of 2,000 Gibbs chains of the DBM itself (200 sweeps from training digits, 20 CPU s:
`dbm_model_base`), 400 runs, seed 0: 779.43, 781.32, 781.77 at 1,000, 2,000, 4,000 (ESS 2.2, 6.7, 16.4; log-weight
s.d. 9.8 nats); seed 1 at 4,000: 783.53 (ESS 5.8): the seeds still differ by 1.8 nats, so the DBM's figure keeps an
uncertainty of a couple of nats that no band shows. Tried and worse: a base over h1 (a mixture over h1 fit to the
chains' h1, state h1 with v, h2 and m summed out, Z_0 = 2^(n_v + n2); right against enumeration) gave log-weight s.d.
45 nats and ESS 1: its components' model masses differ by up to 200 nats (20 products of Bernoullis are far from the
DBM's correlated h1); reweighting the v-space components by a pilot run's weights: ESS 5.4 at 4,000. The same idea
for the DBN's top RBM (assets/dbn; `rbm_model_base` on its own chains from its training input): 284.36 at 4,000
(ESS 7.9), 284.29 at 8,000 (ESS 10.3), where the data-fit base gave 282.23 and 283.76.

With the defaults (400 runs; `python -m core.boltzmann.dbm --rescore`, 2 threads, other work on the machine):

    log Z_hat at       500     1,000   2,000   4,000   8,000   ESS at 4,000   CPU s at 4,000
    RBM              433.05   435.31  436.67  437.68  438.15    8.9 of 400       57
    DBM              770.01   776.55  783.19  782.51  784.44    4.3 of 400      102
    DBM, own base    772.37   779.43  781.32  781.77  784.06   16.4 of 400       90     (DBM.model_base)

At 4,000 temperatures the RBM meets the target (+0.47 nats when they double); the DBM does not, with either base
(+1.93 from the digits' base, +2.29 from its own). But that is the runs, not the path: 2,000 runs at 4,000 gave
784.48 (ESS 2.5), and 400 runs at 16,000 gave 784.54, against 784.44 at 8,000: a heavy run is what 400 runs at 4,000
miss. So the DBM's shipped scores use 8,000 temperatures (`core.boltzmann.dbm.SHIPPED_BETAS`), where doubling moves
its log Z_hat +0.10 and the RBM's -0.47 (437.68 at 16,000); its figure moved from -112.44 to -114.37. RBM
sandwich on all 2,000 held-out digits: RAISE (2,000 temperatures) -139.26, AIS (8,000) -138.75, width 0.51 nats;
RAISE took 121 CPU s (2 threads). The DBN (`python -m core.autoencoders.stacks --rescore`, default): its top
RBM's base fit to its own chains gives 282.43, 284.57, 284.34, 284.36, 284.29 at 500 ... 8,000 (ESS 3.6-10.3;
-0.07 nats on doubling); its first RBM alone keeps the digits' base: 368.4, 372.0, 375.1, 372.0, 371.2
(ESS 1-4: noise of about 2 nats).

Products run in float32; the log weights are accumulated in float64 from the float32 pre-activations (their
rounding enters multiplied by beta_k - beta_{k-1}, so it stays negligible).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.boltzmann.ais_base import (DEFAULT_COMPONENTS, BernoulliMixture, base_rate_biases, base_rates,  # noqa: F401
                                     dbm_model_base, default_base, fit_bernoulli_mixture, rbm_model_base)
from core.device import pick_device, torch_threads

DEFAULT_BETAS = 4_000  # temperatures, spaced as Salakhutdinov & Murray (see betas_schedule); measured below
DEFAULT_RUNS = 400  # AIS runs: with a mixture base the error is the runs' noise, not the path's bias (measured below)
DEFAULT_RAISE_BETAS = 2_000  # temperatures of the reverse (RAISE) path
CLI_FLAGS = {"betas": (int, DEFAULT_BETAS, "AIS temperatures (with --out)"),  # a lab's command line's AIS flags
             "runs": (int, DEFAULT_RUNS, "AIS runs (with --out)"),
             "components": (int, DEFAULT_COMPONENTS, "components of the AIS base model (with --out)")}


# ----------------------------------------------------------------------------- base models

def checked_base(base, base_visible_bias, X, n_v: int) -> BernoulliMixture:
    """`base` as float64 with mu clipped inside (0, 1), else the one-component model of `base_visible_bias`, else the
    base rates of X, else uniform; its width must be n_v."""
    if base is None:
        if base_visible_bias is None:
            base_visible_bias = np.zeros(n_v) if X is None else base_rate_biases(X)
        bA = np.asarray(base_visible_bias, dtype=np.float64)
        base = BernoulliMixture(np.zeros(1), 1.0 / (1.0 + np.exp(-bA.reshape(1, -1))))
    mu = np.asarray(base.mu, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[1] != n_v:
        raise ValueError(f"the base model must have {n_v} pixels, got shape {tuple(mu.shape)}")
    return BernoulliMixture(np.asarray(base.log_pi, dtype=np.float64), np.clip(mu, 1e-12, 1 - 1e-12))


# ----------------------------------------------------------------------------- results

@dataclass
class AISResult:
    log_z: float  # estimate of log Z: log Z_0 + log mean(w) - log M
    log_z_low: float  # log(mean(w) - 3 standard errors) + log Z_0 - log M (-inf when the band reaches 0)
    log_z_high: float  # log(mean(w) + 3 standard errors) + log Z_0 - log M
    log_z_base: float  # log Z_0 of the base path's start (2^hidden units; the mixture itself is normalised)
    log_weights: np.ndarray  # (n_runs,) log importance weights
    n_betas: int  # intermediate distributions, including beta = 0 and 1
    seconds: float  # wall-clock time of the annealing
    cpu_seconds: float = float("nan")  # CPU time of the process during the annealing (all threads)
    n_components: int = 1  # components M of the Bernoulli-mixture base model

    @property
    def n_runs(self) -> int:
        return len(self.log_weights)

    @property
    def ess(self) -> float:
        """Effective sample size of the importance weights, in [1, n_runs]."""
        lw = self.log_weights - self.log_weights.max()
        w = np.exp(lw)
        return float(w.sum() ** 2 / (w ** 2).sum())

    @property
    def band_meaningful(self) -> bool:
        """Whether the +-3 s.e. band says anything: with an ESS of a few runs the standard error of the weights
        is itself unknown (it is dominated by the rare heavy runs that were not drawn), so no band is shown."""
        return self.ess >= MIN_ESS_FOR_BAND

    @property
    def width(self) -> float:
        """Width of the band in nats (inf when its lower end reaches 0)."""
        return self.log_z_high - self.log_z_low

    def log_likelihood(self, unnormalized_log_prob) -> tuple[float, float, float]:
        """(estimate, low, high) of mean log p(v) = mean log p*(v) - log Z; note that low uses log_z_high."""
        m = float(np.mean(np.asarray(unnormalized_log_prob, dtype=np.float64)))
        return m - self.log_z, m - self.log_z_high, m - self.log_z_low

    def as_dict(self) -> dict:
        return {"log_z": self.log_z, "log_z_low": self.log_z_low, "log_z_high": self.log_z_high,
                "log_z_base": self.log_z_base, "n_runs": self.n_runs, "n_betas": self.n_betas,
                "n_components": self.n_components, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "ess": self.ess, "band_meaningful": self.band_meaningful}


MIN_ESS_FOR_BAND = 30.0  # below this effective sample size no +-s.e. band is drawn or stored as meaningful


def betas_schedule(n: int = 14_500) -> np.ndarray:
    """n inverse temperatures from 0 to 1, spaced as Salakhutdinov & Murray (500/4,000/10,000 of 14,500
    in [0, .5), [.5, .9), [.9, 1]): finer where the distributions change fastest."""
    n = int(n)
    if n < 2:
        raise ValueError("AIS needs at least 2 betas (0 and 1)")
    n1 = max(1, round(n * 500 / 14_500))
    n2 = max(1, round(n * 4_000 / 14_500))
    n3 = n - n1 - n2
    if n3 < 1:
        return np.linspace(0.0, 1.0, n)
    return np.concatenate([np.linspace(0.0, 0.5, n1, endpoint=False), np.linspace(0.5, 0.9, n2, endpoint=False),
                           np.linspace(0.9, 1.0, n3)])


def _result(logw: torch.Tensor, log_z0: float, n_betas: int, t0: tuple[float, float], M: int) -> AISResult:
    lw = logw.cpu().numpy().astype(np.float64)
    m = lw.max()
    w = np.exp(lw - m)  # weights scaled by exp(-m)
    mean = w.mean()
    se = w.std(ddof=1) / math.sqrt(len(w)) if len(w) > 1 else 0.0
    shift = m + log_z0 - math.log(M)
    low = math.log(mean - 3 * se) + shift if mean - 3 * se > 0 else -math.inf
    return AISResult(math.log(mean) + shift, low, math.log(mean + 3 * se) + shift, log_z0, lw, n_betas,
                     time.perf_counter() - t0[0], time.process_time() - t0[1], M)


def prepare(betas, n_runs, random_state, device):
    betas = betas_schedule(betas) if np.isscalar(betas) else np.asarray(betas, dtype=np.float64)
    if len(betas) < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) < 0):
        raise ValueError("betas must increase from 0 to 1")
    if int(n_runs) < 1:
        raise ValueError("n_runs must be positive")
    dev = pick_device(device)
    gen = torch.Generator(device=dev).manual_seed(int(random_state))
    return betas, dev, gen


def _bern(P: torch.Tensor, gen: torch.Generator, out: torch.Tensor) -> torch.Tensor:
    out.uniform_(generator=gen)
    return out.lt_(P)


def _categorical(logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One index per row of (R, M) float64 logits, drawn by inverting the cumulative probabilities."""
    P = torch.softmax(logits, 1).cumsum(1)
    u = torch.rand(len(P), 1, generator=gen, device=P.device, dtype=P.dtype) * P[:, -1:]
    return (P < u).sum(1).clamp_(max=P.shape[1] - 1)


class _Mixture:
    """The base model's tensors on the device: log pi (M,), log mu and log(1 - mu) (M, n_v) float64, logit mu
    (M, n_v) float32."""

    def __init__(self, base: BernoulliMixture, dev):
        mu = torch.as_tensor(base.mu, dtype=torch.float64)
        self.M = mu.shape[0]
        self.log_pi = torch.as_tensor(base.log_pi, dtype=torch.float64).to(dev)
        self.L1, self.L0 = mu.log().to(dev), torch.log1p(-mu).to(dev)
        self.logit = (self.L1 - self.L0).to(dev, torch.float32)
        self.L0sum = self.L0.sum(1)  # (M,)

    def log_joint(self, V: torch.Tensor) -> torch.Tensor:
        """(R, M): log pi_m + log p(v | m), float64."""
        V64 = V.double()
        return self.log_pi + V64 @ (self.L1 - self.L0).T + self.L0sum

    def draw(self, R: int, gen) -> torch.Tensor:
        return _categorical(self.log_pi.expand(R, self.M), gen)


class RBMPath:
    """The annealing path of an RBM in v-space (h and m summed out), x = W v + c:

        log f_beta(v) = logsumexp_m (1 - beta) [log pi_m + log p(v | m)] + beta b.v + sum_i softplus(beta x_i)."""

    def __init__(self, W, b, c, base: BernoulliMixture, dev):
        self.W = torch.as_tensor(W).detach().to(dev, torch.float32)  # (n_h, n_v)
        n_h, n_v = self.W.shape
        self.b64 = torch.as_tensor(b).detach().to(dev, torch.float64).reshape(n_v)
        self.b32 = self.b64.float()
        self.c = torch.as_tensor(c).detach().to(dev, torch.float32).reshape(n_h)
        self.mix = _Mixture(base, dev)
        self.log_z0 = n_h * math.log(2.0)

    def terms(self, V: torch.Tensor):
        """What log f_beta(v) needs at any beta: (x float32 (R, n_h), G (R, M), b.v) of rows V."""
        return torch.addmm(self.c, V, self.W.T), self.mix.log_joint(V), V.double() @ self.b64

    def log_f(self, beta: float, x64: torch.Tensor, G: torch.Tensor, bv: torch.Tensor) -> torch.Tensor:
        base = torch.logsumexp((1.0 - beta) * G, 1) if self.mix.M > 1 else (1.0 - beta) * G[:, 0]
        return base + beta * bv + F.softplus(beta * x64).sum(1)

    def increment(self, beta: float, beta_prev: float, terms) -> torch.Tensor:
        """log f_beta(v) - log f_beta_prev(v) (float64, the pre-activations promoted from float32)."""
        x, G, bv = terms
        x64 = x.double()
        return self.log_f(beta, x64, G, bv) - self.log_f(beta_prev, x64, G, bv)

    def step(self, beta: float, V: torch.Tensor, terms, gen) -> torch.Tensor:
        """One Gibbs step of p_beta: (h, m) | v, then v | h, m (reversible with respect to f_beta(v))."""
        x, G, _ = terms
        H = _bern(torch.sigmoid(beta * x), gen, torch.empty_like(x))
        base = self.mix.logit[_categorical((1.0 - beta) * G, gen)] if self.mix.M > 1 else self.mix.logit[0]
        P = torch.addmm(self.b32, H, self.W, beta=beta, alpha=beta).add_(base, alpha=1.0 - beta).sigmoid_()
        return _bern(P, gen, torch.empty_like(P))

    def start(self, R: int, gen) -> torch.Tensor:
        """R draws of the base model."""
        mu = self.mix.logit[self.mix.draw(R, gen)] if self.mix.M > 1 else self.mix.logit[0].expand(R, -1)
        return _bern(torch.sigmoid(mu), gen, torch.empty(R, mu.shape[1], device=mu.device))


def ais_rbm(W, b, c, *, X=None, base_visible_bias=None, base: BernoulliMixture | None = None, betas=DEFAULT_BETAS,
            n_runs: int = DEFAULT_RUNS, random_state: int = 0, device=None, callback=None,
            threads: int | None = None) -> AISResult:
    """AIS estimate of log Z of a binary RBM (W: (n_h, n_v), b: (n_v,), c: (n_h,)).

    Base model: `base` (a Bernoulli mixture, see `default_base`), else the one-component model with visible
    biases `base_visible_bias`, else the base rates of X (training data), else uniform pixels. `betas`: a number
    of temperatures (schedule of `betas_schedule`) or the array itself. `callback(k, n_betas)` is called every
    500 temperatures (for progress bars). `threads`: see `torch_threads`.
    """
    with torch_threads(threads):
        return _ais_rbm(W, b, c, checked_base(base, base_visible_bias, X, np.shape(W)[1]), betas, n_runs, random_state,
                        device, callback)


@torch.no_grad()
def _ais_rbm(W, b, c, base, betas, n_runs, random_state, device, callback) -> AISResult:
    t0 = time.perf_counter(), time.process_time()
    betas, dev, gen = prepare(betas, n_runs, random_state, device)
    path = RBMPath(W, b, c, base, dev)
    V = path.start(int(n_runs), gen)  # x_0 ~ p_0
    logw = torch.zeros(int(n_runs), dtype=torch.float64, device=dev)
    for k in range(1, len(betas)):
        t = path.terms(V)
        logw += path.increment(float(betas[k]), float(betas[k - 1]), t)
        if k == len(betas) - 1:
            break
        V = path.step(float(betas[k]), V, t, gen)
        if callback is not None and k % 500 == 0:
            callback(k, len(betas))
    return _result(logw, path.log_z0, len(betas), t0, path.mix.M)


def rbm_unnormalized_log_prob(W, b, c, V) -> np.ndarray:
    """log p*(v) = -F(v) of each row of V (float64)."""
    from core.boltzmann.likelihood import free_energy

    W64, b64, c64 = (torch.as_tensor(t).detach().double().cpu() for t in (W, b, c))
    return (-free_energy(torch.as_tensor(np.asarray(V)).double(), W64, b64, c64)).numpy()


def rbm_log_likelihood(W, b, c, V_bin, X_base, betas=DEFAULT_BETAS, n_runs=DEFAULT_RUNS, random_state=0, device=None,
                       base: BernoulliMixture | None = None, n_components: int = DEFAULT_COMPONENTS) -> dict:
    """Mean held-out log p(v) of an RBM with log Z by AIS: {"ll", "ll_low", "ll_high", "ais": {...}}. Base model:
    `base`, else `default_base(X_base, n_components)`. The estimate errs high on average (log Z is underestimated
    on average); the band (+-3 s.e. of the weights) means little unless ais["band_meaningful"]."""
    base = default_base(X_base, n_components) if base is None else base
    r = ais_rbm(W, b, c, base=base, betas=betas, n_runs=n_runs, random_state=random_state, device=device)
    ll, lo, hi = r.log_likelihood(rbm_unnormalized_log_prob(W, b, c, V_bin))
    return {"ll": ll, "ll_low": lo, "ll_high": hi, "ais": r.as_dict()}


def convergence(estimate, temperatures) -> list[dict]:
    """log Z_hat against the number of temperatures: [{"n_betas", "log_z", "ess", "seconds", "cpu_seconds"}] of
    `estimate(K) -> AISResult` for each K (same seed: the runs differ only by their path)."""
    out = []
    for K in temperatures:
        r = estimate(int(K))
        out.append({"n_betas": int(K), "log_z": r.log_z, "ess": r.ess, "seconds": r.seconds,
                    "cpu_seconds": r.cpu_seconds})
    return out


# ----------------------------------------------------------------------------- two-layer DBM

def ais_dbm(W1, W2, b, c1, c2, *, X=None, base_visible_bias=None, base: BernoulliMixture | None = None,
            betas=DEFAULT_BETAS, n_runs: int = DEFAULT_RUNS, random_state: int = 0, device=None, callback=None,
            threads: int | None = None) -> AISResult:
    """AIS estimate of log Z of a binary DBM v - h1 - h2 (W1: (n1, n_v), W2: (n2, n1)); the state is (h1, m),
    v and h2 are summed out analytically. Base model (see `dbm_model_base`), betas, callback and threads as in
    `ais_rbm`."""
    with torch_threads(threads):
        return _ais_dbm(W1, W2, b, c1, c2, checked_base(base, base_visible_bias, X, np.shape(W1)[1]), betas, n_runs,
                        random_state, device, callback)


@torch.no_grad()
def _ais_dbm(W1, W2, b, c1, c2, base, betas, n_runs, random_state, device, callback) -> AISResult:
    t0 = time.perf_counter(), time.process_time()
    betas, dev, gen = prepare(betas, n_runs, random_state, device)
    W1 = torch.as_tensor(W1).detach().to(dev, torch.float32)  # (n1, n_v)
    W2 = torch.as_tensor(W2).detach().to(dev, torch.float32)  # (n2, n1)
    n1, n_v = W1.shape
    n2 = W2.shape[0]
    if W2.shape[1] != n1:
        raise ValueError(f"W2 must have shape (n2, {n1}), got {tuple(W2.shape)}")
    b = torch.as_tensor(b).detach().to(dev, torch.float32).reshape(n_v)
    c1_64 = torch.as_tensor(c1).detach().to(dev, torch.float64).reshape(n1)
    c1 = c1_64.float()
    c2 = torch.as_tensor(c2).detach().to(dev, torch.float32).reshape(n2)
    mix = _Mixture(base, dev)
    log_z0 = (n1 + n2) * math.log(2.0)
    R = int(n_runs)
    H1 = _bern(torch.full((R, n1), 0.5, device=dev), gen, torch.empty(R, n1, device=dev))  # uniform under p_0
    m = mix.draw(R, gen)  # (R,) the base model's component
    logw = torch.zeros(R, dtype=torch.float64, device=dev)
    A, T = torch.empty(R, n_v, device=dev), torch.empty(R, n2, device=dev)
    V, H2 = torch.empty(R, n_v, device=dev), torch.empty(R, n2, device=dev)
    P1 = torch.empty(R, n1, device=dev)

    def log_f(beta: float, a64, t64, h1c1, lg64, own):  # log f_beta(h1, m), v and h2 summed out
        return ((1.0 - beta) * own + beta * h1c1 + F.softplus((1.0 - beta) * lg64 + beta * a64).sum(1)
                + F.softplus(beta * t64).sum(1))

    for k in range(1, len(betas)):
        bk, bk1 = float(betas[k]), float(betas[k - 1])
        torch.addmm(b, H1, W1, out=A)  # (R, n_v): b + W1^T h1
        torch.addmm(c2, H1, W2.T, out=T)  # (R, n2): c2 + W2 h1
        lg = mix.logit[m] if mix.M > 1 else mix.logit[0].expand(R, -1)  # (R, n_v) logit mu_m
        own = mix.log_pi[m] + mix.L0sum[m]  # log pi_m + sum_j log(1 - mu_mj)
        a64, t64, h1c1, lg64 = A.double(), T.double(), H1.double() @ c1_64, lg.double()
        logw += log_f(bk, a64, t64, h1c1, lg64, own) - log_f(bk1, a64, t64, h1c1, lg64, own)
        if k == len(betas) - 1:
            break
        _bern(A.mul_(bk).add_(lg, alpha=1.0 - bk).sigmoid_(), gen, V)  # v | h1, m at beta_k
        _bern(T.mul_(bk).sigmoid_(), gen, H2)  # h2 | h1
        torch.addmm(c1, V, W1.T, out=P1)  # c1 + W1 v
        P1.addmm_(H2, W2).mul_(bk).sigmoid_()  # + W2^T h2, times beta
        _bern(P1, gen, H1)
        if mix.M > 1:
            m = _categorical((1.0 - bk) * mix.log_joint(V), gen)  # m | v
        if callback is not None and k % 500 == 0:
            callback(k, len(betas))
    return _result(logw, log_z0, len(betas), t0, mix.M)

