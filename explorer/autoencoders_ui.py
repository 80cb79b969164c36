"""What the autoencoder pages share: the widgets and cached training of the VAE, the denoising autoencoders and the
greedy stacks (DBN, stacked autoencoders), cached derived arrays (codes, decodings, chains, likelihoods, scores), the
latent-plane figure with its click-to-decode selection, and the reference log-likelihoods of the shipped models."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.autoencoders import dae, features, sae, stacks, vae
from core.boltzmann import dbm
from core.data import ImageData, held_out_binary
from explorer import live, plots
from explorer.widgets import Controls

VAE_LABELS = {"elbo": "ELBO (held-out)", "train_elbo": "ELBO (training batches)", "recon": "reconstruction E_q log p(x|z) (held-out)",
              "train_recon": "reconstruction (training batches)", "kl": "KL(q(z|x) || p(z)) (held-out)",
              "train_kl": "KL (training batches)", "train_bound": "training objective (beta-ELBO or IWAE bound)",
              "active_units": "active latent units", "kl_weight": "KL weight (warm-up to beta)"}
DAE_LABELS = {**{f"denoise_{m}": f"{dae.NAMES[m]}: -log P(x | corrupted x)" for m in dae.NAMES},
              **{f"recon_{m}": f"{dae.NAMES[m]}: -log P(x | x)" for m in dae.NAMES},
              **{f"train_loss_{m}": f"{dae.NAMES[m]} (training loss)" for m in dae.NAMES}}
DBN_LABELS = {"recon_layer": "reconstruction error of the layer being trained (its own input)",
              "recon_pixels": "reconstruction error in pixels, through every layer so far"}
SAE_LABELS = {"recon_greedy": "greedy stack (pre-trained layer by layer)", "recon_e2e": "trained end to end"}
COLORS = plots.CLASS_COLORS  # one distinct hue per digit (1 and 7, 4 and 9 are told apart)


# ----------------------------------------------------------------------------- the reference numbers

def _shipped_dbm(data: ImageData) -> dict | None:
    return live.shipped_run(dbm.DBMSteps(dbm.DBMRun(), data)) if data.name == "mnist" else None


def same_digits(data: ImageData) -> bool:
    """True when `data` has exactly the digits the shipped models were trained and scored on (the MNIST split): the
    shipped DBM's own check (its config's training digits and the held-out ones, `Steps.shipped`)."""
    return _shipped_dbm(data) is not None


def boltzmann_references(data: ImageData) -> dict[str, float]:
    """The shipped DBM's and RBM's held-out AIS log-likelihoods when `data` holds the same held-out digits, else {}."""
    run = _shipped_dbm(data)
    if run is None:
        return {}
    ll = run["provenance"].get("scores", {}).get("log_likelihood", {})
    out = {}
    if "dbm" in ll:
        out["DBM 784-500-500 (bound − AIS log Ẑ; no sure direction)"] = float(ll["dbm"]["ll"])
    if "rbm" in ll:
        out["RBM 500 hidden (AIS; errs high)"] = float(ll["rbm"]["ll"])
    return out


def boltzmann_references_how(data: ImageData) -> str:
    """How the shipped Boltzmann references were measured (runs, temperatures, base model, ESS), in one line."""
    run = _shipped_dbm(data)
    ll = (run or {}).get("provenance", {}).get("scores", {}).get("log_likelihood", {})
    if "rbm" not in ll:
        return "shipped with the app; AIS"
    a, d = ll["rbm"]["ais"], ll.get("dbm", {}).get("ais", {})
    return (f"shipped with the app; AIS, {a['n_runs']} runs × {a['n_betas']:,} temperatures, "
            f"{a.get('n_components', 1)}-component base; ESS {a['ess']:.0f} (RBM), {d.get('ess', float('nan')):.0f} (DBM)")


@st.cache_resource(show_spinner=False)
def _shipped_vae_scores() -> dict[int, dict]:
    return {z: s for z in vae.ASSET_DIRS if (s := vae.shipped_scores(z))}


def shipped_vae_scores(data: ImageData) -> dict[int, dict]:
    """{latent: provenance scores} of the shipped VAEs (their k = 5,000 held-out likelihoods) on the same digits."""
    return _shipped_vae_scores() if same_digits(data) else {}


# ----------------------------------------------------------------------------- VAE

def vae_controls(ctrl: Controls, data: ImageData) -> vae.VAERun:
    d = vae.VAERun()
    ctrl.where.markdown("**VAE**")
    latent = ctrl.log_slider("Latent dimensions", "latent", 2, 64, d.latent, options=list(vae.LATENTS),
                             help="2: the latent plane is the picture (manifold, click to decode). The runs with "
                                  "2 and 32 dimensions at the other defaults ship with the app.")
    beta = ctrl.log_slider("beta (weight of the KL term)", "beta", 0.1, 10.0, d.beta,
                           options=[0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0],
                           help="1: the ELBO. Below 1: sharper reconstructions, a less regular latent space; above 1: "
                                "a smoother, more disentangled latent space and blurrier digits (beta-VAE).")
    iwae = ctrl.toggle("IWAE training (k importance samples)", "iwae", d.k > 1,
                       help="Train on the importance-weighted bound L_k = E log 1/k Σ w_i (Burda et al.) instead of "
                            "the ELBO: tighter, more active latent units, k times the decoder work.")
    k = ctrl.log_slider("k (IWAE samples)", "k", 2, 50, 5, options=[2, 5, 10, 20, 50]) if iwae else 1
    hidden = ctrl.log_slider("Hidden units (each of 2 layers, encoder and decoder)", "hidden", 100, 1000, d.hidden,
                             options=[100, 200, 500, 1000])
    epochs = ctrl.log_slider("Epochs", "epochs", 1, 500, d.epochs, options=list(vae.EPOCHS),
                             help="Passes over the 8,000 training digits (a fresh binarisation each); a few seconds "
                                  "each on a 2-core CPU. Raising it continues the cached shorter run.")
    lr = ctrl.log_slider("Learning rate (Adam)", "lr", 1e-4, 1e-2, d.lr)
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    return replace(d, dataset=data.name, n_train=min(len(data.X_train), d.n_train), latent=int(latent),
                   beta=float(beta), k=int(k), hidden=int(hidden), epochs=int(epochs), lr=float(lr), seed=int(seed),
                   n_eval=min(len(data.X_test), d.n_eval))


def train_vae(run: vae.VAERun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(vae.VAESteps(run, data), curves=["elbo", "train_elbo"], labels=VAE_LABELS,
                             label="Training the VAE")


def vae_model(res: live.RunResult) -> vae.VAE:
    """The run's VAE (shared, eval mode: its functions take seeds and change nothing)."""
    return live.built(res, vae.model, device="cpu")


@st.cache_data(show_spinner="Encoding the held-out digits…", max_entries=16)
def codes(key: str, done: int, _model: vae.VAE, _X: np.ndarray, n: int) -> dict:
    """Posterior means and standard deviations of the first n held-out digits (binarised), and their 2-D view."""
    mu, sd = vae.encode_means(_model, _X[:n])
    return {"mu": mu, "sd": sd, "plane": vae.latent_plane(mu), "active": vae.active_units(mu)}


@st.cache_data(show_spinner=False, max_entries=64)
def decoded(key: str, done: int, _model: vae.VAE, Z: tuple) -> np.ndarray:
    """Decoder means of the codes Z (a tuple of tuples, so that it can be a cache key)."""
    return vae.decode_means(_model, np.asarray(Z, np.float32))


@st.cache_data(show_spinner="Decoding the latent grid…", max_entries=16)
def manifold(key: str, done: int, _model: vae.VAE, n: int) -> tuple[np.ndarray, np.ndarray]:
    grid = vae.manifold_grid(n)
    return grid, vae.decode_means(_model, grid)


@st.cache_data(show_spinner=False, max_entries=16)
def reconstructions(key: str, done: int, _model: vae.VAE, X: np.ndarray) -> np.ndarray:
    mu, _ = vae.encode_means(_model, X)
    return vae.decode_means(_model, mu)


@st.cache_data(show_spinner=False, max_entries=16)
def prior_samples(key: str, done: int, _model: vae.VAE, n: int, seed: int) -> np.ndarray:
    return vae.sample_prior(_model, n, seed)


@st.cache_data(show_spinner="Estimating log p(x) by importance sampling…", max_entries=32)
def is_likelihood(key: str, done: int, _model: vae.VAE, _X: np.ndarray, k: int, n: int) -> dict:
    """log p(x) of the first n held-out digits with k importance samples, and their ELBO (10 samples)."""
    X = _X[:n]
    out = vae.log_likelihood_is(_model, X, k=k)
    out = {key_: v for key_, v in out.items() if key_ not in ("per_digit", "per_digit_se")}
    return {**out, "elbo": vae.elbo_of(_model, X, samples=10)}


@st.cache_data(show_spinner="Measuring how the estimate tightens with k…", max_entries=16)
def is_against_k(key: str, done: int, _model: vae.VAE, _X: np.ndarray, ks: tuple, n: int) -> pd.DataFrame:
    rows = []
    for k in ks:
        r = vae.log_likelihood_is(_model, _X[:n], k=int(k))
        rows.append({"k": int(k), "log_likelihood": r["ll"], "se_mc": r["se_mc"], "ess": r["ess"]})
    return pd.DataFrame(rows)


def latent_figure(plane: dict, labels: np.ndarray, classes: list[str], extent: float | None = None,
                  title: str = "", grid_n: int = 41) -> go.Figure:
    """The held-out codes as a scatter coloured by class, over an invisible grid of points covering the plane (so
    that a click anywhere selects a point: curve 0 is the grid, curves 1.. the classes; customdata = digit index)."""
    xy = plane["xy"]
    if extent is None:
        lo, hi = np.percentile(xy, [0.5, 99.5], axis=0)
        pad = 0.1 * (hi - lo)
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = np.array([-extent, -extent]), np.array([extent, extent])
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid_n), np.linspace(lo[1], hi[1], grid_n))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name="(click to decode)",
                             marker=dict(size=9, color="rgba(0,0,0,0.015)", symbol="square"),
                             hovertemplate="decode z = (%{x:.2f}, %{y:.2f})<extra></extra>", showlegend=False))
    for c in range(len(classes)):
        idx = np.flatnonzero(labels == c)
        fig.add_trace(go.Scatter(x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=classes[c], customdata=idx,
                                 marker=dict(size=5, color=COLORS[c % len(COLORS)], opacity=0.75),
                                 hovertemplate=f"digit %{{customdata}} (class {classes[c]})<extra></extra>"))
    plots.style(fig, title, "z1" if plane["explained"][1] == 0 else f"PC 1 ({plane['explained'][0]:.0%} of the variance)",
                "z2" if plane["explained"][1] == 0 else f"PC 2 ({plane['explained'][1]:.0%})", height=560)
    fig.update_layout(hovermode="closest", clickmode="event+select", dragmode="select",
                      legend=dict(orientation="v", x=1.01, y=1, xanchor="left", yanchor="top"))
    fig.update_xaxes(range=[lo[0], hi[0]], zeroline=False)
    fig.update_yaxes(range=[lo[1], hi[1]], zeroline=False, scaleanchor="x", scaleratio=1)
    return fig


def show_latent_figure(fig: go.Figure, key: str) -> dict:
    """Draw the latent plane with selection events on; returns the selection ({"points": [...], "box": [...]})."""
    event = plots.show_figure(fig, key=key, filename=key, on_select="rerun", selection_mode=("points", "box"))
    sel = getattr(event, "selection", None) or {}
    return {"points": list(sel.get("points", [])), "box": list(sel.get("box", []))}


def selected_points(selection: dict, limit: int = 16) -> list[dict]:
    """The clicked or boxed points as [{"xy": (x, y), "digit": index or None}], digits first, at most `limit`."""
    out = []
    for p in selection.get("points", []):
        if "x" not in p or "y" not in p:
            continue
        cd = p.get("customdata")
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        digit = int(cd) if cd is not None and int(p.get("curve_number", 0)) > 0 else None
        out.append({"xy": (float(p["x"]), float(p["y"])), "digit": digit})
    out.sort(key=lambda q: q["digit"] is None)
    return out[:limit]


def box_corners(selection: dict) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """((x0, x1), (y0, y1)) of the first box drawn, sorted, or None."""
    for b in selection.get("box", []):
        xs, ys = b.get("x"), b.get("y")
        if xs and ys and len(xs) >= 2 and len(ys) >= 2:
            return (min(xs[0], xs[1]), max(xs[0], xs[1])), (min(ys[0], ys[1]), max(ys[0], ys[1]))
    return None


# ----------------------------------------------------------------------------- denoising autoencoders

LEVELS = {"salt_pepper": [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
          "gaussian": [0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0]}
CORRUPTION_LABELS = {"salt_pepper": "salt-and-pepper", "gaussian": "Gaussian"}


def dae_controls(ctrl: Controls, data: ImageData) -> dae.DAERun:
    d = dae.DAERun()
    ctrl.where.markdown("**Autoencoders**")
    kind = ctrl.select("Corruption C(x~ | x)", "corruption", list(dae.CORRUPTIONS), d.corruption,
                       labels=CORRUPTION_LABELS, horizontal=True,
                       help="Salt-and-pepper: each pixel, with probability 'level', is reset to 0 or 1 (a coin). "
                            "Gaussian: x + level · N(0, 1) per pixel.")
    default = d.level if kind == d.corruption else 0.5
    level = ctrl.log_slider("Corruption level" + (" (probability a pixel is reset)" if kind == "salt_pepper" else
                                                  " (noise standard deviation)"),
                            "level", LEVELS[kind][0], LEVELS[kind][-1], default, options=LEVELS[kind])
    walk = ctrl.toggle("Walkback training (a third model)", "walkback", d.walkback,
                       help="Bengio et al.'s Algorithm 2: after corrupting x, keep going with probability p: sample "
                            "the model's own reconstruction, corrupt it again, and train it to return x.")
    p = ctrl.log_slider("Walkback: probability of one more step", "walkback_p", 0.1, 0.9, d.walkback_p,
                        options=[0.1, 0.3, 0.5, 0.7, 0.8, 0.9]) if walk else d.walkback_p
    hidden = ctrl.log_slider("Hidden units (tanh)", "hidden", 100, 2000, d.hidden, options=[100, 200, 500, 1000, 2000])
    tied = ctrl.toggle("Tied weights (decoder = encoder transposed)", "tied", d.tied,
                       help="Vincent et al.'s tied autoencoder: half the parameters, and a reconstruction that cannot "
                            "copy through a separate decoder.")
    epochs = ctrl.log_slider("Epochs", "epochs", 1, 200, d.epochs, options=list(dae.EPOCHS),
                             help="Each epoch trains every model once over the 8,000 training digits; raising it "
                                  "continues the cached shorter run. The defaults ship with the app.")
    lr = ctrl.log_slider("Learning rate (Adam)", "lr", 1e-4, 1e-2, d.lr)
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    return replace(d, dataset=data.name, n_train=min(len(data.X_train), d.n_train), corruption=kind,
                   level=float(level), walkback=bool(walk), walkback_p=float(p), hidden=int(hidden), tied=bool(tied),
                   epochs=int(epochs), lr=float(lr), seed=int(seed), n_eval=min(len(data.X_test), d.n_eval))


def train_dae(run: dae.DAERun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(dae.DAESteps(run, data), curves=[f"denoise_{m}" for m in run.models], labels=DAE_LABELS,
                             label="Training the autoencoders")


def dae_models(res: live.RunResult) -> dict:
    return live.built(res, dae.models, device="cpu")


@st.cache_data(show_spinner="Running the chains…", max_entries=32)
def chains(key: str, done: int, _models: dict, kind: str, level: float, x0: np.ndarray, steps: int,
           seed: int) -> dict:
    """Every model's chain from the same start, recorded at about geometric steps: {"steps", name: {t: images}}."""
    record = sorted({0, *np.unique(np.geomspace(1, steps, 20).astype(int)).tolist(), int(steps)})
    out = {"steps": record}
    for m, net in _models.items():
        out[m] = dae.chain(net, x0, steps, kind, level, seed=seed, record=record)
    return out


@st.cache_data(show_spinner=False, max_entries=4)
def noise_start(n: int, n_v: int, seed: int) -> np.ndarray:
    return dae.noise_start(n, n_v, seed)


def chain_scores(key: str, done: int, result: dict, data: ImageData, burn_in: int, seed: int) -> dict:
    """dae.score_chains with the dataset's quality classifier (explorer.gan_ui.quality: trained live on a cold
    start, outside the cached scoring)."""
    from explorer.gan_ui import quality

    return _chain_scores(key, done, result, data, quality(data.name), burn_in, seed)


@st.cache_data(show_spinner="Scoring the chains' samples with the quality classifier…", max_entries=16)
def _chain_scores(key: str, done: int, _result: dict, _data: ImageData, _qm, burn_in: int, seed: int) -> dict:
    return dae.score_chains(_result, _data, _qm, burn_in=burn_in, seed=seed)


@st.cache_data(show_spinner=False, max_entries=16)
def denoised(key: str, done: int, _models: dict, X: np.ndarray, kind: str, level: float, seed: int) -> dict:
    """A corruption of X (seeded) and every model's mean reconstruction of it."""
    return dae.denoise_panel(_models, X, kind, level, seed)


# ----------------------------------------------------------------------------- greedy stacks

DBN_SIZES = [50, 100, 200, 500, 1000]


def dbn_controls(ctrl: Controls, data: ImageData) -> stacks.DBNRun:
    d = stacks.DBNRun()
    ctrl.where.markdown("**Deep belief network (greedy RBMs)**")
    layers = ctrl.select("RBMs stacked", "layers", [2, 3], d.layers, horizontal=True)
    h1 = ctrl.log_slider("h1 units", "h1", 50, 1000, d.hidden1, options=DBN_SIZES)
    h2 = ctrl.log_slider("h2 units", "h2", 50, 1000, d.hidden2, options=DBN_SIZES)
    h3 = ctrl.log_slider("h3 units", "h3", 50, 1000, d.hidden3, options=DBN_SIZES) if layers == 3 else d.hidden3
    epochs = ctrl.log_slider("Epochs per RBM", "epochs", 1, 100, d.epochs, options=[1, 2, 5, 10, 20, 50, 100],
                             help="About 1-3 s per epoch for 500 units on a 2-core CPU; the defaults ship with the app.")
    lr = ctrl.log_slider("RBM learning rate", "lr", 0.001, 0.2, d.lr,
                         options=[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    method = ctrl.select("Algorithm", "method", ["cd", "pcd"], d.method, labels={"cd": "CD-1", "pcd": "PCD-1"},
                         horizontal=True)
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    return replace(d, dataset=data.name, n_train=min(len(data.X_train), d.n_train), layers=int(layers),
                   hidden1=int(h1), hidden2=int(h2), hidden3=int(h3), epochs=int(epochs), lr=float(lr),
                   method=method, seed=int(seed), n_eval=min(len(data.X_test), d.n_eval))


def shipped_dbn_scores(run: stacks.DBNRun, data: ImageData) -> dict:
    """The provenance scores of the shipped DBN when it was made with exactly `run` on these digits, else {}."""
    ship = live.shipped_run(stacks.DBNSteps(run, data))
    return ship["provenance"].get("scores", {}) if ship else {}


def train_dbn(run: stacks.DBNRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(stacks.DBNSteps(run, data), curves=["recon_pixels"], labels=DBN_LABELS,
                             label="Training the DBN layer by layer")


@st.cache_resource(show_spinner=False, max_entries=8)
def _dbn_rbms(key: str, done: int, _result: dict) -> list:
    return stacks.dbn_rbms(_result)


def dbn_rbms(res: live.RunResult) -> list:
    return _dbn_rbms(res.key, res.done, res.result)


@st.cache_data(show_spinner="Gibbs sampling in the top RBM…", max_entries=16)
def dbn_chains(key: str, done: int, _rbms: list, n: int, steps: int, seed: int) -> dict:
    record = sorted({0, *np.unique(np.geomspace(1, steps, 20).astype(int)).tolist(), int(steps)})
    return {"steps": record, "frames": stacks.dbn_sample(_rbms, n, steps, seed=seed, record=record)}


@st.cache_data(show_spinner="Estimating log Z of the top RBM by AIS and the variational bound…", max_entries=8)
def dbn_likelihood(key: str, done: int, _rbms: list, _data: ImageData, n_train: int, betas: int, runs: int) -> dict:
    V = held_out_binary(_data.X_test)
    Xtr = _data.X_train[:n_train]
    return {"dbn": stacks.dbn_log_likelihood(_rbms, V, Xtr, betas, runs),
            "rbm1": stacks.rbm_alone_log_likelihood(_rbms, V, Xtr, betas, runs)}


def sae_controls(ctrl: Controls, data: ImageData) -> sae.SAERun:
    d = sae.SAERun()
    ctrl.where.markdown("**Stacked autoencoders**")
    layers = ctrl.select("Autoencoders stacked", "sae_layers", [2, 3], d.layers, horizontal=True)
    h1 = ctrl.log_slider("Code 1 units", "sae_h1", 50, 1000, d.hidden1, options=[50, 100, 200, 500, 1000])
    h2 = ctrl.log_slider("Code 2 units", "sae_h2", 10, 500, d.hidden2, options=[10, 20, 50, 100, 200, 500])
    h3 = ctrl.log_slider("Code 3 units", "sae_h3", 10, 500, d.hidden3, options=[10, 20, 50, 100, 200, 500]) \
        if layers == 3 else d.hidden3
    epochs = ctrl.log_slider("Greedy epochs per layer", "sae_epochs", 1, 50, d.epochs, options=[1, 2, 5, 10, 20, 50],
                             help="The end-to-end net trains as many epochs as the greedy stack in all.")
    fine = ctrl.log_slider("Fine-tuning epochs after pre-training", "sae_fine", 0, 20, d.fine_tune,
                           options=[0, 1, 2, 5, 10, 20])
    return replace(d, dataset=data.name, n_train=min(len(data.X_train), d.n_train), layers=int(layers),
                   hidden1=int(h1), hidden2=int(h2), hidden3=int(h3), epochs=int(epochs), fine_tune=int(fine),
                   n_eval=min(len(data.X_test), d.n_eval))


def train_sae(run: sae.SAERun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(sae.SAESteps(run, data), curves=["recon_greedy", "recon_e2e"], labels=SAE_LABELS,
                             label="Training the stacked autoencoders")


def sae_models(res: live.RunResult) -> dict:
    return live.built(res, sae.models, device="cpu")


@st.cache_data(show_spinner="Fitting a logistic regression on each set of features…", max_entries=8)
def feature_errors(sae_key: str, sae_done: int, dbn_key: str | None, dbn_done: int, _nets: dict, _rbms: list | None,
                   _data: ImageData, n_train: int) -> pd.DataFrame:
    """Held-out classification error of a logistic regression on raw pixels, each stack's top codes and the DBN's
    top-layer features (core.autoencoders.features)."""
    encoders = features.stack_encoders(_nets, _rbms)
    return pd.DataFrame(features.feature_errors(encoders, _data.X_train[:n_train], _data.y_train[:n_train],
                                                _data.X_test, _data.y_test))


def references_table(rows: list[dict], data: ImageData) -> pd.DataFrame:
    """A tidy comparison table (model, held-out log-likelihood, how) with the Boltzmann references appended."""
    how = boltzmann_references_how(data)
    refs = [{"model": name, "held_out_log_likelihood": v, "how": how} for name, v in boltzmann_references(data).items()]
    return pd.DataFrame(rows + refs)


def bar_figure(df: pd.DataFrame, title: str) -> go.Figure:
    """Held-out log-likelihoods as labelled dots on one axis (higher, to the right, is better), in the table's order."""
    vals = df["held_out_log_likelihood"].astype(float)
    fig = go.Figure(go.Scatter(x=vals, y=df["model"], mode="markers+text", text=[f"{v:.1f}" for v in vals],
                               textposition="middle left", marker=dict(size=14, color=[COLORS[i % len(COLORS)]
                                                                                      for i in range(len(df))]),
                               hovertemplate="%{y}: %{x:.2f} nats<extra></extra>"))
    lo, hi = float(vals.min()), float(vals.max())
    pad = max(3.0, 0.15 * (hi - lo))
    plots.style(fig, title, "held-out log-likelihood (nats per image; higher, to the right, is better)", "",
                height=110 + 45 * len(df), legend=False)
    fig.update_xaxes(range=[lo - 2 * pad, hi + pad])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(hovermode="closest", margin=dict(l=300))
    return fig


def show_settings(ctrl: Controls, res: live.RunResult, keys=None) -> str:
    settings = ctrl.caption(keys)
    st.caption(f"{settings} · {res.status_line()}")
    return settings

