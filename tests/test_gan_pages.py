"""The GAN pages under AppTest: small and extreme settings, then the defaults (which train for real)."""
import dataclasses
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
        assert "CIFAR-10 is not on this machine" in text and "python -m core.data --download cifar10" in text
        assert "cannot be downloaded" not in text
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
    # one copy per session, dropped when another page opens (explorer.shell.page_scoped)
    held = steps_tab.session_state["gan.step"]
    assert [r["action"] for r in held["steps"].log][-2:] == ["D step", "G step"]
    other = AppTest.from_string("from explorer import shell\nshell.page('Another page')\n", default_timeout=60)
    other.session_state["gan.step"] = held
    other.session_state["gme.page_scoped"] = dict(steps_tab.session_state["gme.page_scoped"])
    other.run()
    assert not other.exception and "gan.step" not in other.session_state
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


def test_dcgan_page_choosing_missing_cifar_falls_back_visibly(monkeypatch):
    """Runs everywhere: CIFAR-10 is made absent (its files and its load), whether or not this machine has it."""
    from explorer import shell

    on_disk, load = datasets.on_disk, shell.load_dataset

    def load_without_cifar(name):
        if name == "cifar10":
            raise datasets.DatasetUnavailable("(this test hides CIFAR-10)")
        return load(name)

    monkeypatch.setattr(datasets, "on_disk", lambda name: name != "cifar10" and on_disk(name))
    monkeypatch.setattr(shell, "load_dataset", load_without_cifar)
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


# ----------------------------------------------------------------------------- GAN lab II

def _caption(at) -> str:
    return " ".join(c.value for c in at.caption)


@pytest.mark.parametrize("page", ["gan_1_dcgan.py", "gan_2_mlp.py", "gan_3_minimax_vs_wgan.py", "gan_4_conditional.py",
                                  "gan_5_cyclegan.py"])
def test_every_gan_page_opens_on_its_shipped_run(page):
    at = _app(page)
    at.run()
    assert not at.exception, at.exception
    assert "shipped with the app" in _caption(at) and "python -m core.gan." in _caption(at)
    assert "trained now" not in _caption(at)
    assert at.get("imgs") or at.get("image")


def test_latent_tab_at_its_extremes():
    params = dict(iters="20", width="8", batch="16", view="Latent space")
    at = _app("gan_1_dcgan.py", **params, **{"dcgan-lat-n": "16", "dcgan-lat-radius": "20.0", "dcgan-lat-za": "100000",
                                              "dcgan-lat-zb": "0", "dcgan-lat-dir": "100000"})
    at.run()
    assert not at.exception, at.exception
    texts = _texts(at)
    assert "linear (top row) and spherical (bottom row)" in texts and "s from −20 to +20" in texts
    assert len(at.metric) == 2 and all(float(m.value) > 0 for m in at.metric)  # distances to the training images
    assert "Nearest-neighbour ratio" in texts and "in pixels" in texts and "in features" in texts
    at.button(key="dcgan-lat-new").click().run()  # new noise
    assert not at.exception and at.number_input(key="dcgan-lat-za").value == 1  # wrapped round: 100,002 mod 100,001


def test_conditional_page_small_and_extreme():
    for params in (dict(iters="50", width="8", batch="16", lr="0.002", seed="10000"),
                   dict(iters="50", width="8", batch="256", lr="1e-05", view="Label accuracy"),
                   dict(iters="50", width="8", batch="16", lr="0.002", seed="10000", view="Latent space", lat_cls="9")):
        at = _app("gan_4_conditional.py", **params)
        at.run()
        assert not at.exception, at.exception
        assert len(at.metric) >= 3 and at.metric[0].value.endswith("%")
    assert "Label accuracy of the samples" in " ".join(c.proto.spec for c in _app_charts(
        "gan_4_conditional.py", iters="50", width="8", batch="256", lr="1e-05", view="Label accuracy"))


def _app_charts(page, **params):
    at = _app(page, **params)
    at.run()
    return at.get("plotly_chart")


def test_cyclegan_page_small_with_and_without_cycle_loss(monkeypatch):
    from core.gan import judges

    monkeypatch.setitem(judges.READER, "epochs", 1)  # quick judges (their own cache keys): the page is tested here
    monkeypatch.setitem(judges.DOMAIN, "epochs", 1)
    full = judges.classifiers

    def quick(a, b):  # the page's judges, trained on 1,000 MNIST digits and B (their own cache keys)
        return full(dataclasses.replace(a, X_train=a.X_train[:1000], y_train=a.y_train[:1000]), b)

    monkeypatch.setattr(judges, "classifiers", quick)
    at = _app("gan_5_cyclegan.py", iters="50", width="4", cyc="20.0", idt="true", cnoise="0.5", seed="5",
              view="Label preservation")
    at.run()
    assert not at.exception, at.exception
    assert "Cycle-consistency weight λ: 20" in _texts(at) and "Identity loss (weight λ/2): True" in _texts(at)
    assert "Noise before the way back: 0.5" in _texts(at)
    assert len(at.metric) == 5 and all(m.value.endswith("%") for m in at.metric)
    at.button(key="cyc0").click().run()  # train the same run without the cycle loss (nor identity loss), beside it
    assert not at.exception, at.exception
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert "without the cycle loss" in specs[0] and "with this run" in specs[0]
    assert "Do the translations look like the other domain?" in specs[1] and "G(A) looks like B" in specs[1]


def test_your_own_images_train_the_dcgan_and_bad_archives_get_one_line():
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    def archive(n, bad=None):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for i in range(n):
                img = io.BytesIO()
                Image.fromarray(np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(img, "PNG")
                z.writestr(f"mine/{i}.png", img.getvalue())
            if bad:
                z.writestr(*bad)
        return buf.getvalue()

    at = _app("gan_1_dcgan.py", src="your own (ZIP)", iters="20", width="8", batch="16")
    at.run()
    assert not at.exception and any("Upload a ZIP" in i.value for i in at.info)
    at.get_by_key("zip").set_value(("few.zip", archive(10), "application/zip")).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "at least 50" in at.error[0].value and "\n" not in at.error[0].value
    at.get_by_key("zip").set_value(("evil.zip", archive(60, ("../../etc/x.png", b"x")), "application/zip")).run()
    assert len(at.error) == 1 and "leaves its folder" in at.error[0].value
    at.get_by_key("zip").set_value(("mine.zip", archive(60), "application/zip")).run()
    assert not at.exception, at.exception
    assert not at.error and "your 60 images from mine.zip" in _texts(at) and "fixed noise" in _texts(at)


def test_shipped_runs_are_scored_on_todays_floor_and_none_below_it():
    """The shipped runs' quality rows were logged under the earlier reference: the pages re-score the final generators
    with today's split-half definition, say what the floor is, and label the logged curves."""
    import re

    from core.gan import config as gc
    from core.gan import latent
    from core.gan import train as gt
    from core.quality import quality_model

    at = _app("gan_3_minimax_vs_wgan.py", view="Wasserstein estimate and quality")
    at.run()
    assert not at.exception, at.exception
    text = _caption(at)
    assert "Floor: what random training images" in text and "re-scored now" in text
    spreads = [float(x) for x in re.findall(r"\(([+-]\d+) sd\)", text)]
    assert len(spreads) == 3 and min(spreads) > -2  # no shipped generator below its floor
    # the figure on the page is core's re-scored one
    data = datasets.load("mnist")
    qm = quality_model(data)
    wgp = latent.quality_report(gt.GANSteps(gc.presets()["compare-wgan-gp"], data).shipped(), data, qm)
    assert f"{gc.LOSS_NAMES['wgan-gp']} {wgp['fid']:.1f}" in text and wgp["fid"] > wgp["fid_floor"] - 2 * wgp["fid_floor_sd"]
    q = _app("gan_2_mlp.py", view="Quality")
    q.run()
    assert not q.exception, q.exception
    assert "sd from it" in q.metric[0].proto.help and "earlier definition" in _caption(q)


def test_gan_pages_say_the_exercise_not_the_seed():
    for page in sorted((ROOT / "pages").glob("gan_*.py")) + sorted((ROOT / "explorer").glob("gan_*.py")):
        assert "the seed's" not in page.read_text(), page.name
