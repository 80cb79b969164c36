"""Explicit likelihood and moment matching, and the scoreboard (issue 22): the PixelCNN's and the GMMNs' lines from
their own benchmarks, then how long the scoreboard takes to open.

    python tests/benchmarks/bench_likelihood_families.py            # the shipped runs, re-scored (minutes)
    python tests/benchmarks/bench_likelihood_families.py --train    # PixelCNN and GMMNs trained anew, one thread

- PixelCNN (bench_pixelcnn.py, `--shipped` unless --train): exact held-out NLL of the shipped float16 weights on
  core.data.held_out_binary, the run's one-thread CPU and wall seconds from its provenance, seconds per sample.
- GMMN and GMMN+AE (bench_gmmn.py): FD on the one split-half definition with the floor, classes covered, the Parzen
  window's k-means flaw (k-means centroids minus real held-out digits: positive reproduces the flaw).
- The scoreboard (pages/scoreboard_1_scoreboard.py through AppTest, a fresh cache folder, one thread): the first
  open in a new process (imports, the dataset read, every cache empty: `scoreboard_process_cold_seconds`) and the
  first open on a running server (modules and dataset loaded, Streamlit's caches cleared: `scoreboard_cold_seconds`,
  the target: under 3 s when the runs it shows are shipped or cached).

Prints its figures last, as `name: value`.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WANT = ("pixelcnn_heldout_nll_nats", "pixelcnn_heldout_bits_per_pixel", "pixelcnn_train_seconds",
        "pixelcnn_train_cpu_seconds", "pixelcnn_sample_seconds_per_image", "gmmn_fid", "gmmn_ae_fid", "real_floor_fid",
        "gmmn_classes_covered", "gmmn_ae_classes_covered", "parzen_kmeans_minus_real")

COLD = r'''
import sys, time
sys.path.insert(0, sys.argv[1])
t = time.perf_counter()
import core  # noqa: F401
import streamlit as st
from streamlit.testing.v1 import AppTest
page = sys.argv[1] + "/pages/scoreboard_1_scoreboard.py"
at = AppTest.from_file(page, default_timeout=600).run()
assert not at.exception, at.exception
first = time.perf_counter() - t
st.cache_resource.clear(); st.cache_data.clear()
t = time.perf_counter()
at = AppTest.from_file(page, default_timeout=600).run()
assert not at.exception, at.exception
print(f"scoreboard_process_cold_seconds: {first:.2f}")
print(f"scoreboard_cold_seconds: {time.perf_counter() - t:.2f}")
print(f"scoreboard_rows: {len(at.dataframe[0].value)}")
'''


def lines_of(cmd: list[str], env: dict) -> dict[str, str]:
    """Run a benchmark, echo its output, return its `name: value` lines."""
    out = subprocess.run(cmd, env=env, cwd=ROOT, text=True, capture_output=True, check=True).stdout
    print(out, flush=True)
    got = {}
    for line in out.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name.isidentifier():
            got[name] = value.strip()
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", action="store_true", help="train the PixelCNN and the GMMNs anew (one thread)")
    a = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    got = lines_of([sys.executable, str(HERE / "bench_pixelcnn.py"), *([] if a.train else ["--shipped"])], env)
    got |= lines_of([sys.executable, str(HERE / "bench_gmmn.py"), *(["--train"] if a.train else [])], env)
    with tempfile.TemporaryDirectory() as cache:
        got |= lines_of([sys.executable, "-c", COLD, str(ROOT)], {**env, "GME_CACHE_DIR": cache})
    print()
    for name in (*WANT, "scoreboard_process_cold_seconds", "scoreboard_cold_seconds", "scoreboard_rows"):
        print(f"{name}: {got.get(name, 'missing')}")


if __name__ == "__main__":
    main()
