"""Live, cached, stoppable training of any `core.training.Steps`.

`train_cached(steps)` looks the run up in the disk cache (instant revisit), then among the runs shipped
with the app; otherwise it asks the server's training service (`core.jobs.service()`) for the run and, while
the job is queued or trains, draws its position in the queue (with Cancel), then a progress bar, live curves
and a Stop button. The training itself runs in the service (a thread of this process, or a Dask worker with
``$GME_SCHEDULER``), never in the page's script thread, so a run that another session is already training is
joined (it trains once), and a page on a cached or shipped run never waits behind training.

Every measured record leaves a snapshot of the run in ``st.session_state["gme.partial"][key]`` (the last
`PARTIALS_KEPT` runs of a session), so a Stop (or a slider moved mid-run) loses nothing: the page shows the model
as it was, with Resume and Restart. Leaving the page (a rerun, a moved slider, a closed tab) detaches this session
from the job in a ``finally``; the job stops when its last watcher has left and the service keeps its last
snapshot, so coming back continues it. A finished run goes to the disk cache (written by the service) and its
snapshot is dropped. A run with no snapshot yet may continue a finished shorter one (`Steps.continues`).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import pandas as pd
import streamlit as st

from core import jobs, training
from core.cache import DiskCache, cache_dir, make_key
from core.progress import Progress
from explorer.plots import line_figure

PARTIAL = "gme.partial"  # session-state dict: cache key -> snapshot of an unfinished run
STOPPED = "gme.stopped"  # session-state set of cache keys the user stopped
OWNER = "gme.owner"  # session-state: this session's id as a watcher of training jobs
PARTIALS_KEPT = 4  # unfinished runs' snapshots a session keeps (the oldest is dropped first; the service keeps more)


@dataclass
class RunResult:
    key: str
    result: dict  # the snapshot: weights, history, ... (shared: never modify it)
    status: str  # "cached" | "shipped" | "trained" | "stopped"
    seconds: float = 0.0  # time this page spent training now

    @property
    def history(self) -> pd.DataFrame:
        """A fresh table of the history rows (free to modify)."""
        return pd.DataFrame(self.result.get("history", []))

    @property
    def done(self) -> int:
        """Units trained (epochs, updates, iterations: see result["x"])."""
        return int(self.result["done"])

    def status_line(self) -> str:
        """'from the cache (10 epochs, 12 s of training)', 'trained now in 8.1 s', 'stopped after 3 epochs', ..."""
        r = self.result
        amount = training.status_words(r)
        if self.status == "cached":
            return f"from the cache ({amount}, {r['seconds']:.0f} s of training)"
        if self.status == "shipped":
            prov = r.get("provenance", {})
            command = prov.get("equivalent_command") or prov.get("command", "its command")
            clock, cpu, threads = f"{r['seconds']:.0f} s", prov.get("train_cpu_seconds"), prov.get("threads", "?")
            if cpu:
                clock += f" ({cpu:.0f} CPU s on {threads} thread{'' if threads == 1 else 's'})"
            return f"shipped with the app ({amount}, trained in {clock} by `{command}`)"
        if self.status == "trained":
            return f"trained now in {self.seconds:.1f} s ({amount})"
        return f"stopped after {amount}"


@st.cache_resource(show_spinner=False)
def _disk_cache(root: str) -> DiskCache:
    return DiskCache(root)


def _cache() -> DiskCache:
    return _disk_cache(str(cache_dir()))


def _state(name: str, factory):
    if name not in st.session_state:
        st.session_state[name] = factory()
    return st.session_state[name]


def has_run(steps: training.Steps) -> bool:
    """True when this run is finished in the disk cache or has an unfinished snapshot in this session."""
    key = make_key(steps.kind, steps.config)
    return key in _cache() or key in st.session_state.get(PARTIAL, {})


def _progress_text(rec: Progress, label: str) -> str:
    shown = ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in list(rec.metrics.items())[:3]
                      if isinstance(v, (int, float)))
    eta = ""
    if 0 < rec.fraction < 1 and rec.elapsed > 0.5:
        eta = f" · about {rec.elapsed * (1 - rec.fraction) / rec.fraction:.0f} s left"
    return f"{label}: {rec.message or f'step {rec.step}/{rec.total}'} · {rec.elapsed:.1f} s{eta}" + (f" · {shown}" if shown else "")


def _shorter(steps: training.Steps, cache: DiskCache) -> dict | None:
    """The longest finished run in the cache that this run continues (Steps.continues), or None."""
    for cfg in steps.continues():
        hit = cache.get(make_key(steps.kind, cfg))
        if hit is not None:
            return hit
    return None


@st.cache_resource(show_spinner=False, max_entries=16)
def _shipped(key: str, _steps: training.Steps) -> dict | None:
    return _steps.shipped()


def shipped_run(steps: training.Steps) -> dict | None:
    """The run shipped with the app for exactly this config (`Steps.shipped`), read once per server. Shared:
    never modify it."""
    return _shipped(make_key(steps.kind, steps.config), steps)


@st.cache_resource(show_spinner=False, max_entries=32)
def _built(key: str, done: int, builder: str, args: tuple, _build, _result: dict):
    return _build(_result, **dict(args))


def built(res: RunResult, build: Callable[..., Any], **kwargs):
    """`build(res.result, **kwargs)`: the model a page draws (e.g. core.autoencoders.vae.model), made once per
    run, units trained, builder and arguments, and shared by every session. Read-only: sample with an explicit
    generator."""
    name = f"{build.__module__}.{build.__qualname__}"
    return _built(res.key, res.done, name, tuple(sorted(kwargs.items())), build, res.result)


def train_cached(steps: training.Steps, *, curves: Sequence[str] = (), labels: dict | None = None,
                 label: str = "Training", cache: DiskCache | None = None) -> RunResult | None:
    """Return the finished (or stopped) run of `steps`, training it live if it is neither cached nor shipped.

    The disk cache is asked first, then the run shipped with the app for exactly this config (`shipped_run`,
    status "shipped"), and only then is the run trained.

    Returns None only when nothing has been trained yet and the user stopped before the first snapshot.
    """
    cache = cache or _cache()
    key = make_key(steps.kind, steps.config)
    hit = cache.get(key)
    if hit is not None:
        return RunResult(key, hit, "cached")
    ship = shipped_run(steps)
    if ship is not None:
        return RunResult(key, ship, "shipped")
    if jobs.in_job():  # asked by a run while it trains (no page to draw on): train it right here
        t0 = time.perf_counter()
        snap = training.run_to_end(steps, _shorter(steps, cache))
        cache.put(key, snap)
        return RunResult(key, snap, "trained", time.perf_counter() - t0)
    partials = _state(PARTIAL, dict)
    stopped = _state(STOPPED, set)
    partial = partials.get(key) or jobs.service().kept_snapshot(steps, cache)
    if key in stopped:
        box = st.container(border=True)
        where = f" at {steps.unit} {partial['done']}." if partial else " before the first result."
        box.warning(f"{label} was stopped{where}")
        c1, c2, _ = box.columns([1, 1, 4])
        resume = c1.button("▶ Resume", key=f"resume-{key}", disabled=partial is None, type="primary")
        restart = c2.button("↺ Restart", key=f"restart-{key}")
        if not (resume or restart):
            return RunResult(key, partial, "stopped") if partial else None
        stopped.discard(key)
        if restart:
            partials.pop(key, None)
            partial = None
    elif partial is None:
        partial = _shorter(steps, cache)
        if partial is not None:
            partials[key] = partial
    return _run(key, steps, partial, cache, curves, labels or {}, label)


def owner() -> str:
    """This browser session's id as a watcher of training jobs."""
    return _state(OWNER, lambda: uuid.uuid4().hex)


def _remember(partials: dict, key: str, snapshot: dict) -> None:
    """Keep `snapshot` as the session's latest of `key`, and only the last PARTIALS_KEPT runs."""
    partials.pop(key, None)
    partials[key] = snapshot
    for old in list(partials)[:-PARTIALS_KEPT]:
        del partials[old]


def _stop(key: str, job: jobs.Job, who: str) -> None:
    st.session_state[STOPPED].add(key)
    jobs.service().detach(job, who)


def _queue_text(svc: jobs.JobService, job: jobs.Job, label: str) -> str:
    ahead = svc.ahead(job)
    return (f"{label}: waiting for a free trainer · {ahead} run{'' if ahead == 1 else 's'} ahead of yours, "
            f"about {svc.eta(job):.0f} s (a guess from the runs finished on this server)")


def _run(key, steps, partial, cache, curves, labels, label) -> RunResult | None:
    partials, stopped = st.session_state[PARTIAL], st.session_state[STOPPED]
    svc, who = jobs.service(), owner()
    job = svc.submit(steps, partial, who, cache=cache)
    if job.started is None and job.status == jobs.DONE:  # finished by someone else a moment ago
        partials.pop(key, None)
        return RunResult(key, job.snapshot, "cached")
    t0 = last_draw = time.perf_counter()
    last_text = 0.0
    seen, shown, drawn, draws, version = 0, None, partial, 0, -1
    try:  # from the submission on: any interruption (even while drawing the box) detaches this session
        holder = st.empty()
        box = holder.container(border=True)
        top = box.columns([5, 1])
        bar = top[0].progress(0.0, text=f"{label}: starting…")
        button = top[1].empty()
        chart = box.empty()
        while True:
            version = job.wait(version, 0.25)
            now = time.perf_counter()
            state = job.status
            if state == jobs.QUEUED:
                if shown != "cancel":
                    button.button("✕ Cancel", key=f"cancel-{key}", on_click=_stop, args=(key, job, who),
                                  help="Leave the queue; nothing of this run is trained.")
                    shown = "cancel"
                if now - last_text > 0.5:
                    bar.progress(0.0, text=_queue_text(svc, job, label))
                    last_text = now
                continue
            if shown != "stop":
                button.button("■ Stop", key=f"stop-{key}", on_click=_stop, args=(key, job, who),
                              help="Stop now and keep the model as it is; Resume continues from there.")
                shown = "stop"
            new = job.records[seen:]
            seen += len(new)
            if new or now - last_text > 0.5:  # a redraw at least twice a second: a rerun interrupts it there
                rec = job.records[seen - 1] if seen else None
                bar.progress(rec.fraction if rec else 0.0, text=_progress_text(rec, label) if rec else
                             f"{label}: starting… · {job.seconds():.1f} s")
                last_text = now
            snap = job.snapshot
            if snap is not None and snap is not drawn:
                drawn = snap
                _remember(partials, key, snap)
                rows = snap["history"]
                if curves and len(rows) > 1 and (now - last_draw > 0.3 or job.finished):
                    draws += 1  # a key per drawing: two records may carry the same number of rows (a run's last one)
                    chart.plotly_chart(line_figure(pd.DataFrame(rows), steps.x, curves, labels=labels, height=260),
                                       theme=None, key=f"live-{key}-{draws}")
                    last_draw = now
            if job.finished and seen == len(job.records) and drawn is job.snapshot:
                break
    finally:
        svc.detach(job, who)  # a rerun, a moved slider, a page left: the run stops when its last watcher has gone
    seconds = time.perf_counter() - t0
    if job.status == jobs.FAILED:
        holder.empty()
        raise job.error
    if job.status != jobs.DONE:  # stopped while this page watched (the server closing)
        stopped.add(key)
        return RunResult(key, job.snapshot, "stopped") if job.snapshot is not None else None
    if job.snapshot is None:
        return None
    partials.pop(key, None)
    holder.empty()
    return RunResult(key, job.snapshot, "trained", seconds)
