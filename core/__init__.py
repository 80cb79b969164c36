"""The science of the Generative Models Explorer: models, training loops, metrics, data, caching.

Nothing in this package imports Streamlit: the same code serves the app, the tests,
the benchmarks and the command line.
"""

import os

# PyTorch's OpenMP threads spin ~300,000 times before sleeping. As soon as anything else wants the CPU
# (a browser, a second Streamlit session, a test runner) that makes small tensor ops 10-40x slower;
# sleeping at once (OMP_WAIT_POLICY=PASSIVE) costs 2.7x on a quiet machine at batch 10. A short spin
# keeps both: measured on 2 cores, RBM h100/b10 5 epochs 0.51 s quiet and ~1.1 s beside two busy
# processes (default spin: 0.51 s / 13 s; passive: 1.40 s / 0.9 s). Set either variable to override.
# Effective only when this package is imported before torch (the app, tests and benchmarks do so).
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")

CODE_VERSION = "2026.12.2"  # bump when a change alters trained results or their stored layout; part of every cache key
