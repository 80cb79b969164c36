"""Deep Boltzmann machine: filters, samples, likelihood

Load the pretrained two-layer DBM, compare its filters and samples with an RBM trained for the same time, and measure both held-out log-likelihoods by AIS.
"""
import dataclasses
import json

import numpy as np
import pandas as pd
import streamlit as st

from core.boltzmann import dbm as dbm_core
from core import data as datasets
from core.cache import DiskCache, make_key
from core.images import normalize_each
from explorer import bm_ui, live, plots, shell

pg = shell.page("Deep Boltzmann machine: filters, samples, likelihood", exercise=(
    "Load the pretrained DBM. Show the filters of the RBM and the DBM: what is the difference, and between the "
    "first and second layer? Sample new images from the DBM: is the quality better than the RBM and why?"))
ctrl = pg.controls
asset = bm_ui.shipped()
choices = (["shipped"] if asset is not None else []) + ["retrain"]
source = ctrl.select("Model", "model", choices, choices[0], horizontal=True,
                     labels={"shipped": "Shipped (pretrained)", "retrain": "Retrain"},
                     help="The shipped DBM opens instantly; Retrain trains one with the settings below (cached).")
if asset is None:
    st.warning("The shipped model (assets/dbm/model.pt) is missing: train one with the settings in the sidebar, "
               "or run `python -m core.dbm` once.")

if source == "shipped":
    prov = asset["provenance"]
    dbm_state, rbm_w = asset["dbm"], asset["rbm"]
    key = "shipped-" + make_key("asset", prov)
    ll_known = prov.get("log_likelihood")
    data = shell.load_dataset("mnist") if datasets.available("mnist") else None
    ll_data = data if data is not None and data.name == "mnist" else None
    cfg = dbm_core.DBMConfig(**prov["dbm"])
    st.caption(f"Shipped model: DBM 784-{cfg.n_hidden1}-{cfg.n_hidden2} trained on {prov['data']['n_train']:,} "
               f"{prov['data']['dataset']} digits in {prov['dbm_seconds'] / 60:.1f} min ({prov['device']}); RBM with "
               f"{prov['rbm']['n_hidden']} hidden units trained for the same time ({prov['rbm']['epochs']} epochs). "
               f"Command: `{prov['command']}`")
else:
    data = shell.dataset(ctrl, allowed=("mnist", "digits"))
    ctrl.where.markdown("**DBM settings**")
    d = dbm_core.DBMConfig()
    h1 = ctrl.log_slider("First hidden layer", "h1", 20, 500, 100, options=[20, 50, 100, 200, 500])
    h2 = ctrl.log_slider("Second hidden layer", "h2", 20, 1000, 100, options=[20, 50, 100, 200, 500, 1000])
    pe = ctrl.log_slider("Pre-training epochs (each RBM)", "pre", 1, 50, 2, options=[1, 2, 5, 10, 20, 50])
    je = ctrl.log_slider("Joint-training epochs", "epochs", 1, 100, 3, options=[1, 2, 3, 5, 10, 20, 50, 100])
    lr = ctrl.log_slider("Joint learning rate", "lr", 0.0005, 0.05, d.learning_rate)
    k = ctrl.slider("Gibbs sweeps per update (fantasy particles)", "k", 1, 10, d.k)
    seed = ctrl.number("Seed", "seed", 0, 10_000, 0)
    n_train = min(len(data.X_train), 8000)
    cfg = dbm_core.DBMConfig(int(h1), int(h2), int(pe), d.pretrain_lr, int(je), float(lr), d.batch_size, d.n_chains,
                             int(k), d.mean_field_steps, d.momentum, d.weight_decay, int(seed))
    run_cfg = {"dataset": data.name, "n_train": n_train, "dbm": cfg}
    key = make_key("dbm", run_cfg)
    cached = key in DiskCache() or key in st.session_state.get(live.PARTIAL, {})
    if not cached and st.session_state.get("dbm_go") != key:
        st.info("Choose the settings in the sidebar, then train. The DBM is pre-trained layer by layer, trained "
                "jointly, and an RBM with as many hidden units as its first layer is then trained for the same time.")
        st.button("▶ Train with these settings", type="primary", key="train",
                  on_click=lambda: st.session_state.__setitem__("dbm_go", key))
        st.stop()
    Xtr = data.X_train[:n_train]
    res = live.train_cached("dbm", run_cfg, lambda partial: dbm_core.train_with_baseline(cfg, Xtr, data.X_test, partial),
                            curves=["recon_error"], labels={"recon_error": "mean-field reconstruction error"},
                            label="Training the DBM (then the RBM for the same time)")
    if res is None or "rbm" not in res.result:
        st.info("Training stopped before the comparison RBM started: Resume to finish it.")
        st.stop()
    dbm_state = res.result["trainer"]["model"]
    P = res.result["rbm"]["P"]
    rbm_w = {"W": P[:-1, :-1].clone(), "b": P[-1, :-1].clone(), "c": P[:-1, -1].clone()}
    ll_known, ll_data = None, data
    prov = {"dbm": dataclasses.asdict(cfg), "dbm_seconds": res.result["seconds"], "rbm_epochs": res.result["rbm_epochs"],
            "rbm_seconds": res.result["rbm_seconds"], "data": f"{data.title}, first {n_train:,} training images"}
    st.caption(f"{ctrl.caption()} · DBM {res.result['seconds']:.0f} s, RBM {res.result['rbm_epochs']} epochs in "
               f"{res.result['rbm_seconds']:.0f} s · {'from the cache' if res.status == 'cached' else res.status}")

model = bm_ui.dbm_model(key, dbm_state)
shape = (1, 28, 28) if model.shape[0] == 784 else (1, 8, 8)
n_v, n1, n2 = model.shape
tab_f, tab_s, tab_ll, tab_p = st.tabs(["Filters", "Samples", "Log-likelihood", "Provenance"])

with tab_f:
    n_show = 64
    rbm_W = np.asarray(rbm_w["W"], dtype=np.float32)
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
    c1, c2 = st.columns(2)
    steps = c1.select_slider("Gibbs steps (the same for both models)", [10, 50, 100, 200, 500, 1000, 2000, 5000], 1000,
                             key="steps", bind="query-params")
    seed_s = c2.number_input("Sampling seed", 0, 10_000, 0, key="sseed", bind="query-params")
    ch = bm_ui.chains(key, model, rbm_w, 16, int(steps), int(seed_s))
    frames = [bm_ui.side_by_side(ch["rbm"][s], ch["dbm"][s], shape, 4) for s in ch["steps"]]
    st.markdown("**Chains over Gibbs steps: RBM (left), DBM (right), from the same random images**")
    animation = bm_ui.gif(frames)
    st.image(animation, width=min(900, frames[-1].shape[1] * 2))
    st.download_button("⬇ GIF", animation, file_name="rbm-vs-dbm-chains.gif", mime="image/gif",
                       key="gif", on_click="ignore")
    st.caption("Recorded steps: " + ", ".join(str(s) for s in ch["steps"]) + ". One DBM step updates h1 given (v, h2), "
               "then v and h2 given h1; one RBM step updates h given v, then v given h. Shown: P(v = 1 | hidden).")
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
    def show_ll(ll: dict, where: str):
        a, b = st.columns(2)
        a.metric("DBM held-out log-likelihood (lower bound)", f"{ll['dbm']['ll']:.2f} nats",
                 help="Mean over held-out digits of a variational lower bound of log p(v), log Z by AIS.")
        b.metric("RBM held-out log-likelihood", f"{ll['rbm']['ll']:.2f} nats",
                 delta=f"{ll['rbm']['ll'] - ll['dbm']['ll']:+.2f} vs DBM")
        rows = [{"model": m, "estimate": ll[m]["ll"], "band low": ll[m]["ll_low"], "band high": ll[m]["ll_high"],
                 "log Z": ll[m]["ais"]["log_z"], "AIS runs": ll[m]["ais"]["n_runs"], "temperatures": ll[m]["ais"]["n_betas"],
                 "effective runs (ESS)": ll[m]["ais"].get("ess", float("nan")),
                 "AIS seconds": ll[m]["ais"]["seconds"]} for m in ("dbm", "rbm")]
        df = pd.DataFrame(rows)
        st.dataframe(df, hide_index=True)
        plots.download_csv(df, f"log-likelihood-{where}", key=f"csv-ll-{where}", label="CSV of this table")

    if ll_known:
        st.markdown("**Measured when the model was made** (held-out digits, one fixed binarisation)")
        show_ll({"dbm": ll_known["dbm_lower_bound"], "rbm": ll_known["rbm"]}, "shipped")
    if ll_data is None:
        st.info("MNIST is not on this machine: the estimate cannot be recomputed here.")
    else:
        st.markdown("**Estimate again**")
        c1, c2 = st.columns(2)
        betas = c1.select_slider("AIS temperatures", [500, 1000, 2000, 5000, 14500], 1000, key="betas", bind="query-params")
        runs = c2.select_slider("AIS runs", [10, 20, 50, 100], 20, key="runs", bind="query-params")
        if st.button("Run AIS on both models", key="ais") or st.session_state.get("ais_done") == (key, betas, runs):
            st.session_state["ais_done"] = (key, betas, runs)
            show_ll(bm_ui.ais_both(key, model, rbm_w, ll_data.X_train[:8000], ll_data.X_test, int(betas), int(runs)),
                    "rerun")
    shell.what_to_look_for(
        "Higher is better (nats per image). The DBM's number is a lower bound of its log-likelihood (mean-field "
        "posterior), so when it beats the RBM the DBM really is the better density model. The band is ±3 standard "
        "errors of the AIS weights: it narrows with more temperatures; if the bands overlap, the difference is not "
        "resolved. A small effective number of runs (ESS) means a few runs carry all the weight: AIS then tends to "
        "underestimate log Z, i.e. to flatter that model's log-likelihood — try more temperatures.")

with tab_p:
    st.code(json.dumps(prov, indent=2, default=str), language="json")
