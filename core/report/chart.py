"""A plotly figure's dict (``fig.to_dict()``) read into plain data: the traces a report draws again with
matplotlib, and their numbers as one long table (the figure's CSV).

Only plain dicts are read here (no plotly import): numbers come as lists or as plotly's typed arrays
({"dtype", "bdata", "shape"}: base64 of the raw little-endian values), which `array` decodes.
"""
from __future__ import annotations

import base64

import numpy as np
import pandas as pd

DRAWN = ("scatter", "scattergl", "bar", "heatmap", "contour", "scatter3d")  # trace types a report redraws
TRACE_KEYS = ("name", "mode", "orientation", "xaxis", "yaxis", "zmin", "zmax", "zmid", "showlegend", "fill",
              "reversescale", "opacity", "text", "showscale")  # plain trace properties kept as they are
DTYPES = {"f8": "<f8", "f4": "<f4", "i1": "<i1", "u1": "<u1", "i2": "<i2", "u2": "<u2", "i4": "<i4", "u4": "<u4",
          "i8": "<i8", "u8": "<u8", "u1c": "<u1"}


def array(v) -> np.ndarray | None:
    """A trace's numbers or labels as a NumPy array (None when absent)."""
    if v is None:
        return None
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=DTYPES.get(v.get("dtype", "f8"), v.get("dtype")))
        shape = v.get("shape")
        if shape:
            a = a.reshape([int(s) for s in str(shape).split(",")])
        return a.astype(float) if a.dtype.kind in "iuf" else a
    if isinstance(v, (list, tuple)) and v and isinstance(v[0], (dict, list, tuple)):
        rows = [array(r) for r in v]
        try:
            return np.array([np.asarray(r, dtype=float) for r in rows])
        except (TypeError, ValueError):
            return np.array(rows, dtype=object)
    a = np.asarray(v)
    if a.dtype == object:
        try:
            return a.astype(float)
        except (TypeError, ValueError):
            return a.astype(str)
    return a


def _plain(a):
    """JSON-ready: arrays to lists (NaN to None)."""
    if isinstance(a, np.ndarray):
        if a.dtype.kind == "f":
            return np.where(np.isnan(a), None, a).tolist()
        return a.tolist()
    return a


def _color(v):
    if isinstance(v, (str, type(None))):
        return v
    a = array(v)
    return None if a is None else _plain(a)


def read(fig: dict) -> dict:
    """The parts of a plotly figure's dict a report draws: title, size, axes, traces, reference lines, labels.

    Traces of other types are listed in "skipped" (the report says so under the figure)."""
    layout = fig.get("layout", {}) or {}
    title = layout.get("title") or {}
    spec = {"title": title.get("text", "") if isinstance(title, dict) else str(title),
            "height": layout.get("height"), "width": layout.get("width"),
            "showlegend": layout.get("showlegend", True), "barmode": layout.get("barmode", "group"),
            "axes": {}, "traces": [], "shapes": [], "annotations": [], "skipped": []}
    for name, ax in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(ax, dict):
            t = ax.get("title") or {}
            spec["axes"][name[0] + name[5:]] = {
                "title": t.get("text", "") if isinstance(t, dict) else str(t), "type": ax.get("type"),
                "domain": ax.get("domain"), "range": _plain(array(ax.get("range"))),
                "autorange": ax.get("autorange"), "scaleanchor": ax.get("scaleanchor"),
                "tickvals": _plain(array(ax.get("tickvals"))), "ticktext": _plain(array(ax.get("ticktext"))),
                "visible": ax.get("visible", True), "showticklabels": ax.get("showticklabels", True)}
    for tr in fig.get("data", []):
        kind = tr.get("type", "scatter")
        if kind not in DRAWN:
            spec["skipped"].append(kind)
            continue
        out = {"type": kind, **{k: _plain(tr[k]) if k == "text" and not isinstance(tr[k], str) else tr[k]
                                for k in TRACE_KEYS if k in tr}}
        for k in ("x", "y", "z"):
            if tr.get(k) is not None:
                out[k] = _plain(array(tr[k]))
        if isinstance(out.get("text"), dict):
            out["text"] = _plain(array(out["text"]))
        marker, line = tr.get("marker") or {}, tr.get("line") or {}
        out["color"] = _color(marker.get("color")) if kind == "bar" or "lines" not in str(tr.get("mode", "lines")) \
            else line.get("color") or _color(marker.get("color"))
        out["line_color"], out["dash"], out["line_width"] = line.get("color"), line.get("dash"), line.get("width")
        out["size"] = _color(marker.get("size"))
        scale = tr.get("colorscale") or marker.get("colorscale")
        out["colorscale"] = scale if isinstance(scale, str) else [[float(p), c] for p, c in scale] if scale else None
        if kind == "contour":
            out["contours"] = tr.get("contours") or {}
        spec["traces"].append(out)
    for s in layout.get("shapes", []) or []:
        spec["shapes"].append({k: s.get(k) for k in ("type", "x0", "x1", "y0", "y1", "xref", "yref")}
                              | {"color": (s.get("line") or {}).get("color"), "dash": (s.get("line") or {}).get("dash"),
                                 "fill": s.get("fillcolor"), "opacity": s.get("opacity")})
    for a in layout.get("annotations", []) or []:
        spec["annotations"].append({k: a.get(k) for k in ("text", "x", "y", "xref", "yref", "ax", "ay", "axref",
                                                          "ayref", "showarrow", "xanchor", "yanchor")})
    return spec


def kind(spec: dict) -> str:
    """"heatmap" when every drawn trace is a heatmap or contour, else "chart"."""
    types = {t["type"] for t in spec["traces"]}
    return "heatmap" if types and types <= {"heatmap", "contour"} else "chart"


def table(spec: dict) -> pd.DataFrame:
    """Every drawn number in one long table: trace, x, y (and z): one row per point, bar or cell."""
    rows = []
    for i, t in enumerate(spec["traces"]):
        name = t.get("name") or f"trace {i + 1}"
        if t["type"] in ("heatmap", "contour"):
            z = np.asarray(t.get("z", []), dtype=float)
            if z.ndim != 2:
                continue
            xs = t.get("x") if t.get("x") is not None and len(t["x"]) == z.shape[1] else list(range(z.shape[1]))
            ys = t.get("y") if t.get("y") is not None and len(t["y"]) == z.shape[0] else list(range(z.shape[0]))
            rows += [(name, xs[c], ys[r], z[r, c]) for r in range(z.shape[0]) for c in range(z.shape[1])]
        else:
            x, y = t.get("x"), t.get("y")
            if y is None and x is None:
                continue
            n = len(y if y is not None else x)
            x = x if x is not None else list(range(n))
            y = y if y is not None else list(range(n))
            z = t.get("z") if t["type"] == "scatter3d" else None
            rows += [(name, x[j], y[j], z[j] if z is not None else None) for j in range(n)]
    df = pd.DataFrame(rows, columns=["trace", "x", "y", "z"])
    return df.drop(columns="z") if df["z"].isna().all() else df
