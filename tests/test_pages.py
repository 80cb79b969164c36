"""Every page through Streamlit's AppTest; the RBM pages also at extreme widget values."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.data import DATASETS
from explorer.live import PARTIAL, STOPPED
from explorer.registry import discover

pytestmark = pytest.mark.shared_cache
PAGES = discover()
TIMEOUT = 600
DIGITS, MNIST, FASHION = DATASETS["digits"], DATASETS["mnist"], DATASETS["fashion_mnist"]  # URLs carry labels
ROOT = Path(__file__).resolve().parent.parent


def run_page(path, params=None, **widgets):
    at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    return at


def text_of(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning]
    parts += [e.value for e in at.info] + [e.value for e in at.error] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


def test_every_lab_has_pages():
    """Every topic has pages, every file in pages/ is one of them, and every page has a title and a summary."""
    from explorer.registry import PAGES_DIR, SECTIONS

    assert {p.section for p in PAGES} == {title for title, _ in SECTIONS.values()}
    assert sorted(p.path.name for p in PAGES) == sorted(f.name for f in PAGES_DIR.glob("*.py"))
    assert all(p.title and p.summary for p in PAGES), [p.path.name for p in PAGES if not p.summary]
    for p in PAGES:  # the topic's three layers: pages/<topic>_*.py, explorer/<topic>_ui.py, core/<topic>/
        topic = p.path.stem.split("_")[0]
        assert (ROOT / "explorer" / f"{topic}_ui.py").is_file() and (ROOT / "core" / topic).is_dir(), topic


@pytest.mark.parametrize("page", PAGES, ids=[p.path.stem for p in PAGES])
def test_page_runs_with_defaults(page):
    at = run_page(page.path)
    assert not at.exception, at.exception
    assert at.title and at.title[0].value == page.title
    assert len(at.main.children) > 2  # drew more than a title


def test_home_lists_every_page():
    at = AppTest.from_file(str(ROOT / "explorer/app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert "Generative Models Explorer" in text_of(at)
    links = {e.proto.page: e.proto.label for e in at.get("page_link")}
    assert links == {p.url_path: p.title for p in PAGES}  # one link per page, to its own URL, with its title


def set_widget(at, kind, key, value):
    getattr(at, kind)(key=key).set_value(value)


@pytest.mark.parametrize("settings", [
    dict(data=DIGITS, hidden=1000, epochs=1, lr=0.5, batch=5, method="CD-k", k=25, gibbs=1000, n_images=32, seed=10000),
    dict(data=DIGITS, hidden=10, epochs=200, lr=0.001, batch=500, method="PCD-k", k=1, gibbs=1, n_images=4, seed=0),
    dict(data=MNIST, hidden=16, epochs=2),  # small enough to enumerate: exact log-likelihood curve
], ids=["large-fast", "small-slow", "exact-ll"])
def test_rbm_learn_extremes_via_url(settings):
    at = run_page("pages/boltzmann_1_learn.py", {k: str(v) for k, v in settings.items()})
    assert not at.exception, at.exception
    assert at.select_slider(key="hidden").value == settings["hidden"]  # the URL set the widget
    assert f"Dataset: {settings['data']}" in text_of(at)
    assert "Hidden units: " + str(settings["hidden"]) in text_of(at)
    assert len(at.get("image")) >= 2  # original + reconstructions drawn


def test_rbm_learn_sweep_tab_draws_a_plot():
    at = run_page("pages/boltzmann_1_learn.py", {"data": DIGITS, "view": "Sweep"})
    assert not at.exception, at.exception
    assert at.get("plotly_chart"), "the Gibbs-steps sweep plot is missing"


@pytest.mark.parametrize("settings", [
    dict(data=DIGITS, rows=7, where="bottom", gibbs=1, hidden=10, epochs=1),
    dict(data=DIGITS, rows=1, where="top", gibbs=1000, hidden=1000, epochs=1, batch=500),
    dict(data=MNIST, rows=27, where="start row", start=1, gibbs=5, epochs=1),
    dict(data=MNIST, rows=8, where="middle", view="Error against location", epochs=1),
    dict(data=MNIST, rows=8, where="top", view="Error against rows removed", epochs=1),
], ids=["bottom-1-step", "top-1-row", "27-rows", "location-sweep", "rows-sweep"])
def test_rbm_inpainting_extremes(settings):
    at = run_page("pages/boltzmann_2_inpainting.py", {k: str(v) for k, v in settings.items()})
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    err = float(metrics["Error on the missing rows (RBM)"])
    assert 0 <= err <= 1
    if "view" in settings:
        assert at.get("plotly_chart")


def test_unavailable_dataset_is_announced_and_digits_are_used(monkeypatch):
    from core import data

    monkeypatch.setattr(data, "_local", lambda name: None)
    monkeypatch.setattr(data, "_download", lambda name: (_ for _ in ()).throw(data.DatasetUnavailable("offline test")))
    data.clear_memo()
    try:
        at = run_page("pages/boltzmann_1_learn.py", {"data": FASHION, "epochs": "1"})
    finally:
        data.clear_memo()
    assert not at.exception
    assert any("not available" in w.value and "8x8 digits" in w.value for w in at.warning)


def test_stopped_run_shows_resume_and_resume_finishes_it():
    """A stop leaves a snapshot; the page shows it with Resume, and Resume trains to the end."""
    from dataclasses import replace

    from core import data
    from core.boltzmann import rbm_lab
    from core.cache import DiskCache, make_key

    d = data.load("digits")
    run = replace(rbm_lab.RBMRun(), dataset="digits", n_train=min(len(d.X_train), 8000),
                  rbm=replace(rbm_lab.RBMRun().rbm, n_iter=3))
    key = make_key("rbm", run)
    first = next(r for r in rbm_lab.train(run, d) if r.metrics and r.epoch == 1)
    at = AppTest.from_file(str(ROOT / "pages/boltzmann_1_learn.py"), default_timeout=TIMEOUT)
    at.query_params["data"] = DIGITS
    at.query_params["epochs"] = "3"
    at.session_state[PARTIAL] = {key: first.extra["snapshot"]()}
    at.session_state[STOPPED] = {key}
    at.run()
    assert not at.exception, at.exception
    assert any("stopped at epoch 1" in w.value for w in at.warning), [w.value for w in at.warning]
    assert "stopped after 1 epoch" in text_of(at)  # the partial model is shown, nothing is lost
    assert DiskCache().get(key) is None
    at.button(key=f"resume-{key}").click().run()
    assert not at.exception, at.exception
    assert key not in at.session_state[PARTIAL]
    assert DiskCache().get(key)["done"] == 3


def test_hidden_units_sweep_trains_each_model_and_plots_the_metric():
    at = run_page("pages/boltzmann_1_learn.py", {"data": DIGITS, "epochs": "2", "view": "Sweep"})
    assert not at.exception, at.exception
    at.radio(key="sweep_param").set_value("Hidden units").run()
    assert not at.exception, at.exception
    at.button(key="sweep_go").click().run()
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    assert charts and "against hidden units" in charts[-1].proto.spec


def test_a_fresh_offline_install_opens_on_real_digits(monkeypatch, tmp_path):
    """No data folder, no download cache, no internet: the pages use the MNIST split shipped in assets/mnist."""
    from core import data

    monkeypatch.delenv("GME_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "download_dir", lambda: tmp_path / "empty")
    monkeypatch.setattr(data, "REPO", tmp_path)  # no ../shared beside the checkout either
    monkeypatch.setattr(data, "_download", lambda name: (_ for _ in ()).throw(data.DatasetUnavailable("offline")))
    data.clear_memo()
    from explorer import shell

    shell.clear_datasets()
    try:
        at = run_page("pages/boltzmann_1_learn.py", {"epochs": "1", "hidden": "16"})
    finally:
        data.clear_memo()
        shell.clear_datasets()
    assert not at.exception, at.exception
    assert "Dataset: MNIST" in text_of(at) and "shipped with the app" in text_of(at)
    assert not at.warning  # no fallback to the 8x8 digits
