"""What the Boltzmann-machine pages (algorithms compared, deep Boltzmann machine) share: the widgets of
a comparison run, cached training, log-likelihood curves with AIS bands, animated Gibbs chains."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.boltzmann import algorithms
from core.boltzmann import dbm as dbm_core
from core.boltzmann.ais import rbm_log_likelihood
from core.data import ImageData
from core.images import tile
from explorer import live, plots
from explorer.widgets import Controls

ALG_LABELS = {f"ll_{a}": algorithms.NAMES[a] for a in algorithms.ALGORITHMS}
HIDDEN_OPTIONS = [4, 8, 10, 12, 16, 20, 25, 50, 100, 200, 500]


# ----------------------------------------------------------------------------- algorithms page

def algorithm_controls(ctrl: Controls, data: ImageData) -> algorithms.BMRun:
    d = algorithms.BMRun()
    ctrl.where.markdown("**Algorithms**")
    helps = {"cd": "Contrastive divergence: the negative chain starts at the data batch, k steps.",
             "pcd": "Persistent CD: the negative chains continue from where the last update left them.",
             "fpcd": "Fast-weights PCD: persistent chains that run on the weights plus decaying fast weights."}
    chosen = [a for a in algorithms.ALGORITHMS
              if ctrl.toggle(algorithms.NAMES[a], a, True, help=helps[a], caption=False)]
    ctrl.where.markdown("**Model and training**")
    hidden = ctrl.log_slider("Hidden units", "hidden", 4, 500, d.n_hidden, options=HIDDEN_OPTIONS,
                             help=f"Up to {d.exact_limit}: exact log-likelihood (all 2^n hidden states enumerated). "
                                  "Above: log Z by annealed importance sampling, shown with its ±3 s.e. band.")
    k = ctrl.slider("k (Gibbs steps per update)", "k", 1, 25, d.k)
    lr = ctrl.log_slider("Learning rate", "lr", 0.001, 0.5, 0.1)
    updates = ctrl.log_slider("Parameter updates", "updates", 100, 20000, d.updates,
                              options=[100, 200, 500, 1000, 2000, 3000, 5000, 10000, 20000])
    chains = ctrl.log_slider("Persistent chains (PCD, FPCD)", "chains", 1, 1000, d.n_chains,
                             options=[1, 10, 20, 50, 100, 200, 500, 1000])
    ctrl.where.markdown("**Fast weights (FPCD)**")
    fast_lr = ctrl.log_slider("Fast-weight learning rate", "fast_lr", 0.001, 1.0, 0.1)
    fast_decay = ctrl.log_slider("Fast-weight decay per update", "fast_decay", 0.0, 1.0, d.fast_decay,
                                 options=[0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0])
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.random_state)
    return algorithms.BMRun(data.name, min(len(data.X_train), d.n_train), tuple(chosen), int(hidden), float(lr),
                        d.batch_size, int(k), int(chains), float(fast_lr), float(fast_decay), int(updates),
                        max(1, int(updates) // 6), min(d.n_eval, len(data.X_test)), d.exact_limit, d.ais_betas,
                        d.ais_runs, int(seed))


def train_algorithms(run: algorithms.BMRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached("bm-algorithms", run, lambda partial: algorithms.train(run, data, partial),
                             curves=[f"ll_{a}" for a in run.algorithms], labels=ALG_LABELS,
                             label="Training the algorithms side by side", x="updates")


def ll_figure(df: pd.DataFrame, algs, title: str, band: bool) -> go.Figure:
    fig = go.Figure()
    for i, a in enumerate(algs):
        col, color = f"ll_{a}", plots.PALETTE[i % len(plots.PALETTE)]
        if col not in df:
            continue
        if band and f"{col}_low" in df:
            lo = df[f"{col}_low"].replace(-np.inf, np.nan)
            fig.add_trace(go.Scatter(x=list(df["updates"]) + list(df["updates"])[::-1],
                                     y=list(df[f"{col}_high"]) + list(lo)[::-1], fill="toself", fillcolor=color,
                                     opacity=0.18, line=dict(width=0), hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=df["updates"], y=df[col], name=algorithms.NAMES[a], mode="lines+markers",
                                 line=dict(color=color)))
    return plots.style(fig, title, "parameter updates", "held-out log-likelihood (nats per image)", height=380)


# ----------------------------------------------------------------------------- DBM page

@st.cache_resource(show_spinner="Loading the shipped DBM…")
def shipped() -> dict | None:
    """The model in assets/dbm (shared by all sessions: never modify it)."""
    return dbm_core.load_asset()


@st.cache_resource(show_spinner=False, max_entries=8)
def _dbm(key: str, _state: dict) -> dbm_core.DBM:
    return dbm_core.DBM.from_state_dict(_state, device="cpu")


def dbm_model(key: str, state: dict) -> dbm_core.DBM:
    """A DBM built once per key (shared: its sampling methods take random_state and do not change it)."""
    return _dbm(key, state)


@st.cache_data(show_spinner="Running the Gibbs chains…", max_entries=32)
def chains(key: str, _dbm: dbm_core.DBM, _rbm: dict, n: int, steps: int, seed: int) -> dict:
    """Frames of DBM and RBM chains from the same random images, recorded at ~geometric steps."""
    import torch

    record = sorted({0, *np.unique(np.geomspace(1, steps, 24).astype(int)).tolist(), steps})
    dbm_frames = _dbm.sample(n, steps, random_state=seed, record=record)
    W, b, c = (torch.as_tensor(_rbm[k]).float() for k in ("W", "b", "c"))
    g = torch.Generator().manual_seed(int(seed))
    V = (torch.rand(n, W.shape[1], generator=g) < 0.5).float()
    rbm_frames = {0: V.numpy()}
    with torch.no_grad():
        for s in range(1, steps + 1):
            H = (torch.rand(n, W.shape[0], generator=g) < torch.sigmoid(V @ W.T + c)).float()
            Pv = torch.sigmoid(H @ W + b)
            V = (torch.rand(Pv.shape, generator=g) < Pv).float()
            if s in record:
                rbm_frames[s] = Pv.numpy()
    dbm_frames[0] = rbm_frames[0]
    return {"steps": record, "dbm": dbm_frames, "rbm": rbm_frames}


def side_by_side(left: np.ndarray, right: np.ndarray, shape, ncols: int, gap: int = 16) -> np.ndarray:
    a = tile(left, shape, ncols=ncols, scale=2, pad=1)
    b = tile(right, shape, ncols=ncols, scale=2, pad=1)
    return np.concatenate([a, np.full((a.shape[0], gap, 3), 255, np.uint8), b], axis=1)


def gif(frames: list[np.ndarray], ms: int = 250) -> bytes:
    """An animated GIF (looping, last frame held longer) of uint8 RGB pictures."""
    from PIL import Image

    imgs = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    durations = [ms] * (len(imgs) - 1) + [ms * 8]
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=durations, loop=0)
    return buf.getvalue()


@st.cache_data(show_spinner="Estimating log Z by annealed importance sampling…", max_entries=16)
def ais_both(key: str, _dbm: dbm_core.DBM, _rbm: dict, _X_base: np.ndarray, _X_test: np.ndarray, betas: int,
             runs: int) -> dict:
    """Held-out log-likelihoods of both models on the fixed binarisation of _X_test (drawn only on a cache miss)."""
    V = dbm_core.held_out_binary(_X_test)
    return {"dbm": dbm_core.dbm_log_likelihood(_dbm, V, _X_base, betas, runs),
            "rbm": rbm_log_likelihood(_rbm["W"], _rbm["b"], _rbm["c"], V, _X_base, betas, runs)}
