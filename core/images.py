"""Image grids as plain arrays (for the app, the tests and saved figures alike)."""
from __future__ import annotations

import io

import numpy as np


def as_images(X, shape: tuple[int, int, int]) -> np.ndarray:
    """(n, C*H*W) or (n, C, H, W) or (n, H, W) -> (n, H, W, C) float in [0, 1]."""
    X = np.asarray(X, dtype=np.float32)
    C, H, W = shape
    X = X.reshape(-1, C, H, W)
    return np.clip(X.transpose(0, 2, 3, 1), 0.0, 1.0)


def tile(X, shape: tuple[int, int, int], ncols: int | None = None, pad: int = 1, pad_value: float = 1.0,
         scale: int = 1) -> np.ndarray:
    """Tile n images into one uint8 RGB picture (rows of ncols), with `pad` pixels between them and
    each pixel repeated `scale` times (nearest neighbour: crisp digits)."""
    imgs = as_images(X, shape)  # (n, H, W, C)
    n, H, W, C = imgs.shape
    if n == 0:
        return np.full((H * scale, W * scale, 3), 255, np.uint8)
    if C == 1:
        imgs = np.repeat(imgs, 3, axis=3)
    if scale > 1:
        imgs = imgs.repeat(scale, axis=1).repeat(scale, axis=2)
        H, W = H * scale, W * scale
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    out = np.full((nrows * (H + pad) + pad, ncols * (W + pad) + pad, 3), pad_value, np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[pad + r * (H + pad): pad + r * (H + pad) + H, pad + c * (W + pad): pad + c * (W + pad) + W] = imgs[i]
    return (out * 255 + 0.5).astype(np.uint8)


def normalize_each(F) -> np.ndarray:
    """Scale each row to [0, 1] by its own min and max (for showing filters)."""
    F = np.asarray(F, dtype=np.float32)
    lo = F.min(axis=1, keepdims=True)
    hi = F.max(axis=1, keepdims=True)
    return (F - lo) / np.maximum(hi - lo, 1e-12)


def to_png(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(img)).save(buf, format="PNG")
    return buf.getvalue()
