"""CycleGAN (Zhu et al., 2017): unpaired translation between two domains of digits.

Domain A: MNIST digits (28x28). Domain B: scikit-learn's bundled 8x8 digits, another set of writers scanned
another way, upscaled (bilinear) to 20x20 and centred in 28x28 as MNIST's digits are. No image of one domain
is paired with any image of the other. Two generators G: A -> B and F: B -> A, two discriminators D_A, D_B:

    L_GAN(G, D_B) = E_b (D_B(b) - 1)^2 + E_a D_B(G(a))^2          (least squares, as in the paper; the same for F, D_A)
    L_cyc(G, F)  = E_a |F(G(a) + s e) - a|_1 + E_b |G(F(b) + s e') - b|_1   (cycle consistency; e, e' ~ N(0, I))
    L_id(G, F)   = E_b |G(b) - b|_1 + E_a |F(a) - a|_1             (identity, optional)
    generators minimise  E_a (D_B(G(a)) - 1)^2 + E_b (D_A(F(b)) - 1)^2 + lambda_cyc L_cyc + lambda_id L_id

The noise s (0.3 here; 0 in the paper) is added to a translation before it is translated back. Without it a
translator keeps what the way back needs as a faint mark (Chu et al., 2017, "CycleGAN, a master of
steganography"): here a short stroke under each digit, or a pale box around it, and the digit itself may then
change class. With it, only what survives noise comes back: the digit's shape.

The translators shown, judged and shipped are a moving average of the trained ones' weights over about the last
quarter of the steps (Polyak averaging; `CycleConfig.average`): the adversarial game keeps the last weights moving
around a point that their average approaches. Measured on the default run, the average keeps 2 to 3 points more
digits in their class than the last weights at the same "looks like the other domain" share.

Without the cycle term (lambda_cyc = 0) nothing ties G(a) to a: any image that looks like B fools D_B, so a 3
may come out as any digit. Two judges score a translator (`classifiers`, `score_translations`), per held-out digit:
Without the cycle term (lambda_cyc = 0) nothing ties G(a) to a: any image that looks like B fools D_B, so a 3
may come out as any digit. The judges (core.gan.judges) score a translator per held-out digit: does it keep its class
and look like the target domain? The two domains are core.gan.domains.

    python -m core.gan.cycle                     # the page's default run
    python -m core.gan.cycle --preset cyclegan-no-cycle --out assets/gan/cyclegan-no-cycle   # a shipped run
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from core import data as datasets
from core import training
from core.device import pick_device
from core.gan.config import GANConfig, schedule, shorter_runs
from core.gan.domains import SIDE, to_pm, to_unit, upscaled_digits
from core.gan.judges import Judges, classifiers, score_translations
from core.gan.models import init_dcgan_weights
from core.gan.train import ASSET_DIR


# ----------------------------------------------------------------------------- networks

class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.InstanceNorm2d(c, affine=True), nn.ReLU(True),
                                  nn.Conv2d(c, c, 3, 1, 1), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x):
        return x + self.body(x)


class Translator(nn.Module):
    """(B, 1, 28, 28) -> (B, 1, 28, 28) in [-1, 1]: y = tanh(2 x + r(x)), r two stride-2 convolutions, residual
    blocks at 7x7 and two transposed convolutions (the CycleGAN generator, scaled down to 28x28 digits). The two
    domains' digits share their geometry, so each generator predicts a change of its input: it starts near the
    identity (tanh(2x) keeps black and white nearly as they are) and learns the change of style."""

    def __init__(self, width: int = 16, n_res: int = 3):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 5, 1, 2), nn.InstanceNorm2d(w, affine=True), nn.ReLU(True),  # (B, w, 28, 28)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.InstanceNorm2d(2 * w, affine=True), nn.ReLU(True),  # (B, 2w, 14, 14)
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.InstanceNorm2d(4 * w, affine=True), nn.ReLU(True),  # (B, 4w, 7, 7)
            *[ResBlock(4 * w) for _ in range(n_res)],
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.InstanceNorm2d(2 * w, affine=True), nn.ReLU(True),  # 14x14
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.InstanceNorm2d(w, affine=True), nn.ReLU(True),  # 28x28
            nn.Conv2d(w, 1, 5, 1, 2))  # (B, 1, 28, 28): the change, before the squashing

    def forward(self, x):
        return torch.tanh(2 * x + self.net(x))


class PatchCritic(nn.Module):
    """(B, 1, 28, 28) -> (B, 50) least-squares scores: one per overlapping patch of the 7x7 feature map (a small
    PatchGAN, for strokes and texture) and one for the whole image (a linear layer over that map, which knows where
    each patch is). Patches alone cannot tell a stroke in a corner from one in the middle, and a translator then
    hides what the cycle needs as a small mark below the digit; the whole-image score sees it and rejects it."""

    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.InstanceNorm2d(2 * w, affine=True), nn.LeakyReLU(0.2, True))  # 7x7
        self.patch = nn.Conv2d(2 * w, 1, 3, 1, 1)  # (B, 1, 7, 7)
        self.whole = nn.Linear(2 * w * 7 * 7, 1)  # (B, 1)

    def forward(self, x):
        h = self.body(x)  # (B, 2w, 7, 7)
        return torch.cat([self.patch(h).flatten(1), self.whole(h.flatten(1))], 1)  # (B, 49 + 1)


# ----------------------------------------------------------------------------- losses

def cycle_loss(a: torch.Tensor, a_back: torch.Tensor, b: torch.Tensor, b_back: torch.Tensor) -> torch.Tensor:
    """E_a |F(G(a)) - a|_1 + E_b |G(F(b)) - b|_1 (means over pixels and images)."""
    return (a_back - a).abs().mean() + (b_back - b).abs().mean()


def lsgan_d(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    """The discriminator's least-squares loss: mean (D(real) - 1)^2 + mean D(fake)^2, halved."""
    return 0.5 * ((real_score - 1) ** 2).mean() + 0.5 * (fake_score ** 2).mean()


def lsgan_g(fake_score: torch.Tensor) -> torch.Tensor:
    """The generator's least-squares loss: mean (D(G(a)) - 1)^2."""
    return ((fake_score - 1) ** 2).mean()


def generator_loss(G, Fn, D_A, D_B, a, b, lambda_cyc: float, lambda_id: float, noise: float = 0.0,
                   gen: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
    """The generators' objective on a batch a of A and b of B (see the module docstring); the noise on the
    translations before the way back is drawn from `gen`."""
    fake_b, fake_a = G(a), Fn(b)
    adv = lsgan_g(D_B(fake_b)) + lsgan_g(D_A(fake_a))
    loss = adv
    cyc = torch.zeros(())
    if lambda_cyc:
        eb, ea = (float(noise) * torch.randn(t.shape, generator=gen).to(t.device) if noise else 0.0
                  for t in (fake_b, fake_a))
        cyc = cycle_loss(a, Fn(fake_b + eb), b, G(fake_a + ea))
        loss = loss + lambda_cyc * cyc
    idt = torch.zeros(())
    if lambda_id:
        idt = (G(b) - b).abs().mean() + (Fn(a) - a).abs().mean()
        loss = loss + lambda_id * idt
    return loss, {"g_adv": adv.item(), "cycle": cyc.item(), "identity": idt.item()}


# ----------------------------------------------------------------------------- the run

@dataclass
class CycleConfig:
    """Every hyper-parameter of a CycleGAN run (the cache key)."""

    width: int = 8  # channels of the first layer of every network (digits need few: 16 is 4x slower)
    n_res: int = 2  # residual blocks of each generator
    lambda_cyc: float = 10.0  # weight of the cycle-consistency loss (0: none)
    lambda_id: float = 0.0  # weight of the identity loss (CycleGAN: 0.5 lambda_cyc when used; 0: off)
    noise: float = 0.3  # std of the noise on a translation before it is translated back (0: none, as in the paper)
    batch_size: int = 32  # images of each domain per step
    lr: float = 2e-4  # Adam step of all four networks (beta1 0.5)
    n_iters: int = 2000  # steps (each: one generator update of both, one update of each discriminator)
    log_every: int = 0  # steps per metrics row (0: from n_iters)
    grid_every: int = 0  # steps per grid of translations (0: from n_iters)
    quality_every: int = 0  # steps per label-preservation measurement (0: from n_iters)
    n_eval: int = 500  # held-out digits of each domain translated for the label preservation
    average: float = 0.25  # translators shown, judged, shipped: weights averaged over ~this share of steps (0: last)
    channels_last: bool = True  # NHWC memory layout for the convolutions (about 12 % faster on CPU)
    seed: int = 0  # initial weights, batch order


@dataclass
class CycleRun:
    """Domain A (MNIST) and domain B (the upscaled 8x8 digits), and the CycleGAN's settings."""

    dataset: str = "mnist"  # domain A (28x28 digits)
    n_train: int = 8000  # its first n training digits
    cycle: CycleConfig = field(default_factory=CycleConfig)



class CycleSteps(training.TorchSteps):
    """One CycleGAN step per unit: a generator update of G and F, then one update of D_A and of D_B (on
    the current fakes). A metrics row every log_every steps; translations of fixed held-out digits ("grids")
    and the judges' scores of n_eval held-out digits each way ("quality") on the GAN page schedule. Snapshot
    (core.training.TorchSteps): nets {"G", "F", "D_A", "D_B"}, opts {"generators", "critics"}, rng, the averaged
    translators "avg", "grids" and "quality"; a shipped run keeps only the averaged translators (as "nets")."""

    kind = "cyclegan"
    x = "step"
    unit = "step"
    measure_initial = False
    N_SHOW = 8  # held-out digits of each domain in the grids

    def __init__(self, run: CycleRun, data_a: datasets.ImageData, data_b: datasets.ImageData | None = None,
                 classifiers=None, device=None):
        """classifiers: `Judges`, or a function returning them, asked when training starts."""
        if data_a.shape != (1, SIDE, SIDE):
            raise ValueError(f"CycleGAN here translates 28x28 digits; {data_a.title} has shape {data_a.shape}")
        self.config, self.data_a, self.data_b = run, data_a, data_b if data_b is not None else upscaled_digits()
        self._classifiers, self.device = classifiers, device
        c = run.cycle
        self.every = schedule(GANConfig(n_iters=c.n_iters, log_every=c.log_every, grid_every=c.grid_every,
                                        quality_every=c.quality_every))

    @property
    def classifiers(self):
        if callable(self._classifiers):
            self._classifiers = self._classifiers()
        return self._classifiers

    def total(self) -> int:
        return int(self.config.cycle.n_iters)

    def build(self) -> None:
        c = self.config.cycle
        self.dev = pick_device(self.device)
        self.gen = torch.Generator().manual_seed(c.seed)
        self.A = to_pm(self.data_a.X_train[: self.config.n_train]).to(self.dev)  # (nA, 1, 28, 28) in [-1, 1]
        self.B = to_pm(self.data_b.X_train).to(self.dev)  # (nB, 1, 28, 28)
        self.nets = {"G": Translator(c.width, c.n_res), "F": Translator(c.width, c.n_res),
                     "D_A": PatchCritic(c.width), "D_B": PatchCritic(c.width)}
        for net in self.nets.values():
            init_dcgan_weights(net, self.gen)
            net.to(self.dev)
            if c.channels_last:
                net.to(memory_format=torch.channels_last)
        if c.channels_last:
            self.A, self.B = (X.contiguous(memory_format=torch.channels_last) for X in (self.A, self.B))
        self.avg = {k: copy.deepcopy(self.nets[k]).requires_grad_(False) for k in ("G", "F")}  # what is shown
        self.opt_g = torch.optim.Adam(list(self.nets["G"].parameters()) + list(self.nets["F"].parameters()), c.lr,
                                      betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(list(self.nets["D_A"].parameters()) + list(self.nets["D_B"].parameters()), c.lr,
                                      betas=(0.5, 0.999))
        self.opts = {"generators": self.opt_g, "critics": self.opt_d}
        self.show_a, self.show_b = self.data_a.X_test[: self.N_SHOW], self.data_b.X_test[: self.N_SHOW]
        self.acc: dict[str, list] = {}

    def start(self) -> None:
        self.build()
        self.grids, self.qrows = [self.grid(0)], []
        if self.classifiers is not None:
            self.qrows.append(self.quality_row(0))

    def extra_state(self) -> dict:
        return {"avg": {k: copy.deepcopy(v.state_dict()) for k, v in self.avg.items()}, "grids": list(self.grids),
                "quality": list(self.qrows)}

    def restore_extra(self, snapshot: dict) -> None:
        for k, net in self.avg.items():
            net.load_state_dict(snapshot["avg"][k])
        self.grids, self.qrows = list(snapshot["grids"]), list(snapshot["quality"])

    def _batch(self, X: torch.Tensor) -> torch.Tensor:
        idx = torch.randint(0, len(X), (min(self.config.cycle.batch_size, len(X)),), generator=self.gen)
        return X[idx.to(X.device)]

    def advance(self, done: int) -> None:
        c, n = self.config.cycle, self.nets
        a, b = self._batch(self.A), self._batch(self.B)
        loss_g, parts = generator_loss(n["G"], n["F"], n["D_A"], n["D_B"], a, b, c.lambda_cyc, c.lambda_id,
                                       c.noise, self.gen)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self._average(done + 1)
        with torch.no_grad():
            fake_b, fake_a = n["G"](a), n["F"](b)
        loss_d = lsgan_d(n["D_B"](b), n["D_B"](fake_b)) + lsgan_d(n["D_A"](a), n["D_A"](fake_a))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        for k, v in {**parts, "g_loss": loss_g.item(), "d_loss": loss_d.item()}.items():
            self.acc.setdefault(k, []).append(v)
        it = done + 1
        if self.every.grid_at(it):
            self.grids.append(self.grid(it))
        if self.classifiers is not None and self.every.quality_at(it):
            self.qrows.append(self.quality_row(it))

    @torch.no_grad()
    def _average(self, t: int) -> None:
        """avg <- avg + w (theta_t - avg), w = min(1, 1 / (average t)): an exponential moving average whose memory,
        about average * t steps, grows with the run (so a longer run continues a shorter one exactly)."""
        a = float(self.config.cycle.average)
        w = 1.0 if a <= 0 else min(1.0, 1.0 / (a * t))
        for k, avg in self.avg.items():
            for p_avg, p in zip(avg.parameters(), self.nets[k].parameters()):
                p_avg.lerp_(p, w)

    def due(self, done: int) -> bool:
        return done % self.every.log_every == 0

    def measure(self, done: int) -> dict[str, float]:
        m = {k: float(np.mean(v)) for k, v in self.acc.items() if v}
        self.acc = {}
        if self.qrows and self.qrows[-1]["step"] == done:
            m.update({k: v for k, v in self.qrows[-1].items() if k != "step"})
        return m

    @torch.no_grad()
    def translate(self, X, direction: str) -> np.ndarray:
        """Translate flat images in [0, 1] by the averaged translators: "ab" (G), "ba" (F), "aba" (F(G(.))),
        "bab" (G(F(.)))."""
        T = to_pm(X).to(self.dev)
        for step in direction[1:]:  # "ab": G once; "aba": G then F (instance norm: no train/eval difference)
            T = (self.avg["G"] if step == "b" else self.avg["F"])(T)
        return to_unit(T)

    def grid(self, step: int) -> dict:
        """Held-out digits of each domain, translated and translated back, as uint8 (4, N_SHOW, 784)."""
        rows = [self.translate(self.show_a, "ab"), self.translate(self.show_a, "aba"),
                self.translate(self.show_b, "ba"), self.translate(self.show_b, "bab")]
        return {"step": step, "images": torch.as_tensor(np.stack(rows) * 255 + 0.5).clamp(0, 255).to(torch.uint8)}

    def quality_row(self, step: int) -> dict:
        """`score_translations` of the averaged translators on n_eval held-out digits of each domain: the joint
        rates (with a domain judge) and the separate ones."""
        ab, ba = (lambda X: self.translate(X, "ab")), (lambda X: self.translate(X, "ba"))
        return {"step": step, **score_translations(ab, ba, self.classifiers, self.data_a, self.data_b,
                                                   self.config.cycle.n_eval)}

    def message(self, done: int) -> str:
        return f"step {done}/{self.total()}"

    def continues(self) -> list:
        return shorter_runs(self.config, "cycle")

    def data_arrays(self) -> tuple:
        return self.data_a.X_train[: self.config.n_train], self.data_b.X_train, self.data_a.X_test, self.data_b.X_test

    def shippable(self, snapshot: dict) -> dict:
        """The two averaged translators (as "nets"; the raw ones, critics and optimiser states stay behind), grids,
        history and quality."""
        return {**{k: v for k, v in super().shippable(snapshot).items() if k != "avg"}, "nets": dict(snapshot["avg"])}

    def asset_folder(self):
        """assets/gan/<name> when the config is exactly one of `presets`, else None."""
        name = next((k for k, v in presets().items() if v == self.config), None)
        return ASSET_DIR / name if name else None


def translators(result: dict) -> tuple[Translator, Translator]:
    """(G: A -> B, F: B -> A) of a run (the averaged ones, as shown during training), CPU, eval mode."""
    c = CycleConfig(**result["config"]["cycle"])
    G, Fn = Translator(c.width, c.n_res), Translator(c.width, c.n_res)
    nets = result.get("avg", result["nets"])  # a cached run has both; a shipped one only the averaged, as "nets"
    G.load_state_dict(nets["G"])
    Fn.load_state_dict(nets["F"])
    return G.eval(), Fn.eval()


def translate_with(net: nn.Module, batch: int = 500) -> Callable[[np.ndarray], np.ndarray]:
    """The translate function of one translator (e.g. G of `translators`): flat images in [0, 1] (n, 784) -> their
    translations, flat, in [0, 1], in batches, without gradients."""
    dev = next(net.parameters()).device

    @torch.no_grad()
    def translate(X) -> np.ndarray:
        X = np.asarray(X, np.float32)
        return np.concatenate([to_unit(net(to_pm(X[i:i + batch]).to(dev))) for i in range(0, len(X), batch)]
                              or [np.zeros((0, SIDE * SIDE), np.float32)])

    return translate


def final_scores(result: dict, judges: "Judges", data_a: datasets.ImageData, data_b: datasets.ImageData) -> dict:
    """`score_translations` of a finished run's translators (`translators`; a shipped one included) on the run's
    n_eval held-out digits: the joint rate of a run whose quality history predates it."""
    G, Fn = translators(result)
    n = CycleConfig(**result["config"]["cycle"]).n_eval
    return score_translations(translate_with(G), translate_with(Fn), judges, data_a, data_b, n)


def presets() -> dict[str, CycleRun]:
    """The page's default run, and the same without the cycle loss (shown beside it)."""
    return {"cyclegan": CycleRun(), "cyclegan-no-cycle": CycleRun(cycle=CycleConfig(lambda_cyc=0.0, noise=0.0))}


def main(argv=None):
    return training.main(lambda run, data: CycleSteps(run, data, classifiers=lambda: classifiers(
        data, upscaled_digits())), CycleRun(), argv, "Train the CycleGAN between MNIST and the upscaled 8x8 digits.",
        presets=presets())


if __name__ == "__main__":
    main()
