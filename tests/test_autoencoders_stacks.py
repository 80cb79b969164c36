"""Greedy stacks: the DBN (core.autoencoders.stacks) trains each RBM on the hidden samples of the one below, and its
likelihood bound is below the exact log-likelihood of a tiny enumerable model; stacked autoencoders
(core.autoencoders.sae) train one layer at a time."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import training
from core.autoencoders import sae as S
from core.autoencoders import stacks as K
from core.boltzmann.likelihood import log_partition_exact
from core.boltzmann.rbm import RBM
from core.data import ImageData

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_rbm(n_v, n_h, seed, scale=1.0) -> RBM:
    g = np.random.default_rng(seed)
    r = RBM(n_h, random_state=seed, device="cpu").initialize(n_v)
    r.components_ = scale * g.normal(size=(n_h, n_v))
    r.intercept_hidden_ = 0.5 * g.normal(size=n_h)
    r.intercept_visible_ = 0.5 * g.normal(size=n_v)
    return r


def states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def exact_dbn_log_likelihood(rbms, V) -> np.ndarray:
    """log p(v) = log sum_{h1, ..., h_{L-1}} p(v|h1) ... p*_top(h_{L-1}) / Z_top, every hidden state enumerated."""
    top = rbms[-1]
    log_z = log_partition_exact(top.W, top.b, top.c)
    W = [r.W.double() for r in rbms]
    b = [r.b.double() for r in rbms]
    c = [r.c.double() for r in rbms]

    def log_bern(x, logits):  # (..., n) summed
        return (x * logits - F.softplus(logits)).sum(-1)

    Hs = [states(r.W.shape[0]) for r in rbms[:-1]]  # h1, ..., h_{L-1}
    top_h = Hs[-1]
    log_top = top_h @ b[-1] + F.softplus(top_h @ W[-1].T + c[-1]).sum(1) - log_z  # log p(h_{L-1})
    if len(rbms) == 3:  # log p(h1) = logsumexp_h2 log p(h1 | h2) + log p(h2)
        lp_h1 = log_bern(Hs[0][:, None, :], (Hs[1] @ W[1] + b[1])[None]) + log_top[None]  # (H1, H2)
        log_h1 = torch.logsumexp(lp_h1, 1)
    else:
        log_h1 = log_top
    V = torch.as_tensor(V, dtype=torch.float64)
    lp_v = log_bern(V[:, None, :], (Hs[0] @ W[0] + b[0])[None]) + log_h1[None]  # (n, H1)
    return torch.logsumexp(lp_v, 1).numpy()


def exact_dbn_bound(rbms, V) -> np.ndarray:
    """The variational bound E_q[log p(v, h1, ..., h_{L-1}) - log q(h1, ..., h_{L-1} | v)] per digit, every hidden
    state enumerated and weighted by q(h1 | v) q(h2 | h1) (factorial recognition: sigm(c + W x) going up)."""
    top = rbms[-1]
    log_z = log_partition_exact(top.W, top.b, top.c)
    W = [r.W.double() for r in rbms]
    b = [r.b.double() for r in rbms]
    c = [r.c.double() for r in rbms]

    def log_bern(x, logits):
        return (x * logits - F.softplus(logits)).sum(-1)

    def log_top(h):
        return h @ b[-1] + F.softplus(h @ W[-1].T + c[-1]).sum(-1) - log_z

    V = torch.as_tensor(V, dtype=torch.float64)
    H1 = states(W[0].shape[0])
    log_q1 = log_bern(H1[None], (V @ W[0].T + c[0])[:, None])  # (n, H1): log q(h1 | v)
    log_pv = log_bern(V[:, None], (H1 @ W[0] + b[0])[None])  # (n, H1): log p(v | h1)
    if len(rbms) == 2:
        inner = log_top(H1)[None] - log_q1  # log p(h1) - log q(h1 | v)
    else:
        H2 = states(W[1].shape[0])
        log_q2 = log_bern(H2[None], (H1 @ W[1].T + c[1])[:, None])  # (H1, H2): log q(h2 | h1)
        log_ph1 = log_bern(H1[:, None], (H2 @ W[1] + b[1])[None])  # (H1, H2): log p(h1 | h2)
        inner = ((log_q2.exp() * (log_ph1 + log_top(H2)[None] - log_q2)).sum(1))[None] - log_q1
    return (log_q1.exp() * (log_pv + inner)).sum(1).numpy()


@pytest.mark.parametrize("layers", [2, 3])
def test_dbn_bound_is_below_the_exact_log_likelihood_of_a_tiny_model(layers):
    sizes = [8, 5, 4, 3][: layers + 1]
    rbms = [random_rbm(a, b, seed=i) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
    V = np.random.default_rng(9).random((12, 8)) < 0.5
    exact = exact_dbn_log_likelihood(rbms, V)
    top = rbms[-1]
    log_z = log_partition_exact(top.W, top.b, top.c)
    r = K.dbn_log_likelihood(rbms, V, None, samples=4000, log_z=log_z)
    terms = K.dbn_bound_terms(rbms, V, samples=4000)
    per_digit = terms["per_digit"] - log_z
    assert (per_digit <= exact + 4 * terms["per_digit_se"]).all()  # a lower bound, digit by digit
    assert r["ll"] <= exact.mean() + 4 * r["se_mc"]
    assert r["ll"] < exact.mean() - 0.05  # and a strict one here (q is not the true posterior)
    bound = exact_dbn_bound(rbms, V)  # the expectation the Monte-Carlo bound estimates, by enumeration
    assert (bound <= exact + 1e-9).all()
    assert (np.abs(per_digit - bound) <= 4 * terms["per_digit_se"] + 1e-9).all()
    assert r["ll"] == pytest.approx(bound.mean(), abs=4 * r["se_mc"])


def test_dbn_bound_with_ais_matches_the_exact_partition_function():
    rbms = [random_rbm(10, 6, 0, scale=0.5), random_rbm(6, 5, 1, scale=0.5)]
    V = np.random.default_rng(1).random((20, 10)) < 0.5
    X = np.random.default_rng(2).random((50, 10)) < 0.5
    top = rbms[-1]
    exact = K.dbn_log_likelihood(rbms, V, X, samples=50, log_z=log_partition_exact(top.W, top.b, top.c))
    ais = K.dbn_log_likelihood(rbms, V, X, betas=2000, runs=50, samples=50)
    assert ais["ll_low"] - 0.05 <= exact["ll"] <= ais["ll_high"] + 0.05
    assert abs(ais["ll"] - exact["ll"]) < 0.1 and ais["ais"]["n_runs"] == 50


def test_the_second_rbm_trains_on_the_first_layers_hidden_samples(mnist, spy):
    fed = spy(RBM, "fit_epoch", lambda self, X: (self.n_components, X.clone()))
    run = K.DBNRun(n_train=300, hidden1=30, hidden2=20, epochs=2, n_eval=100)
    steps = K.DBNSteps(run, mnist)
    snap = training.run_to_end(steps)
    assert [n for n, _ in fed] == [30, 30, 20, 20]
    first, second = fed[0][1], fed[2][1]
    assert first.shape == (300, 784) and set(torch.unique(first).tolist()) == {0.0, 1.0}  # binarised digits
    assert second.shape == (300, 30) and set(torch.unique(second).tolist()) <= {0.0, 1.0}  # samples of h1, not data
    rbm1 = K.dbn_rbms(snap)[0]
    P = K.up_probs(rbm1, torch.as_tensor(mnist.X_train[:300]))  # P(h1 | v) of the trained first layer, gray v
    samples = torch.stack([fed[2][1], fed[3][1]]).mean(0)
    assert abs(float(samples.mean() - P.mean())) < 0.05  # the samples follow the first layer's posterior
    assert not torch.equal(fed[2][1], fed[3][1])  # fresh samples every epoch
    assert [r["layer"] for r in snap["history"]] == [1, 1, 2, 2]
    imgs = K.dbn_sample(K.dbn_rbms(snap), 4, 5, seed=0, record=(0, 2))
    assert sorted(imgs) == [0, 2, 5] and imgs[5].shape == (4, 784) and 0 <= imgs[5].min() <= imgs[5].max() <= 1
    assert K.layer_filters(K.dbn_rbms(snap), 2).shape == (20, 784)
    assert K.dbn_features(K.dbn_rbms(snap), mnist.X_test[:5]).shape == (5, 20)


def test_dbn_refuses_bad_settings(mnist):
    for bad in (dict(layers=4), dict(hidden1=0), dict(method="xx"), dict(epochs=0)):
        with pytest.raises(ValueError):
            K.DBNSteps(K.DBNRun(**bad), mnist)


def tiny_images(n=300, seed=0):
    g = np.random.default_rng(seed)
    y = g.integers(0, 2, n)
    X = np.clip(np.where(y[:, None] == 0, np.r_[np.ones(8), np.zeros(8)], np.r_[np.zeros(8), np.ones(8)])
                + 0.2 * g.normal(size=(n, 16)), 0, 1).astype(np.float32)
    return ImageData("digits", X, y, X[:100], y[:100], (1, 4, 4), ["a", "b"])


def test_stacked_autoencoder_trains_one_layer_at_a_time_then_everything():
    data = tiny_images()
    run = S.SAERun("digits", n_train=300, layers=2, hidden1=6, hidden2=3, epochs=2, fine_tune=1, n_eval=100,
                   batch_size=50, lr=1e-2)
    steps = S.SAESteps(run, data)
    snaps = []
    for rec in training.train(steps):
        if "snapshot" in rec.extra:
            snaps.append(rec.extra["snapshot"]())
    g = [s["nets"]["greedy"] for s in snaps]  # after 0, 1, ..., 5 epochs
    changed = lambda a, b, k: not torch.equal(a[k], b[k])  # noqa: E731
    # epochs 1-2: only autoencoder 1 (enc.0, dec.0) moves; epochs 3-4: only autoencoder 2; epoch 5: everything
    assert changed(g[0], g[2], "enc.0.weight") and not changed(g[0], g[2], "enc.1.weight")
    assert changed(g[2], g[4], "enc.1.weight") and changed(g[2], g[4], "dec.1.weight")
    assert not changed(g[2], g[4], "enc.0.weight") and not changed(g[2], g[4], "dec.0.weight")
    assert changed(g[4], g[5], "enc.0.weight") and changed(g[4], g[5], "enc.1.weight")
    e = [s["nets"]["e2e"] for s in snaps]
    assert all(changed(e[i], e[i + 1], "enc.0.weight") for i in range(5))  # the end-to-end net: every layer, always
    hist = snaps[-1]["history"]
    assert [r["greedy_depth"] for r in hist] == [1, 1, 1, 2, 2, 2]
    assert hist[-1]["recon_e2e"] < hist[0]["recon_e2e"] and hist[-1]["recon_greedy"] < hist[0]["recon_greedy"]
    nets = S.models(snaps[-1])
    codes = S.codes(nets["greedy"], data.X_test)
    assert codes.shape == (100, 3) and (0 <= codes).all() and (codes <= 1).all()
    assert S.reconstruct(nets["e2e"], data.X_test[:4]).shape == (4, 16)


def test_classification_error_is_a_logistic_regressions():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    g = np.random.default_rng(0)
    X = g.normal(size=(300, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.3 * g.normal(size=300) > 0).astype(int)
    err = S.classification_error(X[:200], y[:200], X[200:], y[200:])
    sc = StandardScaler().fit(X[:200])
    want = (LogisticRegression(max_iter=300).fit(sc.transform(X[:200]), y[:200]).predict(sc.transform(X[200:]))
            != y[200:]).mean()
    assert err == pytest.approx(want) and err < 0.2
