"""The four OT pages under AppTest: defaults, extreme widget values, bad uploads through the page."""
import io
import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.transport import plans
from reference import lp_cost

TIMEOUT = 300


def run(page: str, params: dict | None = None, **values) -> AppTest:
    """The page opened with URL parameters `params` (e.g. the tab), then widgets set to `values`."""
    at = AppTest.from_file(f"../pages/{page}.py", default_timeout=TIMEOUT)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    pending = dict(values)
    while pending:  # some widgets only appear once others are set (e.g. the seed of the plane problem)
        done = []
        for key, v in pending.items():
            try:
                at.get_by_key(key).set_value(v)
                done.append(key)
            except KeyError:
                pass
        assert done, f"no widget with keys {list(pending)}"
        for key in done:
            del pending[key]
        at.run()
        assert not at.exception, at.exception
    return at


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def no_nan(at):
    for label, value in metrics(at).items():
        assert "nan" not in str(value).lower() and "inf" not in str(value).lower(), (label, value)


def test_transport_1d_defaults():
    at = run("transport_1_transport_1d")
    assert charts(at) == 4  # measures, plan, interpolation, film strip
    w2 = float(metrics(at)["W₂(a, b)"])
    assert 0.2 < w2 < 0.6
    assert not at.error


@pytest.mark.parametrize("values", [dict(n=50, t=0.0, lam=10, as1=0.01, bs2=0.3, aw2=0.0),
                                    dict(n=400, t=1.0, lam=1000, am1=1.0, bm1=0.0, bw2=1.0)])
def test_transport_1d_extremes(values):
    at = run("transport_1_transport_1d", **values)
    assert charts(at) == 4 and not at.error
    no_nan(at)


def test_transport_1d_values_good_and_bad():
    at = run("transport_1_transport_1d", akind="values")
    assert not at.error and charts(at) == 4
    at.get_by_key("avals").set_value("no numbers here")
    at.run()
    assert not at.exception
    assert any("Measure a" in e.value and "no numbers" in e.value for e in at.error)
    assert charts(at) == 4  # falls back to the default mixture, page still drawn


def test_transport_1d_drawn_measure():
    at = run("transport_1_transport_1d", bkind="drawn")
    assert not at.error and charts(at) == 4
    mean_b = float(metrics(at)["mean of b"])
    assert 0.55 < mean_b < 0.85  # the default drawing follows b's default mixture
    no_nan(at)


def test_assignment_defaults_cost_matches_lp():
    at = run("transport_2_assignment")
    assert charts(at) == 1 and not at.error
    fx, sx, r, k = plans.random_problem(4, 6, 0)
    M = np.sqrt(((fx[:, None] - sx[None]) ** 2).sum(-1))
    shown = float(metrics(at)["d_M(r, k) = min ⟨P, M⟩"])
    assert np.isclose(shown, lp_cost(r, k, M), rtol=1e-3)


@pytest.mark.parametrize("values", [dict(nf=1, ns=15, metric="sqeuclidean", seed=10_000),
                                    dict(nf=15, ns=1), dict(mode="table")])
def test_assignment_extremes(values):
    at = run("transport_2_assignment", **values)
    assert charts(at) == 1 and not at.error
    no_nan(at)
    if values.get("mode") == "table":  # the 3x4 example: cost by LP
        r, k = np.array([3, 5, 2.0]), np.array([4, 4, 1, 1.0])
        M = np.array([[4, 1, 3, 7], [2, 6, 5, 1], [3, 3, 1, 2]], float)
        assert np.isclose(float(metrics(at)["d_M(r, k) = min ⟨P, M⟩"]), lp_cost(r, k, M), rtol=1e-3)


def gap_percent(at) -> float:
    return float(re.sub(r"[^0-9.\-e]", "", metrics(at)["gap to exact cost"]))


def test_sinkhorn_defaults_state_reg_is_one_over_lambda():
    at = run("transport_3_sinkhorn")
    assert charts(at) == 4 and not at.error
    assert any("1/λ" in i.value and "reg" in i.value for i in at.info)
    assert float(metrics(at)["reg = 1/λ"]) == pytest.approx(1 / 100)
    no_nan(at)


@pytest.mark.parametrize("values, max_gap, min_gap", [
    (dict(lam=plans.LAMBDAS[0]), None, 10),
    (dict(lam=plans.LAMBDAS[-1]), 2.0, None),
    (dict(prob="plane", n=200, lam=plans.LAMBDAS[-1]), 1.0, None),
    (dict(prob="plane", n=10, lam=plans.LAMBDAS[0], seed=10_000), None, 50),
])
def test_sinkhorn_extreme_lambdas(values, max_gap, min_gap):
    at = run("transport_3_sinkhorn", **values)
    assert charts(at) == 4 and not at.error
    no_nan(at)
    gap = gap_percent(at)
    assert gap > -0.5
    if max_gap is not None:
        assert gap < max_gap
    if min_gap is not None:
        assert gap > min_gap  # the smallest lambda is far from the exact cost


def png(img: Image.Image, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_color_transfer_defaults_and_extremes():
    at = run("transport_4_color_transfer")
    assert not at.error and len(at.get("image")) == 7  # 7 pictures of A with B's colours
    assert charts(at) == 0 and not at.dataframe  # the closed tabs computed nothing
    back = run("transport_4_color_transfer", {"view": "B with A's colours"})
    assert not back.error and len(back.get("image")) == 7 and charts(back) == 0
    clouds = run("transport_4_color_transfer", {"view": "Colour clouds (3-D)"})
    assert charts(clouds) == 3 and not clouds.get("image")  # three RGB clouds
    at = run("transport_4_color_transfer", {"view": "Histograms and distances"})
    assert charts(at) == 1 and len(at.dataframe) == 1  # histograms; distances of both directions
    at.get_by_key("ns").set_value(250)
    at.get_by_key("lam").set_value(1)
    at.run()
    assert not at.exception and not at.error
    at.get_by_key("ns").set_value(2000)
    at.get_by_key("lam").set_value(200)
    at.run()
    assert not at.exception and not at.error and charts(at) == 1 and len(at.dataframe) == 1


def test_color_transfer_bad_uploads_through_the_page():
    at = AppTest.from_file("../pages/transport_4_color_transfer.py", default_timeout=TIMEOUT)
    at.run()
    ok = Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32, 4), dtype=np.uint8), "RGBA")
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    deep = Image.fromarray((np.arange(400).reshape(20, 20) * 150).astype(np.uint16))
    good = png(Image.fromarray(np.zeros((30, 30, 3), np.uint8)))
    cases = [
        (("notes.txt", b"not an image at all", "text/plain"), "not an image"),
        (("empty.png", b"", "image/png"), "empty"),
        (("cut.png", good[: len(good) // 2], "image/png"), "corrupt"),
    ]
    for upload, word in cases:
        at.get_by_key("up_a").set_value(upload)
        at.run()
        assert not at.exception, (upload[0], at.exception)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and word in errors[0] and "default photo" in errors[0], (upload[0], errors)
        assert "\n" not in errors[0]
    for upload, note in [(("alpha.png", png(ok), "image/png"), "white"),
                         (("anim.gif", gif.getvalue(), "image/gif"), "first frame"),
                         (("deep.png", png(deep), "image/png"), "16-bit")]:
        at.get_by_key("up_a").set_value(upload)
        at.get_by_key("up_b").set_value(("bad.bmp", b"BM garbage", "image/bmp"))
        at.run()
        assert not at.exception, (upload[0], at.exception)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "bad.bmp" in errors[0]  # B's error does not disturb A
        assert any(note in c.value for c in at.caption), (upload[0], [c.value for c in at.caption])
        assert any(upload[0] in m.value for m in at.markdown)  # A is the upload, shown as the source
