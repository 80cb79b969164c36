"""The step-by-step panel (GAN Lab's single D and G steps) on a copy of a trained run (core.gan.single_steps).

Memory stays bounded: a session holds one copy at a time (a new run or "Back to the trained model" replaces it),
and leaving the page drops it (explorer.shell.page_scoped).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core import data as datasets
from core.gan import single_steps
from core.gan import train as gt
from explorer import live, plots, shell

STEP_STATE = "gan.step"  # session state: {"run": the run's key and length, "steps": its SingleSteps}, one per session
SHORT = {"d_real": "D(x)", "d_fake": "D(G(z))", "acc_real": "acc. real", "acc_fake": "acc. fake",
         "critic_real": "f(x)", "critic_fake": "f(G(z))", "w_estimate": "W estimate"}


def step_panel(res: live.RunResult, data: datasets.ImageData, key: str) -> None:
    """GAN Lab's single steps: one D step or one G step on a copy of the trained model (the cached run
    is not changed), with D's view of real and fake before and after."""
    if not gt.can_continue(res.result):
        st.info("The run shipped with the app carries no optimiser state, so it cannot take single steps (or be "
                "trained further). Change any setting in the sidebar (the seed, say) to train a run of your own "
                "live; its steps can then be taken here.", icon=":material/info:")
        return
    held = st.session_state.get(STEP_STATE)
    run = f"{res.key}:{res.done}"
    c = st.columns([1, 1, 1.3, 2, 2])
    if c[3].button("↺ Back to the trained model", key=f"{key}-reset") or held is None or held["run"] != run:
        held = {"run": run, "steps": single_steps.SingleSteps(res.result, data)}  # replaces any other run's copy
        st.session_state[STEP_STATE] = held
        shell.page_scoped(STEP_STATE)
    steps: single_steps.SingleSteps = held["steps"]
    action = None
    if c[0].button("D step", key=f"{key}-d", type="primary", help="One discriminator (critic) update."):
        action = "D step"
    if c[1].button("G step", key=f"{key}-g", type="primary", help="One generator update."):
        action = "G step"
    if c[2].button("D+G iteration", key=f"{key}-it", help=f"{steps.d_steps_per_iteration} D step(s), then one G step."):
        action = "iteration"
    if action:
        steps.take(action)
    now = steps.log[-1]
    log = pd.DataFrame(steps.log).rename(columns={"d_steps": "D steps", "g_steps": "G steps"})
    left, right = st.columns([1, 1])
    with left:
        plots.show_grid(steps.images(), steps.shape, f"G(z), fixed noise, after {now['g_steps']} G steps and "
                        f"{now['d_steps']} D steps", key=f"{key}-stepgrid", ncols=8)
    with right:
        st.markdown("**D's view of 256 real and 256 fake images, step by step**")
        with plots.show_table(log.tail(12).rename(columns=SHORT).style.format(precision=3),
                              "D's view of 256 real and 256 fake images, step by step", key=f"{key}-steps",
                              width="stretch", hide_index=True):
            plots.download_csv(log, "single steps", key=f"{key}-stepcsv")
    st.caption("A D step should raise D(x) and lower D(G(z)); a G step should raise D(G(z)). These steps act on a "
               "copy in this browser session; the cached run is unchanged. D's view: the same 256 real training "
               "images and 256 fakes of the same noise after every step, so two rows differ only by the step.")
