"""OT: the assignment problem (factories and stores)

Edit supplies r, demands k and costs M (or scatter factories and stores in the plane), and see the optimal shipping plan as arrows and its cost d_M(r, k).

Exercise: Factories with supplies r ship goods to stores with demands k; moving one unit from factory i to store j
costs M_ij. Find the plan P ≥ 0 with P 1 = r and Pᵀ 1 = k of least total cost d_M(r, k) = min ⟨P, M⟩.
"""
import numpy as np
import pandas as pd
import streamlit as st

from core.transport import plans
from explorer import plots, shell, transport_ui

pg = shell.page(__doc__)
ctrl = pg.controls
mode = ctrl.select("Problem", "mode", ["plane", "table"], "plane",
                   labels={"plane": "points in the plane", "table": "my own cost table"})

if mode == "plane":
    nf = ctrl.slider("Factories", "nf", 1, 15, 4)
    ns = ctrl.slider("Stores", "ns", 1, 15, 6)
    seed = ctrl.number("Seed", "seed", 0, 10_000, 0)
    metric = ctrl.select("Cost of shipping", "metric", ["euclidean", "sqeuclidean"], "euclidean",
                         labels={"euclidean": "distance", "sqeuclidean": "squared distance"})
    fx, sx, r0, k0 = plans.random_problem(nf, ns, seed)
    st.markdown("Edit positions, supplies and demands in the tables (they reset when you change the sidebar).")
    c1, c2 = st.columns(2)
    ed_f = c1.data_editor(pd.DataFrame({"x": fx[:, 0], "y": fx[:, 1], "supply r": r0},
                                       index=[f"F{i + 1}" for i in range(nf)]),
                          key=f"fac-{nf}-{ns}-{seed}", width="stretch", num_rows="fixed")
    ed_s = c2.data_editor(pd.DataFrame({"x": sx[:, 0], "y": sx[:, 1], "demand k": k0},
                                       index=[f"S{j + 1}" for j in range(ns)]),
                          key=f"sto-{nf}-{ns}-{seed}", width="stretch", num_rows="fixed")
    src = ed_f[["x", "y"]].to_numpy(dtype=float)
    tgt = ed_s[["x", "y"]].to_numpy(dtype=float)
    r, k = ed_f["supply r"].to_numpy(dtype=float), ed_s["demand k"].to_numpy(dtype=float)
    fnames, snames = list(ed_f.index), list(ed_s.index)
    if not (np.all(np.isfinite(src)) and np.all(np.isfinite(tgt))):
        st.error("A position is empty or not a number: please fill in every x and y.")
        st.stop()
    M = plans.cost_matrix(src, tgt, metric=metric, scale=False)
else:
    st.markdown("Edit the supplies, the demands and the cost matrix; add or remove rows and columns in the tables.")
    c1, c2 = st.columns(2)
    ed_r = c1.data_editor(pd.DataFrame({"factory": ["F1", "F2", "F3"], "supply r": [3.0, 5.0, 2.0]}),
                          key="tab_r", num_rows="dynamic", width="stretch", hide_index=True)
    ed_k = c2.data_editor(pd.DataFrame({"store": ["S1", "S2", "S3", "S4"], "demand k": [4.0, 4.0, 1.0, 1.0]}),
                          key="tab_k", num_rows="dynamic", width="stretch", hide_index=True)
    fnames = [str(v) if v is not None and str(v) != "nan" else f"F{i + 1}" for i, v in enumerate(ed_r["factory"])]
    snames = [str(v) if v is not None and str(v) != "nan" else f"S{j + 1}" for j, v in enumerate(ed_k["store"])]
    r = pd.to_numeric(ed_r["supply r"], errors="coerce").to_numpy(dtype=float)
    k = pd.to_numeric(ed_k["demand k"], errors="coerce").to_numpy(dtype=float)
    base = np.array([[4, 1, 3, 7], [2, 6, 5, 1], [3, 3, 1, 2]], float)
    M0 = np.ones((len(r), len(k)))
    M0[:min(3, len(r)), :min(4, len(k))] = base[:len(r), :len(k)]
    st.markdown("**Cost matrix M** (rows: factories, columns: stores)")
    ed_M = st.data_editor(pd.DataFrame(M0, index=fnames, columns=snames),
                          key=f"tab_M-{len(r)}-{len(k)}", width="stretch")
    M = ed_M.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    # a bipartite layout: factories on the left, stores on the right
    src = np.c_[np.zeros(len(r)), np.linspace(1, 0, len(r)) if len(r) > 1 else [0.5]]
    tgt = np.c_[np.ones(len(k)), np.linspace(1, 0, len(k)) if len(k) > 1 else [0.5]]

try:
    res = plans.assignment(r, k, M)
except ValueError as exc:
    st.error(f"Cannot solve: {exc}.")
    st.stop()
for note in res.notes:
    st.warning(note)

settings = ctrl.caption()
c1, c2 = st.columns([1.3, 1])
with c1:
    fig = transport_ui.arrows_figure(src, tgt, res.plan, res.r, res.k, "Optimal shipping plan (arrow width ∝ amount)",
                              min_share=1e-9)
    if mode == "table":
        for i, nm in enumerate(fnames):
            fig.add_annotation(x=src[i, 0], y=src[i, 1], text=nm, showarrow=False, xshift=-28)
        for j, nm in enumerate(snames):
            fig.add_annotation(x=tgt[j, 0], y=tgt[j, 1], text=nm, showarrow=False, xshift=28)
        fig.update_xaxes(visible=False, range=[-0.3, 1.3])
        fig.update_yaxes(visible=False)
    plots.show_figure(fig, key="arrows")
    st.caption(f"Squares: factories (size ∝ supply); circles: stores (size ∝ demand). {settings}")
with c2:
    st.metric("d_M(r, k) = min ⟨P, M⟩", f"{res.cost:.4g}")
    used = plans.routes_used(res.plan)
    st.caption(f"{used} routes used out of {res.plan.size}: an optimal vertex of the transport polytope uses at most "
               f"n + m − 1 = {len(r) + len(k) - 1}.")
    st.markdown("**Plan P** (amount shipped)")
    plan_df = pd.DataFrame(res.plan, index=fnames, columns=snames)
    with plots.show_table(plan_df.style.format("{:.3g}"), "Plan P (amount shipped)", key="plan", width="stretch"):
        plots.download_csv(plan_df.reset_index(names="from"), "assignment-plan", key="csv-plan",
                           label="CSV of the plan")
    with st.expander("Cost matrix M"):
        plots.show_table(pd.DataFrame(M, index=fnames, columns=snames).style.format("{:.3g}"), "Cost matrix M",
                         key="cost", width="stretch")

shell.what_to_look_for(
    "Only a few routes carry goods: the optimal plan is a vertex of the polytope of plans, so at most n + m − 1 "
    "entries are non-zero, and with distance costs the arrows never cross (crossing routes could be swapped for a "
    "cheaper pair). Drag a supply up: goods reroute along the cheapest available paths. With squared distances "
    "long trips are penalised more, so the plan prefers several medium trips over one long one.")
