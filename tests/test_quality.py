"""Quality metrics of the GAN lab: the Frechet distance against scipy, the ranking real < blurred < noise,
classes covered, diversity, calibration points, caching."""
import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from core import quality as Q
from core.cache import DiskCache
from core.data import ImageData

FAST = Q.ClassifierConfig(epochs=3, batch_size=32)


def _fd_scipy(mu1, c1, mu2, c2):
    covmean = scipy.linalg.sqrtm(c1 @ c2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean))


def test_frechet_distance_matches_scipy_and_closed_forms(rng):
    for d in (2, 5, 20):
        A, B = rng.normal(size=(d, d)), rng.normal(size=(d, d))
        c1, c2 = A @ A.T + 0.1 * np.eye(d), B @ B.T + 0.1 * np.eye(d)
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        assert Q.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(_fd_scipy(mu1, c1, mu2, c2), rel=1e-6)
        assert Q.frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0, abs=1e-6)
        assert Q.frechet_distance(mu1, c1, mu2, c1) == pytest.approx(((mu1 - mu2) ** 2).sum(), rel=1e-6)
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    assert Q.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1)
    # singular covariance (features that are always zero after a ReLU) stays finite
    c = np.diag([1.0, 0.0, 2.0])
    assert np.isfinite(Q.frechet_distance(np.zeros(3), c, np.ones(3), np.eye(3)))


def test_mean_pairwise_distance_against_enumeration(rng):
    X = rng.normal(size=(7, 3)).astype(np.float32)
    brute = np.mean([np.linalg.norm(X[i] - X[j]) for i in range(7) for j in range(7) if i != j])
    assert Q.mean_pairwise_distance(X) == pytest.approx(brute, rel=1e-5)
    assert Q.mean_pairwise_distance(np.repeat(X[:1], 5, 0)) == pytest.approx(0, abs=1e-6)


@pytest.fixture(scope="module")
def small_mnist(mnist):
    return ImageData("mnist", mnist.X_train[:3000], mnist.y_train[:3000], mnist.X_test, mnist.y_test, mnist.shape,
                     mnist.classes, note="first 3,000 training digits")


@pytest.fixture(scope="module")
def qm(small_mnist, tmp_path_factory):
    return Q.quality_model(small_mnist, FAST, cache=DiskCache(tmp_path_factory.mktemp("quality")))


def test_quality_ranks_real_below_blurred_below_noise(qm, small_mnist, rng):
    assert qm.test_accuracy > 0.85
    real = small_mnist.X_test[:Q.N_EVAL]
    real0 = real.copy()
    blurred = F.avg_pool2d(torch.as_tensor(real).view(-1, 1, 28, 28), 5, 1, 2).reshape(len(real), -1).numpy()
    noise = rng.random(real.shape, dtype=np.float32)
    r_real, r_blur, r_noise = qm.report(real), qm.report(blurred), qm.report(noise)
    assert r_real["fid"] < r_blur["fid"] < r_noise["fid"]
    assert np.array_equal(real, real0)  # the input was not modified
    # calibration points: held-out real images are the floor, noise images the ceiling
    assert r_real["fid"] == pytest.approx(r_real["fid_floor"], rel=1e-6)
    assert r_noise["fid"] == pytest.approx(r_real["fid_ceiling"], rel=0.1)
    assert 0 <= r_blur["fid_scaled"] <= 1.2 and r_real["fid_scaled"] == pytest.approx(0, abs=1e-6)
    # classes and diversity
    assert r_real["classes_covered"] == 10 and r_real["diversity"] == pytest.approx(1.0, rel=1e-5)
    assert r_real["class_hist"].sum() == pytest.approx(1.0)
    expected = np.bincount(qm.predict_proba(real).argmax(1), minlength=10) / len(real)
    assert np.allclose(r_real["class_hist"], expected)


def test_mode_collapse_is_measured(qm, small_mnist):
    ones = small_mnist.X_test[small_mnist.y_test == 1][:200]
    r = qm.report(ones)
    assert r["classes_covered"] <= 2 and r["class_hist"][1] > 0.8
    same = np.repeat(small_mnist.X_test[:1], 300, 0)
    r_same = qm.report(same)
    assert r_same["diversity"] == pytest.approx(0, abs=1e-6) and r_same["classes_covered"] == 1
    # per-class reference: real images of the class are at that class's floor
    threes = small_mnist.X_test[small_mnist.y_test == 3]
    r3 = qm.report(threes, label=3)
    assert r3["fid"] == pytest.approx(qm.reference(3)["floor"], rel=1e-6)
    assert r3["fid"] < qm.report(threes)["fid"]  # closer to the 3s than to all digits


def test_quality_model_is_cached_on_disk(small_mnist, tmp_path):
    cache = DiskCache(tmp_path)
    first = Q.quality_model(small_mnist, Q.ClassifierConfig(epochs=1), cache=cache)
    files = list(tmp_path.glob("gan-quality-*.pt"))
    assert len(files) == 1
    Q.clear_memo()
    second = Q.quality_model(small_mnist, Q.ClassifierConfig(epochs=1), cache=cache)
    assert second is not first
    X = small_mnist.X_test[:50]
    assert np.allclose(first.features(X), second.features(X), atol=1e-6)
    assert second.reference()["floor"] == pytest.approx(first.reference()["floor"])


def test_augment_redraws_each_image_without_moving_it_far_or_touching_the_input():
    yy, xx = np.mgrid[:28, :28]
    disc = ((yy - 13.5) ** 2 + (xx - 13.5) ** 2 <= 16).astype(np.float32)  # a centred disc of radius 4
    x = torch.as_tensor(np.stack([disc, np.zeros_like(disc)] * 20)).reshape(40, 1, 28, 28)
    x0 = x.clone()
    out = Q.augment(x, torch.Generator().manual_seed(0))
    again = Q.augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(x, x0) and out.shape == x.shape  # the input is not modified
    assert torch.equal(out, again) and not torch.equal(out[0], out[2])  # seeded, and each image drawn anew
    assert out.min() >= 0 and out.max() <= 1 and out[1::2].abs().max() == 0  # blank stays blank
    mass = out[0::2, 0]
    w = mass.sum((1, 2))
    cy, cx = (mass * torch.as_tensor(yy)).sum((1, 2)) / w, (mass * torch.as_tensor(xx)).sum((1, 2)) / w
    # the affine maps scale, shear and rotate about the centre, then shift by at most 6 % of the side (0.12 of the
    # half side of 14 px); stroke and contrast changes keep a symmetric disc's centre
    assert (cy - 13.5).abs().max() <= 0.12 * 14 + 0.05 and (cx - 13.5).abs().max() <= 0.12 * 14 + 0.05
    assert (cy - 13.5).abs().max() > 0.2  # and they do move it
