"""The run protocol (core.training) and shipped runs (core.assets), for every run kind.

One contract, parametrised over every run kind of the app: stop at a random measurement, store the
snapshot through the disk cache (weights_only), load it, resume; the result equals an uninterrupted run,
the history's x-values increase, the seconds carry over, and nothing is yielded for a finished run.
"""
import tempfile
import zlib
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from core import assets, quality, quality_run, training
from core import data as datasets
from core.boltzmann import algorithms, crbm, crbm_baselines, dbm, rbm_lab
from core.boltzmann.rbm import RBMConfig
from core.cache import DiskCache, make_key
from core.gan import conditional, cycle, domains, judges
from core.gan import config as gc
from core.gan import train as gt
from core.gmmn import run as gmmn_run
from core.inpainting import ebm as ip
from core.mdn import lab as mdn_lab
from core.pixelcnn import run as pixelcnn
from core.autoencoders import dae, sae, stacks, vae
from core.playground import run as playground


_MEMO = {}


def _small(mnist, n) -> datasets.ImageData:
    """The first n MNIST training digits and 50 held-out ones (the same object each time)."""
    key = ("small", n)
    if key not in _MEMO:
        _MEMO[key] = datasets.ImageData("mnist", mnist.X_train[:n], mnist.y_train[:n], mnist.X_test[:50],
                                        mnist.y_test[:50], (1, 28, 28), mnist.classes)
    return _MEMO[key]


def _upscaled() -> datasets.ImageData:
    if "upscaled" not in _MEMO:
        _MEMO["upscaled"] = domains.upscaled_digits()
    return _MEMO["upscaled"]


def _quality(data):
    """A one-epoch quality classifier of `data` with its references (trained once per test session, in memory)."""
    key = ("quality", id(data))
    if key not in _MEMO:
        cache = DiskCache(tempfile.mkdtemp())
        _MEMO[key] = quality.quality_model(data, quality.ClassifierConfig(epochs=1), cache=cache)
    return _MEMO[key]


def _kinds(mnist, digits):
    """(name, make_steps) of every run kind, at settings small enough for a test."""
    return {
        "rbm": lambda: rbm_lab.RBMSteps(rbm_lab.RBMRun("mnist", 600, rbm=RBMConfig(20, 0.05, 20, 4, 3, "pcd", 1,
                                                                                      shuffle=True)), mnist),
        "bm-algorithms": lambda: algorithms.AlgorithmSteps(
            algorithms.BMRun("digits", 500, hidden=8, updates=300, eval_every=50, n_eval=200), digits),
        "dbm": lambda: dbm.DBMSteps(dbm.DBMRun("digits", 400, dbm.DBMConfig(16, 12, 1, 0.05, 2, 0.001, 50, 20, 2, 5),
                                               baseline=False), digits, device="cpu"),
        "gan-mlp": lambda: gt.GANSteps(gc.GANRun("mnist", -1, 256, gc.GANConfig(
            arch="mlp", width=0.25, batch_size=32, n_iters=12, log_every=2, grid_every=3, n_grid=9, seed=1,
            noise="uniform", channels_last=False)), mnist, device="cpu"),
        "gan-dcgan-gp": lambda: gt.GANSteps(gc.GANRun("mnist", 3, 128, gc.wgan_defaults(gc.GANConfig(
            arch="dcgan", width=8, batch_size=16, n_iters=6, log_every=1, grid_every=2, n_grid=4), "wgan-gp")),
            mnist, device="cpu"),
        "inpaint-ebm": lambda: ip.EBMSteps(ip.EBMRun(n_train=192, epochs=3, batch_size=64, n_eval=64, width=8),
                                           mnist, device="cpu"),
        "mdn": lambda: mdn_lab.MDNSteps(mdn_lab.MDNRun(n_train=200, n_test=100, epochs=6, batch_size=50, hidden=8,
                                                       measure_every=2)),
        "crbm": lambda: crbm.CRBMSteps(crbm.CRBMRun("digits", 200, 50, hidden=12, epochs=3, batch_size=50,
                                                    n_chains=20), digits),
        "crbm-baselines": lambda: crbm_baselines.BaselineSteps(crbm_baselines.BaselineRun(
            "digits", 200, 50, rbm_components=8, rbm_n_iter=2), digits),
        "vae": lambda: vae.VAESteps(vae.VAERun("digits", 300, latent=2, hidden=16, k=3, epochs=3, batch_size=50,
                                               warmup=2, n_eval=50), digits, device="cpu"),
        "dae": lambda: dae.DAESteps(dae.DAERun("digits", 300, hidden=16, epochs=3, batch_size=50, n_eval=50), digits,
                                    device="cpu"),
        "dbn": lambda: stacks.DBNSteps(stacks.DBNRun("digits", 300, hidden1=12, hidden2=8, epochs=2, n_eval=50),
                                       digits),
        "cgan": lambda: conditional.CGANSteps(conditional.CGANRun("mnist", 200, conditional.CGANConfig(
            width=8, batch_size=16, n_iters=6, log_every=1, grid_every=2, quality_every=3)), _small(mnist, 200),
            _quality(_small(mnist, 200)), device="cpu"),
        "cyclegan": lambda: cycle.CycleSteps(cycle.CycleRun("mnist", 200, cycle.CycleConfig(
            width=4, n_res=1, n_iters=6, log_every=1, grid_every=2, quality_every=3, n_eval=40)), _small(mnist, 200),
            _upscaled(), lambda: judges.Judges(_quality(_small(mnist, 200)), _quality(_upscaled()),
                                              _quality(domains.domain_digits(_small(mnist, 200), _upscaled()))),
            device="cpu"),
        "sae": lambda: sae.SAESteps(sae.SAERun("digits", 300, hidden1=12, hidden2=6, epochs=2, fine_tune=1,
                                               batch_size=50, n_eval=50), digits, device="cpu"),
        "gan-playground": lambda: playground.PlaygroundSteps(playground.PlaygroundRun(
            objective="wgan-gp", hidden=8, batch_size=32, iterations=6, measure_every=2, n_eval=64)),
        "pixelcnn": lambda: pixelcnn.PixelCNNSteps(pixelcnn.PixelCNNRun("digits", 200, 1, 4, 3, 50, n_eval=40), digits),
        "gmmn": lambda: gmmn_run.GMMNSteps(gmmn_run.GMMNRun("digits", 300, sigmas="1,4", hidden="16", batch_size=40, n_iters=6, log_every=2, n_measure=50), digits),
        "gmmn-ae": lambda: gmmn_run.GMMNSteps(gmmn_run.GMMNRun("digits", 300, space="code", sigmas="1,4", hidden="16", batch_size=40, n_iters=4, code=4, ae_hidden=16, ae_epochs=2, log_every=2, n_measure=50), digits),
        "quality": lambda: quality_run.QualitySteps.of(_small(mnist, 200), quality.ClassifierConfig(
            epochs=3, batch_size=64, augment=True)),
    }


KINDS = ["rbm", "bm-algorithms", "dbm", "gan-mlp", "gan-dcgan-gp", "inpaint-ebm", "mdn", "crbm", "crbm-baselines",
         "vae", "dae", "dbn", "sae", "cgan", "cyclegan", "gan-playground", "gmmn", "gmmn-ae", "quality", "pixelcnn"]


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def _flat(x, prefix=""):
    """{path: tensor or number} of every leaf of a nested snapshot (lists of dicts included)."""
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            out.update(_flat(v, f"{prefix}/{k}"))
        return out
    if isinstance(x, (list, tuple)):
        out = {}
        for i, v in enumerate(x):
            out.update(_flat(v, f"{prefix}[{i}]"))
        return out
    return {prefix: x}


def _run(steps, partial=None, stop_at=None):
    """Snapshots of every measured record (taken as they come), stopping after the stop_at-th one."""
    snaps = []
    for rec in training.train(steps, partial):
        if "snapshot" in rec.extra:
            snaps.append(rec.extra["snapshot"]())
            if stop_at is not None and len(snaps) == stop_at:
                break
    return snaps


def test_every_run_kind_in_core_is_under_the_resume_contract(mnist, digits):
    """A new run kind registers here with one line in `_kinds`; one that exists in core but is missing fails."""
    covered = {make().kind for make in _kinds(mnist, digits).values()}
    assert set(training.run_kinds()) <= covered, sorted(set(training.run_kinds()) - covered)
    assert len(training.run_kinds()) >= 14


@pytest.mark.parametrize("kind", KINDS)
def test_resume_from_a_stored_snapshot_equals_an_uninterrupted_run(kind, mnist, digits, tmp_path, one_torch_thread):
    make = _kinds(mnist, digits)[kind]
    X_before = mnist.X_train[:600].copy(), digits.X_train.copy()
    full = _run(make())
    assert len(full) >= 3
    stop = int(np.random.default_rng(zlib.crc32(kind.encode())).integers(1, len(full) - 1)) + 1  # not the last
    first = _run(make(), stop_at=stop)
    cache = DiskCache(tmp_path)
    cache.put("partial", first[-1])
    partial = cache.get("partial")
    assert partial["done"] == first[-1]["done"] < full[-1]["done"]
    rest = _run(make(), partial)
    resumed = rest[-1]
    # the same result, leaf by leaf (weights, optimiser and generator states, samples), except wall-clock times
    want, got = _flat(full[-1]), _flat(resumed)
    assert want.keys() == got.keys()
    for path, a in want.items():
        b = got[path]
        if "seconds" in path or path.endswith("/elapsed"):
            continue
        if isinstance(a, torch.Tensor):
            assert a.dtype == b.dtype and torch.equal(a, b), path
        elif isinstance(a, float):
            assert a == pytest.approx(b, rel=1e-6, abs=1e-9), path
        else:
            assert a == b, path
    # history: x increases, seconds carry over the stop (they never restart from 0)
    x = resumed["x"]
    xs = [r[x] for r in resumed["history"]]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    secs = [r["seconds"] for r in resumed["history"]]
    assert secs == sorted(secs)
    n_before = len(partial["history"])
    assert resumed["history"][:n_before] == partial["history"]
    assert resumed["seconds"] >= partial["seconds"]
    # the stored partial was not modified by resuming from it, nor were the data
    again = cache.get("partial")
    for path, a in _flat(partial).items():
        b = _flat(again)[path]
        assert (torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b), path
    np.testing.assert_array_equal(X_before[0], mnist.X_train[:600])
    np.testing.assert_array_equal(X_before[1], digits.X_train)
    # a finished run yields nothing more
    assert list(training.train(make(), full[-1])) == []


def test_a_snapshot_taken_after_the_next_record_refuses(digits):
    steps = rbm_lab.RBMSteps(rbm_lab.RBMRun("digits", 200, rbm=RBMConfig(8, 0.05, 20, 3, 0)), digits)
    it = training.train(steps)
    first = next(it)
    snap = first.extra["snapshot"]
    assert snap()["done"] == 0  # valid now
    next(it)
    with pytest.raises(training.StaleSnapshot):
        snap()


def test_records_carry_progress_between_measurements(digits):
    run = algorithms.BMRun("digits", 300, ("pcd",), hidden=6, updates=250, eval_every=200, n_eval=50)
    recs = list(training.train(algorithms.AlgorithmSteps(run, digits)))
    measured = [r.step for r in recs if "snapshot" in r.extra]
    ticks = [r.step for r in recs if "snapshot" not in r.extra]
    assert measured == [0, 200, 250] and ticks == [100]  # a progress record every 100 updates in between
    assert recs[-1].done and not any(r.done for r in recs[:-1])
    assert all(0 <= r.fraction <= 1 for r in recs) and recs[-1].fraction == 1


def test_sub_unit_progress_inside_a_long_epoch(mnist):
    steps = ip.EBMSteps(ip.EBMRun(n_train=64 * 26, epochs=1, n_eval=32, width=8), mnist, device="cpu")
    recs = list(training.train(steps))
    inside = [r for r in recs if "snapshot" not in r.extra]
    assert [round(r.epoch, 3) for r in inside] == [round(25 / 26, 3)]  # every 25 batches, within epoch 1
    assert recs[-1].done and recs[-1].epoch == 1


def test_the_dbm_baseline_trains_the_rbm_for_the_dbm_time(digits):
    run = dbm.DBMRun("digits", 300, dbm.DBMConfig(12, 10, 1, 0.05, 1, 0.001, 50, 20, 1, 3), baseline=True)
    snaps = _run(dbm.DBMSteps(run, digits, device="cpu"))
    last = snaps[-1]
    assert [r["epoch"] for r in last["history"]] == [0, 1, 2, 3]  # the DBM's epochs only
    assert last["rbm_epochs"] >= 1 and last["rbm_seconds"] >= last["dbm_seconds"]
    # one more RBM epoch was not needed: before the last one the RBM had trained less than the DBM
    assert snaps[-2].get("rbm_seconds", 0.0) < last["dbm_seconds"]
    assert dbm.baseline_rbm(last).n_components == 12


# ----------------------------------------------------------------------------- the command line

def test_the_command_line_trains_the_pages_run_and_stores_it_under_the_pages_key(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("GME_CACHE_DIR", str(tmp_path / "cache"))
    snap = rbm_lab.main(["--dataset", "digits", "--n-train", "300", "--n-components", "12", "--n-iter", "2"])
    run = rbm_lab.RBMRun("digits", 300, rbm=replace(rbm_lab.RBMRun().rbm, n_components=12, n_iter=2))
    assert snap["config"] == asdict(run)
    hit = DiskCache().get(make_key("rbm", run))  # where the page looks for exactly this run
    assert hit is not None and torch.equal(hit["nets"]["rbm"]["P"], snap["nets"]["rbm"]["P"])


def test_flags_reach_nested_fields_and_presets_start_from_a_page_default():
    import argparse

    ap = argparse.ArgumentParser()
    training.add_config_arguments(ap, gc.presets()["mlp"])
    a = ap.parse_args(["--n-iters", "50", "--loss", "minimax", "--channels-last", "false"])
    run = training.config_from_arguments(a, gc.presets()["mlp"])
    assert run.gan.n_iters == 50 and run.gan.loss == "minimax" and run.gan.channels_last is False
    assert run.gan.noise == "uniform" and run.gan.arch == "mlp"  # the preset's other fields stay


# ----------------------------------------------------------------------------- shipped runs

def test_shipped_run_round_trip_and_every_reason_to_refuse_it(digits, tmp_path):
    run = rbm_lab.RBMRun("digits", 300, rbm=RBMConfig(10, 0.05, 20, 2, 0))
    steps = rbm_lab.RBMSteps(run, digits)
    result = training.run_to_end(steps)
    sha = assets.fingerprint(*steps.data_arrays())
    path = assets.save(tmp_path / "a", result, {"command": "test", "data_sha256": sha})
    assert path.stat().st_size < 5 * 1024 * 1024
    raw = torch.load(path, weights_only=True)
    assert raw["nets"]["rbm"]["P"].dtype == torch.float16  # stored small
    ship = assets.shipped(tmp_path / "a", run, sha)
    assert ship is not None and ship["nets"]["rbm"]["P"].dtype == torch.float32
    torch.testing.assert_close(ship["nets"]["rbm"]["P"], result["nets"]["rbm"]["P"], atol=2e-3, rtol=1e-3)
    assert ship["provenance"]["command"] == "test" and ship["history"] == result["history"]
    assert assets.shipped(tmp_path / "a", replace(run, n_train=299), sha) is None  # another config
    assert assets.shipped(tmp_path / "a", run, "0" * 64) is None  # other data
    path.write_bytes(path.read_bytes()[:1000])  # damaged: counts as absent
    assert assets.load(tmp_path / "a") is None and assets.shipped(tmp_path / "a", run, sha) is None
    assert assets.load(tmp_path / "nothing-here") is None


def test_the_shipped_runs_load_and_stay_small():
    found = sorted(f.parent for f in assets.ASSETS.rglob(assets.FILENAME))
    names = {str(f.relative_to(assets.ASSETS)) for f in found}
    gan = {f"gan/{k}" for k in [*gc.presets(), *cycle.presets(), "conditional"]}  # every GAN page's default
    assert {"dbm", "inpainting", "crbm", "crbm_baselines", "vae_z2", "vae_z32", "dae", "dbn", "sae"} | gan <= names, names
    for folder in found:
        run = assets.load(folder)
        assert run is not None, folder
        assert (folder / assets.FILENAME).stat().st_size < assets.MAX_BYTES, folder
        prov = run["provenance"]
        assert prov["command"].startswith("python ") and len(prov["data_sha256"]) == 64, folder
        raw = torch.load(folder / assets.FILENAME, map_location="cpu", weights_only=True)
        wide = [k for k, t in _flat(raw).items() if isinstance(t, torch.Tensor) and t.dtype in (torch.float32,
                                                                                              torch.float64)]
        assert not wide, (folder, wide[:3])  # float16: nothing wider is shipped
