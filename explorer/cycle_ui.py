"""CycleGAN page helpers: the widgets, cached live training, the two domains and their judges, the translators'
scores, cached, and the chart of the joint rate.

The joint rate (core.gan.cycle.score_translations) is the headline: per held-out digit, does the translation keep
its class AND look like the target domain? A run trained before that measure existed (the shipped runs) has only
the separate rates in its history; its final translators are scored here once, when the page opens, with the
same judges and the same digits as the identity map (core.gan.cycle.identity_map).
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import data as datasets
from core.gan import cycle, domains, judges
from core.quality import classifier
from core.quality_run import QualitySteps
from explorer import gan_ui, live, plots, shell
from explorer.widgets import Controls

WAYS = {"ab": ("A → B", "looks_b"), "ba": ("B → A", "looks_a")}
COLORS = [{"ab": "#3559c7", "ba": "#e8590c"}, {"ab": "#6741d9", "ba": "#c2255c"}]  # one pair per run shown


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
    iters = gan_ui.iterations(ctrl, d.n_iters, lo=50)
    width = ctrl.log_slider("Width", "width", 4, 32, d.width, options=[4, 8, 16, 32],
                            help="Channels of the first layer of all four networks; the cost grows as its square.")
    seed = ctrl.number("Seed", "seed", 0, 10_000, d.seed)
    cfg = cycle.CycleConfig(width=int(width), lambda_cyc=float(lam), lambda_id=0.5 * float(lam) if identity else 0.0,
                            noise=float(noise) if lam else 0.0, n_iters=int(iters), seed=int(seed))
    return cycle.CycleRun(data.name, min(len(data.X_train), 8000), cfg)


@st.cache_resource(show_spinner=False)
def domain_b() -> datasets.ImageData:
    return domains.upscaled_digits()


@st.cache_resource(show_spinner=False)
def judge_sets(name: str) -> dict:
    """core.gan.judges.judge_sets of the dataset and domain B (shared: never modify the arrays)."""
    return judges.judge_sets(shell.load_dataset(name), domain_b())


def domain_classifiers(name: str) -> judges.Judges:
    """The page's judges (core.gan.judges): each classifier's run cached or shipped, else trained live
    (gan_ui.classifier_run: progress and Stop)."""
    runs = {role: gan_ui.classifier_run(QualitySteps.of(images, cfg), f"Training the {judges.ROLES[role]} (once)")
            for role, (images, cfg) in judge_sets(name).items()}
    return judges.judges_of({role: live.built(res, classifier) for role, res in runs.items()})


def train_cycle(run: cycle.CycleRun, data: datasets.ImageData, label: str = "Training the CycleGAN"):
    steps = cycle.CycleSteps(run, data, domain_b(), classifiers=lambda: domain_classifiers(data.name))
    return live.train_cached(steps, curves=["g_adv", "cycle", "d_loss"], labels={
        "g_adv": "generators' adversarial loss", "cycle": "cycle-consistency loss", "d_loss": "critics' loss"},
        label=label)


def cycle_ready(run: cycle.CycleRun, data: datasets.ImageData) -> bool:
    """True when the run opens without training (shipped, cached or paused in this session)."""
    steps = cycle.CycleSteps(run, data, domain_b())
    return live.shipped_run(steps) is not None or live.has_run(steps)


def has_joint(rows: list[dict]) -> bool:
    """True when a run's quality history holds the joint rate (runs trained before it existed do not)."""
    return bool(rows) and "joint_ab" in rows[-1]


@st.cache_data(show_spinner="Scoring the final translators on held-out digits (a second)…", max_entries=16)
def final_scores(key: str, status: str, done: int, _res: live.RunResult, _data: datasets.ImageData,
                 _judges: judges.Judges) -> dict:
    """cycle.final_scores of a finished run (key, status, done: its identity), with the page's judges."""
    return cycle.final_scores(_res.result, _judges, _data, domain_b())


def identity_scores(name: str, n_eval: int, data: datasets.ImageData) -> dict:
    """The identity map's scores (no translation) on the same held-out digits, with the same judges."""
    return _identity_scores(name, n_eval, data, domain_classifiers(name))


@st.cache_data(show_spinner=False, max_entries=4)
def _identity_scores(name: str, n_eval: int, _data: datasets.ImageData, _judges: judges.Judges) -> dict:
    return judges.score_translations(judges.identity_map, judges.identity_map, _judges, _data, domain_b(), n_eval)


def last_scores(res: live.RunResult, data: datasets.ImageData) -> tuple[dict, bool]:
    """(the run's last scores, True if they come from its history; False: its final translators scored now)."""
    rows = res.result.get("quality", [])
    if has_joint(rows):
        return rows[-1], True
    if not rows:  # trained without judges: nothing to show
        return {}, True
    return final_scores(res.key, res.status, res.done, res, data, domain_classifiers(data.name)), False


def pct(v: float) -> str:
    return f"{v:.1%}"


def higher(last: dict, way: str) -> bool:
    """True for the way whose joint rate is the higher of the two (its label goes above its point, the other's
    below, so two close points keep their labels apart)."""
    other = "ba" if way == "ab" else "ab"
    return last.get(f"joint_{way}", 0) > last.get(f"joint_{other}", 0) or (
        last.get(f"joint_{way}", 0) == last.get(f"joint_{other}", 0) and way == "ab")


def joint_chart(runs: dict[str, tuple[pd.DataFrame, dict, bool]], identity: dict, key: str) -> None:
    """The headline chart: the joint rate each way over training for each run (name -> (quality rows, last scores,
    from history?)); a run without it in its history gets one point, its final translators scored now. The identity
    map's two rates, each way, as flat lines: it keeps the class but never looks like the other domain."""
    fig = go.Figure()
    steps = [float(s) for df, _, _ in runs.values() if "step" in df for s in df["step"]]
    x0, x1 = (min(steps), max(steps)) if steps else (0.0, 1.0)
    table = {}
    for i, (name, (df, last, from_history)) in enumerate(runs.items()):
        for way, (arrow, _) in WAYS.items():
            col, color = f"joint_{way}", COLORS[i % len(COLORS)][way]
            label = f"{arrow}, {name}"
            if from_history and col in df:
                fig.add_trace(go.Scatter(x=df["step"], y=df[col], name=label, mode="lines+markers",
                                         line=dict(color=color, width=2.5)))
                table[label] = dict(zip(df["step"], df[col]))
            elif col in last:
                fig.add_trace(go.Scatter(x=[df["step"].iloc[-1]], y=[last[col]], mode="markers+text",
                                         name=f"{label}: final translators only (scored on opening)",
                                         marker=dict(color=color, size=12, symbol="diamond"), text=[pct(last[col])],
                                         textposition=f"{'top' if higher(last, way) else 'bottom'} left",
                                         textfont=dict(color=color, size=12)))
                table[label + " (final only)"] = {df["step"].iloc[-1]: last[col]}
    for way, (arrow, _) in WAYS.items():
        color = COLORS[0][way]
        for rate, dash, words in ((f"preservation_{way}", "dot", "keeps its class"),
                                  (f"joint_{way}", "dash", "keeps its class AND looks like the target")):
            if rate in identity:
                label = f"identity map (no translation), {arrow}: {words}, {pct(identity[rate])}"
                fig.add_trace(go.Scatter(x=[x0, x1], y=[identity[rate]] * 2, name=label, mode="lines", opacity=0.7,
                                         line=dict(color=color, dash=dash, width=1.5), hoverinfo="name"))
                table[label] = {x0: identity[rate], x1: identity[rate]}
    plots.style(fig, "Per digit: keeps its class AND looks like the target domain", "training step",
                "share of held-out digits", height=520)
    fig.update_yaxes(range=[-0.03, 1.03], tickformat=".0%")
    fig.update_xaxes(range=[x0 - 0.03 * (x1 - x0 or 1), x1 + 0.03 * (x1 - x0 or 1)])
    # a 300 px plot area; under it the x title, then the legend, one long, honest label per row, clear of the title
    area, top, bottom = 300, 50, 80 + 21 * len(fig.data)
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=-62 / area, x=0, xanchor="left",
                                  font=dict(size=12)), margin=dict(l=70, r=20, t=top, b=bottom),
                      height=area + top + bottom, hovermode="closest")
    plots.show_figure(fig, key=f"fig-{key}")
    csv = pd.DataFrame(table).rename_axis("step").reset_index().sort_values("step")
    plots.download_csv(csv, "joint rate per digit", key=f"csv-{key}", label="CSV of this plot")
