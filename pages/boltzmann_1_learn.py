"""RBM: learn and reconstruct

Train a restricted Boltzmann machine, reconstruct unseen digits with k Gibbs steps, see its filters, one digit's energy, free energy and hidden activations, sweep a setting.

Exercise: What is the effect of the number of epochs and hidden units on training the RBM? Evaluate visually by
reconstructing unseen test images. Change the number of Gibbs sampling steps: can you explain the result?
"""
import plotly.graph_objects as go
import streamlit as st

from core import data as datasets
from core.boltzmann import rbm_lab
from explorer import boltzmann_ui, plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl)
run = boltzmann_ui.controls(ctrl, data)
ctrl.where.markdown("**Reconstruction**")
k_show = ctrl.log_slider("Gibbs steps shown", "gibbs", 1, 1000, 1000, help="The largest k of the row of reconstructions.")
n_show = ctrl.slider("Test images", "n_images", 4, 32, 12, step=4)

res = shell.trained_or_stop(lambda: boltzmann_ui.train(run, data))
rbm = boltzmann_ui.model(res)
hist = res.history
settings = ctrl.caption(["data", "hidden", "epochs", "lr", "batch", "method", "k", "seed"])
st.caption(f"{settings} · {res.status_line()}")

tab_rec, tab_filt, tab_energy, tab_curves, tab_sweep = shell.tabs(
    ["Reconstructions", "Filters", "Energy of one digit", "Training curves", "Sweep"])

with tab_rec:
    if tab_rec.open:
        X = data.X_test[:n_show]
        ks = tuple(k for k in (1, 10, 100, 1000) if k < k_show) + (k_show,)
        rec = boltzmann_ui.reconstructions(res.key, res.done, rbm, X, ks, 0)
        errs = {k: rbm_lab.recon_error(X, rec[k]) for k in ks}
        plots.show_grids([("Unseen test images", X)] + [(f"k = {k} (error {errs[k]:.1f})", rec[k]) for k in ks],
                         data.shape, key="recon", ncols=2,
                         caption=f"Each column runs the Gibbs chain v → h → v′ k times from the test image. {settings}")
        shell.what_to_look_for(
            "At k = 1 the RBM reconstructs the digit it was shown. As k grows the chain forgets its start and wanders "
            "towards what the model finds probable: digits change identity, thicken, or turn into the model's favourite "
            "shapes. A well-trained model keeps producing digit-like images at large k; a poor one drifts to blobs. "
            "More hidden units and more epochs sharpen k = 1 reconstructions.")

with tab_filt:
    if tab_filt.open:
        plots.show_filters(rbm.components_, data.shape, f"Filters of the first {min(64, run.rbm.n_components)} hidden units",
                           key="filters", n=64, ncols=8, caption=f"Each image is one row of W, scaled to its own range. {settings}")
        shell.what_to_look_for("Trained filters look like strokes and pen-position detectors; random-looking noise "
                               "means too few epochs or too small a learning rate.")

with tab_energy:
    if tab_energy.open:
        Xb = datasets.held_out_binary(data.X_test)  # the one fixed binarisation of the held-out digits
        i = int(st.number_input(f"Held-out digit (0 – {len(Xb) - 1})", 0, len(Xb) - 1, 0, key="digit",
                                bind="query-params"))
        e = rbm_lab.digit_energies(rbm, Xb[i], top=8)
        label = f", a {data.classes[data.y_test[i]]}" if len(data.classes) else ""
        c_img, c_num, c_math = st.columns([1, 1.4, 2])
        with c_img:
            plots.show_grid(Xb[i][None], data.shape, f"v: held-out #{i}{label}, binarised", key="e-digit",
                            download=False)
        with c_num:
            st.metric("E(v, h*)", f"{e['energy']:.2f}", help="h* = the most probable hidden state given v (not a "
                      "sample): h*_j = 1 where P(h_j = 1 | v) > 1/2; " f"{int(e['h'].sum())} of {len(e['h'])} units on.")
            st.metric("F(v)", f"{e['free_energy']:.2f}", help="All 2^n_h hidden states summed, in closed form.")
            st.metric("E(v, h*) − F(v) = −log P(h* | v)", f"{e['gap']:.2f}")
        with c_math:
            st.latex(r"""\begin{aligned} E(v,h) &= -b^\top v - c^\top h - h^\top W v \\
                F(v) &= -\log \textstyle\sum_h e^{-E(v,h)} \\ &= -b^\top v - \textstyle\sum_j \log\left(1 + e^{c_j + W_j v}
                \right) \\ P(h_j = 1 \mid v) &= \sigma(c_j + W_j v) \\ E(v,h) - F(v) &= -\log P(h \mid v) \ge 0
                \end{aligned}""")
        t = e["terms"]
        st.caption(f"E(v, h\\*) = −bᵀv − cᵀh\\* − h\\*ᵀWv = {t['-b.v']:.2f} + ({t['-c.h']:.2f}) + "
                   f"({t['-h.Wv']:.2f}), with {int(e['h'].sum())} of {len(e['h'])} hidden units on in h\\*. "
                   "Exact for these weights "
                   "(float64, nothing sampled); log p(v) = −F(v) − log Z would need log Z, not computed here.")
        c_heat, c_top = st.columns(2)
        with c_heat:
            sq = rbm_lab.hidden_square(e["p_h"])
            side = sq.shape[0]
            unit = [[r * side + col for col in range(side)] for r in range(side)]
            fig = go.Figure(go.Heatmap(z=sq, customdata=unit, colorscale="gray", zmin=0, zmax=1,
                                       colorbar={"title": {"text": "P", "side": "top"}},
                                       hovertemplate="unit %{customdata}: P = %{z:.3f}<extra></extra>"))
            plots.style(fig, f"P(h_j = 1 | v) of the {len(e['p_h'])} hidden units, {side} per row", height=380,
                        legend=False)
            fig.update_layout(plot_bgcolor="#ffd8a8")  # cells without a unit (when n_h is not a square)
            fig.update_xaxes(showticklabels=False, showgrid=False, constrain="domain")
            fig.update_yaxes(showticklabels=False, showgrid=False, autorange="reversed", scaleanchor="x",
                             constrain="domain")
            plots.show_figure(fig, key="e-hidden")
            st.caption("White: on (P = 1), black: off; unit j at row j // "
                       f"{side}, column j % {side}" + (" (orange: no unit)." if side * side > len(e["p_h"]) else "."))
        with c_top:
            top = e["top"]
            plots.show_filters(rbm.components_[top], data.shape, "Filters of the 8 most active units", key="e-top",
                               n=8, ncols=4, caption="Rows of W, each scaled to its own range; units (P(h_j=1|v)): "
                               + ", ".join(f"{j} ({e['p_h'][j]:.2f})" for j in top) + ".")
        st.markdown("**The training objective over training**")
        c_obj, c_rec = st.columns(2)
        if "fe_objective" in hist:
            with c_obj:
                plots.show_curves(hist, "epoch", ["fe_objective"], "Training objective F(v) − F(v̂)", key="e-obj",
                                  ylabel="nats (mean over 500 digits)", labels={"fe_objective": "F(v) − F(v̂)"},
                                  markers=True)
        else:
            c_obj.info("This run was cached before its history recorded the objective: train it again to see it.")
        with c_rec:
            plots.show_curves(hist, "epoch", ["recon_error"], "Held-out reconstruction error", key="e-rec",
                              ylabel="squared error per image", labels=boltzmann_ui.LABELS, markers=True)
        se = float(hist["fe_objective_se"].iloc[-1]) if "fe_objective_se" in hist else float("nan")
        start = "the persistent chains (PCD)" if run.rbm.method == "pcd" else "each of these digits (CD-k)"
        st.caption(f"v: 500 fixed training digits as training sees them (gray values); v̂: the negative phase's "
                   f"samples, k Gibbs steps from {start}, one seeded draw per epoch: Monte-Carlo noise about "
                   f"±{se:.1f} nats (1 s.e., last epoch). Its gradient with v̂ held fixed is minus the update; its "
                   f"value is not a log-likelihood. {settings}")
        st.caption("Why scikit-learn's `score_samples` is not F(v): it is a pseudo-likelihood, n_v·log σ(F(ṽ) − F(v)) "
                   "with ṽ = v with one random bit flipped, a difference of two free energies in which log Z cancels; "
                   "F(v) alone gives log p(v) = −F(v) − log Z only up to that unknown log Z.")
        shell.what_to_look_for(
            "F(v) is never above E(v, h*): it sums over every hidden state, so E(v, h*) − F(v) says how unsure the "
            "model is of h given v (0 when one state takes all the mass). Trained units are often nearly surely on "
            "or off for a given digit: the picture is then almost black and white. The objective's gradient drives "
            "training, but its value is not a log-likelihood: v̂ moves with the model, so it can rise and fall while "
            "the reconstruction error falls steadily.")

with tab_curves:
    if tab_curves.open:
        cols = st.columns(2)
        with cols[0]:
            plots.show_curves(hist, "epoch", ["recon_error"], "Held-out reconstruction error", key="c-rec",
                              ylabel="squared error per image", labels=boltzmann_ui.LABELS, markers=True)
            plots.show_curves(hist, "epoch", ["fe_gap"], "Free-energy gap (held-out − train)", key="c-fe",
                              ylabel="nats", labels=boltzmann_ui.LABELS, markers=True)
        with cols[1]:
            ys = ["pseudo_ll"] + (["exact_ll"] if "exact_ll" in hist else [])
            plots.show_curves(hist, "epoch", ys, "Held-out log-likelihood", key="c-ll", ylabel="nats per image",
                              labels=boltzmann_ui.LABELS, markers=True)
        st.caption(settings)
        shell.what_to_look_for("A growing free-energy gap means the model prefers its training digits to unseen ones: "
                               "overfitting. The exact log-likelihood is computed by enumerating all hidden states, "
                               "so it is shown for 16 hidden units or fewer.")

with tab_sweep:
    if tab_sweep.open:
        boltzmann_ui.sweep(ctrl, run, data, rbm, res)
