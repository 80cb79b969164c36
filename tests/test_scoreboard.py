"""The scoreboard: every number recomputed from the stored run (one family per kind of estimate), implicit
families never show a likelihood, the student's own runs can be chosen, the page opens from the shipped rows."""
from dataclasses import asdict, make_dataclass

import numpy as np
import pytest
import torch

from core import configs
from core.cache import DiskCache
from core.scoreboard import board
from core.scoreboard.families import FAMILIES, by_name
from tests.apptests import open_page, page_text
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def shipped(mnist):
    """{family name: (its shipped run, its shipped row)}."""
    rows = board.shipped_rows()
    out = {}
    for f in FAMILIES:
        run = f.steps(mnist, f.default_config()).shipped()
        assert run is not None, f"{f.name}: its page's default run ships with the app"
        out[f.name] = (run, rows.get(f.name))
    return out


@pytest.fixture(scope="module")
def quality(mnist):
    from core.quality import quality_model

    return quality_model(mnist)


def test_every_shipped_row_was_made_for_the_run_that_ships_now(shipped, mnist):
    for name, (run, row) in shipped.items():
        assert board.usable(row, by_name(name), mnist), name
        assert row["key"] == board.run_key(by_name(name), run, mnist), name


def test_config_like_rebuilds_every_family_config_exactly(mnist):
    for f in FAMILIES:
        cfg = f.default_config()
        steps = f.steps(mnist, cfg)
        assert asdict(steps.config) == cfg, f.name
    with pytest.raises(TypeError):
        configs.config_like(make_dataclass("C", ["a"])(1), {"b": 2})


def test_an_ais_likelihood_equals_free_energies_of_the_held_out_digits_minus_the_stored_log_z(shipped, mnist):
    """RBM: log p(v) = -F(v) - log Z, F(v) = -b.v - sum_j softplus(c_j + W_j.v), summed here by hand."""
    from core.boltzmann import dbm
    from core.data import held_out_binary

    run, row = shipped["RBM"]
    rbm = dbm.baseline_rbm(run)
    W, b, c = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in (rbm.W, rbm.b, rbm.c))
    V = torch.as_tensor(held_out_binary(mnist.X_test), dtype=torch.float64)
    W = W if W.shape[0] == V.shape[1] else W.T  # (784, 500)
    minus_free = V @ b + torch.nn.functional.softplus(V @ W + c).sum(1)
    log_z = run["provenance"]["scores"]["log_likelihood"]["rbm"]["ais"]["log_z"]
    est = by_name("RBM").likelihood(run)  # what a row is made of, read now
    assert float(minus_free.mean()) - log_z == pytest.approx(est.ll, abs=0.02)
    assert (row["ll"], row["ll_low"]) == (est.ll, est.low)
    assert est.low < est.ll and "RAISE" in est.method


def test_an_exact_likelihood_equals_log_sigmoid_sums_over_the_pixels_of_the_held_out_digits(shipped, mnist):
    """PixelCNN: log p(x) = sum_i [x_i log s(l_i) + (1 - x_i) log s(-l_i)], l = the network's logits, summed here."""
    from core.data import held_out_binary
    from core.pixelcnn import run as pixelcnn

    run, row = shipped["PixelCNN"]
    m = pixelcnn.model(run)
    V = torch.as_tensor(held_out_binary(mnist.X_test), dtype=torch.float32).reshape(-1, 1, 28, 28)
    with torch.no_grad():
        logits = torch.cat([m(V[i:i + 500]) for i in range(0, len(V), 500)]).double()
    V = V.double()
    ll = (V * torch.nn.functional.logsigmoid(logits) + (1 - V) * torch.nn.functional.logsigmoid(-logits)).sum((1, 2, 3))
    est = by_name("PixelCNN").likelihood(run)
    assert float(ll.mean()) == pytest.approx(est.ll, abs=0.01)
    assert float(ll.std() / len(ll) ** 0.5) == pytest.approx(est.se, rel=0.01)
    assert (row["ll"], row["ll_se"]) == (est.ll, est.se) and est.method.startswith("exact")


def test_an_importance_sampled_likelihood_sits_above_the_recomputed_elbo_of_the_same_digits(shipped, mnist):
    """VAE: the stored IS estimate (k = 5,000) must exceed the ELBO recomputed now on the held-out digits."""
    from core.autoencoders import vae
    from core.data import held_out_binary

    run, row = shipped["VAE (32-d latent)"]
    est = by_name("VAE (32-d latent)").likelihood(run)
    elbo = vae.elbo_of(vae.model(run), held_out_binary(mnist.X_test), seed=0)["elbo"]
    assert elbo == pytest.approx(run["provenance"]["scores"]["heldout_elbo"]["elbo"], abs=0.5)
    assert elbo < est.ll < elbo + 10
    assert (row["ll"], row["ll_se"]) == (est.ll, est.se) and est.se > 0 and "lower bound" in est.errs


def test_a_sample_quality_row_is_recomputed_from_the_stored_generator(shipped, mnist, quality):
    """WGAN-GP: the row's Frechet distances and classes equal core.gan.latent.quality_report's of the same draws."""
    from core.gan import latent

    run, stored = shipped["WGAN-GP"]
    row = board.row(by_name("WGAN-GP"), run, mnist, quality)  # scored now
    rep = latent.quality_report(run, mnist, quality, n=board.N_SAMPLES, seed=board.SEED)
    for r in (row, stored):
        assert rep["fid"] == pytest.approx(r["fid"], rel=1e-3)
        assert rep["fid_heldout"] == pytest.approx(r["fid_heldout"], rel=1e-3)
        assert rep["classes_covered"] == r["classes_covered"]
        assert r["fid_floor"] == pytest.approx(quality.reference()["floor"], rel=1e-6)


def test_implicit_families_never_show_a_likelihood(shipped):
    implicit = [f for f in FAMILIES if f.implicit]
    assert {f.name for f in implicit} == {"GAN (MLP, minimax)", "GAN (minimax, comparison)", "WGAN-GP",
                                          "Conditional GAN", "DCGAN (digit 3 only)", "GMMN (pixels)", "GMMN+AE (code)",
                                          "Denoising-autoencoder chain"}
    for f in implicit:
        row = shipped[f.name][1]
        assert np.isnan(row["ll"]) and row["ll_method"] == "not available: implicit model", f.name
    from explorer.scoreboard_ui import table

    df = table([r for _, r in shipped.values()])
    for f in implicit:
        assert df.loc[df.Family == f.name, "Held-out log-likelihood (nats)"].item() == "not available: implicit model"


def test_a_students_finished_run_on_the_same_digits_is_offered_and_others_are_not(mnist, tmp_path):
    f = by_name("VAE (32-d latent)")
    cache = DiskCache(tmp_path)
    base = f.default_config()

    def put(finished=True, **change):
        steps = f.steps(mnist, {**base, **change})
        key = board.make_key(steps.kind, steps.config)
        cache.put(key, {"kind": steps.kind, "config": asdict(steps.config),
                        "done": steps.total() if finished else steps.total() - 1})
        return key

    mine = put(beta=2.0)
    put(n_train=4000, beta=2.0)  # other digits
    put(finished=False, beta=0.5)  # stopped before its end
    put()  # the shipped run's own settings: already the default row
    got = board.own_runs(f, mnist, cache)
    assert [k for k, _ in got] == [mine]
    assert "beta 2.0" in got[0][1]


@pytest.mark.shared_cache
def test_the_page_opens_from_the_shipped_rows_with_every_family():
    at = open_page(ROOT / "pages" / "scoreboard_1_scoreboard.py", {})
    df = at.dataframe[0].value
    assert set(df["Family"]) == {f.name for f in FAMILIES}
    assert (df["Run"] == "shipped").all()
    text = page_text(at)
    assert "Scoring" not in text
    assert "not available: implicit model" in df["Held-out log-likelihood (nats)"].tolist()
