"""GAN: DCGAN on one class

Train a DCGAN by Radford et al.'s guidelines on one class, watch D and G compete live, scrub a fixed-noise timeline, step D and G by hand.

Exercise: Select one class from CIFAR-10 and train a DCGAN following the architecture guidelines of Radford et al.
Train long enough to generate realistic images. Monitor the loss and accuracy of the generator vs discriminator and
comment on the stability of training.
"""
import streamlit as st

from core.gan.models import DCGAN_GUIDELINES
from explorer import gan_dcgan_ui, gan_run_ui, gan_ui, shell

pg = shell.page(__doc__)
ctrl = pg.controls
data = gan_dcgan_ui.dcgan_dataset(ctrl)
label = gan_dcgan_ui.class_choice(ctrl, data, default=7 if data.name == "cifar10" else 3)
run = gan_dcgan_ui.dcgan_controls(ctrl, data, label)

with st.expander("Radford et al.'s guidelines, as built here", expanded=False):
    st.markdown("\n".join(f"- **{name}**: {text}" for name, text in DCGAN_GUIDELINES))

res = shell.trained_or_stop(lambda: gan_ui.train(run, data, label="Training the DCGAN"), unit="iteration")
gan_run_ui.show_run(res, run, data, ctrl, "dcgan", diffaug_tab=True, hints={
    "samples": (
        "Early grids are noise, then blobs on the right background, then strokes, then shapes of the class. "
        "The same noise vector keeps roughly the same image once G has settled; images that keep changing "
        "identity late in training are a sign of oscillation. Several panels showing the same picture is mode "
        "collapse."),
    "curves": (
        "GAN losses do not go down together: D and G play a game. Stable training keeps D(x) above D(G(z)) "
        "without D winning outright: accuracy near 1 on both real and fake with D(G(z)) near 0 means D "
        "overpowers G (G's gradients vanish, worst with the minimax loss); losses that swing by large amounts "
        "from one point to the next are oscillation. Compare several seeds or D steps per G step."),
    "quality": (
        "The Frechet distance should fall from the noise ceiling towards the floor (what random training images of "
        "the class score against the other half of them); classes covered and diversity catch mode collapse that a "
        "low loss hides."),
    "step": (
        "Like GAN Lab: press D step a few times and watch D(G(z)) fall while the samples stay the same, then "
        "G step and watch D(G(z)) rise as the samples move towards what D calls real. ■ Stop pauses the "
        "training above and ▶ Resume plays on from the same point."),
})
