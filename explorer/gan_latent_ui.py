"""The latent-space panel of a trained generator: interpolation (linear and spherical), a walk along a random
direction, and each sample's nearest training image (core.gan.latent)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import data as datasets
from core.gan import images as gi
from core.gan import latent
from explorer import live, plots, shell
from explorer.gan_ui import quality, show_curves


@st.cache_data(show_spinner="Generating the paths…", max_entries=64)
def _paths(key: str, done: int, label, _res: live.RunResult, seed_a: int, seed_b: int, n: int) -> dict:
    smp = live.built(_res, latent.sampler_for, label=label)  # the run's generator, made once
    za, zb = smp.noise(1, seed_a)[0], smp.noise(1, seed_b)[0]
    out = {}
    for method in ("lerp", "slerp"):
        z = latent.path(za, zb, n, method)  # (n, nz)
        out[method] = gi.to_unit(smp.render(z))
        out[f"{method}_norm"] = z.norm(dim=1).numpy()
    return out


@st.cache_data(show_spinner="Walking…", max_entries=64)
def _walk(key: str, done: int, label, _res: live.RunResult, seed: int, direction: int, radius: float, n: int) -> np.ndarray:
    smp = live.built(_res, latent.sampler_for, label=label)  # the run's generator, made once
    z, _ = latent.walk(smp.noise(1, seed)[0], n, radius, direction)
    return gi.to_unit(smp.render(z))


N_RATIO = 200  # samples and random held-out images of the nearest-neighbour ratio


@st.cache_data(show_spinner="Searching the training images…", max_entries=32)
def _copies(key: str, done: int, label, _res: live.RunResult, _data: datasets.ImageData, seed: int, n: int) -> dict:
    smp = live.built(_res, latent.sampler_for, label=label)  # the run's generator, made once
    native, train, held_out = latent.images_of(_res.result, _data, label)
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
    p = _paths(res.key, res.done, label, res, int(seed_a), int(seed_b), int(n))
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
    walk = _walk(res.key, res.done, label, res, int(seed_a), int(direction), float(radius), 11)
    plots.show_grid(walk, shape, f"A + s·d for s from −{radius:g} to +{radius:g}", key=f"{key}-walk", ncols=11,
                    caption="d: a random unit direction in noise space; the middle image is A itself.")
    st.markdown("**Does the generator copy its training images?**")
    n_copy = 8
    cp = _copies(res.key, res.done, label, res, data, int(seed_a), n_copy)
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
