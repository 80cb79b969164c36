"""The autoencoder pages under AppTest: every tab at the defaults (shipped runs on the MNIST split), every tab at
extreme settings on small data, bad settings, and the latent plane's selection handling."""
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.data import DATASETS

pytestmark = [pytest.mark.shared_cache, pytest.mark.usefixtures("one_torch_thread")]
ROOT = Path(__file__).resolve().parent.parent
VAE, DAE, STACKS = (str(ROOT / "pages" / f) for f in ("autoencoders_1_vae.py", "autoencoders_2_denoising.py",
                                                     "autoencoders_3_stacks.py"))
DIGITS = DATASETS["digits"]
TABS = {VAE: ["Latent space", "Reconstructions and samples", "Training curves", "Log-likelihood"],
        DAE: ["Chains", "Sample quality", "Denoising", "Training curves"],
        STACKS: ["DBN samples", "Filters", "Log-likelihood", "Stacked autoencoders"]}


def app(path, **params):
    at = AppTest.from_file(path, default_timeout=600)
    for k, v in params.items():
        at.query_params[k] = str(v)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def text(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning]
    parts += [i.value for i in at.info] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", [VAE, DAE, STACKS], ids=["vae", "denoising", "stacks"])
def test_every_tab_at_the_defaults_opens_on_the_shipped_run(page, mnist):
    for view in TABS[page]:
        at = app(page, view=view)
        assert "shipped with the app" in text(at) or "from the cache" in text(at), view
        assert at.get("image") or at.get("plotly_chart") or at.metric, view


def test_vae_defaults_show_the_manifold_and_the_likelihood_next_to_the_dbm(mnist):
    at = app(VAE)
    assert len(at.get("plotly_chart")) == 1  # the latent plane
    assert any("manifold" in m.value for m in at.markdown)
    at = app(VAE, view="Log-likelihood")
    assert "log p(x), importance sampling" in at.metric[0].label
    table = at.dataframe[0].value
    models = " ".join(table["model"])
    assert "DBM" in models and "RBM" in models and "shipped VAE, 32-d latent" in models
    ll = table.set_index("model")["held_out_log_likelihood"]
    assert ll.filter(like="shipped VAE, 32-d").iloc[0] > ll.filter(like="DBM").iloc[0]  # the VAE beats the DBM


@pytest.mark.parametrize("params", [
    dict(latent=64, beta=10.0, iwae="true", k=50, hidden=100, epochs=1, lr=0.01, seed=10000),
    dict(latent=2, beta=0.1, hidden=1000, epochs=1, lr=0.0001, zx=-10.0, zy=10.0, grid=30, n_show=64, is_k=1000),
], ids=["large-latent-iwae", "small-beta"])
def test_vae_extremes_on_every_tab(params):
    for view in TABS[VAE]:
        at = app(VAE, data=DIGITS, view=view, is_n=100, **params)
        assert at.get("image") or at.get("plotly_chart") or at.metric, view
    assert f"Latent dimensions: {params['latent']}" in text(at)


@pytest.mark.parametrize("params", [
    dict(corruption="Gaussian", level=2.0, walkback="false", hidden=100, epochs=1, lr=0.01, start="digit", steps=10,
         chains=4, cseed=10000),
    dict(corruption="salt-and-pepper", level=0.9, walkback_p=0.9, hidden=2000, epochs=1, steps=1000, chains=16),
], ids=["gaussian-no-walkback", "heavy-salt-walkback"])
def test_denoising_extremes_on_every_tab(params):
    seen = ""
    for view in TABS[DAE]:
        at = app(DAE, data=DIGITS, view=view, burn=20, **params)
        assert at.get("image") or at.get("plotly_chart") or at.metric, view
        seen += text(at) + " ".join(m.label for m in at.metric)
    assert ("DAE + walkback" in seen) == (params.get("walkback") != "false")


@pytest.mark.parametrize("params", [
    dict(layers=3, h1=1000, h2=50, h3=1000, epochs=1, lr=0.2, method="CD-1", seed=10000, gibbs=5000,
         sae_layers=3, sae_h1=50, sae_h2=10, sae_h3=500, sae_epochs=1, sae_fine=2),
    dict(layers=2, h1=50, h2=50, epochs=2, lr=0.001, gibbs=1, betas=500, runs=10, sae_epochs=2, sae_fine=0),
], ids=["three-layers", "two-small"])
def test_stacks_extremes_on_every_tab(params):
    for view in TABS[STACKS]:
        at = app(STACKS, data=DIGITS, view=view, **params)
        if view == "Log-likelihood":
            at.button(key="ais").click().run()
            assert not at.exception, at.exception
            assert len(at.dataframe) == 1 and "bound − AIS log Ẑ" in " ".join(at.dataframe[0].value["model"])
        if view == "Stacked autoencoders":
            errors = [m for m in at.metric if m.value.endswith("%")]
            assert len(errors) == 4 and len(at.metric) == 6  # pixels, greedy, end to end, DBN; two reconstructions
            assert all(0 <= float(m.value.rstrip("%")) <= 100 for m in errors)
        assert at.get("image") or at.get("plotly_chart") or at.metric, view


def test_bad_settings_give_one_line_errors(monkeypatch):
    from explorer import autoencoders_ui as ui

    real = ui.vae.check_run

    def refuse(run, data):
        raise ValueError("the shift must be between 0 and half the image size, got 9")

    monkeypatch.setattr(ui.vae, "check_run", refuse)
    at = AppTest.from_file(VAE, default_timeout=60)
    at.query_params["data"] = DIGITS
    at.run()
    monkeypatch.setattr(ui.vae, "check_run", real)
    assert not at.exception
    assert at.error and "cannot train" in at.error[0].value


def test_selection_parsing_decodes_digits_grid_points_and_boxes():
    from explorer import autoencoders_ui as ui

    sel = {"points": [{"curve_number": 0, "point_index": 5, "x": 0.5, "y": -1.0},
                      {"curve_number": 3, "point_index": 2, "x": 1.0, "y": 2.0, "customdata": 17},
                      {"curve_number": 4, "x": 0.0, "y": 0.0, "customdata": [42]}], "box": []}
    pts = ui.selected_points(sel)
    assert [p["digit"] for p in pts] == [17, 42, None]  # digits first, then grid points
    assert pts[2]["xy"] == (0.5, -1.0)
    assert ui.box_corners({"points": [], "box": [{"x": [2.0, -1.0], "y": [0.5, 3.0]}]}) == ((-1.0, 2.0), (0.5, 3.0))
    assert ui.box_corners({"points": [], "box": []}) is None
    plane = ui.vae.latent_plane(np.random.default_rng(0).normal(size=(50, 5)))
    fig = ui.latent_figure(plane, np.arange(50) % 10, [str(i) for i in range(10)])
    assert len(fig.data) == 11 and len(fig.data[0].x) == 41 * 41  # the clickable grid, then one trace per class
    z = ui.vae.plane_to_code([[1.0, 0.0]], plane)
    np.testing.assert_allclose(z[0], plane["mean"] + plane["components"][0], rtol=1e-5)
