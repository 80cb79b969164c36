"""PixelCNN: exact likelihood, slow sampling

Train a PixelCNN (masked convolutions) on binarised digits: its exact held-out log-likelihood beside the RBM's, DBM's and VAE's on the same digits, sampling pixel by pixel (and what it costs), completing the bottom rows beside the RBM, and the receptive field of one pixel with its blind spot.

Exercise: A PixelCNN writes p(x) = prod_i p(x_i | x_<i) in raster order and computes every factor in one pass with
masked convolutions. Why must the first layer's mask exclude the centre pixel (mask A) while later layers may include
it (mask B)? Compare its exact held-out negative log-likelihood with the estimates of the RBM, the DBM and the VAE on
the same digits: which numbers are exact, which are estimates or bounds? How long does one sample take, and why can
sampling not be done in one pass? Complete the bottom rows of held-out digits and compare with the RBM's inpainting.
Draw the receptive field of a pixel for several depths: where is the blind spot, and why does stacking layers not
remove it?
"""
import numpy as np
import pandas as pd
import streamlit as st

from core.data import held_out_binary
from core.inpainting.masks import apply_mask, masked_mse
from core.pixelcnn.model import bits_per_pixel, n_params
from explorer import autoencoders_ui, plots, shell
from explorer import pixelcnn_ui as ui

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "digits"), default="mnist")
run = ui.controls(ctrl, data)
res = shell.trained_or_stop(lambda: ui.train(run, data))
net = ui.model(res)
settings = ctrl.caption()
hw = tuple(data.shape[1:])
H, W = hw
st.caption(f"Run: {res.status_line()}. {settings}")

tab_ll, tab_sample, tab_complete, tab_field = shell.tabs(["Log-likelihood", "Sampling", "Completion",
                                                          "Receptive field"])

with tab_ll:
    if tab_ll.open:
        hist = res.history
        last = hist.iloc[-1]
        c1, c2, c3 = st.columns(3)
        c1.metric("Held-out NLL (nats per image)", f"{last['nll']:.2f} ± {last['nll_se']:.2f}",
                  help="−log p(x) summed over the pixels, averaged over the held-out digits; ± one standard error "
                       "over the digits.")
        c2.metric("Bits per pixel", f"{bits_per_pixel(last['nll'], H * W):.4f}", help=f"nats / ({H * W} ln 2)")
        c3.metric("Parameters", f"{n_params(net):,}")
        st.caption(f"Exact, not an estimate: one pass of the network gives every factor p(x_i | x_<i), summed over the "
                   f"{H * W} pixels of each of the first {run.n_eval:,} held-out digits in the one binarisation every "
                   "lab scores; the ± is the standard error over those digits (their spread, not a sampling error).")
        refs = {}
        if data.name == "mnist":
            refs = {f"{name.split(' (')[0]}: {-v:.1f}": -v for name, v in
                    autoencoders_ui.boltzmann_references(data).items()}
            refs.update({f"VAE {z}-d (IS): {-s['heldout_ll_is']['ll']:.1f}": -s["heldout_ll_is"]["ll"]
                         for z, s in autoencoders_ui.shipped_vae_scores(data).items() if "heldout_ll_is" in s})
        shown = hist[hist["epoch"] >= 1] if len(hist) > 1 else hist
        plots.show_curves(shown, "epoch", ui.CURVES, "Negative log-likelihood against epochs (nats per image)",
                          key="nll", labels=ui.LABELS, ylabel="nats per image", markers=True, refs=refs)
        if refs:
            st.caption("Dashed: the NLL of the app's shipped models on the same held-out digits, as estimated: "
                       + autoencoders_ui.boltzmann_references_how(data) + "; VAEs by importance sampling with 5,000 "
                       "samples (a stochastic bound: their true NLL is lower). Only the PixelCNN's number is exact.")
        shell.what_to_look_for(
            "The held-out NLL falls fast in the first epochs and then slowly; the training NLL is a running mean over "
            "each epoch's batches, taken while the network still changes, so it starts above the held-out one. A "
            "PixelCNN of a few layers already beats the RBM, the DBM and the VAE on the same digits, and its number "
            "needs no partition function, no importance weights and no bound: the chain rule is exact.")

with tab_sample:
    if tab_sample.open:
        c1, c2 = st.columns(2)
        n = c1.slider("Samples", 4, 32, 16, step=4, key="n_samples", bind="query-params")
        seed = c2.number_input("Sampling seed", 0, 10_000, 0, key="sample_seed", bind="query-params")
        out = ui.samples(res.key, res.done, net, hw, int(n), int(seed), 56)
        c1, c2 = st.columns(2)
        c1.metric("Seconds per sample", f"{out['seconds_per_image']:.3f}",
                  help=f"Wall clock of the whole batch of {n} divided by {n}, on this machine.")
        c2.metric("Network passes per batch", f"{out['passes']:,}", help="One per pixel: the family's cost.")
        ncols = min(8, int(n))
        frames = ui.frame_pictures(out["frames"], hw, ncols)
        plots.show_animation(frames, f"{n} images filling in, pixel by pixel in raster order", key="fill",
                             caption="Gray: not drawn yet. Each pixel is drawn from p(x_i = 1 | x_<i) given "
                                     "everything above and to the left of it.", ms=60)
        plots.show_grid(out["images"], data.shape, f"The {n} finished samples (seed {seed})", key="samples",
                        ncols=ncols, caption=f"{out['seconds']:.2f} s for the batch ({out['passes']} passes of the "
                                             f"network, each on the rows drawn so far). {settings}")
        shell.what_to_look_for(
            "Training costs one pass per batch of images, sampling one pass per pixel: the likelihood is cheap, "
            "drawing is slow. Watch the top rows appear first: a stroke begun near the top is continued below it. "
            "Samples are sharp (every pixel a 0/1 draw) but not all are clean digits: a model of a few layers keeps "
            "local strokes coherent better than the whole shape.")

with tab_complete:
    if tab_complete.open:
        c1, c2, c3 = st.columns(3)
        given = c1.slider("Rows given (top)", 1, H - 1, H // 2, key="given", bind="query-params")
        n_show = c2.slider("Held-out digits", 4, 16, 8, step=4, key="n_digits", bind="query-params")
        k = c3.select_slider("RBM Gibbs steps", [10, 30, 100, 300, 1000], 100, key="gibbs", bind="query-params")
        X = held_out_binary(data.X_test[:n_show])
        mask = np.zeros(data.shape, bool)
        mask[:, given:, :] = True
        mask = mask.ravel()
        pc = ui.completed(res.key, res.done, net, X, hw, int(given), 0)
        rbm, rbm_status = ui.rbm_inpainted(data, X, int(given), int(k))
        panels = [("Held-out digits (binarised)", X), (f"Top {given} rows given", apply_mask(X, mask)),
                  ("PixelCNN: one sample of the bottom rows", pc["images"])]
        if rbm is not None:
            panels.append((f"RBM: P(v = 1 | h) after {k} clamped Gibbs steps", rbm))
        plots.show_grids(panels, data.shape, key="complete", ncols=4)
        c1, c2, c3 = st.columns(3)
        c1.metric("PixelCNN: −log p(true bottom rows | top rows)", f"{pc['cond_nll'].mean():.1f} nats",
                  help="Exact: the per-pixel terms of the missing rows summed, averaged over the digits shown.")
        c2.metric("PixelCNN: squared error on the missing rows", f"{masked_mse(pc['images'], X, mask):.4f}")
        if rbm is not None:
            c3.metric("RBM: squared error on the missing rows", f"{masked_mse(rbm, X, mask):.4f}")
        st.caption("The PixelCNN's completion is one draw from its exact conditional p(bottom | top); the RBM shows a "
                   "mean P(v = 1 | h), which a squared error favours (a draw pays its variance too), so the errors "
                   "are not a fair race. The RBM is the RBM inpainting page's default run, "
                   f"{rbm_status}. {settings}")
        shell.what_to_look_for(
            "Given the top half, the PixelCNN continues the strokes downwards and commits to one digit; another seed "
            "may commit to another (the conditional is multimodal). The RBM's average blurs between the digits it "
            "cannot decide between. Only the PixelCNN can also say exactly how likely the true bottom rows were.")

with tab_field:
    if tab_field.open:
        c1, c2 = st.columns(2)
        row = c1.slider("Row of the pixel", 0, H - 1, H // 2, key="row", bind="query-params")
        col = c2.slider("Column of the pixel", 0, W - 1, W // 2, key="col", bind="query-params")
        codes = ui.receptive_field(res.key, res.done, net, hw, int(row), int(col))
        left, right = st.columns([1, 1])
        with left:
            plots.show_image(ui.field_image(codes), f"Receptive field of the pixel at row {row}, column {col}",
                             key="field", caption=ui.FIELD_LEGEND, width=360, heading=False)
        with right:
            before = row * W + col
            seen, blind, far = (int((codes == v).sum()) for v in (1, 2, 4))
            plots.show_table(pd.DataFrame({"pixels": [before, seen, blind, far]},
                                          index=["before it in raster order", "seen (nonzero gradient)",
                                                 "blind spot (inside the field's span, unseen)", "beyond reach"]),
                             f"Pixels seen by the output at row {row}, column {col}", key="field-counts")
            st.caption("Found by autograd: the gradient of this pixel's output logit with respect to every input "
                       "pixel, on four random binary images; seen = nonzero. A zero can only hide a dependence "
                       "if a ReLU is dead on all four.")
        st.caption("The blind spot: a 3x3 mask-B layer lets a pixel see one row up and one pixel to the right in "
                   "the row above, so the field grows up-right only as fast as it climbs and a wedge of pixels "
                   "above-right, though earlier in raster order, never reaches it, however deep the stack (the Gated "
                   "PixelCNN's two stacks remove it).")
        shell.what_to_look_for(
            f"Add blocks (depth {run.depth} now) and the field grows by one pixel per block upwards and sideways, but "
            "the orange wedge to the upper right stays: conditioning there is simply lost. Move the pixel to the right "
            "edge: the wedge is cut off by the border.")
