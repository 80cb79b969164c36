"""GAN: CycleGAN between two kinds of digits

Unpaired translation between MNIST and scikit-learn's 8x8 digits upscaled to 28x28: both generators, both critics, the cycle-consistency loss on a slider, and whether a translated digit keeps its class.
"""
import numpy as np
import pandas as pd
import streamlit as st

from core.gan import cycle, domains
from explorer import cycle_ui, gan_ui, plots, shell

pg = shell.page("GAN: CycleGAN between two kinds of digits", intro=(
    "**Domain A**: MNIST digits. **Domain B**: scikit-learn's bundled 8x8 digits (other writers, another scanner), "
    "upscaled to 20x20 and centred in 28x28 like MNIST's. No digit of A is paired with one of B. **G: A → B** and "
    "**F: B → A** are trained with two critics D_A, D_B (least-squares GAN losses) and the **cycle-consistency "
    "loss** λ (|F(G(a) + noise) − a|₁ + |G(F(b) + noise) − b|₁), optionally an identity loss (|G(b) − b|₁ + "
    "|F(a) − a|₁). Two judges score the translations: a reader of both domains (does a digit keep its class?) and a "
    "domain classifier (does it look like the other domain?)."))
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "fashion_mnist"), label="Domain A")
shell.require_shape(data, (1, domains.SIDE, domains.SIDE), "CycleGAN between two kinds of digits")
run = cycle_ui.cycle_controls(ctrl, data)
res = shell.trained_or_stop(lambda: cycle_ui.train_cycle(run, data), unit="step")
settings = ctrl.caption()
st.caption(f"{settings} · {res.status_line()}")
q = pd.DataFrame(res.result["quality"])
last, from_history = cycle_ui.last_scores(res, data)
n_a, n_b = min(len(data.X_test), run.cycle.n_eval), min(len(cycle_ui.domain_b().X_test), run.cycle.n_eval)
HOW = (f"Each of {n_a} held-out MNIST digits (A → B) and {n_b} held-out 8x8 digits (B → A) is translated once and "
       "judged by two classifiers: the reader of both domains (does it keep its class?) and the domain judge (does it "
       "look like the target domain?).")
identity = cycle_ui.identity_scores(data.name, run.cycle.n_eval, data) if "joint_ab" in last else {}
if "joint_ab" in last:
    m = st.columns(3)  # the headline: the joint rate each way, and what no translation scores
    m[0].metric("A → B: class kept and looks like B", cycle_ui.pct(last["joint_ab"]), help=HOW + " Counted "
                "when both judges agree, per digit. Errs low where a judge misreads a good translation.")
    m[1].metric("B → A: class kept and looks like A", cycle_ui.pct(last["joint_ba"]), help=HOW + " Counted "
                "when both judges agree, per digit.")
    m[2].metric("Identity map: both (A → B / B → A)", f"{cycle_ui.pct(identity['joint_ab'])} / "
                f"{cycle_ui.pct(identity['joint_ba'])}", help="The same two judges on the same digits, left "
                "untranslated: it keeps the class but does not look like the other domain.")
    m = st.columns(2)  # secondary: each judge alone
    m[0].metric("Class kept, reader alone (A → B / B → A)", f"{cycle_ui.pct(last['preservation_ab'])} / "
                f"{cycle_ui.pct(last['preservation_ba'])}", help="The reader of both domains alone. The identity "
                f"map scores {cycle_ui.pct(identity['preservation_ab'])} / "
                f"{cycle_ui.pct(identity['preservation_ba'])} here without translating anything.")
    m[1].metric("Looks like the target, domain judge alone", f"{cycle_ui.pct(last['looks_b'])} / "
                f"{cycle_ui.pct(last['looks_a'])}", help="G(A) taken for B / F(B) taken for MNIST by the domain "
                "judge alone; a translation to the wrong digit counts here.")
    st.caption(("From the run's last quality row. " if from_history else "The run's history predates the joint "
                "rate: its final translators are scored now (from the shipped float16 weights: the separate rates "
                "may differ by a point from the history's). ") + HOW + " Joint: the share for which both say yes; "
               "it can only be lower than either separate rate.")
elif last:  # no domain judge (another domain A): the readers only
    m = st.columns(3)
    m[0].metric("Label preservation A → B", cycle_ui.pct(last["preservation_ab"]))
    m[1].metric("Label preservation B → A", cycle_ui.pct(last["preservation_ba"]))
    m[2].metric("Both directions", cycle_ui.pct(last["preservation"]))
    st.caption("Each domain's own classifier reads the translations; without a domain judge an untranslated digit "
               "would keep every label, so these rates alone cannot say a translation happened.")

tab_tr, tab_pres, tab_loss, tab_dom = shell.tabs(["Translations", "Label preservation", "Losses", "The two domains"])
ROWS = ["A (MNIST)", "G(A): to B", "F(G(A)): back to A", "B (8x8 upscaled)", "F(B): to A", "G(F(B)): back to B"]
with tab_tr:
    if tab_tr.open:
        steps = [int(g["step"]) for g in res.result["grids"]]
        step = st.select_slider("Timeline: step", steps, value=steps[-1], key="tl-cycle") if len(steps) > 1 else steps[0]
        grid = next(g for g in reversed(res.result["grids"]) if int(g["step"]) <= step)["images"].float().numpy() / 255
        a, b = data.X_test[: cycle.CycleSteps.N_SHOW], cycle_ui.domain_b().X_test[: cycle.CycleSteps.N_SHOW]
        rows = np.concatenate([a, grid[0], grid[1], b, grid[2], grid[3]])  # (6 * 8, 784)
        plots.show_grid(rows, (1, domains.SIDE, domains.SIDE), f"A → B → A and B → A → B at step {step}", key="cycle-grid",
                        ncols=cycle.CycleSteps.N_SHOW, caption="Rows, top to bottom: " + "; ".join(ROWS) +
                        f". Held-out digits of each domain. {settings}")
        shell.what_to_look_for(
            "G should turn an MNIST digit into the same digit drawn as domain B draws it (smoother, blockier strokes "
            "of the upscaled 8x8 scans) and F the reverse; the back-translations should return the input. With "
            "λ = 0 nothing ties a translation to its input: the translations look like the other domain but are often "
            "other digits, and the back-translations do not come back. The faint dotted texture around G's digits "
            "is what G keeps for the way back; the noise added before it (0.3 by default) removes most of it. At "
            "noise 0 look for more: a short stroke under each of F's digits, or a pale box around G's. The translators "
            "shown are the average of the trained ones over about the last quarter of the steps, steadier than "
            "the last step's.")
with tab_pres:
    if tab_pres.open:
        runs = {"with this run's λ": (q, last, from_history)}
        if run.cycle.lambda_cyc != 0:  # the same run without the cycle loss, beside it (shipped for the defaults)
            from dataclasses import replace

            zero = replace(run, cycle=replace(run.cycle, lambda_cyc=0.0, lambda_id=0.0, noise=0.0))
            if cycle_ui.cycle_ready(zero, data) or st.button("Also train this run without the cycle loss (λ = 0)",
                                                           key="cyc0", type="primary"):
                other = cycle_ui.train_cycle(zero, data, label="Training the same CycleGAN without the cycle loss")
                if other is not None:
                    runs["without the cycle loss (λ = 0)"] = (pd.DataFrame(other.result["quality"]),
                                                               *cycle_ui.last_scores(other, data))
        if identity:
            cycle_ui.joint_chart(runs, identity, key="cycle-joint")
            st.caption(HOW + " A curve: the joint rate over training, from the run's history. A diamond: a run "
                       "whose history predates the joint rate, its final translators scored when the page opened. "
                       "Dotted: the identity map's class-keeping rate (what a translator scores without translating); "
                       "dashed: its joint rate. Errs low where a judge misreads a good translation (each reads about "
                       "97 % of real held-out digits), and the domain judge knows only stroke style, not shape.")
        rows = []
        for name, (df, _, _) in runs.items():
            for _, r in df.iterrows():
                rows.append({"step": r["step"], f"A → B, {name}": r["preservation_ab"],
                             f"B → A, {name}": r["preservation_ba"],
                             **({f"G(A) looks like B, {name}": r["looks_b"], f"F(B) looks like A, {name}": r["looks_a"]}
                                if "looks_b" in r else {})})
        table = pd.DataFrame(rows).groupby("step", as_index=False).first()
        looks = [c for c in table.columns if "looks like" in c]
        ys = [c for c in table.columns if c.startswith(("A → B", "B → A"))]
        refs = {"chance": 0.1}
        if identity:
            refs[f"identity map: {cycle_ui.pct(identity['preservation'])}"] = identity["preservation"]
        cols = st.columns(2) if looks else [st.container()]
        if looks:
            with cols[0]:
                gan_ui.show_curves(table, "step", looks, "Do the translations look like the other domain?",
                                   key="cycle-looks", xlabel="training step", ylabel="looks like the target",
                                   markers=True, height=420, refs={
                                       f"identity map: {cycle_ui.pct(identity['looks_b'])} / "
                                       f"{cycle_ui.pct(identity['looks_a'])}": identity["looks_b"]} if identity else None)
        with cols[-1]:
            gan_ui.show_curves(table, "step", ys, "Label preservation over training", key="cycle-pres",
                               xlabel="training step", ylabel="keeps its class", markers=True, refs=refs,
                               height=420)
        st.caption("The separate rates, each from the run's history: each alone can be met without a good "
                   "translation (the identity map keeps the class; any digit drawn the other way looks like it).")
        shell.what_to_look_for(
            "The headline is the joint rate: the translators start as the identity, and every digit keeps its class "
            "(a reader of both domains reads an untranslated digit) while none looks like the other domain, so the "
            "joint rate starts near 0. As they learn, the translations move to the other domain; the cycle loss is "
            "the only term that keeps the class while they do. Without it (λ = 0) the adversarial losses only ask "
            "for outputs that look like the other domain: they all do, but digits come out as other digits, or "
            "every input as the same image (a collapse), and the joint rate stays near chance. Two separate rates "
            "p and q only bound the joint one, between p + q − 1 and the smaller of the two. The domain judge only "
            "tells MNIST's sharp strokes from the upscaled digits' soft ones, so a collapsed scribble can still "
            "\"look like A\": check the Translations tab. The reader of both domains learnt from both training sets "
            "with every batch redrawn (slant, width, strokes, contrast), so it reads a digit of either domain, in "
            "either style (`python tests/benchmarks/bench_gan2.py` prints how well).")
with tab_loss:
    if tab_loss.open:
        hist = res.history
        gan_ui.show_curves(hist, "step", ["g_adv", "d_loss"], "Adversarial losses", key="cycle-adv", xlabel="step",
                           labels={"g_adv": "generators (both)", "d_loss": "critics (both)"})
        gan_ui.show_curves(hist, "step", ["cycle", "identity"], "Cycle-consistency and identity losses",
                           key="cycle-cyc", xlabel="step", ylabel="mean |difference|",
                           labels={"cycle": "cycle", "identity": "identity"})
with tab_dom:
    if tab_dom.open:
        b = cycle_ui.domain_b()
        plots.show_grids([("Domain A: MNIST (training digits)", data.X_train[:32]),
                          ("Domain B: 8x8 digits upscaled (training digits)", b.X_train[:32])],
                         (1, domains.SIDE, domains.SIDE), key="cycle-domains", ncols=8,
                         caption=f"{len(data.X_train[: run.n_train]):,} digits of A and {len(b.X_train):,} of B train "
                                 "the CycleGAN; they come from different collections, and no digit of one is paired "
                                 "with one of the other.")
