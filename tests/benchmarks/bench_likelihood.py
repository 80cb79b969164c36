"""Log-likelihood you can trust: AIS against exact enumeration, and what each costs.

1. An RBM with 20 hidden units trained (PCD-1, visible biases started at the base rates) on the real
   MNIST split (8,000 train / 2,000 held out): exact log Z by enumerating its 2^20 hidden states, and
   AIS (100 runs x 14,500 temperatures, base-rate start model). Printed: the AIS estimate of the mean
   held-out log-likelihood minus the exact one (nats per image; 0 is perfect), and the exact time.
2. AIS (100 runs x 14,500 temperatures) on an RBM with 500 hidden units (the comparison RBM shipped
   in assets/dbm when present, else small random weights: the cost does not depend on the values).

    python tests/benchmarks/bench_likelihood.py [--epochs 5]
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402,F401  (first, before torch: the app's OpenMP setting, see core/__init__.py)
import torch  # noqa: E402

from core import assets, data  # noqa: E402
from core.boltzmann import dbm  # noqa: E402
from core.boltzmann.ais import ais_rbm, base_rate_biases  # noqa: E402
from core.device import default_threads, torch_threads  # noqa: E402
from core.data import held_out_binary  # noqa: E402
from core.device import describe, pick_device  # noqa: E402
from core.boltzmann.likelihood import exact_log_likelihood, free_energy, log_partition_exact  # noqa: E402
from core.boltzmann.rbm import RBM  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--betas", type=int, default=14_500)
    ap.add_argument("--runs", type=int, default=100)
    a = ap.parse_args()
    dev = pick_device()
    print(f"device: {describe(dev)}; AIS threads: {default_threads()}; load average: {os.getloadavg()[0]:.1f}")
    d = data.load("mnist")
    print(f"data: {d.title}, {len(d.X_train):,} train / {len(d.X_test):,} held out. {d.note}")
    V = torch.as_tensor(held_out_binary(d.X_test), dtype=torch.float64)

    with torch_threads():
        rbm = RBM(20, learning_rate=0.05, batch_size=100, n_iter=a.epochs, random_state=0, method="pcd",
                  n_chains=100, device="cpu")
        rbm.initialize(784)
        rbm.intercept_visible_ = base_rate_biases(d.X_train)
        t = time.perf_counter()
        for _ in rbm.fit_iter(d.X_train, warm_start=True):
            pass
        print(f"trained the 20-hidden RBM ({a.epochs} epochs PCD-1) in {time.perf_counter() - t:.1f} s")
    W, b, c = (x.detach().double() for x in (rbm.W, rbm.b, rbm.c))

    t, cpu = time.perf_counter(), time.process_time()
    log_z = log_partition_exact(W, b, c)
    exact_s, exact_cpu = time.perf_counter() - t, time.process_time() - cpu
    exact_ll = float(exact_log_likelihood(V, W, b, c, log_z).mean())
    r = ais_rbm(W, b, c, X=d.X_train, betas=a.betas, n_runs=a.runs, random_state=0)
    ais_ll, lo, hi = r.log_likelihood((-free_energy(V, W, b, c)).numpy())
    print(f"20 hidden: exact log Z {log_z:.3f} ({exact_s:.1f} s), AIS log Z {r.log_z:.3f} "
          f"[{r.log_z_low:.3f}, {r.log_z_high:.3f}] ({r.seconds:.1f} s, ESS {r.ess:.0f}/{r.n_runs})")
    print(f"held-out log-likelihood: exact {exact_ll:.3f}, AIS {ais_ll:.3f} [{lo:.3f}, {hi:.3f}] nats per image")

    asset = assets.load(dbm.ASSET_DIR)
    if asset is not None and dbm.baseline_rbm(asset).n_components == 500:
        shipped_rbm = dbm.baseline_rbm(asset)
        W5, b5, c5 = shipped_rbm.W, shipped_rbm.b, shipped_rbm.c
        what = "the shipped comparison RBM (500 hidden)"
    else:
        g = torch.Generator().manual_seed(0)
        W5, b5, c5 = torch.randn(500, 784, generator=g) * 0.01, torch.zeros(784), torch.zeros(500)
        what = "random weights (500 hidden)"
    cpu = time.process_time()
    r5 = ais_rbm(W5, b5, c5, X=d.X_train, betas=a.betas, n_runs=a.runs, random_state=0)
    ais_cpu = time.process_time() - cpu
    print(f"500 hidden, {what}: AIS log Z {r5.log_z:.2f} [{r5.log_z_low:.2f}, {r5.log_z_high:.2f}], "
          f"{a.runs} runs x {a.betas:,} temperatures in {r5.seconds:.1f} s; load average now {os.getloadavg()[0]:.1f}")

    print(f"CPU seconds (this process, all threads; less sensitive to other load): AIS 500 hidden {ais_cpu:.1f}, "
          f"exact 20 hidden {exact_cpu:.1f}; load average {os.getloadavg()[0]:.1f}")
    print(f"device: {describe(dev)}")
    print(f"ais_minus_exact_nats: {ais_ll - exact_ll:.4f}")
    print(f"ais_500h_seconds: {r5.seconds:.2f}")
    print(f"exact_20h_seconds: {exact_s:.2f}")


if __name__ == "__main__":
    main()
