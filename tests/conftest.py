"""Shared fixtures: an isolated cache directory, the real MNIST split (shipped in assets/mnist, so a fresh clone
runs every test)."""
import os
from pathlib import Path

import core  # noqa: F401  (first: sets OpenMP's wait policy before torch loads)

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MNIST = ROOT / "assets" / "mnist"


def pytest_configure(config):
    config.addinivalue_line("markers", "shared_cache: the page tests' one cache for the whole session (see below)")


@pytest.fixture(scope="session")
def page_cache(tmp_path_factory):
    """One cache folder for every test that opens pages at their defaults (AppTest and the browser's app):
    each page's default run is trained once per test session, not once per test file."""
    return tmp_path_factory.mktemp("page-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(request, tmp_path_factory, monkeypatch):
    """Every test writes its cache entries to a fresh folder, never to the user's cache; tests marked
    shared_cache (page tests) share the session's page cache."""
    if request.node.get_closest_marker("shared_cache"):
        folder = request.getfixturevalue("page_cache")
    else:
        folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("GME_CACHE_DIR", str(folder))


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST split (8,000 train / 2,000 held out): the test split that ships in assets/mnist, whichever
    data folder it is found in first (a fresh clone needs nothing beside it)."""
    from core import data

    assert (SHIPPED_MNIST / "t10k-images-idx3-ubyte.gz").exists(), "assets/mnist is part of the checkout"
    os.environ.setdefault("GME_DATA_DIR", str(SHIPPED_MNIST.parent))  # found before a user's download cache
    d = data.load("mnist", download=False)
    assert len(d.X_train) == 8000 and len(d.X_test) == 2000, "expected MNIST's test split: 8,000 train, 2,000 held out"
    return d


@pytest.fixture
def spy(monkeypatch):
    """spy(cls, name, record) -> the list of `record(self, *args)` of every call of cls.name from now on in this test
    (the method itself still runs)."""
    def watch(cls, name, record):
        calls, real = [], getattr(cls, name)

        def wrapper(self, *args, **kwargs):
            calls.append(record(self, *args, **kwargs))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)
        return calls

    return watch


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def one_torch_thread():
    """For small networks: one torch thread is faster than two on a shared 2-core machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
