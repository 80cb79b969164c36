"""The 2-D GAN playground's widgets, its one live run per session, and its figures (core.playground does the science).

The run lives in ``st.session_state[LIVE]`` (one per session, dropped when another page opens: shell.page_scoped):
{"key": the settings and points it was made with, "live": core.playground.run.Live, "how": how it began}. A new
run opens on its settings trained for a few hundred iterations (core.playground.run.opening, through the lab kit's
disk cache). Play reruns only the training fragment (``st.fragment(run_every=...)``), a few times a second, each time a few iterations; pause keeps
everything; a changed setting or Restart makes a new run from the seed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.playground import objectives as ob
from core.playground import run as pr
from core.playground import score
from core.playground import targets as tg
from core.uploads import TableError, load_two_columns
from explorer import plots, shell
from explorer.live import train_cached
from explorer.widgets import Controls

LIVE = "play.live"  # session state: {"key": settings and points, "live": Live}
PLAYING = "play.playing"  # session state: True while play is on
COLD = "play.cold"  # session state: True once Restart was pressed (the next run starts at iteration 0)
SOURCES = {**tg.TARGETS, "table": "Your points (edit the table)", "upload": "Your points (CSV upload)"}
SPEEDS = (1, 2, 5, 10, 20, 50)  # iterations per redraw
REDRAW_SECONDS = 0.3  # play redraws the training view this often
REAL, FAKE, PUSH = "#2b8a3e", "#6741d9", "#e8590c"
D_SCALE = [[0.0, "#c2255c"], [0.5, "#f8f9fa"], [1.0, "#3559c7"]]  # fake-looking (0) -> undecided -> real-looking (1)
DEFAULT_POINTS = pd.DataFrame({  # a smile: two eyes and a mouth (the table's starting points)
    "x": [-1.0, -1.1, -0.9, 1.0, 1.1, 0.9] + [1.6 * np.cos(t) for t in np.linspace(np.pi * 1.15, np.pi * 1.85, 14)],
    "y": [1.0, 0.9, 0.9, 1.0, 0.9, 0.9] + [1.6 * np.sin(t) + 0.6 for t in np.linspace(np.pi * 1.15, np.pi * 1.85, 14)]})
LOOK_FOR = {
    "minimax": "D's field saturates: where G's points sit, D(x) is near 0 and flat, so log(1 - D) gives G almost no "
               "gradient (short arrows) early on; G can stall while D wins. Compare with the non-saturating loss.",
    "nonsat": "Long arrows where D is confident: -log D(G(z)) pushes hardest exactly where G is worst. Watch mode "
              "hopping: G's points run from one real mode to the next while D chases them, and the 1/2 contour "
              "moves with them.",
    "lsgan": "D's field is a smooth ramp instead of a cliff: points far on the correct side of the boundary still "
             "get pulled towards the data, so the arrows do not vanish as they do under the minimax loss.",
    "wgan-clip": "The critic's field is nearly linear or a coarse ramp: clipping every weight to [-c, c] limits "
                 "what it can draw, and its estimate of W1 is off by an unknown scale (Wasserstein tab).",
    "wgan-gp": "The critic's field stays informative everywhere: slopes of about 1 between G's points and the "
               "data, so every fake point is pulled towards the nearest mode, and the estimate tracks POT's W1.",
    "energy": "The energy is low (dark) on the data and raised where G's points are. Switch the entropy bonus "
              "off: G collapses onto the energy's minimum (one tight blob); with it on, G's points spread out.",
}


# ----------------------------------------------------------------------------- settings

def points_from_upload(file) -> tuple[np.ndarray | None, list[str]]:
    """The x, y columns of an uploaded CSV (core.uploads.load_two_columns), or None after a one-line error."""
    if file is None:
        st.info("Upload a CSV of x,y points (a header row is fine; at most 50,000 rows are read).",
                icon=":material/upload:")
        return None, []
    try:
        cols = load_two_columns(file.getvalue(), file.name, columns="x, y")
    except TableError as exc:
        st.error(str(exc), icon=":material/error:")
        return None, []
    return np.c_[cols.a, cols.b], cols.notes


def target_from(ctrl: Controls) -> tuple[str, tg.Mixture | None, str]:
    """The data widget: (run's target name, the target for drawn / uploaded points or None, a digest of them)."""
    source = ctrl.select("Data", "data", list(SOURCES), "ring", labels=SOURCES)
    if source in tg.TARGETS:
        return source, None, ""
    if source == "table":
        with st.expander("Your points: edit, add or delete rows (x, y)", expanded=True):
            df = st.data_editor(DEFAULT_POINTS, num_rows="dynamic", key="pts", width="stretch")
        pts = df[["x", "y"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        notes: list[str] = []
    else:
        file = st.file_uploader("CSV of x,y points", type=["csv", "txt", "tsv"], key="csv")
        pts, notes = points_from_upload(file)
        if pts is None:
            st.stop()
    try:
        target = tg.from_points(pts, "your points")
    except ValueError as exc:
        st.error(f"These points cannot be a target: {exc}.", icon=":material/error:")
        st.stop()
    for n in notes:
        st.caption(n)
    st.caption(f"Your points: {target.note}.")
    digest = hashlib.sha256(np.ascontiguousarray(target.means).tobytes()).hexdigest()[:16]
    return "points", target, digest


def controls(ctrl: Controls) -> tuple[pr.PlaygroundRun, tg.Mixture | None, str]:
    """The sidebar: data, objective, sizes and step sizes -> (run, target for your points or None, its digest)."""
    name, target, digest = target_from(ctrl)
    objective = ctrl.select("Objective", "obj", list(ob.OBJECTIVES), "nonsat", labels=ob.OBJECTIVES)
    noise = ctrl.slider("Noise dimension", "nz", 1, 8, 2, help="z ~ N(0, I) of this many dimensions")
    hidden = ctrl.select("Hidden units (G and D)", "hidden", [16, 32, 64, 128], 64)
    lr = ctrl.log_slider("Step size (D and G)", "lr", 1e-4, 1e-2, 1e-3, options=[1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3,
                                                                                 1e-2])
    d_steps = ctrl.slider("D steps per G step", "dsteps", 0, 10, 0,
                          help="0: the objective's own (5 for the two WGANs, 1 otherwise)")
    own = pr.D_STEPS.get(objective, 1)
    ctrl.note("dsteps", "D steps per G step", f"{own} (the objective's own)" if int(d_steps) == 0 else int(d_steps))
    extra = {}
    if objective == "wgan-clip":
        extra["clip"] = ctrl.log_slider("Clipping bound c", "clip", 0.01, 1.0, 0.1)
    if objective == "wgan-gp":
        extra["gp_weight"] = ctrl.log_slider("Gradient penalty lambda", "gp", 0.1, 10.0, 1.0)
    if objective == "energy":
        extra["entropy"] = ctrl.toggle("Entropy bonus", "entropy", True,
                                       help="Off: nothing stops G from collapsing onto the energy's minimum")
    seed = ctrl.number("Seed", "seed", 0, 10_000, 0)
    run = pr.PlaygroundRun(target=name, objective=objective, noise_dim=int(noise), hidden=int(hidden), lr_d=float(lr),
                           lr_g=float(lr), d_steps=int(d_steps), seed=int(seed), **extra)
    return run, target, digest


# ----------------------------------------------------------------------------- the live run

def live_run(run: pr.PlaygroundRun, target: tg.Mixture | None, digest: str) -> pr.Live:
    """This session's run for these settings. A new one (when they changed) opens on the settings' run trained for
    `pr.OPENING` iterations (the disk cache, else trained now with a progress bar: a few seconds) for the named
    targets, and at iteration 0 for your points or after Restart."""
    key = json.dumps(asdict(run), sort_keys=True) + digest
    held = st.session_state.get(LIVE)
    if held is None or held["key"] != key:
        snapshot, how = None, "iteration 0"
        if target is None and not st.session_state.pop(COLD, False):
            res = train_cached(pr.PlaygroundSteps(pr.opening(run)), curves=["w1"],
                                    labels={"w1": "W1 (POT)"}, label="Training the opening state")
            if res is not None:
                snapshot, how = res.result, res.status_line()
        held = {"key": key, "live": pr.Live(run, target, snapshot=snapshot), "how": how}
        st.session_state[LIVE] = held  # replaces the previous run: one per session
        st.session_state[PLAYING] = False
        shell.page_scoped(LIVE)
        shell.page_scoped(PLAYING)
    return held["live"]


def opened_how() -> str:
    """How this session's run began: 'iteration 0', or the opening run's status line (cached, trained now)."""
    return st.session_state.get(LIVE, {}).get("how", "iteration 0")


def toggle_play() -> None:
    """Play <-> pause (a callback: it runs before the page, so the button's label and the fragment agree)."""
    st.session_state[PLAYING] = not st.session_state.get(PLAYING, False)


def restart() -> None:
    """Back to iteration 0 (the same settings and seed)."""
    st.session_state.pop(LIVE, None)
    st.session_state[COLD] = True
    st.session_state[PLAYING] = False


def buttons(live: pr.Live) -> int:
    """Play / pause, single steps, restart and the speed; returns iterations per redraw."""
    playing = st.session_state.get(PLAYING, False)
    c = st.columns([1.1, 1, 1, 1, 1.2, 1, 2.2])
    c[0].button("⏸ Pause" if playing else "▶ Play", key="play", type="primary", on_click=toggle_play)
    if c[1].button("D step", key="dstep", help="One update of D (the critic, the energy), G frozen",
                   disabled=playing):
        live.take("D step")
    if c[2].button("G step", key="gstep", help="One update of G against the current D", disabled=playing):
        live.take("G step")
    if c[3].button("Iteration", key="iter", help=f"{pr.d_steps_of(live.run)} D step(s), then one G step",
                   disabled=playing):
        live.take("iteration")
    if c[4].button("D alone ×200", key="dalone", disabled=playing,
                   help="200 D updates with G frozen: D approaches the optimal D* (see the theory tab)"):
        live.train_d_alone(200)
    c[5].button("↺ Restart", key="restart", on_click=restart, help="Back to iteration 0 (the same seed)")
    speed = c[6].select_slider("Iterations per redraw (slow motion: 1)", SPEEDS, value=10, key="speed",
                               bind="query-params")
    return int(speed)


# ----------------------------------------------------------------------------- figures

def _arrows(x: np.ndarray, v: np.ndarray) -> tuple[list, list]:
    """Line segments x -> x + v as one trace's coordinates (None between segments)."""
    xs, ys = [], []
    for (a, b), (da, db) in zip(x, v):
        xs += [a, a + da, None]
        ys += [b, b + db, None]
    return xs, ys


def field_trace(live: pr.Live, z: np.ndarray, name: str, probability: bool) -> go.Heatmap:
    kw = dict(zmin=0.0, zmax=1.0, colorscale=D_SCALE) if probability else dict(colorscale="Viridis")
    return go.Heatmap(x=live.xs, y=live.ys, z=z, name=name, colorbar=dict(title=dict(text=name, side="right"),
                      thickness=12, len=0.8), hovertemplate="x %{x:.2f}<br>y %{y:.2f}<br>%{z:.3f}<extra></extra>",
                      **kw)


def plane_figure(live: pr.Live, title: str, arrows: bool = True, field: bool = True, height: int = 520) -> go.Figure:
    """Real points, G's points, D's field as a heatmap (with its 1/2 contour for D(x)) and G's gradient arrows."""
    objective = live.run.objective
    fig = go.Figure()
    probability = objective in ob.PROBABILITY or objective == "lsgan"
    if field:
        z = live.field()
        fig.add_trace(field_trace(live, z, ob.field_name(objective), objective in ob.PROBABILITY))
        if probability and np.nanmin(z) < 0.5 < np.nanmax(z):
            fig.add_trace(go.Contour(x=live.xs, y=live.ys, z=z, contours=dict(start=0.5, end=0.5, size=1,
                                     coloring="lines"), line=dict(color="#1f2430", width=2, dash="dot"),
                                     showscale=False, name="D = 1/2", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=live.real_view[:, 0], y=live.real_view[:, 1], mode="markers", name="real",
                             marker=dict(color=REAL, size=4, opacity=0.7)))
    pts, push = live.g_push()
    fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name="G(z)",
                             marker=dict(color=FAKE, size=5, line=dict(color="white", width=0.5))))
    if arrows:
        norm = np.linalg.norm(push, axis=1)
        scale = 0.35 * (live.extent[1] - live.extent[0]) / 10 / max(float(np.percentile(norm, 90)), 1e-12)
        ax, ay = _arrows(pts[::3], push[::3] * scale)
        fig.add_trace(go.Scatter(x=ax, y=ay, mode="lines", name="G's gradient", line=dict(color=PUSH, width=1.2),
                                 hoverinfo="skip"))
    return square(fig, live, title, height)


def square(fig: go.Figure, live: pr.Live, title: str, height: int = 520) -> go.Figure:
    plots.style(fig, title, "x", "y", height)
    x0, x1, y0, y1 = live.extent
    fig.update_xaxes(range=[x0, x1], constrain="domain")
    fig.update_yaxes(range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain")
    fig.update_layout(hovermode="closest", margin=dict(b=95),  # the legend under the plot, clear of the title
                      legend=dict(orientation="h", yanchor="top", y=-0.13 * 520 / height, x=0,
                                  xanchor="left"))
    return fig


def transformation_figure(live: pr.Live, height: int = 520) -> go.Figure:
    """G's image of a grid of noise lines (how G bends the noise plane onto the data)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=live.real_view[:, 0], y=live.real_view[:, 1], mode="markers", name="real",
                             marker=dict(color=REAL, size=3, opacity=0.5)))
    xs, ys = [], []
    for line in live.transformation():
        xs += list(line[:, 0]) + [None]
        ys += list(line[:, 1]) + [None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="G(noise grid)", line=dict(color=FAKE, width=1)))
    return square(fig, live, "G's transformation: the image of a grid of noise lines", height)


def field_figure(live: pr.Live, z: np.ndarray, title: str, name: str, probability: bool = True,
                 diverging: bool = False, height: int = 420, points: np.ndarray | None = None) -> go.Figure:
    """A field on the page's grid; `points` (n, 2) are drawn over it as G's points."""
    fig = go.Figure()
    tr = field_trace(live, z, name, probability)
    if diverging:
        lim = float(np.nanmax(np.abs(z))) or 1.0
        tr.update(colorscale="RdBu", zmin=-lim, zmax=lim, zmid=0)
    fig.add_trace(tr)
    if points is not None:
        fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", name="G's points",
                                 marker=dict(color=FAKE, size=2, opacity=0.35), showlegend=False))
    return square(fig, live, title, height)


def score_figure(live: pr.Live, pts: np.ndarray, dae: np.ndarray, exact: np.ndarray, mask: np.ndarray,
                 height: int = 520) -> go.Figure:
    """r(x) - x and the exact score's direction, both scaled to one length, on a coarse grid."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=live.real_view[:, 0], y=live.real_view[:, 1], mode="markers", name="real",
                             marker=dict(color=REAL, size=3, opacity=0.4)))
    step = 0.045 * (live.extent[1] - live.extent[0])
    for v, name, color in ((dae, "DAE r(x) - x", FAKE), (exact, "exact ∇log p(x)", PUSH)):
        unit = v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12) * step
        ax, ay = _arrows(pts[mask], unit[mask])
        fig.add_trace(go.Scatter(x=ax, y=ay, mode="lines", name=name, line=dict(color=color, width=1.3)))
    return square(fig, live, "Directions where the data has mass: the DAE's r(x) - x and the exact score", height)


def curves(live: pr.Live, ys: list[str], title: str, key: str, labels: dict, refs: dict | None = None) -> None:
    df = pd.DataFrame(live.history)
    if len(df) < 2:
        st.caption(f"{title}: a point every {live.run.measure_every} iterations; press ▶ Play.")
        return
    plots.show_curves(df, "iteration", ys, title, key=key, labels=labels, refs=refs, height=300)


@st.cache_resource(show_spinner="Training a small denoising autoencoder…", max_entries=8)
def dae_model(cfg: score.DAEConfig, digest: str, _target: tg.Mixture | None):
    return score.train_dae(cfg, _target)


# ----------------------------------------------------------------------------- animation

def _colour(z: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Field values -> uint8 RGB (magenta at lo, white at the middle, blue at hi)."""
    t = np.clip((z - lo) / ((hi - lo) or 1.0), 0, 1)[..., None]
    a, m, b = np.array([194, 37, 92]), np.array([248, 249, 250]), np.array([53, 89, 199])
    return np.where(t < 0.5, a + (m - a) * (t * 2), m + (b - m) * (t * 2 - 1)).astype(np.uint8)


def frame_picture(live: pr.Live, frame: dict, size: int = 300) -> np.ndarray:
    """One frame of the animation: the field, the real points (green) and G's points (purple)."""
    from PIL import Image, ImageDraw

    z = frame["field"]
    lo, hi = (0.0, 1.0) if live.run.objective in ob.PROBABILITY else (float(z.min()), float(z.max()))
    img = Image.fromarray(_colour(z[::-1], lo, hi)).resize((size, size), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    x0, x1, y0, y1 = live.extent

    def px(p):
        return (p[:, 0] - x0) / (x1 - x0) * size, (y1 - p[:, 1]) / (y1 - y0) * size

    for pts, color in ((live.real_view, (43, 138, 62)), (frame["fake"], (103, 65, 217))):
        for u, v in zip(*px(pts)):
            draw.ellipse([u - 1.6, v - 1.6, u + 1.6, v + 1.6], fill=color)
    draw.text((6, 4), f"iteration {frame['done']}", fill=(31, 36, 48))
    return np.asarray(img.convert("RGB"))
