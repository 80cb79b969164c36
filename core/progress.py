"""Progress records: what every training iterator yields.

A training loop in `core` is a generator of `Progress` records. The app draws from it while
it runs, the tests and benchmarks simply exhaust it, the command line prints it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator


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


def timed(it: Iterator[Progress]) -> Iterator[Progress]:
    """Fill `elapsed` on every record of `it`."""
    clock = Clock()
    for rec in it:
        rec.elapsed = clock()
        yield rec
