"""Exact log partition functions by chunked enumeration, checked against brute force and closed forms."""
import itertools
import math

import numpy as np
import pytest
import torch

from core.boltzmann.likelihood import (MAX_ENUMERATED, binary_states, dbm_unnormalized_log_prob, exact_log_likelihood,
                             log_partition_dbm_exact, log_partition_exact, log_sum_enumerated)


def all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def brute_rbm_log_z(W, b, c):
    """Sum exp(-E) over every (v, h) pair, in NumPy (independent of the code under test)."""
    V, H = all_states(W.shape[1]), all_states(W.shape[0])
    E = V @ b[:, None] + (H @ c)[None, :] + V @ W.T @ H.T  # (2^nv, 2^nh) = -energy
    m = E.max()
    return m + math.log(np.exp(E - m).sum())


def random_rbm(n_h, n_v, seed, scale=1.0):
    r = np.random.default_rng(seed)
    return r.normal(0, scale, (n_h, n_v)), r.normal(0, scale, n_v), r.normal(0, scale, n_h)


@pytest.mark.parametrize("n_h,n_v", [(3, 5), (6, 4), (7, 7), (1, 9), (9, 1)])
def test_log_partition_matches_brute_force_both_orientations(n_h, n_v):
    W, b, c = random_rbm(n_h, n_v, n_h * 10 + n_v)
    want = brute_rbm_log_z(W, b, c)
    for chunk in (None, 1, 4, 2**20):
        assert log_partition_exact(torch.tensor(W), torch.tensor(b), torch.tensor(c), chunk=chunk) == pytest.approx(want, abs=1e-9)


def test_twenty_hidden_units_chunked_match_closed_form():
    """20 hidden units, each with its own 2 visible units: Z factorises into 20 brute-forced 8-state sums.
    Exercises the high/low-bit chunking well past one chunk (2^20 states)."""
    n_h = 20
    r = np.random.default_rng(1)
    W = np.zeros((n_h, 2 * n_h))
    for i in range(n_h):
        W[i, 2 * i:2 * i + 2] = r.normal(0, 2, 2)
    b, c = r.normal(0, 1, 2 * n_h), r.normal(0, 1, n_h)
    want = 0.0
    for i in range(n_h):
        want += brute_rbm_log_z(W[i:i + 1, 2 * i:2 * i + 2], b[2 * i:2 * i + 2], c[i:i + 1])
    got = log_partition_exact(torch.tensor(W), torch.tensor(b), torch.tensor(c))
    assert got == pytest.approx(want, abs=1e-7)


def test_probabilities_of_all_visible_states_sum_to_one_and_inputs_untouched():
    W, b, c = (torch.tensor(a) for a in random_rbm(5, 8, 3))
    W0 = W.clone()
    V = torch.tensor(all_states(8))
    V0 = V.clone()
    ll = exact_log_likelihood(V, W, b, c)
    assert float(torch.logsumexp(ll, 0)) == pytest.approx(0.0, abs=1e-10)
    assert torch.equal(W, W0) and torch.equal(V, V0)


def test_generic_enumerator_against_itertools():
    r = np.random.default_rng(4)
    n = 13
    lin = torch.tensor(r.normal(size=n))
    A1, o1 = torch.tensor(r.normal(size=(n, 3))), torch.tensor(r.normal(size=3))
    A2, o2 = torch.tensor(r.normal(size=(n, 2))), torch.tensor(r.normal(size=2))
    S = torch.tensor(all_states(n))
    terms = S @ lin + torch.nn.functional.softplus(S @ A1 + o1).sum(1) + torch.nn.functional.softplus(S @ A2 + o2).sum(1)
    for low in (0, 3, 12, 20):
        assert log_sum_enumerated(lin, [(A1, o1), (A2, o2)], low) == pytest.approx(float(torch.logsumexp(terms, 0)), abs=1e-9)


def test_dbm_log_partition_and_unnormalised_probability_match_three_layer_brute_force():
    r = np.random.default_rng(5)
    nv, n1, n2 = 6, 5, 4
    W1, W2 = r.normal(size=(n1, nv)), r.normal(size=(n2, n1))
    b, c1, c2 = r.normal(size=nv), r.normal(size=n1), r.normal(size=n2)
    V, H1, H2 = all_states(nv), all_states(n1), all_states(n2)
    E = ((V @ b)[:, None, None] + (H1 @ c1)[None, :, None] + (H2 @ c2)[None, None, :]
         + (V @ W1.T @ H1.T)[:, :, None] + (H1 @ W2.T @ H2.T)[None, :, :])  # -energy, (v, h1, h2)
    m = E.max()
    log_z = m + math.log(np.exp(E - m).sum())
    assert log_partition_dbm_exact(W1, W2, b, c1, c2) == pytest.approx(log_z, abs=1e-9)
    per_v = np.log(np.exp(E - m).sum(axis=(1, 2))) + m
    np.testing.assert_allclose(dbm_unnormalized_log_prob(V, W1, W2, b, c1, c2).numpy(), per_v, atol=1e-9)


def test_refuses_more_than_the_enumeration_limit():
    n = int(math.log2(MAX_ENUMERATED)) + 1
    with pytest.raises(ValueError, match="cannot enumerate"):
        log_partition_exact(torch.zeros(n, 800), torch.zeros(800), torch.zeros(n))


def test_binary_states_are_the_binary_expansion():
    S = binary_states(4, 5, 9)
    assert S.tolist() == [[1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]]
