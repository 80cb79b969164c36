"""RBM: learn and reconstruct

Train a restricted Boltzmann machine, reconstruct unseen digits with k Gibbs steps, see its filters, sweep a setting.
"""
import streamlit as st

from core.boltzmann import rbm_lab
from explorer import boltzmann_ui, plots, shell

pg = shell.page("RBM: learn and reconstruct", exercise=(
    "What is the effect of the number of epochs and hidden units on training the RBM? Evaluate visually by "
    "reconstructing unseen test images. Change the number of Gibbs sampling steps: can you explain the result?"))
ctrl = pg.controls
data = shell.dataset(ctrl)
run = boltzmann_ui.controls(ctrl, data)
ctrl.where.markdown("**Reconstruction**")
k_show = ctrl.log_slider("Gibbs steps shown", "gibbs", 1, 1000, 1000, help="The largest k of the row of reconstructions.")
n_show = ctrl.slider("Test images", "n_images", 4, 32, 12, step=4)

res = boltzmann_ui.train(run, data)
if res is None:
    st.stop()
rbm = boltzmann_ui.model(res)
hist = res.history
settings = ctrl.caption(["data", "hidden", "epochs", "lr", "batch", "method", "k", "seed"])
st.caption(f"{settings} · {res.status_line()}")

tab_rec, tab_filt, tab_curves, tab_sweep = shell.tabs(["Reconstructions", "Filters", "Training curves", "Sweep"])

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
