"""core.data on small files in the real formats (IDX, CIFAR-10 python batches) written here."""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from core import data


def write_idx(path, arr, gz=True):
    arr = np.asarray(arr, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    (gzip.open if gz else open)(path, "wb").write(header + arr.tobytes())


@pytest.fixture
def only(monkeypatch, tmp_path):
    """Search only tmp_path for data, never download, forget memoised datasets."""
    monkeypatch.setattr(data, "data_dirs", lambda: [tmp_path])
    monkeypatch.setattr(data, "_download", lambda name: (_ for _ in ()).throw(data.DatasetUnavailable("offline")))
    data.clear_memo()
    yield tmp_path
    data.clear_memo()


def fake_mnist(folder, n_train=0, n_test=50, gz=True, seed=0):
    g = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if gz else ""
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        if n:
            imgs, labels = g.integers(0, 256, (n, 28, 28)), g.integers(0, 10, n)
            write_idx(folder / f"{split}-images-idx3-ubyte{sfx}", imgs, gz)
            write_idx(folder / f"{split}-labels-idx1-ubyte{sfx}", labels, gz)
            out[split] = (imgs, labels)
    return out


@pytest.mark.parametrize("gz", [True, False])
def test_idx_reader_round_trip(tmp_path, gz):
    arr = np.random.default_rng(1).integers(0, 256, (7, 5, 3))
    write_idx(tmp_path / "x.idx", arr, gz)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x.idx"), arr)


def test_idx_reader_rejects_truncated_and_foreign_files(tmp_path):
    write_idx(tmp_path / "x", np.zeros((4, 4)), gz=False)
    raw = (tmp_path / "x").read_bytes()
    (tmp_path / "t").write_bytes(raw[:-3])
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(tmp_path / "t")
    (tmp_path / "f").write_bytes(b"\x89PNG\r\n\x1a\n....")
    with pytest.raises(ValueError, match="magic"):
        data.read_idx(tmp_path / "f")


def test_full_mnist_in_torchvision_layout(only):
    written = fake_mnist(only / "MNIST" / "raw", n_train=30, n_test=20, gz=False)
    assert data.on_disk("mnist") and not data.on_disk("fashion_mnist")  # a file check, before any load
    d = data.load("mnist")
    assert d.X_train.shape == (30, 784) and d.X_test.shape == (20, 784) and d.shape == (1, 28, 28)
    assert d.X_train.dtype == np.float32 and 0 <= d.X_train.min() and d.X_train.max() <= 1
    np.testing.assert_allclose(d.X_train[3], written["train"][0][3].ravel() / 255.0, atol=1e-7)
    np.testing.assert_array_equal(d.y_test, written["t10k"][1])
    assert d.note == ""


def test_test_split_only_is_split_8000_2000_and_says_so(only, monkeypatch):
    monkeypatch.setattr(data, "TEST_SPLIT_TRAIN", 40)
    written = fake_mnist(only / "mnist", n_test=50)
    d = data.load("mnist")
    assert len(d.X_train) == 40 and len(d.X_test) == 10
    np.testing.assert_array_equal(d.y_test, written["t10k"][1][40:])
    assert "test split" in d.note and "held out" in d.note


def test_fashion_mnist_has_its_class_names(only):
    fake_mnist(only / "FashionMNIST" / "raw", n_train=5, n_test=5)
    d = data.load("fashion_mnist")
    assert d.classes[0] == "T-shirt/top" and d.title == "Fashion-MNIST"


def write_cifar(folder, n_per_batch=12, batches=(1, 2), seed=0):
    g = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in [f"data_batch_{i}" for i in batches] + ["test_batch"]:
        x = g.integers(0, 256, (n_per_batch, 3072)).astype(np.uint8)
        y = list(g.integers(0, 10, n_per_batch))
        entry = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": x,
                 b"filenames": [f"{i}.png".encode() for i in range(n_per_batch)]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        out[name] = (x, y)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in data.CIFAR_CLASSES]}, f, protocol=2)
    return out


def test_cifar10_batches_in_the_real_format(only):
    assert not data.on_disk("cifar10")
    written = write_cifar(only / "cifar-10-batches-py")
    assert data.on_disk("cifar10") and data.remember("cifar10", None) is None  # found on disk, not yet loaded
    d = data.load("cifar10")
    assert d.shape == (3, 32, 32) and d.X_train.shape == (24, 3072) and d.X_test.shape == (12, 3072)
    np.testing.assert_allclose(d.X_train[12], written["data_batch_2"][0][0] / 255.0, atol=1e-7)
    np.testing.assert_array_equal(d.y_test, written["test_batch"][1])
    assert "2 of the 5" in d.note
    img = d.X_test[0].reshape(3, 32, 32)  # CHW: the first 1024 values are the red channel
    np.testing.assert_allclose(img[0].ravel(), written["test_batch"][0][0][:1024] / 255.0, atol=1e-7)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_cifar_loader_refuses_hostile_pickles(tmp_path):
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": Evil()}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        data.read_cifar_batch(tmp_path / "test_batch")


def test_cifar_loader_rejects_wrong_shapes(tmp_path):
    with open(tmp_path / "b", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        data.read_cifar_batch(tmp_path / "b")


def test_missing_dataset_raises_in_plain_words_and_never_substitutes(only):
    for name in ("mnist", "fashion_mnist", "cifar10"):
        with pytest.raises(data.DatasetUnavailable, match="GME_DATA_DIR"):
            data.load(name, download=False)
        with pytest.raises(data.DatasetUnavailable):
            data.load(name)
        assert not data.available(name) and not data.on_disk(name)
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load("imagenet")


def test_bundled_digits_always_load(only):
    d = data.load("digits")
    assert d.shape == (1, 8, 8) and len(d.X_train) + len(d.X_test) == 1797
    assert 0 <= d.X_train.min() and d.X_train.max() == 1.0
    assert not set(map(bytes, d.X_train[:50])) & set(map(bytes, d.X_test))  # disjoint split


def test_gme_data_dir_is_searched_first(monkeypatch, tmp_path):
    monkeypatch.setenv("GME_DATA_DIR", str(tmp_path / "a") + os.pathsep + str(tmp_path / "b"))
    dirs = data.data_dirs()
    assert dirs[:2] == [tmp_path / "a", tmp_path / "b"]


def test_real_mnist_split(mnist):
    assert mnist.X_train.shape == (8000, 784) and mnist.X_test.shape == (2000, 784)
    assert np.bincount(mnist.y_test, minlength=10).min() > 150  # every digit is held out


def test_the_shipped_mnist_split_is_found_after_the_data_dir_and_the_downloads(monkeypatch, tmp_path):
    monkeypatch.delenv("GME_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "download_dir", lambda: tmp_path / "downloads")
    dirs = data.data_dirs()
    assert dirs[:2] == [tmp_path / "downloads", data.EMBEDDED]  # then ../shared/data, if any


def test_a_fresh_offline_install_has_real_digits(monkeypatch, tmp_path):
    """No GME_DATA_DIR, an empty download cache, no ../shared: MNIST comes from assets/mnist, the real test split."""
    monkeypatch.delenv("GME_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "download_dir", lambda: tmp_path / "empty")
    monkeypatch.setattr(data, "REPO", tmp_path)  # no ../shared beside a checkout at tmp_path
    monkeypatch.setattr(data, "_download", lambda name: (_ for _ in ()).throw(AssertionError("no download")))
    data.clear_memo()
    try:
        d = data.load("mnist")
    finally:
        data.clear_memo()
    assert d.source == str(data.EMBEDDED / "mnist")
    assert d.X_train.shape == (8000, 784) and d.X_test.shape == (2000, 784) and "shipped with the app" in d.note
    import hashlib

    for name, md5 in (("t10k-images-idx3-ubyte.gz", "2646ac647ad5339dbf082846283269ea"),  # the published files
                      ("t10k-labels-idx1-ubyte.gz", "27ae3e4e09519cfbb04c329615203637")):
        assert hashlib.md5(gzip.open(data.EMBEDDED / "mnist" / name).read()).hexdigest() == md5
    assert np.bincount(d.y_test, minlength=10).min() > 150 and 0.0 <= d.X_train.min() and d.X_train.max() == 1.0
    assert (data.EMBEDDED / "mnist" / "README.md").read_text().count("Creative Commons Attribution-Share Alike 3.0")
