"""Greedy layer-wise stacks: DBN and stacked autoencoders

Train a deep belief network as the slides' Algorithm 1 (an RBM on the data, then an RBM on its hidden samples, ...), sample it, see each layer's filters and its held-out log-likelihood (a variational bound minus an AIS log Ẑ) next to the RBM and the DBM; compare a stacked autoencoder pre-trained greedily with one trained end to end.

Exercise: Train a deep belief network greedily (Algorithm 1): an RBM on the data, then an RBM on the first RBM's
hidden samples, and so on. Sample it (Gibbs in the top RBM, then one downward pass) and show each layer's filters. Is
its held-out log-likelihood bound better than one RBM's, and how does it compare with the DBM? Then pre-train a
stacked autoencoder layer by layer and compare it with the same network trained end to end: reconstruction error and
the classification error of a logistic regression on the codes.
"""
import numpy as np
import streamlit as st

from core.autoencoders import stacks
from explorer import autoencoders_ui as ui
from explorer import boltzmann_ui, plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "fashion_mnist", "digits"))
run = ui.dbn_controls(ctrl, data)
sae_run = ui.sae_controls(ctrl, data)
res = shell.trained_or_stop(lambda: ui.train_dbn(run, data))
rbms = ui.dbn_rbms(res)
dbn_keys = ["data", "layers", "h1", "h2", "h3", "epochs", "lr", "method", "seed"]
settings = ui.show_settings(ctrl, res, dbn_keys)
sizes = [data.n_features] + [r.n_components for r in rbms]
arch = "-".join(map(str, sizes))
complete = len(rbms) == run.layers
if not complete:
    st.warning(f"Only {len(rbms)} of the {run.layers} layers are trained so far: the pictures use those.")

tab_s, tab_f, tab_ll, tab_sae = shell.tabs(["DBN samples", "Filters", "Log-likelihood", "Stacked autoencoders"])

with tab_s:
    if tab_s.open:
        c1, c2 = st.columns(2)
        steps = c1.select_slider("Gibbs steps in the top RBM", [1, 10, 100, 1000, 5000], 1000, key="gibbs",
                                 bind="query-params")
        seed_s = c2.number_input("Sampling seed", 0, 10_000, 0, key="sseed", bind="query-params")
        ch = ui.dbn_chains(res.key, res.done, rbms, 16, int(steps), int(seed_s))
        frames = [plots.grid_image(ch["frames"][t], data.shape, ncols=8, scale=3) for t in ch["steps"]]
        plots.show_animation(frames, f"DBN {arch}: 16 chains of the top RBM, each frame pushed down to the pixels",
                             key="dbn-gif", caption="Recorded steps: " + ", ".join(map(str, ch["steps"])) + ". Shown: "
                             "P(v = 1 | h1) after one downward pass (h_{l-1} ~ P(h_{l-1} | h_l) above the bottom layer).")
        plots.show_grid(ch["frames"][int(steps)], data.shape, f"Samples after {steps} Gibbs steps in the top RBM",
                        key="dbn-samples", ncols=8, caption=settings)
        shell.what_to_look_for(
            "The top RBM models the features of the layer below it, not pixels: its Gibbs chain moves in feature space "
            "and every frame is turned into pixels by one directed downward pass. Compare with the RBM's and the "
            "DBM's chains on the Deep Boltzmann machine page: a DBN's downward pass is only as good as the generative "
            "weights of the lower RBMs, which were never fine-tuned (no up-down algorithm here).")

with tab_f:
    if tab_f.open:
        cols = st.columns(len(rbms))
        for i, (c, r) in enumerate(zip(cols, rbms), start=1):
            with c:
                F = stacks.layer_filters(rbms, i)
                order = np.argsort(-np.linalg.norm(r.components_, axis=1))
                plots.show_filters(F[order], data.shape, f"Layer {i} ({r.n_components} units)" +
                                   (": W1" if i == 1 else ": W" + "·W".join(str(j) for j in range(i, 0, -1))),
                                   key=f"filters-{i}", n=36, ncols=6)
        st.caption("The 36 units with the largest weights of each layer. Above the first layer a unit's filter is its "
                   "weights pushed down linearly (W2·W1: the first-layer filters it weighs most, combined), each scaled "
                   f"to its own range. {settings}")
        shell.what_to_look_for(
            "First-layer filters are strokes and blobs at every position; second-layer units combine many of them "
            "into larger, smoother parts of digits — the hierarchy that greedy training builds without ever looking "
            "at the pixels again. The linear push-down ignores the sigmoids, so it is a sketch of what a unit "
            "prefers, not its exact input.")

with tab_ll:
    if tab_ll.open:
        shipped = ui.shipped_dbn_scores(run, data)  # the shipped run with these very settings, if any
        known = shipped.get("log_likelihood") if shipped else None
        rows = []
        if known and complete:
            a = known["dbn"]["ais"]
            st.markdown(f"**Measured when the shipped DBN with these settings was made** (AIS with {a['n_runs']} runs × "
                        f"{a['n_betas']:,} temperatures, {a.get('n_components', 1)}-component base)")
            rows += [{"model": f"this DBN {arch} (bound − AIS log Ẑ)", "held_out_log_likelihood": known["dbn"]["ll"],
                      "how": f"variational bound − AIS log Ẑ of the top RBM (ESS {a['ess']:.0f} of {a['n_runs']}); "
                             f"± {known['dbn']['se_mc']:.2f} MC s.e. of the bound; not a bound: no sure direction"},
                     {"model": f"its first layer alone, RBM {sizes[1]} hidden (AIS)",
                      "held_out_log_likelihood": known["rbm1"]["ll"],
                      "how": f"AIS (ESS {known['rbm1']['ais']['ess']:.0f}); errs high on average"}]
        c1, c2 = st.columns(2)
        betas = c1.select_slider("AIS temperatures", [500, 1000, 2000, 4000, 8000, 16000], 1000, key="betas",
                                 bind="query-params")
        ais_runs = c2.select_slider("AIS runs", [10, 20, 50, 100], 20, key="runs", bind="query-params")
        if not complete:
            st.info("The log-likelihood needs every layer: let the training finish (or Resume it).")
        elif st.button("Estimate by AIS now", key="ais") or st.session_state.get("ais_done") == (
                res.key, res.done, betas, ais_runs):
            st.session_state["ais_done"] = (res.key, res.done, betas, ais_runs)
            ll = ui.dbn_likelihood(res.key, res.done, rbms, data, run.n_train, int(betas), int(ais_runs))

            def band(x: dict) -> str:
                if not x["ais"]["band_meaningful"]:
                    return f"ESS {x['ais']['ess']:.1f} of {x['ais']['n_runs']}: too few effective runs for a band"
                return f"AIS band [{x['ll_low']:.1f}, {x['ll_high']:.1f}], ESS {x['ais']['ess']:.1f}"

            rows += [{"model": f"this DBN {arch}, bound − AIS log Ẑ (now, {betas:,} × {ais_runs})",
                      "held_out_log_likelihood": ll["dbn"]["ll"],
                      "how": f"{band(ll['dbn'])}; ± {ll['dbn']['se_mc']:.2f} MC s.e. of the bound"},
                     {"model": f"its first layer alone, RBM {sizes[1]} hidden (now, AIS)",
                      "held_out_log_likelihood": ll["rbm1"]["ll"], "how": f"{band(ll['rbm1'])}; errs high"}]
        if rows:
            df = ui.references_table(rows, data)
            plots.show_figure(ui.bar_figure(df, "Held-out log-likelihood on the same binarised digits"), key="ll-bars")
            with plots.show_table(df, "Held-out log-likelihood on the same binarised digits", key="ll",
                                  hide_index=True, width="stretch"):
                plots.download_csv(df, "dbn-log-likelihood", key="csv-ll", label="CSV of this table")
        if known and complete and known.get("log_z_curve"):
            curves = known["log_z_curve"]
            default = int(known["dbn"]["ais"]["n_betas"])
            plots.show_figure(boltzmann_ui.log_z_curve_figure({"DBN's top RBM": curves["dbn_top"], "first RBM alone": curves["rbm1"]},
                                                    default, "Convergence: log Ẑ against AIS temperatures (shipped)"),
                              key="logz-curve")
            st.caption("Doubling the default temperatures moves log Ẑ by "
                       f"{boltzmann_ui.log_z_moves(curves['dbn_top'], default):+.2f} nats (top RBM) and "
                       f"{boltzmann_ui.log_z_moves(curves['rbm1'], default):+.2f} nats (first RBM). Hover for each point's "
                       "effective sample size.")
        st.caption("All numbers: nats per image on the held-out digits in the one binarisation every lab uses. The "
                   "shipped DBM and its RBM are 784-500-500 and 500 hidden units: the DBN of the same sizes is the "
                   f"default here. {settings}")
        shell.what_to_look_for(
            "The DBN's number is E_q[log p(v | h1) + log p*(h1)] + H(q) − log Ẑ_top, with q(h1 | v) the first RBM's "
            "posterior, which is not the DBN's true posterior. With the exact log Z_top it would be a lower bound of "
            "log p(v); with AIS's log Ẑ, which is low on average, it is not: the variational gap pulls it down, the "
            "AIS error pushes it up. Hinton et al. (2006) prove that adding a layer cannot lower the bound only when "
            "the second RBM has as many hidden units as the layer below has units and starts from the first one's "
            "weights transposed (W1ᵀ); here it starts from small random weights, so the guarantee does not apply and "
            "the comparison with the first RBM alone is an experiment, not a theorem. Check that log Ẑ has stopped "
            "rising with the temperatures, and watch the effective number of runs (ESS).")

with tab_sae:
    if tab_sae.open:
        sres = shell.trained_or_stop(lambda: ui.train_sae(sae_run, data))
        nets = ui.sae_models(sres)
        sae_keys = ["data", "sae_layers", "sae_h1", "sae_h2", "sae_h3", "sae_epochs", "sae_fine"]
        s_settings = ctrl.caption(sae_keys)
        st.caption(f"{s_settings} · {sres.status_line()}")
        hist = sres.history
        c1, c2 = st.columns([3, 2])
        with c1:
            plots.show_curves(hist, "epoch", ["recon_greedy", "recon_e2e"], "Held-out reconstruction error",
                              key="sae-curves", labels=ui.SAE_LABELS, ylabel="squared error per image", markers=True,
                              legend_below=True)
            st.caption("The greedy stack's error is measured through the layers trained so far (it jumps when a new "
                       "layer is added on top).")
        with c2:
            X = data.X_test[:8]
            plots.show_grids([("Held-out digits", X),
                              ("Greedy stack", ui.sae.reconstruct(nets["greedy"], X)),
                              ("End to end", ui.sae.reconstruct(nets["e2e"], X))], data.shape, key="sae-rec",
                             ncols=2)
        n_clf = min(2000, sae_run.n_train)  # the classifier's training digits (a few seconds per feature set)
        errs = ui.feature_errors(sres.key, sres.done, res.key if complete else None, res.done, nets,
                                 rbms if complete else None, data, n_clf)
        last = hist.iloc[-1]
        table = errs.rename(columns={"classification_error": "held-out classification error"})
        m = st.columns(len(table) + 2)
        for c, (_, row) in zip(m, table.iterrows()):
            c.metric(row["features"], f"{row['held-out classification error']:.1%}", help=f"{row['dimensions']} features")
        m[-2].metric("reconstruction, greedy", f"{last['recon_greedy']:.1f}", help="held-out squared error per image")
        m[-1].metric("reconstruction, end to end", f"{last['recon_e2e']:.1f}", help="held-out squared error per image")
        with plots.show_table(table.style.format({"held-out classification error": "{:.2%}"}),
                              "Held-out classification error of a logistic regression on each code", key="feat",
                              hide_index=True, width="stretch"):
            plots.download_csv(errs, "stacks-feature-classification", key="csv-feat", label="CSV of this table")
        st.caption(f"A logistic regression (standardised features, scikit-learn) trained on the codes of the first "
                   f"{n_clf:,} training digits, scored on {len(data.X_test):,} held-out digits. {s_settings}")
        shell.what_to_look_for(
            "The greedy stack solves one shallow problem per layer; the end-to-end net must push its gradient through "
            "four sigmoid layers from random weights, which is slower — the difficulty that made greedy pre-training "
            "the way to train deep nets in 2006-2007. Compare the reconstruction curves (the greedy one jumps when a "
            "layer is added) and the classification errors of the codes: the DBN's and the greedy stack's features "
            "are learned without labels too. Then try more epochs, fine-tuning and 3 layers: with enough epochs "
            "end-to-end training catches up.")
