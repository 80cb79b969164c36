"""Honest yardsticks benchmark (a script, not a test):

    python tests/benchmarks/bench_yardsticks.py [--only fid|ais|cycle]

Prints, last, as `name: value` lines, the three yardsticks that compare across pages:
- Frechet distance (core.quality): see `fid_lines`.
- AIS and the conservative (reverse-annealing) side of the RBM's held-out log-likelihood: see `ais_lines`.
- The CycleGAN's joint rate per image: see `cycle_lines`.
Each section is documented in its function.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import core  # noqa: E402,F401  (first: OpenMP's wait policy before torch loads)


def fid_lines() -> dict[str, float]:
    """Frechet-distance section (filled in by the FID work)."""
    return {}


def ais_lines() -> dict[str, float]:
    """AIS / conservative-estimate section (filled in by the AIS work)."""
    return {}


def cycle_lines() -> dict[str, float]:
    """CycleGAN joint-rate section (filled in by the CycleGAN work)."""
    return {}


SECTIONS = {"fid": fid_lines, "ais": ais_lines, "cycle": cycle_lines}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    args = p.parse_args(argv)
    lines: dict[str, float] = {}
    for name in args.only or list(SECTIONS):
        lines.update(SECTIONS[name]())
    for k, v in lines.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    main()
