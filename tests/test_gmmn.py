"""GMMN lab: the MMD estimators against independent computations (two routes, a closed form, Monte Carlo), the
Parzen window against SciPy and scikit-learn, the rebuilt model against the run's own grids, and the page under
AppTest at its defaults (the shipped runs) and at extreme settings."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import logsumexp
from sklearn.neighbors import KernelDensity

from core import training
from core.gmmn import mmd, parzen
from core.gmmn import run as gr
from tests.apptests import open_page, page_text

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "gmmn_1_gmmn.py")


def _normal(n, d, mu=0.0, s=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return mu + s * torch.randn(n, d, generator=g, dtype=torch.float64)


def test_mmd_of_identical_samples_is_zero_biased_and_zero_in_expectation_unbiased():
    X = _normal(50, 4)
    assert float(mmd.mmd2(X, X, [1.0, 3.0])) == 0.0
    assert float(mmd.mmd2_features(X, X)) == 0.0
    # two independent samples of one distribution: unbiased mean 0 within Monte-Carlo error; the biased one is positive
    # and its mean is its known bias, (1/n + 1/m)(k(0) - E k(x, x')) with E k(x, x') = the closed-form integral
    u, b = [], []
    for r in range(300):
        A, B = _normal(10, 2, seed=2 * r + 1), _normal(10, 2, seed=2 * r + 2)
        u.append(float(mmd.mmd2(A, B, [1.0], unbiased=True)))
        b.append(float(mmd.mmd2(A, B, [1.0])))
    se = np.std(u, ddof=1) / math.sqrt(len(u))
    assert abs(np.mean(u)) < 3 * se
    bias = 2 / 10 * (1 - mmd.gaussian_expectation(0.0, 2.0, 1.0, 2))
    assert np.mean(b) == pytest.approx(bias, abs=3 * np.std(b, ddof=1) / math.sqrt(len(b)))


@pytest.mark.parametrize("unbiased", [False, True])
def test_kernel_sum_and_mean_embedding_agree_with_exact_feature_maps(unbiased):
    X, Y = _normal(30, 5, seed=1), _normal(25, 5, mu=0.3, s=1.5, seed=2)
    lin = mmd.mmd2_kernel(X, Y, mmd.linear_kernel, unbiased)
    assert float(mmd.mmd2_features(X, Y, unbiased)) == pytest.approx(float(lin), rel=1e-10, abs=1e-12)
    quad = mmd.mmd2_kernel(X, Y, mmd.quadratic_kernel, unbiased)
    feat = mmd.mmd2_features(mmd.quadratic_features(X), mmd.quadratic_features(Y), unbiased)
    assert float(feat) == pytest.approx(float(quad), rel=1e-10)
    # and a brute-force double loop for the quadratic kernel
    k = lambda a, b: (float(a @ b) + 1.0) ** 2  # noqa: E731
    n, m = len(X), len(Y)
    xx = sum(k(X[i], X[j]) for i in range(n) for j in range(n) if not (unbiased and i == j)) / (n * (n - 1) if unbiased else n * n)
    yy = sum(k(Y[i], Y[j]) for i in range(m) for j in range(m) if not (unbiased and i == j)) / (m * (m - 1) if unbiased else m * m)
    xy = sum(k(X[i], Y[j]) for i in range(n) for j in range(m)) / (n * m)
    assert float(quad) == pytest.approx(xx + yy - 2 * xy, rel=1e-9)


def test_random_fourier_features_agree_with_the_gaussian_kernel_within_monte_carlo_error():
    X, Y = _normal(40, 3, seed=3), _normal(40, 3, mu=0.5, seed=4)
    exact = float(mmd.mmd2(X, Y, [1.5]))
    g = torch.Generator().manual_seed(0)
    est = []
    for _ in range(20):
        W, b = mmd.fourier_draw(3, 1.5, 500, g)
        est.append(float(mmd.mmd2_features(mmd.fourier_map(X, W, b), mmd.fourier_map(Y, W, b))))
    se = np.std(est, ddof=1) / math.sqrt(len(est))
    assert abs(np.mean(est) - exact) < 4 * se
    assert se < 0.1 * exact  # the check has power: the error bar is small against the value


def test_gaussian_integral_of_the_closed_form_matches_quadrature():
    # 1-D: E exp(-z^2 / (2 s^2)) for z ~ N(m, v) by numerical integration; d dimensions multiply
    m, v, s = 0.7, 1.3, 0.9
    num, _ = integrate.quad(lambda z: math.exp(-(z - m) ** 2 / (2 * v)) / math.sqrt(2 * math.pi * v)
                            * math.exp(-z * z / (2 * s * s)), -30, 30)
    assert mmd.gaussian_expectation(m * m, v, s, 1) == pytest.approx(num, rel=1e-10)
    assert mmd.gaussian_expectation(3 * m * m, v, s, 3) == pytest.approx(num ** 3, rel=1e-10)


def test_unbiased_estimator_matches_the_closed_form_for_two_gaussians():
    mu1, mu2, s1, s2, sig = np.zeros(3), np.array([0.8, 0.0, -0.4]), 1.0, 1.4, [0.8, 2.0]
    exact = mmd.gaussian_mmd2(mu1, s1, mu2, s2, sig)
    vals = [float(mmd.mmd2(_normal(20, 3, torch.as_tensor(mu1), s1, 2 * r), _normal(20, 3, torch.as_tensor(mu2), s2,
                                                                                     2 * r + 1), sig, unbiased=True))
            for r in range(400)]
    se = np.std(vals, ddof=1) / math.sqrt(len(vals))
    assert abs(np.mean(vals) - exact) < 4 * se
    assert se < 0.1 * exact


def test_parzen_log_density_matches_brute_force_and_scikit_learn():
    rng = np.random.default_rng(0)
    C, X = rng.random((60, 7)), rng.random((15, 7))
    got = parzen.parzen_log_density(X, C, [0.2, 0.5])
    for k, s in enumerate([0.2, 0.5]):
        brute = [logsumexp([-((x - c) ** 2).sum() / (2 * s * s) for c in C]) - math.log(len(C))
                 - 7 / 2 * math.log(2 * math.pi * s * s) for x in X]
        np.testing.assert_allclose(got[k], brute, rtol=1e-10)
        kde = KernelDensity(kernel="gaussian", bandwidth=s).fit(C)
        np.testing.assert_allclose(got[k], kde.score_samples(X), rtol=1e-8)
    sigmas = [0.05, 0.1, 0.2, 0.5, 1.0]
    best, curve = parzen.choose_sigma(C, X, sigmas)
    means = [KernelDensity(bandwidth=s).fit(C).score_samples(X).mean() for s in sigmas]
    assert best == sigmas[int(np.argmax(means))]
    np.testing.assert_allclose(curve, means, rtol=1e-8)


@pytest.fixture(scope="module")
def digits():
    from core import data

    return data.load("digits")


def _tiny(space):
    return gr.GMMNRun("digits", 300, space=space, sigmas="1,4", hidden="16", batch_size=40, n_iters=6, code=4,
                      ae_hidden=16, ae_epochs=2, log_every=2, n_measure=50)


@pytest.mark.parametrize("space", gr.SPACES)
def test_the_rebuilt_model_draws_the_runs_own_grids_and_samples_lie_in_the_unit_interval(space, digits):
    run = _tiny(space)
    snap = training.run_to_end(gr.GMMNSteps(run, digits))
    gm = gr.model(snap)
    z = gr.noise(run.n_measure, run.nz, torch.Generator().manual_seed(run.seed + 10_000))[:64]
    imgs = (gm.pixels(z) * 255).round().to(torch.uint8)
    assert torch.equal(imgs, snap["grids"][-1]["images"])
    x = gr.sample(snap, 7, torch.Generator().manual_seed(1))
    assert x.shape == (7, digits.n_features) and x.min() >= 0 and x.max() <= 1
    assert np.array_equal(x, gr.sample(gm, 7, torch.Generator().manual_seed(1)))
    assert [r["iteration"] for r in snap["history"] if "mmd_train" in r] == [0, 2, 4, 6]


def test_bad_settings_raise_value_error(digits):
    for bad in (dict(space="latent"), dict(sigmas=""), dict(sigmas="1,-2"), dict(batch_size=1), dict(estimator="x")):
        with pytest.raises(ValueError):
            gr.GMMNSteps(gr.GMMNRun("digits", **bad), digits)


def _app(**params):
    at = open_page(PAGE, params, timeout=600)
    assert not at.error, [e.value for e in at.error]
    return at


def _text(at) -> str:
    return page_text(at)


@pytest.mark.shared_cache
@pytest.mark.parametrize("space", gr.SPACES)
def test_page_opens_on_the_shipped_runs_at_the_defaults(space, mnist, one_torch_thread):
    at = _app(space=space)
    assert "shipped with the app" in _text(at)
    at = _app(space=space, view="Sample quality")  # the score the command line stored when it shipped the run
    from core import assets

    prov = assets.load(assets.folder("gmmn" if space == "pixels" else "gmmn_ae"))["provenance"]["scores"]
    got = {m.label: m.value for m in at.metric}
    assert got["Frechet distance (training digits)"] == f"{prov['fid']:.1f}"
    assert got["Classes covered"] == f"{prov['classes_covered']} / 10"


def test_page_at_extreme_settings_trains_live(one_torch_thread):
    at = _app(data="digits", space="code", iters=50, batch=50, smin=16, smax=16, ae_epochs=1, view="One kernel, two routes")
    assert "trained now" in _text(at)
    at = _app(data="digits", space="pixels", iters=50, batch=50, smin=1, smax=160, view="Parzen window")
    assert "trained now" in _text(at) and "k-means" in _text(at)
