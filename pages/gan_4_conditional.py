"""GAN: conditional DCGAN

A DCGAN whose generator and discriminator see the digit's label: one row per class from the same noise, the label accuracy of its samples, and a comparison with the one-class DCGAN.
"""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.gan import conditional
from core.gan import config as gc
from core.gan import images as gi
from explorer import gan_conditional_ui, gan_latent_ui, gan_ui, plots, shell

pg = shell.page("GAN: conditional DCGAN", intro=(
    "**G(z, y)**: the DCGAN generator fed the noise and the one-hot label. **D(x, y) = ψ(φ(x)) + ⟨V_y, φ(x)⟩**: a "
    "*projection discriminator* (Miyato & Koyama, 2018), the DCGAN discriminator's features φ(x) projected on a "
    "learnt vector per class, not the label concatenated to the image. Concatenation hands D the label as one more "
    "input it may learn to ignore; the projection follows from D's optimal logit being a log density ratio of the "
    "class-conditionals, so the label decides which features D looks at — better class fidelity in their study."))
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "fashion_mnist"))
shell.require_shape(data, (1, 28, 28), "This conditional DCGAN (MNIST-like digits padded to 32x32)")
run = gan_conditional_ui.cgan_controls(ctrl, data)
res = shell.trained_or_stop(lambda: gan_conditional_ui.train_cgan(run, data), unit="iteration")
settings = ctrl.caption()
st.caption(f"{settings} · {res.status_line()}")
q = pd.DataFrame([{k: v for k, v in r.items() if k not in ("class_hist", "per_class")} for r in res.result["quality"]])
last = res.result["quality"][-1] if res.result["quality"] else None
if last is not None:
    m = st.columns(3)
    m[0].metric("Label accuracy", f"{last['label_accuracy']:.1%}", help="Share of 1,000 samples (100 per class) "
                "that the quality classifier puts in the class they were generated for (real held-out digits: about "
                "its own accuracy, 97-99%).")
    now = gan_ui.current_quality(res, data)  # today's reference (a shipped run's rows predate it: re-scored)
    m[1].metric("Frechet distance (all classes)", f"{now['fid']:.1f}", help=gan_ui.floor_help(now))
    m[2].metric("Classes covered", f"{int(last['classes_covered'])} / {len(data.classes)}")

tab_grid, tab_acc, tab_cmp, tab_loss, tab_lat = shell.tabs(["One row per class", "Label accuracy",
                                                            "Against the one-class DCGAN", "Loss and accuracy",
                                                            "Latent space"])
with tab_grid:
    if tab_grid.open:
        steps = [int(g["step"]) for g in res.result["grids"]]
        step = st.select_slider("Timeline: generator iteration", steps, value=steps[-1], key="tl-cgan") \
            if len(steps) > 1 else steps[0]
        plots.show_grid(gan_conditional_ui.class_rows(res.result, step), gan_ui.grid_shape(res.result),
                        f"G(z, y): row = class y, column = noise z, at iteration {step}", key="cgan-grid",
                        ncols=conditional.N_PER_CLASS, caption=f"The same {conditional.N_PER_CLASS} noise vectors in "
                        f"every row. {settings}")
        shell.what_to_look_for(
            "Down a column the noise is the same and only the label changes: the digit changes but its style — "
            "slant, stroke width, size — stays, because z carries what the label does not. Along a row the class is "
            "fixed and the style varies. A row of one repeated image is mode collapse within that class.")
with tab_acc:
    if tab_acc.open:
        if q.empty:
            st.info("No quality row yet.")
        else:
            gan_ui.show_curves(q, "step", ["label_accuracy"], "Label accuracy of the samples", key="cgan-acc",
                               xlabel="generator iteration", ylabel="share classified as asked", markers=True,
                               labels={"label_accuracy": "label accuracy"}, refs={"90%": 0.9})
            per = np.asarray(last["per_class"])
            fig = go.Figure(go.Bar(x=[str(c) for c in data.classes], y=per, marker_color=plots.PALETTE[0],
                                   text=[f"{v:.0%}" for v in per], textposition="outside"))
            plots.style(fig, "Label accuracy per class (last evaluation)", "class asked for", "share classified as it",
                        legend=False)
            fig.update_yaxes(range=[0, 1.1])
            plots.show_figure(fig, key="cgan-per-class")
            plots.download_csv(pd.DataFrame({"class": data.classes, "label_accuracy": per}), "cgan label accuracy per "
                               "class", key="cgan-per-csv")
        shell.what_to_look_for(
            "The classifier that scores all GAN pages reads each sample and says which digit it sees. Early on the "
            "generator ignores the label (accuracy near 10%); as D learns to tell real '3's from fake '3's the "
            "label takes over. Classes that stay low are the ones G confuses (often 4/9, 3/5, 7/9).")
with tab_cmp:
    if tab_cmp.open:
        label = st.selectbox("Class", list(range(len(data.classes))), index=3, key="cmp_cls",
                             format_func=lambda c: data.classes[c], bind="query-params")
        one_run = gc.GANRun(data.name, int(label), 8000, gc.dcgan_config())  # the DCGAN page's default, this class
        one = gan_ui.train(one_run, data, label=f"Training the one-class DCGAN of {data.classes[label]}")
        if one is not None:
            cond = gan_conditional_ui.cgan_class_samples(res.key, res.done, res.result, data, int(label))
            uncond = gan_ui.images(one.result, one.done)
            plots.show_grids([(f"Conditional GAN, y = {data.classes[label]}", cond["unit"]),
                              (f"DCGAN trained on {data.classes[label]} only", uncond)],
                             gan_ui.grid_shape(res.result), key=f"cgan-vs-{label}", ncols=8,
                             caption=f"Conditional: {run.gan.n_iters} iterations on all classes. One-class DCGAN: "
                                     f"{one.status_line()}.")
            qa = gan_ui.current_quality(one, data)  # today's reference for both rows
            ref = gan_ui.quality(data.name).reference(int(label))
            table = pd.DataFrame([
                {"model": "conditional GAN", "Frechet distance to the class": cond["fid"], "classified as the class":
                 cond["share"], "training images": 8000},
                {"model": "one-class DCGAN", "Frechet distance to the class": qa["fid"], "classified as the class":
                 qa["class_hist"][label], "training images": len(gi.training_images(one_run, data))}])
            plots.show_table(table.style.format({"Frechet distance to the class": "{:.1f}", "classified as the class":
                                                 "{:.0%}"}), "Conditional GAN against a one-class DCGAN",
                             key="cgan-cmp", hide_index=True, width="stretch")
            st.caption(f"Floor of the class: {ref['floor']:.2f} ± {ref['floor_sd']:.2f} ({ref['n_floor']} random "
                       "training images of the class against the other half's statistics, 8 random splits; both "
                       "scores use that many samples).")
            plots.download_csv(table, "conditional vs one-class", key="cgan-cmp-csv")
        shell.what_to_look_for(
            "The conditional GAN learns every class at once from all 8,000 digits; the one-class DCGAN sees only the "
            "~800 of its class. Shared strokes let the conditional one borrow from the other classes, so for the same "
            "compute its digits of one class are often as clean and more varied (a lower Frechet distance to that "
            "class); it also has to keep ten classes apart, which the label accuracy measures.")
with tab_loss:
    if tab_loss.open:
        gan_ui.curves(res.history, "nonsat", "cgan", settings)
with tab_lat:
    if tab_lat.open:
        label = st.selectbox("Class of the images", list(range(len(data.classes))), index=3, key="lat_cls",
                             format_func=lambda c: data.classes[c], bind="query-params")
        gan_latent_ui.latent_panel(res, data, "cgan-lat", label=int(label))
