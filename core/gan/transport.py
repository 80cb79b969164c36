"""A WGAN critic against optimal transport on images (the minimax-vs-WGAN page): "relate WGAN to OT" as numbers.

By Kantorovich-Rubinstein duality, W1(P, Q) = sup over 1-Lipschitz f of E_P f - E_Q f. A trained critic's
E f(x) - E f(G(z)) is one such f's value, so it is a lower bound on W1 when f is 1-Lipschitz (WGAN-GP's penalty aims
at that), and W1 times an unknown constant K when f is only K-Lipschitz (weight clipping). POT's `ot.emd2` gives the
exact W1 between two equal batches (Euclidean cost on the pixels in [-1, 1], the scale the critic sees), so the two
are compared on the same batches (`compare_batches`). Both err: the critic was trained on other batches (and may not
be the best f for this G), and the exact W1 of finite batches overestimates the W1 of the distributions (sampling
noise adds transport; in 1,024 dimensions by a lot), so the honest reading is the ratio and its spread over batches.

A shipped run keeps only its final networks, so the comparison is of the final G and critic (`critic_vs_emd`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from core import data as datasets
from core.gan.config import run_from_dict
from core.gan.images import prepare
from core.gan.models import build
from core.playground.theory import w1


@torch.no_grad()
def compare_batches(critic: nn.Module, reals: list[torch.Tensor], fakes: list[torch.Tensor]) -> list[dict]:
    """One row per pair of batches (equal sizes): {"batch", "n", "critic": E f(real) - E f(fake), "emd": POT's exact
    W1 between the flattened batches (Euclidean cost), "ratio": critic / emd}."""
    rows = []
    for i, (x, y) in enumerate(zip(reals, fakes)):
        est = float(critic(x).mean() - critic(y).mean())
        exact = w1(x.reshape(len(x), -1).double().numpy(), y.reshape(len(y), -1).double().numpy())
        rows.append({"batch": i, "n": len(x), "critic": est, "emd": exact, "ratio": est / exact if exact else np.nan})
    return rows


def critic_vs_emd(result: dict, n: int = 500, batches: int = 4, seed: int = 0) -> list[dict] | None:
    """`compare_batches` for a finished (or shipped) GAN run's final critic and generator: `batches` pairs of n real
    training images and n images of G (fresh noise of the run's prior), all from a generator seeded by `seed`; each
    row also has "floor": POT's W1 between that real batch and n other real images (disjoint), what finite batches
    score even when G is perfect. None when the run kept no critic (a shipped run too large to keep D) or is not a
    WGAN."""
    run = run_from_dict(result["config"])
    cfg = run.gan
    if "D" not in result.get("nets", {}) or cfg.loss not in ("wgan", "wgan-gp"):
        return None
    X = prepare(run, datasets.load(run.dataset))
    G, D = build(cfg.arch, nz=cfg.nz, shape=tuple(X.shape[1:]), width=cfg.width, critic=cfg.loss,
                 generator=torch.Generator())
    G.load_state_dict(result["nets"]["G"])
    D.load_state_dict(result["nets"]["D"])
    G.eval(), D.eval()
    gen = torch.Generator().manual_seed(int(seed))
    reals, fakes, others = [], [], []
    with torch.no_grad():
        for _ in range(int(batches)):
            idx = torch.randperm(len(X), generator=gen)
            reals.append(X[idx[: int(n)]])
            others.append(X[idx[int(n): 2 * int(n)]])
            z = torch.rand(int(n), cfg.nz, generator=gen) * 2 - 1 if cfg.noise == "uniform" else \
                torch.randn(int(n), cfg.nz, generator=gen)
            fakes.append(G(z))
    rows = compare_batches(D, reals, fakes)
    for row, x, o in zip(rows, reals, others):
        row["floor"] = w1(x.reshape(len(x), -1).double().numpy(), o.reshape(len(o), -1).double().numpy())
    return rows
