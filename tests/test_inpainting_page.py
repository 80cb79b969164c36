"""The inpainting page under AppTest: defaults, extreme widget values, and a missing dataset.

On the real split at default settings the energy model comes from assets/inpainting. Tests that make
the page train are kept to seconds by pointing the MNIST loader at a 1,200-digit subset of the real
split; the full-size runs are measured by tests/benchmarks/bench_inpainting.py.
"""
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import data as datasets
from core.data import ImageData


pytestmark = pytest.mark.usefixtures("one_torch_thread")


PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "inpainting_1_pca_vs_ebm.py")


@pytest.fixture
def small_mnist(mnist):
    small = ImageData("mnist", mnist.X_train[:1000], mnist.y_train[:1000], mnist.X_test[:200], mnist.y_test[:200],
                      (1, 28, 28), mnist.classes, mnist.source, "a 1,200-digit test subset")
    saved = datasets.remember("mnist", small)
    _clear_ui_caches()
    yield small
    datasets.remember("mnist", saved)
    _clear_ui_caches()  # nothing computed on the subset outlives these tests


def _clear_ui_caches():
    """Every Streamlit cache (the loaded dataset, the page's arrays, the shipped runs asked for): the digits change."""
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def full_mnist(mnist):
    _clear_ui_caches()
    yield mnist
    _clear_ui_caches()


def _table(at):
    dfs = [d.value for d in at.dataframe]
    assert dfs, "the comparison table is missing"
    df = dfs[0]
    df = getattr(df, "data", df)  # a Styler carries its frame in .data
    return df


VIEWS = ("The holes", "PCA", "Energy model", "Compare all")


def _views(params: dict | None = None, timeout: int = 240) -> dict:
    """The page opened on each of its tabs (a tab is computed only when open): {view: AppTest}. The first view
    trains what is not cached; the others reuse it."""
    out = {}
    for view in VIEWS:
        at = AppTest.from_file(PAGE, default_timeout=timeout)
        for k, v in {**(params or {}), "view": view}.items():  # widgets read their first value from the URL
            at.query_params[k] = v
        at.run()
        out[view] = at
    return out


def _check_drawn(views: dict):
    for at in views.values():
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
    assert len(views["The holes"].get("image")) >= 3
    assert sum(len(at.get("image")) for at in views.values()) >= 15  # holes, PCA, energy-model epochs, comparison
    assert sum(len(at.get("plotly_chart")) for at in views.values()) >= 4  # PCA curve, two training plots, bars
    assert not views["The holes"].get("plotly_chart") and not views["The holes"].dataframe  # closed tabs: nothing
    df = _table(views["Compare all"])
    assert len(df) == 5 and np.isfinite(df["masked_mse"]).all()
    assert (df["masked_mse"] >= 0).all() and (df["masked_mse"] < 0.5).all()
    gray = df["masked_mse"].iloc[0]
    assert df["masked_mse"].iloc[1] < gray  # the best PCA projection beats the gray fill


def test_page_trains_live_on_other_settings(small_mnist):
    """Not the shipped run (other digits, 2 epochs): the energy model trains on the page, other widgets at defaults."""
    views = _views({"epochs": "2"})
    assert "trained now in" in " ".join(c.value for c in views["The holes"].caption)
    assert "from the cache" in " ".join(c.value for c in views["PCA"].caption)  # the same run, not trained again
    _check_drawn(views)
    assert views["PCA"].slider(key="d").value == 20
    assert any("Energy model" in t for t in (e.value for e in views["Compare all"].markdown))


def test_default_page_shows_the_shipped_energy_model(full_mnist):
    """On the real split the default energy model comes from assets/inpainting: no training, and it wins."""
    views = _views()
    _check_drawn(views)
    assert "shipped with the app" in " ".join(c.value for c in views["The holes"].caption)
    df = _table(views["Compare all"])
    ebm = float(df["masked_mse"].iloc[4])
    assert df["method"].iloc[4].startswith("Energy model") and ebm < 0.10
    assert ebm < df["masked_mse"].iloc[1:3].min()  # below both PCA variants at their best d


def test_page_with_extreme_values(small_mnist):
    extreme = {"d": "400", "epochs": "1", "rec": "10", "gp": "100", "flip": "1", "lr": "0.002", "hidden": "25",
               "rbm_epochs": "1", "gibbs": "1", "n_show": "16", "n_eval": "500", "mask_seed": "10000"}
    views = _views(extreme)
    _check_drawn(views)
    at = views["PCA"]
    assert at.slider(key="d").value == 400 and at.select_slider(key="rec").value == 10
    assert at.select_slider(key="epochs").value == 1
    views = _views({**extreme, "d": "1", "gibbs": "1000", "flip": "0", "gp": "0"})
    _check_drawn(views)
    assert views["PCA"].slider(key="d").value == 1


def test_page_without_28x28_data(small_mnist, monkeypatch, request):
    """Fashion-MNIST is not on this machine: the shell falls back to 8x8 digits and the page says why it stops."""
    datasets.defer_download("fashion_mnist", 1e9)  # no download attempt
    request.addfinalizer(lambda: datasets.defer_download("fashion_mnist", -1))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["data"] = datasets.DATASETS["fashion_mnist"]
    at.run()
    assert not at.exception
    assert at.selectbox(key="data").value == "fashion_mnist"
    assert at.error and "28x28" in at.error[0].value
    assert not at.get("image")  # nothing drawn from the wrong data
