"""The conditional GAN page's widgets, training and per-class samples."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core import data as datasets
from core.gan import conditional
from explorer import live
from explorer.gan_ui import LABELS, images, iterations, quality
from explorer.widgets import Controls


def cgan_controls(ctrl: Controls, data: datasets.ImageData) -> conditional.CGANRun:
    d = conditional.CGANConfig()
    ctrl.where.markdown("**Conditional DCGAN (projection discriminator)**")
    iters = iterations(ctrl, d.n_iters, lo=50)
    width = ctrl.log_slider("Width (channels of the last hidden map)", "width", 8, 64, d.width, options=[8, 16, 32, 64])
    batch = ctrl.log_slider("Batch size", "batch", 16, 256, d.batch_size, options=[16, 32, 64, 128, 256])
    lr = ctrl.log_slider("Learning rate (both)", "lr", 1e-5, 2e-3, d.lr)
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    cfg = conditional.CGANConfig(width=int(width), batch_size=int(batch), lr=float(lr), n_iters=int(iters), seed=int(seed))
    return conditional.CGANRun(data.name, min(len(data.X_train), 8000), cfg)


def train_cgan(run: conditional.CGANRun, data: datasets.ImageData) -> live.RunResult | None:
    steps = conditional.CGANSteps(run, data, lambda: quality(data.name))
    return live.train_cached(steps, curves=["d_loss", "g_loss", "label_accuracy"], labels=LABELS | {
        "label_accuracy": "label accuracy"}, label="Training the conditional GAN")


@st.cache_data(show_spinner="Sampling the class…", max_entries=32)
def cgan_class_samples(key: str, done: int, _result: dict, _data: datasets.ImageData, label: int) -> dict:
    return conditional.class_report(_result, _data, label, quality(_data.name))


def class_rows(result: dict, step: int) -> np.ndarray:
    """The fixed grid at an iteration: one row per class, one column per noise vector, in [0, 1]."""
    return images(result, step)
