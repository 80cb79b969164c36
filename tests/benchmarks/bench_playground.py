"""2-D GAN playground benchmark: speed with live drawing, the field's redraw time, and on the ring of 8 after 2,000
iterations (seeds 0-4) the modes covered and POT's W1 for all six objectives, the critics' W1 estimates against POT,
the trained D against D* with G frozen, and the DAE's agreement with the exact score.

    python tests/benchmarks/bench_playground.py                  # everything (about 15-20 CPU minutes)
    python tests/benchmarks/bench_playground.py --seeds 0 --objectives nonsat,wgan-gp   # a subset

One torch thread. Prints its figures last, as `name: value` (the load average too: the machine may be shared).
"""
from __future__ import annotations

import argparse
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


def dstar_gaps(live: pr.Live, lines: dict, n_d: int = 3000, batch: int = 1024, lr_end: float = 1e-5) -> None:
    """With G frozen, D trained alone n_d updates (batch `batch`, step size decaying from the run's to lr_end), then
    mean |D - D*| where p_data > 10 % of its peak on the 60x60 grid: for the run's G (p_g by a kernel density of
    20,000 of its points, bandwidth by Scott's rule and by held-out likelihood), and for G replaced by a Gaussian G
    of known density N(0, 1.5^2 I) (exact D*: no density estimate)."""
    D0 = {k: v.clone() for k, v in live.steps.D.state_dict().items()}
    live.train_d_alone(n_d, batch, lr_end)
    scott = live.optimal_d(n_samples=20000)
    lik = live.optimal_d(n_samples=20000, bandwidth="likelihood")
    print(f"  D*: Scott h {scott['bandwidth']:.3f} gap {scott['gap']:.4f}; likelihood h {lik['bandwidth']:.3f} gap "
          f"{lik['gap']:.4f}", flush=True)
    lines["dstar_mean_abs_gap"] = scott["gap"]
    lines["dstar_mean_abs_gap_likelihood_bandwidth"] = lik["gap"]
    live.steps.D.load_state_dict(D0)
    live.steps.G = ob.AffineGenerator(1.5 * np.eye(2), [0.0, 0.0])
    live.train_d_alone(n_d, batch, lr_end)
    lines["dstar_mean_abs_gap_known_g"] = live.optimal_d()["gap"]


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
