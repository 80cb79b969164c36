"""VAE: latent map and likelihood

Train a variational autoencoder on binarised digits (beta, IWAE), click its latent plane to decode, interpolate between digits, and put its importance-sampled held-out log-likelihood next to the RBM's and DBM's.

Exercise: Train a variational autoencoder with a Bernoulli decoder on binarised MNIST. With a 2-D latent space, draw
the learned manifold and the held-out digits' codes; what happens between the classes? Change beta and the latent
size: what do reconstructions, samples and the KL term do? Estimate the held-out log-likelihood by importance sampling
and compare it with the ELBO and with the RBM's and the DBM's on the same digits.
"""
import numpy as np
import streamlit as st

from core.data import held_out_binary
from explorer import autoencoders_ui as ui
from explorer import plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "fashion_mnist", "digits"))
run = ui.vae_controls(ctrl, data)
res = shell.trained_or_stop(lambda: ui.train_vae(run, data))
model = ui.vae_model(res)
settings = ui.show_settings(ctrl, res)
V_all = held_out_binary(data.X_test)  # the one binarisation of held-out digits every lab scores
n_codes = min(2000, len(V_all))
labels = data.y_test[:n_codes]
classes = data.classes or [str(i) for i in range(10)]

tab_lat, tab_rec, tab_curves, tab_ll = shell.tabs(["Latent space", "Reconstructions and samples", "Training curves",
                                                   "Log-likelihood"])

with tab_lat:
    if tab_lat.open:
        cod = ui.codes(res.key, res.done, model, V_all, n_codes)
        plane = cod["plane"]
        two_d = run.latent == 2
        left, right = st.columns([3, 2])
        with left:
            title = ("Held-out codes E[z | x], coloured by digit class" if two_d else
                     f"Held-out codes in their first two principal components ({run.latent}-d latent)")
            sel = ui.show_latent_figure(ui.latent_figure(plane, labels, classes, title=title), key="zplane")
            st.caption(f"{n_codes:,} held-out digits. Click anywhere to decode that point; drag a box to decode a grid "
                       "over it; double-click to clear. " + ("" if two_d else
                       "Clicking a digit decodes its own code; clicking elsewhere decodes mean + x·PC1 + y·PC2."))
        with right:
            picked = ui.selected_points(sel)
            box = ui.box_corners(sel)
            c1, c2 = st.columns(2)
            zx = c1.number_input("or type a point: x", -10.0, 10.0, 0.0, step=0.25, key="zx", bind="query-params")
            zy = c2.number_input("y", -10.0, 10.0, 0.0, step=0.25, key="zy", bind="query-params")
            if box is not None:
                (x0, x1), (y0, y1) = box
                gx, gy = np.meshgrid(np.linspace(x0, x1, 8), np.linspace(y1, y0, 8))
                pts = np.c_[gx.ravel(), gy.ravel()]
                Z = ui.vae.plane_to_code(pts, plane)
                plots.show_grid(ui.decoded(res.key, res.done, model, tuple(map(tuple, Z.tolist()))), data.shape,
                                f"Decoded grid over the box x ∈ [{x0:.2f}, {x1:.2f}], y ∈ [{y0:.2f}, {y1:.2f}]",
                                key="box-grid", ncols=8)
            elif picked:
                Z = np.stack([ui.vae.plane_to_code(p["xy"], plane)[0] if p["digit"] is None else cod["mu"][p["digit"]]
                              for p in picked])
                imgs = ui.decoded(res.key, res.done, model, tuple(map(tuple, Z.tolist())))
                words = [f"digit {p['digit']}" if p["digit"] is not None else f"({p['xy'][0]:.2f}, {p['xy'][1]:.2f})"
                         for p in picked]
                plots.show_grid(imgs, data.shape, "Decoded: " + ", ".join(words[:6]) + ("…" if len(words) > 6 else ""),
                                key="picked", ncols=min(4, len(imgs)))
                digits = [p["digit"] for p in picked if p["digit"] is not None]
                if digits:
                    plots.show_grid(V_all[digits], data.shape, "The held-out digits themselves (binarised)",
                                    key="picked-digits", ncols=min(4, len(digits)))
            else:
                Z = ui.vae.plane_to_code((zx, zy), plane)
                plots.show_grid(ui.decoded(res.key, res.done, model, tuple(map(tuple, Z.tolist()))), data.shape,
                                f"Decoded point ({zx:.2f}, {zy:.2f})", key="typed", ncols=1)
        if two_d:
            n_grid = st.slider("Manifold grid (points per side)", 8, 30, 20, key="grid", bind="query-params")
            grid, imgs = ui.manifold(res.key, res.done, model, int(n_grid))
            plots.show_grid(imgs, data.shape, f"The learned manifold: decoder means on a {n_grid}×{n_grid} grid of "
                            "Gaussian quantiles (z1 left to right, z2 top to bottom, from "
                            f"{grid[:, 0].min():.2f} to {grid[:, 0].max():.2f})", key="manifold", ncols=int(n_grid))
        st.markdown("**Interpolation between two held-out digits' codes**")
        c1, c2, c3, c4 = st.columns(4)
        ca = c1.selectbox("From class", list(range(len(classes))), 1, key="from_cls", bind="query-params",
                          format_func=lambda c: classes[c])
        ia = c2.number_input("its example", 0, 50, 0, key="from_i", bind="query-params")
        cb = c3.selectbox("To class", list(range(len(classes))), 7, key="to_cls", bind="query-params",
                          format_func=lambda c: classes[c])
        ib = c4.number_input("its example", 0, 50, 0, key="to_i", bind="query-params")
        ia_idx, ib_idx = np.flatnonzero(labels == ca), np.flatnonzero(labels == cb)
        if len(ia_idx) == 0 or len(ib_idx) == 0:
            st.warning("No held-out digit of that class among those encoded.")
        else:
            a, b = int(ia_idx[min(int(ia), len(ia_idx) - 1)]), int(ib_idx[min(int(ib), len(ib_idx) - 1)])
            line = ui.vae.interpolate(cod["mu"][a], cod["mu"][b], 10)
            imgs = ui.decoded(res.key, res.done, model, tuple(map(tuple, line.tolist())))
            strip = np.concatenate([V_all[[a]], imgs, V_all[[b]]])
            plots.show_grid(strip, data.shape, f"A {classes[ca]} → a {classes[cb]} (held-out digits #{a} and #{b}): the data, "
                            "10 decoded codes on the straight line "
                            "between their posterior means, the data", key="interp", ncols=len(strip))
        st.caption(f"Active latent units (Var_x E[z_i | x] > 0.01): {cod['active']} of {run.latent}. {settings}")
        shell.what_to_look_for(
            "In 2-D the classes form regions of the plane and the manifold morphs continuously between them: between "
            "a 1 and a 7 the decoder draws digits that are half of each. Holes and thin bridges in the scatter are "
            "where the decoder has little data, and decoded points there are blurry. With beta > 1 the codes bunch "
            "towards the prior (rounder, overlapping classes, blurrier digits); with beta < 1 they spread out. In "
            "more dimensions the PCA view overlaps classes that the full code separates; count the active units: "
            "the KL term switches off dimensions the decoder does not need.")

with tab_rec:
    if tab_rec.open:
        n_show = st.slider("Digits shown", 8, 64, 16, step=8, key="n_show", bind="query-params")
        X = V_all[:n_show]
        rec = ui.reconstructions(res.key, res.done, model, X)
        samples = ui.prior_samples(res.key, res.done, model, int(n_show), 0)
        plots.show_grids([("Held-out digits (binarised)", X), ("Reconstructions: decoder mean at E[z | x]", rec),
                          ("Samples: decoder means of z ~ N(0, I)", samples)], data.shape, key="rec", ncols=8,
                         caption=settings)
        shell.what_to_look_for(
            "Reconstructions keep the identity and style of each digit; samples from the prior are as good as the "
            "prior and the aggregate posterior agree: where they do not (holes in the latent space), samples are "
            "blurred mixtures. The decoder's mean image is shown: a Bernoulli sample of it would be speckled. A "
            "small beta gives sharper reconstructions but worse samples, a large beta the reverse.")

with tab_curves:
    if tab_curves.open:
        hist = res.history
        refs = ui.boltzmann_references(data)
        c1, c2 = st.columns(2)
        with c1:
            plots.show_curves(hist, "epoch", ["elbo", "train_elbo"], "ELBO (nats per image)", key="c-elbo",
                              labels=ui.VAE_LABELS, ylabel="nats", refs=refs if hist["elbo"].max() > -200 else None,
                              legend_below=True)
            plots.show_curves(hist, "epoch", ["kl", "train_kl"], "KL(q(z|x) || p(z))", key="c-kl",
                              labels=ui.VAE_LABELS, ylabel="nats", legend_below=True)
        with c2:
            plots.show_curves(hist, "epoch", ["recon", "train_recon"], "Reconstruction term E_q log p(x | z)",
                              key="c-rec", labels=ui.VAE_LABELS, ylabel="nats", legend_below=True)
            plots.show_curves(hist, "epoch", ["active_units", "kl_weight"], "Active units and the KL weight",
                              key="c-au", labels=ui.VAE_LABELS, legend_below=True)
        st.caption(f"Held-out: {run.n_eval:,} digits in the Boltzmann labs' binarisation, one fixed draw of z each. "
                   f"Training: averages over the epoch's batches (beta = 1 terms). Dashed lines: the shipped DBM's and "
                   f"RBM's held-out log-likelihoods (AIS) — the ELBO is only a lower bound of the VAE's. {settings}")
        shell.what_to_look_for(
            "The ELBO = reconstruction − KL. Early on the KL weight rises from 0 (warm-up), so the KL can first grow "
            "and then be squeezed. A held-out ELBO that stops improving while the training ELBO keeps rising is "
            "overfitting (8,000 digits are few). Active units falling means the KL term is switching dimensions off "
            "(posterior collapse of those units).")

with tab_ll:
    if tab_ll.open:
        c1, c2 = st.columns(2)
        k = c1.select_slider("Importance samples k per digit", [1, 10, 100, 1000, 5000], 100, key="is_k",
                             bind="query-params", help="log p(x) ≈ log 1/k Σ p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x).")
        n = c2.select_slider("Held-out digits scored", [100, 500, 1000, 2000], 500, key="is_n", bind="query-params")
        n = min(int(n), len(V_all))
        cost = int(k) * n
        go_ = cost <= 200_000 or st.button(f"Estimate with k = {k:,} on {n:,} digits ({cost / 1e6:.1f} million decoder "
                                           "passes: about a minute per million on a 2-core CPU)", key="is_go")
        if go_ or st.session_state.get("is_done") == (res.key, res.done, int(k), n):
            st.session_state["is_done"] = (res.key, res.done, int(k), n)
            r = ui.is_likelihood(res.key, res.done, model, V_all, int(k), n)
            m1, m2, m3 = st.columns(3)
            m1.metric(f"log p(x), importance sampling (k = {k:,})", f"{r['ll']:.2f} nats",
                      help=f"± {r['se_mc']:.3f} Monte-Carlo s.e. (delta method: √(1/ESS − 1/k) per digit); "
                           f"± {r['se_digits']:.2f} over the choice of digits. Mean ESS {r['ess']:.1f} of {k}.")
            m2.metric("ELBO on the same digits", f"{r['elbo']['elbo']:.2f} nats",
                      delta=f"{r['elbo']['elbo'] - r['ll']:+.2f} vs log p(x)", delta_color="off")
            m3.metric("Monte-Carlo standard error", f"± {r['se_mc']:.3f}", help="Of the mean over digits; the estimate "
                      "is biased low on average (a stochastic lower bound), by less as k grows.")
            rows = [{"model": f"this VAE, log p(x) by IS (k = {k:,}, {n:,} digits)", "held_out_log_likelihood": r["ll"],
                     "how": f"± {r['se_mc']:.3f} MC s.e., {r['seconds']:.0f} s"},
                    {"model": "this VAE, ELBO", "held_out_log_likelihood": r["elbo"]["elbo"],
                     "how": "10 samples of z per digit"}]
            for z, s in ui.shipped_vae_scores(data).items():
                q = s["heldout_ll_is"]
                rows.append({"model": f"shipped VAE, {z}-d latent (IS, k = {q['k']:,})", "held_out_log_likelihood": q["ll"],
                             "how": f"± {q['se_mc']:.3f} MC s.e. on {q['n']:,} digits; ELBO {s['heldout_elbo']['elbo']:.1f}"})
            df = ui.references_table(rows, data)
            plots.show_figure(ui.bar_figure(df, "Held-out log-likelihood on the same binarised digits"), key="ll-bars")
            with plots.show_table(df, "Held-out log-likelihood on the same binarised digits", key="ll",
                                  hide_index=True, width="stretch"):
                plots.download_csv(df, "vae-log-likelihood", key="csv-ll", label="CSV of this table")
            ks = tuple(kk for kk in (1, 10, 100, 1000) if kk <= max(int(k), 100))
            curve = ui.is_against_k(res.key, res.done, model, V_all, ks, 100)
            plots.show_curves(curve, "k", ["log_likelihood"], "The estimate tightens with k (first 100 digits)",
                              key="ll-k", log_x=True, markers=True, ylabel="nats per image",
                              labels={"log_likelihood": "log p(x) by importance sampling"})
        else:
            st.info("Press the button to run the estimate (cached afterwards).")
        shell.what_to_look_for(
            "The ELBO is log p(x) minus KL(q(z|x) || p(z|x)): the gap to the importance-sampled estimate shows how far "
            "the encoder's Gaussian is from the true posterior. The estimate rises with k towards log p(x) and is a "
            "lower bound on average. All numbers here are nats per image on the same 2,000 held-out digits in the same "
            "binarisation as the RBM and DBM pages; the DBM's is itself a lower bound.")
