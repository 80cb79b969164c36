"""GMMN lab benchmark: sample quality of the pixel GMMN and of GMMN+AE with the real digits' floor beside them, and
the Parzen-window flaw (k-means centroids against real digits).

    python tests/benchmarks/bench_gmmn.py              # the shipped default runs (assets/gmmn, assets/gmmn_ae)
    python tests/benchmarks/bench_gmmn.py --train      # train both default runs now, one thread (CPU seconds)

MNIST split (8,000 train / 2,000 held out). Quality: core.quality's one definition (1,000 samples; Frechet distance
against split halves of the training digits, the split-half floor, classes covered). Parzen: windows on 1,000 points,
sigma chosen on the first 1,000 held-out digits, scored on the last 1,000 (core.gmmn.parzen.flaw_demo). Training CPU
seconds: time.process_time of a one-thread run (from the shipped run's provenance, or measured with --train).
Prints its figures last, as `name: value`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first: it tunes OpenMP's spinning before torch loads)
import torch  # noqa: E402

from core import data as datasets  # noqa: E402
from core import training  # noqa: E402
from core.gmmn import parzen  # noqa: E402
from core.gmmn import run as gr  # noqa: E402
from core.quality import quality_model  # noqa: E402


def finished(name: str, data, train: bool) -> tuple[dict, float, float]:
    """(run, CPU seconds, wall seconds) of a default run: the shipped one, or trained now on one thread."""
    steps = gr.GMMNSteps(gr.presets()[name], data)
    if not train:
        ship = steps.shipped()
        if ship is not None:
            prov = ship["provenance"]
            return ship, float(prov.get("train_cpu_seconds", float("nan"))), float(prov["train_seconds"])
        print(f"{name}: no shipped run for this config: training it", flush=True)
    torch.set_num_threads(1)
    cpu, wall = time.process_time(), time.perf_counter()
    snap = training.run_to_end(steps)
    return snap, time.process_time() - cpu, time.perf_counter() - wall


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", action="store_true", help="train the default runs now instead of using the shipped ones")
    a = ap.parse_args(argv)
    data = datasets.load("mnist")
    qm = quality_model(data)
    out = {}
    for name in ("gmmn", "gmmn_ae"):
        t = time.perf_counter()
        run, cpu, wall = finished(name, data, a.train)
        q = gr.quality(run, qm)
        print(f"{name}: FD {q['fid']:.2f} ± {q['fid_sd']:.2f} (floor {q['fid_floor']:.2f} ± {q['fid_floor_sd']:.2f}), "
              f"held-out FD {q['fid_heldout']:.2f} (floor {q['fid_heldout_floor']:.2f}), classes "
              f"{q['classes_covered']}, diversity {q['diversity']:.2f}; trained in {wall:.0f} s wall, {cpu:.0f} CPU s; "
              f"scored in {time.perf_counter() - t:.1f} s", flush=True)
        out[f"{name}_fid"], out[f"{name}_classes_covered"] = q["fid"], q["classes_covered"]
        out[f"{name}_train_cpu_seconds"], out[f"{name}_train_wall_seconds"] = cpu, wall
        out["real_floor_fid"] = q["fid_floor"]
        out[f"_{name}_run"] = run
    t = time.perf_counter()
    demo = parzen.flaw_demo(data.X_train, data.X_test, gr.sample(out["_gmmn_run"], 1000, torch.Generator().manual_seed(0)))
    for k in ("real", "kmeans", "model"):
        print(f"parzen {k}: {demo[k]['ll']:.1f} ± {demo[k]['se']:.1f} nats (sigma {demo[k]['sigma']:.3f}"
              f"{', at the grid edge' if demo[k]['at_edge'] else ''})", flush=True)
    print(f"parzen demo in {time.perf_counter() - t:.1f} s", flush=True)
    out["parzen_kmeans_minus_real"] = demo["kmeans"]["ll"] - demo["real"]["ll"]
    out["parzen_gmmn"] = demo["model"]["ll"]
    names = ["gmmn_fid", "gmmn_ae_fid", "real_floor_fid", "gmmn_classes_covered", "gmmn_ae_classes_covered",
             "parzen_kmeans_minus_real", "gmmn_train_cpu_seconds", "gmmn_ae_train_cpu_seconds"]
    for n in names:
        v = out[n]
        print(f"{n}: {v if isinstance(v, int) else round(float(v), 3)}")
    return {n: out[n] for n in names}


if __name__ == "__main__":
    main()
