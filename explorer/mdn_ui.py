"""The mixture-density page's widgets, cached training and figures (the data with every model's prediction,
the MDN's density over the plane, its parameters against the input, samples, NLL curves, the gradient table)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import assets
from core.mdn import lab, problems
from core.mdn.models import analytic_gradients, autograd_gradients
from core.uploads import TableError, load_two_columns
from explorer import live, plots
from explorer.widgets import Controls

LABELS = {"nll_ls": "least squares (one fitted width)", "nll_gauss": "heteroscedastic Gaussian",
          "nll_mdn": "MDN", "train_nll_ls": "least squares (training)", "train_nll_gauss": "Gaussian (training)",
          "train_nll_mdn": "MDN (training)"}
COLORS = {"ls": plots.PALETTE[1], "gauss": plots.PALETTE[2], "mdn": plots.PALETTE[0]}
REF_LABELS = {"bayes": "Bayes limit", "gaussian": "best single Gaussian", "least_squares": "best least squares"}
UPLOAD = "upload"


# ----------------------------------------------------------------------------- widgets

def _upload(ctrl: Controls) -> tuple[problems.XYData | None, str]:
    """The uploaded table as training/held-out pairs, or (None, why not)."""
    file = ctrl.where.file_uploader("Two-column table (CSV, TSV, text)", type=["csv", "tsv", "txt", "dat"],
                                    key="csv_file", help="Input in the first column, target in the second (or "
                                    "swap them below); a header row is optional.")
    if file is None:
        return None, "Upload a table with two numeric columns."
    try:
        cols = load_two_columns(file.getvalue(), file.name)
    except TableError as exc:
        return None, str(exc)
    swap = ctrl.toggle("Predict the first column from the second", "swap", False)
    frac = ctrl.select("Held out", "held_out", [0.2, 0.25, 0.3, 0.5], 0.25, labels={
        f: f"{f:.0%} of the rows" for f in (0.2, 0.25, 0.3, 0.5)})
    a, b, names = (cols.b, cols.a, cols.names[::-1]) if swap else (cols.a, cols.b, cols.names)
    data = problems.split_columns(a, b, float(frac), 0, names, f"{file.name} ({names[1]} from {names[0]})")
    data.note = " ".join(cols.notes)
    return data, ""


def controls(ctrl: Controls) -> tuple[lab.MDNRun, problems.XYData | None]:
    """Sidebar widgets -> (run config, the uploaded pairs or None for a toy problem)."""
    d = lab.MDNRun()
    ctrl.where.markdown("**Data**")
    choice = ctrl.select("Problem", "problem", [*problems.PROBLEMS, UPLOAD], d.problem,
                         labels={**{k: p.title for k, p in problems.PROBLEMS.items()}, UPLOAD: "Your own table (CSV)"})
    data = None
    if choice == UPLOAD:
        data, why = _upload(ctrl)
        if data is None:
            st.warning(f"{why} Showing Bishop's inverse problem meanwhile.", icon=":material/upload_file:")
            choice = "bishop"
    if choice in problems.PROBLEMS:
        p = problems.PROBLEMS[choice]
        direction = ctrl.select("Direction", "direction", list(problems.DIRECTIONS), d.direction, horizontal=True,
                                labels={"inverse": "inverse: x from t", "forward": "forward: t from x"},
                                help="The inverse problem is multi-valued: up to three x for one t.")
        n = ctrl.log_slider("Training points", "n", 100, 20_000, d.n_train, options=[
            100, 200, 500, 1000, 2000, 5000, 10_000, 20_000])
        noise = ctrl.log_slider("Noise width w", f"noise_{choice}", min(p.widths), max(p.widths), p.width, options=p.widths,
                                   help=f"t = g(x) + e with e ~ {p.noise_words(p.width).replace(str(p.width), 'w')}")
        data_seed = ctrl.number("Data seed", "data_seed", 0, 10_000, d.data_seed)
        run = replace(d, problem=choice, direction=direction, n_train=int(n), noise=float(noise),
                      data_seed=int(data_seed))
    else:
        run = replace(d, problem="csv", direction="", n_train=len(data.x_train), n_test=len(data.x_test), noise=0.0,
                      csv_sha256=assets.fingerprint(*data.arrays()))
    ctrl.where.markdown("**Models**")
    helps = {"ls": "An MLP trained on the squared error: it learns the conditional average; its likelihood uses one "
                   "width for every input (the RMS of its training residuals).",
             "gauss": "One Gaussian per input with its own mean and width (the MDN with m = 1).",
             "mdn": "m Gaussian kernels per input, mixed by alpha(x)."}
    models = tuple(k for k in lab.MODELS if ctrl.toggle(lab.NAMES[k].capitalize() if k != "mdn" else "MDN", k, True,
                                                          help=helps[k], caption=False))
    m = ctrl.slider("MDN kernels m", "m", 1, 10, d.m)
    hidden = ctrl.log_slider("Hidden units", "hidden", 5, 200, d.hidden, options=[5, 10, 20, 32, 50, 64, 100, 200])
    layers = ctrl.slider("Hidden layers", "layers", 1, 3, d.layers)
    epochs = ctrl.log_slider("Epochs", "epochs", 10, 2000, d.epochs, options=[10, 20, 50, 100, 200, 500, 1000, 2000])
    lr = ctrl.log_slider("Learning rate (Adam, cosine decay)", "lr", 0.001, 0.1, d.lr, options=[
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1])
    batch = ctrl.log_slider("Batch size", "batch", 10, 1000, d.batch_size, options=[10, 20, 50, 100, 200, 500, 1000])
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    run = replace(run, models=models or d.models, m=int(m), hidden=int(hidden), layers=int(layers),
                  epochs=int(epochs), lr=float(lr), batch_size=int(batch), measure_every=max(1, int(epochs) // 40),
                  seed=int(seed))
    return (run, data) if models else (replace(run, models=()), data)


def train(run: lab.MDNRun, data: problems.XYData | None, label: str = "Training the three models") -> live.RunResult | None:
    return live.train_cached(lab.MDNSteps(run, data), curves=[f"nll_{k}" for k in run.models], labels=LABELS,
                             label=label)


@st.cache_data(show_spinner="Computing the Bayes limit from the exact conditional…", max_entries=32)
def references(run: lab.MDNRun) -> dict[str, float]:
    return lab.references(run)


def fitted(res: live.RunResult) -> lab.Fitted:
    """The run's models (shared: their methods change nothing)."""
    return live.built(res, lab.Fitted)


@st.cache_data(show_spinner=False, max_entries=8)
def _pairs(run: lab.MDNRun) -> problems.XYData:
    return lab.data_of(run)


def pairs(run: lab.MDNRun, data: problems.XYData | None) -> problems.XYData:
    """The run's training and held-out pairs."""
    return data if data is not None else _pairs(run)


# ----------------------------------------------------------------------------- figures

def _grid(a: np.ndarray, n: int, pad: float = 0.05) -> np.ndarray:
    lo, hi = float(np.min(a)), float(np.max(a))
    return np.linspace(lo - pad * (hi - lo), hi + pad * (hi - lo), n)


@st.cache_data(show_spinner="Evaluating the models over the plane…", max_entries=16)
def plane(key: str, done: int, _fit: lab.Fitted, _data: problems.XYData, run: lab.MDNRun, n: int = 160) -> dict:
    xs, ts = _grid(_data.x_train[:, 0], n), _grid(_data.t_train[:, 0], n)
    X = xs[:, None]
    out = {"inputs": xs, "targets": ts}
    for k in _fit.nets:
        out[f"mean_{k}"] = _fit.mean(X, k)[:, 0]
        if k != "ls":
            out[f"density_{k}"] = _fit.density(X, ts, k)
            out[f"params_{k}"] = _fit.mixture_params(X, k)
    if "mdn" in _fit.nets:
        out["branch"] = _fit.most_probable(X)[:, 0]
    if run.problem in problems.PROBLEMS:
        out["exact"] = problems.exact_conditional(run.problem, run.direction, run.noise, xs, ts)
    return out


def _heat(z: np.ndarray, xs, ts, name: str) -> go.Heatmap:
    """The density over the plane, each input's column divided by its peak (narrow single branches would otherwise
    wash out the wide three-branch middle); the hover shows the density itself."""
    peaks = z.max(0, keepdims=True)
    rel = np.divide(z, peaks, out=np.zeros_like(z), where=peaks > 0)
    return go.Heatmap(x=xs, y=ts, z=rel, customdata=z, zmin=0, zmax=1, name=name,
                      colorscale=[[0, "#ffffff"], [0.5, "#c6dbef"], [1, "#4a8fcf"]],  # light: lines and points stay visible
                      colorbar=dict(title="density / its<br>peak at this input", thickness=12),
                      hovertemplate="%{x:.3f}, %{y:.3f}: density %{customdata:.3g}<extra></extra>")


def _points(data: problems.XYData, n: int = 1500, color: str = "#495057") -> go.Scatter:
    k = min(n, len(data.x_train))
    return go.Scatter(x=data.x_train[:k, 0], y=data.t_train[:k, 0], mode="markers", name="training pairs",
                      marker=dict(size=2.5, color=color, opacity=0.4))


def fit_figure(pl: dict, data: problems.XYData, models, m: int) -> go.Figure:
    """The data, each model's conditional average, the MDN's density as a heatmap and its most probable branch."""
    fig = go.Figure()
    if "density_mdn" in pl:
        fig.add_trace(_heat(pl["density_mdn"], pl["inputs"], pl["targets"], "MDN density"))
    fig.add_trace(_points(data))
    for k in models:
        fig.add_trace(go.Scatter(x=pl["inputs"], y=pl[f"mean_{k}"], mode="lines", name=f"{lab.NAMES[k]}: mean",
                                 line=dict(color=COLORS[k], width=2.5, dash="dash" if k == "mdn" else None)))
        if k == "gauss":
            mu, sd = pl[f"mean_{k}"], pl["params_gauss"]["sigma"][:, 0]
            for sign in (-1, 1):
                fig.add_trace(go.Scatter(x=pl["inputs"], y=mu + sign * 2 * sd, mode="lines", showlegend=sign > 0,
                                         name="Gaussian: mean ± 2σ", line=dict(color=COLORS[k], width=1, dash="dot")))
    if "branch" in pl:
        fig.add_trace(go.Scatter(x=pl["inputs"], y=pl["branch"], mode="markers", name="MDN: most probable branch",
                                 marker=dict(size=5, color="#c2255c", symbol="circle")))
    title = f"The data and each model's prediction{f' (MDN density, m = {m})' if 'density_mdn' in pl else ''}"
    return _below(plots.style(fig, title, data.input_name, data.target_name, height=560))


def _below(fig: go.Figure) -> go.Figure:
    """Legend under the plot (several entries would cover the title), hover on the nearest point."""
    fig.update_layout(hovermode="closest", legend=dict(orientation="h", yanchor="top", y=-0.14, x=0, xanchor="left"),
                      margin=dict(b=120))
    return fig


def exact_figure(pl: dict, data: problems.XYData) -> go.Figure:
    fig = go.Figure([_heat(pl["exact"], pl["inputs"], pl["targets"], "exact p"), _points(data, color=plots.PALETTE[1])])
    fig = plots.style(fig, f"The exact conditional p({data.target_name} | {data.input_name}) of the generating process",
                      data.input_name, data.target_name, height=560)
    return _below(fig)


def params_figures(pl: dict, data: problems.XYData, kind: str = "mdn") -> list[go.Figure]:
    p, xs = pl[f"params_{kind}"], pl["inputs"]
    m = p["alpha"].shape[1]
    figs = []
    for name, arr, ylabel in (("alpha", p["alpha"], "mixing coefficient α_i"), ("mu", p["mu"][:, :, 0], "mean μ_i"),
                              ("sigma", p["sigma"], "width σ_i")):
        fig = go.Figure()
        for i in range(m):
            fig.add_trace(go.Scatter(x=xs, y=arr[:, i], mode="lines", name=f"kernel {i + 1}",
                                     line=dict(color=plots.PALETTE[i % len(plots.PALETTE)], width=2)))
        title = {"alpha": "α_i against the input", "mu": "μ_i against the input", "sigma": "σ_i against the input"}[name]
        if name == "mu":
            fig.add_trace(go.Scatter(x=data.x_train[:800, 0], y=data.t_train[:800, 0], mode="markers", name="data",
                                     marker=dict(size=3, color="#adb5bd")))
        figs.append(_below(plots.style(fig, title, data.input_name, ylabel, height=380)))
    return figs


def params_table(pl: dict, kind: str = "mdn") -> pd.DataFrame:
    p = pl[f"params_{kind}"]
    out = {"input": pl["inputs"]}
    for i in range(p["alpha"].shape[1]):
        out[f"alpha_{i + 1}"] = p["alpha"][:, i]
        out[f"mu_{i + 1}"] = p["mu"][:, i, 0]
        out[f"sigma_{i + 1}"] = p["sigma"][:, i]
    return pd.DataFrame(out)


@st.cache_data(show_spinner="Sampling from the MDN…", max_entries=16)
def samples(key: str, done: int, _fit: lab.Fitted, x: np.ndarray, seed: int) -> np.ndarray:
    return _fit.sample(x, seed)


def samples_figure(data: problems.XYData, x: np.ndarray, draws: np.ndarray) -> go.Figure:
    fig = go.Figure([go.Scatter(x=data.x_test[: len(x), 0], y=data.t_test[: len(x), 0], mode="markers",
                                name="held-out pairs", marker=dict(size=3, color="#868e96", opacity=0.6)),
                     go.Scatter(x=x[:, 0], y=draws[:, 0], mode="markers", name="MDN samples",
                                marker=dict(size=3, color=plots.PALETTE[0], opacity=0.6))])
    return _below(plots.style(fig, "Samples from the MDN at the held-out inputs, next to the held-out pairs",
                              data.input_name, data.target_name, height=520))


def nll_table(hist: pd.DataFrame, models, refs: dict) -> pd.DataFrame:
    last = hist.iloc[-1]
    rows = [{"model": LABELS[f"nll_{k}"], "held-out NLL": last[f"nll_{k}"], "training NLL": last[f"train_nll_{k}"],
             "gap to the Bayes limit": last[f"nll_{k}"] - refs["bayes"] if refs else np.nan} for k in models]
    rows += [{"model": f"{REF_LABELS[r]} (exact, expected)", "held-out NLL": v, "training NLL": np.nan,
              "gap to the Bayes limit": v - refs["bayes"]} for r, v in refs.items()]
    return pd.DataFrame(rows)


def shown(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table's numbers as text (NaN as an empty cell) for st.dataframe."""
    return table.map(lambda v: "" if isinstance(v, float) and np.isnan(v) else
                     (f"{v:.{digits}f}" if isinstance(v, (float, np.floating)) else v))


def sweep_rows(run: lab.MDNRun, data: problems.XYData | None) -> list[dict]:
    """Train (or load) the MDN alone for m = 1 .. 10; one row per finished run."""
    rows = []
    for r in lab.m_sweep(run):
        res = train(r, data, label=f"Training the MDN with m = {r.m}")
        if res is None or res.status == "stopped":
            break
        rows.append({"m": r.m, "held-out NLL": res.result["history"][-1]["nll_mdn"],
                     "training NLL": res.result["history"][-1]["train_nll_mdn"]})
    return rows


# ----------------------------------------------------------------------------- the derivations

def gradient_table(z_alpha, z_sigma, z_mu, t) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the mixture at the point: alpha, sigma, mu, pi per kernel; the sheet's derivatives, analytic vs autograd)."""
    a, g = analytic_gradients(z_alpha, z_sigma, z_mu, t), autograd_gradients(z_alpha, z_sigma, z_mu, t)
    m, c = np.asarray(z_mu).shape
    mix = pd.DataFrame({"kernel i": np.arange(1, m + 1), "alpha_i": a["alpha"], "sigma_i": a["sigma"],
                        **{f"mu_i{k + 1}" if c > 1 else "mu_i": np.asarray(z_mu)[:, k] for k in range(c)},
                        "posterior pi_i": a["pi"]})
    rows = [("E = −log Σ α_i φ_i", "", float(a["E"]), float(g["E"]))]
    names = {"dE_dalpha": "(a)(i) ∂E/∂α_i = −π_i/α_i", "dE_dmu": "(a)(ii) ∂E/∂μ_ik = π_i (μ_ik − t_k)/σ_i²",
             "dE_dzalpha": "(b) ∂E/∂z^α_i = α_i − π_i", "dE_dzsigma": "∂E/∂z^σ_i = −π_i (‖t − μ_i‖²/σ_i² − c)"}
    for key, label in names.items():
        A, G = np.asarray(a[key]), np.asarray(g[key])
        for idx in np.ndindex(A.shape):
            where = f"i = {idx[0] + 1}" + (f", k = {idx[1] + 1}" if len(idx) > 1 else "")
            rows.append((label, where, float(A[idx]), float(G[idx])))
    df = pd.DataFrame(rows, columns=["quantity", "index", "analytic", "autograd"])
    df["|difference|"] = (df["analytic"] - df["autograd"]).abs()
    return mix, df
