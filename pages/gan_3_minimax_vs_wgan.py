"""GAN: minimax GAN vs WGAN

A fully connected minimax GAN, a WGAN (weight clipping) and a WGAN-GP trained side by side on MNIST with the same generator; the critic's Wasserstein estimate next to sample quality.

Exercise: Train a fully connected minimax GAN and a Wasserstein GAN on MNIST. Compare them over the iterations: do you
see better stability and quality?
"""
import pandas as pd
import streamlit as st

from core.gan import config as gc
from core.gan import transport
from explorer import gan_latent_ui, gan_ui, live, plots, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = shell.dataset(ctrl)
w = ctrl.where
w.markdown("**All three**")
iters = gan_ui.iterations(ctrl, gc.presets()["compare-minimax"].gan.n_iters, lo=50)  # the shipped runs
width = ctrl.log_slider("Width scale (same G for all)", "width", 0.25, 1.0, 0.5, options=[0.25, 0.5, 1.0],
                        help="Hidden sizes of the exercise's G (128-256-512-1024) and D/critic (1024-512-256) times this.")
batch = ctrl.log_slider("Batch size", "batch", 16, 256, 64, options=[16, 32, 64, 128, 256])
seed = ctrl.number("Seed", "seed", 0, 10_000, 0)
which = st.sidebar.multiselect("Models", ["minimax", "wgan", "wgan-gp"], ["minimax", "wgan", "wgan-gp"], key="models",
                               format_func=lambda m: gc.LOSS_NAMES[m], bind="query-params")
w.markdown("**Minimax GAN (Adam)**")
gan_loss = ctrl.select("Generator loss", "gloss", ["minimax", "nonsat"], "minimax", horizontal=True,
                       labels={"minimax": "minimax", "nonsat": "non-saturating"})
lr_gan = ctrl.log_slider("Learning rate", "lr_gan", 1e-5, 1e-3, 2e-4)
w.markdown("**WGAN (RMSprop, weight clipping)**")
clip = ctrl.log_slider("Weight clipping c", "clip", 0.001, 0.1, 0.01, options=[0.001, 0.005, 0.01, 0.02, 0.05, 0.1])
lr_wgan = ctrl.log_slider("RMSprop learning rate", "lr_wgan", 1e-5, 1e-3, 5e-5)
w.markdown("**WGAN-GP (Adam, beta1 0.5, beta2 0.9)**")
gp = ctrl.log_slider("Penalty weight lambda", "lambda", 0.1, 100.0, 10.0, options=[0.1, 1.0, 10.0, 100.0])
lr_gp = ctrl.log_slider("Adam learning rate", "lr_gp", 1e-5, 1e-3, 1e-4)
n_critic = ctrl.slider("Critic steps per G step (both WGANs)", "ncritic", 1, 10, 5)

if not which:
    st.warning("Choose at least one model in the sidebar.")
    st.stop()
configs = gc.comparison_configs(iters, width, batch, seed, gan_loss, lr_gan, clip, lr_wgan, gp, lr_gp, n_critic)
results = {}
for m in which:
    run = gc.GANRun(data.name, -1, 8000, configs[m])
    res = shell.trained_or_stop(lambda: gan_ui.train(run, data, label=f"Training the {gc.LOSS_NAMES[m]}"),
                                unit="iteration")
    results[m] = (run, res)
settings = ctrl.caption()
st.caption(settings + " · " + " · ".join(f"{m}: {r.status_line()}" for m, (_, r) in results.items()))

long_run = iters > 1000  # log-spaced grids and quality rows: read them on a log axis
tab_s, tab_c, tab_q, tab_lat = shell.tabs(["Samples side by side", "Wasserstein estimate and quality",
                                           "Flags and losses", "Latent space"])
with tab_s:
    if tab_s.open:
        steps = sorted(set.intersection(*[{int(g["step"]) for g in r.result["grids"]} for _, r in results.values()]))
        step = st.select_slider("Generator iteration", steps, value=steps[-1], key="cmp-step") if len(steps) > 1 else steps[0]
        shape = gan_ui.grid_shape(next(iter(results.values()))[1].result)
        plots.show_grids([(gc.LOSS_NAMES[m], gan_ui.images(r.result, step)) for m, (_, r) in results.items()], shape,
                         key="cmp-grids", ncols=8, caption=f"Same fixed noise for all, iteration {step}. {settings}")
        shell.what_to_look_for(
            "At equal generator iterations, compare sharpness and variety. The minimax GAN may give crisp digits early "
            "but can collapse to a few digits or stall when D wins; the WGANs improve more steadily. WGAN with "
            "clipping learns slowly with a small c and becomes unstable with a large one; WGAN-GP avoids clipping.")
with tab_c:
    if tab_c.open:
        c1, c2 = st.columns(2)
        with c1:
            df = gan_ui.compare_frame(results, "history", "w_estimate", ("wgan", "wgan-gp"))
            if not df.empty:
                gan_ui.show_curves(df, "step", [m for m in ("wgan", "wgan-gp") if m in df], "Critic's Wasserstein estimate",
                                  key="cmp-w", xlabel="generator iteration", ylabel="E f(x) − E f(G(z))",
                                  labels=dict(gc.LOSS_NAMES))
                st.caption("The clipped critic's estimate is scaled by the clipping (it is K·W for some Lipschitz K): "
                           "compare its shape over iterations, not its size with WGAN-GP's.")
            else:
                st.info("Select a WGAN to see the critic's estimate.")
        with c2:
            dfq = gan_ui.compare_frame(results, "quality", "fid")
            now = {m: gan_ui.current_quality(r, data) for m, (_, r) in results.items()}  # today's definition
            first = next(iter(now.values()))
            if first is not None:
                floor_name = "floor: training digits (split-half)"
                dfq[floor_name] = first["fid_floor"]  # the same for every run
                gan_ui.show_curves(dfq, "step", list(results) + [floor_name], "Frechet distance (lower is better)",
                                   key="cmp-fid", xlabel=f"generator iteration{' (log scale)' if long_run else ''}",
                                   labels=dict(gc.LOSS_NAMES), markers=True, log_x=long_run, log_y=long_run)
                old = any(gan_ui.logged_under_old_reference(r.result) for _, r in results.values())
                st.caption(gan_ui.FLOOR_LINE + f" Floor {first['fid_floor']:.2f} ± {first['fid_floor_sd']:.2f}; final "
                           "generators: " + ", ".join(f"{gc.LOSS_NAMES[m]} {q['fid']:.1f} ({q['fid_spreads']:+.0f} sd)"
                                                       for m, q in now.items()) +
                           f". Against held-out digits (floor {first['fid_heldout_floor']:.2f}, the training digits "
                           f"themselves {first['fid_heldout_of_train']:.1f}): " + ", ".join(
                               f"{gc.LOSS_NAMES[m]} {q['fid_heldout']:.1f}" for m, q in now.items()) + "." +
                           (" The curves were logged while the shipped runs trained, against all training digits' "
                            "statistics (an earlier definition; for these runs within the floor's sd of today's); the "
                            "final figures "
                            "are re-scored now." if old else ""))
        cov = gan_ui.compare_frame(results, "quality", "classes_covered")
        gan_ui.show_curves(cov, "step", list(results), "Classes covered (of 10)", key="cmp-cov",
                           xlabel=f"generator iteration{' (log scale)' if long_run else ''}",
                           labels=dict(gc.LOSS_NAMES), markers=True, log_x=long_run)
        wgans = {m: r for m, (_, r) in results.items() if m in ("wgan", "wgan-gp")}
        rows = [{"model": gc.LOSS_NAMES[m], **row} for m, r in wgans.items()
                for row in (live.built(r, transport.critic_vs_emd, n=500, batches=4) or [])]
        if rows:
            st.markdown("**The final critic against optimal transport** (Kantorovich-Rubinstein: W1 = sup over "
                        "1-Lipschitz f of E f(x) − E f(G(z)))")
            plots.show_table(pd.DataFrame(rows).rename(columns={
                "critic": "critic E f(x) − E f(G(z))", "emd": "W1 by ot.emd2", "ratio": "critic / W1",
                "floor": "W1, real vs other real"}).round(3), "The final critic against optimal transport",
                key="critic-w1", hide_index=True, width="stretch")
            st.caption("How obtained: the final G and critic of each run (a shipped run keeps only those), 4 pairs of "
                       "500 training digits and 500 generated digits; POT's exact W1 (`ot.emd2`, Euclidean cost on the "
                       "32x32 pixels in [−1, 1]) between the same batches. Finite batches in 1,024 dimensions make W1 "
                       "large even between two real batches (last column), so W1 errs far upwards; a 1-Lipschitz "
                       "critic can only be below it, and the clipped critic's number is scaled by its unknown "
                       "Lipschitz constant.")
        st.caption(settings)
        shell.what_to_look_for(
            "A WGAN critic's estimate should fall as the samples improve, so it tracks the Frechet distance: a loss "
            "that means something. The minimax GAN's losses (next tab) do not: they hover or swing while quality "
            "changes.")
with tab_q:
    if tab_q.open:
        for m, (run, res) in results.items():
            st.markdown(f"**{gc.LOSS_NAMES[m]}**")
            gan_ui.flags(res.result, run, len(data.classes))
        if "minimax" in results:
            gan_ui.curves(results["minimax"][1].history, "minimax", "cmp-gan", settings)
with tab_lat:
    if tab_lat.open:
        shown = st.radio("Model", list(results), horizontal=True, key="lat_model", format_func=gc.LOSS_NAMES.get,
                         bind="query-params")
        gan_latent_ui.latent_panel(results[shown][1], data, f"lat-{shown}")
