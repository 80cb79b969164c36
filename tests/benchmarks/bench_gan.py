"""GAN lab benchmark (a script, not a test):

    python tests/benchmarks/bench_gan.py [--quick] [--loop-only]

Prints, last, as `name: value` lines:
- dcgan32_epoch_5k_seconds: one epoch of 5,000 32x32 RGB images (one CIFAR-10 class has 5,000) through
  the lab's training iterator at the DCGAN page's defaults (width 32, batch 32, 1 D step per G step).
  Without CIFAR-10 the images are MNIST digits padded to 32x32 and copied to 3 channels: the same
  tensor shapes and the same arithmetic as a CIFAR-10 class.
- loop_overhead_ratio: seconds of our iterator (metrics, fixed-noise grids, a snapshot per record as
  explorer.live.train_cached takes) over seconds of a bare loop of the same networks, losses and
  optimisers for the same iterations, both timed from the ImageData to trained networks (median of
  the ratios of 7 back-to-back pairs of 60 iterations, alternating which runs first).
- wgan_gp_mnist_fid_after_2k_iters, wgan_gp_classes_covered: the minimax-vs-WGAN page's WGAN-GP
  (the seed's fully connected G and critic at width 0.5, 5 critic steps, Adam 1e-4 (0.5, 0.9),
  lambda 10) after 2,000 generator iterations on MNIST; Frechet distance in the lab classifier's
  feature space (1,000 samples) and classes covered.
- real_floor_fid: the same distance for 1,000 real held-out MNIST digits (the best reachable).

It runs with the settings a user gets: `core` is imported before torch, so core/__init__.py's short
OpenMP spin (GOMP_SPINCOUNT) applies as in the app. (This script used to set OMP_WAIT_POLICY=PASSIVE,
which turns that setting off; passive waiting was measured 2.7x slower on a quiet machine.)
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import core  # noqa: E402,F401  (first: the app's OpenMP setting, see core/__init__.py)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from core import data as datasets  # noqa: E402
from core.gan import config as gc  # noqa: E402
from core.gan import train as gt  # noqa: E402
from core.gan.trainer import GANTrainer  # noqa: E402
from core.device import describe, pick_device  # noqa: E402
from core.progress import exhaust  # noqa: E402
from core.quality import quality_model  # noqa: E402


def _take_snapshot(rec) -> None:
    if "snapshot" in rec.extra:  # as explorer.live.train_cached does on every measured record
        rec.extra["snapshot"]()


def load_avg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def rgb_class_stand_in(mnist: datasets.ImageData, n: int = 5000) -> datasets.ImageData:
    """5,000 images of shape (3, 32, 32): CIFAR-10's class size and shape."""
    X = torch.as_tensor(mnist.X_train[:n]).view(-1, 1, 28, 28)
    X = F.pad(X, (2, 2, 2, 2)).repeat(1, 3, 1, 1).reshape(n, -1).numpy()
    y = np.zeros(n, np.int64)
    return datasets.ImageData("cifar10", X, y, X[:100], y[:100], (3, 32, 32), ["class"], "MNIST stand-in")


def dcgan_default_config(n_iters: int) -> gc.GANConfig:
    return gc.dcgan_config(n_iters=n_iters, log_every=10, grid_every=25)


def epoch_seconds(data: datasets.ImageData) -> float:
    cfg = dcgan_default_config(len(data.X_train) // 32)
    run = gc.GANRun(data.name, -1, len(data.X_train), cfg)
    t = time.perf_counter()
    exhaust(gt.train(run, data), _take_snapshot)
    return time.perf_counter() - t


def bare_loop(data: datasets.ImageData, n_iters: int) -> float:
    """The same networks, losses and optimisers, nothing else."""
    run = gc.GANRun(data.name, -1, len(data.X_train), dcgan_default_config(n_iters))
    t = time.perf_counter()  # both loops are timed from the ImageData to trained networks
    tr = GANTrainer(run, data)  # the same data tensor and networks as our loop builds
    G, D, X, B = tr.G, tr.D, tr.X, run.gan.batch_size
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    cl = torch.channels_last if tr.cl else torch.contiguous_format
    for i in range(n_iters):
        real = X[torch.randint(0, len(X), (B,))]
        with torch.no_grad():
            fake = G(torch.randn(B, 100)).contiguous(memory_format=cl)
        out_r, out_f = D(real), D(fake)
        loss = F.binary_cross_entropy_with_logits(out_r, torch.ones_like(out_r)) + \
            F.binary_cross_entropy_with_logits(out_f, torch.zeros_like(out_f))
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        out = D(G(torch.randn(B, 100)).contiguous(memory_format=cl))
        lg = F.softplus(-out).mean()
        opt_g.zero_grad(set_to_none=True)
        lg.backward()
        opt_g.step()
    return time.perf_counter() - t


def ours(data: datasets.ImageData, n_iters: int) -> float:
    run = gc.GANRun(data.name, -1, len(data.X_train), dcgan_default_config(n_iters))
    t = time.perf_counter()
    exhaust(gt.train(run, data), _take_snapshot)  # as train_cached does
    return time.perf_counter() - t


def main() -> None:
    quick = "--quick" in sys.argv
    only_loop = "--loop-only" in sys.argv  # just the epoch time and the loop overhead
    device = pick_device()
    print(f"device: {describe(device)}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}; "
          f"load average at start: {load_avg()}", flush=True)
    mnist = datasets.load("mnist")
    rgb = rgb_class_stand_in(mnist)
    epoch = epoch_seconds(rgb)
    print(f"DCGAN epoch of 5,000 3x32x32 images, width 32, batch 32: {epoch:.1f} s (load {load_avg()})", flush=True)

    n = 40 if quick else 60
    ratios = []
    for i in range(3 if quick else 7):  # back-to-back pairs see similar load; alternate which goes first
        if i % 2:
            m, b = ours(rgb, n), bare_loop(rgb, n)
        else:
            b, m = bare_loop(rgb, n), ours(rgb, n)
        ratios.append(m / b)
        print(f"  pair {i}: bare loop {b:.2f} s, our iterator {m:.2f} s, ratio {m / b:.3f}", flush=True)
    ratio = float(np.median(ratios))

    if only_loop:
        print(f"dcgan32_epoch_5k_seconds: {epoch:.2f}")
        print(f"loop_overhead_ratio: {ratio:.3f}")
        return
    qm = quality_model(mnist)
    floor = qm.reference()["floor"]
    iters = 200 if quick else 2000
    cfg = replace(gc.wgan_defaults(gc.GANConfig(arch="mlp", noise="uniform", width=0.5, batch_size=64,
                                                channels_last=False), "wgan-gp"),
                  n_iters=iters, log_every=50, grid_every=500, quality_every=500)
    t = time.perf_counter()
    last = exhaust(gt.train(gc.GANRun("mnist", -1, 8000, cfg), mnist, quality=qm),
                   lambda r: print(f"  WGAN-GP {r.message} {r.elapsed:.0f}s "
                                   + " ".join(f"{k}={v:.3g}" for k, v in r.metrics.items()
                                              if k in ("w_estimate", "fid", "classes_covered")), flush=True)
                   if r.step % 500 == 0 else None)
    q = last.extra["snapshot"]()["quality"][-1]
    print(f"WGAN-GP, {iters} generator iterations: {time.perf_counter() - t:.0f} s; class shares "
          f"{np.round(q['class_hist'], 3).tolist()}; diversity {q['diversity']:.2f}; load {load_avg()}", flush=True)

    print(f"dcgan32_epoch_5k_seconds: {epoch:.2f}")
    print(f"loop_overhead_ratio: {ratio:.3f}")
    print(f"wgan_gp_mnist_fid_after_{'2k' if not quick else '200'}_iters: {q['fid']:.2f}")
    print(f"wgan_gp_classes_covered: {int(q['classes_covered'])}")
    print(f"real_floor_fid: {floor:.2f}")


if __name__ == "__main__":
    main()
