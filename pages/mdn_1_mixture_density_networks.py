"""Mixture density networks

Bishop's inverse problem: least squares, one Gaussian and a mixture density network side by side, their held-out likelihood against the Bayes limit, and the sheet's gradients checked against autograd.

Exercise: Bishop's mixture density network models p(t|x) = Σ_i α_i(x) φ_i(t|x) with Gaussian kernels of mean μ_i(x)
and one width σ_i(x) each; α = softmax(z^α), σ = exp(z^σ), μ = z^μ, and the error of one pattern is E^q = −log Σ_i α_i
φ_i. (a) Show that ∂E/∂α_i = −π_i/α_i and ∂E/∂μ_ik = π_i (μ_ik − t_k)/σ_i², with the posterior π_i = α_i φ_i / Σ_j α_j
φ_j. (b) Show that ∂E/∂z^α_i = α_i − π_i. Why does a network trained by least squares fail on an inverse problem such
as x from t = x + 0.3 sin(2πx) + noise?
"""
import numpy as np
import pandas as pd
import streamlit as st

from core.mdn.models import random_outputs
from explorer import mdn_ui, plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
run, data = mdn_ui.controls(ctrl)
if not run.models:
    st.warning("Switch on at least one model in the sidebar.")
    st.stop()

res = shell.trained_or_stop(lambda: mdn_ui.train(run, data))
xy = mdn_ui.pairs(run, data)
fit = mdn_ui.fitted(res)
refs = mdn_ui.references(run)
hist = res.history
models = [k for k in ("ls", "gauss", "mdn") if k in run.models]
settings = ctrl.caption()
st.caption(f"{xy.title}: {len(xy.x_train):,} training and {len(xy.x_test):,} held-out pairs · {settings} · "
           f"{res.status_line()}")
if xy.note:
    st.caption(f"Data: {xy.note}")

tab_fit, tab_par, tab_smp, tab_nll, tab_der = shell.tabs(
    ["Data and fits", "Mixture parameters", "Samples", "Held-out NLL", "Derivations"])

with tab_fit:
    if tab_fit.open:
        pl = mdn_ui.plane(res.key, res.done, fit, xy, run)
        last = hist.iloc[-1]
        cols = st.columns(len(models) + (1 if refs else 0))
        for col, k in zip(cols, models):
            gap = f"{last[f'nll_{k}'] - refs['bayes']:+.3f} nats from the limit" if refs else None
            col.metric(mdn_ui.LABELS[f"nll_{k}"], f"{last[f'nll_{k}']:.3f} nats", gap, delta_color="off",
                       help="Mean held-out negative log-likelihood per point, in the data's units.")
        if refs:
            cols[-1].metric("Bayes limit", f"{refs['bayes']:.3f} nats", help=(
                "The expected NLL of the exact conditional of the generating process: no model can do better "
                "on average."))
        if "exact" in pl:
            c1, c2 = st.columns(2)
            with c1:
                plots.show_figure(mdn_ui.fit_figure(pl, xy, models, run.m), key="fit")
            with c2:
                plots.show_figure(mdn_ui.exact_figure(pl, xy), key="exact")
        else:
            plots.show_figure(mdn_ui.fit_figure(pl, xy, models, run.m), key="fit")
        means = pd.DataFrame({"input": pl["inputs"], **{f"mean_{k}": pl[f"mean_{k}"] for k in models},
                              **({"most_probable_branch": pl["branch"]} if "branch" in pl else {})})
        plots.download_csv(means, "predictions against the input", key="csv-fit", label="CSV of the predicted curves")
        st.caption("Heatmaps: at every input the density over the target divided by its peak at that input, so that the "
                   "wide three-branch middle stays visible next to the narrow single branch (hover for the density). "
                   f"Up to 1,500 training pairs drawn. {settings}")
        where = {"bishop": "for t between about 0.35 and 0.65 there are three x",
                 "sinusoid": "for t between about −9 and 9 there are up to three x"}.get(run.problem)
        shell.what_to_look_for(
            (f"Inverse problem: {where}. " if where and run.direction == "inverse" else "") +
            "Where one input has several targets, least squares learns the conditional average, which runs between "
            "the branches, through places where no data lie. The single Gaussian has the same mean and can only widen "
            "its σ to cover all branches. The MDN puts one kernel on each branch; the most probable branch (the mean "
            "of the kernel with the largest α) jumps where one branch takes over from another. In the forward "
            "problem (one target per input) all three models agree.")

with tab_par:
    if tab_par.open:
        if "mdn" not in models:
            st.info("Switch the MDN on to see its parameters.")
        else:
            pl = mdn_ui.plane(res.key, res.done, fit, xy, run)
            cols = st.columns(3)
            for col, fig, key in zip(cols, mdn_ui.params_figures(pl, xy), ("alpha", "mu", "sigma")):
                with col:
                    plots.show_figure(fig, key=f"par-{key}")
            plots.download_csv(mdn_ui.params_table(pl), "mixture parameters against the input", key="csv-par",
                               label="CSV of α, μ, σ")
            st.caption(f"m = {run.m} kernels; μ_i and σ_i in the data's units. {settings}")
            shell.what_to_look_for(
                "Where the inverse is single-valued one α_i is close to 1 and the other kernels are switched off "
                "(their μ_i and σ_i then mean nothing). In the three-branch region the α_i share the mass and each μ_i "
                "follows one branch. σ_i is large where a branch is steep in t and small where it is flat: t = g(x) + "
                "noise, so a noise band 2w wide in t spreads x over about 2w/|g′(x)|, widest where g is flat (|g′| "
                "small, near its turning points). Bishop's uniform noise gives σ ≈ 2w/(√12 |g′|): about 0.02 on the "
                "outer branches at w = 0.1.")

with tab_smp:
    if tab_smp.open:
        if "mdn" not in models:
            st.info("Switch the MDN on to sample from it.")
        else:
            seed = st.number_input("Sample seed", 0, 10_000, 0, key="sample_seed", bind="query-params")
            x = xy.x_test[:2000]
            draws = mdn_ui.samples(res.key, res.done, fit, x, int(seed))
            plots.show_figure(mdn_ui.samples_figure(xy, x, draws), key="samples")
            plots.download_csv(pd.DataFrame({xy.input_name: x[:, 0], f"sampled_{xy.target_name}": draws[:, 0]}),
                               "mdn samples", key="csv-samples", label="CSV of the samples")
            st.caption(f"One draw from p({xy.target_name} | {xy.input_name}) at each of {len(x):,} held-out inputs: "
                       f"pick a kernel i with probability α_i, then add σ_i-scaled Gaussian noise to μ_i. {settings}")
            shell.what_to_look_for(
                "Samples of a good model cannot be told from the data: the same branches, with the same thickness. "
                "With m = 1 or too few kernels, samples fall between the branches; with uniform noise, the sharp "
                "edges of the data are slightly blurred by the Gaussian kernels.")

with tab_nll:
    if tab_nll.open:
        ref_lines = {mdn_ui.REF_LABELS[k]: v for k, v in refs.items()}
        c1, c2 = st.columns(2)
        with c1:
            plots.show_curves(hist, "epoch", [f"nll_{k}" for k in models], "Held-out NLL against epochs", key="nll",
                              refs=ref_lines, ylabel="nats per point", labels=mdn_ui.LABELS, legend_below=True)
        with c2:
            plots.show_curves(hist, "epoch", [f"train_nll_{k}" for k in models], "Training NLL against epochs",
                              key="train-nll", refs={"Bayes limit": refs["bayes"]} if refs else None,
                              ylabel="nats per point", labels=mdn_ui.LABELS, legend_below=True)
        table = mdn_ui.nll_table(hist, models, refs)
        with plots.show_table(mdn_ui.shown(table), "Held-out NLL of every model", key="nll-table", hide_index=True,
                              width="stretch"):
            plots.download_csv(table, "held-out nll of every model", key="csv-nll-table", label="CSV of this table")
        st.caption("The reference lines are exact expectations computed from the generating process (not from data): "
                   "the Bayes limit is the expected NLL of the exact conditional, the best single Gaussian matches "
                   "the exact conditional's mean and variance at every input, the best least squares uses the exact "
                   f"conditional average with one width. {settings}" if refs else
                   f"Your own data: no exact conditional, so no Bayes limit. {settings}")
        st.markdown("**How many kernels?** The MDN alone for m = 1 … 10, every other setting as in the sidebar.")
        if st.button("Run the sweep over m (10 models; cached ones are instant)", key="sweep_m"):
            rows = mdn_ui.sweep_rows(run, data)
            if rows:
                df = pd.DataFrame(rows)
                plots.show_curves(df, "m", ["held-out NLL", "training NLL"], "Final NLL against the number of kernels",
                                  key="sweep-m", refs={"Bayes limit": refs["bayes"]} if refs else None, markers=True,
                                  xlabel="kernels m", ylabel="nats per point", legend_below=True)
        shell.what_to_look_for(
            "No curve can go below the Bayes limit on average (a held-out sample can, by chance, by a few hundredths). "
            "Least squares stays far above it: one width for all inputs and a mean between the branches. The "
            "Gaussian stays above the best single Gaussian. The MDN gets close; the rest of its gap is mostly the "
            "price of Gaussian kernels on uniform noise (a Gaussian matched to a uniform box loses 0.18 nats).")

with tab_der:
    if tab_der.open:
        st.markdown("**The model** (Bishop 1994), one pattern (x, t) with c target dimensions:")
        st.latex(r"p(t\mid x)=\sum_{i=1}^{m}\alpha_i(x)\,\phi_i(t\mid x),\qquad "
                 r"\phi_i(t\mid x)=\frac{1}{(2\pi)^{c/2}\sigma_i(x)^{c}}\exp\!\Big(-\frac{\lVert t-\mu_i(x)\rVert^2}"
                 r"{2\sigma_i(x)^2}\Big)")
        st.latex(r"E^q=-\log\sum_{i}\alpha_i\phi_i,\qquad \pi_i=\frac{\alpha_i\phi_i}{\sum_j\alpha_j\phi_j},\qquad "
                 r"\alpha_i=\frac{e^{z^\alpha_i}}{\sum_j e^{z^\alpha_j}},\quad \sigma_i=e^{z^\sigma_i},\quad "
                 r"\mu_{ik}=z^\mu_{ik}")
        st.markdown("**The derivatives**")
        st.latex(r"\text{(a)(i)}\quad\frac{\partial E^q}{\partial\alpha_i}=-\frac{\phi_i}{\sum_j\alpha_j\phi_j}"
                 r"=-\frac{\pi_i}{\alpha_i}\qquad\qquad"
                 r"\text{(a)(ii)}\quad\frac{\partial E^q}{\partial\mu_{ik}}=-\frac{\alpha_i}{\sum_j\alpha_j\phi_j}"
                 r"\frac{\partial\phi_i}{\partial\mu_{ik}}=\pi_i\,\frac{\mu_{ik}-t_k}{\sigma_i^2}")
        st.latex(r"\text{(b)}\quad\frac{\partial E^q}{\partial z^\alpha_i}=\sum_j\frac{\partial E^q}{\partial\alpha_j}"
                 r"\frac{\partial\alpha_j}{\partial z^\alpha_i}=-\sum_j\frac{\pi_j}{\alpha_j}\,\alpha_j(\delta_{ij}"
                 r"-\alpha_i)=\alpha_i-\pi_i\qquad\qquad"
                 r"\frac{\partial E^q}{\partial z^\sigma_i}=\sigma_i\frac{\partial E^q}{\partial\sigma_i}"
                 r"=-\pi_i\Big(\frac{\lVert t-\mu_i\rVert^2}{\sigma_i^2}-c\Big)")
        where = st.radio("Check them", ["at a point of the trained MDN", "for random parameters (c = 2)"],
                         horizontal=True, key="check", bind="query-params")
        point = None
        if where.startswith("at a point") and "mdn" not in models:
            st.info("Switch the MDN on to check the derivatives on it (or use random parameters).")
        elif where.startswith("at a point"):
            c1, c2 = st.columns(2)
            x0 = c1.number_input(f"Input {xy.input_name}", value=float(np.round(xy.x_test[0, 0], 3)), format="%.4f",
                                 key="px", bind="query-params")
            t0 = c2.number_input(f"Target {xy.target_name}", value=float(np.round(xy.t_test[0, 0], 3)), format="%.4f",
                                 key="pt", bind="query-params")
            za, zs, zm = fit.outputs(np.array([x0]))
            point = f"the trained MDN (m = {run.m}) at {xy.input_name} = {x0:g}, target {xy.target_name} = {t0:g}"
            tvec = np.array([t0])
        else:
            c1, c2 = st.columns(2)
            m_r = c1.slider("Kernels m", 1, 10, 3, key="rm", bind="query-params")
            seed_r = c2.number_input("Seed", 0, 10_000, 0, key="rseed", bind="query-params")
            za, zs, zm, tvec = random_outputs(int(m_r), 2, int(seed_r))
            point = f"random network outputs (m = {m_r}, c = 2, seed {seed_r}) and a random target t = {np.round(tvec, 3)}"
        if point is not None:
            mix, table = mdn_ui.gradient_table(za, zs, zm, tvec)
            st.markdown(f"**The mixture at** {point}")
            plots.show_table(mix.style.format({c: "{:.5g}" for c in mix.columns if c != "kernel i"}),
                             f"The mixture at {point}", key="grad-mix", hide_index=True, width="stretch")
            st.markdown("**Analytic (the formulas above, float64) against autograd (PyTorch, float64)**")
            with plots.show_table(table.style.format({"analytic": "{:.10g}", "autograd": "{:.10g}",
                                                      "|difference|": "{:.1e}"}),
                                  "Gradients: analytic against autograd (float64)", key="grad", hide_index=True,
                                  width="stretch"):
                plots.download_csv(table, "mdn gradients analytic vs autograd", key="csv-grad",
                                   label="CSV of this table")
            st.caption(f"Largest difference: {table['|difference|'].max():.1e}. Autograd differentiates "
                       "−MixtureSameFamily(...).log_prob(t) for the z's; for (a) it takes α_i and μ_i as free variables of "
                       "E = −log Σ α_i φ_i, as the sheet does (through a Categorical, which renormalises α, every ∂E/∂α_i "
                       "would gain the constraint's +1). In data units: z^μ = μ, z^σ = log σ.")
            shell.what_to_look_for(
                "The differences are at the level of floating-point rounding (1e-15 … 1e-12): the formulas are right. "
                "Pick a target far from every kernel: the posterior π concentrates on the nearest kernel, the gradient "
                "on z^α pushes its α up (α_i − π_i < 0), and ∂E/∂z^σ_i < 0 for that kernel: the width grows to reach t.")
