"""Failure flags of a GAN run in plain words (`diagnose`): divergence, a discriminator that overpowers the generator,
oscillation, a generator that always fools D, mode collapse, and "too early to judge"."""
from __future__ import annotations

import numpy as np


def diagnose(history: list[dict], quality: list[dict] | None = None, loss: str = "nonsat",
             n_classes: int = 10, one_class: bool = False, window: int = 8) -> list[tuple[str, str]]:
    """Failure flags as (name, sentence), judged on the last `window` metric rows and the last
    quality evaluation. Empty when nothing looks wrong."""
    flags: list[tuple[str, str]] = []
    rows = [r for r in history if "d_loss" in r][-window:]
    if not rows:
        return flags
    last = lambda k: np.array([r[k] for r in rows if k in r and r[k] is not None], dtype=float)  # noqa: E731
    if any(not np.isfinite(v) for r in rows for v in r.values() if isinstance(v, (int, float))):
        flags.append(("diverged", "Training diverged: a loss became infinite or NaN. Lower the learning rates."))
        return flags
    if loss in ("minimax", "nonsat"):
        acc_r, acc_f, d_fake = last("acc_real"), last("acc_fake"), last("d_fake")
        if len(acc_r) and acc_r.mean() > 0.95 and acc_f.mean() > 0.95 and d_fake.mean() < 0.05:
            flags.append(("d_overpowers", "The discriminator is overpowering the generator: it tells real from fake "
                          f"almost always (accuracy {acc_r.mean():.0%} on real, {acc_f.mean():.0%} on fake) and "
                          f"D(G(z)) ≈ {d_fake.mean():.2f}, so the generator gets little useful gradient"
                          + (" (worst with the saturating minimax loss)." if loss == "minimax" else ".")))
        if len(d_fake) >= 4 and d_fake.std() > 0.12:
            flags.append(("oscillation", f"Oscillation: D(G(z)) swings by ±{d_fake.std():.2f} from one logging point "
                          "to the next, the two players keep overshooting each other."))
        acc_f = last("acc_fake")
        if len(acc_f) and acc_f.mean() < 0.1 and last("acc_real").mean() < 0.6:
            flags.append(("g_fools", "The generator fools the discriminator almost always: D may be too weak "
                          "(raise its learning rate or D steps)."))
    else:
        w = last("w_estimate")
        if len(w) >= 4 and np.abs(np.diff(w)).mean() > 0.5 * max(1e-6, np.abs(w).mean()) and np.abs(w).mean() > 1e-3:
            flags.append(("oscillation", "Oscillation: the critic's Wasserstein estimate jumps from one logging point "
                          "to the next by more than half its size."))
    if quality:
        q = quality[-1]
        if q.get("fid_scaled") is not None and q["fid_scaled"] > 0.7:
            where = ("further from the training images than uniform noise is" if q["fid_scaled"] >= 1 else
                     f"far from the training images ({q['fid_scaled']:.0%} of the way from the floor, what real "
                     "training images score, to noise)")
            flags.append(("early", f"Too early to judge variety: by the Frechet distance the samples are still {where}. "
                          "Train longer."))
        elif q.get("diversity") is not None and q["diversity"] < 0.4:
            flags.append(("mode_collapse", f"Mode collapse: the samples are much less varied than real images "
                          f"(diversity {q['diversity']:.2f}, real data = 1)."))
        elif not one_class and q.get("classes_covered") is not None and q["classes_covered"] < max(2, int(0.7 * n_classes)):
            flags.append(("mode_collapse", f"Mode collapse: the samples cover only {int(q['classes_covered'])} of the "
                          f"{n_classes} classes."))
    return flags

