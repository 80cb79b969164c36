"""The training service (core.jobs): one training per run whoever asks, a bounded fair queue, a Dask cluster,
and bounded per-session memory."""
import gc
import threading
import time
import weakref
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core import data as datasets
from core import jobs, training
from core.boltzmann import rbm_lab
from core.cache import DiskCache, make_key
from core.device import torch_threads

ROOT = Path(__file__).resolve().parent.parent


def tiny(seed=0, n_iter=3):
    """A small RBM run on the 8x8 digits (about 0.1 s an epoch)."""
    base = rbm_lab.RBMRun()
    return rbm_lab.RBMSteps(replace(base, dataset="digits", n_train=300,
                                    rbm=replace(base.rbm, n_components=16, n_iter=n_iter, random_state=seed)),
                            datasets.load("digits"))


def reference(steps):
    """The run trained directly (one thread): its bare records and final snapshot."""
    with torch_threads(1):
        out = list(jobs.records(steps, None))
    return [r for r, _ in out], [s for _, s in out if s is not None][-1]


def same(a, b):
    """Equal bit for bit (tensors by torch.equal, the rest by ==), wall-clock "seconds" aside."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a if k != "seconds")
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def rows(records):
    return [(r.step, r.message, r.done, r.metrics, r.extra) for r in records]


def watch(job, seen):
    """A page's polling loop: read new records until the job ends."""
    n, version = 0, -1
    while True:
        version = job.wait(version, 0.05)
        new = job.records[n:]
        seen += new
        n += len(new)
        if job.finished and n == len(job.records):
            return


def test_two_students_asking_for_the_same_run_train_it_once(spy):
    starts = spy(rbm_lab.RBMSteps, "start", lambda self: (self.config.rbm.random_state, jobs.in_job()))
    advances = spy(rbm_lab.RBMSteps, "advance", lambda self, done: done)
    svc = jobs.JobService(jobs.InProcess(1))
    cache = DiskCache()
    a = svc.submit(tiny(), None, "alice", cache=cache)
    b = svc.submit(tiny(), None, "bob", cache=cache)  # the same setting while the first is queued or training
    assert a is b and a.watchers == {"alice", "bob"}
    seen = {"alice": [], "bob": []}
    threads = [threading.Thread(target=watch, args=(a, seen[o])) for o in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert a.status == jobs.DONE
    assert starts == [(0, True)] and advances == [0, 1, 2]  # the training body ran once, as a job
    c = svc.submit(tiny(), None, "carol", cache=cache)  # a latecomer: answered from the cache, nothing trains
    assert c.status == jobs.DONE and c.snapshot is not None and len(starts) == 1
    ref_records, ref_snap = reference(tiny())
    assert rows(seen["alice"]) == rows(seen["bob"]) == rows(ref_records)  # both saw every record, in order
    assert same(a.snapshot, ref_snap)
    assert same(cache.get(a.key), ref_snap) and same(c.snapshot, ref_snap)  # the finished run is in the cache


def test_queue_runs_in_arrival_order_cancels_and_is_fair(spy):
    gate, order = threading.Event(), []

    def started(self):
        order.append(self.config.rbm.random_state)
        if len(order) == 1:
            gate.wait(30)  # hold the first job until every other one is queued
        return order[-1]

    spy(rbm_lab.RBMSteps, "start", started)
    svc = jobs.JobService(jobs.InProcess(1))
    cache = DiskCache()
    first = svc.submit(tiny(0, 1), None, "alice", cache=cache)
    while not order:
        time.sleep(0.01)
    b1 = svc.submit(tiny(1, 1), None, "bob", cache=cache)
    b2 = svc.submit(tiny(2, 1), None, "bob", cache=cache)  # bob's second job
    gone = svc.submit(tiny(3, 1), None, "dave", cache=cache)
    c1 = svc.submit(tiny(4, 1), None, "carol", cache=cache)  # carol's first, after bob's second
    assert first.status == jobs.RUNNING and [svc.position(j) for j in (b1, c1, b2)] == [0, 2, 3]
    assert svc.position(gone) == 1 and svc.eta(b1) > 0
    svc.cancel(gone, "dave")
    assert gone.status == jobs.CANCELLED and [svc.position(j) for j in (b1, c1, b2)] == [0, 1, 2]
    gate.set()
    for j in (first, b1, b2, c1):
        assert j.join(60) and j.status == jobs.DONE
    assert order == [0, 1, 4, 2]  # arrival order, the cancelled one never ran, carol's first before bob's second
    assert svc.idle()


def test_the_last_watcher_leaving_stops_the_run_and_a_resume_continues_it():
    svc = jobs.JobService(jobs.InProcess(1))
    cache = DiskCache()
    job = svc.submit(tiny(0, 30), None, "alice", cache=cache)
    svc.submit(tiny(0, 30), None, "bob", cache=cache)
    while len([r for r in job.records if r.extra]) < 3:
        job.wait(job.version, 1)
    svc.detach(job, "bob")  # one of two leaves: the run goes on
    n = len(job.records)
    while len(job.records) < n + 2 and not job.finished:
        job.wait(job.version, 1)
    assert job.status == jobs.RUNNING
    svc.detach(job, "alice")  # the last one leaves: it stops at its next record
    assert job.join(30) and job.status == jobs.STOPPED
    kept = svc.kept_snapshot(tiny(0, 30), cache)
    assert kept is job.snapshot and 0 < kept["done"] < 30 and job.key not in cache
    again = svc.submit(tiny(0, 30), kept, "carol", cache=cache)  # anyone resumes it
    assert again.join(60) and again.status == jobs.DONE
    _, ref = reference(tiny(0, 30))
    assert same(again.snapshot, ref)  # the stopped-and-resumed run equals an uninterrupted one


def test_two_page_sessions_opening_the_same_new_setting_train_it_once(spy):
    """The RBM page in two AppTest sessions at once, the same new setting: one training, both pages show it trained
    now with the same numbers; a third session later opens it from the cache."""
    from streamlit.testing.v1 import AppTest

    from core.data import DATASETS

    starts = spy(rbm_lab.RBMSteps, "start", lambda self: (self.config.rbm.n_components, jobs.in_job()))
    old = jobs.use(jobs.JobService(jobs.InProcess(1)))
    try:
        sessions = [AppTest.from_file(str(ROOT / "pages" / "boltzmann_1_learn.py"), default_timeout=300)
                    for _ in range(3)]
        for at in sessions:
            for k, v in dict(data=DATASETS["digits"], epochs="20", hidden="50").items():
                at.query_params[k] = v
        threads = [threading.Thread(target=at.run) for at in sessions[:2]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        sessions[2].run()
    finally:
        jobs.use(old)
    captions = []
    for at in sessions:
        assert not at.exception, at.exception
        captions.append(next(c.value for c in at.caption if "Hidden units: 50" in c.value))
    assert starts == [(50, True)]  # one training, in the service
    assert all("trained now" in c for c in captions[:2]) and "from the cache" in captions[2]
    shown = [[m.value for m in at.markdown if "error" in m.value] for at in sessions]
    assert shown[0] and shown[0] == shown[1] == shown[2]  # the same run on every page (its reconstruction errors)


@pytest.fixture(scope="module")
def cluster():
    """A local Dask cluster of 2 single-threaded worker processes (started here: about 15 s on 2 shared cores)."""
    distributed = pytest.importorskip("distributed")
    with jobs.local_cluster(2, processes=True) as lc, distributed.Client(lc) as client:
        yield client


def test_a_run_on_a_dask_cluster_streams_its_records_stops_and_equals_the_in_process_run(cluster, spy):
    starts = spy(rbm_lab.RBMSteps, "start", lambda self: self.config.rbm.random_state)
    svc = jobs.JobService(jobs.Dask(client=cluster))
    assert svc.slots == 2
    cache = DiskCache()
    job = svc.submit(tiny(), None, "alice", cache=cache)
    seen = []
    watch(job, seen)
    assert job.status == jobs.DONE, job.error
    assert starts == []  # it trained on a worker, not in this process
    ref_records, ref_snap = reference(tiny())
    assert rows(seen) == rows(ref_records)  # every record, in order, with the same metrics
    assert same(job.snapshot, ref_snap) and same(cache.get(job.key), ref_snap)  # bit for bit
    # Stop: the last watcher leaves, the worker stops at its next record
    long = svc.submit(tiny(1, 400), None, "bob", cache=cache)
    while len([r for r in long.records if r.extra]) < 3:
        long.wait(long.version, 5)
    svc.detach(long, "bob")
    t0 = time.perf_counter()
    assert long.join(30) and long.status == jobs.STOPPED
    assert time.perf_counter() - t0 < 10 and 2 <= long.snapshot["done"] < 400 and long.key not in cache
    assert not any(cluster.processing().values())  # nothing is left running on the workers
    assert svc.kept_snapshot(tiny(1, 400), cache) is long.snapshot


def alive(made, expected):
    """Objects of the WeakSet `made` still alive (a full collection only when more than `expected` are left)."""
    if len(made) > expected:
        gc.collect()
    return len(made)


@pytest.mark.usefixtures("mnist")
def test_leaving_the_step_by_step_panel_drops_its_trainer_every_time(spy):
    """Two sessions open the GAN's step-by-step panel, take a step, leave for another page, 20 times: never more
    than one trainer per session, none held by a session that left."""
    from streamlit.testing.v1 import AppTest

    from core.gan.single_steps import SingleSteps

    made = weakref.WeakSet()
    spy(SingleSteps, "__init__", lambda self, *args, **kwargs: made.add(self))

    gan, other = "../pages/gan_1_dcgan.py", "../pages/transport_2_assignment.py"  # relative to the app's script
    sessions = [AppTest.from_file(str(ROOT / "explorer" / "app.py"), default_timeout=300) for _ in range(2)]
    for at in sessions:
        at.run()
        for k, v in dict(iters="20", width="8", batch="16", cls="3", view="Step by step").items():
            at.query_params[k] = v
    for visit in range(20):
        for at in sessions:
            at.switch_page(gan).run()
            assert not at.exception, at.exception
            if visit == 0:
                at.button(key="dcgan-step-d").click().run()
                assert at.dataframe[-1].value["action"].iloc[-1] == "D step"  # a trainer that took a step
            assert "gan.step" in at.session_state
        assert alive(made, 2) == len(sessions)  # one per session
        for at in sessions:
            at.switch_page(other).run()
            assert not at.exception, at.exception
            assert "gan.step" not in at.session_state
        assert alive(made, 0) == 0  # a session that left the panel holds none
