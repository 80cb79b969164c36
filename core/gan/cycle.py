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
does a reader of both domains put the translation in the source digit's class ("keeps its class"), and does a
domain classifier take it for the target domain ("looks like B")? The headline is the joint rate, the share of
digits for which both hold:

    joint_ab = (1/n) sum_i [reader(G(a_i)) = y_i] * [domain(G(a_i)) = B]      (the same for F on B, "joint_ba")

Each separate rate can be met by a translator that does not translate: the identity map keeps about 96 % of the
classes (the reader reads both domains) and looks like the other domain almost never; a map to any digit drawn as
B looks like B and keeps 10 %. Two separate rates p and q only bound the joint one: max(0, p + q - 1) <= joint <=
min(p, q). `score_translations` scores any pair of translate functions, the identity map included
(`identity_map`), on the same held-out digits.

    python -m core.gan.cycle                     # the page's default run
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import data as datasets
from core import training
from core.gan import train as gt
from core.device import pick_device
from core.gan.models import init_dcgan_weights

SIDE = 28
INNER = 20  # the 8x8 digits are upscaled to INNER x INNER and padded to SIDE x SIDE (MNIST's layout)


def upscaled_digits() -> datasets.ImageData:
    """scikit-learn's 8x8 digits, upscaled to 20x20 (bilinear) and centred in 28x28: domain B, with its own split."""
    d = datasets.load("digits")
    pad = (SIDE - INNER) // 2

    def up(X):
        T = torch.as_tensor(X).reshape(-1, 1, 8, 8)
        T = F.interpolate(T, size=(INNER, INNER), mode="bilinear", align_corners=False).clamp(0, 1)
        return F.pad(T, (pad, pad, pad, pad)).reshape(len(X), -1).numpy()  # (n, 784)

    return datasets.ImageData("digits28", up(d.X_train), d.y_train, up(d.X_test), d.y_test, (1, SIDE, SIDE),
                              list(d.classes), "scikit-learn's 8x8 digits, upscaled to 20x20 in a 28x28 frame",
                              "8x8 digits upscaled to 28x28 (domain B)")


def render_as_b(X) -> np.ndarray:
    """28x28 digits (n, 784) in [0, 1] drawn the way domain B is made: the central 20x20 box averaged down to 8x8,
    scaled to a maximum of 1, upscaled bilinearly to 20x20 and centred in 28x28. A hand-made translation that keeps
    every class: what the judge of A -> B reads of it is a reference for a good A -> B translation."""
    T = torch.as_tensor(np.asarray(X, np.float32)).reshape(-1, 1, SIDE, SIDE)
    pad = (SIDE - INNER) // 2
    small = F.adaptive_avg_pool2d(T[:, :, pad:pad + INNER, pad:pad + INNER], 8)  # (n, 1, 8, 8)
    small = small / small.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    up = F.interpolate(small, size=(INNER, INNER), mode="bilinear", align_corners=False).clamp(0, 1)
    return F.pad(up, (pad, pad, pad, pad)).reshape(len(T), -1).numpy()


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


def _to_pm(X) -> torch.Tensor:
    return torch.as_tensor(np.asarray(X, np.float32)).reshape(-1, 1, SIDE, SIDE) * 2 - 1  # [0, 1] -> [-1, 1]


def _to_unit(T: torch.Tensor) -> np.ndarray:
    return ((T.detach().float().cpu() + 1) / 2).clamp(0, 1).reshape(len(T), -1).numpy()


class CycleSteps(training.Steps):
    """One CycleGAN step per unit: a generator update of G and F, then one update of D_A and of D_B (on
    the current fakes). A metrics row every log_every steps; translations of fixed held-out digits ("grids")
    and the label preservation of n_eval held-out digits each way ("quality") on the GAN page schedule."""

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
        self.every = gt.schedule(gt.GANConfig(n_iters=c.n_iters, log_every=c.log_every, grid_every=c.grid_every,
                                              quality_every=c.quality_every))

    @property
    def classifiers(self):
        if callable(self._classifiers):
            self._classifiers = self._classifiers()
        return self._classifiers

    def total(self) -> int:
        return int(self.config.cycle.n_iters)

    def _build(self) -> None:
        c = self.config.cycle
        self.dev = pick_device(self.device)
        self.gen = torch.Generator().manual_seed(c.seed)
        self.A = _to_pm(self.data_a.X_train[: self.config.n_train]).to(self.dev)  # (nA, 1, 28, 28) in [-1, 1]
        self.B = _to_pm(self.data_b.X_train).to(self.dev)  # (nB, 1, 28, 28)
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
        self.show_a, self.show_b = self.data_a.X_test[: self.N_SHOW], self.data_b.X_test[: self.N_SHOW]
        self.acc: dict[str, list] = {}

    def start(self) -> None:
        self._build()
        self.grids, self.qrows = [self.grid(0)], []
        if self.classifiers is not None:
            self.qrows.append(self.quality_row(0))

    def restore(self, snapshot: dict) -> None:
        self._build()
        for k, net in self.nets.items():
            net.load_state_dict(snapshot["nets"][k])
        for k, net in self.avg.items():
            net.load_state_dict(snapshot["avg"][k])
        self.opt_g.load_state_dict(snapshot["opt_g"])
        self.opt_d.load_state_dict(snapshot["opt_d"])
        self.gen.set_state(snapshot["rng"])
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
        T = _to_pm(X).to(self.dev)
        for step in direction[1:]:  # "ab": G once; "aba": G then F (instance norm: no train/eval difference)
            T = (self.avg["G"] if step == "b" else self.avg["F"])(T)
        return _to_unit(T)

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

    def show(self) -> dict:
        return {"images": self.grids[-1]["images"]}

    def state(self) -> dict:
        return {"nets": {k: copy.deepcopy(v.state_dict()) for k, v in self.nets.items()},
                "avg": {k: copy.deepcopy(v.state_dict()) for k, v in self.avg.items()},
                "opt_g": copy.deepcopy(self.opt_g.state_dict()), "opt_d": copy.deepcopy(self.opt_d.state_dict()),
                "rng": self.gen.get_state().clone(), "grids": list(self.grids), "quality": list(self.qrows)}

    def continues(self) -> list:
        n = self.config.cycle.n_iters
        return [replace(self.config, cycle=replace(self.config.cycle, n_iters=m)) for m in sorted(gt.ITERATIONS, reverse=True)
                if m < n]

    def data_arrays(self) -> tuple:
        return self.data_a.X_train[: self.config.n_train], self.data_b.X_train, self.data_a.X_test, self.data_b.X_test

    def shippable(self, snapshot: dict) -> dict:
        """The two averaged translators (as "nets"; the raw ones, critics and optimiser states stay behind), grids,
        history and quality."""
        return {**{k: v for k, v in snapshot.items() if k not in ("nets", "avg", "opt_g", "opt_d", "rng")},
                "nets": dict(snapshot["avg"])}


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
        return np.concatenate([_to_unit(net(_to_pm(X[i:i + batch]).to(dev))) for i in range(0, len(X), batch)]
                              or [np.zeros((0, SIDE * SIDE), np.float32)])

    return translate


def identity_map(X) -> np.ndarray:
    """The translation that does not translate: each image unchanged (flat, float32). The reference of every rate."""
    return np.asarray(X, np.float32).reshape(len(X), -1)


def eval_digits(data_a: datasets.ImageData, data_b: datasets.ImageData, n_eval: int) -> tuple:
    """(xa, ya, xb, yb): the first n_eval held-out digits of each domain (B has 360), on which every translate
    function is scored."""
    n = int(n_eval)
    return data_a.X_test[:n], data_a.y_test[:n], data_b.X_test[:n], data_b.y_test[:n]


def judge_each(images, labels, reader, domain=None, target: int = 1) -> dict[str, np.ndarray]:
    """Per image (boolean arrays of length n): "keeps" (the reader's most probable class is the label), and with a
    domain judge "looks" (its most probable domain is `target`: 0 for A, 1 for B) and "both" (keeps and looks)."""
    out = {"keeps": reader.predict_proba(images).argmax(1) == np.asarray(labels)}
    if domain is not None:
        out["looks"] = domain.predict_proba(images).argmax(1) == int(target)
        out["both"] = out["keeps"] & out["looks"]
    return out


def score_translations(ab: Callable, ba: Callable, judges: "Judges", data_a: datasets.ImageData,
                       data_b: datasets.ImageData, n_eval: int = 500) -> dict[str, float]:
    """Score a pair of translate functions (flat images in [0, 1] -> flat images in [0, 1]; e.g. `translate_with(G)`,
    or `identity_map` for no translation) on `eval_digits`, each image judged once (`judge_each`):

        joint_ab       = mean_i [reader(ab(a_i)) = y_i and domain(ab(a_i)) = B]   the headline, A -> B
        joint_ba       = mean_j [reader(ba(b_j)) = y_j and domain(ba(b_j)) = A]   B -> A
        preservation_* = mean [reader(.) = y]    looks_b, looks_a = mean [domain(.) = target]   the separate rates

    joint, preservation: the two ways' mean. Without a domain judge (judges.domain None) only the preservation."""
    xa, ya, xb, yb = eval_digits(data_a, data_b, n_eval)
    ea = judge_each(ab(xa), ya, judges.b, judges.domain, target=1)
    eb = judge_each(ba(xb), yb, judges.a, judges.domain, target=0)
    row = {}
    if judges.domain is not None:
        row.update(joint_ab=float(ea["both"].mean()), joint_ba=float(eb["both"].mean()))
        row["joint"] = (row["joint_ab"] + row["joint_ba"]) / 2
    row.update(preservation_ab=float(ea["keeps"].mean()), preservation_ba=float(eb["keeps"].mean()))
    row["preservation"] = (row["preservation_ab"] + row["preservation_ba"]) / 2
    if judges.domain is not None:
        row.update(looks_b=float(ea["looks"].mean()), looks_a=float(eb["looks"].mean()))
    return row


def final_scores(result: dict, judges: "Judges", data_a: datasets.ImageData, data_b: datasets.ImageData) -> dict:
    """`score_translations` of a finished run's translators (`translators`; a shipped one included) on the run's
    n_eval held-out digits: the joint rate of a run whose quality history predates it."""
    G, Fn = translators(result)
    n = CycleConfig(**result["config"]["cycle"]).n_eval
    return score_translations(translate_with(G), translate_with(Fn), judges, data_a, data_b, n)


def reader_digits(data_a: datasets.ImageData, data_b: datasets.ImageData) -> datasets.ImageData:
    """The training digits of both domains in one set (B's 1,437 repeated three times, so each domain weighs about as
    much), held out: both domains' held-out digits. The translators' evaluation digits are held out here too."""
    reps = max(1, round(len(data_a.X_train) / len(data_b.X_train) / 2))
    return datasets.ImageData(
        f"{data_a.name}+{data_b.name}", np.concatenate([data_a.X_train] + [data_b.X_train] * reps),
        np.concatenate([data_a.y_train] + [data_b.y_train] * reps), np.concatenate([data_a.X_test, data_b.X_test]),
        np.concatenate([data_a.y_test, data_b.y_test]), data_a.shape, list(data_a.classes),
        f"{data_a.title} and {data_b.title}, read by one classifier")


READER = {"epochs": 12, "augment": True}  # the reader of both domains: core.quality.ClassifierConfig fields
DOMAIN = {"epochs": 2}  # the domain judge (A or B?): an easy question


def domain_digits(data_a: datasets.ImageData, data_b: datasets.ImageData,
                  d: datasets.ImageData | None = None) -> datasets.ImageData:
    """The same images as `reader_digits` (or `d`, its result), labelled by domain: 0 for A, 1 for B."""
    d = d if d is not None else reader_digits(data_a, data_b)
    n_a, n_a_test = len(data_a.X_train), len(data_a.X_test)
    y = (np.arange(len(d.X_train)) >= n_a).astype(np.int64)
    y_test = (np.arange(len(d.X_test)) >= n_a_test).astype(np.int64)
    return datasets.ImageData(f"{d.name}:domain", d.X_train, y, d.X_test, y_test, d.shape,
                              [data_a.title, data_b.title], f"{data_a.title} or {data_b.title}?")


@dataclass(frozen=True)
class Judges:
    """Who scores a translation: `a` reads F(B) (as digits of A), `b` reads G(A), `domain` (optional) says which
    domain an image looks like (class 0: A, class 1: B). core.quality.QualityModel instances."""

    a: object
    b: object
    domain: object = None


JUDGES_DIR = gt.ASSET_DIR / "cyclegan-judges"  # the default judges, shipped (about a minute to train on a CPU)


def judges_config() -> dict:
    """What the shipped judges must have been trained with: both core.quality.ClassifierConfig, as dicts."""
    from core.quality import ClassifierConfig

    return {"reader": asdict(ClassifierConfig(**READER)), "domain": asdict(ClassifierConfig(**DOMAIN))}


def judges_fingerprint(both: datasets.ImageData, dom: datasets.ImageData) -> str:
    """SHA-256 of what the judges learnt from and were tested on (`reader_digits`, `domain_digits`)."""
    from core import assets

    return assets.fingerprint(both.X_train, both.y_train, both.X_test, both.y_test, dom.y_train, dom.y_test)


def shipped_judges(both: datasets.ImageData, dom: datasets.ImageData, folder=JUDGES_DIR) -> Judges | None:
    """The shipped reader and domain judge (float16 weights) if made with `judges_config` on exactly these
    images, else None."""
    from core import assets
    from core.quality import QualityModel

    got = assets.shipped(folder, judges_config(), judges_fingerprint(both, dom))
    if got is None:
        return None
    try:
        reader, domain = QualityModel(got["reader"]), QualityModel(got["domain"])
    except (KeyError, RuntimeError):  # another classifier architecture since: train instead
        return None
    return Judges(reader, reader, domain)


def ship_judges(data_a: datasets.ImageData | None = None, data_b: datasets.ImageData | None = None, out=JUDGES_DIR):
    """Train (or take from the cache) the default judges and write them as a shipped asset: the CycleGAN page
    then scores its shipped translators at once: python -c "from core.gan import cycle; cycle.ship_judges()"
    (domain A: MNIST, domain B: `upscaled_digits`, when data_a, data_b are None)."""
    import datetime
    import platform

    from core import CODE_VERSION, assets
    from core.quality import ClassifierConfig, quality_model

    data_a = data_a if data_a is not None else datasets.load("mnist")
    data_b = data_b if data_b is not None else upscaled_digits()
    both = reader_digits(data_a, data_b)
    dom = domain_digits(data_a, data_b, both)
    judges = {"reader": quality_model(both, ClassifierConfig(**READER)),
              "domain": quality_model(dom, ClassifierConfig(**DOMAIN))}
    keep = ("weights", "shape", "classes", "test_accuracy")  # what judging needs (no Frechet references)
    result = {"config": judges_config(), **{k: {f: q.state[f] for f in keep} for k, q in judges.items()}}
    prov = {"command": 'python -c "from core.gan import cycle; cycle.ship_judges()"',
            "kind": "cyclegan-judges", "config": judges_config(), "code_version": CODE_VERSION,
            "data_sha256": judges_fingerprint(both, dom),
            "test_accuracy": {k: q.test_accuracy for k, q in judges.items()}, "torch": torch.__version__,
            "python": platform.python_version(), "date": datetime.date.today().isoformat()}
    return assets.save(out, result, prov)


def classifiers(data_a: datasets.ImageData, data_b: datasets.ImageData) -> Judges:
    """The judges of a translation: the shipped ones (`shipped_judges`) when made from exactly these digits with
    these settings, else trained once (about a minute on a CPU) and cached on disk (core.quality.quality_model).

    When both domains hold the same classes (MNIST's digits and B's), one reader of both domains judges both
    directions: core.quality's small classifier trained on both domains' training digits, every batch redrawn at
    random (core.quality.augment: another writer's slant, width, strokes and contrast). It reads 97 % of MNIST's
    held-out digits and 97 % of B's. Each domain's own classifier is a narrow judge of the other domain's style:
    B's, from 1,437 digits of a few dozen writers, reads only 39 % of MNIST's digits drawn exactly the way B is
    made (`render_as_b`; the reader of both reads 91 %), so it cannot tell a good translation from a bad one.
    A reader of both domains also reads an untranslated digit, so a second judge, a classifier of the domain (trained on the same
    images without redrawing), says whether a translation looks like its target domain at all. Another domain A
    (Fashion-MNIST) keeps each domain's own classifier and no domain judge."""
    from core.quality import ClassifierConfig, quality_model

    if list(data_a.classes) == list(data_b.classes):
        both = reader_digits(data_a, data_b)
        dom = domain_digits(data_a, data_b, both)
        shipped = shipped_judges(both, dom)
        if shipped is not None:
            return shipped
        reader = quality_model(both, ClassifierConfig(**READER))
        return Judges(reader, reader, quality_model(dom, ClassifierConfig(**DOMAIN)))
    return Judges(quality_model(data_a), quality_model(data_b, ClassifierConfig(epochs=60)))


def presets() -> dict[str, CycleRun]:
    """The page's default run, and the same without the cycle loss (shown beside it)."""
    return {"cyclegan": CycleRun(), "cyclegan-no-cycle": CycleRun(cycle=CycleConfig(lambda_cyc=0.0, noise=0.0))}


def shipped(run: CycleRun, data_a: datasets.ImageData, folder=gt.ASSET_DIR) -> dict | None:
    """A shipped run (assets/gan/<preset>) if `run` is exactly one of the presets on the same digits."""
    from pathlib import Path

    from core import assets

    name = next((k for k, v in presets().items() if v == run), None)
    if name is None:
        return None
    return assets.shipped(Path(folder) / name, run, assets.fingerprint(*CycleSteps(run, data_a).data_arrays()))


def main(argv=None):
    return training.main(lambda run, data: CycleSteps(run, data, classifiers=lambda: classifiers(
        data, upscaled_digits())), CycleRun(), argv, "Train the CycleGAN between MNIST and the upscaled 8x8 digits.",
        presets=presets())


if __name__ == "__main__":
    main()
