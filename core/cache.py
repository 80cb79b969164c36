"""Disk cache of trained models and results.

Entries are keyed by a kind, every setting that changes the result, and `core.CODE_VERSION`.
They are written atomically (temporary file + rename) and read with
``torch.load(..., weights_only=True)``: only tensors, numbers, strings, lists and dicts, never
arbitrary pickles. A corrupt or truncated entry is deleted and reported as a miss, so the caller
retrains instead of crashing.

Location: $GME_CACHE_DIR, else ~/.cache/gme-explorer.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import CODE_VERSION


def cache_dir() -> Path:
    root = os.environ.get("GME_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "gme-explorer")
    return Path(root)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in sorted(x.items())}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if hasattr(x, "__dataclass_fields__"):
        return _jsonable({k: getattr(x, k) for k in x.__dataclass_fields__})
    return x


def make_key(kind: str, config: Any) -> str:
    """Hex key of (kind, config, code version); config may be a dict or a dataclass."""
    blob = json.dumps({"kind": kind, "config": _jsonable(config), "code": CODE_VERSION}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}"


def to_storable(x: Any) -> Any:
    """NumPy arrays -> tensors, recursively, so that weights_only loading accepts the object."""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, dict):
        return {k: to_storable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_storable(v) for v in x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    return x


class DiskCache:
    """A folder of ``<key>.pt`` files. ``get`` returns None on a miss or an unreadable file."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir()

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def put(self, key: str, obj: Any) -> Path:
        """Write atomically: a reader sees the old entry or the whole new one, never a partial file."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(key)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(to_storable(obj), f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return final

    def get(self, key: str) -> Any | None:
        p = self.path(key)
        if not p.exists():
            return None
        try:
            return torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated, corrupt, or not a plain-weights file: retrain
            warnings.warn(f"cache entry {p.name} is unreadable ({type(exc).__name__}); it will be recomputed")
            try:
                p.unlink()
            except OSError:
                pass
            return None

    def __contains__(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass
