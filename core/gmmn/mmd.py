"""Maximum mean discrepancy (Gretton et al. 2012) with a sum of Gaussian kernels, by two independent routes.

For a kernel k with feature map phi (k(x, y) = <phi(x), phi(y)>), the squared MMD of distributions P and Q is the
squared distance of their mean embeddings,

    MMD^2(P, Q) = || E_P phi(x) - E_Q phi(y) ||^2 = E k(x, x') - 2 E k(x, y) + E k(y, y'),

x, x' ~ P and y, y' ~ Q independent. From samples X (n) and Y (m):

    biased    MMD_b^2 = 1/n^2 sum_ij k(x_i, x_j) - 2/(nm) sum_ij k(x_i, y_j) + 1/m^2 sum_ij k(y_i, y_j)
                      = || mean phi(X) - mean phi(Y) ||^2  >= 0, exactly 0 when X = Y
    unbiased  MMD_u^2 = 1/(n(n-1)) sum_{i != j} k(x_i, x_j) - 2/(nm) sum_ij k(x_i, y_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
                      (E MMD_u^2 = MMD^2; it can be negative)

Route 1 (`mmd2`): the kernel sums above, from the pairwise squared distances. Route 2 (`mmd2_features`): the
same estimators from explicit features, ||sum phi||^2 - sum ||phi||^2 for the sums over i != j, never forming
a kernel matrix. With an exact finite feature map (the linear kernel phi(x) = x, the quadratic kernel
(x.y + c)^2: `quadratic_features`) the two routes agree to rounding; for a Gaussian kernel, random Fourier
features (Rahimi & Recht 2007, `fourier_draw`, `fourier_map`) give an unbiased estimate of the kernel, so route 2 agrees
within its Monte-Carlo error (shrinking as 1/sqrt(features)).

The GMMN kernel is a sum over bandwidths sigma in S of k_sigma(x, y) = exp(-|x - y|^2 / (2 sigma^2)); the GMMN's
loss is sqrt(MMD^2) (Li, Swersky & Zemel 2015).

Closed form for two isotropic Gaussians (`gaussian_mmd2`): for z ~ N(m, v I_d),

    E exp(-|z|^2 / (2 s^2)) = prod_i int N(z_i; m_i, v) exp(-z_i^2 / (2 s^2)) dz_i
                            = (s^2 / (s^2 + v))^(d/2) exp(-|m|^2 / (2 (s^2 + v)))

(a product of 1-D Gaussian integrals: completing the square, a Gaussian of variance v times one of variance s^2,
integrated, is sqrt(s^2 / (s^2 + v)) exp(-m_i^2 / (2 (s^2 + v)))). With P = N(mu1, s1^2 I), Q = N(mu2, s2^2 I):
x - x' ~ N(0, 2 s1^2 I), x - y ~ N(mu1 - mu2, (s1^2 + s2^2) I), y - y' ~ N(0, 2 s2^2 I), which gives the three
expectations of MMD^2.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

PIXEL_SIGMAS = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)  # the paper's bandwidths on MNIST pixels


def sq_distances(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """|x_i - y_j|^2 (n, m) by the expansion |x|^2 + |y|^2 - 2 x.y, clamped at 0 (rounding)."""
    d2 = (X * X).sum(1, keepdim=True) + (Y * Y).sum(1) - 2 * X @ Y.T
    return d2.clamp_min(0)


def gaussian_kernel(D2: torch.Tensor, sigmas: Sequence[float]) -> torch.Tensor:
    """sum over sigma of exp(-D2 / (2 sigma^2)) for squared distances D2."""
    return sum(torch.exp(-D2 / (2.0 * float(s) ** 2)) for s in sigmas)


def mmd2_from_kernels(Kxx: torch.Tensor, Kxy: torch.Tensor, Kyy: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """MMD^2 from the three kernel matrices (the module docstring's sums); unbiased leaves out the diagonals."""
    n, m = Kxx.shape[0], Kyy.shape[0]
    if unbiased:
        if n < 2 or m < 2:
            raise ValueError("the unbiased estimator needs at least two samples on each side")
        xx = (Kxx.sum() - Kxx.diagonal().sum()) / (n * (n - 1))
        yy = (Kyy.sum() - Kyy.diagonal().sum()) / (m * (m - 1))
    else:
        xx, yy = Kxx.sum() / (n * n), Kyy.sum() / (m * m)
    return xx + yy - 2 * Kxy.sum() / (n * m)


def mmd2(X: torch.Tensor, Y: torch.Tensor, sigmas: Sequence[float], unbiased: bool = False) -> torch.Tensor:
    """Route 1: MMD^2 of samples X (n, d) and Y (m, d) with the kernel sum over `sigmas` (differentiable)."""
    k = lambda A, B: gaussian_kernel(sq_distances(A, B), sigmas)  # noqa: E731
    return mmd2_from_kernels(k(X, X), k(X, Y), k(Y, Y), unbiased)


def mmd2_kernel(X: torch.Tensor, Y: torch.Tensor, kernel, unbiased: bool = False) -> torch.Tensor:
    """Route 1 for any kernel(A, B) -> (len(A), len(B)) matrix (e.g. the linear or quadratic kernel)."""
    return mmd2_from_kernels(kernel(X, X), kernel(X, Y), kernel(Y, Y), unbiased)


def mmd2_features(PX: torch.Tensor, PY: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """Route 2: MMD^2 from features PX = phi(X) (n, D) and PY = phi(Y) (m, D), by the mean embeddings:
    sum_{i,j} k(x_i, x_j) = |sum_i phi(x_i)|^2 and sum_i k(x_i, x_i) = sum_i |phi(x_i)|^2 (no kernel matrix)."""
    n, m = PX.shape[0], PY.shape[0]
    sx, sy = PX.sum(0), PY.sum(0)
    if unbiased:
        if n < 2 or m < 2:
            raise ValueError("the unbiased estimator needs at least two samples on each side")
        xx = (sx @ sx - (PX * PX).sum()) / (n * (n - 1))
        yy = (sy @ sy - (PY * PY).sum()) / (m * (m - 1))
        return xx + yy - 2 * (sx @ sy) / (n * m)
    diff = sx / n - sy / m
    return diff @ diff


def linear_kernel(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    return A @ B.T


def quadratic_kernel(A: torch.Tensor, B: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """(a.b + c)^2."""
    return (A @ B.T + c) ** 2


def quadratic_features(X: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """The exact feature map of (x.y + c)^2 = c^2 + 2c x.y + (x.y)^2: [c, sqrt(2c) x, vec(x x^T)] (n, 1 + d + d^2)."""
    n = X.shape[0]
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, -1)
    return torch.cat([torch.full((n, 1), float(c), dtype=X.dtype), math.sqrt(2 * c) * X, outer], 1)


def fourier_draw(d: int, sigma: float, n_features: int, generator: torch.Generator, dtype=torch.float64):
    """(W (d, D), b (D,)) of D random Fourier features of exp(-|x - y|^2 / (2 sigma^2)): W ~ N(0, I / sigma^2),
    b ~ U(0, 2 pi), so that E phi(x).phi(y) = k(x, y) with phi = `fourier_map` (Rahimi & Recht 2007). Draw once and
    map both samples with the same (W, b)."""
    W = torch.randn(d, int(n_features), generator=generator, dtype=dtype) / float(sigma)
    b = torch.rand(int(n_features), generator=generator, dtype=dtype) * 2 * math.pi
    return W, b


def fourier_map(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sqrt(2/D) cos(X W + b) (n, D)."""
    return math.sqrt(2.0 / W.shape[1]) * torch.cos(X @ W + b)


def gaussian_expectation(m_sq: float, v: float, sigma: float, d: int) -> float:
    """E exp(-|z|^2 / (2 sigma^2)) for z ~ N(m, v I_d), |m|^2 = m_sq (the module docstring's Gaussian integral)."""
    s2 = float(sigma) ** 2
    return (s2 / (s2 + v)) ** (d / 2) * math.exp(-float(m_sq) / (2 * (s2 + v)))


def gaussian_mmd2(mu1, s1: float, mu2, s2: float, sigmas: Sequence[float]) -> float:
    """MMD^2 of N(mu1, s1^2 I) and N(mu2, s2^2 I) with the kernel sum over `sigmas`, exactly."""
    mu1, mu2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)
    d, m_sq = mu1.numel(), float(((mu1 - mu2) ** 2).sum())
    out = 0.0
    for s in sigmas:
        out += gaussian_expectation(0.0, 2 * s1 ** 2, s, d) + gaussian_expectation(0.0, 2 * s2 ** 2, s, d) \
            - 2 * gaussian_expectation(m_sq, s1 ** 2 + s2 ** 2, s, d)
    return out
