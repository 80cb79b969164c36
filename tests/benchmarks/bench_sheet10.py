"""Sheet 10 benchmark: mixture density networks against the Bayes limit, conditional RBMs against scikit-learn.

    python tests/benchmarks/bench_sheet10.py [--threads 0] [--skip-crbm]

MDN: the page's default run (Bishop's inverse problem, 1,000 training / 5,000 held-out pairs, noise U(-0.1, 0.1))
trains least squares, the Gaussian and the MDN (m = 3) side by side; then the MDN alone for m = 1 .. 10. Gaps are
held-out NLL minus the Bayes limit (the expected NLL of the exact conditional), in nats per point.
CRBM: the page's default run on the MNIST split (8,000 train / 2,000 held out): the three training modes side by
side; the baselines are scikit-learn's LogisticRegression on pixels and BernoulliRBM + LogisticRegression.
Every timing is printed with wall and CPU seconds and the load average (the machine may be shared).
Prints its figures last, as `name: value` lines.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first: it tunes OpenMP's spinning before torch loads)
import torch  # noqa: E402

from core import data as datasets  # noqa: E402
from core import training  # noqa: E402
from core.boltzmann import crbm, crbm_baselines  # noqa: E402
from core.device import describe, pick_device  # noqa: E402
from core.mdn import lab, problems  # noqa: E402


def timed(fn):
    """(result, wall seconds, CPU seconds of this process, load average at the end)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c, os.getloadavg()[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads for the CRBM (0: torch's default)")
    ap.add_argument("--skip-crbm", action="store_true", help="only the mixture density networks")
    a = ap.parse_args(argv)
    print(f"device: {describe(pick_device())}; load average at start: {os.getloadavg()}", flush=True)
    out = {}

    run = lab.MDNRun()
    bayes = problems.bayes_nll(run.problem, run.direction, run.noise)
    refs = problems.references(run.problem, run.direction, run.noise)
    print(f"Bayes limit {bayes:.4f}; ideal single Gaussian {refs['gaussian'] - bayes:+.3f}, ideal least squares "
          f"{refs['least_squares'] - bayes:+.3f} (exact expectations); Monte Carlo check of the limit: "
          "{:.4f} ± {:.4f}".format(*problems.bayes_nll_mc(run.problem, run.noise, 4000, 20_000, 0)), flush=True)
    snap, wall, cpu, load = timed(lambda: training.run_to_end(lab.MDNSteps(run)))
    last = snap["history"][-1]
    print(f"side by side ({run.epochs} epochs): " + ", ".join(f"{lab.NAMES[k]} {last[f'nll_{k}']:.4f}" for k in run.models)
          + f"; {wall:.1f} s wall, {cpu:.1f} s CPU, load {load:.1f}", flush=True)
    sweep = {}
    for r in lab.m_sweep(run):
        s, w, c, ld = timed(lambda r=r: training.run_to_end(lab.MDNSteps(r)))
        sweep[r.m] = (s["history"][-1]["nll_mdn"], w, c)
        print(f"  MDN alone, m = {r.m:2d}: held-out NLL {sweep[r.m][0]:.4f} (gap {sweep[r.m][0] - bayes:+.3f}); "
              f"{w:.1f} s wall, {c:.1f} s CPU, load {ld:.1f}", flush=True)
    best = min(sweep, key=lambda m: sweep[m][0])
    print(f"best m = {best}; the m = 3 MDN alone trained in {sweep[3][1]:.1f} s wall, {sweep[3][2]:.1f} s CPU")
    out.update(bayes_nll=f"{bayes:.4f}", mdn_nll_gap_to_bayes_m3=f"{sweep[3][0] - bayes:.3f}",
               mdn_nll_gap_to_bayes_best=f"{sweep[best][0] - bayes:.3f}",
               gaussian_nll_gap_to_bayes=f"{last['nll_gauss'] - bayes:.3f}",
               least_squares_nll_gap_to_bayes=f"{last['nll_ls'] - bayes:.3f}",
               mdn_train_seconds=f"{sweep[3][1]:.1f}")

    if not a.skip_crbm:
        if a.threads:
            torch.set_num_threads(a.threads)
        data = datasets.load("mnist")
        print(f"MNIST: {len(data.X_train):,} train / {len(data.X_test):,} held out. {data.note}", flush=True)
        crun = crbm.CRBMRun()
        print(f"CRBM run: {crun}", flush=True)

        def train_crbm():
            snap = None
            for rec in training.train(crbm.CRBMSteps(crun, data)):
                if "snapshot" in rec.extra:
                    snap = rec.extra["snapshot"]()
                    print(f"  {rec.line('.4f')}", flush=True)
            return snap

        snap, wall, cpu, load = timed(train_crbm)
        last = snap["history"][-1]
        print(f"CRBMs: {wall:.1f} s wall, {cpu:.1f} s CPU for all three modes, load {load:.1f}; each mode's own "
              "updates: " + ", ".join(f"{m} {last[f'seconds_{m}']:.1f} s" for m in crun.modes), flush=True)
        brun = crbm_baselines.BaselineRun()
        bsnap, bwall, bcpu, bload = timed(lambda: training.run_to_end(crbm_baselines.BaselineSteps(brun, data)))
        errs = crbm_baselines.baseline_errors(bsnap, data.y_test[: brun.n_eval])
        print(f"baselines: {bwall:.1f} s wall, {bcpu:.1f} s CPU, load {bload:.1f}; fit seconds {bsnap['fit_seconds']}")
        out.update({f"crbm_error_{m}": f"{last[f'error_{m}']:.4f}" for m in crbm.MODES})
        out.update(logreg_error=f"{errs['logreg']:.4f}", rbm_logreg_error=f"{errs['rbm_logreg']:.4f}",
                   crbm_train_seconds=f"{wall:.1f}")
    print(f"load average at the end: {os.getloadavg()}")
    for k, v in out.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
