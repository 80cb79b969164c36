"""OT: colour transfer

Transfer the colours of one photo to another (yours or the bundled ones) with exact and entropic optimal transport, next to naive pixel swaps and histogram matching.

Exercise: Upload your own images and transfer the colours between the two. Show the results and explain how the colour
histograms are transported; how is this different from non-optimal colour swapping, e.g. just swapping the pixels?
"""
import numpy as np
import pandas as pd
import streamlit as st

from core.transport import color
from core.images import to_png
from explorer import plots, shell, transport_ui

pg = shell.page(__doc__)
ctrl = pg.controls
n_samples = ctrl.log_slider("Pixels sampled per image", "ns", 250, 2000, 1000, options=[250, 500, 1000, 1500, 2000],
                            help="The plans are fitted on this many pixels of each image (the plan is n x n); every "
                                 "other pixel moves like its nearest sampled colours.")
lam = ctrl.log_slider("Sinkhorn λ (POT reg = 1/λ)", "lam", 1, 200, 50,
                      help="Costs are squared RGB distances scaled to a maximum of 1. Small λ pulls every colour "
                           "towards the target's mean colour.")
seed = ctrl.number("Seed", "seed", 0, 10_000, 0)

c1, c2 = st.columns(2)
with c1:
    img_a, name_a = transport_ui.image_input("Image A (default: scikit-learn's china.jpg)", "up_a", "china.jpg")
with c2:
    img_b, name_b = transport_ui.image_input("Image B (default: scikit-learn's flower.jpg)", "up_b", "flower.jpg")


@st.cache_data(show_spinner=False, max_entries=16)
def transfers(src: np.ndarray, tgt: np.ndarray, n: int, lam: float, seed: int) -> color.TransferSet:
    return color.all_transfers(src, tgt, n_samples=n, lam=lam, random_state=seed)


def a_to_b() -> color.TransferSet:
    with st.spinner("Transporting A's colours onto B's…"):
        return transfers(img_a, img_b, int(n_samples), float(lam), int(seed))


def b_to_a() -> color.TransferSet:
    with st.spinner("Transporting B's colours onto A's…"):
        return transfers(img_b, img_a, int(n_samples), float(lam), int(seed))


settings = ctrl.caption()
tabs = shell.tabs(["A with B's colours", "B with A's colours", "Colour clouds (3-D)", "Histograms and distances"])
for tab, (src, tgt, ns, nt, get, tag) in zip(tabs[:2], [(img_a, img_b, name_a, name_b, a_to_b, "ab"),
                                                         (img_b, img_a, name_b, name_a, b_to_a, "ba")]):
    with tab:
        if not tab.open:
            continue
        ts = get()
        d = ts.distances
        row = st.columns(4)
        panels = [(f"Source: {ns} (W₂ {d['source']:.1f})", src), (f"Target colours: {nt}", tgt),
                  (f"Exact OT (W₂ {d['emd']:.1f})", ts.images["emd"]),
                  (f"Sinkhorn OT, λ = {lam:g} (W₂ {d['sinkhorn']:.1f})", ts.images["sinkhorn"])]
        for i, (col, (title, img)) in enumerate(zip(row, panels)):
            with col:
                plots.show_image(img, title, key=f"{tag}-{i}")
        row = st.columns(4)
        for col, key in zip(row[:3], ["swap_random", "swap_brightness", "hist"]):
            with col:
                plots.show_image(ts.images[key], f"{color.METHODS[key]} (W₂ {d[key]:.1f})", key=f"{tag}-{key}")
        with row[3]:
            st.markdown("**Download**")
            for key in ("emd", "sinkhorn", "hist"):
                st.download_button(f"⬇ PNG: {color.METHODS[key]}", to_png(ts.images[key]),
                                   file_name=f"color-transfer-{tag}-{key}.png", mime="image/png",
                                   key=f"png-{tag}-{key}", on_click="ignore")
        st.caption("W₂: the 2-Wasserstein distance between the image's colours and the target's, in grey levels "
                   "(0 = the same colour distribution); see the last tab.")
        sk = ts.info.get("sinkhorn", {})
        st.caption(f"Exact OT: POT `ot.emd` on {n_samples} × {n_samples} sampled pixels; Sinkhorn: {sk.get('solver')}, "
                   f"{sk.get('iterations')} iterations. Both map each sampled colour to the mean of the target colours "
                   f"it is sent to; every pixel then moves like its 8 nearest sampled colours (inverse-distance "
                   f"weights). {settings}")

with tabs[2]:
    if tabs[2].open:
        ab = a_to_b()
        which = st.radio("Result shown", ["emd", "sinkhorn", "swap_random", "hist"], horizontal=True, key="cloud_res",
                         format_func=color.METHODS.get)
        row = st.columns(3)
        for col, (title, img) in zip(row, [(f"Source A: {name_a}", img_a), (f"Target B: {name_b}", img_b),
                                           (f"A recoloured: {color.METHODS[which]}", ab.images[which])]):
            with col:
                plots.show_figure(transport_ui.rgb_cloud(img, title), key=f"cloud-{title}")
        st.caption("2,500 random pixels of each image, drawn at their (R, G, B) position in their own colour. Drag to rotate.")

with tabs[3]:
    if tabs[3].open:
        ab, ba = a_to_b(), b_to_a()
        plots.show_figure(transport_ui.channel_histograms_figure({"source A": img_a, "target B": img_b,
                                                           "exact OT": ab.images["emd"],
                                                           "histogram match": ab.images["hist"]},
                                                          "Per-channel histograms: A recoloured with B's colours"),
                          key="hists")
        rows = []
        for direction, ts in (("A → B's colours", ab), ("B → A's colours", ba)):
            rows.append({"direction": direction, "before (source)": ts.distances["source"],
                         **{color.METHODS[k]: ts.distances[k] for k in color.METHODS}})
        table = pd.DataFrame(rows)
        st.markdown("**2-Wasserstein distance between colour distributions (grey levels, 0-255)**")
        with plots.show_table(table.style.format({c: "{:.1f}" for c in table.columns if c != "direction"}),
                              "2-Wasserstein distance between colour distributions", key="dist", hide_index=True,
                              width="stretch"):
            plots.download_csv(table, "colour-distances", key="csv-dist", label="CSV of the distances")
        st.caption("Computed with `ot.emd2` between the two images' colour histograms (RGB cube in 12³ cells, each cell "
                   "at the mean colour of its pixels), using every pixel.")

shell.what_to_look_for(
    "Optimal transport moves the whole cloud of source colours onto the target's cloud at least total colour change: "
    "similar colours go to similar colours, so the picture keeps its shapes and shading and only its palette changes, "
    "and the distance to the target's colours drops from 'before' to near zero. A random pixel swap has the target's "
    "histogram exactly (distance ≈ 0; not exactly 0 when the target had to be resized) but destroys the image: no colour knows where it came from. The brightness-ranked "
    "swap keeps light and shade but assigns hues arbitrarily. The per-channel histogram match transports R, G and B "
    "separately, so each channel's histogram matches but their correlations do not: colours appear that neither "
    "image has. Small λ (strong entropy) pulls every colour towards the target's mean: a washed-out result.")
