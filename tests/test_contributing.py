"""CONTRIBUTING's worked lab is real: its code blocks (core, UI, page) are written out as modules, trained,
resumed bit for bit, checked against scikit-learn's PCA, and the page opened in AppTest; and its "One vocabulary"
holds for every run config."""
import re
import sys
from pathlib import Path

import pytest
import torch
from sklearn.decomposition import PCA
from streamlit.testing.v1 import AppTest

from core import data as datasets
from core import training

ROOT = Path(__file__).resolve().parent.parent
# where the recipe puts each part -> the module name it gets here
NAMES = {"core.autoencoders.linear": "linear_lab", "explorer.autoencoders_ui": "linear_ui"}


def recipe_blocks() -> list[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    part = text[text.index("## How to add a lab"):text.index("## One vocabulary")]
    blocks = re.findall(r"```python\n(.*?)```", part, flags=re.S)
    out = []
    for b in blocks:
        for where, name in NAMES.items():
            b = b.replace(where, name)
        out.append(b)
    return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    core_block, ui_block, page_block = recipe_blocks()
    folder = tmp_path_factory.mktemp("recipe")
    (folder / "linear_lab.py").write_text(core_block, encoding="utf-8")
    (folder / "linear_ui.py").write_text(ui_block, encoding="utf-8")
    (folder / "page.py").write_text(page_block, encoding="utf-8")
    sys.path.insert(0, str(folder))
    import linear_lab

    yield linear_lab, folder
    sys.path.remove(str(folder))
    for name in NAMES.values():
        sys.modules.pop(name, None)


def test_the_recipe_is_three_blocks_of_new_code():
    core_block, ui_block, page_block = recipe_blocks()
    assert "class LinearSteps(training.TorchSteps)" in core_block and "live.train_cached" in ui_block
    assert "shell.trained_or_stop" in page_block
    # none of its lines is another lab's: the blocks name no other lab module
    for block in (core_block, ui_block, page_block):
        assert not re.search(r"core\.(gan|boltzmann|transport|inpainting|mdn|playground)|vae|dae", block)


def test_the_recipe_lab_trains_resumes_bit_for_bit_and_approaches_pca(lab, one_torch_thread):
    linear_lab, _ = lab
    digits = datasets.load("digits")
    run = linear_lab.LinearRun(epochs=30)
    full = training.run_to_end(linear_lab.LinearSteps(run, digits))
    snaps = []
    for rec in training.train(linear_lab.LinearSteps(run, digits)):
        if "snapshot" in rec.extra:
            snaps.append(rec.extra["snapshot"]())
            if len(snaps) == 5:
                break
    resumed = training.run_to_end(linear_lab.LinearSteps(run, digits), snaps[-1])
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert drop(resumed["history"]) == drop(full["history"])
    for k, v in full["nets"]["ae"].items():
        assert torch.equal(v, resumed["nets"]["ae"][k]), k
    # a linear autoencoder's best error is PCA's with as many components (Baldi & Hornik 1989)
    X, Xev = digits.X_train[: run.n_train], digits.X_test
    pca = PCA(run.code).fit(X)
    floor = float(((pca.inverse_transform(pca.transform(Xev)) - Xev) ** 2).sum(1).mean())
    errors = [r["error"] for r in full["history"]]
    assert errors[-1] < 0.25 * errors[0] and floor <= errors[-1] < 1.15 * floor, (errors[-1], floor)


@pytest.mark.shared_cache
def test_the_recipe_page_opens_and_draws_the_curve(lab):
    _, folder = lab
    at = AppTest.from_file(str(folder / "page.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "Held-out squared error" in charts[0].proto.spec


ESTIMATOR_NAMES = r"random_state|learning_rate|fast_learning_rate|n_components|n_iter|n_hidden\d*"  # scikit-learn's


def test_run_configs_use_the_one_vocabulary():
    """CONTRIBUTING's "One vocabulary": no run config (a dataclass of core named *Run, and every dataclass inside it)
    has a field named like a scikit-learn estimator's argument; only the estimators' own configs inside a run keep
    those names (the RBM's RBMConfig, the DBM's DBMConfig)."""
    import dataclasses

    from core.boltzmann.dbm_model import DBMConfig
    from core.boltzmann.rbm import RBMConfig

    training.run_kinds()  # imports every module of core
    runs = {obj for name, mod in list(sys.modules.items()) if name.startswith("core.")
            for obj in vars(mod).values()
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__name__.endswith("Run")}
    assert len(runs) >= 14, sorted(r.__name__ for r in runs)
    bad, todo = [], [(r.__name__, r()) for r in runs]
    while todo:
        path, cfg = todo.pop()
        if isinstance(cfg, (RBMConfig, DBMConfig)):
            continue
        for f in dataclasses.fields(cfg):
            if re.fullmatch(ESTIMATOR_NAMES, f.name):
                bad.append(f"{path}.{f.name}")
            if dataclasses.is_dataclass(getattr(cfg, f.name)):
                todo.append((f"{path}.{f.name}", getattr(cfg, f.name)))
    assert not bad, bad
