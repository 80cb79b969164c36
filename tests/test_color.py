"""core.color: OT colour transfer reaches the target's colour statistics; naive swaps and the
histogram match do what they claim; distances against closed forms."""
import numpy as np
import ot
import pytest

from core.transport import color as C


@pytest.fixture(scope="module")
def photos():
    src = C.resize(C.sample_image("china.jpg"), (160, 240))
    tgt = C.resize(C.sample_image("flower.jpg"), (160, 240))
    return src, tgt


def stats(img):
    X = img.reshape(-1, 3) / 255.0
    return X.mean(0), np.cov(X.T)


@pytest.mark.parametrize("method, lam, tol_mean, tol_cov", [("emd", 100, 0.03, 0.01), ("sinkhorn", 200, 0.03, 0.015)])
def test_transfer_reaches_target_colour_statistics(photos, method, lam, tol_mean, tol_cov):
    src, tgt = photos
    src0 = src.copy()
    out, ct = C.transfer(src, tgt, method, n_samples=800, lam=lam)
    assert out.shape == src.shape and out.dtype == np.uint8
    assert np.array_equal(src, src0)  # input not mutated
    m_out, c_out = stats(out)
    m_src, c_src = stats(src)
    m_tgt, c_tgt = stats(tgt)
    assert np.abs(m_out - m_tgt).max() < tol_mean < np.abs(m_src - m_tgt).max()
    assert np.abs(c_out - c_tgt).max() < tol_cov
    # the colours moved much closer to the target's
    assert C.color_distance(out, tgt) < 0.25 * C.color_distance(src, tgt)


def test_exact_map_on_the_sample_is_a_permutation_of_target_colours(photos):
    src, tgt = photos
    ct = C.ColorTransfer("emd", n_samples=300).fit(C.to_pixels(src), C.to_pixels(tgt))
    assert np.allclose(ct.plan_.sum(1), 1 / 300) and np.allclose(ct.plan_.sum(0), 1 / 300)
    # equal uniform samples: the optimal plan is a permutation, so each sample goes to one target colour
    a = np.lexsort(ct.mapped_.T)
    b = np.lexsort(ct.xt_.T)
    assert np.allclose(ct.mapped_[a], ct.xt_[b], atol=1e-9)
    # and it is optimal: same cost as POT's emd2 computed afresh
    assert np.isclose(ct.cost_, ot.emd2(np.full(300, 1 / 300), np.full(300, 1 / 300), ot.dist(ct.xs_, ct.xt_)))
    # extending to all pixels moves each sample pixel (of a colour drawn once) exactly onto its image
    _, idx, counts = np.unique(ct.xs_, axis=0, return_index=True, return_counts=True)
    once = idx[counts == 1]
    assert len(once) > 100
    assert np.allclose(ct.transform(ct.xs_[once]), np.clip(ct.mapped_[once], 0, 1), atol=1e-6)
    # with one neighbour, any pixel moves exactly like its nearest sample colour
    X = C.to_pixels(src)[:500]
    _, nn = ct.tree_.query(X, k=1)
    assert np.allclose(ct.transform(X, neighbours=1), np.clip(X + ct.mapped_[nn] - ct.xs_[nn], 0, 1))


def test_small_lambda_washes_colours_to_the_target_mean(photos):
    src, tgt = photos
    out, _ = C.transfer(src, tgt, "sinkhorn", n_samples=400, lam=0.5)
    X = out.reshape(-1, 3) / 255.0
    assert X.std(0).max() < 0.6 * (tgt.reshape(-1, 3) / 255.0).std(0).min() + 0.03


def test_colour_sinkhorn_lambda_range():
    X = np.random.default_rng(0).random((50, 3))
    with pytest.raises(ValueError):
        C.ColorTransfer("sinkhorn", 50, lam=C.MAX_LAMBDA * 2).fit(X, X)
    with pytest.raises(ValueError):
        C.ColorTransfer("nope", 50).fit(X, X)


def test_pixel_swaps_copy_the_target_histogram_exactly(photos):
    src, tgt = photos
    sorted_tgt = np.sort(tgt.reshape(-1, 3).view([("", np.uint8)] * 3).ravel())
    for order in ("random", "brightness"):
        out = C.pixel_swap(src, tgt, order)
        assert out.shape == src.shape
        assert np.array_equal(np.sort(out.reshape(-1, 3).view([("", np.uint8)] * 3).ravel()), sorted_tgt)
        assert C.color_distance(out, tgt) < 1e-6
    assert np.array_equal(C.pixel_swap(src, tgt, "position"), tgt)
    # different sizes: the target is resized to the source's size first
    assert C.pixel_swap(src, tgt[:50, :70], "random").shape == src.shape
    # brightness order keeps the source's light and shade: luminance ranks agree
    out = C.pixel_swap(src, tgt, "brightness")
    ls, lo = C.luminance(src.reshape(-1, 3) / 255.0), C.luminance(out.reshape(-1, 3) / 255.0)
    assert np.corrcoef(np.argsort(np.argsort(ls)), np.argsort(np.argsort(lo)))[0, 1] > 0.99


def test_histogram_match_matches_each_channel(photos):
    src, tgt = photos
    out = C.histogram_match(src, tgt)
    for c in range(3):
        cdf = lambda img: np.cumsum(np.bincount(img[..., c].ravel(), minlength=256)) / img[..., c].size  # noqa: E731
        # a source level cannot be split, so the CDFs agree up to the largest single-level mass
        biggest = np.bincount(src[..., c].ravel()).max() / src[..., c].size
        assert np.abs(cdf(out) - cdf(tgt)).max() <= biggest + 0.01
        assert np.abs(cdf(src) - cdf(tgt)).max() > 0.2
    # each channel is a monotone function of the source channel
    for c in range(3):
        order = np.argsort(src[..., c].ravel(), kind="stable")
        assert np.all(np.diff(out[..., c].ravel()[order].astype(int)) >= 0)


def test_color_distance_closed_forms():
    a = np.zeros((8, 8, 3), np.uint8) + np.array([10, 20, 30], np.uint8)
    b = np.zeros((5, 7, 3), np.uint8) + np.array([40, 60, 30], np.uint8)
    assert np.isclose(C.color_distance(a, b), 50.0)  # sqrt(30^2 + 40^2)
    assert C.color_distance(a, a) == 0
    # half black, half white vs all black: W2 = sqrt(0.5 * 3 * 255^2)
    c = np.zeros((4, 4, 3), np.uint8)
    c[:2] = 255
    d = np.zeros((4, 4, 3), np.uint8)
    assert np.isclose(C.color_distance(c, d), np.sqrt(0.5 * 3 * 255 ** 2))


def test_all_transfers_and_histograms(photos):
    src, tgt = photos
    ts = C.all_transfers(src, tgt, n_samples=300, lam=50)
    assert set(ts.images) == set(C.METHODS)
    assert all(np.isfinite(v) for v in ts.distances.values())
    assert ts.distances["emd"] < ts.distances["source"] and ts.distances["hist"] < ts.distances["source"]
    h = C.channel_histograms(src, bins=32)
    assert h.shape == (3, 32) and np.allclose(h.sum(1), 1)
    with pytest.raises(ValueError):
        C.to_pixels(np.zeros((4, 4), np.uint8))
