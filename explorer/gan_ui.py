"""What the GAN pages share: data choice (CIFAR-10 with an honest fallback), the GAN's widgets,
cached live training (a longer run continues the cached shorter one), curves, quality, the fixed-noise
timeline, failure flags and the single-step (D step / G step) panel."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import data as datasets
from core import uploads
from core.gan import conditional, cycle, latent
from core.gan import train as gt
from core.quality import N_EVAL, QualityModel, quality_model
from explorer import live, plots, shell
from explorer.widgets import Controls

LABELS = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x), real", "d_fake": "D(G(z)), fake",
          "acc_real": "D accuracy on real", "acc_fake": "D accuracy on fake", "d_fake_g": "D(G(z)) in the G step",
          "w_estimate": "Wasserstein estimate", "critic_real": "critic on real", "critic_fake": "critic on fake",
          "gp": "gradient penalty", "fid": "Frechet distance", "classes_covered": "classes covered",
          "diversity": "diversity (real = 1)", "fid_floor": "floor: training digits (split-half)",
          "fid_ceiling": "ceiling: noise"}
FLOOR_LINE = ("Floor: what random training images (as many as the samples scored, at most 1,000) score against the "
              "statistics of the other half of the training images (mean ± sd over 8 random splits); within about "
              "2 sd of it, this classifier cannot tell the samples from training images.")


# ----------------------------------------------------------------------------- data

def dcgan_dataset(ctrl: Controls) -> datasets.ImageData:
    """CIFAR-10 when it can be had; otherwise say so and use MNIST (or Fashion-MNIST) padded to 32x32. Or the
    student's own images from a ZIP."""
    source = ctrl.select("Images", "src", ["dataset", "zip"], "dataset", horizontal=True,
                         labels={"dataset": "a dataset", "zip": "your own (ZIP)"},
                         help="Your own pictures: a ZIP of 50 to 5,000 images (PNG, JPEG, ...), centre-cropped to a "
                              "square and resized to 32x32. DiffAugment is recommended for so few images.")
    if source == "zip":
        return uploaded_dataset(ctrl)
    have_cifar = datasets.on_disk("cifar10")
    data = shell.dataset(ctrl, allowed=("cifar10", "mnist", "fashion_mnist", "digits"),
                         default="cifar10" if have_cifar else "mnist", mark_missing=True,
                         fallback=("mnist", "fashion_mnist", "digits"), instead=" padded to 32x32",
                         help="DCGAN works at 32x32: MNIST and Fashion-MNIST are padded from 28x28, the 8x8 digits "
                              "upsampled x4.")
    if not have_cifar and st.session_state.get("data") != "cifar10":  # chosen something else (no fallback notice)
        st.warning("**CIFAR-10 is not on this machine.** The exercise asks for one CIFAR-10 class; this page offers "
                   "MNIST and Fashion-MNIST padded to 32x32 instead. On a machine with a network, "
                   "`python -m core.data --download cifar10` fetches it (about 170 MB); or put `cifar-10-batches-py` "
                   "in a data folder (see the README).",
                   icon=":material/cloud_off:")
    return data


def uploaded_dataset(ctrl: Controls) -> datasets.ImageData:
    """The images of an uploaded ZIP as a dataset (one class), or a one-line error and a stop."""
    up = ctrl.where.file_uploader("A ZIP of 50 to 5,000 images", type=["zip"], key="zip",
                                  help="Read in memory: nothing is unpacked to disk. Archives inside it, paths that "
                                       "leave its folder and decompression bombs are refused.")
    if up is None:
        st.info("Upload a ZIP of your pictures in the sidebar (50 to 5,000 images: photos of one kind of object "
                "work best). The DCGAN then trains on them at 32x32.", icon=":material/upload_file:")
        st.stop()
    try:
        data, skipped = _uploaded(up.getvalue(), up.name)
    except uploads.ImageError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    st.caption(f"Data: {data.source}." + (f" Skipped {len(skipped)} member(s), e.g. {skipped[0]}" if skipped else ""))
    ctrl.note("data", "Images", data.source)
    return data


@st.cache_data(show_spinner="Reading the images…", max_entries=4)
def _uploaded(raw: bytes, name: str) -> tuple[datasets.ImageData, list[str]]:
    s = uploads.load_image_zip(raw, 32, name=name)
    X = s.images.reshape(len(s.images), -1)
    y = np.zeros(len(X), np.int64)
    n_test = max(1, len(X) // 10)
    return datasets.ImageData(f"upload-{s.digest[:12]}", X, y, X[:n_test], y[:n_test], (3, 32, 32), ["your images"],
                              f"your {len(X):,} images from {name}"), s.skipped


def class_choice(ctrl: Controls, data: datasets.ImageData, default: int = -1) -> int:
    if data.name.startswith("upload-"):
        return -1  # one class: all of them
    classes = data.classes or [str(i) for i in range(10)]
    opts = [-1] + list(range(len(classes)))
    names = {-1: "all classes", **{i: f"{i}: {c}" if c != str(i) else c for i, c in enumerate(classes)}}
    return ctrl.select("Class", "cls", opts, default, labels=names,
                       help="Train on the images of one class only (the exercise: one CIFAR-10 class).")


# ----------------------------------------------------------------------------- widgets

def iterations(ctrl: Controls, default: int, lo: int = 20, hi: int = 20000) -> int:
    return ctrl.log_slider("Generator iterations", "iters", lo, hi, default,
                           options=sorted({o for o in gt.ITERATIONS if lo <= o <= hi} | {int(default)}),
                           help="Raising it continues the cached shorter run instead of starting over (a run "
                                "shipped with the app carries no optimiser state: longer runs train from the start).")


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
    steps = gt.GANSteps(run, data, lambda: quality(data.name) if data.name in datasets.DATASETS else None)  # only if
    return live.train_cached(steps, curves=curves, labels=LABELS, label=label,  # the run trains (no classifier: uploads)
                             shipped=lambda: shipped_run(run, data))


@st.cache_resource(show_spinner=False, max_entries=8)
def shipped_run(run: gt.GANRun, _data: datasets.ImageData) -> dict | None:
    """The page's default run shipped in assets/gan when `run` is exactly it (shared across sessions: read-only)."""
    return gt.shipped(run, _data)


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


@st.cache_data(show_spinner="Scoring the generator's samples (today's Frechet reference)…", max_entries=32)
def final_quality(key: str, done: int, label, _result: dict, _data: datasets.ImageData) -> dict:
    """The run's final generator scored now (core.gan.latent.quality_report, 1,000 samples): the same definition for
    shipped runs, whose rows were logged under an earlier reference, and for runs trained today."""
    return latent.quality_report(_result, _data, quality(_data.name), label)


def current_quality(res: live.RunResult, data: datasets.ImageData, label=None) -> dict | None:
    """The last quality row when it was logged under today's reference (it has "fid_floor_sd"), else the final
    generator re-scored now; None without quality rows."""
    rows = res.result.get("quality") or []
    if not rows:
        return None
    if "fid_floor_sd" in rows[-1] and label is None:
        return rows[-1]
    return final_quality(res.key, res.done, label, res.result, data)


def logged_under_old_reference(result: dict) -> bool:
    """Quality rows logged before the split-half reference: their "fid" is FD against all training digits' statistics
    (close to today's: the reference halves add about the floor's spread) and their floor was the first 1,000
    held-out digits (not a floor)."""
    rows = result.get("quality") or []
    return bool(rows) and "fid_floor_sd" not in rows[-1]


def floor_help(q: dict) -> str:
    """One line: the score's floor (train and held-out), its ceiling and where the score stands."""
    return (f"Floor {q['fid_floor']:.2f} ± {q['fid_floor_sd']:.2f} ({q.get('fid_n', N_EVAL):,} random training images "
            f"vs the other half's statistics, 8 random splits; this score is {q['fid_spreads']:+.1f} sd from it), ceiling "
            f"{q['fid_ceiling']:.0f} (uniform noise). Against held-out digits (other writers): {q['fid_heldout']:.1f}, "
            f"floor {q['fid_heldout_floor']:.2f} ± {q['fid_heldout_floor_sd']:.2f}; the training digits themselves "
            f"score {q['fid_heldout_of_train']:.1f} there.")


def quality_rows(result: dict) -> pd.DataFrame:
    rows = [{k: v for k, v in r.items() if k != "class_hist"} for r in result.get("quality", [])]
    return pd.DataFrame(rows)


def quality_panel(res: live.RunResult, data: datasets.ImageData, qm: QualityModel, key: str, label: int = -1) -> None:
    result = res.result
    q = quality_rows(result)
    if q.empty:
        st.info("No quality evaluation yet (it runs at the end of training).")
        return
    last = current_quality(res, data)
    old = logged_under_old_reference(result)
    m = st.columns(4)
    m[0].metric("Frechet distance", f"{last['fid']:.1f}", help=floor_help(last))
    if label >= 0:
        m[1].metric(f"Classified as {qm.classes[label]}", f"{last['class_hist'][label]:.0%}",
                    help="Share of the samples the classifier puts in the trained class (real images of the class: "
                         "about its held-out accuracy).")
    else:
        m[1].metric("Classes covered", f"{int(last['classes_covered'])} / {qm.n_classes}",
                    help="A class counts when at least 1/(4K) of the samples are classified as it.")
    m[2].metric("Diversity", f"{last['diversity']:.2f}", help="Mean pairwise feature distance, relative to 400 random "
                "held-out images.")
    m[3].metric("Classifier confidence", f"{last['confidence']:.2f}", help="Mean top probability: low = unclear shapes.")
    c1, c2 = st.columns(2)
    with c1:
        curve = q.drop(columns=[c for c in ("fid_floor", "fid_ceiling") if c in q]).assign(
            fid_floor=last["fid_floor"], fid_ceiling=last["fid_ceiling"])  # today's floor and ceiling
        fig = plots.line_figure(curve, "step", ["fid", "fid_floor", "fid_ceiling"], "Frechet distance (classifier "
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
               "samples against the training images" + (" of the class" if label >= 0 else "") + ". " + FLOOR_LINE
               + (" The curve was logged while this shipped run trained, against all training digits' statistics "
                  "(an earlier definition that reads lower by up to about one floor sd); the figures above and the floor "
                  "line are today's, from its final generator re-scored now." if old else ""))


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
    if not gt.can_continue(res.result):
        st.info("The run shipped with the app carries no optimiser state, so it cannot take single steps (or be "
                "trained further). Change any setting in the sidebar (the seed, say) to train a run of your own "
                "live; its steps can then be taken here.", icon=":material/info:")
        return
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


# ----------------------------------------------------------------------------- the latent space

@st.cache_resource(show_spinner=False, max_entries=16)
def _sampler(key: str, done: int, label, _result: dict) -> latent.Sampler:
    return latent.sampler_for(_result, label)


@st.cache_data(show_spinner="Generating the paths…", max_entries=64)
def _paths(key: str, done: int, label, _result: dict, seed_a: int, seed_b: int, n: int) -> dict:
    smp = _sampler(key, done, label, _result)
    za, zb = smp.noise(1, seed_a)[0], smp.noise(1, seed_b)[0]
    out = {}
    for method in ("lerp", "slerp"):
        z = latent.path(za, zb, n, method)  # (n, nz)
        out[method] = gt.to_unit(smp.render(z))
        out[f"{method}_norm"] = z.norm(dim=1).numpy()
    return out


@st.cache_data(show_spinner="Walking…", max_entries=64)
def _walk(key: str, done: int, label, _result: dict, seed: int, direction: int, radius: float, n: int) -> np.ndarray:
    smp = _sampler(key, done, label, _result)
    z, _ = latent.walk(smp.noise(1, seed)[0], n, radius, direction)
    return gt.to_unit(smp.render(z))


N_RATIO = 200  # samples and random held-out images of the nearest-neighbour ratio


@st.cache_data(show_spinner="Searching the training images…", max_entries=32)
def _copies(key: str, done: int, label, _result: dict, _data: datasets.ImageData, seed: int, n: int) -> dict:
    smp = _sampler(key, done, label, _result)
    native, train, held_out = latent.images_of(_result, _data, label)
    samples = native(smp.render(smp.noise(n, seed)))
    embed = quality(_data.name).features if _data.name in datasets.DATASETS else None  # no classifier for uploads
    check = latent.copy_check(samples, train, held_out, embed=embed, n_held_out=4 * n, seed=seed)
    many = native(smp.render(smp.noise(N_RATIO, seed + 1)))
    ratio = latent.copy_ratio(many, train, held_out, embed=embed, n_held_out=N_RATIO, seed=seed)
    return {"samples": samples, "train": train, "ratio": ratio, **check}


def latent_panel(res: live.RunResult, data: datasets.ImageData, key: str, label: int | None = None) -> None:
    """Interpolation (linear and spherical), a walk along a random direction, and each sample's nearest training
    image: what the generator has learnt between and around its samples, and whether it copies. label: the class
    of a conditional generator's images."""
    result = res.result
    shape = tuple(int(s) for s in result["grids"][0]["images"].shape[-3:])
    c = st.columns([1, 1, 1, 1.2])
    seed_a = c[0].number_input("Noise A (seed)", 0, 100_000, 1, key=f"{key}-za", bind="query-params")
    seed_b = c[1].number_input("Noise B (seed)", 0, 100_000, 2, key=f"{key}-zb", bind="query-params")
    n = c[2].slider("Frames", 5, 16, 10, key=f"{key}-n", bind="query-params")
    c[3].button("New noise", key=f"{key}-new", help="Two fresh noise vectors A and B.", on_click=_new_noise,
                args=(f"{key}-za", f"{key}-zb"))
    p = _paths(res.key, res.done, label, result, int(seed_a), int(seed_b), int(n))
    strips = np.concatenate([p["lerp"], p["slerp"]])
    plots.show_grid(strips, shape, "From A to B: linear (top row) and spherical (bottom row) interpolation",
                    key=f"{key}-strip", ncols=int(n), caption=f"{len(p['lerp'])} points each, t = 0 … 1; the same "
                    "generator and the same ends.")
    left, right = st.columns([3, 2])
    with left:
        frames = [plots.side_by_side(p["lerp"][i:i + 1], p["slerp"][i:i + 1], shape, 1, scale=4)
                  for i in list(range(int(n))) + list(range(int(n) - 2, 0, -1))]
        plots.show_animation(frames, "A to B and back: linear (left), spherical (right)", key=f"{key}-anim", ms=180,
                             width=360)
    with right:
        t = np.linspace(0, 1, int(n))
        df = pd.DataFrame({"t": t, "linear": p["lerp_norm"], "spherical": p["slerp_norm"]})
        show_curves(df, "t", ["linear", "spherical"], "Norm of z along the path", key=f"{key}-norm",
                    xlabel="t", ylabel="||z(t)||", markers=True)
    shell.what_to_look_for(
        "Between two samples a good generator passes through other plausible images, not through noise or a fade of "
        "one over the other. With Gaussian noise the linear path's middle has a smaller norm (about 0.7 of the "
        "ends'), where the prior has little mass and G was rarely trained: its middle frames can look fainter or less "
        "typical; the spherical path keeps the norm and the images stay typical all the way.")
    st.markdown("**A walk along one random direction**")
    w1, w2 = st.columns(2)
    radius = w1.select_slider("How far (in units of noise)", [1.0, 2.0, 5.0, 10.0, 20.0], 5.0, key=f"{key}-radius",
                              bind="query-params")
    direction = w2.number_input("Direction (seed)", 0, 100_000, 0, key=f"{key}-dir", bind="query-params")
    walk = _walk(res.key, res.done, label, result, int(seed_a), int(direction), float(radius), 11)
    plots.show_grid(walk, shape, f"A + s·d for s from −{radius:g} to +{radius:g}", key=f"{key}-walk", ncols=11,
                    caption="d: a random unit direction in noise space; the middle image is A itself.")
    st.markdown("**Does the generator copy its training images?**")
    n_copy = 8
    cp = _copies(res.key, res.done, label, result, data, int(seed_a), n_copy)
    native = data.shape
    pix, feat = cp["pixels"], cp.get("features")
    panels = [("Samples", cp["samples"]), ("Nearest training image (pixels)", cp["train"][pix["index"]])]
    if feat is not None:
        panels.append(("Nearest training image (classifier features)", cp["train"][feat["index"]]))
    plots.show_grids(panels, native, key=f"{key}-copies", ncols=2, caption="Each sample next to the training image "
                     "closest to it, by Euclidean distance between pixels" + (" and between the quality classifier's "
                     "64 features" if feat is not None else "") + " (exact search over all of the run's training "
                     "images).")
    m = st.columns(2)
    for col, (name, d) in zip(m, [("pixel", pix)] + ([("feature", feat)] if feat is not None else [])):
        col.metric(f"Median {name} distance to the nearest training image", f"{np.median(d['distance']):.2f}",
                   delta=f"{np.median(d['distance']) - np.median(d['held_out_distance']):+.2f} vs real held-out",
                   delta_color="off", help="Real held-out images of the same class, to the same training images: "
                   "the distance of a genuinely new image. A copying generator would be far below it.")
    st.caption("Nearest-neighbour ratio (median distance of " + f"{N_RATIO} samples to their nearest training image "
               f"/ that of {N_RATIO} random held-out digits): " + ", ".join(f"{v:.2f} in {k}" for k, v in
                                                                          cp["ratio"].items())
               + ". A copier scores 0; new digits as far from the training set as unseen real ones score about 1 "
                 "(held-out digits are other writers, so a faithful model of the training digits may score a little "
                 "below 1).")
    shell.what_to_look_for(
        "If the samples were copies, each would sit on top of its nearest training image (distance near 0, far "
        "below the real held-out images' distance). Similar digits with different strokes, at distances like the "
        "held-out images', mean the generator makes new images of the kind it was shown.")


def _new_noise(key_a: str, key_b: str) -> None:
    """The next two seeds (wrapping round within the inputs' range)."""
    st.session_state[key_a] = (int(st.session_state.get(key_a, 1)) + 2) % 100_001
    st.session_state[key_b] = (int(st.session_state.get(key_b, 2)) + 2) % 100_001


def show_run(res: live.RunResult, run: gt.GANRun, data: datasets.ImageData, ctrl: Controls, key: str,
             hints: dict[str, str], diffaug_tab: bool = False) -> None:
    """The body both single-GAN pages share: settings caption, failure flags, and the tabs (samples over training,
    curves, quality, latent space, step by step, and optionally DiffAugment on and off), each with its hint."""
    settings = ctrl.caption()
    st.caption(f"{settings} · {res.status_line()}")
    flags(res.result, run, len(data.classes))
    labels = ["Samples over training", "Loss and accuracy", "Quality", "Latent space", "Step by step"]
    tab_s, tab_c, tab_q, tab_lat, tab_step, *rest = shell.tabs(labels + (["DiffAugment on and off"] if diffaug_tab
                                                                          else []))
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
            if data.name in datasets.DATASETS:
                quality_panel(res, data, quality(data.name), f"{key}-q", label=run.label)
            else:
                st.info("Quality is measured with a classifier of the dataset's classes; your own images have none, so "
                        "judge by eye (and by the DiffAugment tab).", icon=":material/info:")
            if "quality" in hints:
                shell.what_to_look_for(hints["quality"])
    with tab_lat:
        if tab_lat.open:
            latent_panel(res, data, f"{key}-lat")
    with tab_step:
        if tab_step.open:
            step_panel(res, data, f"{key}-step")
            if "step" in hints:
                shell.what_to_look_for(hints["step"])
    for tab in rest:
        with tab:
            if tab.open:
                diffaug_comparison(res, run, data, key)


def diffaug_comparison(res: live.RunResult, run: gt.GANRun, data: datasets.ImageData, key: str) -> None:
    """This run next to the same run with DiffAugment switched the other way: the last grids and D's accuracy."""
    from dataclasses import replace

    other_run = replace(run, gan=replace(run.gan, diffaug="" if run.gan.diffaug else "color,translation,cutout"))
    other_steps = gt.GANSteps(other_run, data)
    if not (live.has_run(other_steps) or shipped_run(other_run, data) is not None or
            st.button(f"Train the same run {'without' if run.gan.diffaug else 'with'} DiffAugment", key=f"{key}-aug",
                      type="primary")):
        st.info(f"DiffAugment is {'on' if run.gan.diffaug else 'off'} for this run. Train the same run with it "
                f"{'off' if run.gan.diffaug else 'on'} to see what it does to so few images.", icon=":material/info:")
        return
    other = train(other_run, data, label=f"Training the same run {'without' if run.gan.diffaug else 'with'} DiffAugment")
    if other is None:
        return
    runs = {True: res, False: other} if run.gan.diffaug else {True: other, False: res}
    plots.show_grids([(f"DiffAugment {'on' if on else 'off'}", images(r.result, r.done)) for on, r in runs.items()],
                     grid_shape(res.result), key=f"{key}-aug-grids", ncols=8,
                     caption=f"The same settings and seed; {len(gt.training_images(run, data)):,} training images.")
    frame = pd.concat([r.history.assign(run=f"DiffAugment {'on' if on else 'off'}") for on, r in runs.items()])
    df = frame.pivot_table(index="step", columns="run", values="acc_real").reset_index()
    show_curves(df, "step", [c for c in df.columns if c != "step"], "D's accuracy on real training images",
                key=f"{key}-aug-acc", xlabel="generator iteration", ylabel="fraction correct")
    shell.what_to_look_for(
        "With few images D soon memorises them: its accuracy on real images goes to 1, its gradients stop telling G "
        "anything general, and the samples degrade into copies, blotches or collapse. DiffAugment applies the same "
        "random colour shifts, translations and cut-outs to real and fake images before D, so D cannot memorise "
        "pixels and G still learns from it: D's accuracy stays lower and the samples keep improving.")


# ----------------------------------------------------------------------------- the conditional GAN

def cgan_controls(ctrl: Controls, data: datasets.ImageData) -> conditional.CGANRun:
    d = conditional.CGANConfig()
    ctrl.where.markdown("**Conditional DCGAN (projection discriminator)**")
    iters = iterations(ctrl, d.n_iters, lo=50)
    width = ctrl.log_slider("Width (channels of the last hidden map)", "width", 8, 64, d.width, options=[8, 16, 32, 64])
    batch = ctrl.log_slider("Batch size", "batch", 16, 256, d.batch_size, options=[16, 32, 64, 128, 256])
    lr = ctrl.log_slider("Learning rate (both)", "lr", 1e-5, 2e-3, d.lr)
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    cfg = conditional.CGANConfig(width=int(width), batch_size=int(batch), lr=float(lr), n_iters=int(iters), seed=int(seed))
    return conditional.CGANRun(data.name, min(len(data.X_train), 8000), cfg)


def train_cgan(run: conditional.CGANRun, data: datasets.ImageData) -> live.RunResult | None:
    steps = conditional.CGANSteps(run, data, lambda: quality(data.name))
    return live.train_cached(steps, curves=["d_loss", "g_loss", "label_accuracy"], labels=LABELS | {
        "label_accuracy": "label accuracy"}, label="Training the conditional GAN",
        shipped=lambda: shipped_cgan(run, data))


@st.cache_resource(show_spinner=False, max_entries=4)
def shipped_cgan(run: conditional.CGANRun, _data: datasets.ImageData) -> dict | None:
    return conditional.shipped(run, _data)


@st.cache_data(show_spinner="Sampling the class…", max_entries=32)
def cgan_class_samples(key: str, done: int, _result: dict, _data: datasets.ImageData, label: int) -> dict:
    return conditional.class_report(_result, _data, label, quality(_data.name))


def class_rows(result: dict, step: int) -> np.ndarray:
    """The fixed grid at an iteration: one row per class, one column per noise vector, in [0, 1]."""
    return images(result, step)


# ----------------------------------------------------------------------------- CycleGAN

def cycle_controls(ctrl: Controls, data: datasets.ImageData) -> cycle.CycleRun:
    d = cycle.CycleConfig()
    ctrl.where.markdown("**CycleGAN**")
    lam = ctrl.select("Cycle-consistency weight λ", "cyc", [0.0, 1.0, 2.0, 5.0, 10.0, 20.0], d.lambda_cyc,
                      help="0: no cycle loss, only the two adversarial losses: see what it prevents.")
    identity = ctrl.toggle("Identity loss (weight λ/2)", "idt", d.lambda_id > 0,
                           help="Also ask G(b) = b and F(a) = a: each generator leaves images of its own target "
                                "domain alone (keeps stroke thickness and intensity).")
    noise = ctrl.select("Noise before the way back", "cnoise", [0.0, 0.1, 0.2, 0.3, 0.5], d.noise,
                        help="Standard deviation of the noise added to a translation before it is translated back "
                             "(images in [-1, 1]). 0, as in the paper: a translator can keep what the way back needs "
                             "as a faint mark, and the digit itself may change class. No effect at λ = 0.")
    iters = iterations(ctrl, d.n_iters, lo=50)
    width = ctrl.log_slider("Width", "width", 4, 32, d.width, options=[4, 8, 16, 32],
                            help="Channels of the first layer of all four networks; the cost grows as its square.")
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    cfg = cycle.CycleConfig(width=int(width), lambda_cyc=float(lam), lambda_id=0.5 * float(lam) if identity else 0.0,
                            noise=float(noise) if lam else 0.0, n_iters=int(iters), seed=int(seed))
    return cycle.CycleRun(data.name, min(len(data.X_train), 8000), cfg)


@st.cache_resource(show_spinner=False)
def domain_b() -> datasets.ImageData:
    return cycle.upscaled_digits()


@st.cache_resource(show_spinner="Training the classifiers of both domains once (cached on disk)…")
def domain_classifiers(name: str):
    return cycle.classifiers(shell.load_dataset(name), domain_b())


def train_cycle(run: cycle.CycleRun, data: datasets.ImageData, label: str = "Training the CycleGAN"):
    steps = cycle.CycleSteps(run, data, domain_b(), classifiers=lambda: domain_classifiers(data.name))
    return live.train_cached(steps, curves=["g_adv", "cycle", "d_loss"], labels={
        "g_adv": "generators' adversarial loss", "cycle": "cycle-consistency loss", "d_loss": "critics' loss"},
        label=label, shipped=lambda: shipped_cycle(run, data))


@st.cache_resource(show_spinner=False, max_entries=4)
def shipped_cycle(run: cycle.CycleRun, _data: datasets.ImageData) -> dict | None:
    return cycle.shipped(run, _data)


def cycle_ready(run: cycle.CycleRun, data: datasets.ImageData) -> bool:
    """True when the run opens without training (shipped, cached or paused in this session)."""
    return shipped_cycle(run, data) is not None or live.has_run(cycle.CycleSteps(run, data, domain_b()))
