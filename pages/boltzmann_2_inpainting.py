"""RBM: inpainting

Remove rows of unseen digits and let the RBM fill them in by Gibbs sampling with the known pixels clamped.

Exercise: Use the RBM to reconstruct missing parts of images. What is the role of the number of hidden units, learning
rate and number of iterations? What is the effect of removing more rows? What if you remove rows at different
locations (top, middle, ...)?
"""
import pandas as pd
import streamlit as st

from core.boltzmann import rbm_lab
from core.inpainting.masks import apply_mask, masked_mse
from explorer import boltzmann_ui, plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl)
H = data.shape[1]
ctrl.where.markdown("**Missing rows**")
n_rows = ctrl.slider("Rows removed", "rows", 1, H - 1, min(8, H // 2))
where = ctrl.select("Location", "where", ["top", "middle", "bottom", "start row"], "middle", horizontal=True)
if where == "start row":
    start = ctrl.slider("Start row", "start", 0, H - n_rows, (H - n_rows) // 2)
else:
    start = rbm_lab.start_row(where, n_rows, H)
k = ctrl.log_slider("Gibbs iterations", "gibbs", 1, 1000, 100)
n_show = ctrl.slider("Test images", "n_images", 4, 32, 12, step=4)
run = boltzmann_ui.controls(ctrl, data)

res = shell.trained_or_stop(lambda: boltzmann_ui.train(run, data))
rbm = boltzmann_ui.model(res)
mask = rbm_lab.row_mask(data.shape, n_rows, start)
settings = ctrl.caption()
X = data.X_test[:n_show]
out = boltzmann_ui.inpainted(res, rbm, X, mask, k)
masked = apply_mask(X, mask)  # the hole shown gray (0.5), as in the inpainting lab
err = masked_mse(out, X, mask)
base = masked_mse(rbm_lab.mean_fill(X, mask, boltzmann_ui.mean_image(data)), X, mask)

c1, c2, c3 = st.columns(3)
c1.metric("Error on the missing rows (RBM)", f"{err:.4f}", help="Mean squared error over the missing pixels only, pixels in [0, 1].")
c2.metric("Mean-image baseline", f"{base:.4f}", delta=f"{err - base:+.4f}", delta_color="inverse",
          help="The same error when the missing rows are filled with the training set's mean digit.")
c3.metric("Missing rows", f"{start}–{start + n_rows - 1}", help=f"{n_rows} of {H} rows")

tab_img, tab_rows, tab_loc = shell.tabs(["Inpainted digits", "Error against rows removed", "Error against location"])
with tab_img:
    if tab_img.open:
        plots.show_grids([("Original", X), (f"Masked ({n_rows} rows from row {start})", masked),
                          (f"Inpainted after {k} Gibbs iterations", out)], data.shape, key="inpaint", ncols=4,
                         caption=f"Gray band: the missing rows; only they are sampled, every other pixel stays clamped. {settings}")
        shell.what_to_look_for(
            "A few missing rows are filled with plausible strokes that join the known ones. Remove more rows and the RBM "
            "has less to go on: it completes a digit, but not always the right one. The middle of a digit carries the most "
            "ink and ambiguity; the top and bottom rows are often empty, so errors there are small. Too few Gibbs "
            "iterations leave noise; more hidden units and epochs give sharper, more faithful completions.")

n_eval = min(200, len(data.X_test))
Xe = data.X_test[:n_eval]
with tab_rows:
    if tab_rows.open:
        rows = sorted({r for r in range(1, H, max(1, H // 8))} | {n_rows})
        df = pd.DataFrame(boltzmann_ui.inpaint_sweep(res, rbm, data, Xe, k, rows=tuple(rows), location=where if where != "start row" else start))
        plots.show_curves(df, "rows_removed", ["rbm", "mean_image"], f"Masked error against rows removed ({where})",
                          key="sw-rows", xlabel="rows removed", ylabel="MSE on missing pixels", markers=True,
                          labels={"rbm": "RBM (clamped Gibbs)", "mean_image": "mean-image fill"})
        st.caption(f"{n_eval} held-out images, {k} Gibbs iterations. {settings}")
with tab_loc:
    if tab_loc.open:
        df = pd.DataFrame(boltzmann_ui.inpaint_sweep(res, rbm, data, Xe, k, n_rows=n_rows))
        plots.show_curves(df, "start_row", ["rbm", "mean_image"], f"Masked error against location ({n_rows} rows removed)",
                          key="sw-loc", xlabel="first missing row (0 = top)", ylabel="MSE on missing pixels", markers=True,
                          labels={"rbm": "RBM (clamped Gibbs)", "mean_image": "mean-image fill"})
        st.caption(f"{n_eval} held-out images, {k} Gibbs iterations. {settings}")
