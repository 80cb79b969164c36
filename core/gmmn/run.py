"""The GMMN run kind (Li, Swersky & Zemel 2015): an MLP generator trained by minimising the MMD between its samples
and the training digits, with a sum of Gaussian kernels of several bandwidths (core.gmmn.mmd), on pixels or on an
autoencoder's code (GMMN+AE).

Generator: noise z ~ U(-1, 1)^nz -> ReLU layers `hidden` -> sigmoid output (784 pixels, or the code). Each iteration
draws `batch_size` training rows (pixels, or their codes) and as many noise vectors, and takes one Adam step on

    loss = sqrt(MMD^2(G(z), x))      (MMD^2: the biased estimator, >= 0; or the unbiased one, clamped at 0)

GMMN+AE (space="code"): first `ae_epochs` epochs of an autoencoder 784 - ae_hidden - code (core.autoencoders.sae's
DeepAutoencoder, sigmoid units, cross-entropy on the gray pixels), then the GMMN on the fixed codes of the training
digits; a sample is the decoder's mean image of G(z). So a run's units are autoencoder epochs (code space) followed
by generator iterations; history rows carry "iteration" (generator iterations so far) and, in the GMMN phase, "mmd"
(the training loss, mean since the last row), "mmd_train" and "mmd_heldout" (sqrt of the biased MMD^2 of
`n_measure` fixed-noise samples against the first `n_measure` training / held-out rows, in the space the GMMN
models). Sample grids of fixed noise ("grids", uint8) at every row of the GMMN phase.

    python -m core.gmmn.run --out assets/gmmn                       # the pixel GMMN's default run, shipped
    python -m core.gmmn.run --preset gmmn_ae --out assets/gmmn_ae   # GMMN+AE's default run, shipped
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import assets, training
from core import data as datasets
from core.autoencoders.sae import DeepAutoencoder
from core.gmmn import mmd

SPACES = ("pixels", "code")


@dataclass
class GMMNRun:
    """A GMMN run (the cache key and the command line's flags)."""

    dataset: str = "mnist"  # see core.data.DATASETS
    n_train: int = 8000  # training digits (the first ones)
    space: str = "pixels"  # "pixels" (GMMN) or "code" (GMMN+AE: the GMMN models an autoencoder's code)
    sigmas: str = "2,5,10,20,40,80"  # kernel bandwidths, comma-separated (the paper's on pixels)
    estimator: str = "biased"  # MMD^2 estimator of the loss: "biased" (>= 0) or "unbiased"
    nz: int = 10  # noise dimensions, z ~ U(-1, 1)
    hidden: str = "64,256,256,1024"  # generator's ReLU layers (the paper's on pixels)
    batch_size: int = 500  # training rows and generated samples per step (the paper: 1,000)
    n_iters: int = 3000  # generator iterations
    lr: float = 1e-3  # Adam step size of the generator
    code: int = 32  # code units of the autoencoder (space="code")
    ae_hidden: int = 512  # hidden units of the autoencoder (space="code")
    ae_epochs: int = 20  # autoencoder epochs before the GMMN (space="code")
    ae_lr: float = 1e-3  # Adam step size of the autoencoder
    log_every: int = 0  # iterations per history row and sample grid (0: n_iters / 20)
    n_measure: int = 1000  # fixed samples and rows of the MMD rows
    seed: int = 0  # initial weights, noise, batches


def presets() -> dict[str, GMMNRun]:
    """The pages' default runs, shipped in assets/<name>: the pixel GMMN and GMMN+AE (Li et al.'s sizes and smaller
    batches, so that each trains in a few CPU minutes). GMMN+AE's autoencoder is the paper's 784-1024-32, trained 50
    epochs at Adam step 3e-3: GMMN+AE's samples are never sharper than its decoder, and at 512 hidden units, 20
    epochs and 1e-3 (one thread, 20 CPU s) its reconstructions of the first 1,000 training digits scored FD 295
    (held-out 198); 1024 units at 1e-3: 64 after 60 epochs; at 3e-3: 118 after 20 epochs, 39 after 40 (core.quality's
    FD against the training halves, floor 1.50). Its codes lie 0.9 (median nearest neighbour) to 2.1 (median pair)
    apart, so the bandwidths run 0.25-4: with 0.5-8 the samples scored FD 88.5 but left digits 6 and 8 under a
    quarter of their share (8 classes covered); with 0.25-4, FD 92.9 and 10 classes."""
    return {"gmmn": GMMNRun(),
            "gmmn_ae": GMMNRun(space="code", sigmas="0.25,0.5,1,2,4", hidden="64,256,256", batch_size=1000,
                               ae_hidden=1024, ae_epochs=50, ae_lr=3e-3)}


def parse_floats(text: str) -> list[float]:
    return [float(t) for t in str(text).split(",") if t.strip()]


def parse_ints(text: str) -> list[int]:
    return [int(t) for t in str(text).split(",") if t.strip()]


def check_run(run: GMMNRun, data: datasets.ImageData) -> None:
    """ValueError for settings that cannot train."""
    if run.space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {run.space!r}")
    if run.estimator not in ("biased", "unbiased"):
        raise ValueError(f"estimator must be 'biased' or 'unbiased', got {run.estimator!r}")
    sig = parse_floats(run.sigmas)
    if not sig or min(sig) <= 0:
        raise ValueError("give at least one bandwidth, all positive")
    if min(parse_ints(run.hidden) or [0]) < 1 or int(run.nz) < 1 or int(run.code) < 1 or int(run.ae_hidden) < 1:
        raise ValueError("layer sizes and the noise dimension must be positive")
    if int(run.batch_size) < 2 or int(run.n_iters) < 1 or int(run.n_measure) < 2:
        raise ValueError("the batch needs two rows, the run one iteration, the measurements two samples")
    if min(int(run.n_train), len(data.X_train)) < 2:
        raise ValueError("no training digits")


class Generator(nn.Module):
    """z (B, nz) -> ReLU layers -> sigmoid output (B, out)."""

    def __init__(self, nz: int, hidden: list[int], out: int):
        super().__init__()
        sizes = [int(nz)] + [int(h) for h in hidden]
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], int(out)), nn.Sigmoid())
        self.nz = int(nz)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def noise(n: int, nz: int, generator: torch.Generator) -> torch.Tensor:
    """z ~ U(-1, 1)^nz, (n, nz), from `generator`."""
    return torch.rand(int(n), int(nz), generator=generator) * 2 - 1


class GMMN(nn.Module):
    """A trained GMMN: the generator and, for GMMN+AE, the autoencoder whose decoder maps codes to pixels."""

    def __init__(self, G: Generator, ae: DeepAutoencoder | None = None):
        super().__init__()
        self.G, self.ae = G, ae

    @torch.no_grad()
    def pixels(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (n, 784) for noise z: G(z), or the decoder's mean image of the code G(z)."""
        out = self.G(z)
        return out if self.ae is None else torch.sigmoid(self.ae.decode_logits(out))


class GMMNSteps(training.TorchSteps):
    """Autoencoder epochs (space="code"), then one generator iteration per unit (the module docstring).
    Snapshot: nets {"G"} (+ "ae"), opts likewise, rng, and "grids" (rows {"step", "iteration", "images" uint8})."""

    kind = "gmmn"
    x = "step"
    unit = "step"

    def __init__(self, run: GMMNRun, data: datasets.ImageData):
        check_run(run, data)
        self.config, self.data = run, data
        self.sigmas = parse_floats(run.sigmas)
        self.ae_units = int(run.ae_epochs) if run.space == "code" else 0

    def total(self) -> int:
        return self.ae_units + int(self.config.n_iters)

    def every(self) -> int:
        return int(self.config.log_every) or max(1, int(self.config.n_iters) // 20)

    def due(self, done: int) -> bool:
        return done <= self.ae_units or (done - self.ae_units) % self.every() == 0

    def message(self, done: int) -> str:
        if done and done <= self.ae_units:
            return f"autoencoder epoch {done}/{self.ae_units}"
        return f"generator iteration {max(0, done - self.ae_units)}/{self.config.n_iters}" if done else "initial state"

    def epoch(self, done: float) -> float:
        return min(float(done), self.ae_units)

    def build(self) -> None:
        run = self.config
        self.Xtr = torch.as_tensor(np.asarray(self.data.X_train[: int(run.n_train)], np.float32))
        self.Xev = torch.as_tensor(np.asarray(self.data.X_test, np.float32))
        d = self.Xtr.shape[1]
        out = int(run.code) if run.space == "code" else d
        G = training.seeded(run.seed, lambda: Generator(run.nz, parse_ints(run.hidden), out))
        self.nets, self.opts = {"G": G}, {"G": torch.optim.Adam(G.parameters(), lr=float(run.lr))}
        if run.space == "code":
            ae = training.seeded(int(run.seed) + 1, lambda: DeepAutoencoder([d, int(run.ae_hidden), int(run.code)]))
            self.nets["ae"], self.opts["ae"] = ae, torch.optim.Adam(ae.parameters(), lr=float(run.ae_lr))
        self.gen = torch.Generator().manual_seed(int(run.seed))
        fixed = torch.Generator().manual_seed(int(run.seed) + 10_000)  # fixed noise: not a draw of the run
        self.z_fixed = noise(int(run.n_measure), run.nz, fixed)
        self.grids: list[dict] = []
        self.codes = None  # the training (and held-out) rows in the GMMN's space, made when the GMMN phase starts
        self.loss_sum, self.loss_n = 0.0, 0

    def extra_state(self) -> dict:
        return {"grids": list(self.grids)}

    def restore_extra(self, snapshot: dict) -> None:
        self.grids = list(snapshot["grids"])

    def model(self) -> GMMN:
        return GMMN(self.nets["G"], self.nets.get("ae"))

    def space_rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(training rows, held-out rows) in the space the GMMN models: pixels, or the autoencoder's codes."""
        if self.codes is None:
            if self.config.space == "code":
                with torch.no_grad():
                    ae = self.nets["ae"]
                    self.codes = (ae.encode(self.Xtr), ae.encode(self.Xev))
            else:
                self.codes = (self.Xtr, self.Xev)
        return self.codes

    def advance(self, done: int) -> None:
        if done < self.ae_units:
            self.ae_epoch()
            return
        run, G, opt = self.config, self.nets["G"], self.opts["G"]
        X, _ = self.space_rows()
        B = int(run.batch_size)
        idx = torch.randperm(len(X), generator=self.gen)[:B]
        z = noise(len(idx), run.nz, self.gen)
        m2 = mmd.mmd2(G(z), X[idx], self.sigmas, unbiased=run.estimator == "unbiased")
        loss = m2.clamp_min(1e-12).sqrt()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.loss_sum, self.loss_n = self.loss_sum + loss.item(), self.loss_n + 1

    def ae_epoch(self) -> None:
        ae, opt, X = self.nets["ae"], self.opts["ae"], self.Xtr
        perm = torch.randperm(len(X), generator=self.gen)
        for i in range(0, len(perm), 100):
            x = X[perm[i:i + 100]]
            loss = F.binary_cross_entropy_with_logits(ae(x), x, reduction="sum") / len(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    @torch.no_grad()
    def measure(self, done: int) -> dict:
        run = self.config
        row = {"iteration": max(0, done - self.ae_units)}
        if self.config.space == "code" and done <= self.ae_units:
            ae, n = self.nets["ae"], int(run.n_measure)
            rec = torch.sigmoid(ae(self.Xev[:n]))
            row["ae_recon"] = float(((rec - self.Xev[:n]) ** 2).sum(1).mean())
            if done < self.ae_units:
                return row
        X, Xev = self.space_rows()
        n = int(run.n_measure)
        fake = self.nets["G"](self.z_fixed)
        row["mmd_train"] = float(mmd.mmd2(fake, X[:n], self.sigmas).clamp_min(0).sqrt())
        row["mmd_heldout"] = float(mmd.mmd2(fake, Xev[:n], self.sigmas).clamp_min(0).sqrt())
        if self.loss_n:
            row["mmd"] = self.loss_sum / self.loss_n
        self.loss_sum, self.loss_n = 0.0, 0
        imgs = self.model().pixels(self.z_fixed[:64])
        self.grids.append({"step": int(done), "iteration": row["iteration"],
                           "images": (imgs * 255).round().to(torch.uint8)})
        return row

    def show(self) -> dict:
        return {"images": self.grids[-1]["images"]} if self.grids else {}

    def data_arrays(self) -> tuple:
        return self.data.X_train[: int(self.config.n_train)], self.data.X_test

    def asset_folder(self):
        """assets/<name> when the config is exactly a page's default run (`presets`), else None."""
        name = next((k for k, v in presets().items() if v == self.config), None)
        return assets.folder(name) if name else None


def model(result: dict, device=None) -> GMMN:
    """The GMMN of a (partial, finished or shipped) run: fresh modules on the CPU in eval mode."""
    run = GMMNRun(**result["config"])
    d = int(result["nets"]["G"][f"net.{2 * len(parse_ints(run.hidden))}.weight"].shape[0]) if run.space == "pixels" \
        else int(result["nets"]["ae"]["enc.0.weight"].shape[1])
    G = Generator(run.nz, parse_ints(run.hidden), int(run.code) if run.space == "code" else d)
    G.load_state_dict(result["nets"]["G"])
    ae = None
    if run.space == "code":
        ae = DeepAutoencoder([d, int(run.ae_hidden), int(run.code)])
        ae.load_state_dict(result["nets"]["ae"])
    return GMMN(G, ae).eval()


def sample(result_or_model, n: int, generator: torch.Generator) -> np.ndarray:
    """n images (n, 784) in [0, 1] of a GMMN (or of a run's result), noise drawn from `generator`."""
    gm = result_or_model if isinstance(result_or_model, GMMN) else model(result_or_model)
    return gm.pixels(noise(n, gm.G.nz, generator)).numpy()


def quality(result_or_model, qm, n: int | None = None, seed: int = 20_000) -> dict:
    """core.quality.QualityModel.report of n (N_EVAL) samples drawn with a generator seeded by `seed`."""
    from core.quality import N_EVAL

    return qm.report(sample(result_or_model, int(n or N_EVAL), torch.Generator().manual_seed(int(seed))))


def one_kernel_routes(result_or_model, X, sigma: float, n: int = 1000, n_features: int = 2000, draws: int = 10,
                      seed: int = 0) -> dict:
    """The MMD^2 (biased) of n samples against the first n rows of X (pixels) with ONE Gaussian kernel of bandwidth
    sigma, by the two routes of core.gmmn.mmd: the kernel sums ("kernel_sum", exact for these samples) and the mean
    embeddings with `n_features` random Fourier features, `draws` independent draws ("features": their mean,
    "features_se": its standard error, "per_draw"). The samples' noise and the features' draws are seeded by `seed`."""
    g = torch.Generator().manual_seed(int(seed))
    S = torch.as_tensor(sample(result_or_model, int(n), g), dtype=torch.float64)
    R = torch.as_tensor(np.asarray(X, np.float64)[: int(n)]).reshape(-1, S.shape[1])
    exact = float(mmd.mmd2(S, R, [float(sigma)]))
    per = []
    for _ in range(int(draws)):
        W, b = mmd.fourier_draw(S.shape[1], float(sigma), int(n_features), g)
        per.append(float(mmd.mmd2_features(mmd.fourier_map(S, W, b), mmd.fourier_map(R, W, b))))
    return {"kernel_sum": exact, "features": float(np.mean(per)),
            "features_se": float(np.std(per, ddof=1) / np.sqrt(len(per))) if len(per) > 1 else float("nan"),
            "per_draw": per, "n": len(S), "n_features": int(n_features), "sigma": float(sigma)}


def parzen_of_samples(result_or_model, X_heldout, n: int = 1000, seed: int = 20_000) -> dict:
    """core.gmmn.parzen.parzen_scores of n samples (noise seeded by `seed`): sigma on the first half of X_heldout,
    scored on the second (as parzen.flaw_demo does for real digits and k-means centroids)."""
    from core.gmmn import parzen

    X_heldout = np.asarray(X_heldout, np.float32)
    half = len(X_heldout) // 2
    S = sample(result_or_model, int(n), torch.Generator().manual_seed(int(seed)))
    return parzen.parzen_scores(S, X_heldout[:half], X_heldout[half:])


def finish(result: dict, data: datasets.ImageData) -> dict:
    """Scores of a finished run for its provenance, with the weights as shipped (float16): the quality report
    (core.quality) of 1,000 samples."""
    from core.quality import quality_model

    shipped = {**result, "nets": {k: {n: v.half().float() for n, v in sd.items()} for k, sd in result["nets"].items()}}
    rep = quality(shipped, quality_model(data))
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in rep.items()}


def main(argv=None):
    return training.main(GMMNSteps, GMMNRun(), argv, "Train a generative moment matching network (pixels or an "
                         "autoencoder's code) and print its MMD every row.", finish=finish, presets=presets())


if __name__ == "__main__":
    main()
