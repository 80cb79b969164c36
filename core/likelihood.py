"""Exact log-likelihood of small RBMs by enumeration.

For an RBM with energy E(v, h) = -b.v - c.h - h.W.v (W: n_hidden x n_visible),
    log Z = logsumexp_h [ c.h + sum_j softplus(b_j + (W^T h)_j) ]      (visibles summed out)
          = logsumexp_v [ b.v + sum_i softplus(c_i + (W v)_i) ]        (hiddens summed out)
and we enumerate whichever layer is smaller, in chunks, in float64.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ENUMERATED = 2**25  # 33.5 million states: a few minutes on a 2-core CPU for 784 visibles


def binary_states(n: int, start: int, stop: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """Rows start..stop-1 of the 2^n binary states, as a (stop-start, n) 0/1 matrix (bit i = unit i)."""
    idx = torch.arange(start, stop, device=device, dtype=torch.int64).unsqueeze(1)  # (m, 1)
    bits = torch.arange(n, device=device, dtype=torch.int64)  # (n,)
    return ((idx >> bits) & 1).to(dtype)  # (m, n)


def log_partition_exact(W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, chunk: int = 2**14) -> float:
    """log Z of a binary RBM by enumerating its smaller layer. W: (n_h, n_v), b: (n_v,), c: (n_h,)."""
    W, b, c = (torch.as_tensor(t).detach().to(torch.float64) for t in (W, b, c))
    n_h, n_v = W.shape
    if min(n_h, n_v) > math.log2(MAX_ENUMERATED):
        raise ValueError(f"cannot enumerate 2^{min(n_h, n_v)} states (limit 2^{int(math.log2(MAX_ENUMERATED))})")
    if n_h <= n_v:  # enumerate hiddens, sum visibles: term(h) = c.h + sum softplus(b + W^T h)
        n, lin, A, off = n_h, c, W, b  # A: (n, other)
    else:  # enumerate visibles, sum hiddens
        n, lin, A, off = n_v, b, W.T, c
    total = 1 << n
    parts = []
    for s in range(0, total, chunk):
        S = binary_states(n, s, min(total, s + chunk), device=W.device)  # (m, n)
        parts.append(torch.logsumexp(S @ lin + F.softplus(S @ A + off).sum(1), dim=0))
    return float(torch.logsumexp(torch.stack(parts), dim=0))


def free_energy(V: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """F(v) = -b.v - sum_i softplus(c_i + (W v)_i); p(v) = exp(-F(v)) / Z."""
    return -(V @ b) - F.softplus(V @ W.T + c).sum(-1)


def exact_log_likelihood(V, W, b, c, log_z: float | None = None) -> torch.Tensor:
    """log p(v) = -F(v) - log Z for each row of binary V (float64)."""
    W, b, c = (torch.as_tensor(t).detach().to(torch.float64) for t in (W, b, c))
    V = torch.as_tensor(V).to(torch.float64)
    if log_z is None:
        log_z = log_partition_exact(W, b, c)
    return -free_energy(V, W, b, c) - log_z


def can_enumerate(n_hidden: int, n_visible: int, limit: int = 20) -> bool:
    """Cheap enough to recompute during training (2^limit states)."""
    return min(n_hidden, n_visible) <= limit
