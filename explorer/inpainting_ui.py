"""The inpainting lab's cached computations and widgets (PCA fills, EBM training, RBM column). Seconds are counted
by core.progress.Stopwatch; the method comparison itself is core.inpainting.compare."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from core.boltzmann import rbm_lab
from core.data import ImageData
from core.inpainting import compare
from core.inpainting import ebm as ip
from core.inpainting.masks import MaskedSet, masked_held_out
from core.inpainting.pca import D_GRID, PCAInpainter
from core.progress import Stopwatch
from explorer import boltzmann_ui, live
from explorer.widgets import Controls

LABELS = {"masked_mse": "masked MSE (held-out)", "loss": "loss (one optimizer)", "energy_real": "energy of real digits",
          "energy_fake": "energy of completions", "mse_project": "PCA projection", "mse_lstsq": "PCA least squares on observed pixels",
          "train_rec": "masked MSE (training batches)", "train_gp": "gradient penalty (training batches)",
          "energy_gap": "held-out digits", "train_gap": "training batches"}


# ----------------------------------------------------------------------------- data

@st.cache_data(show_spinner=False, max_entries=8)
def masked_set(name: str, n: int, mask_seed: int, _data: ImageData) -> MaskedSet:
    """The fixed held-out digits with their holes (shared: never modify the arrays)."""
    return masked_held_out(_data, n=n, mask_seed=mask_seed)


# ----------------------------------------------------------------------------- PCA

@st.cache_resource(show_spinner="Computing principal components…", max_entries=4)
def pca(name: str, n_train: int, _data: ImageData) -> tuple[PCAInpainter, float]:
    """The components of the training digits, and the seconds the fit took."""
    clock = Stopwatch()
    with clock("fit"):
        model = PCAInpainter(400).fit(_data.X_train[:n_train])
    return model, clock["fit"]


@st.cache_data(show_spinner="Scoring PCA for every d…", max_entries=8)
def pca_curves(name: str, n_train: int, n: int, mask_seed: int, _data: ImageData) -> tuple[pd.DataFrame, dict]:
    """Masked MSE against d for both PCA fills, and the seconds of one fill of every digit (each sweep's / its d's)."""
    model, _ = pca(name, n_train, _data)
    ms = masked_set(name, n, mask_seed, _data)
    clock = Stopwatch()
    curves = compare.pca_curves(model, ms, D_GRID, clock)
    return pd.DataFrame(curves), {m: clock[m] / len(curves["d"]) for m in compare.METHODS}


@st.cache_data(show_spinner=False, max_entries=64)
def pca_fill(name: str, n_train: int, n: int, mask_seed: int, d: int, method: str, _data: ImageData) -> np.ndarray:
    model, _ = pca(name, n_train, _data)
    ms = masked_set(name, n, mask_seed, _data)
    return model.inpaint(ms.X_in, ms.mask, d, method)


# ----------------------------------------------------------------------------- energy model

def ebm_controls(ctrl: Controls, data: ImageData, n_eval: int, mask_seed: int) -> ip.EBMRun:
    d = ip.EBMRun()
    ctrl.where.markdown("**Energy model + generator**")
    epochs = ctrl.log_slider("Epochs", "epochs", 1, 50, d.epochs, options=[1, 2, 3, 5, 8, 10, 15, 20, 30, 50],
                             help="Passes over the 8,000 training digits; about 10-20 s each on a 2-core CPU. "
                                  "The default run ships with the app.")
    lr = ctrl.log_slider("Learning rate", "lr", 1e-4, 2e-3, d.lr)
    gp = ctrl.log_slider("Gradient penalty", "gp", 0, 100, d.gp, options=[0, 1, 3, 10, 30, 100],
                         help="Weight of (‖∇E‖ − 1)² between real digits and completions (WGAN-GP): keeps the energy "
                              "smooth so its slope guides the generator. 0 = no penalty.")
    rec = ctrl.log_slider("Masked-MSE weight", "rec", 0, 10, d.rec_weight, options=[0, 0.1, 0.3, 1, 3, 10],
                          help="Optional squared error on the hole added to the one loss; the exercise uses energies "
                               "only (0).")
    flip = ctrl.log_slider("Gradient-flip scale", "flip", 0, 1, d.flip, options=[0, 0.001, 0.01, 0.03, 0.1, 0.3, 1],
                           help="The reversed gradient the generator receives is multiplied by this; 0 = no adversary. "
                                "Adam rescales gradients, so it only matters against the masked-MSE weight.")
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    return replace(d, dataset=data.name, n_train=min(len(data.X_train), 8000), epochs=int(epochs), lr=float(lr),
                   gp=float(gp), rec_weight=float(rec), flip=float(flip), seed=int(seed), mask_seed=int(mask_seed),
                   n_eval=int(n_eval))


def ebm_history(res: live.RunResult) -> pd.DataFrame:
    """The run's history with the energy gaps E(completion) - E(real), held-out and on training batches."""
    hist = res.history
    hist["energy_gap"] = hist["energy_fake"] - hist["energy_real"]
    if "train_e_fake" in hist:
        hist["train_gap"] = hist["train_e_fake"] - hist["train_e_real"]
    return hist


def train_ebm(run: ip.EBMRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(ip.EBMSteps(run, data), curves=["masked_mse"], labels=LABELS,
                             label="Training the energy network + generator")


@st.cache_data(show_spinner="Completing the held-out digits…", max_entries=32)
def ebm_fill(key: str, epochs: int, name: str, n: int, mask_seed: int, _res: live.RunResult,
             _data: ImageData) -> tuple[np.ndarray, float]:
    """The evaluated generator's completions of the scored digits, and the seconds they took."""
    G = live.built(_res, ip.generator, device="cpu")
    ms = masked_set(name, n, mask_seed, _data)
    clock = Stopwatch()
    with clock("fill"):
        out = ip.complete_array(G, ms.X_in, ms.mask)
    return out, clock["fill"]


# ----------------------------------------------------------------------------- RBM column

def rbm_controls(ctrl: Controls, data: ImageData) -> tuple[rbm_lab.RBMRun, int]:
    d = rbm_lab.RBMRun().rbm
    ctrl.where.markdown("**RBM (clamped Gibbs sampling)**")
    hidden = ctrl.log_slider("Hidden units", "hidden", 25, 500, d.n_components, options=[25, 50, 100, 200, 500])
    epochs = ctrl.log_slider("RBM epochs", "rbm_epochs", 1, 30, d.n_iter, options=[1, 2, 3, 5, 10, 20, 30])
    k = ctrl.log_slider("Gibbs steps", "gibbs", 1, 1000, 100, options=[1, 10, 20, 50, 100, 200, 500, 1000],
                        help="Steps of v → h → v with the known pixels clamped; the hole shows P(v=1|h) of the last.")
    run = rbm_lab.RBMRun(data.name, min(len(data.X_train), 8000), False,
                         replace(d, n_components=int(hidden), n_iter=int(epochs)))
    return run, int(k)


def train_rbm(run: rbm_lab.RBMRun, data: ImageData) -> live.RunResult | None:
    return boltzmann_ui.train(run, data)


@st.cache_data(show_spinner="Running clamped Gibbs chains…", max_entries=32)
def rbm_fill(key: str, epochs: int, k: int, name: str, n: int, mask_seed: int, _res: live.RunResult,
             _data: ImageData) -> tuple[np.ndarray, float]:
    rbm = boltzmann_ui.model(_res)
    ms = masked_set(name, n, mask_seed, _data)
    clock = Stopwatch()
    with clock("fill"):
        out = rbm.inpaint(ms.X_in, ms.mask, k=k, random_state=0)
    return out, clock["fill"]
