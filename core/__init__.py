"""The science of the Generative Models Explorer: models, training loops, metrics, data, caching.

Nothing in this package imports Streamlit: the same code serves the app, the tests,
the benchmarks and the command line.
"""

import os

# OpenMP threads that spin while waiting make PyTorch 10-40x slower as soon as anything else wants the
# CPU (a browser, a second Streamlit session, a test runner). Sleep instead; set it yourself to override.
# Effective only when this package is imported before torch (the app, tests and benchmarks do so).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

CODE_VERSION = "2026.11.1"  # bump when a change alters trained results; part of every cache key
