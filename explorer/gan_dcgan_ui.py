"""The DCGAN page's data (CIFAR-10 with an honest fallback, or the student's own images from a ZIP), its class
choice and the DCGAN's widgets."""
from __future__ import annotations

import streamlit as st

from core import data as datasets
from core import uploads
from core.gan import config as gc
from explorer import shell
from explorer.gan_ui import iterations
from explorer.widgets import Controls


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
    return uploads.image_data(s, name), s.skipped


def class_choice(ctrl: Controls, data: datasets.ImageData, default: int = -1) -> int:
    if data.name.startswith("upload-"):
        return -1  # one class: all of them
    classes = data.classes or [str(i) for i in range(10)]
    opts = [-1] + list(range(len(classes)))
    names = {-1: "all classes", **{i: f"{i}: {c}" if c != str(i) else c for i, c in enumerate(classes)}}
    return ctrl.select("Class", "cls", opts, default, labels=names,
                       help="Train on the images of one class only (the exercise: one CIFAR-10 class).")


def dcgan_controls(ctrl: Controls, data: datasets.ImageData, label: int) -> gc.GANRun:
    d = gc.dcgan_config()
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
    cfg = gc.dcgan_config(loss=loss, image_size=int(size), width=int(width), n_iters=int(iters),
                          batch_size=int(batch), lr_g=float(lr_g), lr_d=float(lr_d), beta1=float(beta1),
                          d_steps=int(d_steps), diffaug="color,translation,cutout" if aug else "", seed=int(seed))
    return gc.GANRun(data.name, int(label), 8000, cfg)
