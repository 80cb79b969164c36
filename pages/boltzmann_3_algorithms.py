"""Training algorithms compared: CD, PCD, FPCD

Train an RBM with CD-k, persistent CD and fast-weights PCD on the same digits and watch the held-out log-likelihood (exact for small models, AIS for large ones) and the negative-phase particles.

Exercise: Compare contrastive divergence (CD-k), persistent CD (PCD) and fast-weights PCD (FPCD) on MNIST with a small
RBM whose log-likelihood can be computed exactly. Which algorithm reaches the best held-out log-likelihood, and how do
their negative-phase samples differ?
"""
import streamlit as st

from core.boltzmann import algorithms
from core.boltzmann.ais import DEFAULT_COMPONENTS, MIN_ESS_FOR_BAND
from explorer import boltzmann_ui, plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "digits"))
run = boltzmann_ui.algorithm_controls(ctrl, data)
if not run.algorithms:
    st.warning("Switch on at least one algorithm in the sidebar.")
    st.stop()

res = shell.trained_or_stop(lambda: boltzmann_ui.train_algorithms(run, data), unit="measurement")
hist = res.history
settings = ctrl.caption(["data", "hidden", "k", "lr", "updates", "chains", "fast_lr", "fast_decay", "seed"])
how = (f"exact: all 2^{run.hidden} hidden states enumerated" if run.exact else
       f"log Z by AIS ({run.ais_runs} runs × {run.ais_betas:,} temperatures, a {DEFAULT_COMPONENTS}-component "
       "Bernoulli-mixture base), which errs high on average; band = ±3 standard errors of the importance weights, "
       f"drawn only where the effective sample size reaches {MIN_ESS_FOR_BAND:.0f} runs")
st.caption(f"{settings} · {res.status_line()}")

tab_ll, tab_neg = shell.tabs(["Held-out log-likelihood", "Negative-phase particles"])

with tab_ll:
    if tab_ll.open:
        fig = boltzmann_ui.ll_figure(hist, run.algorithms, f"Held-out log-likelihood, {run.hidden} hidden units", not run.exact)
        plots.show_figure(fig, key="ll")
        cols = ["updates", "seconds"] + [c for c in hist.columns if c.startswith("ll_")]
        plots.download_csv(hist[cols], f"log-likelihood-{run.hidden}-hidden", key="csv-ll", label="CSV of this plot")
        last = hist.iloc[-1]
        mcols = st.columns(len(run.algorithms))
        best = max(run.algorithms, key=lambda a: last[f"ll_{a}"])
        for col, a in zip(mcols, run.algorithms):
            ess = "" if run.exact else f" · ESS {last[f'ess_{a}']:.1f} of {run.ais_runs}"
            col.metric(f"{algorithms.NAMES[a]} after {int(last['updates'])} updates", f"{last[f'll_{a}']:.2f} nats",
                       delta=f"AIS, errs high{ess}" if not run.exact else None, delta_color="off",
                       help="Mean log p(v) of the held-out digits (binarised once, the same for all).")
        st.caption(f"{min(run.n_eval, len(data.X_test)):,} held-out images; {how}. Best: {algorithms.NAMES[best]}. {settings}")
        if not run.exact:
            ref = boltzmann_ui.shipped_dbm(shell.load_dataset("mnist"))  # its convergence curve, whatever the data here
            curves = (ref or {}).get("provenance", {}).get("scores", {}).get("log_likelihood", {}).get("log_z_curve")
            if curves:
                plots.show_figure(boltzmann_ui.log_z_curve_figure(
                    {"shipped 500-hidden RBM": curves["rbm"]}, int(curves["rbm"][-2]["n_betas"]),
                    "AIS for large models: log Ẑ against temperatures (the shipped 500-hidden RBM)"), key="logz-ref")
                st.caption(f"What convergence looks like for a large RBM ({curves['rbm'][0]['n_betas']:,} to "
                           f"{curves['rbm'][-1]['n_betas']:,} temperatures, same seed): log Ẑ rises until the path is "
                           f"long enough. This page's AIS uses {run.ais_betas:,} temperatures to stay fast, so its "
                           "curves above are optimistic by about the gap between that point and the plateau.")
        shell.what_to_look_for(
            "CD-k's gradient is biased: its negative samples never leave the neighbourhood of the data, so it can keep "
            "modes the data do not have, and its likelihood may stall or even fall. PCD keeps persistent chains that "
            "sample the model itself, which follows the true gradient more closely when the learning rate is small. "
            "FPCD adds fast weights that push the chains out of the modes they have just visited, so they mix faster. "
            "Try a large learning rate (PCD's chains cannot keep up), k = 10 for CD, few persistent chains, and no "
            "fast-weight decay (1.0).")

with tab_neg:
    if tab_neg.open:
        n_meas = len(res.result["particles"][run.algorithms[0]])
        at = st.slider("Measurement", 1, n_meas, n_meas, key="at", bind="query-params",
                       help="Which measurement's particles to show (they are kept at every measurement).") if n_meas > 1 else 1
        upd = int(hist["updates"].iloc[at - 1])
        panels = [(f"{algorithms.NAMES[a]}", algorithms.particles(res.result, a, at - 1)) for a in run.algorithms]
        plots.show_grids([("Data (this mini-batch)", algorithms.shown_batch(run, data, upd))] + panels, data.shape, key=f"particles-{upd}", ncols=4,
                         caption=f"P(v = 1 | h) of the negative phase after {upd} updates: CD's reconstructions of the "
                                 f"mini-batch after k = {run.k} steps, PCD's and FPCD's persistent chains. {settings}")
        shell.what_to_look_for(
            "CD's particles are the data, slightly blurred: they say nothing about regions the model likes but the data "
            "never visit. PCD's particles are the model's own fantasies: they change slowly from one measurement to the "
            "next. FPCD's particles move faster through different digits, because the fast weights temporarily raise "
            "the energy of wherever the chains have just been.")
