"""Progress records: what every training iterator yields.

A training loop in `core` is a generator of `Progress` records. The app draws from it while
it runs, the tests and benchmarks simply exhaust it, the command line prints it.

Clocks: `Clock` (seconds since it was made: a loop's elapsed field) and `Stopwatch` (seconds per name,
accumulated over timed stretches and storable in a snapshot: per-model training or fill seconds).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping


@dataclass
class Progress:
    step: int  # updates done so far (batches, generator iterations, ...)
    total: int  # updates planned
    epoch: float = 0.0  # epochs done (fractional inside an epoch)
    metrics: dict[str, float] = field(default_factory=dict)  # scalars measured at this step
    message: str = ""  # one human line
    done: bool = False  # True on the last record
    elapsed: float = 0.0  # seconds since the loop started
    extra: dict[str, Any] = field(default_factory=dict)  # arrays a page may draw (samples, ...)

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 1.0

    def line(self, fmt: str = ".4g") -> str:
        """One line for the command line: message, seconds, then every metric as name=value."""
        return f"{self.message:>18}  {self.elapsed:7.2f}s  " + "  ".join(f"{k}={v:{fmt}}" for k, v in self.metrics.items())


def exhaust(records: Iterable[Progress], callback: Callable[[Progress], None] | None = None) -> Progress | None:
    """Run a training iterator to its end; return the last record."""
    last = None
    for last in records:
        if callback is not None:
            callback(last)
    return last


def history(records: Iterable[Progress]) -> list[dict[str, float]]:
    """Flatten the metrics of records (those that have any) into rows for a table or CSV."""
    rows = []
    for r in records:
        if r.metrics:
            rows.append({"step": r.step, "epoch": r.epoch, "seconds": r.elapsed, **r.metrics})
    return rows


class Clock:
    """Seconds since creation; one place for the elapsed field."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


class Stopwatch:
    """Seconds per name (per model, per method), accumulated over any number of timed stretches; its state is a
    plain {name: seconds} dict, so a run kind stores it in a snapshot and a resumed run keeps counting.

        clock = Stopwatch()
        with clock("rbm"):           # the stretch's wall seconds are added to clock["rbm"]
            fit_rbm()
        clock.add("rbm", 1.5)        # seconds measured elsewhere
        clock["rbm"], clock["never"] # seconds so far; 0.0 for a name never timed
        state = clock.state()        # {"rbm": ...}: store it (extra_state), then Stopwatch(state) restores it

    Wall-clock seconds (time.perf_counter), so they grow when the machine is shared. Inside a training
    generator, keep every `yield` outside a timed stretch: time spent paused would be counted.
    """

    def __init__(self, seconds: Mapping[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = {str(k): float(v) for k, v in (seconds or {}).items()}  # name -> seconds

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield self
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> float:
        """Add `seconds` to `name`; its new total."""
        self.seconds[name] = self.seconds.get(name, 0.0) + float(seconds)
        return self.seconds[name]

    def __getitem__(self, name: str) -> float:
        return self.seconds.get(name, 0.0)

    def __contains__(self, name: object) -> bool:
        return name in self.seconds

    def __iter__(self) -> Iterator[str]:
        return iter(self.seconds)

    def total(self) -> float:
        """Seconds of every name together."""
        return float(sum(self.seconds.values()))

    def state(self) -> dict[str, float]:
        """{name: seconds} (a copy): storable in a snapshot; Stopwatch(state) continues it."""
        return dict(self.seconds)

    def __repr__(self) -> str:
        return f"Stopwatch({self.seconds!r})"


def timed(it: Iterator[Progress]) -> Iterator[Progress]:
    """Fill `elapsed` on every record of `it`."""
    clock = Clock()
    for rec in it:
        rec.elapsed = clock()
        yield rec
