"""Deep Boltzmann machine: filters, samples, likelihood

Load the pretrained two-layer DBM, compare its filters and samples with an RBM trained for the same time, and measure both held-out log-likelihoods by AIS.

Exercise: Load the pretrained DBM. Show the filters of the RBM and the DBM: what is the difference, and between the
first and second layer? Sample new images from the DBM: is the quality better than the RBM and why?
"""
import json

import numpy as np
import pandas as pd
import streamlit as st

from core import data as datasets
from core.boltzmann import dbm
from core.boltzmann.ais import MIN_ESS_FOR_BAND
from core.cache import make_key
from core.images import normalize_each
from explorer import boltzmann_ui, plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
mnist = shell.load_dataset("mnist") if datasets.available("mnist") else None
asset = boltzmann_ui.shipped_dbm(mnist) if mnist is not None else None
choices = (["shipped"] if asset is not None else []) + ["retrain"]
source = ctrl.select("Model", "model", choices, choices[0], horizontal=True,
                     labels={"shipped": "Shipped (pretrained)", "retrain": "Retrain"},
                     help="The shipped DBM opens instantly; Retrain trains one with the settings below (cached).")
if asset is None:
    st.warning("The shipped model (assets/dbm/run.pt) is missing or damaged: train one with the settings in the "
               "sidebar, or run `python -m core.boltzmann.dbm --out assets/dbm` once.")

if source == "shipped":
    data, run = mnist, dbm.DBMRun()
    res = boltzmann_ui.train_dbm(run, data)  # the shipped run (status "shipped"), through the path of every page
    result, key, prov = res.result, res.key, res.result["provenance"]
    ll_known = prov.get("scores", {}).get("log_likelihood")
    cfg = run.dbm
    st.caption(f"Shipped model: DBM 784-{cfg.n_hidden1}-{cfg.n_hidden2} trained on {run.n_train:,} {prov['data']} "
               f"digits in {result['dbm_seconds'] / 60:.1f} min ({prov['device']}); RBM with {cfg.n_hidden1} hidden "
               f"units trained for the same time ({result['rbm_epochs']} epochs). Command: `{prov.get('equivalent_command') or prov['command']}`")
else:
    data = shell.dataset(ctrl, allowed=("mnist", "digits"))
    run = boltzmann_ui.dbm_controls(ctrl, data)
    key = make_key("dbm", run)
    if not boltzmann_ui.has_dbm_run(run, data) and st.session_state.get("dbm_go") != key:
        st.info("Choose the settings in the sidebar, then train. The DBM is pre-trained layer by layer, trained "
                "jointly, and an RBM with as many hidden units as its first layer is then trained for the same time.")
        st.button("▶ Train with these settings", type="primary", key="train",
                  on_click=lambda: st.session_state.__setitem__("dbm_go", key))
        st.stop()
    res = shell.trained_or_stop(lambda: boltzmann_ui.train_dbm(run, data))
    if "rbm" not in res.result["nets"]:
        st.info("Training stopped before the comparison RBM started: Resume to finish it.")
        st.stop()
    result, ll_known = res.result, None
    prov = {"config": result["config"], "dbm_seconds": result["dbm_seconds"], "rbm_epochs": result["rbm_epochs"],
            "rbm_seconds": result["rbm_seconds"], "data": f"{data.title}, first {run.n_train:,} training images"}
    st.caption(f"{ctrl.caption()} · DBM {result['dbm_seconds']:.0f} s, RBM {result['rbm_epochs']} epochs in "
               f"{result['rbm_seconds']:.0f} s · {res.status_line()}")
ll_data = data if data is not None and data.name == "mnist" or source == "retrain" else None

model, rbm = boltzmann_ui.models(key, result)
shape = (1, 28, 28) if model.shape[0] == 784 else (1, 8, 8)
n_v, n1, n2 = model.shape
tab_f, tab_s, tab_ll, tab_p = shell.tabs(["Filters", "Samples", "Log-likelihood", "Provenance"])

with tab_f:
    if tab_f.open:
        n_show = 64
        rbm_W = rbm.components_
        W1 = model.W1.numpy()
        plots.show_grids([(f"RBM filters ({rbm_W.shape[0]} hidden units)", normalize_each(rbm_W[:n_show])),
                          (f"DBM first layer W1 ({n1} units)", normalize_each(W1[:n_show]))], shape, key="filters-1",
                         ncols=8, caption=f"The first {n_show} filters of each model, each scaled to its own range.")
        top = model.second_layer_filters()  # (n2, n_v)
        order = np.argsort(-np.linalg.norm(model.W2.numpy(), axis=1))[:n_show]
        col_a, col_b = st.columns(2)
        with col_a:
            plots.show_filters(top[order], shape, "DBM second layer as combinations of first-layer filters (W2 · W1)",
                           key="filters-2", n=n_show, ncols=8,
                           caption=f"The {n_show} second-layer units with the largest weights; each picture is "
                                   "Σ_j W2[k, j] · W1[j, :], the first-layer filters weighted by how strongly unit k "
                                   "connects to them.")
        with col_b:
            unit = st.slider("Second-layer unit (ranked by weight norm)", 1, min(n2, n_show), 1, key="unit",
                             bind="query-params")
            k_idx = int(order[unit - 1])
            w = model.W2.numpy()[k_idx]
            strongest = np.argsort(-np.abs(w))[:8]
            plots.show_grid(normalize_each(W1[strongest]), shape, f"The 8 first-layer filters unit {k_idx} weighs most",
                            key="unit-parts", ncols=4,
                            caption="Weights: " + ", ".join(f"{w[j]:+.2f}" for j in strongest) +
                                    " (negative weights invert a filter's contribution).")
        shell.what_to_look_for(
            "The RBM's filters are clean strokes and digit parts: alone, its one layer must explain every correlation "
            "between pixels. The DBM's first layer looks noisier and less digit-like: in the same wall-clock time it "
            "got ~45 epochs to the RBM's hundreds, and its units need not explain whole digits because the second "
            "layer models their co-activations. Projected back to pixels (W2 · W1), second-layer units are smooth, "
            "localised position/shape detectors built from many noisy first-layer filters: a second level of the "
            "hierarchy. Compare with the Log-likelihood tab before deciding which model is better.")

with tab_s:
    if tab_s.open:
        c1, c2 = st.columns(2)
        steps = c1.select_slider("Gibbs steps (the same for both models)", [10, 50, 100, 200, 500, 1000, 2000, 5000], 1000,
                                 key="steps", bind="query-params")
        seed_s = c2.number_input("Sampling seed", 0, 10_000, 0, key="sseed", bind="query-params")
        ch = boltzmann_ui.chains(key, model, rbm, 16, int(steps), int(seed_s))
        frames = [plots.side_by_side(ch["rbm"][s], ch["dbm"][s], shape, 4) for s in ch["steps"]]
        plots.show_animation(frames, "Chains over Gibbs steps: RBM (left), DBM (right), from the same random images",
                             key="chains", caption="Recorded steps: " + ", ".join(str(s) for s in ch["steps"]) + ". One "
                             "DBM step updates h1 given (v, h2), then v and h2 given h1; one RBM step updates h given v, "
                             "then v given h. Shown: P(v = 1 | hidden).")
        plots.show_grids([(f"RBM after {steps} steps", ch["rbm"][int(steps)]), (f"DBM after {steps} steps", ch["dbm"][int(steps)])],
                         shape, key=f"samples-{steps}", ncols=4)
        shell.what_to_look_for(
            "Both chains start from the same noise. Look at variety as well as sharpness: the RBM's samples are smooth "
            "but its chains settle in a few modes (many of the same digit) and barely move; the DBM's are rougher but "
            "more varied, because its top layer adds a prior over which first-layer features go together, and the "
            "alternating odd/even updates move the chains between modes. The log-likelihood tab turns this impression "
            "into a number (the RBM's many identical samples point at one over-weighted mode, which costs it "
            "likelihood on the other digits).")

with tab_ll:
    if tab_ll.open:
        def show_ll(ll: dict, where: str):
            a, b = st.columns(2)
            a.metric("DBM held-out: bound − AIS log Ẑ", f"{ll['dbm']['ll']:.2f} nats",
                     help="Mean over held-out digits of a variational lower bound of log p*(v) minus an AIS estimate "
                          "of log Z. The bound errs low, the AIS log Ẑ errs low on average (which flatters): the figure "
                          "is not a bound, and which error wins is not known.")
            b.metric("RBM held-out (AIS, errs high)", f"{ll['rbm']['ll']:.2f} nats",
                     delta=f"{ll['rbm']['ll'] - ll['dbm']['ll']:+.2f} vs DBM",
                     help="Mean log p*(v) minus an AIS estimate of log Z, which is low on average: optimistic.")
            rows = []
            for m in ("dbm", "rbm"):
                ais = ll[m]["ais"]
                shown = ais.get("band_meaningful", False)
                rows.append({"model": m.upper(), "estimate": ll[m]["ll"],
                             "band low": ll[m]["ll_low"] if shown else None,
                             "band high": ll[m]["ll_high"] if shown else None,
                             "log Ẑ": ais["log_z"], "effective runs (ESS)": ais.get("ess", float("nan")),
                             "AIS runs": ais["n_runs"], "temperatures": ais["n_betas"],
                             "base components": ais.get("n_components", 1), "AIS seconds": ais["seconds"]})
            df = pd.DataFrame(rows)
            plots.show_table(df, f"Held-out log-likelihood by AIS ({where})", key=f"ll-{where}", hide_index=True)
            st.caption("No ± band is shown when the effective sample size is below "
                       f"{MIN_ESS_FOR_BAND:.0f} runs: then the weights' standard error is itself unknown.")
            plots.download_csv(df, f"log-likelihood-{where}", key=f"csv-ll-{where}", label="CSV of this table")

        if ll_known:
            st.markdown("**Measured when the model was made** (held-out digits, one fixed binarisation)")
            show_ll(ll_known, "shipped")
            sw = ll_known.get("rbm_sandwich")
            if sw:
                st.markdown(f"**RBM held-out log-likelihood, sandwiched:** [{sw['conservative']:.2f}, {sw['ais']:.2f}] "
                            f"nats per image (width {sw['width']:.2f}) on {sw['raise']['n']:,} held-out digits.")
                st.caption(f"Left: RAISE, reverse annealing from each held-out digit ({sw['raise']['n_betas']:,} "
                           "temperatures; Burda, Grosse & Salakhutdinov 2015), which errs low on average. Right: the same "
                           "digits with the AIS log Ẑ, which errs high on average. In practice the true value lies "
                           "between them; neither side is a strict bound, both are estimates.")
            curves = ll_known.get("log_z_curve")
            if curves:
                default = int(ll_known["rbm"]["ais"]["n_betas"])
                plots.show_figure(boltzmann_ui.log_z_curve_figure(
                    {"RBM": curves["rbm"], "DBM": curves["dbm"]}, default,
                    "Convergence: log Ẑ against the number of AIS temperatures (shipped models)"), key="logz-curve")
                st.caption("Doubling the default temperatures moves log Ẑ by "
                           f"{boltzmann_ui.log_z_moves(curves['rbm'], default):+.2f} nats (RBM) and "
                           f"{boltzmann_ui.log_z_moves(curves['dbm'], default):+.2f} nats (DBM). Same seed and runs "
                           "at each point, each curve drawn from its value at the default (dotted line); the grey "
                           "band is ±0.5 nats. "
                           "Hover for log Ẑ and each point's effective sample size. A curve still rising means AIS has "
                           "not converged and every figure above is optimistic.")
        if ll_data is None:
            st.info("MNIST is not on this machine: the estimate cannot be recomputed here.")
        else:
            st.markdown("**Estimate again**")
            c1, c2 = st.columns(2)
            betas = c1.select_slider("AIS temperatures", [500, 1000, 2000, 4000, 8000, 16000], 1000, key="betas",
                                     bind="query-params")
            runs = c2.select_slider("AIS runs", [10, 20, 50, 100], 20, key="runs", bind="query-params")
            if st.button("Run AIS on both models", key="ais") or st.session_state.get("ais_done") == (key, betas, runs):
                st.session_state["ais_done"] = (key, betas, runs)
                show_ll(boltzmann_ui.ais_both(key, result, ll_data.X_train[:8000], ll_data.X_test, int(betas), int(runs)),
                        "rerun")
        shell.what_to_look_for(
            "Higher is better (nats per image). Each AIS figure errs high on average: AIS underestimates log Z, the "
            "more so the fewer its temperatures, so check that log Ẑ has stopped rising. The DBM's figure subtracts "
            "that log Ẑ from a variational lower bound of log p*(v): the bound pulls it down, AIS pushes it up, so "
            "it is not a bound either way. A DBM ahead of the RBM by more than the RBM's sandwich width and the "
            "curves' remaining movement suggests it models the held-out digits better; it does not prove it. A small "
            "effective number of runs (ESS) means a few runs carry all the weight.")

with tab_p:
    if tab_p.open:
        st.code(json.dumps(prov, indent=2, default=str), language="json")
