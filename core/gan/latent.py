"""The latent space of a generator: paths between noise vectors, walks, and nearest training images.

Linear interpolation  lerp(z0, z1; t) = (1 - t) z0 + t z1  crosses the low-density centre of a Gaussian
prior (the norm of the midpoint of two independent N(0, I) vectors is about sqrt(1/2) of theirs), so its
middle images are atypical. Spherical interpolation (White, "Sampling generative networks", 2016)

    slerp(z0, z1; t) = sin((1 - t) W) / sin W * z0 + sin(t W) / sin W * z1,   cos W = <z0, z1> / (|z0| |z1|)

moves along the great circle between the directions of z0 and z1; for |z0| = |z1| the norm stays constant,
so every point is as typical as the ends. For (anti-)parallel vectors (sin W = 0) slerp is lerp.

A generator that copies its training images would put each sample at distance ~0 from one of them: `nearest`
finds, for each sample, its exact nearest training image (by brute force, in chunks) in any feature space:
pixels, or the quality classifier's features (core.quality), where "the same digit drawn the same way" is close.
`copy_ratio` sums it up: the median nearest-training distance of the samples over that of real held-out images
(0 for a copier; about 1 for new images as far from the training images as new real digits are; held-out digits
are other writers, so a perfect model of the training digits may score somewhat below 1).

`quality_report` scores a trained generator now (core.quality's current definition), for runs whose quality rows
were logged under an earlier reference.
"""
from __future__ import annotations

import numpy as np
import torch

EPS = 1e-7


def lerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """(1 - t) z0 + t z1 for each t: z0, z1 (nz,), t (n,) -> (n, nz)."""
    t = torch.as_tensor(t, dtype=z0.dtype).reshape(-1, 1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """sin((1-t)W)/sin W z0 + sin(tW)/sin W z1 with cos W = <z0,z1>/(|z0||z1|): (nz,), (nz,), (n,) -> (n, nz).
    Falls back to lerp when z0 and z1 are (anti-)parallel."""
    t = torch.as_tensor(t, dtype=z0.dtype).reshape(-1, 1)
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(EPS)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    s = torch.sin(omega)
    if float(s) < 1e-6:
        return lerp(z0, z1, t.reshape(-1))
    return torch.sin((1 - t) * omega) / s * z0 + torch.sin(t * omega) / s * z1


def path(z0: torch.Tensor, z1: torch.Tensor, n: int, method: str = "slerp") -> torch.Tensor:
    """n points from z0 to z1 (both included) by "slerp" or "lerp": (n, nz)."""
    if method not in ("slerp", "lerp"):
        raise ValueError(f"method must be 'slerp' or 'lerp', not {method!r}")
    t = torch.linspace(0.0, 1.0, int(n), dtype=z0.dtype)
    return (slerp if method == "slerp" else lerp)(z0, z1, t)


def walk(z0: torch.Tensor, n: int, radius: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n points z0 + s d, s from -radius to +radius, along one random unit direction d: ((n, nz), d)."""
    g = torch.Generator().manual_seed(int(seed))
    d = torch.randn(z0.shape[-1], generator=g, dtype=z0.dtype)
    d = d / d.norm()
    s = torch.linspace(-float(radius), float(radius), int(n), dtype=z0.dtype).reshape(-1, 1)
    return z0 + s * d, d


def nearest(queries, references, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the index of its nearest reference row (Euclidean) and the distance: ((m,), (m,)).
    Exact (brute force, float64), in chunks of queries."""
    Q = torch.as_tensor(np.asarray(queries, np.float64)).reshape(len(queries), -1)
    R = torch.as_tensor(np.asarray(references, np.float64)).reshape(len(references), -1)
    if len(R) == 0:
        raise ValueError("no reference rows to search")
    r2 = (R * R).sum(1)  # (n,)
    idx, dist = [], []
    for s in range(0, len(Q), chunk):
        q = Q[s:s + chunk]  # (c, d)
        d2 = (q * q).sum(1, keepdim=True) - 2 * q @ R.T + r2  # (c, n) squared distances
        j = d2.argmin(1)
        exact = ((q - R[j]) ** 2).sum(1)  # recomputed directly: no cancellation error in the reported distance
        idx.append(j)
        dist.append(exact.clamp_min(0).sqrt())
    return torch.cat(idx).numpy(), torch.cat(dist).numpy()


# ----------------------------------------------------------------------------- a trained generator's images

def noise(n: int, cfg, seed: int) -> torch.Tensor:
    """n noise vectors of a run's prior (cfg.noise: "normal" N(0, I) or "uniform" U(-1, 1)), seeded: (n, nz)."""
    g = torch.Generator().manual_seed(int(seed))
    if getattr(cfg, "noise", "normal") == "uniform":
        return torch.rand(int(n), cfg.nz, generator=g) * 2 - 1
    return torch.randn(int(n), cfg.nz, generator=g)


@torch.no_grad()
def render(G: torch.nn.Module, z: torch.Tensor, cfg, context: int = 256) -> torch.Tensor:
    """G(z) as in training, BatchNorm on batch statistics, but each z in the company of `context` fixed prior draws
    (seed 1234): the statistics are those of typical noise, so an image does not depend on the other z's shown
    with it (an interpolation's ends look the same as alone). Returns (n, C, S, S) in [-1, 1]."""
    from core.gan.images import generate

    ctx = noise(context, cfg, 1234).to(z.dtype)
    return generate(G, torch.cat([z, ctx]))[: len(z)]


def copy_check(samples, train, held_out, embed=None, n_held_out: int | None = None, seed: int = 0) -> dict:
    """Does the generator copy its training images? For each sample: its nearest training image and the distance,
    in pixels and (when `embed`, e.g. the quality classifier's features, is given) in that feature space; and the
    same distances for real held-out images, the yardstick: a new real digit is typically this far from its nearest
    training digit, a copied one would be much closer. All images flat, in [0, 1], the dataset's own shape.
    n_held_out: that many random held-out images (seeded; MNIST's file is ordered by writer, so not its first block);
    None: all. "ratio": median sample distance / median held-out distance."""
    samples, train, held_out = (np.asarray(a, np.float32).reshape(len(a), -1) for a in (samples, train, held_out))
    if n_held_out is not None and n_held_out < len(held_out):
        held_out = held_out[np.sort(np.random.default_rng(seed).choice(len(held_out), int(n_held_out), replace=False))]
    out = {}
    spaces = {"pixels": lambda X: X}
    if embed is not None:
        spaces["features"] = embed
    for name, f in spaces.items():
        F_train = f(train)
        idx, dist = nearest(f(samples), F_train)
        _, ref = nearest(f(held_out), F_train)
        out[name] = {"index": idx, "distance": dist, "held_out_distance": ref,
                     "ratio": float(np.median(dist) / max(1e-12, float(np.median(ref))))}
    return out


def copy_ratio(samples, train, held_out, embed=None, n_held_out: int | None = None, seed: int = 0) -> dict[str, float]:
    """median_i min_j |s_i - t_j| / median_k min_j |h_k - t_j| per space ("pixels", and "features" with `embed`):
    how close the samples s are to their nearest training images t, relative to real held-out images h. 0: copies;
    about 1: as new as real unseen digits (copy_check's "ratio"; n_held_out, seed: as there)."""
    return {k: v["ratio"] for k, v in copy_check(samples, train, held_out, embed, n_held_out, seed).items()}


class Sampler:
    """What the latent-space views need of a trained generator: its prior (`noise`) and `render`(z) -> images in
    [-1, 1] at the trained size; for a conditional generator, of one class (`label`)."""

    def __init__(self, G: torch.nn.Module, cfg, label: int | None = None):
        self.G, self.cfg, self.label = G, cfg, label

    def noise(self, n: int, seed: int) -> torch.Tensor:
        return noise(n, self.cfg, seed)

    def render(self, z: torch.Tensor) -> torch.Tensor:
        if self.label is None:
            return render(self.G, z, self.cfg)
        from core.gan.conditional import render as render_labelled

        return render_labelled(self.G, z, torch.full((len(z),), int(self.label), dtype=torch.long))


def sampler_for(result: dict, label: int | None = None) -> Sampler:
    """The Sampler of a GAN run (core.gan.train) or, of class `label`, of a conditional GAN run (core.gan.conditional)."""
    from core.gan import conditional
    from core.gan.config import run_from_dict
    from core.gan.train import generator

    if result["kind"] == conditional.CGANSteps.kind:
        return Sampler(conditional.generator(result), conditional.CGANConfig(**result["config"]["gan"]),
                       0 if label is None else label)
    return Sampler(generator(result), run_from_dict(result["config"]).gan)


def images_of(result: dict, data, label: int | None = None) -> tuple:
    """(to_native, training images, held-out images) of a run's data: to_native maps rendered images to the
    dataset's own shape in [0, 1]; the images are those of its class (`label`, or the run's own)."""
    from dataclasses import replace

    from core.gan import conditional
    from core.gan.config import run_from_dict
    from core.gan.images import to_native, training_images

    if result["kind"] == conditional.CGANSteps.kind:
        run = conditional.as_gan_run(conditional.CGANSteps.config_from(result["config"]))
        run = replace(run, label=-1 if label is None else int(label))
    else:
        run = run_from_dict(result["config"])
    native = lambda imgs: to_native(imgs, run, data.shape)  # noqa: E731
    return native, training_images(run, data), training_images(run, data, "test")


def quality_report(result: dict, data, quality, label: int | None = None, n: int | None = None,
                   seed: int = 20_000) -> dict:
    """A run's final generator scored now: core.quality.QualityModel.report of n (N_EVAL) samples from seeded noise,
    against the run's class (a one-class run) or `label` (a conditional run; None: all classes, n / K samples of
    each). For shipped runs whose quality rows were logged under an earlier reference definition."""
    from core.gan import conditional
    from core.quality import N_EVAL

    n = int(n or N_EVAL)
    if result["kind"] == conditional.CGANSteps.kind:
        G = conditional.generator(result)
        y = torch.arange(n) % G.n_classes if label is None else torch.full((n,), int(label), dtype=torch.long)
        imgs = conditional.render(G, torch.randn(n, G.nz, generator=torch.Generator().manual_seed(int(seed))), y)
        native, _, _ = images_of(result, data, label)
        return quality.report(native(imgs), label)
    smp = sampler_for(result)
    native, _, _ = images_of(result, data)
    run_label = int(result["config"].get("label", -1))
    return quality.report(native(smp.render(smp.noise(n, seed))), run_label if run_label >= 0 else None)
