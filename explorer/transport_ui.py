"""What the optimal-transport pages share: measure widgets, cached POT calls, image uploads, and
the lab's figures (plan heatmap with its marginals, arrows, RGB point clouds, channel histograms)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import uploads
from core.transport import color, interpolation, plans
from explorer.plots import FONT, PALETTE, style
from explorer.widgets import Controls

REG_NOTE = ("POT's `reg` is **1/λ**: `ot.sinkhorn(a, b, M, reg=1/λ)` solves "
            "min ⟨P, M⟩ − h(P)/λ. Costs are scaled to a maximum of 1, so λ = 100 means an entropy "
            "bonus worth 1/100 of the largest cost.")

# --------------------------------------------------------------------------------------------
# Widgets
# --------------------------------------------------------------------------------------------


def mixture_controls(ctrl: Controls, name: str, key: str, default: plans.Mixture1D) -> plans.Mixture1D:
    """Two Gaussian bumps: centres, widths, and the second bump's share of the mass."""
    ctrl.where.markdown(f"**Measure {name}: a mixture of two Gaussians**")
    m1 = ctrl.slider(f"{name}: centre 1", f"{key}m1", 0.0, 1.0, default.means[0], step=0.01, caption=False)
    s1 = ctrl.slider(f"{name}: width 1", f"{key}s1", 0.01, 0.3, default.stds[0], step=0.01, caption=False)
    m2 = ctrl.slider(f"{name}: centre 2", f"{key}m2", 0.0, 1.0, default.means[1], step=0.01, caption=False)
    s2 = ctrl.slider(f"{name}: width 2", f"{key}s2", 0.01, 0.3, default.stds[1], step=0.01, caption=False)
    w2 = ctrl.slider(f"{name}: mass of bump 2", f"{key}w2", 0.0, 1.0, default.weights[1] / sum(default.weights),
                     step=0.05, caption=False)
    return plans.Mixture1D((m1, m2), (s1, s2), (1 - w2, w2))


DEFAULT_A = plans.Mixture1D((0.2, 0.45), (0.04, 0.06), (0.6, 0.4))
DEFAULT_B = plans.Mixture1D((0.65, 0.85), (0.08, 0.03), (0.7, 0.3))


def two_measures(ctrl: Controls, n: int, allow_values: bool = True):
    """The two 1-D measures a and b on one grid, from mixture sliders, a drawn table or pasted values.
    Returns (x, a, b, notes)."""
    specs = {}
    for name, key, default in (("a", "a", DEFAULT_A), ("b", "b", DEFAULT_B)):
        kind = ctrl.select(f"Measure {name}", f"{key}kind", ["mixture", "drawn", "values"], "mixture",
                           horizontal=True, caption=False,
                           labels={"mixture": "Gaussian mixture", "drawn": "draw it", "values": "my values"}) \
            if allow_values else "mixture"
        if kind == "drawn":
            ctrl.where.markdown(f"**Measure {name}: edit the heights** (straight lines in between)")
            knots = np.round(np.linspace(0, 1, 21), 2)
            start = plans.mixture(knots, default)
            table = ctrl.where.data_editor(pd.DataFrame({"position": knots, "height": np.round(start / start.max(), 2)}),
                                           key=f"{key}draw", hide_index=True, num_rows="dynamic")
            pos = pd.to_numeric(table["position"], errors="coerce").to_numpy(float)
            hts = pd.to_numeric(table["height"], errors="coerce").to_numpy(float)
            try:
                specs[name] = plans.Drawn(tuple(pos), tuple(hts))
            except ValueError as exc:
                st.error(f"Measure {name}: {exc}. Using the default mixture instead.", icon=":material/warning:")
                specs[name] = default
        elif kind == "values":
            text = ctrl.where.text_area(f"Values of {name} (numbers separated by spaces, commas or new lines; "
                                        "or upload a CSV/TXT below)", key=f"{key}vals",
                                        value="0.1 0.12 0.15 0.2 0.22 0.3 0.31 0.33 0.4 0.42" if key == "a"
                                        else "0.6 0.62 0.7 0.75 0.77 0.8 0.9 0.92")
            up = ctrl.where.file_uploader(f"…or a file of values for {name}", type=None, key=f"{key}file")
            if up is not None:
                try:
                    text = up.getvalue().decode("utf-8", errors="replace")
                except Exception:  # noqa: BLE001 - anything unreadable is reported below
                    text = ""
            try:
                specs[name] = plans.parse_values(text)
            except ValueError as exc:
                st.error(f"Measure {name}: {exc}. Using the default mixture instead.", icon=":material/warning:")
                specs[name] = default
        else:
            specs[name] = mixture_controls(ctrl, name, key, default)
    x, out, notes = plans.measures_on_grid(specs, n)
    return x, out["a"], out["b"], notes


# --------------------------------------------------------------------------------------------
# Cached computations (shared by every session: never modify what they return)
# --------------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def exact_plan(a: np.ndarray, b: np.ndarray, M: np.ndarray) -> np.ndarray:
    return plans.exact_plan(a, b, M)


@st.cache_data(show_spinner=False, max_entries=256)
def sinkhorn(a: np.ndarray, b: np.ndarray, M: np.ndarray, lam: float) -> plans.SinkhornResult:
    return plans.sinkhorn(a, b, M, lam)


@st.cache_data(show_spinner="Sweeping λ over the whole slider…", max_entries=32)
def sinkhorn_sweep(a: np.ndarray, b: np.ndarray, M: np.ndarray, lams: tuple) -> list[dict]:
    """Through the cached single solves, so that moving the λ slider afterwards is instant."""
    return [sinkhorn(a, b, M, float(lam)).row() for lam in lams]


@st.cache_data(show_spinner="Entropic barycenter…", max_entries=64)
def barycenter(a: np.ndarray, b: np.ndarray, M: np.ndarray, t: float, lam: float) -> interpolation.Barycenter:
    return interpolation.entropic_barycenter(a, b, M, t, lam)


@st.cache_data(show_spinner=False, max_entries=16)
def sample_image(name: str) -> np.ndarray:
    return color.sample_image(name)


@st.cache_data(show_spinner=False, max_entries=16)
def _load_upload(data: bytes, name: str) -> uploads.LoadedImage:
    return uploads.load_image(data, name)


def read_upload(data: bytes, name: str) -> tuple[uploads.LoadedImage | None, str | None]:
    """The page's loader: (image, None) or (None, one-line error). Never raises for bad input."""
    try:
        return _load_upload(data, name), None
    except uploads.ImageError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a last guard: the page must not show a traceback
        return None, f"{name} could not be read ({type(exc).__name__})."


def image_input(label: str, key: str, default: str, where=None) -> tuple[np.ndarray, str]:
    """An uploader with a bundled photo as default. Returns (uint8 RGB image, its name).
    A bad upload gets one line of error and the default photo; conversions get a note."""
    where = where if where is not None else st
    up = where.file_uploader(label, key=key, help="Any size and common format (PNG, JPEG, GIF, BMP, TIFF, WebP). "
                             "Large images are downscaled to 1024 pixels on their longer side.")
    if up is not None:
        loaded, error = read_upload(up.getvalue(), up.name)
        if error:
            where.error(f"{error} Showing the default photo ({default}) instead.", icon=":material/warning:")
        else:
            for note in loaded.notes:
                where.caption(f"ℹ️ {note}")
            return loaded.image, up.name
    return sample_image(default), default


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def measures_figure(x: np.ndarray, curves: dict, title: str = "", height: int = 300, dash: dict | None = None,
                    fill: bool = True) -> go.Figure:
    fig = go.Figure()
    dash = dash or {}
    for i, (name, w) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=x, y=w, name=name, mode="lines", line=dict(width=2.2, dash=dash.get(name)),
                                 fill="tozeroy" if fill and name not in dash else None))
    return style(fig, title, "position x", "mass per grid point", height=height)


PLAN_COLORS = [[0.0, "#ffffff"], [0.05, "#c5d5f5"], [0.3, "#6f8fe0"], [0.6, "#3559c7"], [1.0, "#0b1f66"]]


def plan_figure(P: np.ndarray, a: np.ndarray, b: np.ndarray, xs: np.ndarray | None = None,
                xt: np.ndarray | None = None, title: str = "Transport plan P", height: int = 460,
                source_label: str = "source a", target_label: str = "target b") -> go.Figure:
    """P as a heatmap (rows: source, columns: target) with a on its left-hand side and b on top."""
    n, m = P.shape
    ys = np.arange(n) if xs is None else xs
    xt_ = np.arange(m) if xt is None else xt
    fig = make_subplots(rows=2, cols=2, column_widths=[0.2, 0.8], row_heights=[0.22, 0.78],
                        shared_xaxes="columns", shared_yaxes="rows", horizontal_spacing=0.015,
                        vertical_spacing=0.02)
    fig.add_trace(go.Heatmap(z=P, x=xt_, y=ys, colorscale=PLAN_COLORS, zmin=0, showscale=True, name="P",
                             colorbar=dict(title="mass", thickness=12, len=0.75, y=0.39),
                             hovertemplate="source %{y:.3g} → target %{x:.3g}: %{z:.3g}<extra></extra>"),
                  row=2, col=2)
    fig.add_trace(go.Scatter(x=xt_, y=b, mode="lines", fill="tozeroy", name=target_label,
                             line=dict(color=PALETTE[1])), row=1, col=2)
    fig.add_trace(go.Scatter(x=a, y=ys, mode="lines", fill="tozerox", name=source_label,
                             line=dict(color=PALETTE[0])), row=2, col=1)
    fig.update_xaxes(autorange="reversed", row=2, col=1, showticklabels=False)
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    fig.update_xaxes(title=target_label + (" (index)" if xt is None else ""), row=2, col=2)
    fig.update_yaxes(title=source_label + (" (index)" if xs is None else ""), row=2, col=1)
    fig.update_layout(template="plotly_white", font=FONT, height=height, showlegend=False,
                      title=dict(text=title, x=0.01, font=dict(size=15)), margin=dict(l=60, r=20, t=50, b=50))
    fig.update_xaxes(visible=False, row=1, col=1)
    fig.update_yaxes(visible=False, row=1, col=1)
    return fig


def arrows_figure(src: np.ndarray, tgt: np.ndarray, P: np.ndarray, r: np.ndarray | None = None,
                  k: np.ndarray | None = None, title: str = "", height: int = 480, max_width: float = 12.0,
                  src_label: str = "factories", tgt_label: str = "stores", min_share: float = 0.01,
                  labels: bool = True, point_size: float | None = None) -> go.Figure:
    """Arrows from source points to target points, width proportional to the mass they carry.
    Entries below min_share of the largest are not drawn (a note says how much mass that is)."""
    r = P.sum(1) if r is None else np.asarray(r)
    k = P.sum(0) if k is None else np.asarray(k)
    fig = go.Figure()
    big = P.max() if P.size else 1.0
    idx = np.argwhere(P > min_share * big)
    if len(idx) > 600:  # keep the figure light: the 600 heaviest flows
        order = np.argsort(P[idx[:, 0], idx[:, 1]])[::-1][:600]
        idx = idx[order]
    groups = 6
    widths = P[idx[:, 0], idx[:, 1]] / big if len(idx) else np.array([])
    bins = np.minimum((widths * groups).astype(int), groups - 1) if len(idx) else np.array([], int)
    for g in range(groups):
        sel = idx[bins == g]
        if not len(sel):
            continue
        xs, ys = [], []
        for i, j in sel:
            xs += [src[i, 0], tgt[j, 0], None]
            ys += [src[i, 1], tgt[j, 1], None]
        w = max(0.6, max_width * (g + 1) / groups)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(width=w, color="rgba(53,89,199,0.55)"),
                                 hoverinfo="skip", showlegend=False))
    if len(idx) <= 60:
        for i, j in idx:  # arrowheads
            fig.add_annotation(x=tgt[j, 0], y=tgt[j, 1], ax=src[i, 0], ay=src[i, 1], xref="x", yref="y",
                               axref="x", ayref="y", showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1.2,
                               arrowcolor="rgba(53,89,199,0.9)", standoff=9, text="")
    size = lambda v: (10 + 26 * np.sqrt(np.asarray(v) / max(np.max(r), np.max(k), 1e-12))  # noqa: E731
                      if point_size is None else point_size)
    fig.add_trace(go.Scatter(x=src[:, 0], y=src[:, 1], mode="markers+text" if labels else "markers",
                             name=src_label, marker=dict(symbol="square", size=size(r), color=PALETTE[1],
                                                         line=dict(color="white", width=1)),
                             text=[f"{v:.3g}" for v in r] if labels else None, textposition="top center",
                             hovertemplate=f"{src_label[:-1] if src_label.endswith('s') else src_label} %{{text}}<extra></extra>"
                             if labels else None))
    fig.add_trace(go.Scatter(x=tgt[:, 0], y=tgt[:, 1], mode="markers+text" if labels else "markers",
                             name=tgt_label, marker=dict(symbol="circle", size=size(k), color=PALETTE[2],
                                                         line=dict(color="white", width=1)),
                             text=[f"{v:.3g}" for v in k] if labels else None, textposition="bottom center"))
    style(fig, title, "", "", height=height)
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def rgb_cloud(img: np.ndarray, title: str, n: int = 2500, seed: int = 0, height: int = 380) -> go.Figure:
    """The image's colours as points in the RGB cube, each drawn in its own colour."""
    X = color.sample_pixels(img.reshape(-1, 3), n, seed)
    cols = [f"rgb({r},{g},{b})" for r, g, b in X]
    fig = go.Figure(go.Scatter3d(x=X[:, 0], y=X[:, 1], z=X[:, 2], mode="markers",
                                 marker=dict(size=2.2, color=cols, opacity=0.9), hoverinfo="skip"))
    axis = dict(range=[0, 255], backgroundcolor="#f4f5f7", gridcolor="#dee2e6")
    fig.update_layout(template="plotly_white", font=FONT, height=height, margin=dict(l=0, r=0, t=40, b=0),
                      title=dict(text=title, x=0.01, font=dict(size=14)), showlegend=False,
                      scene=dict(xaxis=dict(title="R", **axis), yaxis=dict(title="G", **axis),
                                 zaxis=dict(title="B", **axis), aspectmode="cube",
                                 camera=dict(eye=dict(x=1.9, y=1.7, z=1.1), center=dict(x=0, y=0, z=-0.1))))
    return fig


def channel_histograms_figure(images: dict, title: str = "Per-channel histograms", bins: int = 64,
                              height: int = 380) -> go.Figure:
    """Three panels (R, G, B); one line per image."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=["Red", "Green", "Blue"], horizontal_spacing=0.06)
    centres = (np.arange(bins) + 0.5) * 256 / bins
    dashes = ["solid", "dot", "solid", "dash", "dashdot", "longdash"]
    for i, (name, img) in enumerate(images.items()):
        h = color.channel_histograms(img, bins)
        for c in range(3):
            fig.add_trace(go.Scatter(x=centres, y=h[c], mode="lines", name=name, legendgroup=name,
                                     showlegend=c == 0, line=dict(color=PALETTE[i % len(PALETTE)], width=2,
                                                                  dash=dashes[i % len(dashes)])),
                          row=1, col=c + 1)
    style(fig, title, "", "", height=height)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.28, x=0.5, xanchor="center"),
                      margin=dict(b=90))
    for c in range(3):
        fig.update_xaxes(title="level (0-255)", range=[0, 256], row=1, col=c + 1)
    fig.update_yaxes(title="fraction of pixels", row=1, col=1)
    return fig

