"""What the GMMN page draws on: its widgets (-> core.gmmn.run.GMMNRun), cached live training, the rebuilt model, and
cached scores (the quality classifier's report, the two routes of one kernel's MMD, the Parzen windows)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.data import ImageData
from core.gmmn import parzen
from core.gmmn import run as gr
from explorer import gan_ui, live, plots
from explorer.widgets import Controls

LADDERS = {"pixels": [1, 2, 5, 10, 20, 40, 80, 160], "code": [0.25, 0.5, 1, 2, 4, 8, 16]}  # bandwidth choices
KEYS = {"pixels": ("smin", "smax"), "code": ("cmin", "cmax")}
LABELS = {"mmd": "training loss sqrt(MMD²) (mean since the last row)", "mmd_train": "fixed samples vs training rows",
          "mmd_heldout": "fixed samples vs held-out rows", "ae_recon": "autoencoder: held-out squared error"}
SPACE_NAMES = {"pixels": "GMMN on pixels", "code": "GMMN+AE (on a 32-d autoencoder code)"}
AE = gr.presets()["gmmn_ae"]  # the default GMMN+AE run (its autoencoder's sizes, in the help text)


def controls(ctrl: Controls, data: ImageData) -> gr.GMMNRun:
    space = ctrl.select("Variant: the GMMN models pixels, or an autoencoder's code (GMMN+AE)", "space", list(gr.SPACES),
                        "pixels", horizontal=True,
                        help=f"GMMN+AE first trains an autoencoder 784-{AE.ae_hidden}-{AE.code} (sigmoid), then the "
                             "GMMN on its codes, and decodes the generated codes.")
    d = gr.presets()["gmmn" if space == "pixels" else "gmmn_ae"]
    ladder, (kmin, kmax) = LADDERS[space], KEYS[space]
    sig = gr.parse_floats(d.sigmas)
    ctrl.where.markdown("**Kernel: a sum of Gaussians**")
    lo = ctrl.select("Smallest bandwidth σ", kmin, ladder, sig[0], horizontal=True)
    hi = ctrl.select("Largest bandwidth σ", kmax, ladder, sig[-1], horizontal=True,
                     help="Every σ of the ladder from the smallest to the largest is in the kernel sum (the paper's "
                          "on pixels: 2, 5, 10, 20, 40, 80).")
    sigmas = [s for s in ladder if min(lo, hi) <= s <= max(lo, hi)]
    ctrl.where.markdown("**Training**")
    batch = ctrl.log_slider("Batch size (samples and training rows per step)", "batch", 50, 2000, d.batch_size,
                            options=[50, 100, 200, 500, 1000, 2000],
                            help="MMD compares two samples of this size: larger batches see the distributions better "
                                 "and cost batch² per step.")
    iters = ctrl.log_slider("Generator iterations", "iters", 50, 5000, d.n_iters,
                            options=[50, 100, 200, 500, 1000, 2000, 3000, 5000])
    lr = ctrl.log_slider("Learning rate (Adam)", "lr", 1e-4, 1e-2, d.lr)
    ae_epochs = ctrl.log_slider("Autoencoder epochs", "ae_epochs", 1, 50, d.ae_epochs,
                                options=[1, 2, 5, 10, 20, 50]) if space == "code" else d.ae_epochs
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    return replace(d, dataset=data.name, n_train=min(len(data.X_train), d.n_train),
                   sigmas=",".join(f"{s:g}" for s in sigmas), batch_size=int(batch), n_iters=int(iters), lr=float(lr),
                   ae_epochs=int(ae_epochs), seed=int(seed), n_measure=min(d.n_measure, len(data.X_test)))


def train(run: gr.GMMNRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(gr.GMMNSteps(run, data), curves=["mmd", "mmd_train", "mmd_heldout"], labels=LABELS,
                             label=f"Training the {SPACE_NAMES[run.space]}")


def gmmn_model(res: live.RunResult) -> gr.GMMN:
    """The run's GMMN (shared, eval mode: sampling takes a generator)."""
    return live.built(res, gr.model)


def quality(res: live.RunResult, data: ImageData) -> dict:
    """The quality classifier's report (core.quality) of 1,000 samples of the run's GMMN."""
    return _quality(res.key, res.done, gmmn_model(res), gan_ui.quality(data.name))


@st.cache_data(show_spinner="Scoring 1,000 samples with the quality classifier…", max_entries=16)
def _quality(key: str, done: int, _model: gr.GMMN, _qm) -> dict:
    return gr.quality(_model, _qm)


@st.cache_data(show_spinner="Computing one kernel's MMD by both routes…", max_entries=16)
def routes(key: str, done: int, _model: gr.GMMN, _data: ImageData, sigma: float, n: int) -> dict:
    return gr.one_kernel_routes(_model, _data.X_test, sigma, n=n)


@st.cache_data(show_spinner="k-means of the training digits and their Parzen windows (once, about 15 s)…",
               max_entries=4)
def parzen_real(name: str, _data: ImageData, n: int) -> dict:
    return parzen.flaw_demo(_data.X_train, _data.X_test, None, n=n)


@st.cache_data(show_spinner="The Parzen window of the GMMN's samples…", max_entries=16)
def parzen_model(key: str, done: int, _model: gr.GMMN, _data: ImageData, n: int) -> dict:
    return gr.parzen_of_samples(_model, _data.X_test, n=n)


def grid_images(result: dict, i: int) -> np.ndarray:
    """The i-th stored grid as floats in [0, 1] (64, 784)."""
    return result["grids"][i]["images"].float().numpy() / 255.0


def mmd_rows(result: dict) -> pd.DataFrame:
    """History rows of the GMMN phase (they have "mmd_train"), indexed by generator iteration."""
    rows = [r for r in result["history"] if "mmd_train" in r]
    return pd.DataFrame(rows)


def parzen_figure(rows: list[dict]) -> go.Figure:
    """Mean held-out Parzen log-likelihood per set of points with ±2 standard errors (higher, right, looks better)."""
    fig = go.Figure(go.Scatter(x=[r["ll"] for r in rows], y=[r["set"] for r in rows], mode="markers+text",
                               error_x=dict(type="data", array=[2 * r["se"] for r in rows]),
                               text=[f"{r['ll']:.0f}" for r in rows], textposition="top center",
                               marker=dict(size=14, color=plots.PALETTE[: len(rows)])))
    plots.style(fig, "Parzen-window log-likelihood of held-out digits", "nats per image (higher looks better)", "",
                height=140 + 50 * len(rows), legend=False)
    fig.update_yaxes(autorange="reversed")
    return fig
