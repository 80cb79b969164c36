"""The scoreboard's widgets, cached rows and figures (the rows themselves: core.scoreboard.board)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.cache import DiskCache
from core.data import ImageData
from core.quality import quality_model
from core.scoreboard import board
from core.scoreboard.families import FAMILIES, Family
from explorer import live, plots
from explorer.plots import PALETTE, show_figure, style

SHIPPED = "shipped with the app"


@st.cache_resource(show_spinner="Reading the shipped scoreboard…")
def _shipped_rows() -> dict[str, dict]:
    return board.shipped_rows()


@st.cache_resource(show_spinner="Loading the quality classifier…")
def _quality(name: str, _data: ImageData):
    return quality_model(_data)


def _cache() -> DiskCache:
    return DiskCache()  # the app's cache folder (core.cache.cache_dir), the one live training writes


@st.cache_resource(show_spinner=False, max_entries=4)
def _choices(name: str, listing: tuple, _data: ImageData) -> dict[str, list[tuple[str, str]]]:
    cache = _cache()
    return {f.name: [(SHIPPED, "")] + [(label, key) for key, label in board.own_runs(f, _data, cache)]
            for f in FAMILIES}


def run_choices(data: ImageData) -> dict[str, list[tuple[str, str]]]:
    """{family: [(label, run key)]}: the shipped run first, then the student's finished runs of that kind on the same
    digits (from the disk cache; read again only when the cache folder's files change)."""
    listing = []
    for p in _cache().root.glob("*.pt"):
        try:
            listing.append((p.name, p.stat().st_mtime))
        except OSError:  # written or deleted meanwhile
            pass
    return _choices(data.name, tuple(sorted(listing)), data)


def _shipped_run(f: Family, data: ImageData) -> dict | None:
    cfg = f.default_config()
    return live.shipped_run(f.steps(data, cfg)) if cfg is not None else None


def rows(data: ImageData, chosen: dict[str, str]) -> list[dict]:
    """One row per family: the shipped row when it fits the shipped run, else scored now (with progress) and kept
    in the disk cache; `chosen`: {family: run key of one of the student's runs} (missing: the shipped run)."""
    stored = _shipped_rows()
    out, todo = [], []
    for f in FAMILIES:
        key = chosen.get(f.name, "")
        if not key:
            r = stored.get(f.name)
            if board.usable(r, f, data):  # the cold path: no run loaded
                out.append({**r, "status": "shipped"})
                continue
            result = _shipped_run(f, data)
            if result is not None:
                todo.append((f, result, "shipped"))
        else:
            result = _cache().get(key)
            if result is not None:
                todo.append((f, result, "your run"))
    if todo:
        quality = _quality(data.name, data)
        bar = st.progress(0.0, text="Scoring runs…")
        for i, (f, result, status) in enumerate(todo):
            bar.progress(i / len(todo), text=f"Scoring {f.name} ({i + 1}/{len(todo)}): 1,000 samples, then the "
                                             "classifier; kept for the next visit")
            out.append(board.stored_row(f, result, data, quality, status, _cache()))
        bar.empty()
    order = [f.name for f in FAMILIES]
    return sorted(out, key=lambda r: order.index(r["family"]))


def table(rs: list[dict]) -> pd.DataFrame:
    """The scoreboard as a table (strings where a number needs its spread beside it)."""
    recs = []
    for r in rs:
        ll = "not available: implicit model" if np.isnan(r["ll"]) else (
            f"{r['ll']:.1f}" + (f" ± {r['ll_se']:.1f}" if not np.isnan(r["ll_se"]) else "") +
            (f"  [RAISE {r['ll_low']:.1f}]" if not np.isnan(r["ll_low"]) else ""))
        recs.append({
            "Family": r["family"], "Held-out log-likelihood (nats)": ll,
            "FD to training (floor)": f"{r['fid']:.1f} ± {r['fid_sd']:.1f} ({r['fid_floor']:.1f} ± {r['fid_floor_sd']:.1f})",
            "FD to held-out (floor)": f"{r['fid_heldout']:.1f} ({r['fid_heldout_floor']:.1f} ± "
                                      f"{r['fid_heldout_floor_sd']:.1f})",
            "Classes": (f"{r['classes_covered']}/10" if r["n_classes"] == 10 else
                        f"{r['class_share']:.0%} read as its class"),
            "Diversity": round(r["diversity"], 2),
            "Copy ratio (features)": round(r["copy_features"], 2), "Copy ratio (pixels)": round(r["copy_pixels"], 2),
            "Parameters": f"{r['params'] / 1e6:.2f} M",
            "Training": f"{r['train_seconds']:.0f} s" + (f" ({r['train_cpu_seconds']:.0f} CPU s)"
                                                         if not np.isnan(r["train_cpu_seconds"]) else ""),
            "Run": r["status"], "Page": f"/{r['page']}",
            "Likelihood: how obtained": "" if np.isnan(r["ll"]) else r["ll_method"],
            "Likelihood: can err": r["ll_errs"], "Likelihood: check": r["ll_check"],
            "Kind": r["class"], "Note": r["note"]})
    return pd.DataFrame(recs)


def show_table(rs: list[dict]) -> None:
    df = table(rs)
    row = plots.show_table(df, "Scoreboard: every family on the same held-out digits", key="scoreboard",
                           hide_index=True, width="stretch", height=38 + 35 * len(df), column_config={
        "Page": st.column_config.LinkColumn("Page", display_text="open"),
        "Held-out log-likelihood (nats)": st.column_config.TextColumn(
            help="mean over the 2,000 held-out digits, ± standard error over digits where the run stored it"),
        "FD to training (floor)": st.column_config.TextColumn(
            help="Frechet distance of 1,000 samples to training-digit halves, mean ± sd over 8 draws; in brackets "
                 "what 1,000 new real digits score (the floor) and its spread"),
        "Copy ratio (features)": st.column_config.NumberColumn(
            help="median distance of a sample to its nearest training digit over that of a real held-out digit: "
                 "about 1 new, near 0 copies")})
    row.download_button("Scoreboard as CSV", df.to_csv(index=False).encode(), "scoreboard.csv", "text/csv",
                        key="scoreboard-csv")


METHODS = (  # (words in a row's "ll_method", legend entry, colour index)
    ("exact", "exact (the chain rule)", 2),
    ("RAISE", "AIS with RAISE: a sandwich", 1),
    ("AIS", "AIS + a bound: direction unknown", 3),
    ("importance", "importance sampling: low on average", 0),
)


def _method(r: dict) -> tuple[str, int]:
    return next(((label, c) for word, label, c in METHODS if word in r["ll_method"]), (r["ll_method"], 4))


def _legend_below(fig: go.Figure, rows: int) -> go.Figure:
    fig.update_layout(hovermode="closest", height=140 + 34 * rows, margin=dict(l=10, r=20, t=40, b=110),
                      legend=dict(orientation="h", yanchor="top", y=-0.16 - 1.2 / max(rows, 4), x=0, xanchor="left"))
    return fig


def likelihood_figure(rs: list[dict]) -> go.Figure:
    """Held-out log-likelihood per family, coloured by how it was obtained: a point with its standard error over
    digits where stored; a sandwich drawn from its conservative side (RAISE) to its optimistic side (AIS)."""
    have = sorted([r for r in rs if not np.isnan(r["ll"])], key=lambda r: r["ll"])
    fig = go.Figure()
    for word, label, c in METHODS:
        group = [r for r in have if _method(r)[0] == label]
        if not group:
            continue
        for r in group:
            if not np.isnan(r["ll_low"]):
                fig.add_trace(go.Scatter(x=[r["ll_low"], r["ll"]], y=[r["family"]] * 2, mode="lines",
                                         line=dict(width=7, color=PALETTE[c]), opacity=0.35, showlegend=False,
                                         hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=[r["ll"] for r in group], y=[r["family"] for r in group], mode="markers", name=label,
            marker=dict(size=11, color=PALETTE[c]),
            error_x=dict(type="data", array=[0 if np.isnan(r["ll_se"]) else r["ll_se"] for r in group], visible=True),
            customdata=[[r["ll_errs"], r["ll_check"]] for r in group],
            hovertemplate="%{y}: %{x:.2f} nats<br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>"))
    style(fig, "Held-out log-likelihood (nats per image, higher is better)", "log p(x), nats", "")
    fig.update_yaxes(categoryorder="array", categoryarray=[r["family"] for r in have])
    return _legend_below(fig, len(have))


def quality_figure(rs: list[dict]) -> go.Figure:
    """FD to training and to held-out digits per family (mean ± sd over the draws), log scale, each floor drawn as a
    band (mean ± sd) so 'at the floor' is visible."""
    rs = sorted(rs, key=lambda r: -r["fid"])
    names = [r["family"] for r in rs]
    fig = go.Figure()
    full = [r for r in rs if r["n_classes"] == 10]
    if full:
        for x, sd, c, label in ((full[0]["fid_floor"], full[0]["fid_floor_sd"], 0, "training-digit floor ± sd"),
                                (full[0]["fid_heldout_floor"], full[0]["fid_heldout_floor_sd"], 2,
                                 "held-out floor ± sd")):
            fig.add_trace(go.Scatter(x=[x - sd, x + sd, x + sd, x - sd, x - sd],
                                     y=[names[0], names[0], names[-1], names[-1], names[0]], fill="toself", mode="lines",
                                     fillcolor=PALETTE[c], opacity=0.18, line=dict(width=0), name=label,
                                     hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[r["fid"] for r in rs], y=names, mode="markers", name="to training digits (± sd)",
                             marker=dict(size=11, color=PALETTE[0]),
                             error_x=dict(type="data", array=[r["fid_sd"] for r in rs], visible=True)))
    fig.add_trace(go.Scatter(x=[r["fid_heldout"] for r in rs], y=names, mode="markers", name="to held-out digits",
                             marker=dict(size=11, color=PALETTE[2], symbol="diamond")))
    binary = [r for r in rs if not np.isnan(r.get("fid_binary_real", np.nan))]
    if binary:
        fig.add_trace(go.Scatter(x=[r["fid_binary_real"] for r in binary], y=[r["family"] for r in binary],
                                 mode="markers", name="binarised real digits (floor of 0/1 samples)",
                                 marker=dict(size=12, color=PALETTE[3], symbol="x-thin", line=dict(width=2))))
    style(fig, "Frechet distance of 1,000 samples (lower is better)", "Frechet distance (log scale)", "", log_x=True)
    fig.update_yaxes(categoryorder="array", categoryarray=names)
    return _legend_below(fig, len(rs))


def show_figures(rs: list[dict]) -> None:
    left, right = st.columns(2)
    with left:
        show_figure(likelihood_figure(rs), key="fig-ll", filename="scoreboard-likelihood")
        implicit = [r["family"] for r in rs if np.isnan(r["ll"])]
        if implicit:
            st.caption("No likelihood (implicit models: they define p(x) only through sampling): " + ", ".join(implicit))
    with right:
        show_figure(quality_figure(rs), key="fig-fd", filename="scoreboard-quality")
        st.caption("Bands: what 1,000 new real digits score against the same halves (mean ± sd over 8 draws). "
                   "The DCGAN is scored against the 3s, whose floor is higher.")


def samples_of(r: dict) -> np.ndarray:
    """The row's kept samples as floats in [0, 1], (N_SHOWN, 784)."""
    return np.asarray(r["samples"], np.float32) / 255.0
