"""Denoising autoencoders as generative models

Train a plain autoencoder, a denoising one and (on a switch) a walkback DAE side by side, then run the sampling chain x~ ~ C(x~|x), x ~ P(x|x~) from noise or from a digit: film strips, animations, sample quality and how the chains mix.

Exercise: Train a denoising autoencoder on binarised MNIST (salt-and-pepper or Gaussian corruption) and use it as a
generative model: alternate corrupting and reconstructing (Bengio et al. 2013). Start the chain from noise and from a
digit. Why does a plain autoencoder's chain not work? What does walkback training change in how the chains mix between
classes? Score the samples.
"""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.autoencoders import dae
from core.data import held_out_binary
from explorer import autoencoders_ui as ui
from explorer import gan_ui, plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "fashion_mnist", "digits"))
run = ui.dae_controls(ctrl, data)
ctrl.where.markdown("**Chains**")
start = ctrl.select("Start from", "start", ["noise", "digit"], "noise", horizontal=True,
                    labels={"noise": "noise (coin flips)", "digit": "held-out digits"})
steps = ctrl.log_slider("Chain steps", "steps", 10, 1000, 200, options=[10, 20, 50, 100, 200, 500, 1000])
n_chains = ctrl.slider("Chains shown", "chains", 4, 16, 8, step=4)
seed_c = ctrl.number("Chain seed", "cseed", 0, 10_000, 0)

res = shell.trained_or_stop(lambda: ui.train_dae(run, data))
models = ui.dae_models(res)
settings = ui.show_settings(ctrl, res)
V = held_out_binary(data.X_test)
names = [m for m in run.models]
level_words = (f"salt-and-pepper, each pixel reset with probability {run.level:g}" if run.corruption == "salt_pepper"
               else f"Gaussian, σ = {run.level:g}")

tab_ch, tab_q, tab_dn, tab_c = shell.tabs(["Chains", "Sample quality", "Denoising", "Training curves"])

with tab_ch:
    if tab_ch.open:
        x0 = ui.noise_start(int(n_chains), data.n_features, int(seed_c)) if start == "noise" else V[: int(n_chains)]
        ch = ui.chains(res.key, res.done, models, run.corruption, run.level, x0, int(steps), int(seed_c))
        record = ch["steps"]
        frames = []
        for t in record:
            panels = [plots.grid_image(ch[m][t], data.shape, ncols=int(n_chains) // 2 if n_chains > 4 else 4,
                                       scale=2) for m in names]
            h = max(p.shape[0] for p in panels)
            gap = np.full((h, 16, 3), 255, np.uint8)
            frames.append(np.concatenate([x for p in panels for x in (p, gap)][:-1], axis=1))
        plots.show_animation(frames, "The chains, side by side: " + " | ".join(dae.NAMES[m] for m in names),
                             key="chains-gif", caption="Recorded steps: " + ", ".join(map(str, record)) + ". Each "
                             "step corrupts the current image and replaces it by a sample of P(x | x~); shown: the "
                             "mean P(x | x~).", ms=300)
        shown = sorted({record[i] for i in np.linspace(1, len(record) - 1, 10).round().astype(int)})  # geometric
        for m in names:
            strip = np.concatenate([x0[:4]] + [ch[m][t][:4] for t in shown])  # 4 chains, one column per step
            order = np.arange(len(strip)).reshape(len(shown) + 1, 4).T.ravel()
            plots.show_grid(strip[order], data.shape, f"{dae.NAMES[m]}: 4 chains (rows) at steps 0, "
                            + ", ".join(map(str, shown)), key=f"strip-{m}", ncols=len(shown) + 1)
        st.caption(f"Corruption in the chain: {level_words} (as in training). {settings}")
        shell.what_to_look_for(
            "From noise, the denoising autoencoder's chain turns coin flips into digits within a few steps and then "
            "keeps moving: from one style to another and, now and then, from one class to another — its stationary "
            "distribution estimates the data's. The plain autoencoder learned to copy, so it only cleans the noise "
            "into blobs, or stays stuck. Walkback's chain is trained on the model's own far-away samples, so "
            "spurious attractors are removed: it usually reaches digits from noise faster and moves between classes "
            "more. Too little corruption: the chain hardly moves; too much: digits dissolve.")

with tab_q:
    if tab_q.open:
        burn = st.select_slider("Burn-in steps before the first scored picture", [20, 50, 100, 200], 100, key="burn",
                                bind="query-params")
        scores = ui.chain_scores(res.key, res.done, res.result, data, int(burn), int(seed_c))
        rows = [{"model": dae.NAMES[m], "Frechet distance": s["fid"], "floor": s["fid_floor"],
                 "floor sd": s["fid_floor_sd"], "against held-out digits": s["fid_heldout"],
                 "ceiling": s["fid_ceiling"], "classes covered": s["classes_covered"], "diversity": s["diversity"],
                 "classes per chain": s["classes_per_chain"], "class changes": s["class_change_rate"]}
                for m, s in scores.items()]
        df = pd.DataFrame(rows)
        cols = st.columns(len(names))
        for c, m in zip(cols, names):
            s = scores[m]
            c.metric(f"{dae.NAMES[m]}: Frechet distance", f"{s['fid']:.1f}",
                     help=gan_ui.floor_help(s))
            c.metric("classes covered", f"{int(s['classes_covered'])} / {len(data.classes or range(10))}")
        with plots.show_table(df.style.format(precision=2), "Quality of the denoising chains' samples", key="q",
                              hide_index=True, width="stretch"):
            plots.download_csv(df, "dae-chain-quality", key="csv-q", label="CSV of this table")
        fig = go.Figure()
        classes = data.classes or [str(i) for i in range(10)]
        for i, m in enumerate(names):
            fig.add_trace(go.Bar(x=classes, y=scores[m]["class_hist"], name=dae.NAMES[m],
                                 marker_color=ui.COLORS[i]))
        fig.add_hline(y=1 / (4 * len(classes)), line_dash="dot", line_color="#868e96", annotation_text="coverage threshold")
        plots.style(fig, "Classes of the chains' samples (quality classifier)", "class", "share of samples")
        fig.update_layout(barmode="group", hovermode="closest")
        plots.show_figure(fig, key="q-hist")
        st.caption(f"100 chains from noise; after {burn} steps, one picture every 10 steps, 10 per chain (1,000 "
                   "pictures, the mean P(x | x~)). The quality classifier (core.quality) gives the Frechet distance of "
                   "its 64 features against the training digits, with its ceiling (uniform noise). "
                   f"{gan_ui.FLOOR_LINE} A chain's 10 pictures are correlated, which raises the distance above what "
                   "1,000 independent samples would score. Also: the classes "
                   "(a class counts with at least 1/40 of the samples), the diversity (mean pairwise feature distance, "
                   "real digits = 1) and how chains move: classes visited per chain, and the share of consecutive "
                   f"pictures of a chain that change class. {settings}")
        shell.what_to_look_for(
            "A Frechet distance within about 2 sd of the floor means samples that the classifier's features cannot "
            "tell from the training digits; near the ceiling, noise. All 10 classes covered from noise means the chain reaches every mode; "
            "'classes visited per chain' and 'class changes' measure mixing: a chain stuck on one digit visits one "
            "class.")

with tab_dn:
    if tab_dn.open:
        n_show = 16
        X = V[:n_show]
        panel = ui.denoised(res.key, res.done, models, X, run.corruption, run.level, 0)
        short = {"ae": "Plain AE", "dae": "DAE", "walkback": "Walkback DAE"}
        plots.show_grids([("Held-out digits", X), ("Corrupted", panel["corrupted"])] +
                         [(f"{short[m]}: {panel['errors'][m]:.1f}", panel[m]) for m in names],
                         data.shape, key="denoise", ncols=4, caption=f"Corruption: {level_words}. After each model's "
                         f"name: −log P(x | x~), nats per image on these {n_show} digits. {settings}")
        shell.what_to_look_for(
            "The denoising autoencoders restore strokes hidden by the noise and remove the salt; the plain autoencoder, "
            "never trained on corrupted inputs, copies part of the noise through. Denoising is what turns the "
            "reconstruction into an estimate of where the data lie.")

with tab_c:
    if tab_c.open:
        hist = res.history
        c1, c2 = st.columns(2)
        with c1:
            plots.show_curves(hist, "epoch", [f"denoise_{m}" for m in names], "Held-out denoising error −log P(x | x~)",
                              key="c-dn", labels=ui.DAE_LABELS, ylabel="nats per image", legend_below=True)
        with c2:
            plots.show_curves(hist, "epoch", [f"recon_{m}" for m in names], "Held-out clean reconstruction −log P(x | x)",
                              key="c-rec", labels=ui.DAE_LABELS, ylabel="nats per image", legend_below=True)
        st.caption(f"{run.n_eval:,} held-out digits, one fixed corruption. {settings}")
        shell.what_to_look_for("The plain autoencoder is best at copying clean digits and worst at denoising; the DAEs "
                               "the reverse. Walkback trains on harder inputs too, so its curves can sit a little "
                               "above the DAE's while its chain is better.")
