"""Where a training job runs (core.jobs's executors): its records, a thread of this process, or a Dask cluster.

    records(steps, partial)   core.training.train as (bare record, snapshot or None), flagged as inside a job
    InProcess(slots)          a thread per running job, NICE steps below the page scripts
    Dask(address | client)    a `distributed` cluster: the same `records` on a worker, every record sent back in
                              order through a distributed.Queue, Stop through a distributed.Event
    local_cluster(n)          a LocalCluster of single-threaded workers (tests, benchmarks, GME_SCHEDULER=local)

An executor's `run(job)` yields (record, snapshot or None) of `job.steps` from `job.partial` (a core.jobs.Job);
`slots` is how many jobs it runs at once; `close()` ends it.
"""
from __future__ import annotations

import io
import os
import sys
import threading
import time
import uuid
from typing import Iterator

from core import training
from core.cache import DiskCache, to_storable
from core.progress import Progress

QUEUED, RUNNING, DONE, STOPPED, CANCELLED, FAILED = "queued", "running", "done", "stopped", "cancelled", "failed"
FINAL = (DONE, STOPPED, CANCELLED, FAILED)
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

    def run(self, job) -> Iterator[tuple[Progress, dict | None]]:
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

    def run(self, job) -> Iterator[tuple[Progress, dict | None]]:
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
