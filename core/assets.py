"""Shipped runs: small finished runs that come with the app in assets/<lab>/, so that a page opens at its
defaults with a trained model in seconds.

A shipped run is a training snapshot (see core.training) with every floating tensor stored as float16,
written atomically as ``<folder>/run.pt`` (loadable with ``torch.load(..., weights_only=True)``) and
its provenance — the command that made it, the code and torch versions, the SHA-256 of the data it
saw, wall time and scores — inside the file and, for people, in ``provenance.json`` beside it.

`load` returns the run with float32 tensors again, or None when the file is absent or damaged (a
damaged asset counts as absent: the page trains instead). `shipped` also checks that the run was made
with exactly the page's config on the same data; anything else trains live.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.cache import to_storable

ASSETS = Path(__file__).resolve().parent.parent / "assets"
FILENAME = "run.pt"
MAX_BYTES = 5 * 1024 * 1024  # every asset stays under 5 MB


def folder(lab: str) -> Path:
    """assets/<lab>."""
    return ASSETS / lab


def fingerprint(*arrays) -> str:
    """SHA-256 of arrays as float32 bytes, in order (the data a run learnt from and was scored on)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a), dtype=np.float32).tobytes())
    return h.hexdigest()


def _cast(x: Any, src: tuple[torch.dtype, ...], dst: torch.dtype) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(dst) if x.dtype in src else x
    if isinstance(x, dict):
        return {k: _cast(v, src, dst) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_cast(v, src, dst) for v in x)
    return x


def save(out: str | os.PathLike, result: dict, provenance: dict, name: str = FILENAME) -> Path:
    """Write `result` (float tensors as float16) with `provenance` atomically; provenance.json beside it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    obj = _cast(to_storable(result), (torch.float32, torch.float64), torch.float16)
    obj = dict(obj, provenance=json.dumps(provenance, default=str))
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.chmod(tmp, 0o644)  # readable like any other file of the checkout
        os.replace(tmp, out / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    return out / name


def load(where: str | os.PathLike, name: str = FILENAME) -> dict | None:
    """The shipped run in folder `where` (float32 tensors, provenance as a dict), or None if absent or damaged."""
    p = Path(where) / name
    if not p.is_file():
        return None
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
        prov = json.loads(obj.pop("provenance"))
    except Exception:  # truncated, corrupt, not a plain-weights file, no provenance: no asset
        return None
    return dict(_cast(obj, (torch.float16,), torch.float32), provenance=prov)


def shipped(where: str | os.PathLike, config, data_sha256: str, name: str = FILENAME) -> dict | None:
    """The shipped run if it was made with exactly `config` on data with this fingerprint; else None."""
    run = load(where, name)
    if run is None:
        return None
    want = asdict(config) if is_dataclass(config) else config
    if json.loads(json.dumps(run.get("config"), default=str)) != json.loads(json.dumps(want, default=str)):
        return None
    if run["provenance"].get("data_sha256") != data_sha256:
        return None
    return run


def rescore(where: str | os.PathLike, finish, command: str, why: str, **finish_kw) -> dict:
    """Recompute the provenance scores of the shipped run in `where` with `finish(run, data, **finish_kw)`, without
    training (the weights stay as they are), and rewrite run.pt and provenance.json, noting `command` and `why`;
    returns the new scores. The data is the run's config's dataset, loaded without a download."""
    import datetime
    import time

    from core import data as datasets

    run = load(where)
    if run is None:
        raise FileNotFoundError(f"no shipped run in {where}")
    prov = run.pop("provenance")
    data = datasets.load(run["config"]["dataset"], download=False)
    t = time.perf_counter()
    prov["scores"] = finish(run, data, **finish_kw)
    prov["rescored"] = {"command": command, "seconds": round(time.perf_counter() - t, 1),
                        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                        "threads": torch.get_num_threads(), "why": why}
    save(where, run, prov)
    return prov["scores"]
