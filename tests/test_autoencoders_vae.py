"""The VAE (core.autoencoders.vae) against independent computations: torch.distributions, quadrature of a
one-dimensional latent, Monte Carlo within its error, and exact log-likelihoods where the posterior is known."""
import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from core import data as datasets
from core import training
from core.autoencoders import vae as V

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(latent=1, n_v=6, hidden=5, seed=0) -> V.VAE:
    """A small VAE whose decoder depends strongly on z and whose q(z|x) is a little wider than the prior (a sound
    importance-sampling proposal, as a trained encoder's roughly is)."""
    torch.manual_seed(seed)
    m = V.VAE(n_v, latent, hidden).double()
    with torch.no_grad():
        for p in m.decoder.parameters():
            p.mul_(2.0)
        m.encoder[-1].bias[latent:].add_(0.5)  # log sigma^2 around +0.5
    return m.eval()


def binary_rows(n, n_v, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).random((n, n_v)) < 0.4, dtype=torch.float64)


def exact_log_px(m: V.VAE, x: torch.Tensor, n_grid: int = 40_001) -> torch.Tensor:
    """log p(x) = log integral p(x|z) N(z; 0, 1) dz for a 1-D latent, by the trapezoid rule on [-10, 10]."""
    z = torch.linspace(-10, 10, n_grid, dtype=torch.float64)
    with torch.no_grad():
        logits = m.decode(z[:, None])  # (G, n_v)
        lp = Bernoulli(logits=logits[:, None, :]).log_prob(x[None]).sum(-1) + Normal(0.0, 1.0).log_prob(z)[:, None]
    dz = float(z[1] - z[0])
    w = torch.full((n_grid,), dz, dtype=torch.float64)
    w[0] = w[-1] = dz / 2
    return torch.logsumexp(lp + w.log()[:, None], 0)  # (n,)


def test_gaussian_kl_closed_form_matches_torch_distributions_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(7, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(7, 3, generator=g, dtype=torch.float64)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))
    ours = V.gaussian_kl(mu, logvar)
    torch.testing.assert_close(ours, kl_divergence(q, p).sum(-1))
    z = q.sample((40_000,))  # Monte Carlo E_q[log q - log p]
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1)
    err = mc.std(0) / math.sqrt(len(mc))
    assert ((mc.mean(0) - ours).abs() < 5 * err).all()


def test_log_weights_equal_an_independent_computation():
    m, x = tiny(latent=3), binary_rows(4, 6)
    eps = torch.randn(9, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        lw = V.log_weights(m, x, eps)
        mu, logvar = m.encode(x)
        q = Normal(mu, (0.5 * logvar).exp())
        z = mu + q.scale * eps
        want = (Bernoulli(logits=m.decode(z)).log_prob(x).sum(-1) + Normal(0.0, 1.0).log_prob(z).sum(-1)
                - q.log_prob(z).sum(-1))
    torch.testing.assert_close(lw, want)
    with torch.no_grad():  # beta scales only the prior/posterior ratio
        lw2 = V.log_weights(m, x, eps, beta=0.3)
        torch.testing.assert_close(lw2, Bernoulli(logits=m.decode(z)).log_prob(x).sum(-1) + 0.3 * (
            Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)))


def test_elbo_equals_quadrature_on_a_one_dimensional_latent():
    """ELBO = integral q(z|x) [log p(x|z) + log p(z) - log q(z|x)] dz by quadrature; ours by Monte Carlo within error."""
    m, x = tiny(latent=1), binary_rows(3, 6, seed=2)
    with torch.no_grad():
        mu, logvar = m.encode(x)
        sd = (0.5 * logvar).exp()
        u = torch.linspace(-9, 9, 20_001, dtype=torch.float64)  # z = mu + sd u, u ~ N(0, 1)
        z = mu.T + sd.T * u[:, None]  # (G, n)
        log_px_z = Bernoulli(logits=m.decode(z[..., None])).log_prob(x[None]).sum(-1)  # (G, n)
        integrand = log_px_z + Normal(0.0, 1.0).log_prob(z) - Normal(mu.T, sd.T).log_prob(z)
        w = Normal(0.0, 1.0).log_prob(u).exp() * float(u[1] - u[0])
        exact = (w[:, None] * integrand).sum(0)
        eps = torch.randn(100_000, 3, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        t = V.elbo_terms(m, x, eps)
        per_sample = Bernoulli(logits=m.decode(mu + sd * eps)).log_prob(x).sum(-1)  # for the error bar
    err = per_sample.std(0) / math.sqrt(len(eps))
    assert ((t["elbo"] - exact).abs() < 5 * err + 1e-9).all(), (t["elbo"], exact)
    torch.testing.assert_close(t["elbo"], t["recon"] - t["kl"])
    assert (t["elbo"] <= exact_log_px(m, x) + 5 * err).all()  # a lower bound of log p(x)


def test_importance_sampled_likelihood_is_a_lower_bound_that_tightens_with_k():
    m, x = tiny(latent=1, seed=4), binary_rows(5, 6, seed=5)
    exact = exact_log_px(m, x).numpy()
    means, sems = [], []
    for k in (1, 10, 100, 2000):
        est = np.array([V.log_likelihood_is(m, x, k=k, seed=s)["per_digit"] for s in range(30 if k < 2000 else 5)])
        means.append(est.mean(0))
        sems.append(est.std(0, ddof=1) / math.sqrt(len(est)) + 1e-12)
        assert (means[-1] <= exact + 4 * sems[-1]).all(), k  # E[log p_k] <= log p(x)
    means, sems = np.array(means), np.array(sems)
    band = 3 * np.sqrt(sems[1:] ** 2 + sems[:-1] ** 2)
    assert (np.diff(means, axis=0) > -band).all()  # tighter with k, on average (Burda et al., Theorem 1)
    assert np.abs(means[-1] - exact).max() < 0.06  # and close to the truth at k = 2,000 (ESS ~ 1,000)
    assert (means[0] < exact - 0.05).any()  # k = 1 (the ELBO's level) is visibly below


def test_decoder_that_ignores_z_gives_the_exact_likelihood():
    """p(x|z) = p(x): the posterior is the prior; with q = prior every weight equals p(x), for any k."""
    m, x = tiny(latent=2, seed=6), binary_rows(4, 6, seed=7)
    with torch.no_grad():
        m.decoder[0].weight.zero_()  # the decoder no longer sees z
        m.encoder[-1].weight.zero_()
        m.encoder[-1].bias.zero_()  # q(z|x) = N(0, I)
        exact = Bernoulli(logits=m.decode(torch.zeros(1, 2, dtype=torch.float64))).log_prob(x).sum(-1)
    for k in (1, 7, 300):
        r = V.log_likelihood_is(m, x, k=k, seed=k)
        np.testing.assert_allclose(r["per_digit"], exact.numpy(), rtol=0, atol=1e-9)
        assert r["se_mc"] < 1e-6 and r["ess"] == pytest.approx(k)
    with torch.no_grad():  # q no longer the prior: a lower bound on average, exact in the limit
        m.encoder[-1].bias.copy_(torch.tensor([0.5, -0.3, 0.4, 0.2], dtype=torch.float64))
    est = np.mean([V.log_likelihood_is(m, x, k=200, seed=s)["per_digit"] for s in range(20)], 0)
    assert (est <= exact.numpy() + 1e-3).all() and np.abs(est - exact.numpy()).max() < 0.05


def test_likelihood_chunks_and_batches_do_not_change_the_estimate():
    m, x = tiny(latent=3, seed=8), binary_rows(7, 6, seed=9)
    a = V.log_likelihood_is(m, x, k=50, seed=1, max_rows=10_000)
    b = V.log_likelihood_is(m, x, k=50, seed=1, max_rows=7)  # 7 samples per chunk, one digit per batch
    np.testing.assert_allclose(a["per_digit"], b["per_digit"], rtol=1e-10)
    c = V.log_likelihood_is(m, x[3:5], k=50, seed=1)  # a digit's draws depend on its row only... and its position
    assert c["per_digit"].shape == (2,)
    # the reported Monte-Carlo error matches the spread over seeds
    runs = np.array([V.log_likelihood_is(m, x, k=20, seed=s)["ll"] for s in range(40)])
    se = V.log_likelihood_is(m, x, k=20, seed=0)["se_mc"]
    assert 0.5 * se < runs.std(ddof=1) < 2.0 * se
    with pytest.raises(ValueError):
        V.log_likelihood_is(m, x, k=0)


def test_iwae_bound_is_the_elbo_at_k1_and_grows_with_k():
    m, x = tiny(latent=2, seed=10), binary_rows(6, 6, seed=11)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        b1 = V.training_bound(m.float(), x.float(), 1, 1.0, g)
        torch.testing.assert_close(b1["bound"], b1["elbo"])
        vals = {k: torch.stack([V.training_bound(m, x.float(), k, 1.0, g)["bound"] for _ in range(300)]).mean(0)
                for k in (1, 5, 50)}
    assert (vals[5] > vals[1] - 0.02).all() and (vals[50] > vals[5] - 0.02).all()
    assert (vals[50] - vals[1]).mean() > 0.05


def test_training_improves_the_held_out_elbo_without_nan_and_leaves_the_data_alone(mnist):
    X_before = mnist.X_train[:400].copy()
    run = V.VAERun(n_train=400, latent=2, hidden=64, epochs=4, batch_size=50, warmup=2, n_eval=200, lr=3e-3)
    snap = training.run_to_end(V.VAESteps(run, mnist))
    hist = snap["history"]
    assert len(hist) == 5 and all(np.isfinite(list(r.values())).all() for r in hist)
    assert hist[-1]["elbo"] > hist[0]["elbo"] + 100
    assert hist[-1]["kl_weight"] == 1.0 and hist[1]["kl_weight"] == 0.5  # the warm-up
    np.testing.assert_array_equal(X_before, mnist.X_train[:400])
    m = V.model(snap)
    mu, sd = V.encode_means(m, mnist.X_test[:10])
    assert mu.shape == (10, 2) and (sd > 0).all()
    imgs = V.decode_means(m, V.manifold_grid(5))
    assert imgs.shape == (25, 784) and 0 <= imgs.min() and imgs.max() <= 1
    assert V.sample_prior(m, 3, seed=1).shape == (3, 784)
    np.testing.assert_array_equal(V.sample_prior(m, 3, seed=1), V.sample_prior(m, 3, seed=1))
    V.VAESteps(run, mnist)  # constructing again is cheap and changes nothing


def test_manifold_grid_and_interpolation():
    g = V.manifold_grid(4, span=0.9)
    assert g.shape == (16, 2)
    assert g[0, 0] < g[1, 0] and g[0, 1] > g[4, 1]  # columns: z1 grows; rows: z2 falls
    np.testing.assert_allclose(g[:4, 0], -g[:4, 0][::-1], atol=1e-6)  # symmetric quantiles
    line = V.interpolate([0, 0, 1], [2, 4, 1], steps=5)
    np.testing.assert_allclose(line[[0, -1]], [[0, 0, 1], [2, 4, 1]])
    np.testing.assert_allclose(line[2], [1, 2, 1])


def test_active_units_and_bad_settings(mnist):
    mu = np.c_[np.linspace(-1, 1, 50), np.full(50, 0.3), 0.01 * np.sin(np.arange(50))]
    assert V.active_units(mu) == 1
    for bad in (dict(beta=-1.0), dict(k=0), dict(lr=0.0), dict(latent=0), dict(beta=float("nan"))):
        with pytest.raises(ValueError):
            V.VAESteps(V.VAERun(**bad), mnist)


def test_held_out_digits_are_the_boltzmann_labs(mnist):
    steps = V.VAESteps(V.VAERun(n_eval=100), mnist)
    steps.prepare()
    np.testing.assert_array_equal(steps.Xev.numpy(), datasets.held_out_binary(mnist.X_test)[:100])


def test_training_digits_are_moved_by_at_most_the_shift_with_zeros_shifted_in():
    g = torch.Generator().manual_seed(0)
    X = torch.zeros(500, 1 * 6 * 7)
    X[:, 2 * 7 + 3] = 1.0  # one lit pixel at row 2, column 3
    Y = V.shifted(X, (1, 6, 7), 1, g).reshape(500, 6, 7)
    rows, cols = torch.nonzero(Y, as_tuple=True)[1:]
    assert len(rows) == 500 and Y.sum() == 500  # moved, never lost or duplicated
    assert set(rows.tolist()) == {1, 2, 3} and set(cols.tolist()) == {2, 3, 4}  # every offset in {-1, 0, 1}^2 occurs
    assert V.shifted(X, (1, 6, 7), 0, g) is X
    edge = torch.zeros(200, 42)
    edge[:, 0] = 1.0  # a corner pixel: moving it out of the image loses it (zeros come in, nothing wraps around)
    assert V.shifted(edge, (1, 6, 7), 1, g).reshape(200, 6, 7)[:, 5, :].sum() == 0


def test_the_fused_adam_takes_the_unfused_step_and_shares_its_state():
    from core.device import adam

    torch.manual_seed(0)
    a, b = torch.nn.Linear(20, 7), torch.nn.Linear(20, 7)
    b.load_state_dict(a.state_dict())
    fused, plain = adam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2)
    assert fused.defaults["fused"] and not plain.defaults["fused"]
    x = torch.randn(16, 20)
    for _ in range(5):
        for net, opt in ((a, fused), (b, plain)):
            opt.zero_grad()
            net(x).square().sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    again = torch.optim.Adam(b.parameters(), lr=1e-2)
    again.load_state_dict(fused.state_dict())  # a snapshot of the fused optimiser resumes an unfused one
    assert again.state_dict()["state"][0]["exp_avg"].equal(fused.state_dict()["state"][0]["exp_avg"])
