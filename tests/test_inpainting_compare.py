"""core.inpainting.compare: the method comparison, checked against a brute-force loop over d and errors written
out with NumPy (squared differences on the hole pixels, pooled)."""
import numpy as np
import pytest

from core.inpainting import compare
from core.inpainting.masks import FILL, make_masked
from core.inpainting.pca import PCAInpainter
from core.progress import Stopwatch


def _hole_mse(filled, ms):
    """Pooled squared error on the hole pixels, by an explicit loop over digits."""
    sq, n = 0.0, 0
    for f, x, m in zip(filled, ms.X, ms.mask):
        d = np.asarray(f, np.float64)[m] - np.asarray(x, np.float64)[m]
        sq, n = sq + float((d * d).sum()), n + int(m.sum())
    return sq / n


@pytest.fixture(scope="module")
def setup(mnist):
    model = PCAInpainter(60).fit(mnist.X_train[:1500])
    ms = make_masked(mnist.X_test[:150], random_state=3)
    return model, ms


def test_pca_curves_and_best_d_against_a_loop_over_d(setup):
    model, ms = setup
    clock = Stopwatch()
    ds = (1, 3, 10, 30, 60, 100)  # 100 > 60 components: left out
    curves = compare.pca_curves(model, ms, ds, clock)
    assert curves["d"] == [1, 3, 10, 30, 60]
    for method in compare.METHODS:
        want = [_hole_mse(model.inpaint(ms.X_in, ms.mask, d, method), ms) for d in curves["d"]]
        np.testing.assert_allclose(curves[f"mse_{method}"], want, rtol=1e-9)
        i = int(np.argmin(want))
        assert compare.best_d(curves, method) == (curves["d"][i], pytest.approx(want[i], rel=1e-9))
        assert clock[method] > 0  # each sweep was timed under its own name
    assert list(clock) == list(compare.METHODS)


def test_best_d_takes_the_first_of_a_tie():
    assert compare.best_d({"d": [1, 2, 3, 4], "mse_project": [0.3, 0.1, 0.1, 0.2]}, "project") == (2, 0.1)
    assert compare.best_d({"d": [5, 8], "mse_lstsq": [0.1, 0.2]}, "lstsq") == (5, 0.1)


def test_comparison_rows(setup):
    model, ms = setup
    curves = compare.pca_curves(model, ms, (1, 5, 20, 60))
    g = np.random.default_rng(0)
    noisy = np.clip(ms.X + 0.2 * g.normal(size=ms.X.shape), 0, 1).astype(np.float32)
    rows = compare.comparison(ms, curves, {"fit": 1.5, "project": 0.25, "lstsq": 0.5},
                              [compare.Entry("truth plus noise", noisy, 7.0, 0.125),
                               compare.Entry("the truth", ms.X.copy())])
    assert [tuple(r) for r in rows] == [compare.COLUMNS] * 5
    gray = float(np.mean([(FILL - x[m].astype(np.float64)) ** 2 for x, m in zip(ms.X, ms.mask)]))  # equal-size holes
    assert rows[0] == {"method": "Gray fill (nothing learnt)", "masked_mse": pytest.approx(gray, rel=1e-9),
                       "train_seconds": 0.0, "fill_seconds": 0.0}
    for row, method in zip(rows[1:3], compare.METHODS):
        d, mse = min(zip(curves["d"], curves[f"mse_{method}"]), key=lambda p: p[1])
        assert row == {"method": f"{compare.NAMES[method]}, best d = {d}", "masked_mse": mse, "train_seconds": 1.5,
                       "fill_seconds": {"project": 0.25, "lstsq": 0.5}[method]}
    assert rows[3] == {"method": "truth plus noise", "masked_mse": pytest.approx(_hole_mse(noisy, ms), rel=1e-9),
                       "train_seconds": 7.0, "fill_seconds": 0.125}
    assert rows[4]["masked_mse"] == 0.0 and rows[4]["train_seconds"] == 0.0
