"""The body both single-GAN pages share (`show_run`: settings, failure flags and the tabs) and the DiffAugment
comparison."""
from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from core import data as datasets
from core.gan import config as gc
from core.gan import images as gi
from core.gan import train as gt
from explorer import live, plots, shell
from explorer.gan_latent_ui import latent_panel
from explorer.gan_steps_ui import step_panel
from explorer.gan_ui import curves, flags, grid_shape, images, quality, quality_panel, show_curves, timeline, train
from explorer.widgets import Controls


def show_run(res: live.RunResult, run: gc.GANRun, data: datasets.ImageData, ctrl: Controls, key: str,
             hints: dict[str, str], diffaug_tab: bool = False) -> None:
    """The body both single-GAN pages share: settings caption, failure flags, and the tabs (samples over training,
    curves, quality, latent space, step by step, and optionally DiffAugment on and off), each with its hint."""
    settings = ctrl.caption()
    st.caption(f"{settings} · {res.status_line()}")
    flags(res.result, run, len(data.classes))
    labels = ["Samples over training", "Loss and accuracy", "Quality", "Latent space", "Step by step"]
    tab_s, tab_c, tab_q, tab_lat, tab_step, *rest = shell.tabs(labels + (["DiffAugment on and off"] if diffaug_tab
                                                                          else []))
    with tab_s:
        if tab_s.open:
            _, side = timeline(res.result, key, caption=settings)
            with side:
                shell.what_to_look_for(hints["samples"])
    with tab_c:
        if tab_c.open:
            curves(res.history, run.gan.loss, key, settings)
            shell.what_to_look_for(hints["curves"])
    with tab_q:
        if tab_q.open:
            if data.name in datasets.DATASETS:
                quality_panel(res, data, quality(data.name), f"{key}-q", label=run.label)
            else:
                st.info("Quality is measured with a classifier of the dataset's classes; your own images have none, so "
                        "judge by eye (and by the DiffAugment tab).", icon=":material/info:")
            if "quality" in hints:
                shell.what_to_look_for(hints["quality"])
    with tab_lat:
        if tab_lat.open:
            latent_panel(res, data, f"{key}-lat")
    with tab_step:
        if tab_step.open:
            step_panel(res, data, f"{key}-step")
            if "step" in hints:
                shell.what_to_look_for(hints["step"])
    for tab in rest:
        with tab:
            if tab.open:
                diffaug_comparison(res, run, data, key)


def diffaug_comparison(res: live.RunResult, run: gc.GANRun, data: datasets.ImageData, key: str) -> None:
    """This run next to the same run with DiffAugment switched the other way: the last grids and D's accuracy."""
    other_run = replace(run, gan=replace(run.gan, diffaug="" if run.gan.diffaug else "color,translation,cutout"))
    other_steps = gt.GANSteps(other_run, data)
    if not (live.has_run(other_steps) or live.shipped_run(other_steps) is not None or
            st.button(f"Train the same run {'without' if run.gan.diffaug else 'with'} DiffAugment", key=f"{key}-aug",
                      type="primary")):
        st.info(f"DiffAugment is {'on' if run.gan.diffaug else 'off'} for this run. Train the same run with it "
                f"{'off' if run.gan.diffaug else 'on'} to see what it does to so few images.", icon=":material/info:")
        return
    other = train(other_run, data, label=f"Training the same run {'without' if run.gan.diffaug else 'with'} DiffAugment")
    if other is None:
        return
    runs = {True: res, False: other} if run.gan.diffaug else {True: other, False: res}
    plots.show_grids([(f"DiffAugment {'on' if on else 'off'}", images(r.result, r.done)) for on, r in runs.items()],
                     grid_shape(res.result), key=f"{key}-aug-grids", ncols=8,
                     caption=f"The same settings and seed; {len(gi.training_images(run, data)):,} training images.")
    frame = pd.concat([r.history.assign(run=f"DiffAugment {'on' if on else 'off'}") for on, r in runs.items()])
    df = frame.pivot_table(index="step", columns="run", values="acc_real").reset_index()
    show_curves(df, "step", [c for c in df.columns if c != "step"], "D's accuracy on real training images",
                key=f"{key}-aug-acc", xlabel="generator iteration", ylabel="fraction correct")
    shell.what_to_look_for(
        "With few images D soon memorises them: its accuracy on real images goes to 1, its gradients stop telling G "
        "anything general, and the samples degrade into copies, blotches or collapse. DiffAugment applies the same "
        "random colour shifts, translations and cut-outs to real and fake images before D, so D cannot memorise "
        "pixels and G still learns from it: D's accuracy stays lower and the samples keep improving.")
