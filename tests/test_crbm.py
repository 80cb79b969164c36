"""The conditional RBM: the sheet's identities against brute-force enumeration, p(y|x) over the enumerated codes,
the discriminative gradient against autograd, the generative gradient against the exact one, the runs, the page."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from core import data as datasets
from core import training
from core.boltzmann import crbm, crbm_baselines
from core.boltzmann import crbm_enumeration as enumeration
from apptests import open_page, page_text  # noqa: E402  (tests/apptests.py)

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "boltzmann_5_conditional_rbm.py")
DIGITS = datasets.DATASETS["digits"]


def configs(d, c, K, n=6, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield rng.integers(0, 2, d), rng.integers(0, 2, c), rng.integers(0, 2, K)


# ----------------------------------------------------------------------------- the identities, by enumeration

@pytest.mark.parametrize("biases", [False, True])
@pytest.mark.parametrize("d, c, K", [(4, 2, 3), (3, 3, 5), (6, 1, 2)])
def test_the_sheets_identities_equal_brute_force_enumeration(d, c, K, biases):
    model = enumeration.tiny_model(d, c, K, seed=d * 100 + c * 10 + K, scale=1.5, biases=biases)
    W0 = model.W_.clone()
    for x, y, h in configs(d, c, K):
        np.testing.assert_allclose(model.hidden_probs([x], [y])[0].numpy(), enumeration.brute_hidden(model, x, y),
                                   rtol=1e-12, atol=1e-14)  # (a)(i)
        np.testing.assert_allclose(model.output_bit_probs([h])[0].numpy(), enumeration.brute_output(model, x, h),
                                   rtol=1e-12, atol=1e-14)  # (a)(ii)
        assert float(model.free_energy([x], [y])[0]) == pytest.approx(enumeration.brute_free_energy(model, x, y),
                                                                         rel=1e-12, abs=1e-12)  # (b)
        p = model.predict_proba([x])[0]
        np.testing.assert_allclose(p, enumeration.brute_p_y_given_x(model, x), rtol=1e-10, atol=1e-14)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert torch.equal(W0, model.W_)  # nothing changed the model


def test_the_enumeration_refuses_models_too_large_to_list():
    with pytest.raises(ValueError, match="too many"):
        enumeration.enumerate_states(enumeration.tiny_model(12, 4, 6))


@pytest.mark.parametrize("output, n_codes", [("onehot", 10), ("binary", 16)])
def test_p_y_given_x_sums_to_one_over_the_codes_and_is_uniform_without_label_weights(output, n_codes, rng):
    model = crbm.CRBM(30, output, random_state=1, init_scale=0.5).initialize(20)
    model.c_ = torch.randn(30)
    x = (rng.random((50, 20)) < 0.5).astype(np.float32)
    p = model.predict_proba(x)
    assert p.shape == (50, n_codes) and np.allclose(p.sum(1), 1.0, atol=1e-6)
    assert p.std(1).max() > 1e-3  # the weights do prefer some codes
    model.U_ = torch.zeros_like(model.U_)
    np.testing.assert_allclose(model.predict_proba(x), 1.0 / n_codes, rtol=1e-6)  # U = 0: p(y|x) uniform
    assert model.codes_.shape == ((10, 10) if output == "onehot" else (16, 4))
    if output == "binary":  # row j is the binary code of j: label j's target is its 4-bit code
        assert model.targets([5]).tolist() == [[0, 1, 0, 1]] and model.targets([9]).tolist() == [[1, 0, 0, 1]]


@pytest.mark.parametrize("output", ["onehot", "binary"])
@pytest.mark.parametrize("biases", [False, True])
def test_the_discriminative_gradient_equals_autograds_gradient_of_log_p_y_given_x(output, biases, rng):
    model = crbm.CRBM(7, output, biases=biases, random_state=3, init_scale=0.7, dtype=torch.float64).initialize(9)
    if biases:
        model.c_, model.d_ = torch.randn(7, dtype=torch.float64), torch.randn(model.codes_.shape[1], dtype=torch.float64)
    x = torch.as_tensor((rng.random((12, 9)) < 0.5).astype(np.float64))
    labels = rng.integers(0, 10, 12)
    ours = model.discriminative_gradient(x, labels)
    params = {k: v.clone().requires_grad_(True) for k, v in model.params().items()}
    W, U = params["W"], params["U"]
    c = params.get("c", torch.zeros(7, dtype=torch.float64))
    d = params.get("d", torch.zeros(U.shape[0], dtype=torch.float64))
    Y = model.codes_
    free = -F.softplus((x @ W + c)[:, None, :] + (Y @ U)[None]).sum(-1) - (Y @ d)[None]  # (B, n_codes), written anew
    logp = torch.log_softmax(-free, 1)[torch.arange(12), torch.as_tensor(labels)].mean()
    grads = torch.autograd.grad(logp, list(params.values()), allow_unused=True)  # b does not enter p(y|x)
    for (name, p), g in zip(params.items(), grads):
        torch.testing.assert_close(ours[name], torch.zeros_like(p) if g is None else g, rtol=1e-10, atol=1e-12,
                                   msg=name)


def test_the_generative_gradient_is_the_exact_gradient_of_log_p_x_y_on_average():
    """PCD/CD-k with long chains estimates d mean log p(x, y) / d theta; the exact value by enumeration + autograd."""
    model = enumeration.tiny_model(4, 2, 3, seed=4, scale=0.8, biases=True)
    gen = torch.Generator().manual_seed(0)
    x = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.float64)
    labels = [1, 2, 3]  # codes 01, 10, 11 of the 2-bit model
    n = 40_000
    chains = (torch.randint(0, 2, (n, 4), generator=gen).double(), model.codes_[torch.randint(0, 4, (n,), generator=gen)])
    est, _ = model.generative_gradient(x, labels, chains, 30, gen)
    params = {k: v.clone().requires_grad_(True) for k, v in model.params().items()}
    m2 = crbm.CRBM.from_arrays(*(params[k].detach() for k in ("W", "U", "b", "c", "d")))
    for k in ("W", "U", "b", "c", "d"):
        setattr(m2, f"{k}_", params[k])
    X, Y = crbm.all_binary(4), crbm.all_binary(2)
    XX, YY = X.repeat_interleave(4, 0), Y.repeat(16, 1)
    log_z = torch.logsumexp(-m2.free_energy(XX, YY), 0)
    ll = (-m2.free_energy(x, m2.codes_[labels]) - log_z).mean()
    exact = dict(zip(params, torch.autograd.grad(ll, list(params.values()))))
    for k in params:
        torch.testing.assert_close(est[k], exact[k], atol=0.02, rtol=0.0, msg=k)  # Monte Carlo: 40,000 chains


def test_class_conditional_generation_keeps_y_clamped_and_the_model_unchanged():
    model = crbm.CRBM(20, "onehot", random_state=0, init_scale=0.3).initialize(16)
    before = {k: v.clone() for k, v in model.params().items()}
    a = model.generate(np.repeat(np.arange(10), 2), steps=5, random_state=1)
    b = model.generate(np.repeat(np.arange(10), 2), steps=5, random_state=1)
    assert a.shape == (20, 16) and np.array_equal(a, b) and np.all((a >= 0) & (a <= 1))
    for k, v in model.params().items():
        assert torch.equal(before[k], v), k
    gen = torch.Generator().manual_seed(0)
    y = model.targets([3, 7])
    _, y_after, _ = model.gibbs(torch.zeros(2, 16), y, 3, gen, clamp_y=True)
    assert torch.equal(y, y_after)


# ----------------------------------------------------------------------------- the runs

@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


SMALL = crbm.CRBMRun("digits", 600, 300, hidden=50, epochs=4, batch_size=20, lr=0.01)


def test_three_modes_train_side_by_side_and_discriminative_classifies(digits, one_torch_thread):
    snap = training.run_to_end(crbm.CRBMSteps(SMALL, digits))
    last = snap["history"][-1]
    assert [r["epoch"] for r in snap["history"]] == [0, 1, 2, 3, 4]
    assert last["error_discriminative"] < 0.5 and last["error_hybrid"] < 0.6  # 8x8 digits, 4 short epochs
    assert all(np.isfinite(v) for v in last.values())
    assert all(last[f"seconds_{m}"] > 0 for m in crbm.MODES)
    first = snap["history"][0]
    assert first["error_discriminative"] == first["error_hybrid"] == first["error_generative"]  # the same start
    binary = training.run_to_end(crbm.CRBMSteps(replace(SMALL, output="binary", modes=("discriminative",)), digits))
    row = binary["history"][-1]
    assert 0 <= row["invalid_discriminative"] <= row["error_discriminative"] < 0.8  # 16 codes: chance 0.94


def test_the_generative_crbm_classifies_far_better_than_chance(digits, one_torch_thread):
    """Trained on log p(x, y) alone (PCD), argmax_y p(y | x) must classify: its held-out error, recomputed here from
    the free energies F(x, y) of the ten one-hot codes, is far below the majority-class error (chance, about 0.9;
    the binomial s.e. of an error rate on 300 digits is under 0.03). The 4-epoch run above stays at chance."""
    run = replace(SMALL, modes=("generative",), epochs=8, lr=0.03)
    snap = training.run_to_end(crbm.CRBMSteps(run, digits))
    hist = snap["history"]
    m = crbm.model(snap, "generative")
    x = torch.as_tensor(datasets.held_out_binary(digits.X_test)[:300])
    y = digits.y_test[:300]
    F_xy = torch.stack([m.free_energy(x, torch.eye(10)[j].expand(len(x), 10)) for j in range(10)], 1)  # (300, 10)
    error = float((F_xy.argmin(1).numpy() != y).mean())
    assert hist[-1]["error_generative"] == pytest.approx(error, abs=1e-9)
    chance = 1 - np.bincount(y, minlength=10).max() / len(y)
    assert hist[0]["error_generative"] > chance - 0.1  # untrained: about chance
    assert error < chance - 0.4  # about 0.35 at seed 0 (0.30-0.35 over seeds 0-3)


def test_runs_refuse_what_they_cannot_do(digits):
    with pytest.raises(ValueError, match="at least one"):
        crbm.CRBMSteps(replace(SMALL, modes=()), digits)
    with pytest.raises(ValueError, match="output"):
        crbm.CRBMSteps(replace(SMALL, output="ternary"), digits)


def test_the_baselines_are_scikit_learns_classifiers_on_the_same_split(digits):
    from sklearn.linear_model import LogisticRegression

    run = crbm_baselines.BaselineRun("digits", 500, 200, rbm_n_iter=2)
    snap = training.run_to_end(crbm_baselines.BaselineSteps(run, digits))
    errs = crbm_baselines.baseline_errors(snap, digits.y_test)
    ref = LogisticRegression(C=0.03, max_iter=2000).fit(digits.X_train[:500], digits.y_train[:500])
    assert errs["logreg"] == pytest.approx(1 - ref.score(digits.X_test[:200], digits.y_test[:200]))
    assert 0 <= errs["rbm_logreg"] < 0.5
    assert [set(r) - {"step", "seconds"} for r in snap["history"]] == [{"logreg_error", "logreg_seconds"},
                                                                      {"rbm_logreg_error", "rbm_logreg_seconds"}]


def test_the_shipped_runs_are_the_pages_defaults_on_the_mnist_split(mnist):
    run = crbm.CRBMRun()
    ship = crbm.CRBMSteps(run, mnist).shipped()
    assert ship is not None, "assets/crbm is missing or was made with other settings"
    last = ship["history"][-1]
    assert last["error_discriminative"] <= 0.045 and last["error_hybrid"] <= 0.045
    _, _, X, y = crbm.arrays(run, mnist)  # each shipped model's held-out error, recomputed from its free energies
    x = torch.as_tensor(X)
    for m in crbm.MODES:
        model = crbm.model(ship, m)
        F_xy = torch.stack([model.free_energy(x, torch.eye(10)[j].expand(len(x), 10)) for j in range(10)], 1)
        assert float((F_xy.argmin(1).numpy() != y).mean()) == pytest.approx(last[f"error_{m}"], abs=1e-9), m
    base = crbm_baselines.BaselineSteps(crbm_baselines.BaselineRun(), mnist).shipped()
    assert base is not None
    errs = crbm_baselines.baseline_errors(base, mnist.y_test)
    assert base["history"][-1]["rbm_logreg_error"] == errs["rbm_logreg"]
    assert base["nets"]["rbm"]["components"].shape == (100, 784)  # the BernoulliRBM's weights
    assert min(last["error_discriminative"], last["error_hybrid"]) < min(errs.values())


# ----------------------------------------------------------------------------- the page

def _page(params: dict) -> AppTest:
    return open_page(PAGE, params, 300)


FAST = dict(data=DIGITS, hidden=50, epochs=2)
VIEWS = ["Error", "p(y|x)", "Filters", "Generation", "Training curves", "Derivations"]


@pytest.mark.shared_cache  # the page tests share one cache: each run trains once per session
@pytest.mark.parametrize("view", VIEWS)
def test_every_tab_on_the_8x8_digits(view, one_torch_thread):
    at = _page({**FAST, "view": view})
    charts = at.get("plotly_chart")
    if view == "Error":
        assert len(at.metric) == 5 and len(charts) == 2  # three CRBMs + two baselines; bars and confusion
    elif view == "p(y|x)":
        assert len(charts) == 8 and len(at.get("image")) == 8  # four chosen + four ambiguous digits
    elif view == "Filters":
        assert at.get("image") and charts
    elif view == "Generation":
        assert len(at.get("image")) == 1
        at.radio(key="g_mode").set_value("generative").run()
        assert not at.exception
    elif view == "Training curves":
        assert len(charts) == 3 and "Training seconds" in page_text(at)
    else:
        assert len(at.latex) == 3 and len(at.dataframe) == 4
        worst = float(page_text(at).split("Largest difference: ")[1].rstrip(".").split()[0].rstrip("."))
        assert worst < 1e-9


@pytest.mark.shared_cache
def test_extremes_and_bad_input(one_torch_thread):
    at = _page({**FAST, "output": "4-bit code (c = 4)", "hidden": 10, "epochs": 1, "batch": 1000, "lr": 0.03, "k": 25,
                "pcd": "false", "biases": "false", "wd": 0.01, "alpha": 1.0, "seed": 10000, "view": "p(y|x)",
                "digits": "3, x, 99999"})
    assert any("whole numbers" in w.value for w in at.warning)
    assert '"1111"' in at.get("plotly_chart")[0].proto.spec  # bars over all 16 codes
    at = _page({**FAST, "discriminative": "false", "hybrid": "false", "generative": "false"})
    assert any("at least one training mode" in w.value for w in at.warning)
    at = _page({**FAST, "generative": "false", "hybrid": "false", "view": "Generation"})
    assert any("generative and hybrid" in i.value for i in at.info)
    at = _page({**FAST, "view": "Derivations", "td": 8, "tc": 4, "tk": 6, "tx": "2x", "tbias": "true"})
    assert any("exactly 8 zeros and ones" in w.value for w in at.warning) and len(at.dataframe) == 4
