"""core.rbm.RBM against independent computations: enumeration, autograd, scikit-learn."""
import itertools
import re
import zlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import BernoulliRBM

from core import training
from core.boltzmann import rbm_lab
from core.boltzmann.likelihood import exact_log_likelihood, log_partition_exact
from core.boltzmann.rbm import RBM, FitSteps
from core.progress import exhaust


def tiny(n_v=6, n_h=4, seed=0, scale=1.0, **kw):
    """A fitted-shape RBM with random (not trained) parameters."""
    g = np.random.default_rng(seed)
    r = RBM(n_h, random_state=seed, **kw)
    r.components_ = g.normal(0, scale, (n_h, n_v))
    r.intercept_hidden_ = g.normal(0, scale, n_h)
    r.intercept_visible_ = g.normal(0, scale, n_v)
    return r


def all_states(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.float64)


def brute_log_z(W, b, c):
    """log sum_{v,h} exp(-E(v,h)) over every joint state, in NumPy."""
    V, H = all_states(W.shape[1]), all_states(W.shape[0])
    neg_e = (V @ b)[:, None] + (H @ c)[None, :] + V @ W.T @ H.T  # (2^nv, 2^nh)
    m = neg_e.max()
    return m + np.log(np.exp(neg_e - m).sum())


def test_free_energy_matches_brute_force_sum_over_hiddens():
    r = tiny()
    V = all_states(6)
    W, b, c = r.components_.astype(np.float64), r.intercept_visible_.astype(np.float64), r.intercept_hidden_.astype(np.float64)
    H = all_states(4)
    neg_e = (V @ b)[:, None] + (H @ c)[None, :] + V @ W.T @ H.T
    F_brute = -np.log(np.exp(neg_e).sum(1))
    np.testing.assert_allclose(r.free_energy(V), F_brute, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("n_v,n_h", [(6, 4), (4, 7), (8, 5)])
def test_exact_log_partition_against_full_enumeration(n_v, n_h):
    r = tiny(n_v, n_h, seed=n_v + n_h)
    W, b, c = r.components_.astype(np.float64), r.intercept_visible_.astype(np.float64), r.intercept_hidden_.astype(np.float64)
    assert abs(r.log_partition() - brute_log_z(W, b, c)) < 1e-4
    ll = r.log_likelihood(all_states(n_v))
    assert abs(np.log(np.exp(ll).sum())) < 1e-4  # probabilities over all visible states sum to one


def test_exact_log_partition_chunking_does_not_change_the_value():
    g = torch.Generator().manual_seed(1)
    W, b, c = torch.randn(12, 30, generator=g) * 0.3, torch.randn(30, generator=g) * 0.3, torch.randn(12, generator=g) * 0.3
    assert abs(log_partition_exact(W, b, c, chunk=4096) - log_partition_exact(W, b, c, chunk=97)) < 1e-8


def test_conditionals_are_the_derivatives_of_the_free_energy():
    """d(-F)/dc = P(h|v) and d(-F)/dW = P(h|v) v^T: the positive phase equals autograd's gradient."""
    r = tiny(seed=3)
    V = torch.tensor(all_states(6)[::5], dtype=torch.float64)
    W = torch.tensor(r.components_, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(r.intercept_visible_, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(r.intercept_hidden_, dtype=torch.float64, requires_grad=True)
    neg_f = (V @ b + torch.nn.functional.softplus(V @ W.T + c).sum(1)).sum()
    neg_f.backward()
    ph = r.transform(V.numpy())
    np.testing.assert_allclose(c.grad.numpy(), ph.sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(W.grad.numpy(), ph.T @ V.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_update_is_an_unbiased_log_likelihood_gradient_with_long_chains(method):
    """With k=30 Gibbs steps on a 6x4 RBM the chains mix, so the mean CD/PCD step equals
    lr * grad of the exact mean log-likelihood (autograd through the enumerated log Z)."""
    data = all_states(6)[[3, 12, 25, 40, 51, 62]]
    reps = 4000
    X = np.repeat(data, reps, axis=0)  # one batch of 24,000 rows: the update is a Monte-Carlo mean
    r = tiny(seed=5, scale=0.5, method=method, k=30, batch_size=len(X), learning_rate=1.0)
    r.n_features_in_ = 6
    if method == "pcd":  # persistent chains start anywhere: give them random states
        s = r.state_dict()
        s["chains"][:, :-1] = (torch.rand(len(s["chains"]), 4, generator=torch.Generator().manual_seed(9)) < 0.5).float()
        r.load_state_dict(s)
    P0 = r.state_dict()["P"]  # [[W, c], [b, 0]]
    r.partial_fit(X)
    dP = (r.state_dict()["P"] - P0).double()

    W = torch.tensor(P0[:-1, :-1].numpy(), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(P0[-1, :-1].numpy(), dtype=torch.float64, requires_grad=True)
    c = torch.tensor(P0[:-1, -1].numpy(), dtype=torch.float64, requires_grad=True)
    V = torch.tensor(data)
    ll = (V @ b + torch.nn.functional.softplus(V @ W.T + c).sum(1)).mean()
    Hs = torch.tensor(all_states(4))
    log_z = torch.logsumexp(Hs @ c + torch.nn.functional.softplus(Hs @ W + b).sum(1), 0)
    (ll - log_z).backward()
    np.testing.assert_allclose(dP[:-1, :-1].numpy(), W.grad.numpy(), atol=0.02)
    np.testing.assert_allclose(dP[-1, :-1].numpy(), b.grad.numpy(), atol=0.02)
    np.testing.assert_allclose(dP[:-1, -1].numpy(), c.grad.numpy(), atol=0.02)
    assert np.abs(W.grad.numpy()).max() > 0.05  # the comparison is not trivially zero


def test_exact_log_likelihood_matches_independent_numpy_computation():
    r = tiny(8, 5, seed=11)
    W, b, c = r.components_.astype(np.float64), r.intercept_visible_.astype(np.float64), r.intercept_hidden_.astype(np.float64)
    V = all_states(8)[::17]
    H = all_states(5)
    unnorm = np.log(np.exp((V @ b)[:, None] + (H @ c)[None, :] + V @ W.T @ H.T).sum(1))
    np.testing.assert_allclose(r.log_likelihood(V), unnorm - brute_log_z(W, b, c), atol=1e-4)
    np.testing.assert_allclose(exact_log_likelihood(V, W, b, c), unnorm - brute_log_z(W, b, c), atol=1e-8)


def test_transform_and_free_energy_agree_with_sklearn_given_the_same_weights(mnist):
    sk = BernoulliRBM(n_components=32, n_iter=1, batch_size=50, random_state=0).fit(mnist.X_train[:500])
    ours = RBM(32)
    ours.components_ = sk.components_
    ours.intercept_hidden_ = sk.intercept_hidden_
    ours.intercept_visible_ = sk.intercept_visible_
    X = mnist.X_test[:100]
    np.testing.assert_allclose(ours.transform(X), sk.transform(X), atol=1e-5)
    W, b, c = (a.astype(np.float64) for a in (sk.components_, sk.intercept_visible_, sk.intercept_hidden_))
    np.testing.assert_allclose(ours.free_energy(X), -X @ b - np.logaddexp(0, X @ W.T + c).sum(1), rtol=1e-5, atol=1e-3)


def test_sklearn_interface_shapes(mnist):
    X = mnist.X_train[:300]
    r = RBM(n_components=20, n_iter=2, batch_size=10, random_state=0).fit(X)
    sk = BernoulliRBM(n_components=20, n_iter=2, batch_size=10, random_state=0).fit(X)
    for attr in ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_"):
        assert getattr(r, attr).shape == getattr(sk, attr).shape, attr
    assert r.transform(X).shape == sk.transform(X).shape
    assert r.score_samples(X).shape == sk.score_samples(X).shape
    assert r.gibbs(X[:5]).shape == sk.gibbs(X[:5]).shape
    assert set(np.unique(r.gibbs(X[:5]))) <= {0.0, 1.0}
    assert r.partial_fit(X[:10]) is r
    assert r.get_params()["n_components"] == 20


def test_held_out_quality_no_worse_than_sklearn_at_equal_epochs(mnist):
    """PCD-1, same hidden units, batch, learning rate and epochs; the same PLL estimator on both."""
    X, Xte = mnist.X_train[:3000], mnist.X_test[:1000]
    kw = dict(n_components=64, learning_rate=0.05, batch_size=20, n_iter=5, random_state=0)
    sk = BernoulliRBM(**kw).fit(X)
    ours = RBM(**kw).fit(X)
    as_ours = RBM(64)
    as_ours.components_, as_ours.intercept_hidden_, as_ours.intercept_visible_ = (
        sk.components_, sk.intercept_hidden_, sk.intercept_visible_)
    pll_ours = np.mean([ours.score_samples(Xte, random_state=s).mean() for s in range(5)])
    pll_sk = np.mean([as_ours.score_samples(Xte, random_state=s).mean() for s in range(5)])
    assert pll_ours > pll_sk - 3.0, (pll_ours, pll_sk)
    assert pll_ours > -200  # and it learned something (an untrained model scores about -540)


def test_inpaint_never_changes_known_pixels_and_fills_the_missing_ones(mnist):
    r = RBM(50, n_iter=2, batch_size=20, learning_rate=0.05, random_state=0).fit(mnist.X_train[:1000])
    V = mnist.X_test[:20].copy()
    before = V.copy()
    mask = np.zeros((28, 28), bool)
    mask[10:16] = True
    out = r.inpaint(V, mask.ravel(), k=20, random_state=1)
    np.testing.assert_array_equal(out[:, ~mask.ravel()], V[:, ~mask.ravel()])
    np.testing.assert_array_equal(V, before)  # input not mutated
    assert np.isfinite(out).all() and (out >= 0).all() and (out <= 1).all()
    assert not np.allclose(out[:, mask.ravel()], V[:, mask.ravel()])


def test_fit_does_not_mutate_its_input_and_produces_no_nan(mnist):
    X = mnist.X_train[:400].copy()
    before = X.copy()
    r = RBM(30, n_iter=2, learning_rate=0.5, random_state=0).fit(X)
    np.testing.assert_array_equal(X, before)
    assert np.isfinite(r.components_).all()


def test_float64_and_float32_inputs_agree():
    r = tiny(seed=2)
    V = all_states(6)
    np.testing.assert_allclose(r.transform(V.astype(np.float32)), r.transform(V.astype(np.float64)), atol=1e-7)


def test_same_seed_same_model_and_sampling_leaves_the_model_untouched(mnist):
    X = mnist.X_train[:500]
    a = RBM(20, n_iter=2, random_state=7).fit(X)
    b = RBM(20, n_iter=2, random_state=7).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    W = a.components_
    a.reconstruct(X[:5], k=10, random_state=3)
    a.inpaint(X[:5], np.ones(784, bool), k=3, random_state=3)
    np.testing.assert_array_equal(a.components_, W)
    np.testing.assert_array_equal(a.reconstruct(X[:5], k=10, random_state=3), a.reconstruct(X[:5], k=10, random_state=3))


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="method"):
        RBM(5, method="nope").fit(np.zeros((4, 3)))
    r = tiny()
    with pytest.raises(ValueError, match="features"):
        r.transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="NaN"):
        r.transform(np.full((2, 6), np.nan))
    with pytest.raises(NotFittedError, match="not fitted"):  # scikit-learn's error, as its estimators raise
        RBM(3).transform(np.zeros((1, 3)))


def test_momentum_and_weight_decay_paths_train(mnist):
    X = mnist.X_train[:500]
    r = RBM(20, n_iter=3, learning_rate=0.05, momentum=0.5, weight_decay=1e-3, random_state=0, method="cd", k=2)
    recs = list(r.fit_iter(X, mnist.X_test[:200]))
    assert recs[-1].metrics["recon_error"] < recs[0].metrics["recon_error"] * 0.7


def test_fit_is_the_one_training_loop_and_resumes_bit_for_bit(mnist):
    """fit_iter is core.training's loop over FitSteps: one record per epoch (and one before the first with live
    metrics); a fit stopped after its first epoch and resumed from that record's snapshot in a fresh RBM ends with
    the weights, persistent chains and generator of an uninterrupted fit."""
    X = mnist.X_train[:400]
    kw = dict(n_iter=3, batch_size=20, learning_rate=0.05, random_state=0, shuffle=True, device="cpu")
    full = RBM(20, **kw).fit(X)
    recs = list(RBM(20, **kw).fit_iter(X, mnist.X_test[:100]))
    assert [r.step for r in recs] == [0, 1, 2, 3] and recs[-1].done and all("recon_error" in r.metrics for r in recs)
    snap = next(RBM(20, **kw).fit_iter(X, n_eval=0)).extra["snapshot"]()  # no live metrics: the first record is epoch 1
    assert snap["done"] == 1 and snap["nets"]["rbm"]["n_updates"] == 20
    again = RBM(20, **kw)
    training.run_to_end(FitSteps(again, X, n_eval=0), snap)
    np.testing.assert_array_equal(again.components_, full.components_)
    np.testing.assert_array_equal(again.intercept_visible_, full.intercept_visible_)
    np.testing.assert_array_equal(again.h_samples_, full.h_samples_)
    np.testing.assert_array_equal(again.gibbs(X[:5]), full.gibbs(X[:5]))  # the same generator state


def test_training_curves_improve_and_exact_ll_is_reported_for_small_models(mnist):
    run = rbm_lab.RBMRun("mnist", 2000, rbm=replace(rbm_lab.RBMRun().rbm, n_components=12, n_iter=3))
    hist = exhaust(rbm_lab.train(run, mnist)).extra["snapshot"]()["history"]
    assert "exact_ll" in hist[-1]
    assert hist[-1]["exact_ll"] > hist[0]["exact_ll"] + 100  # from ~-540 (uniform-ish) to much better
    assert hist[-1]["recon_error"] < hist[0]["recon_error"]


def numpy_energy(W, b, c, v, h):
    return -(v @ b) - (h @ c) - h @ W @ v


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_digits_energy_free_energy_and_hidden_state_against_enumeration(seed):
    """digit_energies against every hidden state listed: F(v) = -log sum_h exp(-E(v,h)), h* = argmin_h E(v,h),
    E(v,h*) - F(v) = -log P(h*|v), P(h_j=1|v) as the enumerated marginal."""
    r = tiny(7, 5, seed=seed, scale=1.5)
    W, b, c = (a.astype(np.float64) for a in (r.components_, r.intercept_visible_, r.intercept_hidden_))
    H = all_states(5)
    for v in all_states(7)[seed::23]:
        E = np.array([numpy_energy(W, b, c, v, h) for h in H])  # (32,)
        F = -np.log(np.exp(-E).sum())
        p = np.exp(F - E)  # P(h | v)
        e = rbm_lab.digit_energies(r, v, top=3)
        assert e["free_energy"] == pytest.approx(F, abs=1e-9)
        np.testing.assert_array_equal(e["h"], H[np.argmin(E)])
        assert e["energy"] == pytest.approx(E.min(), abs=1e-9)
        assert e["gap"] == pytest.approx(-np.log(p.max()), abs=1e-9)
        assert sum(e["terms"].values()) == pytest.approx(E.min(), abs=1e-9)
        assert e["terms"]["-b.v"] == pytest.approx(-(v @ b), abs=1e-9)
        marginal = H.T @ p  # P(h_j = 1 | v)
        np.testing.assert_allclose(e["p_h"], marginal, atol=1e-9)
        np.testing.assert_array_equal(e["top"], np.argsort(-marginal)[:3])
        np.testing.assert_allclose(r.energy(np.tile(v, (len(H), 1)), H), E, atol=1e-9)


def test_hidden_activations_as_a_square_picture():
    sq = rbm_lab.hidden_square(np.arange(10.0))
    assert sq.shape == (4, 4) and sq[0, 3] == 3 and sq[2, 1] == 9 and np.isnan(sq[2, 2:]).all() and np.isnan(sq[3]).all()
    assert rbm_lab.hidden_square(np.ones(100)).shape == (10, 10) and not np.isnan(rbm_lab.hidden_square(np.ones(100))).any()


def exact_visible_distribution(P_h_rows, W, b):
    """P(v^ = s) for every visible state s given a distribution over h per row: sum_h P(h) P(s | h), (n_states,)."""
    S = all_states(W.shape[1])
    H = all_states(W.shape[0])
    Pv = 1 / (1 + np.exp(-(H @ W + b)))  # (H, n_v)
    lik = np.prod(np.where(S[None] == 1, Pv[:, None], 1 - Pv[:, None]), -1)  # (H, S): P(s | h)
    return P_h_rows @ lik


def test_cd_negative_samples_follow_one_gibbs_step_from_the_data():
    r = tiny(5, 3, seed=3, scale=1.0, method="cd", k=1, device="cpu")
    W, b, c = (a.astype(np.float64) for a in (r.components_, r.intercept_visible_, r.intercept_hidden_))
    v = np.array([1.0, 0, 1, 1, 0])
    H = all_states(3)
    ph = 1 / (1 + np.exp(-(c + W @ v)))
    P_h = np.prod(np.where(H == 1, ph, 1 - ph), 1)  # P(h | v)
    want = exact_visible_distribution(P_h, W, b)
    before = r.components_.copy()
    draws = r.negative_samples(np.tile(v, (40_000, 1)), random_state=0)
    idx = (draws @ (2 ** np.arange(5)[::-1])).astype(int)  # itertools.product order: first bit most significant
    freq = np.bincount(idx, minlength=32) / len(idx)
    assert 0.5 * np.abs(freq - want).sum() < 0.02  # total variation, Monte Carlo: 40,000 draws
    np.testing.assert_array_equal(r.components_, before)
    np.testing.assert_array_equal(r.negative_samples(np.tile(v, (5, 1)), random_state=1),
                                  r.negative_samples(np.tile(v, (5, 1)), random_state=1))


def test_pcd_negative_samples_start_from_the_persistent_chains():
    X = (np.random.default_rng(0).random((60, 6)) < 0.4).astype(np.float64)
    r = RBM(4, n_iter=2, batch_size=10, n_chains=3, k=1, method="pcd", random_state=0, device="cpu").fit(X)
    W, b = r.components_.astype(np.float64), r.intercept_visible_.astype(np.float64)
    chains = r.h_samples_
    draws = r.negative_samples(np.zeros((30_000, 6)), random_state=0)  # the rows' values do not matter for PCD
    for i in range(3):  # row n uses chain n % 3
        want = 1 / (1 + np.exp(-(b + chains[i] @ W)))  # P(v = 1 | h_chain)
        np.testing.assert_allclose(draws[i::3].mean(0), want, atol=0.015)
    np.testing.assert_array_equal(r.h_samples_, chains)  # the chains did not move


def test_the_free_energy_objective_is_data_minus_negative_samples():
    r = tiny(6, 4, seed=5, method="cd", k=2, device="cpu")
    W, b, c = (a.astype(np.float64) for a in (r.components_, r.intercept_visible_, r.intercept_hidden_))
    V = np.random.default_rng(1).random((50, 6))  # gray values, as training sees them

    def free(X):
        return -X @ b - np.logaddexp(0, X @ W.T + c).sum(1)

    Vn = r.negative_samples(V, random_state=4)
    out = r.free_energy_objective(V, random_state=4)
    assert out["objective"] == pytest.approx(free(V).mean() - free(Vn).mean(), abs=1e-4)
    assert out["se"] == pytest.approx(free(Vn).std(ddof=1) / np.sqrt(50), rel=1e-3)


def test_the_lab_records_the_objective_of_each_epochs_model(mnist):
    run = rbm_lab.RBMRun("mnist", 600, rbm=replace(rbm_lab.RBMRun().rbm, n_components=20, n_iter=3))
    snap = exhaust(rbm_lab.train(run, mnist)).extra["snapshot"]()
    m = rbm_lab.model(snap)
    Xtr, Xte = rbm_lab.arrays(run, mnist)
    want = m.free_energy_objective(m.monitor_set(Xtr, Xte)["train"], random_state=0)
    assert snap["history"][-1]["fe_objective"] == pytest.approx(want["objective"], abs=1e-6)
    assert snap["history"][-1]["fe_objective_se"] == pytest.approx(want["se"], abs=1e-6)
    assert len({round(r["fe_objective"], 6) for r in snap["history"]}) == 4  # one value per epoch


def test_full_pseudo_likelihood_is_the_mean_of_the_one_bit_estimator():
    """Averaging score_samples over every choice of the flipped bit gives pseudo_log_likelihood."""
    r = tiny(8, 5, seed=4)
    V = all_states(8)[::9]
    brute = np.zeros(len(V))
    for i in range(8):
        Vf = V.copy()
        Vf[:, i] = 1 - Vf[:, i]
        brute += np.log(1 / (1 + np.exp(-(r.free_energy(Vf) - r.free_energy(V)))))
    np.testing.assert_allclose(r.pseudo_log_likelihood(V), brute, rtol=1e-5, atol=1e-4)
    mc = np.mean([r.score_samples(V, random_state=s) for s in range(4000)], axis=0)
    np.testing.assert_allclose(mc, brute, rtol=0.05, atol=0.3)


# ----------------------------------------------------------------------------- a scikit-learn estimator

def test_verbose_prints_every_iteration_as_scikit_learn_does(capsys):
    """verbose=1 prints scikit-learn's line per iteration; its pseudo-likelihood is the mean of score_samples'
    definition (n_v log sigm(F(v~) - F(v)), v~ = v with one bit flipped: the bit score_samples documents)
    recomputed in NumPy from the weights after that iteration; verbose=0 prints nothing."""
    X = (np.random.default_rng(0).random((100, 12)) < 0.3).astype(np.float64)
    line = re.compile(r"\[(\w+)\] Iteration (\d+), pseudo-likelihood = (-?\d+\.\d\d), time = (\d+\.\d\d)s")
    BernoulliRBM(4, n_iter=2, verbose=1, random_state=0).fit(X)
    theirs = [line.fullmatch(x) for x in capsys.readouterr().out.splitlines()]
    assert [(m.group(1), m.group(2)) for m in theirs] == [("BernoulliRBM", "1"), ("BernoulliRBM", "2")]
    RBM(4, n_iter=3, verbose=1, random_state=0, device="cpu").fit(X)
    ours = [line.fullmatch(x) for x in capsys.readouterr().out.splitlines()]
    assert all(ours) and [(m.group(1), m.group(2)) for m in ours] == [("RBM", "1"), ("RBM", "2"), ("RBM", "3")]
    rows = np.arange(len(X))
    bits = [zlib.crc32(v.astype(np.float32).tobytes(), 0) % X.shape[1] for v in X]
    Xf = X.copy()
    Xf[rows, bits] = 1 - Xf[rows, bits]
    printed, want = [float(m.group(3)) for m in ours], []
    for i in (1, 2, 3):
        r = RBM(4, n_iter=i, random_state=0, device="cpu").fit(X)  # the same updates, stopped after iteration i
        W, b, c = (a.astype(np.float64) for a in (r.components_, r.intercept_visible_, r.intercept_hidden_))

        def free(V, W=W, b=b, c=c):
            return -V @ b - np.logaddexp(0, V @ W.T + c).sum(1)

        want.append(float(np.mean(-X.shape[1] * np.logaddexp(0, free(X) - free(Xf)))))
    np.testing.assert_allclose(printed, want, atol=0.0051)
    assert len(set(printed)) == 3  # it moves with training
    RBM(4, n_iter=2, random_state=0, device="cpu").fit(X)
    assert capsys.readouterr().out == ""



def test_passes_scikit_learns_estimator_checks():
    """Every check of sklearn.utils.estimator_checks.check_estimator passes (none is expected to fail)."""
    import warnings

    from sklearn.exceptions import SkipTestWarning
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkipTestWarning)
        results = check_estimator(RBM(8, n_iter=3, random_state=0, device="cpu"), on_fail=None)
    failed = {r["check_name"]: str(r["exception"]).splitlines()[0] for r in results if r["status"] == "failed"}
    assert not failed, failed
    # the one check not run, and why: scikit-learn skips check_array_api_input unless SCIPY_ARRAY_API=1, and the
    # RBM does not declare array-API support (it converts every input to a torch tensor itself)
    assert {r["check_name"] for r in results if r["status"] != "passed"} <= {"check_array_api_input"}
    assert len([r for r in results if r["status"] == "passed"]) >= 45


def test_pipeline_grid_search_sparse_input_dtypes_and_random_state_objects(rng):
    """What scikit-learn's own RBM example does: RBM features + logistic regression in a Pipeline, tuned by
    GridSearchCV; sparse input gives the dense input's features; outputs keep float32/float64."""
    from scipy import sparse
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    X = (rng.random((120, 16)) < 0.3).astype(np.float64)
    y = (X[:, :8].sum(1) > X[:, 8:].sum(1)).astype(int)
    pipe = Pipeline([("rbm", RBM(8, n_iter=5, random_state=0, device="cpu")),
                     ("clf", LogisticRegression(max_iter=500))])
    search = GridSearchCV(pipe, {"rbm__n_components": [4, 8], "rbm__learning_rate": [0.05, 0.1]}, cv=2).fit(X, y)
    assert set(search.best_params_) == {"rbm__n_components", "rbm__learning_rate"} and search.best_score_ > 0.5
    r = RBM(8, n_iter=3, random_state=0, device="cpu").fit(X)
    dense = r.transform(X)
    np.testing.assert_allclose(r.transform(sparse.csr_matrix(X)), dense, rtol=1e-12)
    assert dense.dtype == np.float64 and r.transform(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(r.fit_transform(X), dense, rtol=1e-6)  # fit_transform = fit then transform
    assert list(r.get_feature_names_out()) == [f"rbm{i}" for i in range(8)]
    # a RandomState is accepted like scikit-learn's, and the same state gives the same model
    a = RBM(8, n_iter=2, random_state=np.random.RandomState(3), device="cpu").fit(X)
    b = RBM(8, n_iter=2, random_state=np.random.RandomState(3), device="cpu").fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert clone(r).get_params() == r.get_params()
    # a row's pseudo-likelihood does not depend on its batch or its position
    np.testing.assert_allclose(r.score_samples(X[10:20]), r.score_samples(X)[10:20], rtol=1e-6)
    np.testing.assert_allclose(r.score_samples(X[::-1]), r.score_samples(X)[::-1], rtol=1e-6)


def test_pickles_with_its_generator_state(rng):
    import pickle

    X = (rng.random((60, 12)) < 0.4).astype(np.float32)
    r = RBM(5, n_iter=2, random_state=1, device="cpu").fit(X)
    again = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(again.components_, r.components_)
    np.testing.assert_array_equal(again.gibbs(X[:4]), r.gibbs(X[:4]))  # the same generator state, so the same draws
