"""The Parzen-window log-likelihood (Breuleux et al. 2009; the score Li et al. 2015 report for GMMNs), and its flaw.

A model's samples S = {s_1 .. s_n} in R^d become a mixture of Gaussians of one bandwidth sigma,

    p_sigma(x) = 1/n sum_i N(x; s_i, sigma^2 I)
    log p_sigma(x) = logsumexp_i(-|x - s_i|^2 / (2 sigma^2)) - log n - d/2 log(2 pi sigma^2),

sigma chosen to maximise the mean log-likelihood of a validation split (`choose_sigma`), and reported as the mean
over test digits (`parzen_scores`). It is not a bound of the model's log-likelihood in either direction, and in
784 dimensions it is badly biased: with a few thousand samples it measures how close the test digits are to the
nearest samples more than how likely they are. Theis, van den Oord & Bethge (2016) show it: the k-means centroids of
the training digits (`kmeans_centroids`: blurry averages, no model at all) score higher than as many real digits,
because averages sit closer to every digit of their cluster than any one real digit does.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

SIGMAS = tuple(float(s) for s in np.round(np.geomspace(0.05, 1.0, 25), 4))  # the validation grid of bandwidths


def parzen_log_density(X, centres, sigmas: Sequence[float], chunk: int = 500) -> np.ndarray:
    """log p_sigma(x) (the module docstring) of every row of X under the Parzen window on `centres`, for every sigma:
    (len(sigmas), len(X)), float64; distances computed once per chunk of rows and shared by the bandwidths."""
    X = torch.as_tensor(np.asarray(X, np.float64)).reshape(len(X), -1)
    C = torch.as_tensor(np.asarray(centres, np.float64)).reshape(len(centres), -1)
    n, d = C.shape
    c2 = (C * C).sum(1)
    out = torch.empty(len(sigmas), len(X), dtype=torch.float64)
    for s in range(0, len(X), chunk):
        x = X[s:s + chunk]
        D2 = ((x * x).sum(1, keepdim=True) + c2 - 2 * x @ C.T).clamp_min(0)  # (c, n)
        for k, sig in enumerate(sigmas):
            sig = float(sig)
            out[k, s:s + chunk] = (torch.logsumexp(-D2 / (2 * sig * sig), 1) - math.log(n)
                                   - d / 2 * math.log(2 * math.pi * sig * sig))
    return out.numpy()


def choose_sigma(centres, X_val, sigmas: Sequence[float] = SIGMAS) -> tuple[float, np.ndarray]:
    """The bandwidth of the grid with the highest mean validation log-likelihood, and the curve (len(sigmas),)."""
    curve = parzen_log_density(X_val, centres, sigmas).mean(1)
    return float(sigmas[int(np.argmax(curve))]), curve


def parzen_scores(centres, X_val, X_test, sigmas: Sequence[float] = SIGMAS) -> dict:
    """sigma chosen on X_val, then the test log-likelihoods: {"sigma", "ll" (mean, nats per image), "se" (its standard
    error over test digits), "val_curve" (mean validation log-likelihood per sigma), "at_edge" (the chosen sigma is
    an end of the grid: widen it)}."""
    sigma, curve = choose_sigma(centres, X_val, sigmas)
    ll = parzen_log_density(X_test, centres, [sigma])[0]
    k = int(np.argmax(curve))
    return {"sigma": sigma, "ll": float(ll.mean()), "se": float(ll.std(ddof=1) / math.sqrt(len(ll))),
            "val_curve": curve, "at_edge": k in (0, len(sigmas) - 1)}


def kmeans_centroids(X, k: int, seed: int = 0, max_iter: int = 50) -> np.ndarray:
    """The k centroids of scikit-learn's KMeans (k-means++ start, one initialisation) of the rows of X: (k, d)."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=int(k), n_init=1, max_iter=int(max_iter), random_state=int(seed))
    return km.fit(np.asarray(X, np.float64)).cluster_centers_.astype(np.float32)


def flaw_demo(X_train, X_heldout, samples, n: int = 1000, seed: int = 0, sigmas: Sequence[float] = SIGMAS) -> dict:
    """Theis et al.'s experiment on one split: Parzen windows on n sets of points each (`n` random training digits,
    the `n` k-means centroids of all training digits, the first `n` rows of `samples` when given), sigma chosen
    on the first half of the held-out digits, scored on the second half: {"real": parzen_scores, "kmeans": ...,
    "model": ... (or absent), "n", "n_val", "n_test"}."""
    X_train, X_heldout = np.asarray(X_train, np.float32), np.asarray(X_heldout, np.float32)
    half = len(X_heldout) // 2
    val, test = X_heldout[:half], X_heldout[half:]
    rng = np.random.default_rng(seed)
    real = X_train[np.sort(rng.choice(len(X_train), int(n), replace=False))]
    out = {"real": parzen_scores(real, val, test, sigmas),
           "kmeans": parzen_scores(kmeans_centroids(X_train, int(n), seed), val, test, sigmas),
           "n": int(n), "n_val": len(val), "n_test": len(test)}
    if samples is not None:
        out["model"] = parzen_scores(np.asarray(samples, np.float32)[: int(n)], val, test, sigmas)
    return out
