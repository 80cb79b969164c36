"""Training jobs shared by every session of one server: one training per run, a bounded fair queue, and an
optional Dask cluster to run them on.

A page that must train asks the process-wide service (`service()`) instead of running `core.training.train`
in its own script thread:

    job = jobs.service().submit(steps, partial, owner="session-1", cache=DiskCache())
    ... job.status, job.records, job.snapshot, service.position(job), service.eta(job) ...
    jobs.service().detach(job, "session-1")      # Stop, a moved slider, a page left

- **One training per run.** Jobs are keyed by the run's cache key (`core.cache.make_key`) within a cache folder.
  A run that is queued or training is *joined*, not started again: every watcher reads the same append-only
  ``job.records`` and the same latest ``job.snapshot``. A run already in the cache is answered at once.
- **Stop.** `detach` removes a watcher. When the last one leaves, the job stops cooperatively at its next
  record (a queued one never runs) and its last snapshot is kept (`kept`, a few per server), so a later Resume
  by anyone continues from it.
- **A bounded, fair queue.** At most `slots` jobs train at once (in-process: ``$GME_TRAININGS``, else half the
  cores, at least 1; on Dask: the cluster's threads). Queued jobs start by round, then arrival: a job's round is
  one more than its submitter's queued or running jobs' (and at least the round being served), so students are
  served round-robin and a student's second job waits behind every other student's first.
- **Executors, one code path.** `InProcess` (the default: a thread per running job, nothing to set up) and
  `Dask` (``$GME_SCHEDULER=tcp://host:8786``: a `distributed` cluster whose workers run the very same
  `core.training.train` and send every record back in order through a `distributed.Queue`, measured records
  with their snapshot as `torch.save` bytes; Stop sets a `distributed.Event` the worker checks at each record;
  ``$GME_SCHEDULER=local`` starts a local cluster). Either way the service writes the finished run to the disk
  cache atomically (`DiskCache.put`), and a Dask worker writes it too (workers share the cache folder).

Records a job keeps are `core.progress.Progress` without arrays: ``extra`` is ``{"measured": True}`` on records
that carried a snapshot, else empty; the snapshot itself is ``job.snapshot`` (shared by every watcher: never
modify it).
"""
from __future__ import annotations

import heapq
import io
import itertools
import os
import sys
import threading
import time
import uuid
from collections import OrderedDict
from typing import Iterator

from core import training
from core.cache import DiskCache, make_key, to_storable
from core.progress import Progress

QUEUED, RUNNING, DONE, STOPPED, CANCELLED, FAILED = "queued", "running", "done", "stopped", "cancelled", "failed"
FINAL = (DONE, STOPPED, CANCELLED, FAILED)
KEPT = 8  # stopped runs' snapshots a server keeps for a later Resume (oldest dropped first)
GUESS_SECONDS = 10.0  # a queued run's expected length before any run has finished on this server


class Job:
    """One training run, shared by every session that asked for it (see the module docstring)."""

    def __init__(self, key: str, steps: training.Steps, partial: dict | None, owner: str, cache: DiskCache, seq: int):
        self.key, self.steps, self.partial, self.owner, self.cache, self.seq = key, steps, partial, owner, cache, seq
        self.status = QUEUED
        self.watchers: set[str] = {owner}
        self.records: list[Progress] = []  # append-only: every watcher reads the same records in order
        self.snapshot: dict | None = partial  # the latest measured snapshot (the final one when done)
        self.error: BaseException | None = None
        self.submitted, self.started, self.ended = time.perf_counter(), None, None
        self.version = 0  # bumped at every change (a record, a status)
        self.changed = threading.Condition()
        self.stop_requested = threading.Event()
        self.round = 0  # its place in the fair queue (JobService.submit)
        self.stopping = False  # the body has decided to stop (under the service's lock): no one joins it now

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def seconds(self) -> float:
        """Seconds this job has trained (so far)."""
        if self.started is None:
            return 0.0
        return (self.ended or time.perf_counter()) - self.started

    def remaining(self) -> float | None:
        """Seconds left by the latest record's pace (None before the first record that moved)."""
        rec = self.records[-1] if self.records else None
        if rec is None or rec.fraction <= 0:
            return None
        return self.seconds() * (1 - rec.fraction) / rec.fraction

    def wait(self, version: int, timeout: float) -> int:
        """Block until the job's version differs from `version` or `timeout` seconds pass; the current version."""
        with self.changed:
            if self.version == version:
                self.changed.wait(timeout)
            return self.version

    def join(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (or `timeout`); True when it has."""
        end = None if timeout is None else time.perf_counter() + timeout
        with self.changed:
            while not self.finished:
                left = None if end is None else end - time.perf_counter()
                if left is not None and left <= 0:
                    return False
                self.changed.wait(left)
        return True

    def touch(self, **changes) -> None:
        with self.changed:
            for k, v in changes.items():
                setattr(self, k, v)
            self.version += 1
            self.changed.notify_all()

    def add(self, rec: Progress, snapshot: dict | None) -> None:
        with self.changed:
            self.records.append(rec)
            if snapshot is not None:
                self.snapshot = snapshot
            self.version += 1
            self.changed.notify_all()

    def __repr__(self) -> str:
        return f"Job({self.key}, {self.status}, {len(self.records)} records, watchers={sorted(self.watchers)})"


_HERE = threading.local()


def in_job() -> bool:
    """True inside a job's body (its thread here, or its task on a Dask worker): a run that a run needs (a GAN's
    quality classifier, asked when it starts) is then trained right there, not queued behind its own caller."""
    return getattr(_HERE, "job", False)


def bare(rec: Progress, measured: bool) -> Progress:
    """The record without its arrays and lazy snapshot (what a job keeps and a worker sends)."""
    return Progress(rec.step, rec.total, rec.epoch, dict(rec.metrics), rec.message, rec.done, rec.elapsed,
                    {"measured": True} if measured else {})


def records(steps: training.Steps, partial: dict | None) -> Iterator[tuple[Progress, dict | None]]:
    """`core.training.train` as (bare record, snapshot or None): the snapshot taken right away at measured records."""
    inside, _HERE.job = in_job(), True
    try:
        for rec in training.train(steps, partial):
            snap = rec.extra["snapshot"]() if "snapshot" in rec.extra else None
            yield bare(rec, snap is not None), snap
    finally:
        _HERE.job = inside


def default_slots() -> int:
    """Trainings at once in-process: $GME_TRAININGS, else half the cores (at least 1)."""
    env = os.environ.get("GME_TRAININGS", "").strip()
    return max(1, int(env)) if env else max(1, (os.cpu_count() or 2) // 2)


NICE = 10  # in-process training threads run this much nicer than the page scripts (Linux): browsing stays quick


def lower_priority(nice: int = NICE) -> None:
    """Make the calling thread `nice` steps nicer (Linux: a thread's own priority; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):  # elsewhere the id of a thread is not a process id
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + int(nice)))
    except (AttributeError, OSError):
        pass


class InProcess:
    """Runs each job in a thread of this process, `NICE` steps below the page scripts."""

    name = "in-process"

    def __init__(self, slots: int | None = None):
        self.slots = int(slots) if slots else default_slots()

    def run(self, job: Job) -> Iterator[tuple[Progress, dict | None]]:
        lower_priority()  # the job's own thread (JobService.body): it ends with the job
        return records(job.steps, job.partial)

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- Dask

def to_bytes(snapshot: dict | None) -> bytes | None:
    """A storable snapshot as torch.save bytes (exact: tensors keep every bit)."""
    if snapshot is None:
        return None
    buf = io.BytesIO()
    import torch

    torch.save(to_storable(snapshot), buf)
    return buf.getvalue()


def from_bytes(blob: bytes | None) -> dict | None:
    if blob is None:
        return None
    import torch

    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)


def encode(rec: Progress, snapshot: dict | None) -> dict:
    """A record as a message a distributed.Queue carries (msgpack: numbers, strings, bytes)."""
    return {"step": float(rec.step), "total": int(rec.total), "epoch": float(rec.epoch),
            "metrics": {k: float(v) for k, v in rec.metrics.items()}, "message": rec.message, "done": bool(rec.done),
            "elapsed": float(rec.elapsed), "measured": bool(rec.extra.get("measured")), "snapshot": to_bytes(snapshot)}


def decode(msg: dict) -> tuple[Progress, dict | None]:
    step = msg["step"]
    rec = Progress(int(step) if float(step).is_integer() else step, msg["total"], msg["epoch"], dict(msg["metrics"]),
                   msg["message"], msg["done"], msg["elapsed"], {"measured": True} if msg["measured"] else {})
    return rec, from_bytes(msg["snapshot"])


def remote_job(steps: training.Steps, partial: bytes | None, name: str, cache_root: str, key: str) -> str:
    """The job body on a Dask worker: train, put every record on the Queue `name` in order, stop when the Event
    `name` is set (checked at each record); the finished run goes to the (shared) cache. Returns the status."""
    from distributed import Event, Queue

    queue, stop = Queue(name), Event(name)
    last, status = None, DONE
    for rec, snap in records(steps, from_bytes(partial)):
        queue.put(encode(rec, snap))
        last = snap if snap is not None else last
        if stop.is_set():
            status = STOPPED
            break
    if status == DONE and last is not None and cache_root:
        try:
            DiskCache(cache_root).put(key, last)
        except OSError:  # the folder is not shared with this worker: the app writes it
            pass
    queue.put({"end": status})
    return status


class Dask:
    """Runs each job on a `distributed` cluster: `address` ("tcp://host:8786") or a started cluster/`Client`."""

    name = "dask"

    def __init__(self, address=None, client=None, slots: int | None = None, own: bool | None = None):
        """own: close the client (and a cluster it started) with the service (default: when made here)."""
        from distributed import Client

        self.own_client = client is None if own is None else bool(own)
        self.client = client if client is not None else Client(address)
        self.slots = int(slots) if slots else max(1, sum(self.client.nthreads().values()))
        self.client.run(_warm)  # import torch and core.training on every worker once, not in the first job

    def run(self, job: Job) -> Iterator[tuple[Progress, dict | None]]:
        from distributed import Event, Queue

        name = f"gme-{job.key}-{uuid.uuid4().hex[:8]}"
        queue, stop = Queue(name, client=self.client), Event(name, client=self.client)
        steps = self.client.scatter(job.steps, hash=False)  # straight to a worker (MBs of data), not via the scheduler
        fut = self.client.submit(remote_job, steps, to_bytes(job.partial), name, str(job.cache.root), job.key,
                                 key=name, pure=False)
        ended = False
        try:
            while not ended:
                batch = queue.get(batch=True)  # all waiting, no blocking (a timeout logs on the scheduler)
                if not batch:
                    if fut.status == "error":
                        fut.result()  # raises the worker's exception here
                    if fut.status == "cancelled":
                        raise RuntimeError(f"the cluster lost job {name}")
                    time.sleep(0.05)
                for msg in batch:
                    if "end" in msg:
                        ended = True
                        break
                    yield decode(msg)
        finally:
            if not ended:
                stop.set()  # the worker stops at its next record
                try:
                    fut.result(timeout=60)
                except Exception:  # noqa: BLE001 - it is being abandoned anyway
                    fut.cancel()

    def close(self) -> None:
        if self.own_client:
            cluster = getattr(self.client, "cluster", None)
            self.client.close()
            if cluster is not None:
                cluster.close()


def _warm() -> str:
    import core.training  # noqa: F401

    return "ok"


def local_cluster(n_workers: int = 2, processes: bool = True):
    """A `distributed.LocalCluster` of `n_workers` single-threaded workers (tests, benchmarks, GME_SCHEDULER=local).

    Worker processes are spawned: a spawned process runs the parent's ``__main__`` file again, which inside
    `streamlit run` is the app's script; so the file is hidden from multiprocessing while they start."""
    from distributed import LocalCluster

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) if getattr(main, "__spec__", None) is None else None
    if path is not None:
        del main.__file__
    try:
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes, dashboard_address=None)
    finally:
        if path is not None:
            main.__file__ = path


# ----------------------------------------------------------------------------- the service

class JobService:
    """The process-wide queue of training jobs (see the module docstring). `executor`: InProcess() or Dask(...)."""

    def __init__(self, executor=None, slots: int | None = None):
        self.executor = executor if executor is not None else InProcess(slots)
        self.slots = int(slots) if slots else self.executor.slots
        self.lock = threading.RLock()
        self.live: dict[tuple[str, str], Job] = {}  # (cache root, key) -> queued or running job
        self.queue: list[Job] = []  # queued jobs in arrival order
        self.running: list[Job] = []
        self.kept: OrderedDict[tuple[str, str], dict] = OrderedDict()  # stopped runs' last snapshots
        self.seq = itertools.count()
        self.round = 0  # the queue round being served (see `submit`)
        self.mean_seconds: float | None = None  # average length of the runs finished here

    # -- asking
    def submit(self, steps: training.Steps, partial: dict | None = None, owner: str = "", *,
               cache: DiskCache | None = None) -> Job:
        """The job of this run: joined when queued or running, answered at once when cached, else queued."""
        cache = cache if cache is not None else DiskCache()
        key = make_key(steps.kind, steps.config)
        where = (str(cache.root), key)
        with self.lock:
            job = self.live.get(where)
            if job is not None and not job.stopping:
                job.watchers.add(owner)
                job.stop_requested.clear()  # a newcomer before the stop took effect: it goes on
                job.touch()
                return job
            if job is not None:  # stopping now: continue from its latest snapshot in a new job
                partial = job.snapshot
            job = Job(key, steps, partial, owner, cache, next(self.seq))
            # fair queueing by rounds: a submitter's job goes one round after its own queued or running ones, and
            # never before the round now being served, so a second job waits behind everyone's first
            mine = [j.round for j in self.queue + self.running if j.owner == owner]
            job.round = max([self.round] + [r + 1 for r in mine])
            if key in cache:  # finished meanwhile (or by another server): nothing to train
                job.status = DONE
            else:
                self.live[where] = job
                self.queue.append(job)
        if job.status == DONE:
            hit = cache.get(key)
            if hit is not None:
                job.touch(snapshot=hit)
                return job
            with self.lock:  # unreadable entry: it was deleted, train it
                job.status = QUEUED
                self.live[where] = job
                self.queue.append(job)
        self.dispatch()
        return job

    def kept_snapshot(self, steps: training.Steps, cache: DiskCache | None = None) -> dict | None:
        """The last snapshot of this run when it was stopped here (every watcher left), else None."""
        cache = cache if cache is not None else DiskCache()
        with self.lock:
            return self.kept.get((str(cache.root), make_key(steps.kind, steps.config)))

    def detach(self, job: Job, owner: str) -> None:
        """`owner` stops watching `job`. The last watcher's leaving stops it: a queued job never runs (cancelled),
        a running one stops at its next record and its last snapshot is kept for a later Resume."""
        with self.lock:
            job.watchers.discard(owner)
            if job.watchers or job.finished:
                return
            if job.status == QUEUED:
                self.queue.remove(job)
                self.live.pop((str(job.cache.root), job.key), None)
                job.touch(status=CANCELLED, ended=time.perf_counter())
                self.keep(job)
            else:
                job.stop_requested.set()

    cancel = detach

    # -- where a job stands
    def order(self) -> list[Job]:
        """Queued jobs in the order they will start: by round, then arrival (see `submit`)."""
        with self.lock:
            return sorted(self.queue, key=lambda j: (j.round, j.seq))

    def position(self, job: Job) -> int:
        """Queued jobs that start before this one (0: it is next; also 0 once it runs)."""
        order = self.order()
        return order.index(job) if job in order else 0

    def ahead(self, job: Job) -> int:
        """Runs before this queued job: those training now and those queued to start before it."""
        with self.lock:
            return len(self.running) + self.position(job) if job in self.queue else 0

    def eta(self, job: Job) -> float:
        """Seconds until this queued job starts: the running jobs' remaining time by their pace, then the jobs
        ahead of it at the average length of the runs finished here (10 s before any). A guess, early or late by
        the lengths of runs it has not seen."""
        with self.lock:
            if job not in self.queue:
                return 0.0
            guess = self.mean_seconds or GUESS_SECONDS
            free = sorted(j.remaining() if j.remaining() is not None else guess for j in self.running)
            free += [0.0] * max(0, self.slots - len(free))
            heapq.heapify(free)
            for j in self.order():
                if j is job:
                    return float(heapq.heappop(free))
                heapq.heappush(free, heapq.heappop(free) + guess)
        return 0.0

    # -- running
    def dispatch(self) -> None:
        """Start queued jobs while slots are free."""
        with self.lock:
            while self.queue and len(self.running) < self.slots:
                job = self.order()[0]
                self.queue.remove(job)
                self.round = max(self.round, job.round)
                self.running.append(job)
                job.touch(status=RUNNING, started=time.perf_counter())
                threading.Thread(target=self.body, args=(job,), name=f"gme-job-{job.key}", daemon=True).start()

    def body(self, job: Job) -> None:
        """One job from start to end, whatever the executor (the one code path)."""
        status, error = DONE, None
        try:
            it = self.executor.run(job)
            try:
                for rec, snap in it:
                    job.add(rec, snap)
                    if job.stop_requested.is_set():
                        with self.lock:  # decided under the lock: a watcher joining now clears the request first
                            job.stopping = job.stop_requested.is_set()
                        if job.stopping:
                            status = STOPPED
                            break
            finally:
                it.close()
            if status == DONE and job.snapshot is not None and job.key not in job.cache:
                job.cache.put(job.key, job.snapshot)
        except BaseException as exc:  # noqa: BLE001 - handed to every watcher, which raises it on its page
            status, error = FAILED, exc
        with self.lock:
            self.running.remove(job)
            if self.live.get((str(job.cache.root), job.key)) is job:
                del self.live[(str(job.cache.root), job.key)]
            if status == DONE:
                self.kept.pop((str(job.cache.root), job.key), None)
                secs = job.seconds()
                self.mean_seconds = secs if self.mean_seconds is None else 0.7 * self.mean_seconds + 0.3 * secs
            elif status == STOPPED:
                self.keep(job)
            job.touch(status=status, error=error, ended=time.perf_counter())
        self.dispatch()

    def keep(self, job: Job) -> None:
        if job.snapshot is not None:
            where = (str(job.cache.root), job.key)
            self.kept[where] = job.snapshot
            self.kept.move_to_end(where)
            while len(self.kept) > KEPT:
                self.kept.popitem(last=False)

    def idle(self) -> bool:
        with self.lock:
            return not self.queue and not self.running

    def close(self) -> None:
        """Stop every job (queued ones never run) and release the executor."""
        with self.lock:
            for job in list(self.queue):
                job.watchers.clear()
                self.detach(job, "")
            running = list(self.running)
            for job in running:
                job.stop_requested.set()
        for job in running:
            job.join(60)
        self.executor.close()


_SERVICE: JobService | None = None
_SERVICE_LOCK = threading.Lock()


def make_service() -> JobService:
    """A service from the environment: $GME_SCHEDULER unset -> in-process threads; "local" -> a local Dask
    cluster started here (one single-threaded worker per two cores); "tcp://host:8786" -> that cluster."""
    address = os.environ.get("GME_SCHEDULER", "").strip()
    if not address:
        return JobService(InProcess())
    if address == "local":
        return JobService(Dask(client=__import__("distributed").Client(local_cluster(default_slots())), own=True))
    return JobService(Dask(address))


def service() -> JobService:
    """The process-wide service (made on first use by `make_service`)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = make_service()
        return _SERVICE


def use(svc: JobService | None) -> JobService | None:
    """Make `svc` the process-wide service (None: the next `service()` makes one); returns the previous one."""
    global _SERVICE
    with _SERVICE_LOCK:
        old, _SERVICE = _SERVICE, svc
        return old
