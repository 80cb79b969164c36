"""Live, cached, stoppable training for any `core` training iterator.

`train_cached` looks the run up in the disk cache (instant revisit); otherwise it consumes the
iterator while drawing a progress bar, live curves and a Stop button. Every record that carries
metrics leaves a snapshot of the run in ``st.session_state["gme.partial"][key]``, so a Stop (or a
slider moved mid-run) loses nothing: the page shows the model as it was, with Resume and Restart.
A finished run goes to the disk cache and its snapshot is dropped.

The trainer contract (see `core.rbm_lab.train` for an example):
``start(partial) -> Iterator[Progress]``, each record's ``extra["snapshot"]`` a callable that
returns the run as a storable dict (weights, ``history`` rows, ``done``), and ``partial`` either
None (fresh run) or such a snapshot to continue from.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import pandas as pd
import streamlit as st

from core.cache import DiskCache, cache_dir, make_key
from core.progress import Progress
from explorer.plots import line_figure

PARTIAL = "gme.partial"  # session-state dict: cache key -> snapshot of an unfinished run
STOPPED = "gme.stopped"  # session-state set of cache keys the user stopped


@dataclass
class RunResult:
    key: str
    result: dict  # the snapshot: weights, history, ...
    status: str  # "cached" | "shipped" | "trained" | "stopped"
    seconds: float = 0.0  # time this page spent training now

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.result.get("history", []))


@st.cache_resource(show_spinner=False)
def _disk_cache(root: str) -> DiskCache:
    return DiskCache(root)


def _state(name: str, factory):
    if name not in st.session_state:
        st.session_state[name] = factory()
    return st.session_state[name]


def _progress_text(rec: Progress, label: str) -> str:
    shown = ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in list(rec.metrics.items())[:3])
    eta = ""
    if 0 < rec.fraction < 1 and rec.elapsed > 0.5:
        eta = f" · about {rec.elapsed * (1 - rec.fraction) / rec.fraction:.0f} s left"
    return f"{label}: {rec.message or f'step {rec.step}/{rec.total}'} · {rec.elapsed:.1f} s{eta}" + (f" · {shown}" if shown else "")


def train_cached(kind: str, config, start: Callable[[dict | None], Iterator[Progress]], *,
                 curves: Sequence[str] = (), labels: dict | None = None, label: str = "Training",
                 x: str = "epoch", cache: DiskCache | None = None,
                 shipped: Callable[[], dict | None] | None = None,
                 continue_from: Callable[[DiskCache], dict | None] | None = None) -> RunResult | None:
    """Return the finished (or stopped) run for `config`, training it live if it is not cached.

    `shipped` (optional) returns a finished run that came with the app (assets/) for exactly this
    config, or None; it is asked after the disk cache and before training (status "shipped").
    `continue_from` (optional) returns, from the disk cache, a snapshot to start training from when
    this config has no unfinished run yet (e.g. the same run with fewer iterations), or None; it is
    not asked after a Restart.

    Returns None only when nothing has been trained yet and the user stopped before the first
    snapshot.
    """
    cache = cache or _disk_cache(str(cache_dir()))
    key = make_key(kind, config)
    hit = cache.get(key)
    if hit is not None:
        return RunResult(key, hit, "cached")
    ship = shipped() if shipped is not None else None
    if ship is not None:
        return RunResult(key, ship, "shipped")
    partials = _state(PARTIAL, dict)
    stopped = _state(STOPPED, set)
    partial = partials.get(key)
    if key in stopped:
        box = st.container(border=True)
        done = partial["history"][-1] if partial and partial.get("history") else {}
        box.warning(f"{label} was stopped" + (f" at {x} {done.get(x, 0):g}." if done else " before the first result."))
        c1, c2, _ = box.columns([1, 1, 4])
        resume = c1.button("▶ Resume", key=f"resume-{key}", disabled=partial is None, type="primary")
        restart = c2.button("↺ Restart", key=f"restart-{key}")
        if not (resume or restart):
            return RunResult(key, partial, "stopped") if partial else None
        stopped.discard(key)
        if restart:
            partials.pop(key, None)
            partial = None
    elif partial is None and continue_from is not None:
        partial = continue_from(cache)
        if partial is not None:
            partials[key] = partial
    return _run(key, start, partial, cache, curves, labels or {}, label, x)


def _run(key, start, partial, cache, curves, labels, label, x) -> RunResult | None:
    partials, stopped = st.session_state[PARTIAL], st.session_state[STOPPED]
    holder = st.empty()
    box = holder.container(border=True)
    top = box.columns([5, 1])
    bar = top[0].progress(0.0, text=f"{label}: starting…")
    top[1].button("■ Stop", key=f"stop-{key}", on_click=stopped.add, args=(key,),
                  help="Stop now and keep the model as it is; Resume continues from there.")
    chart = box.empty()
    rows = list(partial["history"]) if partial else []
    t0 = last_draw = time.perf_counter()
    snapshot = partial
    for rec in start(partial):
        bar.progress(rec.fraction, text=_progress_text(rec, label))
        if rec.metrics:
            snapshot = rec.extra["snapshot"]()
            rows = snapshot["history"]
            partials[key] = snapshot
            now = time.perf_counter()
            if curves and len(rows) > 1 and (now - last_draw > 0.3 or rec.done):
                chart.plotly_chart(line_figure(pd.DataFrame(rows), x, curves, labels=labels, height=260),
                                   theme=None, key=f"live-{key}-{len(rows)}")
                last_draw = now
    seconds = time.perf_counter() - t0
    if snapshot is None:
        return None
    snapshot = dict(snapshot, done=True)
    cache.put(key, snapshot)
    partials.pop(key, None)
    holder.empty()
    return RunResult(key, snapshot, "trained", seconds)
