"""GAN playground: the discriminator's field in 2-D

Train a GAN on 2-D data (a ring, a grid, moons, your own points) under six objectives, with play, pause and single steps; see D's field, G's gradients, the optimal D*, the critic's W1 against POT's, and a denoising autoencoder's score field.

Exercise: Why does GAN training go where it goes? In two dimensions the whole discriminator can be drawn. Compare the
minimax and the non-saturating losses where D is confident; check that the best D for a fixed G is p_data / (p_data +
p_g) and that at equilibrium D = 1/2 and V = -log 4; relate the WGAN critic to optimal transport; see what the entropy
term of an energy model trained with a generator does; check that a denoising autoencoder's r(x) - x points along the
score.
"""
import numpy as np
import streamlit as st

from core.playground import objectives as ob
from core.playground import run as pr
from core.playground import score
from core.playground.objectives import LOG_4
from explorer import playground_ui as ui
from explorer import plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
run, target, digest = ui.controls(ctrl)
live = ui.live_run(run, target, digest)
speed = ui.buttons(live)
playing = st.session_state.get(ui.PLAYING, False)
st.caption(f"{ctrl.caption()} · batch {run.batch_size} · opened on: {ui.opened_how()} (↺ Restart: iteration 0)")

tab_train, tab_theory, tab_w, tab_dae, tab_export = shell.tabs(
    ["Training", "Optimal D and equilibrium", "Wasserstein and transport", "DAE score field", "Export"])


@st.fragment(run_every=ui.REDRAW_SECONDS if playing else None)
def training_view() -> None:
    if st.session_state.get(ui.PLAYING, False):
        live.play(speed)
        live.keep_frame()
    h = live.history[-1]
    left, right = st.columns([3, 2])
    with left:
        title = (f"Iteration {live.done} ({live.d_updates} D and {live.g_updates} G updates): "
                 f"{ob.field_name(run.objective)}, real and G's points")
        plots.show_figure(ui.plane_figure(live, title), key="plane", filename="playground-view")
        st.caption("Green: real points; purple: G of a fixed noise sample; orange arrows: the direction G's loss "
                   "moves each point (−∇ of G's loss in x, scaled to one length for the plot); dotted: D = 1/2. "
                   "The camera button saves this view as a PNG.")
    with right:
        plots.show_figure(ui.transformation_figure(live, height=380), key="transform")
        parts = [f"W1 (POT, {run.n_eval} real vs {run.n_eval} fake points): **{h['w1']:.3f}**"]
        if "modes" in h:
            parts.append(f"modes covered: **{h['modes']:.0f} of {len(live.target.means)}**")
        if "value" in h:
            parts.append(f"V(D, G) = **{h['value']:.3f}** (−log 4 = {-LOG_4:.3f})")
        st.markdown(" · ".join(parts) + f" (measured at iteration {h['iteration']}, every {run.measure_every})")
    ui.curves(live, ["loss_d", "loss_g"], "Losses (mean since the previous point)", "losses",
              {"loss_d": "D's loss", "loss_g": "G's loss"})


with tab_train:
    if tab_train.open:
        training_view()
        shell.what_to_look_for(ui.LOOK_FOR[run.objective])

with tab_theory:
    if tab_theory.open:
        if run.objective not in ob.PROBABILITY and run.objective != "lsgan":
            st.info("D* = p_data / (p_data + p_g) is the best discriminator of the minimax, non-saturating and "
                    "least-squares objectives; a critic or an energy has no such optimum. Choose one of those "
                    "objectives.", icon=":material/info:")
        else:
            opt = live.optimal_d()
            c = st.columns(3)
            with c[0]:
                plots.show_figure(ui.field_figure(live, opt["dstar"], "D* = p_data / (p_data + p_g)", "D*"),
                                  key="dstar")
            with c[1]:
                plots.show_figure(ui.field_figure(live, opt["d"], "The trained D", "D"), key="dnow")
            with c[2]:
                plots.show_figure(ui.field_figure(live, opt["d"] - opt["dstar"], "D − D*", "D − D*",
                                                  diverging=True), key="dgap")
            st.markdown(f"Mean |D − D*| where the data has mass (p_data above 10 % of its peak): **{opt['gap']:.3f}**")
            st.caption(f"p_data is the target's exact density; p_g is a Gaussian kernel density of 5,000 of G's "
                       f"points (bandwidth {opt['bandwidth']:.3f}, Scott's rule), which blurs G's sharp features, so "
                       "this gap can err either way. A trained G's true D* is a patchwork: G is piecewise linear, so "
                       "its density jumps wherever it folds the noise plane, and a small smooth D can only blur it "
                       "(trained ring: 0.24 from the true D* after 10,000 D updates; 0.15 even when D's architecture "
                       "is fitted to that D* directly; README). Press **D alone ×200** (G frozen) a few times and "
                       "watch D move toward D*; for an exact check use the button below.")
            if st.button(f"Exact check: a copy of D trained {pr.CHECK_UPDATES:,} updates alone against a G of known "
                         "density (this target with a GAN's flaws)", key="knowng"):
                bar = st.progress(0.0, text="Training a copy of D against the flawed G…")
                chk = live.known_g_check(callback=lambda i, n: bar.progress(i / n, text=f"D update {i:,} of {n:,}"))
                bar.empty()
                c = st.columns(3)
                with c[0]:
                    exact = np.where(chk["support"], chk["dstar"], np.nan)
                    plots.show_figure(ui.field_figure(live, exact, "Exact D* (dots: the flawed G's points)", "D*",
                                                      points=chk["g_points"]), key="kg_dstar")
                with c[1]:
                    title = f"The copy of D after {pr.CHECK_UPDATES:,} updates"
                    plots.show_figure(ui.field_figure(live, chk["d"], title, "D"), key="kg_d")
                with c[2]:
                    plots.show_figure(ui.field_figure(live, np.where(chk["mask"], chk["d"] - chk["dstar"], np.nan),
                                                      "D − D* where the data has mass", "D − D*", diverging=True),
                                      key="kg_gap")
                st.markdown(f"Mean |D − D*| where the data has mass: **{chk['gap_before']:.3f}** before, "
                            f"**{chk['gap']:.3f}** after {pr.CHECK_UPDATES:,} updates (batch {pr.CHECK_BATCH}, "
                            "step size decaying to 1e-5).")
                st.caption("The flawed G draws this target's components rotated by 8°, 5 % farther out, 0.6 times as "
                           "wide, the first one twice as often and the last one never: a mixture of known density, "
                           "so D* = p_data / (p_data + p_g) is exact, with no density estimate (drawn where either "
                           "density has mass). What is left is D's own error (finite training, finite batches, a "
                           "smooth network); the run is not changed.")
            if st.button("Equilibrium: train a copy of D for 300 steps with G's points replaced by real ones",
                         key="eq"):
                eq = live.equilibrium(300)
                plots.show_figure(ui.field_figure(live, eq["field"], "D when p_g = p_data", "D"), key="eqfield")
                st.markdown(f"Mean |D − 1/2| where the data has mass: **{eq['gap']:.3f}** · "
                            f"V(D, G) = **{eq['value']:.3f}** against −log 4 = {-LOG_4:.3f}")
                st.caption("V on 2,000 fresh real and 2,000 fresh 'fake' (also real) points; a finite D trained "
                           "on finite batches stays a little off 1/2, so V is a little below −log 4.")
        shell.what_to_look_for(
            "D* is close to 1 where only data lives and close to 0 where only G's points are; D approaches it as it "
            "trains alone against a frozen G. When G's points are the data, nothing separates them: D flattens to "
            "1/2 and the minimax value to −log 4 ≈ −1.386, the game's equilibrium.")

with tab_w:
    if tab_w.open:
        ui.curves(live, ["w1", "critic_w1"], "W1: POT's exact value and the critic's estimate, same batches", "w1",
                  {"w1": "POT's W1 (ot.emd2)", "critic_w1": "E f(x) − E f(G(z))"})
        h = live.history[-1]
        if run.objective in ob.WASSERSTEIN:
            err = abs(h["critic_w1"] - h["w1"]) / max(h["w1"], 1e-12)
            st.markdown(f"Now: critic's estimate **{h['critic_w1']:.3f}**, POT's W1 **{h['w1']:.3f}** "
                        f"(relative error {err:.0%}).")
        st.caption("Both on the same 512 real and 512 fake points. A 1-Lipschitz critic's estimate is at most POT's W1 "
                   "on those points (Kantorovich-Rubinstein); the gradient penalty keeps the critic's slope near 1, "
                   "weight clipping only bounds it by an unknown constant, so the clipped critic's number is W1 times "
                   "an unknown scale. For the other objectives E f(x) − E f(G(z)) is just D's gap, not a distance.")
        shell.what_to_look_for(
            "Under WGAN-GP the two curves fall together: the critic is a good W1 estimator. Under weight clipping "
            "the estimate has the right trend but the wrong size (change c and see it scale).")

with tab_dae:
    if tab_dae.open:
        sigma = st.select_slider("Noise level sigma of the DAE", [0.02, 0.05, 0.1, 0.2, 0.5, 1.0], value=0.1,
                                 key="sigma", bind="query-params")
        cfg = score.DAEConfig(target=run.target, sigma=float(sigma), seed=run.seed)
        net = ui.dae_model(cfg, digest, target)
        xs, ys, pts = ui.tg.grid(live.extent, 25)
        agree = score.agreement(net, live.target, pts)
        plots.show_figure(ui.score_figure(live, pts, agree["dae"], agree["score"], agree["mask"]), key="score")
        st.markdown(f"Mean cosine between r(x) − x and ∇log p(x) at the {agree['n']} grid points where the density "
                    f"is above 10 % of its peak: **{agree['cosine']:.3f}**")
        st.caption(f"A DAE (2-{cfg.hidden}-{cfg.hidden}-2) trained {cfg.steps:,} Adam steps on fresh target points "
                   "with N(0, sigma²) noise; the exact score is the target's closed form. Near a mode's centre the "
                   "score is almost zero and its direction is decided by tiny differences, so the cosine errs "
                   "downwards there.")
        shell.what_to_look_for(
            "For small sigma the DAE's arrows point where the exact score points: up the density, towards the "
            "nearest mode (Alain & Bengio: r(x) − x ≈ sigma² ∇log p(x)). For large sigma the DAE learns the score "
            "of the blurred density: arrows point to the middle of the data and the cosine falls.")

with tab_export:
    if tab_export.open:
        frames = list(live.frames)
        if len(frames) < 2:
            st.info("Press ▶ Play: the animation keeps the last 60 redraws of the run.", icon=":material/movie:")
        else:
            pictures = [ui.frame_picture(live, f) for f in frames]
            plots.show_animation(pictures, f"Training, the last {len(frames)} redraws", key="anim", ms=150,
                                 width=420)
        st.caption("The camera button above each plot saves it as a PNG.")

if not np.isfinite(live.history[-1]["w1"]):
    st.warning("The run diverged (W1 is not finite): lower the step size or press Restart.")
