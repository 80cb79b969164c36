"""What the Boltzmann-machine pages share: the RBM's widgets and cached training, cached derived arrays
(reconstructions, sweeps, inpainting), the algorithm comparison's widgets and log-likelihood figure, the
DBM page's shipped model, chains (as an animated GIF) and AIS, and the conditional RBM's widgets, runs,
baselines and figures."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.boltzmann import algorithms, crbm, crbm_baselines, dbm, rbm_lab
from core.boltzmann import crbm_enumeration as enumeration
from core.boltzmann.rbm import RBM, RBMConfig
from core.data import ImageData
from explorer import live, plots
from explorer.widgets import Controls

CURVES = ["recon_error", "pseudo_ll", "fe_gap", "exact_ll"]
LABELS = {"recon_error": "reconstruction error (held-out)", "pseudo_ll": "pseudo-log-likelihood (held-out)",
          "fe_gap": "free energy: held-out − train", "exact_ll": "exact log-likelihood (held-out, nats)"}


# ----------------------------------------------------------------------------- the RBM (learn and inpainting pages)

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
    return live.train_cached(rbm_lab.RBMSteps(run, data), curves=["recon_error"], labels=LABELS,
                             label="Training the RBM")


def model(res: live.RunResult) -> RBM:
    """The run's RBM, built once per (run, epochs). Shared: use random_state= when sampling."""
    return live.built(res, rbm_lab.model)


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
    hist = res.history
    metrics = ["recon_error", "pseudo_ll", "fe_gap"] + (["exact_ll"] if "exact_ll" in hist else [])
    settings = ctrl.caption(["data", "hidden", "epochs", "lr", "batch", "method", "k", "seed"])
    if what == "Gibbs steps":
        X = data.X_test[:200]
        errs = _gibbs_sweep(res.key, res.done, rbm, X)
        df = pd.DataFrame({"gibbs_steps": list(errs), "recon_error": list(errs.values())})
        plots.show_curves(df, "gibbs_steps", ["recon_error"], "Held-out reconstruction error against Gibbs steps",
                          key="sweep-gibbs", xlabel="Gibbs steps k (log scale)", ylabel="squared error per image",
                          log_x=True, markers=True, labels=LABELS)
        st.caption(f"200 held-out images, one chain each. {settings}")
        return
    metric = c2.selectbox("Held-out metric", metrics, format_func=lambda m: LABELS[m], key="sweep_metric")
    if what == "Epochs":
        plots.show_curves(hist, "epoch", [metric], f"{LABELS[metric]} against epochs", key="sweep-epochs",
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
        out = live.train_cached(rbm_lab.RBMSteps(r, data), label=f"Training {h} hidden units")
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
    return _inpainted(res.key, res.done, rbm, X, mask, int(k))


@st.cache_data(show_spinner="Sweeping…", max_entries=64)
def _inpaint_sweep(key: str, epochs: int, _rbm: RBM, name: str, _data: ImageData, X: np.ndarray, k: int,
                   rows, location, n_rows) -> list[dict]:
    return rbm_lab.inpainting_sweep(_rbm, X, _data.shape, mean_image(_data), k=k, rows=list(rows) if rows else None,
                                    location=location, n_rows=n_rows)


def inpaint_sweep(res: live.RunResult, rbm: RBM, data: ImageData, X: np.ndarray, k: int, rows=None,
                  location="middle", n_rows: int = 8) -> list[dict]:
    return _inpaint_sweep(res.key, res.done, rbm, data.name, data, X, int(k), rows, location, n_rows)


# ----------------------------------------------------------------------------- algorithms compared

ALG_LABELS = {f"ll_{a}": algorithms.NAMES[a] for a in algorithms.ALGORITHMS}
HIDDEN_OPTIONS = [4, 8, 10, 12, 16, 20, 25, 50, 100, 200, 500]


def algorithm_controls(ctrl: Controls, data: ImageData) -> algorithms.BMRun:
    d = algorithms.BMRun()
    ctrl.where.markdown("**Algorithms**")
    helps = {"cd": "Contrastive divergence: the negative chain starts at the data batch, k steps.",
             "pcd": "Persistent CD: the negative chains continue from where the last update left them.",
             "fpcd": "Fast-weights PCD: persistent chains that run on the weights plus decaying fast weights."}
    chosen = [a for a in algorithms.ALGORITHMS
              if ctrl.toggle(algorithms.NAMES[a], a, True, help=helps[a], caption=False)]
    ctrl.where.markdown("**Model and training**")
    hidden = ctrl.log_slider("Hidden units", "hidden", 4, 500, d.hidden, options=HIDDEN_OPTIONS,
                             help=f"Up to {d.exact_limit}: exact log-likelihood (all 2^n hidden states enumerated). "
                                  "Above: log Z by annealed importance sampling, shown with its ±3 s.e. band.")
    k = ctrl.slider("k (Gibbs steps per update)", "k", 1, 25, d.k)
    lr = ctrl.log_slider("Learning rate", "lr", 0.001, 0.5, d.lr)
    updates = ctrl.log_slider("Parameter updates", "updates", 100, 20000, d.updates,
                              options=[100, 200, 500, 1000, 2000, 3000, 5000, 10000, 20000])
    chains_n = ctrl.log_slider("Persistent chains (PCD, FPCD)", "chains", 1, 1000, d.n_chains,
                               options=[1, 10, 20, 50, 100, 200, 500, 1000])
    ctrl.where.markdown("**Fast weights (FPCD)**")
    fast_lr = ctrl.log_slider("Fast-weight learning rate", "fast_lr", 0.001, 1.0, d.fast_lr)
    fast_decay = ctrl.log_slider("Fast-weight decay per update", "fast_decay", 0.0, 1.0, d.fast_decay,
                                 options=[0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0])
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    return algorithms.BMRun(data.name, min(len(data.X_train), d.n_train), tuple(chosen), int(hidden), float(lr),
                            d.batch_size, int(k), int(chains_n), float(fast_lr), float(fast_decay), int(updates),
                            max(1, int(updates) // 6), min(d.n_eval, len(data.X_test)), d.exact_limit, d.ais_betas,
                            d.ais_runs, int(seed))


def train_algorithms(run: algorithms.BMRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(algorithms.AlgorithmSteps(run, data), curves=[f"ll_{a}" for a in run.algorithms],
                             labels=ALG_LABELS, label="Training the algorithms side by side")


def ll_figure(df: pd.DataFrame, algs, title: str, band: bool) -> go.Figure:
    fig = go.Figure()
    for i, a in enumerate(algs):
        col, color = f"ll_{a}", plots.PALETTE[i % len(plots.PALETTE)]
        if col not in df:
            continue
        lo = df[f"{col}_low"].replace(-np.inf, np.nan) if f"{col}_low" in df else None
        if band and lo is not None and lo.notna().all():  # no band where AIS's ESS was too small to mean anything
            fig.add_trace(go.Scatter(x=list(df["updates"]) + list(df["updates"])[::-1],
                                     y=list(df[f"{col}_high"]) + list(lo)[::-1], fill="toself", fillcolor=color,
                                     opacity=0.18, line=dict(width=0), hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=df["updates"], y=df[col], name=algorithms.NAMES[a], mode="lines+markers",
                                 line=dict(color=color)))
    return plots.style(fig, title, "parameter updates", "held-out log-likelihood (nats per image)", height=380)


# ----------------------------------------------------------------------------- the deep Boltzmann machine

@st.cache_resource(show_spinner="Loading the shipped DBM…")
def shipped_dbm(data: ImageData) -> dict | None:
    """The DBM run shipped with the app (assets/dbm) when it was made on exactly these digits with the default
    settings (`live.shipped_run`: one cache for every page); shared, never modify it."""
    return live.shipped_run(dbm.DBMSteps(dbm.DBMRun(), data))


def dbm_controls(ctrl: Controls, data: ImageData) -> dbm.DBMRun:
    """Sidebar widgets of a DBM to retrain (small defaults: a minute on a CPU) -> a run config."""
    ctrl.where.markdown("**DBM settings**")
    d = dbm.DBMConfig()
    h1 = ctrl.log_slider("First hidden layer", "h1", 20, 500, 100, options=[20, 50, 100, 200, 500])
    h2 = ctrl.log_slider("Second hidden layer", "h2", 20, 1000, 100, options=[20, 50, 100, 200, 500, 1000])
    pe = ctrl.log_slider("Pre-training epochs (each RBM)", "pre", 1, 50, 2, options=[1, 2, 5, 10, 20, 50])
    je = ctrl.log_slider("Joint-training epochs", "epochs", 1, 100, 3, options=[1, 2, 3, 5, 10, 20, 50, 100])
    lr = ctrl.log_slider("Joint learning rate", "lr", 0.0005, 0.05, d.learning_rate)
    k = ctrl.slider("Gibbs sweeps per update (fantasy particles)", "k", 1, 10, d.k)
    seed = ctrl.number("Seed", "seed", 0, 10_000, 0)
    cfg = replace(d, n_hidden1=int(h1), n_hidden2=int(h2), pretrain_epochs=int(pe), epochs=int(je),
                  learning_rate=float(lr), k=int(k), random_state=int(seed))
    return dbm.DBMRun(data.name, min(len(data.X_train), 8000), cfg)


def train_dbm(run: dbm.DBMRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(dbm.DBMSteps(run, data), curves=["recon_error"],
                             labels={"recon_error": "mean-field reconstruction error"},
                             label="Training the DBM (then the RBM for the same time)")


def has_dbm_run(run: dbm.DBMRun, data: ImageData) -> bool:
    return live.has_run(dbm.DBMSteps(run, data))


@st.cache_resource(show_spinner=False, max_entries=8)
def _models(key: str, _result: dict) -> tuple[dbm.DBM, RBM]:
    return dbm.model(_result, device="cpu"), dbm.baseline_rbm(_result, device="cpu")


def models(key: str, result: dict) -> tuple[dbm.DBM, RBM]:
    """(DBM, RBM) of a run, built once per key (shared: their sampling methods take random_state and change nothing)."""
    return _models(key, result)


@st.cache_data(show_spinner="Running the Gibbs chains…", max_entries=32)
def chains(key: str, _dbm: dbm.DBM, _rbm: RBM, n: int, steps: int, seed: int) -> dict:
    return dbm.chains(_dbm, _rbm, n, steps, seed)


@st.cache_data(show_spinner="Estimating log Z by annealed importance sampling…", max_entries=16)
def ais_both(key: str, _result: dict, _X_base: np.ndarray, _X_test: np.ndarray, betas: int, runs: int) -> dict:
    """Held-out log-likelihoods of both models (drawn only on a cache miss)."""
    return dbm.both_log_likelihoods(_result, _X_base, _X_test, betas, runs)


def log_z_curve_figure(curves: dict[str, list[dict]], default: int, title: str = "AIS: log Ẑ against temperatures"
                       ) -> go.Figure:
    """log Z_hat of each model (a line per name) against the number of AIS temperatures (log axis), drawn relative
    to its value at the default, so that models whose log Z differ by hundreds of nats share one axis in nats of
    movement (a flat line at 0 from the default on: converged); the absolute value and each point's effective
    sample size in the hover text."""
    fig = go.Figure()
    for i, (name, pts) in enumerate(curves.items()):
        ref = next((p["log_z"] for p in pts if p["n_betas"] == default), pts[-1]["log_z"])
        fig.add_trace(go.Scatter(x=[p["n_betas"] for p in pts], y=[p["log_z"] - ref for p in pts], name=name,
                                 mode="lines+markers", line=dict(color=plots.PALETTE[i % len(plots.PALETTE)]),
                                 text=[f"log Ẑ = {p['log_z']:.2f}, ESS {p['ess']:.1f}" for p in pts],
                                 hovertemplate="%{x:,} temperatures: %{y:+.2f} nats (%{text})<extra></extra>"))
    fig.add_vline(x=default, line_dash="dot", line_color="#868e96", annotation_text=f"default ({default:,})",
                  annotation_position="top left", annotation_font_size=11)
    fig.add_hrect(y0=-0.5, y1=0.5, fillcolor="#adb5bd", opacity=0.15, line_width=0)  # within half a nat
    return plots.style(fig, title, "AIS temperatures", "log Ẑ − log Ẑ at the default (nats)", height=320, log_x=True)


def log_z_moves(pts: list[dict], default: int) -> float:
    """How far log Z_hat moves when the default number of temperatures doubles (nan if not measured)."""
    at = {p["n_betas"]: p["log_z"] for p in pts}
    return at[2 * default] - at[default] if default in at and 2 * default in at else float("nan")


# ----------------------------------------------------------------------------- the conditional RBM

CRBM_MODE_NAMES = {"discriminative": "discriminative", "hybrid": "hybrid", "generative": "generative"}
CRBM_LABELS = {**{f"error_{m}": f"{m} (held-out)" for m in crbm.MODES},
               **{f"train_error_{m}": f"{m} (training)" for m in crbm.MODES},
               **{f"log_p_{m}": f"{m}" for m in crbm.MODES}}


def crbm_controls(ctrl: Controls, data: ImageData) -> crbm.CRBMRun:
    """Sidebar widgets of the conditional RBMs -> a run config."""
    d = crbm.CRBMRun()
    ctrl.where.markdown("**Outputs y**")
    output = ctrl.select("y as", "output", list(crbm.OUTPUTS), d.output, horizontal=True,
                         labels={"onehot": "one-hot (c = 10)", "binary": "4-bit code (c = 4)"},
                         help="One-hot: p(y|x) over the 10 one-hot codes. 4-bit: y is the label's binary code, a true "
                              "multi-output y; p(y|x) runs over all 16 codes, and the 6 that name no digit count as errors.")
    ctrl.where.markdown("**Training modes** (side by side, same mini-batches)")
    helps = {"discriminative": "Ascend the exact gradient of log p(y|x).",
             "hybrid": "Ascend log p(y|x) + α log p(x, y) (Larochelle & Bengio 2008).",
             "generative": "Ascend log p(x, y) with CD-k or PCD-k; classify with the exact p(y|x)."}
    modes = tuple(m for m in crbm.MODES if ctrl.toggle(m.capitalize(), m, True, help=helps[m], caption=False))
    ctrl.where.markdown("**Model and training**")
    hidden = ctrl.log_slider("Hidden units K", "hidden", 10, 2000, d.hidden, options=[
        10, 20, 50, 100, 200, 500, 1000, 2000])
    epochs = ctrl.log_slider("Epochs", "epochs", 1, 100, d.epochs, options=[1, 2, 3, 5, 10, 20, 30, 50, 100])
    lr = ctrl.log_slider("Learning rate (Adam, cosine decay)", "lr", 0.0003, 0.03, d.lr, options=[
        0.0003, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03])
    batch = ctrl.log_slider("Batch size", "batch", 10, 1000, d.batch_size, options=[10, 20, 50, 100, 200, 500, 1000])
    alpha = ctrl.log_slider("Hybrid weight α of log p(x, y)", "alpha", 0.001, 1.0, d.alpha, options=[
        0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0])
    k = ctrl.slider("k (Gibbs steps, generative part)", "k", 1, 25, d.k)
    persistent = ctrl.toggle("Persistent chains (PCD)", "pcd", d.persistent, help="Off: CD-k, chains restart at the data.")
    biases = ctrl.toggle("Biases b, c, d", "biases", d.biases, help=(
        "The sheet's energy has none. Without them the hidden units have no offset and p(y|x) no class prior."))
    wd = ctrl.log_slider("Weight decay (W, U)", "wd", 0.0, 0.01, d.weight_decay, options=[0.0, 1e-5, 1e-4, 1e-3, 1e-2])
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    return crbm.CRBMRun(data.name, min(len(data.X_train), d.n_train), min(len(data.X_test), d.n_eval), output,
                        modes, int(hidden), bool(biases), int(epochs), int(batch), float(lr), float(alpha), int(k),
                        bool(persistent), d.n_chains, float(wd), int(seed))


def train_crbm(run: crbm.CRBMRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(crbm.CRBMSteps(run, data), curves=[f"error_{m}" for m in run.modes], labels=CRBM_LABELS,
                             label="Training the conditional RBMs")


def baseline_run(run: crbm.CRBMRun) -> crbm_baselines.BaselineRun:
    return crbm_baselines.BaselineRun(run.dataset, run.n_train, run.n_eval)


def train_baselines(run: crbm_baselines.BaselineRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(crbm_baselines.BaselineSteps(run, data), label="Fitting scikit-learn's baselines")


def crbm_model(res: live.RunResult, mode: str) -> crbm.CRBM:
    """One trained CRBM of a run, built once per (run, epochs, mode) (shared: its methods change nothing)."""
    return live.built(res, crbm.model, mode=mode)


@st.cache_data(show_spinner="Computing p(y | x) of the held-out digits…", max_entries=24)
def crbm_proba(key: str, done: int, mode: str, _model: crbm.CRBM, _X: np.ndarray) -> np.ndarray:
    """p(y | x) of every held-out digit over the candidate codes, (n, n_codes)."""
    return _model.predict_proba(_X)


@st.cache_data(show_spinner="Gibbs sampling x with y clamped…", max_entries=24)
def crbm_generate(key: str, done: int, mode: str, _model: crbm.CRBM, per_class: int, steps: int, seed: int) -> np.ndarray:
    labels = np.repeat(np.arange(10), per_class)
    return _model.generate(labels, steps=steps, random_state=seed)


def code_names(output: str) -> list[str]:
    """Axis labels of the candidate codes: the digit of a one-hot or binary code; binary codes of no digit as
    their bits ('1010' … '1111')."""
    if output == "onehot":
        return [str(j) for j in range(10)]
    return [str(j) if j < 10 else f"{j:04b}" for j in range(16)]


def proba_figure(p: np.ndarray, names: list[str], title: str, true: int, color: str) -> go.Figure:
    colors = [plots.PALETTE[2] if j == true else color for j in range(len(p))]
    fig = go.Figure(go.Bar(x=names, y=p, marker_color=colors, text=[f"{v:.2f}" if v >= 0.01 else "" for v in p],
                           textposition="outside"))
    fig = plots.style(fig, title, "", "p(y | x)", height=230, legend=False)
    fig.update_yaxes(range=[0, 1.15])
    fig.update_xaxes(type="category", tickangle=0 if len(p) <= 10 else -90, tickfont=dict(size=10))
    fig.update_layout(margin=dict(l=50, r=10, t=40, b=40))
    return fig


def error_figure(hist: pd.DataFrame, modes, refs: dict[str, float]) -> go.Figure:
    """Held-out error of each mode against epochs (log scale), the baselines as dashed horizontal lines."""
    fig = plots.line_figure(hist, "epoch", [f"error_{m}" for m in modes], "Held-out error against epochs",
                            ylabel="error (log scale)", labels=CRBM_LABELS, markers=True, log_y=True, legend_below=True)
    x = [hist["epoch"].min(), hist["epoch"].max()]
    for (name, v), dash in zip(refs.items(), ("dash", "dot")):
        fig.add_trace(go.Scatter(x=x, y=[v, v], mode="lines", name=f"{name} ({100 * v:.2f} %)",
                                 line=dict(color="#868e96", dash=dash, width=1.5)))
    return fig


def top_confusions(cm: np.ndarray, names: list[str], n: int = 3) -> str:
    """'4 → 9 (5 digits), ...': the largest off-diagonal cells of a confusion matrix."""
    off = cm.astype(float).copy()
    off[np.arange(10), np.arange(10)] = -1
    cells = [np.unravel_index(i, off.shape) for i in np.argsort(-off, axis=None)[:n]]
    return ", ".join(f"{t} → {names[p]} ({cm[t, p]})" for t, p in cells if cm[t, p] > 0)


def confusion_figure(cm: np.ndarray, names: list[str], title: str) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=cm, x=names, y=[str(j) for j in range(10)], colorscale="Blues", text=cm,
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
                               showscale=False))
    fig = plots.style(fig, title, "predicted", "true class", height=420, legend=False)
    fig.update_yaxes(autorange="reversed")
    return fig


def label_weights_figure(U: np.ndarray, output: str, n: int) -> go.Figure:
    rows = [str(j) for j in range(10)] if output == "onehot" else [f"bit {j + 1} ({8 >> j})" for j in range(U.shape[0])]
    lim = float(np.abs(U[:, :n]).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=U[:, :n], y=rows, colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim,
                               colorbar=dict(title="U", thickness=12)))
    fig = plots.style(fig, f"Label weights U (rows: outputs y_j; columns: the {n} hidden units of the filters above)",
                      "hidden units, by largest |U_jk|", "output", height=300 if output == "onehot" else 220, legend=False)
    fig.update_yaxes(autorange="reversed")
    return fig


def tiny_tables(model: crbm.CRBM, x, y, h) -> dict[str, pd.DataFrame]:
    """The sheet's identities at one configuration, formula vs brute-force enumeration."""
    def frame(rows):
        df = pd.DataFrame(rows, columns=["quantity", "formula", "enumeration"])
        df["|difference|"] = (df["formula"] - df["enumeration"]).abs()
        return df

    ph, bh = model.hidden_probs([x], [y])[0].numpy(), enumeration.brute_hidden(model, x, y)
    py, by = model.output_bit_probs([h])[0].numpy(), enumeration.brute_output(model, x, h)
    f, bf = float(model.free_energy([x], [y])[0]), enumeration.brute_free_energy(model, x, y)
    pyx, bpyx = model.predict_proba([x])[0], enumeration.brute_p_y_given_x(model, x)
    return {
        "hidden": frame([(f"p(h_{k + 1} = 1 | x, y)", ph[k], bh[k]) for k in range(len(ph))]),
        "output": frame([(f"p(y_{j + 1} = 1 | h, x)", py[j], by[j]) for j in range(len(py))]),
        "free": frame([("F(x, y)", f, bf)]),
        "pyx": frame([(f"p(y = {''.join(str(int(v)) for v in code)} | x)", pyx[i], bpyx[i])
                      for i, code in enumerate(model.codes_.numpy())] + [("Σ_y p(y | x)", pyx.sum(), bpyx.sum())]),
    }
