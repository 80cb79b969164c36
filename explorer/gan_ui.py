"""What the GAN pages share: the iterations slider, cached live training of a GAN run (the disk cache, then the
run shipped with the app, then live; a longer run continues the cached shorter one), the quality classifier, curves,
the fixed-noise timeline, quality and failure flags.

The GAN lab's other UI modules: gan_dcgan_ui (data, uploads and the DCGAN's widgets), gan_run_ui (the body of the
single-GAN pages, DiffAugment on and off), gan_latent_ui (the latent space), gan_steps_ui (single D and G steps),
gan_conditional_ui (the conditional GAN) and cycle_ui (the CycleGAN).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import data as datasets
from core.gan import config as gc
from core.gan import diagnosis, latent
from core.gan import images as gi
from core.gan import train as gt
from core.quality import N_EVAL, QualityModel, quality_model
from core.quality_run import QualitySteps
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



def iterations(ctrl: Controls, default: int, lo: int = 20, hi: int = 20000) -> int:
    return ctrl.log_slider("Generator iterations", "iters", lo, hi, default,
                           options=sorted({o for o in gc.ITERATIONS if lo <= o <= hi} | {int(default)}),
                           help="Raising it continues the cached shorter run instead of starting over (a run "
                                "shipped with the app carries no optimiser state: longer runs train from the start).")



def classifier_run(steps: QualitySteps, label: str) -> live.RunResult:
    """A classifier's finished run (core.quality_run): cached or shipped, else trained live (progress and Stop);
    stopped, the page stops until Resume (scores need the whole classifier)."""
    res = live.train_cached(steps, curves=["test_accuracy"], labels={"test_accuracy": "held-out accuracy"}, label=label)
    if res is None or res.status == "stopped":
        st.info(f"{label} was stopped: the scores on this page need it. Press Resume above.")
        st.stop()
    return res


def quality(name: str) -> QualityModel:
    """The dataset's quality classifier and reference statistics (shared: read-only); a cold start trains the
    classifier live (`classifier_run`)."""
    classifier_run(QualitySteps.of(shell.load_dataset(name)), "Training this dataset's quality classifier (once)")
    return _quality(name)


@st.cache_resource(show_spinner="Computing the quality classifier's reference statistics (once, seconds)…")
def _quality(name: str) -> QualityModel:
    return quality_model(shell.load_dataset(name))


def compare_frame(results: dict, table: str, col: str, models=None) -> pd.DataFrame:
    """One column per model: `col` of each run's `table` ("history" or "quality") against the step (empty if none)."""
    rows = [{"step": r["step"], m: r.get(col)} for m, (_, res) in results.items() if models is None or m in models
            for r in res.result[table]]
    return pd.DataFrame(rows).groupby("step", as_index=False).first() if rows else pd.DataFrame(columns=["step"])


def train(run: gc.GANRun, data: datasets.ImageData, label: str = "Training the GAN") -> live.RunResult | None:
    wgan = run.gan.loss in ("wgan", "wgan-gp")
    curves = ["w_estimate", "d_loss", "g_loss"] if wgan else ["d_loss", "g_loss", "d_real", "d_fake", "acc_real",
                                                               "acc_fake"]
    steps = gt.GANSteps(run, data, lambda: quality(data.name) if data.name in datasets.DATASETS else None)  # only if
    return live.train_cached(steps, curves=curves, labels=LABELS, label=label)  # the run trains (no classifier: uploads)


# ----------------------------------------------------------------------------- figures

def images(result: dict, step: int) -> np.ndarray:
    return gi.to_unit(gi.grid_at(result, step))


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
def final_quality(key: str, done: int, label, _result: dict, _data: datasets.ImageData, _qm: QualityModel) -> dict:
    """The run's final generator scored now (core.gan.latent.quality_report, 1,000 samples) by the dataset's quality
    classifier `_qm`: the same definition for shipped runs, whose rows were logged under an earlier reference, and
    for runs trained today."""
    return latent.quality_report(_result, _data, _qm, label)


def current_quality(res: live.RunResult, data: datasets.ImageData, label=None) -> dict | None:
    """The last quality row when it was logged under today's reference (it has "fid_floor_sd"), else the final
    generator re-scored now; None without quality rows."""
    rows = res.result.get("quality") or []
    if not rows:
        return None
    if "fid_floor_sd" in rows[-1] and label is None:
        return rows[-1]
    return final_quality(res.key, res.done, label, res.result, data, quality(data.name))


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


def flags(result: dict, run: gc.GANRun, n_classes: int) -> None:
    out = diagnosis.diagnose(result["history"], result.get("quality"), run.gan.loss, n_classes, one_class=run.label >= 0)
    if not out:
        st.success("No failure flag: D and G are balanced so far and the samples are varied.", icon=":material/check_circle:")
    for name, sentence in out:
        if name == "early":
            st.info(sentence, icon=":material/hourglass_top:")
        else:
            st.warning(sentence, icon=":material/warning:")
