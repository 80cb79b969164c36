"""The inpainting lab's science: the mask process, PCA fills, the gradient flip, the training run."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from core import inpainting as ip
from core.cache import DiskCache
from core.data import ImageData
from core.progress import exhaust


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- the mask process

def _mask_by_hand(dy, dx):
    """The description, literally: rows and columns 11..16 shifted by (dy, dx), on a 28x28 grid."""
    m = np.zeros((28, 28), bool)
    for r in range(11 + dy, 17 + dy):
        for c in range(11 + dx, 17 + dx):
            m[r, c] = True
    return m.reshape(-1)


def test_offsets_cover_minus4_to_4_uniformly():
    off = ip.patch_offsets(20000, random_state=1)
    assert off.shape == (20000, 2) and off.dtype.kind == "i"
    for axis in range(2):
        values, counts = np.unique(off[:, axis], return_counts=True)
        assert values.tolist() == list(range(-4, 5))  # both ends included, nothing else
        assert counts.min() > 0.8 * 20000 / 9  # roughly uniform
    assert abs(np.corrcoef(off[:, 0], off[:, 1])[0, 1]) < 0.05  # independent directions


def test_masks_match_the_description():
    off = ip.patch_offsets(300, random_state=2)
    masks = ip.patch_masks(off)
    assert masks.shape == (300, 784) and masks.dtype == bool
    assert (masks.sum(1) == 36).all()
    for (dy, dx), m in zip(off, masks):
        np.testing.assert_array_equal(m, _mask_by_hand(dy, dx))
    # extreme offsets: the patch spans rows 7..12 or 15..20
    np.testing.assert_array_equal(ip.patch_masks([[-4, 4]])[0], _mask_by_hand(-4, 4))
    with pytest.raises(ValueError):
        ip.patch_masks([[0, 12]])  # would leave the image


def test_make_masked_fills_gray_and_touches_nothing_else(rng):
    X = rng.random((50, 784)).astype(np.float32)
    X0 = X.copy()
    ms = ip.make_masked(X, random_state=3)
    np.testing.assert_array_equal(X, X0)  # input not mutated
    assert (ms.X_in[ms.mask] == np.float32(ip.FILL)).all() and ip.FILL == 0.5
    np.testing.assert_array_equal(ms.X_in[~ms.mask], X[~ms.mask])
    np.testing.assert_array_equal(ms.mask, ip.patch_masks(ms.offsets))
    again = ip.make_masked(X, random_state=3)
    np.testing.assert_array_equal(again.mask, ms.mask)  # a seed fixes the holes
    assert not np.array_equal(ip.make_masked(X, random_state=4).mask, ms.mask)
    with pytest.raises(ValueError):
        ip.make_masked(np.zeros((3, 64)))


def test_masked_mse_counts_hole_pixels_only(rng):
    X = rng.random((10, 784))
    ms = ip.make_masked(X, 0)
    Y = X.copy()
    Y[~ms.mask] += 5.0  # errors outside the hole do not count
    Y[ms.mask] += 0.1
    assert ip.masked_mse(Y, X, ms.mask) == pytest.approx(0.01)


# ----------------------------------------------------------------------------- PCA

@pytest.fixture(scope="module")
def pca_all(mnist):
    return ip.PCAInpainter(784).fit(mnist.X_train[:2000])


def test_pca_with_all_components_is_exact_on_unmasked_images(mnist, pca_all):
    p = pca_all
    assert p.max_d == 784
    X = mnist.X_test[:200]
    np.testing.assert_allclose(p.project(X, 784), X, atol=2e-5)
    assert np.abs(p.project(X, 50) - X).max() > 0.1  # fewer components lose detail


def test_pca_projection_matches_scikit_learn(rng):
    X = rng.random((300, 120)).astype(np.float32)
    p = ip.PCAInpainter(30).fit(X)
    sk = PCA(10, svd_solver="full").fit(X)
    Y = rng.random((20, 120)).astype(np.float32)
    np.testing.assert_allclose(p.project(Y, 10), sk.inverse_transform(sk.transform(Y)), atol=1e-4)


def test_pca_fills_keep_known_pixels_and_lstsq_fits_observed_pixels(mnist, pca_all):
    p = pca_all
    ms = ip.make_masked(mnist.X_test[:40], 5)
    X_in0 = ms.X_in.copy()
    for d in (5, 60):
        proj = p.inpaint(ms.X_in, ms.mask, d, "project", clip=False)
        fit = p.inpaint(ms.X_in, ms.mask, d, "lstsq", clip=False)
        for Y in (proj, fit):
            np.testing.assert_array_equal(Y[~ms.mask], ms.X_in[~ms.mask])
        # independent computations: full projection of the gray-filled image; NumPy least squares
        np.testing.assert_allclose(proj[ms.mask], p.project(ms.X_in, d)[ms.mask], atol=1e-5)
        V, mu = p.components_[:d], p.mean_
        for i in range(len(ms.X)):
            obs = ~ms.mask[i]
            z = np.linalg.lstsq(V[:, obs].T, ms.X_in[i, obs] - mu[obs], rcond=None)[0]
            np.testing.assert_allclose(fit[i, ms.mask[i]], (mu + z @ V)[ms.mask[i]], atol=1e-4)
    np.testing.assert_array_equal(ms.X_in, X_in0)
    clipped = p.inpaint(ms.X_in, ms.mask, 60, "lstsq")
    assert clipped.min() >= 0 and clipped.max() <= 1
    many = p.inpaint_many(ms.X_in, ms.mask, [3, 60], "lstsq")
    np.testing.assert_array_equal(many[60], clipped)


def test_lstsq_underdetermined_fit_uses_minimum_norm_solution(rng):
    X = rng.normal(size=(300, 784)).astype(np.float32)
    p = ip.PCAInpainter(300).fit(X)
    mask = np.zeros((2, 784), bool)
    mask[:, 100:600] = True  # 284 observed pixels < d = 290: the fit is not unique
    X_in = ip.apply_mask(rng.normal(size=(2, 784)), mask)
    out = p.inpaint(X_in, mask, 290, "lstsq", clip=False)
    V, mu = p.components_[:290], p.mean_
    for i in range(2):
        obs = ~mask[i]
        z = np.linalg.lstsq(V[:, obs].T, X_in[i, obs] - mu[obs], rcond=None)[0]
        np.testing.assert_allclose(out[i, mask[i]], (mu + z @ V)[mask[i]], atol=1e-3)
    assert np.isfinite(out).all()


def test_pca_rejects_bad_d(rng, pca_all):
    p = pca_all
    ms = ip.make_masked(rng.random((2, 784)), 0)
    for d in (0, 785):
        with pytest.raises(ValueError):
            p.inpaint(ms.X_in, ms.mask, d)
    with pytest.raises(ValueError):
        p.inpaint(ms.X_in, ms.mask, 2, method="magic")


# ----------------------------------------------------------------------------- gradient flip

def test_grad_reverse_is_identity_forward_and_negates_backward():
    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 7, dtype=torch.float64)
    y = ip.grad_reverse(x, 0.3)
    assert torch.equal(y, x)
    (g,) = torch.autograd.grad((torch.sin(y) * w).sum(), x)
    (g_ref,) = torch.autograd.grad((torch.sin(x) * w).sum(), x)
    torch.testing.assert_close(g, -0.3 * g_ref)
    # gradcheck sees the mismatch between the numerical (identity) and the reported (negated) Jacobian
    assert not torch.autograd.gradcheck(lambda t: ip.grad_reverse(t), (x,), raise_exception=False)
    assert torch.autograd.gradcheck(lambda t: ip.grad_reverse(ip.grad_reverse(t)), (x,))  # two flips: identity


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 784, generator=g)
    m = torch.from_numpy(ip.patch_masks(ip.patch_offsets(n, seed)))
    return x, torch.where(m, torch.full_like(x, ip.FILL), x), m


def test_generator_gets_gradient_through_the_hole_only():
    torch.manual_seed(0)
    G, E = ip.Generator(8), ip.EnergyNet(8)
    x, x_in, m = _batch()
    out = G(x_in, m)
    out.retain_grad()
    fake = ip.compose(x_in, out, m)
    np.testing.assert_array_equal(fake[~m].detach().numpy(), x_in[~m].numpy())  # known pixels exactly
    E(ip.grad_reverse(fake), m).sum().backward()
    assert (out.grad[~m] == 0).all()
    assert (out.grad[m] != 0).float().mean() > 0.9


def test_one_loss_one_optimizer_flips_the_generator_only():
    """d loss/d theta_E = d(mean E_real - mean E_fake)/d theta_E, while d loss/d theta_G = +d(mean E_fake)/d theta_G."""
    torch.manual_seed(1)
    G, E = ip.Generator(8), ip.EnergyNet(8)
    x, x_in, m = _batch(seed=1)
    loss, _ = ip.ebm_loss(E, G, x, x_in, m, alpha=0.0, rec_weight=0.0)
    got = torch.autograd.grad(loss, list(E.parameters()) + list(G.parameters()))
    fake = ip.compose(x_in, G(x_in, m), m)
    e_fake = E(fake, m).mean()
    want_E = torch.autograd.grad(E(x, m).mean() - e_fake, list(E.parameters()), retain_graph=True)
    want_G = torch.autograd.grad(e_fake, list(G.parameters()))
    for a, b in zip(got, list(want_E) + list(want_G)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # a plain step of one optimizer lowers the generator's energy (small step, first order)
    opt = torch.optim.SGD(list(E.parameters()) + list(G.parameters()), lr=1e-3)
    with torch.no_grad():
        before = E(ip.complete(G, x_in, m), m).mean()
    opt.zero_grad()
    loss, _ = ip.ebm_loss(E, G, x, x_in, m, alpha=0.0, rec_weight=0.0)
    loss.backward()
    for p in E.parameters():
        p.grad = None  # move the generator only
    opt.step()
    with torch.no_grad():
        assert E(ip.complete(G, x_in, m), m).mean() < before


def test_energy_penalty_does_not_reach_the_generator():
    torch.manual_seed(2)
    G, E = ip.Generator(8), ip.EnergyNet(8)
    x, x_in, m = _batch(seed=2)
    l0, _ = ip.ebm_loss(E, G, x, x_in, m, alpha=0.0)
    l1, _ = ip.ebm_loss(E, G, x, x_in, m, alpha=3.0)
    g0 = torch.autograd.grad(l0, list(G.parameters()))
    g1 = torch.autograd.grad(l1, list(G.parameters()))
    for a, b in zip(g0, g1):
        torch.testing.assert_close(a, b)


# ----------------------------------------------------------------------------- the training run

@pytest.fixture(scope="module")
def small_data(mnist):
    return ImageData("mnist", mnist.X_train[:512], mnist.y_train[:512], mnist.X_test[:200], mnist.y_test[:200],
                     (1, 28, 28))


SMALL = ip.EBMRun(n_train=512, epochs=2, batch_size=64, width=8, n_eval=200, n_show=4, seed=3)


def test_training_records_snapshots_and_resumes_exactly(small_data, tmp_path):
    recs = list(ip.train_ebm(SMALL, small_data, device="cpu"))
    with_metrics = [r for r in recs if r.metrics]
    assert [r.epoch for r in with_metrics] == [0, 1, 2] and recs[-1].done
    assert all("snapshot" in r.extra for r in with_metrics)
    final = with_metrics[-1].extra["snapshot"]()
    assert [h["epoch"] for h in final["history"]] == [0, 1, 2]
    assert all(np.isfinite(v) for h in final["history"] for v in h.values())
    assert sorted(final["samples"]) == ["0", "1", "2"] and final["samples"]["2"].shape == (4, 784)
    # storable: survives the cache's weights_only loading
    cache = DiskCache(tmp_path)
    cache.put("k", with_metrics[1].extra["snapshot"]())
    partial = cache.get("k")
    assert partial is not None and partial["epochs"] == 1
    resumed = exhaust(ip.train_ebm(SMALL, small_data, partial=partial, device="cpu")).extra["snapshot"]()
    assert [h["epoch"] for h in resumed["history"]] == [0, 1, 2]
    a, b = final["history"][-1], resumed["history"][-1]
    for k in ("masked_mse", "energy_real", "energy_fake", "loss"):
        assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-6)
    for k in final["G"]:
        torch.testing.assert_close(final["G"][k], resumed["G"][k], rtol=1e-4, atol=1e-5)
    # the completions kept known pixels, and the trained generator reproduces its recorded samples
    ev = ip.held_out(SMALL, small_data)
    G = ip.generator(final, device="cpu")
    filled = ip.complete_array(G, ev.X_in, ev.mask)
    np.testing.assert_array_equal(filled[~ev.mask], ev.X_in[~ev.mask])
    np.testing.assert_allclose(filled[:4], final["samples"]["2"].numpy(), atol=1e-6)
    assert ip.masked_mse(filled, ev.X, ev.mask) == pytest.approx(a["masked_mse"], rel=1e-5)


def test_finished_run_yields_nothing_and_rejects_other_shapes(small_data):
    state = torch.random.get_rng_state()
    snap = exhaust(ip.train_ebm(replace(SMALL, epochs=1), small_data, device="cpu")).extra["snapshot"]()
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is left alone
    assert list(ip.train_ebm(replace(SMALL, epochs=1), small_data, partial=snap, device="cpu")) == []
    digits = ImageData("digits", np.zeros((10, 64), np.float32), np.zeros(10, int), np.zeros((5, 64), np.float32),
                       np.zeros(5, int), (1, 8, 8))
    with pytest.raises(ValueError):
        next(ip.train_ebm(SMALL, digits))
