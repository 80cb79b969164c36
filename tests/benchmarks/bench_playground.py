"""2-D GAN playground benchmark: speed with live drawing, the field's redraw time, and on the ring of 8 after 2,000
iterations (seeds 0-4) the modes covered and POT's W1 for all six objectives, the critics' W1 estimates against POT,
the trained D against D* with G frozen, and the DAE's agreement with the exact score.

    python tests/benchmarks/bench_playground.py                  # everything (about 15-20 CPU minutes)
    python tests/benchmarks/bench_playground.py --seeds 0 --objectives nonsat,wgan-gp   # a subset

One torch thread. Prints its figures last, as `name: value` (the load average too: the machine may be shared).
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first: it tunes OpenMP's spinning before torch loads)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.playground import objectives as ob  # noqa: E402
from core.playground import run as pr  # noqa: E402
from core.playground import score, theory  # noqa: E402
from core.playground import targets as tg  # noqa: E402


def speed(lines: dict) -> None:
    """Iterations per second at the page's defaults with a redraw (field, G's points and arrows, the figure) every
    10 iterations, and the 60x60 field's time alone."""
    from explorer import playground_ui as ui

    live = pr.Live(pr.PlaygroundRun())
    live.play(20)
    t = time.perf_counter()
    n = 500
    for i in range(n // 10):
        live.play(10)
        live.keep_frame()
        ui.plane_figure(live, "bench")
    lines["steps_per_second_with_drawing"] = n / (time.perf_counter() - t)
    reps = 50
    t = time.perf_counter()
    for _ in range(reps):
        live.field()
    lines["field_grid_seconds"] = (time.perf_counter() - t) / reps


def critic_error(live: pr.Live, lines: dict, key: str, n: int = 5000, refine: int = 500) -> None:
    """The critic's E f(x) - E f(G(z)) against POT's exact W1 (ot.emd2, Euclidean cost) on the same n fresh real and
    n fake points (one fixed generator), twice: the critic as the run left it, and after `refine` more critic
    updates with G frozen (the run's optimiser and batch size): the duality bound is attained only by the best
    critic for *this* G, which the last G step has moved. Also POT's W1 between two real batches of n (the
    sampling floor: what finite batches add to the W1 of the distributions)."""
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        real = live.target.sample(n, g)
        fake = live.steps.G(live.steps.noise(n, g))
        other = live.target.sample(n, g)
    exact = theory.w1(real.numpy(), fake.numpy())

    def estimate() -> float:
        with torch.no_grad():
            return float(live.steps.D(real).mean() - live.steps.D(fake).mean())

    end = estimate()
    live.train_d_alone(refine)
    refined = estimate()
    floor = theory.w1(real.numpy(), other.numpy())
    print(f"  {key}: POT {exact:.4f} on {n} + {n} points (real-vs-real floor {floor:.4f}); critic at the end "
          f"{end:.4f}, after {refine} critic-only updates {refined:.4f}", flush=True)
    lines[f"critic_w1_rel_error_{key}"] = abs(refined - exact) / exact
    lines[f"critic_w1_rel_error_{key}_unrefined"] = abs(end - exact) / exact
    lines[f"pot_w1_{key}_{n}pts"] = exact
    lines[f"pot_w1_floor_{n}pts"] = floor


def dstar_gaps(live: pr.Live, lines: dict, n_d: int = 10000, batch: int = 1024, lr_end: float = 1e-5,
               widths=(0.1, 0.02, 0.005), n_fit: int = 1000) -> None:
    """G frozen, D trained alone n_d updates (batch `batch`, step size decaying from the run's to lr_end), then
    mean |D - D*| where p_data > 10 % of its peak on the 60x60 grid:
    - `dstar_mean_abs_gap`: G a frozen G of known density with a trained GAN's flaws (`Live.known_g_check`: the ring
      rotated 8 degrees, modes 0.6 times as wide, one doubled, one dropped), so D* is exact; D starts from the run's
      D after its iterations (a copy; the run is not changed);
    - `dstar_mean_abs_gap_trained_g`: the run's own G, D* as the page computes it (`Live.optimal_d()`: p_g a Scott
      kernel density of 5,000 of G's points);
    - `dstar_mean_abs_gap_trained_g_pushforward_h<w>`: the run's own G, p_g without sampling (G's image of a 1,500^2
      noise grid weighted by p_z, `theory.pushforward_log_density`) at kernel widths `widths`: the smallest is the
      closest to the exact change-of-variables density, i.e. to the true D* of this G;
    - `dstar_direct_fit_gap_trained_g`: what D's architecture can reach against that true D* at all: a copy of the
      trained D fitted directly to it (L1 on sigm(D), Adam, 4,000 full-batch steps on `n_fit` real points in the
      mask), then its gap on the grid (an estimate of the capacity floor: a local optimum, not a bound)."""
    c = time.process_time()
    known = live.known_g_check(n_d, batch, lr_end)
    lines["dstar_mean_abs_gap"] = known["gap"]
    lines["dstar_train_cpu_seconds"] = time.process_time() - c
    bias = np.mean((known["d"] - known["dstar"])[known["mask"]])
    print(f"  D*: G of known density (the flawed ring), exact D*: gap {known['gap']:.4f} "
          f"(before {known['gap_before']:.4f}; mean D - D* {bias:+.4f})", flush=True)
    live.train_d_alone(n_d, batch, lr_end)
    page = live.optimal_d()
    lines["dstar_mean_abs_gap_trained_g"] = page["gap"]
    mask, d = page["mask"].ravel(), page["d"].ravel()
    log_p = live.target.log_density(live.grid)[mask]
    inner = theory.mass_mask(np.exp(log_p), 0.5)
    print(f"  D*: trained G, page's (Scott h {page['bandwidth']:.3f}, 5,000 points) gap {page['gap']:.4f}", flush=True)
    for h in widths:
        ds = theory.optimal_d_from_logs(log_p, theory.pushforward_log_density(live.steps.G, live.grid[mask], h))
        gap = np.abs(d[mask] - ds)
        lines[f"dstar_mean_abs_gap_trained_g_pushforward_h{h}"] = float(gap.mean())
        print(f"  D* by the noise grid's push-forward, h {h}: gap {gap.mean():.4f} (inner {gap[inner].mean():.4f}, "
              f"outer {gap[~inner].mean():.4f}; mean D - D* {np.mean(d[mask] - ds):+.4f})", flush=True)
    real = live.target.sample(20 * n_fit, torch.Generator().manual_seed(17)).numpy()
    real = real[live.target.density(real) >= 0.1 * live.target.peak_density()][:n_fit]
    log_q = theory.pushforward_log_density(live.steps.G, real, widths[-1])
    fit_star = torch.as_tensor(theory.optimal_d_from_logs(live.target.log_density(real), log_q), dtype=torch.float32)
    D = copy.deepcopy(live.steps.D)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    X = torch.as_tensor(real, dtype=torch.float32)
    for _ in range(4000):
        loss = (torch.sigmoid(D(X)).squeeze(1) - fit_star).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        fitted = torch.sigmoid(D(torch.as_tensor(live.grid[mask]))).squeeze(1).numpy()
    lines["dstar_direct_fit_gap_trained_g"] = float(np.abs(fitted - ds).mean())
    print(f"  D's architecture fitted directly to the trained G's D* (h {widths[-1]}): gap on the grid "
          f"{lines['dstar_direct_fit_gap_trained_g']:.4f} (on its {len(real)} fitting points "
          f"{float(loss.detach()):.4f})", flush=True)


def ring(lines: dict, seeds: list[int], objectives: list[str], iterations: int) -> None:
    for objective in objectives:
        modes, w1s = [], []
        for seed in seeds:
            t = time.perf_counter()
            live = pr.Live(pr.PlaygroundRun(objective=objective, seed=seed, iterations=iterations,
                                            measure_every=iterations))
            live.play(iterations)
            h = live.history[-1]
            modes.append(h["modes"])
            w1s.append(h["w1"])
            print(f"{objective} seed {seed}: modes {h['modes']:.0f}, W1 {h['w1']:.3f} "
                  f"({iterations / (time.perf_counter() - t):.0f} it/s)", flush=True)
            if objective in ob.WASSERSTEIN and seed == seeds[0]:
                critic_error(live, lines, "gp" if objective == "wgan-gp" else "clip")
            if objective == "nonsat" and seed == seeds[0]:
                dstar_gaps(live, lines)
        lines[f"modes_covered_{objective}"] = float(np.mean(modes))
        lines[f"w1_{objective}"] = float(np.mean(w1s))


def dae(lines: dict) -> None:
    cfg = score.DAEConfig()
    t = tg.make(cfg.target)
    net = score.train_dae(cfg, t)
    lines["dae_score_cosine"] = score.agreement(net, t, tg.grid(t.extent(), 60)[2])["cosine"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--objectives", default=",".join(ob.OBJECTIVES))
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--no-speed", action="store_true", help="skip the speed and DAE figures (a split run)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    lines: dict = {}
    t0 = time.perf_counter()
    if not a.no_speed:
        speed(lines)
        dae(lines)
    ring(lines, [int(s) for s in a.seeds.split(",")], a.objectives.split(","), a.iterations)
    lines["bench_seconds"] = time.perf_counter() - t0
    lines["load_average"] = os.getloadavg()[0]
    print(f"seeds {a.seeds}; objectives {a.objectives}; {a.iterations} iterations")
    for k, v in lines.items():
        print(f"{k}: {v:.4g}")
    return lines


if __name__ == "__main__":
    main()
