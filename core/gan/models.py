"""GAN architectures: the seed's fully connected G and D, DCGAN G and D (Radford et al., 2016) for
32x32 and 64x64 images, and critics for the Wasserstein GANs.

Every network maps images in [-1, 1] laid out as (B, C, H, W); generators take noise (B, nz).
Discriminators return **logits** (B,): the sigmoid of the seed's D is applied by the losses
(`binary_cross_entropy_with_logits`, numerically stable) and by `prob()`. A Wasserstein critic is
the same network with no sigmoid at all, and without BatchNorm when a gradient penalty is used
(the penalty is per example; BatchNorm mixes the examples of a batch). `build(..., generator=)`
draws the initial weights from a torch.Generator (reproducible without touching the global seed).

Radford et al.'s guidelines, as built here (`DCGAN_GUIDELINES` lists them for the page):
strided convolutions instead of pooling (D) and fractionally-strided ones instead of upsampling
(G); BatchNorm in both except the G output and the D input layer; no hidden fully connected layers;
ReLU in G with Tanh on the output; LeakyReLU(0.2) in D; weights from N(0, 0.02); Adam lr 2e-4,
beta1 0.5 (the optimiser lives in `core.gan_train`).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

DCGAN_GUIDELINES = [
    ("Strided convolutions", "D halves the resolution with stride-2 convolutions, G doubles it with stride-2 "
                             "transposed convolutions; no pooling, no upsampling layers."),
    ("BatchNorm", "after every convolution except the generator's output layer and the discriminator's input layer."),
    ("No hidden dense layers", "G's noise is projected to a 4x4 map by the first transposed convolution; "
                               "D's last 4x4 map becomes one logit by a 4x4 convolution."),
    ("Activations", "ReLU in the generator, Tanh on its output (images in [-1, 1]); LeakyReLU with slope 0.2 "
                    "in the discriminator."),
    ("Initialisation", "all convolution weights from N(0, 0.02); BatchNorm scales from N(1, 0.02), shifts 0."),
    ("Optimiser", "Adam with learning rate 2e-4 and beta1 = 0.5 (instead of 0.9) for both networks."),
]


def init_dcgan_weights(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """N(0, 0.02) for (transposed) convolutions and linear layers, N(1, 0.02) for BatchNorm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02, generator=generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):  # class embeddings (the conditional GAN's projection)
            nn.init.normal_(m.weight, 0.0, 0.02, generator=generator)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=generator)
            nn.init.zeros_(m.bias)


def init_default_weights(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """PyTorch's default initialisation (as the seed's Keras-like MLP expects), drawn from `generator`:
    weights Kaiming-uniform with a = sqrt(5), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), BatchNorm 1 and 0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in = m.weight[0].numel() if isinstance(m, nn.Linear) else m.weight.shape[1] * m.weight[0, 0].numel()
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class SeededDropout(nn.Module):
    """Dropout drawing its masks from `self.generator` (a torch.Generator set by the trainer), so
    that a run resumed from a snapshot continues exactly as an uninterrupted one would."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ----------------------------------------------------------------------------- the seed's MLP GAN

class MLPGenerator(nn.Module):
    """Seed G: noise (B, nz) -> Dense 128-256-512-1024, each with BatchNorm and LeakyReLU(0.2),
    -> Dense to C*H*W with tanh, reshaped to (B, C, H, W). `width` scales the hidden layers."""

    def __init__(self, nz: int = 100, shape: tuple[int, int, int] = (1, 28, 28), width: float = 1.0):
        super().__init__()
        self.nz, self.shape = nz, tuple(shape)
        sizes = [nz] + [max(8, int(round(h * width))) for h in (128, 256, 512, 1024)]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b, momentum=0.2), nn.LeakyReLU(0.2)]
        layers += [nn.Linear(sizes[-1], math.prod(self.shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)  # (B, nz) -> (B, C, H, W)


class MLPDiscriminator(nn.Module):
    """Seed D: flattened image -> Dense 1024-512-256, each LeakyReLU(0.2) and Dropout(0.3), -> 1 logit
    (the seed's sigmoid is in the loss). With dropout=0 it is the fully connected WGAN critic."""

    def __init__(self, shape: tuple[int, int, int] = (1, 28, 28), width: float = 1.0, dropout: float = 0.3):
        super().__init__()
        self.shape = tuple(shape)
        sizes = [math.prod(self.shape)] + [max(8, int(round(h * width))) for h in (1024, 512, 256)]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
            if dropout > 0:
                layers.append(SeededDropout(dropout))
        layers.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)  # (B, C, H, W) -> (B,) logits


# ----------------------------------------------------------------------------- DCGAN

def _n_ups(image_size: int) -> int:
    if image_size not in (32, 64):
        raise ValueError(f"DCGAN here is built for 32x32 or 64x64 images, not {image_size}")
    return int(math.log2(image_size)) - 2  # stride-2 layers between 4x4 and the image size


class DCGANGenerator(nn.Module):
    """(B, nz) -> (B, C, S, S), S = 32 or 64. Channel widths (8, 4, 2, 1) x width for 64x64,
    (4, 2, 1) x width for 32x32: the last hidden map has `width` channels."""

    def __init__(self, nz: int = 100, channels: int = 1, image_size: int = 32, width: int = 32):
        super().__init__()
        self.nz, self.shape = nz, (channels, image_size, image_size)
        n = _n_ups(image_size)
        chans = [width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. [128, 64, 32] for 32x32, width 32
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, chans[0], 4, 1, 0, bias=False),  # 1x1 -> 4x4
                                   nn.BatchNorm2d(chans[0]), nn.ReLU(True)]
        for a, b in zip(chans[:-1], chans[1:]):  # 4x4 -> 8x8 -> ...
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]  # -> S x S, no BN
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.nz, 1, 1))  # (B, nz) -> (B, C, S, S)


class DCGANDiscriminator(nn.Module):
    """(B, C, S, S) -> (B,) logits. Widths (1, 2, 4[, 8]) x width; stride-2 convolutions down to 4x4,
    then a 4x4 convolution to one logit. `norm`: "batch" (DCGAN), "layer" or "none" (WGAN-GP critic:
    no BatchNorm, since the gradient penalty is computed per example)."""

    def __init__(self, channels: int = 1, image_size: int = 32, width: int = 32, norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "layer", "none"):
            raise ValueError(f"norm must be batch, layer or none, not {norm!r}")
        self.shape, self.norm = (channels, image_size, image_size), norm
        n = _n_ups(image_size)
        chans = [width * 2 ** i for i in range(n)]  # e.g. [32, 64, 128]
        layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        size = image_size // 2
        for a, b in zip(chans[:-1], chans[1:]):  # S/2 -> ... -> 4x4
            size //= 2
            layers.append(nn.Conv2d(a, b, 4, 2, 1, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(b))
            elif norm == "layer":
                layers.append(nn.GroupNorm(1, b))  # LayerNorm over (C, H, W) of each example
            layers.append(nn.LeakyReLU(0.2, True))
        layers.append(nn.Conv2d(chans[-1], 1, 4, 1, 0, bias=False))  # 4x4 -> 1x1
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)  # (B, C, S, S) -> (B,)


def prob(d: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The seed's D(x) in (0, 1): the sigmoid of the logits."""
    return torch.sigmoid(d(x))


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(arch: str, *, nz: int, shape: tuple[int, int, int], width, critic: str,
          generator: torch.Generator | None = None) -> tuple[nn.Module, nn.Module]:
    """(G, D) for arch "mlp" or "dcgan". critic: "gan" (the discriminator as published),
    "wgan" (no sigmoid; MLP without dropout, DCGAN keeps BatchNorm as in Arjovsky et al.),
    "wgan-gp" (no BatchNorm in the DCGAN critic: layer norm instead, as in Gulrajani et al.)."""
    if arch == "mlp":
        g = MLPGenerator(nz, shape, float(width))
        d = MLPDiscriminator(shape, float(width), dropout=0.3 if critic == "gan" else 0.0)
        init_default_weights(g, generator)
        init_default_weights(d, generator)
        return g, d
    if arch == "dcgan":
        C, H, W = shape
        if H != W:
            raise ValueError("DCGAN needs square images")
        g = DCGANGenerator(nz, C, H, int(width))
        d = DCGANDiscriminator(C, H, int(width), norm="layer" if critic == "wgan-gp" else "batch")
        init_dcgan_weights(g, generator)
        init_dcgan_weights(d, generator)
        return g, d
    raise ValueError(f"unknown architecture {arch!r}")
