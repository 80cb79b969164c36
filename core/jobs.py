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
- **Executors, one code path** (`core.executors`, re-exported here). `InProcess` (the default: a thread per running job, nothing to set up) and
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
import itertools
import os
import threading
import time
from collections import OrderedDict

from core import training
from core.cache import DiskCache, make_key
from core.executors import (CANCELLED, DONE, FAILED, FINAL, QUEUED, RUNNING, STOPPED,  # noqa: F401 (re-exported)
                            Dask, InProcess, bare, default_slots, in_job, local_cluster, records)
from core.progress import Progress

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
