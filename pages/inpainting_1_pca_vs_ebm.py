"""Inpainting: PCA vs an energy model

Fill a 6x6 hole in unseen digits by PCA projection, by a least-squares PCA fit, by an energy network trained with a generator (gradient flip), and by an RBM; compare the error on the hole and the cost.

Exercise: MNIST digits with a 6x6 patch near the centre removed (rows and columns 11-16, shifted by a random offset in
-4..4 in each direction) and set to a gray value. Reconstruct the patch (a) by projecting on the d principal
components of the training data, and (b) with an energy network trained jointly with a generator that takes the
incomplete image: one optimizer, the gradient flip (gradient reversal) trick so the energy network lowers the energy
of real images and raises it on generated completions while the generator lowers it, and the generator's gradient
flowing only through the missing patch. Which is better, and at what cost?
"""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.inpainting import compare
from core.inpainting.masks import SIDE, masked_mse
from explorer import inpainting_ui
from explorer import plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "fashion_mnist"))
shell.require_shape(data, (1, SIDE, SIDE), "The inpainting lab (its holes are defined on 28x28 digits)")

ctrl.where.markdown("**Holes and scoring**")
n_eval = ctrl.select("Held-out digits scored", "n_eval", [500, 1000, 2000], 2000,
                     help="Every method is scored on the same first n held-out digits with the same holes.")
n_eval = min(int(n_eval), len(data.X_test))
mask_seed = int(ctrl.number("Hole seed", "mask_seed", 0, 10_000, 0))
n_show = ctrl.slider("Digits shown", "n_show", 4, 16, 8, step=4)
ctrl.where.markdown("**PCA**")
d = ctrl.slider("d (principal components)", "d", 1, 400, 20)
run = inpainting_ui.ebm_controls(ctrl, data, n_eval, mask_seed)
rbm_run, k = inpainting_ui.rbm_controls(ctrl, data)

name, n_train = data.name, min(len(data.X_train), 8000)
ms = inpainting_ui.masked_set(name, n_eval, mask_seed, data)
show = slice(0, n_show)
pca_model, pca_fit_s = inpainting_ui.pca(name, n_train, data)
curves, pca_secs = inpainting_ui.pca_curves(name, n_train, n_eval, mask_seed, data)

ebm = shell.trained_or_stop(lambda: inpainting_ui.train_ebm(run, data))
rbm = shell.trained_or_stop(lambda: inpainting_ui.train_rbm(rbm_run, data))
ebm_epochs = ebm.done
st.caption(f"{data.title}: PCA and both models learn from {n_train:,} training digits; every score is the mean "
           f"squared error on the hole only, over {n_eval:,} held-out digits (pixels in [0, 1]). Energy model: {ebm.status_line()}.")

gray_mse = compare.gray_mse(ms)
(d_best, _), (d_fit, best_fit_mse) = compare.best_d(curves, "project"), compare.best_d(curves, "lstsq")

tab_holes, tab_pca, tab_ebm, tab_cmp = shell.tabs(["The holes", "PCA", "Energy model", "Compare all"])

with tab_holes:
    if tab_holes.open:
        plots.show_grids([("Held-out digits", ms.X[show]), ("With the hole (gray 0.5)", ms.X_in[show]),
                          ("The hole", ms.mask[show].astype(np.float32))], data.shape, key="holes", ncols=4,
                         caption=f"Offsets (row, column) of the first holes: "
                                 f"{', '.join(f'({a:+d}, {b:+d})' for a, b in ms.offsets[:n_show])} · hole seed {mask_seed}")
        shell.what_to_look_for("The hole is always 6x6 = 36 pixels, somewhere in rows and columns 7-20: right where the "
                               "strokes cross. Everything outside it is given to every method unchanged, and every method "
                               "returns those pixels exactly; only the 36 hole pixels are scored.")

with tab_pca:
    if tab_pca.open:
        proj = inpainting_ui.pca_fill(name, n_train, n_eval, mask_seed, d, "project", data)
        fit = inpainting_ui.pca_fill(name, n_train, n_eval, mask_seed, d, "lstsq", data)
        e_proj, e_fit = masked_mse(proj, ms.X, ms.mask), masked_mse(fit, ms.X, ms.mask)
        plots.show_grids([("Held-out digits", ms.X[show]), ("With the hole", ms.X_in[show]),
                          (f"Projection (d = {d})", proj[show]), (f"Least squares (d = {d})", fit[show])],
                         data.shape, key="pca", ncols=4,
                         caption=f"Held-out masked MSE at d = {d}: projection {e_proj:.4f}, least squares {e_fit:.4f}. "
                                 + ctrl.caption(["data", "n_eval", "mask_seed", "d"]))
        fig = plots.line_figure(curves, "d", ["mse_project", "mse_lstsq"], "Held-out masked MSE against d",
                                xlabel="d, principal components (log scale)", ylabel="MSE on the hole", labels=inpainting_ui.LABELS,
                                log_x=True, markers=True)
        fig.add_vline(x=d, line_dash="dot", line_color="#868e96")
        plots.show_figure(fig, key="fig-pca-curve")
        plots.download_csv(curves, "pca masked mse against d", key="csv-pca-curve", label="CSV of this plot")
        st.markdown("**Least squares on the observed pixels:** choose the d coefficients that best reproduce the 748 known "
                    "pixels (ignoring the gray ones), then read the hole off those components; the plain projection "
                    "instead treats the gray 0.5 as data.")
        shell.what_to_look_for(
            "Small d: the hole is filled by a blurry average digit. Large d: the projection can reproduce almost any "
            "image, including the gray square, so the hole shows through (its MSE climbs back to that of the gray "
            "fill); the least-squares fit instead overfits the observed pixels and invents wild values in the hole "
            "(clipped to [0, 1]). Both have a best d in between.")

with tab_ebm:
    if tab_ebm.open:
        hist = inpainting_ui.ebm_history(ebm)
        c1, c2 = st.columns(2)
        with c1:
            plots.show_curves(hist, "epoch", ["masked_mse"], "Held-out masked MSE against epochs", key="ebm-mse",
                              ylabel="MSE on the hole", labels=inpainting_ui.LABELS, markers=True,
                              refs={"gray fill": gray_mse, f"PCA least squares, d = {d_fit}": best_fit_mse})
        with c2:
            plots.show_curves(hist, "epoch", ["energy_gap", "train_gap"], "Energy gap E(completion) − E(real)",
                              key="ebm-gap", ylabel="energy gap", labels=inpainting_ui.LABELS, markers=True)
        epochs_avail = sorted(int(e) for e in ebm.result["samples"])
        default_epochs = sorted({epochs_avail[0], epochs_avail[len(epochs_avail) // 2], epochs_avail[-1]})
        chosen = st.multiselect("Completions after epochs", epochs_avail, default=default_epochs, key="ebm_epochs")
        n_keep = min(n_show, run.n_show)
        panels = [("With the hole", ms.X_in[:n_keep])]
        panels += [(f"Epoch {e}", ebm.result["samples"][str(e)].numpy()[:n_keep]) for e in sorted(chosen)]
        panels += [("Held-out digits", ms.X[:n_keep])]
        plots.show_grids(panels, data.shape, key="ebm-samples", ncols=2,
                         caption=ctrl.caption(["epochs", "lr", "gp", "rec", "flip", "seed"]))
        shell.what_to_look_for(
            "One optimizer updates both networks on one loss: mean energy of real digits − mean energy of completions, "
            "plus a gradient penalty that keeps the energy's slope near 1 between real digits and completions (and a "
            "tiny energy penalty). The gradient flip between the completion and the energy network makes the generator "
            "lower what the energy network raises. No squared error is used by default: the generator never sees the "
            "true hole, only how the energy network judges its strokes. Watch the energy gap: how much higher the "
            "energy network puts completions than real digits, i.e. how easily it still spots them (only the gap "
            "counts; both energies drift together): it stays around 0.5 while the hole error keeps falling, because "
            "the energy network keeps finding new flaws to point at. Set the gradient penalty to 0 to see why it is there: in our run the energies then swung between "
            "−100 and +150 within 8 epochs and the hole error "
            "stalled near 0.12-0.13.")

with tab_cmp:
    if tab_cmp.open:
        ebm_out, ebm_fill_s = inpainting_ui.ebm_fill(ebm.key, ebm_epochs, name, n_eval, mask_seed, ebm, data)
        rbm_out, rbm_fill_s = inpainting_ui.rbm_fill(rbm.key, rbm.done, k, name, n_eval, mask_seed, rbm, data)
        proj_best = inpainting_ui.pca_fill(name, n_train, n_eval, mask_seed, d_best, "project", data)
        fit_best = inpainting_ui.pca_fill(name, n_train, n_eval, mask_seed, d_fit, "lstsq", data)
        rbm_hist = rbm.result["history"]
        rows = compare.comparison(ms, curves, {"fit": pca_fit_s, **pca_secs}, [
            compare.Entry(f"RBM, {rbm_run.rbm.n_components} hidden, k = {k}", rbm_out,
                          float(rbm_hist[-1]["seconds"]) if rbm_hist else 0.0, rbm_fill_s),
            compare.Entry(f"Energy model + generator, {ebm_epochs} epochs", ebm_out,
                          float(ebm.history["seconds"].iloc[-1]), ebm_fill_s)])
        table = pd.DataFrame(rows, columns=list(compare.COLUMNS))
        plots.show_grids([("Held-out", ms.X[show]), ("With the hole", ms.X_in[show]),
                          (f"PCA d = {d_best}", proj_best[show]), (f"PCA lstsq d = {d_fit}", fit_best[show]),
                          ("Energy model", ebm_out[show]), (f"RBM k = {k}", rbm_out[show])], data.shape, key="compare",
                         ncols=2, caption=f"PCA at its best d: projection (d = {d_best}) and least squares on the observed "
                                          f"pixels (d = {d_fit}); energy model after {ebm_epochs} epochs; RBM after {k} "
                                          "clamped Gibbs steps.")
        fig = go.Figure(go.Bar(x=table["masked_mse"], y=table["method"], orientation="h",
                               text=[f"{v:.4f}" for v in table["masked_mse"]], textposition="auto",
                               marker_color=["#adb5bd", "#3559c7", "#1098ad", "#e8590c", "#2b8a3e"]))
        fig.update_yaxes(autorange="reversed")
        plots.style(fig, f"Held-out masked MSE ({n_eval:,} digits, lower is better)", "MSE on the hole", "", height=320,
                    legend=False)
        plots.show_figure(fig, key="fig-bars")
        with plots.show_table(table.style.format({"masked_mse": "{:.4f}", "train_seconds": "{:.1f}",
                                                  "fill_seconds": "{:.2f}"}),
                              f"Held-out masked MSE by method ({n_eval:,} digits)", key="bars", hide_index=True,
                              width="stretch"):
            plots.download_csv(table, "inpainting masked mse by method", key="csv-bars", label="CSV of this table")
        st.caption("Train seconds: fitting the components (PCA) or the training run as recorded (RBM, energy model; "
                   "on this machine, possibly shared). Fill seconds: completing all scored digits once (PCA: per d). "
                   "PCA's best d is chosen on these same digits, so its rows err low. "
                   + ctrl.caption(["data", "n_eval", "mask_seed", "epochs", "gp", "rec", "flip", "hidden", "rbm_epochs",
                                   "gibbs"]))
        shell.what_to_look_for(
            "PCA is linear and instant: its best d is a compromise between blur and letting the hole through. The "
            "learnt models pay training time for a better guess of the strokes crossing the hole. The RBM fills the "
            "hole with what its Gibbs chain finds probable given the clamped pixels; the generator fills it in one "
            "forward pass, with sharp strokes, although in training it never saw a true hole pixel: only the energy "
            "network's verdict on its completions.")
