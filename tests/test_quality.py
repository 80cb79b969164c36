"""Quality metrics of the GAN lab: the Frechet distance against scipy, the ranking real < blurred < noise,
classes covered, diversity, calibration points, caching; the classifier as a run kind (core.quality_run): the same
weights as a plain loop, Stop and resume, the command line and the shipped MNIST classifier."""
from dataclasses import asdict, replace

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from core import assets, training
from core import quality as Q
from core import quality_run as R
from core.cache import DiskCache, make_key
from core.data import ImageData

FAST = Q.ClassifierConfig(epochs=3, batch_size=32)
pytestmark = pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # sqrtm of singular ReLU covariances


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


def _fd_to_halves_scipy(F_x, F_pop, draws):
    """Mean over the draws of scipy's FD of F_x against the statistics of each draw's reference half."""
    return np.mean([_fd_scipy(F_x.mean(0), np.cov(F_x.T), F_pop[h].mean(0), np.cov(F_pop[h].T)) for h, _ in draws])


def _blurred(X):
    return F.avg_pool2d(torch.as_tensor(X).view(-1, 1, 28, 28), 5, 1, 2).reshape(len(X), -1).numpy()


def test_split_half_draws_are_random_disjoint_halves():
    draws = Q.split_half_draws(2000, [0, 1], n_draws=5, n_eval=1000)
    assert len(draws) == 5
    for half, sample in draws:
        assert len(half) == 1000 and len(sample) == 1000 and not set(half) & set(sample)
        assert len(set(half) | set(sample)) == 2000
        # random, not a block of the ordered file: both ends of the file are in the reference half
        assert (half < 200).any() and (half >= 1800).any() and (sample < 200).any() and (sample >= 1800).any()
    assert not np.array_equal(draws[0][0], draws[1][0])  # each draw its own split
    again = Q.split_half_draws(2000, [0, 1], n_draws=5, n_eval=1000)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(draws, again))
    small = Q.split_half_draws(300, 7, n_draws=2, n_eval=1000)
    assert [len(s) for _, s in small] == [150, 150]  # a half smaller than N_EVAL: all of it


def test_floors_and_scores_match_an_independent_scipy_recomputation(qm, small_mnist):
    Ftr, Fte = qm.features(small_mnist.X_train), qm.features(small_mnist.X_test)
    ref = qm.reference()
    seed = 0  # FAST's seed
    for pop, F_pop, tag in (("train", Ftr, 0), ("heldout", Fte, 1)):
        draws = Q.split_half_draws(len(F_pop), [seed, 0, tag])
        floors = [_fd_scipy(F_pop[s].mean(0), np.cov(F_pop[s].T), F_pop[h].mean(0), np.cov(F_pop[h].T))
                  for h, s in draws]
        assert ref[pop]["floor_draws"] == pytest.approx(floors, rel=1e-4)
        assert ref[pop]["floor"] == pytest.approx(np.mean(floors), rel=1e-4)
        assert ref[pop]["floor_sd"] == pytest.approx(np.std(floors, ddof=1), rel=1e-4)
    # a set of 1,000 images is scored against the same halves, averaged over the same draws
    X = _blurred(small_mnist.X_test[::2])
    r = qm.report(X)
    FX = qm.features(X)
    assert r["fid"] == pytest.approx(_fd_to_halves_scipy(FX, Ftr, Q.split_half_draws(len(Ftr), [seed, 0, 0])), rel=1e-4)
    assert r["fid_heldout"] == pytest.approx(_fd_to_halves_scipy(FX, Fte, Q.split_half_draws(len(Fte), [seed, 0, 1])),
                                             rel=1e-4)
    assert r["fid_floor"] == ref["floor"] and r["fid_heldout_floor"] == ref["heldout_floor"]
    assert r["fid_scaled"] == pytest.approx((r["fid"] - ref["floor"]) / (ref["ceiling"] - ref["floor"]))


def test_samplers_of_the_training_digits_score_at_the_floor_and_blur_far_above(qm, small_mnist):
    ref = qm.reference()
    floor, sd = ref["floor"], ref["floor_sd"]
    assert sd > 0.05 * floor  # a spread, not a single number
    rng = np.random.default_rng(2024)  # another seed than the reference's
    subsets = [qm.report(small_mnist.X_train[rng.choice(3000, Q.N_EVAL, replace=False)])["fid"] for _ in range(5)]
    assert abs(np.mean(subsets) - floor) < 2 * sd and min(subsets) > floor - 2.5 * sd
    # a memoriser: each sample a copy of a random training digit (it shares about half its images with each
    # reference half, which lowers FD by about n / (n + |half|) of the floor)
    memo = [qm.report(small_mnist.X_train[rng.integers(0, 3000, Q.N_EVAL)])["fid"] for _ in range(5)]
    assert np.mean(memo) > floor - 2 * sd
    blurred = qm.report(_blurred(small_mnist.X_train[rng.choice(3000, Q.N_EVAL, replace=False)]))
    assert blurred["fid"] > floor + 20 * sd and blurred["fid_spreads"] > 20
    # the held-out digits are another population (other writers): far above the train floor, and random training
    # digits far above the held-out floor
    assert ref["heldout_of_train"] > ref["heldout_floor"] + 2 * ref["heldout_floor_sd"]


def test_quality_ranks_real_below_blurred_below_noise(qm, small_mnist, rng):
    assert qm.test_accuracy > 0.85
    real = small_mnist.X_test[:Q.N_EVAL]
    real0 = real.copy()
    blurred = _blurred(real)
    noise = rng.random(real.shape, dtype=np.float32)
    r_real, r_blur, r_noise = qm.report(real), qm.report(blurred), qm.report(noise)
    assert r_real["fid"] < r_blur["fid"] < r_noise["fid"]
    assert r_real["fid_heldout"] < r_blur["fid_heldout"] < r_noise["fid_heldout"]
    assert np.array_equal(real, real0)  # the input was not modified
    # the ceiling: other noise images score like it (FD of noise is far larger than its sampling spread)
    assert r_noise["fid"] == pytest.approx(r_real["fid_ceiling"], rel=0.1)
    assert 0 < r_blur["fid_scaled"] <= 1.2
    # classes
    assert r_real["classes_covered"] == 10 and r_real["class_hist"].sum() == pytest.approx(1.0)
    expected = np.bincount(qm.predict_proba(real).argmax(1), minlength=10) / len(real)
    assert np.allclose(r_real["class_hist"], expected)


def test_diversity_reference_is_random_held_out_digits(qm, small_mnist):
    ref = qm.reference()
    idx = ref["diversity_index"]
    assert len(idx) == Q.N_DIVERSITY and len(set(idx.tolist())) == Q.N_DIVERSITY
    assert idx.min() < 200 and idx.max() >= 1800  # spread over the ordered file, not its first block
    Fd = qm.features(small_mnist.X_test[idx]).astype(np.float64)
    brute = np.mean([np.linalg.norm(Fd[i] - Fd[j]) for i in range(0, 400, 3) for j in range(400) if i != j])
    assert ref["diversity"] == pytest.approx(brute, rel=0.02)  # every third row against all: a sample of the pairs
    assert qm.report(small_mnist.X_test[idx])["diversity"] == pytest.approx(1.0, rel=1e-5)
    r3 = qm.reference(3)
    assert np.all(small_mnist.y_test[r3["diversity_index"]] == 3)


def test_mode_collapse_is_measured(qm, small_mnist):
    ones = small_mnist.X_test[small_mnist.y_test == 1][:200]
    r = qm.report(ones)
    assert r["classes_covered"] <= 2 and r["class_hist"][1] > 0.8
    same = np.repeat(small_mnist.X_test[:1], 300, 0)
    r_same = qm.report(same)
    assert r_same["diversity"] == pytest.approx(0, abs=1e-6) and r_same["classes_covered"] == 1
    # per-class reference: random training 3s (as many as the floor's sample) score at the class's floor
    ref3 = qm.reference(3)
    tr3 = np.flatnonzero(small_mnist.y_train == 3)
    assert ref3["train"]["n"] == len(tr3) - len(tr3) // 2
    sub = small_mnist.X_train[np.random.default_rng(5).choice(tr3, ref3["train"]["n"], replace=False)]
    assert abs(qm.report(sub, label=3)["fid"] - ref3["floor"]) < 2 * ref3["floor_sd"]
    threes = small_mnist.X_test[small_mnist.y_test == 3]
    assert qm.report(threes, label=3)["fid"] < qm.report(threes)["fid"]  # closer to the 3s than to all digits


def test_quality_model_is_cached_on_disk(small_mnist, tmp_path):
    cache = DiskCache(tmp_path)
    first = Q.quality_model(small_mnist, Q.ClassifierConfig(epochs=1), cache=cache)
    assert len(list(tmp_path.glob("quality-[0-9a-f]*.pt"))) == 1  # the run, under the run kind's key
    assert len(list(tmp_path.glob("quality-references-*.pt"))) == 1  # its references
    run = R.quality_run(small_mnist, Q.ClassifierConfig(epochs=1))
    assert cache.get(make_key("quality", run))["done"] == 1  # where a page and the command line look for it
    second = Q.quality_model(small_mnist, Q.ClassifierConfig(epochs=1), cache=cache)
    assert second is not first
    X = small_mnist.X_test[:50]
    assert np.array_equal(first.features(X), second.features(X))
    assert second.reference()["floor"] == first.reference()["floor"]


def test_a_new_reference_version_recomputes_the_references_and_keeps_the_classifier(small_mnist, tmp_path,
                                                                                   monkeypatch):
    cache = DiskCache(tmp_path)
    first = Q.quality_model(small_mnist, Q.ClassifierConfig(epochs=1), cache=cache)
    monkeypatch.setattr(Q, "REFERENCE_VERSION", Q.REFERENCE_VERSION + 1)
    monkeypatch.setattr(Q, "N_DRAWS", 3)
    second = Q.quality_model(small_mnist, Q.ClassifierConfig(epochs=1), cache=cache)
    assert len(second.reference()["train"]["floor_draws"]) == 3 != len(first.reference()["train"]["floor_draws"])
    X = small_mnist.X_test[:50]
    assert np.array_equal(first.features(X), second.features(X))
    assert len(list(tmp_path.glob("quality-references-*.pt"))) == 2  # one per version
    assert len(list(tmp_path.glob("quality-[0-9a-f]*.pt"))) == 1  # one classifier


# ----------------------------------------------------------------------------- the classifier as a run kind

def _direct_loop(data, cfg):
    """The classifier trained by a plain loop written out here: initial weights under torch.manual_seed(seed), one
    generator seeded by seed for every epoch's order and every augmentation, Adam on cross-entropy."""
    g = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = Q.SmallClassifier(data.shape[0], 10)
    X, y = torch.as_tensor(data.X_train).reshape(-1, *data.shape), torch.as_tensor(data.y_train)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            loss = F.cross_entropy(net(Q.augment(X[idx], g) if cfg.augment else X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


@pytest.fixture(scope="module")
def tiny(mnist):
    return ImageData("mnist", mnist.X_train[:600], mnist.y_train[:600], mnist.X_test[:300], mnist.y_test[:300],
                     mnist.shape, mnist.classes, note="first 600 training digits")


@pytest.mark.parametrize("augment", [False, True])
def test_the_run_kinds_classifier_is_the_direct_loops_bit_for_bit(tiny, augment, one_torch_thread):
    cfg = Q.ClassifierConfig(epochs=2, batch_size=64, seed=5, augment=augment)
    res = training.run_to_end(R.QualitySteps.of(tiny, cfg))
    net = _direct_loop(tiny, cfg)
    for name, w in net.state_dict().items():
        assert torch.equal(w, res["nets"]["classifier"][name]), name
    # every row's held-out accuracy, counted image by image; the last one is the model's
    with torch.no_grad():
        pred = net(torch.as_tensor(tiny.X_test).reshape(-1, 1, 28, 28)).argmax(1).numpy()
    acc = sum(int(p == t) for p, t in zip(pred, tiny.y_test)) / len(pred)
    assert [r["epoch"] for r in res["history"]] == [0, 1, 2]
    assert res["history"][-1]["test_accuracy"] == pytest.approx(acc, abs=1e-7)
    assert Q.classifier(res).test_accuracy == pytest.approx(acc, abs=1e-7)


def test_stop_and_resume_equals_the_uninterrupted_run_and_progress_comes_inside_an_epoch(tiny, one_torch_thread):
    cfg = Q.ClassifierConfig(epochs=3, batch_size=16)  # 38 batches an epoch: progress after 20
    recs, snaps = [], []
    for rec in training.train(R.QualitySteps.of(tiny, cfg)):
        recs.append(rec)
        if "snapshot" in rec.extra:
            snaps.append(rec.extra["snapshot"]())
            if len(snaps) == 2:  # Stop after the first epoch
                break
    inside = [r.step for r in recs if "snapshot" not in r.extra]
    assert inside == [pytest.approx(20 / 38)]
    rest = training.run_to_end(R.QualitySteps.of(tiny, cfg), snaps[-1])
    whole = training.run_to_end(R.QualitySteps.of(tiny, cfg))
    assert rest["done"] == whole["done"] == 3
    for name, w in whole["nets"]["classifier"].items():
        assert torch.equal(w, rest["nets"]["classifier"][name]), name
    assert [r["test_accuracy"] for r in rest["history"]] == [r["test_accuracy"] for r in whole["history"]]


def test_a_run_refuses_other_images_than_its_own(tiny, small_mnist):
    run = R.quality_run(tiny)
    with pytest.raises(ValueError, match="not of these images"):
        R.QualitySteps(run, small_mnist)
    other = replace(tiny, X_train=tiny.X_train.copy())
    other.X_train[0, 300] += 0.5  # one pixel of the first digit (a row the digest reads)
    with pytest.raises(ValueError, match="not of these images"):
        R.QualitySteps(run, other)


def test_the_command_line_writes_a_loadable_asset_under_the_pages_key(tmp_path, monkeypatch, mnist):
    monkeypatch.setenv("GME_CACHE_DIR", str(tmp_path / "cache"))
    snap = Q.main(["--dataset", "mnist", "--n-train", "500", "--epochs", "1", "--batch-size", "64",
                   "--out", str(tmp_path / "asset")])
    first = ImageData("mnist", mnist.X_train[:500], mnist.y_train[:500], mnist.X_test, mnist.y_test, mnist.shape,
                      mnist.classes)
    cfg = Q.ClassifierConfig(epochs=1, batch_size=64)
    run = R.quality_run(first, cfg)
    assert snap["config"] == asdict(run)
    hit = DiskCache().get(make_key("quality", run))  # the page's key for these images and settings
    assert hit is not None and torch.equal(hit["nets"]["classifier"]["head.weight"],
                                          snap["nets"]["classifier"]["head.weight"])
    shipped = assets.shipped(tmp_path / "asset", run, assets.fingerprint(*R.QualitySteps(run, first).data_arrays()))
    assert shipped is not None and shipped["provenance"]["config"] == asdict(run) and "opts" not in shipped
    assert "--dataset mnist --n-train 500 --epochs 1" in shipped["provenance"]["command"]
    w16 = snap["nets"]["classifier"]["body.8.weight"].half().float()
    assert torch.equal(shipped["nets"]["classifier"]["body.8.weight"], w16)  # float16, exactly
    # the floors of the provenance are the shipped (float16) classifier's references, as a page computes them
    scores = shipped["provenance"]["scores"]
    assert scores["floor"] == pytest.approx(Q.references(Q.classifier(shipped), first, 0)["all"]["floor"],
                                            rel=1e-9)


def test_the_shipped_mnist_classifier_is_the_default_run_on_the_shipped_digits(mnist, tmp_path):
    steps = R.QualitySteps.of(mnist)
    ship = steps.shipped()
    assert ship is not None and str(steps.asset_folder()).endswith("assets/quality/mnist")
    assert ship["provenance"]["command"] == "python -m core.quality --dataset mnist --out assets/quality/mnist"
    qm = Q.quality_model(mnist, cache=DiskCache(tmp_path))  # an empty cache: the shipped run, not trained
    assert not list(tmp_path.glob("quality-[0-9a-f]*.pt"))
    for name, w in ship["nets"]["classifier"].items():
        assert torch.equal(qm.net.state_dict()[name], w)
    acc = float((qm.predict_proba(mnist.X_test).argmax(1) == mnist.y_test).mean())
    assert acc == pytest.approx(ship["provenance"]["scores"]["test_accuracy_float16"], abs=1e-9) and acc > 0.95
    assert qm.reference()["floor"] == pytest.approx(ship["provenance"]["scores"]["floor"], rel=1e-9)


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


def test_copy_ratio_of_a_memoriser_is_zero_and_matches_brute_force(small_mnist, rng):
    from sklearn.neighbors import NearestNeighbors

    from core.gan import latent

    train, held = small_mnist.X_train[:500], small_mnist.X_test
    copies = train[rng.integers(0, 500, 50)]
    assert latent.copy_ratio(copies, train, held, n_held_out=100)["pixels"] == pytest.approx(0, abs=1e-6)
    new = small_mnist.X_train[1000:1060]
    r = latent.copy_ratio(new, train, held, n_held_out=80, seed=3)["pixels"]
    pick = np.sort(np.random.default_rng(3).choice(len(held), 80, replace=False))
    nn = NearestNeighbors(n_neighbors=1).fit(train.astype(np.float64))
    brute = np.median(nn.kneighbors(new.astype(np.float64))[0]) / np.median(nn.kneighbors(held[pick].astype(np.float64))[0])
    assert r == pytest.approx(brute, rel=1e-6)
    assert latent.copy_ratio(held[pick], train, held[pick])["pixels"] == pytest.approx(1.0)
