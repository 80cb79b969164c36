"""GMMN: generative moment matching

A generator trained without a discriminator: it minimises the maximum mean discrepancy (a sum of Gaussian kernels) between its samples and the digits, on pixels or on an autoencoder's code; the MMD by two routes, sample quality against its floor, and the Parzen-window score with its flaw shown live.
"""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import gan_ui, plots, shell
from explorer import gmmn_ui as ui

pg = shell.page("GMMN: generative moment matching", exercise=(
    "Li, Swersky & Zemel (2015) train an MLP generator by minimising sqrt(MMD²) between a batch of its samples and a "
    "batch of digits, with a sum of Gaussian kernels of several bandwidths. Which bandwidths matter on pixels, and "
    "what does the same network gain on an autoencoder's 32-d code, and what caps it there? Why is the "
    "Parzen-window log-likelihood the paper reports no evidence of a good model?"))
ctrl = pg.controls
data = shell.dataset(ctrl)
run = ui.controls(ctrl, data)
res = shell.trained_or_stop(lambda: ui.train(run, data), unit="step")
settings = ctrl.caption()
st.caption(f"{settings} · {res.status_line()}")
result = res.result
tab_t, tab_q, tab_r, tab_p = shell.tabs(["Training", "Sample quality", "One kernel, two routes", "Parzen window"])

with tab_t:
    if tab_t.open:
        hist = ui.mmd_rows(result)
        c1, c2 = st.columns(2)
        with c1:
            plots.show_curves(hist, "iteration", ["mmd", "mmd_train", "mmd_heldout"], "sqrt(MMD²) against iterations",
                              key="mmd", labels=ui.LABELS, xlabel="generator iteration", ylabel="sqrt(MMD²)",
                              legend_below=True)
            st.caption(f"The kernel: Σ over σ in {{{run.sigmas}}} of exp(−|x − y|²/2σ²), in the space the GMMN "
                       f"models ({'pixels' if run.space == 'pixels' else 'the autoencoder code'}). Loss: the biased "
                       f"estimate from one batch of {run.batch_size} (noisy, never below 0, biased up by about "
                       "1/batch); the other two: 1,000 fixed-noise samples against the first 1,000 training or "
                       "held-out rows (the same bias at n = 1,000).")
        with c2:
            grids = result["grids"]
            its = [int(g["iteration"]) for g in grids]
            it = st.select_slider("Samples over training: generator iteration", its, value=its[-1], key="tl",
                                  bind="query-params") if len(its) > 1 else its[-1]
            plots.show_grid(ui.grid_images(result, its.index(it)), data.shape, f"G(z) for 64 fixed z at iteration {it}",
                            key="grid", ncols=8)
        if run.space == "code":
            ae = pd.DataFrame([r for r in result["history"] if "ae_recon" in r])
            plots.show_curves(ae, "step", ["ae_recon"], "The autoencoder before the GMMN", key="ae", labels=ui.LABELS,
                              xlabel="autoencoder epoch", ylabel="squared error per image")
        shell.what_to_look_for(
            "On pixels the grey blobs become digit-like strokes within a few hundred iterations, with speckles and "
            "broken strokes left: a kernel two-sample statistic in 784 dimensions mostly sees the coarse shape. On the "
            "code, the GMMN only has to match a 32-d distribution, so its samples are smooth, but they are never "
            "sharper than the decoder: compare the Frechet distance of both variants (Sample quality) with the "
            "autoencoder's own blur.")

with tab_q:
    if tab_q.open:
        q = ui.quality(res, data)
        m = st.columns(4)
        m[0].metric("Frechet distance (training digits)", f"{q['fid']:.1f}", help=gan_ui.floor_help(q))
        m[1].metric("floor (real digits)", f"{q['fid_floor']:.2f} ± {q['fid_floor_sd']:.2f}")
        m[2].metric("Classes covered", f"{int(q['classes_covered'])} / {len(q['class_hist'])}")
        m[3].metric("Diversity (real = 1)", f"{q['diversity']:.2f}")
        st.caption(f"1,000 samples scored by the quality classifier (core.quality, the app's one definition): "
                   f"Frechet distance of its features against random halves of the training digits, "
                   f"{q['fid']:.1f} ± {q['fid_sd']:.1f} over 8 halves; against held-out digits {q['fid_heldout']:.1f} "
                   f"(floor {q['fid_heldout_floor']:.2f}). {gan_ui.FLOOR_LINE} The distance is biased up at finite "
                   "sample size (the floor is measured at the same size) and only sees what the classifier's 64 "
                   "features see.")
        fig = go.Figure(go.Bar(x=[str(c) for c in range(len(q["class_hist"]))], y=q["class_hist"]))
        fig.add_hline(y=1 / (4 * len(q["class_hist"])), line_dash="dot", annotation_text="coverage threshold")
        plots.style(fig, "Classes of 1,000 samples (quality classifier)", "class", "share of samples", legend=False)
        plots.show_figure(fig, key="hist")

with tab_r:
    if tab_r.open:
        sigmas = [float(s) for s in run.sigmas.split(",")] if run.space == "pixels" else [2.0, 5.0, 10.0, 20.0]
        sigma = st.select_slider("One Gaussian kernel's bandwidth σ (pixels)", sigmas,
                                 value=10.0 if 10.0 in sigmas else sigmas[len(sigmas) // 2], key="sigma",
                                 bind="query-params")
        n = min(1000, len(data.X_test))
        r = ui.routes(res.key, res.done, ui.gmmn_model(res), data, float(sigma), n)
        c = st.columns(3)
        c[0].metric("MMD², kernel sums", f"{r['kernel_sum']:.5f}")
        c[1].metric("MMD², mean embeddings", f"{r['features']:.5f} ± {r['features_se']:.5f}")
        z = (r["features"] - r["kernel_sum"]) / max(r["features_se"], 1e-12)
        c[2].metric("difference", f"{z:+.1f} standard errors")
        st.caption(f"{r['n']:,} samples against the first {r['n']:,} held-out digits, one kernel exp(−|x − y|²/2σ²) "
                   f"with σ = {sigma:g}, biased estimator. Route 1 sums the kernel over all pairs (exact for these "
                   f"samples). Route 2 never forms a kernel matrix: the squared distance between the two samples' "
                   f"mean feature vectors, with {r['n_features']:,} random Fourier features (cos(w·x + b), w ~ "
                   f"N(0, I/σ²)), averaged over {len(r['per_draw'])} draws; it is unbiased for route 1's value, so "
                   "the two agree within its standard error (a difference beyond about 3 would be a bug).")

with tab_p:
    if tab_p.open:
        n = min(1000, len(data.X_train) // 2)
        real = ui.parzen_real(data.name, data, n)
        mine = ui.parzen_model(res.key, res.done, ui.gmmn_model(res), data, n)
        rows = [{"set": f"{n:,} real training digits", **real["real"]},
                {"set": f"{n:,} k-means centroids of the training digits", **real["kmeans"]},
                {"set": f"{n:,} samples of this GMMN", **mine}]
        plots.show_figure(ui.parzen_figure(rows), key="parzen")
        df = pd.DataFrame([{"points in the window": r["set"], "log-likelihood (nats)": r["ll"], "± se": r["se"],
                            "σ chosen": r["sigma"]} for r in rows])
        plots.show_table(df.style.format(precision=2), f"Parzen-window log-likelihood of {n:,} points",
                         key="parzen", hide_index=True, width="stretch")
        st.caption(f"Parzen window: a Gaussian of width σ on each of {n:,} points; σ chosen on the first "
                   f"{real['n_val']:,} held-out digits, the mean log-likelihood of the other {real['n_test']:,} shown "
                   "(± one standard error over those digits). It is not a bound of any model's log-likelihood, in "
                   "either direction, and in 784 dimensions with a thousand points it is badly biased: it mostly "
                   "measures how near each test digit is to one of the points.")
        shell.what_to_look_for(
            f"The k-means centroids (blurred averages: no generative model at all) score "
            f"{real['kmeans']['ll'] - real['real']['ll']:+.0f} nats over as many real digits (Theis, van den Oord & "
            "Bethge 2016): an average sits closer to every digit of its cluster than any one real digit does, so a "
            "blurry model can beat the data itself on this score.")
