"""Safe loading of user-supplied files: images (`load_image`), ZIPs of images as a dataset (`load_image_zip`;
`image_data`: the set as a dataset with a disjoint held-out part) and two-column tables (`load_two_columns`).

Images: anything either becomes a uint8 RGB array (with notes
saying what was converted or downscaled) or raises `ImageError` with one readable line.

Handled: empty files, non-images, corrupt or truncated files, decompression bombs and huge
images (downscaled, JPEG already while decoding), grayscale, 1-bit, palette (with or without
transparency), RGBA / LA (flattened onto white), 16-bit and 32-bit integer or float images
(rescaled to 8 bits), CMYK / YCbCr / LAB, animated GIF / PNG / WebP (first frame) and EXIF
rotation.

Tables: CSV / TSV / semicolon- or space-separated text with two numeric columns becomes two float64 arrays
(with notes on what was skipped) or raises `TableError` with one readable line; the text is only ever split
and converted with float(), never evaluated or unpickled.
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


# ----------------------------------------------------------------------------- a ZIP of images (a dataset)

ZIP_MAX_BYTES = 200 * 1024 * 1024  # the archive itself
ZIP_MAX_UNPACKED = 1024 * 1024 * 1024  # all members together, as the archive declares them
ZIP_MAX_RATIO = 100  # a member that unpacks to more than 100x its compressed size is a bomb
ZIP_MAX_MEMBER = 30 * 1024 * 1024  # one image file
ZIP_MIN_IMAGES, ZIP_MAX_IMAGES = 50, 5000
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class ImageSet:
    images: np.ndarray  # (n, 3, size, size) float32 in [0, 1]
    names: list[str]  # the member each image came from
    skipped: list[str] = field(default_factory=list)  # one line per member not used, and why
    digest: str = ""  # SHA-256 of the images (what a cache key needs)


def _square(arr: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square, resize to size x size (Lanczos), (3, size, size) float32 in [0, 1]."""
    H, W = arr.shape[:2]
    s = min(H, W)
    top, left = (H - s) // 2, (W - s) // 2
    img = Image.fromarray(arr[top:top + s, left:left + s]).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def load_image_zip(data: bytes, size: int = 32, name: str = "the archive", min_images: int = ZIP_MIN_IMAGES,
                   max_images: int = ZIP_MAX_IMAGES) -> ImageSet:
    """The images of an uploaded ZIP as a dataset: each decoded by `load_image`, centre-cropped to a square and
    resized to size x size RGB. Read in memory only (nothing is written anywhere). Raises ImageError, one line, for:
    not a ZIP, a path that would leave its folder (absolute, '..'), an archive inside it, a decompression bomb
    (declared sizes too large, or a ratio above 100), more than max_images images, fewer than min_images readable
    ones. Members that are not images (or cannot be decoded) are skipped and listed."""
    import hashlib
    import posixpath
    import zipfile

    if data is None or len(data) == 0:
        raise ImageError(f"{name} is empty (0 bytes).")
    if len(data) > ZIP_MAX_BYTES:
        raise ImageError(f"{name} is too large ({len(data) / 2**20:.0f} MB; the limit is {ZIP_MAX_BYTES / 2**20:.0f} MB).")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise ImageError(f"{name} is not a ZIP archive that can be read.") from None
    files = [i for i in infos if not i.is_dir()]
    for info in files:
        path = info.filename.replace("\\", "/")
        if path.startswith("/") or ":" in path.split("/")[0] or ".." in posixpath.normpath(path).split("/"):
            raise ImageError(f"{name} holds a path that leaves its folder ({info.filename[:60]}); it is refused.")
        if path.lower().endswith(ARCHIVE_SUFFIXES):
            raise ImageError(f"{name} holds another archive ({posixpath.basename(path)[:60]}); nested archives are "
                             "refused: put the images themselves in one ZIP.")
        if info.file_size > ZIP_MAX_MEMBER or info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1) + 65536:
            raise ImageError(f"{name} looks like a decompression bomb ({posixpath.basename(path)[:60]} unpacks to "
                             f"{info.file_size / 2**20:.0f} MB); it is refused.")
    if sum(i.file_size for i in files) > ZIP_MAX_UNPACKED:
        raise ImageError(f"{name} looks like a decompression bomb (it unpacks to more than "
                         f"{ZIP_MAX_UNPACKED / 2**30:.0f} GB); it is refused.")
    candidates = [i for i in files if i.filename.lower().endswith(IMAGE_SUFFIXES)
                  and not posixpath.basename(i.filename).startswith(".")]
    if len(candidates) > max_images:
        raise ImageError(f"{name} holds {len(candidates):,} images; at most {max_images:,} can be used.")
    images, names, skipped = [], [], [f"{i.filename[:60]}: not an image file" for i in files if i not in candidates]
    for info in candidates:
        try:
            with zf.open(info) as f:
                raw = f.read(ZIP_MAX_MEMBER + 1)
            if len(raw) > ZIP_MAX_MEMBER:  # the header lied about the size
                raise ImageError(f"{name} looks like a decompression bomb; it is refused.")
            img = load_image(raw, posixpath.basename(info.filename), max_side=max(4 * size, 256))
        except ImageError as exc:
            if "decompression bomb" in str(exc) and name in str(exc):
                raise
            skipped.append(str(exc))
            continue
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:  # bad CRC, encrypted member, ...
            skipped.append(f"{info.filename[:60]}: cannot be read from the archive ({_short(exc)})")
            continue
        images.append(_square(img.image, size))
        names.append(info.filename)
    if len(images) < min_images:
        raise ImageError(f"{name} has {len(images)} readable image{'s' if len(images) != 1 else ''}; at least "
                         f"{min_images} are needed to train on.")
    arr = np.stack(images).astype(np.float32)
    return ImageSet(arr, names, skipped, hashlib.sha256(arr.tobytes()).hexdigest())


def image_data(s: ImageSet, name: str = "the archive", held_out: float = 0.1, seed: int = 0):
    """An uploaded ImageSet as a core.data.ImageData of one class ("your images"), flat (n, 3 * size * size): a random
    `held_out` share of the images (at least one; seeded) held out, the rest to train on. The two parts are disjoint,
    so a held-out yardstick (e.g. core.gan.latent.copy_check's distance of a new image to the training images) is
    measured on images the model never saw. The data's name carries the images' digest (a cache key)."""
    from core import data as datasets

    n = len(s.images)
    if n < 2 or not 0 < float(held_out) < 1:
        raise ValueError(f"need at least 2 images and a held-out share in (0, 1), got {n} and {held_out}")
    n_test = min(n - 1, max(1, int(round(float(held_out) * n))))
    order = np.random.default_rng(int(seed)).permutation(n)
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    X = s.images.reshape(n, -1)
    y = np.zeros(n, np.int64)
    return datasets.ImageData(f"upload-{s.digest[:12]}", X[train], y[train], X[test], y[test],
                              tuple(s.images.shape[1:]), ["your images"],
                              f"your {n:,} images from {name} ({len(train):,} to train on, {n_test:,} held out)")


# ----------------------------------------------------------------------------- two-column tables

TABLE_MAX_BYTES = 20 * 1024 * 1024  # refuse larger text files
TABLE_MAX_ROWS = 50_000  # rows used at most (the first ones; a note says so)
TABLE_MIN_ROWS = 20  # fewer usable rows cannot train anything
TABLE_MAX_ABS = 1e100  # larger magnitudes are refused (their squares overflow)
_DELIMITERS = ("\t", ";", ",", "|")  # in order of preference (a semicolon table may have decimal commas)


class TableError(ValueError):
    """A table that cannot be used; str(error) is one line for the page."""


@dataclass
class LoadedColumns:
    a: np.ndarray  # (n,) float64, the first column
    b: np.ndarray  # (n,) float64, the second column
    names: tuple[str, str]  # the header's names, or ("column 1", "column 2")
    notes: list[str] = field(default_factory=list)  # every row skipped or column ignored, one line each


def _number(text: str, decimal_comma: bool) -> float:
    text = text.strip().strip('"').strip("'").strip()
    if decimal_comma:
        text = text.replace(",", ".")
    return float(text)


def _split(line: str, delim: str | None) -> list[str]:
    return line.split(delim) if delim else line.split()


def load_two_columns(data: bytes, name: str = "the file", columns: str = "input, target") -> LoadedColumns:
    """Two numeric columns of a text table (a header row is recognised; comma, semicolon, tab, bar or spaces
    between fields; a decimal comma with semicolons). `columns` names the two columns in error messages (e.g.
    "x, y" for points of the plane). Rows with an empty, non-numeric, NaN or infinite value are
    skipped (with a note) unless they are more than a tenth of the rows; columns after the second are ignored."""
    if data is None or len(data) == 0:
        raise TableError(f"{name} is empty (0 bytes).")
    if len(data) > TABLE_MAX_BYTES:
        raise TableError(f"{name} is too large ({len(data) / 2**20:.0f} MB; the limit is "
                         f"{TABLE_MAX_BYTES / 2**20:.0f} MB).")
    if data[:4] == b"PK\x03\x04":
        raise TableError(f"{name} is a ZIP or Excel file, not text: save it as CSV first.")
    if b"\x00" in data[:4096]:
        raise TableError(f"{name} is a binary file, not a text table (expected CSV with two numeric columns).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, ln) for i, ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise TableError(f"{name} has no rows (only blank or # comment lines).")
    head = [ln for _, ln in lines[:50]]
    counts = {d: [ln.count(d) for ln in head] for d in _DELIMITERS}
    delim = next((d for d in _DELIMITERS if min(counts[d][1:] or counts[d]) >= 1), None)
    decimal_comma = delim == ";" and any("," in ln for ln in head[1:])
    first = [f.strip().strip('"').strip("'") for f in _split(lines[0][1], delim)]
    try:
        [_number(f, decimal_comma) for f in first[:2]]
        names, body = ("column 1", "column 2"), lines
    except ValueError:
        names, body = (first[0] or "column 1", first[1] if len(first) > 1 and first[1] else "column 2"), lines[1:]
    notes: list[str] = []
    if decimal_comma:
        notes.append("Semicolon-separated with decimal commas: commas were read as decimal points.")
    a, b, bad, wide = [], [], [], 0
    for lineno, ln in body:
        if len(a) >= TABLE_MAX_ROWS:
            notes.append(f"Only the first {TABLE_MAX_ROWS:,} rows are used.")
            break
        fields = _split(ln, delim)
        if len(fields) < 2:
            raise TableError(f"{name}, line {lineno}: one field ({ln[:40]!r}); two numeric columns are needed "
                             f"({columns}), separated by commas, semicolons, tabs or spaces.")
        wide = max(wide, len(fields))
        try:
            u, v = _number(fields[0], decimal_comma), _number(fields[1], decimal_comma)
        except ValueError:
            bad.append((lineno, ln))
            continue
        if not (np.isfinite(u) and np.isfinite(v)):
            bad.append((lineno, ln))
            continue
        a.append(u)
        b.append(v)
    if bad and len(bad) > max(1, (len(a) + len(bad)) // 10):
        lineno, ln = bad[0]
        raise TableError(f"{name}, line {lineno}: {ln[:40]!r} is not two numbers ({len(bad):,} such rows).")
    if bad:
        notes.append(f"{len(bad):,} row(s) with an empty, non-numeric or infinite value were skipped "
                     f"(first: line {bad[0][0]}).")
    if wide > 2:
        notes.append(f"The table has {wide} columns: the first two are used.")
    if len(a) < TABLE_MIN_ROWS:
        raise TableError(f"{name} has {len(a)} usable rows; at least {TABLE_MIN_ROWS} are needed.")
    A, B = np.asarray(a, np.float64), np.asarray(b, np.float64)
    for col, label in ((A, names[0]), (B, names[1])):
        if np.abs(col).max() > TABLE_MAX_ABS:
            raise TableError(f"{name}: column {label!r} has values beyond ±1e100.")
        if col.max() == col.min():
            raise TableError(f"{name}: column {label!r} is constant ({col[0]:g}); nothing to learn from it.")
    return LoadedColumns(A, B, names, notes)
