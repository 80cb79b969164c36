"""OT: transport between two 1-D measures

Two measures on a line, the exact transport plan with its marginals, and displacement interpolation next to the naive mixture and the entropic barycenter.

Exercise: Reproduce the handout's figure: two measures on the line, the optimal transport plan between them, and the
displacement interpolation. How does it differ from simply mixing the two measures?
"""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.transport import interpolation, plans
from explorer import plots, shell, transport_ui

pg = shell.page(__doc__)
ctrl = pg.controls
n = ctrl.slider("Grid points", "n", 50, 400, 200, step=10, help="Support points of both measures.")
x, a, b, notes = transport_ui.two_measures(ctrl, n)
ctrl.where.markdown("**Interpolation**")
t = ctrl.slider("t (0 = a, 1 = b)", "t", 0.0, 1.0, 0.5, step=0.05)
lam = ctrl.log_slider("λ of the entropic barycenter", "lam", 10, 1000, 500,
                      help="POT's reg = 1/λ (costs scaled to a maximum of 1). Small λ blurs the barycenter.")
for note in notes:
    st.caption(note)

M = plans.cost_matrix(x)  # squared distances, scaled to a maximum of 1
P = transport_ui.exact_plan(a, b, M)
w2 = float(np.sqrt(plans.plan_cost(P, plans.cost_matrix(x, scale=False))))  # the plan is optimal for any scale of M
settings = ctrl.caption(["n", "t", "lam"])

c1, c2 = st.columns([1, 1.15])
with c1:
    plots.show_figure(transport_ui.measures_figure(x, {"a (source)": a, "b (target)": b}, "The two measures", height=260),
                      key="measures")
    m1, m2, m3 = st.columns(3)
    m1.metric("W₂(a, b)", f"{w2:.4f}", help="√(min Σ P_ij (x_i − x_j)²): the exact transport cost, in units of x.")
    m2.metric("mean of a", f"{plans.mean(x, a):.3f}")
    m3.metric("mean of b", f"{plans.mean(x, b):.3f}")
    st.caption("The exact plan is POT's `ot.emd(a, b, M)` with M_ij = (x_i − x_j)².")
with c2:
    plots.show_figure(transport_ui.plan_figure(P, a, b, x, x, "Optimal plan P (rows: a, columns: b)", height=420),
                      key="plan")

try:
    bary = transport_ui.barycenter(a, b, M, t, float(lam))
except FloatingPointError as exc:
    st.warning(f"Entropic barycenter unavailable at λ = {lam}: {exc}")
    bary = None
disp = interpolation.displacement_interpolation(x, P, t)
mix = interpolation.mixture_interpolation(a, b, t)
curves = {"a": a, "b": b, f"displacement (McCann), t = {t:g}": disp, "mixture (1−t)a + t b": mix}
if bary is not None:
    curves[f"entropic barycenter, λ = {lam}"] = bary.weights
fig = transport_ui.measures_figure(x, curves, f"Interpolation at t = {t:g}", height=340,
                            dash={"a": "dot", "b": "dot", "mixture (1−t)a + t b": "dash"}, fill=False)
plots.show_figure(fig, key="interp")
table = pd.DataFrame({"x": x, **{k: v for k, v in curves.items()}})
plots.download_csv(table, f"interpolation-t-{t:g}", key="csv-interp", label="CSV of these curves")
st.caption(f"{settings}" + (f" · barycenter: {bary.method}, {bary.iterations} iterations"
                            + (f" ({bary.note})" if bary.note else "") if bary is not None else ""))

# a film strip: the two interpolations at several times, stacked
ts = np.linspace(0, 1, 6)
strip = plots.style(go.Figure(),
                    "Film strip: displacement (solid) vs mixture (dashed), t = 0 … 1 from bottom to top",
                    "position x", "", height=420, legend=False)
off = 1.15 * max(a.max(), b.max())
for i, tt in enumerate(ts):
    d = interpolation.displacement_interpolation(x, P, tt)
    mx = interpolation.mixture_interpolation(a, b, tt)
    strip.add_scatter(x=x, y=d + i * off, mode="lines", line=dict(color=plots.PALETTE[0], width=2),
                      name=f"displacement t={tt:.1f}")
    strip.add_scatter(x=x, y=mx + i * off, mode="lines", line=dict(color=plots.PALETTE[1], width=1.6, dash="dash"),
                      name=f"mixture t={tt:.1f}")
    strip.add_annotation(x=x[-1], y=i * off + 0.3 * off, text=f"t = {tt:.1f}", showarrow=False, xanchor="right")
strip.update_yaxes(showticklabels=False)
plots.show_figure(strip, key="strip")

shell.what_to_look_for(
    "The plan is concentrated on a monotone curve: in 1-D the optimal plan never crosses (mass keeps its order, the "
    "first 10 % of a go to the first 10 % of b). Displacement interpolation moves the bumps along that curve: at "
    "t = 0.5 each bump sits halfway, keeping its shape. The mixture (1−t)a + t b does not move anything: a fades out "
    "while b fades in, so halfway it has the bumps of both. The entropic barycenter moves mass like the displacement "
    "interpolant but blurs it; the blur grows as λ shrinks (reg = 1/λ grows).")
