"""Scoreboard: every family on the same held-out digits

One table and two charts: held-out log-likelihood (with how it was obtained and which way it errs) and sample quality (Frechet distance beside its floor, classes, diversity, copying) of every model family in the app.

Exercise: Which families can tell you p(x) of a held-out digit, and how sure is each number? Rank the families by
held-out log-likelihood and by sample quality: do the two rankings agree? Which generator is closest to the floor,
and does it copy its training digits? Train your own run on a family's page and put it on the board beside the
shipped one.
"""
import numpy as np
import streamlit as st

from explorer import plots, scoreboard_ui as ui, shell

pg = shell.page(__doc__)
data = shell.load_dataset("mnist")
if data.name != "mnist" or len(data.X_test) != 2000:
    st.error("The scoreboard compares runs trained on the MNIST split (8,000 training and 2,000 held-out digits), "
             "which is not available here; each family's page still works on the installed digits.")
    st.stop()

choices = ui.run_choices(data)
with st.sidebar.expander("Which run each row uses", expanded=any(len(c) > 1 for c in choices.values())):
    chosen = {}
    for name, opts in choices.items():
        if len(opts) > 1:
            label = st.selectbox(name, [o[0] for o in opts], key=f"run-{name}")
            chosen[name] = dict(opts)[label]
    if not any(len(c) > 1 for c in choices.values()):
        st.caption("Every row uses the run shipped with the app. Finish a run with other settings on a family's page "
                   "and it can be chosen here.")

rows = ui.rows(data, chosen)
tab_table, tab_samples, tab_notes = shell.tabs(["Table and charts", "Samples", "What each metric can tell"])

with tab_table:
    if tab_table.open:
        ui.show_figures(rows)
        ui.show_table(rows)
        st.caption("Log-likelihoods on the 2,000 held-out digits binarised once (core.data.held_out_binary), nats per "
                   "image. Sample quality from 1,000 samples of each generator (seed 40,000) against the same "
                   "classifier's features: the floor is what 1,000 new real digits score, with its spread over 8 "
                   "split-half draws. Training seconds are wall seconds of the run as shipped (CPU seconds of a "
                   "one-thread run where it was measured).")
        shell.what_to_look_for(
            "Likelihood and samples disagree. The PixelCNN and the 32-d VAE have the best likelihoods, yet their "
            "samples (0/1 scribbles; blurry decoder means) sit far from the floor, while the GANs, which have no "
            "likelihood at all, come far closer to it. The RBM's, DBN's and DBM's chains, 1,000 Gibbs sweeps from noise, "
            "still miss classes. The DBM's and the DBN's figures join an AIS estimate of log Z to a bound, so they are "
            "neither bounds nor known to err one way; the check column says whether log Z still moved when the "
            "temperatures doubled. A copy ratio near 1 means samples are as far from the training digits "
            "as new real digits are; near 0 would be memorising, which the Frechet distance alone cannot see.")

with tab_samples:
    if tab_samples.open:
        panels = [(f"{r['family']} ({r['status']})", ui.samples_of(r)) for r in rows]
        for i in range(0, len(panels), 4):  # four families per line
            plots.show_grids(panels[i:i + 4], data.shape, key=f"board-samples-{i // 4}", ncols=4)
        st.caption("The first 16 of the 1,000 scored samples of each family (seed 40,000): Bernoulli means for "
                   "the energy-based and latent-variable families, the generator's output for the others.")

with tab_notes:
    if tab_notes.open:
        st.markdown("""
- **Exact log-likelihood** (autoregressive models): the chain rule, no estimate; its ± is the spread over digits.
- **AIS** estimates log Z from below on average, so a likelihood using it errs **high** (optimistic). **RAISE** errs
  low on average: together a stochastic sandwich (the RBM). A model whose log p*(v) is itself a lower bound
  (the DBM, the DBN) gets two errors pointing opposite ways: neither a bound nor known to err one way.
- **Importance sampling** from the encoder (the VAE) is a stochastic lower bound of log p(x): low on average,
  tighter with more samples.
- **Implicit models** (GANs, GMMNs, a denoising autoencoder's chain) define p(x) only through sampling: no
  likelihood. A Parzen-window estimate is not one (the GMMN page shows k-means centroids beating real digits).
- **Frechet distance** compares feature means and covariances: it sees blur, missing classes and odd strokes, but
  not copying (a memoriser scores at the floor), so the **copy ratio** sits beside it. The **floor** is the
  score of new real digits at the same sample size: nobody can be expected to beat it.
- **Classes covered** counts classes with at least a quarter of their fair share of samples; **diversity** is the
  mean pairwise feature distance over that of real digits (far below 1: mode collapse).
""")
