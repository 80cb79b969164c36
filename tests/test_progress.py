"""core.progress.Stopwatch: seconds per name, against a fake clock whose readings are known exactly."""
import pytest

from core import progress
from core.progress import Stopwatch


@pytest.fixture
def fake_time(monkeypatch):
    """time.perf_counter as seen by core.progress returns 0, 1, 3, 6, 10, ... (steps 1, 2, 3, 4, ...)."""
    readings = iter([sum(range(i + 1)) for i in range(100)])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: float(next(readings)))


def test_stretches_add_up_per_name(fake_time):
    clock = Stopwatch()
    with clock("a"):  # reads 0 then 1: 1 s
        pass
    with clock("b"):  # reads 3 then 6: 3 s
        pass
    with clock("a"):  # reads 10 then 15: 5 s
        pass
    assert clock["a"] == 6.0 and clock["b"] == 3.0 and clock["never"] == 0.0
    assert clock.total() == 9.0 and list(clock) == ["a", "b"] and "a" in clock and "never" not in clock
    assert clock.add("b", 0.5) == 3.5


def test_a_stretch_that_raises_is_still_counted(fake_time):
    clock = Stopwatch()
    with pytest.raises(KeyError):
        with clock("a"):
            raise KeyError("x")
    assert clock["a"] == 1.0


def test_state_round_trip_continues_the_count(fake_time):
    clock = Stopwatch({"a": 2.0})
    state = clock.state()
    state["a"] = 100.0  # a copy: the stopwatch is not changed through it
    assert clock["a"] == 2.0
    again = Stopwatch(clock.state())
    with again("a"):  # 1 s
        pass
    assert again.state() == {"a": 3.0} and clock.state() == {"a": 2.0}
