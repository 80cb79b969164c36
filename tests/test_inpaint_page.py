"""The inpainting page under AppTest: defaults, extreme widget values, and a missing dataset.

On the real split at default settings the energy model comes from assets/inpainting. Tests that make
the page train are kept to seconds by pointing the MNIST loader at a 1,200-digit subset of the real
split; the full-size runs are measured by tests/benchmarks/bench_inpainting.py.
"""
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import data as datasets
from core.data import ImageData


pytestmark = pytest.mark.usefixtures("one_torch_thread")


PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "inpainting_1_pca_vs_ebm.py")


@pytest.fixture
def small_mnist(mnist):
    from explorer import shell

    small = ImageData("mnist", mnist.X_train[:1000], mnist.y_train[:1000], mnist.X_test[:200], mnist.y_test[:200],
                      (1, 28, 28), mnist.classes, mnist.source, "a 1,200-digit test subset")
    saved = datasets._MEMO.get("mnist")
    datasets._MEMO["mnist"] = small
    shell._load.clear()
    yield small
    if saved is not None:
        datasets._MEMO["mnist"] = saved
    else:
        datasets._MEMO.pop("mnist", None)
    shell._load.clear()
    from explorer import inpainting_ui as ui

    for fn in (ui.held_out, ui.pca, ui.pca_curves, ui.pca_fill, ui.ebm_fill, ui.rbm_fill):
        fn.clear()  # nothing computed on the subset outlives these tests


def _clear_ui_caches():
    from explorer import inpainting_ui as ui
    from explorer import shell

    shell._load.clear()
    for fn in (ui.held_out, ui.pca, ui.pca_curves, ui.pca_fill, ui.ebm_fill, ui.rbm_fill, ui.shipped_run):
        fn.clear()


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


def _check_drawn(at, n_eval=200):
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("image")) >= 15  # grids: holes, PCA, energy-model epochs, comparison
    assert len(at.get("plotly_chart")) >= 4  # PCA curve, two training plots, bar chart
    df = _table(at)
    assert len(df) == 5 and np.isfinite(df["masked_mse"]).all()
    assert (df["masked_mse"] >= 0).all() and (df["masked_mse"] < 0.5).all()
    gray = df["masked_mse"].iloc[0]
    assert df["masked_mse"].iloc[1] < gray  # the best PCA projection beats the gray fill


def test_page_trains_live_on_other_settings(small_mnist):
    """Not the shipped run (other digits, 2 epochs): the energy model trains on the page, other widgets at defaults."""
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.query_params["epochs"] = "2"
    at.run()
    assert "trained now in" in " ".join(c.value for c in at.caption)
    _check_drawn(at)
    assert at.slider(key="d").value == 20
    assert any("Energy model" in t for t in (e.value for e in at.markdown))


def test_default_page_shows_the_shipped_energy_model(full_mnist):
    """On the real split the default energy model comes from assets/inpainting: no training, and it wins."""
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    _check_drawn(at, 2000)
    assert "default run shipped with the app" in " ".join(c.value for c in at.caption)
    df = _table(at)
    ebm = float(df["masked_mse"].iloc[4])
    assert df["method"].iloc[4].startswith("Energy model") and ebm < 0.10
    assert ebm < df["masked_mse"].iloc[1:3].min()  # below both PCA variants at their best d


def test_page_with_extreme_values(small_mnist):
    at = AppTest.from_file(PAGE, default_timeout=240)
    extreme = {"d": "400", "epochs": "1", "rec": "10", "gp": "100", "flip": "1", "lr": "0.002", "hidden": "25",
               "rbm_epochs": "1",
               "gibbs": "1", "n_show": "16", "n_eval": "500", "mask_seed": "10000"}
    for k, v in extreme.items():  # widgets read their first value from the URL
        at.query_params[k] = v
    at.run()
    _check_drawn(at)
    assert at.slider(key="d").value == 400 and at.select_slider(key="rec").value == 10
    assert at.select_slider(key="epochs").value == 1
    at.slider(key="d").set_value(1)
    at.select_slider(key="gibbs").set_value(1000)
    at.select_slider(key="flip").set_value(0)
    at.select_slider(key="gp").set_value(0)
    at.run()
    _check_drawn(at)
    assert at.slider(key="d").value == 1


def test_page_without_28x28_data(small_mnist, monkeypatch):
    """Fashion-MNIST is not on this machine: the shell falls back to 8x8 digits and the page says why it stops."""
    monkeypatch.setitem(datasets._FAILED, "fashion_mnist", 1e18)  # no download attempt
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["data"] = datasets.DATASETS["fashion_mnist"]
    at.run()
    assert not at.exception
    assert at.selectbox(key="data").value == "fashion_mnist"
    assert at.error and "28x28" in at.error[0].value
    assert not at.get("image")  # nothing drawn from the wrong data
