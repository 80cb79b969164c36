"""GAN: the fully connected GAN on MNIST

The exercise's MLP GAN (G 128-256-512-1024 with BatchNorm, D 1024-512-256 with dropout, noise U(-1, 1)), k D steps per G step, live.
"""
from core.gan import config as gc
from explorer import gan_run_ui, gan_ui, shell

pg = shell.page("GAN: the fully connected GAN on MNIST", intro=(
    "**G**: noise U(−1, 1) of size 100 → Dense 128 → 256 → 512 → 1024, each with BatchNorm and LeakyReLU(0.2) → "
    "Dense 784 with tanh. **D**: 784 → Dense 1024 → 512 → 256, each LeakyReLU(0.2) and Dropout(0.3) → one sigmoid "
    "unit. Adam 2e-4, beta1 0.5; k discriminator updates per generator update."))
ctrl = pg.controls
data = shell.dataset(ctrl)
ctrl.where.markdown("**Training**")
iters = gan_ui.iterations(ctrl, gc.presets()["mlp"].gan.n_iters, lo=50)  # the shipped run
k = ctrl.slider("k: D steps per G step", "k", 1, 5, 1)
batch = ctrl.log_slider("Batch size", "batch", 16, 256, 64, options=[16, 32, 64, 128, 256])
lr = ctrl.log_slider("Learning rate (both)", "lr", 1e-5, 2e-3, 2e-4)
loss = ctrl.select("Generator loss", "loss", ["nonsat", "minimax"], "nonsat", horizontal=True,
                   labels={"nonsat": "non-saturating", "minimax": "minimax"})
width = ctrl.log_slider("Width scale of the hidden layers", "width", 0.25, 1.0, 1.0, options=[0.25, 0.5, 1.0],
                        help="1 = the exercise's sizes; 0.5 halves every hidden layer (4x faster).")
seed = ctrl.number("Seed", "seed", 0, 10_000, 0)
run = gc.GANRun(data.name, -1, 8000, gc.mlp_config(iters, width, batch, k, loss, lr, seed))

res = shell.trained_or_stop(lambda: gan_ui.train(run, data, label="Training the MLP GAN"), unit="iteration")
gan_run_ui.show_run(res, run, data, ctrl, "mlp", hints={
    "samples": (
        "A fully connected G has no notion of neighbouring pixels: early samples are speckled, and digits "
        "appear later than with a DCGAN. Look for sharp strokes and for all ten digits among the 64 panels."),
    "curves": (
        "With k > 1 the discriminator gets ahead: D(G(z)) drops and, with the minimax loss, G's gradient vanishes. "
        "Dropout in D keeps it from becoming certain too fast."),
})
