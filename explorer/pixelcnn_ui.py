"""The PixelCNN page's widgets, cached training and cached calls into core.pixelcnn (samples with their frames,
completions, the RBM's inpainting of the same rows, the receptive field), and the receptive field's picture."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st
import torch

from core.boltzmann import rbm_lab
from core.data import ImageData
from core.pixelcnn import model as pm
from core.pixelcnn import run as lab
from explorer import boltzmann_ui, live, plots
from explorer.widgets import Controls

CURVES = ["nll", "train_nll"]
LABELS = {"nll": "held-out NLL (exact, nats)", "train_nll": "training NLL (mean over the epoch's batches)"}


def controls(ctrl: Controls, data: ImageData) -> lab.PixelCNNRun:
    """Sidebar widgets of the network and its training -> a run config."""
    d = lab.PixelCNNRun()
    ctrl.where.markdown("**Network and training**")
    depth = ctrl.slider("Depth (residual mask-B blocks)", "depth", 0, 10, d.depth,
                        help="After the 7x7 mask-A layer; each block is a 3x3 mask-B convolution and a 1x1.")
    width = ctrl.log_slider("Width (channels)", "width", 4, 64, d.width, options=[4, 8, 16, 24, 32, 48, 64])
    epochs = ctrl.log_slider("Epochs", "epochs", 1, 30, d.epochs, options=list(lab.EPOCHS))
    lr = ctrl.log_slider("Learning rate (first epoch)", "lr", 1e-4, 1e-2, d.lr,
                         options=[1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2])
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    return replace(d, dataset=data.name, n_train=min(len(data.X_train), d.n_train), depth=int(depth), width=int(width),
                   epochs=int(epochs), lr=float(lr), seed=int(seed), n_eval=min(len(data.X_test), d.n_eval))


def train(run: lab.PixelCNNRun, data: ImageData) -> live.RunResult | None:
    return live.train_cached(lab.PixelCNNSteps(run, data), curves=CURVES, labels=LABELS, label="Training the PixelCNN")


def model(res: live.RunResult) -> pm.PixelCNN:
    """The run's network, built once per (run, epochs). Shared: sample with an explicit generator."""
    return live.built(res, lab.model)


@st.cache_data(show_spinner="Sampling pixel by pixel…", max_entries=16)
def samples(key: str, done: int, _m: pm.PixelCNN, hw: tuple, n: int, seed: int, frames: int) -> dict:
    """n samples (seeded), about `frames` snapshots as they fill in, and the seconds it took."""
    return pm.timed_sample(_m, int(n), torch.Generator().manual_seed(int(seed)), hw, frames=int(frames))


@st.cache_data(show_spinner="Completing the missing rows pixel by pixel…", max_entries=16)
def completed(key: str, done: int, _m: pm.PixelCNN, X: np.ndarray, hw: tuple, start: int, seed: int) -> dict:
    """The PixelCNN's completion of rows start.. of X (seeded) and the exact conditional NLL of the true rows."""
    out = pm.complete(_m, X, hw, int(start), torch.Generator().manual_seed(int(seed)))
    return {"images": out, "cond_nll": pm.conditional_nll(_m, X, hw, int(start))}


def rbm_inpainted(data: ImageData, X: np.ndarray, start: int, k: int) -> tuple[np.ndarray, str]:
    """The RBM lab's default RBM (its inpainting page's run, trained or taken from the cache) filling rows start..
    of X by k clamped Gibbs steps; and the run's status line."""
    d = rbm_lab.RBMRun()
    res = boltzmann_ui.train(replace(d, dataset=data.name, n_train=min(len(data.X_train), d.n_train)), data)
    if res is None:
        return None, "stopped"
    mask = rbm_lab.row_mask(data.shape, data.shape[1] - int(start), int(start))
    return boltzmann_ui.inpainted(res, boltzmann_ui.model(res), X, mask, int(k)), res.status_line()


@st.cache_data(show_spinner=False, max_entries=64)
def receptive_field(key: str, done: int, _m: pm.PixelCNN, hw: tuple, row: int, col: int) -> np.ndarray:
    """Codes of the receptive field of output (row, col) (core.pixelcnn.model.field_picture)."""
    return pm.field_picture(pm.receptive_field(_m, hw, int(row), int(col)), int(row), int(col))


FIELD_COLOURS = np.array([[235, 235, 235],  # after the pixel: never allowed
                          [60, 110, 200],  # before it and seen
                          [230, 120, 40],  # the blind spot: before it, unseen, inside the span of the seen pixels
                          [200, 30, 30],  # the pixel itself
                          [190, 205, 225]], np.uint8)  # before it but beyond the stack's reach
FIELD_LEGEND = ("blue: pixels this output sees; orange: the blind spot (before it in raster order, inside the rows and "
                "columns the field spans, yet unseen); pale blue: before it but beyond the stack's reach; red: the "
                "pixel itself; gray: after it (never allowed)")


def field_image(codes: np.ndarray, scale: int = 12) -> np.ndarray:
    """An RGB picture (H*scale, W*scale, 3) of receptive-field codes, with thin grid lines."""
    img = FIELD_COLOURS[codes].repeat(scale, 0).repeat(scale, 1)
    img[::scale, :] = img[:, ::scale] = 255
    return img


def frame_pictures(frames: list, hw: tuple, ncols: int) -> list[np.ndarray]:
    """The sampling snapshots as tiled pictures (unsampled pixels gray), one per frame."""
    return [plots.grid_image(f, (1, *hw), ncols=ncols) for f in frames]
