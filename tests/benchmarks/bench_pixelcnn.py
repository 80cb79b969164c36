"""PixelCNN benchmark: the default run's exact held-out NLL, its one-thread training time, and the cost of a sample.

    python tests/benchmarks/bench_pixelcnn.py             # train the default run on one thread into a temporary folder
    python tests/benchmarks/bench_pixelcnn.py --ship      # the same, written to assets/pixelcnn as the shipped run
    python tests/benchmarks/bench_pixelcnn.py --shipped   # no training: the shipped run's clocks, NLL recomputed

MNIST split (8,000 train / 2,000 held out); the held-out NLL on core.data.held_out_binary(X_test), the digits and
binarisation of every held-out log-likelihood in the app (bench_likelihood.py, bench_autoencoders.py). The run goes
through the lab's command line (core.training.main: the page's default run, its provenance and scores, the NLL of
the float16 weights as shipped). Training seconds: wall clock (inflated on a shared machine) and this process's CPU
seconds with one torch thread. Sampling: one batch of 16 images, 784 network passes, wall seconds per image.
Prints its figures last, as `name: value`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first: it tunes OpenMP's spinning before torch loads)
import torch  # noqa: E402

from core import assets  # noqa: E402
from core import data as datasets  # noqa: E402
from core.pixelcnn import run as lab  # noqa: E402
from core.pixelcnn.model import bits_per_pixel, timed_sample  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ship", action="store_true", help="write the run to assets/pixelcnn")
    ap.add_argument("--shipped", action="store_true", help="measure the shipped run instead of training")
    a = ap.parse_args()
    torch.set_num_threads(1)
    data = datasets.load("mnist")
    out = assets.folder(lab.PixelCNNSteps.asset) if (a.ship or a.shipped) else Path(tempfile.mkdtemp())
    if not a.shipped:
        t = time.perf_counter()
        lab.main(["--threads", "1", "--no-cache", "--out", str(out)])
        print(f"trained in {time.perf_counter() - t:.0f} s wall; load average {os.getloadavg()[0]:.1f}", flush=True)
    prov = json.loads((Path(out) / "provenance.json").read_text())
    ship = assets.load(out)
    m = lab.model(ship)
    per = lab.heldout_nll(m, datasets.held_out_binary(data.X_test))
    s = timed_sample(m, 16, torch.Generator().manual_seed(0), data.shape[1:])
    print(f"run: {prov['command']} ({prov['date']}, {prov['threads']} thread(s), {prov['device']})")
    print(f"held-out NLL recomputed from the float16 weights: {per.mean():.3f} (provenance {prov['scores']['heldout_nll']:.3f})")
    print(f"pixelcnn_heldout_nll_nats: {per.mean():.2f}")
    print(f"pixelcnn_heldout_bits_per_pixel: {bits_per_pixel(per.mean(), 784):.4f}")
    print(f"pixelcnn_train_seconds: {prov['train_seconds']:.0f}")
    print(f"pixelcnn_train_cpu_seconds: {prov['train_cpu_seconds']:.0f}")
    print(f"pixelcnn_sample_seconds_per_image: {s['seconds_per_image']:.3f}")


if __name__ == "__main__":
    main()
