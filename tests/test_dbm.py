"""The two-layer DBM: mean-field, the likelihood bound, AIS vs enumeration, sampling, resumable training, assets."""
import json

import numpy as np
import pytest
import torch

from core import assets
from core.boltzmann import dbm as D
from core.data import load
from core.boltzmann.likelihood import dbm_unnormalized_log_prob, log_partition_dbm_exact


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def small_run(digits):
    cfg = D.DBMConfig(n_hidden1=12, n_hidden2=10, pretrain_epochs=2, pretrain_lr=0.05, epochs=3, learning_rate=0.01,
                      batch_size=50, n_chains=50, k=3, mean_field_steps=10, random_state=0)
    run = D.DBMRun("digits", 0, cfg, baseline=False)
    recs = [(r, r.extra["snapshot"]()) for r in D.train(run, digits, device="cpu")]
    return cfg, recs


def test_training_runs_every_phase_and_records_snapshots(small_run):
    cfg, recs = small_run
    assert len(recs) == 1 + 2 * cfg.pretrain_epochs + cfg.epochs
    assert recs[-1][0].done and not any(r.done for r, _ in recs[:-1])
    hist = recs[-1][1]["history"]
    assert [h["epoch"] for h in hist] == list(range(len(recs)))
    assert [h["phase"] for h in hist] == [0, 0, 0, 1, 1, 2, 2, 2]
    m = D.model(recs[-1][1])
    assert all(torch.isfinite(p).all() for p in m.params.values())
    assert m.W2.abs().max() > 0.05  # the second layer learnt


def test_mean_field_reaches_its_fixed_point(small_run, digits):
    m = D.model(small_run[1][-1][1])
    V = torch.as_tensor(D.held_out_binary(digits.X_test[:20]))
    mu1, mu2 = m.mean_field(V, steps=200)
    torch.testing.assert_close(mu1, torch.sigmoid(m.c1 + V @ m.W1.T + mu2 @ m.W2), atol=1e-5, rtol=0)
    torch.testing.assert_close(mu2, torch.sigmoid(m.c2 + mu1 @ m.W2.T), atol=1e-5, rtol=0)


def test_bound_is_below_the_exact_unnormalised_log_probability(small_run, digits):
    m = D.model(small_run[1][-1][1])
    V = D.held_out_binary(digits.X_test[:50])
    bound = m.unnormalized_log_prob_bound(V)
    exact = dbm_unnormalized_log_prob(V, m.W1, m.W2, m.b, m.c1, m.c2).numpy()
    assert np.all(bound <= exact + 1e-6)
    assert np.mean(exact - bound) < 5.0  # and not a loose one on this small model


def test_ais_of_a_trained_dbm_within_half_a_nat(small_run, digits):
    m = D.model(small_run[1][-1][1])
    exact = log_partition_dbm_exact(m.W1, m.W2, m.b, m.c1, m.c2)
    res = m.log_partition_ais(digits.X_train, betas=3000, n_runs=100)
    assert abs(res.log_z - exact) < 0.5, (res.log_z, exact)


def test_sampling_is_reproducible_and_leaves_the_model_alone(small_run):
    m = D.model(small_run[1][-1][1])
    before = {k: v.clone() for k, v in m.params.items()}
    a = m.sample(5, steps=30, random_state=1, record=(0, 10))
    b = m.sample(5, steps=30, random_state=1, record=(0, 10))
    assert sorted(a) == [0, 10, 30]
    for s in a:
        np.testing.assert_array_equal(a[s], b[s])
        assert a[s].shape == (5, 64) and a[s].min() >= 0 and a[s].max() <= 1
    for k in before:
        assert torch.equal(before[k], m.params[k])


def test_second_layer_filters_are_w2_times_w1(small_run):
    m = D.model(small_run[1][-1][1])
    np.testing.assert_allclose(m.second_layer_filters(), m.W2.numpy() @ m.W1.numpy(), atol=1e-6)


def test_command_line_writes_a_loadable_asset_with_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("GME_CACHE_DIR", str(tmp_path / "cache"))
    D.main(["--dataset", "digits", "--n-train", "0", "--n-hidden1", "10", "--n-hidden2", "8", "--pretrain-epochs", "1",
            "--epochs", "1", "--betas", "200", "--runs", "10", "--out", str(tmp_path / "out")])
    on_disk = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert on_disk["config"]["dbm"]["n_hidden1"] == 10 and on_disk["command"].startswith("python -m core.boltzmann.dbm")
    ll = on_disk["scores"]["log_likelihood"]
    assert ll["dbm"]["ll"] < 0 and ll["rbm"]["ll"] < 0 and ll["dbm"]["ais"]["n_betas"] == 200
    assert [p["n_betas"] for p in ll["log_z_curve"]["rbm"]] == [25, 50, 100, 200, 400]  # betas / 8 ... 2 betas
    sw = ll["rbm_sandwich"]
    assert sw["ais"] == pytest.approx(ll["rbm"]["ll"])  # the same held-out digits and log Z_hat on both sides
    assert sw["width"] == pytest.approx(sw["ais"] - sw["conservative"])
    run = assets.load(tmp_path / "out")
    assert run["rbm_seconds"] >= run["dbm_seconds"]
    m, rbm = D.model(run), D.baseline_rbm(run)
    assert m.shape == (64, 10, 8) and rbm.components_.shape == (10, 64)
    assert "trainer" not in run and "rng" not in run and "chains" not in run["nets"]["rbm"]  # weights only: small
    torch.load(tmp_path / "out" / assets.FILENAME, weights_only=True)  # plain tensors and strings only


def test_shipped_run_is_complete():
    run = assets.load(D.ASSET_DIR)
    assert run is not None
    prov = run["provenance"]
    for key in ("command", "data", "config", "data_sha256", "scores", "device", "date"):
        assert key in prov
    ll = prov["scores"]["log_likelihood"]
    assert ll["dbm"]["ll"] > ll["rbm"]["ll"]  # the DBM's figure (bound - AIS log Z) is above the RBM's AIS figure
    assert abs(ll["log_z_curve"]["rbm"][-1]["log_z"] - ll["rbm"]["ais"]["log_z"]) <= 0.5  # doubling the temperatures
    assert ll["rbm_sandwich"]["width"] <= 3.0 and ll["rbm_sandwich"]["raise"]["n"] == 2000
    assert ll["rbm_sandwich"]["conservative"] < ll["rbm_sandwich"]["ais"]  # RAISE below AIS on the same digits


def test_shipped_dbm_log_z_moves_at_most_half_a_nat_when_the_temperatures_double():
    """Issue 19's target for the DBM: the shipped scores use 8,000 temperatures (dbm.SHIPPED_BETAS); at 4,000 with
    400 runs log Z_hat was low by about 2 nats from too few runs (2,000 runs at 4,000 agree with 8,000)."""
    run = assets.load(D.ASSET_DIR)
    ll = run["provenance"]["scores"]["log_likelihood"]
    assert ll["log_z_curve"]["dbm"][-1]["n_betas"] == 2 * ll["dbm"]["ais"]["n_betas"]
    assert abs(ll["log_z_curve"]["dbm"][-1]["log_z"] - ll["dbm"]["ais"]["log_z"]) <= 0.5
    m, rbm = D.model(run), D.baseline_rbm(run)
    assert m.shape == (784, 500, 500) and rbm.components_.shape == (500, 784)


def test_chains_of_both_models_start_from_the_same_images(small_run):
    m = D.model(small_run[1][-1][1])
    rbm = D.comparison_rbm(12, 0.02, 50, 0, "cpu", np.random.default_rng(0).random((20, 64)))
    ch = D.chains(m, rbm, 4, 20, seed=3)
    assert ch["steps"][0] == 0 and ch["steps"][-1] == 20
    np.testing.assert_array_equal(ch["dbm"][0], ch["rbm"][0])
    assert set(np.unique(ch["dbm"][0])) <= {0.0, 1.0}
    assert all(ch[k][s].shape == (4, 64) for k in ("dbm", "rbm") for s in ch["steps"])
    again = D.chains(m, rbm, 4, 20, seed=3)
    np.testing.assert_array_equal(again["rbm"][20], ch["rbm"][20])
