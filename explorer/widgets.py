"""Widgets whose values live in the URL (``bind="query-params"``), so a link reopens the view.

`Controls` records every value it hands out, so that `caption()` can state the settings under a
figure, and a page never has to repeat its widget values by hand.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st

LOG_STEPS = (1, 2, 5)


def log_options(lo: float, hi: float, steps: Sequence[int] = LOG_STEPS) -> list:
    """1, 2, 5, 10, 20, 50, ... between lo and hi (ints when both ends are ints)."""
    out, decade = [], 1e-12
    while decade <= hi * 10:
        for s in steps:
            v = s * decade
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                out.append(v)
        decade *= 10
    if isinstance(lo, int) and isinstance(hi, int):
        out = sorted({int(round(v)) for v in out})
    else:
        out = [float(f"{v:.6g}") for v in out]
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


class Controls:
    """A page's widgets, in the sidebar by default, each bound to a URL query parameter."""

    def __init__(self, where=None):
        self.where = where if where is not None else st.sidebar
        self.values: dict[str, tuple[str, Any]] = {}  # key -> (label, value)

    def _record(self, key: str, label: str, value: Any, show: bool = True) -> Any:
        if show:
            self.values[key] = (label, value)
        return value

    def slider(self, label: str, key: str, lo, hi, default, step=None, help: str | None = None, fmt: str | None = None,
               caption: bool = True):
        v = self.where.slider(label, lo, hi, default, step=step, key=key, help=help, format=fmt, bind="query-params")
        return self._record(key, label, v, caption)

    def log_slider(self, label: str, key: str, lo, hi, default, help: str | None = None, options=None,
                   caption: bool = True):
        """A slider over 1-2-5 steps between lo and hi (a log scale without a fiddly float)."""
        opts = list(options) if options is not None else log_options(lo, hi)
        if default not in opts:
            default = min(opts, key=lambda o: abs(o - default))
        v = self.where.select_slider(label, opts, value=default, key=key, help=help, format_func=_fmt,
                                     bind="query-params")
        return self._record(key, label, v, caption)

    def select(self, label: str, key: str, options: Sequence, default=None, labels: dict | None = None,
               help: str | None = None, caption: bool = True, horizontal: bool = False):
        options = list(options)
        fmt: Callable = (lambda o: labels.get(o, str(o))) if labels else str
        index = options.index(default) if default in options else 0
        if horizontal:
            v = self.where.radio(label, options, index=index, key=key, help=help, format_func=fmt, horizontal=True,
                                 bind="query-params")
        else:
            v = self.where.selectbox(label, options, index=index, key=key, help=help, format_func=fmt,
                                     bind="query-params")
        if caption:
            self.values[key] = (label, fmt(v))
        return v

    def toggle(self, label: str, key: str, default: bool = False, help: str | None = None, caption: bool = True):
        v = self.where.toggle(label, value=default, key=key, help=help, bind="query-params")
        return self._record(key, label, v, caption)

    def number(self, label: str, key: str, lo, hi, default, step=None, help: str | None = None, caption: bool = True):
        v = self.where.number_input(label, lo, hi, default, step=step, key=key, help=help, bind="query-params")
        return self._record(key, label, v, caption)

    def note(self, key: str, label: str, value: Any) -> None:
        """State a setting in the captions that no widget shows as such (e.g. the data used instead of the choice)."""
        self.values[key] = (label, value)

    def caption(self, keys: Sequence[str] | None = None, extra: dict | None = None) -> str:
        """'hidden units 100 · epochs 10 · ...' for the given keys (all recorded ones by default)."""
        items = [(self.values[k][0], self.values[k][1]) for k in (keys or self.values) if k in self.values]
        items += list((extra or {}).items())
        return " · ".join(f"{label}: {_fmt(v)}" for label, v in items)
