"""Figures every page shares: image grids with PNG download, curves with CSV download, tables.

One look for all plots (white background, readable fonts, high-resolution PNG from the camera
button), so a screenshot or an exported figure can go straight into a report. Every helper that draws a
figure (show_figure, show_curves, show_grid, show_grids, show_filters, show_animation, show_table, show_image)
also draws the small "Add to report" button (explorer.report_ui.offer): no page writes it by hand.
"""
from __future__ import annotations

import io
import re
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.images import normalize_each, tile, to_png
from core.report import render
from core.report.render import PALETTE  # noqa: F401  (the app's colours: plots.PALETTE for pages)
from explorer import report_ui

CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                "#17becf"]  # ten classes, ten distinct hues (D3's category10): scatter plots coloured by digit
FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13, color="#1f2430")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "figure"


def style(fig: go.Figure, title: str = "", xlabel: str = "", ylabel: str = "", height: int = 340,
          log_x: bool = False, log_y: bool = False, legend: bool = True) -> go.Figure:
    fig.update_layout(template="plotly_white", title=dict(text=title, x=0.01, font=dict(size=15)), font=FONT,
                      height=height, margin=dict(l=60, r=20, t=50 if title else 20, b=50), colorway=PALETTE,
                      showlegend=legend, legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
                      hovermode="x unified")
    fig.update_xaxes(title=xlabel, type="log" if log_x else None, showline=True, linecolor="#adb5bd", mirror=True,
                     gridcolor="#e9ecef")
    fig.update_yaxes(title=ylabel, type="log" if log_y else None, showline=True, linecolor="#adb5bd", mirror=True,
                     gridcolor="#e9ecef")
    return fig


def show_figure(fig: go.Figure, key: str | None = None, filename: str | None = None, report: bool = True,
                caption: str = "", **select):
    """Draw a plotly figure; its camera button saves a 2x PNG named after the title; "Add to report" below it
    (report=False: no button, for a helper that offers the figure itself). `select` (on_select, selection_mode)
    goes to st.plotly_chart; returns what it returns (the selection event when on_select is set)."""
    name = filename or _slug(fig.layout.title.text or "figure")
    event = st.plotly_chart(fig, theme=None, key=key, config={
        "displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": name}}, **select)
    if report:
        report_ui.offer(key or f"fig-{name}", fig.layout.title.text or name.replace("-", " "),
                        lambda: render.chart(fig.to_dict()), caption, {"plotly_chart": 1})
    return event


def line_figure(df: pd.DataFrame, x: str, ys: Sequence[str], title: str = "", xlabel: str | None = None,
                ylabel: str = "", labels: dict | None = None, log_x: bool = False, log_y: bool = False,
                markers: bool = False, height: int = 340, legend_below: bool = False) -> go.Figure:
    """Lines of the columns ys against x; legend_below puts the legend under the plot (for narrow columns)."""
    fig = go.Figure()
    labels = labels or {}
    for y in ys:
        if y in df and df[y].notna().any():
            fig.add_trace(go.Scatter(x=df[x], y=df[y], name=labels.get(y, y), mode="lines+markers" if markers else "lines"))
    style(fig, title, xlabel if xlabel is not None else x, ylabel, height, log_x, log_y)
    if legend_below:
        fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.28, x=0, xanchor="left"), margin=dict(b=90))
    return fig


def download_csv(df: pd.DataFrame, name: str, key: str, label: str = "CSV") -> None:
    st.download_button(f"⬇ {label}", df.to_csv(index=False).encode(), file_name=f"{_slug(name)}.csv",
                       mime="text/csv", key=key, on_click="ignore")


def show_curves(df: pd.DataFrame, x: str, ys: Sequence[str], title: str, key: str,
                refs: dict[str, float] | None = None, **kw) -> None:
    """A line chart plus a CSV download of exactly the plotted table; `refs`: labelled horizontal reference lines."""
    fig = line_figure(df, x, ys, title, **kw)
    for label, value in (refs or {}).items():
        fig.add_hline(y=value, line_dash="dash", line_color="#868e96", line_width=1, annotation_text=label,
                      annotation_position="top right", annotation_font_size=11, annotation_font_color="#495057")
    if refs and not kw.get("log_y"):  # autorange ignores the lines: make room for them and their labels
        vals = [v for y in ys if y in df for v in df[y].dropna()] + list(refs.values())
        lo, hi = min(vals), max(vals)
        pad = 0.08 * (hi - lo or 1.0)
        fig.update_yaxes(range=[lo - pad, hi + pad])
    show_figure(fig, key=f"fig-{key}", report=False)
    table = df[[x] + [y for y in ys if y in df]]
    opts = {k: kw[k] for k in ("xlabel", "ylabel", "labels", "log_x", "log_y", "markers") if k in kw}
    with st.container(horizontal=True, gap="small"):
        download_csv(table, title, key=f"csv-{key}", label="CSV of this plot")
        report_ui.offer(f"curves-{key}", title,
                        lambda: ("curves", *render.curves(table, x, ys, title, refs=refs, **opts)),
                        elements={"plotly_chart": 1})


def grid_image(X, shape, ncols: int | None = None, scale: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile images; small images are scaled up (nearest neighbour) so they stay crisp."""
    if scale is None:
        scale = max(1, 84 // max(shape[1], shape[2]))
    return tile(X, shape, ncols=ncols, scale=scale, pad=pad)


def show_grid(X, shape, title: str, key: str, ncols: int | None = None, caption: str | None = None,
              scale: int | None = None, download: bool = True, report: bool = True) -> np.ndarray:
    """Draw an image grid with a title, an optional caption, a PNG download and "Add to report" (report=False:
    none, for a helper that offers several grids as one); return the picture."""
    img = grid_image(X, shape, ncols, scale)
    st.markdown(f"**{title}**")
    st.image(img, caption=caption, width="stretch")
    if download or report:
        with st.container(horizontal=True, gap="small"):
            if download:
                st.download_button("⬇ PNG", to_png(img), file_name=f"{_slug(title)}.png", mime="image/png",
                                   key=f"png-{key}", on_click="ignore")
            if report:
                report_ui.offer(f"grid-{key}", title, lambda: ("grid", *render.grid(img)), caption or "",
                                {"image": 1})
    return img


def show_grids(panels: Sequence[tuple[str, np.ndarray]], shape, key: str, ncols: int | None = None,
               caption: str | None = None) -> None:
    """Several grids side by side (e.g. original / masked / reconstructed), one PNG for all."""
    cols = st.columns(len(panels))
    imgs = []
    for col, (title, X) in zip(cols, panels):
        with col:
            imgs.append(show_grid(X, shape, title, key=f"{key}-{_slug(title)}", ncols=ncols, download=False,
                                  report=False))
    if caption:
        st.caption(caption)
    h = max(i.shape[0] for i in imgs)
    gap = np.full((h, 12, 3), 255, np.uint8)
    row = [np.pad(i, ((0, h - i.shape[0]), (0, 0), (0, 0)), constant_values=255) for i in imgs]
    both = np.concatenate([p for r in row for p in (r, gap)][:-1], axis=1)
    with st.container(horizontal=True, gap="small"):
        st.download_button("⬇ PNG of these grids", to_png(both), file_name=f"{_slug(key)}.png", mime="image/png",
                           key=f"png-{key}", on_click="ignore")
        names = " / ".join(t for t, _ in panels)
        report_ui.offer(f"grids-{key}", names, lambda: ("grid", *render.grid(both)),
                        f"Panels, left to right: {names}. {caption or ''}".strip(), {"image": len(panels)})


def show_filters(W, shape, title: str, key: str, n: int = 64, ncols: int | None = None,
                 caption: str | None = None) -> np.ndarray:
    """The first n rows of W (one filter per row) as images, each scaled to its own range."""
    return show_grid(normalize_each(np.asarray(W)[:n]), shape, title, key, ncols=ncols, caption=caption)


def side_by_side(left: np.ndarray, right: np.ndarray, shape, ncols: int, gap: int = 16, scale: int = 2) -> np.ndarray:
    """Two tiled grids next to each other with a white gap (one picture, e.g. one frame of two chains)."""
    a = tile(left, shape, ncols=ncols, scale=scale, pad=1)
    b = tile(right, shape, ncols=ncols, scale=scale, pad=1)
    return np.concatenate([a, np.full((a.shape[0], gap, 3), 255, np.uint8), b], axis=1)


def gif(frames: Sequence[np.ndarray], ms: int = 250) -> bytes:
    """An animated GIF (looping, last frame held longer) of uint8 RGB pictures of one size."""
    from PIL import Image

    imgs = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    durations = [ms] * (len(imgs) - 1) + [ms * 8]
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=durations, loop=0)
    return buf.getvalue()


def show_animation(frames: Sequence[np.ndarray], title: str, key: str, caption: str | None = None, ms: int = 250,
                   width: int | None = None) -> bytes:
    """An animated GIF of the frames with a title, a caption and a GIF download; returns the GIF."""
    animation = gif(frames, ms)
    st.markdown(f"**{title}**")
    st.image(animation, caption=caption, width=width or min(900, frames[-1].shape[1] * 2))
    with st.container(horizontal=True, gap="small"):
        st.download_button("⬇ GIF", animation, file_name=f"{_slug(title)}.gif", mime="image/gif",
                           key=f"gif-{key}", on_click="ignore")
        report_ui.offer(f"gif-{key}", title, lambda: ("grid", *render.grid(frames[-1], animation)),
                        f"{caption or ''} Last frame of the animation (the GIF is beside it).".strip(), {"image": 1})
    return animation


def show_table(df, title: str, key: str, caption: str | None = None, csv: bool = False, **kwargs):
    """st.dataframe of a DataFrame or a Styler (kwargs go to st.dataframe), with "Add to report" (the table's CSV
    and its picture; `title` names it there, it is not drawn) and, with csv=True, a CSV download. Returns the row of
    buttons under the table (`with` it to put another download beside them)."""
    data = df.data if hasattr(df, "data") and hasattr(df, "format") else df  # a Styler's DataFrame
    st.dataframe(df, **kwargs)
    row = st.container(horizontal=True, gap="small")
    with row:
        if csv:
            download_csv(data, title, key=f"csv-{key}", label="CSV of this table")
        report_ui.offer(f"table-{key}", title, lambda: ("table", *render.table(data, title)), caption or "",
                        {"dataframe": 1})
    return row


def show_image(img: np.ndarray, title: str, key: str, caption: str | None = None, width="stretch",
               heading: bool = True) -> None:
    """One picture (uint8, RGB or grey) under its bold title (heading=False: the title only names it in the
    report), with an optional caption and "Add to report"; width goes to st.image."""
    if heading:
        st.markdown(f"**{title}**")
    st.image(img, caption=caption, width=width)
    report_ui.offer(f"image-{key}", title, lambda: ("grid", *render.grid(img)), caption or "", {"image": 1})
