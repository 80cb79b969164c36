"""Image datasets as flat float32 arrays in [0, 1].

Where data comes from, in order:
1. Files already on disk in a data directory: ``$GME_DATA_DIR`` (the documented setting), then
   the download cache ``~/.cache/gme-explorer/data``, then the app's own ``assets/`` (MNIST's
   10,000-image test split ships with the app, so every install has real digits, offline too), then
   ``../shared/data`` beside the checkout. MNIST and Fashion-MNIST are read from the original IDX
   files (gzipped or not), CIFAR-10 from the original ``cifar-10-batches-py`` folder (with a
   restricted unpickler that only accepts NumPy arrays, lists, strings and numbers).
2. A torchvision download into the download cache, when the machine is online (for MNIST only on
   request, ``python -m core.data --download mnist``, since the shipped split is always found first).
3. Otherwise `DatasetUnavailable` is raised with a message in plain words. Nothing is ever
   substituted silently: the app offers scikit-learn's bundled 8x8 digits (``"digits"``) and
   says so.

When only MNIST's test split (``t10k-*``) is present, its first 8,000 digits train and the last
2,000 are held out; `ImageData.note` says so.
"""
from __future__ import annotations

import gzip
import io
import os
import pickle
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

DATASETS = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "digits": "8x8 digits (scikit-learn, bundled)",
}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TEST_SPLIT_TRAIN = 8000  # when only the 10,000-image test split exists: first 8,000 train, rest held out


class DatasetUnavailable(RuntimeError):
    """The dataset is neither on disk nor downloadable; the message says what to do."""


@dataclass
class ImageData:
    name: str  # key of DATASETS
    X_train: np.ndarray  # (n_train, C*H*W) float32 in [0, 1], CHW order
    y_train: np.ndarray  # (n_train,) int64
    X_test: np.ndarray  # (n_test, C*H*W) float32, held out
    y_test: np.ndarray  # (n_test,) int64
    shape: tuple[int, int, int]  # (C, H, W)
    classes: list[str] = field(default_factory=list)
    source: str = ""  # where the data was read from, for captions
    note: str = ""  # anything the user should know (partial split, ...)

    @property
    def title(self) -> str:
        """The dataset's name for people ("MNIST"); for data made elsewhere (an upload, a derived domain): its source."""
        return DATASETS.get(self.name) or self.source or self.name

    @property
    def n_features(self) -> int:
        return int(np.prod(self.shape))


# ----------------------------------------------------------------------------- locations

EMBEDDED = REPO / "assets"  # assets/mnist: MNIST's test split, shipped with the app (CC BY-SA 3.0, see its README)


def download_dir() -> Path:
    return Path(os.path.expanduser("~")) / ".cache" / "gme-explorer" / "data"


def data_dirs() -> list[Path]:
    """Folders searched for dataset files, in order."""
    dirs = []
    env = os.environ.get("GME_DATA_DIR")
    if env:
        dirs += [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    dirs += [download_dir(), EMBEDDED, REPO.parent / "shared" / "data"]
    return dirs


_SUBDIRS = {
    "mnist": ["mnist", "MNIST/raw", "MNIST", "."],
    "fashion_mnist": ["fashion_mnist", "fashion-mnist", "FashionMNIST/raw", "FashionMNIST"],
    "cifar10": ["cifar-10-batches-py", "cifar10/cifar-10-batches-py", "cifar10"],
}


def _find(name: str, stem: str) -> Path | None:
    for root in data_dirs():
        for sub in _SUBDIRS[name]:
            for suffix in ("", ".gz"):
                p = root / sub / f"{stem}{suffix}"
                if p.is_file():
                    return p
    return None


# ----------------------------------------------------------------------------- IDX (MNIST format)

def binarize(X: np.ndarray, seed: int) -> np.ndarray:
    """A fixed stochastic binarisation (pixel ~ Bernoulli(gray value)), as float32 0/1."""
    rng = np.random.default_rng(seed)
    return (rng.random(X.shape, dtype=np.float32) < np.asarray(X, dtype=np.float32)).astype(np.float32)


HELD_OUT_SEED = 10_000  # the seed of the one binarisation of held-out digits


def held_out_binary(X_test: np.ndarray) -> np.ndarray:
    """The one fixed binarisation (pixel ~ Bernoulli(gray), seed 10,000) of the held-out digits on which every
    lab reports a held-out log-likelihood (RBM, DBM, VAE, ...), so that their numbers can be compared.
    Row i depends only on row i's position: the first n rows of the result binarise the first n digits."""
    return binarize(X_test, HELD_OUT_SEED)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic 0x00 0x00 dtype ndim, big-endian dims, data."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = raw[2], raw[3]
    if code not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type 0x{code:02x}")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dt = np.dtype(dtypes[code])
    expected = int(np.prod(dims)) * dt.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) != expected:
        raise ValueError(f"{path}: truncated IDX file ({len(body)} bytes of data, expected {expected})")
    return np.frombuffer(body, dtype=dt).reshape(dims).astype(dt.newbyteorder("="))


def _load_idx_dataset(name: str) -> ImageData | None:
    paths = {s: _find(name, f"{s}-idx{3 if 'images' in s else 1}-ubyte") for s in
             ("train-images", "train-labels", "t10k-images", "t10k-labels")}
    if paths["t10k-images"] is None or paths["t10k-labels"] is None:
        return None
    Xte = read_idx(paths["t10k-images"]).reshape(-1, 784).astype(np.float32) / 255.0
    yte = read_idx(paths["t10k-labels"]).astype(np.int64)
    classes = FASHION_CLASSES if name == "fashion_mnist" else [str(i) for i in range(10)]
    src = str(paths["t10k-images"].parent)
    if paths["train-images"] is not None and paths["train-labels"] is not None:
        Xtr = read_idx(paths["train-images"]).reshape(-1, 784).astype(np.float32) / 255.0
        ytr = read_idx(paths["train-labels"]).astype(np.int64)
        return ImageData(name, Xtr, ytr, Xte, yte, (1, 28, 28), classes, src)
    n = min(TEST_SPLIT_TRAIN, len(Xte) - 1)
    shipped = paths["t10k-images"].parent.parent == EMBEDDED
    note = ((f"MNIST's {len(Xte):,}-image test split, shipped with the app: " if shipped else
             f"Only the {len(Xte):,}-image test split was found; ") +
            f"its first {n:,} images train and the last {len(Xte) - n:,} are held out.")
    return ImageData(name, Xte[:n], yte[:n], Xte[n:], yte[n:], (1, 28, 28), classes, src, note)


# ----------------------------------------------------------------------------- CIFAR-10 (python batches)

class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR batches contain: dicts, lists, strings, numbers, NumPy arrays."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> (uint8 images (n, 3072) in CHW order, int64 labels)."""
    with open(path, "rb") as f:
        entry = _ArrayUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
    entry = {(k.decode() if isinstance(k, bytes) else k): v for k, v in entry.items()}
    data = np.asarray(entry["data"], dtype=np.uint8)
    labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{path}: not a CIFAR-10 batch (data {data.shape}, {len(labels)} labels)")
    return data, labels


def _load_cifar() -> ImageData | None:
    test = _find("cifar10", "test_batch")
    if test is None:
        return None
    folder = test.parent
    trains = [folder / f"data_batch_{i}" for i in range(1, 6) if (folder / f"data_batch_{i}").is_file()]
    Xte, yte = read_cifar_batch(test)
    note = ""
    if trains:
        parts = [read_cifar_batch(p) for p in trains]
        Xtr = np.concatenate([p[0] for p in parts])
        ytr = np.concatenate([p[1] for p in parts])
        if len(trains) < 5:
            note = f"{len(trains)} of the 5 training batches were found."
    else:
        n = len(Xte) * 4 // 5
        Xtr, ytr, Xte, yte = Xte[:n], yte[:n], Xte[n:], yte[n:]
        note = f"Only the test batch was found; its first {n:,} images train, the rest are held out."
    f32 = lambda a: a.astype(np.float32) / 255.0  # noqa: E731
    return ImageData("cifar10", f32(Xtr), ytr, f32(Xte), yte, (3, 32, 32), CIFAR_CLASSES, str(folder), note)


# ----------------------------------------------------------------------------- downloads

_FAILED: dict[str, float] = {}  # name -> time of the last failed download (do not retry for a while)
RETRY_AFTER = 600.0


def _download(name: str) -> None:
    """Download with torchvision into download_dir(); raises DatasetUnavailable when offline."""
    if time.time() - _FAILED.get(name, -1e9) < RETRY_AFTER:
        raise DatasetUnavailable(_offline_message(name))
    import torchvision.datasets as tvd  # imported here: slow, and only needed for downloads

    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    root = download_dir()
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for train in (True, False):
            cls(root=str(root), train=train, download=True)
    except Exception as exc:
        _FAILED[name] = time.time()
        raise DatasetUnavailable(_offline_message(name) + f" (download error: {type(exc).__name__})") from exc
    finally:
        socket.setdefaulttimeout(old)


def _offline_message(name: str) -> str:
    return (f"{DATASETS[name]} is not on this machine and could not be downloaded (no internet?). "
            f"Put the original files in a folder and point GME_DATA_DIR at it, or use the bundled 8x8 digits.")


# ----------------------------------------------------------------------------- public

def _digits() -> ImageData:
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(X))
    n = int(0.8 * len(X))
    tr, te = perm[:n], perm[n:]
    return ImageData("digits", X[tr], y[tr], X[te], y[te], (1, 8, 8), [str(i) for i in range(10)],
                     "scikit-learn's bundled copy of the UCI 8x8 digits")


def _local(name: str) -> ImageData | None:
    return _load_cifar() if name == "cifar10" else _load_idx_dataset(name)


_MEMO: dict[str, ImageData] = {}


def load(name: str, download: bool = True) -> ImageData:
    """Load a dataset by name (see DATASETS). Raises DatasetUnavailable, never substitutes."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    if name in _MEMO:
        return _MEMO[name]
    if name == "digits":
        data = _digits()
    else:
        data = _local(name)
        if data is None:
            if not download:
                raise DatasetUnavailable(_offline_message(name))
            _download(name)
            data = _local(name)
            if data is None:
                raise DatasetUnavailable(_offline_message(name))
    _MEMO[name] = data
    return data


def available(name: str) -> bool:
    """True when `name` can be loaded without a download."""
    try:
        load(name, download=False)
        return True
    except (DatasetUnavailable, ValueError, OSError):
        return False


def on_disk(name: str) -> bool:
    """True when the files `load` would read for `name` are present (nothing is read; the digits always are)."""
    if name == "digits" or name in _MEMO:
        return True
    if name == "cifar10":
        return _find(name, "test_batch") is not None
    return all(_find(name, f"t10k-{s}") is not None for s in ("images-idx3-ubyte", "labels-idx1-ubyte"))


def clear_memo() -> None:
    """Forget every dataset loaded so far (the next `load` reads the files again)."""
    _MEMO.clear()


def remember(name: str, data: ImageData | None) -> ImageData | None:
    """Make `load(name)` return `data` from now on (None: forget it); returns what it returned before, or None.
    For tests and benchmarks that run a page on a smaller split; the arrays are shared, never modified."""
    before = _MEMO.pop(name, None)
    if data is not None:
        _MEMO[name] = data
    return before


def defer_download(name: str, seconds: float | None = None) -> None:
    """Do not try to download `name` for `seconds` (default RETRY_AFTER), as after a failed attempt; a negative
    value allows it again at once."""
    _FAILED[name] = time.time() + (RETRY_AFTER if seconds is None else seconds) - RETRY_AFTER


def main(argv=None) -> None:
    """python -m core.data --download mnist [fashion_mnist cifar10]: fetch full datasets into the download cache
    (torchvision), where the loader finds them before the shipped MNIST test split."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--download", nargs="+", choices=["mnist", "fashion_mnist", "cifar10"], required=True)
    for name in ap.parse_args(argv).download:
        _download(name)
        clear_memo()
        d = load(name, download=False)
        print(f"{d.title}: {len(d.X_train):,} training and {len(d.X_test):,} held-out images in {d.source}")


if __name__ == "__main__":
    main()
