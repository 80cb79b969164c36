"""Mixture density networks: the sheet's gradients against autograd, the mixture's NLL against a NumPy sum, the
Bayes limit against Monte Carlo, the models on the inverse problem, the two-column upload, and the page."""
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import training
from core.mdn import lab, problems
from core.mdn.models import analytic_gradients, autograd_gradients, mixture, random_outputs
from core.uploads import TableError, load_two_columns
from apptests import open_page, page_text  # noqa: E402  (tests/apptests.py)

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "mdn_1_mixture_density_networks.py")
KEYS = ("E", "dE_dalpha", "dE_dmu", "dE_dzalpha", "dE_dzsigma")


# ----------------------------------------------------------------------------- the derivations

@pytest.mark.parametrize("c", [1, 2])
@pytest.mark.parametrize("m", [1, 3, 7])
def test_the_sheets_gradients_equal_autograd(c, m):
    for seed in range(5):
        za, zs, zm, t = random_outputs(m, c, seed)
        inputs = [a.copy() for a in (za, zs, zm, t)]
        a, g = analytic_gradients(za, zs, zm, t), autograd_gradients(za, zs, zm, t)
        for k in KEYS:
            np.testing.assert_allclose(a[k], g[k], rtol=1e-10, atol=1e-12, err_msg=f"{k}, m={m}, c={c}, seed={seed}")
        for before, after in zip(inputs, (za, zs, zm, t)):
            np.testing.assert_array_equal(before, after)  # inputs not mutated
        # the identities between them: (b) is (a)(i) through the softmax's Jacobian; pi sums to one
        alpha, pi = a["alpha"], a["pi"]
        jac = np.diag(alpha) - np.outer(alpha, alpha)  # d alpha_j / d z_i
        np.testing.assert_allclose(jac @ a["dE_dalpha"], a["dE_dzalpha"], atol=1e-12)
        assert pi.sum() == pytest.approx(1.0) and np.all(pi >= 0)


def test_gradients_far_from_every_kernel_stay_finite():
    za, zs, zm = np.zeros(3), np.full(3, -2.0), np.array([[0.0], [1.0], [2.0]])
    t = np.array([30.0])  # 200 widths from the nearest kernel: phi underflows, pi must not
    a, g = analytic_gradients(za, zs, zm, t), autograd_gradients(za, zs, zm, t)
    for k in KEYS:
        assert np.all(np.isfinite(a[k])), k
        np.testing.assert_allclose(a[k], g[k], rtol=1e-9)
    assert a["pi"][2] == pytest.approx(1.0)


@pytest.mark.parametrize("c", [1, 2])
def test_the_mixture_nll_equals_a_direct_numpy_sum(c, rng):
    B, m = 50, 4
    za, zs = rng.normal(size=(B, m)), rng.normal(-0.5, 0.3, (B, m))
    zm, t = rng.normal(size=(B, m, c)), rng.normal(size=(B, c))
    got = -mixture(*(torch.as_tensor(a) for a in (za, zs, zm))).log_prob(torch.as_tensor(t)).numpy()
    alpha = np.exp(za) / np.exp(za).sum(1, keepdims=True)
    sigma = np.exp(zs)
    sq = ((t[:, None, :] - zm) ** 2).sum(-1)
    phi = np.exp(-sq / (2 * sigma ** 2)) / ((2 * np.pi) ** (c / 2) * sigma ** c)
    want = -np.log((alpha * phi).sum(1))
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ----------------------------------------------------------------------------- the Bayes limit

@pytest.mark.parametrize("name, width", [("bishop", 0.1), ("bishop", 0.03), ("sinusoid", 1.0)])
def test_the_bayes_limit_equals_a_monte_carlo_estimate(name, width):
    exact = problems.bayes_nll(name, "inverse", width)
    mc, se = problems.bayes_nll_mc(name, width, n=3000, n_inner=20_000, seed=7)
    assert np.isfinite(exact) and se < 0.03
    assert abs(exact - mc) < 4 * se, (exact, mc, se)


def test_the_exact_conditional_is_a_density_and_the_references_match_the_issue():
    p = problems.problem("bishop")
    x = np.linspace(p.lo, p.hi, 20_001)
    dens = problems.conditional_density("bishop", 0.1, np.array([0.1, 0.5, 0.9]), x)
    integral = (dens[:, 1:] + dens[:, :-1]).sum(1) / 2 * (x[1] - x[0])
    np.testing.assert_allclose(integral, 1.0, atol=2e-3)
    assert dens[1].max() == pytest.approx(dens[1][dens[1] > 0].min(), rel=0.02)  # uniform on its intervals
    refs = problems.references("bishop", "inverse", 0.1)
    assert refs["bayes"] == pytest.approx(-1.2823, abs=1e-3)
    assert refs["gaussian"] - refs["bayes"] == pytest.approx(0.63, abs=0.01)  # the issue's measured 0.63
    assert refs["least_squares"] - refs["bayes"] == pytest.approx(1.07, abs=0.01)  # and 1.07
    fwd = problems.references("bishop", "forward", 0.1)
    assert fwd["bayes"] == pytest.approx(math.log(0.2))
    assert fwd["gaussian"] - fwd["bayes"] == pytest.approx(0.5 * math.log(2 * math.pi * math.e / 12))


# ----------------------------------------------------------------------------- the models

SMALL = lab.MDNRun(n_train=600, n_test=1000, epochs=60, batch_size=100, measure_every=20, hidden=20)


def test_on_the_inverse_problem_the_mdn_beats_the_gaussian_beats_least_squares(one_torch_thread):
    snap = training.run_to_end(lab.MDNSteps(SMALL))
    last = snap["history"][-1]
    bayes = problems.bayes_nll("bishop", "inverse", 0.1)
    assert [r["epoch"] for r in snap["history"]] == [0, 20, 40, 60]
    assert bayes - 0.1 < last["nll_mdn"] < last["nll_gauss"] - 0.2 < last["nll_ls"] - 0.2
    assert all(np.isfinite(v) for v in last.values())
    fit = lab.Fitted(snap)
    x = np.linspace(-0.1, 1.1, 50)[:, None]
    x0 = x.copy()
    p = fit.mixture_params(x)
    np.testing.assert_allclose(p["alpha"].sum(1), 1.0, rtol=1e-9)
    assert p["mu"].shape == (50, 3, 1) and np.all(p["sigma"] > 0)
    ts = np.linspace(-1.5, 2.5, 4001)
    dens = fit.density(x, ts)
    np.testing.assert_allclose(dens.sum(0) * (ts[1] - ts[0]), 1.0, atol=2e-3)  # a density in the data's units
    draws = fit.sample(x, seed=3)
    assert draws.shape == (50, 1) and np.array_equal(draws, fit.sample(x, seed=3))
    np.testing.assert_array_equal(x, x0)
    # the most probable branch is one of the kernels' means; the mean is their alpha-weighted average
    np.testing.assert_allclose(fit.mean(x, "mdn")[:, 0], (p["alpha"] * p["mu"][:, :, 0]).sum(1))
    branch = fit.most_probable(x)[:, 0]
    assert np.all(np.isclose(branch[:, None], p["mu"][:, :, 0]).any(1))


def test_the_likelihood_is_reported_in_the_datas_units(one_torch_thread):
    """Scaling the targets by 10 adds log 10 to every NLL (the networks see standardised data either way)."""
    base = problems.toy_data("bishop", "forward", 300, 300, 0.1, 0)
    scaled = problems.XYData(base.x_train, 10 * base.t_train, base.x_test, 10 * base.t_test)
    run = replace(SMALL, problem="csv", direction="", n_train=300, n_test=300, epochs=5, measure_every=5)
    a = training.run_to_end(lab.MDNSteps(replace(run, csv_sha256="a"), base))["history"][-1]
    b = training.run_to_end(lab.MDNSteps(replace(run, csv_sha256="b"), scaled))["history"][-1]
    for k in ("nll_ls", "nll_gauss", "nll_mdn"):
        assert b[k] - a[k] == pytest.approx(math.log(10), abs=1e-4), k


def test_a_run_needs_a_model_and_an_upload_needs_its_pairs():
    with pytest.raises(ValueError, match="at least one"):
        lab.MDNSteps(replace(SMALL, models=()))
    with pytest.raises(ValueError, match="comes with its pairs"):
        lab.MDNSteps(replace(SMALL, problem="csv"))


# ----------------------------------------------------------------------------- the two-column upload

def _csv(rows, header="t,x"):
    return ((header + "\n") if header else "").encode() + "".join(f"{a},{b}\n" for a, b in rows).encode()


def test_two_columns_are_read_with_or_without_a_header_and_any_separator():
    rows = [(i / 10, (i * i) % 7) for i in range(40)]
    a = load_two_columns(_csv(rows), "a.csv")
    assert a.names == ("t", "x") and len(a.a) == 40 and a.notes == []
    np.testing.assert_allclose(a.b, [r[1] for r in rows])
    b = load_two_columns("".join(f"{x}\t{y}\t1\n" for x, y in rows).encode(), "b.tsv")
    assert b.names == ("column 1", "column 2") and "first two" in b.notes[0]
    c = load_two_columns(("u;v\n" + "".join(f"{x:.1f};{y}\n".replace(".", ",") for x, y in rows)).encode(), "c.csv")
    np.testing.assert_allclose(c.a, [r[0] for r in rows]) and "decimal" in c.notes[0]
    d = load_two_columns(b"\xef\xbb\xbf# comment\n" + "".join(f"{x} {y}\n" for x, y in rows).encode() + b"1 nan\n",
                         "d.txt")
    assert len(d.a) == 40 and "skipped" in d.notes[0]


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"PK\x03\x04" + bytes(100), "Excel"),
    (bytes(range(256)) * 4, "binary"),
    (b"x,y\n1,2\n3,4\n", "at least 20"),
    (b"".join(b"%d\n" % i for i in range(30)), "two numeric columns"),
    (b"x,y\n" + b"1,abc\n" * 30, "not two numbers"),
    (b"".join(b"%d,5\n" % i for i in range(30)), "constant"),
    (b"".join(b"%d,1e300\n" % i for i in range(30)) + b"1,2\n", "1e100"),
])
def test_bad_tables_get_one_line(data, words):
    with pytest.raises(TableError) as e:
        load_two_columns(data, "up.csv")
    msg = str(e.value)
    assert words in msg and "up.csv" in msg and "\n" not in msg


# ----------------------------------------------------------------------------- the page

def _page(params: dict) -> AppTest:
    return open_page(PAGE, params, 240)


VIEWS = ["Data and fits", "Mixture parameters", "Samples", "Held-out NLL", "Derivations"]
FAST = dict(n=200, epochs=10, batch=100)


@pytest.mark.shared_cache  # the page tests share one cache: each run trains once per session
@pytest.mark.parametrize("view", VIEWS)
def test_every_tab_at_fast_settings(view, one_torch_thread):
    at = _page({**FAST, "view": view})
    charts, tables = at.get("plotly_chart"), at.dataframe
    if view == "Data and fits":
        assert len(charts) == 2 and len(at.metric) == 4  # the models' fits and the exact conditional
        assert "Bayes limit" in [m.label for m in at.metric]
    elif view in ("Mixture parameters", "Samples"):
        assert len(charts) == (3 if view == "Mixture parameters" else 1)
    elif view == "Held-out NLL":
        assert len(charts) == 2 and len(tables) == 1
        assert "Bayes limit" in charts[0].proto.spec and "best single Gaussian" in charts[0].proto.spec
        at.button(key="sweep_m").click().run()  # the MDN alone for m = 1 .. 10 (tiny runs)
        assert not at.exception and "against the number of kernels" in at.get("plotly_chart")[-1].proto.spec
    else:
        assert len(at.latex) >= 4 and len(tables) == 2
        assert float(re.search(r"Largest difference: ([0-9.]+e[+-]\d+)", page_text(at)).group(1)) < 1e-9
        at.radio(key="check").set_value("for random parameters (c = 2)").run()
        assert not at.exception and "c = 2" in page_text(at) and len(at.dataframe) == 2


@pytest.mark.shared_cache
def test_extremes_of_the_sliders(one_torch_thread):
    at = _page({"n": 100, "epochs": 10, "m": 10, "hidden": 200, "layers": 3, "batch": 1000, "lr": 0.1,
                "seed": 10000, "noise_bishop": 0.3, "data_seed": 10000})
    assert at.slider(key="m").value == 10 and at.select_slider(key="hidden").value == 200
    at = _page({"n": 100, "epochs": 10, "m": 1, "hidden": 5, "batch": 10, "lr": 0.001, "direction": "forward: t from x",
                "view": "Mixture parameters"})
    assert len(at.get("plotly_chart")) == 3
    at = _page({"problem": "A noisy sinusoid of larger range", "n": 200, "epochs": 10, "noise_sinusoid": 3.0,
                "view": "Held-out NLL"})
    assert "sinusoid" in page_text(at) and len(at.get("plotly_chart")) == 2
    at = _page({**FAST, "ls": "false", "gauss": "false", "mdn": "false"})
    assert any("at least one model" in w.value for w in at.warning)
    at = _page({**FAST, "mdn": "false", "view": "Mixture parameters"})
    assert any("Switch the MDN on" in i.value for i in at.info)


@pytest.mark.shared_cache
def test_an_upload_trains_and_a_bad_one_gets_a_clear_message(one_torch_thread):
    x, t = problems.sample("bishop", 300, 0.1, 5)
    good = _csv(zip(x, t), header="x,t")
    at = _page({**FAST, "problem": "Your own table (CSV)"})
    assert any("Upload a table" in w.value for w in at.warning)  # nothing uploaded yet: Bishop's problem meanwhile
    at.file_uploader(key="csv_file").set_value(("bad.csv", b"x,y\n1,2\n", "text/csv")).run()
    assert not at.exception
    assert any("bad.csv has 1 usable rows" in w.value for w in at.warning)
    at.file_uploader(key="csv_file").set_value(("mine.csv", good, "text/csv")).run()
    assert not at.exception and not at.warning
    assert "mine.csv (t from x)" in page_text(at) and "225 training and 75 held-out pairs" in page_text(at)
    assert "Bayes limit" not in [m.label for m in at.metric]  # no generating process known
    at.toggle(key="swap").set_value(True).run()
    assert not at.exception and "mine.csv (x from t)" in page_text(at)
