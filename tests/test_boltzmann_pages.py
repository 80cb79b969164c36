"""The Boltzmann-machine pages (algorithms compared, deep Boltzmann machine) under Streamlit's AppTest."""
from pathlib import Path

import pytest

from core.data import DATASETS
from apptests import open_page, page_text  # tests/apptests.py

pytestmark = pytest.mark.shared_cache
ROOT = Path(__file__).resolve().parent.parent
ALGS = ROOT / "pages" / "boltzmann_3_algorithms.py"
DEEP = ROOT / "pages" / "boltzmann_4_deep.py"
TIMEOUT = 600


def app(path, **params):
    return open_page(path, params, TIMEOUT)


text = page_text


def charts(at):
    return at.get("plotly_chart")


def test_algorithms_page_defaults_draw_exact_curves_and_particles():
    at = app(ALGS)
    assert len(charts(at)) == 1
    assert len(at.metric) == 3 and all("nats" in m.value for m in at.metric)
    assert "exact: all 2^16 hidden states enumerated" in text(at)
    assert not at.get("image")  # the particles' tab is closed: nothing drawn for it
    at = app(ALGS, view="Negative-phase particles")
    assert "from the cache" in text(at)  # the same run
    assert len(at.get("image")) >= 4  # data + three algorithms' particles


def test_algorithms_page_extremes():
    settings = dict(hidden=4, updates=100, k=25, lr=0.5, chains=1, fast_decay=0.0, fast_lr=1.0, seed=10000)
    at = app(ALGS, **settings)
    assert len(charts(at)) == 1 and len(at.metric) == 3
    at = app(ALGS, view="Negative-phase particles", **settings)
    at.slider(key="at").set_value(1).run()
    assert not at.exception
    assert "after 0 updates" in text(at)


def test_algorithms_page_large_model_uses_ais_and_single_algorithm():
    at = app(ALGS, hidden=50, updates=100, cd="false", fpcd="false", data=DATASETS["digits"])
    assert len(at.metric) == 1 and "PCD" in at.metric[0].label
    assert "log Z by AIS" in text(at)


def test_algorithms_page_without_algorithms_warns():
    at = app(ALGS, cd="false", pcd="false", fpcd="false")
    assert "at least one algorithm" in text(at)
    assert not charts(at)


def test_dbm_page_defaults_show_filters_samples_and_numbers():
    at = app(DEEP)
    t = text(at)
    assert "Shipped model" in t and "RBM filters" in t and "DBM first layer" in t and "W2 · W1" in t
    assert len(at.get("image")) >= 3 and not at.metric  # the filters; the other tabs computed nothing
    at = app(DEEP, view="Samples")
    assert "RBM after 1000 steps" in text(at) and len(at.get("image")) >= 3  # the animation and both grids
    at = app(DEEP, view="Log-likelihood")
    assert len(at.metric) == 2 and "nats" in at.metric[0].value  # the shipped AIS numbers
    assert float(at.metric[0].value.split()[0]) > float(at.metric[1].value.split()[0])  # DBM above the RBM


def test_dbm_page_extremes_and_ais_rerun():
    at = app(DEEP, steps=5000, unit=64, sseed=10000, view="Samples")
    assert "RBM after 5000 steps" in text(at)
    at = app(DEEP, betas=500, runs=10, view="Log-likelihood")
    at.button(key="ais").click().run()
    assert not at.exception, at.exception
    assert len(at.metric) == 4  # shipped numbers + the new estimate
    at = app(DEEP, unit=64)
    assert "The 8 first-layer filters unit" in text(at)


def test_dbm_page_retrains_small_model_with_live_progress():
    at = app(DEEP, model="Retrain", data=DATASETS["digits"], h1=20, h2=20, pre=1, epochs=1, steps=10)
    assert "Train with these settings" in [b.label for b in at.button][0]
    at.button(key="train").click().run()
    assert not at.exception, at.exception
    assert "DBM first layer W1 (20 units)" in text(at)
    at = app(DEEP, model="Retrain", data=DATASETS["digits"], h1=20, h2=20, pre=1, epochs=1, steps=10, view="Samples")
    assert "from the cache" in text(at) and "RBM after 10 steps" in text(at)


def test_rbm_page_energy_tab_shows_one_digits_numbers_from_the_pages_model(mnist):
    """The 'Energy of one digit' tab: E(v, h*), F(v) and -log P(h*|v) of the chosen held-out digit, recomputed here
    from the very model the page trained (read back from the cache under the page's key), P(h|v) as a 4x4 picture
    of 16 units, the top units' filters, and the objective and reconstruction curves."""
    from dataclasses import replace

    from core import data as datasets
    from core.boltzmann import rbm_lab
    from core.cache import DiskCache, make_key

    at = app(ROOT / "pages" / "boltzmann_1_learn.py", hidden=16, epochs=2, view="Energy of one digit", digit=7)
    run = rbm_lab.RBMRun("mnist", 8000, rbm=replace(rbm_lab.RBMRun().rbm, n_components=16, n_iter=2))
    model = rbm_lab.model(DiskCache().get(make_key("rbm", run)))
    e = rbm_lab.digit_energies(model, datasets.held_out_binary(mnist.X_test)[7])
    shown = {m.label: float(m.value) for m in at.metric}
    assert shown == pytest.approx({"E(v, h*)": e["energy"], "F(v)": e["free_energy"],
                                   "E(v, h*) − F(v) = −log P(h* | v)": e["gap"]}, abs=0.006)
    figs = charts(at)
    assert len(figs) == 3  # P(h|v), the objective, the reconstruction error
    assert len(at.get("image")) == 2  # the digit and the top units' filters
    assert "pseudo-likelihood" in text(at) and "persistent chains (PCD)" in text(at)
    top = ", ".join(f"{j} ({e['p_h'][j]:.2f})" for j in e["top"])
    assert top in at.get("image")[1].proto.imgs[0].caption  # the filters shown are the 8 most active units
