"""Device choice: CUDA, then Apple MPS, then CPU. Override with GME_DEVICE=cpu|cuda|mps."""
from __future__ import annotations

import os

import torch


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the best available device, or `prefer` (or $GME_DEVICE) when given (a torch.device passes through)."""
    if isinstance(prefer, torch.device):
        return prefer
    prefer = prefer or os.environ.get("GME_DEVICE") or None
    if prefer and prefer != "auto":
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(device: torch.device) -> str:
    """One human line: 'CPU (2 threads)' or 'CUDA: NVIDIA A100'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
