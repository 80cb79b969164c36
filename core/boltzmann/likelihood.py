"""Exact log-likelihood of small RBMs (and two-layer DBMs) by enumeration.

For an RBM with energy E(v, h) = -b.v - c.h - h.W.v (W: n_hidden x n_visible),
    log Z = logsumexp_h [ c.h + sum_j softplus(b_j + (W^T h)_j) ]      (visibles summed out)
          = logsumexp_v [ b.v + sum_i softplus(c_i + (W v)_i) ]        (hiddens summed out)
and we enumerate whichever layer is smaller, in float64.

Enumeration of 2^n states (n up to 25) is chunked: a state index s = hi * 2^L + lo splits into
its low L bits and high n-L bits, so the pre-activations of a whole chunk are one precomputed
(2^L, m) table of low-bit contributions plus one row for the high bits. Memory stays at a few
tens of MB whatever n is, and the cost is one add + one softplus per (state, summed-out unit):
no matrix product per chunk.

For a two-hidden-layer DBM (v - h1 - h2, W1: n1 x n_v, W2: n2 x n1) the layers v and h2 are
conditionally independent given h1, so
    log Z = logsumexp_h1 [ c1.h1 + sum_j softplus(b_j + (W1^T h1)_j) + sum_k softplus(c2_k + (W2 h1)_k) ].
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

MAX_ENUMERATED = 2**25  # 33.5 million states: minutes on a 2-core CPU for 784 visibles
LOW_BITS = 12  # 2^12 rows in the precomputed low-bit table (x the summed-out units, float64)


def binary_states(n: int, start: int, stop: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """Rows start..stop-1 of the 2^n binary states, as a (stop-start, n) 0/1 matrix (bit i = unit i)."""
    idx = torch.arange(start, stop, device=device, dtype=torch.int64).unsqueeze(1)  # (m, 1)
    bits = torch.arange(n, device=device, dtype=torch.int64)  # (n,)
    return ((idx >> bits) & 1).to(dtype)  # (m, n)


def _check_size(n: int) -> None:
    if n > math.log2(MAX_ENUMERATED):
        raise ValueError(f"cannot enumerate 2^{n} states (limit 2^{int(math.log2(MAX_ENUMERATED))})")


def log_sum_enumerated(lin: torch.Tensor, blocks: Sequence[tuple[torch.Tensor, torch.Tensor]],
                       low_bits: int = LOW_BITS) -> float:
    """logsumexp over all s in {0,1}^n of  lin.s + sum over blocks (A, off) of sum_j softplus((s A)_j + off_j).

    lin: (n,), each A: (n, m), off: (m,); float64. Chunked by the high bits of s (see the module doc).
    """
    n = lin.shape[0]
    _check_size(n)
    L = min(n, low_bits)
    lo = binary_states(L, 0, 1 << L, device=lin.device)  # (2^L, L)
    lo_lin = lo @ lin[:L]  # (2^L,)
    lo_pre = [lo @ A[:L] + off for A, off in blocks]  # each (2^L, m): low-bit part + offset
    parts = []
    work = [torch.empty_like(t) for t in lo_pre]
    for hi in range(1 << (n - L)):
        hs = binary_states(n - L, hi, hi + 1, device=lin.device)[0] if n > L else None  # (n-L,)
        term = lo_lin + (hs @ lin[L:] if hs is not None else 0.0)  # (2^L,)
        for (A, _), pre, buf in zip(blocks, lo_pre, work):
            if hs is not None:
                torch.add(pre, hs @ A[L:], out=buf)  # (2^L, m)
            else:
                buf.copy_(pre)
            term = term + F.softplus(buf).sum(1)
        parts.append(torch.logsumexp(term, dim=0))
    return float(torch.logsumexp(torch.stack(parts), dim=0))


def _f64(*ts):
    return tuple(torch.as_tensor(t).detach().to(torch.float64).cpu() for t in ts)


def log_partition_exact(W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, chunk: int | None = None) -> float:
    """log Z of a binary RBM by enumerating its smaller layer. W: (n_h, n_v), b: (n_v,), c: (n_h,).

    `chunk` (rows of the low-bit table, a power of two) only changes memory and speed, not the result.
    """
    W, b, c = _f64(W, b, c)
    n_h, n_v = W.shape
    _check_size(min(n_h, n_v))
    low = LOW_BITS if chunk is None else max(0, int(math.log2(chunk)))
    if n_h <= n_v:  # enumerate hiddens, sum visibles: term(h) = c.h + sum softplus(b + W^T h)
        return log_sum_enumerated(c, [(W, b)], low)
    return log_sum_enumerated(b, [(W.T, c)], low)  # enumerate visibles, sum hiddens


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


# ----------------------------------------------------------------------------- two-layer DBM

def log_partition_dbm_exact(W1, W2, b, c1, c2, low_bits: int = LOW_BITS) -> float:
    """log Z of a binary DBM v - h1 - h2 by enumerating h1 (v and h2 summed out analytically).

    W1: (n1, n_v), W2: (n2, n1), b: (n_v,), c1: (n1,), c2: (n2,).
    """
    W1, W2, b, c1, c2 = _f64(W1, W2, b, c1, c2)
    return log_sum_enumerated(c1, [(W1, b), (W2.T, c2)], low_bits)


def dbm_unnormalized_log_prob(V, W1, W2, b, c1, c2) -> torch.Tensor:
    """log p*(v) = b.v + logsumexp_h1 [ h1.(c1 + W1 v) + sum_k softplus(c2 + W2 h1)_k ], exact (small n1)."""
    W1, W2, b, c1, c2 = _f64(W1, W2, b, c1, c2)
    V = torch.as_tensor(V).to(torch.float64).reshape(-1, W1.shape[1])
    n1 = W1.shape[0]
    _check_size(n1)
    H = binary_states(n1, 0, 1 << n1)  # (2^n1, n1): small n1 only (per-image enumeration)
    top = F.softplus(H @ W2.T + c2).sum(1)  # (2^n1,)
    return V @ b + torch.logsumexp(H @ (V @ W1.T + c1).T + top[:, None], dim=0)  # (n,)
