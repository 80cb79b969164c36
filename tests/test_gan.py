"""GAN lab: architectures follow the guidelines, steps move D and G the right way, the gradient
penalty matches an independent computation, clipping, exact resumption, DiffAugment, failure flags."""
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn as nn

from core.gan import config as gc
from core.gan import diagnosis, diffaug
from core.gan import images as gi
from core.gan import train as gt
from core.gan.losses import gradient_penalty
from core.gan.trainer import GANTrainer
from core.cache import DiskCache
from core.data import ImageData
from core.gan.models import (DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, SeededDropout, build,
                      n_params)


def _types(m):
    return [type(x) for x in m.net]


def _tiny_data(n=256, shape=(1, 28, 28), seed=0):
    """Digit-like toy images: a bright square at one of 4 places per class."""
    rng = np.random.default_rng(seed)
    C, H, W = shape
    y = rng.integers(0, 4, n)
    X = np.zeros((n, C, H, W), np.float32)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        X[i, :, 4 + r * 12: 12 + r * 12, 4 + q * 12: 12 + q * 12] = 1.0
    X = X.reshape(n, -1)
    return ImageData("mnist", X, y.astype(np.int64), X[:64], y[:64].astype(np.int64), shape, [str(i) for i in range(4)])


# ----------------------------------------------------------------------------- architectures

@pytest.mark.parametrize("size,ups", [(32, 3), (64, 4)])
def test_dcgan_generator_follows_radford(size, ups):
    g = DCGANGenerator(nz=100, channels=3, image_size=size, width=16)
    z = torch.randn(5, 100)
    assert g(z).shape == (5, 3, size, size)
    t = _types(g)
    convs = [m for m in g.net if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == ups + 1  # 1x1 -> 4x4, then one stride-2 layer per doubling
    assert all(c.stride == (2, 2) for c in convs[1:]) and convs[0].stride == (1, 1)
    assert nn.Linear not in t and nn.Upsample not in t  # no dense layers, no upsampling layers
    assert t[-1] is nn.Tanh and t[-2] is nn.ConvTranspose2d  # output: transposed conv + tanh, no BatchNorm
    assert t.count(nn.BatchNorm2d) == ups and t.count(nn.ReLU) == ups
    assert convs[-2].out_channels == 16  # width = channels of the last hidden map


@pytest.mark.parametrize("size", [32, 64])
def test_dcgan_discriminator_follows_radford(size):
    d = DCGANDiscriminator(channels=3, image_size=size, width=16)
    assert d(torch.randn(4, 3, size, size)).shape == (4,)
    t = _types(d)
    convs = [m for m in d.net if isinstance(m, nn.Conv2d)]
    assert all(c.stride == (2, 2) for c in convs[:-1])
    assert t[0] is nn.Conv2d and t[1] is nn.LeakyReLU  # no BatchNorm on the input layer
    assert all(m.negative_slope == 0.2 for m in d.net if isinstance(m, nn.LeakyReLU))
    assert t.count(nn.BatchNorm2d) == len(convs) - 2
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in d.modules())
    critic = DCGANDiscriminator(channels=3, image_size=size, width=16, norm="layer")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())  # WGAN-GP: no BatchNorm


def test_dcgan_init_is_normal_002():
    g, d = build("dcgan", nz=100, shape=(1, 32, 32), width=64, critic="gan", generator=torch.Generator().manual_seed(1))
    w = torch.cat([m.weight.flatten() for m in list(g.modules()) + list(d.modules())
                   if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 5e-4
    bn = torch.cat([m.weight for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn.mean().item() - 1) < 0.01 and abs(bn.std().item() - 0.02) < 0.005


def test_seed_mlp_architecture():
    g, d = MLPGenerator(100, (1, 28, 28)), MLPDiscriminator((1, 28, 28))
    lin = [m for m in g.net if isinstance(m, nn.Linear)]
    assert [m.out_features for m in lin] == [128, 256, 512, 1024, 784]
    assert _types(g).count(nn.BatchNorm1d) == 4 and _types(g)[-1] is nn.Tanh
    assert all(m.negative_slope == 0.2 for m in g.net if isinstance(m, nn.LeakyReLU))
    dl = [m for m in d.net if isinstance(m, nn.Linear)]
    assert [m.out_features for m in dl] == [1024, 512, 256, 1]
    assert [m.p for m in d.net if isinstance(m, SeededDropout)] == [0.3, 0.3, 0.3]
    assert g(torch.rand(3, 100) * 2 - 1).shape == (3, 1, 28, 28) and d(torch.zeros(3, 1, 28, 28)).shape == (3,)
    _, critic = build("mlp", nz=100, shape=(1, 28, 28), width=1.0, critic="wgan")
    assert not any(isinstance(m, SeededDropout) for m in critic.modules())
    assert n_params(g) > 1_000_000


# ----------------------------------------------------------------------------- steps and losses

def _trainer(loss="nonsat", arch="mlp", **kw):
    cfg = gc.wgan_defaults(gc.GANConfig(arch=arch, width=0.25 if arch == "mlp" else 8, batch_size=64, n_iters=10,
                                        log_every=5, grid_every=5, n_grid=16, seed=3), loss)
    cfg = replace(cfg, **kw)
    return GANTrainer(gc.GANRun("mnist", -1, 256, cfg), _tiny_data(), device="cpu")


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_one_step_moves_d_and_g_the_right_way(arch):
    tr = _trainer(arch=arch, lr_d=1e-3, lr_g=1e-3, batch_size=256)
    before = tr.probe(256, random_state=5)
    tr.d_step()
    after_d = tr.probe(256, random_state=5)
    assert after_d["d_real"] > before["d_real"] and after_d["d_fake"] < before["d_fake"]
    tr.g_step()
    after_g = tr.probe(256, random_state=5)
    assert after_g["d_fake"] > after_d["d_fake"]  # G moved its samples towards what D calls real
    assert after_g["d_real"] == pytest.approx(after_d["d_real"], abs=1e-6)  # a G step leaves D alone


def test_wgan_steps_and_weight_clipping():
    tr = _trainer("wgan", lr_d=5e-4, lr_g=5e-4, clip=0.02)
    before = tr.probe(256, random_state=1)
    tr.d_step()
    mid = tr.probe(256, random_state=1)
    assert mid["w_estimate"] > before["w_estimate"]
    assert max(p.abs().max().item() for p in tr.D.parameters()) <= 0.02 + 1e-7
    tr.g_step()
    assert tr.probe(256, random_state=1)["critic_fake"] > mid["critic_fake"]


def test_minimax_and_nonsaturating_generator_losses():
    """The G losses are log(1 - D(G(z))) (minimax, saturating) and -log D(G(z)) (non-saturating)."""
    for loss, f in (("minimax", lambda p: torch.log1p(-p)), ("nonsat", lambda p: -torch.log(p))):
        tr, twin = _trainer(loss), _trainer(loss)  # same seed: same weights, same noise, same dropout masks
        got = tr.g_step()["g_loss"]
        with torch.no_grad():
            p = torch.sigmoid(twin.D(twin.G(twin.noise(64))))
        assert got == pytest.approx(float(f(p).mean()), rel=1e-5)
        assert (loss == "minimax") == (got < 0)


def test_gradient_penalty_equals_independent_computation():
    g = torch.Generator().manual_seed(0)
    # a linear critic f(x) = w.x + b has gradient w everywhere: the penalty is (|w| - 1)^2
    lin = nn.Sequential(nn.Flatten(), nn.Linear(12, 1))
    real, fake = torch.randn(8, 3, 2, 2, generator=g), torch.randn(8, 3, 2, 2, generator=g)
    eps = torch.rand(8, 1, 1, 1, generator=g)
    gp = gradient_penalty(lambda x: lin(x).squeeze(1), real, fake, eps)
    assert gp.item() == pytest.approx(((lin[1].weight.norm() - 1) ** 2).item(), rel=1e-6)
    # a non-linear critic: per-example gradients, one autograd call per example
    crit = MLPDiscriminator((1, 4, 4), width=0.02, dropout=0.0).double()
    real, fake = torch.randn(6, 1, 4, 4, dtype=torch.float64), torch.randn(6, 1, 4, 4, dtype=torch.float64)
    eps = torch.rand(6, 1, 1, 1, dtype=torch.float64)
    gp = gradient_penalty(crit, real, fake, eps)
    norms = []
    for i in range(6):
        x = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (gr,) = torch.autograd.grad(crit(x).sum(), x)
        norms.append(gr.norm())
    assert gp.item() == pytest.approx(float(((torch.stack(norms) - 1) ** 2).mean()), rel=1e-10)
    # and the penalty is differentiable in the critic's weights (double backprop): check by finite differences
    w = crit.net[0].weight
    (grad_w,) = torch.autograd.grad(gradient_penalty(crit, real, fake, eps), w)
    h = 1e-6
    with torch.no_grad():
        w[0, 0] += h
    up = gradient_penalty(crit, real, fake, eps).item()
    with torch.no_grad():
        w[0, 0] -= 2 * h
    down = gradient_penalty(crit, real, fake, eps).item()
    assert grad_w[0, 0].item() == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-8)


def test_wgan_gp_step_reports_penalty():
    tr = _trainer("wgan-gp", d_steps=2)
    tr.iteration()
    m = tr.pop_metrics()
    assert {"gp", "w_estimate", "d_loss", "g_loss"} <= set(m) and all(np.isfinite(v) for v in m.values())
    assert tr.d_updates == 2 and tr.iters == 1


def test_generate_leaves_batchnorm_statistics_alone():
    tr = _trainer(arch="dcgan")
    bn = [m for m in tr.G.modules() if isinstance(m, nn.BatchNorm2d)][0]
    before = bn.running_mean.clone(), bn.num_batches_tracked.clone()
    a = tr.samples(8, random_state=2)
    b = tr.samples(8, random_state=2)
    assert torch.equal(a, b) and a.shape == (8, 1, 32, 32) and a.abs().max() <= 1
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.num_batches_tracked, before[1])
    assert tr.G.training


# ----------------------------------------------------------------------------- the loop, snapshots, resumption

def test_training_iterator_records_grids_and_losses():
    data = _tiny_data()
    run = gc.GANRun("mnist", -1, 256, gc.GANConfig(arch="mlp", width=0.25, batch_size=32, n_iters=12, log_every=4,
                                                   grid_every=6, n_grid=9, seed=1, noise="uniform"))
    recs = list(gt.train(run, data, device="cpu"))
    assert [r.step for r in recs] == [4, 8, 12] and recs[-1].done
    full = recs[-1].extra["snapshot"]()
    assert [g["step"] for g in full["grids"]] == [0, 6, 12] and full["grids"][0]["images"].dtype == torch.uint8
    assert {"d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake"} <= set(full["history"][0])
    assert torch.equal(recs[-1].extra["images"], full["grids"][-1]["images"])


def test_schedule_follows_the_length_and_the_same_run_continues_from_a_shorter_one():
    auto = gc.GANConfig(n_iters=400)
    s = gc.schedule(auto)
    assert (s.log_every, s.grid_every, s.quality_every) == (10, 25, 50)
    assert [i for i in range(401) if s.grid_at(i)] == list(range(0, 401, 25))
    assert gc.schedule(replace(auto, log_every=3)).log_every == 3
    long = gc.schedule(replace(auto, n_iters=10_000))  # log-spaced grids and quality rows: a few dozen, not hundreds
    grids = [i for i in range(10_001) if long.grid_at(i)]
    assert grids[:8] == [0, 1, 2, 5, 10, 20, 50, 100] and grids[-3:] == [8000, 9000, 10_000] and len(grids) <= 25
    quality = [i for i in range(10_001) if long.quality_at(i)]
    assert quality[:4] == [0, 10, 20, 50] and quality[-1] == 10_000 and len(quality) <= 25
    steps = gt.GANSteps(gc.GANRun(gan=replace(auto, n_iters=1000)), _tiny_data())
    shorter = [c.gan.n_iters for c in steps.continues()]
    assert shorter == [500, 400, 300, 200, 100, 50, 20]
    assert all(replace(c, gan=replace(c.gan, n_iters=1000)) == steps.config for c in steps.continues())


def test_trainer_from_result_does_not_touch_the_result():
    data = _tiny_data()
    run = gc.GANRun("mnist", -1, 256, gc.GANConfig(arch="dcgan", width=8, batch_size=16, n_iters=2, log_every=1,
                                                   grid_every=1, n_grid=4))
    res = list(gt.train(run, data, device="cpu"))[-1].extra["snapshot"]()
    kept = {k: v.clone() for k, v in res["nets"]["G"].items()}
    kept_adam = {k: v.clone() for k, v in res["opts"]["G"]["state"][0].items()}  # Adam's moments of G's first layer
    tr = gt.trainer_from(res, data, device="cpu")
    for _ in range(3):
        tr.iteration()
    assert tr.iters == 5
    assert all(torch.equal(kept[k], res["nets"]["G"][k]) for k in kept)
    assert all(torch.equal(kept_adam[k], res["opts"]["G"]["state"][0][k]) for k in kept_adam)
    assert gi.grid_at(res, 1).shape == (4, 1, 32, 32)


def test_prepare_and_to_native_round_trip():
    data = _tiny_data(64)
    for size in (32, 64):
        run = gc.GANRun("mnist", -1, 64, gc.GANConfig(arch="dcgan", image_size=size))
        X = gi.prepare(run, data)
        assert X.shape == (64, 1, size, size) and X.min() >= -1 and X.max() <= 1
        back = gi.to_native(X, run, data.shape)
        assert np.abs(back - data.X_train[:64]).max() < (1e-6 if size == 32 else 0.35)
    one = gi.prepare(gc.GANRun("mnist", 2, 1000, gc.GANConfig(arch="mlp")), data)
    assert len(one) == int((data.y_train == 2).sum())
    X0 = data.X_train.copy()
    gi.prepare(gc.GANRun("mnist", -1, 64, gc.GANConfig()), data)
    assert np.array_equal(X0, data.X_train)


# ----------------------------------------------------------------------------- DiffAugment

def test_diffaugment_properties():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 32, 32, generator=g) * 2 - 1
    x0 = x.clone()
    assert torch.equal(diffaug.diff_augment(x, ""), x)
    y1 = diffaug.diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(5))
    y2 = diffaug.diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(5))
    assert torch.equal(y1, y2) and y1.shape == x.shape and torch.equal(x, x0)
    # translation: every output row is an input row shifted, zero where shifted in
    t = diffaug.translation(x, torch.Generator().manual_seed(1))
    for i in range(4):
        found = False
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                ref = torch.zeros_like(x[i])
                ys, xs = slice(max(0, dy), 32 + min(0, dy)), slice(max(0, dx), 32 + min(0, dx))
                ys0, xs0 = slice(max(0, -dy), 32 + min(0, -dy)), slice(max(0, -dx), 32 + min(0, -dx))
                ref[:, ys, xs] = x[i][:, ys0, xs0]
                found |= torch.equal(ref, t[i])
        assert found
    # cutout: a square of at most half the side is zeroed, the rest untouched
    c = diffaug.cutout(x + 5, torch.Generator().manual_seed(2))  # +5 so no pixel is zero by chance
    zero = (c == 0).all(1)
    assert ((c == 0) | (c == x + 5)).all()
    assert 0 < zero.sum(dim=(1, 2)).max() <= 16 * 16
    # colour: differentiable, gradients flow to the input
    xr = x.clone().requires_grad_(True)
    diffaug.diff_augment(xr, "color,translation,cutout", g).sum().backward()
    assert xr.grad is not None and xr.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        diffaug.diff_augment(x, "rotation")


def test_training_with_diffaugment_runs():
    tr = _trainer(arch="dcgan", diffaug="color,translation,cutout")
    tr.iteration()
    assert all(np.isfinite(v) for v in tr.pop_metrics().values())


# ----------------------------------------------------------------------------- failure flags

def _rows(n, **vals):
    return [{"step": i, "d_loss": 1.0, **{k: (v[i % len(v)] if isinstance(v, list) else v) for k, v in vals.items()}}
            for i in range(n)]


def test_failure_flags_in_plain_words():
    ok = _rows(10, acc_real=0.7, acc_fake=0.7, d_real=0.6, d_fake=0.4)
    assert diagnosis.diagnose(ok, [{"diversity": 0.9, "classes_covered": 10}]) == []
    strong = _rows(10, acc_real=0.99, acc_fake=0.99, d_real=0.98, d_fake=0.01)
    names = [n for n, _ in diagnosis.diagnose(strong, loss="minimax")]
    assert "d_overpowers" in names
    assert "overpowering" in dict(diagnosis.diagnose(strong))["d_overpowers"]
    osc = _rows(10, acc_real=0.7, acc_fake=0.7, d_real=0.6, d_fake=[0.05, 0.7])
    assert "oscillation" in [n for n, _ in diagnosis.diagnose(osc)]
    assert "mode_collapse" in [n for n, _ in diagnosis.diagnose(ok, [{"diversity": 0.3, "classes_covered": 10}])]
    assert "mode_collapse" in [n for n, _ in diagnosis.diagnose(ok, [{"diversity": 0.9, "classes_covered": 3}])]
    assert diagnosis.diagnose(ok, [{"diversity": 0.9, "classes_covered": 1}], one_class=True) == []
    early = diagnosis.diagnose(ok, [{"diversity": 0.1, "classes_covered": 1, "fid_scaled": 0.9}])
    assert [n for n, _ in early] == ["early"] and "Train longer" in early[0][1]
    assert [n for n, _ in diagnosis.diagnose(_rows(5, acc_real=float("nan")))] == ["diverged"]
    wosc = _rows(10, w_estimate=[0.1, 2.0])
    assert [n for n, _ in diagnosis.diagnose(wosc, loss="wgan")] == ["oscillation"]


def test_rgb_one_class_run_with_live_quality():
    """The CIFAR-10 path: 3x32x32 images, one class, quality measured during training against that class."""
    from core.quality import ClassifierConfig, quality_model

    data = _tiny_data(256, shape=(3, 32, 32))
    qm = quality_model(data, ClassifierConfig(epochs=1), cache=DiskCache())
    run = gc.GANRun("cifar10", 2, 256, gc.GANConfig(arch="dcgan", width=8, batch_size=16, n_iters=4, log_every=2,
                                                    grid_every=2, quality_every=2, n_grid=4))
    recs = [(r, r.extra["snapshot"]()) for r in gt.train(run, data, quality=qm, device="cpu")]
    res = recs[-1][1]
    assert [q["step"] for q in res["quality"]] == [0, 2, 4]
    assert all(np.isfinite(q["fid"]) and len(q["class_hist"]) == 4 for q in res["quality"])
    assert "fid" in recs[-1][0].metrics and res["grids"][-1]["images"].shape == (4, 3, 32, 32)
    assert res["quality"][-1]["fid_floor"] == pytest.approx(qm.reference(2)["floor"])


def test_digits_8x8_are_upsampled_for_dcgan_and_back():
    ramp = (np.add.outer(np.arange(8), np.arange(8)) / 14.0).astype(np.float32).reshape(1, 64)  # smooth images
    scale = np.linspace(0.2, 1.0, 32, dtype=np.float32)[:, None]
    data = ImageData(
        "digits", ramp * scale, np.zeros(32, np.int64),
        np.zeros((2, 64), np.float32), np.zeros(2, np.int64), (1, 8, 8), ["0"])
    run = gc.GANRun("digits", -1, 32, gc.GANConfig(arch="dcgan"))
    X = gi.prepare(run, data)
    assert X.shape == (32, 1, 32, 32)
    back = gi.to_native(X, run, data.shape)
    assert back.shape == (32, 64) and np.abs(back - data.X_train).max() < 0.05
