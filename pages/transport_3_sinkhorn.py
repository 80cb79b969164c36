"""OT: Sinkhorn's lambda

Slide lambda from the independent plan a bᵀ to the exact one: the entropic plan, its cost, entropy, iterations and gap to the exact cost, and curves against lambda.

Exercise: The entropic transport cost (handout eq. 2) is d_M^λ(r, k) = min_P ⟨P, M⟩ − h(P)/λ with h(P) = −Σ P_ij log
P_ij. How do the plan, its cost and its entropy change with λ? When does Sinkhorn's cost reach the exact one?
"""
import numpy as np
import pandas as pd
import streamlit as st

from core.transport import plans
from explorer import plots, shell, transport_ui

pg = shell.page(__doc__)
ctrl = pg.controls
problem = ctrl.select("Problem", "prob", ["1d", "plane"], "1d",
                      labels={"1d": "two 1-D mixtures", "plane": "random points in the plane"})
lam = ctrl.log_slider("λ (POT reg = 1/λ)", "lam", 0.1, 10_000, 100,
                      help="Small λ: strong entropy, a blurred plan (at the extreme the independent plan a bᵀ). Large λ: the "
                      "exact plan.")
if problem == "1d":
    n = ctrl.slider("Grid points", "n", 20, 200, 100, step=10)
    x, a, b, _ = transport_ui.two_measures(ctrl, n, allow_values=False)
    xs = xt = x
    M = plans.cost_matrix(x)
else:
    n = ctrl.slider("Points per side", "n", 10, 200, 60, step=10)
    seed = ctrl.number("Seed", "seed", 0, 10_000, 0)
    P1, P2 = plans.random_clouds(n, seed)
    a = b = np.full(n, 1.0 / n)
    xs = xt = None
    M = plans.cost_matrix(P1, P2)  # squared distances scaled to a maximum of 1

st.info(transport_ui.REG_NOTE, icon=":material/info:")
with st.spinner(f"Sinkhorn at λ = {lam:g}…"):
    res = transport_ui.sinkhorn(a, b, M, float(lam))
P_exact = transport_ui.exact_plan(a, b, M)
exact = plans.plan_cost(P_exact, M)
gap = (res.cost - exact) / exact if exact > 0 else 0.0

cols = st.columns(6)
cols[0].metric("transport cost ⟨P, M⟩", f"{res.cost:.4g}")
cols[1].metric("entropy h(P)", f"{res.entropy:.4g}", help=f"The largest possible here is h(a) + h(b) = "
               f"{plans.entropy(np.outer(a, b)):.4g} (the independent plan a bᵀ).")
cols[2].metric("d_M^λ = ⟨P, M⟩ − h(P)/λ", f"{res.objective:.4g}")
cols[3].metric("iterations", f"{res.iterations:,}", help="Sinkhorn iterations to converge (ε-scaling: outer rounds, "
               "each up to 100 stabilised iterations).")
cols[4].metric("gap to exact cost", f"{100 * gap:.2f} %", help=f"(⟨P_λ, M⟩ − d_M) / d_M with d_M = {exact:.4g} (ot.emd).")
cols[5].metric("reg = 1/λ", f"{res.reg:.3g}")
note = f"Solver: {res.solver} (POT method `{res.method}`), marginal error {res.marginal_error:.1e}."
if res.notes:
    note += " " + "; ".join(res.notes) + "."
st.caption(note)
settings = ctrl.caption()

c1, c2 = st.columns(2)
with c1:
    plots.show_figure(transport_ui.plan_figure(res.plan, a, b, xs, xt, f"Sinkhorn plan P_λ, λ = {lam:g}", height=440),
                      key="plan-sk")
with c2:
    if problem == "1d":
        plots.show_figure(transport_ui.plan_figure(P_exact, a, b, xs, xt, "Exact plan (ot.emd)", height=440), key="plan-ex")
    else:
        plots.show_figure(transport_ui.arrows_figure(P1, P2, res.plan, title=f"P_λ as flows (λ = {lam:g})", height=440,
                                              src_label="source points", tgt_label="target points", labels=False,
                                              max_width=6, min_share=0.02, point_size=8), key="flows")
        st.caption("Flows below 2 % of the largest are not drawn.")
st.caption(settings)

rows = transport_ui.sinkhorn_sweep(a, b, M, tuple(plans.LAMBDAS))
df = pd.DataFrame(rows)
df["exact cost"] = exact
c1, c2 = st.columns(2)
with c1:
    fig = plots.line_figure(df, "lambda", ["cost", "exact cost"], "Transport cost against λ", xlabel="λ (log scale)",
                            ylabel="⟨P, M⟩", log_x=True, log_y=True, markers=True,
                            labels={"cost": "Sinkhorn ⟨P_λ, M⟩", "exact cost": "exact d_M (ot.emd)"})
    fig.add_vline(x=float(lam), line_dash="dot", line_color="#868e96")
    plots.show_figure(fig, key="cost-curve")
with c2:
    fig = plots.line_figure(df, "lambda", ["entropy"], "Entropy of the plan against λ", xlabel="λ (log scale)",
                            ylabel="h(P)", log_x=True, markers=True, labels={"entropy": "h(P_λ)"})
    fig.add_vline(x=float(lam), line_dash="dot", line_color="#868e96")
    plots.show_figure(fig, key="entropy-curve")
plots.download_csv(df, "sinkhorn-sweep", key="csv-sweep", label="CSV of the λ sweep (cost, entropy, iterations, solver)")

shell.what_to_look_for(
    "At small λ the entropy term wins: the plan spreads over everything (at the extreme P = a bᵀ, the independent "
    "coupling of the two marginals, maximal entropy) and its cost is far above the optimum. As λ grows the plan "
    "concentrates on the exact plan's support, the entropy falls and the cost approaches d_M from above; Sinkhorn "
    "needs more iterations, and beyond max(M)·λ ≈ 200 the plain iteration would underflow (e^(−λ M) = 0), so the page "
    "switches to POT's log-stabilised solvers.")
