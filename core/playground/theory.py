"""The course's claims about GANs, as numbers that can be measured on 2-D data.

    D*(x) = p_data(x) / (p_data(x) + p_g(x))            optimal discriminator for a fixed G (Goodfellow et al.
                                                         2014, Prop. 1; also LSGAN's with 0/1 targets)
    V(D, G) = E log D(x) + E log(1 - D(G(z)))           at p_g = p_data and D = D* = 1/2: V = -log 4
    W1(P, Q) = sup_{||f||_L <= 1} E_P f - E_Q f         (Kantorovich-Rubinstein) = min over couplings of E ||x - y||

p_data is the target's exact density (core.playground.targets); p_g is not known in closed form, so it is a Gaussian
kernel density of G's samples (`kde_log_density`: Scott's bandwidth n^(-1/6) sigma unless given, or the width that
maximises held-out likelihood, `likelihood_bandwidth`), which blurs sharp modes of G (a bandwidth error of the D*
estimate, largest where p_g changes fast; the held-out choice keeps it small). W1 between two batches is
computed exactly by POT's network simplex (`ot.emd2`, Euclidean cost); between two samples it overestimates the W1 of
the distributions (sampling noise adds transport), so the critic's estimate is compared with it on the same batches.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def optimal_d(p_data, p_g) -> np.ndarray:
    """p_data / (p_data + p_g) elementwise; 1/2 where both densities are zero (no information)."""
    p, q = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    s = p + q
    return np.where(s > 0, p / np.where(s > 0, s, 1.0), 0.5)


def optimal_d_from_logs(log_p_data, log_p_g) -> np.ndarray:
    """D* from log densities, stable where both are tiny: sigm(log p_data - log p_g)."""
    return 1.0 / (1.0 + np.exp(np.asarray(log_p_g, np.float64) - np.asarray(log_p_data, np.float64)))


def scott_bandwidth(samples) -> float:
    """Scott's rule in 2-D: n^(-1/6) times the mean of the two coordinates' standard deviations."""
    S = np.asarray(samples, np.float64)
    return float(len(S) ** (-1 / 6) * S.std(0).mean())


def kde_log_density(samples, points, bandwidth: float | None = None, chunk: int = 0) -> np.ndarray:
    """log of the Gaussian kernel density of `samples` (n, 2) at `points` (P, 2) (in chunks of points that keep
    each distance block near 2^23 entries unless `chunk` is given)."""
    S = torch.as_tensor(np.asarray(samples, np.float64))
    P = torch.as_tensor(np.asarray(points, np.float64)).reshape(-1, 2)
    h = float(bandwidth) if bandwidth else scott_bandwidth(S.numpy())
    chunk = int(chunk) or max(1, 2 ** 23 // max(1, len(S)))
    out = []
    for i in range(0, len(P), chunk):
        d2 = torch.cdist(P[i:i + chunk], S).pow(2)
        out.append(torch.logsumexp(-d2 / (2 * h * h), 1) - math.log(len(S)) - math.log(2 * math.pi * h * h))
    return torch.cat(out).numpy() if out else np.zeros(0)


def likelihood_bandwidth(samples, held_out, factors=tuple(np.geomspace(0.1, 1.5, 12))) -> tuple[float, dict]:
    """The kernel width, among `factors` times Scott's, that gives held-out points (samples of the same
    distribution not used by the kernel density) the largest mean log-likelihood. Returns (width, {width: mean
    log-likelihood}). Scott's rule assumes one Gaussian blob and oversmooths a generator's sharp modes; this
    choice adapts to them (its error: a noisy maximum when the held-out set is small)."""
    base = scott_bandwidth(samples)
    scores = {float(base * f): float(kde_log_density(samples, held_out, base * f).mean()) for f in factors}
    return max(scores, key=scores.get), scores


def pushforward_log_density(G, points, bandwidth: float, n: int = 1500, span: float = 6.0,
                            chunk: int = 8) -> np.ndarray:
    """log p_g at `points` (P, 2) for a generator G of 2-D noise z ~ N(0, I), without sampling: G's image of an n x n
    grid of noise over [-span, span]^2, each point weighted by p_z(z) dz (a quadrature of p_z, no sampling noise), under a
    Gaussian kernel of width `bandwidth`,

        p_g,h(x) = sum_j w_j N(x; G(z_j), h^2 I),   w_j = p_z(z_j) dz   ->   sum_{z: G(z) = x} p_z(z) / |det J_G(z)|

    as h -> 0 (change of variables, summed over every preimage: it holds where G folds the plane too), provided the
    images of neighbouring grid points lie closer than h. Its error: the kernel's blur, which lowers p_g's peaks and
    fills its gaps (small h keeps it small), and a grid too coarse for h (image points farther apart than h),
    which makes p_g ripple. Cost: n^2 x P kernel terms (1500^2 x 116 points: seconds)."""
    t = torch.linspace(-float(span), float(span), int(n), dtype=torch.float64)
    z = torch.stack(torch.meshgrid(t, t, indexing="xy"), -1).reshape(-1, 2)
    log_w = -(z ** 2).sum(1) / 2 - math.log(2 * math.pi) + 2 * math.log(float(t[1] - t[0]))
    with torch.no_grad():
        X = G(z.float()).double()
    P = torch.as_tensor(np.asarray(points, np.float64)).reshape(-1, 2)
    h = float(bandwidth)
    out = [torch.logsumexp(log_w[None] - torch.cdist(P[i:i + chunk], X).pow(2) / (2 * h * h), 1)
           - math.log(2 * math.pi * h * h) for i in range(0, len(P), int(chunk))]
    return torch.cat(out).numpy() if out else np.zeros(0)


def w1(a, b) -> float:
    """The exact Wasserstein-1 distance between two equally weighted point clouds (POT's ot.emd2, Euclidean cost)."""
    import ot

    A, B = np.asarray(a, np.float64), np.asarray(b, np.float64)
    M = ot.dist(A, B, metric="euclidean")
    return float(ot.emd2(np.full(len(A), 1 / len(A)), np.full(len(B), 1 / len(B)), M, numItermax=1_000_000))


def minimax_value(d_real, d_fake, eps: float = 1e-7) -> float:
    """V = E log D(x) + E log(1 - D(G(z))) from D's probabilities on real and fake points (-log 4 at equilibrium)."""
    r, f = np.clip(np.asarray(d_real, np.float64), eps, 1 - eps), np.clip(np.asarray(d_fake, np.float64), eps, 1 - eps)
    return float(np.log(r).mean() + np.log1p(-f).mean())


def count_modes(samples, means, std: float, radius: float = 3.0, min_share: float = 0.01) -> dict:
    """Modes covered by samples: a sample belongs to its nearest centre when within `radius` widths of it; a mode is
    covered when at least `min_share` of all samples (and at least one) belong to it (VEEGAN's rule, Srivastava et al.
    2017). Returns {"covered": int, "counts": (K,) samples per mode, "quality": share of samples near some mode}."""
    S, M = np.asarray(samples, np.float64), np.asarray(means, np.float64)
    d = np.sqrt(((S[:, None, :] - M[None]) ** 2).sum(-1))  # (n, K)
    near = d.argmin(1)
    ok = d[np.arange(len(S)), near] <= radius * std
    counts = np.bincount(near[ok], minlength=len(M))
    need = max(1, int(math.ceil(min_share * len(S))))
    return {"covered": int((counts >= need).sum()), "counts": counts, "quality": float(ok.mean()) if len(S) else 0.0}


def mass_mask(density, share: float = 0.1) -> np.ndarray:
    """Where the data has mass: density above `share` of its largest value on these points."""
    p = np.asarray(density, np.float64)
    return p >= share * p.max()


def cosine(a, b, eps: float = 1e-12) -> np.ndarray:
    """Row-wise cosine similarity of two (P, 2) vector fields."""
    A, B = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (A * B).sum(1) / (np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1) + eps)
