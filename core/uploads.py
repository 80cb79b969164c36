"""Safe loading of user-supplied images: anything either becomes a uint8 RGB array (with notes
saying what was converted or downscaled) or raises `ImageError` with one readable line.

Handled: empty files, non-images, corrupt or truncated files, decompression bombs and huge
images (downscaled, JPEG already while decoding), grayscale, 1-bit, palette (with or without
transparency), RGBA / LA (flattened onto white), 16-bit and 32-bit integer or float images
(rescaled to 8 bits), CMYK / YCbCr / LAB, animated GIF / PNG / WebP (first frame) and EXIF
rotation.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 200 * 1024 * 1024  # refuse files above this size outright
MAX_PIXELS = 150_000_000  # refuse images with more pixels than this (a 10,000 x 10,000 image is fine)
MAX_SIDE = 1024  # longer side after loading; larger images are downscaled (with a note)
FORMATS = "PNG, JPEG, GIF, BMP, TIFF or WebP"


class ImageError(ValueError):
    """An upload that cannot be used; str(error) is one line for the page."""


@dataclass
class LoadedImage:
    image: np.ndarray  # uint8 (H, W, 3)
    name: str  # the file name shown to the user
    format: str  # what Pillow recognised ("JPEG", "PNG", ...)
    original_size: tuple[int, int]  # (width, height) in the file
    notes: list[str] = field(default_factory=list)  # every conversion made, one line each


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg[:120]


def _to_rgb_array(img: Image.Image, notes: list[str]) -> np.ndarray:
    """Any Pillow mode -> uint8 (H, W, 3)."""
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        if alpha.min() < 255:
            notes.append("Transparent parts were flattened onto white.")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
        if mode in ("LA", "La"):
            notes.append("Grayscale image: its colours all lie on the grey diagonal of the RGB cube.")
        return out
    if mode == "P":
        notes.append("Palette image converted to RGB.")
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    if mode in ("L", "1"):
        notes.append("Grayscale image: its colours all lie on the grey diagonal of the RGB cube.")
        return np.repeat(np.asarray(img.convert("L"), dtype=np.uint8)[..., None], 3, axis=2)
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img).astype(np.float64)
        if arr.ndim == 3:
            arr = arr[..., :3]
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        if mode.startswith("I;16") or (mode.startswith("I") and lo >= 0 and hi <= 65535 and hi > 255):
            arr = arr / 257.0
            notes.append("16-bit image reduced to 8 bits per channel.")
        elif mode.startswith("I") and lo >= 0 and hi <= 255:
            pass
        else:
            arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
            notes.append(f"{'Floating-point' if mode == 'F' else '32-bit'} image rescaled from [{lo:g}, {hi:g}] "
                         "to 8 bits.")
        arr = np.nan_to_num(arr, nan=0.0)
        arr = np.clip(np.round(arr), 0, 255).astype(np.uint8)
        if arr.ndim == 2:
            notes.append("Grayscale image: its colours all lie on the grey diagonal of the RGB cube.")
            arr = np.repeat(arr[..., None], 3, axis=2)
        return arr
    notes.append(f"{mode} image converted to RGB.")
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def load_image(data: bytes, name: str = "the file", max_side: int = MAX_SIDE) -> LoadedImage:
    """Decode an uploaded file into a uint8 RGB array no larger than max_side; see the module doc."""
    if data is None or len(data) == 0:
        raise ImageError(f"{name} is empty (0 bytes).")
    if len(data) > MAX_BYTES:
        raise ImageError(f"{name} is too large a file ({len(data) / 2**20:.0f} MB; the limit is "
                         f"{MAX_BYTES / 2**20:.0f} MB).")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "image"
            w, h = img.size
            if w == 0 or h == 0:
                raise ImageError(f"{name} has no pixels ({w}x{h}).")
            if w * h > MAX_PIXELS:
                raise ImageError(f"{name} is {w:,}x{h:,} pixels: too large to decode (the limit is "
                                 f"{MAX_PIXELS / 1e6:.0f} megapixels).")
            frames = getattr(img, "n_frames", 1) or 1
            if frames > 1:
                img.seek(0)
                notes.append(f"Animated {fmt} ({frames} frames): the first frame is used.")
            if fmt == "JPEG" and max(w, h) > max_side:
                img.draft(img.mode, (max_side, max_side))  # JPEG decodes straight at 1/2, 1/4 or 1/8 size
            img.load()
            try:
                turned = ImageOps.exif_transpose(img)
            except Exception:  # a broken EXIF block: keep the pixels as stored
                turned = img
            if turned is not img and turned.size != img.size:
                notes.append("Rotated upright as its EXIF orientation says.")
            img = turned
            arr = _to_rgb_array(img, notes)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image that can be read (expected {FORMATS}).") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{name} has too many pixels to decode safely (the limit is "
                         f"{MAX_PIXELS / 1e6:.0f} megapixels).") from None
    except MemoryError:
        raise ImageError(f"{name} is too large to decode in memory.") from None
    except Exception as exc:  # truncated data, bad chunks, broken headers, unsupported codecs...
        raise ImageError(f"{name} is corrupt or truncated and cannot be decoded ({_short(exc)}).") from None
    H, W = arr.shape[:2]
    if max(H, W) > max_side:
        s = max_side / max(H, W)
        small = Image.fromarray(arr).resize((max(1, round(W * s)), max(1, round(H * s))), Image.Resampling.LANCZOS)
        arr = np.asarray(small, dtype=np.uint8)
        notes.append(f"Downscaled from {w:,}x{h:,} to {arr.shape[1]}x{arr.shape[0]} pixels for speed.")
    elif (W, H) != (w, h) and (W, H) != (h, w):
        notes.append(f"Downscaled from {w:,}x{h:,} to {W}x{H} pixels for speed.")
    return LoadedImage(np.ascontiguousarray(arr), name, fmt, (w, h), notes)
