"""What the GAN pages share: data choice (CIFAR-10 with an honest fallback), the GAN's widgets,
cached live training (a longer run continues the cached shorter one), curves, quality, the fixed-noise
timeline, failure flags and the single-step (D step / G step) panel."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import data as datasets
from core.gan import train as gt
from core.quality import N_EVAL, QualityModel, quality_model
from explorer import live, plots, shell
from explorer.widgets import Controls

LABELS = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x), real", "d_fake": "D(G(z)), fake",
          "acc_real": "D accuracy on real", "acc_fake": "D accuracy on fake", "d_fake_g": "D(G(z)) in the G step",
          "w_estimate": "Wasserstein estimate", "critic_real": "critic on real", "critic_fake": "critic on fake",
          "gp": "gradient penalty", "fid": "Frechet distance", "classes_covered": "classes covered",
          "diversity": "diversity (real = 1)", "fid_floor": "floor: real held-out", "fid_ceiling": "ceiling: noise"}


# ----------------------------------------------------------------------------- data

def dcgan_dataset(ctrl: Controls) -> datasets.ImageData:
    """CIFAR-10 when it can be had; otherwise say so and use MNIST (or Fashion-MNIST) padded to 32x32."""
    have_cifar = datasets.on_disk("cifar10")
    data = shell.dataset(ctrl, allowed=("cifar10", "mnist", "fashion_mnist", "digits"),
                         default="cifar10" if have_cifar else "mnist", mark_missing=True,
                         fallback=("mnist", "fashion_mnist", "digits"), instead=" padded to 32x32",
                         help="DCGAN works at 32x32: MNIST and Fashion-MNIST are padded from 28x28, the 8x8 digits "
                              "upsampled x4.")
    if not have_cifar and st.session_state.get("data") != "cifar10":  # chosen something else (no fallback notice)
        st.warning("**CIFAR-10 is not on this machine** and cannot be downloaded here (no internet). The exercise "
                   "asks for one CIFAR-10 class; this page offers MNIST and Fashion-MNIST padded to 32x32 instead "
                   "(put `cifar-10-batches-py` in a data folder, see the README, to get CIFAR-10).",
                   icon=":material/cloud_off:")
    return data


def class_choice(ctrl: Controls, data: datasets.ImageData, default: int = -1) -> int:
    classes = data.classes or [str(i) for i in range(10)]
    opts = [-1] + list(range(len(classes)))
    names = {-1: "all classes", **{i: f"{i}: {c}" if c != str(i) else c for i, c in enumerate(classes)}}
    return ctrl.select("Class", "cls", opts, default, labels=names,
                       help="Train on the images of one class only (the exercise: one CIFAR-10 class).")


# ----------------------------------------------------------------------------- widgets

def iterations(ctrl: Controls, default: int, lo: int = 20, hi: int = 5000) -> int:
    return ctrl.log_slider("Generator iterations", "iters", lo, hi, default,
                           options=[o for o in gt.ITERATIONS if lo <= o <= hi],
                           help="Raising it continues the cached shorter run instead of starting over.")


def dcgan_controls(ctrl: Controls, data: datasets.ImageData, label: int) -> gt.GANRun:
    d = gt.dcgan_config()
    w = ctrl.where
    w.markdown("**DCGAN (Radford et al.)**")
    size = ctrl.select("Image size", "size", [32, 64], d.image_size,
                       labels={32: "32x32 (native)", 64: "64x64 (4x slower)"},
                       horizontal=True, help="64x64 adds one stride-2 layer to G and to D.")
    width = ctrl.log_slider("Width (channels of the last hidden map)", "width", 8, 64, int(d.width),
                            options=[8, 16, 32, 48, 64],
                            help="G's channels are 4x, 2x, 1x this (and 8x for 64x64); D's mirror them.")
    iters = iterations(ctrl, d.n_iters)
    batch = ctrl.log_slider("Batch size", "batch", 16, 256, d.batch_size, options=[16, 32, 64, 128, 256])
    w.markdown("**Optimiser (Adam)**")
    lr_g = ctrl.log_slider("G learning rate", "lr_g", 1e-5, 2e-3, d.lr_g)
    lr_d = ctrl.log_slider("D learning rate", "lr_d", 1e-5, 2e-3, d.lr_d)
    beta1 = ctrl.log_slider("Adam beta1", "beta1", 0.0, 0.9, d.beta1, options=[0.0, 0.5, 0.9],
                            help="Radford et al. lowered it from 0.9 to 0.5 for stability.")
    d_steps = ctrl.slider("D steps per G step", "dsteps", 1, 5, d.d_steps)
    loss = ctrl.select("Generator loss", "loss", ["nonsat", "minimax"], d.loss, horizontal=True,
                       labels={"nonsat": "non-saturating", "minimax": "minimax"},
                       help="minimax: G minimises log(1 - D(G(z))); non-saturating: G maximises log D(G(z)).")
    aug = ctrl.toggle("DiffAugment", "aug", False, help="Colour, translation and cutout applied to real and fake "
                      "images before D (Zhao et al., 2020): helps with small data such as one class.")
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    cfg = gt.dcgan_config(loss=loss, image_size=int(size), width=int(width), n_iters=int(iters),
                          batch_size=int(batch), lr_g=float(lr_g), lr_d=float(lr_d), beta1=float(beta1),
                          d_steps=int(d_steps), diffaug="color,translation,cutout" if aug else "", seed=int(seed))
    return gt.GANRun(data.name, int(label), 8000, cfg)


# ----------------------------------------------------------------------------- training

@st.cache_resource(show_spinner="Training the quality classifier for this dataset once (cached on disk)…")
def quality(name: str) -> QualityModel:
    """The dataset's quality classifier and reference statistics (shared: read-only)."""
    return quality_model(shell.load_dataset(name))


def compare_frame(results: dict, table: str, col: str, models=None) -> pd.DataFrame:
    """One column per model: `col` of each run's `table` ("history" or "quality") against the step (empty if none)."""
    rows = [{"step": r["step"], m: r.get(col)} for m, (_, res) in results.items() if models is None or m in models
            for r in res.result[table]]
    return pd.DataFrame(rows).groupby("step", as_index=False).first() if rows else pd.DataFrame(columns=["step"])


def train(run: gt.GANRun, data: datasets.ImageData, label: str = "Training the GAN") -> live.RunResult | None:
    wgan = run.gan.loss in ("wgan", "wgan-gp")
    curves = ["w_estimate", "d_loss", "g_loss"] if wgan else ["d_loss", "g_loss", "d_real", "d_fake", "acc_real",
                                                               "acc_fake"]
    return live.train_cached(gt.GANSteps(run, data, quality(data.name)), curves=curves, labels=LABELS, label=label)


# ----------------------------------------------------------------------------- figures

def images(result: dict, step: int) -> np.ndarray:
    return gt.to_unit(gt.grid_at(result, step))


def grid_shape(result: dict) -> tuple[int, int, int]:
    return tuple(int(s) for s in result["grids"][0]["images"].shape[1:])


def timeline(result: dict, key: str, caption: str = ""):
    """Fixed-noise samples with a slider over the stored iterations; returns the chosen iteration and the
    column beside the grid (for the page's text)."""
    steps = [int(g["step"]) for g in result["grids"]]
    step = steps[-1]
    if len(steps) > 1:
        step = st.select_slider("Timeline: generator iteration", steps, value=steps[-1], key=f"tl-{key}",
                                help="The same 64 noise vectors, pushed through G as it was at that iteration.")
    left, right = st.columns([3, 2])
    with left:
        plots.show_grid(images(result, step), grid_shape(result), f"G(z) for fixed noise z at iteration {step}",
                        key=f"grid-{key}", ncols=8, caption=caption)
    return step, right


def show_curves(df: pd.DataFrame, x: str, ys, title: str, key: str, markers: bool = False, height: int = 330,
                **kw) -> None:
    """plots.show_curves with the lab's labels and the legend under the plot (these figures sit in narrow columns)."""
    plots.show_curves(df, x, [y for y in ys if y in df], title, key, labels=LABELS | kw.pop("labels", {}),
                      markers=markers, height=height, legend_below=True, **kw)


def curves(hist: pd.DataFrame, loss: str, key: str, settings: str = "") -> None:
    if hist.empty:
        st.info("No metrics yet.")
        return
    if loss in ("wgan", "wgan-gp"):
        c1, c2 = st.columns(2)
        with c1:
            show_curves(hist, "step", ["w_estimate"], "Critic's Wasserstein estimate", key=f"{key}-w",
                              xlabel="generator iteration", ylabel="E f(x) − E f(G(z))")
        with c2:
            show_curves(hist, "step", ["d_loss", "g_loss"] + (["gp"] if "gp" in hist else []),
                              "Critic and generator losses", key=f"{key}-l", xlabel="generator iteration")
    else:
        c1, c2, c3 = st.columns(3)
        with c1:
            show_curves(hist, "step", ["d_loss", "g_loss"], "D loss and G loss", key=f"{key}-l",
                              xlabel="generator iteration")
        with c2:
            show_curves(hist, "step", ["d_real", "d_fake"], "D(x) and D(G(z))", key=f"{key}-p",
                              xlabel="generator iteration", ylabel="mean output of D")
        with c3:
            show_curves(hist, "step", ["acc_real", "acc_fake"], "Discriminator accuracy", key=f"{key}-a",
                              xlabel="generator iteration", ylabel="fraction correct")
    if settings:
        st.caption(settings)


def quality_rows(result: dict) -> pd.DataFrame:
    rows = [{k: v for k, v in r.items() if k != "class_hist"} for r in result.get("quality", [])]
    return pd.DataFrame(rows)


def quality_panel(result: dict, qm: QualityModel, key: str, label: int = -1) -> None:
    q = quality_rows(result)
    if q.empty:
        st.info("No quality evaluation yet (it runs at the end of training).")
        return
    last = result["quality"][-1]
    m = st.columns(4)
    m[0].metric("Frechet distance", f"{last['fid']:.1f}", help=f"Floor (real held-out vs train) "
                f"{last['fid_floor']:.1f}, ceiling (uniform noise) {last['fid_ceiling']:.1f}.")
    if label >= 0:
        m[1].metric(f"Classified as {qm.classes[label]}", f"{last['class_hist'][label]:.0%}",
                    help="Share of the samples the classifier puts in the trained class (real images of the class: "
                         "about its held-out accuracy).")
    else:
        m[1].metric("Classes covered", f"{int(last['classes_covered'])} / {qm.n_classes}",
                    help="A class counts when at least 1/(4K) of the samples are classified as it.")
    m[2].metric("Diversity", f"{last['diversity']:.2f}", help="Mean pairwise feature distance, relative to real images.")
    m[3].metric("Classifier confidence", f"{last['confidence']:.2f}", help="Mean top probability: low = unclear shapes.")
    c1, c2 = st.columns(2)
    with c1:
        fig = plots.line_figure(q, "step", ["fid", "fid_floor", "fid_ceiling"], "Frechet distance (classifier "
                                "features)", xlabel="generator iteration", labels=LABELS, markers=True,
                                legend_below=True)
        for tr in fig.data[1:]:
            tr.line.dash = "dot"
        plots.show_figure(fig, key=f"{key}-fid")
        plots.download_csv(q, "quality over training", key=f"{key}-qcsv", label="CSV of the quality table")
    with c2:
        hist = np.asarray(last["class_hist"], float)
        fig = go.Figure(go.Bar(x=[str(c) for c in qm.classes], y=hist, marker_color=plots.PALETTE[0]))
        fig.add_hline(y=1 / (4 * qm.n_classes), line_dash="dot", line_color="#868e96",
                      annotation_text="coverage threshold")
        plots.style(fig, f"Classes of {N_EVAL} samples (classifier)", "class", "share of samples", legend=False)
        plots.show_figure(fig, key=f"{key}-hist")
    st.caption(f"Classifier: {qm.test_accuracy:.1%} held-out accuracy, 64 features. Frechet distance of {N_EVAL} "
               "samples against the training images" + (" of the class" if label >= 0 else "") + "; floor = the same "
               "number of real held-out images, ceiling = uniform noise images.")


def flags(result: dict, run: gt.GANRun, n_classes: int) -> None:
    out = gt.diagnose(result["history"], result.get("quality"), run.gan.loss, n_classes, one_class=run.label >= 0)
    if not out:
        st.success("No failure flag: D and G are balanced so far and the samples are varied.", icon=":material/check_circle:")
    for name, sentence in out:
        if name == "early":
            st.info(sentence, icon=":material/hourglass_top:")
        else:
            st.warning(sentence, icon=":material/warning:")


# ----------------------------------------------------------------------------- single steps

STEP_STATE = "gan.step"


def step_panel(res: live.RunResult, data: datasets.ImageData, key: str) -> None:
    """GAN Lab's single steps: one D step or one G step on a copy of the trained model (the cached run
    is not changed), with D's view of real and fake before and after."""
    states = st.session_state.setdefault(STEP_STATE, {})
    sk = f"{res.key}:{res.done}"
    c = st.columns([1, 1, 1.3, 2, 2])
    if c[3].button("↺ Back to the trained model", key=f"{key}-reset") or sk not in states:
        tr = gt.trainer_from(res.result, data)
        states[sk] = {"trainer": tr, "log": [{"action": "trained model", "d_steps": tr.d_updates, "g_steps": tr.iters,
                                               **tr.probe()}]}
    state = states[sk]
    tr: gt.GANTrainer = state["trainer"]
    action = None
    if c[0].button("D step", key=f"{key}-d", type="primary", help="One discriminator (critic) update."):
        tr.d_step()
        action = "D step"
    if c[1].button("G step", key=f"{key}-g", type="primary", help="One generator update."):
        tr.g_step()
        action = "G step"
    if c[2].button("D+G iteration", key=f"{key}-it", help=f"{tr.cfg.d_steps} D step(s), then one G step."):
        tr.iteration()
        action = "iteration"
    if action:
        tr.pop_metrics()
        state["log"].append({"action": action, "d_steps": tr.d_updates, "g_steps": tr.iters, **tr.probe()})
    log = pd.DataFrame(state["log"]).rename(columns={"d_steps": "D steps", "g_steps": "G steps"})
    left, right = st.columns([1, 1])
    with left:
        shape = tuple(tr.shape)
        plots.show_grid(gt.to_unit(tr.fixed_samples()), shape, f"G(z), fixed noise, after {tr.iters} G steps and "
                        f"{tr.d_updates} D steps", key=f"{key}-stepgrid", ncols=8)
    with right:
        st.markdown("**D's view of 256 real and 256 fake images, step by step**")
        short = {"d_real": "D(x)", "d_fake": "D(G(z))", "acc_real": "acc. real", "acc_fake": "acc. fake",
                 "critic_real": "f(x)", "critic_fake": "f(G(z))", "w_estimate": "W estimate"}
        st.dataframe(log.tail(12).rename(columns=short).style.format(precision=3), width="stretch", hide_index=True)
        plots.download_csv(log, "single steps", key=f"{key}-stepcsv")
    st.caption("A D step should raise D(x) and lower D(G(z)); a G step should raise D(G(z)). These steps act on a "
               "copy in this browser session; the cached run is unchanged.")


def show_run(res: live.RunResult, run: gt.GANRun, data: datasets.ImageData, ctrl: Controls, key: str,
             hints: dict[str, str]) -> None:
    """The body both single-GAN pages share: settings caption, failure flags, and the four tabs
    (samples over training, curves, quality, step by step), each with the page's own hint."""
    settings = ctrl.caption()
    st.caption(f"{settings} · {res.status_line()}")
    flags(res.result, run, len(data.classes))
    tab_s, tab_c, tab_q, tab_step = shell.tabs(["Samples over training", "Loss and accuracy", "Quality",
                                                "Step by step"])
    with tab_s:
        if tab_s.open:
            _, side = timeline(res.result, key, caption=settings)
            with side:
                shell.what_to_look_for(hints["samples"])
    with tab_c:
        if tab_c.open:
            curves(res.history, run.gan.loss, key, settings)
            shell.what_to_look_for(hints["curves"])
    with tab_q:
        if tab_q.open:
            quality_panel(res.result, quality(data.name), f"{key}-q", label=run.label)
            if "quality" in hints:
                shell.what_to_look_for(hints["quality"])
    with tab_step:
        if tab_step.open:
            step_panel(res, data, f"{key}-step")
            if "step" in hints:
                shell.what_to_look_for(hints["step"])
