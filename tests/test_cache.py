"""core.cache: round trip, atomic writes, corrupt and hostile files."""
import os
import warnings

import numpy as np
import pytest
import torch

from core.cache import DiskCache, make_key
from core.boltzmann.rbm import RBMConfig


def test_round_trip_converts_numpy_and_keeps_values(tmp_path):
    c = DiskCache(tmp_path)
    obj = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "t": torch.ones(3), "history": [{"epoch": 1, "x": 0.5}],
           "name": "rbm", "n": 3}
    c.put("k1", obj)
    back = c.get("k1")
    assert torch.equal(back["w"], torch.arange(6, dtype=torch.float32).reshape(2, 3))
    assert back["history"] == [{"epoch": 1, "x": 0.5}] and back["name"] == "rbm" and back["n"] == 3
    assert "k1" in c and c.get("missing") is None


def test_keys_change_with_every_setting_and_are_stable():
    a = make_key("rbm", {"cfg": RBMConfig(n_components=10)})
    assert a == make_key("rbm", {"cfg": RBMConfig(n_components=10)})
    assert a != make_key("rbm", {"cfg": RBMConfig(n_components=11)})
    assert a != make_key("rbm", {"cfg": RBMConfig(n_components=10, learning_rate=0.2)})
    assert a != make_key("dbm", {"cfg": RBMConfig(n_components=10)})
    assert make_key("x", {"a": 1, "b": 2}) == make_key("x", {"b": 2, "a": 1})


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entries_are_reported_as_misses_and_removed(tmp_path, damage):
    c = DiskCache(tmp_path)
    p = c.put("k", {"w": torch.randn(100, 100)})
    raw = p.read_bytes()
    p.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": os.urandom(500), "empty": b""}[damage])
    with pytest.warns(UserWarning, match="unreadable"):
        assert c.get("k") is None
    assert not p.exists()
    c.put("k", {"w": torch.zeros(2)})  # and the retrained value is stored again
    assert torch.equal(c.get("k")["w"], torch.zeros(2))


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_arbitrary_pickles_are_refused(tmp_path):
    c = DiskCache(tmp_path)
    torch.save({"x": Evil()}, c.path("evil"))  # a file someone handed us
    with pytest.warns(UserWarning):
        assert c.get("evil") is None


def test_write_is_atomic_no_temporary_files_left(tmp_path):
    c = DiskCache(tmp_path)
    for i in range(3):
        c.put("k", {"i": i})
    assert sorted(os.listdir(tmp_path)) == ["k.pt"]
    assert c.get("k")["i"] == 2


def test_failed_write_keeps_the_old_entry(tmp_path):
    c = DiskCache(tmp_path)
    c.put("k", {"v": 1})

    class Unstorable:
        pass

    with pytest.raises(Exception):
        c.put("k", {"v": Unstorable(), "f": lambda: 0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert c.get("k") == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["k.pt"]
