"""Annealed importance sampling and reverse annealing (RAISE) against exact enumeration (random and trained
models, RBMs and DBMs, base-rate and Bernoulli-mixture base models)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.boltzmann.ais import (BernoulliMixture, ais_dbm, ais_rbm, base_rate_biases, base_rates, betas_schedule,
                                dbm_model_base, fit_bernoulli_mixture, rbm_model_base)
from core.boltzmann.ais_base import dbm_model_samples, rbm_model_samples
from core.boltzmann.reverse_ais import raise_rbm
from core.boltzmann.likelihood import binary_states, exact_log_likelihood, log_partition_dbm_exact, log_partition_exact
from core.boltzmann.rbm import RBM
from core.device import torch_threads


def random_rbm(seed, n_h=10, n_v=30, scale=0.8):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n_h, n_v, generator=g, dtype=torch.float64) * scale,
            torch.randn(n_v, generator=g, dtype=torch.float64) * 0.5,
            torch.randn(n_h, generator=g, dtype=torch.float64) * 0.5)


def exact_samples(W, b, c, n, seed):
    """n exact draws v ~ p(v) of a small RBM: h from its marginal by enumerating all 2^n_h states, then v | h."""
    n_h = W.shape[0]
    H = torch.tensor([[(s >> i) & 1 for i in range(n_h)] for s in range(2 ** n_h)], dtype=torch.float64)
    log_ph = H @ c + F.softplus(H @ W + b).sum(1)  # log p*(h), visibles summed out
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(H), size=n, p=torch.softmax(log_ph, 0).numpy())
    P = torch.sigmoid(H[idx] @ W + b).numpy()
    return (rng.random(P.shape) < P).astype(np.float32)


def test_betas_schedule_shape():
    b = betas_schedule(14_500)
    assert len(b) == 14_500 and b[0] == 0 and b[-1] == 1 and np.all(np.diff(b) > 0)
    assert np.sum(b < 0.5) == 500 and np.sum((b >= 0.5) & (b < 0.9)) == 4000
    assert len(betas_schedule(7)) == 7 and betas_schedule(2).tolist() == [0.0, 1.0]


def test_base_rates_by_hand():
    """4 rows, pseudo-count 0.05 x 4 = 0.2 examples of 0.5 each side: an always-on pixel has p = 4.2 / 4.4, so its
    logit is log 21; never-on: -log 21; half on: 0 (worked by hand, not by the implementation's formula)."""
    X = np.array([[1, 0, 1], [1, 0, 0], [1, 0, 1], [1, 0, 0]], dtype=float)
    np.testing.assert_allclose(base_rate_biases(X), [math.log(21), -math.log(21), 0.0], atol=1e-12)
    np.testing.assert_allclose(base_rates(X).mu[0], [4.2 / 4.4, 0.2 / 4.4, 0.5], atol=1e-12)


def test_bernoulli_mixture_is_normalised_and_em_raises_the_likelihood():
    """Summed over all 2^8 images the mixture's probability is 1 (enumeration); EM never lowers the data's fit."""
    rng = np.random.default_rng(0)
    X = (rng.random((300, 8)) < np.where(rng.random(300)[:, None] < 0.5, 0.8, 0.2)).astype(float)
    all_v = np.array([[(s >> i) & 1 for i in range(8)] for s in range(256)], dtype=float)
    fits = [fit_bernoulli_mixture(X, 3, n_iter=k, random_state=1) for k in (1, 5, 20)]
    for mix in fits:
        assert np.exp(mix.log_prob(all_v)).sum() == pytest.approx(1.0, abs=1e-9)
    ll = [mix.log_prob(X).mean() for mix in fits]
    assert ll[0] < ll[1] <= ll[2] + 1e-9
    assert ll[2] > base_rates(X).log_prob(X).mean() + 0.5  # two clusters: far better than one


def test_no_weights_gives_the_closed_form_with_zero_variance():
    """W = 0 and base biases = b: every AIS run has the same weight, and log Z = sum softplus(b) + sum softplus(c)."""
    r = np.random.default_rng(0)
    b, c = r.normal(size=20), r.normal(size=7)
    res = ais_rbm(np.zeros((7, 20)), b, c, base_visible_bias=b, betas=50, n_runs=10)
    want = float(F.softplus(torch.tensor(b)).sum() + F.softplus(torch.tensor(c)).sum())
    assert res.log_z == pytest.approx(want, abs=1e-5)
    assert np.ptp(res.log_weights) < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mixture_base_ais_matches_enumeration(seed):
    """A 4-component base (fit to the model's own samples) over 3 seeds: within 0.2 nats of the exact log Z. A
    missing log M correction would be off by log 4 = 1.39 nats; a base-rate path agrees too."""
    W, b, c = random_rbm(seed)
    exact = log_partition_exact(W, b, c)
    mix = fit_bernoulli_mixture(exact_samples(W, b, c, 2000, seed), 4, n_iter=10, random_state=seed)
    r = ais_rbm(W, b, c, base=mix, betas=1000, n_runs=100, random_state=seed)
    assert r.n_components == 4
    assert abs(r.log_z - exact) < 0.2, (r.log_z, exact)
    r1 = ais_rbm(W, b, c, base=base_rates(exact_samples(W, b, c, 2000, seed)), betas=1000, n_runs=100, random_state=seed)
    assert abs(r1.log_z - exact) < 0.2, (r1.log_z, exact)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_raise_is_below_the_exact_likelihood_and_ais_is_close(seed):
    """On digits drawn from the model itself, E[log p_hat] <= E_p log p_fwd <= E_p log p (Jensen, then Gibbs'
    inequality), so with a short reverse path RAISE must come out below the exact mean log p(v); the AIS side
    (mean log p*(v) - log Z_hat) must be within 0.2 nats of it."""
    W, b, c = random_rbm(seed, scale=1.2)
    V = exact_samples(W, b, c, 500, seed + 100)
    exact = float(exact_log_likelihood(V, W, b, c).mean())
    mix = fit_bernoulli_mixture(exact_samples(W, b, c, 2000, seed), 4, n_iter=10, random_state=seed)
    short = raise_rbm(W, b, c, V, base=mix, betas=30, random_state=seed)
    assert short.mean < exact - 0.02, (short.mean, exact)
    r = ais_rbm(W, b, c, base=mix, betas=1000, n_runs=100, random_state=seed)
    unnorm = exact_log_likelihood(V, W, b, c, log_z=0.0).numpy()  # log p*(v)
    assert abs(r.log_likelihood(unnorm)[0] - exact) < 0.2


@pytest.mark.parametrize("base", ["rates", "mixture"])
def test_raise_approaches_exact_as_the_path_lengthens(base):
    """The gap to the exact per-digit log p(v) shrinks with K and is small at K = 3,000 (also per digit). A wrong
    log M correction (1.39 nats for M = 4) or a sign error in the increments would break both checks."""
    W, b, c = random_rbm(5, scale=1.2)
    V = exact_samples(W, b, c, 300, 7)
    exact = exact_log_likelihood(V, W, b, c).numpy()
    samples = exact_samples(W, b, c, 2000, 5)
    mix = base_rates(samples) if base == "rates" else fit_bernoulli_mixture(samples, 4, n_iter=10, random_state=0)
    gaps = [exact.mean() - raise_rbm(W, b, c, V, base=mix, betas=K, random_state=1).mean for K in (10, 100, 3000)]
    assert gaps[0] > gaps[1] > abs(gaps[2]), gaps
    assert abs(gaps[2]) < 0.05, gaps
    long = raise_rbm(W, b, c, V, base=mix, betas=3000, random_state=1)
    assert np.median(np.abs(long.log_p - exact)) < 0.1


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
    mix = ais_rbm(r.W, r.b, r.c, base=fit_bernoulli_mixture(X, 10, n_iter=10), betas=2000, n_runs=100, random_state=0)
    assert abs(mix.log_z - exact) < 0.5, (mix.log_z, exact)
    assert np.all(np.isfinite(res.log_weights))


def test_raise_on_digits_is_below_exact_and_close(trained_rbm, mnist):
    """Held-out digits of the trained 15-unit RBM: RAISE with a mixture base within 1 nat of the exact mean
    log p(v), and its long path not above it by more than its own noise."""
    r, X = trained_rbm
    V = (mnist.X_test[-200:] > 0.5).astype(np.float32)
    exact = float(r.log_likelihood(V).mean())
    res = raise_rbm(r.W, r.b, r.c, V, base=fit_bernoulli_mixture(X, 10, n_iter=10), betas=2000, random_state=0)
    assert exact - 1.0 < res.mean < exact + 3 * res.se / 10, (res.mean, exact)


def test_ais_inputs_are_not_mutated_and_seed_reproduces(trained_rbm):
    r, X = trained_rbm
    W0 = r.W.clone()
    a = ais_rbm(r.W, r.b, r.c, X=X, betas=100, n_runs=20, random_state=3)
    b = ais_rbm(r.W, r.b, r.c, X=X, betas=100, n_runs=20, random_state=3)
    assert torch.equal(r.W, W0)
    np.testing.assert_array_equal(a.log_weights, b.log_weights)


@pytest.mark.parametrize("seed", [2, 3])
def test_dbm_ais_within_half_a_nat_of_enumeration(seed):
    g = torch.Generator().manual_seed(seed)
    nv, n1, n2 = 30, 10, 8
    W1, W2 = torch.randn(n1, nv, generator=g) * 0.5, torch.randn(n2, n1, generator=g) * 0.5
    b, c1, c2 = torch.randn(nv, generator=g) * 0.5, torch.randn(n1, generator=g) * 0.5, torch.randn(n2, generator=g) * 0.5
    exact = log_partition_dbm_exact(W1, W2, b, c1, c2)
    res = ais_dbm(W1, W2, b, c1, c2, betas=2000, n_runs=100)
    assert abs(res.log_z - exact) < 0.5
    assert res.log_z_base == pytest.approx((n1 + n2) * math.log(2))
    rng = np.random.default_rng(seed)
    X = (rng.random((400, nv)) < np.where(rng.random(400)[:, None] < 0.5, 0.7, 0.3)).astype(float)
    mix = ais_dbm(W1, W2, b, c1, c2, base=fit_bernoulli_mixture(X, 4, n_iter=10), betas=2000, n_runs=100)
    assert abs(mix.log_z - exact) < 0.2, (mix.log_z, exact)


def test_ess_and_band_flag():
    """ESS by hand: weights (1, 1, 0, 0) -> 2 effective runs; a band is flagged meaningless below the threshold."""
    res = ais_rbm(np.zeros((2, 3)), np.zeros(3), np.zeros(2), betas=5, n_runs=4)
    res.log_weights = np.log(np.array([1.0, 1.0, 1e-300, 1e-300]))
    assert res.ess == pytest.approx(2.0)
    assert not res.band_meaningful


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError):
        ais_rbm(np.zeros((2, 3)), np.zeros(3), np.zeros(2), betas=[0.0, 0.7, 0.5, 1.0])
    with pytest.raises(ValueError):
        ais_rbm(np.zeros((2, 3)), np.zeros(3), np.zeros(2), betas=1)
    with pytest.raises(ValueError):
        ais_rbm(np.zeros((2, 3)), np.zeros(3), np.zeros(2), base=BernoulliMixture(np.zeros(1), np.full((1, 4), .5)))


def random_dbm(seed, nv=30, n1=10, n2=8, scale=0.8):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n1, nv, generator=g) * scale, torch.randn(n2, n1, generator=g) * scale,
            torch.randn(nv, generator=g) * 0.5, torch.randn(n1, generator=g) * 0.5, torch.randn(n2, generator=g) * 0.5)


def test_model_samples_follow_the_models_own_marginals():
    """Chains started at random images: the mean of P(v | h) (RBM) and P(v | h1) (DBM) over the chains' ends is the
    exact E[v] of the model (h, resp. h1, enumerated: p(h1) ~ exp(c1.h1 + sum softplus(b + W1^T h1) + sum
    softplus(c2 + W2 h1))), within 4 standard errors; the starts' mean is far from it."""
    W1, W2, b, c1, c2 = (t.double() for t in random_dbm(4, nv=12, n1=6, n2=5, scale=1.5))
    H = binary_states(6, 0, 64)
    Pv = torch.sigmoid(H @ W1 + b)  # (64, nv)
    X = (np.random.default_rng(0).random((4000, 12)) < 0.5).astype(np.float32)
    for samples, log_ph in (
            (rbm_model_samples(W1, b, c1, X, n_chains=4000, steps=60), H @ c1 + F.softplus(H @ W1 + b).sum(1)),
            (dbm_model_samples(W1, W2, b, c1, c2, X, n_chains=4000, steps=60),
             H @ c1 + F.softplus(H @ W1 + b).sum(1) + F.softplus(H @ W2.T + c2).sum(1))):
        want = (torch.softmax(log_ph, 0)[:, None] * Pv).sum(0).numpy()
        se = samples.std(0) / math.sqrt(len(samples))
        assert np.all(np.abs(samples.mean(0) - want) < 4 * se + 1e-3), np.abs(samples.mean(0) - want) / se
        assert np.abs(X.mean(0) - want).max() > 0.1  # the chains moved: the check can fail


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_model_bases_match_enumeration(seed):
    """4-component bases fit to the models' own chains (started at random images), over 3 seeds: AIS within 0.2 nats
    of the exact log Z for an RBM and a DBM. Without the log M correction both would be log 4 = 1.39 nats off."""
    X = (np.random.default_rng(seed).random((500, 30)) < 0.5).astype(np.float32)
    W, b, c = random_rbm(seed)
    base = rbm_model_base(W, b, c, X, n_components=4, n_chains=500, steps=100, random_state=seed)
    r = ais_rbm(W, b, c, base=base, betas=1000, n_runs=100, random_state=seed)
    assert r.n_components == 4 and abs(r.log_z - log_partition_exact(W, b, c)) < 0.2
    W1, W2, b, c1, c2 = random_dbm(seed)
    base = dbm_model_base(W1, W2, b, c1, c2, X, n_components=4, n_chains=500, steps=100, random_state=seed)
    r = ais_dbm(W1, W2, b, c1, c2, base=base, betas=1000, n_runs=100, random_state=seed)
    exact = log_partition_dbm_exact(W1, W2, b, c1, c2)
    assert r.n_components == 4 and abs(r.log_z - exact) < 0.2, (r.log_z, exact)
