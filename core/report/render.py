"""A collected figure's files, drawn on the server with matplotlib from the same data the page plotted.

Curves and charts: a PNG at `DPI`, a vector PDF and an SVG, and the CSV of the plotted numbers; heatmaps: PNG, PDF
and CSV; image grids: the grid's own pixels as a PNG (no resampling); tables: the CSV and the table drawn as a PNG.
Every function returns ``(files, aspect)``: {file name: bytes}, the included image first, and its height / width.

Drawn in the app's look (white background, light grid, the app's palette), with matplotlib's object API only
(no pyplot: no global figure state, safe in a server's threads). Path simplification is off, so every plotted
point is in the SVG (tests read them back).
"""
from __future__ import annotations

import io
import textwrap

import numpy as np
import pandas as pd

from core.images import to_png
from core.report import chart as charts

PALETTE = ["#3559c7", "#e8590c", "#2b8a3e", "#c2255c", "#6741d9", "#1098ad", "#868e96", "#f08c00"]  # the app's colours
DPI = 200  # PNG resolution (dots per inch at WIDTH)
WIDTH = 6.4  # inches: a figure's width in its files
RC = {"font.size": 9, "axes.titlesize": 10, "axes.edgecolor": "#adb5bd", "axes.grid": True, "grid.color": "#e9ecef",
      "axes.prop_cycle": None, "path.simplify": False, "svg.fonttype": "none", "svg.hashsalt": "gme-report",
      "axes.axisbelow": True, "legend.frameon": False, "legend.fontsize": 8}
DASHES = {"dash": (0, (5, 3)), "dot": (0, (1, 2)), "dashdot": (0, (5, 2, 1, 2)), "longdash": (0, (8, 3)),
          "solid": "-", None: "-"}


def _rc() -> dict:
    from cycler import cycler

    return {**RC, "axes.prop_cycle": cycler(color=PALETTE)}


def _new(aspect: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, WIDTH * aspect), dpi=DPI, facecolor="white")


def save(fig, fmt: str) -> bytes:
    """The figure's bytes in `fmt` (png, pdf, svg); PDF and SVG without a creation date (same data, same bytes)."""
    import matplotlib

    buf = io.BytesIO()
    meta = {"png": None, "pdf": {"CreationDate": None}, "svg": {"Date": None}}[fmt]
    with matplotlib.rc_context(_rc()):
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=meta, facecolor="white")
    return buf.getvalue()


def _files(fig, data: pd.DataFrame | None, formats=("png", "pdf", "svg")) -> dict:
    out = {f"figure.{fmt}": save(fig, fmt) for fmt in formats}
    if data is not None:
        out["data.csv"] = data.to_csv(index=False).encode()
    return out


def _aspect(height_px, width_px=None) -> float:
    return float(np.clip((height_px or 340) / (width_px or 800), 0.3, 1.2))


def draw_curves(df: pd.DataFrame, x: str, ys, title: str = "", xlabel: str | None = None, ylabel: str = "",
                labels: dict | None = None, log_x: bool = False, log_y: bool = False, refs: dict | None = None,
                aspect: float = 0.45, markers: bool = False):
    """Lines of the columns ys against x, drawn from the rows of df (each line's gid is 'series-<i>')."""
    import matplotlib

    labels = labels or {}
    with matplotlib.rc_context(_rc()):
        fig = _new(aspect)
        ax = fig.add_subplot()
        drawn = [y for y in ys if y in df and df[y].notna().any()]
        for i, y in enumerate(drawn):
            rows = df[[x, y]].dropna()
            (line,) = ax.plot(rows[x].to_numpy(), rows[y].to_numpy(), label=labels.get(y, y),
                              color=PALETTE[i % len(PALETTE)], lw=1.5, marker="o" if markers else None, ms=3)
            line.set_gid(f"series-{i}")
        for label, value in (refs or {}).items():
            ax.axhline(value, ls=(0, (5, 3)), color="#868e96", lw=1)
            ax.annotate(label, (1, value), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=7,
                        color="#495057")
        ax.set(title=title, xlabel=x if xlabel is None else xlabel, ylabel=ylabel)
        if log_x:
            ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        if len(drawn) > 1:
            ax.legend()
        fig.tight_layout()
    return fig


def curves(df: pd.DataFrame, x: str, ys, title: str, **kw) -> tuple[dict, float]:
    """PNG, PDF and SVG of the curves, and the CSV of exactly the plotted columns (the page's own CSV)."""
    table = df[[x] + [y for y in ys if y in df]]
    fig = draw_curves(table, x, ys, title, **kw)
    return _files(fig, table), fig.get_figheight() / fig.get_figwidth()


def _cmap(scale, reverse=False):
    from matplotlib import colormaps
    from matplotlib.colors import LinearSegmentedColormap, to_rgb

    if isinstance(scale, str):
        name = next((n for n in colormaps if n.lower() == scale.lower()), "viridis")
        cmap = colormaps[name]
    elif scale:
        def rgb(c):
            if isinstance(c, str) and c.startswith("rgb"):
                return tuple(float(v) / 255 for v in c[c.index("(") + 1:c.index(")")].split(",")[:3])
            return to_rgb(c)
        cmap = LinearSegmentedColormap.from_list("plotly", [(float(p), rgb(c)) for p, c in scale])
    else:
        cmap = colormaps["viridis"]
    return cmap.reversed() if reverse else cmap


def _mpl_color(c, i):
    if isinstance(c, str):
        if c.startswith("rgba"):
            v = [float(t) for t in c[c.index("(") + 1:c.index(")")].split(",")]
            return (v[0] / 255, v[1] / 255, v[2] / 255, v[3])
        if c.startswith("rgb"):
            v = [float(t) for t in c[c.index("(") + 1:c.index(")")].split(",")]
            return (v[0] / 255, v[1] / 255, v[2] / 255)
        return c
    return PALETTE[i % len(PALETTE)]


def _positions(values):
    """Category labels -> 0, 1, 2, ... (numbers stay numbers)."""
    a = np.asarray(values)
    if a.dtype.kind in "iuf":
        return a.astype(float), None
    return np.arange(len(a), dtype=float), [str(v) for v in a]


def _trace(ax, t, i, nbars, ibar, fig, cbar):
    kind = t["type"]
    name = t.get("name") or None
    if kind in ("scatter", "scattergl"):
        x, y = t.get("x"), t.get("y")
        if y is None:
            return
        x = list(range(len(y))) if x is None else x
        xp, xcat = _positions(x)
        yp = np.asarray([np.nan if v is None else v for v in y], dtype=float) if np.asarray(y).dtype.kind != "U" \
            else _positions(y)[0]
        mode = t.get("mode") or ("lines" if len(xp) > 20 else "lines+markers")
        color = t.get("line_color") or (t.get("color") if isinstance(t.get("color"), str) else None)
        color = _mpl_color(color, i)
        if "lines" in mode:
            (ln,) = ax.plot(xp, yp, color=color, lw=t.get("line_width") or 1.5, label=name,
                            ls=DASHES.get(t.get("dash"), "-"), marker="o" if "markers" in mode else None, ms=3)
            ln.set_gid(f"series-{i}")
            if t.get("fill") in ("tozeroy", "toself"):
                ax.fill_between(xp, yp, alpha=0.25, color=color, lw=0) if t["fill"] == "tozeroy" \
                    else ax.fill(xp, yp, alpha=0.25, color=color, lw=0)
        elif "markers" in mode:
            c = t.get("color")
            size = t.get("size")
            s = 12 if not isinstance(size, (int, float)) else float(size) ** 2 / 3
            if isinstance(c, list) and len(c) == len(xp) and not isinstance(c[0], str):
                sc = ax.scatter(xp, yp, c=np.asarray(c, float), s=s, cmap=_cmap(t.get("colorscale")), label=name,
                                alpha=t.get("opacity") or 0.9, lw=0)
            else:
                cc = [_mpl_color(v, i) for v in c] if isinstance(c, list) and len(c) == len(xp) else _mpl_color(c, i)
                sc = ax.scatter(xp, yp, c=cc if isinstance(cc, list) else [cc], s=s, label=name,
                                alpha=t.get("opacity") or 0.9, lw=0)
            sc.set_gid(f"series-{i}")
        if xcat:
            ax.set_xticks(xp, xcat)
    elif kind == "bar":
        x, y = t.get("x"), t.get("y")
        if t.get("orientation") == "h":
            cat, val = y, x
        else:
            cat, val = x, y
        if val is None:
            return
        cat = list(range(len(val))) if cat is None else cat
        pos, labels = _positions(cat)
        w = 0.8 / max(nbars, 1)
        off = (ibar - (nbars - 1) / 2) * w
        c = t.get("color")
        col = [_mpl_color(v, i) for v in c] if isinstance(c, list) else _mpl_color(c, i)
        val = np.asarray([np.nan if v is None else v for v in val], dtype=float)
        if t.get("orientation") == "h":
            ax.barh(pos + off, val, height=w, color=col, label=name)
            if labels:
                ax.set_yticks(pos, labels)
        else:
            ax.bar(pos + off, val, width=w, color=col, label=name)
            if labels:
                ax.set_xticks(pos, labels, rotation=0 if max(len(s) for s in labels) < 6 else 30, ha="right"
                              if max(len(s) for s in labels) >= 6 else "center")
    elif kind in ("heatmap", "contour"):
        z = np.asarray(t.get("z", []), dtype=float)
        if z.ndim != 2:
            return
        x, y = t.get("x"), t.get("y")
        xs, xcat = _positions(x) if x is not None and len(x) == z.shape[1] else (np.arange(z.shape[1], dtype=float),
                                                                                 None)
        ys, ycat = _positions(y) if y is not None and len(y) == z.shape[0] else (np.arange(z.shape[0], dtype=float),
                                                                                 None)
        cmap = _cmap(t.get("colorscale"), bool(t.get("reversescale")))
        lo, hi = t.get("zmin"), t.get("zmax")
        if t.get("zmid") is not None and (lo is None or hi is None):
            r = np.nanmax(np.abs(z - t["zmid"]))
            lo, hi = t["zmid"] - r, t["zmid"] + r
        if kind == "heatmap":
            m = ax.pcolormesh(xs, ys, z, cmap=cmap, vmin=lo, vmax=hi, shading="nearest")
            m.set_gid(f"series-{i}")
            if t.get("showscale", True) and cbar:
                fig.colorbar(m, ax=ax, fraction=0.046, pad=0.02)
            ax.grid(False)
        else:
            c = t.get("contours") or {}
            levels = [c["start"]] if c.get("start") is not None and c.get("start") == c.get("end") else 8
            ax.contour(xs, ys, z, levels=levels, colors=[t.get("line_color") or "#1f2430"], linewidths=1)
        if xcat:
            ax.set_xticks(xs, xcat)
        if ycat:
            ax.set_yticks(ys, ycat)


def _axes_for(fig, spec):
    """One matplotlib axes per plotly (xaxis, yaxis) pair, placed at the plotly domains."""
    pairs = []
    for t in spec["traces"]:
        p = (t.get("xaxis") or "x", t.get("yaxis") or "y", t["type"] == "scatter3d")
        if p not in pairs:
            pairs.append(p)
    if not pairs:
        pairs = [("x", "y", False)]
    axes = {}
    L, B, W, H = 0.1, 0.13, 0.86, 0.74
    for xa, ya, three in pairs:
        dx = spec["axes"].get(xa, {}).get("domain") or [0, 1]
        dy = spec["axes"].get(ya, {}).get("domain") or [0, 1]
        rect = [L + dx[0] * W, B + dy[0] * H, (dx[1] - dx[0]) * W * (0.92 if len(pairs) > 1 else 1),
                (dy[1] - dy[0]) * H * (0.9 if len(pairs) > 1 else 1)]
        axes[(xa, ya, three)] = fig.add_axes(rect, projection="3d" if three else None)
    return axes


def _axis(ax, which, a):
    if not a:
        return
    if not a.get("visible", True):
        getattr(ax, f"{which}axis").set_visible(False)
        ax.grid(False)
    getattr(ax, f"set_{which}label")(a.get("title") or "")
    if a.get("type") == "log":
        getattr(ax, f"set_{which}scale")("log")
    rng = a.get("range")
    if rng and len(rng) == 2 and None not in rng:
        lo, hi = (10 ** v for v in rng) if a.get("type") == "log" else rng
        getattr(ax, f"set_{which}lim")(lo, hi)
    if a.get("autorange") == "reversed":
        getattr(ax, f"invert_{which}axis")()
    if a.get("tickvals") and a.get("ticktext") and len(a["tickvals"]) == len(a["ticktext"]):
        getattr(ax, f"set_{which}ticks")(a["tickvals"], [str(s) for s in a["ticktext"]])
    if not a.get("showticklabels", True):
        getattr(ax, f"set_{which}ticklabels")([])


def _plain_text(s) -> str:
    import re

    return re.sub(r"<br\s*/?>", "\n", re.sub(r"<(?!br)[^>]+>", "", str(s or "")))


def draw_chart(spec: dict):
    """The traces of `chart.read`'s spec drawn again: lines, markers, bars, heatmaps, contours, 3-D points; the
    reference lines and rectangles of the layout; its labels."""
    import matplotlib

    aspect = _aspect(spec.get("height"), spec.get("width"))
    with matplotlib.rc_context(_rc()):
        fig = _new(aspect)
        axes = _axes_for(fig, spec)
        bars = [t for t in spec["traces"] if t["type"] == "bar"]
        heat = sum(t["type"] == "heatmap" for t in spec["traces"])
        for i, t in enumerate(spec["traces"]):
            ax = axes[(t.get("xaxis") or "x", t.get("yaxis") or "y", t["type"] == "scatter3d")]
            if t["type"] == "scatter3d":
                ax.scatter(t.get("x"), t.get("y"), t.get("z"), s=3, c=[_mpl_color(c, i) for c in t["color"]]
                           if isinstance(t.get("color"), list) and isinstance(t["color"][0], str) else None)
                continue
            _trace(ax, t, i, len(bars), bars.index(t) if t in bars else 0, fig, heat <= 2)
        for (xa, ya, three), ax in axes.items():
            if three:
                continue
            _axis(ax, "x", spec["axes"].get(xa))
            _axis(ax, "y", spec["axes"].get(ya))
            if spec["axes"].get(ya, {}).get("scaleanchor"):
                ax.set_aspect("equal", adjustable="datalim")
        first = next(iter(axes.values()))
        for s in spec["shapes"]:
            ax = axes.get(((s.get("xref") or "x").split()[0], (s.get("yref") or "y").split()[0], False), first)
            kw = dict(color=_mpl_color(s.get("color") or "#868e96", 0), ls=DASHES.get(s.get("dash"), "-"), lw=1)
            xdom, ydom = "domain" in str(s.get("xref")), "domain" in str(s.get("yref"))
            if s.get("type") == "line" and xdom and not ydom:
                ax.axhline(s["y0"], **kw)
            elif s.get("type") == "line" and ydom and not xdom:
                ax.axvline(s["x0"], **kw)
            elif s.get("type") == "rect" and xdom:
                ax.axhspan(s["y0"], s["y1"], color=_mpl_color(s.get("fill") or "#868e96", 0),
                           alpha=s.get("opacity") or 0.2, lw=0)
            elif s.get("type") == "rect" and ydom:
                ax.axvspan(s["x0"], s["x1"], color=_mpl_color(s.get("fill") or "#868e96", 0),
                           alpha=s.get("opacity") or 0.2, lw=0)
            elif s.get("type") == "line" and None not in (s.get("x0"), s.get("x1"), s.get("y0"), s.get("y1")):
                ax.plot([s["x0"], s["x1"]], [s["y0"], s["y1"]], **kw)
        for a in spec["annotations"]:
            text = _plain_text(a.get("text"))
            if a.get("xref") == "paper" and a.get("yref") == "paper":
                fig.text(0.1 + 0.86 * float(a.get("x") or 0), 0.13 + 0.74 * float(a.get("y") or 0) + 0.01, text,
                         ha="center", va="bottom", fontsize=9)
                continue
            xr, yr = (a.get("xref") or "x").split()[0], (a.get("yref") or "y").split()[0]
            ax = axes.get((xr, yr, False), first)
            if a.get("axref") == xr and a.get("ax") is not None and a.get("showarrow", True):
                ax.annotate("", (a["x"], a["y"]), (a["ax"], a["ay"]),
                            arrowprops=dict(arrowstyle="->", color="#495057", lw=0.8))
            elif text and a.get("x") is not None and a.get("y") is not None:
                xc = "axes fraction" if "domain" in str(a.get("xref")) else "data"
                yc = "axes fraction" if "domain" in str(a.get("yref")) else "data"
                try:
                    ax.annotate(text, (a["x"], a["y"]), xycoords=(xc, yc), fontsize=7, color="#495057",
                                ha={"right": "right", "left": "left"}.get(a.get("xanchor"), "center"))
                except (TypeError, ValueError):
                    pass
        if spec.get("title"):
            fig.suptitle(_plain_text(spec["title"]), x=0.1, ha="left", fontsize=10)
        named = [t for t in spec["traces"] if t.get("name") and t.get("showlegend", True) is not False
                 and t["type"] in ("scatter", "scattergl", "bar")]
        if spec.get("showlegend", True) is not False and len(named) > 1:
            first.legend(ncols=min(3, len(named)), fontsize=7)
        if spec.get("skipped"):
            fig.text(0.01, 0.01, "Not redrawn: " + ", ".join(sorted(set(spec["skipped"]))), fontsize=6,
                     color="#868e96")
    return fig


def chart(fig_dict: dict) -> tuple[str, dict, float]:
    """A plotly figure's dict drawn again: (kind, files, aspect); kind is "heatmap" or "chart"."""
    spec = charts.read(fig_dict)
    kind = charts.kind(spec)
    fig = draw_chart(spec)
    files = _files(fig, charts.table(spec), ("png", "pdf") if kind == "heatmap" else ("png", "pdf", "svg"))
    return kind, files, fig.get_figheight() / fig.get_figwidth()


def grid(img: np.ndarray, gif: bytes | None = None) -> tuple[dict, float]:
    """An image grid (uint8 RGB) as its own pixels in a PNG; an animation's GIF beside it."""
    img = np.asarray(img)
    files = {"figure.png": to_png(img)}
    if gif is not None:
        files["animation.gif"] = gif
    return files, img.shape[0] / img.shape[1]


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{v:.4g}"
    return str(v)


def draw_table(df: pd.DataFrame, title: str = "", max_rows: int = 40):
    """The table drawn as a picture: header row, then up to max_rows rows (a note when more)."""
    import matplotlib

    shown = df.head(max_rows)
    cells = [[textwrap.shorten(_cell(v), 28) for v in row] for row in shown.itertuples(index=False)]
    cols = [textwrap.fill(str(c), 18) for c in df.columns]
    rows = len(cells) + 1 + max(c.count("\n") for c in cols)
    aspect = float(np.clip((0.45 + 0.21 * rows) / WIDTH, 0.15, 1.4))  # ~0.21 in per row, a title above
    with matplotlib.rc_context(_rc()):
        fig = _new(aspect)
        ax = fig.add_axes([0.01, 0.02, 0.98, 0.9 if title else 0.96])
        ax.axis("off")
        tab = ax.table(cellText=cells or [[""] * len(cols)], colLabels=cols, loc="upper center", cellLoc="center")
        tab.auto_set_font_size(False)
        tab.set_fontsize(7)
        tab.scale(1, 1.25)
        for (r, _), cell in tab.get_celld().items():
            cell.set_edgecolor("#dee2e6")
            if r == 0:
                cell.set_facecolor("#f1f3f5")
                cell.set_text_props(weight="bold")
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=10)
        if len(df) > max_rows:
            fig.text(0.01, 0.0, f"First {max_rows} of {len(df)} rows (all in the CSV).", fontsize=6, color="#868e96",
                     parse_math=False)
    return fig


def table(df: pd.DataFrame, title: str = "") -> tuple[dict, float]:
    """The CSV of the table (index kept when it is not a plain 0..n-1) and its picture (PNG, PDF)."""
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    fig = draw_table(df, title)
    files = _files(fig, df, ("png", "pdf"))
    return files, fig.get_figheight() / fig.get_figwidth()
