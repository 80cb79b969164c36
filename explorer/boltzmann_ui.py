"""What both RBM pages share: the model's widgets, cached training, cached derived arrays."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from core.boltzmann import rbm_lab
from core.data import ImageData
from core.boltzmann.rbm import RBM, RBMConfig
from explorer import live, plots
from explorer.widgets import Controls

CURVES = ["recon_error", "pseudo_ll", "fe_gap", "exact_ll"]
LABELS = {"recon_error": "reconstruction error (held-out)", "pseudo_ll": "pseudo-log-likelihood (held-out)",
          "fe_gap": "free energy: held-out − train", "exact_ll": "exact log-likelihood (held-out, nats)"}


def controls(ctrl: Controls, data: ImageData, defaults: RBMConfig | None = None) -> rbm_lab.RBMRun:
    """Sidebar widgets of the RBM and its training -> a run config."""
    d = defaults or rbm_lab.RBMRun().rbm
    ctrl.where.markdown("**Model and training**")
    hidden = ctrl.log_slider("Hidden units", "hidden", 10, 1000, d.n_components, options=[
        10, 16, 20, 25, 50, 100, 200, 300, 500, 1000],
        help="Exact log-likelihood is shown for 16 hidden units or fewer (2^16 states enumerated).")
    epochs = ctrl.log_slider("Epochs", "epochs", 1, 200, d.n_iter, options=[1, 2, 3, 5, 10, 20, 30, 50, 100, 200])
    lr = ctrl.log_slider("Learning rate", "lr", 0.001, 0.5, d.learning_rate)
    batch = ctrl.log_slider("Batch size", "batch", 5, 500, d.batch_size, options=[5, 10, 20, 50, 100, 200, 500])
    method = ctrl.select("Algorithm", "method", ["cd", "pcd"], d.method, horizontal=True,
                         labels={"cd": "CD-k", "pcd": "PCD-k"},
                         help="CD restarts the negative chain at each data batch; PCD keeps persistent chains.")
    k = ctrl.slider("k (Gibbs steps per update)", "k", 1, 25, d.k)
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.random_state or 0)
    n_train = min(len(data.X_train), 8000)
    return rbm_lab.RBMRun(data.name, n_train, False, replace(d, n_components=hidden, n_iter=epochs, learning_rate=lr,
                                                             batch_size=batch, method=method, k=k, random_state=seed))


def train(run: rbm_lab.RBMRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached("rbm", run, lambda partial: rbm_lab.train(run, data, partial),
                             curves=["recon_error"], labels=LABELS, label="Training the RBM")


@st.cache_resource(show_spinner=False, max_entries=16)
def _model(key: str, epochs: int, _result: dict) -> RBM:
    return rbm_lab.model(_result)


def model(res: live.RunResult) -> RBM:
    """The run's RBM, built once per (run, epochs). Shared: use random_state= when sampling."""
    return _model(res.key, int(res.result["epochs"]), res.result)


@st.cache_data(show_spinner="Running Gibbs chains…", max_entries=64)
def reconstructions(key: str, epochs: int, _rbm: RBM, X: np.ndarray, ks: tuple[int, ...], seed: int) -> dict:
    return _rbm.reconstruct_many(X, ks, random_state=seed)


SWEEP_HIDDEN = [10, 25, 50, 100, 200, 500]
GIBBS_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


@st.cache_data(show_spinner="Running Gibbs chains for the sweep…", max_entries=32)
def _gibbs_sweep(key: str, epochs: int, _rbm: RBM, X: np.ndarray) -> dict:
    rec = _rbm.reconstruct_many(X, GIBBS_KS, random_state=0)
    return {k: rbm_lab.recon_error(X, rec[k]) for k in GIBBS_KS}


def sweep(ctrl: Controls, run: rbm_lab.RBMRun, data: ImageData, rbm: RBM, res: live.RunResult) -> None:
    """One held-out metric against one setting, ready for a report."""
    c1, c2 = st.columns(2)
    what = c1.radio("Sweep over", ["Gibbs steps", "Epochs", "Hidden units"], horizontal=True, key="sweep_param",
                    bind="query-params")
    metrics = ["recon_error", "pseudo_ll", "fe_gap"] + (["exact_ll"] if "exact_ll" in res.history else [])
    settings = ctrl.caption(["data", "hidden", "epochs", "lr", "batch", "method", "k", "seed"])
    if what == "Gibbs steps":
        X = data.X_test[:200]
        errs = _gibbs_sweep(res.key, int(res.result["epochs"]), rbm, X)
        df = pd.DataFrame({"gibbs_steps": list(errs), "recon_error": list(errs.values())})
        plots.show_curves(df, "gibbs_steps", ["recon_error"], "Held-out reconstruction error against Gibbs steps",
                          key="sweep-gibbs", xlabel="Gibbs steps k (log scale)", ylabel="squared error per image",
                          log_x=True, markers=True, labels=LABELS)
        st.caption(f"200 held-out images, one chain each. {settings}")
        return
    metric = c2.selectbox("Held-out metric", metrics, format_func=lambda m: LABELS[m], key="sweep_metric")
    if what == "Epochs":
        plots.show_curves(res.history, "epoch", [metric], f"{LABELS[metric]} against epochs", key="sweep-epochs",
                          ylabel=LABELS[metric], markers=True, labels=LABELS)
        st.caption("Training for fewer epochs with the same seed gives exactly these intermediate models, so "
                   f"this curve is the epoch sweep. {settings}")
        return
    values = SWEEP_HIDDEN
    runs = [replace(run, rbm=replace(run.rbm, n_components=h)) for h in values]
    if not st.button(f"Run the sweep ({len(values)} models; cached ones are instant)", key="sweep_go"):
        st.caption(f"Hidden units {values}; every other setting as in the sidebar.")
        return
    rows = []
    for h, r in zip(values, runs):
        out = live.train_cached("rbm", r, lambda partial, r=r: rbm_lab.train(r, data, partial),
                                label=f"Training {h} hidden units")
        if out is None or out.status == "stopped":
            break
        rows.append({"hidden_units": h, **out.result["history"][-1]})
    if rows:
        df = pd.DataFrame(rows)
        plots.show_curves(df, "hidden_units", [metric], f"{LABELS[metric]} against hidden units", key="sweep-hidden",
                          xlabel="hidden units (log scale)", ylabel=LABELS[metric], log_x=True, markers=True, labels=LABELS)
        st.caption(settings)


@st.cache_data(show_spinner=False, max_entries=8)
def _mean_image(name: str, n: int, _X: np.ndarray) -> np.ndarray:
    return _X[:n].mean(0)


def mean_image(data: ImageData) -> np.ndarray:
    return _mean_image(data.name, min(len(data.X_train), 8000), data.X_train)


@st.cache_data(show_spinner="Gibbs sampling the missing pixels…", max_entries=64)
def _inpainted(key: str, epochs: int, _rbm: RBM, X: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    return _rbm.inpaint(X, mask, k=k, random_state=0)  # known pixels clamped, k Gibbs steps on the rest


def inpainted(res: live.RunResult, rbm: RBM, X: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    return _inpainted(res.key, int(res.result["epochs"]), rbm, X, mask, int(k))


@st.cache_data(show_spinner="Sweeping…", max_entries=64)
def _inpaint_sweep(key: str, epochs: int, _rbm: RBM, name: str, _data: ImageData, X: np.ndarray, k: int,
                   rows, location, n_rows) -> list[dict]:
    return rbm_lab.inpainting_sweep(_rbm, X, _data.shape, mean_image(_data), k=k, rows=list(rows) if rows else None,
                                    location=location, n_rows=n_rows)


def inpaint_sweep(res: live.RunResult, rbm: RBM, data: ImageData, X: np.ndarray, k: int, rows=None,
                  location="middle", n_rows: int = 8) -> list[dict]:
    return _inpaint_sweep(res.key, int(res.result["epochs"]), rbm, data.name, data, X, int(k), rows, location, n_rows)
