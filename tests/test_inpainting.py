"""The inpainting lab's science: the mask process, PCA fills, the gradient flip, the training run."""
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from core import assets, training
from core.data import ImageData
from core.gan.losses import gradient_penalty
from core.inpainting import ebm as ip
from core.inpainting import masks as M
from core.inpainting.pca import D_GRID, PCAInpainter


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
    off = M.patch_offsets(20000, random_state=1)
    assert off.shape == (20000, 2) and off.dtype.kind == "i"
    for axis in range(2):
        values, counts = np.unique(off[:, axis], return_counts=True)
        assert values.tolist() == list(range(-4, 5))  # both ends included, nothing else
        assert counts.min() > 0.8 * 20000 / 9  # roughly uniform
    assert abs(np.corrcoef(off[:, 0], off[:, 1])[0, 1]) < 0.05  # independent directions


def test_masks_match_the_description():
    off = M.patch_offsets(300, random_state=2)
    masks = M.patch_masks(off)
    assert masks.shape == (300, 784) and masks.dtype == bool
    assert (masks.sum(1) == 36).all()
    for (dy, dx), m in zip(off, masks):
        np.testing.assert_array_equal(m, _mask_by_hand(dy, dx))
    # extreme offsets: the patch spans rows 7..12 or 15..20
    np.testing.assert_array_equal(M.patch_masks([[-4, 4]])[0], _mask_by_hand(-4, 4))
    with pytest.raises(ValueError):
        M.patch_masks([[0, 12]])  # would leave the image


def test_make_masked_fills_gray_and_touches_nothing_else(rng):
    X = rng.random((50, 784)).astype(np.float32)
    X0 = X.copy()
    ms = M.make_masked(X, random_state=3)
    np.testing.assert_array_equal(X, X0)  # input not mutated
    assert (ms.X_in[ms.mask] == np.float32(M.FILL)).all() and M.FILL == 0.5
    np.testing.assert_array_equal(ms.X_in[~ms.mask], X[~ms.mask])
    np.testing.assert_array_equal(ms.mask, M.patch_masks(ms.offsets))
    again = M.make_masked(X, random_state=3)
    np.testing.assert_array_equal(again.mask, ms.mask)  # a seed fixes the holes
    assert not np.array_equal(M.make_masked(X, random_state=4).mask, ms.mask)
    with pytest.raises(ValueError):
        M.make_masked(np.zeros((3, 64)))


def test_masked_mse_counts_hole_pixels_only(rng):
    X = rng.random((10, 784))
    ms = M.make_masked(X, 0)
    Y = X.copy()
    Y[~ms.mask] += 5.0  # errors outside the hole do not count
    Y[ms.mask] += 0.1
    assert M.masked_mse(Y, X, ms.mask) == pytest.approx(0.01)


# ----------------------------------------------------------------------------- PCA

@pytest.fixture(scope="module")
def pca_all(mnist):
    return PCAInpainter(784).fit(mnist.X_train[:2000])


def test_pca_with_all_components_is_exact_on_unmasked_images(mnist, pca_all):
    p = pca_all
    assert p.max_d == 784
    X = mnist.X_test[:200]
    np.testing.assert_allclose(p.project(X, 784), X, atol=2e-5)
    assert np.abs(p.project(X, 50) - X).max() > 0.1  # fewer components lose detail


def test_pca_projection_matches_scikit_learn(rng):
    X = rng.random((300, 120)).astype(np.float32)
    p = PCAInpainter(30).fit(X)
    sk = PCA(10, svd_solver="full").fit(X)
    Y = rng.random((20, 120)).astype(np.float32)
    np.testing.assert_allclose(p.project(Y, 10), sk.inverse_transform(sk.transform(Y)), atol=1e-4)


def test_pca_fills_keep_known_pixels_and_lstsq_fits_observed_pixels(mnist, pca_all):
    p = pca_all
    ms = M.make_masked(mnist.X_test[:40], 5)
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
    p = PCAInpainter(300).fit(X)
    mask = np.zeros((2, 784), bool)
    mask[:, 100:600] = True  # 284 observed pixels < d = 290: the fit is not unique
    X_in = M.apply_mask(rng.normal(size=(2, 784)), mask)
    out = p.inpaint(X_in, mask, 290, "lstsq", clip=False)
    V, mu = p.components_[:290], p.mean_
    for i in range(2):
        obs = ~mask[i]
        z = np.linalg.lstsq(V[:, obs].T, X_in[i, obs] - mu[obs], rcond=None)[0]
        np.testing.assert_allclose(out[i, mask[i]], (mu + z @ V)[mask[i]], atol=1e-3)
    assert np.isfinite(out).all()


def test_pca_rejects_bad_d(rng, pca_all):
    p = pca_all
    ms = M.make_masked(rng.random((2, 784)), 0)
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
    m = torch.from_numpy(M.patch_masks(M.patch_offsets(n, seed)))
    return x, torch.where(m, torch.full_like(x, M.FILL), x), m


def test_generator_gets_gradient_through_the_hole_only():
    torch.manual_seed(0)
    G, E = ip.Generator(8), ip.EnergyNet(8)
    x, x_in, m = _batch()
    out = G(x_in, m)
    out.retain_grad()
    fake = M.compose(x_in, out, m)
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
    fake = M.compose(x_in, G(x_in, m), m)
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


def test_energy_and_gradient_penalties_do_not_reach_the_generator():
    torch.manual_seed(2)
    G, E = ip.Generator(8), ip.EnergyNet(8)
    x, x_in, m = _batch(seed=2)
    t = torch.rand(len(x), 1)
    l0, _ = ip.ebm_loss(E, G, x, x_in, m, alpha=0.0)
    l1, s1 = ip.ebm_loss(E, G, x, x_in, m, alpha=3.0, gp=10.0, t=t)
    assert s1["gp"] > 0
    g0 = torch.autograd.grad(l0, list(G.parameters()))
    g1 = torch.autograd.grad(l1, list(G.parameters()))
    for a, b in zip(g0, g1):
        torch.testing.assert_close(a, b)
    # ... but they do change the energy network's gradient
    e0 = torch.autograd.grad(ip.ebm_loss(E, G, x, x_in, m, alpha=0.0)[0], list(E.parameters()))
    e1 = torch.autograd.grad(ip.ebm_loss(E, G, x, x_in, m, alpha=0.0, gp=10.0, t=t)[0], list(E.parameters()))
    assert any(not torch.allclose(a, b) for a, b in zip(e0, e1))


class _Quadratic(torch.nn.Module):
    """E(x) = w.x + 0.5 c ||x||^2: its gradient w + c x is known in closed form."""

    def __init__(self, w, c):
        super().__init__()
        self.w, self.c = torch.nn.Parameter(w), c

    def forward(self, x, mask):
        return x @ self.w + 0.5 * self.c * (x * x).sum(1)


def test_gradient_penalty_matches_closed_form_and_autograd():
    torch.manual_seed(3)
    x, fake = torch.rand(6, 784, dtype=torch.float64), torch.rand(6, 784, dtype=torch.float64)
    m = torch.zeros(6, 784, dtype=torch.bool)
    t = torch.rand(6, 1, dtype=torch.float64)
    E = _Quadratic(torch.randn(784, dtype=torch.float64) * 0.05, 0.3)
    pen = gradient_penalty(lambda z: E(z, m), x, fake, t)
    xt = t * x + (1 - t) * fake
    want = ((E.w + E.c * xt).norm(dim=1) - 1).pow(2).mean()
    torch.testing.assert_close(pen, want)
    # its gradient with respect to E's weights (double backward) against autograd on the closed form
    (g,) = torch.autograd.grad(pen, [E.w])
    (g_ref,) = torch.autograd.grad(want, [E.w])
    torch.testing.assert_close(g, g_ref)
    # a 1-Lipschitz linear energy with unit slope costs nothing
    u = torch.randn(784, dtype=torch.float64)
    unit = _Quadratic(u / u.norm(), 0.0)
    assert gradient_penalty(lambda z: unit(z, m), x, fake, t).item() == pytest.approx(0.0, abs=1e-20)


# ----------------------------------------------------------------------------- networks

def test_hole_window_is_the_hole_with_4_pixels_of_context():
    off = np.array([[dy, dx] for dy in range(-4, 5) for dx in range(-4, 5)])
    m = torch.from_numpy(M.patch_masks(off))
    img = torch.arange(len(off) * 2 * 784, dtype=torch.float32).reshape(len(off), 2, 28, 28)
    win = ip.hole_window(img, m)
    assert win.shape == (len(off), 2, 14, 14)
    for i, (dy, dx) in enumerate(off):
        r, c = 11 + dy - 4, 11 + dx - 4  # hole starts at 11 + offset; 4 pixels of context before it
        torch.testing.assert_close(win[i], img[i, :, r:r + 14, c:c + 14])
        # the hole sits in rows and columns 4..9 of its window
        assert m[i].reshape(28, 28)[r:r + 14, c:c + 14][4:10, 4:10].all()
    # holes near an edge (not from the patch process): the window stays inside the image
    edge = torch.zeros(2, 784, dtype=torch.bool)
    edge[0].view(28, 28)[0:6, 0:6] = True
    edge[1].view(28, 28)[22:28, 20:26] = True
    w2 = ip.hole_window(img[:2], edge)
    torch.testing.assert_close(w2[0], img[0, :, 0:14, 0:14])
    torch.testing.assert_close(w2[1], img[1, :, 14:28, 14:28])


def test_generator_output_is_clipped_in_eval_and_linear_in_training():
    torch.manual_seed(4)
    G = ip.Generator(8)
    with torch.no_grad():
        G.coarse[-1].bias.fill_(3.0)  # push the output far above 1
    x, x_in, m = _batch(seed=4)
    y_train = G(x_in, m)
    assert y_train.max() > 1.5  # no squashing during training: the energy's gradient reaches G everywhere
    (g,) = torch.autograd.grad(y_train.sum(), G.coarse[-1].bias)
    assert (g != 0).all()
    G.eval()
    y_eval = G(x_in, m)
    assert 0.0 <= y_eval.min() and y_eval.max() <= 1.0
    torch.testing.assert_close(y_eval, y_train.clamp(0, 1))


# ----------------------------------------------------------------------------- the training run

@pytest.fixture(scope="module")
def small_data(mnist):
    return ImageData("mnist", mnist.X_train[:512], mnist.y_train[:512], mnist.X_test[:200], mnist.y_test[:200],
                     (1, 28, 28))


SMALL = ip.EBMRun(n_train=512, epochs=2, batch_size=64, width=8, n_eval=200, n_show=4, seed=3)


def test_training_records_completions_and_ships_them(small_data, tmp_path):
    recs = [(r, r.extra["snapshot"]() if "snapshot" in r.extra else None) for r in ip.train(SMALL, small_data, device="cpu")]
    with_metrics = [(r, snap) for r, snap in recs if r.metrics]
    assert [r.epoch for r, _ in with_metrics] == [0, 1, 2] and recs[-1][0].done
    final = with_metrics[-1][1]
    assert [h["epoch"] for h in final["history"]] == [0, 1, 2]
    assert all(np.isfinite(v) for h in final["history"] for v in h.values())
    assert sorted(final["samples"]) == ["0", "1", "2"] and final["samples"]["2"].shape == (4, 784)
    # the completions kept known pixels, and the trained generator reproduces its recorded samples and score
    ev = M.masked_held_out(small_data, SMALL.n_eval, SMALL.mask_seed)
    G = ip.generator(final, device="cpu")
    filled = ip.complete_array(G, ev.X_in, ev.mask)
    np.testing.assert_array_equal(filled[~ev.mask], ev.X_in[~ev.mask])
    np.testing.assert_allclose(filled[:4], final["samples"]["2"].numpy(), atol=1e-6)
    assert M.masked_mse(filled, ev.X, ev.mask) == pytest.approx(final["history"][-1]["masked_mse"], rel=1e-5)
    # the evaluated generator is the running average of the weights, not the last step's
    nets = final["nets"]
    assert any(not torch.equal(nets["G"][k], nets["G_avg"][k]) for k in nets["G"])
    # as a shipped asset (float16, no optimizer state) it gives the same completions, for the same digits only
    steps = ip.EBMSteps(SMALL, small_data)
    assets.save(tmp_path / "asset", steps.shippable(final), {"data_sha256": assets.fingerprint(*steps.data_arrays())})

    def shipped(run, data):  # what EBMSteps(run, data).shipped() does, in a folder of the test's
        return assets.shipped(tmp_path / "asset", run, assets.fingerprint(*ip.EBMSteps(run, data).data_arrays()))

    ship = shipped(SMALL, small_data)
    assert ship is not None and "opts" not in ship and "rng" not in ship and ship["history"] == final["history"]
    assert set(ship["nets"]) == {"G_avg", "E"}  # the evaluated generator only
    np.testing.assert_allclose(ip.complete_array(ip.generator(ship, device="cpu"), ev.X_in, ev.mask), filled, atol=2e-2)
    assert shipped(replace(SMALL, epochs=3), small_data) is None
    other = ImageData("mnist", small_data.X_train[::-1].copy(), small_data.y_train, small_data.X_test,
                      small_data.y_test, (1, 28, 28))
    assert shipped(SMALL, other) is None
    (tmp_path / "asset" / assets.FILENAME).write_bytes(b"not a torch file")
    assert shipped(SMALL, small_data) is None


def test_finished_run_yields_nothing_and_rejects_other_shapes(small_data):
    state = torch.random.get_rng_state()
    one = replace(SMALL, epochs=1, ema=0.0)
    snap = training.run_to_end(ip.EBMSteps(one, small_data, device="cpu"))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is left alone
    assert list(ip.train(one, small_data, partial=snap, device="cpu")) == []
    G = ip.generator(snap, device="cpu")  # ema = 0: the raw weights are the evaluated ones
    assert all(torch.equal(v, snap["nets"]["G"][k]) for k, v in G.state_dict().items())
    assert set(ip.EBMSteps(one, small_data).shippable(snap)["nets"]) == {"G", "E"}  # ema = 0: the raw generator ships
    digits = ImageData("digits", np.zeros((10, 64), np.float32), np.zeros(10, int), np.zeros((5, 64), np.float32),
                       np.zeros(5, int), (1, 8, 8))
    with pytest.raises(ValueError, match="28x28"):
        ip.EBMSteps(SMALL, digits)


# ----------------------------------------------------------------------------- the shipped default run

def test_shipped_default_run_is_what_it_claims_and_beats_every_pca_variant(mnist):
    """assets/inpainting: trained with energies only, it reproduces its recorded score and is below 0.10."""
    run = ip.EBMRun()
    res = ip.EBMSteps(run, mnist).shipped()
    assert res is not None, "assets/inpainting/run.pt is missing, or was not trained with the default run on these digits"
    assert res["config"] == asdict(run) and run.rec_weight == 0.0  # no squared error on the hole
    last = res["history"][-1]
    assert last["epoch"] == run.epochs == res["done"]
    ev = M.masked_held_out(mnist, run.n_eval, run.mask_seed)
    filled = ip.complete_array(ip.generator(res, device="cpu"), ev.X_in, ev.mask)
    np.testing.assert_array_equal(filled[~ev.mask], ev.X_in[~ev.mask])
    mse = M.masked_mse(filled, ev.X, ev.mask)
    assert mse == pytest.approx(last["masked_mse"], abs=2e-3)  # float16 weights
    assert mse < 0.10 < M.masked_mse(ev.X_in, ev.X, ev.mask)
    pca = PCAInpainter(400).fit(mnist.X_train[: run.n_train])
    for method in ("project", "lstsq"):
        assert min(pca.mse_curve(ev, D_GRID, method)) > mse + 0.005, method
