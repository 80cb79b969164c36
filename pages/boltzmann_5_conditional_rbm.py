"""Conditional RBM: classify and generate digits

A conditional RBM over (x, y): p(y|x) exact by enumerating the outputs through the free energy, trained generatively, discriminatively or both; errors next to scikit-learn's baselines, filters, class-conditional samples, and the sheet's identities checked by enumeration.

Exercise: A conditional RBM has binary inputs x ∈ {0,1}^d, outputs y ∈ {0,1}^c and hidden units h ∈ {0,1}^K with the
energy E(x, y, h) = −xᵀWh − yᵀUh. (a) Show that (i) p(h_k = 1 | x, y) = sigm(xᵀW_:k + yᵀU_:k) and (ii) p(y_j = 1 | h,
x) = sigm(U_j:ᵀh). (b) Show that the free energy is F(x, y) = −Σ_k log(1 + exp(xᵀW_:k + yᵀU_:k)). How can p(y | x) be
computed, and how can the model be trained to classify MNIST digits?
"""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.boltzmann import crbm, crbm_baselines
from core.boltzmann import crbm_enumeration as enumeration
from explorer import boltzmann_ui as ui
from explorer import plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl, allowed=("mnist", "fashion_mnist", "digits"))
run = ui.crbm_controls(ctrl, data)
if not run.modes:
    st.warning("Switch on at least one training mode in the sidebar.")
    st.stop()
res = shell.trained_or_stop(lambda: ui.train_crbm(run, data))
base = ui.train_baselines(ui.baseline_run(run), data)
hist = res.history
modes = [m for m in crbm.MODES if m in run.modes]
_, _, X_test, y_test = crbm.arrays(run, data)
names = ui.code_names(run.output)
n_codes = len(names)
settings = ctrl.caption(["data", "output", "hidden", "epochs", "lr", "batch", "alpha", "k", "pcd", "biases", "wd", "seed"])
st.caption(f"{settings} · {res.status_line()}" + (f" · baselines: {base.status_line()}" if base else ""))
st.caption(f"x = the digit binarised (training: a fresh Bernoulli draw of every gray pixel each epoch; held out: the "
           f"one fixed draw every lab uses); {run.n_train:,} training and {len(y_test):,} held-out digits. The "
           "baselines see the same digits' gray pixels.")


def pick_model(key: str, allowed=None):
    """A radio of the trained modes (when there are several) -> (mode, its CRBM)."""
    allowed = [m for m in (allowed or modes) if m in modes]
    mode = st.radio("Model", allowed, horizontal=True, key=key, bind="query-params",
                    format_func=lambda m: f"{m} CRBM") if len(allowed) > 1 else allowed[0]
    return mode, ui.crbm_model(res, mode)


tab_err, tab_p, tab_filt, tab_gen, tab_curves, tab_der = shell.tabs(
    ["Error", "p(y|x)", "Filters", "Generation", "Training curves", "Derivations"])

with tab_err:
    if tab_err.open:
        last = hist.iloc[-1]
        errors = {f"{m} CRBM": float(last[f"error_{m}"]) for m in modes}
        if base is not None and len(base.result["pred"]) == 2:
            base_errors = crbm_baselines.baseline_errors(base.result, y_test)
            errors.update({crbm_baselines.NAMES[k]: v for k, v in base_errors.items()})
        cols = st.columns(len(errors))
        for col, (name, err) in zip(cols, errors.items()):
            col.metric(name, f"{100 * err:.2f} %", help="Held-out error: argmax p(y | x) is not the digit's code.")
        colors = [plots.PALETTE[i] for i in range(len(modes))] + ["#868e96", "#adb5bd"]
        fig = go.Figure(go.Bar(x=[100 * v for v in errors.values()], y=list(errors), orientation="h",
                               marker_color=colors[: len(errors)], text=[f"{100 * v:.2f} %" for v in errors.values()],
                               textposition="auto"))
        fig.update_yaxes(autorange="reversed")
        plots.show_figure(plots.style(fig, f"Held-out error on {len(y_test):,} digits (lower is better)", "error (%)", "",
                                      height=300, legend=False), key="fig-errors")
        table = pd.DataFrame({"model": list(errors), "held-out error": list(errors.values())})
        plots.download_csv(table, "conditional rbm held-out errors", key="csv-errors", label="CSV of these errors")
        mode, model = pick_model("cm_mode")
        proba = ui.crbm_proba(res.key, res.done, mode, model, X_test)
        cm = crbm.confusion(y_test, proba.argmax(1), n_codes)
        plots.show_figure(ui.confusion_figure(cm, names, f"Confusion matrix of the {mode} CRBM"), key="fig-cm")
        plots.download_csv(pd.DataFrame(cm, columns=names).assign(true=range(10)), f"confusion {mode}", key="csv-cm",
                           label="CSV of the confusion matrix")
        st.caption(f"Most frequent confusions (true → predicted): {ui.top_confusions(cm, names) or 'none'}. "
                   + ("Binary codes: the columns 1010 … 1111 name no digit; a prediction there is an error. "
                      if run.output == "binary" else "") + "Baselines: scikit-learn's LogisticRegression (C = 0.03) on "
                   "the gray pixels, and BernoulliRBM (100 units, learning rate 0.06, 10 epochs) + LogisticRegression "
                   f"(C = 6000), the Pipeline of scikit-learn's RBM example, on the same split. {settings}")
        shell.what_to_look_for(
            "p(y | x) is exact: the free energy F(x, y) of each candidate output is a sum of K softplus terms, and "
            "p(y | x) = exp(−F(x, y)) / Σ_y' exp(−F(x, y')). Trained discriminatively the CRBM is a small neural "
            "network with a special output layer and beats both scikit-learn baselines; trained generatively it "
            "spends its hidden units on modelling the pixels, and classifies worse. The hybrid keeps the "
            "discriminative error while the generative term regularises it. The confusions are digits that share "
            "strokes.")

with tab_p:
    if tab_p.open:
        mode, model = pick_model("p_mode")
        proba = ui.crbm_proba(res.key, res.done, mode, model, X_test)
        c1, c2 = st.columns([2, 1])
        text = c1.text_input("Held-out digits to show (indices, comma-separated)", "0, 1, 2, 3", key="digits",
                             bind="query-params")
        n_amb = c2.slider("Most ambiguous digits", 0, 8, 4, key="n_amb", bind="query-params",
                          help="The held-out digits with the largest entropy of p(y | x).")
        try:
            chosen = [int(s) for s in text.replace(";", ",").split(",") if s.strip()]
            bad = [i for i in chosen if not 0 <= i < len(y_test)]
        except ValueError:
            chosen, bad = [], ["?"]
        if bad:
            st.warning(f"Indices must be whole numbers from 0 to {len(y_test) - 1}; showing the first four digits.")
            chosen = [0, 1, 2, 3]
        ent = -(proba * np.log(np.clip(proba, 1e-300, 1))).sum(1)
        ambiguous = [int(i) for i in np.argsort(-ent)[:n_amb]]
        for label, idxs in (("Chosen digits", chosen[:12]), ("The most ambiguous held-out digits", ambiguous)):
            if not idxs:
                continue
            st.markdown(f"**{label}**")
            for row in range(0, len(idxs), 4):
                cols = st.columns(4)
                for col, i in zip(cols, idxs[row:row + 4]):
                    with col:
                        pred = int(proba[i].argmax())
                        said = str(pred) if pred < 10 else f"{pred:04b} (no digit)"
                        title = f"#{i}: digit {int(y_test[i])}, predicted {said}"
                        plots.show_image(plots.grid_image(X_test[i:i + 1], data.shape, ncols=1, scale=3),
                                         f"Held-out digit {title}", key=f"d-{label[:3]}-{i}", width=84, heading=False)
                        plots.show_figure(ui.proba_figure(proba[i], names, title, int(y_test[i]), plots.PALETTE[0]),
                                          key=f"p-{label[:3]}-{i}")
        rows = chosen[:12] + ambiguous
        plots.download_csv(pd.DataFrame(proba[rows], columns=names).assign(index=rows, label=y_test[rows]),
                           f"p y given x {mode}", key="csv-p", label="CSV of these p(y|x)")
        st.caption("Green bar: the digit's true code. " + ("Codes are labelled by the digit they encode in 4 bits; "
                   "1010 … 1111 encode none. " if run.output == "binary" else "") +
                   f"Held-out digits, binarised as the model sees them. {settings}")
        shell.what_to_look_for(
            "Most digits get nearly all the mass on one code. The ambiguous ones split it between digits that share "
            "strokes (4 and 9, 3 and 5, 1 and 7): look at the image and ask whether you would have known. With the "
            "4-bit code the model can also put mass on codes of no digit.")

with tab_filt:
    if tab_filt.open:
        mode, model = pick_model("f_mode")
        W, U = model.W_.numpy(), model.U_.numpy()
        n = min(100, run.hidden)
        order = np.argsort(-np.abs(U).max(0))[:n]  # the hidden units that the outputs use most
        if data.shape[0] == 1:
            plots.show_filters(W[:, order].T, data.shape, f"Filters W of the {n} hidden units with the largest |U|",
                               key="filters", n=n, ncols=10,
                               caption="Each image is one column W_:k, scaled to its own range (dark: negative, light: positive).")
        plots.show_figure(ui.label_weights_figure(U[:, order], run.output, n), key="fig-U")
        plots.download_csv(pd.DataFrame(U[:, order], columns=[f"h{k}" for k in order]), f"label weights U {mode}",
                           key="csv-U", label="CSV of U")
        st.caption(f"Hidden units sorted by their largest |U_jk|; the same order in both pictures. {settings}")
        shell.what_to_look_for(
            "A unit whose U column is strongly positive for one digit and negative for others votes for that "
            "digit; its filter W shows which strokes make it fire. Generative filters (they must also explain the "
            "pixels) are smooth and look like whole digits or large parts of them; discriminative ones are noisier "
            "detectors of whatever separates the classes in the training digits.")

with tab_gen:
    if tab_gen.open:
        gen_modes = [m for m in ("generative", "hybrid") if m in modes]  # the generative model's samples first
        if not gen_modes:
            st.info("Class-conditional samples come from the generative and hybrid models: switch one of them on.")
        else:
            mode, model = pick_model("g_mode", gen_modes)
            c1, c2, c3 = st.columns(3)
            per_class = c1.slider("Samples per class", 2, 12, 8, key="per_class", bind="query-params")
            steps = c2.select_slider("Gibbs steps", [1, 10, 100, 500, 1000, 2000], 1000, key="steps",
                                     bind="query-params")
            seed = c3.number_input("Sample seed", 0, 10_000, 0, key="gseed", bind="query-params")
            imgs = ui.crbm_generate(res.key, res.done, mode, model, int(per_class), int(steps), int(seed))
            plots.show_grid(imgs, data.shape, f"{mode.capitalize()} CRBM: one row per class, y clamped, x Gibbs-sampled",
                            key="gen", ncols=int(per_class),
                            caption=f"Rows: classes 0-9 (y clamped to the class's code). Each chain starts from uniform "
                                    f"noise and runs {steps} steps of h ~ p(h | x, y), x ~ p(x | h); shown: p(x | h) of "
                                    f"the last step. {settings}")
            shell.what_to_look_for(
                "The generative model has learnt p(x, y), so clamping y and sampling x draws digits of that class "
                "(most rows; some chains fall into a blurred blob or a neighbouring class). The hybrid's generative "
                "weight α is small: most of its chains settle into a blurred average image, and the digits that do "
                "appear often belong to another class. A discriminative model never had to explain the pixels (its "
                "samples are noise, so it is not offered here). Short chains still show the noise they started from.")

with tab_curves:
    if tab_curves.open:
        refs = {}
        if base is not None and len(base.result["pred"]) == 2:
            base_errors = crbm_baselines.baseline_errors(base.result, y_test)
            refs = {crbm_baselines.NAMES[k]: v for k, v in base_errors.items()}
        c1, c2 = st.columns(2)
        with c1:
            plots.show_figure(ui.error_figure(hist, modes, refs), key="c-err")
            plots.download_csv(hist[["epoch"] + [f"error_{m}" for m in modes]], "held-out error against epochs",
                               key="csv-c-err", label="CSV of this plot")
        with c2:
            plots.show_curves(hist, "epoch", [f"log_p_{m}" for m in modes], "Held-out mean log p(y | x)", key="c-logp",
                              ylabel="nats per digit", labels=ui.CRBM_LABELS, markers=True, legend_below=True)
        plots.show_curves(hist, "epoch", [f"train_error_{m}" for m in modes], "Training error (2,000 training digits)",
                          key="c-train", ylabel="error (log scale)", labels=ui.CRBM_LABELS, markers=True, log_y=True,
                          legend_below=True)
        secs = {m: float(hist[f"seconds_{m}"].iloc[-1]) for m in modes}
        st.caption("Training seconds of each mode (its own updates only, wall clock): "
                   + ", ".join(f"{m} {s:.0f} s" for m, s in secs.items()) + ". The training error is measured on the "
                   "first 2,000 training digits; a generative model barely overfits, and on this split those digits are "
                   "harder for it than the held-out ones (the shipped generative model: 14 % on digits 0-1,999, 10 % on "
                   f"6,000-7,999, 9 % held out), so its held-out error can lie below its training error. {settings}")
        shell.what_to_look_for(
            "The discriminative model's training error falls towards 0 while its held-out error levels off: with "
            "8,000 digits it starts to overfit; the cosine decay of the step size settles it. The generative model "
            "improves slowly: it learns to classify only through modelling the pixels.")

with tab_der:
    if tab_der.open:
        st.markdown("**The identities** (no biases, as in the sheet; with biases add c_k, d_j, b to the sums):")
        st.latex(r"E(x,y,h)=-x^\top Wh-y^\top Uh,\qquad p(x,y,h)=\frac{e^{-E(x,y,h)}}{Z}")
        st.latex(r"\text{(a)(i)}\quad p(h_k=1\mid x,y)=\frac{\sum_{h:h_k=1}e^{-E}}{\sum_h e^{-E}}"
                 r"=\mathrm{sigm}\big(x^\top W_{:k}+y^\top U_{:k}\big)\qquad"
                 r"\text{(a)(ii)}\quad p(y_j=1\mid h,x)=\mathrm{sigm}\big(U_{j:}\,h\big)")
        st.latex(r"\text{(b)}\quad F(x,y)=-\log\sum_h e^{-E(x,y,h)}=-\sum_{k=1}^K\log\big(1+e^{x^\top W_{:k}+"
                 r"y^\top U_{:k}}\big),\qquad p(y\mid x)=\frac{e^{-F(x,y)}}{\sum_{y'}e^{-F(x,y')}}")
        st.markdown("**Checked by brute force** on a tiny model: every state (x, y, h) is listed and the sums are done "
                    "literally.")
        c1, c2, c3, c4 = st.columns(4)
        d = c1.slider("d (inputs)", 1, 8, 4, key="td", bind="query-params")
        c = c2.slider("c (outputs)", 1, 4, 2, key="tc", bind="query-params")
        K = c3.slider("K (hidden)", 1, 6, 3, key="tk", bind="query-params")
        tseed = c4.number_input("Weights seed", 0, 10_000, 0, key="tseed", bind="query-params")
        with_b = st.toggle("With biases b, c, d", False, key="tbias", bind="query-params")
        model = enumeration.tiny_model(d, c, K, int(tseed), biases=with_b)

        def bits(label: str, n: int, key: str, default: str) -> list[int]:
            text = st.text_input(f"{label} ({n} bits)", default[:n].ljust(n, "0"), key=key, bind="query-params")
            clean = "".join(ch for ch in text if ch in "01")
            if len(clean) != n:
                st.warning(f"{label}: enter exactly {n} zeros and ones; using {clean[:n].ljust(n, '0')}.")
            return [int(ch) for ch in clean[:n].ljust(n, "0")]

        b1, b2, b3 = st.columns(3)
        with b1:
            x = bits("x", d, "tx", "10110101")
        with b2:
            y = bits("y", c, "ty", "1001")
        with b3:
            h = bits("h", K, "th", "011010")
        tables = ui.tiny_tables(model, x, y, h)
        fmt = {"formula": "{:.12g}", "enumeration": "{:.12g}", "|difference|": "{:.1e}"}
        left, right = st.columns(2)
        with left:
            at_xy = f"x = {''.join(map(str, x))}, y = {''.join(map(str, y))}"
            st.markdown(f"**(a)(i)** at {at_xy}")
            plots.show_table(tables["hidden"].style.format(fmt), f"(a)(i) p(h_k = 1 | x, y) at {at_xy}: formula "
                             "against enumeration", key="tiny-hidden", hide_index=True, width="stretch")
            st.markdown(f"**(b)** at {at_xy}")
            plots.show_table(tables["free"].style.format(fmt), f"(b) F(x, y) at {at_xy}: formula against enumeration",
                             key="tiny-free", hide_index=True, width="stretch")
        with right:
            st.markdown(f"**(a)(ii)** at h = {''.join(map(str, h))} (any x)")
            plots.show_table(tables["output"].style.format(fmt), f"(a)(ii) p(y_j = 1 | h) at h = "
                             f"{''.join(map(str, h))}: formula against enumeration", key="tiny-output",
                             hide_index=True, width="stretch")
            st.markdown(f"**p(y | x)** over all {2 ** c} codes, at x = {''.join(map(str, x))}")
            plots.show_table(tables["pyx"].style.format(fmt), f"p(y | x) over all {2 ** c} codes at x = "
                             f"{''.join(map(str, x))}: formula against enumeration", key="tiny-pyx",
                             hide_index=True, width="stretch")
        worst = max(float(t["|difference|"].max()) for t in tables.values())
        all_rows = pd.concat([t.assign(table=k) for k, t in tables.items()])
        plots.download_csv(all_rows, "crbm identities formula vs enumeration", key="csv-tiny", label="CSV of these tables")
        st.caption(f"{2 ** (d + c + K):,} states enumerated; weights ~ N(0, 1), seed {tseed}. Largest difference: {worst:.1e}.")
        shell.what_to_look_for(
            "Formula and enumeration agree to rounding (about 1e-15): given x and y the hidden units are independent, "
            "so each sum over h factorises into K terms 1 + exp(·), which is why the free energy is a sum of softplus "
            "terms and p(y | x) needs only one free energy per candidate y, never the partition function Z.")
