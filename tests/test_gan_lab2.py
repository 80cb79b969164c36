"""GAN lab II: the latent space, the conditional GAN, CycleGAN, shipped GAN runs and image uploads."""
import io
import os
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.distance import cdist

from core import assets, training
from core.data import ImageData
from core.gan import conditional, cycle, domains, judges, latent
from core.gan import config as gc
from core.gan import train as gt
from core.quality import N_EVAL
from core.uploads import ImageError, load_image_zip

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(n=128, shape=(1, 28, 28), seed=0) -> ImageData:
    g = np.random.default_rng(seed)
    X = g.random((n, int(np.prod(shape))), dtype=np.float32)
    y = np.arange(n) % 10
    return ImageData("mnist", X, y, X[:40].copy(), y[:40].copy(), shape, [str(i) for i in range(10)])


# ----------------------------------------------------------------------------- the latent space

def test_slerp_endpoints_norms_and_the_parallel_case():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    p = latent.slerp(z0, z1, t)
    torch.testing.assert_close(p[0], z0)
    torch.testing.assert_close(p[-1], z1)
    # the norm along the path, from the formula: |a z0 + b z1|^2 = a^2|z0|^2 + b^2|z1|^2 + 2ab <z0, z1>
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    a, b = torch.sin((1 - t) * omega) / torch.sin(omega), torch.sin(t * omega) / torch.sin(omega)
    want = (a ** 2 * z0.dot(z0) + b ** 2 * z1.dot(z1) + 2 * a * b * z0.dot(z1)).sqrt()
    torch.testing.assert_close(p.norm(dim=1), want)
    # equal norms stay equal all along the great circle; the linear path's middle is shorter
    z1n = z1 / z1.norm() * z0.norm()
    torch.testing.assert_close(latent.slerp(z0, z1n, t).norm(dim=1), z0.norm().expand(11))
    assert latent.lerp(z0, z1n, torch.tensor([0.5], dtype=torch.float64)).norm() < 0.8 * z0.norm()
    # parallel (and anti-parallel) vectors: spherical = linear
    for other in (2.5 * z0, -z0):
        torch.testing.assert_close(latent.slerp(z0, other, t), latent.lerp(z0, other, t))
    assert latent.path(z0, z1, 7, "lerp").shape == (7, 50)
    with pytest.raises(ValueError):
        latent.path(z0, z1, 7, "cubic")


def test_nearest_is_the_brute_force_nearest_and_copies_are_found(rng):
    R, Q = rng.random((300, 20)), rng.random((57, 20))
    idx, dist = latent.nearest(Q, R, chunk=16)
    D = cdist(Q, R)
    np.testing.assert_array_equal(idx, D.argmin(1))
    np.testing.assert_allclose(dist, D.min(1), rtol=1e-12, atol=1e-12)
    train = rng.random((100, 16)).astype(np.float32)
    samples = np.concatenate([train[[7, 42]], rng.random((2, 16), dtype=np.float32)])
    check = latent.copy_check(samples, train, rng.random((10, 16)), embed=lambda X: X[:, :4])
    assert list(check["pixels"]["index"][:2]) == [7, 42] and np.allclose(check["pixels"]["distance"][:2], 0)
    assert check["features"]["distance"][:2].max() < 1e-9 and len(check["pixels"]["held_out_distance"]) == 10


def test_render_does_not_depend_on_the_other_images_shown_with_it():
    data = _tiny()
    run = gc.GANRun("mnist", -1, 128, gc.GANConfig(arch="mlp", width=0.25, batch_size=32, n_iters=4, log_every=2,
                                                   grid_every=2, noise="uniform", channels_last=False))
    res = training.run_to_end(gt.GANSteps(run, data, device="cpu"))
    smp = latent.sampler_for(res)
    z = smp.noise(5, seed=3)
    alone, together = smp.render(z[:1]), smp.render(z)
    assert alone.shape == (1, 1, 28, 28) and float((alone[0] - together[0]).abs().max()) < 0.05
    assert torch.equal(smp.render(z), together)  # deterministic


# ----------------------------------------------------------------------------- the conditional GAN

def test_conditional_gan_uses_the_label_in_both_networks():
    torch.manual_seed(0)
    G = conditional.ConditionalGenerator(16, 10, 1, 32, 8)
    D = conditional.ProjectionDiscriminator(10, 1, 32, 8)
    z = torch.randn(4, 16)
    a, b = conditional.render(G, z, torch.zeros(4, dtype=torch.long)), conditional.render(G, z, torch.ones(4, dtype=torch.long))
    assert (a - b).abs().max() > 1e-3  # the same noise, another label: another image
    x = torch.randn(4, 1, 32, 32)
    out = D(x, torch.tensor([0, 1, 2, 3]))
    out.sum().backward()
    assert D.embed.weight.grad is not None and D.embed.weight.grad[:4].abs().sum() > 0  # the label path learns
    assert D.embed.weight.grad[4:].abs().sum() == 0  # only the classes that were seen
    # the projection: D(x, y) - D(x, y') = <V_y - V_y', phi(x)>
    with torch.no_grad():
        phi = D.features(x).mean((2, 3))
        d0, d1 = D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.ones(4, dtype=torch.long))
        torch.testing.assert_close(d0 - d1, phi @ (D.embed.weight[0] - D.embed.weight[1]))


def test_conditional_run_rows_are_classes_and_label_accuracy_is_scored(tmp_path):
    from core.quality import ClassifierConfig, quality_model
    from core.cache import DiskCache

    data = _tiny(200)
    qm = quality_model(data, ClassifierConfig(epochs=1), cache=DiskCache(tmp_path))
    run = conditional.CGANRun("mnist", 200, conditional.CGANConfig(width=8, batch_size=16, n_iters=4, log_every=2,
                                                                   grid_every=2, quality_every=2))
    reading = np.random.default_rng(3).integers(0, 10, N_EVAL)  # what the classifier "reads" in the i-th sample
    res = training.run_to_end(conditional.CGANSteps(run, data, ReadsInOrder(qm, reading), device="cpu"))
    assert res["grids"][-1]["images"].shape == (10 * conditional.N_PER_CLASS, 1, 32, 32)
    rows = [r for r in res["history"] if "label_accuracy" in r]
    # the samples are asked for classes 0, 1, ..., 9, 0, 1, ... in turn: count, sample by sample, the ones read so
    hits = sum(1 for i in range(N_EVAL) if reading[i] == i % 10)
    assert [r["step"] for r in rows] == [2, 4]
    assert all(r["label_accuracy"] == pytest.approx(hits / N_EVAL) for r in rows)
    per = [sum(reading[i] == k for i in range(k, N_EVAL, 10)) / len(range(k, N_EVAL, 10)) for k in range(10)]
    np.testing.assert_allclose(res["quality"][-1]["per_class"], per)


class ReadsInOrder:
    """A classifier whose answers we choose: the i-th image of each call is read as class reading[i] (the real
    model's report, for the Frechet rows)."""

    def __init__(self, qm, reading):
        self.qm, self.reading, self.n_classes = qm, np.asarray(reading), qm.n_classes

    def report(self, X, label=None):
        return self.qm.report(X, label)

    def predict_proba(self, X):
        P = np.full((len(X), self.n_classes), 0.01)
        P[np.arange(len(X)), self.reading[: len(X)]] = 0.9
        return P


def test_label_accuracy_and_confusion_against_a_count_by_hand(tmp_path):
    from core.quality import ClassifierConfig, quality_model
    from core.cache import DiskCache

    g = np.random.default_rng(1)
    labels, reading = g.integers(0, 10, 300), g.integers(0, 10, 300)
    reading[:150] = labels[:150]  # half read right, the rest at random
    stub = ReadsInOrder(type("K", (), {"n_classes": 10})(), reading)
    acc = conditional.label_accuracy(np.zeros((300, 4)), labels, stub)
    conf = np.zeros((10, 10), int)
    for asked, read in zip(labels, reading):
        conf[asked, read] += 1
    assert acc["label_accuracy"] == pytest.approx(sum(a == r for a, r in zip(labels, reading)) / 300)
    np.testing.assert_array_equal(acc["confusion"], conf)
    np.testing.assert_allclose(acc["per_class"], [conf[k, k] / conf[k].sum() for k in range(10)])
    # real images with the real classifier: a perfect generator scores the accuracy measured when it was trained
    data = _tiny(200)
    qm = quality_model(data, ClassifierConfig(epochs=1), cache=DiskCache(tmp_path))
    assert conditional.label_accuracy(data.X_test, data.y_test, qm)["label_accuracy"] == pytest.approx(
        qm.test_accuracy, abs=1e-6)


# ----------------------------------------------------------------------------- CycleGAN

def test_cycle_loss_formula_and_no_gradient_at_weight_zero():
    torch.manual_seed(1)
    G, Fn = cycle.Translator(4, 1), cycle.Translator(4, 1)
    D_A, D_B = cycle.PatchCritic(4), cycle.PatchCritic(4)
    a, b = torch.rand(3, 1, 28, 28) * 2 - 1, torch.rand(3, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        want = (Fn(G(a)) - a).abs().mean() + (G(Fn(b)) - b).abs().mean()
        got = cycle.cycle_loss(a, Fn(G(a)), b, G(Fn(b)))
    torch.testing.assert_close(got, want)

    def grads(lam):
        for m in (G, Fn):
            m.zero_grad()
        loss, _ = cycle.generator_loss(G, Fn, D_A, D_B, a, b, lam, 0.0)
        loss.backward()
        return [p.grad.clone() for p in list(G.parameters()) + list(Fn.parameters())]

    adversarial = grads(0.0)
    for m in (G, Fn):
        m.zero_grad()
    adv = cycle.lsgan_g(D_B(G(a))) + cycle.lsgan_g(D_A(Fn(b)))  # the adversarial terms alone
    adv.backward()
    for g0, p in zip(adversarial, list(G.parameters()) + list(Fn.parameters())):
        torch.testing.assert_close(g0, p.grad)  # weight 0: the cycle term adds nothing
    with_cycle = grads(10.0)
    assert any((x - y).abs().max() > 1e-6 for x, y in zip(adversarial, with_cycle))

    # the noise before the way back: the same draws from the same generator, added to G(a) and then to F(b)
    with torch.no_grad():
        _, parts = cycle.generator_loss(G, Fn, D_A, D_B, a, b, 10.0, 0.0, noise=0.3, gen=torch.Generator().manual_seed(4))
        g = torch.Generator().manual_seed(4)
        eb, ea = 0.3 * torch.randn(a.shape, generator=g), 0.3 * torch.randn(b.shape, generator=g)
        noisy = (Fn(G(a) + eb) - a).abs().mean() + (G(Fn(b) + ea) - b).abs().mean()
        _, plain = cycle.generator_loss(G, Fn, D_A, D_B, a, b, 10.0, 0.0)
    assert parts["cycle"] == pytest.approx(float(noisy), rel=1e-5)
    assert plain["cycle"] == pytest.approx(float(want), rel=1e-5) and abs(parts["cycle"] - plain["cycle"]) > 1e-4


def test_the_two_domains_never_share_an_image(mnist):
    b = domains.upscaled_digits()
    assert b.shape == (1, 28, 28) and b.X_train.shape[1] == 784
    assert b.X_train.reshape(-1, 28, 28)[:, :4].max() == 0  # centred in MNIST's frame: 4 empty rows on top
    A = np.concatenate([mnist.X_train, mnist.X_test])
    B = np.concatenate([b.X_train, b.X_test])
    _, dist = latent.nearest(B, A)
    assert dist.min() > 1.0  # no digit of B is (nearly) a digit of A


def test_cycle_run_translates_both_ways_and_measures_preservation(mnist, tmp_path):
    from core.quality import ClassifierConfig, quality_model
    from core.cache import DiskCache

    b = domains.upscaled_digits()
    small_a = ImageData("mnist", mnist.X_train[:300], mnist.y_train[:300], mnist.X_test[:50], mnist.y_test[:50],
                        (1, 28, 28), mnist.classes)
    qa = quality_model(small_a, ClassifierConfig(epochs=1), cache=DiskCache(tmp_path))
    qb = quality_model(b, ClassifierConfig(epochs=1), cache=DiskCache(tmp_path))
    run = cycle.CycleRun("mnist", 300, cycle.CycleConfig(width=4, n_res=1, n_iters=4, log_every=2, grid_every=2,
                                                         quality_every=2, n_eval=50))
    qd = quality_model(domains.domain_digits(small_a, b), ClassifierConfig(epochs=1), cache=DiskCache(tmp_path))
    jd = judges.Judges(qa, qb, qd)
    res = training.run_to_end(cycle.CycleSteps(run, small_a, b, classifiers=jd, device="cpu"))
    assert res["grids"][-1]["images"].shape == (4, cycle.CycleSteps.N_SHOW, 784)
    q = res["quality"][-1]
    assert q["step"] == 4 and res["history"][-1]["joint_ab"] == q["joint_ab"]
    G, Fn = cycle.translators(res)  # the averaged translators of the last step
    # one digit at a time: translate it, ask each judge, count (the first 50 held-out digits of each domain)
    want = {}
    for way, net, X, y, reader, target in (("ab", G, small_a.X_test[:50], small_a.y_test[:50], qb, 1),
                                           ("ba", Fn, b.X_test[:50], b.y_test[:50], qa, 0)):
        keeps = looks = both = 0
        for x, label in zip(X, y):
            with torch.no_grad():
                t = ((net(torch.as_tensor(x).reshape(1, 1, 28, 28) * 2 - 1) + 1) / 2).clamp(0, 1).reshape(1, 784)
            k = int(np.argmax(reader.predict_proba(t.numpy())[0])) == label
            lk = int(np.argmax(qd.predict_proba(t.numpy())[0])) == target
            keeps, looks, both = keeps + k, looks + lk, both + (k and lk)
        want.update({f"preservation_{way}": keeps / 50, f"looks_{'b' if way == 'ab' else 'a'}": looks / 50,
                     f"joint_{way}": both / 50})
    for k, v in want.items():
        assert q[k] == pytest.approx(v, abs=1e-9), k
    assert q["joint"] == pytest.approx((want["joint_ab"] + want["joint_ba"]) / 2)
    # a finished run's translators scored afresh (what the page does for a shipped run) give its last row
    again = cycle.final_scores(res, jd, small_a, b)
    assert again == pytest.approx({k: v for k, v in q.items() if k != "step"}, abs=1e-9)


class Table:
    """A judge whose answers we choose: an image's first pixel, times 1000, indexes `answers` (its class)."""

    def __init__(self, answers, n_classes):
        self.answers, self.n_classes = np.asarray(answers), n_classes

    def predict_proba(self, X):
        idx = np.rint(np.asarray(X)[:, 0] * 1000).astype(int)
        P = np.full((len(X), self.n_classes), 0.01)
        P[np.arange(len(X)), self.answers[idx]] = 0.9
        return P


def test_the_joint_rate_counts_each_digit_once_and_the_identity_map_gets_the_same_measure():
    g = np.random.default_rng(0)
    n_a, n_b = 40, 30

    def domain(name, n, offset):  # image i of a domain: first pixel (offset + i) / 1000, the rest blank
        X = np.zeros((n, 784), np.float32)
        X[:, 0] = (offset + np.arange(n)) / 1000
        y = g.integers(0, 10, n)
        return ImageData(name, X, y, X, y, (1, 28, 28), [str(i) for i in range(10)])

    A, B = domain("a", n_a, 0), domain("b", n_b, 100)
    shift = lambda X: X + np.where(np.arange(784) == 0, 0.5, 0).astype(np.float32)  # noqa: E731  code c -> c + 500
    # the judges' answers for every code: originals (0..129) and translations (500..629)
    reader = g.integers(0, 10, 700)
    reader[500:540] = np.where(g.random(40) < 0.7, A.y_test, reader[500:540])  # about 70 % of G(a) keep their class
    reader[600:630] = np.where(g.random(30) < 0.6, B.y_test, reader[600:630])
    reader[:40], reader[100:130] = A.y_test, B.y_test  # untranslated digits are all read right
    dom = np.zeros(700, int)
    dom[100:130] = 1  # originals: their own domain
    dom[500:540] = g.random(40) < 0.6  # G(a) taken for B about 60 % of the time, independently of the class
    dom[600:630] = g.random(30) < 0.2  # F(b) taken for B (so not for A) about 20 % of the time
    jd = judges.Judges(Table(reader, 10), Table(reader, 10), Table(dom, 2))

    got = judges.score_translations(shift, shift, jd, A, B, n_eval=100)  # 100: all of each domain
    want = {}
    for way, D, target in (("ab", A, 1), ("ba", B, 0)):
        keeps = looks = both = 0
        for x, label in zip(D.X_test, D.y_test):
            code = int(round(float(x[0]) * 1000)) + 500
            keeps += reader[code] == label
            looks += dom[code] == target
            both += reader[code] == label and dom[code] == target
        n = len(D.X_test)
        want.update({f"preservation_{way}": keeps / n, f"looks_{'b' if way == 'ab' else 'a'}": looks / n,
                     f"joint_{way}": both / n})
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k
    for way, looks in (("ab", "looks_b"), ("ba", "looks_a")):  # the two separate rates do not make the joint one
        p, q, j = got[f"preservation_{way}"], got[looks], got[f"joint_{way}"]
        assert max(0.0, p + q - 1) <= j < min(p, q)
    assert got["joint"] == pytest.approx((want["joint_ab"] + want["joint_ba"]) / 2)

    # the identity map, the same function on the same digits: every class kept, no digit in the other domain
    ident = judges.score_translations(judges.identity_map, judges.identity_map, jd, A, B, n_eval=100)
    assert ident["preservation_ab"] == 1.0 and ident["preservation_ba"] == 1.0
    assert ident["joint_ab"] == 0.0 and ident["joint_ba"] == 0.0 and ident["looks_b"] == 0.0
    # the first n_eval digits only; no domain judge: the preservation alone
    few = judges.score_translations(shift, shift, judges.Judges(jd.a, jd.b), A, B, n_eval=10)
    assert "joint_ab" not in few and "looks_b" not in few
    assert few["preservation_ab"] == pytest.approx(np.mean(reader[500:510] == A.y_test[:10]))


def test_the_shipped_judges_are_quality_runs_made_from_these_digits(mnist):
    from core.quality_run import QualitySteps

    b = domains.upscaled_digits()
    sets = judges.judge_sets(mnist, b)
    jd = judges.classifiers(mnist, b)  # an empty cache: the shipped runs
    assert jd.a is jd.b
    for role, qm in (("reader", jd.a), ("domain", jd.domain)):
        images, cfg = sets[role]
        steps = QualitySteps.of(images, cfg)
        ship = steps.shipped()
        folder = "assets/quality/mnist-digits28" + ("-domain" if role == "domain" else "")
        assert ship is not None and str(steps.asset_folder()).endswith(folder), role
        assert ship["provenance"]["command"] == f"python -m core.gan.judges --role {role} --out {folder}"
        for name, w in ship["nets"]["classifier"].items():
            assert torch.equal(qm.net.state_dict()[name], w), (role, name)
        # they read the held-out digits as well as when they were trained (float16 weights since: within 0.5 %)
        assert float((qm.predict_proba(images.X_test).argmax(1) == images.y_test).mean()) == pytest.approx(
            qm.test_accuracy, abs=0.005)
        other = replace(images, X_train=images.X_train.copy())
        other.X_train[0, 300] += 0.5  # one pixel of one digit
        assert QualitySteps.of(other, cfg).shipped() is None  # not these digits: trained instead


def test_cycle_translators_shown_are_the_moving_average_of_the_trained_ones(mnist):
    b = domains.upscaled_digits()
    small_a = ImageData("mnist", mnist.X_train[:64], mnist.y_train[:64], mnist.X_test[:8], mnist.y_test[:8],
                        (1, 28, 28), mnist.classes)
    for average in (0.5, 0.0):
        run = cycle.CycleRun("mnist", 64, cycle.CycleConfig(width=2, n_res=1, n_iters=6, batch_size=4, average=average))
        steps = cycle.CycleSteps(run, small_a, b, device="cpu")
        steps.start()
        expect = [p.detach().clone() for p in steps.nets["G"].parameters()]  # the average starts at the initial weights
        for t in range(1, 7):
            steps.advance(t - 1)
            w = 1.0 if average == 0 else min(1.0, 1.0 / (average * t))
            expect = [e * (1 - w) + w * p.detach() for e, p in zip(expect, steps.nets["G"].parameters())]
        got = list(steps.avg["G"].parameters())
        for e, g in zip(expect, got):
            torch.testing.assert_close(g, e)
        raw = list(steps.nets["G"].parameters())
        differ = any(not torch.equal(g, r) for g, r in zip(got, raw))
        assert differ == (average > 0)  # 0: the raw weights themselves
        x = steps.data_a.X_test[:3]
        np.testing.assert_allclose(steps.translate(x, "ab"), cycle.translate_with(steps.avg["G"])(x), atol=1e-6)
        shipped = steps.shippable(steps.state())
        G, _ = cycle.translators({"config": {"cycle": vars(run.cycle)}, **shipped})
        for g, a in zip(G.parameters(), steps.avg["G"].parameters()):
            assert torch.equal(g, a)  # what ships is the average


# ----------------------------------------------------------------------------- shipped GAN runs

def test_a_shipped_gan_run_is_used_only_for_its_exact_config_and_data(tmp_path):
    data = _tiny(96)
    run = gc.presets()["mlp"]
    small = replace(run, n_train=96, gan=replace(run.gan, width=0.25, n_iters=4, log_every=2, grid_every=2))
    steps = gt.GANSteps(small, data, device="cpu")
    res = training.run_to_end(steps)
    folder = tmp_path / "gan"
    assets.save(folder / "mlp", steps.shippable(res), {"data_sha256": assets.fingerprint(*steps.data_arrays())})
    ship = assets.load(folder / "mlp")
    assert "opts" not in ship and "rng" not in ship and not gt.can_continue(ship) and gt.can_continue(res)
    assert set(ship["nets"]) == {"G", "D"} and ship["iters"] == 4  # the common snapshot keys
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gt, "ASSET_DIR", folder)
        assert gt.GANSteps(small, data).shipped() is None  # not a page's default config
        mp.setattr(gt, "presets", lambda: {"mlp": small})
        got = gt.GANSteps(small, data).shipped()
        assert got is not None and got["done"] == 4
        torch.testing.assert_close(latent.sampler_for(got).render(torch.zeros(1, 100)),
                                   latent.sampler_for(res).render(torch.zeros(1, 100)), atol=5e-3, rtol=0)
        assert gt.GANSteps(small, _tiny(96, seed=1)).shipped() is None  # other images
        (folder / "mlp" / assets.FILENAME).write_bytes(b"damaged")
        assert gt.GANSteps(small, data).shipped() is None  # a damaged asset counts as absent


def test_every_shipped_gan_run_is_found_by_its_run_kind_with_the_common_keys(mnist):
    """The pages' default runs are declared on their run kinds (Steps.asset_folder): asked with exactly that config on
    MNIST, each kind finds its shipped run, with the common keys, and nothing for another config."""
    kinds = {**{k: gt.GANSteps(r, mnist) for k, r in gc.presets().items()},
             "conditional": conditional.CGANSteps(conditional.CGANRun(), mnist),
             **{k: cycle.CycleSteps(r, mnist) for k, r in cycle.presets().items()}}
    for name, steps in kinds.items():
        assert steps.asset_folder().name == name
        got = steps.shipped()
        assert got is not None and got["kind"] == steps.kind and "nets" in got and "state" not in got, name
        assert got["provenance"]["data_sha256"] == assets.fingerprint(*steps.data_arrays())
    other = replace(gc.presets()["mlp"], gan=replace(gc.presets()["mlp"].gan, seed=1))
    assert gt.GANSteps(other, mnist).asset_folder() is None and gt.GANSteps(other, mnist).shipped() is None


# ----------------------------------------------------------------------------- your own images

def _png(i: int, size=(24, 20)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(i).integers(0, 256, (*size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, raw in members.items():
            z.writestr(name, raw)
    return buf.getvalue()


def test_a_zip_of_images_becomes_a_dataset_and_bad_archives_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written anywhere: watch the working folder
    good = _zip({**{f"photos/{i}.png": _png(i) for i in range(60)}, "notes.txt": b"hello", "photos/bad.png": b"x"})
    s = load_image_zip(good, size=32)
    assert s.images.shape == (60, 3, 32, 32) and s.images.dtype == np.float32
    assert 0 <= s.images.min() and s.images.max() <= 1 and len(s.digest) == 64
    assert len(s.skipped) == 2 and any("notes.txt" in x for x in s.skipped)
    cases = {
        b"not a zip at all": "not a ZIP",
        _zip({"../outside.png": _png(0), **{f"{i}.png": _png(i) for i in range(60)}}): "leaves its folder",
        _zip({"/etc/abs.png": _png(0)}): "leaves its folder",
        _zip({"inner.zip": good}): "nested archives",
        _zip({"bomb.png": b"\0" * (40 * 1024 * 1024)}): "decompression bomb",
        _zip({f"{i}.png": _png(i) for i in range(10)}): "at least 50",
        _zip({f"{i}.txt": b"text" for i in range(80)}): "0 readable images",
    }
    for raw, words in cases.items():
        with pytest.raises(ImageError, match=words) as exc:
            load_image_zip(raw)
        assert "\n" not in str(exc.value)
    assert os.listdir(tmp_path) == []  # nothing was unpacked or written


def test_the_discriminator_also_learns_that_wrong_labels_are_fake():
    data = _tiny(64, shape=(1, 28, 28))
    losses = {}
    for w in (0.0, 0.5):
        run = conditional.CGANRun("mnist", 64, conditional.CGANConfig(width=8, batch_size=16, wrong_label=w))
        tr = conditional.CGANTrainer(run, data, device="cpu")
        tr.d_step()
        losses[w] = tr.pop_metrics()
    assert "acc_wrong" not in losses[0.0] and 0 <= losses[0.5]["acc_wrong"] <= 1
    # the same first batch, draws and weights: the extra term only adds (a BCE is positive)
    assert losses[0.5]["d_loss"] > losses[0.0]["d_loss"]
    assert losses[0.5]["d_real"] == pytest.approx(losses[0.0]["d_real"])


def test_render_as_b_draws_digits_in_domain_bs_frame_and_leaves_the_input_alone(mnist):
    X = mnist.X_test[:20].copy()
    out = domains.render_as_b(X)
    np.testing.assert_array_equal(X, mnist.X_test[:20])
    assert out.shape == (20, 784) and out.min() >= 0 and out.max() <= 1
    img = out.reshape(-1, 28, 28)
    pad = (28 - domains.INNER) // 2
    frame = np.ones((28, 28), bool)
    frame[pad:pad + domains.INNER, pad:pad + domains.INNER] = False
    assert np.all(img[:, frame] == 0)  # nothing outside B's 20x20 box, as in B
    b = domains.upscaled_digits()
    assert np.all(b.X_test.reshape(-1, 28, 28)[:, frame] == 0)
    # an 8x8 block image drawn the B way equals B's own construction of the same 8x8 image
    small = torch.zeros(1, 1, 8, 8)
    small[0, 0, 2:6, 3] = 1.0
    big = torch.nn.functional.interpolate(small, size=(domains.INNER, domains.INNER), mode="nearest")
    x = torch.nn.functional.pad(big, (pad, pad, pad, pad)).reshape(1, -1).numpy()
    want = torch.nn.functional.pad(torch.nn.functional.interpolate(small, size=(domains.INNER, domains.INNER),
                                                                   mode="bilinear", align_corners=False),
                                   (pad, pad, pad, pad)).reshape(1, -1).numpy()
    np.testing.assert_allclose(domains.render_as_b(x), want, atol=1e-6)


def test_the_critic_scores_patches_that_move_with_the_image_and_the_whole_image():
    D = cycle.PatchCritic(4)
    init_gen = torch.Generator().manual_seed(0)
    for name, p in D.named_parameters():  # generic weights; zero biases, so the empty background is 0 like the padding
        p.data = torch.zeros(p.shape) if name.endswith("bias") else torch.randn(p.shape, generator=init_gen) * 0.3
    x = torch.zeros(1, 1, 28, 28)
    x[..., 8:12, 9:12] = 1
    y = torch.roll(x, (4, 4), (2, 3))  # one cell of the 7x7 map further down and right
    s, t = D(x), D(y)
    assert s.shape == (1, 50)
    ps, pt = s[0, :49].view(7, 7), t[0, :49].view(7, 7)
    torch.testing.assert_close(pt[2:6, 2:6], ps[1:5, 1:5], rtol=1e-5, atol=1e-5)  # the patch scores move along
    assert (s[0, 49] - t[0, 49]).abs() > 1e-3  # the whole-image score knows where the ink is


def test_one_reader_judges_both_directions_and_never_sees_a_held_out_digit(mnist):
    b = domains.upscaled_digits()
    d = domains.reader_digits(mnist, b)
    assert len(d.X_train) == len(mnist.X_train) + 3 * len(b.X_train)  # B repeated: each domain weighs about as much
    assert np.array_equal(d.X_train[:len(mnist.X_train)], mnist.X_train)
    assert np.array_equal(d.X_train[-len(b.X_train):], b.X_train) and np.array_equal(d.y_train[-len(b.y_train):], b.y_train)
    assert np.array_equal(d.X_test, np.concatenate([mnist.X_test, b.X_test]))
    dom = domains.domain_digits(mnist, b)  # the same images, labelled by domain
    assert np.array_equal(dom.X_train, d.X_train) and np.array_equal(dom.X_test, d.X_test)
    assert np.array_equal(dom.y_train, np.repeat([0, 1], [len(mnist.X_train), 3 * len(b.X_train)]))
    assert np.array_equal(dom.y_test, np.repeat([0, 1], [len(mnist.X_test), len(b.X_test)]))
    _, dist = latent.nearest(np.concatenate([mnist.X_test[:300], b.X_test]), d.X_train)
    assert dist.min() > 0.5  # the translators' evaluation digits are not in the reader's training set
