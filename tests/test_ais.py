"""Annealed importance sampling against exact enumeration (random and trained models, RBMs and DBMs)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.boltzmann.ais import ais_dbm, ais_rbm, base_rate_biases, betas_schedule
from core.device import torch_threads
from core.boltzmann.likelihood import log_partition_dbm_exact, log_partition_exact
from core.boltzmann.rbm import RBM


def test_betas_schedule_shape():
    b = betas_schedule(14_500)
    assert len(b) == 14_500 and b[0] == 0 and b[-1] == 1 and np.all(np.diff(b) > 0)
    assert np.sum(b < 0.5) == 500 and np.sum((b >= 0.5) & (b < 0.9)) == 4000
    assert len(betas_schedule(7)) == 7 and betas_schedule(2).tolist() == [0.0, 1.0]


def test_base_rates_are_smoothed_logits_of_pixel_means():
    X = np.array([[1, 0, 1], [1, 0, 0], [1, 0, 1], [1, 0, 0]], dtype=float)
    k = 0.05 * 4
    p = (X.sum(0) + k) / (4 + 2 * k)
    np.testing.assert_allclose(base_rate_biases(X), np.log(p / (1 - p)))
    assert np.all(np.isfinite(base_rate_biases(X)))


def test_no_weights_gives_the_closed_form_with_zero_variance():
    """W = 0 and base biases = b: every AIS run has the same weight, and log Z = sum softplus(b) + sum softplus(c)."""
    r = np.random.default_rng(0)
    b, c = r.normal(size=20), r.normal(size=7)
    res = ais_rbm(np.zeros((7, 20)), b, c, base_visible_bias=b, betas=50, n_runs=10)
    want = float(F.softplus(torch.tensor(b)).sum() + F.softplus(torch.tensor(c)).sum())
    assert res.log_z == pytest.approx(want, abs=1e-5)
    assert np.ptp(res.log_weights) < 1e-6


def test_random_rbm_within_half_a_nat_and_band_narrows_with_more_betas():
    g = torch.Generator().manual_seed(0)
    W, b, c = torch.randn(12, 40, generator=g) * 0.4, torch.randn(40, generator=g) * 0.5, torch.randn(12, generator=g) * 0.5
    exact = log_partition_exact(W, b, c)
    coarse = ais_rbm(W, b, c, betas=30, n_runs=100, random_state=1)
    fine = ais_rbm(W, b, c, betas=3000, n_runs=100, random_state=1)
    assert abs(fine.log_z - exact) < 0.5
    assert fine.log_z_low <= exact + 0.05 and exact - 0.05 <= fine.log_z_high
    assert fine.width < coarse.width
    assert fine.ess > coarse.ess


@pytest.fixture(scope="module")
def trained_rbm(mnist):
    """15 hidden units trained briefly on real digits (visible biases started at the base rates)."""
    X = mnist.X_train[:2000]
    with torch_threads(1):
        r = RBM(15, learning_rate=0.05, batch_size=50, n_iter=3, random_state=0, method="pcd", device="cpu")
        r.partial_fit(X[:50])
        r.intercept_visible_ = base_rate_biases(X)
        for _ in r.fit_iter(X, warm_start=True):
            pass
    return r, X


def test_ais_on_an_rbm_trained_on_digits_within_half_a_nat(trained_rbm):
    r, X = trained_rbm
    assert np.abs(r.components_).max() > 0.1  # it did learn something
    exact = r.log_partition()
    res = ais_rbm(r.W, r.b, r.c, X=X, betas=2000, n_runs=100, random_state=0)
    assert abs(res.log_z - exact) < 0.5, (res.log_z, exact)
    assert np.all(np.isfinite(res.log_weights))


def test_ais_inputs_are_not_mutated_and_seed_reproduces(trained_rbm):
    r, X = trained_rbm
    W0 = r.W.clone()
    a = ais_rbm(r.W, r.b, r.c, X=X, betas=100, n_runs=20, random_state=3)
    b = ais_rbm(r.W, r.b, r.c, X=X, betas=100, n_runs=20, random_state=3)
    assert torch.equal(r.W, W0)
    np.testing.assert_array_equal(a.log_weights, b.log_weights)


def test_dbm_ais_within_half_a_nat_of_enumeration():
    g = torch.Generator().manual_seed(2)
    nv, n1, n2 = 30, 10, 8
    W1, W2 = torch.randn(n1, nv, generator=g) * 0.5, torch.randn(n2, n1, generator=g) * 0.5
    b, c1, c2 = torch.randn(nv, generator=g) * 0.5, torch.randn(n1, generator=g) * 0.5, torch.randn(n2, generator=g) * 0.5
    exact = log_partition_dbm_exact(W1, W2, b, c1, c2)
    res = ais_dbm(W1, W2, b, c1, c2, betas=2000, n_runs=100)
    assert abs(res.log_z - exact) < 0.5
    assert res.log_z_base == pytest.approx((n1 + n2) * math.log(2) + nv * math.log(2))


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError):
        ais_rbm(np.zeros((2, 3)), np.zeros(3), np.zeros(2), betas=[0.0, 0.7, 0.5, 1.0])
    with pytest.raises(ValueError):
        ais_rbm(np.zeros((2, 3)), np.zeros(3), np.zeros(2), betas=1)
