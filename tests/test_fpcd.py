"""Fast-weights PCD in core.rbm.RBM, and the algorithm-comparison runs of core.algorithms."""
import numpy as np
import pytest
import torch

from core.boltzmann import algorithms
from core.boltzmann.ais import MIN_ESS_FOR_BAND
from core.boltzmann.likelihood import exact_log_likelihood, log_partition_exact
from core.boltzmann.rbm import METHODS, RBM


def data(n=200, nv=20, seed=0):
    r = np.random.default_rng(seed)
    protos = r.random((4, nv)) < 0.5
    X = protos[r.integers(0, 4, n)] ^ (r.random((n, nv)) < 0.1)
    return X.astype(np.float32)


def make(method, **kw):
    base = dict(learning_rate=0.1, batch_size=10, n_iter=1, random_state=0, method=method, device="cpu")
    return RBM(6, **{**base, **kw})


def updates(r, X, n):
    for i in range(n):
        r.partial_fit(X[(i * 10) % len(X):(i * 10) % len(X) + 10])
    return r


def test_fpcd_is_a_method():
    assert "fpcd" in METHODS


@pytest.mark.parametrize("k", [1, 3])
def test_fpcd_without_fast_learning_is_pcd(k):
    X = data()
    a = updates(make("pcd", k=k, n_chains=7), X, 30)
    b = updates(make("fpcd", k=k, n_chains=7, fast_learning_rate=0.0), X, 30)
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-5)
    np.testing.assert_allclose(a.h_samples_, b.h_samples_)


def test_fast_weights_follow_their_update_rule():
    """F <- decay F + fast_lr G, where G is the regular step divided by lr (no momentum, no weight decay)."""
    X = data()
    r = updates(make("fpcd", fast_learning_rate=0.3, fast_decay=0.8), X, 5)
    for i in range(5):
        before = r.state_dict()
        r.partial_fit(X[i * 10:(i + 1) * 10])
        after = r.state_dict()
        G = (after["P"] - before["P"]) / 0.1
        torch.testing.assert_close(after["fast"], 0.8 * before["fast"] + 0.3 * G, atol=1e-5, rtol=1e-4)
    assert after["fast"].abs().max() > 0


def test_negative_chains_use_the_fast_weights():
    X = data()
    a = updates(make("fpcd", fast_learning_rate=0.0), X, 20)
    b = updates(make("fpcd", fast_learning_rate=5.0, fast_decay=1.0), X, 20)
    assert not np.array_equal(a.h_samples_, b.h_samples_)


def test_state_dict_carries_fast_weights_and_resume_is_exact():
    X = data()
    straight = updates(make("fpcd", fast_learning_rate=0.2), X, 20)
    half = updates(make("fpcd", fast_learning_rate=0.2), X, 10)
    state = half.state_dict()
    assert "fast" in state and state["fast"].abs().max() > 0
    resumed = RBM.from_state_dict(state, device="cpu")
    torch.testing.assert_close(resumed.state_dict()["fast"], state["fast"])
    for i in range(10, 20):
        resumed.partial_fit(X[(i * 10) % len(X):(i * 10) % len(X) + 10])
    np.testing.assert_allclose(resumed.components_, straight.components_, atol=1e-6)


def test_bad_fast_settings_are_refused():
    with pytest.raises(ValueError):
        make("fpcd", fast_decay=1.5).fit(data())
    with pytest.raises(ValueError):
        make("fpcd", fast_learning_rate=-1).fit(data())


def test_cd_and_pcd_have_no_fast_weights():
    for m in ("cd", "pcd"):
        r = updates(make(m), data(), 2)
        assert "fast" not in r.state_dict()


# ----------------------------------------------------------------------------- comparison runs

@pytest.fixture(scope="module")
def comparison(mnist):
    run = algorithms.BMRun(n_train=2000, hidden=8, updates=300, eval_every=100, n_eval=500)
    recs = [(r, r.extra["snapshot"]() if "snapshot" in r.extra else None) for r in algorithms.train(run, mnist)]
    return run, recs


def test_comparison_measures_exact_log_likelihood_of_every_algorithm(comparison, mnist):
    run, recs = comparison
    measured = [(r, s) for r, s in recs if s is not None]
    assert [r.step for r, _ in measured] == [0, 100, 200, 300] and measured[-1][0].done
    snap = measured[-1][1]
    V = torch.as_tensor(algorithms.held_out_binary(run, mnist), dtype=torch.float64)
    for a in algorithms.ALGORITHMS:
        m = RBM.from_state_dict(snap["nets"][a], device="cpu")
        W, b, c = (t.double() for t in (m.W, m.b, m.c))
        want = float(exact_log_likelihood(V, W, b, c, log_partition_exact(W, b, c)).mean())
        assert snap["history"][-1][f"ll_{a}"] == pytest.approx(want, abs=1e-6)
        assert snap["history"][-1][f"ll_{a}"] > snap["history"][0][f"ll_{a}"] + 10  # learnt
        assert len(snap["particles"][a]) == 4 and snap["particles"][a][-1].shape == (algorithms.N_PARTICLES, 784)
    start = measured[0][1]["nets"]  # the models the step-0 row measured: one set of initial weights
    m0 = RBM.from_state_dict(start["cd"], device="cpu")
    for a in algorithms.ALGORITHMS[1:]:
        torch.testing.assert_close(RBM.from_state_dict(start[a], device="cpu").W, m0.W, rtol=0, atol=0)
    W, b, c = (t.double() for t in (m0.W, m0.b, m0.c))
    want0 = float(exact_log_likelihood(V, W, b, c, log_partition_exact(W, b, c)).mean())
    assert snap["history"][0]["ll_cd"] == pytest.approx(want0, abs=1e-6)  # measured before the first update
    pixel_means = mnist.X_train[: run.n_train].mean(0)  # visible biases start at the data's base rates
    assert np.abs(1 / (1 + np.exp(-m0.intercept_visible_)) - pixel_means).max() < 0.05


def test_the_algorithms_see_the_same_mini_batches_in_the_same_order(mnist, spy):
    """Only the negative phase differs: every algorithm's update u gets the same digits (reshuffled every epoch),
    and the models part ways through their negative phases alone."""
    fed = spy(RBM, "update", lambda self, V: (self.method, V.clone()))
    run = algorithms.BMRun(n_train=300, hidden=8, batch_size=100, updates=6, eval_every=6, n_eval=200)
    hist = [r.extra["snapshot"]() for r in algorithms.train(run, mnist) if "snapshot" in r.extra][-1]["history"]
    assert [m for m, _ in fed] == list(algorithms.ALGORITHMS) * 6
    X = torch.as_tensor(mnist.X_train[:300])
    epochs = []
    for u in range(6):
        batches = [V for _, V in fed[3 * u: 3 * u + 3]]
        for V in batches[1:]:
            assert torch.equal(V, batches[0]), u
        rows = [int(torch.nonzero((X == v).all(1))[0]) for v in batches[0]]  # which training digits
        epochs.append(rows)
    for e in (0, 3):  # an epoch (3 updates) covers the 300 digits once, in a new order the next epoch
        assert sorted(i for rows in epochs[e: e + 3] for i in rows) == list(range(300))
    assert epochs[0] != epochs[3]
    assert abs(hist[-1]["ll_cd"] - hist[-1]["ll_pcd"]) > 1e-3  # yet different negative phases part ways


def test_large_models_are_measured_by_ais_close_to_the_exact_value(mnist):
    """Above exact_limit the comparison measures log Z by AIS. On a 16-unit model, which can still be enumerated, the
    AIS figure is close to the exact one; the effective sample size is recorded; the band is stored only when that
    ESS makes it mean something (at least ais.MIN_ESS_FOR_BAND), and then it holds the exact value."""
    branches = set()
    for betas, runs in [(200, 20), (1000, 300)]:  # ESS about 3, then about 56
        run = algorithms.BMRun(n_train=500, algorithms=("pcd",), hidden=16, exact_limit=10, updates=20,
                               eval_every=20, n_eval=200, ais_betas=betas, ais_runs=runs)
        snap = [r for r in algorithms.train(run, mnist) if r.metrics][-1].extra["snapshot"]()
        last = snap["history"][-1]
        m = RBM.from_state_dict(snap["nets"]["pcd"], device="cpu")
        W, b, c = (t.double() for t in (m.W, m.b, m.c))
        V = torch.as_tensor(algorithms.held_out_binary(run, mnist), dtype=torch.float64)
        exact = float(exact_log_likelihood(V, W, b, c, log_partition_exact(W, b, c)).mean())
        assert last["ll_pcd"] == pytest.approx(exact, abs=1.5)
        assert 1 <= last["ess_pcd"] <= runs
        if last["ess_pcd"] >= MIN_ESS_FOR_BAND:
            assert last["ll_pcd_low"] - 0.05 <= exact <= last["ll_pcd_high"] + 0.05
            assert last["ll_pcd_low"] <= last["ll_pcd"] <= last["ll_pcd_high"]
            branches.add("band")
        else:
            assert np.isnan(last["ll_pcd_low"]) and np.isnan(last["ll_pcd_high"])
            branches.add("no band")
    assert branches == {"band", "no band"}
