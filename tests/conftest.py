"""Shared fixtures: an isolated cache directory, the real MNIST split when present."""
import os
from pathlib import Path

import core  # noqa: F401  (first: sets OpenMP's wait policy before torch loads)

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes its cache entries to a fresh folder, never to the user's cache."""
    monkeypatch.setenv("GME_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST split (8,000 train / 2,000 held out) from ../shared/data/mnist."""
    from core import data

    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("the real MNIST test split is not beside the checkout")
    os.environ.setdefault("GME_DATA_DIR", str(SHARED_MNIST.parent))
    return data.load("mnist", download=False)


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
