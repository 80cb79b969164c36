"""The GAN pages under AppTest: small and extreme settings, then the defaults (which train for real)."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import data as datasets

pytestmark = [pytest.mark.usefixtures("mnist"), pytest.mark.shared_cache]
ROOT = Path(__file__).resolve().parent.parent


def _app(page, timeout=600, **params):
    """AppTest of a page with URL parameters (values as the URL carries them: option labels)."""
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=timeout)
    for k, v in params.items():
        at.query_params[k] = v
    return at


def _texts(at):
    return " ".join(x.value for x in list(at.markdown) + list(at.caption) + list(at.warning) + list(at.success)
                    + list(at.info))


def test_dcgan_page_small_run_says_cifar_is_missing():
    at = _app("gan_1_dcgan.py", iters="20", width="8", batch="16", cls="3")
    at.run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "Generator iterations: 20" in text and "Class: 3" in text  # the URL's settings were used
    if not datasets.available("cifar10"):
        assert "CIFAR-10 is not on this machine" in text
    assert "fixed noise" in text  # the timeline grid was drawn
    assert len(at.get("imgs")) >= 1 or len(at.get("image")) >= 1
    assert at.select_slider(key="tl-dcgan").options  # the timeline slider lists the stored iterations
    assert not at.get("dataframe")  # the hidden tabs computed nothing (no step table)
    # single steps (their own tab, computed only when open): a D step then a G step on a copy
    steps_tab = _app("gan_1_dcgan.py", iters="20", width="8", batch="16", cls="3", view="Step by step")
    steps_tab.run()
    assert "from the cache" in _texts(steps_tab)  # the same run, not trained again
    steps_tab.button(key="dcgan-step-d").click().run()
    assert not steps_tab.exception, steps_tab.exception
    steps_tab.button(key="dcgan-step-g").click().run()
    assert not steps_tab.exception, steps_tab.exception
    df = steps_tab.dataframe[-1].value
    assert list(df["action"])[-2:] == ["D step", "G step"]
    # more iterations: the cached 20-iteration run is continued, not restarted
    at.select_slider(key="iters").set_value(200).run()
    assert not at.exception, at.exception
    assert "Generator iterations: 200" in _texts(at)
    steps = at.select_slider(key="tl-dcgan").options
    # grids every 5 iterations come from the 20-iteration run, every 25 from the continuation
    assert steps[:5] == ["0", "5", "10", "15", "20"] and steps[-2:] == ["175", "200"] and "30" not in steps


def test_dcgan_page_extremes():
    at = _app("gan_1_dcgan.py", iters="20", width="8", batch="16", size="64x64 (4x slower)", aug="true",
              dsteps="5", lr_d="0.002", lr_g="1e-05", beta1="0", loss="minimax")
    at.run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "Image size: 64x64" in text and "DiffAugment: True" in text and "Generator iterations: 20" in text
    assert at.get("imgs") or at.get("image")


def test_dcgan_page_choosing_missing_cifar_falls_back_visibly():
    if datasets.available("cifar10"):
        pytest.skip("CIFAR-10 is on this machine")
    at = _app("gan_1_dcgan.py", data="CIFAR-10 (not on this machine)", iters="20", width="8", batch="16")
    at.run()
    assert not at.exception, at.exception
    assert len(at.warning) == 1 and "CIFAR-10 is not available" in at.warning[0].value
    assert "Dataset: MNIST (instead of CIFAR-10)" in _texts(at) and "fixed noise" in _texts(at)


def test_mlp_page_extremes():
    at = _app("gan_2_mlp.py", iters="50", width="0.25", batch="256", k="5", loss="minimax", lr="0.002")
    at.run()
    assert not at.exception, at.exception
    assert "fixed noise" in _texts(at)
    at = _app("gan_2_mlp.py", iters="50", width="0.25", batch="256", k="5", loss="minimax", lr="0.002", view="Quality")
    at.run()
    assert not at.exception, at.exception
    assert at.metric and at.metric[1].value.endswith("/ 10")


def test_comparison_page_small():
    at = _app("gan_3_minimax_vs_wgan.py", iters="50", width="0.25", batch="16", ncritic="1", clip="0.1",
              **{"lambda": "100"})
    at.run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert all(name in text for name in ("minimax GAN", "WGAN (weight clipping)", "WGAN-GP"))
    assert not at.get("plotly_chart")  # the curves' tab is closed: nothing computed for it
    curves = _app("gan_3_minimax_vs_wgan.py", iters="50", width="0.25", batch="16", ncritic="1", clip="0.1",
                  view="Wasserstein estimate and quality", **{"lambda": "100"})
    curves.run()
    assert not curves.exception, curves.exception
    assert len(curves.get("plotly_chart")) >= 3
    at.multiselect(key="models").set_value([]).run()
    assert not at.exception and "at least one model" in _texts(at)


@pytest.mark.slow
def test_dcgan_page_at_defaults_gives_recognisable_digits():
    """The default DCGAN run (about a minute on 2 cores) draws digits the classifier recognises as the class.
    (tests/test_pages.py also runs the MLP and comparison pages at their defaults.)"""
    at = _app("gan_1_dcgan.py", timeout=900)
    at.run()
    assert not at.exception, at.exception
    assert "fixed noise" in _texts(at)
    at = _app("gan_1_dcgan.py", timeout=900, view="Quality")
    at.run()
    share = next(m for m in at.metric if m.label.startswith("Classified as"))
    assert float(share.value.rstrip("%")) >= 50
