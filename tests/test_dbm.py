"""The two-layer DBM: mean-field, the likelihood bound, AIS vs enumeration, sampling, resumable training, assets."""
import json

import numpy as np
import pytest
import torch

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
    recs = list(D.train(cfg, digits.X_train, digits.X_test, device="cpu"))
    return cfg, recs


def test_training_runs_every_phase_and_records_snapshots(small_run):
    cfg, recs = small_run
    assert len(recs) == 1 + 2 * cfg.pretrain_epochs + cfg.epochs
    assert recs[-1].done and not any(r.done for r in recs[:-1])
    hist = recs[-1].extra["snapshot"]()["history"]
    assert [h["epoch"] for h in hist] == list(range(len(recs)))
    assert [h["phase"] for h in hist] == [0, 0, 0, 1, 1, 2, 2, 2]
    m = D.model(recs[-1].extra["snapshot"]())
    assert all(torch.isfinite(p).all() for p in m.params.values())
    assert m.W2.abs().max() > 0.05  # the second layer learnt


def test_resuming_mid_pretraining_gives_the_same_model(small_run, digits):
    cfg, recs = small_run
    partial = recs[3].extra["snapshot"]()  # after the first top-RBM epoch
    rest = list(D.train(cfg, digits.X_train, digits.X_test, partial=partial, device="cpu"))
    a, b = D.model(rest[-1].extra["snapshot"]()), D.model(recs[-1].extra["snapshot"]())
    for k in a.params:
        torch.testing.assert_close(a.params[k], b.params[k])


def test_mean_field_reaches_its_fixed_point(small_run, digits):
    m = D.model(small_run[1][-1].extra["snapshot"]())
    V = torch.as_tensor(D.held_out_binary(digits.X_test[:20]))
    mu1, mu2 = m.mean_field(V, steps=200)
    torch.testing.assert_close(mu1, torch.sigmoid(m.c1 + V @ m.W1.T + mu2 @ m.W2), atol=1e-5, rtol=0)
    torch.testing.assert_close(mu2, torch.sigmoid(m.c2 + mu1 @ m.W2.T), atol=1e-5, rtol=0)


def test_bound_is_below_the_exact_unnormalised_log_probability(small_run, digits):
    m = D.model(small_run[1][-1].extra["snapshot"]())
    V = D.held_out_binary(digits.X_test[:50])
    bound = m.unnormalized_log_prob_bound(V)
    exact = dbm_unnormalized_log_prob(V, m.W1, m.W2, m.b, m.c1, m.c2).numpy()
    assert np.all(bound <= exact + 1e-6)
    assert np.mean(exact - bound) < 5.0  # and not a loose one on this small model


def test_ais_of_a_trained_dbm_within_half_a_nat(small_run, digits):
    m = D.model(small_run[1][-1].extra["snapshot"]())
    exact = log_partition_dbm_exact(m.W1, m.W2, m.b, m.c1, m.c2)
    res = m.log_partition_ais(digits.X_train, betas=3000, n_runs=100)
    assert abs(res.log_z - exact) < 0.5, (res.log_z, exact)


def test_sampling_is_reproducible_and_leaves_the_model_alone(small_run):
    m = D.model(small_run[1][-1].extra["snapshot"]())
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
    m = D.model(small_run[1][-1].extra["snapshot"]())
    np.testing.assert_allclose(m.second_layer_filters(), m.W2.numpy() @ m.W1.numpy(), atol=1e-6)


def test_command_line_writes_a_loadable_asset_with_provenance(tmp_path):
    prov = D.main(["--dataset", "digits", "--hidden1", "10", "--hidden2", "8", "--pretrain-epochs", "1", "--epochs",
                   "1", "--ais-betas", "200", "--ais-runs", "10", "--out", str(tmp_path)])
    on_disk = json.loads((tmp_path / "provenance.json").read_text())
    assert on_disk["dbm"]["n_hidden1"] == 10 and on_disk["command"].startswith("python -m core.dbm")
    assert prov["rbm"]["seconds"] >= prov["dbm_seconds"] * 0.5
    asset = D.load_asset(tmp_path)
    m = D.DBM.from_state_dict(asset["dbm"])
    assert m.shape == (64, 10, 8) and asset["rbm"]["W"].shape == (10, 64)
    torch.load(tmp_path / "model.pt", weights_only=True)  # plain tensors and strings only


def test_shipped_asset_is_small_and_complete():
    p = D.ASSET_DIR / "model.pt"
    if not p.exists():
        pytest.skip("no shipped model yet")
    assert p.stat().st_size < 5e6
    asset = D.load_asset()
    prov = asset["provenance"]
    for key in ("command", "data", "dbm", "dbm_seconds", "rbm", "log_likelihood", "device", "finished"):
        assert key in prov
    m = D.DBM.from_state_dict(asset["dbm"])
    assert m.shape[0] == 784 and all(torch.isfinite(p).all() for p in m.params.values())
