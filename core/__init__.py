"""The science of the Generative Models Explorer: models, training loops, metrics, data, caching.

Nothing in this package imports Streamlit: the same code serves the app, the tests,
the benchmarks and the command line.
"""

CODE_VERSION = "2026.11.1"  # bump when a change alters trained results; part of every cache key
